"""wss:// end to end: wsring-echo with --tls-listen against Python websockets, node's ws, curl,
openssl s_client and raw TLS clients; client-side certificate checks; bad input on the TLS
port; the WebSocket life cycle over TLS (closes, timers, HTTP errors, backpressure, shutdown,
the connection limit); start-up errors; certificate reload on SIGHUP; 1,000 concurrent wss
connections; session resumption with a ticket key file shared by two servers.

The test PKI is made with the openssl command in a temporary directory, once per run: a CA,
server certificates for 127.0.0.1 and localhost signed by it (ECDSA P-256; a second one with
another serial and CN for the reload test; an RSA one), an expired one and one for another
host."""

import asyncio
import atexit
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from wsharness import (MiB, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RawClient, ServerTestCase,
                       accept_key, bound, build_frame, close_payload, connect, pattern_bytes, raise_fd_limit,
                       read_http_response, run_server_command, scaled, upgrade_request, valid_utf8_text,
                       wait_for_eof)

try:
    import websockets
except ImportError:  # reported as a skip, not hidden
    websockets = None

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
NODE = shutil.which("node")
NODE_PATH = "/usr/share/nodejs"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TLS_CORPUS = os.path.join(REPO_ROOT, "tests", "fuzz", "corpus", "tls")

HANDSHAKE_TIMEOUT_S = 1.0  # --handshake-timeout of the servers that face bad input
ALERT_PROTOCOL_VERSION = 70


# ----------------------------------------------------------------------------- test PKI

class CertificateFiles:
    """A CA and the server certificates the tests use, as files in one temporary directory.
    Certificate names: server (ECDSA P-256, serial 1001), second (ECDSA, serial 2002, another
    CN and key), rsa (RSA 2048), expired (not valid after yesterday), wrong_host (for
    wrong.example only). Each has <name>.pem and <name>.key."""

    HOSTS = "IP:127.0.0.1,DNS:localhost"

    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="wsring-tls-test-")
        atexit.register(shutil.rmtree, self.directory, True)
        self.ca = self.path("ca.pem")
        self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", self.path("ca.key"), "-out", self.ca, "-days", "30",
                     "-subj", "/CN=wsring test CA")
        self.issue("server", 1001, "wsring test server")
        self.issue("second", 2002, "wsring test server two")
        self.issue("rsa", 3003, "wsring test server rsa", key="rsa")
        self.issue("expired", 4004, "wsring test server expired", days=-1)
        self.issue("wrong_host", 5005, "wrong.example", hosts="DNS:wrong.example")

    def path(self, name):
        return os.path.join(self.directory, name)

    def cert(self, name):
        return self.path(name + ".pem")

    def key(self, name):
        return self.path(name + ".key")

    def der(self, name):
        with open(self.cert(name)) as handle:
            return ssl.PEM_cert_to_DER_cert(handle.read())

    def openssl(self, *args):
        result = subprocess.run([OPENSSL] + list(args), capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError("openssl %s failed: %s" % (" ".join(args), result.stderr.strip()))

    def issue(self, name, serial, common_name, hosts=HOSTS, key="ec", days=30):
        """A server certificate for `hosts` signed by the CA. days=-1: expired since yesterday."""
        if key == "ec":
            self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.key(name))
        else:
            self.openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.key(name))
        extensions = self.path(name + ".ext")
        with open(extensions, "w") as handle:
            handle.write("subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\n"
                         "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
                         "authorityKeyIdentifier=keyid\n" % hosts)
        request = self.path(name + ".csr")
        self.openssl("req", "-new", "-key", self.key(name), "-subj", "/CN=" + common_name, "-out", request)
        self.openssl("x509", "-req", "-in", request, "-CA", self.ca, "-CAkey", self.path("ca.key"),
                     "-set_serial", str(serial), "-days", str(days), "-extfile", extensions,
                     "-out", self.cert(name))


_pki = None


def shared_pki():
    global _pki
    if OPENSSL is None:
        raise unittest.SkipTest("the openssl command is not installed")
    if _pki is None:
        _pki = CertificateFiles()
    return _pki




def tls_args(pki, name="server", listeners=1):
    args = []
    for _ in range(listeners):
        args += ["--tls-listen", "127.0.0.1:0"]
    return args + ["--tls-cert", pki.cert(name), "--tls-key", pki.key(name)]


def strict_context():
    """A client context on which an end of stream without close_notify is an error
    (ssl.SSLError UNEXPECTED_EOF_WHILE_READING), not a clean end: Python's default ignores it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    return context


def client_context(pki=None, maximum=None, minimum=None, ciphers=None):
    """A client context verifying the server against the test CA (pki None: the system store)."""
    context = strict_context()
    if pki is not None:
        context.load_verify_locations(pki.ca)
    if minimum is not None:
        context.minimum_version = minimum
    if maximum is not None:
        context.maximum_version = maximum
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


def insecure_context():
    context = strict_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def real_client_hello():
    """The ClientHello a default Python client sends (TLS 1.2 and 1.3 offered)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = insecure_context().wrap_bio(incoming, outgoing)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    if not hello.startswith(b"\x16\x03"):
        raise AssertionError("not a ClientHello record: %r" % hello[:8])
    return hello


def corpus_client_hello(name):
    """A captured ClientHello from the fuzz corpus (its first byte selects the fuzzer's mode)."""
    with open(os.path.join(TLS_CORPUS, name), "rb") as handle:
        data = handle.read()[1:]
    if not data.startswith(b"\x16\x03"):
        raise AssertionError("%s is not a ClientHello record: %r" % (name, data[:8]))
    return data


def stopped_line(server):
    for line in reversed(server.log().splitlines()):
        if "stopped:" in line:
            return line
    raise AssertionError("no 'stopped:' line in the server log\n" + server.log_tail())


def count_in(line, pattern):
    """The number before `pattern` in a summary line ("3 TLS failures"), 0 if absent."""
    match = re.search(r"(\d+) %s" % pattern, line)
    return int(match.group(1)) if match else 0


# ----------------------------------------------------------------------------- base class

class TlsTestCase(ServerTestCase):
    """A shared server serving wss:// with the ECDSA test certificate, plus extra_args."""
    extra_args = ()
    certificate = "server"

    @classmethod
    def setUpClass(cls):
        cls.pki = shared_pki()
        cls.server_args = tuple(tls_args(cls.pki, cls.certificate)) + tuple(cls.extra_args)
        super().setUpClass()

    def context(self, **kw):
        return client_context(self.pki, **kw)

    def assert_serves_wss(self, server=None, context=None, text="still serving"):
        """A good wss client is served: upgrade, one echo, close 1000, close_notify."""
        client = self.tls_client(context or self.context(), server=server)
        client.echo(OP_TEXT, text)
        client.send_close(1000)
        self.expect_clean_close(client, 1000)

    def expect_clean_close(self, client, code):
        """The close reply carries `code`, then the server's close_notify, then TCP close."""
        try:
            client.expect_close(code)
        except ssl.SSLError as error:
            if "UNEXPECTED_EOF" in str(error) or isinstance(error, ssl.SSLEOFError):
                raise AssertionError("the server closed TCP without a TLS close_notify: %s" % error)
            raise

    def run_async(self, coroutine, seconds=20.0):
        return asyncio.run(asyncio.wait_for(coroutine, bound(seconds)))


def exchange_raw(server, data, eof_timeout):
    """Sends `data` to the TLS port over plain TCP; returns (closed, bytes received, seconds
    from before the connect to the close: never less than a server timeout counted from the
    accept)."""
    started = time.monotonic()
    sock = connect(server.host, server.tls_port, bound(5.0))
    try:
        sock.sendall(data)
        closed, received = wait_for_eof(sock, eof_timeout)
        return closed, received, time.monotonic() - started
    finally:
        sock.close()


