"""PROXY protocol listeners (--proxy-protocol, --proxy-from): v1 and v2 headers sent by raw
sockets before the WebSocket handshake, on plain and TLS listeners; a v2 LOCAL health check;
headers split across several sends; the transport's first bytes in the header's send; garbage,
an untrusted peer and a header that never completes are closed and counted; the log names the
client the header carried, and the stop summary counts headers and refusals."""

import socket
import struct
import time
import unittest

import wsharness
from wsharness import OP_TEXT, RawClient, ServerTestCase, bound, connect, run_server_command, upgrade_request
import test_tls as tls_helpers

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1_header(source="203.0.113.7", destination="192.0.2.1", source_port=4711, destination_port=443):
    family = "TCP6" if ":" in source else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (family, source, destination, source_port, destination_port)).encode()


def v2_header(command=1, source="198.51.100.9", destination="192.0.2.1", source_port=5150, destination_port=443,
              tlvs=b""):
    if ":" in source:
        block = (socket.inet_pton(socket.AF_INET6, source) + socket.inet_pton(socket.AF_INET6, destination)
                 + struct.pack("!HH", source_port, destination_port))
        family = 0x21
    else:
        block = (socket.inet_aton(source) + socket.inet_aton(destination)
                 + struct.pack("!HH", source_port, destination_port))
        family = 0x11
    block += tlvs
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(block)) + block


def proxied_client(host, port, header_parts, tls_context=None, delay=0.02, source=None):
    """A RawClient whose socket first sends the PROXY header, in `header_parts` (one send each,
    `delay` apart), before the TLS and WebSocket handshakes. `source`: bind to this address."""
    original = wsharness.connect

    def connect_with_header(h, p, timeout):
        if source:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.bind((source, 0))
            sock.connect((h, p))
        else:
            sock = original(h, p, timeout)
        for i, part in enumerate(header_parts):
            if i:
                time.sleep(delay)
            sock.sendall(part)
        return sock

    wsharness.connect = connect_with_header
    try:
        return RawClient(host, port, tls_context=tls_context)
    finally:
        wsharness.connect = original


