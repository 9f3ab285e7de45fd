"""The admin listener (--admin-listen): /metrics after known traffic, /healthz, /readyz (503 once
SIGTERM starts the drain), bad requests, bad --admin-listen values; SIGUSR1's counters line;
--log-format json."""

import http.client
import json
import re
import signal
import socket
import time
import unittest

from wsharness import (OP_BINARY, OP_TEXT, RawClient, ServerTestCase, bound, connect, read_http_response,
                       run_server_command, upgrade_request, wait_for_eof)

ADMIN_RE = re.compile(r"admin listener: http://127\.0\.0\.1:(\d+)/metrics")
SAMPLE_RE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def admin_port(server):
    deadline = time.monotonic() + bound(5)
    while time.monotonic() < deadline:
        match = ADMIN_RE.search(server.log())
        if match:
            return int(match.group(1))
        time.sleep(0.02)
    raise AssertionError("no 'admin listener' line:\n" + server.log_tail())


def get(port, path, method="GET", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=bound(5))
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8"), dict(response.getheaders())
    finally:
        conn.close()


def parse_metrics(text):
    """{'name{labels}': value} of every sample."""
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE_RE.match(line)
        if not match:
            raise AssertionError("bad exposition line: %r" % line)
        values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


class MetricsTestCase(ServerTestCase):
    server_args = ("--admin-listen", "127.0.0.1:0")
    shared_server = False

    def start_admin_server(self, *args):
        server = self.start_server("--admin-listen", "127.0.0.1:0", *args)
        return server, admin_port(server)

    def wait_for_metric(self, port, name, want, timeout=5.0):
        """Counters are published at each reactor tick (50 ms): poll until `name` reaches `want`."""
        deadline = time.monotonic() + bound(timeout)
        values = {}
        while time.monotonic() < deadline:
            values = parse_metrics(get(port, "/metrics")[1])
            if values.get(name) == want:
                return values
            time.sleep(0.05)
        self.fail("%s is %s, expected %s" % (name, values.get(name), want))

    def client(self, server):
        c = RawClient(server.host, server.port)
        self.clients.append(c)
        c.handshake(server.host_header())
        return c


