"""wsring-load against servers that are not plain echo servers: extra headers, Origin,
subprotocols and a bearer token in the upgrade; --match count|none; --reconnect against a server
that closes connections; message mixes and the open-loop figures against wsring-echo; the wrk/k6
habits (-c/-d/-t, --json -, an unwritable output refused before the run)."""

import asyncio
import json
import os
import subprocess
import tempfile
import unittest

import websockets

from test_load_generator import AsyncioEchoServer, load_binary, run_load
from wsharness import ServerTestCase, backend, bound

SECRET = "s3cr3t-token-that-must-not-leak"


class ConfiguredServer(AsyncioEchoServer):
    """AsyncioEchoServer with websockets.serve options (e.g. subprotocols)."""

    def __init__(self, handler, **serve_options):
        super().__init__(handler)
        self.serve_options = serve_options

    async def _serve(self):
        self._stop = asyncio.Event()
        async with websockets.serve(self.handler, "127.0.0.1", 0, max_size=None, compression=None,
                                    **self.serve_options) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()


def run_raw(*args, timeout=20.0, env=None):
    cmd = [load_binary()] + [str(a) for a in args]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=bound(timeout), env=env)
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


class LoadAnyServer(unittest.TestCase):
    backend_independent = True

    def serve(self, handler, **options):
        server = ConfiguredServer(handler, **options).start()
        self.addCleanup(server.stop)
        return server

    def test_headers_origin_subprotocol_and_token_reach_the_server(self):
        seen = []

        async def handler(ws, path):
            seen.append((path, ws.request_headers, ws.subprotocol))
            async for message in ws:
                await ws.send(message)

        server = self.serve(handler, subprotocols=["v2.json"])
        with tempfile.NamedTemporaryFile("w", suffix=".token") as token:
            token.write(SECRET + "\n")
            token.flush()
            status, report, out, err = run_load(
                "ws://127.0.0.1:%d/api/ws?room=7&x=1" % server.port, "-c", 2, "-d", "500ms",
                "--header", "X-Api-Key: abc", "--header", "X-Trace: 1 2", "--origin", "https://example.test",
                "--subprotocol", "v1.json", "--subprotocol", "v2.json", "--token-file", token.name)
        self.assertEqual(status, 0, err + out)
        self.assertEqual(len(seen), 2)
        path, headers, chosen = seen[0]
        self.assertEqual(path, "/api/ws?room=7&x=1")
        self.assertEqual(headers["X-Api-Key"], "abc")
        self.assertEqual(headers["X-Trace"], "1 2")
        self.assertEqual(headers["Origin"], "https://example.test")
        self.assertEqual(headers["Authorization"], "Bearer " + SECRET)
        self.assertEqual(headers["Sec-WebSocket-Protocol"], "v1.json, v2.json")
        self.assertEqual(chosen, "v2.json")
        self.assertGreater(report["messages"]["received"], 0)
        self.assertNotIn(SECRET, out + err + json.dumps(report))
        self.assertEqual(report["parameters"]["token_from"].split(" ")[0], "file")

    def test_token_from_the_environment(self):
        seen = []

        async def handler(ws, path):
            seen.append(ws.request_headers.get("Authorization"))
            async for message in ws:
                await ws.send(message)

        server = self.serve(handler)
        env = dict(os.environ, WSRING_LOAD_TEST_TOKEN=SECRET)
        status, out, err = run_raw(server.url(), "-c", 1, "-d", "300ms", "--token-env", "WSRING_LOAD_TEST_TOKEN",
                                   env=env)
        self.assertEqual(status, 0, err + out)
        self.assertEqual(seen, ["Bearer " + SECRET])
        self.assertNotIn(SECRET, out + err)

    def test_a_subprotocol_not_offered_fails_the_handshake(self):
        async def handler(ws, path):
            await ws.wait_closed()

        class Insisting(websockets.WebSocketServerProtocol):
            def select_subprotocol(self, client_subprotocols, server_subprotocols):
                return "other"  # whatever the client offered

        # The server picks a protocol the client did not offer: the 101 is not valid.
        server = self.serve(handler, subprotocols=["other"], create_protocol=Insisting)
        status, report, out, err = run_load(server.url(), "-c", 1, "-d", "300ms", "--subprotocol", "mine")
        self.assertEqual(status, 1, out + err)
        self.assertEqual(report["connections"]["opened"], 0)
        self.assertEqual(report["errors"]["handshake_failed"], 1)

    def test_count_mode_against_a_json_api(self):
        async def handler(ws, path):
            n = 0
            async for message in ws:
                n += 1
                await ws.send(json.dumps({"id": n, "result": len(message)}))

        server = self.serve(handler)
        status, report, out, err = run_load(server.url(), "-c", 3, "-d", "700ms", "--match", "count", "--pipeline", 2)
        self.assertEqual(status, 0, err + out)
        m = report["messages"]
        self.assertGreater(m["received"], 10)
        self.assertEqual(m["mismatched"], 0)
        self.assertEqual(m["sent"], m["received"] + m["in_flight"] + m["lost"])
        self.assertEqual(report["latency_us"]["count"], m["received"])
        self.assertEqual(report["parameters"]["match"], "count")
        # The same server fails byte-exact echo checking.
        status, report, out, err = run_load(server.url(), "-c", 1, "-d", "300ms")
        self.assertEqual(status, 1)
        self.assertGreater(report["messages"]["mismatched"], 0)

    def test_none_mode_against_a_server_that_never_replies(self):
        received = []

        async def handler(ws, path):
            async for message in ws:
                received.append(len(message))

        server = self.serve(handler)
        status, report, out, err = run_load(server.url(), "-c", 2, "--rate", 400, "-d", "1s", "--match", "none")
        self.assertEqual(status, 0, err + out)
        m = report["messages"]
        self.assertEqual(m["received"], 0)
        self.assertGreater(report["replies"]["unanswered"], 300)
        self.assertEqual(m["sent"], report["replies"]["unanswered"] + m["in_flight"] + m["lost"])
        self.assertGreaterEqual(len(received), report["replies"]["unanswered"] - 5)
        self.assertEqual(report["open_loop"]["target_rate"], 400.0)
        self.assertGreater(report["open_loop"]["achieved_rate"], 300)

    def test_none_mode_counts_what_the_server_pushes(self):
        async def handler(ws, path):
            async for message in ws:
                await ws.send("push")
                await ws.send("push")

        server = self.serve(handler)
        status, report, out, err = run_load(server.url(), "-c", 1, "--rate", 100, "-d", "500ms", "--match", "none")
        self.assertEqual(status, 0, err + out)
        self.assertGreater(report["replies"]["unsolicited"], 40)
        self.assertEqual(report["latency_us"]["count"], 0)

    def test_id_mode_against_a_json_api_answering_out_of_order(self):
        async def handler(ws, path):
            held = []
            async for message in ws:
                request = json.loads(message)
                held.append(request)
                if len(held) == 2:  # answer each pair in reverse order, with a notification between
                    for r in reversed(held):
                        await ws.send(json.dumps({"jsonrpc": "2.0", "id": r["id"], "result": r["params"]["seq"]}))
                    await ws.send(json.dumps({"event": "tick"}))
                    held = []

        server = self.serve(handler)
        status, report, out, err = run_load(server.url(), "-c", 3, "-d", "700ms", "--match", "id", "--pipeline", 2)
        self.assertEqual(status, 0, err + out)
        m = report["messages"]
        self.assertGreater(m["received"], 20)
        self.assertEqual(m["mismatched"], 0)
        self.assertEqual(m["sent"], m["received"] + m["in_flight"] + m["lost"])
        self.assertEqual(report["latency_us"]["count"], m["received"])
        self.assertGreater(report["replies"]["unsolicited"], 5)

    def test_id_mode_counts_replies_with_wrong_ids(self):
        async def handler(ws, path):
            async for message in ws:
                await ws.send(json.dumps({"id": json.loads(message)["id"] + 1, "result": None}))

        server = self.serve(handler)
        status, report, out, err = run_load(server.url(), "-c", 2, "-d", "400ms", "--match", "id", "--pipeline", 1)
        self.assertEqual(status, 1, out + err)
        self.assertGreater(report["errors"]["mismatch"], 0)
        self.assertIn("answers no message outstanding", report["error_details"]["mismatch"])

    def test_templates_and_a_messages_file(self):
        seen = []

        async def handler(ws, path):
            async for message in ws:
                seen.append(message)
                await ws.send("ok")

        server = self.serve(handler)
        status, report, out, err = run_load(server.url(), "-c", 2, "--messages", 20, "--match", "count",
                                            "--message", '{"op":"ping","seq":{seq},"conn":{conn},"id":{id},"t":{ts_ns}}')
        self.assertEqual(status, 0, err + out)
        self.assertEqual(len(seen), 20)
        bodies = [json.loads(m) for m in seen]
        self.assertEqual(sorted(b["conn"] for b in bodies), [0] * 10 + [1] * 10)
        for b in bodies:
            self.assertEqual(b["id"], b["seq"] * 2 + b["conn"])
            self.assertGreater(b["t"], 0)
        seen.clear()
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as lines:
            lines.write('{"n":1,"seq":{seq}}\n\n{"n":2}\n{"n":3}\n')
            lines.flush()
            status, report, out, err = run_load(server.url(), "-c", 1, "--messages", 9, "--match", "none",
                                                "--messages-file", lines.name)
        self.assertEqual(status, 0, err + out)
        self.assertEqual([json.loads(m)["n"] for m in seen], [1, 2, 3] * 3)
        self.assertTrue(all(isinstance(m, str) for m in seen))  # text frames

    def test_reconnect_after_the_server_closes(self):
        opened = []

        async def handler(ws, path):
            opened.append(1)
            n = 0
            async for message in ws:
                await ws.send(message)
                n += 1
                if n == 20:
                    await ws.close(1001, "going away")
                    return

        server = self.serve(handler)
        status, report, out, err = run_load(server.url(), "-c", 2, "-d", "1500ms", "--reconnect", "--pipeline", 1)
        self.assertEqual(status, 1, out + err)  # the server's closes are still errors
        r = report["reconnects"]
        self.assertGreaterEqual(r["attempted"], 4, out + err)
        self.assertGreaterEqual(r["upgraded"], 4)
        self.assertLessEqual(r["upgraded"], r["attempted"])
        self.assertGreaterEqual(report["errors"]["unexpected_close"], 4)
        self.assertGreater(report["messages"]["received"], 80)
        self.assertEqual(report["connections"]["opened"], 2 + r["upgraded"])
        self.assertGreaterEqual(len(opened), 6)
        # Without --reconnect the run ends once both connections are gone.
        status, report, out, err = run_load(server.url(), "-c", 2, "-d", "5s")
        self.assertEqual(status, 1)
        self.assertLessEqual(report["messages"]["received"], 40)
        self.assertEqual(report["reconnects"]["attempted"], 0)


