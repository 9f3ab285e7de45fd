"""wsring-load end to end: short runs against wsring-echo whose counts must add up, and runs
against deliberately broken echo servers (asyncio, in this process) whose faults it must report
with exit status 1. Bad arguments exit 2 with one line naming the flag."""

import asyncio
import json
import os
import subprocess
import tempfile
import threading
import unittest

import websockets

from wsharness import SANITIZED, ServerTestCase, backend, bound, build_dir


def load_binary():
    return os.path.join(build_dir(), "wsring-load")


def run_load(url, *args, timeout=30.0):
    """Runs wsring-load to completion with --json; returns (exit status, report or None, stdout, stderr)."""
    binary = load_binary()
    if not os.path.exists(binary):
        raise AssertionError("load generator %s does not exist (build it first)" % binary)
    with tempfile.TemporaryDirectory() as tmp:
        report_path = os.path.join(tmp, "report.json")
        cmd = [binary, url, "--json", report_path] + [str(a) for a in args]
        if backend() and "--backend" not in args:
            cmd += ["--backend", backend()]
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=bound(timeout))
        except subprocess.TimeoutExpired as error:
            raise AssertionError("wsring-load did not finish within %.0f s: %s\nstderr: %s"
                                 % (bound(timeout), " ".join(cmd), (error.stderr or b"")[-2000:]))
        report = None
        if os.path.exists(report_path):
            with open(report_path) as f:
                report = json.load(f)
    return done.returncode, report, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


