"""The per-turn budget of TLS handshake work (--tls-handshakes-per-turn): under a flood of wss://
handshakes from another process (wsring-load --handshake-only), an established wss:// connection
is still served: every one of its echoes is answered, in order, byte for byte. The flood's
handshakes complete too (deferred ones are resumed, not dropped), and the server counts the
deferred ones. Only functional facts are asserted, no timings."""

import json
import os
import re
import subprocess
import tempfile
import time

from wsharness import (OP_BINARY, ServerTestCase, bound, build_dir, pattern_bytes, tls_mode_context,
                       tls_mode_files)

RUN_ALONE = True  # alone under run.py --jobs: a CPU-bound handshake flood


def stopped_line(server):
    for line in reversed(server.log().splitlines()):
        if "stopped:" in line:
            return line
    raise AssertionError("no 'stopped:' line in the server log\n" + server.log_tail())


class HandshakeFlood(ServerTestCase):
    shared_server = False

    def start_tls_server(self, per_turn):
        cert, key = tls_mode_files()
        return self.start_server("--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
                                 "--tls-handshakes-per-turn", str(per_turn), "--log-level", "info")

    def start_flood(self, server, seconds):
        report = tempfile.NamedTemporaryFile(prefix="wsring-flood-", suffix=".json", delete=False)
        report.close()
        self.addCleanup(os.unlink, report.name)
        flood = subprocess.Popen([os.path.join(build_dir(), "wsring-load"), server.wss_url(), "--insecure",
                                  "--handshake-only", "--connections", "64", "--duration", str(seconds),
                                  "--json", report.name],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: flood.poll() is None and flood.kill())
        return flood, report.name

    def test_established_connection_is_answered_during_a_handshake_flood(self):
        server = self.start_tls_server(per_turn=1)
        client = self.tls_client(tls_mode_context(), server=server)
        flood, report_path = self.start_flood(server, seconds=3)
        time.sleep(0.3)  # the flood is under way
        echoed = 0
        deadline = time.monotonic() + bound(20.0)
        while flood.poll() is None and echoed < 100000 and time.monotonic() < deadline:
            payload = pattern_bytes(64 + echoed % 200, seed=echoed)
            client.echo(OP_BINARY, payload)
            echoed += 1
        out, err = flood.communicate(timeout=bound(30.0))
        self.assertEqual(flood.returncode, 0, (out + err).decode(errors="replace")[-3000:])
        with open(report_path) as f:
            report = json.load(f)
        self.assertGreater(echoed, 10, "the established connection was served during the flood")
        self.assertGreater(report["connections"]["opened"], 20, report["connections"])
        self.assertEqual(report["errors"]["total"], 0, report["error_details"])
        # The connection still works after the flood.
        client.echo(OP_BINARY, b"after")
        client.close()
        server.stop()
        line = stopped_line(server)
        deferred = re.search(r"(\d+) handshakes? deferred", line)
        self.assertIsNotNone(deferred, line)
        self.assertGreater(int(deferred.group(1)), 0, "the budget of 1 per turn was exercised: " + line)


if __name__ == "__main__":
    import unittest
    unittest.main()
