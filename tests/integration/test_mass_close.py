"""Closing many connections at once must not stall the others: the cost of closing one
connection may not grow with the number of connections open (io_uring used to cancel by fd,
and a cancel by fd scans every pending request: closing N connections cost O(N^2)).

- test_handshake_timeout_closes_thousands_without_stalling_others: 8,000 silent connections
  (1,000 sanitized), held by a process of their own, are closed together by
  --handshake-timeout 1 while a victim client ping-pongs echoes; the victim's longest wait for
  an echo stays under 50 ms (1.6-2.2 s, nearly all of it server CPU, with the old cancel by
  fd) and every silent connection is closed.
- test_sigterm_with_thousands_of_silent_peers_exits_in_time: 8,000 upgraded peers (1,000
  sanitized) that never answer the close frame; SIGTERM with --drain-window 0.5 and
  --close-timeout 1 exits within the window + --close-timeout + 1 s.

Full scale, for the record (client sockets live in their own process: the hard fd limit may
be 20,000 per process):
    /usr/bin/python3 tests/integration/test_mass_close.py --long [--build DIR] [--backend io_uring|epoll]
           [--counts 2000,4000,8000,16000] [--rounds N] [--close-timeout 2] [--skip-sigterm]
prints, per count, the victim's longest stall (wall-clock and server CPU) and p99, the server's
CPU from the moment all connections were open until the last was closed, and the time from
SIGTERM to exit.
"""

import argparse
import ctypes
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

from wsharness import OP_BINARY, RawClient, Server, ServerTestCase, bound, build_frame, scaled, upgrade_request

RUN_ALONE = True  # alone under run.py --jobs: the victim's longest stall, exit time

HERE = os.path.dirname(os.path.abspath(__file__))
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h
SO_TIMESTAMPNS = 35           # asm-generic/socket.h: the kernel stamps each segment it receives


# ----------------------------------------------------------------------------- the crowd's process

def open_crowd(host, port, count, upgrade, deadline):
    """`count` connections from a source address of their own (TIME_WAIT leftovers of other
    runs cannot exhaust its ports); upgraded ones have read their 101."""
    source = "127.%d.%d.%d" % (random.randint(1, 250), random.randint(0, 250), random.randint(2, 250))
    request = upgrade_request("%s:%d" % (host, port))[0]
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((source, 0))
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        sock.connect((host, port))
        if upgrade:
            sock.sendall(request)
        sockets.append(sock)
    if upgrade:
        for sock in sockets:
            head = b""
            while b"\r\n\r\n" not in head:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                chunk = sock.recv(4096)
                if not chunk:
                    raise AssertionError("a crowd connection closed during its upgrade")
                head += chunk
            if not head.startswith(b"HTTP/1.1 101"):
                raise AssertionError("crowd upgrade answered %r" % head[:40])
    for sock in sockets:
        sock.setblocking(False)
    return sockets


def wait_all_closed(sockets, deadline):
    """Reads (and drops) what arrives until every socket has seen EOF or a reset, or the
    deadline passes; returns how many did."""
    poller = select.poll()
    by_fd = {}
    for sock in sockets:
        poller.register(sock, select.POLLIN)
        by_fd[sock.fileno()] = sock
    closed = 0
    while by_fd and time.monotonic() < deadline:
        for fd, _ in poller.poll(100):
            try:
                gone = by_fd[fd].recv(65536) == b""
            except BlockingIOError:
                continue
            except OSError:
                gone = True
            if gone:
                poller.unregister(fd)
                del by_fd[fd]
                closed += 1
    return closed


def crowd_main(argv):
    """Child process: HOST PORT COUNT silent|upgraded LIMIT_SECONDS. Prints 'ready SECONDS'
    once every connection is open, then 'closed N SECONDS' once the server closed them."""
    host, port, count, kind, limit = argv[0], int(argv[1]), int(argv[2]), argv[3], float(argv[4])
    started = time.monotonic()
    deadline = started + limit
    sockets = open_crowd(host, port, count, kind == "upgraded", deadline)
    ready = time.monotonic()
    print("ready %.3f" % (ready - started), flush=True)
    closed = wait_all_closed(sockets, deadline)
    print("closed %d %.3f" % (closed, time.monotonic() - ready), flush=True)
    sys.stdin.read()  # hold the sockets (a half-closed peer keeps its side open) until told


