"""Autobahn category 9 (limits and performance): large messages in one frame and in many
fragments, echoed byte-exact, pipelined bursts, and the message-size limit (RFC 6455 10.4:
implementations SHOULD limit frame and message size; the server's default limit is 16 MiB,
exceeded -> 1009 per RFC 6455 7.4.1)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import (DEFAULT_MAX_MESSAGE, KiB, MiB, OP_BINARY, OP_CONT, OP_TEXT,  # noqa: E402
                       ServerTestCase, bound, build_fragments, build_frame, frame_header,
                       pattern_bytes, valid_utf8_text)

ONE_FRAME_SIZES = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB]
FRAGMENTED = [  # (opcode, message size, fragment size)
    (OP_TEXT, 64 * KiB, 64),
    (OP_BINARY, 256 * KiB, 1 * KiB),
    (OP_TEXT, MiB, 4 * KiB),
    (OP_BINARY, 4 * MiB, 64 * KiB),
    (OP_TEXT, 4 * MiB, 256 * KiB),
    (OP_BINARY, 16 * MiB, 64 * KiB),
    (OP_TEXT, 16 * MiB, MiB),
]


def size_name(size):
    return "%dmib" % (size // MiB) if size >= MiB else "%dkib" % (size // KiB)


def payload_for(opcode, size, seed=0):
    return valid_utf8_text(size, seed) if opcode == OP_TEXT else pattern_bytes(size, seed)


class Limits(ServerTestCase):
    """9.x: large and many messages."""

    def test_9_5_1_thousand_small_messages_pipelined(self):
        """RFC 6455 5.4/5.6: 1000 16-byte text messages in one write come back in order."""
        client = self.client()
        messages = [("msg %011d" % i).encode() for i in range(1000)]
        client.send(b"".join(build_frame(OP_TEXT, m) for m in messages))
        for index, message in enumerate(messages):
            client.expect_message(OP_TEXT, message, what="message %d" % index)

    def test_9_5_2_hundred_64k_messages_pipelined(self):
        """RFC 6455 5.4: 100 binary 64 KiB messages written while echoes are read concurrently."""
        client = self.client()
        messages = [pattern_bytes(64 * KiB, seed=i) for i in range(100)]
        client.send(b"".join(build_frame(OP_BINARY, m) for m in messages))  # written in the background
        for index, message in enumerate(messages):
            client.expect_message(OP_BINARY, message, timeout=bound(10.0), what="message %d" % index)
        client.join_writer()

    def test_9_5_3_four_4mib_messages_both_directions(self):
        """RFC 6455 5.4: 4 x 4 MiB binary sent while the echoes flow back (no deadlock)."""
        client = self.client()
        messages = [pattern_bytes(4 * MiB, seed=i) for i in range(4)]
        client.send(b"".join(build_frame(OP_BINARY, m) for m in messages))  # written in the background
        for index, message in enumerate(messages):
            client.expect_message(OP_BINARY, message, timeout=bound(20.0), what="message %d" % index)
        client.join_writer()

    def test_9_6_1_chopped_1mib_frame(self):
        """RFC 6455 5.2: a 1 MiB frame written in 4 KiB chunks is echoed."""
        client = self.client()
        payload = pattern_bytes(MiB)
        client.send_in_chunks(build_frame(OP_BINARY, payload), 4 * KiB, delay=0)
        client.expect_message(OP_BINARY, payload, timeout=bound(10.0))

    def test_9_7_1_binary_over_limit_one_frame(self):
        """RFC 6455 7.4.1/10.4: a 16 MiB + 1 binary frame exceeds the limit -> 1009."""
        client = self.client()
        client.send_tolerant(build_frame(OP_BINARY, pattern_bytes(DEFAULT_MAX_MESSAGE + 1)))
        client.expect_close(1009, timeout=bound(20.0))

    def test_9_7_2_text_over_limit_fragmented(self):
        """RFC 6455 7.4.1/10.4: the limit applies to the whole message: 2 x 8 MiB + 1 byte -> 1009."""
        client = self.client()
        half = DEFAULT_MAX_MESSAGE // 2
        data = (build_frame(OP_TEXT, b"a" * half, fin=False) + build_frame(OP_CONT, b"b" * half, fin=False) +
                build_frame(OP_CONT, b"c"))
        client.send_tolerant(data)
        client.expect_close(1009, timeout=bound(20.0))

    def test_9_7_3_declared_length_over_limit_fails_fast(self):
        """RFC 6455 10.4: a frame header declaring 2^40 bytes is refused (1009) from the header
        alone, without the server waiting for (or buffering) the payload."""
        client = self.client()
        client.send(frame_header(OP_BINARY, 1 << 40) + b"\0" * 64)
        client.expect_close(1009, timeout=bound(3.0))

    def test_9_7_4_exactly_at_limit_fragmented(self):
        """RFC 6455 10.4: a message of exactly 16 MiB in 3 fragments is within the limit."""
        client = self.client()
        payload = pattern_bytes(DEFAULT_MAX_MESSAGE, seed=3)
        third = len(payload) // 3
        data = (build_frame(OP_BINARY, payload[:third], fin=False) +
                build_frame(OP_CONT, payload[third:2 * third], fin=False) + build_frame(OP_CONT, payload[2 * third:]))
        client.send(data)
        client.expect_message(OP_BINARY, payload, timeout=bound(20.0))


def _one_frame_case(opcode, size):
    def test(self):
        client = self.client()
        payload = payload_for(opcode, size, seed=size % 251)
        client.echo(opcode, payload, timeout=bound(20.0))
    test.__doc__ = ("RFC 6455 5.2/5.6: %s message of %s in one frame echoed byte-exact"
                    % ("text" if opcode == OP_TEXT else "binary", size_name(size)))
    return test


def _fragmented_case(opcode, size, fragment):
    def test(self):
        client = self.client()
        payload = payload_for(opcode, size, seed=fragment % 251)
        client.send(build_fragments(opcode, payload, fragment))
        client.expect_message(opcode, payload, timeout=bound(20.0))
    test.__doc__ = ("RFC 6455 5.4: %s message of %s in %d fragments of %d bytes echoed byte-exact"
                    % ("text" if opcode == OP_TEXT else "binary", size_name(size), size // fragment, fragment))
    return test


for _index, _size in enumerate(ONE_FRAME_SIZES, 1):
    setattr(Limits, "test_9_1_%d_text_%s_one_frame" % (_index, size_name(_size)), _one_frame_case(OP_TEXT, _size))
    setattr(Limits, "test_9_2_%d_binary_%s_one_frame" % (_index, size_name(_size)),
            _one_frame_case(OP_BINARY, _size))
for _index, (_opcode, _size, _fragment) in enumerate(FRAGMENTED, 1):
    setattr(Limits, "test_9_3_%d_%s_%s_in_%d_byte_fragments"
            % (_index, "text" if _opcode == OP_TEXT else "binary", size_name(_size), _fragment),
            _fragmented_case(_opcode, _size, _fragment))


if __name__ == "__main__":
    unittest.main()
