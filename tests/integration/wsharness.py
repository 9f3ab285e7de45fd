"""Shared helpers for the wsring integration and conformance suites.

- Server: starts build/wsring-echo on a free port, reads the actual port from its
  "listening on HOST:PORT" line (and, with --tls-listen, the wss:// ports from its
  "serving wss://HOST:PORT/" lines), drains its stderr in a thread and stops it
  (SIGTERM, then SIGKILL after 5 s).
- RawClient: a deliberately permissive WebSocket client over a plain socket (or a TLS
  one, given an ssl.SSLContext), able to send any bytes (bad bits, partial frames, glued requests) and to read frames,
  messages and the close handshake with bounded waits.
- http_exchange / upgrade_request: raw HTTP for handshake error tests.
- ServerTestCase: unittest base class; one shared server per class plus per-test
  servers, every one stopped even when the test fails.

Configuration comes from the environment, set by run.py:
  WSRING_BUILD      directory holding wsring-echo (default <repo>/build)
  WSRING_BACKEND    io_uring | epoll | unset (server default)
  WSRING_SANITIZED  1 when the binaries are an ASan build: waits are stretched and
                    heavy tests scaled down.
"""

import atexit
import base64
import collections
import hashlib
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
OPCODE_NAMES = {OP_CONT: "continuation", OP_TEXT: "text", OP_BINARY: "binary",
                OP_CLOSE: "close", OP_PING: "ping", OP_PONG: "pong"}

RSV1, RSV2, RSV3 = 0x4, 0x2, 0x1  # as a 3-bit field, RSV1 is the high bit

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_PROTOCOL_ERROR = 1000, 1001, 1002
CLOSE_INVALID_PAYLOAD, CLOSE_TOO_BIG = 1007, 1009

MiB = 1 << 20
KiB = 1 << 10
LARGE_SEND = 256 * KiB  # writes at least this big go through a background thread
DEFAULT_MAX_MESSAGE = 16 * MiB


# ----------------------------------------------------------------------------- config

def build_dir():
    return os.environ.get("WSRING_BUILD") or os.path.join(REPO_ROOT, "build")


def backend():
    value = os.environ.get("WSRING_BACKEND", "")
    return value or None


SANITIZED = os.environ.get("WSRING_SANITIZED") == "1"


def bound(seconds):
    """A wait bound in seconds, stretched for sanitized (slower) binaries."""
    return seconds * (4.0 if SANITIZED else 1.0)


def scaled(normal, sanitized):
    return sanitized if SANITIZED else normal


# The conformance categories that set RUNS_OVER_TLS run a second time over wss:// (run.py
# --transport): then every Server also serves wss:// with a self-signed ECDSA P-256
# certificate and ServerTestCase.client() connects through TLS.
def transport_tls():
    return os.environ.get("WSRING_TRANSPORT") == "tls"


_tls_mode_files = None


def tls_mode_files():
    """(certificate, key): self-signed ECDSA P-256 for 127.0.0.1, made once per run."""
    global _tls_mode_files
    if _tls_mode_files is None:
        directory = tempfile.mkdtemp(prefix="wsring-tls-mode-")
        atexit.register(shutil.rmtree, directory, True)
        cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=60)
        _tls_mode_files = (cert, key)
    return _tls_mode_files


def tls_mode_context():
    """A client context trusting tls_mode_files()'s certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(tls_mode_files()[0])
    return context


def raise_fd_limit():
    """Raise RLIMIT_NOFILE to the hard limit; servers we start inherit it too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


raise_fd_limit()


# ----------------------------------------------------------------------------- framing

