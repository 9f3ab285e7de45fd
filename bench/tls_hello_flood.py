#!/usr/bin/python3
"""A flood of TLS handshake work that costs its sender almost nothing: many concurrent
connections to a wss:// port, each sending the same real TLS 1.3 ClientHello (made once, in
memory) and, once the server's first flight arrives, reset. The server does a full handshake step
(key share, signature) for each; the client does no cryptography, so one client core can keep a
server busy where wsring-load --handshake-only (a full client handshake each) cannot.

    bench/tls_hello_flood.py --port 9443 --seconds 8 --in-flight 100

Prints the number of server first flights received. Loopback only.
"""

import argparse
import selectors
import socket
import ssl
import struct
import time


def client_hello():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    session = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        session.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the wss:// port on 127.0.0.1")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--in-flight", type=int, default=100, help="concurrent connections")
    args = parser.parse_args()
    hello = client_hello()
    selector = selectors.DefaultSelector()
    reset = struct.pack("ii", 1, 0)  # SO_LINGER 0: no TIME_WAIT left behind
    flights = 0

    def start():
        s = socket.socket()
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, reset)
        try:
            s.connect(("127.0.0.1", args.port))
        except BlockingIOError:
            pass
        selector.register(s, selectors.EVENT_WRITE, "connecting")

    for _ in range(args.in_flight):
        start()
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        for key, _ in selector.select(0.5):
            s = key.fileobj
            try:
                if key.data == "connecting":
                    s.send(hello)
                    selector.modify(s, selectors.EVENT_READ, "hello sent")
                    continue
                if s.recv(65536):
                    flights += 1
            except OSError:
                pass
            selector.unregister(s)
            s.close()
            start()
    print("%d server first flights in %.1f s (%.0f/s)" % (flights, args.seconds, flights / args.seconds))


if __name__ == "__main__":
    main()
