"""Running out of memory anywhere: build/fail-allocations.so (LD_PRELOAD) makes one C++
allocation in N fail during a window of a few seconds while wsring-load drives the server (echo,
TLS, permessage-deflate, push across threads, the admin listener and the connection log). The
server must fail only the connections concerned: it never dies (std::bad_alloc escaping an
event handler ended it once, under RLIMIT_AS), serves a new client once the window has passed,
and exits 0 on SIGTERM with its summary line."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from wsharness import (OP_BINARY, OP_TEXT, Server, ServerTestCase, SANITIZED, bound, build_dir, tls_mode_context,
                       tls_mode_files, transport_tls)

WINDOW_MS = 2500


class AllocationFailingServer(Server):
    """wsring-echo with operator new failing once in `one_in` calls during a window that opens
    when arm() is called (after start-up, whose failures would prove nothing)."""

    def __init__(self, one_in, *args, **kw):
        library = os.path.join(build_dir(), "fail-allocations.so")
        self.directory = tempfile.mkdtemp(prefix="wsring-fail-allocations-")
        self.arm_file = os.path.join(self.directory, "arm")
        super().__init__(*args, launcher=("env", "LD_PRELOAD=" + library,
                                          "WSRING_FAIL_ALLOCATIONS=%d %d %s" % (one_in, WINDOW_MS, self.arm_file)),
                         **kw)

    def arm(self):
        open(self.arm_file, "w").close()
        return time.monotonic()

    def stop(self, *args, **kw):
        try:
            return super().stop(*args, **kw)
        finally:
            shutil.rmtree(self.directory, True)


class AllocationFailures(ServerTestCase):
    shared_server = False

    def setUp(self):
        super().setUp()
        if SANITIZED:
            self.skipTest("a sanitizer's allocator replaces operator new: the library cannot be preloaded")
        if transport_tls():
            self.skipTest("the TLS cases here start their own wss:// listener")
        if not os.path.exists(os.path.join(build_dir(), "fail-allocations.so")):
            self.fail("build/fail-allocations.so is missing (make all builds it)")

    def drive(self, one_in, server_args, url_scheme="ws", load_args=(), pushes=False):
        server = AllocationFailingServer(one_in, *server_args)
        self.servers.append(server)
        self.addCleanup(self._stop_test_server, server)
        server.start()
        time.sleep(0.3)  # every reactor thread has started
        armed = server.arm()
        if url_scheme == "wss":
            url = "wss://127.0.0.1:%d/" % server.tls_ports[0]
        else:
            url = "ws://%s:%d/" % (server.host, server.port)
        load = [os.path.join(build_dir(), "wsring-load"), url, "--quiet", "-d", "%dms" % WINDOW_MS]
        load += [str(a) for a in load_args]
        if url_scheme == "wss":
            load.append("--insecure")
        # Its result does not matter (connections are failed on purpose): the server's does.
        subprocess.run(load, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=bound(60))
        self.assertTrue(server.alive(), "the server died while allocations failed:\n" + server.log_tail(12))
        # After the window: a new client is served as if nothing had happened.
        time.sleep(max(0.0, armed + WINDOW_MS / 1000.0 + 0.2 - time.monotonic()))
        server.process.send_signal(signal.SIGUSR1)  # the counters, formed after the window
        if url_scheme == "wss":
            client = self.tls_client(tls_mode_context(), server)
        else:
            client = self.client(server)
        if pushes:  # --mode push: the server sends, stamped and numbered from 0
            for sequence in range(3):
                message = client.recv_message(bound(5))
                self.assertEqual(message.opcode, OP_BINARY)
                self.assertEqual(int.from_bytes(message.payload[8:16], "little"), sequence)
        else:
            client.echo(OP_TEXT, "served after the allocation failures")
            client.echo(OP_BINARY, bytes(range(256)) * 40)
        client.send_close(1000)
        client.expect_close(1000, allow_before=pushes)
        status = server.stop()
        log = server.log()
        self.assertEqual(status, 0, "exit status after SIGTERM\n" + server.log_tail(12))
        self.assertNotIn("terminate called", log)
        self.assertIn("stopped: ", log, server.log_tail())
        failed = [line for line in log.splitlines() if line.startswith("fail-allocations: ")]
        self.assertEqual(len(failed), 1, "the library did not report:\n" + server.log_tail())
        injected = int(failed[0].split()[1])
        self.assertGreater(injected, 0, "no allocation failed: the test proved nothing (%s)" % failed[0])
        print("    %s" % failed[0], flush=True)

    def test_echo_on_two_threads(self):
        self.drive(2, ("--threads", "2", "--connection-log", "1", "--admin-listen", "127.0.0.1:0"),
                   load_args=("-c", "120", "--size", "16-200000", "--pipeline", "4", "-t", "2"))

    def test_tls_handshakes_and_echo(self):
        cert, key = tls_mode_files()
        args = ("--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key)
        self.drive(2, args, "wss", ("-c", "60", "--size", "16-50000", "--pipeline", "2"))
        self.drive(2, args, "wss", ("-c", "20", "--handshake-only"))

    def test_permessage_deflate(self):
        self.drive(2, ("--deflate", "dedicated", "--deflate-idle", "1"),
                   load_args=("--deflate", "-c", "80", "--size", "16-30000", "--text"))

    def test_push_across_threads(self):
        self.drive(2, ("--mode", "push", "--push-total-rate", "20000", "--threads", "2"),
                   load_args=("--scenario", "push", "-c", "300", "--connect-rate", "300"), pushes=True)


if __name__ == "__main__":
    unittest.main()