def closed_without_answer(sock, timeout):
    """True when the server closes the socket (end of stream or reset) within `timeout`, having
    sent nothing."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except (ConnectionResetError, ConnectionAbortedError):
        return True
    except socket.timeout:
        return False
    return data == b""


class ProxyProtocol(ServerTestCase):
    """One server whose every listener (ws:// and wss://) requires the header from 127.0.0.1."""
    shared_server = False

    def setUp(self):
        super().setUp()
        self.pki = tls_helpers.shared_pki()
        self.server = self.start_server("--proxy-protocol", "all", "--proxy-from", "127.0.0.1/32",
                                        "--proxy-from", "::1", "--handshake-timeout", "1s",
                                        "--log-level", "debug", *tls_helpers.tls_args(self.pki))

    def tls_context(self):
        return tls_helpers.client_context(self.pki)

    def wait_for_log(self, text, timeout=2.0):
        deadline = time.monotonic() + bound(timeout)
        while time.monotonic() < deadline:
            if text in self.server.log():
                return
            time.sleep(0.02)
        self.fail("the log does not say %r\n%s" % (text, self.server.log_tail()))

    def echo_through(self, client, host_header, text="through the proxy"):
        self.clients.append(client)
        client.handshake(host_header)
        client.send_text(text)
        client.expect_message(OP_TEXT, text.encode())

    def stop_summary(self):
        self.assertEqual(self.server.stop(), 0, self.server.log_tail())
        return [line for line in self.server.log().splitlines() if "stopped:" in line][-1]

    def test_v1_with_the_request_in_the_same_send(self):
        request, _ = upgrade_request(self.server.host_header())
        client = proxied_client(self.server.host, self.server.port, [v1_header() + request])
        self.clients.append(client)
        from wsharness import read_http_response
        response, leftover = read_http_response(client.sock)
        self.assertEqual(response.status, 101)
        client.buffer += leftover
        client.send_text("glued")
        client.expect_message(OP_TEXT, b"glued")
        self.wait_for_log("client 203.0.113.7:4711")

    def test_refusal_log_names_the_client(self):
        client = proxied_client(self.server.host, self.server.port, [v1_header(source_port=8123)])
        self.clients.append(client)
        request, _ = upgrade_request(self.server.host_header(), version="8")
        client.send(request)
        from wsharness import read_http_response
        response, _ = read_http_response(client.sock)
        self.assertEqual(response.status, 426)
        self.wait_for_log("(203.0.113.7:8123): upgrade refused with HTTP 426")

    def test_v1_tcp6(self):
        client = proxied_client(self.server.host, self.server.port, [v1_header("2001:db8::7", "2001:db8::1", 6000)])
        self.echo_through(client, self.server.host_header())
        self.wait_for_log("client [2001:db8::7]:6000")

    def test_v2_with_tlvs(self):
        header = v2_header(tlvs=b"\x01\x00\x02h2\x04\x00\x01\x00")
        client = proxied_client(self.server.host, self.server.port, [header])
        self.echo_through(client, self.server.host_header())
        self.wait_for_log("client 198.51.100.9:5150")

    def test_v2_local_health_check(self):
        header = V2_SIGNATURE + b"\x20\x00\x00\x00"
        client = proxied_client(self.server.host, self.server.port, [header])
        self.echo_through(client, self.server.host_header())
        self.wait_for_log("(LOCAL: the proxy itself)")

    def test_headers_split_across_sends(self):
        for header in (v1_header(source_port=1234), v2_header(source_port=4321)):
            parts = [header[:1], header[1:5], header[5:13], header[13:17], header[17:]]
            client = proxied_client(self.server.host, self.server.port, parts)
            self.echo_through(client, self.server.host_header())
        self.wait_for_log("client 203.0.113.7:1234")
        self.wait_for_log("client 198.51.100.9:4321")

    def test_tls_listener_v1_and_v2(self):
        for header, client_text in ((v1_header(source_port=7001), "client 203.0.113.7:7001"),
                                    (v2_header(source="2001:db8::9", destination="2001:db8::1", source_port=7002),
                                     "client [2001:db8::9]:7002")):
            client = proxied_client(self.server.tls_hosts[0], self.server.tls_port, [header[:10], header[10:]],
                                    tls_context=self.tls_context())
            self.echo_through(client, self.server.tls_host_header())
            self.wait_for_log(client_text)

    def test_garbage_instead_of_a_header_is_closed(self):
        for garbage in (upgrade_request(self.server.host_header())[0], b"PROXY TCP4 1.2.3.4\r\n",
                        b"PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n", b"\x16\x03\x01\x00\x05hello",
                        V2_SIGNATURE + b"\x21\x12\x00\x0c" + bytes(12), b"PROXY " + b"x" * 200):
            sock = connect(self.server.host, self.server.port)
            try:
                sock.sendall(garbage)
                self.assertTrue(closed_without_answer(sock, bound(3.0)), "not closed after %r" % garbage[:30])
            finally:
                sock.close()
        summary = self.stop_summary()
        self.assertIn("6 bad PROXY headers", summary)
        self.assertIn("bad_signature 2", summary)

    def test_garbage_on_the_tls_listener_is_closed(self):
        sock = connect(self.server.tls_hosts[0], self.server.tls_port)
        try:
            sock.sendall(b"\x16\x03\x01\x00\x05hello")  # a TLS record where the header belongs
            self.assertTrue(closed_without_answer(sock, bound(3.0)))
        finally:
            sock.close()

    def test_header_timeout(self):
        silent = connect(self.server.host, self.server.port)
        partial = connect(self.server.host, self.server.port)
        try:
            partial.sendall(v1_header()[:20])
            started = time.monotonic()
            self.assertTrue(closed_without_answer(silent, bound(4.0)), "the silent connection stayed open")
            self.assertTrue(closed_without_answer(partial, bound(4.0)), "the partial header stayed open")
            self.assertGreater(time.monotonic() - started, 0.5)
        finally:
            silent.close()
            partial.close()
        self.assertIn("2 PROXY timeouts", self.stop_summary())

    def test_stop_summary_counts_headers(self):
        client = proxied_client(self.server.host, self.server.port, [v1_header()])
        self.echo_through(client, self.server.host_header())
        client.close()
        self.assertIn("1 PROXY header", self.stop_summary())


class UntrustedPeer(ServerTestCase):
    """--proxy-from 127.0.0.2/32: a connection from 127.0.0.1 is closed before it is read (even
    with a valid header), one from 127.0.0.2 is served."""
    shared_server = False

    def test_untrusted_source_is_refused(self):
        server = self.start_server("--listen", "127.0.0.1:0", "--proxy-protocol", "all",
                                   "--proxy-from", "127.0.0.2/32", "--log-level", "debug")
        sock = connect(server.host, server.port)
        try:
            sock.sendall(v1_header())
            self.assertTrue(closed_without_answer(sock, bound(3.0)), "an untrusted peer was served")
        finally:
            sock.close()
        client = proxied_client(server.host, server.port, [v1_header(source_port=9999)], source="127.0.0.2")
        self.clients.append(client)
        client.handshake(server.host_header())
        client.send_text("trusted")
        client.expect_message(OP_TEXT, b"trusted")
        client.close()
        self.assertEqual(server.stop(), 0)
        self.assertIn("not a --proxy-from peer", server.log())
        self.assertIn("1 untrusted PROXY peer", server.log())

    def test_only_the_named_listener_expects_the_header(self):
        pki = tls_helpers.shared_pki()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        tls_address = "127.0.0.1:%d" % probe.getsockname()[1]
        probe.close()
        server = self.start_server("--listen", "127.0.0.1:0", "--tls-listen", tls_address, "--proxy-from", "127.0.0.1",
                                   "--proxy-protocol", tls_address, "--tls-cert", pki.cert("server"),
                                   "--tls-key", pki.key("server"))
        plain = self.client(server)  # no header on the plain listener
        plain.send_text("plain")
        plain.expect_message(OP_TEXT, b"plain")
        context = tls_helpers.client_context(pki)
        client = proxied_client(server.tls_hosts[0], server.tls_port, [v2_header()], tls_context=context)
        self.clients.append(client)
        client.handshake(server.tls_host_header())
        client.send_text("tls")
        client.expect_message(OP_TEXT, b"tls")


class ProxyCommandLine(ServerTestCase):
    shared_server = False
    backend_independent = True

    def check_bad(self, args, flag):
        result = run_server_command(["--listen", "127.0.0.1:0"] + args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(flag, lines[0])

    def test_proxy_protocol_needs_proxy_from(self):
        self.check_bad(["--proxy-protocol", "all"], "--proxy-from")

    def test_proxy_from_needs_proxy_protocol(self):
        self.check_bad(["--proxy-from", "10.0.0.0/8"], "--proxy-protocol")

    def test_bad_cidr(self):
        for cidr in ("10.0.0.0/33", "300.1.1.1", "::1/129", "10.0.0.0/", "nonsense"):
            self.check_bad(["--proxy-protocol", "all", "--proxy-from", cidr], "--proxy-from")

    def test_proxy_protocol_on_an_address_that_is_no_listener(self):
        self.check_bad(["--proxy-protocol", "127.0.0.1:1", "--proxy-from", "127.0.0.1"], "--proxy-protocol")

    def test_help_names_the_flags(self):
        result = run_server_command(["--help"])
        for flag in ("--proxy-protocol", "--proxy-from", "--drain-window"):
            self.assertIn(flag, result.stdout.decode() if isinstance(result.stdout, bytes) else result.stdout)


if __name__ == "__main__":
    unittest.main()