def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2 step 5.4)."""
    if isinstance(key, bytes):
        key = key.decode("ascii")
    digest = hashlib.sha1((key + WS_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def new_key():
    return base64.b64encode(os.urandom(16)).decode("ascii")


def mask_payload(data, mask_key, offset=0):
    """XOR data with the 4-byte mask, starting at byte `offset` of the frame payload."""
    n = len(data)
    if n == 0:
        return b""
    rot = offset % 4
    key = mask_key[rot:] + mask_key[:rot]
    repeated = (key * ((n + 3) // 4))[:n]
    # Big-integer XOR: linear time and fast enough for 16 MiB payloads.
    return (int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")


def frame_header(opcode, length, fin=True, rsv=0, mask_key=b"\x11\x22\x33\x44", length_form=None):
    """Header bytes of one frame. mask_key=None builds an unmasked frame.

    length_form forces the length encoding: 7, 16 or 64 (bits); by default the minimal one.
    """
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    mask_bit = 0x80 if mask_key is not None else 0
    if length_form is None:
        length_form = 7 if length <= 125 else (16 if length <= 0xFFFF else 64)
    if length_form == 7:
        header = struct.pack("!BB", b0, mask_bit | length)
    elif length_form == 16:
        header = struct.pack("!BBH", b0, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", b0, mask_bit | 127, length)
    if mask_key is not None:
        header += mask_key
    return header


def build_frame(opcode, payload=b"", fin=True, rsv=0, masked=True, mask_key=None, length_form=None):
    """One complete client frame (masked with a random key unless masked=False)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if masked:
        mask_key = mask_key or os.urandom(4)
        return frame_header(opcode, len(payload), fin, rsv, mask_key, length_form) + \
            mask_payload(payload, mask_key)
    return frame_header(opcode, len(payload), fin, rsv, None, length_form) + payload


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


def build_fragments(opcode, payload, fragment_size):
    """A message split into frames of fragment_size payload bytes (at least one frame)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    pieces = [payload[i:i + fragment_size] for i in range(0, len(payload), fragment_size)] or [b""]
    out = []
    for index, piece in enumerate(pieces):
        out.append(build_frame(opcode if index == 0 else OP_CONT, piece, fin=index == len(pieces) - 1))
    return b"".join(out)


Frame = collections.namedtuple("Frame", "fin rsv opcode payload")


class Message(collections.namedtuple("Message", "opcode payload")):
    """A complete data message, or a control frame (ping, pong, close)."""

    def __repr__(self):
        return "Message(%s, %s)" % (OPCODE_NAMES.get(self.opcode, self.opcode), preview(self.payload))


def preview(data, limit=40):
    if data is None:
        return "None"
    if len(data) <= limit:
        return repr(bytes(data))
    return "<%d bytes: %r...>" % (len(data), bytes(data[:limit]))


def describe_difference(expected, observed):
    if expected == observed:
        return "equal"
    if len(expected) != len(observed):
        return "length differs: expected %d bytes, got %d" % (len(expected), len(observed))
    for index in range(len(expected)):
        if expected[index] != observed[index]:
            return "first difference at byte %d of %d" % (index, len(expected))
    return "differs"


class ConnectionClosed(Exception):
    """The peer closed TCP (EOF or reset) while a frame was expected."""


class ServerProtocolError(AssertionError):
    """The server sent something RFC 6455 forbids a server to send."""


# ----------------------------------------------------------------------------- server

class ServerStartError(AssertionError):
    pass


LISTEN_RE = re.compile(r"listening on (\[[^\]]*\]|[^\s:\[\]]+):(\d+)")
WSS_RE = re.compile(r"serving wss://(\[[^\]]*\]|[^\s:/\[\]]+):(\d+)/")
BACKEND_RE = re.compile(r"backend (io_uring|epoll)")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "ERROR: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


try:  # resolved in the parent so that the forked child only makes the call
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (ImportError, OSError, AttributeError):
    _prctl = None


def _die_with_parent():
    """Child side of Popen: SIGKILL the server if the test runner dies (PR_SET_PDEATHSIG), so
    that no server outlives an aborted run."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL, 0, 0, 0)


