"""--tls-offload: after a TLS 1.3 handshake wsring-echo protects records with its own record
layer (the default). These tests drive what only the record layer itself handles after the
hand-off -- KeyUpdates from `openssl s_client` mid-connection, both kinds, with data between
them -- and run a few of the wss:// cases with --tls-offload off (OpenSSL for the whole
connection). The rest of the wss:// suite (test_tls, test_load_tls) runs with the default."""

import ssl
import time

import test_tls  # (not `from test_tls import`: its classes would run again as this module's)
from wsharness import OP_BINARY, bound, build_frame

# s_client takes a read from its stdin that starts with Q, R, K or k as a command: payloads are
# digits only, sent with a zero mask so the bytes on the pipe are the payload's.
ZERO_MASK = b"\0\0\0\0"


def digits(size):
    return (b"0123456789" * (size // 10 + 1))[:size]


class KeyUpdatesMidConnection(test_tls.OpenSslClient):
    """s_client's "K" (KeyUpdate, update_requested: the server must answer with its own and
    change its write key) and "k" (update_not_requested), alternating, each followed by echoes
    small and larger than a record, so both directions' new keys carry data."""
    test_key_update = None  # (test_tls runs these)
    test_renegotiation_refused = None

    def test_key_updates_of_both_kinds_between_echoes(self):
        process, output = self.start_client("-tls1_3")
        self.upgrade(process, output)
        for round_, letter in enumerate([b"K", b"k", b"K", b"k", b"k", b"K"]):
            del output[:]
            self.command(process, letter)
            self.wait_for(output, b"KEYUPDATE\n")
            sent = [b"%d " % round_ + digits(size) for size in (10, 20000)]
            for payload in sent:
                process.stdin.write(build_frame(OP_BINARY, payload, mask_key=ZERO_MASK))
                process.stdin.flush()
            start = bytes(output).index(b"KEYUPDATE\n") + len(b"KEYUPDATE\n")
            self.assertEqual(self.wait_for_messages(output, start, len(sent)), sent, "round %d" % round_)

    def wait_for_messages(self, output, start, count, seconds=5.0):
        """The first `count` messages s_client printed from `start` on (the echo of a frame that
        arrived in pieces may come back in fragments: their payloads are joined)."""
        deadline = time.monotonic() + bound(seconds)
        while True:
            messages = messages_in(bytes(output[start:]))
            if len(messages) >= count:
                return messages[:count]
            if time.monotonic() > deadline:
                self.fail("%d of %d echoes from s_client" % (len(messages), count))
            time.sleep(0.01)


class OffloadedSessionsCounted(test_tls.TlsTestCase):
    """The exit summary (and /metrics' wsring_tls_offloaded_total) counts the sessions whose
    record layer was taken over: TLS 1.3 ones, not TLS 1.2 ones, none with --tls-offload off."""

    def offloaded_after_two_clients(self, *args):
        server = self.start_server(*test_tls.tls_args(self.pki), *args)
        self.assert_serves_wss(server)  # TLS 1.3
        self.assert_serves_wss(server, context=self.context(maximum=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(server.stop(), 0, server.log_tail())
        line = test_tls.stopped_line(server)
        self.assertEqual(test_tls.count_in(line, "TLS handshakes?"), 2, line)
        return test_tls.count_in(line, "offloaded"), line

    def test_tls13_sessions_are_counted(self):
        offloaded, line = self.offloaded_after_two_clients()
        self.assertEqual(offloaded, 1, line)

    def test_none_with_the_offload_off(self):
        offloaded, line = self.offloaded_after_two_clients("--tls-offload", "off")
        self.assertEqual(offloaded, 0, line)
        self.assertIn("0 offloaded", line)


def messages_in(data):
    """Payloads of the complete messages in a stream of server (unmasked) frames."""
    messages, pending, pos = [], b"", 0
    while len(data) - pos >= 2:
        fin, size, header = data[pos] & 0x80, data[pos + 1] & 0x7F, 2
        if size == 126:
            size, header = int.from_bytes(data[pos + 2:pos + 4], "big"), 4
        elif size == 127:
            size, header = int.from_bytes(data[pos + 2:pos + 10], "big"), 10
        if len(data) - pos < header + size:
            break
        pending += data[pos + header:pos + header + size]
        pos += header + size
        if fin:
            messages.append(pending)
            pending = b""
    return messages


class OpenSslClientWithOffloadOff(test_tls.OpenSslClient):
    """KeyUpdate and a refused TLS 1.2 renegotiation on OpenSSL's record layer."""
    extra_args = ("--tls-offload", "off")


class PythonWebsocketsWithOffloadOff(test_tls.PythonWebsocketsOverTls):
    """Echoes of every length class, pings and the close handshake with --tls-offload off."""
    extra_args = ("--tls-offload", "off")
    test_plain_port_still_serves_alongside = None
    test_tls_listener_on_ipv6_loopback = None
    test_two_tls_listeners = None
