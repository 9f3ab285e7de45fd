"""--tls-ciphersuites: the server's order of preference decides the TLS 1.3 suite. By default
AES-128-GCM comes first, yet a client that lists ChaCha20 first (one without AES instructions)
gets ChaCha20; a list given on the command line is followed; a bad list is refused at start."""

import ssl
import subprocess

import test_tls  # (not `from test_tls import`: its classes would run again as this module's)
from wsharness import OP_CLOSE, OP_TEXT, ServerTestCase, bound, build_frame, run_server_command, upgrade_request

OPENSSL = test_tls.OPENSSL


def negotiated_suite(test, suites):
    """The suite `openssl s_client -ciphersuites SUITES` (in that order of preference) gets from
    the shared server, after an upgrade and a close over it (the server's close ends s_client)."""
    request = upgrade_request(test.server.tls_host_header())[0] + build_frame(OP_CLOSE, b"\x03\xe8")
    result = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % test.server.tls_port,
                             "-CAfile", test.pki.ca, "-verify_return_error", "-tls1_3", "-ciphersuites", suites,
                             "-ign_eof", "-brief"],
                            input=request, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            timeout=bound(10.0))
    output = result.stdout.decode("latin-1")
    test.assertIn("101 Switching Protocols", output, output[-800:])
    for line in output.splitlines():
        if line.startswith("Ciphersuite:"):
            return line.split(":", 1)[1].strip()
    test.fail("no Ciphersuite line from s_client: %r" % output[-800:])


class DefaultPreference(test_tls.TlsTestCase):
    """Default list: AES-128-GCM first, ChaCha20 for a client that prefers it."""

    def test_aes128_gcm_over_the_clients_first_choice(self):
        """OpenSSL clients (Python's ssl, node, curl) list AES-256-GCM first."""
        self.assertEqual(negotiated_suite(self, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"),
                         "TLS_AES_128_GCM_SHA256")

    def test_python_client_gets_aes128_gcm(self):
        client = self.tls_client(self.context())
        self.assertEqual(client.sock.cipher()[0], "TLS_AES_128_GCM_SHA256")
        client.echo(OP_TEXT, "over AES-128-GCM")

    def test_chacha20_for_a_client_that_lists_it_first(self):
        self.assertEqual(negotiated_suite(self, "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"),
                         "TLS_CHACHA20_POLY1305_SHA256")

    def test_aes256_gcm_for_a_client_that_offers_only_it(self):
        self.assertEqual(negotiated_suite(self, "TLS_AES_256_GCM_SHA384"), "TLS_AES_256_GCM_SHA384")

    def test_tls12_still_served(self):
        self.assert_serves_wss(context=self.context(maximum=ssl.TLSVersion.TLSv1_2))


class ListFromTheCommandLine(test_tls.TlsTestCase):
    """--tls-ciphersuites TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256: that order, and a
    client offering only a suite left out fails its handshake while the server serves on."""
    extra_args = ("--tls-ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256")

    def test_the_servers_order_is_followed(self):
        self.assertEqual(negotiated_suite(self, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"),
                         "TLS_AES_256_GCM_SHA384")

    def test_a_suite_left_out_is_not_negotiated(self):
        result = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % self.server.tls_port,
                                 "-CAfile", self.pki.ca, "-tls1_3", "-ciphersuites",
                                 "TLS_CHACHA20_POLY1305_SHA256", "-brief"],
                                input=b"", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=bound(10.0))
        output = result.stdout.decode("latin-1")
        self.assertNotEqual(result.returncode, 0, output)
        self.assertIn("handshake failure", output)
        self.assert_serves_wss()


class BadList(ServerTestCase):
    """A typo, an empty entry or an empty list: exit 2 with one line naming the flag (OpenSSL
    alone would skip an unknown name and serve with whatever is left)."""
    shared_server = False
    backend_independent = True
    check_refused = test_tls.TlsStartUpErrors.check_refused
    tls = test_tls.TlsStartUpErrors.tls

    @classmethod
    def setUpClass(cls):
        cls.pki = test_tls.shared_pki()
        super().setUpClass()

    def bad(self, suites):
        return self.check_refused(self.tls(self.pki.cert("server"), self.pki.key("server")) +
                                  ["--tls-ciphersuites", suites], "--tls-ciphersuites")

    def test_unknown_name(self):
        self.assertIn("TLS_AES_128_GCM_SHA265", self.bad("TLS_AES_128_GCM_SHA265"))

    def test_tls12_name(self):
        self.assertIn("ECDHE-ECDSA-AES128-GCM-SHA256", self.bad("ECDHE-ECDSA-AES128-GCM-SHA256"))

    def test_empty_entry(self):
        self.bad("TLS_AES_128_GCM_SHA256::TLS_AES_256_GCM_SHA384")

    def test_empty_list(self):
        self.bad("")

    def test_without_a_tls_listener(self):
        result = run_server_command(["--listen", "127.0.0.1:0", "--tls-ciphersuites", "TLS_AES_128_GCM_SHA256"])
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--tls-ciphersuites needs --tls-listen", result.stderr)
