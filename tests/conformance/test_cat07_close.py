"""Autobahn category 7 (close handling): RFC 6455 5.5.1 (Close frames), 7.1 (closing the
connection), 7.4 (status codes)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import (OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, ServerTestCase, bound, build_frame,  # noqa: E402
                       close_payload)

RUNS_OVER_TLS = True  # run.py runs these cases over wss:// too (the same bodies)

# RFC 6455 7.4.1/7.4.2: 1000-1003, 1007-1011 are defined and may be sent; 3000-4999 are for
# libraries, frameworks and applications. 1012-1014 were registered with IANA after the RFC:
# an endpoint may either accept them or treat them as not (yet) valid, so both answers pass.
VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
IANA_LATER_CODES = [1012, 1013, 1014]
# 0-999 unused; 1004 reserved; 1005, 1006 and 1015 MUST NOT be sent in a Close frame;
# 1016-2999 reserved for future RFCs; 5000+ outside every range.
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]

CLOSE_BOUND = 1.0  # the close reply must come within 1 s (stretched for sanitizers)


class Close(ServerTestCase):
    """7.x: close handshake behaviour and the status code table."""

    def close_with(self, payload, expected_code, extra=b""):
        client = self.client()
        client.close_sent = True
        client.send(build_frame(OP_CLOSE, payload) + extra)
        code, _, _ = client.expect_close(expected_code, timeout=bound(CLOSE_BOUND), eof_timeout=bound(2.0))
        return code

    def test_7_1_1_close_after_message(self):
        """RFC 6455 5.5.1/7.1.2: message, then close 1000: echo, close 1000, server closes TCP."""
        client = self.client()
        client.echo(OP_TEXT, "Hello World!")
        client.send_close(1000)
        client.expect_close(1000, timeout=bound(CLOSE_BOUND), eof_timeout=bound(2.0))

    def test_7_1_2_two_closes(self):
        """RFC 6455 5.5.1: after sending a Close the endpoint sends nothing more; a second close
        from us gets no second reply."""
        self.close_with(close_payload(1000), 1000, extra=build_frame(OP_CLOSE, close_payload(1001)))

    def test_7_1_3_ping_after_close(self):
        """RFC 6455 5.5.1: frames after the Close are not processed (no pong)."""
        self.close_with(close_payload(1000), 1000, extra=build_frame(OP_PING, b"after close"))

    def test_7_1_4_text_after_close(self):
        """RFC 6455 5.5.1: data after the Close is ignored (no echo)."""
        self.close_with(close_payload(1000), 1000, extra=build_frame(OP_TEXT, "after close"))

    def test_7_1_5_fragment_then_close(self):
        """RFC 6455 5.4/5.5.1: a close inside a fragmented message is answered; the partial
        message is not echoed."""
        client = self.client()
        client.close_sent = True
        client.send(build_frame(OP_TEXT, "fragment", fin=False) + build_frame(OP_CLOSE, close_payload(1000)) +
                    build_frame(OP_CONT, "rest"))
        client.expect_close(1000, timeout=bound(CLOSE_BOUND))

    def test_7_1_6_close_dribbled(self):
        """RFC 6455 5.2/5.5.1: a close frame arriving one byte at a time."""
        client = self.client()
        client.close_sent = True
        client.send_in_chunks(build_frame(OP_CLOSE, close_payload(1000, "bytewise")), 1, delay=0.001)
        client.expect_close(1000, timeout=bound(CLOSE_BOUND))

    def test_7_3_1_empty_close(self):
        """RFC 6455 5.5.1: a Close MAY have no body; it is answered (here: with an empty close)."""
        self.assertIsNone(self.close_with(b"", None))

    def test_7_3_2_one_byte_payload(self):
        """RFC 6455 5.5.1: a body, if present, MUST start with a 2-byte code; 1 byte -> 1002."""
        self.close_with(b"\x03", 1002)

    def test_7_3_3_code_only(self):
        """RFC 6455 5.5.1: a body of just the 2-byte code; the code is echoed."""
        self.close_with(close_payload(1000), 1000)

    def test_7_3_4_code_and_reason(self):
        """RFC 6455 5.5.1: code with a UTF-8 reason; the code is echoed."""
        self.close_with(close_payload(1000, "Hello World!"), 1000)

    def test_7_3_5_reason_123_bytes(self):
        """RFC 6455 5.5: 2-byte code + 123-byte reason = 125, the largest control payload."""
        self.close_with(close_payload(1000, "*" * 123), 1000)

    def test_7_3_6_reason_124_bytes(self):
        """RFC 6455 5.5: code + 124-byte reason = 126 bytes, over the control frame limit -> 1002."""
        self.close_with(close_payload(1000, "*" * 124), 1002)

    def test_7_3_7_multibyte_reason(self):
        """RFC 6455 5.5.1: a reason of multi-byte UTF-8 characters is valid."""
        self.close_with(close_payload(1000, "Tschüß 👋 κόσμε"), 1000)

    def test_7_5_1_invalid_utf8_reason(self):
        """RFC 6455 5.5.1/8.1: the reason is UTF-8; invalid bytes -> 1007."""
        self.close_with(struct_code(1000) + b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", 1007)

    def test_7_5_2_truncated_utf8_reason(self):
        """RFC 6455 5.5.1/8.1: a reason ending inside a character -> 1007."""
        self.close_with(struct_code(1000) + b"bye \xe2\x82", 1007)

    def test_7_6_1_fragmented_close(self):
        """RFC 6455 5.5: control frames MUST NOT be fragmented; a close with FIN=0 -> 1002."""
        client = self.client()
        client.send(build_frame(OP_CLOSE, close_payload(1000), fin=False))
        client.expect_close(1002)


def struct_code(code):
    return code.to_bytes(2, "big")


def _code_case(code, expected):
    def test(self):
        self.close_with(close_payload(code), expected)
    if isinstance(expected, tuple):
        what = "either echoed or 1002"
    elif expected == code:
        what = "echoed"
    else:
        what = "-> 1002"
    test.__doc__ = "RFC 6455 7.4: close code %d is %s" % (code, what)
    return test


for _code in VALID_CODES:
    setattr(Close, "test_7_7_valid_code_%d" % _code, _code_case(_code, _code))
for _code in IANA_LATER_CODES:
    setattr(Close, "test_7_8_iana_code_%d" % _code, _code_case(_code, (_code, 1002)))
for _code in INVALID_CODES:
    setattr(Close, "test_7_9_invalid_code_%d" % _code, _code_case(_code, 1002))


if __name__ == "__main__":
    unittest.main()
