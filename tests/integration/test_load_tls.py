"""wsring-load over TLS (wss://) against TLS servers started here: Python's websockets with an
ssl.SSLContext, and node's ws on https.createServer. The certificates are made at test time with
the openssl command: a test CA, a server certificate for 127.0.0.1 and localhost, an expired one,
one for another host, a self-signed one. Verified echoes, --insecure, verification failures
counted by kind, --sni, --tls-resume, --tls-min/--tls-max, a plain server given a wss:// URL, and
bad TLS arguments (exit 2, one line naming the flag)."""

import atexit
import logging
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from wsharness import SANITIZER_MARKERS, bound
from test_load_generator import AsyncioEchoServer, load_binary, run_load

NODE = shutil.which("node")
NODE_PATH = "/usr/share/nodejs"


def run_openssl(*args, env=None):
    done = subprocess.run(["openssl"] + list(args), capture_output=True, timeout=bound(30),
                          env=dict(os.environ, **(env or {})))
    if done.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), done.stderr.decode(errors="replace")))


CA_CONFIG = """
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = %(dir)s
database = $dir/index.txt
new_certs_dir = $dir
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
[ policy_any ]
commonName = supplied
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${ENV::SAN}
"""


class TestPki:
    """PEM files in a temporary directory (removed at exit): ca.pem, server.key and the server
    certificates good.pem (localhost, 127.0.0.1), expired.pem, other_host.pem (other.example
    only), self_signed.pem (localhost, 127.0.0.1, its own issuer), all for server.key."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wsring-load-tls-")
        atexit.register(shutil.rmtree, self.dir, True)
        d = self.path
        with open(d("ca.cnf"), "w") as f:
            f.write(CA_CONFIG % {"dir": self.dir})
        open(d("index.txt"), "w").close()
        with open(d("serial"), "w") as f:
            f.write("1000\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        run_openssl("req", "-x509", *ec, "-keyout", d("ca.key"), "-out", d("ca.pem"), "-days", "2",
                    "-subj", "/CN=wsring-load test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run_openssl("req", *ec, "-keyout", d("server.key"), "-out", d("server.csr"), "-subj", "/CN=localhost")
        names = "DNS:localhost,IP:127.0.0.1"
        self.sign("good.pem", names, "-days", "2")
        self.sign("expired.pem", names, "-startdate", "20200101000000Z", "-enddate", "20200102000000Z")
        self.sign("other_host.pem", "DNS:other.example", "-days", "2")
        run_openssl("req", "-x509", "-key", d("server.key"), "-out", d("self_signed.pem"), "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=" + names)
        with open(d("not_pem.txt"), "w") as f:
            f.write("not a certificate\n")

    def sign(self, name, names, *validity):
        run_openssl("ca", "-batch", "-notext", "-config", self.path("ca.cnf"), "-extensions", "leaf",
                    "-in", self.path("server.csr"), "-out", self.path(name), *validity, env={"SAN": names})

    def path(self, name):
        return os.path.join(self.dir, name)


_pki = None


def pki():
    global _pki
    if _pki is None:
        _pki = TestPki()
    return _pki


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


def server_context(cert="good.pem", max_version=None, names_seen=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki().path(cert), pki().path("server.key"))
    if max_version is not None:
        context.maximum_version = max_version
    if names_seen is not None:
        def remember(ssl_object, server_name, ctx):
            names_seen.append(server_name)
        context.sni_callback = remember
    return context


def quiet_python_servers(test):
    """The Python server logs a traceback for each connection reset on purpose (a failed
    verification, a handshake cut short by the end of a --handshake-only run): not a failure."""
    for name in ("websockets.server", "asyncio"):
        logger = logging.getLogger(name)
        test.addCleanup(logger.setLevel, logger.level)
        logger.setLevel(logging.CRITICAL)


def check_no_crash(test, status, out, err):
    test.assertIn(status, (0, 1), "wsring-load died (status %d)\n%s%s" % (status, out, err[-4000:]))
    for marker in SANITIZER_MARKERS:
        test.assertNotIn(marker, err, err[-4000:])


def check_clean_tls_run(test, status, report, out, err, connections):
    test.assertIsNotNone(report, err)
    test.assertEqual(status, 0, out + err)
    messages = report["messages"]
    test.assertGreater(messages["received"], 0, messages)
    test.assertEqual(messages["sent"], messages["received"] + messages["in_flight"], messages)
    test.assertEqual(messages["mismatched"], 0, messages)
    test.assertEqual(report["errors"]["total"], 0, report["error_details"])
    test.assertEqual(report["connections"]["opened"], connections, report["connections"])
    test.assertEqual(report["connections"]["closed_cleanly"], connections, report["connections"])
    tls = report["tls"]
    test.assertEqual(tls["handshakes"], connections, tls)
    test.assertEqual(tls["failures"]["total"], 0, tls)
    # The three parts of opening a connection, each with its own percentiles.
    for part in ("connect_us", "tls_handshake_us", "upgrade_us", "handshake_us"):
        test.assertEqual(report[part]["count"], connections, (part, report[part]))
    test.assertLessEqual(report["tls_handshake_us"]["max"], report["handshake_us"]["max"])
    test.assertIn("tls handshake", out)


class LoadOverTls(unittest.TestCase):
    """Clean wss:// runs against Python's websockets over ssl (once per backend)."""

    @classmethod
    def setUpClass(cls):
        cls.server = AsyncioEchoServer(echo, server_context()).start()
        cls.addClassCleanup(cls.server.stop)

    def setUp(self):
        quiet_python_servers(self)

    def test_echo_verified_against_ca(self):
        """--ca: the certificate verifies for 127.0.0.1 and for localhost; every echo is exact."""
        for host in ("127.0.0.1", "localhost"):
            status, report, out, err = run_load(self.server.url(host), "--connections", 4, "--duration", 1,
                                                "--pipeline", 4, "--size", "16-20K", "--ca", pki().path("ca.pem"))
            check_clean_tls_run(self, status, report, out, err, 4)
            self.assertEqual(report["parameters"]["tls"]["server_name"], host)
            self.assertEqual(report["parameters"]["tls"]["ca"], pki().path("ca.pem"))
            self.assertFalse(report["parameters"]["tls"]["insecure"])

    def test_large_messages_and_two_threads(self):
        """1 MiB messages (many records per message, many receives per record) on two threads."""
        status, report, out, err = run_load(self.server.url(), "--connections", 4, "--duration", 1, "--size", "1M",
                                            "--threads", 2, "--ca", pki().path("ca.pem"))
        check_clean_tls_run(self, status, report, out, err, 4)
        self.assertEqual(report["bytes"]["received"], report["messages"]["received"] * (1 << 20))

    def test_tls_resume_on_reconnects(self):
        """--handshake-only --tls-resume: reconnects offer their slot's last ticket and resume;
        without --tls-resume every handshake is a full one."""
        args = ("--connections", 2, "--duration", 1, "--handshake-only", "--ca", pki().path("ca.pem"))
        status, report, out, err = run_load(self.server.url(), *args, "--tls-resume")
        self.assertEqual(status, 0, out + err)
        tls = report["tls"]
        self.assertGreater(tls["handshakes"], 4, tls)
        self.assertGreater(tls["resumed"], 0, tls)
        self.assertLessEqual(tls["resumed"], tls["resume_offered"], tls)
        # Every connection but each slot's first offers a ticket (the last one may be cut short).
        self.assertGreaterEqual(tls["resume_offered"], tls["handshakes"] - 2, tls)
        self.assertTrue(report["parameters"]["tls"]["resume"])
        self.assertIn("resumed", out)
        status, report, out, err = run_load(self.server.url(), *args)
        self.assertEqual(status, 0, out + err)
        self.assertEqual(report["tls"]["resume_offered"], 0, report["tls"])
        self.assertEqual(report["tls"]["resumed"], 0, report["tls"])

    def test_tls_max_12(self):
        """--tls-max 1.2: every handshake is TLS 1.2, and echoes still verify."""
        status, report, out, err = run_load(self.server.url(), "--connections", 3, "--duration", 1, "--tls-max", "1.2",
                                            "--ca", pki().path("ca.pem"))
        check_clean_tls_run(self, status, report, out, err, 3)
        self.assertEqual(report["tls"]["versions"], {"1.2": 3, "1.3": 0})
        self.assertEqual(report["parameters"]["tls"]["max_version"], "1.2")
        status, report, out, err = run_load(self.server.url(), "--connections", 3, "--duration", 0.5,
                                            "--tls-min", "1.3", "--ca", pki().path("ca.pem"))
        check_clean_tls_run(self, status, report, out, err, 3)
        self.assertEqual(report["tls"]["versions"], {"1.2": 0, "1.3": 3})


    def test_tls13_suites_offered(self):
        """--tls-ciphersuites: only the suites listed are offered, so the server can pick no
        other; the report names them, and counts the handshakes by the suite the server chose."""
        ciphers = []

        async def record_cipher(ws, path=None):
            ciphers.append(ws.transport.get_extra_info("cipher")[0])
            await echo(ws, path)

        server = AsyncioEchoServer(record_cipher, server_context()).start()
        self.addCleanup(server.stop)
        for suite in ("TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"):
            del ciphers[:]
            status, report, out, err = run_load(server.url(), "--connections", 2, "--duration", 0.5,
                                                "--tls-ciphersuites", suite, "--ca", pki().path("ca.pem"))
            check_clean_tls_run(self, status, report, out, err, 2)
            self.assertEqual(ciphers, [suite, suite])
            self.assertEqual(report["parameters"]["tls"]["tls13_suites"], suite)
            self.assertIn("TLS 1.3 suites " + suite, out)
            self.assertEqual(report["tls"]["tls13_suites"], {suite: 2})  # what the server chose
            self.assertIn("TLS 1.3 suites chosen: %s 2" % suite, out)
        status, report, out, err = run_load(server.url(), "--connections", 1, "--duration", 0.3,
                                            "--ca", pki().path("ca.pem"))
        check_clean_tls_run(self, status, report, out, err, 1)
        self.assertIsNone(report["parameters"]["tls"]["tls13_suites"])
        self.assertEqual(report["tls"]["tls13_suites"], {"TLS_AES_256_GCM_SHA384": 1})  # first in both lists