class Server:
    """One wsring-echo process. Use start(); stop() is idempotent."""

    def __init__(self, *args, listen="127.0.0.1:0", use_backend=True, binary="wsring-echo",
                 start_timeout=5.0, launcher=(), pass_fds=()):
        self.binary = os.path.join(build_dir(), binary)
        # launcher: a command that starts the server (e.g. activate.py ... --), with pass_fds
        # the file descriptors it inherits.
        self.launcher = [str(a) for a in launcher]
        self.pass_fds = tuple(pass_fds)
        self.args = [str(a) for a in args]
        if transport_tls() and binary == "wsring-echo" and "--tls-listen" not in self.args:
            cert, key = tls_mode_files()
            self.args += ["--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key]
        self.listen = listen
        self.use_backend = use_backend
        self.start_timeout = start_timeout
        self.process = None
        self.host = None
        self.port = None
        self.backend_name = None
        self._log_lines = []
        self._log_lock = threading.Lock()
        self._listening = threading.Event()
        # One "serving wss://" line per --tls-listen, after the "listening on" line.
        self.tls_expected = self.args.count("--tls-listen")
        self.tls_ports = []
        self.tls_hosts = []  # the host of each wss:// port (brackets removed)
        self._tls_ready = threading.Event()
        if self.tls_expected == 0:
            self._tls_ready.set()
        self._reader = None
        self.returncode = None

    def command(self):
        cmd = self.launcher + [self.binary]
        if self.listen is not None:
            cmd += ["--listen", self.listen]
        if self.use_backend and backend():
            cmd += ["--backend", backend()]
        return cmd + self.args

    def start(self):
        if not os.path.exists(self.binary):
            raise ServerStartError("server binary %s does not exist (build it first)" % self.binary)
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, preexec_fn=_die_with_parent, pass_fds=self.pass_fds)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        # The spec allows 5 s to print the line; sanitized builds start slower.
        deadline = time.monotonic() + bound(self.start_timeout)
        for event, what in ((self._listening, "listening on"), (self._tls_ready, "serving wss://")):
            while not event.wait(0.02):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self._reader.join(1.0)
                    status = self.process.poll()
                    self.stop()
                    raise ServerStartError("server did not report '%s' (exit status %s): %s\n%s"
                                           % (what, status, " ".join(self.command()), self.log_tail()))
        return self

    def _drain(self):
        for raw in iter(self.process.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._log_lock:
                self._log_lines.append(line)
            if not self._listening.is_set():
                match = LISTEN_RE.search(line)
                if match:
                    host = match.group(1)
                    self.host = host[1:-1] if host.startswith("[") else host
                    self.port = int(match.group(2))
                    found = BACKEND_RE.search(line)
                    if found:
                        self.backend_name = found.group(1)
                    self._listening.set()
            if self._listening.is_set() and not self._tls_ready.is_set():
                match = WSS_RE.search(line)
                if match:
                    host = match.group(1)
                    self.tls_hosts.append(host[1:-1] if host.startswith("[") else host)
                    self.tls_ports.append(int(match.group(2)))
                    if len(self.tls_ports) == self.tls_expected:
                        self._tls_ready.set()
            if self.backend_name is None:
                found = BACKEND_RE.search(line)
                if found:
                    self.backend_name = found.group(1)
        self.process.stderr.close()

    @property
    def address(self):
        return (self.host, self.port)

    def url(self, path="/"):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "ws://%s:%d%s" % (host, self.port, path)

    def host_header(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)

    @property
    def tls_port(self):
        """The first --tls-listen port."""
        if not self.tls_ports:
            raise AssertionError("this server has no --tls-listen")
        return self.tls_ports[0]

    def wss_url(self, path="/", index=0):
        return "wss://%s%s" % (self.tls_host_header(index), path)

    def tls_host_header(self, index=0):
        host = self.tls_hosts[index]
        return "%s:%d" % ("[%s]" % host if ":" in host else host, self.tls_ports[index])

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def log(self):
        with self._log_lock:
            return "\n".join(self._log_lines)

    def log_line_count(self):
        with self._log_lock:
            return len(self._log_lines)

    def log_since(self, line_index):
        with self._log_lock:
            return "\n".join(self._log_lines[line_index:])

    def log_tail(self, lines=30):
        with self._log_lock:
            tail = self._log_lines[-lines:]
        if not tail:
            return "(server stderr is empty)"
        return "server stderr (last %d lines):\n  " % len(tail) + "\n  ".join(tail)

    def signal(self, signum):
        if self.alive():
            self.process.send_signal(signum)

    def wait(self, timeout):
        """Wait for exit; returns the exit status or None if still running after timeout."""
        try:
            self.returncode = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._reader is not None:
            self._reader.join(2.0)
        return self.returncode

    def stop(self, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` seconds. Returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=bound(grace))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                with self._log_lock:
                    self._log_lines.append("(harness: server ignored SIGTERM for %.1f s, killed)" % bound(grace))
        self.returncode = self.process.returncode
        if self._reader is not None:
            self._reader.join(2.0)
        return self.returncode

    def sanitizer_report(self, since_line=0):
        text = self.log_since(since_line)
        for marker in SANITIZER_MARKERS:
            if marker in text:
                return text
        return None


def run_server_command(args, timeout=5.0):
    """Run wsring-echo to completion (for option tests). Returns CompletedProcess; kills on timeout."""
    binary = os.path.join(build_dir(), "wsring-echo")
    if not os.path.exists(binary):
        raise ServerStartError("server binary %s does not exist (build it first)" % binary)
    process = subprocess.Popen([binary] + list(args), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=bound(timeout))
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise AssertionError("wsring-echo %s still running after %.1f s (expected it to exit); stderr: %r"
                             % (" ".join(args), bound(timeout), err.decode("utf-8", "replace")[-500:]))
    return subprocess.CompletedProcess(process.args, process.returncode,
                                       out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


# ----------------------------------------------------------------------------- HTTP

class HttpResponse:
    def __init__(self, version, status, reason, headers, body, closed, leftover=b""):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value) in arrival order
        self.body = body
        self.closed = closed    # True if the server closed TCP after the response
        self.leftover = leftover

    def header(self, name):
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name):
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def header_tokens(self, name):
        tokens = []
        for value in self.header_values(name):
            tokens += [t.strip().lower() for t in value.split(",") if t.strip()]
        return tokens

    def __repr__(self):
        return "HttpResponse(%s %s %r, headers=%r, body=%s, closed=%s)" % (
            self.version, self.status, self.reason, self.headers, preview(self.body, 80), self.closed)


def upgrade_request(host_header, path="/", key=None, version="13", extra=(), omit=(),
                    method="GET", http_version="HTTP/1.1", connection="Upgrade", upgrade="websocket"):
    """Bytes of a client opening handshake. omit: header names (lower case) to leave out;
    extra: (name, value) pairs appended."""
    key = key if key is not None else new_key()
    headers = [("Host", host_header), ("Upgrade", upgrade), ("Connection", connection),
               ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", version)]
    lines = ["%s %s %s" % (method, path, http_version)]
    for name, value in headers:
        if name.lower() not in omit and value is not None:
            lines.append("%s: %s" % (name, value))
    for name, value in extra:
        lines.append("%s: %s" % (name, value))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), key


def _recv_some(sock, size=65536):
    """recv that maps a reset to EOF (b'')."""
    try:
        return sock.recv(size)
    except (ConnectionResetError, ConnectionAbortedError):
        return b""


def read_http_response(sock, buffer=b"", timeout=5.0, read_body=True):
    """Read a response head (and its Content-Length body). Returns (HttpResponse, leftover bytes)."""
    sock.settimeout(timeout)
    data = bytearray(buffer)
    while b"\r\n\r\n" not in data:
        chunk = _recv_some(sock)
        if not chunk:
            raise ConnectionClosed("connection closed before a complete HTTP response head; got %s"
                                   % preview(bytes(data), 200))
        data += chunk
        if len(data) > 1 << 20:
            raise AssertionError("HTTP response head larger than 1 MiB")
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
    if not match:
        raise AssertionError("malformed HTTP status line %r" % lines[0])
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise AssertionError("malformed HTTP header line %r" % line)
        headers.append((name.strip(), value.strip()))
    response = HttpResponse(match.group(1), int(match.group(2)), match.group(3) or "", headers, b"", False)
    if not read_body or response.status == 101:
        return response, rest
    length = response.header("Content-Length")
    body = bytearray(rest)
    if length is not None:
        length = int(length)
        while len(body) < length:
            chunk = _recv_some(sock)
            if not chunk:
                break
            body += chunk
        response.body = bytes(body[:length])
        return response, bytes(body[length:])
    # No Content-Length: the body runs to EOF.
    while True:
        chunk = _recv_some(sock)
        if not chunk:
            break
        body += chunk
    response.body = bytes(body)
    response.closed = True
    return response, b""


def unread_bytes_on_port(port):
    """Bytes waiting in the receive queues of established TCP sockets whose local port is
    `port` (i.e. the server's side of its connections), from /proc/net/tcp{,6}."""
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # 01 = ESTABLISHED
                total += int(fields[4].split(":")[1], 16)
    return total


def wait_until_server_read_everything(port, timeout):
    """Wait until the server has read every byte sent to it (its receive queues are empty),
    so that a test knows data was received by the server, not just sent. Returns success."""
    deadline = time.monotonic() + timeout
    while unread_bytes_on_port(port) > 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def wait_for_eof(sock, timeout):
    """True if the peer closes (EOF or reset) within timeout; bytes arriving meanwhile are returned too."""
    sock.settimeout(timeout)
    extra = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False, bytes(extra)
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, bytes(extra)
        except (ConnectionResetError, ConnectionAbortedError):
            return True, bytes(extra)
        if not chunk:
            return True, bytes(extra)
        extra += chunk


def connect(host, port, timeout=5.0):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.connect((host, port))
    return sock


def http_exchange(server, request, timeout=None, eof_timeout=None):
    """Send raw request bytes, read the response, then check whether the server closes TCP."""
    timeout = timeout or bound(5.0)
    sock = connect(server.host, server.port, timeout)
    try:
        sock.sendall(request)
        response, leftover = read_http_response(sock, timeout=timeout)
        if not response.closed:
            closed, extra = wait_for_eof(sock, eof_timeout or bound(3.0))
            response.closed = closed
            response.leftover = leftover + extra
        return response
    finally:
        sock.close()


# ----------------------------------------------------------------------------- raw client

class RawClient:
    """A WebSocket client over a raw socket that sends whatever the test asks for. With
    tls_context (an ssl.SSLContext) it speaks through TLS: the TLS handshake runs in the
    constructor (server_hostname defaults to host; session offers a previous ssl.SSLSession),
    an end of stream without close_notify raises ssl.SSLError (UNEXPECTED_EOF_WHILE_READING)
    unless the context sets ssl.OP_IGNORE_UNEXPECTED_EOF (as Python does by default), and every
    write is made in the foreground (one SSL object cannot serve two threads), so over TLS keep
    messages small enough that their echo never fills the socket buffers."""

    def __init__(self, host, port, timeout=None, tls_context=None, server_hostname=None, session=None):
        self.timeout = timeout or bound(5.0)
        self.sock = connect(host, port, self.timeout)
        self.tls = tls_context is not None
        if self.tls:
            try:
                # suppress_ragged_eofs=False: an end of stream without close_notify raises
                # an ssl.SSLError instead of passing for a clean close.
                self.sock = tls_context.wrap_socket(self.sock, server_hostname=server_hostname or host,
                                                    session=session, suppress_ragged_eofs=False)
            except BaseException:
                self.sock.close()
                raise
        self.buffer = bytearray()
        # A data message the server has started but not finished (it may stream an echo as
        # fragments arrive); control frames can come between its fragments.
        self.partial_opcode = None
        self.partial_parts = []
        self.response = None
        self.writer = None        # background thread for large sends
        self.writer_sock = None
        self.writer_error = None
        self.close_sent = False
        self.eof = False
        self.allow_rsv1 = False   # permessage-deflate agreed: RSV1 marks a compressed message

    # -- sending
    def send(self, data):
        """Write all of data. Large writes go to a background thread so the test can read
        echoes meanwhile: a server that streams its echo stops reading when its own output is
        not consumed, and a client that only writes would deadlock with it."""
        self.join_writer()
        if len(data) >= LARGE_SEND and not self.tls:
            self._start_writer(data, tolerant=False)
        else:
            self.sock.sendall(data)

    def send_tolerant(self, data):
        """Like send, but a peer that already closed is not an error. Returns False if the
        (foreground) write hit a closed connection."""
        self.join_writer()
        if len(data) >= LARGE_SEND and not self.tls:
            self._start_writer(data, tolerant=True)
            return True
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            return False

    def _start_writer(self, data, tolerant):
        sock = self.sock.dup()
        sock.settimeout(bound(60.0))
        self.writer_sock = sock

        def write():
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as error:
                if not tolerant:
                    self.writer_error = error
            except OSError as error:
                self.writer_error = error
            finally:
                sock.close()
        self.writer = threading.Thread(target=write, daemon=True)
        self.writer.start()

    def join_writer(self, timeout=None):
        """Wait for a background write to finish; re-raise its error."""
        if self.writer is not None:
            self.writer.join(timeout if timeout is not None else bound(60.0))
            if self.writer.is_alive():
                raise AssertionError("a large write did not complete (the server stopped reading)")
            self.writer = None
        if self.writer_error is not None:
            error, self.writer_error = self.writer_error, None
            raise AssertionError("background write failed: %r" % error)

    def send_in_chunks(self, data, chunk_size, delay=0.001):
        for start in range(0, len(data), chunk_size):
            self.sock.sendall(data[start:start + chunk_size])
            if delay:
                time.sleep(delay)

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(build_frame(opcode, payload, **kw))

    def send_text(self, text, **kw):
        self.send_frame(OP_TEXT, text.encode("utf-8") if isinstance(text, str) else text, **kw)

    def send_binary(self, data, **kw):
        self.send_frame(OP_BINARY, data, **kw)

    def send_ping(self, payload=b""):
        self.send_frame(OP_PING, payload)

    def send_close(self, code=None, reason=b""):
        self.close_sent = True
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    # -- handshake
    def handshake(self, host_header, path="/", extra=(), key=None, trailing=b"", expect_status=101):
        request, key = upgrade_request(host_header, path=path, key=key, extra=extra)
        self.send(request + trailing)
        response, leftover = read_http_response(self.sock, timeout=self.timeout, read_body=expect_status != 101)
        self.response = response
        self.buffer += leftover
        if expect_status is not None and response.status != expect_status:
            raise AssertionError("handshake: expected status %d, got %r" % (expect_status, response))
        if response.status == 101:
            expected = accept_key(key)
            if response.header("Sec-WebSocket-Accept") != expected:
                raise ServerProtocolError("Sec-WebSocket-Accept %r, expected %r"
                                          % (response.header("Sec-WebSocket-Accept"), expected))
        return response

    # -- receiving
    def _fill(self, count, timeout):
        if timeout is not None:
            self.sock.settimeout(timeout)
        while len(self.buffer) < count:
            try:
                chunk = self.sock.recv(max(65536, min(count - len(self.buffer), 4 * MiB)))
            except socket.timeout:
                raise socket.timeout("timed out after %.1f s waiting for data (have %d of %d bytes)"
                                     % (self.sock.gettimeout(), len(self.buffer), count))
            except (ConnectionResetError, ConnectionAbortedError):
                chunk = b""
            if not chunk:
                self.eof = True
                raise ConnectionClosed("server closed the connection (have %d of %d bytes of a frame)"
                                       % (len(self.buffer), count))
            self.buffer += chunk

    def recv_frame(self, timeout=None):
        timeout = timeout if timeout is not None else self.timeout
        self._fill(2, timeout)
        b0, b1 = self.buffer[0], self.buffer[1]
        if b1 & 0x80:
            raise ServerProtocolError("server sent a masked frame (RFC 6455 5.1 forbids it)")
        length = b1 & 0x7F
        offset = 2
        if length == 126:
            self._fill(4, timeout)
            length = struct.unpack_from("!H", self.buffer, 2)[0]
            offset = 4
        elif length == 127:
            self._fill(10, timeout)
            length = struct.unpack_from("!Q", self.buffer, 2)[0]
            offset = 10
            if length >> 63:
                raise ServerProtocolError("server sent a 64-bit length with the high bit set")
        if length > 64 * MiB:
            raise ServerProtocolError("server frame claims %d bytes" % length)
        self._fill(offset + length, timeout)
        payload = bytes(self.buffer[offset:offset + length])
        del self.buffer[:offset + length]
        frame = Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload)
        if frame.rsv and not (frame.rsv == 4 and self.allow_rsv1):
            raise ServerProtocolError("server frame has RSV bits %d set without an extension" % frame.rsv)
        if frame.opcode >= 8 and (not frame.fin or len(payload) > 125):
            raise ServerProtocolError("server sent an invalid control frame %r" % (frame,))
        if frame.opcode not in OPCODE_NAMES:
            raise ServerProtocolError("server sent reserved opcode %d" % frame.opcode)
        return frame

    def recv_message(self, timeout=None):
        """Next complete data message or control frame, as a Message, in wire order. Fragments
        of an unfinished data message are kept (self.partial_*) across calls."""
        while True:
            frame = self.recv_frame(timeout)
            if frame.opcode >= 8:
                return Message(frame.opcode, frame.payload)
            if frame.opcode == OP_CONT:
                if self.partial_opcode is None:
                    raise ServerProtocolError("server sent a continuation frame with no message in progress")
            elif self.partial_opcode is not None:
                raise ServerProtocolError("server started a new message inside a fragmented one")
            else:
                self.partial_opcode = frame.opcode
            self.partial_parts.append(frame.payload)
            if frame.fin:
                break
        opcode, payload = self.partial_opcode, b"".join(self.partial_parts)
        self.partial_opcode, self.partial_parts = None, []
        if opcode == OP_TEXT:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ServerProtocolError("server sent invalid UTF-8 text: %s" % error)
        return Message(opcode, payload)

    def expect_message(self, opcode, payload, timeout=None, what="echo"):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        message = self.recv_message(timeout)
        if message.opcode != opcode or message.payload != payload:
            if message.opcode == OP_CLOSE:
                code, reason = parse_close(message.payload)
                raise AssertionError("%s: expected %s %s, got close code %s reason %r"
                                     % (what, OPCODE_NAMES.get(opcode), preview(payload), code, reason))
            raise AssertionError("%s: expected %s %s, got %s %s (%s)"
                                 % (what, OPCODE_NAMES.get(opcode), preview(payload),
                                    OPCODE_NAMES.get(message.opcode, message.opcode), preview(message.payload),
                                    describe_difference(payload, message.payload)))
        return message

    def echo(self, opcode, payload, timeout=None):
        """Send a message in one frame and check it comes back unchanged."""
        self.send_frame(opcode, payload)
        return self.expect_message(opcode, payload, timeout)

    def recv_until_close(self, timeout=None):
        """Read messages until a close frame; returns (close_payload, [messages before it])."""
        before = []
        while True:
            message = self.recv_message(timeout)
            if message.opcode == OP_CLOSE:
                return message.payload, before
            before.append(message)

    def expect_close(self, code="any", timeout=None, allow_before=False, reply=True, eof_timeout=None):
        """Wait for the server's close frame; check its code (None = empty payload); answer it
        (unless we already sent close) and check the server then closes TCP.
        Returns (code, reason, messages received before the close)."""
        try:
            payload, before = self.recv_until_close(timeout)
        except ConnectionClosed:
            raise AssertionError("expected a close frame (code %s) but the server closed TCP without one"
                                 % code)
        except socket.timeout as error:
            raise AssertionError("expected a close frame (code %s): %s" % (code, error))
        if before and not allow_before:
            raise AssertionError("expected a close frame (code %s) first, got %r" % (code, before))
        received_code, reason = parse_close(payload)
        if code != "any":
            codes = code if isinstance(code, (tuple, list, set)) else (code,)
            if received_code not in codes:
                raise AssertionError("expected close code %s, got %s (reason %r)" % (code, received_code, reason))
        if reply and not self.close_sent:
            self.close_sent = True
            self.send_tolerant(build_frame(OP_CLOSE, payload[:2]))
        self.expect_eof(eof_timeout)
        return received_code, reason, before

    def expect_eof(self, timeout=None):
        """The server must close TCP within the bound; any frame arriving instead is an error."""
        timeout = timeout or bound(3.0)
        if self.buffer:
            raise AssertionError("unexpected bytes before TCP close: %s" % preview(bytes(self.buffer)))
        if self.eof:
            return
        closed, extra = wait_for_eof(self.sock, timeout)
        if extra:
            raise AssertionError("unexpected bytes before TCP close: %s" % preview(extra))
        if not closed:
            raise AssertionError("server did not close TCP within %.1f s" % timeout)
        self.eof = True

    def expect_silence(self, timeout=0.3):
        """Nothing arrives within `timeout` (used for 'ignored' frames, followed by a positive check)."""
        if self.buffer:
            raise AssertionError("unexpected data pending: %s" % preview(bytes(self.buffer)))
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        except (ConnectionResetError, ConnectionAbortedError):
            chunk = b""
        raise AssertionError("expected nothing, got %s" % (preview(chunk) if chunk else "TCP close"))

    def close(self):
        if self.writer is not None and self.writer.is_alive():
            try:
                self.sock.shutdown(socket.SHUT_RDWR)  # unblocks the background writer
            except OSError:
                pass
        try:
            self.sock.close()
        except OSError:
            pass


def parse_close(payload):
    """(code, reason bytes) from a close payload; code None if empty."""
    if len(payload) == 0:
        return None, b""
    if len(payload) == 1:
        raise ServerProtocolError("server sent a 1-byte close payload")
    return struct.unpack("!H", payload[:2])[0], payload[2:]


# ----------------------------------------------------------------------------- unittest base

class ServerTestCase(unittest.TestCase):
    """Base class: one shared server per class (server_args), per-test servers via
    start_server(); clients opened via client()/http() are closed after each test."""

    server_args = ()
    shared_server = True
    backend_independent = False  # run.py runs these once, not once per backend
    server = None

    @classmethod
    def setUpClass(cls):
        if cls.shared_server:
            cls.server = Server(*cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            server, cls.server = cls.server, None
            status = server.stop()
            report = server.sanitizer_report()
            if report:
                raise AssertionError("sanitizer report from the shared server:\n" + report[-4000:])
            if status not in (0, None):
                raise AssertionError("shared server exited with status %s on SIGTERM\n%s"
                                     % (status, server.log_tail()))

    def setUp(self):
        self.servers = []
        self.clients = []
        cls = type(self)
        if cls.shared_server:
            if cls.server is None or not cls.server.alive():
                # An earlier test crashed it (and was failed for that); start afresh.
                cls.server = Server(*cls.server_args).start()
            self.servers.append(cls.server)
            self._log_mark = cls.server.log_line_count()

    def tearDown(self):
        for client in self.clients:
            client.close()
        cls = type(self)
        if cls.shared_server and cls.server is not None:
            report = cls.server.sanitizer_report(self._log_mark)
            if not cls.server.alive():
                status = cls.server.process.poll()
                raise AssertionError("the server died during this test (exit status %s)\n%s"
                                     % (status, cls.server.log_tail(60)))
            if report:
                raise AssertionError("sanitizer report during this test:\n" + report[-4000:])

    def start_server(self, *args, **kw):
        server = Server(*args, **kw)
        self.servers.append(server)
        self.addCleanup(self._stop_test_server, server)
        return server.start()

    def _stop_test_server(self, server):
        already_exited = server.process is not None and server.process.poll() is not None
        status = server.stop()
        report = server.sanitizer_report()
        if report:
            raise AssertionError("sanitizer report:\n" + report[-4000:])
        if status not in (0, None) and not already_exited:
            raise AssertionError("server exited with status %s on SIGTERM\n%s" % (status, server.log_tail()))

    def client(self, server=None, path="/", handshake=True, extra=(), timeout=None):
        server = server or self.server
        if transport_tls() and server.tls_ports:  # the TLS pass of the conformance suite
            client = RawClient(server.tls_hosts[0], server.tls_ports[0], timeout, tls_context=tls_mode_context())
            host = server.tls_host_header()
        else:
            client = RawClient(server.host, server.port, timeout)
            host = server.host_header()
        self.clients.append(client)
        if handshake:
            client.handshake(host, path=path, extra=extra)
        return client

    def tls_client(self, context, server=None, path="/", handshake=True, server_hostname=None, session=None,
                   timeout=None, index=0):
        """A RawClient over TLS to the server's wss:// port `index` (closed after the test)."""
        server = server or self.server
        client = RawClient(server.tls_hosts[index], server.tls_ports[index], timeout, tls_context=context,
                           server_hostname=server_hostname, session=session)
        self.clients.append(client)
        if handshake:
            client.handshake(server.tls_host_header(index), path=path)
        return client

    def http(self, request, server=None, **kw):
        return http_exchange(server or self.server, request, **kw)

    def request(self, server=None, **kw):
        server = server or self.server
        return upgrade_request(server.host_header(), **kw)[0]

    # Shared assertions for HTTP error responses.
    def assertHttpError(self, response, status, header=None):
        self.assertEqual(response.status, status, "status of %r" % response)
        self.assertEqual(response.version, "HTTP/1.1", "status line of %r" % response)
        if header is not None:
            name, value = header
            self.assertIn(value.lower(), [v.lower() for v in response.header_tokens(name)] +
                          [v.lower() for v in response.header_values(name)],
                          "header %s: %s expected in %r" % (name, value, response))
        content_type = (response.header("Content-Type") or "").lower()
        self.assertTrue(content_type.startswith("text/plain"), "Content-Type of %r" % response)
        self.assertTrue(len(response.body) > 0, "error response has an empty body: %r" % response)
        self.assertTrue(response.closed, "server kept the connection open after %r" % response)


def valid_utf8_text(size, seed=0):
    """Deterministic valid UTF-8 of exactly `size` bytes mixing 1- to 4-byte characters."""
    alphabet = "aé€😀Zß中й\n"
    block = "".join(alphabet[(i * 7 + seed) % len(alphabet)] for i in range(2048)).encode("utf-8")
    data = (block * (size // len(block) + 1))[:size]
    # Trim to a character boundary (at most 3 bytes), then pad with ASCII.
    while data:
        try:
            data[-4:].decode("utf-8")
            break
        except UnicodeDecodeError:
            data = data[:-1]
    return data + b"x" * (size - len(data))


def pattern_bytes(size, seed=0):
    """Deterministic binary payload covering every byte value."""
    block = bytes((i * 131 + seed) & 0xFF for i in range(4096))
    return (block * (size // len(block) + 1))[:size]
