"""permessage-deflate (RFC 7692): negotiation, compressed echo with real clients (Python
websockets, node ws, gorilla), the errors (RSV1 misuse, corrupt data, inflated size), a
decompression bomb, fragmented compressed messages, and many compressed connections."""

import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import zlib

import test_tls

from wsharness import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, MiB, ServerTestCase, bound,
                       build_frame, pattern_bytes, raise_fd_limit)

try:
    import websockets
except ImportError:  # reported as a skip, not hidden
    websockets = None

NODE = shutil.which("node")
NODE_PATH = "/usr/share/nodejs"
GO = shutil.which("go")
GOPATH = "/usr/share/gocode"
TAIL = b"\x00\x00\xff\xff"


def deflate_message(data, window_bits=15):
    """A message compressed as permessage-deflate sends it: raw DEFLATE, sync flush, tail off."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -window_bits)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def inflate_message(payload):
    return zlib.decompressobj(-15).decompress(payload + TAIL)


def json_like(index, size=512):
    """A JSON-like text message of about `size` bytes (what a real service sends)."""
    record = {"id": index, "type": "price-update", "symbol": "WSR%04d" % (index % 97), "bid": 101.25,
              "ask": 101.5, "venue": "loopback", "tags": ["alpha", "beta", "gamma"], "seq": index * 7}
    text = json.dumps(record)
    while len(text) < size:
        record.setdefault("history", []).append({"t": len(text), "p": 100 + len(text) % 13})
        text = json.dumps(record)
    return text


def offer(params=""):
    return ("Sec-WebSocket-Extensions", "permessage-deflate" + params)


class DeflateClients:
    """A raw client that offers permessage-deflate (with `params`) and accepts RSV1 frames."""

    def deflate_client(self, params="", server=None):
        client = self.client(server=server, extra=[offer(params)])
        client.allow_rsv1 = True
        return client


class DeflateRaw(DeflateClients, ServerTestCase):
    """Byte-level checks with a raw client: the negotiation response and every error."""

    def recv_compressed(self, client):
        """The next data message, inflated if RSV1 was set on its first frame."""
        first = client.recv_frame()
        frames = [first]
        while not frames[-1].fin:
            frames.append(client.recv_frame())
        payload = b"".join(f.payload for f in frames)
        return first.opcode, (inflate_message(payload) if first.rsv == 4 else payload), first.rsv == 4

    def test_response_states_what_was_agreed(self):
        """shared: no context takeover both ways; server_max_window_bits follows the offer."""
        client = self.deflate_client("; client_max_window_bits")
        self.assertEqual(client.response.header("Sec-WebSocket-Extensions"),
                         "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        client = self.deflate_client("; server_max_window_bits=10")
        self.assertEqual(client.response.header("Sec-WebSocket-Extensions"),
                         "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                         "server_max_window_bits=10")

    def test_unacceptable_offer_declines_the_extension_not_the_connection(self):
        for params in ("; unknown_param", "; server_no_context_takeover; server_no_context_takeover",
                       "; server_max_window_bits=8", "; client_max_window_bits=16"):
            client = self.client(extra=[offer(params)])
            self.assertIsNone(client.response.header("Sec-WebSocket-Extensions"), params)
            client.echo(OP_TEXT, "still served " + params)
            # Without the extension RSV1 is a protocol error.
            client.send_frame(OP_TEXT, deflate_message(b"x" * 100), rsv=4)
            client.expect_close(1002)

    def test_compressed_echo_large_and_small(self):
        """A compressed message comes back compressed; a reply deflated again under the threshold
        does not (with pass-through, the default, every compressed message comes back as it came:
        test_deflate_passthrough.py)."""
        client = self.deflate_client(server=self.start_server("--deflate-passthrough", "off"))
        text = json_like(1, 2048).encode()
        client.send_frame(OP_TEXT, deflate_message(text), rsv=4)
        opcode, data, compressed = self.recv_compressed(client)
        self.assertEqual((opcode, data, compressed), (OP_TEXT, text, True))
        client.send_frame(OP_BINARY, deflate_message(b"tiny"), rsv=4)
        self.assertEqual(self.recv_compressed(client), (OP_BINARY, b"tiny", False))
        client.echo(OP_TEXT, "uncompressed stays uncompressed")
        big = pattern_bytes(3 * MiB, seed=7)
        client.send_frame(OP_BINARY, deflate_message(big), rsv=4)
        self.assertTrue(self.recv_compressed(client)[1] == big, "3 MiB compressed echo differs")

    def test_fragmented_compressed_message_split_across_writes(self):
        """RSV1 on the first fragment only, a ping between fragments, bytes sent in small writes."""
        client = self.deflate_client()
        text = (json_like(2, 4096) * 4).encode()
        packed = deflate_message(text)
        parts = [packed[:10], packed[10:500], packed[500:]]
        wire = (build_frame(OP_TEXT, parts[0], fin=False, rsv=4) + build_frame(OP_PING, b"between") +
                build_frame(OP_CONT, parts[1], fin=False) + build_frame(OP_CONT, parts[2]))
        client.send_in_chunks(wire, 7, delay=0)
        pong = client.recv_frame()
        self.assertEqual((pong.opcode, pong.payload), (0xA, b"between"))
        self.assertEqual(self.recv_compressed(client), (OP_TEXT, text, True))

    def test_rsv1_on_continuation_is_1002(self):
        client = self.deflate_client()
        packed = deflate_message(b"a" * 300)
        client.send(build_frame(OP_TEXT, packed[:5], fin=False, rsv=4) + build_frame(OP_CONT, packed[5:], rsv=4))
        client.expect_close(1002)

    def test_rsv1_on_control_frame_is_1002(self):
        client = self.deflate_client()
        client.send_frame(OP_PING, b"", rsv=4)
        client.expect_close(1002)

    def test_corrupt_deflate_data_is_1007(self):
        client = self.deflate_client()
        client.send_frame(OP_BINARY, b"\xff\xff\xff\xff garbage", rsv=4)
        client.expect_close(1007)

    def test_invalid_utf8_inside_compressed_text_is_1007(self):
        client = self.deflate_client()
        client.send_frame(OP_TEXT, deflate_message(b"ok \xc3\x28 not utf-8" * 10), rsv=4)
        client.expect_close(1007)

    def test_inflated_size_over_the_limit_is_1009(self):
        server = self.start_server("--max-message-size", "64K")
        client = self.deflate_client(server=server)
        packed = deflate_message(b"\x00" * (65 * 1024))
        self.assertLess(len(packed), 1024)
        client.send_frame(OP_BINARY, packed, rsv=4)
        client.expect_close(1009)

    def test_decompression_bomb_closed_at_the_limit_rss_barely_moves(self):
        """1 GiB of zeros (about 1 MB compressed) is stopped at --max-message-size 16M."""
        server = self.start_server("--max-message-size", "16M")
        client = self.deflate_client(server=server)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        zeros = bytes(MiB)
        packed = b"".join(compressor.compress(zeros) for _ in range(1024)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        packed = packed[:-4]
        self.assertLess(len(packed), 2 * MiB)
        rss_before = rss_kib(server.process.pid)
        client.send_frame(OP_BINARY, packed, rsv=4)
        client.expect_close(1009, timeout=bound(20.0))
        growth_kib = rss_kib(server.process.pid) - rss_before
        self.assertLess(growth_kib, 8 * 1024, "server RSS grew by %d KiB on a 1 GiB bomb" % growth_kib)

    def test_dedicated_keeps_context_and_asks_for_a_smaller_client_window(self):
        server = self.start_server("--deflate", "dedicated:11")
        client = self.deflate_client("; client_max_window_bits", server=server)
        self.assertEqual(client.response.header("Sec-WebSocket-Extensions"),
                         "permessage-deflate; server_max_window_bits=11; client_max_window_bits=11")
        # The client keeps its context too: the second message refers back to the first.
        compressor = zlib.compressobj(6, zlib.DEFLATED, -11)
        decompressor = zlib.decompressobj(-11)
        for index in range(3):
            text = json_like(index, 700).encode()
            packed = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
            client.send_frame(OP_TEXT, packed[:-4], rsv=4)
            first = client.recv_frame()
            self.assertEqual(first.rsv, 4)
            self.assertEqual(decompressor.decompress(first.payload + TAIL), text)

    def test_dedicated_streams_resume_from_their_windows_after_idle(self):
        """After --deflate-idle the streams are closed and only their windows kept: later
        messages that refer back to earlier ones still inflate, both ways."""
        server = self.start_server("--deflate", "dedicated", "--deflate-idle", "50ms")
        client = self.deflate_client(server=server)
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        decompressor = zlib.decompressobj(-15)
        text = json_like(5, 900).encode()
        for round_index in range(3):
            packed = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
            if round_index:
                self.assertLess(len(packed), 60, "the client's message refers back to the first one")
            client.send_frame(OP_TEXT, packed[:-4], rsv=4)
            first = client.recv_frame()
            self.assertEqual(first.rsv, 4)
            self.assertEqual(decompressor.decompress(first.payload + TAIL), text)
            time.sleep(1.3)  # idle streams are folded once a second

    def test_off_never_agrees(self):
        server = self.start_server("--deflate", "off")
        client = self.client(server=server, extra=[offer()])
        self.assertIsNone(client.response.header("Sec-WebSocket-Extensions"))

    def test_bad_flag_values_are_one_line_errors(self):
        for args in (("--deflate", "dedicated:8"), ("--deflate", "always"), ("--deflate-threshold", "2M"),
                     ("--deflate-idle", "-1")):
            result = subprocess.run([self.server.binary] + list(args),
                                    capture_output=True, text=True, timeout=bound(10.0))
            self.assertEqual(result.returncode, 2, args)
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
            self.assertIn(args[0], result.stderr)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class DeflatePythonWebsockets(ServerTestCase):
    """Python websockets with its defaults (it offers permessage-deflate)."""

    def setUp(self):
        super().setUp()
        if websockets is None:
            self.skipTest("python websockets not installed")

    def run_async(self, coroutine):
        return asyncio.run(asyncio.wait_for(coroutine, bound(60.0)))

    def echo_scenario(self, url):
        async def scenario():
            async with websockets.connect(url, max_size=None) as ws:
                names = [type(e).__name__ for e in ws.extensions]
                messages = [json_like(i) for i in range(20)] + ["short", pattern_bytes(MiB, seed=3),
                                                                 ["frag", "ment", "ed é"]]
                for message in messages:
                    await ws.send(message)
                    echoed = await ws.recv()
                    expected = "".join(message) if isinstance(message, list) else message
                    self.assertTrue(echoed == expected, "echo differs for %r" % str(expected)[:40])
                await ws.close(1000)
                return names, ws.close_code
        return self.run_async(scenario())

    def test_shared(self):
        names, code = self.echo_scenario(self.server.url("/"))
        self.assertEqual(names, ["PerMessageDeflate"])
        self.assertEqual(code, 1000)

    def test_dedicated(self):
        server = self.start_server("--deflate", "dedicated")
        names, code = self.echo_scenario(server.url("/"))
        self.assertEqual(names, ["PerMessageDeflate"])
        self.assertEqual(code, 1000)

    def many_connections(self, server, count=1000):
        raise_fd_limit()

        async def one(index):
            async with websockets.connect(server.url("/"), max_size=None) as ws:
                text = json_like(index, 600)
                await ws.send(text)
                self.assertEqual(await ws.recv(), text)
                return len(ws.extensions)

        async def scenario():
            results = []
            for start in range(0, count, 200):  # in waves: the listen backlog stays small
                results += await asyncio.gather(*(one(i) for i in range(start, min(count, start + 200))))
            return results
        results = self.run_async(scenario())
        self.assertEqual(results, [1] * count)

    def test_1000_compressed_connections_shared(self):
        self.many_connections(self.start_server("--deflate", "shared"))

    def test_1000_compressed_connections_dedicated(self):
        self.many_connections(self.start_server("--deflate", "dedicated", "--deflate-idle", "100ms"))


class DeflateOverTls(test_tls.TlsTestCase):
    """Compressed messages over wss://, both modes: inflate runs on the TLS plaintext buffer."""
    extra_args = ("--deflate", "dedicated")

    def setUp(self):
        super().setUp()
        if websockets is None:
            self.skipTest("python websockets not installed")

    def test_websockets_compressed_over_tls(self):
        async def scenario(url):
            async with websockets.connect(url, ssl=self.context(), max_size=None) as ws:
                for message in [json_like(i, 3000) for i in range(10)] + [pattern_bytes(MiB, seed=9),
                                                                          ["frag", "mented ", "é"]]:
                    await ws.send(message)
                    expected = "".join(message) if isinstance(message, list) else message
                    self.assertTrue(await ws.recv() == expected)
                return len(ws.extensions)
        shared = self.start_server(*test_tls.tls_args(self.pki, self.certificate))
        for url in (self.server.wss_url("/"), shared.wss_url("/")):
            self.assertEqual(asyncio.run(asyncio.wait_for(scenario(url), bound(60.0))), 1)


