#!/usr/bin/env python3
"""Test helper: an asyncio fleet of WebSocket echo clients that keeps connecting while servers
restart, and counts what a restart costs. Loopback only.

Usage: echo_fleet.py --port P [--host 127.0.0.1] [--duration 5] [--rate 600] [--long 100]

- `--long N` clients connect at once and stay: each sends a numbered message every 100 ms and
  waits for its echo. A close 1001 (the server going away) is answered, and the client
  reconnects and sends the unanswered message again: a message is lost only if it never comes
  back. The first close code each one receives is recorded.
- Churn: `--rate` new connections a second, each: handshake, one message, its echo, close 1000.
  A connection that gets 1001 before its echo retries on a new connection (at most 5 times).
- A connect that is refused, reset or times out, a handshake that is not 101, an end of stream
  without a close frame, and an echo that differs from the message are failures.

Prints one JSON object: connects attempted/failed (and why), messages sent/echoed/lost/corrupted,
closes received by code, long-lived clients that received 1001, and the connect rate achieved.
Every wait is bounded (5 s); the run ends by --duration + 20 s whatever happens."""

import argparse
import asyncio
import base64
import collections
import json
import os
import struct
import sys
import time

IO_TIMEOUT = 5.0


class Failure(Exception):
    pass


class GoingAway(Exception):
    """The server closed with 1001 before answering."""


class Stats:
    def __init__(self):
        self.connects = 0
        self.connect_failures = collections.Counter()
        self.sent = 0
        self.echoed = 0
        self.lost = 0
        self.corrupted = 0
        self.closes = collections.Counter()
        self.long_first_close = collections.Counter()
        self.retries = 0


def mask(payload, key):
    n = len(payload)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big") if n else b""


def frame(opcode, payload):
    key = os.urandom(4)
    n = len(payload)
    header = bytes([0x80 | opcode])
    if n < 126:
        header += bytes([0x80 | n])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    return header + key + mask(payload, key)


class Connection:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host, port, stats):
        stats.connects += 1
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), IO_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as error:
            stats.connect_failures["connect: " + type(error).__name__] += 1
            raise Failure() from error
        conn = cls(reader, writer)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(("GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (host, port, key)).encode())
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IO_TIMEOUT)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            stats.connect_failures["handshake: " + type(error).__name__] += 1
            conn.abort()
            raise Failure() from error
        if not head.startswith(b"HTTP/1.1 101"):
            stats.connect_failures["handshake: " + head.split(b"\r\n")[0].decode("latin-1")] += 1
            conn.abort()
            raise Failure()
        return conn

    async def read_frame(self):
        b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), IO_TIMEOUT)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await asyncio.wait_for(self.reader.readexactly(2), IO_TIMEOUT))[0]
        elif n == 127:
            n = struct.unpack("!Q", await asyncio.wait_for(self.reader.readexactly(8), IO_TIMEOUT))[0]
        payload = await asyncio.wait_for(self.reader.readexactly(n), IO_TIMEOUT) if n else b""
        return b0 & 0x0F, payload

    async def echo(self, message, stats):
        """Sends `message`, returns when its echo came; GoingAway on a close 1001."""
        self.writer.write(frame(0x1, message))
        stats.sent += 1
        while True:
            try:
                opcode, payload = await self.read_frame()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as error:
                stats.connect_failures["echo: " + type(error).__name__] += 1
                raise Failure() from error
            if opcode == 0x1:
                if payload != message:
                    stats.corrupted += 1
                    raise Failure()
                stats.echoed += 1
                return
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                stats.closes[code] += 1
                await self.finish_close(payload[:2])
                if code == 1001:
                    raise GoingAway()
                stats.connect_failures["closed with %d" % code] += 1
                raise Failure()

    async def finish_close(self, code_bytes):
        """Answers the server's close and waits for its end of stream."""
        try:
            self.writer.write(frame(0x8, code_bytes))
            await asyncio.wait_for(self.reader.read(), IO_TIMEOUT)
        except (OSError, asyncio.TimeoutError):
            pass
        self.abort()

    async def close(self, stats):
        try:
            self.writer.write(frame(0x8, struct.pack("!H", 1000)))
            opcode, payload = await self.read_frame()
            if opcode == 0x8:
                stats.closes[struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005] += 1
            await asyncio.wait_for(self.reader.read(), IO_TIMEOUT)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass
        self.abort()

    def abort(self):
        self.writer.transport.abort()


async def deliver(host, port, message, stats, conn=None, attempts=5):
    """Echoes `message`, reconnecting after 1001. Returns the connection it ended on (or None)."""
    for _ in range(attempts):
        try:
            if conn is None:
                conn = await Connection.open(host, port, stats)
            await conn.echo(message, stats)
            return conn
        except GoingAway:
            stats.retries += 1
            conn = None
        except Failure:
            stats.lost += 1
            return None
    stats.lost += 1
    return None


async def long_lived(index, host, port, stats, stop_at):
    try:
        conn = await Connection.open(host, port, stats)
    except Failure:
        return
    first = True
    seq = 0
    while time.monotonic() < stop_at:
        message = b"long %d seq %d " % (index, seq) + b"x" * 32
        seq += 1
        try:
            await conn.echo(message, stats)
        except GoingAway:
            if first:
                stats.long_first_close[1001] += 1
                first = False
            stats.retries += 1
            conn = await deliver(host, port, message, stats)
            if conn is None:
                return
        except Failure:
            stats.lost += 1
            return
        await asyncio.sleep(0.1)
    if first:
        stats.long_first_close["none"] += 1
    await conn.close(stats)


async def churn_one(index, host, port, stats):
    conn = await deliver(host, port, b"churn %d " % index + b"y" * 24, stats)
    if conn is not None:
        await conn.close(stats)


async def run(args):
    stats = Stats()
    start = time.monotonic()
    stop_at = start + args.duration
    tasks = [asyncio.ensure_future(long_lived(i, args.host, args.port, stats, stop_at)) for i in range(args.long)]
    churned = 0
    tick = 0.01
    while time.monotonic() < stop_at:
        due = int((time.monotonic() - start) * args.rate)
        while churned < due:
            tasks.append(asyncio.ensure_future(churn_one(churned, args.host, args.port, stats)))
            churned += 1
        tasks = [t for t in tasks if not t.done()]
        await asyncio.sleep(tick)
    if tasks:
        await asyncio.wait(tasks, timeout=20.0)
    elapsed = time.monotonic() - start
    return {
        "connects_attempted": stats.connects,
        "connects_failed": sum(stats.connect_failures.values()),
        "failures": dict(stats.connect_failures),
        "connect_rate": round(stats.connects / elapsed, 1),
        "churn_started": churned,
        "messages_sent": stats.sent,
        "messages_echoed": stats.echoed,
        "messages_lost": stats.lost,
        "messages_corrupted": stats.corrupted,
        "retries_after_1001": stats.retries,
        "closes": {str(k): v for k, v in stats.closes.items()},
        "long_first_close": {str(k): v for k, v in stats.long_first_close.items()},
        "unfinished_tasks": sum(1 for t in tasks if not t.done()),
        "elapsed_s": round(elapsed, 2),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=600.0)
    parser.add_argument("--long", type=int, default=100)
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host != "::1":
        sys.exit("echo_fleet.py: loopback addresses only")
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
