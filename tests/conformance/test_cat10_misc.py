"""Autobahn category 10 (miscellaneous): auto-fragmentation. RFC 6455 5.4: an intermediary or
endpoint MAY change the fragmentation of a message; only the reassembled message counts."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import (OP_BINARY, OP_CONT, OP_TEXT, ServerTestCase, bound, build_fragments,  # noqa: E402
                       build_frame, pattern_bytes, valid_utf8_text)


class Misc(ServerTestCase):
    """10.x: fragmentation independence in both directions."""

    def test_10_1_1_text_65536_auto_fragmented_1300(self):
        """RFC 6455 5.4: a 65536-byte text sent in 1300-byte fragments comes back as the same
        message (the reply's own fragmentation is free)."""
        client = self.client()
        payload = valid_utf8_text(65536)
        client.send(build_fragments(OP_TEXT, payload, 1300))
        client.expect_message(OP_TEXT, payload)

    def test_10_1_2_binary_1mib_reply_may_be_fragmented(self):
        """RFC 6455 5.4: the echo of a 1 MiB single-frame message is compared as a whole,
        whatever fragmentation the server chose."""
        client = self.client()
        payload = pattern_bytes(1 << 20, seed=10)
        client.echo(OP_BINARY, payload, timeout=bound(10.0))

    def test_10_1_3_mixed_fragment_sizes_and_messages(self):
        """RFC 6455 5.4: alternating single-frame and fragmented messages keep their order."""
        client = self.client()
        messages = []
        data = b""
        for index in range(20):
            opcode = OP_TEXT if index % 2 else OP_BINARY
            payload = valid_utf8_text(500 + index * 97, index) if opcode == OP_TEXT else pattern_bytes(500 + index * 97, index)
            messages.append((opcode, payload))
            data += build_frame(opcode, payload) if index % 3 == 0 else build_fragments(opcode, payload, 1 + index * 13)
        client.send(data)
        for index, (opcode, payload) in enumerate(messages):
            client.expect_message(opcode, payload, what="message %d" % index)

    def test_10_1_4_text_split_inside_every_character(self):
        """RFC 6455 5.4/8.1: fragment boundaries inside multi-byte characters are not errors."""
        client = self.client()
        payload = ("é€😀" * 50).encode()
        frames = b"".join(build_frame(OP_TEXT if start == 0 else OP_CONT, payload[start:start + 3],
                                      fin=start + 3 >= len(payload)) for start in range(0, len(payload), 3))
        client.send(frames)
        client.expect_message(OP_TEXT, payload)


if __name__ == "__main__":
    unittest.main()