class DeflateLoadGenerator(ServerTestCase):
    """wsring-load --deflate against both modes: every echo inflated and verified, the ratio
    reported."""

    def run_load(self, server, *args):
        load = os.path.join(os.path.dirname(server.binary), "wsring-load")
        result = subprocess.run([load, server.url("/"), "--connections", "8", "--messages", "800", "--text",
                                 "--deflate"] + list(args), capture_output=True, text=True, timeout=bound(60.0))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        line = [l for l in result.stdout.splitlines() if l.strip().startswith("deflate")]
        self.assertEqual(len(line), 1, result.stdout)
        self.assertIn("8 connections agreed", line[0])
        ratios = [float(r) for r in re.findall(r"ratio ([0-9.]+)", line[0])]
        self.assertEqual(len(ratios), 2, line[0])
        self.assertGreater(min(ratios), 1.5, line[0])
        return ratios

    def test_shared_and_dedicated(self):
        self.run_load(self.server, "--size", "512", "--pipeline", "4")
        self.run_load(self.start_server("--deflate", "dedicated"), "--size", "16-20K")

    def test_offer_parameters_are_sent(self):
        self.run_load(self.server, "--size", "2K",
                      "--deflate=server_no_context_takeover; client_max_window_bits=9")

    def test_takeover_keeps_the_clients_context_where_allowed(self):
        """--deflate-takeover: with a dedicated server (context takeover both ways) each
        connection's messages refer back to its earlier ones, so what it sends compresses far
        better than message by message; echoes (passed through or deflated again) still verify.
        Against shared mode (client_no_context_takeover imposed) nothing changes."""
        dedicated = self.start_server("--deflate", "dedicated")
        alone = self.run_load(dedicated, "--size", "512")
        takeover = self.run_load(dedicated, "--size", "512", "--deflate-takeover")
        self.assertGreater(takeover[0], 2 * alone[0], "sent ratio with and without takeover")
        recompressing = self.start_server("--deflate", "dedicated", "--deflate-passthrough", "off")
        self.run_load(recompressing, "--size", "512", "--deflate-takeover")
        shared = self.run_load(self.server, "--size", "512", "--deflate-takeover")
        self.assertLess(shared[0], 1.5 * alone[0], "shared mode forbids the client's context")

    def test_takeover_needs_deflate(self):
        load = os.path.join(os.path.dirname(self.server.binary), "wsring-load")
        result = subprocess.run([load, self.server.url("/"), "--deflate-takeover"], capture_output=True,
                                text=True, timeout=bound(30.0))
        self.assertEqual(result.returncode, 2)
        self.assertIn("--deflate-takeover: only with --deflate", result.stderr)


