"""wsring-load end to end: short runs against wsring-echo whose counts must add up, and runs
against deliberately broken echo servers (asyncio, in this process) whose faults it must report
with exit status 1. Bad arguments exit 2 with one line naming the flag."""

import asyncio
import json
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import websockets

from wsharness import (SANITIZER_MARKERS, SANITIZED, ServerTestCase, accept_key, backend, bound, build_dir,
                       mask_payload)


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
    """A websockets echo server on its own event loop thread, serving `handler`; with an
    ssl.SSLContext it serves wss:// (tests/integration/test_load_tls.py)."""

    def __init__(self, handler, ssl_context=None):
        self.handler = handler
        self.ssl_context = ssl_context
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
        async with websockets.serve(self.handler, "127.0.0.1", 0, max_size=None, compression=None,
                                    ssl=self.ssl_context) as server:
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

    def url(self, host="127.0.0.1"):
        return "%s://%s:%d/" % ("wss" if self.ssl_context else "ws", host, self.port)


class RawMaliciousServer:
    """A raw-socket server on 127.0.0.1 that breaks the rules on purpose, one thread per
    connection (bounded). Modes:
      "stream": answers the upgrade with a valid 101, then, without reading, sends `burst`
                (frames nobody asked for) over and over for up to `stream_s` seconds; then reads
                what the client sent (bounded) and records the close codes of its close frames.
      "silent": accepts TCP and never reads nor answers, until stopped.
    A small receive buffer makes the client's sends stall soon, as with a peer that never reads."""

    MAX_CONNECTIONS = 16

    def __init__(self, mode, burst=b"", stream_s=5.0):
        self.mode = mode
        self.burst = burst
        self.stream_s = stream_s
        self.close_codes = []   # one entry per client close frame seen (None: no code)
        self.upgraded = 0
        self._stop = threading.Event()
        self._threads = []
        self._sockets = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited by accepted sockets
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self):
        self._acceptor.start()
        return self

    def stop(self):
        self._stop.set()
        self._acceptor.join(10)
        for thread in self._threads:
            thread.join(10)
        with self._lock:
            for sock in self._sockets:
                sock.close()
        self._listener.close()

    def url(self):
        return "ws://127.0.0.1:%d/" % self.port

    def _accept_loop(self):
        while not self._stop.is_set() and len(self._threads) < self.MAX_CONNECTIONS:
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            with self._lock:
                self._sockets.append(conn)
            if self.mode == "stream":
                thread = threading.Thread(target=self._stream, args=(conn,), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _stream(self, conn):
        try:
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            keys = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                    if line.lower().startswith(b"sec-websocket-key:")]
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept_key(keys[0]).encode() + b"\r\n\r\n")
            with self._lock:
                self.upgraded += 1
            rest = head[head.index(b"\r\n\r\n") + 4:]
            deadline = time.monotonic() + self.stream_s
            conn.settimeout(0.5)
            while time.monotonic() < deadline and not self._stop.is_set():
                try:
                    conn.sendall(self.burst)
                except socket.timeout:
                    continue  # the client is not reading either: keep trying until the deadline
                except OSError:
                    break     # the client closed or reset
            # Now read everything the client sent (bounded) and find its close frames.
            conn.settimeout(0.5)
            read_until = time.monotonic() + 5
            while time.monotonic() < read_until and not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                rest += data
            codes = self._client_close_codes(rest)
            with self._lock:
                self.close_codes.extend(codes)
        except OSError:
            pass

    @staticmethod
    def _client_close_codes(data):
        codes, pos = [], 0
        while len(data) - pos >= 6:
            opcode, length = data[pos] & 0x0F, data[pos + 1] & 0x7F
            header = 2
            if length == 126:
                length, header = struct.unpack("!H", data[pos + 2:pos + 4])[0], 4
            elif length == 127:
                length, header = struct.unpack("!Q", data[pos + 2:pos + 10])[0], 10
            if not data[pos + 1] & 0x80 or len(data) - pos < header + 4 + length:
                break  # unmasked (not from a client) or cut short
            key = data[pos + header:pos + header + 4]
            payload = mask_payload(data[pos + header + 4:pos + header + 4 + length], key)
            if opcode == 0x8:
                codes.append(struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None)
            pos += header + 4 + length
        return codes