class LoadOverTlsFailures(unittest.TestCase):
    """Certificates that do not verify, versions that do not meet, servers that do not speak
    TLS: each failure counted by kind, exit status 1, the run ends on time, never a crash."""
    backend_independent = True

    def setUp(self):
        quiet_python_servers(self)

    def serve(self, context):
        server = AsyncioEchoServer(echo, context).start()
        self.addCleanup(server.stop)
        return server

    def run_failing(self, url, *args, connections=3):
        status, report, out, err = run_load(url, "--connections", connections, "--duration", 1, *args, timeout=30)
        check_no_crash(self, status, out, err)
        self.assertEqual(status, 1, out + err)
        self.assertIsNotNone(report, err)
        self.assertEqual(report["connections"]["failed"], connections, report["connections"])
        self.assertEqual(report["connections"]["opened"], 0, report["connections"])
        self.assertEqual(report["errors"]["tls_failed"], connections, report["errors"])
        self.assertEqual(report["tls"]["failures"]["total"], connections, report["tls"])
        self.assertLess(report["elapsed_s"], 5, report)  # failures end the run; no timeout waited for
        return report

    def check_verify_failure(self, report, reason):
        failures = report["tls"]["failures"]
        self.assertEqual(failures["certificate_verify"], failures["total"], failures)
        self.assertIn(reason, report["tls"]["failure_details"]["certificate_verify"])
        self.assertIn("tls_failed", report["error_details"])

    def test_expired_certificate(self):
        server = self.serve(server_context("expired.pem"))
        report = self.run_failing(server.url(), "--ca", pki().path("ca.pem"))
        self.check_verify_failure(report, "expired")

    def test_wrong_host(self):
        """A certificate for other.example only: refused for 127.0.0.1, accepted with
        --sni other.example (which the server sees as the SNI)."""
        names = []
        server = self.serve(server_context("other_host.pem", names_seen=names))
        report = self.run_failing(server.url(), "--ca", pki().path("ca.pem"))
        self.check_verify_failure(report, "IP address mismatch")
        report = self.run_failing(server.url("localhost"), "--ca", pki().path("ca.pem"))
        self.check_verify_failure(report, "hostname mismatch")
        # No SNI for an IP address (RFC 6066), the URL's host name otherwise.
        self.assertEqual(names, [None] * 3 + ["localhost"] * 3)
        status, report, out, err = run_load(server.url(), "--connections", 2, "--duration", 0.5,
                                            "--sni", "other.example", "--ca", pki().path("ca.pem"))
        check_clean_tls_run(self, status, report, out, err, 2)
        self.assertEqual(report["parameters"]["tls"]["sni"], "other.example")
        self.assertEqual(names[6:], ["other.example", "other.example"])

    def test_unknown_ca_without_flags_uses_the_system_store(self):
        """No TLS flags: verified against the system store, which does not know the test CA."""
        server = self.serve(server_context())
        report = self.run_failing(server.url())
        self.check_verify_failure(report, "local issuer")
        self.assertIsNone(report["parameters"]["tls"]["ca"])

    def test_self_signed_needs_insecure(self):
        server = self.serve(server_context("self_signed.pem"))
        report = self.run_failing(server.url(), "--ca", pki().path("ca.pem"))
        self.check_verify_failure(report, "certificate")
        status, report, out, err = run_load(server.url(), "--connections", 3, "--duration", 0.5, "--insecure")
        check_clean_tls_run(self, status, report, out, err, 3)
        self.assertTrue(report["parameters"]["tls"]["insecure"])
        self.assertIn("not verified", out)

    def test_no_shared_version(self):
        """--tls-min 1.3 against a server capped at TLS 1.2: the server refuses (Python's asyncio
        drops the connection without sending its protocol_version alert)."""
        server = self.serve(server_context(max_version=ssl.TLSVersion.TLSv1_2))
        report = self.run_failing(server.url(), "--tls-min", "1.3", "--ca", pki().path("ca.pem"))
        failures = report["tls"]["failures"]
        self.assertEqual(failures["protocol_version"] + failures["peer_alert"] + failures["eof_in_handshake"], 3,
                         failures)

    def test_plain_websocket_server_given_wss(self):
        """A ws:// server answers the ClientHello with HTTP (or hangs up): not TLS, no crash."""
        server = self.serve(None)
        report = self.run_failing("wss://127.0.0.1:%d/" % server.port, "--insecure")
        failures = report["tls"]["failures"]
        self.assertEqual(failures["not_tls"] + failures["eof_in_handshake"], 3, failures)

    def test_plain_tcp_server_that_never_answers(self):
        """TCP accepted, the ClientHello never answered: a handshake timeout naming TLS."""
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        status, report, out, err = run_load("wss://127.0.0.1:%d/" % listener.getsockname()[1], "--connections", 2,
                                            "--duration", 1, "--handshake-timeout", 0.5, "--insecure", timeout=30)
        check_no_crash(self, status, out, err)
        self.assertEqual(status, 1, out + err)
        self.assertEqual(report["errors"]["handshake_timeout"], 2, report["errors"])
        self.assertIn("TLS handshake", report["error_details"]["handshake_timeout"])