NODE_SCRIPT = r"""
const WebSocket = require('ws');
const url = process.argv[1];
const text = JSON.stringify({hello: 'wörld', items: Array.from({length: 200}, (_, i) => ({i, v: 'x' + i}))});
const binary = Buffer.alloc(200 * 1024);
for (let i = 0; i < binary.length; i++) binary[i] = (i % 251) & 0xff;
const ws = new WebSocket(url, {perMessageDeflate: true});
const got = [];
const fail = (why) => { console.log('FAIL ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), Number(process.argv[2] || 10000));
ws.on('error', (e) => fail('error ' + e.message));
ws.on('open', () => {
  if (!/permessage-deflate/.test(ws.extensions)) fail('not negotiated: ' + ws.extensions);
  ws.send(text); ws.send(binary); ws.send('tiny');
});
ws.on('message', (data, isBinary) => {
  got.push([data, isBinary]);
  if (got.length < 3) return;
  if (got[0][1] || got[0][0].toString() !== text) fail('text differs');
  if (!got[1][1] || !Buffer.from(got[1][0]).equals(binary)) fail('binary differs');
  if (got[2][0].toString() !== 'tiny') fail('tiny differs');
  ws.close(1000);
});
ws.on('close', (code) => { if (code !== 1000) fail('close ' + code); console.log('OK'); process.exit(0); });
"""