def server_frame(payload, opcode=0x2, masked=False):
    """A server frame (unmasked, as RFC 6455 requires, unless masked=True to break that rule)."""
    header = bytes([0x80 | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        header += bytes([mask_bit | len(payload)])
    else:
        header += bytes([mask_bit | 126]) + struct.pack("!H", len(payload))
    if masked:
        key = b"\x01\x02\x03\x04"
        return header + key + mask_payload(payload, key)
    return header + payload


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


class LoadAgainstMaliciousServers(unittest.TestCase):
    """Servers that stream frames nobody asked for, break the framing rules or never answer:
    wsring-load must count the fault, close with the right code and end on time, never crash."""
    backend_independent = True

    def serve(self, mode, burst=b"", stream_s=5.0):
        server = RawMaliciousServer(mode, burst, stream_s).start()
        self.addCleanup(server.stop)
        return server

    def check_no_crash(self, status, out, err):
        self.assertIn(status, (0, 1), "wsring-load died (status %d)\n%s%s" % (status, out, err[-4000:]))
        for marker in SANITIZER_MARKERS + ("free(): invalid", "double free", "corrupted"):
            self.assertNotIn(marker, err, err[-4000:])

    def test_unsolicited_frames_are_a_protocol_error(self):
        """Echo-sized frames streamed right after the 101, never reading: each is an answer to
        nothing sent, so unexpected_message is counted and the connection closed with 1002.
        (Once, these were taken as echoes of messages still in the send buffer, which kept being
        refilled until the close frame was written past its end.) The size makes the old buffer
        layout fill to its last byte."""
        server = self.serve("stream", stream_s=bound(6.0))
        request = 512 + len("127.0.0.1:%d" % server.port) + len("/")
        size = next((n for n in range(16, 126) if (n + 14 + request) % (n + 6) == 0), 61)
        server.burst = server_frame(bytes(range(size))) * 64
        status, report, out, err = run_load(server.url(), "--connections", 1, "--duration", 2, "--size", size,
                                            timeout=40)
        self.check_no_crash(status, out, err)
        self.assertEqual(status, 1, out + err)
        self.assertIsNotNone(report, err)
        errors = report["errors"]
        self.assertEqual(errors["unexpected_message"], 1, errors)  # once: the connection is closed then
        self.assertEqual(errors["mismatch"], 0, errors)
        self.assertIn("unexpected_message", out)
        self.assertEqual(report["messages"]["received"], 0, report["messages"])
        self.assertEqual(report["connections"]["opened"], 1, report["connections"])
        server.stop()
        self.assertEqual(server.close_codes, [1002], "the client's close code")

    def test_masked_server_frames_are_a_protocol_error(self):
        """Masked frames from a server (RFC 6455 5.1 forbids them), streamed without reading:
        protocol_error, close 1002, no crash."""
        server = self.serve("stream", server_frame(b"x" * 40, masked=True) * 64, stream_s=bound(6.0))
        status, report, out, err = run_load(server.url(), "--connections", 2, "--duration", 2, timeout=40)
        self.check_no_crash(status, out, err)
        self.assertEqual(status, 1, out + err)
        self.assertEqual(report["errors"]["protocol_error"], 2, report["errors"])
        self.assertIn("masked", report["error_details"]["protocol_error"])
        server.stop()
        self.assertEqual(server.close_codes, [1002, 1002], "the client's close codes")

    def test_server_that_never_upgrades_ends_at_the_duration(self):
        """TCP accepted, the upgrade never answered: a --duration 2 run ends after about 2 s
        (not after the 10 s handshake timeout), every connection counted as handshake_timeout."""
        server = self.serve("silent")
        started = time.monotonic()
        status, report, out, err = run_load(server.url(), "--connections", 3, "--duration", 2, timeout=30)
        wall = time.monotonic() - started
        self.check_no_crash(status, out, err)
        self.assertEqual(status, 1, out + err)
        self.assertEqual(report["errors"]["handshake_timeout"], 3, report["errors"])
        self.assertEqual(report["connections"]["failed"], 3, report["connections"])
        self.assertGreaterEqual(report["elapsed_s"], 1.9, report)
        self.assertLess(report["elapsed_s"], 3.0, report)
        self.assertLess(wall, bound(4.0), "wall time %.2f s" % wall)

    def test_handshake_timeout_option(self):
        """--handshake-timeout 0.5: the silent server's connections fail after 0.5 s and, none
        being left, the run ends long before its --duration 5."""
        server = self.serve("silent")
        status, report, out, err = run_load(server.url(), "--connections", 3, "--duration", 5,
                                            "--handshake-timeout", 0.5, timeout=30)
        self.check_no_crash(status, out, err)
        self.assertEqual(status, 1, out + err)
        self.assertEqual(report["errors"]["handshake_timeout"], 3, report["errors"])
        self.assertIn("0.5 s", report["error_details"]["handshake_timeout"])
        self.assertGreaterEqual(report["elapsed_s"], 0.45, report)
        self.assertLess(report["elapsed_s"], 2.0, report)
        self.assertEqual(report["parameters"]["handshake_timeout_s"], 0.5)


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
        self.check_bad([url, "--handshake-timeout", "0"], "--handshake-timeout:")
        self.check_bad([url, "--handshake-timeout", "soon"], "--handshake-timeout:")
        self.check_bad([url, "--duration", "1", "--messages", "5"], "--messages")
        self.check_bad(["http://127.0.0.1/"], "URL")
        self.check_bad([], "URL")


if __name__ == "__main__":
    unittest.main()
