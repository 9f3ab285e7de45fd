"""Peers that send fast and never read: reading them stops at --max-backpressure, their pending
output is copied aside so that they pin no receive buffer, and --send-timeout drops them.
Meanwhile everyone else is served, even with a receive ring (64 buffers) far smaller than the
stuck peers' combined backlog, and the server's memory stays bounded."""

import socket
import time
import unittest

from test_hardening import ProcessProbe
from wsharness import OP_TEXT, ServerTestCase, bound, scaled

REQUEST = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
# Masked binary frames of 100 bytes (mask key 0: the payload goes out as it is).
FRAME = bytes([0x82, 0x80 | 100, 0, 0, 0, 0]) + b"x" * 100


class NonReadingPeers(ServerTestCase):
    shared_server = False

    def test_stuck_peers_pin_no_buffers_and_are_dropped(self):
        server = self.start_server("--recv-buffers", "64", "--max-backpressure", "256K", "--send-timeout", "2")
        probe = ProcessProbe(server.process.pid)
        stuck = []
        for _ in range(scaled(40, 10)):
            s = socket.create_connection((server.host, server.port), timeout=bound(5))
            s.sendall(REQUEST)
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 101"))
            s.setblocking(False)
            stuck.append([s, 0])
        # Send as fast as the server reads, never read: each stuck peer's backlog fills the
        # socket buffers and the server's allowance, then the server stops reading it.
        burst = FRAME * 2000
        sent = 0
        deadline = time.monotonic() + bound(3)
        while time.monotonic() < deadline:
            progress = False
            for entry in stuck:
                sock, offset = entry
                try:
                    n = sock.send(burst[offset:])
                except BlockingIOError:
                    continue
                except OSError:
                    continue
                sent += n
                entry[1] = (offset + n) % len(burst)  # frames stay whole across partial sends
                progress = progress or n > 0
            if not progress:
                time.sleep(0.01)
        self.assertGreater(sent, 64 * 64 * 1024, "the stuck peers should have sent more than the whole ring")
        rss_stuck_mib = probe.rss_kib() / 1024

        # Everyone else is still served at once.
        client = self.client(server)
        started = time.monotonic()
        client.echo(OP_TEXT, "still served")
        self.assertLess(time.monotonic() - started, bound(1.0))
        self.assertLess(rss_stuck_mib, 200, "server memory should stay bounded by the backpressure limit")

        # --send-timeout: the stuck peers are dropped (reset), the others keep going.
        time.sleep(bound(3.5))
        dropped = 0
        for sock, _ in stuck:
            sock.setblocking(True)
            sock.settimeout(bound(2))
            try:
                while sock.recv(1 << 20):
                    pass
                dropped += 1  # orderly end of stream
            except (ConnectionResetError, BrokenPipeError):
                dropped += 1
            except socket.timeout:
                pass
            sock.close()
        self.assertEqual(dropped, len(stuck), "every peer that never read should have been dropped")
        client.echo(OP_TEXT, "and still served afterwards")


if __name__ == "__main__":
    unittest.main()
