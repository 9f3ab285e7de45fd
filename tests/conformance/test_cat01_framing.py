"""Autobahn category 1 (framing): text and binary messages at every payload-length encoding
boundary, frames split across writes, and the framing rules a server enforces."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import (OP_BINARY, OP_TEXT, ServerTestCase, bound, build_frame,  # noqa: E402
                       frame_header, mask_payload, pattern_bytes, valid_utf8_text)

RUNS_OVER_TLS = True  # run.py runs these cases over wss:// too (the same bodies)

LENGTHS = [0, 1, 125, 126, 127, 128, 65535, 65536]


class Framing(ServerTestCase):
    """1.x: data frames of every length encoding (7-bit, 16-bit, 64-bit)."""

    def test_1_3_1_header_dribbled_7bit(self):
        """RFC 6455 5.2: a frame may arrive split at any byte; 7-bit length header sent byte by byte."""
        self.dribble(OP_TEXT, valid_utf8_text(100))

    def test_1_3_2_header_dribbled_16bit(self):
        """RFC 6455 5.2: 16-bit extended length (126) split over single-byte writes."""
        self.dribble(OP_BINARY, pattern_bytes(300), header_only=True)

    def test_1_3_3_header_dribbled_64bit(self):
        """RFC 6455 5.2: 64-bit extended length (127) split over single-byte writes."""
        self.dribble(OP_BINARY, pattern_bytes(70000), header_only=True)

    def dribble(self, opcode, payload, header_only=False):
        client = self.client()
        mask = os.urandom(4)
        header = frame_header(opcode, len(payload), mask_key=mask)
        body = mask_payload(payload, mask)
        client.send_in_chunks(header, 1, delay=0.002)
        if header_only:
            client.send(body)
        else:
            client.send_in_chunks(body, 1, delay=0.0005)
        client.expect_message(opcode, payload)

    def test_1_4_1_unmasked_client_frame(self):
        """RFC 6455 5.1: a server MUST close the connection upon receiving an unmasked frame (1002)."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "not masked", masked=False))
        client.expect_close(1002)

    def test_1_4_2_unmasked_after_valid(self):
        """RFC 6455 5.1: the unmasked frame fails the connection; the valid frame before it is echoed."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "masked") + build_frame(OP_TEXT, "unmasked", masked=False))
        _, _, before = client.expect_close(1002, allow_before=True)
        self.assertEqual([m.payload for m in before], [b"masked"])

    def test_1_5_1_length_high_bit_set(self):
        """RFC 6455 5.2: the most significant bit of a 64-bit length MUST be 0 (-> 1002)."""
        client = self.client()
        client.send(frame_header(OP_BINARY, (1 << 63) | 16, length_form=64) + b"x" * 16)
        client.expect_close((1002, 1009))

    def test_1_6_1_zero_mask_key(self):
        """RFC 6455 5.3: an all-zero masking key is a valid key (payload sent unchanged)."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "zero mask", mask_key=b"\0\0\0\0"))
        client.expect_message(OP_TEXT, "zero mask")


def _length_case(opcode, length):
    def test(self):
        client = self.client()
        payload = valid_utf8_text(length, seed=length) if opcode == OP_TEXT else pattern_bytes(length, seed=length)
        client.echo(opcode, payload, timeout=bound(10.0))
    kind = "text" if opcode == OP_TEXT else "binary"
    form = "7-bit" if length <= 125 else ("16-bit" if length <= 65535 else "64-bit")
    test.__doc__ = ("RFC 6455 5.2 (%s payload length): %s message of %d bytes echoed byte-exact"
                    % (form, kind, length))
    return test


def _chunked_case(opcode, length, chunk):
    def test(self):
        client = self.client()
        payload = valid_utf8_text(length) if opcode == OP_TEXT else pattern_bytes(length)
        client.send_in_chunks(build_frame(opcode, payload), chunk, delay=0.001)
        client.expect_message(opcode, payload, timeout=bound(10.0))
    test.__doc__ = ("RFC 6455 5.2/5.4 (framing independent of TCP segmentation): %d-byte %s frame sent in "
                    "%d-byte chunks with small delays is echoed"
                    % (length, "text" if opcode == OP_TEXT else "binary", chunk))
    return test


for _index, _length in enumerate(LENGTHS, 1):
    setattr(Framing, "test_1_1_%d_text_length_%d" % (_index, _length), _length_case(OP_TEXT, _length))
    setattr(Framing, "test_1_2_%d_binary_length_%d" % (_index, _length), _length_case(OP_BINARY, _length))
setattr(Framing, "test_1_1_9_text_65536_chunked", _chunked_case(OP_TEXT, 65536, 997))
setattr(Framing, "test_1_2_9_binary_65536_chunked", _chunked_case(OP_BINARY, 65536, 997))
setattr(Framing, "test_1_2_10_binary_200_in_1_byte_chunks", _chunked_case(OP_BINARY, 200, 1))


if __name__ == "__main__":
    unittest.main()