class MetricsAfterKnownTraffic(MetricsTestCase):
    def test_counters_count_the_traffic(self):
        server, port = self.start_admin_server()
        a = self.client(server)
        for i in range(5):
            a.echo(OP_TEXT, ("héllo %d" % i).encode())
        a.echo(OP_BINARY, b"\x00" * 1000)
        a.send_close(1000)
        a.expect_close(1000)
        b = self.client(server)
        b.send_close(4000, b"custom")
        b.expect_close(4000)
        s = connect(server.host, server.port)
        s.sendall(upgrade_request(server.host_header(), path="/x", version="8")[0])
        self.assertEqual(read_http_response(s)[0].status, 426)
        s.close()
        values = self.wait_for_metric(port, 'wsring_connections_closed_total{reason="peer_close"}', 2)
        self.assertEqual(values["wsring_connections_accepted_total"], 3)
        self.assertEqual(values["wsring_upgrades_total"], 2)
        self.assertEqual(values["wsring_messages_received_total"], 6)
        self.assertEqual(values["wsring_messages_sent_total"], 6)
        self.assertEqual(values['wsring_close_codes_received_total{code="1000"}'], 1)
        self.assertEqual(values['wsring_close_codes_sent_total{code="1000"}'], 1)
        self.assertEqual(values['wsring_close_codes_received_total{code="other"}'], 1)
        self.assertEqual(values['wsring_upgrade_failures_total{status="426"}'], 1)
        self.assertGreater(values["wsring_received_bytes_total"], 1000 + 5 * 8)
        self.assertGreater(values["wsring_sent_bytes_total"], 1000 + 5 * 8)
        self.assertEqual(values['wsring_build_info{version="0.1.0",backend="%s"}' % server.backend_name], 1)
        self.assertGreater(values["wsring_process_resident_memory_bytes"], 1 << 20)
        self.assertEqual(values["wsring_draining"], 0)
        self.wait_for_metric(port, "wsring_connections_open", 0)

    def test_open_connections_gauge(self):
        server, port = self.start_admin_server("--threads", "2")
        clients = [self.client(server) for _ in range(4)]
        self.wait_for_metric(port, "wsring_connections_open", 4)
        for c in clients:
            c.send_close(1001)
            c.expect_close(1001)
        self.wait_for_metric(port, "wsring_connections_open", 0)
        values = self.wait_for_metric(port, 'wsring_close_codes_received_total{code="1001"}', 4)
        self.assertEqual(values["wsring_reactor_threads"], 2)

    def test_content_type_is_the_text_format(self):
        server, port = self.start_admin_server()
        status, body, headers = get(port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        self.assertIn("# TYPE wsring_connections_accepted_total counter", body)


class HealthAndReadiness(MetricsTestCase):
    def test_healthz_and_readyz_are_200_while_serving(self):
        server, port = self.start_admin_server()
        self.assertEqual(get(port, "/healthz")[:2], (200, "ok\n"))
        self.assertEqual(get(port, "/readyz")[:2], (200, "ready\n"))

    def test_readyz_is_503_while_draining_after_sigterm(self):
        # A client that never answers our close keeps the server draining for --close-timeout.
        server, port = self.start_admin_server("--close-timeout", "3s")
        c = self.client(server)
        server.signal(signal.SIGTERM)
        payload, _ = c.recv_until_close(bound(5))  # the drain has begun; we do not answer yet
        self.assertEqual(payload[:2], b"\x03\xe9")  # 1001
        status, body, _ = get(port, "/readyz")
        self.assertEqual((status, body), (503, "draining\n"))
        self.assertEqual(get(port, "/healthz")[0], 200)  # still alive while it drains
        values = parse_metrics(get(port, "/metrics")[1])
        self.assertEqual(values["wsring_draining"], 1)
        c.send_close(1001)
        self.assertEqual(server.wait(bound(10)), 0)


class AdminHttpErrors(MetricsTestCase):
    def test_unknown_path_is_404(self):
        _, port = self.start_admin_server()
        self.assertEqual(get(port, "/nope")[0], 404)

    def test_post_is_405(self):
        _, port = self.start_admin_server()
        status, _, headers = get(port, "/metrics", method="DELETE")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("Allow"), "GET, HEAD")

    def test_malformed_is_400_and_oversized_is_431(self):
        _, port = self.start_admin_server()
        s = connect("127.0.0.1", port)
        s.sendall(b"GARBAGE\r\n\r\n")
        self.assertEqual(read_http_response(s)[0].status, 400)
        s.close()
        s = connect("127.0.0.1", port)
        s.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
        self.assertEqual(read_http_response(s)[0].status, 431)
        s.close()

    def test_http10_health_checks_are_answered_then_closed(self):
        """HAProxy's `option httpchk GET /readyz` sends HTTP/1.0 with no Host header."""
        _, port = self.start_admin_server()
        s = connect("127.0.0.1", port)
        s.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
        response, rest = read_http_response(s)
        self.assertEqual((response.status, response.body), (200, b"ready\n"))
        closed, extra = wait_for_eof(s, bound(5.0))
        self.assertTrue(closed, "the connection stayed open after an HTTP/1.0 answer")
        self.assertEqual(rest + extra, b"")
        s.close()

    def test_keep_alive_and_pipelining(self):
        _, port = self.start_admin_server()
        s = connect("127.0.0.1", port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        first, rest = read_http_response(s)
        second, rest = read_http_response(s, buffer=rest)
        self.assertEqual((first.status, first.body), (200, b"ok\n"))
        self.assertEqual((second.status, second.body), (200, b"ready\n"))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")  # the same connection, later
        self.assertEqual(read_http_response(s, buffer=rest)[0].status, 200)
        s.close()


class AdminListenFlag(unittest.TestCase):
    backend_independent = True

    def test_bad_values_are_rejected_naming_the_flag(self):
        for value in ("nonsense", "127.0.0.1:99999", "", "1.2.3.4.5:80"):
            result = run_server_command(["--admin-listen", value])
            self.assertEqual(result.returncode, 2, value)
            lines = result.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, result.stderr)
            self.assertIn("--admin-listen", lines[0])

    def test_an_address_in_use_is_an_error_naming_the_flag(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        try:
            port = holder.getsockname()[1]
            result = run_server_command(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:%d" % port])
        finally:
            holder.close()
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("--admin-listen", result.stderr)

    def test_bad_log_format_and_connection_log(self):
        for args, flag in ((["--log-format", "xml"], "--log-format"), (["--connection-log", "2"], "--connection-log"),
                           (["--connection-log", "x"], "--connection-log")):
            result = run_server_command(args)
            self.assertEqual(result.returncode, 2)
            self.assertIn(flag, result.stderr)


class CountersOnSignal(MetricsTestCase):
    def test_sigusr1_logs_the_counters(self):
        server = self.start_server()
        c = self.client(server)
        c.echo(OP_TEXT, b"one")
        c.echo(OP_TEXT, b"two")
        mark = server.log_line_count()
        deadline = time.monotonic() + bound(5)
        line = None
        while line is None and time.monotonic() < deadline:
            server.signal(signal.SIGUSR1)
            time.sleep(0.2)
            for text in server.log_since(mark).splitlines():
                if "counters" in text and "wsring_messages_received_total=2" in text:
                    line = text
        self.assertIsNotNone(line, server.log_tail())
        self.assertIn("wsring_connections_open=1", line)
        self.assertTrue(server.alive())


class ConnectionLogLines(MetricsTestCase):
    def closed_lines(self, server, count):
        deadline = time.monotonic() + bound(5)
        while time.monotonic() < deadline:
            lines = [l for l in server.log().splitlines() if "connection closed" in l]
            if len(lines) >= count:
                return lines
            time.sleep(0.05)
        self.fail("expected %d 'connection closed' lines:\n%s" % (count, server.log_tail()))

    def test_every_connection_is_logged_with_its_figures(self):
        server = self.start_server("--connection-log", "1", "--log-format", "json")
        c = self.client(server)
        local = "%s:%d" % c.sock.getsockname()[:2]
        c.echo(OP_TEXT, b"abc")
        c.echo(OP_BINARY, b"\x00" * 200)
        c.send_close(1000)
        c.expect_close(1000)
        record = json.loads(self.closed_lines(server, 1)[0])
        self.assertEqual(record["peer"], local)
        self.assertEqual((record["messages_in"], record["messages_out"]), (2, 2))
        self.assertEqual((record["close_received"], record["close_sent"]), (1000, 1000))
        self.assertEqual(record["reason"], "peer_close")
        self.assertGreater(record["bytes_in"], 200)
        self.assertGreater(record["bytes_out"], 200)
        self.assertGreaterEqual(record["duration_s"], 0)

    def test_a_fraction_samples_one_connection_in_n(self):
        server = self.start_server("--connection-log", "0.5")
        for _ in range(4):
            c = self.client(server)
            c.send_close(1000)
            c.expect_close(1000)
        lines = self.closed_lines(server, 2)
        time.sleep(0.2)
        self.assertEqual(len([l for l in server.log().splitlines() if "connection closed" in l]), 2)
        self.assertIn("peer=127.0.0.1:", lines[0])


class JsonLog(MetricsTestCase):
    def test_every_line_is_a_json_object(self):
        server = self.start_server("--log-format", "json", "--log-level", "debug")
        c = self.client(server)
        c.echo(OP_TEXT, "ünïcode \"quoted\"".encode())
        c.send_close(1000)
        c.expect_close(1000)
        s = connect(server.host, server.port)
        s.sendall(b"GET / HTTP/1.1\r\nHost: \x01\r\n\r\n")
        read_http_response(s)
        s.close()
        self.assertEqual(server.stop(), 0)
        lines = server.log().splitlines()
        self.assertGreater(len(lines), 2)
        for line in lines:
            record = json.loads(line)
            self.assertEqual(set(record) >= {"ts", "level", "msg"}, True, line)
            self.assertRegex(record["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(record["level"], ("error", "warn", "info", "debug"))
        self.assertTrue(any("listening on" in json.loads(l)["msg"] for l in lines))


class MetricsOfLaterFeatures(MetricsTestCase):
    """PROXY protocol, fan-out, TLS handshake budget and permessage-deflate families, after known
    traffic."""

    def test_proxy_protocol_counters(self):
        from test_proxy_protocol import proxied_client, v2_header
        server, port = self.start_admin_server("--proxy-protocol", "all", "--proxy-from", "127.0.0.1/32",
                                               "--handshake-timeout", "300ms")
        for i in range(2):
            c = proxied_client(server.host, server.port, [v2_header()])
            self.clients.append(c)
            c.handshake(server.host_header())
            c.echo(OP_TEXT, b"proxied %d" % i)
        garbage = connect(server.host, server.port)  # an HTTP request where the header belongs
        garbage.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        untrusted = socket.socket()
        untrusted.bind(("127.0.0.2", 0))  # outside --proxy-from
        untrusted.connect((server.host, server.port))
        silent = connect(server.host, server.port)  # says nothing: the header times out
        values = self.wait_for_metric(port, "wsring_proxy_timeouts_total", 1)
        for s in (garbage, untrusted, silent):
            s.close()
        self.assertEqual(values["wsring_proxy_headers_total"], 2)
        self.assertEqual(values['wsring_proxy_errors_total{kind="bad_signature"}'], 1)
        self.assertEqual(values['wsring_proxy_errors_total{kind="too_long"}'], 0)
        self.assertEqual(values["wsring_proxy_untrusted_total"], 1)

    def test_fanout_counters(self):
        server, port = self.start_admin_server("--mode", "shootout")
        receivers = [self.client(server) for _ in range(3)]
        sender = self.client(server)
        for n in range(2):
            sender.send_text(json.dumps({"type": "broadcast", "payload": {"n": n}}))
            sender.recv_message()  # the broadcast, to the sender too
            sender.recv_message()  # broadcastResult
            for r in receivers:
                r.recv_message()
        values = self.wait_for_metric(port, "wsring_fanout_deliveries_total", 2 * 4)
        self.assertEqual(values["wsring_fanout_skipped_total"], 0)
        self.assertEqual(values["wsring_fanout_slow_receivers_closed_total"], 0)
        self.assertEqual(values["wsring_fanout_post_failures_total"], 0)
        self.assertEqual(values["wsring_tls_handshakes_deferred_total"], 0)

    def test_deflate_counters(self):
        from test_deflate import deflate_message, json_like, offer
        server, port = self.start_admin_server("--deflate", "shared", "--max-message-size", "64K",
                                               "--deflate-passthrough", "off")
        client = self.client_with(server, offer())
        client.allow_rsv1 = True
        plain_total = packed_total = reply_total = 0
        for i in range(3):
            text = json_like(i, 1024).encode()
            packed = deflate_message(text)
            client.send_frame(OP_TEXT, packed, rsv=4)
            reply = client.recv_frame()
            self.assertEqual((reply.rsv, reply.fin), (4, True))
            plain_total += len(text)
            packed_total += len(packed)
            reply_total += len(reply.payload)
        client.send_frame(OP_TEXT, deflate_message(b"tiny"), rsv=4)  # under --deflate-threshold: sent plain
        self.assertEqual(client.recv_frame().rsv, 0)
        bomb = self.client_with(server, offer())
        bomb.allow_rsv1 = True
        bomb.send_frame(OP_BINARY, deflate_message(b"\x00" * (65 * 1024)), rsv=4)
        bomb.expect_close(1009)
        values = self.wait_for_metric(port, "wsring_deflate_limit_closes_total", 1)
        self.assertEqual(values['wsring_deflate_connections_total{mode="shared"}'], 2)
        self.assertEqual(values['wsring_deflate_connections_total{mode="dedicated"}'], 0)
        self.assertEqual(values["wsring_deflate_messages_inflated_total"], 4)
        self.assertEqual(values["wsring_deflate_inflated_in_bytes_total"], packed_total + len(deflate_message(b"tiny")))
        self.assertEqual(values["wsring_deflate_inflated_out_bytes_total"], plain_total + 4)
        self.assertEqual(values["wsring_deflate_messages_compressed_total"], 3)
        self.assertEqual(values["wsring_deflate_compressed_in_bytes_total"], plain_total)
        self.assertEqual(values["wsring_deflate_compressed_out_bytes_total"], reply_total)
        self.assertEqual(values['wsring_deflate_echo_replies_total{how="recompressed"}'], 3)
        self.assertEqual(values['wsring_deflate_echo_replies_total{how="passed_through"}'], 0)

    def test_deflate_passthrough_counters(self):
        """Pass-through (the default): every compressed message goes back as it came, small ones too."""
        from test_deflate import deflate_message, json_like, offer
        server, port = self.start_admin_server("--deflate", "shared")
        client = self.client_with(server, offer())
        client.allow_rsv1 = True
        plain_total = packed_total = 0
        for i, size in enumerate((1024, 3000, 20)):
            text = json_like(i, size).encode()[:size]
            packed = deflate_message(text)
            client.send_frame(OP_TEXT, packed, rsv=4)
            reply = client.recv_frame()
            self.assertEqual((reply.rsv, reply.payload), (4, packed))
            plain_total += len(text)
            packed_total += len(packed)
        values = self.wait_for_metric(port, 'wsring_deflate_echo_replies_total{how="passed_through"}', 3)
        self.assertEqual(values['wsring_deflate_echo_replies_total{how="recompressed"}'], 0)
        self.assertEqual(values["wsring_deflate_messages_compressed_total"], 3)
        self.assertEqual(values["wsring_deflate_compressed_in_bytes_total"], plain_total)
        self.assertEqual(values["wsring_deflate_compressed_out_bytes_total"], packed_total)

    def client_with(self, server, header):
        c = RawClient(server.host, server.port)
        self.clients.append(c)
        c.handshake(server.host_header(), extra=[header])
        return c


if __name__ == "__main__":
    unittest.main()