class LoadMixesAgainstWsringEcho(ServerTestCase):
    RUN_ALONE = True  # alone under run.py --jobs: a 1 s load run's rate bounds
    def test_weighted_sizes_and_text_ratio_are_echoed_exactly(self):
        status, report, out, err = run_load(self.server.url(), "-c", 4, "-d", 1, "--size", "16:50,100-200:30,20K:20",
                                            "--text-ratio", 0.5, "--pipeline", 4)
        self.assertEqual(status, 0, err + out)
        m = report["messages"]
        self.assertGreater(m["received"], 100)
        self.assertEqual(m["mismatched"], 0)
        mean = report["bytes"]["received"] / m["received"]
        expected = 0.5 * 16 + 0.3 * 150 + 0.2 * 20480
        self.assertAlmostEqual(mean, expected, delta=expected * 0.35)
        self.assertEqual(report["parameters"]["text_ratio"], 0.5)

    def test_open_loop_reports_target_achieved_late_and_dropped(self):
        status, report, out, err = run_load(self.server.url(), "-c", 5, "--rate", 1000, "-d", 1)
        self.assertEqual(status, 0, err + out)
        o = report["open_loop"]
        self.assertEqual(o["target_rate"], 1000.0)
        self.assertGreater(o["achieved_rate"], 800)
        self.assertLess(o["achieved_rate"], 1100)
        self.assertGreaterEqual(o["late"], 0)
        self.assertLessEqual(o["dropped"], 20)  # only what a busy machine kept the thread from taking up
        self.assertEqual(o["send_lag_us"]["count"], report["messages"]["sent"])
        self.assertIn("open loop      target 1000 msg/s", out)

    def test_short_flags_json_on_stdout_and_units(self):
        args = [self.server.url(), "-c", 3, "-d", "400ms", "-t", 2, "--json", "-"]
        if backend():
            args += ["--backend", backend()]
        status, out, err = run_raw(*args)
        self.assertEqual(status, 0, err)
        report = json.loads(out)  # stdout holds the JSON alone
        self.assertEqual(report["parameters"]["connections"], 3)
        self.assertEqual(report["parameters"]["threads"], 2)
        self.assertAlmostEqual(report["parameters"]["duration_s"], 0.4)
        latency = [line for line in err.splitlines() if line.strip().startswith("latency")]
        self.assertEqual(len(latency), 1, err)
        self.assertRegex(latency[0], r"\d+(\.\d+)? (us|ms|s)\b")

    def test_stages_ramp_connections_up_and_down(self):
        status, report, out, err = run_load(self.server.url(), "--stage", "500ms:8c", "--stage", "500ms:8c",
                                            "--stage", "500ms:0c", "--pipeline", 2)
        self.assertEqual(status, 0, err + out)
        self.assertEqual(report["parameters"]["connections"], 8)
        self.assertAlmostEqual(report["parameters"]["duration_s"], 1.5)
        self.assertEqual(report["connections"]["opened"], 8)
        self.assertEqual(report["connections"]["closed_cleanly"], 8)
        m = report["messages"]
        self.assertGreater(m["received"], 100)
        self.assertEqual(m["sent"], m["received"] + m["in_flight"] + m["lost"])
        self.assertEqual(m["mismatched"], 0)

    def test_stages_with_rates_send_what_the_plan_adds_up_to(self):
        # 0 -> 1000/s over 1 s (500 messages), then 1000/s for 1 s (1000): 1500 due.
        status, report, out, err = run_load(self.server.url(), "--stage", "0s:10c", "--stage", "1s:1000r",
                                            "--stage", "1s:1000r", "-t", 2)
        self.assertEqual(status, 0, err + out)
        o = report["open_loop"]
        self.assertEqual(report["messages"]["sent"] + o["dropped"], 1500)
        self.assertLessEqual(o["dropped"], 20)
        self.assertAlmostEqual(o["target_rate"], 750.0)

    def test_an_unwritable_json_path_is_refused_before_the_run(self):
        status, out, err = run_raw(self.server.url(), "-d", 30, "--json", "/nonexistent-dir/report.json", timeout=5)
        self.assertEqual(status, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("--json", err)


class LoadAnyServerBadArguments(unittest.TestCase):
    backend_independent = True

    def expect_bad(self, flag, *args, env=None):
        status, out, err = run_raw("ws://127.0.0.1:9/", *args, timeout=5, env=env)
        self.assertEqual(status, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(flag, err)
        return err

    def test_bad_values(self):
        self.expect_bad("--header", "--header", "Host: x")
        self.expect_bad("--header", "--header", "Sec-WebSocket-Key: x")
        self.expect_bad("--header", "--header", "no colon")
        self.expect_bad("--subprotocol", "--subprotocol", "a b")
        self.expect_bad("--match", "--match", "id2")
        self.expect_bad("--match", "--message", "x")  # a template with --match echo
        self.expect_bad("--match", "--match", "id", "--message", "no id here")
        self.expect_bad("--messages-file", "--messages-file", "/nonexistent/messages.jsonl")
        self.expect_bad("--size", "--size", "64:80,1024")
        self.expect_bad("--text-ratio", "--text-ratio", "2")
        self.expect_bad("--text-ratio", "--text-ratio", "0.5", "--text")
        self.expect_bad("--token-file", "--token-file", "/nonexistent/token")
        err = self.expect_bad("--token-env", "--token-env", "WSRING_LOAD_TEST_BAD",
                              env=dict(os.environ, WSRING_LOAD_TEST_BAD="has space " + SECRET))
        self.assertNotIn(SECRET, err)


if __name__ == "__main__":
    unittest.main()
