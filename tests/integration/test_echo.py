"""Echo behaviour through a raw client: sizes, fragmentation, ping/pong, close, stream splitting."""

import time
import unittest

from wsharness import (CLOSE_TOO_BIG, DEFAULT_MAX_MESSAGE, MiB, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING,
                       OP_PONG, OP_TEXT, ServerTestCase, accept_key, bound, build_frame, close_payload,
                       frame_header, mask_payload, pattern_bytes, read_http_response, upgrade_request,
                       valid_utf8_text)

ECHO_SIZES = [0, 125, 126, 65535, 65536, MiB, 16 * MiB]


class EchoSizes(ServerTestCase):
    """Text and binary messages at every length-encoding boundary up to the default 16 MiB limit."""


def _make_size_test(opcode, size):
    def test(self):
        client = self.client()
        payload = valid_utf8_text(size, seed=size) if opcode == OP_TEXT else pattern_bytes(size, seed=size)
        client.echo(opcode, payload, timeout=bound(20.0))
        # The connection stays usable afterwards.
        client.echo(OP_TEXT, "after")
    test.__doc__ = "%s message of %d bytes is echoed byte-exact" % ("text" if opcode == OP_TEXT else "binary", size)
    return test


for _size in ECHO_SIZES:
    setattr(EchoSizes, "test_text_%d" % _size, _make_size_test(OP_TEXT, _size))
    setattr(EchoSizes, "test_binary_%d" % _size, _make_size_test(OP_BINARY, _size))


class EchoLimits(ServerTestCase):

    def test_binary_16mib_plus_1_closes_1009(self):
        """One byte over the default --max-message-size (16 MiB) -> close 1009."""
        client = self.client()
        client.send_tolerant(build_frame(OP_BINARY, pattern_bytes(DEFAULT_MAX_MESSAGE + 1)))
        client.expect_close(CLOSE_TOO_BIG, timeout=bound(20.0))

    def test_text_16mib_plus_1_closes_1009(self):
        """Text one byte over the limit -> close 1009."""
        client = self.client()
        client.send_tolerant(build_frame(OP_TEXT, valid_utf8_text(DEFAULT_MAX_MESSAGE + 1)))
        client.expect_close(CLOSE_TOO_BIG, timeout=bound(20.0))

    def test_custom_max_message_size_with_suffix(self):
        """--max-message-size 1K: 1024 bytes echoed, 1025 bytes -> 1009."""
        server = self.start_server("--max-message-size", "1K")
        client = self.client(server)
        client.echo(OP_BINARY, pattern_bytes(1024))
        client.send_frame(OP_BINARY, pattern_bytes(1025))
        client.expect_close(CLOSE_TOO_BIG)

    def test_custom_max_message_size_fragmented(self):
        """--max-message-size 1K applies to the whole fragmented message, not to each frame."""
        server = self.start_server("--max-message-size", "1024")
        client = self.client(server)
        client.send(build_frame(OP_BINARY, b"a" * 600, fin=False) + build_frame(OP_CONT, b"b" * 424))
        client.expect_message(OP_BINARY, b"a" * 600 + b"b" * 424)
        client.send(build_frame(OP_BINARY, b"a" * 600, fin=False) + build_frame(OP_CONT, b"b" * 425))
        client.expect_close(CLOSE_TOO_BIG)


class Fragmentation(ServerTestCase):

    def test_text_in_three_fragments(self):
        """Text in 3 fragments comes back as the same whole message."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "Hello, ", fin=False))
        client.send(build_frame(OP_CONT, "fragmented ", fin=False))
        client.send(build_frame(OP_CONT, "world"))
        client.expect_message(OP_TEXT, "Hello, fragmented world")

    def test_ping_between_fragments(self):
        """A ping between fragments is answered at once; the message is then echoed whole."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "one-", fin=False))
        client.send(build_frame(OP_PING, "in the middle"))
        client.expect_message(OP_PONG, "in the middle", what="pong before the message completes")
        client.send(build_frame(OP_CONT, "two-", fin=False) + build_frame(OP_CONT, "three"))
        client.expect_message(OP_TEXT, "one-two-three")

    def test_binary_in_many_fragments(self):
        """Binary split into 100 fragments of varying size, including empty ones."""
        client = self.client()
        payload = pattern_bytes(5000)
        frames, position, index = [], 0, 0
        while position < len(payload) or index == 0:
            size = (index * 37) % 97  # includes zero-length fragments
            piece = payload[position:position + size]
            frames.append((piece, index == 0))
            position += len(piece)
            index += 1
        data = b"".join(build_frame(OP_BINARY if first else OP_CONT, piece, fin=False) for piece, first in frames)
        data += build_frame(OP_CONT, b"")
        client.send(data)
        client.expect_message(OP_BINARY, payload)


