"""Handshake category: RFC 6455 4.2.1 (reading the client's opening handshake) and 4.2.2
(sending the server's opening handshake)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import (OP_TEXT, ServerTestCase, accept_key, build_frame, http_exchange,  # noqa: E402
                       new_key, read_http_response, upgrade_request)


class Handshake(ServerTestCase):
    """H.x: what a server must accept, must answer, and must refuse during the upgrade."""

    def raw_request(self, lines):
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def upgrade_with(self, request, key):
        """Send a hand-written request; expect 101 with the right accept; check echo works."""
        client = self.client(handshake=False)
        client.send(request)
        response, leftover = read_http_response(client.sock, timeout=client.timeout, read_body=False)
        self.assertEqual(response.status, 101, repr(response))
        self.assertEqual(response.header("Sec-WebSocket-Accept"), accept_key(key))
        client.buffer += leftover
        client.echo(OP_TEXT, "upgraded")
        return response

    def test_h_1_rfc_sample_key(self):
        """RFC 6455 1.3/4.2.2: key dGhlIHNhbXBsZSBub25jZQ== gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=."""
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        self.assertEqual(accept_key(key), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")  # the harness itself
        response = self.upgrade_with(upgrade_request(self.server.host_header(), key=key)[0], key)
        self.assertEqual(response.header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_h_2_response_headers(self):
        """RFC 6455 4.2.2 step 5: status 101, Upgrade: websocket, Connection: Upgrade."""
        key = new_key()
        response = self.upgrade_with(upgrade_request(self.server.host_header(), key=key)[0], key)
        self.assertEqual(response.version, "HTTP/1.1")
        self.assertIn("websocket", response.header_tokens("Upgrade"))
        self.assertIn("upgrade", response.header_tokens("Connection"))

    def test_h_3_header_names_case_insensitive(self):
        """RFC 6455 4.2.1 / RFC 7230 3.2: header field names are case-insensitive."""
        key = new_key()
        request = self.raw_request(["GET / HTTP/1.1", "host: %s" % self.server.host_header(), "upgrade: websocket",
                                    "connection: upgrade", "sec-websocket-key: %s" % key,
                                    "SEC-WEBSOCKET-VERSION: 13"])
        self.upgrade_with(request, key)

    def test_h_4_connection_token_list(self):
        """RFC 6455 4.2.1 item 4: Connection must *include* the token upgrade (keep-alive, Upgrade)."""
        key = new_key()
        self.upgrade_with(upgrade_request(self.server.host_header(), key=key, connection="keep-alive, Upgrade")[0],
                          key)

    def test_h_5_upgrade_value_case_insensitive(self):
        """RFC 6455 4.2.1 item 3: Upgrade includes "websocket", an ASCII case-insensitive value."""
        key = new_key()
        self.upgrade_with(upgrade_request(self.server.host_header(), key=key, upgrade="WebSocket")[0], key)

    def test_h_6_optional_whitespace(self):
        """RFC 7230 3.2.3: optional whitespace around header values is not part of the value."""
        key = new_key()
        request = self.raw_request(["GET / HTTP/1.1", "Host:%s" % self.server.host_header(),
                                    "Upgrade:   websocket  ", "Connection:\tUpgrade", "Sec-WebSocket-Key:  %s " % key,
                                    "Sec-WebSocket-Version: 13"])
        self.upgrade_with(request, key)

    def test_h_7_extension_offer_not_accepted(self):
        """RFC 6455 9.1: the server must not accept an extension it does not implement; with no
        Sec-WebSocket-Extensions in the reply, none is in use (and RSV1 stays illegal)."""
        client = self.client(extra=[("Sec-WebSocket-Extensions", "x-unknown-extension; level=3")])
        self.assertIsNone(client.response.header("Sec-WebSocket-Extensions"))
        client.echo(OP_TEXT, "no extension")

    def test_h_8_no_subprotocol_offered(self):
        """RFC 6455 4.2.2 step 5.5/4.1: no Sec-WebSocket-Protocol in the reply if none was requested."""
        client = self.client()
        self.assertIsNone(client.response.header("Sec-WebSocket-Protocol"))

    def test_h_9_http_1_0_refused(self):
        """RFC 6455 4.1: the version must be at least HTTP/1.1; this server speaks exactly 1.1 and
        refuses others with 505 HTTP Version Not Supported (RFC 9110 15.6.6)."""
        response = http_exchange(self.server, upgrade_request(self.server.host_header(), http_version="HTTP/1.0")[0])
        self.assertEqual(response.status, 505, repr(response))

    def test_h_10_post_refused(self):
        """RFC 6455 4.2.1 item 1: only GET can upgrade (here 405)."""
        response = http_exchange(self.server, upgrade_request(self.server.host_header(), method="POST")[0])
        self.assertEqual(response.status, 405, repr(response))

    def test_h_11_missing_host(self):
        """RFC 6455 4.2.1 item 2: a Host header field is required (-> 400)."""
        response = http_exchange(self.server, upgrade_request(self.server.host_header(), omit={"host"})[0])
        self.assertEqual(response.status, 400, repr(response))

    def test_h_12_missing_key(self):
        """RFC 6455 4.2.1 item 5: Sec-WebSocket-Key is required (-> 400)."""
        response = http_exchange(self.server,
                                 upgrade_request(self.server.host_header(), omit={"sec-websocket-key"})[0])
        self.assertEqual(response.status, 400, repr(response))

    def test_h_13_key_wrong_length(self):
        """RFC 6455 4.2.1 item 5: the key decodes to exactly 16 bytes (here 12 -> 400)."""
        response = http_exchange(self.server, upgrade_request(self.server.host_header(), key="AAAAAAAAAAAAAAAA")[0])
        self.assertEqual(response.status, 400, repr(response))

    def test_h_14_unsupported_version(self):
        """RFC 6455 4.2.2 item 4 / 4.4: an unsupported version gets 426 and Sec-WebSocket-Version: 13."""
        response = http_exchange(self.server, upgrade_request(self.server.host_header(), version="7")[0])
        self.assertEqual(response.status, 426, repr(response))
        self.assertIn("13", response.header_tokens("Sec-WebSocket-Version"))

    def test_h_15_missing_version(self):
        """RFC 6455 4.2.1 item 6: Sec-WebSocket-Version is required (400 or 426 with version 13)."""
        response = http_exchange(self.server,
                                 upgrade_request(self.server.host_header(), omit={"sec-websocket-version"})[0])
        self.assertIn(response.status, (400, 426), repr(response))

    def test_h_16_non_upgrade_request_not_switched(self):
        """RFC 6455 4.2.1 item 3: without Upgrade: websocket the server does not switch protocols."""
        response = http_exchange(self.server, upgrade_request(self.server.host_header(), upgrade="h2c")[0])
        self.assertNotEqual(response.status, 101, repr(response))
        self.assertGreaterEqual(response.status, 400, repr(response))

    def test_h_17_frames_right_after_handshake(self):
        """RFC 6455 4.1/5: frames immediately following the request in the same segment are read
        as the start of the WebSocket stream."""
        client = self.client(handshake=False)
        client.handshake(self.server.host_header(), trailing=build_frame(OP_TEXT, "immediate"))
        client.expect_message(OP_TEXT, "immediate")

    def test_h_18_request_target_with_query(self):
        """RFC 6455 3/4.1: the resource name may carry a query component."""
        self.client(path="/?token=abc&x=1").echo(OP_TEXT, "with a query")

    def test_h_19_invalid_host_refused(self):
        """RFC 9112 3.2: a request with a Host field line of invalid value gets 400."""
        for host in ("a b c", "example.com/path", "[::1", "host:port"):
            response = http_exchange(self.server, upgrade_request(host)[0])
            self.assertEqual(response.status, 400, "Host %r: %r" % (host, response))

    def test_h_20_origin_not_checked_by_default(self):
        """RFC 6455 4.2.2 item 4 / 10.2: the Origin check is the server's choice; with no
        --allow-origin any Origin is accepted."""
        client = self.client(extra=[("Origin", "https://elsewhere.example")])
        client.echo(OP_TEXT, "cross-origin")

    def test_h_21_asterisk_target_refused(self):
        """RFC 9112 3.2.4: the asterisk-form request-target is only for OPTIONS (-> 400)."""
        response = http_exchange(self.server, upgrade_request(self.server.host_header(), path="*")[0])
        self.assertEqual(response.status, 400, repr(response))


if __name__ == "__main__":
    unittest.main()
