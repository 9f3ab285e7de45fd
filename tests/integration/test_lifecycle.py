"""Process lifecycle: start-up line, command-line errors, port in use, graceful shutdown on
SIGTERM/SIGINT, and the timers (--idle-timeout, --ping-interval)."""

import os
import subprocess
import signal
import socket
import time
import unittest

from wsharness import (OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, ConnectionClosed, ServerTestCase,
                       backend, bound, build_dir, build_frame, close_payload, connect, read_http_response,
                       run_server_command, upgrade_request, wait_until_server_read_everything)


class CommandLine(ServerTestCase):
    """Option errors: one line on stderr naming the flag, exit status 2."""
    shared_server = False
    backend_independent = True

    def check_bad_flag(self, args, flag_name):
        # A free port in case the bad flag were wrongly accepted and the server started.
        prefix = [] if "--listen" in args else ["--listen", "127.0.0.1:0"]
        result = run_server_command(prefix + list(args))
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        self.assertEqual(result.returncode, 2, "exit status for %r; stderr %r" % (args, result.stderr))
        self.assertEqual(len(lines), 1, "expected exactly one stderr line for %r, got %r" % (args, lines))
        self.assertIn(flag_name, lines[0], "the message should name %s: %r" % (flag_name, lines[0]))

    def test_threads_not_a_number(self):
        self.check_bad_flag(["--threads", "abc"], "threads")

    def test_threads_zero(self):
        self.check_bad_flag(["--threads", "0"], "threads")

    def test_listen_nonsense(self):
        self.check_bad_flag(["--listen", "nonsense"], "listen")

    def test_listen_bad_port(self):
        self.check_bad_flag(["--listen", "127.0.0.1:70000"], "listen")

    def test_unknown_flag(self):
        self.check_bad_flag(["--bogus"], "bogus")

    def test_negative_max_message_size(self):
        self.check_bad_flag(["--max-message-size", "-1"], "max-message-size")

    def test_bad_size_suffix(self):
        self.check_bad_flag(["--max-message-size", "12Q"], "max-message-size")

    def test_bad_backend(self):
        self.check_bad_flag(["--backend", "kqueue"], "backend")

    def test_bad_seconds(self):
        self.check_bad_flag(["--handshake-timeout", "soon"], "handshake-timeout")

    def test_bad_log_level(self):
        self.check_bad_flag(["--log-level", "loud"], "log-level")

    def test_missing_value(self):
        self.check_bad_flag(["--threads"], "threads")

    def test_count_with_suffix(self):
        """Counts are plain whole numbers: 100K would be a guess between 100000 and 102400."""
        self.check_bad_flag(["--max-connections", "100K"], "max-connections")

    def test_bad_new_flags(self):
        """The flags exist (the message says what is expected, not "unknown option")."""
        self.check_bad_flag(["--max-memory", "512K"], "expected 0 (auto) or a size from 1M")
        self.check_bad_flag(["--min-send-rate", "fast"], "expected 0 (off) or bytes per second")
        self.check_bad_flag(["--frame-timeout", "0"], "--frame-timeout: expected a duration")
        self.check_bad_flag(["--reuse-port=1"], "reuse-port")

    def test_backpressure_over_max_memory(self):
        """--max-backpressure may not exceed --max-memory: the one line names both flags."""
        result = run_server_command(["--listen", "127.0.0.1:0", "--max-memory", "2M", "--max-backpressure", "4M"])
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--max-backpressure", result.stderr)
        self.assertIn("--max-memory", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)

    def test_receive_buffers_over_half_of_ram(self):
        """256 threads x 32768 x 16M of receive buffers is refused, naming the flags."""
        result = run_server_command(["--listen", "127.0.0.1:0", "--threads", "256", "--recv-buffers", "32768",
                                     "--recv-buffer-size", "16M"])
        self.assertEqual(result.returncode, 2, result.stderr)
        for flag in ("--recv-buffers", "--recv-buffer-size", "--threads"):
            self.assertIn(flag, result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)

    def test_help_documents_the_value_grammar_and_new_flags(self):
        result = run_server_command(["--help"])
        for text in ("--max-memory", "--min-send-rate", "--frame-timeout", "--reuse-port", "500ms", "64K"):
            self.assertIn(text, result.stdout)

    def test_help_exits_0(self):
        result = run_server_command(["--help"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("--listen", result.stdout + result.stderr)

    def test_version_exits_0(self):
        result = run_server_command(["--version"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue((result.stdout + result.stderr).strip(), "no version text")

    def test_port_in_use_exits_1(self):
        """Another socket listens on the port: a clear message and exit status 1."""
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            holder.bind(("127.0.0.1", 0))
            holder.listen(1)
            port = holder.getsockname()[1]
            result = run_server_command(["--listen", "127.0.0.1:%d" % port])
            self.assertEqual(result.returncode, 1, "exit status; stderr %r" % result.stderr)
            message = result.stderr.lower()
            self.assertTrue("in use" in message or str(port) in message,
                            "message should say the address is in use: %r" % result.stderr)
        finally:
            holder.close()


def free_loopback_port():
    """A port free on 127.0.0.1 right now (the kernel's choice)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
    finally:
        probe.close()


class PortSharing(ServerTestCase):
    """Only a server's own reactor threads share its port; joining a running server's
    SO_REUSEPORT group takes --reuse-port."""
    shared_server = False

    def test_second_server_on_the_same_port_exits_1(self):
        first = self.start_server("--threads", "2")
        result = run_server_command(["--listen", "127.0.0.1:%d" % first.port])
        self.assertEqual(result.returncode, 1, "exit status; stderr %r" % result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("127.0.0.1:%d" % first.port, lines[0])
        self.assertIn("in use", lines[0])
        self.assertIn("--reuse-port", lines[0])
        self.client(first).echo(OP_TEXT, "the first server still serves")

    def test_reuse_port_joins_on_purpose(self):
        first = self.start_server()
        second = self.start_server("--reuse-port", listen="127.0.0.1:%d" % first.port)
        self.assertEqual(second.port, first.port)
        # Both serve the port (the kernel picks one per connection): every client is echoed.
        for index in range(4):
            self.client(first).echo(OP_TEXT, "client %d" % index)

    def test_restart_on_the_same_port_right_after_a_stop(self):
        """Connections of the stopped server linger in TIME_WAIT; the port is not "in use" for
        that (it once was: a restart failed for a minute after a stop)."""
        first = self.start_server()
        port = first.port
        load = subprocess.run([os.path.join(build_dir(), "wsring-load"), "ws://127.0.0.1:%d/" % port,
                               "--connections", "10", "--duration", "0.3"],
                              capture_output=True, text=True, timeout=bound(30))
        self.assertEqual(load.returncode, 0, load.stderr[-2000:])
        self.assertEqual(first.stop(), 0)
        second = self.start_server(listen="127.0.0.1:%d" % port)
        self.assertEqual(second.port, port)
        self.client(second).echo(OP_TEXT, "after the restart")

    def test_port_0_with_threads_gets_one_port(self):
        server = self.start_server("--threads", "3")
        self.assertNotEqual(server.port, 0)
        for index in range(6):
            self.client(server).echo(OP_TEXT, "thread share %d" % index)


class StartUp(ServerTestCase):
    shared_server = False

    def test_bare_port_means_loopback(self):
        """--listen PORT serves 127.0.0.1:PORT."""
        for _ in range(3):  # the port may be taken between the probe and the start: retry
            port = free_loopback_port()
            try:
                server = self.start_server(listen=str(port))
                break
            except Exception:
                continue
        else:
            self.fail("could not start on a free port")
        self.assertEqual((server.host, server.port), ("127.0.0.1", port))
        self.client(server).echo(OP_TEXT, "bare port")

    def test_start_up_line_gives_the_urls(self):
        """The start-up log says where to connect: the ws:// URL and the echo page's address."""
        server = self.start_server("--path", "/echo")
        expected = "serving ws://127.0.0.1:%d/echo (echo page: http://127.0.0.1:%d/echo)" % (server.port, server.port)
        # The line follows the "listening on" line the harness waits for: give its reader a moment.
        deadline = time.monotonic() + bound(2.0)
        while expected not in server.log() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertIn(expected, server.log())

    def test_listening_line_reports_port_and_backend(self):
        """The start-up line carries the actual port (port 0 requested) and the backend name."""
        server = self.start_server()
        self.assertNotEqual(server.port, 0)
        if backend():
            self.assertEqual(server.backend_name, backend(), server.log_tail())
        else:
            self.assertIn(server.backend_name, ("io_uring", "epoll"), server.log_tail())
        self.client(server).echo(OP_TEXT, "up")

    def test_ipv6_loopback(self):
        """--listen [::1]:0 serves over IPv6."""
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback on this machine")
        finally:
            probe.close()
        server = self.start_server(listen="[::1]:0")
        self.assertEqual(server.host, "::1")
        client = self.client(server)
        client.echo(OP_BINARY, b"over ipv6")

    def test_default_options_start(self):
        """Sizes with suffixes and decimal seconds are accepted together."""
        server = self.start_server("--max-message-size", "16M", "--max-backpressure", "512K",
                                   "--handshake-timeout", "2.5", "--close-timeout", "0.5",
                                   "--send-timeout", "1.5", "--log-level", "debug", "--threads", "1")
        self.client(server).echo(OP_TEXT, "configured")


class GracefulShutdown(ServerTestCase):
    shared_server = False

    def open_clients(self, server, count):
        clients = []
        for index in range(count):
            client = self.client(server)
            client.echo(OP_TEXT, "warm-up %d" % index)
            clients.append(client)
        return clients

    def test_sigterm_with_20_connections(self):
        """SIGTERM: every open connection gets close 1001 after the echo of a message the server
        already received; clients answer; the server exits 0."""
        server = self.start_server()
        clients = self.open_clients(server, 20)
        for index, client in enumerate(clients):
            client.send_frame(OP_TEXT, "last words %d" % index)
        # The server must have read them (its receive queues empty) before the signal: the
        # point is that a message already received is echoed before the close.
        self.assertTrue(wait_until_server_read_everything(server.port, bound(5.0)),
                        "the server did not read the messages")
        server.signal(signal.SIGTERM)
        for index, client in enumerate(clients):
            code, _, before = client.expect_close(1001, allow_before=True, timeout=bound(5.0))
            self.assertEqual([(m.opcode, m.payload) for m in before], [(OP_TEXT, b"last words %d" % index)],
                             "client %d: messages before close 1001" % index)
        status = server.wait(bound(10.0))
        self.assertEqual(status, 0, "exit status after SIGTERM\n%s" % server.log_tail())

    def test_sigint_closes_with_1001(self):
        """SIGINT behaves like SIGTERM."""
        server = self.start_server()
        clients = self.open_clients(server, 3)
        server.signal(signal.SIGINT)
        for client in clients:
            client.expect_close(1001, timeout=bound(5.0))
        self.assertEqual(server.wait(bound(10.0)), 0, server.log_tail())

    def test_sigterm_without_connections(self):
        """An idle server exits 0 promptly on SIGTERM."""
        server = self.start_server()
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait(bound(5.0)), 0, server.log_tail())

    def test_sigterm_stops_accepting(self):
        """While waiting for close replies, the server accepts no new WebSocket connection."""
        server = self.start_server("--close-timeout", "3")
        lingering = self.client(server)
        server.signal(signal.SIGTERM)
        payload, before = lingering.recv_until_close(timeout=bound(5.0))
        self.assertEqual(payload[:2], close_payload(1001), "close payload %r" % payload)
        # The shutdown has begun (we saw the 1001) and we have not answered yet.
        try:
            late = connect(server.host, server.port, bound(2.0))
        except ConnectionRefusedError:
            late = None  # the listening socket is closed: fine
        if late is not None:
            try:
                late.sendall(upgrade_request(server.host_header())[0])
                try:
                    response, _ = read_http_response(late, timeout=bound(2.0), read_body=False)
                    self.assertNotEqual(response.status, 101, "a new connection was upgraded during shutdown")
                except (ConnectionClosed, ConnectionError, socket.timeout):
                    pass  # closed or never answered: not accepted
            except (ConnectionError, BrokenPipeError):
                pass
            finally:
                late.close()
        lingering.send_tolerant(build_frame(OP_CLOSE, close_payload(1001)))
        lingering.close_sent = True
        lingering.expect_eof(bound(5.0))
        self.assertEqual(server.wait(bound(10.0)), 0, server.log_tail())

    def test_sigterm_unresponsive_client_bounded(self):
        """A client that never answers the 1001 does not keep the server alive past --close-timeout."""
        server = self.start_server("--close-timeout", "0.5")
        silent = self.client(server)
        server.signal(signal.SIGTERM)
        payload, _ = silent.recv_until_close(timeout=bound(5.0))
        self.assertEqual(payload[:2], close_payload(1001))
        status = server.wait(bound(5.0))
        self.assertEqual(status, 0, "server still running or failed after close-timeout\n%s" % server.log_tail())


class Timers(ServerTestCase):
    shared_server = False

    def test_ping_interval_sends_pings(self):
        """--ping-interval 0.3: an idle connection receives pings; answering keeps it open."""
        server = self.start_server("--ping-interval", "0.3")
        client = self.client(server)
        for _ in range(2):
            message = client.recv_message(timeout=bound(3.0))
            self.assertEqual(message.opcode, OP_PING, repr(message))
            client.send_frame(OP_PONG, message.payload)
        client.echo(OP_TEXT, "alive")

    def test_idle_timeout_closes_idle_connection(self):
        """--idle-timeout 0.5: a silent connection is closed (close frame or TCP close)."""
        server = self.start_server("--idle-timeout", "0.5")
        client = self.client(server)
        try:
            message = client.recv_message(timeout=bound(4.0))
            self.assertEqual(message.opcode, OP_CLOSE, repr(message))
            client.send_tolerant(build_frame(OP_CLOSE, message.payload[:2]))
            client.close_sent = True
            client.expect_eof(bound(3.0))
        except ConnectionClosed:
            pass  # closed without a close frame: accepted

    def test_send_timeout_aborts_peer_that_never_reads(self):
        """--send-timeout 0.5 --max-backpressure 64K: a client that sends 32 MiB of messages and
        never reads its echoes is cut off; another client keeps being served meanwhile."""
        server = self.start_server("--send-timeout", "0.5", "--max-backpressure", "64K")
        hog = self.client(server)
        bystander = self.client(server)
        message = build_frame(OP_BINARY, b"\xab" * 65536)
        hog.send_tolerant(message * 512)  # background writer; blocks once the server stops reading
        time.sleep(0.3)
        bystander.echo(OP_TEXT, "not starved")
        # Give the server well over --send-timeout without progress, then drain the hog: its
        # connection must end (EOF or reset) before all the echoes have arrived.
        time.sleep(bound(2.0))
        hog.sock.settimeout(bound(6.0))
        received = 0
        try:
            while True:
                chunk = hog.sock.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
        except (ConnectionResetError, ConnectionAbortedError):
            pass
        except socket.timeout:
            raise AssertionError("the non-reading client was not disconnected (got %d bytes back)" % received)
        self.assertLess(received, 512 * 65536, "every echo was delivered: the client was never cut off")
        bystander.echo(OP_TEXT, "still served")

    def test_idle_timeout_reset_by_traffic(self):
        """Traffic more often than --idle-timeout keeps the connection open."""
        server = self.start_server("--idle-timeout", "1")
        client = self.client(server)
        for index in range(10):  # 2 s in all, twice the timeout
            time.sleep(0.2)
            client.echo(OP_TEXT, "tick %d" % index)


if __name__ == "__main__":
    unittest.main()