class PingPongClose(ServerTestCase):

    def test_ping_gets_pong_with_same_payload(self):
        """Ping -> pong with the same payload."""
        client = self.client()
        client.send_ping(b"\x00\x01binary\xff")
        client.expect_message(OP_PONG, b"\x00\x01binary\xff")

    def test_unsolicited_pong_ignored(self):
        """An unsolicited pong gets no reply and does not disturb the connection."""
        client = self.client()
        client.send_frame(OP_PONG, b"unsolicited")
        client.echo(OP_TEXT, "still here")

    def test_close_code_echoed_and_tcp_closed(self):
        """Close 1000 -> close 1000 back, then the server closes TCP."""
        client = self.client()
        client.send_close(1000, "bye")
        client.expect_close(1000, timeout=bound(1.0), eof_timeout=bound(2.0))

    def test_close_4000_echoed(self):
        """An application code is echoed as is."""
        client = self.client()
        client.send_close(4000)
        client.expect_close(4000, timeout=bound(1.0))

    def test_empty_close_gets_empty_close(self):
        """A close without payload gets a close without payload."""
        client = self.client()
        client.send_close()
        code, _, _ = client.expect_close(None, timeout=bound(1.0))
        self.assertIsNone(code)

    def test_messages_before_close_echoed(self):
        """Messages sent before the close in the same write are echoed before the close reply."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "first") + build_frame(OP_BINARY, b"second") +
                    build_frame(OP_CLOSE, close_payload(1000)))
        client.close_sent = True
        _, _, before = client.expect_close(1000, allow_before=True)
        self.assertEqual([(m.opcode, m.payload) for m in before], [(OP_TEXT, b"first"), (OP_BINARY, b"second")])

    def test_protocol_violation_after_message(self):
        """A message before a protocol violation is echoed, then close 1002."""
        client = self.client()
        client.send(build_frame(OP_TEXT, "ok") + build_frame(OP_TEXT, "bad", rsv=2))
        _, _, before = client.expect_close(1002, allow_before=True)
        self.assertEqual([(m.opcode, m.payload) for m in before], [(OP_TEXT, b"ok")])

    def test_invalid_utf8_closes_1007(self):
        """Invalid UTF-8 text -> close 1007."""
        client = self.client()
        client.send_frame(OP_TEXT, b"abc\xff")
        client.expect_close(1007)


class StreamSplitting(ServerTestCase):
    """How bytes are grouped into TCP sends must not matter."""

    def test_request_dribbled_one_byte_at_a_time(self):
        """The upgrade request sent one byte per write is accepted; echo then works."""
        client = self.client(handshake=False)
        request, key = upgrade_request(self.server.host_header())
        for index in range(len(request)):
            client.send(request[index:index + 1])
            time.sleep(0.0005)
        response, leftover = read_http_response(client.sock, timeout=bound(5.0), read_body=False)
        self.assertEqual(response.status, 101, repr(response))
        self.assertEqual(response.header("Sec-WebSocket-Accept"), accept_key(key))
        client.buffer += leftover
        client.echo(OP_TEXT, "after a dribbled handshake")

    def test_frame_dribbled_one_byte_at_a_time(self):
        """A frame sent one byte per write is echoed."""
        client = self.client()
        frame = build_frame(OP_TEXT, "byte by byte " * 20)
        client.send_in_chunks(frame, 1, delay=0.0002)
        client.expect_message(OP_TEXT, "byte by byte " * 20)

    def test_frame_glued_to_upgrade_request(self):
        """A frame in the same write as the upgrade request is processed after the handshake."""
        client = self.client(handshake=False)
        client.handshake(self.server.host_header(), trailing=build_frame(OP_TEXT, "glued"))
        client.expect_message(OP_TEXT, "glued")

    def test_several_frames_glued_to_upgrade_request(self):
        """Request + text + ping + binary in one write: pong and echoes in order."""
        client = self.client(handshake=False)
        trailing = build_frame(OP_TEXT, "one") + build_frame(OP_PING, "p") + build_frame(OP_BINARY, b"two")
        client.handshake(self.server.host_header(), trailing=trailing)
        client.expect_message(OP_TEXT, "one")
        client.expect_message(OP_PONG, "p")
        client.expect_message(OP_BINARY, b"two")

    def test_many_frames_in_one_send(self):
        """100 frames in one write are all echoed, in order."""
        client = self.client()
        messages = [("message %d " % i).encode() * (i % 7 + 1) for i in range(100)]
        client.send(b"".join(build_frame(OP_TEXT if i % 2 else OP_BINARY, m) for i, m in enumerate(messages)))
        for index, message in enumerate(messages):
            client.expect_message(OP_TEXT if index % 2 else OP_BINARY, message, what="message %d" % index)

    def test_frame_split_across_writes_at_every_offset(self):
        """A 200-byte frame split in two writes at each possible offset is echoed every time."""
        client = self.client()
        payload = pattern_bytes(200)
        mask = b"\x0a\x0b\x0c\x0d"
        frame = frame_header(OP_BINARY, len(payload), mask_key=mask) + mask_payload(payload, mask)
        for cut in range(1, len(frame)):
            client.send(frame[:cut])
            time.sleep(0.0005)
            client.send(frame[cut:])
            client.expect_message(OP_BINARY, payload, what="split at %d" % cut)


if __name__ == "__main__":
    unittest.main()
