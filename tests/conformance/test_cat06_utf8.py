"""Autobahn category 6 (UTF-8 handling): RFC 6455 5.6 (text payload is UTF-8) and 8.1 (an
endpoint that finds the byte stream is not valid UTF-8 MUST fail the connection: 1007),
validated as RFC 3629 defines UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF)."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import (OP_BINARY, OP_CONT, OP_TEXT, ServerTestCase, bound, build_frame,  # noqa: E402
                       frame_header, mask_payload)

RUNS_OVER_TLS = True  # run.py runs these cases over wss:// too (the same bodies)

VALID_TEXTS = [
    ("ascii", "Hello, world!"),
    ("latin1_supplement", "Hello-µ@ßöäüàá-UTF-8!!"),
    ("greek", "κόσμε"),
    ("russian", "Привет, мир"),
    ("chinese", "你好，世界"),
    ("japanese", "こんにちは世界"),
    ("arabic", "مرحبا بالعالم"),
    ("hebrew", "שלום עולם"),
    ("hindi", "नमस्ते दुनिया"),
    ("emoji", "😀🎉🚀 4-byte sequences 𝄞"),
    ("mixed", "a é € 😀 中 й ß"),
    ("boundary_first_of_each_length", "\u0000\u0080\u0800\U00010000"),
    ("boundary_last_of_each_length", "\u007f\u07ff\uffff\U0010ffff"),
    ("around_surrogates", "\ud7ff\ue000\ufffd"),
    ("noncharacters", "\ufdd0\ufffe\U0001fffe"),
]

INVALID_SEQUENCES = [
    ("lone_continuation_80", b"\x80"),
    ("lone_continuation_bf", b"\xbf"),
    ("continuations_after_text", b"abc\x80\x80\x80"),
    ("overlong_slash_c0_af", b"\xc0\xaf"),
    ("overlong_c1_bf", b"\xc1\xbf"),
    ("overlong_nul_3byte", b"\xe0\x80\x80"),
    ("overlong_3byte_max", b"\xe0\x9f\xbf"),
    ("overlong_nul_4byte", b"\xf0\x80\x80\x80"),
    ("overlong_4byte_max", b"\xf0\x8f\xbf\xbf"),
    ("surrogate_high_d800", b"\xed\xa0\x80"),
    ("surrogate_low_dfff", b"\xed\xbf\xbf"),
    ("surrogate_pair_encoded", b"\xed\xa0\x80\xed\xb0\x80"),
    ("above_10ffff", b"\xf4\x90\x80\x80"),
    ("byte_f5", b"\xf5\x80\x80\x80"),
    ("byte_f8_5byte_form", b"\xf8\x88\x80\x80\x80"),
    ("byte_fc_6byte_form", b"\xfc\x84\x80\x80\x80\x80"),
    ("byte_fe", b"\xfe"),
    ("byte_ff", b"\xff"),
    ("truncated_2byte_then_ascii", b"\xc3a"),
    ("truncated_3byte_then_ascii", b"\xe2\x82a"),
    ("truncated_4byte_then_ascii", b"\xf0\x9f\x98a"),
    ("truncated_at_end_2byte", b"caf\xc3"),
    ("truncated_at_end_3byte", b"euro \xe2\x82"),
    ("truncated_at_end_4byte", b"smile \xf0\x9f\x98"),
    ("valid_then_invalid", "κόσμε".encode() + b"\xed\xa0\x80edited"),
]


class Utf8(ServerTestCase):
    """6.x: valid texts echo (whole, fragmented, split inside characters); invalid -> 1007,
    detected as soon as the invalid byte arrives."""

    def test_6_3_1_four_byte_char_split_over_fragments(self):
        """RFC 6455 5.6/8.1: validity is judged on the whole message; a 4-byte character split
        over 4 fragments is valid."""
        client = self.client()
        data = "x😀y".encode()
        frames = [build_frame(OP_TEXT, data[0:2], fin=False), build_frame(OP_CONT, data[2:3], fin=False),
                  build_frame(OP_CONT, data[3:4], fin=False), build_frame(OP_CONT, data[4:])]
        client.send(b"".join(frames))
        client.expect_message(OP_TEXT, data)

    def test_6_3_2_split_inside_char_separate_writes(self):
        """RFC 6455 8.1: an incomplete sequence at the end of a non-final fragment is not an error."""
        client = self.client()
        data = "€uro".encode()
        client.send(build_frame(OP_TEXT, data[:2], fin=False))
        time.sleep(0.05)  # the server may already echo the fragment; it must not fail the connection
        client.send(build_frame(OP_CONT, data[2:]))
        client.expect_message(OP_TEXT, data)

    def test_6_4_1_fail_fast_invalid_in_first_fragment(self):
        """RFC 6455 8.1 (fail fast): invalid bytes in a first fragment get 1007 before the rest
        of the message is sent."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "κόσμε".encode() + b"\xf4\x90\x80\x80", fin=False))
        client.expect_close(1007, timeout=bound(2.0))

    def test_6_4_2_fail_fast_surrogate_prefix_at_fragment_end(self):
        """RFC 6455 8.1 (fail fast): ED A0 at the end of a fragment can only start a surrogate,
        so the message is already invalid -> 1007 without waiting for the next fragment."""
        client = self.client()
        client.send(build_frame(OP_TEXT, b"abc\xed\xa0", fin=False))
        client.expect_close(1007, timeout=bound(2.0))

    def test_6_4_3_fail_fast_above_max_prefix_at_fragment_end(self):
        """RFC 6455 8.1 (fail fast): F4 90 can only encode above U+10FFFF -> 1007 at once."""
        client = self.client()
        client.send(build_frame(OP_TEXT, b"abc\xf4\x90", fin=False))
        client.expect_close(1007, timeout=bound(2.0))

    def test_6_4_4_fail_fast_within_one_frame(self):
        """RFC 6455 8.1 (fail fast): one 200-byte frame dribbled in pieces; the invalid byte in
        the second piece gets 1007 before the rest of the frame is sent."""
        client = self.client()
        mask = b"\x01\x02\x03\x04"
        payload = b"valid prefix " + b"\xc0\xaf" + b"z" * 185
        client.send(frame_header(OP_TEXT, len(payload), mask_key=mask))
        client.send(mask_payload(payload[:13], mask))
        time.sleep(0.05)
        client.send(mask_payload(payload[13:20], mask, offset=13))
        client.expect_close(1007, timeout=bound(2.0))

    def test_6_4_5_fail_fast_invalid_first_byte_of_frame(self):
        """RFC 6455 8.1 (fail fast): a 1000-byte frame whose first payload byte is 0xFF: 1007
        after only a few bytes of the payload have been sent."""
        client = self.client()
        mask = b"\x05\x06\x07\x08"
        payload = b"\xff" + b"a" * 999
        client.send(frame_header(OP_TEXT, len(payload), mask_key=mask) + mask_payload(payload[:4], mask))
        client.expect_close(1007, timeout=bound(2.0))

    def test_6_5_1_truncated_at_end_of_final_fragment(self):
        """RFC 6455 8.1: a message that ends inside a character is invalid -> 1007."""
        client = self.client()
        client.send(build_frame(OP_TEXT, b"abc", fin=False) + build_frame(OP_CONT, b"\xe2\x82"))
        client.expect_close(1007)

    def test_6_5_2_invalid_across_fragment_boundary(self):
        """RFC 6455 8.1: a lead byte ending one fragment and a non-continuation starting the
        next -> 1007."""
        client = self.client()
        client.send(build_frame(OP_TEXT, b"abc\xc3", fin=False) + build_frame(OP_CONT, b"def"))
        client.expect_close(1007)

    def test_6_5_3_valid_messages_before_invalid(self):
        """RFC 6455 8.1: messages before the invalid one are echoed, then 1007."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "ok ✓") + build_frame(OP_TEXT, b"bad \xff"))
        _, _, before = client.expect_close(1007, allow_before=True)
        self.assertEqual([m.payload for m in before], ["ok ✓".encode()])

    def test_6_5_4_binary_is_not_validated(self):
        """RFC 6455 5.6: binary data is not UTF-8 checked; invalid sequences echo as binary."""
        client = self.client()
        client.echo(OP_BINARY, b"\xff\xfe\xed\xa0\x80\xc0\xaf")


def _valid_case(text):
    data = text.encode("utf-8")

    def test(self):
        client = self.client()
        client.echo(OP_TEXT, data)
    test.__doc__ = "RFC 6455 5.6: valid UTF-8 text %r is echoed unchanged" % text[:24]
    return test


def _valid_bytewise_case(text):
    data = text.encode("utf-8")

    def test(self):
        client = self.client()
        frames = [build_frame(OP_TEXT if i == 0 else OP_CONT, data[i:i + 1], fin=i == len(data) - 1)
                  for i in range(len(data))]
        client.send(b"".join(frames))
        client.expect_message(OP_TEXT, data)
    test.__doc__ = ("RFC 6455 5.4/8.1: valid text %r in 1-byte fragments (split inside characters) "
                    "is echoed" % text[:24])
    return test


def _invalid_case(data):
    def test(self):
        client = self.client()
        client.send(build_frame(OP_TEXT, data))
        client.expect_close(1007)
    test.__doc__ = "RFC 6455 8.1 / RFC 3629: invalid UTF-8 %r in a text frame -> 1007" % data
    return test


def _invalid_bytewise_case(data):
    def test(self):
        client = self.client()
        frames = [build_frame(OP_TEXT if i == 0 else OP_CONT, data[i:i + 1], fin=i == len(data) - 1)
                  for i in range(len(data))]
        client.send_tolerant(b"".join(frames))
        client.expect_close(1007)
    test.__doc__ = "RFC 6455 8.1: invalid UTF-8 %r sent as 1-byte fragments -> 1007" % data
    return test


for _index, (_name, _text) in enumerate(VALID_TEXTS, 1):
    setattr(Utf8, "test_6_1_%d_valid_%s" % (_index, _name), _valid_case(_text))
    if _name in ("latin1_supplement", "emoji", "mixed", "boundary_last_of_each_length"):
        setattr(Utf8, "test_6_2_%d_valid_bytewise_%s" % (_index, _name), _valid_bytewise_case(_text))
for _index, (_name, _data) in enumerate(INVALID_SEQUENCES, 1):
    setattr(Utf8, "test_6_6_%d_invalid_%s" % (_index, _name), _invalid_case(_data))
    if _name in ("overlong_nul_3byte", "surrogate_high_d800", "above_10ffff", "truncated_at_end_4byte"):
        setattr(Utf8, "test_6_7_%d_invalid_bytewise_%s" % (_index, _name), _invalid_bytewise_case(_data))


if __name__ == "__main__":
    unittest.main()