class LoadOverTlsNode(unittest.TestCase):
    """A second TLS server: node's ws on https.createServer (Debian nodejs, node-ws)."""
    backend_independent = True

    SCRIPT = r"""
const https = require('https');
const fs = require('fs');
const { WebSocketServer } = require('ws');
const server = https.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]) });
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
server.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port));
setTimeout(() => process.exit(0), Number(process.argv[3]) * 1000);
"""

    def setUp(self):
        if NODE is None or not os.path.isdir(os.path.join(NODE_PATH, "ws")):
            self.skipTest("node or node-ws not installed")
        self.node = subprocess.Popen([NODE, "-e", self.SCRIPT, pki().path("server.key"), pki().path("good.pem"), "120"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=dict(os.environ, NODE_PATH=NODE_PATH))
        self.addCleanup(self.stop_node)
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.node.stdout.readline()), daemon=True)
        reader.start()
        reader.join(bound(15))
        if not line[0] or not line[0].startswith(b"PORT "):
            raise AssertionError("node TLS server did not start: %r" % (line[0],))
        self.port = int(line[0].split()[1])

    def stop_node(self):
        self.node.kill()
        self.node.wait(10)

    def test_echo_and_resumption(self):
        url = "wss://localhost:%d/" % self.port
        status, report, out, err = run_load(url, "--connections", 4, "--duration", 1, "--pipeline", 2,
                                            "--size", "16-64K", "--ca", pki().path("ca.pem"))
        check_clean_tls_run(self, status, report, out, err, 4)
        status, report, out, err = run_load(url, "--connections", 2, "--duration", 1, "--handshake-only",
                                            "--tls-resume", "--ca", pki().path("ca.pem"))
        self.assertEqual(status, 0, out + err)
        self.assertGreater(report["tls"]["resumed"], 0, report["tls"])