class Crowd:
    """A crowd of `count` connections held open by a child process until the server closes
    them (it never sends a byte after its upgrade request, if any)."""

    def __init__(self, server, count, kind, limit):
        code = "import sys; sys.path.insert(0, %r); import test_mass_close as m; m.crowd_main(sys.argv[1:])" % HERE
        self.process = subprocess.Popen([sys.executable, "-c", code, server.host, str(server.port), str(count), kind,
                                         str(limit)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.count = count

    def expect(self, word):
        """The crowd's next line, which must start with `word` (it ends by itself: the read
        cannot outlast the crowd's own time limit)."""
        line = self.process.stdout.readline().split()
        if not line or line[0] != word:
            self.process.kill()
            raise AssertionError("crowd process: expected %r, got %r; stderr: %s"
                                 % (word, line, self.process.stderr.read()[-2000:]))
        return [float(x) for x in line[1:]]

    def wait_ready(self):
        return self.expect("ready")[0]

    def wait_closed(self):
        """(connections the server closed, seconds from ready until the last was closed)"""
        closed, seconds = self.expect("closed")
        return int(closed), seconds

    def kill(self):
        self.process.stdin.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Victim:
    """A client that ping-pongs 64-byte echoes in a thread, one every `interval` seconds. For
    each it records the wall-clock time until the echo reached its socket (the kernel's
    receive timestamp: the victim's own wait for a CPU is left out), in `samples`, and the CPU
    time the server spent meanwhile, in `server_cpu`. On a machine shared with other work, a
    busy server also waits for a CPU, which wall-clock time counts; CPU time counts only the
    work the server did before answering, which is what a reactor controls. (The server's
    clock is read when the victim wakes up, which may be later than the echo's arrival: that
    time is taken off, as the one-threaded server cannot have used more CPU than that.)"""

    def __init__(self, server, interval=0.001):
        self.interval = interval
        self.server_clock = process_cpu_clock(server.process.pid)
        self.client = RawClient(server.host, server.port, bound(10.0))
        self.client.handshake(server.host_header())
        self.samples = []
        self.server_cpu = []
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        sock = self.client.sock
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.settimeout(bound(60.0))
        number = 0
        try:
            while not self._stop.is_set():
                payload = (b"victim %d " % number).ljust(64, b"v")
                expected = build_frame(OP_BINARY, payload, masked=False)
                frame = build_frame(OP_BINARY, payload)
                # Clocks in this order: a pause of the victim between two readings can only
                # lengthen the wall-clock span, never add server CPU to the count.
                sent = time.time_ns()
                cpu_sent = time.clock_gettime_ns(self.server_clock)
                sock.sendall(frame)
                echo, arrived = self._receive(sock, len(expected))
                cpu_awake = time.clock_gettime_ns(self.server_clock)
                awake = time.time_ns()
                if echo != expected:
                    raise AssertionError("victim echo %r, expected %r" % (echo[:20], expected[:20]))
                arrived = arrived or awake
                self.samples.append((arrived - sent) / 1e9)
                self.server_cpu.append(max(0, cpu_awake - cpu_sent - (awake - arrived)) / 1e9)
                number += 1
                if self.interval:
                    time.sleep(self.interval)
        except Exception as error:  # reported by stop()
            self.error = error

    @staticmethod
    def _receive(sock, size):
        """`size` bytes and the kernel's receive time (ns, CLOCK_REALTIME) of the last of them."""
        data, arrived = b"", None
        while len(data) < size:
            chunk, ancillary, _, _ = sock.recvmsg(size - len(data), socket.CMSG_SPACE(16))
            if not chunk:
                raise AssertionError("the server closed the victim's connection")
            data += chunk
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    arrived = seconds * 1000000000 + nanoseconds
        return data, arrived

    def stop(self):
        """Stops pinging; returns (longest round trip, p99, samples) in seconds."""
        from test_hardening import percentile  # imported late: the crowd's process imports this module
        self._stop.set()
        self._thread.join(bound(15.0))
        self.client.close()
        if self.error is not None:
            raise AssertionError("victim client failed: %r" % self.error)
        if not self.samples:
            raise AssertionError("the victim got no echo at all")
        return max(self.samples), percentile(self.samples, 0.99), len(self.samples)

    def since(self, index):
        """(wall-clock, server CPU) round trips from sample `index` on."""
        count = min(len(self.samples), len(self.server_cpu))
        return self.samples[index:count], self.server_cpu[index:count]


# ----------------------------------------------------------------------------- measurements

def measure_mass_timeout(count):
    """Starts a server with --handshake-timeout 1, opens `count` silent connections while a
    victim pings, waits until the server closed them all. Returns a dict of figures."""
    from test_hardening import ProcessProbe  # imported late: the crowd's process imports this module
    server = Server("--handshake-timeout", "1").start()
    crowd = victim = None
    try:
        victim = Victim(server)
        process = ProcessProbe(server.process.pid)
        crowd = Crowd(server, count, "silent", bound(60.0))
        connect_seconds = crowd.wait_ready()
        cpu_before = process.cpu_times() + (process_cpu_ns(process.pid),)
        closed, close_seconds = crowd.wait_closed()
        cpu_after = process.cpu_times() + (process_cpu_ns(process.pid),)
        time.sleep(0.2)
        stall, p99, samples = victim.stop()
        stall_cpu = max(victim.server_cpu)
        victim = None
        return {"count": count, "closed": closed, "connect_s": connect_seconds, "closed_after_s": close_seconds,
                "stall_ms": stall * 1e3, "p99_ms": p99 * 1e3, "samples": samples, "stall_cpu_ms": stall_cpu * 1e3,
                "user_s": cpu_after[0] - cpu_before[0], "system_s": cpu_after[1] - cpu_before[1],
                "cpu_ms": (cpu_after[2] - cpu_before[2]) / 1e6}
    finally:
        if victim is not None:
            victim.stop()
        if crowd is not None:
            crowd.kill()
        server.stop()


_libc = ctypes.CDLL(None, use_errno=True)


def process_cpu_clock(pid):
    """A clock (for time.clock_gettime) that reads the CPU time of process `pid`, all its
    threads, to the nanosecond (clock_getcpuclockid(3))."""
    clock = ctypes.c_int()
    error = _libc.clock_getcpuclockid(pid, ctypes.byref(clock))
    if error:
        raise OSError(error, "clock_getcpuclockid(%d): %s" % (pid, os.strerror(error)))
    return clock.value


def process_cpu_ns(pid):
    return time.clock_gettime_ns(process_cpu_clock(pid))


def measure_sigterm(count, close_timeout, drain_window=0.0):
    """Starts a server, opens `count` upgraded connections that never answer the close
    frame, sends SIGTERM; returns (seconds until exit or None, exit status). The closes are
    spread over `drain_window` seconds, then replies are awaited `close_timeout` seconds."""
    server = Server("--close-timeout", str(close_timeout), "--drain-window", str(drain_window)).start()
    crowd = Crowd(server, count, "upgraded", bound(120.0))
    try:
        crowd.wait_ready()
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        status = server.wait(bound(close_timeout + 30.0))
        return (time.monotonic() - started if status is not None else None), status
    finally:
        crowd.kill()
        server.stop()


# ----------------------------------------------------------------------------- the tests

class MassClose(ServerTestCase):
    shared_server = False

    def test_handshake_timeout_closes_thousands_without_stalling_others(self):
        """The victim's longest wait for an echo is under 50 ms: in server CPU time in every
        attempt, and in wall-clock time in one of three (on a machine shared with builds,
        wall-clock time adds the scheduler's delays; see Victim)."""
        count = scaled(8000, 1000)
        attempts = []
        for _ in range(3):
            figures = measure_mass_timeout(count)
            attempts.append("%.1f ms (%.1f ms of server CPU)" % (figures["stall_ms"], figures["stall_cpu_ms"]))
            self.assertEqual(figures["closed"], count, "silent connections closed by --handshake-timeout 1")
            self.assertLess(figures["stall_cpu_ms"], 50.0, "closing %d connections stalled another one: %.1f ms of "
                            "server CPU between its message and the echo" % (count, figures["stall_cpu_ms"]))
            if figures["stall_ms"] < bound(50.0):
                break
        print("    %d connections timed out together: the victim's longest echo wait %s"
              % (count, "; ".join(attempts)), flush=True)
        self.assertLess(figures["stall_ms"], bound(50.0), "closing %d connections stalled another one, per attempt: "
                        "%s" % (count, "; ".join(attempts)))

    def test_sigterm_with_thousands_of_silent_peers_exits_in_time(self):
        count = scaled(8000, 1000)
        seconds, status = measure_sigterm(count, 1, drain_window=0.5)
        self.assertEqual(status, 0, "exit status after SIGTERM")
        self.assertLess(seconds, 0.5 + 1 + bound(1.0), "SIGTERM with %d peers that never answer, --drain-window "
                        "0.5 and --close-timeout 1" % count)


# ----------------------------------------------------------------------------- full scale

def long_main(argv):
    parser = argparse.ArgumentParser(description="mass close at full scale")
    parser.add_argument("--long", action="store_true", required=True)
    parser.add_argument("--build", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "build"))
    parser.add_argument("--backend", choices=["io_uring", "epoll"], default="io_uring")
    parser.add_argument("--counts", default="2000,4000,8000,16000")
    parser.add_argument("--close-timeout", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=1, help="measurements per count")
    parser.add_argument("--skip-sigterm", action="store_true", help="only the mass timeout")
    args = parser.parse_args(argv)
    os.environ["WSRING_BUILD"] = os.path.abspath(args.build)
    os.environ["WSRING_BACKEND"] = args.backend
    print("backend %s, binary %s/wsring-echo" % (args.backend, os.environ["WSRING_BUILD"]), flush=True)
    for count in [int(c) for c in args.counts.split(",") for _ in range(args.rounds)]:
        f = measure_mass_timeout(count)
        print("%6d silent (opened in %.2f s), --handshake-timeout 1: %d closed in %.2f s; victim stall %.1f ms "
              "(%.1f ms of server CPU), p99 %.2f ms (%d echoes); server CPU %.0f ms (user %.2f s, system %.2f s)"
              % (count, f["connect_s"], f["closed"], f["closed_after_s"], f["stall_ms"], f["stall_cpu_ms"], f["p99_ms"],
                 f["samples"], f["cpu_ms"], f["user_s"], f["system_s"]), flush=True)
        if args.skip_sigterm:
            continue
        seconds, status = measure_sigterm(count, args.close_timeout)
        print("%6d upgraded, SIGTERM, --close-timeout %g: exit %s after %s s"
              % (count, args.close_timeout, status, "%.2f" % seconds if seconds is not None else "(still running)"),
              flush=True)


if __name__ == "__main__":
    if "--long" in sys.argv[1:]:
        long_main(sys.argv[1:])
    else:
        unittest.main()
