"""Autobahn category 2 (ping/pong): RFC 6455 5.5.2 and 5.5.3."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from wsharness import (OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, ServerTestCase, build_frame,  # noqa: E402
                       close_payload)


class PingPong(ServerTestCase):
    """2.x: ping gets a pong with identical application data; pongs need no answer."""

    def test_2_1_ping_empty(self):
        """RFC 6455 5.5.3: the Pong frame carries the Ping's application data (here none)."""
        client = self.client()
        client.send_ping(b"")
        client.expect_message(OP_PONG, b"")

    def test_2_2_ping_small_text_payload(self):
        """RFC 6455 5.5.2/5.5.3: ping with a short text payload -> pong with identical payload."""
        client = self.client()
        client.send_ping(b"Hello, world!")
        client.expect_message(OP_PONG, b"Hello, world!")

    def test_2_3_ping_binary_payload(self):
        """RFC 6455 5.5.3: ping application data is arbitrary bytes; echoed exactly in the pong."""
        client = self.client()
        payload = bytes([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])
        client.send_ping(payload)
        client.expect_message(OP_PONG, payload)

    def test_2_4_ping_125_bytes(self):
        """RFC 6455 5.5: control frame payload of exactly 125 bytes is allowed; pong echoes it."""
        client = self.client()
        payload = bytes(range(125))
        client.send_ping(payload)
        client.expect_message(OP_PONG, payload)

    def test_2_5_ping_126_bytes(self):
        """RFC 6455 5.5: all control frames MUST have a payload length of 125 bytes or less (-> 1002)."""
        client = self.client()
        client.send_frame(OP_PING, b"\xfe" * 126)
        client.expect_close(1002)

    def test_2_5_2_pong_126_bytes(self):
        """RFC 6455 5.5: the 125-byte limit applies to pong frames as well (-> 1002)."""
        client = self.client()
        client.send_frame(OP_PONG, b"\xfe" * 126)
        client.expect_close(1002)

    def test_2_6_ping_125_dribbled(self):
        """RFC 6455 5.5.2: a 125-byte ping sent one byte per write is answered."""
        client = self.client()
        payload = b"\xfe" * 125
        client.send_in_chunks(build_frame(OP_PING, payload), 1, delay=0.0005)
        client.expect_message(OP_PONG, payload)

    def test_2_7_unsolicited_pong_empty(self):
        """RFC 6455 5.5.3: a Pong MAY be sent unsolicited; no response is expected."""
        client = self.client()
        client.send_frame(OP_PONG, b"")
        client.echo(OP_TEXT, "after unsolicited pong")

    def test_2_8_unsolicited_pong_payload(self):
        """RFC 6455 5.5.3: an unsolicited pong with payload is ignored too."""
        client = self.client()
        client.send_frame(OP_PONG, b"unsolicited pong payload")
        client.echo(OP_TEXT, "after unsolicited pong")

    def test_2_9_unsolicited_pong_then_ping(self):
        """RFC 6455 5.5.3: after an unsolicited pong, a ping gets exactly its own pong."""
        client = self.client()
        client.send(build_frame(OP_PONG, b"unsolicited") + build_frame(OP_PING, b"ping payload"))
        client.expect_message(OP_PONG, b"ping payload")

    def check_ten_pings(self, client, payloads):
        # RFC 6455 5.5.3 lets an endpoint answer only the most recent of several pending pings,
        # so we accept an in-order subsequence, but the last ping must be answered.
        answered = []
        while not answered or answered[-1] != payloads[-1]:
            message = client.recv_message()
            self.assertEqual(message.opcode, OP_PONG, repr(message))
            answered.append(message.payload)
        position = 0
        for payload in answered:
            self.assertIn(payload, payloads[position:], "pong %r out of order or unknown" % payload)
            position = payloads.index(payload, position) + 1
        client.echo(OP_TEXT, "after pings")

    def test_2_10_ten_pings(self):
        """RFC 6455 5.5.2/5.5.3: 10 pings in one write; pongs in order (the last always answered)."""
        client = self.client()
        payloads = [b"payload-%d" % i for i in range(10)]
        client.send(b"".join(build_frame(OP_PING, p) for p in payloads))
        self.check_ten_pings(client, payloads)

    def test_2_11_ten_pings_dribbled(self):
        """RFC 6455 5.5.2/5.5.3: 10 pings sent in 1-byte chunks; pongs in order."""
        client = self.client()
        payloads = [b"payload-%d" % i for i in range(10)]
        client.send_in_chunks(b"".join(build_frame(OP_PING, p) for p in payloads), 1, delay=0.0002)
        self.check_ten_pings(client, payloads)

    def test_2_12_ping_after_close_ignored(self):
        """RFC 6455 5.5.1: after sending and receiving Close no further data is processed; a ping
        after our close gets no pong, only the close reply."""
        client = self.client()
        client.close_sent = True
        client.send(build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_PING, b"too late"))
        client.expect_close(1000)

    def test_2_13_ping_between_messages(self):
        """RFC 6455 5.5.2: pings interleaved with data are answered in stream order."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "a") + build_frame(OP_PING, "p1") + build_frame(OP_TEXT, "b"))
        client.expect_message(OP_TEXT, "a")
        client.expect_message(OP_PONG, "p1")
        client.expect_message(OP_TEXT, "b")


if __name__ == "__main__":
    unittest.main()
