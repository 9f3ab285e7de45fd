#!/usr/bin/python3
# Regenerates tests/fuzz/corpus/connection/ (run: tests/fault/make_connection_seeds.py tests/fuzz/corpus/connection).
# Writes the seed corpus of connection_fuzz: option byte, chunk lengths, client stream.
import os, struct, sys
out = sys.argv[1]
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
def request(extra=b"", version=b"13", path=b"/"):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: " + version + b"\r\n" + extra + b"\r\n")
def frame(op, payload=b"", fin=True, masked=True, mask=b"\x12\x34\x56\x78", rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    mb = 0x80 if masked else 0
    if n < 126: h = bytes([b0, mb | n])
    elif n <= 0xffff: h = bytes([b0, mb | 126]) + struct.pack(">H", n)
    else: h = bytes([b0, mb | 127]) + struct.pack(">Q", n)
    if not masked: return h + payload
    return h + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
def close(code, reason=b""): return frame(8, struct.pack(">H", code) + reason)
def seed(name, options, lengths, stream):
    assert len(lengths) < 16
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([options, len(lengths)]) + bytes(lengths) + stream)
TEXT, BIN, CONT, PING, PONG = 1, 2, 0, 9, 10
seed("hello_close", 0, [], request() + frame(TEXT, b"hello") + close(1000))
seed("mixed_short_sends", 1, [10, 50, 0x80 | 12], request() + frame(TEXT, b"alpha") + frame(BIN, bytes(range(256)) * 2)
     + frame(PING, b"ping") + frame(TEXT, b"frag", fin=False) + frame(PONG, b"x") + frame(CONT, b"ment") + close(1001, b"bye"))
seed("backpressure", 2 | 8, [0x80 | 20], request() + b"".join(frame(BIN, bytes([i]) * 500) for i in range(12)) + close(1000))
seed("full_socket", 4 | 1, [3, 7, 100, 0x80 | 5], request() + b"".join(frame(TEXT, b"msg %d" % i) for i in range(20)) + frame(PING) + close(4000))
seed("unmasked", 0, [], request() + frame(TEXT, b"ok") + frame(TEXT, b"bad", masked=False) + frame(TEXT, b"after"))
seed("split_request", 0, [7, 40, 13], request() + frame(TEXT, b"glued") + frame(BIN, b"y" * 300) + close(1000))
seed("split_request_byte_by_byte", 1, [0], request() + frame(TEXT, b"tiny"))
seed("plain_get", 0, [], b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
seed("bad_version", 0, [20], request(version=b"8"))
seed("post", 0, [], b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
seed("subprotocol_origin", 0, [], request(b"Sec-WebSocket-Protocol: chat\r\nOrigin: http://example.com\r\n") + frame(TEXT, b"hi"))
seed("timers", 64 | 128, [30], request() + frame(TEXT, b"a") + frame(PING, b"p") + frame(TEXT, b"b" * 100) + close(1000))
seed("stall_in_handshake", 64, [5], request() + frame(TEXT, b"late"))
seed("too_big", 32, [0x80 | 10], request() + frame(BIN, b"z" * 300) + close(1000))
seed("medium_frame_split", 1, [0x80 | 3, 5, 1], request() + frame(BIN, b"m" * 1000) + frame(TEXT, "é".encode() * 100))
seed("large_length", 32, [], request() + frame(BIN, b"L" * 70000)[:200])
seed("bad_utf8", 0, [], request() + frame(TEXT, b"\xc3", fin=False) + frame(CONT, b"\x28") + close(1000))
seed("reserved_opcode_rsv", 0, [], request() + frame(3, b"x") + frame(TEXT, b"x", rsv=4))
seed("close_bad_code", 0, [], request() + close(1005) + frame(TEXT, b"after close"))
seed("peer_reset", 16, [], request() + frame(TEXT, b"then reset"))
seed("data_then_close_one_recv", 0, [], request() + frame(TEXT, b"last words") + close(1000))
seed("oversized_head", 0, [0x80 | 1], b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"f" * 9000 + b"\r\n\r\n")
