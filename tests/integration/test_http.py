"""HTTP-level behaviour of the upgrade endpoint: every error status of the spec, the plain-GET
page, and the options that act on the handshake (--path, --allow-origin, --subprotocol,
--max-header-size, --max-headers, --max-connections, --handshake-timeout)."""

import socket
import time
import unittest

from wsharness import (OP_TEXT, ConnectionClosed, RawClient, ServerTestCase, bound, connect, new_key,
                       read_http_response, upgrade_request, wait_for_eof)


class HttpErrors(ServerTestCase):
    """Each rejected request gets the right status, the required header, a short text/plain body,
    and the connection is closed."""

    def test_post_is_405_with_allow_get(self):
        response = self.http(self.request(method="POST"))
        self.assertHttpError(response, 405, ("Allow", "GET"))

    def test_head_is_405(self):
        response = self.http(self.request(method="HEAD"))
        self.assertEqual(response.status, 405, repr(response))
        self.assertIn("get", response.header_tokens("Allow"))

    def test_http_1_0_is_505(self):
        """Only HTTP/1.1 is spoken (RFC 6455 4.1 needs 1.1 or later for the upgrade)."""
        response = self.http(self.request(http_version="HTTP/1.0"))
        self.assertHttpError(response, 505)
        self.assertIn(b"HTTP/1.1 only", response.body)

    def test_http_1_9_is_505(self):
        response = self.http(self.request(http_version="HTTP/1.9"))
        self.assertHttpError(response, 505)
        self.assertIn(b"HTTP version not supported", response.body)

    def test_http_2_0_is_505(self):
        response = self.http(self.request(http_version="HTTP/2.0"))
        self.assertHttpError(response, 505)

    def test_asterisk_target_on_get_is_400(self):
        """RFC 9112 3.2.4: the asterisk-form is only for OPTIONS."""
        response = self.http(self.request(path="*"))
        self.assertHttpError(response, 400)
        self.assertIn(b"'*' is only allowed with OPTIONS", response.body)

    def test_host_with_spaces_is_400(self):
        """RFC 9112 3.2: a Host field with an invalid value gets 400."""
        response = self.http(upgrade_request("a b c")[0])
        self.assertHttpError(response, 400)
        self.assertIn(b"Host header is not a valid host[:port]", response.body)

    def test_host_with_bad_port_is_400(self):
        response = self.http(upgrade_request("127.0.0.1:99999")[0])
        self.assertHttpError(response, 400)

    def test_ipv6_literal_host_upgrades(self):
        """A bracketed IPv6 Host (with a port) is a valid authority."""
        client = RawClient(self.server.host, self.server.port)
        self.clients.append(client)
        client.handshake("[::1]:%d" % self.server.port)
        client.echo(OP_TEXT, "ipv6 host")

    def test_missing_host_is_400(self):
        response = self.http(self.request(omit={"host"}))
        self.assertHttpError(response, 400)

    def test_missing_connection_header_is_426(self):
        response = self.http(self.request(omit={"connection"}))
        self.assertHttpError(response, 426, ("Upgrade", "websocket"))

    def test_connection_without_upgrade_token_is_426(self):
        response = self.http(self.request(connection="keep-alive"))
        self.assertHttpError(response, 426, ("Upgrade", "websocket"))

    def test_missing_upgrade_header_is_426(self):
        response = self.http(self.request(omit={"upgrade"}))
        self.assertHttpError(response, 426, ("Upgrade", "websocket"))

    def test_upgrade_to_other_protocol_is_426(self):
        response = self.http(self.request(upgrade="h2c"))
        self.assertHttpError(response, 426, ("Upgrade", "websocket"))

    def test_version_8_is_426_with_version_13(self):
        response = self.http(self.request(version="8"))
        self.assertHttpError(response, 426, ("Sec-WebSocket-Version", "13"))

    def test_version_14_is_426_with_version_13(self):
        response = self.http(self.request(version="14"))
        self.assertHttpError(response, 426, ("Sec-WebSocket-Version", "13"))

    def test_missing_key_is_400(self):
        response = self.http(self.request(omit={"sec-websocket-key"}))
        self.assertHttpError(response, 400)

    def test_repeated_key_is_400(self):
        response = self.http(self.request(extra=[("Sec-WebSocket-Key", new_key())]))
        self.assertHttpError(response, 400)

    def test_key_not_base64_is_400(self):
        response = self.http(self.request(key="not a base64 key!!!!!!=="))
        self.assertHttpError(response, 400)

    def test_key_of_15_bytes_is_400(self):
        response = self.http(self.request(key="AAAAAAAAAAAAAAAAAAAA"))  # base64 of 15 bytes
        self.assertHttpError(response, 400)

    def test_key_of_17_bytes_is_400(self):
        response = self.http(self.request(key="AAAAAAAAAAAAAAAAAAAAAAA="))  # base64 of 17 bytes
        self.assertHttpError(response, 400)

    def test_header_block_over_max_header_size_is_431(self):
        response = self.http(self.request(extra=[("X-Padding", "a" * 9000)]))
        self.assertHttpError(response, 431)

    def test_more_than_max_headers_is_431(self):
        extra = [("X-Header-%d" % i, "v") for i in range(70)]
        response = self.http(self.request(extra=extra))
        self.assertHttpError(response, 431)

    def test_garbage_request_line_is_400(self):
        response = self.http(b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
        self.assertHttpError(response, 400)


class HttpPage(ServerTestCase):

    def test_plain_get_serves_html_echo_client(self):
        """A GET without Upgrade and Sec-WebSocket-Key gets a 200 text/html page with a JS client."""
        request = ("GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: test\r\n\r\n" % self.server.host_header()).encode()
        response = self.http(request)
        self.assertEqual(response.status, 200, repr(response))
        self.assertTrue((response.header("Content-Type") or "").lower().startswith("text/html"), repr(response))
        self.assertIn(b"WebSocket", response.body)

    def test_options_within_limits_accepted(self):
        """Exactly-at-limit header count (64 with the 5 handshake headers) is accepted."""
        extra = [("X-Header-%d" % i, "v") for i in range(64 - 5)]
        client = RawClient(self.server.host, self.server.port)
        self.clients.append(client)
        client.handshake(self.server.host_header(), extra=extra)
        client.echo(OP_TEXT, "ok")


class HandshakeOptions(ServerTestCase):
    shared_server = False

    def test_path_match_and_mismatch(self):
        """--path /echo: /echo upgrades, /other gets 404, /echo?x=1 upgrades (query is not the path)."""
        server = self.start_server("--path", "/echo")
        self.client(server, path="/echo").echo(OP_TEXT, "on the path")
        response = self.http(upgrade_request(server.host_header(), path="/other")[0], server=server)
        self.assertHttpError(response, 404)
        response = self.http(upgrade_request(server.host_header(), path="/")[0], server=server)
        self.assertHttpError(response, 404)
        self.client(server, path="/echo?x=1").echo(OP_TEXT, "with a query")

    def test_origin_default_any(self):
        """Default policy: any Origin is accepted (an echo server holds nothing a cross-site page
        could steal), as is no Origin at all."""
        server = self.start_server()
        self.client(server).echo(OP_TEXT, "no origin")
        same = "http://%s" % server.host_header()
        self.client(server, extra=[("Origin", same)]).echo(OP_TEXT, "same origin")
        self.client(server, extra=[("Origin", "http://other.example")]).echo(OP_TEXT, "foreign origin")
        self.client(server, extra=[("Origin", "null")]).echo(OP_TEXT, "opaque origin")

    def test_allow_origin(self):
        """--allow-origin restricts browsers to the server's own origin and the listed ones
        (repeatable); others get 403 with a body naming the flag."""
        server = self.start_server("--allow-origin", "http://a.example", "--allow-origin", "https://b.example:8443")
        self.client(server, extra=[("Origin", "http://a.example")]).echo(OP_TEXT, "a")
        self.client(server, extra=[("Origin", "https://b.example:8443")]).echo(OP_TEXT, "b")
        self.client(server, extra=[("Origin", "http://%s" % server.host_header())]).echo(OP_TEXT, "own")
        self.client(server).echo(OP_TEXT, "no origin: not a browser")
        response = self.http(upgrade_request(server.host_header(), extra=[("Origin", "http://c.example")])[0],
                             server=server)
        self.assertHttpError(response, 403)
        self.assertIn(b"--allow-origin", response.body)

    def test_subprotocol_selection(self):
        """The first of the server's --subprotocol list that the client offered is selected."""
        server = self.start_server("--subprotocol", "chat.v2", "--subprotocol", "chat.v1")
        cases = [
            ([("Sec-WebSocket-Protocol", "chat.v1, chat.v2")], "chat.v2"),
            ([("Sec-WebSocket-Protocol", "chat.v1")], "chat.v1"),
            ([("Sec-WebSocket-Protocol", "other"), ("Sec-WebSocket-Protocol", "chat.v1")], "chat.v1"),
            ([("Sec-WebSocket-Protocol", "other, another")], None),
            ([], None),
        ]
        for extra, expected in cases:
            client = self.client(server, extra=extra)
            self.assertEqual(client.response.header("Sec-WebSocket-Protocol"), expected,
                             "offered %r: %r" % (extra, client.response))
            client.echo(OP_TEXT, "hello")

    def test_no_subprotocol_configured(self):
        """Without --subprotocol, an offered subprotocol is not echoed back."""
        server = self.start_server()
        client = self.client(server, extra=[("Sec-WebSocket-Protocol", "chat")])
        self.assertIsNone(client.response.header("Sec-WebSocket-Protocol"))

    def test_custom_max_header_size(self):
        """--max-header-size 1K: a 2 KiB header block gets 431; a small one upgrades."""
        server = self.start_server("--max-header-size", "1K")
        response = self.http(upgrade_request(server.host_header(), extra=[("X-Pad", "p" * 2048)])[0], server=server)
        self.assertHttpError(response, 431)
        self.client(server).echo(OP_TEXT, "small")

    def test_custom_max_headers(self):
        """--max-headers 8: 9 headers get 431, 8 are fine."""
        server = self.start_server("--max-headers", "8")
        extra = [("X-H%d" % i, "v") for i in range(4)]  # 5 handshake headers + 4 = 9
        response = self.http(upgrade_request(server.host_header(), extra=extra)[0], server=server)
        self.assertHttpError(response, 431)
        self.client(server, extra=extra[:3]).echo(OP_TEXT, "eight headers")


class ConnectionLimits(ServerTestCase):
    shared_server = False

    def test_max_connections_refuses_the_sixth(self):
        """--max-connections 5: five connections work, the sixth gets 503 or is closed."""
        server = self.start_server("--max-connections", "5")
        clients = [self.client(server) for _ in range(5)]
        sixth = connect(server.host, server.port, bound(5.0))
        try:
            sixth.sendall(upgrade_request(server.host_header())[0])
            try:
                response, _ = read_http_response(sixth, timeout=bound(5.0))
            except socket.timeout:
                raise AssertionError("the sixth connection got neither a response nor a close")
            except (ConnectionClosed, ConnectionError):
                response = None  # refused by closing, which the spec allows
            if response is not None:
                if not response.closed:
                    response.closed, _ = wait_for_eof(sixth, bound(3.0))
                self.assertHttpError(response, 503)
        finally:
            sixth.close()
        for index, client in enumerate(clients):
            client.echo(OP_TEXT, "client %d still works" % index)

    def test_slot_freed_after_close(self):
        """--max-connections 2: after one client closes, a new one is admitted."""
        server = self.start_server("--max-connections", "2")
        first, second = self.client(server), self.client(server)
        first.send_close(1000)
        first.expect_close(1000)
        # The server frees the slot when it closes TCP, which expect_close has observed; allow
        # a few attempts for the close to be accounted.
        last_error = None
        for _ in range(20):
            try:
                third = self.client(server)
                third.echo(OP_TEXT, "third")
                break
            except Exception as error:  # 503 or closed while the slot is still counted
                last_error = error
                time.sleep(0.1)
        else:
            raise AssertionError("no new connection admitted after a close: %s" % last_error)
        second.echo(OP_TEXT, "second")

    def test_handshake_timeout_half_request(self):
        """--handshake-timeout 0.5: a client that sends half a request is disconnected in ~2 s."""
        server = self.start_server("--handshake-timeout", "0.5")
        sock = connect(server.host, server.port)
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websock" % server.host_header().encode())
            closed, extra = wait_for_eof(sock, bound(2.5))
            self.assertTrue(closed, "not closed within %.1f s" % bound(2.5))
            self.assertNotIn(b"101", extra[:12])
        finally:
            sock.close()
        self.client(server).echo(OP_TEXT, "others are unaffected")

    def test_handshake_timeout_silent_client(self):
        """--handshake-timeout 0.5: a client that sends nothing is disconnected too."""
        server = self.start_server("--handshake-timeout", "0.5")
        sock = connect(server.host, server.port)
        try:
            closed, extra = wait_for_eof(sock, bound(2.5))
            self.assertTrue(closed, "not closed within %.1f s" % bound(2.5))
        finally:
            sock.close()

    def test_handshake_timeout_does_not_hit_open_connections(self):
        """A completed handshake is not subject to --handshake-timeout."""
        server = self.start_server("--handshake-timeout", "0.3")
        client = self.client(server)
        client.expect_silence(1.0)
        client.echo(OP_TEXT, "still open after the handshake timeout")


if __name__ == "__main__":
    unittest.main()
