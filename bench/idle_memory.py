#!/usr/bin/python3
"""Memory per idle upgraded connection of a running WebSocket server.

Opens N connections, upgrades each (spread over 127.0.0.x source addresses to go past the
ephemeral port range), leaves them idle and reports the growth of the server's resident set
(VmRSS of --pid) divided by N. A warm-up round (connections opened, upgraded and closed) runs
first, so that one-time allocations do not count against the idle connections.

    bench/idle_memory.py --port 9001 --pid $(pgrep -n wsring-echo) --connections 10000

--tls speaks wss:// (no certificate check): the port is then the server's TLS port.
--baseline B opens B connections first and measures only the next N (the marginal cost from
B to B+N connections, without what the first thousands cost in tables and pools), e.g.
    bench/idle_memory.py --tls --port 9443 --pid PID --baseline 5000 --connections 10000
"""

import argparse
import resource
import socket
import ssl
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h

REQUEST = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def open_upgraded(host, port, count, tls=None, first=0, per_source=20000):
    sockets = []
    for i in range(first, first + count):
        s = socket.socket()
        # Choose the port at connect() (4-tuple unique), not at bind(): TIME_WAIT leftovers
        # of earlier runs then do not make the bind fail.
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind(("127.0.0.%d" % (2 + i // per_source), 0))
        s.settimeout(10)
        s.connect((host, port))
        if tls is not None:
            s = tls.wrap_socket(s, server_hostname=host)
        s.sendall(REQUEST)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("connection %d closed during the upgrade" % i)
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError("connection %d not upgraded: %r" % (i, head[:80]))
        sockets.append(s)
    return sockets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="the server process")
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=0, help="connections opened before the measured ones")
    parser.add_argument("--tls", action="store_true", help="wss:// (the certificate is not checked)")
    args = parser.parse_args()
    tls = None
    if args.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.baseline + args.connections + 64
    if need > hard:
        sys.exit("idle_memory.py: --connections %d needs %d file descriptors; this process may have %d"
                 % (args.connections, need, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))

    for s in open_upgraded(args.host, args.port, args.warmup, tls):
        s.close()
    time.sleep(1.0)
    baseline = open_upgraded(args.host, args.port, args.baseline, tls)
    if baseline:
        time.sleep(1.0)
    before = rss_bytes(args.pid)
    started = time.monotonic()
    sockets = open_upgraded(args.host, args.port, args.connections, tls, first=args.baseline)
    opened = time.monotonic() - started
    time.sleep(1.0)
    after = rss_bytes(args.pid)
    print("%d idle %s connections after %d (opened in %.1f s): server RSS %.1f -> %.1f MiB, %.0f bytes per connection"
          % (args.connections, "wss" if args.tls else "ws", args.baseline, opened, before / 2**20, after / 2**20,
             (after - before) / args.connections))
    for s in baseline + sockets:
        s.close()


if __name__ == "__main__":
    main()