class LoadTlsCommandLine(unittest.TestCase):
    """Bad TLS arguments: exit status 2 and one line on stderr naming the flag."""
    backend_independent = True

    def check_bad(self, args, flag):
        done = subprocess.run([load_binary()] + args, capture_output=True, timeout=bound(10))
        lines = [line for line in done.stderr.decode().splitlines() if line.strip()]
        self.assertEqual(done.returncode, 2, (args, done.stderr))
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(flag, lines[0])

    def test_bad_tls_arguments(self):
        url = "wss://127.0.0.1:1/"
        self.check_bad([url, "--ca", pki().path("missing.pem")], "--ca")
        self.check_bad([url, "--ca", pki().path("not_pem.txt")], "--ca")
        self.check_bad([url, "--ca", pki().dir], "--ca")
        self.check_bad([url, "--tls-min", "1.1"], "--tls-min")
        self.check_bad([url, "--tls-max", "2"], "--tls-max")
        self.check_bad([url, "--tls-min", "1.3", "--tls-max", "1.2"], "--tls-min")
        self.check_bad([url, "--sni", "bad name"], "--sni")
        self.check_bad([url, "--tls-ciphersuites", "TLS_AES_128_GCM"], "--tls-ciphersuites")
        self.check_bad([url, "--tls-ciphersuites", ""], "--tls-ciphersuites")
        self.check_bad(["ws://127.0.0.1:1/", "--tls-ciphersuites", "TLS_AES_128_GCM_SHA256"], "--tls-ciphersuites")
        self.check_bad([url, "--insecure", "--ca", pki().path("ca.pem")], "--ca")
        self.check_bad(["ws://127.0.0.1:1/", "--insecure"], "--insecure")
        self.check_bad(["ws://127.0.0.1:1/", "--tls-resume"], "--tls-resume")

    def test_ws_report_has_no_tls_part(self):
        """A ws:// run: upgrade_us as always, parameters.tls null, no TLS figures."""
        server = AsyncioEchoServer(echo).start()
        self.addCleanup(server.stop)
        status, report, out, err = run_load(server.url(), "--connections", 2, "--duration", 0.3)
        self.assertEqual(status, 0, out + err)
        self.assertIsNone(report["parameters"]["tls"])
        self.assertNotIn("tls", report)
        self.assertNotIn("tls_handshake_us", report)
        self.assertEqual(report["upgrade_us"]["count"], 2)
        self.assertNotIn("tls handshake", out)


if __name__ == "__main__":
    unittest.main()
