"""--backend auto falls back to epoll where io_uring is blocked, the way a container's seccomp
profile blocks it: build/deny-io-uring runs the server with io_uring_setup(2) failing with EPERM."""

import os
import subprocess
import unittest

from wsharness import (OP_BINARY, OP_TEXT, RawClient, Server, ServerTestCase, bound, build_dir)


class BlockedIoUringServer(Server):
    def __init__(self, *args, **kw):
        super().__init__(*args, use_backend=False, **kw)

    def command(self):
        return [os.path.join(build_dir(), "deny-io-uring")] + super().command()


class BackendFallback(ServerTestCase):
    shared_server = False
    backend_independent = True

    def test_auto_falls_back_to_epoll_and_says_why(self):
        """auto: io_uring_setup fails with EPERM -> the epoll backend serves, the log says why."""
        server = BlockedIoUringServer("--backend", "auto").start()
        try:
            self.assertEqual(server.backend_name, "epoll", server.log_tail())
            self.assertIn("io_uring unavailable", server.log_tail())
            self.assertIn("Operation not permitted", server.log_tail())
            client = RawClient(server.host, server.port, timeout=bound(5))
            client.handshake(server.host_header())
            client.echo(OP_TEXT, "served by the fallback")
            client.echo(OP_BINARY, bytes(range(256)) * 300)
            client.close()
        finally:
            server.stop()

    def test_forced_io_uring_fails_with_a_clear_error(self):
        """--backend io_uring where it is blocked: exit 1 and an error that names the cause."""
        command = [os.path.join(build_dir(), "deny-io-uring"), os.path.join(build_dir(), "wsring-echo"),
                   "--listen", "127.0.0.1:0", "--backend", "io_uring"]
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=bound(10))
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("io_uring", result.stderr)
        self.assertIn("Operation not permitted", result.stderr)

    def test_explicit_epoll_needs_no_io_uring(self):
        """--backend epoll never touches io_uring: it runs fine where io_uring is blocked."""
        server = BlockedIoUringServer("--backend", "epoll").start()
        try:
            self.assertEqual(server.backend_name, "epoll")
            client = RawClient(server.host, server.port, timeout=bound(5))
            client.handshake(server.host_header())
            client.echo(OP_TEXT, "epoll")
            client.close()
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
