"""Autobahn category 3 (reserved bits): RFC 6455 5.2, RSV1-3 MUST be 0 when no extension is
negotiated; otherwise the receiver MUST fail the connection (1002)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, ServerTestCase,  # noqa: E402
                       build_frame, close_payload)


class ReservedBits(ServerTestCase):
    """3.x: any RSV bit set without a negotiated extension -> close 1002."""

    def expect_failure_after(self, client, echoed):
        _, _, before = client.expect_close(1002, allow_before=bool(echoed))
        self.assertEqual([(m.opcode, m.payload) for m in before], echoed,
                         "frames answered before the failing frame")

    def test_3_1_rsv1_text(self):
        """RFC 6455 5.2: RSV1 set on a text frame, no extension negotiated -> 1002."""
        client = self.client()
        client.send_frame(OP_TEXT, "Hello, world!", rsv=4)
        client.expect_close(1002)

    def test_3_2_rsv2_after_valid_text_same_write(self):
        """RFC 6455 5.2: RSV2 frame after a valid text in the same write: the text is echoed first."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "small") + build_frame(OP_TEXT, "bad", rsv=2))
        self.expect_failure_after(client, [(OP_TEXT, b"small")])

    def test_3_3_rsv3_between_text_and_ping(self):
        """RFC 6455 5.2: text, RSV3 text, ping in one write: echo, then 1002, and no pong."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "small") + build_frame(OP_TEXT, "bad", rsv=1) +
                    build_frame(OP_PING, "no pong"))
        self.expect_failure_after(client, [(OP_TEXT, b"small")])

    def test_3_3_2_rsv3_frame_wise_writes(self):
        """RFC 6455 5.2: the same sequence written frame by frame."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "small"))
        client.expect_message(OP_TEXT, "small")
        client.send(build_frame(OP_TEXT, "bad", rsv=1))
        client.send_tolerant(build_frame(OP_PING, "no pong"))
        client.expect_close(1002)

    def test_3_4_rsv4_binary(self):
        """RFC 6455 5.2: RSV1 (value 4) on a binary frame -> 1002."""
        client = self.client()
        client.send_frame(OP_BINARY, bytes(range(256)) * 4, rsv=4)
        client.expect_close(1002)

    def test_3_5_rsv5_binary(self):
        """RFC 6455 5.2: RSV1|RSV3 (value 5) on a binary frame -> 1002."""
        client = self.client()
        client.send_frame(OP_BINARY, b"\x00\xff" * 8, rsv=5)
        client.expect_close(1002)

    def test_3_6_rsv6_ping(self):
        """RFC 6455 5.2: RSV bits (value 6) on a ping -> 1002 and no pong."""
        client = self.client()
        client.send_frame(OP_PING, b"ping", rsv=6)
        client.expect_close(1002)

    def test_3_7_rsv7_close(self):
        """RFC 6455 5.2: all RSV bits on a close frame -> 1002 (not an echo of 1000)."""
        client = self.client()
        client.send_frame(OP_CLOSE, close_payload(1000), rsv=7)
        client.expect_close(1002)

    def test_3_8_rsv_on_pong(self):
        """RFC 6455 5.2: RSV bits on a pong (which is otherwise ignored) -> 1002."""
        client = self.client()
        client.send_frame(OP_PONG, b"", rsv=2)
        client.expect_close(1002)

    def test_3_9_rsv_on_continuation(self):
        """RFC 6455 5.2: RSV bits on a continuation frame -> 1002; the message is never completed."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "first half ", fin=False) + build_frame(OP_CONT, "second", rsv=4))
        client.expect_close(1002)

    def test_3_10_ping_answered_before_bad_frame(self):
        """RFC 6455 5.2/5.5.2: a ping before the bad frame in the same write is answered first."""
        client = self.client()
        client.send(build_frame(OP_PING, "before") + build_frame(OP_BINARY, b"bad", rsv=3))
        self.expect_failure_after(client, [(OP_PONG, b"before")])


if __name__ == "__main__":
    unittest.main()
