#!/usr/bin/python3
# Regenerates tests/fuzz/corpus/load_worker/ (run: tests/fault/make_load_worker_seeds.py tests/fuzz/corpus/load_worker).
# Writes the seed corpus of load_worker_fuzz: two shape bytes, then operations (see the fuzz target).
import os, struct, sys
out = sys.argv[1]
RAW, UPGRADE, ECHO, SEND, EAGAIN, SEND_ERROR, CONNECT, TICK, PHASE, END, CLOSES, CONTROL, FRAME, SENDS = range(14)
RUNNING, DRAINING, ABORT = 0, 1, 2
def op(kind, conn=0, *args): return bytes([(conn << 4) | kind]) + bytes(args)
def raw(data, conn=0, chunk=63):
    assert 1 <= len(data) <= 256
    return op(RAW, conn, len(data) - 1, chunk) + data
def frame(opcode, payload=b"", fin=True, masked=False):
    assert len(payload) <= 125
    head = bytes([(0x80 if fin else 0) | opcode, (0x80 if masked else 0) | len(payload)])
    if not masked: return head + payload
    key = b"\x01\x02\x03\x04"
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))
def open_conn(conn=0): return op(CONNECT, conn, 0) + op(SENDS, conn, 0) + op(UPGRADE, conn)
def echo_round(conn=0, how=0, at=0): return op(SENDS, conn, 0) + op(ECHO, conn, how, at)
def seed(name, a, b, ops):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([a, b]) + ops)

# A well-behaved echo server: 101, echoes, the run ends.
seed("valid_101_echoes", 0, 0,
     open_conn() + op(PHASE, 0, RUNNING, 0) + b"".join(echo_round() for _ in range(8)) + op(PHASE, 0, DRAINING, 0))
# Two connections, text, pipeline 2, random sizes; echoes split, fragmented, short sends, full sockets.
seed("pipelined_text_tricky_echoes", 1 | 4 | (1 << 4) | 64, 0,
     open_conn(0) + open_conn(1) + op(PHASE, 0, RUNNING, 0)
     + op(SEND, 0, 7) + op(EAGAIN, 0) + op(SENDS, 0, 5) + op(ECHO, 0, 2, 9) + op(ECHO, 0, 3, 4)
     + op(SENDS, 1, 0) + op(ECHO, 1, 0, 0) + op(CONTROL, 1, 0, 4) + b"ping" + op(ECHO, 1, 3, 1)
     + b"".join(echo_round(c, h) for c in (0, 1) for h in range(8)) + op(TICK, 0, 50) + op(PHASE, 0, DRAINING, 0))
# A 101, then frames nobody asked for, before and after the window starts (the probe's crash).
seed("unsolicited_frames", 0, 0,
     open_conn() + raw(frame(2, bytes(range(61))) * 3) + op(PHASE, 0, RUNNING, 0) + raw(frame(2, b"x" * 40) * 5)
     + op(SENDS, 0, 0) + op(END, 0, 0))
seed("unsolicited_while_stalled", 1 << 4, 0,
     open_conn() + op(PHASE, 0, RUNNING, 0) + b"".join(raw(frame(2, b"y" * 20) * 4) for _ in range(6))
     + op(PHASE, 0, DRAINING, 0) + op(TICK, 0, 255))
# Frames a server must not send: masked, reserved opcode, RSV bits, bad close, bad UTF-8.
seed("masked_and_bad_frames", 4, 0,
     open_conn() + op(PHASE, 0, RUNNING, 0) + op(SENDS, 0, 0) + raw(frame(1, b"masked!", masked=True))
     + op(FRAME, 0, 0x83, 3) + b"abc" + op(FRAME, 0, 0xC1, 2) + b"hi" + raw(frame(1, b"\xff\xfe")) + op(TICK, 0, 60))
seed("server_close_first", 0, 0,
     open_conn() + op(PHASE, 0, RUNNING, 0) + echo_round() + op(CONTROL, 0, 2, 5, 0x03, 0xF3) + b"bye"
     + op(SENDS, 0, 0) + op(END, 0, 0) + op(CLOSES, 0))
# Garbage instead of a 101, a refused connect, a reset, a silent server (timeouts).
seed("garbage_upgrade", 2, 0,
     op(CONNECT, 0, 0) + op(SENDS, 0, 0) + raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
     + op(CONNECT, 1, 1) + op(CONNECT, 2, 0) + op(SENDS, 2, 0) + raw(b"\x00\xff garbage \r\n\r\n" * 4, 2, 3)
     + op(CLOSES, 0))
seed("silent_server", 1, 0, op(CONNECT, 0, 0) + op(SENDS, 0, 0) + op(TICK, 0, 200) + op(TICK, 0, 255) + op(CLOSES, 0)
     + op(PHASE, 0, DRAINING | 4, 0))
seed("reset_midway", 0, 0, open_conn() + op(PHASE, 0, RUNNING, 0) + op(SEND_ERROR, 0) + op(CLOSES, 0))
seed("eof_midway", 0, 0, open_conn() + op(PHASE, 0, RUNNING, 0) + echo_round() + op(END, 0, 1) + op(CLOSES, 0))
# --handshake-only: connect, upgrade, close, again; a --rate run; a budget of messages.
seed("handshake_only_cycles", 8, 0,
     op(PHASE, 0, RUNNING, 0) + b"".join(open_conn() + op(SENDS, 0, 0) + raw(frame(8, b"\x03\xe8")) + op(END, 0, 0)
                                         + op(CLOSES, 0) + op(TICK, 0, 1) for _ in range(3)))
seed("open_loop_rate", 128 | (2 << 4), 2,
     open_conn() + op(PHASE, 0, RUNNING, 0) + op(TICK, 0, 10) + echo_round(0, 0) + op(TICK, 0, 30)
     + echo_round(0, 1) + op(TICK, 0, 5) + echo_round(0, 7))
seed("ramp_up_traffic", 1 | 1 << 4, 1,
     open_conn(0) + echo_round(0) + op(TICK, 0, 20) + open_conn(1) + echo_round(1) + op(PHASE, 0, ABORT, 0))
