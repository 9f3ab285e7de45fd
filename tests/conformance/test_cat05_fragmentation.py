"""Autobahn category 5 (fragmentation): RFC 6455 5.4 and 5.5."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, ServerTestCase,  # noqa: E402
                       build_frame, close_payload, pattern_bytes)

RUNS_OVER_TLS = True  # run.py runs these cases over wss:// too (the same bodies)


class Fragmentation(ServerTestCase):
    """5.x: fragmented messages, control frames among fragments, and fragmentation errors."""

    def test_5_1_fragmented_ping(self):
        """RFC 6455 5.5: control frames MUST NOT be fragmented; a ping with FIN=0 -> 1002."""
        client = self.client()
        client.send(build_frame(OP_PING, "frag", fin=False) + build_frame(OP_CONT, "ment"))
        client.expect_close(1002)

    def test_5_2_fragmented_pong(self):
        """RFC 6455 5.5: a pong with FIN=0 -> 1002."""
        client = self.client()
        client.send(build_frame(OP_PONG, "frag", fin=False) + build_frame(OP_CONT, "ment"))
        client.expect_close(1002)

    def test_5_3_text_two_fragments(self):
        """RFC 6455 5.4: a text message in two fragments (one write) is one message."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "frag", fin=False) + build_frame(OP_CONT, "ment"))
        client.expect_message(OP_TEXT, "fragment")

    def test_5_4_text_two_fragments_separate_writes(self):
        """RFC 6455 5.4: the same, with each fragment in its own write after a short pause."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "frag", fin=False))
        time.sleep(0.05)
        client.send(build_frame(OP_CONT, "ment"))
        client.expect_message(OP_TEXT, "fragment")

    def test_5_5_text_one_byte_fragments(self):
        """RFC 6455 5.4: a message of 50 one-byte fragments, each written separately."""
        client = self.client()
        text = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
        for index in range(len(text)):
            opcode = OP_TEXT if index == 0 else OP_CONT
            client.send(build_frame(opcode, text[index:index + 1], fin=index == len(text) - 1))
            time.sleep(0.0005)
        client.expect_message(OP_TEXT, text)

    def test_5_6_ping_between_fragments_one_write(self):
        """RFC 6455 5.4: control frames MAY be injected in the middle of a fragmented message."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "frag", fin=False) + build_frame(OP_PING, "ping") +
                    build_frame(OP_CONT, "ment"))
        client.expect_message(OP_PONG, "ping")
        client.expect_message(OP_TEXT, "fragment")

    def test_5_7_ping_between_fragments_frame_wise(self):
        """RFC 6455 5.4: the pong comes back before the message is complete."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "frag", fin=False))
        client.send(build_frame(OP_PING, "ping"))
        client.expect_message(OP_PONG, "ping")
        client.send(build_frame(OP_CONT, "ment"))
        client.expect_message(OP_TEXT, "fragment")

    def test_5_8_pong_between_fragments(self):
        """RFC 6455 5.4/5.5.3: an unsolicited pong among fragments is ignored."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "frag", fin=False) + build_frame(OP_PONG, "pong") +
                    build_frame(OP_CONT, "ment"))
        client.expect_message(OP_TEXT, "fragment")

    def test_5_9_continuation_without_start_fin(self):
        """RFC 6455 5.4: a continuation frame (FIN=1) with no message in progress -> 1002."""
        client = self.client()
        client.send(build_frame(OP_CONT, "orphan"))
        client.expect_close(1002)

    def test_5_10_continuation_without_start_nofin(self):
        """RFC 6455 5.4: continuation frames (FIN=0 then FIN=1) without a start -> 1002."""
        client = self.client()
        client.send(build_frame(OP_CONT, "orphan", fin=False) + build_frame(OP_CONT, "again"))
        client.expect_close(1002)

    def test_5_11_continuation_after_complete_message(self):
        """RFC 6455 5.4: a continuation after a finished message -> echo, then 1002."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "done") + build_frame(OP_CONT, "late"))
        _, _, before = client.expect_close(1002, allow_before=True)
        self.assertEqual([(m.opcode, m.payload) for m in before], [(OP_TEXT, b"done")])

    def test_5_12_new_text_inside_fragmented(self):
        """RFC 6455 5.4: fragments of one message MUST NOT be interleaved with another (-> 1002)."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "first ", fin=False) + build_frame(OP_TEXT, "second"))
        client.expect_close(1002)

    def test_5_13_new_binary_inside_fragmented_text(self):
        """RFC 6455 5.4: a binary frame while a text message is open -> 1002."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "first ", fin=False) + build_frame(OP_BINARY, b"second", fin=False))
        client.expect_close(1002)

    def test_5_14_empty_fragments(self):
        """RFC 6455 5.4: empty fragments are legal; the result is one empty text message."""
        client = self.client()
        client.send(build_frame(OP_TEXT, b"", fin=False) + build_frame(OP_CONT, b"", fin=False) +
                    build_frame(OP_CONT, b""))
        client.expect_message(OP_TEXT, b"")

    def test_5_15_binary_fragments_of_varying_sizes(self):
        """RFC 6455 5.4: a binary message in 40 fragments of sizes 0..200 keeps byte order."""
        client = self.client()
        payload = pattern_bytes(4000)
        frames, position, index = [], 0, 0
        while position < len(payload):
            size = (index * 53) % 201
            frames.append(build_frame(OP_BINARY if index == 0 else OP_CONT, payload[position:position + size],
                                      fin=position + size >= len(payload)))
            position += size
            index += 1
        client.send(b"".join(frames))
        client.expect_message(OP_BINARY, payload)

    def test_5_16_two_fragmented_messages_back_to_back(self):
        """RFC 6455 5.4: after the final fragment a new message may start immediately."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "one-", fin=False) + build_frame(OP_CONT, "a") +
                    build_frame(OP_BINARY, b"two-", fin=False) + build_frame(OP_CONT, b"b"))
        client.expect_message(OP_TEXT, "one-a")
        client.expect_message(OP_BINARY, b"two-b")

    def test_5_17_close_inside_fragmented(self):
        """RFC 6455 5.4/5.5.1: a close among fragments is processed; the unfinished message is dropped."""
        client = self.client()
        client.close_sent = True
        client.send(build_frame(OP_TEXT, "unfinished", fin=False) + build_frame(OP_CLOSE, close_payload(1000)))
        client.expect_close(1000)

    def test_5_18_fragments_with_delays(self):
        """RFC 6455 5.4: 20 fragments written 2 ms apart form one message."""
        client = self.client()
        parts = [("part-%02d;" % i).encode() for i in range(20)]
        for index, part in enumerate(parts):
            client.send(build_frame(OP_BINARY if index == 0 else OP_CONT, part, fin=index == len(parts) - 1))
            time.sleep(0.002)
        client.expect_message(OP_BINARY, b"".join(parts))

    def test_5_19_pings_between_many_fragments(self):
        """RFC 6455 5.4: pings between each of 5 fragments are all answered; message echoed once."""
        client = self.client()
        data = b""
        for index in range(5):
            data += build_frame(OP_TEXT if index == 0 else OP_CONT, b"f%d" % index, fin=index == 4)
            if index < 4:
                data += build_frame(OP_PING, b"p%d" % index)
        client.send(data)
        for index in range(4):
            client.expect_message(OP_PONG, b"p%d" % index)
        client.expect_message(OP_TEXT, b"f0f1f2f3f4")


if __name__ == "__main__":
    unittest.main()