GO_CLIENT = r"""
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	dialer := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second}
	conn, response, err := dialer.Dial(os.Args[1], nil)
	if err != nil {
		fmt.Println("FAIL dial", err)
		os.Exit(1)
	}
	if !strings.Contains(response.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		fmt.Println("FAIL not negotiated")
		os.Exit(1)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	text := []byte(strings.Repeat(`{"gorilla":"compressed","n":12345},`, 100))
	for _, m := range [][]byte{text, []byte("small"), bytes.Repeat([]byte{1, 2, 3, 4, 5}, 40000)} {
		kind := websocket.TextMessage
		if len(m) > 100000 {
			kind = websocket.BinaryMessage
		}
		if err := conn.WriteMessage(kind, m); err != nil {
			fmt.Println("FAIL write", err)
			os.Exit(1)
		}
		gotKind, got, err := conn.ReadMessage()
		if err != nil || gotKind != kind || !bytes.Equal(got, m) {
			fmt.Println("FAIL echo", err)
			os.Exit(1)
		}
	}
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	fmt.Println("OK")
}
"""


class DeflateOtherClients(ServerTestCase):
    """node ws (perMessageDeflate on) and gorilla (EnableCompression) against both modes."""

    def run_node(self, url):
        if NODE is None or not os.path.isdir(os.path.join(NODE_PATH, "ws")):
            self.skipTest("node or node-ws not installed")
        env = dict(os.environ, NODE_PATH=NODE_PATH)
        result = subprocess.run([NODE, "-e", NODE_SCRIPT, url, str(int(bound(10.0) * 1000))], env=env,
                                capture_output=True, text=True, timeout=bound(20.0))
        self.assertEqual(result.stdout.strip(), "OK", result.stdout + result.stderr)

    def test_node_ws_shared(self):
        self.run_node(self.server.url("/"))

    def test_node_ws_dedicated(self):
        self.run_node(self.start_server("--deflate", "dedicated").url("/"))

    def go_client(self):
        if GO is None or not os.path.isdir(os.path.join(GOPATH, "src/github.com/gorilla/websocket")):
            self.skipTest("go or gorilla/websocket not installed")
        directory = tempfile.mkdtemp(prefix="wsring-gorilla-")
        self.addCleanup(shutil.rmtree, directory, True)
        source = os.path.join(directory, "main.go")
        with open(source, "w") as f:
            f.write(GO_CLIENT)
        binary = os.path.join(directory, "client")
        env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOCACHE=os.path.join(directory, "cache"),
                   GOFLAGS="")
        build = subprocess.run([GO, "build", "-o", binary, source], env=env, capture_output=True, text=True,
                               timeout=bound(300.0))
        self.assertEqual(build.returncode, 0, build.stderr)
        return binary

    def test_gorilla_shared_and_dedicated(self):
        binary = self.go_client()
        for server in (self.server, self.start_server("--deflate", "dedicated")):
            result = subprocess.run([binary, server.url("/")], capture_output=True, text=True, timeout=bound(20.0))
            self.assertEqual(result.stdout.strip(), "OK", result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