def alerts_in(data):
    """(level, description) of each alert record at the start of `data`; other records end it."""
    alerts = []
    while len(data) >= 7 and data[0] == 0x15:
        length = int.from_bytes(data[3:5], "big")
        if length == 2:
            alerts.append((data[5], data[6]))
        data = data[5 + length:]
    return alerts


class BioTlsClient:
    """A TLS client driven by hand over a plain socket (ssl.MemoryBIO): the test decides when
    and in what pieces each byte of ciphertext leaves, and may stop anywhere."""

    def __init__(self, sock, context, server_hostname="127.0.0.1", piece=None):
        self.sock = sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=server_hostname)
        self.piece = piece  # send ciphertext in TCP writes of this many bytes (None: at once)

    def send_pending(self):
        data = self.outgoing.read()
        if not self.piece:
            self.sock.sendall(data)
            return
        for start in range(0, len(data), self.piece):
            self.sock.sendall(data[start:start + self.piece])
            time.sleep(0.0005)  # separate segments, most of the time

    def receive(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.incoming.write(data)

    def handshake(self, send_finished=True):
        """Runs the handshake. send_finished=False stops before the client's last flight
        (its Finished) leaves: the server then waits for it."""
        deadline = time.monotonic() + bound(5.0)
        for _ in range(100):
            try:
                self.tls.do_handshake()
                if send_finished:
                    self.send_pending()
                return
            except ssl.SSLWantReadError:
                pass
            self.send_pending()
            self.receive(deadline)
        raise AssertionError("the TLS handshake did not complete in 100 reads")

    def write(self, data):
        self.tls.write(data)
        self.send_pending()

    def send_close_notify(self):
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # the server's close_notify is read later
        self.send_pending()

    def read_to_end(self, seconds):
        """Plaintext until the server's close_notify. Returns (plaintext, how the stream
        ended: "close_notify", "eof" (TCP closed without close_notify) or "timeout")."""
        deadline = time.monotonic() + seconds
        plain = bytearray()
        for _ in range(100000):
            try:
                plain += self.tls.read(65536)
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return bytes(plain), "close_notify"
            try:
                self.receive(deadline)
            except socket.timeout:
                return bytes(plain), "timeout"
            except (ConnectionError, OSError):
                return bytes(plain), "eof"
        raise AssertionError("read_to_end: too many records")


# ----------------------------------------------------------------------------- 1. websockets

class PythonWebsocketsOverTls(TlsTestCase):
    """Python websockets with an ssl.SSLContext that verifies the test CA."""

    def setUp(self):
        super().setUp()
        if websockets is None:
            self.skipTest("python websockets not installed")

    def connect(self, **kw):
        return websockets.connect(self.server.wss_url("/"), ssl=self.context(), max_size=None,
                                  compression=None, ping_interval=None, **kw)

    def test_echo_text_and_binary_of_every_length_class(self):
        """Text and binary of 0 B, 1 B, 125, 126, 65535, 65536, 1 MiB and 16 MiB come back
        byte-exact over TLS."""
        sizes = (0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20)

        async def scenario():
            async with self.connect() as ws:
                for size in sizes:
                    text = valid_utf8_text(size, seed=size).decode("utf-8")
                    await ws.send(text)
                    echoed = await ws.recv()
                    self.assertIsInstance(echoed, str, "text echo of %d bytes" % size)
                    self.assertTrue(echoed == text, "text echo of %d bytes differs" % size)
                    data = pattern_bytes(size, seed=size)
                    await ws.send(data)
                    echoed = await ws.recv()
                    self.assertIsInstance(echoed, bytes, "binary echo of %d bytes" % size)
                    self.assertTrue(echoed == data, "binary echo of %d bytes differs (got %d bytes)"
                                    % (size, len(echoed)))
                await ws.close(1000)
        self.run_async(scenario(), 120.0)

    def test_fragmented_messages(self):
        """Messages sent in fragments (text, binary with an empty fragment, 3 x 100 KB) come
        back whole."""
        big = [pattern_bytes(100 * 1000, seed=i) for i in range(3)]

        async def scenario():
            async with self.connect() as ws:
                await ws.send(["frag", "ment", "ed ", "é"])
                self.assertEqual(await ws.recv(), "fragmented é")
                await ws.send([b"\x00\x01", b"", b"\xff"])
                self.assertEqual(await ws.recv(), b"\x00\x01\xff")
                await ws.send(big)
                self.assertTrue(await ws.recv() == b"".join(big), "300 KB fragmented echo differs")
        self.run_async(scenario())

    def test_ping_pong(self):
        """Pings (empty and with 125 bytes) are answered with their payload."""
        async def scenario():
            async with self.connect() as ws:
                for payload in (b"", b"tls-ping", bytes(range(125))):
                    pong = await ws.ping(payload)
                    await asyncio.wait_for(pong, bound(5.0))
                await ws.send("after the pings")
                self.assertEqual(await ws.recv(), "after the pings")
        self.run_async(scenario())

    def test_close_handshake_1000_both_ways(self):
        """The client's close 1000 is answered with 1000; websockets sees a clean close."""
        async def scenario():
            ws = await self.connect()
            await ws.send("before close")
            self.assertEqual(await ws.recv(), "before close")
            await ws.close(1000, "done")
            return ws
        ws = self.run_async(scenario())
        self.assertEqual(ws.close_sent.code, 1000)
        self.assertIsNotNone(ws.close_rcvd, "no close frame from the server")
        self.assertEqual(ws.close_rcvd.code, 1000)
        self.assertFalse(ws.close_rcvd_then_sent, "the server should answer our close, not start one")

    def test_close_reply_is_followed_by_close_notify(self):
        """Raw TLS client: close 1000 is echoed, then the server ends TLS with close_notify
        before the TCP close (an unclean end would raise SSLEOFError)."""
        client = self.tls_client(self.context())
        client.echo(OP_BINARY, b"\x00raw tls\xff")
        client.send_close(1000, "bye")
        self.expect_clean_close(client, 1000)

    def test_plain_port_still_serves_alongside(self):
        """ws:// on --listen and wss:// on --tls-listen serve at the same time."""
        plain = self.client()
        secure = self.tls_client(self.context())
        plain.echo(OP_TEXT, "plain")
        secure.echo(OP_TEXT, "secure")
        plain.echo(OP_BINARY, b"plain again")
        secure.echo(OP_BINARY, b"secure again")

    def test_tls_listener_on_ipv6_loopback(self):
        """--tls-listen [::1]:0 serves wss:// over IPv6 (the certificate names localhost)."""
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback here")
        finally:
            probe.close()
        server = self.start_server("--tls-listen", "[::1]:0", "--tls-cert", self.pki.cert("server"),
                                   "--tls-key", self.pki.key("server"))
        self.assertEqual(server.tls_hosts, ["::1"], server.log_tail())
        client = self.tls_client(self.context(), server=server, server_hostname="localhost")
        client.echo(OP_TEXT, "over ::1")

    def test_two_tls_listeners(self):
        """--tls-listen twice: both ports serve wss://."""
        server = self.start_server(*tls_args(self.pki, listeners=2))
        self.assertEqual(len(server.tls_ports), 2, server.log_tail())
        self.assertNotEqual(server.tls_ports[0], server.tls_ports[1])
        for index in (0, 1):
            client = self.tls_client(self.context(), server=server, index=index)
            client.echo(OP_TEXT, "listener %d" % index)


# ----------------------------------------------------------------------------- 2. node ws

# Connects with the test CA (argv: url, CA file, time limit in ms); sends a text and a 100 KB
# binary message, checks both echoes byte-exact, pings, closes with 1000, prints one line.
NODE_WSS_SCRIPT = r"""
const fs = require('fs');
const WebSocket = require('ws');
const [url, caFile, limit] = process.argv.slice(1);
const text = 'héllo wss – ' + '0123456789'.repeat(100);
const binary = Buffer.alloc(100 * 1024);
for (let i = 0; i < binary.length; i++) binary[i] = (i * 131 + 7) & 0xff;
const options = caFile === '-' ? {} : { ca: fs.readFileSync(caFile) };
const ws = new WebSocket(url, options);
const received = [];
let pongs = 0;
const fail = (why) => { console.log('FAIL ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), Number(limit));
ws.on('error', (e) => { console.log('ERROR ' + (e.code || e.message)); process.exit(3); });
ws.on('open', () => { ws.send(text); ws.send(binary); ws.ping(Buffer.from('node-ping')); });
ws.on('pong', (data) => { if (data.toString() === 'node-ping') pongs++; });
ws.on('message', (data, isBinary) => {
  received.push([data, isBinary]);
  if (received.length < 2) return;
  const [t, b] = received;
  if (t[1] || t[0].toString('utf8') !== text) fail('text echo differs');
  if (!b[1] || !Buffer.from(b[0]).equals(binary)) fail('binary echo differs');
  ws.close(1000, 'done');
});
ws.on('close', (code) => {
  if (received.length !== 2) fail('closed early with ' + code);
  if (code !== 1000) fail('close code ' + code);
  if (pongs !== 1) fail('pongs ' + pongs);
  console.log('OK');
  process.exit(0);
});
"""


class NodeWsOverTls(TlsTestCase):

    def setUp(self):
        super().setUp()
        if NODE is None or not os.path.isdir(os.path.join(NODE_PATH, "ws")):
            self.skipTest("node or node-ws not installed")

    def run_node(self, url, ca_file):
        env = dict(os.environ, NODE_PATH=NODE_PATH)
        env.pop("NODE_EXTRA_CA_CERTS", None)
        limit_ms = int(bound(10.0) * 1000)
        try:
            return subprocess.run([NODE, "-e", NODE_WSS_SCRIPT, url, ca_file, str(limit_ms)], env=env,
                                  capture_output=True, text=True, timeout=bound(15.0))
        except subprocess.TimeoutExpired:
            raise AssertionError("node client did not finish")

    def test_node_ws_echo_and_close(self):
        """node ws with `ca`: text and 100 KB binary echoed, ping answered, close 1000."""
        result = self.run_node(self.server.wss_url("/"), self.pki.ca)
        self.assertEqual((result.returncode, result.stdout.strip()), (0, "OK"), result.stderr)

    def test_node_ws_without_the_ca_refuses(self):
        """node ws without the test CA refuses the certificate; the server survives."""
        result = self.run_node(self.server.wss_url("/"), "-")
        self.assertEqual(result.returncode, 3, "expected a TLS error: %s %s" % (result.stdout, result.stderr))
        self.assertIn("ERROR", result.stdout)
        self.assert_serves_wss()


# ----------------------------------------------------------------------------- 3. curl

class CurlOverTls(TlsTestCase):

    def setUp(self):
        super().setUp()
        if CURL is None:
            self.skipTest("curl not installed")

    def curl(self, *args):
        try:
            return subprocess.run([CURL, "-sS", "--max-time", str(int(bound(10.0))), "-o", "-",
                                   "-w", "\n%{http_code}"] + list(args),
                                  capture_output=True, text=True, timeout=bound(15.0))
        except subprocess.TimeoutExpired:
            raise AssertionError("curl did not finish")

    def check_page(self, result):
        self.assertEqual(result.returncode, 0, "curl: %s" % result.stderr)
        body, _, status = result.stdout.rpartition("\n")
        self.assertEqual(status, "200", result.stdout[-300:])
        self.assertIn("<title>wsring echo</title>", body)

    def test_get_echo_page_by_ip(self):
        """curl --cacert GET https://127.0.0.1:PORT/ returns the echo page (200)."""
        self.check_page(self.curl("--cacert", self.pki.ca, "https://127.0.0.1:%d/" % self.server.tls_port))

    def test_get_echo_page_by_name(self):
        """The certificate's DNS name (localhost, pinned to 127.0.0.1) verifies too."""
        port = self.server.tls_port
        self.check_page(self.curl("--cacert", self.pki.ca, "--resolve", "localhost:%d:127.0.0.1" % port,
                                  "https://localhost:%d/" % port))

    def test_without_the_ca_curl_refuses(self):
        """With a CA file that lacks the test CA curl cannot verify the server (exit 60); the
        server survives."""
        result = self.curl("--capath", self.pki.directory, "--cacert", self.pki.cert("rsa"),
                           "https://127.0.0.1:%d/" % self.server.tls_port)
        self.assertEqual(result.returncode, 60, "curl: %s %s" % (result.stdout[-200:], result.stderr))
        self.assert_serves_wss()


# ----------------------------------------------------------------------------- 4. verification

class ClientSideVerification(TlsTestCase):
    """A client that cannot verify the server refuses to connect; the server survives it."""

    def expect_verify_failure(self, context, server=None, server_hostname=None, reason=None):
        server = server or self.server
        with self.assertRaises(ssl.SSLCertVerificationError) as caught:
            RawClient(server.host, server.tls_port, tls_context=context, server_hostname=server_hostname).close()
        if reason:
            self.assertIn(reason, str(caught.exception))
        return caught.exception

    def test_client_expecting_another_host(self):
        """A client that wants wrong.example refuses the 127.0.0.1/localhost certificate."""
        self.expect_verify_failure(self.context(), server_hostname="wrong.example", reason="mismatch")
        self.assert_serves_wss()

    def test_server_with_a_certificate_for_another_host(self):
        """The server's certificate names wrong.example: a client of 127.0.0.1 refuses it; a
        client that asks for wrong.example is served."""
        server = self.start_server(*tls_args(self.pki, "wrong_host"))
        self.expect_verify_failure(self.context(), server=server, reason="mismatch")
        client = self.tls_client(self.context(), server=server, server_hostname="wrong.example")
        client.echo(OP_TEXT, "right name")
        self.assertTrue(server.alive())

    def test_expired_certificate(self):
        """An expired certificate is refused by a verifying client."""
        server = self.start_server(*tls_args(self.pki, "expired"))
        self.expect_verify_failure(self.context(), server=server, reason="expired")
        self.tls_client(insecure_context(), server=server).echo(OP_TEXT, "not verified")

    def test_client_without_the_ca(self):
        """A client verifying with the system store only (no test CA) refuses."""
        self.expect_verify_failure(client_context(None), reason="certificate verify failed")
        self.assert_serves_wss()

    def test_rsa_certificate(self):
        """A server with an RSA certificate serves TLS 1.3 and TLS 1.2 (ECDHE-RSA); a TLS 1.2
        client that accepts only ECDSA suites finds no shared cipher."""
        server = self.start_server(*tls_args(self.pki, "rsa"))
        self.assert_serves_wss(server, text="rsa tls1.3")
        tls12_rsa = self.context(maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-RSA-AES128-GCM-SHA256")
        client = self.tls_client(tls12_rsa, server=server)
        self.assertEqual(client.sock.version(), "TLSv1.2")
        client.echo(OP_TEXT, "rsa tls1.2")
        tls12_ecdsa = self.context(maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
        with self.assertRaises(ssl.SSLError):
            RawClient(server.host, server.tls_port, tls_context=tls12_ecdsa).close()
        self.assert_serves_wss(server, text="after the refused suite")

    def test_ecdsa_certificate_over_tls12(self):
        """The ECDSA server serves a TLS 1.2 client (ECDHE-ECDSA) too."""
        tls12 = self.context(maximum=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
        client = self.tls_client(tls12)
        self.assertEqual(client.sock.version(), "TLSv1.2")
        client.echo(OP_TEXT, "ecdsa tls1.2")
        client.send_close(1000)
        self.expect_clean_close(client, 1000)


# ----------------------------------------------------------------------------- 5. bad input

class BadInputOnTlsPort(TlsTestCase):
    """Each bad input closes its connection without harming the server, which then serves a
    good wss client."""
    extra_args = ("--handshake-timeout", "%gs" % HANDSHAKE_TIMEOUT_S)

    def expect_closed(self, data, eof_timeout=None):
        closed, received, _ = exchange_raw(self.server, data, eof_timeout or bound(3.0))
        self.assertTrue(closed, "the server kept the connection open after %r..." % data[:20])
        self.assertNotIn(b"HTTP/", received, "the TLS port answered in plaintext")
        return received

    def test_plain_http_get(self):
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        received = self.expect_closed(request)
        self.assertTrue(received == b"" or alerts_in(received), "not an alert: %r" % received[:40])
        self.assert_serves_wss()

    def test_plain_websocket_upgrade(self):
        received = self.expect_closed(self.request(self.server))
        self.assertTrue(received == b"" or alerts_in(received), "not an alert: %r" % received[:40])
        self.assert_serves_wss()

    def test_random_garbage(self):
        """1 KB of (seeded) random bytes."""
        garbage = bytes(random.Random(6455).getrandbits(8) for _ in range(1024))
        self.expect_closed(garbage, eof_timeout=bound(HANDSHAKE_TIMEOUT_S + 3.0))
        self.assert_serves_wss()

    def test_truncated_client_hello_then_silence(self):
        """The first 40 bytes of a real ClientHello, then nothing: --handshake-timeout closes it."""
        closed, received, seconds = exchange_raw(self.server, real_client_hello()[:40],
                                                 bound(HANDSHAKE_TIMEOUT_S + 3.0))
        self.assertTrue(closed, "not closed by the handshake timeout")
        self.assertEqual(received, b"", "the server answered half a ClientHello")
        self.assertGreater(seconds, HANDSHAKE_TIMEOUT_S * 0.8, "closed before the handshake timeout")
        self.assert_serves_wss()

    def check_refused_version(self, hello_name):
        received = self.expect_closed(corpus_client_hello(hello_name))
        self.assertIn((2, ALERT_PROTOCOL_VERSION), alerts_in(received),
                      "expected a fatal protocol_version alert, got %r" % received[:40])

    def test_tls10_client_hello(self):
        """A captured TLS 1.0 ClientHello gets a fatal protocol_version alert."""
        self.check_refused_version("client_hello_tls10")
        self.assert_serves_wss()

    def test_tls11_client_hello(self):
        self.check_refused_version("client_hello_tls11")
        self.assert_serves_wss()

    def test_tls11_only_python_client(self):
        """Python ssl limited to TLS 1.0-1.1 fails with the server's protocol_version alert (or,
        if this OpenSSL refuses to offer those versions at all, the captured hello is used)."""
        context = insecure_context()
        try:
            with warnings.catch_warnings():  # the versions are deprecated: that is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.TLSv1
                context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            context = None
        if context is not None:
            try:
                RawClient(self.server.host, self.server.tls_port, tls_context=context).close()
            except ssl.SSLError as error:
                text = str(error)
                if "PROTOCOL_VERSION" not in text.upper() and "NO_PROTOCOLS" not in text.upper():
                    raise AssertionError("unexpected TLS error: %s" % text)
                if "NO_PROTOCOLS" in text.upper():
                    context = None  # the client library refused to try
            else:
                self.fail("a TLS 1.0/1.1 client completed a handshake")
        if context is None:
            self.check_refused_version("client_hello_tls10")
        self.assert_serves_wss()

    def test_client_stops_mid_handshake(self):
        """ClientHello sent, the server's flight read, the client's Finished never sent: the
        handshake timeout closes the connection."""
        started = time.monotonic()  # the server's deadline counts from its accept, after this
        sock = connect(self.server.host, self.server.tls_port, bound(5.0))
        try:
            BioTlsClient(sock, self.context()).handshake(send_finished=False)
            closed, _ = wait_for_eof(sock, bound(HANDSHAKE_TIMEOUT_S + 3.0))
            self.assertTrue(closed, "a stalled handshake was not closed")
            self.assertGreater(time.monotonic() - started, HANDSHAKE_TIMEOUT_S * 0.8)
        finally:
            sock.close()
        self.assert_serves_wss()

    def test_client_closes_mid_handshake(self):
        """The client hangs up after the server's first flight."""
        sock = connect(self.server.host, self.server.tls_port, bound(5.0))
        try:
            BioTlsClient(sock, self.context()).handshake(send_finished=False)
        finally:
            sock.close()
        self.assert_serves_wss()

    def test_client_closes_tcp_without_close_notify(self):
        """After the upgrade and an echo, the client sends FIN without close_notify (a
        truncation): the server closes its side."""
        client = self.tls_client(self.context())
        client.echo(OP_TEXT, "then FIN")
        client.sock.shutdown(socket.SHUT_WR)  # SSLSocket.shutdown drops TLS: a bare FIN
        closed, _ = wait_for_eof(client.sock, bound(5.0))
        self.assertTrue(closed, "the server kept a truncated TLS connection open")
        self.assert_serves_wss()

    def test_client_resets_after_upgrade(self):
        """After the upgrade the client resets the connection (RST)."""
        client = self.tls_client(self.context())
        client.echo(OP_TEXT, "then RST")
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.sock.close()
        self.assert_serves_wss()


    def test_bad_records_after_upgrade(self):
        """After the upgrade: a record whose MAC fails, one longer than TLS allows, a plaintext
        alert and a plaintext handshake record each end the connection with the right alert."""
        cases = [("tampered", lambda data: data[:-1] + bytes([data[-1] ^ 1]), "BAD_RECORD_MAC"),
                 ("oversized", lambda data: b"\x17\x03\x03\x48\x01" + bytes(100), "RECORD_OVERFLOW"),
                 ("plaintext alert", lambda data: b"\x15\x03\x03\x00\x02\x02\x28", "UNEXPECTED_MESSAGE"),
                 ("plaintext handshake", lambda data: b"\x16\x03\x03\x00\x04\x01\x00\x00\x00",
                  "UNEXPECTED_MESSAGE")]
        for name, corrupt, alert in cases:
            with self.subTest(name):
                sock = connect(self.server.host, self.server.tls_port, bound(5.0))
                try:
                    client = BioTlsClient(sock, self.context())
                    client.handshake()
                    client.write(upgrade_request(self.server.tls_host_header())[0])
                    client.tls.write(build_frame(OP_TEXT, b"x" * 50))
                    sock.sendall(corrupt(client.outgoing.read()))
                    with self.assertRaises(ssl.SSLError) as caught:
                        client.read_to_end(bound(5.0))
                    self.assertIn(alert, str(caught.exception))
                finally:
                    sock.close()
        self.assert_serves_wss()


class TlsFailureCount(TlsTestCase):
    shared_server = False

    def test_failures_counted_in_the_stopped_line(self):
        """After bad input of each kind, the SIGTERM summary counts TLS failures."""
        server = self.start_server(*tls_args(self.pki), "--handshake-timeout", "%gs" % HANDSHAKE_TIMEOUT_S)
        bad_inputs = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)) * 4,
                      corpus_client_hello("client_hello_tls10")]
        for data in bad_inputs:
            closed, _, _ = exchange_raw(server, data, bound(HANDSHAKE_TIMEOUT_S + 3.0))
            self.assertTrue(closed, "open after %r..." % data[:20])
        truncated = self.tls_client(self.context(), server=server)
        truncated.echo(OP_TEXT, "truncated next")
        truncated.sock.shutdown(socket.SHUT_WR)
        self.assertTrue(wait_for_eof(truncated.sock, bound(5.0))[0])
        self.assert_serves_wss(server)
        self.assertEqual(server.stop(), 0, server.log_tail())
        line = stopped_line(server)
        failures = count_in(line, "TLS failures?")
        self.assertGreaterEqual(failures, len(bad_inputs) + 1, line)
        self.assertGreaterEqual(count_in(line, "TLS handshakes?"), 2, line)


# ----------------------------------------------------------------------------- WebSocket over TLS

class WebSocketLifeOverTls(TlsTestCase):
    """The engine's paths other than a plain echo, through TLS: closes it starts, timers,
    HTTP errors, the echo page, the peer's close_notify, odd record and segment boundaries,
    backpressure, shutdown and the connection limit."""

    def test_message_too_big_closes_1009(self):
        server = self.start_server(*tls_args(self.pki), "--max-message-size", "64K")
        client = self.tls_client(self.context(), server=server)
        client.send_frame(OP_BINARY, bytes(64 * 1024 + 1))
        self.expect_clean_close(client, 1009)
        self.assert_serves_wss(server)

    def test_protocol_error_closes_1002(self):
        client = self.tls_client(self.context())
        client.send_frame(OP_TEXT, b"unmasked", masked=False)
        self.expect_clean_close(client, 1002)

    def test_server_pings_and_ping_timeout(self):
        """--ping-interval: the server's ping (timer output) arrives; answered, the connection
        lives on; unanswered, it is closed with 1001 and close_notify."""
        server = self.start_server(*tls_args(self.pki), "--ping-interval", "200ms")
        client = self.tls_client(self.context(), server=server)
        ping = client.recv_message(timeout=bound(3.0))
        self.assertEqual(ping.opcode, OP_PING, ping)
        client.send_frame(OP_PONG, ping.payload)
        client.echo(OP_TEXT, "after the pong")
        code, reason, before = client.expect_close(1001, timeout=bound(5.0), allow_before=True)
        self.assertTrue(all(m.opcode == OP_PING for m in before), before)

    def test_one_byte_records(self):
        """Every byte of the upgrade request and of a frame in a TLS record of its own."""
        client = self.tls_client(self.context(), handshake=False)
        request, key = upgrade_request(self.server.tls_host_header())
        for byte in request:
            client.sock.send(bytes([byte]))
        response, leftover = read_http_response(client.sock)
        self.assertEqual(response.status, 101)
        self.assertEqual(response.header("Sec-WebSocket-Accept"), accept_key(key))
        payload = ("one byte per record " * 13).encode()
        for byte in build_frame(OP_TEXT, payload):
            client.sock.send(bytes([byte]))
        client.expect_message(OP_TEXT, payload)

    def test_dribbled_handshake_and_glued_upgrade(self):
        """The TLS handshake in 3-byte TCP pieces; then the upgrade request and a frame in one
        record: the 101 and the echo come back."""
        sock = connect(self.server.host, self.server.tls_port, bound(5.0))
        try:
            client = BioTlsClient(sock, self.context(), piece=3)
            client.handshake()
            request, key = upgrade_request(self.server.tls_host_header())
            client.write(request + build_frame(OP_TEXT, b"glued to the request"))
            client.send_close_notify()
            plain, end = client.read_to_end(bound(5.0))
        finally:
            sock.close()
        self.assertTrue(plain.startswith(b"HTTP/1.1 101 "), plain[:80])
        self.assertIn(accept_key(key).encode(), plain)
        self.assertTrue(plain.endswith(b"\x81\x14glued to the request"), plain[-40:])
        self.assertEqual(end, "close_notify")

    def test_close_frame_and_close_notify_together(self):
        """The client's last message, close 1000 and close_notify leave at once: the echo and
        the close reply still come back, then the server's close_notify."""
        sock = connect(self.server.host, self.server.tls_port, bound(5.0))
        try:
            client = BioTlsClient(sock, self.context())
            client.handshake()
            request, _ = upgrade_request(self.server.tls_host_header())
            client.write(request)
            client.write(build_frame(OP_TEXT, b"last words") + build_frame(OP_CLOSE, close_payload(1000, "bye")))
            client.send_close_notify()
            plain, end = client.read_to_end(bound(5.0))
        finally:
            sock.close()
        self.assertTrue(plain.endswith(b"\x81\x0alast words\x88\x02\x03\xe8"), plain[-40:])
        self.assertEqual(end, "close_notify")

    def test_client_close_notify_after_upgrade(self):
        """The client ends TLS cleanly without a WebSocket close: the server answers with its
        close_notify and closes TCP."""
        client = self.tls_client(self.context())
        client.echo(OP_TEXT, "then close_notify")
        raw = client.sock.unwrap()  # sends ours, waits for the server's
        closed, extra = wait_for_eof(raw, bound(3.0))
        self.assertTrue(closed, "the server kept the connection open after close_notify")
        self.assertEqual(extra, b"")
        raw.close()
        self.assert_serves_wss()

    def test_tls_handshake_without_upgrade_request(self):
        """TLS completes but no upgrade request follows: --handshake-timeout still applies."""
        server = self.start_server(*tls_args(self.pki), "--handshake-timeout", "%gs" % HANDSHAKE_TIMEOUT_S)
        started = time.monotonic()  # the server's deadline counts from its accept, after this
        client = self.tls_client(self.context(), server=server, handshake=False)
        client.send(b"GET / HTTP/1.1\r\nHost: half")
        try:
            closed, _ = wait_for_eof(client.sock, bound(HANDSHAKE_TIMEOUT_S + 3.0))
        except ssl.SSLError:  # an abort: no close_notify, as for a plain socket's reset
            closed = True
        self.assertTrue(closed, "an idle TLS connection outlived --handshake-timeout")
        self.assertGreater(time.monotonic() - started, HANDSHAKE_TIMEOUT_S * 0.8)

    def test_http_error_over_tls(self):
        """A bad upgrade request over TLS gets its HTTP error, then close_notify."""
        client = self.tls_client(self.context(), handshake=False)
        request, _ = upgrade_request(self.server.tls_host_header(), version="8")
        client.send(request)
        response, _ = read_http_response(client.sock)
        self.assertEqual(response.status, 426, response)
        self.assertEqual(wait_for_eof(client.sock, bound(3.0)), (True, b""))

    def test_echo_page_over_tls(self):
        client = self.tls_client(self.context(), handshake=False)
        client.send(("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % self.server.tls_host_header()).encode())
        response, _ = read_http_response(client.sock)
        self.assertEqual(response.status, 200, response)
        self.assertIn(b"<title>wsring echo</title>", response.body)
        self.assertEqual(wait_for_eof(client.sock, bound(3.0)), (True, b""))

    def test_pipelined_16_mib_read_late(self):
        """websockets sends 256 messages of 64 KiB before reading any echo (the server is
        held back by its output), then all come back in order."""
        if websockets is None:
            self.skipTest("python websockets not installed")
        messages = [pattern_bytes(64 * 1024, seed=i) for i in range(256)]

        async def scenario():
            async with websockets.connect(self.server.wss_url("/"), ssl=self.context(), max_size=None,
                                          max_queue=None, compression=None, ping_interval=None) as ws:
                for message in messages:
                    await ws.send(message)
                for index, message in enumerate(messages):
                    self.assertTrue(await ws.recv() == message, "echo %d differs" % index)
        self.run_async(scenario(), 60.0)

    def test_slow_reader_of_a_large_echo(self):
        """An 8 MiB message whose echo is read 4 KiB at a time at first: the server's TLS
        output waits for the reader and arrives intact."""
        payload = pattern_bytes(8 * MiB, seed=8)

        async def scenario():
            reader, writer = await asyncio.open_connection(self.server.host, self.server.tls_port,
                                                           ssl=self.context(), server_hostname="127.0.0.1")
            try:
                request, _ = upgrade_request(self.server.tls_host_header())
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
                writer.write(build_frame(OP_BINARY, payload))
                drained = asyncio.ensure_future(writer.drain())
                echoed = bytearray()
                while len(echoed) < len(payload):
                    fin, opcode, data = await read_frame(reader, slow=len(echoed) < MiB)
                    echoed += data
                    if fin:
                        break
                await drained
                self.assertEqual(len(echoed), len(payload))
                self.assertTrue(bytes(echoed) == payload, "the echo differs")
            finally:
                writer.close()
        self.run_async(scenario(), 60.0)

    def test_send_timeout_drops_a_peer_that_never_reads(self):
        """--send-timeout 1s: a TLS peer that writes without reading is dropped once its
        output stalls; the server serves on."""
        server = self.start_server(*tls_args(self.pki), "--send-timeout", "1s", "--max-backpressure", "64K")
        message = build_frame(OP_BINARY, pattern_bytes(100000))

        async def never_read():
            reader, writer = await asyncio.open_connection(server.host, server.tls_port, ssl=self.context(),
                                                           server_hostname="127.0.0.1")
            try:
                writer.write(upgrade_request(server.tls_host_header())[0])
                await reader.readuntil(b"\r\n\r\n")
                deadline = time.monotonic() + bound(10.0)
                while time.monotonic() < deadline:
                    writer.write(message)
                    try:
                        await asyncio.wait_for(writer.drain(), 0.2)
                    except asyncio.TimeoutError:
                        pass
                return False  # still connected
            except (ConnectionError, ssl.SSLError):
                return True
            finally:
                writer.transport.abort()
        self.assertTrue(self.run_async(never_read(), 30.0), "a peer that never reads was not dropped")
        self.assert_serves_wss(server)
        self.assertEqual(server.stop(), 0)
        self.assertEqual(count_in(stopped_line(server), "send timeouts?"), 1, stopped_line(server))

    def test_sigterm_closes_tls_connections_with_1001(self):
        """SIGTERM: open wss connections get 1001 and close_notify, one mid-handshake is
        closed, and the server exits 0."""
        server = self.start_server(*tls_args(self.pki))
        clients = [self.tls_client(self.context(), server=server) for _ in range(3)]
        for index, client in enumerate(clients):
            client.echo(OP_TEXT, "client %d" % index)
        half = connect(server.host, server.tls_port, bound(5.0))
        half.sendall(real_client_hello()[:40])
        server.signal(signal.SIGTERM)
        for client in clients:
            self.expect_clean_close(client, 1001)
        closed, _ = wait_for_eof(half, bound(5.0))
        half.close()
        self.assertTrue(closed, "a connection mid-handshake survived SIGTERM")
        self.assertEqual(server.wait(bound(10.0)), 0, server.log_tail())

    def test_connection_limit_refuses_with_an_alert(self):
        """--max-connections on a TLS port: a client over the limit gets a TLS alert (not a
        plaintext HTTP 503 it could not read) and is admitted once a slot is free."""
        server = self.start_server(*tls_args(self.pki), "--max-connections", "1")
        first = self.tls_client(self.context(), server=server)
        first.echo(OP_TEXT, "holding the only slot")
        raw = connect(server.host, server.tls_port, bound(5.0))
        try:
            raw.sendall(real_client_hello())
            closed, received = wait_for_eof(raw, bound(3.0))
        finally:
            raw.close()
        self.assertTrue(closed)
        self.assertNotIn(b"HTTP/", received, "a plaintext response on the TLS port")
        self.assertIn(received, (b"", b"\x15\x03\x03\x00\x02\x02\x50"), "not a fatal internal_error alert")
        with self.assertRaises(ssl.SSLError) as caught:
            RawClient(server.host, server.tls_port, tls_context=self.context()).close()
        self.assertNotIn("WRONG_VERSION_NUMBER", str(caught.exception))
        first.send_close(1000)
        self.expect_clean_close(first, 1000)
        deadline = time.monotonic() + bound(3.0)
        while True:  # the slot is free once the server has closed its socket
            try:
                self.assert_serves_wss(server, text="admitted")
                break
            except (ssl.SSLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


async def read_frame(reader, slow=False):
    """(fin, opcode, payload) of one server frame from an asyncio stream; slow: 4 KiB reads
    with a pause between them."""
    async def exactly(count):
        if not slow:
            return await reader.readexactly(count)
        data = bytearray()
        while len(data) < count:
            data += await reader.readexactly(min(4096, count - len(data)))
            await asyncio.sleep(0.001)
        return bytes(data)
    head = await exactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await exactly(8), "big")
    return bool(head[0] & 0x80), head[0] & 0x0F, await exactly(length)


# ----------------------------------------------------------------------------- openssl s_client

class OpenSslClient(TlsTestCase):
    """TLS features Python's ssl module cannot start, driven through `openssl s_client`'s
    commands: a TLS 1.3 KeyUpdate (K: and ask the server to update its keys too) and a TLS 1.2
    renegotiation (R), which the server refuses."""

    def start_client(self, *args):
        process = subprocess.Popen([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % self.server.tls_port,
                                    "-CAfile", self.pki.ca, "-verify_return_error"] + list(args),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = bytearray()
        reader = threading.Thread(target=lambda: [output.extend(chunk) for chunk in
                                                   iter(lambda: process.stdout.read1(65536), b"")], daemon=True)
        reader.start()
        self.addCleanup(self.stop_client, process, reader)
        return process, output

    def stop_client(self, process, reader):
        if process.poll() is None:
            process.kill()
        process.wait(10)
        reader.join(5)
        process.stdout.close()
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass

    def wait_for(self, output, text, seconds=5.0):
        deadline = time.monotonic() + bound(seconds)
        while text not in output:
            if time.monotonic() > deadline:
                self.fail("no %r from s_client; it wrote: %r" % (text, bytes(output[-600:])))
            time.sleep(0.01)

    def upgrade(self, process, output):
        self.wait_for(output, b"Verify return code: 0")
        process.stdin.write(upgrade_request(self.server.tls_host_header())[0])
        process.stdin.flush()
        self.wait_for(output, b"101 Switching Protocols")

    def command(self, process, letter):
        time.sleep(0.1)  # s_client takes a command only at the start of a separate read
        process.stdin.write(letter + b"\n")
        process.stdin.flush()
        time.sleep(0.1)

    def test_key_update(self):
        """A KeyUpdate that asks the server to update its keys too; echoes go on."""
        process, output = self.start_client("-tls1_3")
        self.upgrade(process, output)
        for round_ in range(2):
            self.command(process, b"K")
            self.wait_for(output, b"KEYUPDATE")
            payload = b"after key update %d" % round_
            process.stdin.write(build_frame(OP_TEXT, payload))
            process.stdin.flush()
            self.wait_for(output, payload)
            del output[:]

    def test_renegotiation_refused(self):
        """A TLS 1.2 renegotiation gets the no_renegotiation alert; the server serves on."""
        process, output = self.start_client("-tls1_2")
        self.upgrade(process, output)
        self.command(process, b"R")
        self.wait_for(output, b"RENEGOTIATING")
        self.wait_for(output, b"no renegotiation")
        self.assert_serves_wss()


# ----------------------------------------------------------------------------- 6. start-up errors

class TlsStartUpErrors(ServerTestCase):
    """A TLS problem at start: exit status 2 and one stderr line naming the file or flag."""
    shared_server = False
    backend_independent = True

    @classmethod
    def setUpClass(cls):
        cls.pki = shared_pki()
        super().setUpClass()

    def check_refused(self, args, *names):
        result = run_server_command(["--listen", "127.0.0.1:0"] + list(args))
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        self.assertEqual(result.returncode, 2, "exit status for %r; stderr %r" % (args, result.stderr))
        self.assertEqual(len(lines), 1, "expected one stderr line for %r, got %r" % (args, lines))
        for name in names:
            self.assertIn(name, lines[0])
        return lines[0]

    def tls(self, cert, key):
        return ["--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key]

    def test_key_not_matching_the_certificate(self):
        self.check_refused(self.tls(self.pki.cert("server"), self.pki.key("second")),
                           self.pki.key("second"), self.pki.cert("server"))

    def test_key_of_another_type(self):
        """An RSA key for an ECDSA certificate."""
        self.check_refused(self.tls(self.pki.cert("server"), self.pki.key("rsa")), self.pki.key("rsa"))

    def test_missing_certificate_file(self):
        missing = self.pki.path("no-such-cert.pem")
        self.check_refused(self.tls(missing, self.pki.key("server")), missing)

    def test_unreadable_certificate_file(self):
        """A directory where the certificate should be (unreadable by anyone, root included)."""
        self.check_refused(self.tls(self.pki.directory, self.pki.key("server")), self.pki.directory)

    def test_certificate_without_read_permission(self):
        if os.geteuid() == 0:
            self.skipTest("root reads files without read permission")
        locked = self.pki.path("locked.pem")
        shutil.copyfile(self.pki.cert("server"), locked)
        os.chmod(locked, 0)
        self.addCleanup(os.remove, locked)
        self.check_refused(self.tls(locked, self.pki.key("server")), locked)

    def test_bad_pem_key(self):
        bad = self.pki.path("bad-key.pem")
        with open(bad, "w") as handle:
            handle.write("-----BEGIN PRIVATE KEY-----\nthis is not base64!\n-----END PRIVATE KEY-----\n")
        self.check_refused(self.tls(self.pki.cert("server"), bad), bad)

    def test_certificate_file_holding_a_key(self):
        self.check_refused(self.tls(self.pki.key("server"), self.pki.key("server")), self.pki.key("server"))

    def test_bad_ticket_key_file(self):
        short = self.pki.path("short-ticket.key")
        with open(short, "wb") as handle:
            handle.write(os.urandom(79))
        self.check_refused(self.tls(self.pki.cert("server"), self.pki.key("server")) + ["--tls-ticket-key", short],
                           short)

    def test_tls_listen_without_key(self):
        self.check_refused(["--tls-listen", "127.0.0.1:0", "--tls-cert", self.pki.cert("server")], "--tls-key")

    def test_tls_listen_without_certificate(self):
        self.check_refused(["--tls-listen", "127.0.0.1:0", "--tls-key", self.pki.key("server")], "--tls-cert")

    def test_certificate_without_tls_listen(self):
        self.check_refused(["--tls-cert", self.pki.cert("server"), "--tls-key", self.pki.key("server")],
                           "--tls-listen")


# ----------------------------------------------------------------------------- 7. SIGHUP reload

class CertificateReload(TlsTestCase):
    """SIGHUP reloads the certificate and key from the same paths: new connections get the
    new certificate, open ones keep theirs, a bad new pair is refused and the old one stays."""
    shared_server = False

    def live_files(self):
        """Copies of the first pair in a directory of this test (the server's paths)."""
        directory = tempfile.mkdtemp(prefix="live-", dir=self.pki.directory)
        self.addCleanup(shutil.rmtree, directory, True)
        cert, key = os.path.join(directory, "live.pem"), os.path.join(directory, "live.key")
        self.install(cert, key, "server", "server")
        return cert, key

    def install(self, cert, key, cert_name, key_name):
        for source, target in ((self.pki.cert(cert_name), cert), (self.pki.key(key_name), key)):
            shutil.copyfile(source, target + ".new")
            os.replace(target + ".new", target)

    def peer_certificate(self, server):
        """The DER certificate a new client sees; the client also completes one echo."""
        client = self.tls_client(self.context(), server=server)
        try:
            der = client.sock.getpeercert(binary_form=True)
            client.echo(OP_TEXT, "which certificate")
            client.send_close(1000)
            self.expect_clean_close(client, 1000)
            return der
        finally:
            client.close()

    def wait_for_certificate(self, server, name, seconds, probes=1):
        """Until `probes` new clients in a row see certificate `name`, at most `seconds`."""
        wanted = self.pki.der(name)
        deadline = time.monotonic() + seconds
        in_a_row = 0
        while in_a_row < probes:
            in_a_row = in_a_row + 1 if self.peer_certificate(server) == wanted else 0
            if in_a_row < probes and time.monotonic() > deadline:
                self.fail("new clients do not see the %s certificate %.1f s after SIGHUP\n%s"
                          % (name, seconds, server.log_tail()))
            time.sleep(0.01)

    def wait_for_log(self, server, text, since, seconds):
        deadline = time.monotonic() + seconds
        while text not in server.log_since(since):
            if time.monotonic() > deadline:
                self.fail("no %r in the log %.1f s after SIGHUP\n%s" % (text, seconds, server.log_tail()))
            time.sleep(0.02)
        return [line for line in server.log_since(since).splitlines() if text in line]

    def reload_scenario(self, *extra, probes=1):
        cert, key = self.live_files()
        server = self.start_server("--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, *extra)
        self.assertEqual(self.peer_certificate(server), self.pki.der("server"))
        keeper = self.tls_client(self.context(), server=server)
        keeper.echo(OP_TEXT, "before the reload")
        self.assertEqual(keeper.sock.getpeercert()["serialNumber"], "03E9")  # 1001

        self.install(cert, key, "second", "second")
        mark = server.log_line_count()
        server.signal(signal.SIGHUP)
        self.wait_for_certificate(server, "second", bound(2.0), probes)
        self.wait_for_log(server, "reloaded", mark, bound(2.0))
        keeper.echo(OP_TEXT, "after the reload")
        keeper.echo(OP_BINARY, pattern_bytes(50000))

        self.install(cert, key, "second", "server")  # a key not matching the certificate
        mark = server.log_line_count()
        server.signal(signal.SIGHUP)
        refusals = self.wait_for_log(server, "refused", mark, bound(2.0))
        self.assertIn("error", refusals[0], "the refusal should be logged at error level")
        self.assertIn(key, refusals[0], "the refusal should name the key file")
        for _ in range(max(3, probes)):
            self.assertEqual(self.peer_certificate(server), self.pki.der("second"),
                             "a refused reload changed the certificate")
        keeper.echo(OP_TEXT, "after the refused reload")
        keeper.send_close(1000)
        self.expect_clean_close(keeper, 1000)
        self.assertTrue(server.alive())

    def test_sighup_reload(self):
        self.reload_scenario()

    def test_sighup_reload_with_two_threads(self):
        """--threads 2: the second thread's new connections get the new certificate too."""
        self.reload_scenario("--threads", "2", probes=8)

    def test_sighup_without_tls(self):
        """SIGHUP to a server without TLS changes nothing."""
        server = self.start_server()
        server.signal(signal.SIGHUP)
        time.sleep(0.2)
        self.assertTrue(server.alive())
        self.client(server).echo(OP_TEXT, "still here")


# ----------------------------------------------------------------------------- 8. concurrency

class ManyTlsConnections(TlsTestCase):
    shared_server = False

    def setUp(self):
        super().setUp()
        if websockets is None:
            self.skipTest("python websockets not installed")

    def run_crowd(self, server, count, messages=3):
        """`count` wss connections (websockets, at most 100 handshakes at a time) open at once;
        then each echoes `messages` messages and closes with 1000. Fails with the first errors."""
        limit = raise_fd_limit()
        if limit < 2 * count + 100:
            self.skipTest("RLIMIT_NOFILE is %d, need %d" % (limit, 2 * count + 100))
        context = self.context()
        failures = []
        state = {"opened": 0}

        async def one(index, slots, all_open):
            ws = None
            try:
                async with slots:
                    ws = await websockets.connect(server.wss_url("/"), ssl=context, compression=None,
                                                  ping_interval=None, open_timeout=bound(60.0),
                                                  close_timeout=bound(10.0))
                state["opened"] += 1
                if state["opened"] == count:
                    all_open.set()
                await all_open.wait()
                for number in range(messages):
                    text = ("connection %d message %d " % (index, number)) * (number + 1)
                    await ws.send(text)
                    echoed = await ws.recv()
                    if echoed != text:
                        raise AssertionError("echo %r != %r" % (echoed[:60], text[:60]))
                await ws.close(1000)
                if ws.close_rcvd is None or ws.close_rcvd.code != 1000:
                    raise AssertionError("close reply %r" % (ws.close_rcvd,))
            except Exception as error:  # collected and reported together
                failures.append("connection %d: %s: %s" % (index, type(error).__name__, error))
                all_open.set()  # do not leave the others waiting
            finally:
                if ws is not None:
                    await ws.close()

        async def crowd():
            slots, all_open = asyncio.Semaphore(100), asyncio.Event()
            tasks = [asyncio.ensure_future(one(i, slots, all_open)) for i in range(count)]
            done, pending = await asyncio.wait(tasks, timeout=bound(120.0))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
                failures.append("%d connections still busy after %.0f s (opened %d)"
                                % (len(pending), bound(120.0), state["opened"]))

        asyncio.run(crowd())
        if failures:
            self.fail("%d of %d connections failed; first: %s" % (len(failures), count, "\n  ".join(failures[:5])))
        self.assert_serves_wss(server)
        self.assertEqual(server.stop(), 0)
        line = stopped_line(server)
        self.assertGreaterEqual(count_in(line, "TLS handshakes?"), count + 1, line)
        self.assertEqual(count_in(line, "TLS failures?"), 0, line)
        # Every one is TLS 1.3: each captured its secrets and was handed off (the key log is
        # switched per thread, on each thread's own context, while handshakes interleave).
        self.assertEqual(count_in(line, "offloaded"), count_in(line, "TLS handshakes?"), line)

    def test_1000_concurrent_wss_connections(self):
        """1,000 wss connections (200 sanitized) open at once, each echoes 3 messages and
        closes with 1000."""
        server = self.start_server(*tls_args(self.pki), "--handshake-timeout", "60s")
        self.run_crowd(server, scaled(1000, 200))

    def test_two_threads(self):
        """--threads 2: 400 wss connections (100 sanitized) spread over both threads."""
        server = self.start_server(*tls_args(self.pki), "--threads", "2", "--handshake-timeout", "60s")
        self.run_crowd(server, scaled(400, 100))


# ----------------------------------------------------------------------------- 9. resumption

class SessionResumption(TlsTestCase):
    """--tls-ticket-key: a client's session resumes on a later connection, also on another
    server process that shares the key file; without a shared key it does not."""
    shared_server = False

    def ticket_key_file(self, suffix=""):
        path = self.pki.path("ticket-%s%s.key" % (self.id().rsplit(".", 1)[-1], suffix))
        self.pki.openssl("rand", "-out", path, "80")
        self.addCleanup(os.remove, path)
        return path

    def connect_and_echo(self, server, context, session=None):
        """One wss connection: upgrade, an echo (the TLS 1.3 ticket comes after the handshake,
        so reading a message first makes sure it has arrived), close. Returns (session,
        whether this connection resumed)."""
        client = self.tls_client(context, server=server, session=session)
        try:
            client.echo(OP_TEXT, "ticket please")
            reused, new_session = client.sock.session_reused, client.sock.session
            client.send_close(1000)
            self.expect_clean_close(client, 1000)
        finally:
            client.close()
        self.assertIsNotNone(new_session)
        self.assertTrue(new_session.has_ticket, "the server issued no session ticket")
        return new_session, reused

    def check_resumes(self, maximum):
        server = self.start_server(*tls_args(self.pki), "--tls-ticket-key", self.ticket_key_file())
        context = self.context(maximum=maximum)
        session, reused = self.connect_and_echo(server, context)
        self.assertFalse(reused, "the first connection cannot resume")
        _, reused = self.connect_and_echo(server, context, session)
        self.assertTrue(reused, "the second connection did not resume the session")
        self.assertEqual(server.stop(), 0)
        self.assertGreaterEqual(count_in(stopped_line(server), "resumed"), 1, stopped_line(server))

    def test_resumption_tls13(self):
        self.check_resumes(None)

    def test_resumption_tls12(self):
        self.check_resumes(ssl.TLSVersion.TLSv1_2)

    def test_resumption_across_servers_sharing_the_key(self):
        """A session from server A resumes on server B (another process, another port, the
        same --tls-ticket-key file)."""
        key = self.ticket_key_file()
        first = self.start_server(*tls_args(self.pki), "--tls-ticket-key", key)
        second = self.start_server(*tls_args(self.pki), "--tls-ticket-key", key)
        self.assertNotEqual(first.tls_port, second.tls_port)
        context = self.context()
        session, _ = self.connect_and_echo(first, context)
        _, reused = self.connect_and_echo(second, context, session)
        self.assertTrue(reused, "a session from the first server did not resume on the second")

    def test_resumption_with_a_rotated_key(self):
        """A ticket sealed under key A resumes on a server whose file holds B then A (B seals
        new tickets, A still opens old ones), not on one that holds B only."""
        old_key, new_key = self.ticket_key_file(), self.ticket_key_file("b")
        rotated = self.pki.path("rotated-ticket.key")
        with open(rotated, "wb") as out, open(new_key, "rb") as b, open(old_key, "rb") as a:
            out.write(b.read() + a.read())
        self.addCleanup(os.remove, rotated)
        before = self.start_server(*tls_args(self.pki), "--tls-ticket-key", old_key)
        after = self.start_server(*tls_args(self.pki), "--tls-ticket-key", rotated)
        only_new = self.start_server(*tls_args(self.pki), "--tls-ticket-key", new_key)
        context = self.context()
        session, _ = self.connect_and_echo(before, context)
        _, reused = self.connect_and_echo(only_new, context, session)
        self.assertFalse(reused, "a ticket resumed on a server without its key")
        renewed, reused = self.connect_and_echo(after, context, session)
        self.assertTrue(reused, "a ticket under the older key did not resume after the rotation")
        _, reused = self.connect_and_echo(only_new, context, renewed)
        self.assertTrue(reused, "the ticket issued after the rotation is not under the new key")

    def test_sighup_rereads_the_ticket_key_file(self):
        """SIGHUP reads --tls-ticket-key again with the certificate and key: a file that is
        not whole keys is refused (logged, naming it; the old key still opens old tickets), a
        new key replaces the old one (old tickets no longer resume, new ones do)."""
        key = self.ticket_key_file()
        server = self.start_server(*tls_args(self.pki), "--tls-ticket-key", key)
        context = self.context()
        old_session, _ = self.connect_and_echo(server, context)

        with open(key, "wb") as out:
            out.write(b"x" * 79)
        mark = server.log_line_count()
        server.signal(signal.SIGHUP)
        deadline = time.monotonic() + bound(3.0)
        while "refused" not in server.log_since(mark) and time.monotonic() < deadline:
            time.sleep(0.02)
        refusal = [line for line in server.log_since(mark).splitlines() if "refused" in line]
        self.assertTrue(refusal and key in refusal[0], server.log_tail())
        _, reused = self.connect_and_echo(server, context, old_session)
        self.assertTrue(reused, "a refused reload dropped the old ticket key")

        self.pki.openssl("rand", "-out", key, "80")
        mark = server.log_line_count()
        server.signal(signal.SIGHUP)
        deadline = time.monotonic() + bound(3.0)
        while "reloaded" not in server.log_since(mark) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertIn("ticket keys from " + key, server.log_since(mark), server.log_tail())
        new_session, reused = self.connect_and_echo(server, context, old_session)
        self.assertFalse(reused, "a ticket under the replaced key still resumed")
        _, reused = self.connect_and_echo(server, context, new_session)
        self.assertTrue(reused, "a ticket under the new key did not resume")

    def test_no_resumption_across_servers_with_their_own_keys(self):
        """Without a shared key file each process has its own ticket key: a full handshake."""
        first = self.start_server(*tls_args(self.pki))
        second = self.start_server(*tls_args(self.pki))
        context = self.context()
        session, _ = self.connect_and_echo(first, context)
        _, reused = self.connect_and_echo(second, context, session)
        self.assertFalse(reused, "a ticket resumed on a server with a different ticket key")
        _, reused = self.connect_and_echo(first, context, session)
        self.assertTrue(reused, "the ticket did not resume on its own server")


if __name__ == "__main__":
    unittest.main()
