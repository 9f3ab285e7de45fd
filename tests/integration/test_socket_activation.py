"""Socket activation: wsring-echo started by a parent that holds the listening sockets
(tests/integration/activate.py, systemd's LISTEN_FDS/LISTEN_PID convention) serves them: a socket
matching --listen or --tls-listen is used for it, one matching no flag is served as plain ws://
and logged. A restart on the parent's socket loses nobody: a client that connects while no server
runs waits in the socket's queue and is served by the next server. Variables meant for another
process are ignored."""

import os
import socket
import time
import unittest

from wsharness import OP_TEXT, RawClient, ServerTestCase, bound, upgrade_request, read_http_response, connect
import test_tls as tls_helpers

HERE = os.path.dirname(os.path.abspath(__file__))
ACTIVATE = os.path.join(HERE, "activate.py")
PYTHON = "/usr/bin/python3"


def listening_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class SocketActivation(ServerTestCase):
    shared_server = False

    def held_socket(self):
        """A listening socket this test holds (the parent's copy), closed after the test."""
        sock = listening_socket()
        self.addCleanup(sock.close)
        return sock

    def activated(self, sockets, *args, listen=None, extra_launcher=()):
        fds = [s.fileno() for s in sockets]
        launcher = [PYTHON, ACTIVATE] + list(extra_launcher)
        for fd in fds:
            launcher += ["--fd", str(fd)]
        launcher.append("--")
        return self.start_server(*args, listen=listen, launcher=launcher, pass_fds=fds)

    def echo(self, server, port=None, text="activated"):
        client = RawClient(server.host, port or server.port)
        self.clients.append(client)
        client.handshake("127.0.0.1:%d" % (port or server.port))
        client.send_text(text)
        client.expect_message(OP_TEXT, text.encode())
        return client

    def test_inherited_socket_serves_listen(self):
        sock = self.held_socket()
        port = sock.getsockname()[1]
        server = self.activated([sock], "--threads", "2", listen="127.0.0.1:%d" % port)
        self.assertEqual(server.port, port)
        self.assertIn("socket activation: inherited listening socket fd 3 on 127.0.0.1:%d" % port, server.log())
        for i in range(4):  # both threads accept from the one queue
            self.echo(server, text="message %d" % i)

    def test_inherited_socket_serves_tls_listen(self):
        pki = tls_helpers.shared_pki()
        plain, secure = self.held_socket(), self.held_socket()
        tls_address = "127.0.0.1:%d" % secure.getsockname()[1]
        server = self.activated([plain, secure], "--tls-listen", tls_address, "--tls-cert", pki.cert("server"),
                                "--tls-key", pki.key("server"), listen="127.0.0.1:%d" % plain.getsockname()[1])
        self.assertEqual(server.tls_port, secure.getsockname()[1])
        client = RawClient(server.tls_hosts[0], server.tls_port, tls_context=tls_helpers.client_context(pki))
        self.clients.append(client)
        client.handshake(server.tls_host_header())
        client.send_text("wss")
        client.expect_message(OP_TEXT, b"wss")
        self.echo(server)

    def test_unmatched_inherited_socket_is_served_plain(self):
        sock = self.held_socket()
        port = sock.getsockname()[1]
        server = self.activated([sock], listen="127.0.0.1:0", extra_launcher=["--name", "extra"])
        self.assertNotEqual(server.port, port)
        deadline = time.monotonic() + bound(2.0)
        while "matches no --listen" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertIn("serving ws://127.0.0.1:%d/ on an inherited socket that matches no --listen" % port,
                      server.log())
        self.assertIn("named extra", server.log())
        self.echo(server, port)
        self.echo(server)

    def test_variables_for_another_process_are_ignored(self):
        sock = self.held_socket()
        server = self.activated([sock], listen="127.0.0.1:0", extra_launcher=["--pid-of-other"])
        self.assertNotIn("inherited", server.log())
        self.echo(server)

    def test_restart_on_the_held_socket_loses_no_client(self):
        sock = self.held_socket()
        address = "127.0.0.1:%d" % sock.getsockname()[1]
        first = self.activated([sock], "--drain-window", "0.2s", listen=address)
        old = self.echo(first, text="before")
        first.signal(15)
        old.expect_close(1001, timeout=bound(3.0))
        self.assertEqual(first.wait(bound(5.0)), 0, first.log_tail())
        # No server runs: the connection waits in the held socket's queue.
        waiting = connect("127.0.0.1", sock.getsockname()[1])
        self.addCleanup(waiting.close)
        request, _ = upgrade_request(address)
        waiting.sendall(request)
        second = self.activated([sock], listen=address)
        response, _ = read_http_response(waiting, timeout=bound(5.0))
        self.assertEqual(response.status, 101)
        waiting.close()
        self.echo(second, text="after")


if __name__ == "__main__":
    unittest.main()
