#!/usr/bin/env python3
"""Test helper: starts a program with listening sockets passed the way systemd's socket
activation passes them (fds 3, 4, ... and LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES).

Usage: activate.py [--fd N]... [--listen HOST:PORT]... [--name NAME]... -- PROGRAM [ARGS...]

--fd N          a listening socket this process inherited as fd N (the caller keeps its own copy,
                as systemd does, so the socket and its queue outlive the program)
--listen ADDR   bind and listen here first (127.0.0.1:PORT or [::1]:PORT; loopback only in tests)
--name NAME     LISTEN_FDNAMES entries, in order
--pid-of-other  set LISTEN_PID to a pid that is not the program's (the program must ignore them)

The sockets are moved to fds 3, 4, ... in the order given (every --fd, then every --listen), the
variables are set, and PROGRAM replaces this process (exec keeps the pid, so LISTEN_PID is the
program's own pid)."""

import fcntl
import os
import socket
import sys


def parse(argv):
    fds, listens, names, other = [], [], [], False
    i = 0
    while i < len(argv) and argv[i] != "--":
        flag = argv[i]
        if flag == "--pid-of-other":
            other = True
            i += 1
            continue
        if i + 1 >= len(argv):
            sys.exit("activate.py: %s needs a value" % flag)
        value = argv[i + 1]
        if flag == "--fd":
            fds.append(int(value))
        elif flag == "--listen":
            listens.append(value)
        elif flag == "--name":
            names.append(value)
        else:
            sys.exit("activate.py: unknown option %s" % flag)
        i += 2
    if i >= len(argv) - 1:
        sys.exit("activate.py: expected -- PROGRAM [ARGS...]")
    return fds, listens, names, other, argv[i + 1:]


def bind(address):
    host, _, port = address.rpartition(":")
    family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), int(port)))
    sock.listen(128)
    return sock.detach()


def main():
    fds, listens, names, other, program = parse(sys.argv[1:])
    sources = fds + [bind(a) for a in listens]
    # Move them out of the way first (above every target: a plain dup could land on 3 itself and
    # the close below would then close the target), then down to 3, 4, ... (a source may sit on a
    # target).
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 3 + len(sources)) for fd in sources]
    for index, fd in enumerate(moved):
        os.dup2(fd, 3 + index, inheritable=True)
        os.close(fd)
    os.environ["LISTEN_FDS"] = str(len(moved))
    os.environ["LISTEN_PID"] = str(os.getppid() if other else os.getpid())
    if names:
        os.environ["LISTEN_FDNAMES"] = ":".join(names)
    os.execv(program[0], program)


if __name__ == "__main__":
    main()
