#!/usr/bin/python3
"""Broadcast cost of a server: one sender broadcasts SIZE-byte binary messages to CLIENTS
connections (the shootout binary protocol: 'b...' goes to everyone, 'r...' back to the sender),
WINDOW broadcasts in flight. Reports deliveries per server CPU-second (user + system, from /proc, and each apart)
and server syscalls per delivery (perf stat on raw_syscalls:sys_enter, attached for the measured
phase only). Any server speaking that protocol can be measured: wsring-echo --mode shootout, or a
peer command.

Usage: bench/fanout_bench.py --server 'CMD {PORT}' [--clients 5000] [--broadcasts 400]
       [--size 200] [--window 8] [--server-cpu 0] [--load-cpu 1] [--rounds 1]
Prints one JSON line per round. The receivers must each get every broadcast (checked by byte
count), else the round fails (exit 1).
"""

import argparse
import json
import os
import selectors
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time

REQUEST = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_times(pid):
    """(user, system) CPU seconds of a process, from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def masked_frame(payload):
    n = len(payload)
    head = bytes([0x82, 0x80 | 126]) + struct.pack("!H", n) if n >= 126 else bytes([0x82, 0x80 | n])
    return head + b"\0\0\0\0" + payload  # mask key 0: the payload goes as it is


def server_frame_size(n):
    return n + (2 if n < 126 else 4 if n < 65536 else 10)


def upgrade(port, count):
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(REQUEST)
        socks.append(s)
    for s in socks:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("fanout_bench: a connection closed during the handshake")
            data += chunk
        if not data.startswith(b"HTTP/1.1 101") or not data.endswith(b"\r\n\r\n"):
            raise SystemExit("fanout_bench: unexpected handshake answer %r" % data[:40])
        s.setblocking(False)
    return socks


def run_broadcasts(sender, socks, broadcasts, size, window, received):
    """Sends `broadcasts` broadcasts (at most `window` unanswered) and reads every socket until
    each receiver has all of them; returns False on timeout."""
    frame = masked_frame(b"b" + b"x" * (size - 1))
    want = server_frame_size(size) * broadcasts
    reply_size = server_frame_size(size)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    sel.register(sender, selectors.EVENT_READ, -1)
    sent, sender_bytes, complete = 0, 0, 0
    start_counts = list(received)
    target = [c + want for c in start_counts]
    done_flags = [False] * len(socks)
    deadline = time.monotonic() + 120
    # The sender receives its own copy of each broadcast and its 'r' reply.
    sender_target = 2 * reply_size * broadcasts
    while (complete < len(socks) or sender_bytes < sender_target) and time.monotonic() < deadline:
        answered = sender_bytes // (2 * reply_size)
        while sent < broadcasts and sent - answered < window:
            sender.sendall(frame)
            sent += 1
        for key, _ in sel.select(0.5):
            try:
                chunk = key.fileobj.recv(1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            i = key.data
            if i < 0:
                sender_bytes += len(chunk)
                continue
            received[i] += len(chunk)
            if not done_flags[i] and received[i] >= target[i]:
                done_flags[i] = True
                complete += 1
    sel.close()
    return complete == len(socks) and all(received[i] == target[i] for i in range(len(socks)))


def one_round(args, round_index):
    port = free_port()
    command = args.server.replace("{PORT}", str(port))
    server = subprocess.Popen(["taskset", "-c", str(args.server_cpu)] + shlex.split(command),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        socks = upgrade(port, args.clients)
        sender = upgrade(port, 1)[0]
        sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        received = [0] * len(socks)
        if not run_broadcasts(sender, socks, 20, args.size, args.window, received):  # warm-up
            raise SystemExit("fanout_bench: warm-up broadcasts did not all arrive")
        user0, sys0 = cpu_times(server.pid)
        perf = subprocess.Popen(["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", str(server.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)  # perf attached
        t0 = time.monotonic()
        ok = run_broadcasts(sender, socks, args.broadcasts, args.size, args.window, received)
        elapsed = time.monotonic() - t0
        user1, sys1 = cpu_times(server.pid)
        user, system = user1 - user0, sys1 - sys0
        cpu = user + system
        perf.send_signal(signal.SIGINT)
        perf_err = perf.communicate(timeout=30)[1]
        syscalls = None
        for line in perf_err.splitlines():
            parts = line.split(",")
            if len(parts) > 2 and "raw_syscalls:sys_enter" in line and parts[0].isdigit():
                syscalls = int(parts[0])
        deliveries = (len(socks) + 1) * args.broadcasts  # the sender receives each broadcast too
        result = {"round": round_index, "server": command, "clients": args.clients, "broadcasts": args.broadcasts,
                  "size": args.size, "window": args.window, "ok": ok, "elapsed_s": round(elapsed, 3),
                  "server_cpu_s": round(cpu, 3), "server_user_s": round(user, 3), "server_sys_s": round(system, 3),
                  "deliveries": deliveries,
                  "deliveries_per_cpu_s": round(deliveries / cpu) if cpu > 0 else None,
                  "syscalls": syscalls,
                  "syscalls_per_delivery": round(syscalls / deliveries, 5) if syscalls is not None else None,
                  "loadavg": os.getloadavg()[0]}
        print(json.dumps(result), flush=True)
        for s in socks + [sender]:
            s.close()
        return ok
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="server command with {PORT}")
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--broadcasts", type=int, default=400)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if args.size < 2:
        parser.error("--size: at least 2 (the type byte and one more)")
    os.sched_setaffinity(0, {args.load_cpu})
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.clients + 1000)), hard))
    ok = all([one_round(args, i) for i in range(args.rounds)])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
