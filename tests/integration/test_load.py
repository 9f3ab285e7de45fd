"""Many concurrent connections through a minimal asyncio client (raw streams): 5,000 at once on
one thread (1,000 under sanitizers), and a crowd spread over --threads 2."""

import asyncio
import struct
import unittest

from wsharness import (OP_CLOSE, OP_TEXT, ServerTestCase, accept_key, bound, build_frame, close_payload,
                       raise_fd_limit, scaled, upgrade_request)


async def read_frame(reader):
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if head[1] & 0x80:
        raise AssertionError("server frame is masked")
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return head[0] & 0x80, head[0] & 0x0F, await reader.readexactly(length)


async def read_message(reader):
    fin, opcode, payload = await read_frame(reader)
    parts = [payload]
    while not fin:
        fin, continuation, payload = await read_frame(reader)
        if continuation >= 8:
            continue  # a control frame interleaved in a fragmented message: not expected here
        parts.append(payload)
    return opcode, b"".join(parts)


class Crowd:
    """Opens `count` connections (bounded concurrency for the connect phase), holds them all
    open at once, then has each exchange `messages` echoes and close cleanly."""

    def __init__(self, server, count, messages, connect_concurrency=200):
        self.server = server
        self.count = count
        self.messages = messages
        self.connect_slots = asyncio.Semaphore(connect_concurrency)
        self.opened = 0
        self.all_open = asyncio.Event()
        self.abort = asyncio.Event()
        self.failures = []

    async def one(self, index):
        writer = None
        try:
            async with self.connect_slots:
                reader, writer = await asyncio.open_connection(self.server.host, self.server.port)
                request, key = upgrade_request(self.server.host_header())
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status_line, _, rest = head.partition(b"\r\n")
                if not status_line.startswith(b"HTTP/1.1 101"):
                    raise AssertionError("handshake answered %r" % status_line)
                accepted = [value.strip() for name, _, value in
                            (line.partition(b":") for line in rest.split(b"\r\n"))
                            if name.strip().lower() == b"sec-websocket-accept"]
                if accepted != [accept_key(key).encode()]:
                    raise AssertionError("Sec-WebSocket-Accept %r, expected %r" % (accepted, accept_key(key)))
            self.opened += 1
            if self.opened == self.count:
                self.all_open.set()
            # Hold every connection open at the same time before exchanging messages.
            await self.all_open.wait()
            for number in range(self.messages):
                text = ("connection %d message %d " % (index, number)) * (number + 1)
                writer.write(build_frame(OP_TEXT, text))
                opcode, payload = await read_message(reader)
                if opcode != OP_TEXT or payload != text.encode():
                    raise AssertionError("connection %d: echo %r != %r" % (index, payload[:60], text[:60]))
            writer.write(build_frame(OP_CLOSE, close_payload(1000)))
            opcode, payload = await read_message(reader)
            if opcode != OP_CLOSE or payload[:2] != close_payload(1000):
                raise AssertionError("connection %d: expected close 1000, got %d %r" % (index, opcode, payload[:20]))
            if await reader.read(1) != b"":
                raise AssertionError("connection %d: data after the close reply" % index)
        except Exception as error:  # collected and reported together
            self.failures.append("connection %d: %s: %s" % (index, type(error).__name__, error))
            self.all_open.set()  # do not leave the others waiting forever
        finally:
            if writer is not None:
                writer.close()

    async def run(self, timeout):
        tasks = [asyncio.ensure_future(self.one(i)) for i in range(self.count)]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
            self.failures.append("%d connections still busy after %.0f s (opened %d)"
                                 % (len(pending), timeout, self.opened))


def run_crowd(server, count, messages, timeout):
    crowd = Crowd(server, count, messages)
    asyncio.run(crowd.run(timeout))
    return crowd


class ManyConnections(ServerTestCase):
    shared_server = False

    def setUp(self):
        super().setUp()
        limit = raise_fd_limit()
        self.connections = scaled(5000, 1000)
        if limit < self.connections + 100:
            self.skipTest("RLIMIT_NOFILE is %d, need %d" % (limit, self.connections + 100))

    def check(self, crowd):
        if crowd.failures:
            raise AssertionError("%d of %d connections failed; first: %s"
                                 % (len(crowd.failures), crowd.count, "\n  ".join(crowd.failures[:5])))

    def test_5000_concurrent_connections(self):
        """5,000 connections open at once (1,000 sanitized), each echoes 2 messages and closes."""
        server = self.start_server()
        crowd = run_crowd(server, self.connections, 2, bound(90.0))
        self.check(crowd)
        # The server survived and still serves.
        self.client(server).echo(OP_TEXT, "after the crowd")

    def test_two_threads_many_connections(self):
        """--threads 2: 1,000 concurrent connections (500 sanitized) all echo 5 messages."""
        server = self.start_server("--threads", "2")
        crowd = run_crowd(server, scaled(1000, 500), 5, bound(60.0))
        self.check(crowd)
        self.client(server).echo(OP_TEXT, "after the crowd")


if __name__ == "__main__":
    unittest.main()
