"""SIGTERM while thousands of peers hang up at the same moment: the server's shutdown queues a
close 1001 on connections whose sockets are already being closed. It must exit 0, not send on
a closed socket (a regression: a send completing after the socket's close crashed it)."""

import random
import signal
import socket
import time
import unittest

from wsharness import ServerTestCase, bound, raise_fd_limit, scaled

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h

REQUEST = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


class ShutdownRace(ServerTestCase):
    shared_server = False

    def open_upgraded(self, server, count):
        # A source address of its own per run: TIME_WAIT leftovers of other runs and tests
        # (they hold ports of 127.0.0.1) cannot exhaust its ephemeral ports.
        source = "127.0.%d.%d" % (random.randint(1, 250), random.randint(2, 250))
        sockets = []
        for i in range(count):
            s = socket.socket()
            # Choose the port at connect() (4-tuple unique), not at bind(): TIME_WAIT leftovers
            # of earlier runs then do not make the bind fail.
            s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.bind((source, 0))
            s.settimeout(bound(10))
            s.connect((server.host, server.port))
            s.sendall(REQUEST)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "connection %d closed during the upgrade" % i)
                head += chunk
            self.assertTrue(head.startswith(b"HTTP/1.1 101"), head[:60])
            sockets.append(s)
        return sockets

    def test_sigterm_while_every_peer_hangs_up(self):
        raise_fd_limit()
        for _ in range(2):
            server = self.start_server()
            sockets = self.open_upgraded(server, scaled(5000, 1000))
            for s in sockets:
                s.close()
            server.signal(signal.SIGTERM)
            status = server.wait(bound(15))
            self.assertEqual(status, 0, "exit status after SIGTERM: %r\n%s" % (status, server.log_tail()))


if __name__ == "__main__":
    unittest.main()
