"""Interoperability with real client libraries: node's `ws` and Python's `websockets` 10.4."""

import asyncio
import os
import shutil
import subprocess
import unittest

from wsharness import ServerTestCase, bound, pattern_bytes

try:
    import websockets
except ImportError:  # reported as a skip, not hidden
    websockets = None

NODE = shutil.which("node")
NODE_PATH = "/usr/share/nodejs"

# Sends a text and a 100 KB binary message, checks both echoes byte-exact, pings, closes with
# 1000 and prints one result line. argv: url.
NODE_ECHO_SCRIPT = r"""
const WebSocket = require('ws');
const url = process.argv[1];
const text = 'héllo wörld – ' + '0123456789'.repeat(100);
const binary = Buffer.alloc(100 * 1024);
for (let i = 0; i < binary.length; i++) binary[i] = (i * 131 + 7) & 0xff;
const ws = new WebSocket(url);
const received = [];
let pongs = 0;
const fail = (why) => { console.log('FAIL ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), Number(process.argv[2] || 10000));
ws.on('error', (e) => fail('error ' + e.message));
ws.on('open', () => { ws.send(text); ws.send(binary); ws.ping(Buffer.from('node-ping')); });
ws.on('pong', (data) => { if (data.toString() === 'node-ping') pongs++; });
ws.on('message', (data, isBinary) => {
  received.push([data, isBinary]);
  if (received.length < 2) return;
  const [t, b] = received;
  if (t[1] || t[0].toString('utf8') !== text) fail('text echo differs');
  if (!b[1] || !Buffer.from(b[0]).equals(binary)) fail('binary echo differs');
  ws.close(1000, 'done');
});
ws.on('close', (code) => {
  if (received.length !== 2) fail('closed early with ' + code);
  if (code !== 1000) fail('close code ' + code);
  if (pongs !== 1) fail('pongs ' + pongs);
  console.log('OK');
  process.exit(0);
});
"""


class NodeClient(ServerTestCase):

    def setUp(self):
        super().setUp()
        if NODE is None or not os.path.isdir(os.path.join(NODE_PATH, "ws")):
            self.skipTest("node or node-ws not installed")

    def run_node(self, url):
        env = dict(os.environ, NODE_PATH=NODE_PATH)
        limit_ms = int(bound(10.0) * 1000)
        try:
            result = subprocess.run([NODE, "-e", NODE_ECHO_SCRIPT, url, str(limit_ms)], env=env,
                                    capture_output=True, text=True, timeout=bound(15.0))
        except subprocess.TimeoutExpired:
            raise AssertionError("node client did not finish")
        self.assertEqual(result.returncode, 0, "node: %s %s" % (result.stdout, result.stderr))
        self.assertEqual(result.stdout.strip(), "OK", result.stderr)

    def test_node_ws_echo_text_and_binary(self):
        """node ws: text and 100 KB binary echoed, ping answered, clean close 1000."""
        self.run_node(self.server.url("/"))

    def test_node_ws_echo_on_a_path(self):
        """node ws against a server with --path."""
        server = self.start_server("--path", "/chat")
        self.run_node(server.url("/chat"))


class PythonWebsocketsClient(ServerTestCase):

    def setUp(self):
        super().setUp()
        if websockets is None:
            self.skipTest("python websockets not installed")

    def run_async(self, coroutine):
        return asyncio.run(asyncio.wait_for(coroutine, bound(20.0)))

    def test_websockets_echo(self):
        """websockets: text, binary (100 KB and 1 MiB), ping, close 1000."""
        async def scenario():
            async with websockets.connect(self.server.url("/"), max_size=None, compression=None) as ws:
                await ws.send("héllo from websockets")
                self.assertEqual(await ws.recv(), "héllo from websockets")
                for size in (100 * 1000, 1 << 20):
                    data = pattern_bytes(size, seed=size)
                    await ws.send(data)
                    echoed = await ws.recv()
                    self.assertIsInstance(echoed, bytes)
                    self.assertTrue(echoed == data, "binary echo of %d bytes differs" % size)
                pong = await ws.ping(b"py-ping")
                await asyncio.wait_for(pong, bound(5.0))
                await ws.close(1000, "done")
                return ws.close_code
        self.assertEqual(self.run_async(scenario()), 1000)

    def test_websockets_fragmented_send(self):
        """websockets sends an iterable as a fragmented message; the echo is the whole message."""
        async def scenario():
            async with websockets.connect(self.server.url("/"), max_size=None, compression=None) as ws:
                await ws.send(["frag", "ment", "ed ", "é"])
                return await ws.recv()
        self.assertEqual(self.run_async(scenario()), "fragmented é")

    def test_websockets_subprotocol(self):
        """websockets negotiates the server's preferred subprotocol."""
        server = self.start_server("--subprotocol", "b.proto", "--subprotocol", "a.proto")

        async def scenario():
            async with websockets.connect(server.url("/"), subprotocols=["a.proto", "b.proto"]) as ws:
                await ws.send("x")
                await ws.recv()
                return ws.subprotocol
        self.assertEqual(self.run_async(scenario()), "b.proto")

    def test_websockets_many_messages(self):
        """500 messages pipelined through websockets come back in order."""
        async def scenario():
            async with websockets.connect(self.server.url("/"), compression=None) as ws:
                for index in range(500):
                    await ws.send("message %d" % index)
                return [await ws.recv() for _ in range(500)]
        self.assertEqual(self.run_async(scenario()), ["message %d" % i for i in range(500)])


if __name__ == "__main__":
    unittest.main()
