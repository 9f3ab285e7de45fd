"""permessage-deflate echo pass-through (--deflate-passthrough, on by default): the echo of a
compressed message is the client's own compressed bytes when the agreement lets the client read
them, checked byte for byte with a raw client; re-compressed replies otherwise (the flag off, a
client window larger than the server window, a message that ended its DEFLATE stream, one too
large for one inflate buffer); real clients (Python websockets, node ws) in both modes."""

import asyncio
import os
import re
import subprocess
import unittest
import zlib

from test_deflate import NODE, NODE_PATH, TAIL, DeflateClients, deflate_message, inflate_message, json_like, websockets
from wsharness import OP_BINARY, OP_CONT, OP_TEXT, MiB, ServerTestCase, bound, build_frame, pattern_bytes


def stored_message(data):
    """Compressed at level 0 (stored blocks): whatever the server deflates differs from it."""
    compressor = zlib.compressobj(0, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def summary_count(log, what):
    """N from the exit summary's "N compressed replies <what>" (0 when absent)."""
    match = re.search(r"(\d+) compressed repl(?:y|ies) " + what, log)
    return int(match.group(1)) if match else 0


class PassThroughRaw(DeflateClients, ServerTestCase):
    """Byte-level: the reply's payload is, or is not, the request's compressed payload."""

    def reply(self, client):
        frame = client.recv_frame()
        self.assertTrue(frame.fin, "a compressed echo is one frame")
        return frame

    def stopped_log(self, server):
        server.stop()
        return server.log()

    def test_shared_reply_is_the_request_payload(self):
        server = self.start_server("--deflate", "shared")
        client = self.deflate_client(server=server)
        sent = 0
        for index, size in enumerate((2048, 10, 512, 60000)):  # 10 bytes: under --deflate-threshold too
            text = json_like(index, size).encode()[:size]
            payload = deflate_message(text)
            client.send_frame(OP_TEXT, payload, rsv=4)
            frame = self.reply(client)
            self.assertEqual((frame.opcode, frame.rsv), (OP_TEXT, 4))
            self.assertTrue(frame.payload == payload, "the reply is not the request's compressed payload")
            self.assertEqual(inflate_message(frame.payload), text)
            sent += 1
        client.echo(OP_BINARY, b"uncompressed stays uncompressed")
        client.send_close(1000)
        client.expect_close(1000)
        log = self.stopped_log(server)
        self.assertEqual(summary_count(log, "passed through"), sent, log)
        self.assertEqual(summary_count(log, "deflated again"), 0, log)

    def test_flag_off_recompresses(self):
        server = self.start_server("--deflate", "shared", "--deflate-passthrough", "off")
        client = self.deflate_client(server=server)
        text = json_like(1, 4096).encode()
        payload = stored_message(text)
        client.send_frame(OP_TEXT, payload, rsv=4)
        frame = self.reply(client)
        self.assertEqual(frame.rsv, 4)
        self.assertNotEqual(frame.payload, payload)
        self.assertLess(len(frame.payload), len(payload) // 2, "deflated by the server")
        self.assertEqual(inflate_message(frame.payload), text)
        client.send_close(1000)
        client.expect_close(1000)
        log = self.stopped_log(server)
        self.assertEqual(summary_count(log, "passed through"), 0, log)
        self.assertEqual(summary_count(log, "deflated again"), 1, log)

    def test_client_window_larger_than_server_window_recompresses(self):
        """dedicated:10 and a client that offers no client_max_window_bits: it deflates with 15
        bits but inflates with 10, so its own bytes could refer too far back for it."""
        server = self.start_server("--deflate", "dedicated:10")
        client = self.deflate_client(server=server)
        self.assertEqual(client.response.header("Sec-WebSocket-Extensions"),
                         "permessage-deflate; server_max_window_bits=10")
        decompressor = zlib.decompressobj(-10)
        for index in range(3):
            text = json_like(index, 3000).encode()
            payload = stored_message(text)
            client.send_frame(OP_TEXT, payload, rsv=4)
            frame = self.reply(client)
            self.assertEqual(frame.rsv, 4)
            self.assertNotEqual(frame.payload, payload)
            self.assertEqual(decompressor.decompress(frame.payload + TAIL), text)
        client.send_close(1000)
        client.expect_close(1000)
        log = self.stopped_log(server)
        self.assertEqual(summary_count(log, "passed through"), 0, log)
        self.assertEqual(summary_count(log, "deflated again"), 3, log)

    def test_dedicated_takeover_mixed_compressed_and_uncompressed(self):
        """Context takeover both ways: the client's messages refer back to earlier ones, some go
        uncompressed; every compressed reply is the request's payload and the client's one
        inflater (its history: our compressed replies, in order) reads them all."""
        server = self.start_server("--deflate", "dedicated:12")
        client = self.deflate_client("; client_max_window_bits", server=server)
        self.assertEqual(client.response.header("Sec-WebSocket-Extensions"),
                         "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
        compressor = zlib.compressobj(6, zlib.DEFLATED, -12)
        decompressor = zlib.decompressobj(-12)
        passed = 0
        for index in range(40):
            text = json_like(index % 7, 600 + 37 * index).encode()
            if index % 5 == 3:  # uncompressed: outside both histories
                client.echo(OP_TEXT, text)
                continue
            packed = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
            client.send_frame(OP_TEXT, packed[:-4], rsv=4)
            frame = self.reply(client)
            self.assertEqual(frame.rsv, 4)
            self.assertTrue(frame.payload == packed[:-4], "message %d not passed through" % index)
            self.assertEqual(decompressor.decompress(frame.payload + TAIL), text)
            passed += 1
        client.send_close(1000)
        client.expect_close(1000)
        log = self.stopped_log(server)
        self.assertEqual(summary_count(log, "passed through"), passed, log)

    def test_fragmented_compressed_message_goes_back_as_one_frame(self):
        server = self.start_server("--deflate", "shared")
        client = self.deflate_client(server=server)
        text = (json_like(2, 4096) * 4).encode()
        packed = deflate_message(text)
        parts = [packed[:10], packed[10:500], packed[500:]]
        wire = (build_frame(OP_TEXT, parts[0], fin=False, rsv=4) + build_frame(OP_CONT, parts[1], fin=False) +
                build_frame(OP_CONT, parts[2]))
        client.send_in_chunks(wire, 97, delay=0)
        frame = self.reply(client)
        self.assertEqual((frame.opcode, frame.rsv), (OP_TEXT, 4))
        self.assertTrue(frame.payload == packed, "the gathered fragments are not the reply")

    def test_message_ending_the_deflate_stream_is_recompressed(self):
        """A BFINAL block (RFC 7692 §7.2.3.3) never reaches the client: that message is deflated
        again; in takeover mode the next messages pass through again and one inflater reads all."""
        for mode in ("shared", "dedicated:15"):
            with self.subTest(mode=mode):
                server = self.start_server("--deflate", mode)
                client = self.deflate_client(server=server)
                decompressor = zlib.decompressobj(-15)
                before = json_like(1, 800).encode()
                packed = deflate_message(before)
                client.send_frame(OP_TEXT, packed, rsv=4)
                self.assertEqual(decompressor.decompress(self.reply(client).payload + TAIL), before)
                # The client ends its stream: Z_FINISH writes a block with BFINAL set.
                final_text = json_like(2, 3000).encode()
                finisher = zlib.compressobj(6, zlib.DEFLATED, -15)
                final = finisher.compress(final_text) + finisher.flush(zlib.Z_FINISH)
                client.send_frame(OP_TEXT, final, rsv=4)
                frame = self.reply(client)
                self.assertEqual(frame.rsv, 4)
                self.assertNotEqual(frame.payload, final)
                self.assertEqual(decompressor.decompress(frame.payload + TAIL), final_text)
                self.assertFalse(decompressor.eof, "the reply ended the client's inflate stream")
                # A new stream (it may not refer back past the BFINAL), with takeover from here.
                compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
                for index in range(3):
                    if mode == "shared":  # no context takeover: every message stands alone
                        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
                    text = json_like(3, 900).encode()
                    packed = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
                    client.send_frame(OP_TEXT, packed[:-4], rsv=4)
                    frame = self.reply(client)
                    self.assertTrue(frame.payload == packed[:-4], "not passed through after the BFINAL")
                    self.assertEqual(decompressor.decompress(frame.payload + TAIL), text)
                client.send_close(1000)
                client.expect_close(1000)
                log = self.stopped_log(server)
                self.assertEqual(summary_count(log, "passed through"), 4, log)
                self.assertEqual(summary_count(log, "deflated again"), 1, log)

    def test_message_larger_than_the_inflate_buffer_is_recompressed(self):
        server = self.start_server("--deflate", "dedicated:15")
        client = self.deflate_client("; client_max_window_bits", server=server)
        decompressor = zlib.decompressobj(-15)
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        for data in (pattern_bytes(MiB, seed=5), json_like(4, 2000).encode(), pattern_bytes(200 * 1024, seed=6)):
            packed = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
            client.send_frame(OP_BINARY, packed[:-4], rsv=4)
            frames = [client.recv_frame()]
            while not frames[-1].fin:
                frames.append(client.recv_frame())
            self.assertEqual(frames[0].rsv, 4)
            reply = b"".join(f.payload for f in frames)
            self.assertTrue(decompressor.decompress(reply + TAIL) == data, "echo differs")
        client.send_close(1000)
        client.expect_close(1000)
        log = self.stopped_log(server)
        self.assertEqual(summary_count(log, "passed through"), 1, log)
        self.assertEqual(summary_count(log, "deflated again"), 2, log)

    def test_bad_flag_value_is_a_one_line_error(self):
        result = subprocess.run([self.server.binary, "--deflate-passthrough", "maybe"], capture_output=True,
                                text=True, timeout=bound(10.0))
        self.assertEqual(result.returncode, 2)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertIn("--deflate-passthrough", result.stderr)


class PassThroughPythonWebsockets(ServerTestCase):
    """Python websockets' defaults (takeover, client_max_window_bits): 200 JSON-like messages."""

    def setUp(self):
        super().setUp()
        if websockets is None:
            self.skipTest("python websockets not installed")

    def echo_200(self, server):
        async def scenario():
            async with websockets.connect(server.url("/"), max_size=None) as ws:
                for index in range(200):
                    message = json_like(index, 200 + (index * 53) % 1500)
                    await ws.send(message)
                    echoed = await ws.recv()
                    self.assertTrue(echoed == message, "echo %d differs" % index)
                await ws.close(1000)
                return ws.close_code
        code = asyncio.run(asyncio.wait_for(scenario(), bound(60.0)))
        self.assertEqual(code, 1000)
        server.stop()
        self.assertEqual(summary_count(server.log(), "passed through"), 200, server.log_tail())

    def test_shared(self):
        self.echo_200(self.start_server("--deflate", "shared"))

    def test_dedicated(self):
        self.echo_200(self.start_server("--deflate", "dedicated"))


NODE_SCRIPT = r"""
const WebSocket = require('ws');
const url = process.argv[1];
const count = 200;
const messages = Array.from({length: count}, (_, i) =>
  JSON.stringify({id: i, symbol: 'WSR' + (i % 97), bid: 101.25 + i, tags: ['alpha', 'beta'],
                  history: Array.from({length: 3 + i % 20}, (_, j) => ({t: j, p: 100 + (i * j) % 13}))}));
const ws = new WebSocket(url, {perMessageDeflate: {threshold: 0}});
const fail = (why) => { console.log('FAIL ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), Number(process.argv[2] || 10000));
ws.on('error', (e) => fail('error ' + e.message));
let next = 0;
ws.on('open', () => {
  if (!/permessage-deflate/.test(ws.extensions)) fail('not negotiated: ' + ws.extensions);
  ws.send(messages[0]);
});
ws.on('message', (data, isBinary) => {
  if (isBinary || data.toString() !== messages[next]) fail('echo ' + next + ' differs');
  if (++next < count) ws.send(messages[next]); else ws.close(1000);
});
ws.on('close', (code) => { if (code !== 1000) fail('close ' + code); console.log('OK'); process.exit(0); });
"""


class PassThroughNode(ServerTestCase):
    """node ws, perMessageDeflate with threshold 0 (every message compressed)."""

    def run_node(self, server):
        if NODE is None or not os.path.isdir(os.path.join(NODE_PATH, "ws")):
            self.skipTest("node or node-ws not installed")
        env = dict(os.environ, NODE_PATH=NODE_PATH)
        result = subprocess.run([NODE, "-e", NODE_SCRIPT, server.url("/"), str(int(bound(20.0) * 1000))], env=env,
                                capture_output=True, text=True, timeout=bound(40.0))
        self.assertEqual(result.stdout.strip(), "OK", result.stdout + result.stderr)
        server.stop()
        self.assertEqual(summary_count(server.log(), "passed through"), 200, server.log_tail())

    def test_shared(self):
        self.run_node(self.start_server("--deflate", "shared"))

    def test_dedicated(self):
        self.run_node(self.start_server("--deflate", "dedicated"))


if __name__ == "__main__":
    unittest.main()
