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
--deflate: each connection offers permessage-deflate and, once upgraded, sends one compressed
512-byte JSON-like text message and reads its echo before it goes idle.
"""

import argparse
import json
import os
import zlib
import resource
import socket
import ssl
import sys
import time

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h

REQUEST = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


DEFLATE_OFFER = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


def compressed_frame():
    """One masked text frame carrying a 512-byte JSON-like message, compressed (RSV1)."""
    record = {"type": "update", "symbol": "WSR", "bid": 101.25, "ask": 101.5, "items": []}
    while len(json.dumps(record)) < 512:
        record["items"].append({"n": len(record["items"]), "v": "value-%d" % len(record["items"])})
    text = json.dumps(record).encode()[:512]
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = (packer.compress(text) + packer.flush(zlib.Z_SYNC_FLUSH))[:-4]
    assert 126 <= len(payload) < 65536
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0xC1, 0x80 | 126]) + len(payload).to_bytes(2, "big") + key + masked


def read_one_frame(s, buffer):
    """Reads one whole server frame (after the 101 head's leftover `buffer`)."""
    while True:
        if len(buffer) >= 2:
            length = buffer[1] & 0x7F
            offset = 2 if length < 126 else 4 if length == 126 else 10
            if len(buffer) >= offset:
                if length == 126:
                    length = int.from_bytes(buffer[2:4], "big")
                elif length == 127:
                    length = int.from_bytes(buffer[2:10], "big")
                if len(buffer) >= offset + length:
                    return
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("closed while waiting for the echo")
        buffer += chunk


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def open_upgraded(host, port, count, tls=None, first=0, per_source=20000, deflate=False):
    sockets = []
    request = REQUEST[:-2] + DEFLATE_OFFER + b"\r\n" if deflate else REQUEST
    frame = compressed_frame() if deflate else None
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
        s.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("connection %d closed during the upgrade" % i)
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError("connection %d not upgraded: %r" % (i, head[:80]))
        if deflate:
            if b"permessage-deflate" not in head:
                raise RuntimeError("connection %d: permessage-deflate not agreed" % i)
            s.sendall(frame)
            read_one_frame(s, bytearray(head[head.index(b"\r\n\r\n") + 4:]))
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
    parser.add_argument("--deflate", action="store_true", help="one compressed message per connection")
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

    for s in open_upgraded(args.host, args.port, args.warmup, tls, deflate=args.deflate):
        s.close()
    time.sleep(1.0)
    baseline = open_upgraded(args.host, args.port, args.baseline, tls, deflate=args.deflate)
    if baseline:
        time.sleep(1.0)
    before = rss_bytes(args.pid)
    started = time.monotonic()
    sockets = open_upgraded(args.host, args.port, args.connections, tls, first=args.baseline, deflate=args.deflate)
    opened = time.monotonic() - started
    time.sleep(1.0)
    after = rss_bytes(args.pid)
    print("%d idle %s connections%s after %d (opened in %.1f s): server RSS %.1f -> %.1f MiB, %.0f bytes per connection"
          % (args.connections, "wss" if args.tls else "ws",
             " after one compressed message each" if args.deflate else "", args.baseline, opened, before / 2**20, after / 2**20,
             (after - before) / args.connections))
    for s in baseline + sockets:
        s.close()


if __name__ == "__main__":
    main()