class AsyncioEchoServer:
    """A websockets echo server on its own event loop thread; `transform` rewrites each echo."""

    def __init__(self, handler):
        self.handler = handler
        self.port = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self):
        self._stop = asyncio.Event()
        async with websockets.serve(self.handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def start(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError("asyncio echo server did not start")
        return self

    def stop(self):
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def url(self):
        return "ws://127.0.0.1:%d/" % self.port


def check_counts_add_up(test, report, connections):
    messages = report["messages"]
    test.assertGreater(messages["sent"], 0, report)
    test.assertEqual(messages["sent"], messages["received"] + messages["in_flight"], messages)
    test.assertEqual(messages["lost"], 0, messages)
    test.assertEqual(messages["mismatched"], 0, messages)
    test.assertEqual(report["errors"]["total"], 0, report["errors"])
    test.assertEqual(report["connections"]["opened"], connections, report["connections"])
    test.assertEqual(report["connections"]["failed"], 0, report["connections"])
    test.assertEqual(report["latency_us"]["count"], messages["received"], report["latency_us"])
    test.assertGreater(report["throughput"]["msgs_per_s"], 0)
    test.assertEqual(report["exit_status"], 0)


class LoadAgainstWsringEcho(ServerTestCase):
    """Clean runs against wsring-echo (once per backend): every echo verified, counts consistent."""

    def test_ping_pong_two_seconds(self):
        """100 connections ping-pong for 2 s: sent = received + in_flight, nothing lost or mismatched."""
        status, report, out, err = run_load(self.server.url(), "--connections", 100, "--duration", 2)
        self.assertIsNotNone(report, err)
        self.assertEqual(status, 0, out + err)
        check_counts_add_up(self, report, 100)
        self.assertGreaterEqual(report["window_s"], 1.9)
        self.assertEqual(report["connections"]["closed_cleanly"], 100, report["connections"])
        self.assertIn("msg/s", err)   # live progress on stderr
        self.assertIn("p99.9", out)   # the summary table on stdout

    def test_pipelined_text_sizes_two_threads(self):
        """Pipeline 8, text messages of 16 B to 20 KiB, 2 threads: still byte-exact."""
        status, report, out, err = run_load(self.server.url(), "--connections", 20, "--duration", 1.5, "--pipeline", 8,
                                            "--text", "--size", "16-20K", "--threads", 2)
        self.assertIsNotNone(report, err)
        self.assertEqual(status, 0, out + err)
        check_counts_add_up(self, report, 20)
        self.assertEqual(report["parameters"]["type"], "text")
        self.assertEqual(report["parameters"]["threads"], 2)

    def test_large_messages(self):
        """1 MiB messages span many receive buffers and server frames; each is checked whole."""
        status, report, out, err = run_load(self.server.url(), "--connections", 4, "--duration", 1.5,
                                            "--size", "1M")
        self.assertIsNotNone(report, err)
        self.assertEqual(status, 0, out + err)
        check_counts_add_up(self, report, 4)
        self.assertEqual(report["bytes"]["received"], report["messages"]["received"] * (1 << 20))

    def test_send_buffers_overflowing(self):
        """8 MiB messages, 4 in flight: more than the sockets hold, so sends find them full
        (-EAGAIN) and must resume, not fail."""
        status, report, out, err = run_load(self.server.url(), "--connections", 2, "--duration", 1,
                                            "--size", "8M", "--pipeline", 4)
        self.assertIsNotNone(report, err)
        self.assertEqual(status, 0, out + err)
        check_counts_add_up(self, report, 2)
        self.assertEqual(report["errors"]["send_error"], 0)

    def test_message_budget(self):
        """--messages N: exactly N sent, all echoed, then a clean stop."""
        status, report, out, err = run_load(self.server.url(), "--connections", 10, "--messages", 5000,
                                            "--pipeline", 4)
        self.assertIsNotNone(report, err)
        self.assertEqual(status, 0, out + err)
        check_counts_add_up(self, report, 10)
        self.assertEqual(report["messages"]["sent"], 5000)
        self.assertEqual(report["messages"]["received"], 5000)

    def test_open_loop_rate(self):
        """--rate 2000 for 1.5 s: about 3000 messages, paced, none lost."""
        status, report, out, err = run_load(self.server.url(), "--connections", 10, "--duration", 1.5,
                                            "--rate", 2000)
        self.assertIsNotNone(report, err)
        self.assertEqual(status, 0, out + err)
        check_counts_add_up(self, report, 10)
        # Paced: never ahead of the schedule over the whole run (a closed loop would be far
        # ahead), and not far behind it over the measured window.
        sent = report["messages"]["sent"]
        self.assertLessEqual(sent, 2000 * report["elapsed_s"] + 10, report)
        self.assertGreaterEqual(sent, 1000 * report["window_s"], report)
        self.assertEqual(report["parameters"]["rate"], 2000)

    def test_connect_pacing(self):
        """--connect-rate 20 opens 10 connections 50 ms apart; --ramp-up spreads them likewise."""
        status, report, out, err = run_load(self.server.url(), "--connections", 10, "--duration", 0.2,
                                            "--connect-rate", 20)
        self.assertEqual(status, 0, out + err)
        check_counts_add_up(self, report, 10)
        # The last connect cannot start before 9 intervals of 50 ms have passed.
        self.assertGreaterEqual(report["elapsed_s"], 0.45, report)
        status, report, out, err = run_load(self.server.url(), "--connections", 10, "--duration", 0.2,
                                            "--ramp-up", 0.5, "--threads", 2)
        self.assertEqual(status, 0, out + err)
        check_counts_add_up(self, report, 10)
        self.assertGreaterEqual(report["elapsed_s"], 0.45, report)

    def test_handshake_only(self):
        """--handshake-only: connect, upgrade and close in a loop, no errors."""
        status, report, out, err = run_load(self.server.url(), "--connections", 10, "--duration", 1,
                                            "--handshake-only")
        self.assertIsNotNone(report, err)
        self.assertEqual(status, 0, out + err)
        self.assertGreater(report["connections"]["opened"], 10)
        self.assertEqual(report["connections"]["failed"], 0)
        self.assertEqual(report["errors"]["total"], 0, report["errors"])
        self.assertGreater(report["throughput"]["handshakes_per_s"], 0)
        self.assertEqual(report["messages"]["sent"], 0)

    def test_source_addresses(self):
        """--source-addrs spreads connections over 127.0.0.1-127.0.0.4."""
        status, report, out, err = run_load(self.server.url(), "--connections", 8, "--duration", 0.5,
                                            "--source-addrs", "127.0.0.1-127.0.0.4")
        self.assertIsNotNone(report, err)
        self.assertEqual(status, 0, out + err)
        check_counts_add_up(self, report, 8)
        self.assertEqual(len(report["parameters"]["source_addrs"]), 4)


class LoadAgainstBrokenServers(unittest.TestCase):
    """Faults must be counted and reported, never ignored."""
    backend_independent = True

    def serve(self, handler):
        server = AsyncioEchoServer(handler).start()
        self.addCleanup(server.stop)
        return server

    def test_corrupted_echo_is_a_mismatch(self):
        """An echo with one byte changed: every message mismatched, exit status 1."""
        async def corrupting_echo(ws, path=None):
            async for message in ws:
                data = bytearray(message)
                data[len(data) // 2] ^= 0x20
                await ws.send(bytes(data))

        server = self.serve(corrupting_echo)
        status, report, out, err = run_load(server.url(), "--connections", 4, "--duration", 1, timeout=30)
        self.assertEqual(status, 1, out + err)
        self.assertIsNotNone(report, err)
        messages = report["messages"]
        self.assertGreater(messages["received"], 0, messages)
        self.assertEqual(messages["mismatched"], messages["received"], messages)
        self.assertEqual(report["errors"]["mismatch"], messages["mismatched"], report["errors"])
        self.assertEqual(messages["sent"], messages["received"] + messages["in_flight"] + messages["lost"])
        self.assertIn("byte 16", report["error_details"]["mismatch"])  # 32-byte payload: the middle
        self.assertIn("mismatch", out)
        self.assertEqual(report["latency_us"]["count"], 0)  # no latency from a wrong echo

    def test_server_closing_early_loses_messages(self):
        """A server that closes (1011) after 5 echoes: unexpected_close, lost messages, exit 1."""
        async def short_lived_echo(ws, path=None):
            count = 0
            async for message in ws:
                await ws.send(message)
                count += 1
                if count == 5:
                    await ws.close(1011, "enough")
                    return

        server = self.serve(short_lived_echo)
        status, report, out, err = run_load(server.url(), "--connections", 3, "--duration", 2, "--pipeline", 4,
                                            timeout=30)
        self.assertEqual(status, 1, out + err)
        self.assertIsNotNone(report, err)
        self.assertEqual(report["errors"]["unexpected_close"], 3, report["errors"])
        self.assertGreater(report["messages"]["lost"], 0, report["messages"])
        self.assertEqual(report["messages"]["mismatched"], 0)
        self.assertEqual(report["messages"]["received"], 15, report["messages"])
        self.assertIn("1011", report["error_details"]["unexpected_close"])

    def test_nothing_listening(self):
        """Connection refused: every connection fails, exit status 1."""
        import socket
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        status, report, out, err = run_load("ws://127.0.0.1:%d/" % port, "--connections", 5, "--duration", 1)
        self.assertEqual(status, 1, out + err)
        self.assertEqual(report["connections"]["failed"], 5, report["connections"])
        self.assertEqual(report["errors"]["connect_failed"], 5, report["errors"])


class LoadCommandLine(unittest.TestCase):
    """Bad arguments: exit status 2 and one line on stderr naming the flag."""
    backend_independent = True

    def check_bad(self, args, flag):
        binary = load_binary()
        if not os.path.exists(binary):
            raise AssertionError("load generator %s does not exist (build it first)" % binary)
        done = subprocess.run([binary] + args, capture_output=True, timeout=bound(10))
        lines = [line for line in done.stderr.decode().splitlines() if line.strip()]
        self.assertEqual(done.returncode, 2, (args, done.stderr))
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(flag, lines[0])

    def test_bad_values(self):
        url = "ws://127.0.0.1:1/"
        self.check_bad([url, "--connections", "0"], "--connections")
        self.check_bad([url, "--size", "8"], "--size")
        self.check_bad([url, "--pipeline", "x"], "--pipeline")
        self.check_bad([url, "--backend", "kqueue"], "--backend")
        self.check_bad([url, "--duration", "1", "--messages", "5"], "--messages")
        self.check_bad(["http://127.0.0.1/"], "URL")
        self.check_bad([], "URL")


if __name__ == "__main__":
    unittest.main()
