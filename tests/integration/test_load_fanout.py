"""wsring-load --scenario shootout against wsring-echo --mode shootout (one and two server
threads, two load threads, both formats): every step is present, every broadcast reached every
client once, the clients at the limit are reported; a limit small enough to be crossed at once is
reported as crossed at step 1; a server that does not broadcast is caught (lost deliveries, exit
status 1); bad flag combinations are refused with one line naming the flag. And --scenario pubsub
against wsring-echo --mode pubsub: every publish reaches every subscriber of its topic, in order,
once, with a delivery latency; a server that does not speak pubsub fails the run. Scripted servers
that repeat a broadcast, or lose and repeat a publish, are counted and fail the run."""

import json
import os
import socket
import tempfile
import threading
import unittest

from test_load_scenarios import run_load
from wsharness import ServerTestCase, accept_key, bound, raise_fd_limit


def server_frame(opcode, payload):
    assert len(payload) < 126
    return bytes([0x80 | opcode, len(payload)]) + payload


class ScriptedFanoutServer:
    """One connection: answers the upgrade, then hands each client message (opcode, unmasked
    payload) to `answer`, which returns the frames to send back; a close is answered and ends it.
    Loopback only; bounded waits."""

    def __init__(self, answer):
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.listener.settimeout(bound(10))
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(bound(20))
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            request, data = data.split(b"\r\n\r\n", 1)
            key = [line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:")][0]
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept_key(key.decode()).encode() + b"\r\n\r\n")
            try:
                for _ in range(10000):  # bounded: one message per round
                    while len(data) < 6 or len(data) < 6 + (data[1] & 0x7F):
                        chunk = conn.recv(4096)
                        if not chunk:
                            return
                        data += chunk
                    opcode, size = data[0] & 0x0F, data[1] & 0x7F  # small frames only (< 126 bytes)
                    mask, payload = data[2:6], data[6:6 + size]
                    data = data[6 + size:]
                    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                    if opcode == 8:
                        conn.sendall(b"\x88\x02\x03\xe8")
                        return
                    conn.sendall(b"".join(self.answer(opcode, payload)))
            except OSError:
                pass

    def close(self):
        self.listener.close()
        self.thread.join(bound(30))


class ShootoutStepUp(ServerTestCase):
    shared_server = False
    threads = "1"
    fmt = "json"

    def setUp(self):
        super().setUp()
        raise_fd_limit()
        self.tmp = tempfile.mkdtemp(prefix="wsring-load-fanout-")
        self.json_path = os.path.join(self.tmp, "r.json")

    def shootout(self, server, *extra):
        status, out, err = run_load([server.url(), "--scenario", "shootout", "--shootout-format", self.fmt,
                                     "--json", self.json_path, "--quiet"] + list(extra))
        with open(self.json_path) as f:
            return status, json.load(f), out + err

    def test_three_steps_every_broadcast_delivered(self):
        server = self.start_server("--threads", self.threads, "--mode", "shootout")
        status, r, text = self.shootout(server, "--initial-clients", 50, "--step-size", 50, "--max-clients", 150,
                                        "--sample-size", 10, "-t", 2)
        self.assertEqual(status, 0, text)
        self.assertEqual(r["scenario"], "shootout")
        s = r["shootout"]
        self.assertEqual([step["clients"] for step in s["steps"]], [50, 100, 150], s)
        for step in s["steps"]:
            self.assertEqual(step["broadcasts"], 10, step)
            self.assertEqual(step["lost"], 0, step)
            self.assertEqual(step["duplicates"], 0, step)
            self.assertLessEqual(step["rtt_ms"]["min"], step["rtt_ms"]["p95"])
            self.assertLessEqual(step["rtt_ms"]["p95"], step["rtt_ms"]["max"])
            self.assertLessEqual(step["result_rtt_ms"]["p95"], step["rtt_ms"]["max"])
            self.assertGreater(step["rtt_ms"]["min"], 0)
        self.assertTrue(s["completed"], s)
        self.assertFalse(s["limit_crossed"], s)
        self.assertIsNone(s["crossed_at_step"])
        self.assertEqual(s["clients_at_limit"], 150)
        self.assertEqual(s["broadcasts"], 30)
        # Every client received every broadcast of its steps: 10 x (50 + 100 + 150).
        self.assertEqual(r["messages"]["received"], 10 * (50 + 100 + 150), r["messages"])
        self.assertEqual(r["messages"]["sent"], 30)
        self.assertEqual(r["errors"]["total"], 0, r["error_details"])
        self.assertIn("clients at limit 150", text)

    def test_limit_crossed_at_the_first_step(self):
        server = self.start_server("--threads", self.threads, "--mode", "shootout")
        status, r, text = self.shootout(server, "-c", 20, "--step-size", 20, "--max-clients", 100,
                                        "--sample-size", 5, "--limit-rtt", "0.001ms")
        self.assertEqual(status, 0, text)  # crossing the limit is the run's answer, not an error
        s = r["shootout"]
        self.assertTrue(s["limit_crossed"], s)
        self.assertEqual(s["crossed_at_step"], 1, s)
        self.assertEqual(s["clients_at_limit"], 0, s)
        self.assertEqual(len(s["steps"]), 1, s)
        self.assertTrue(s["steps"][0]["crossed"])
        self.assertEqual(s["steps"][0]["lost"], 0)
        self.assertIn("LIMIT CROSSED", text)


class ShootoutStepUpTwoServerThreads(ShootoutStepUp):
    threads = "2"


class ShootoutStepUpBinary(ShootoutStepUp):
    fmt = "binary"


class ShootoutDetectsLoss(ServerTestCase):
    shared_server = False

    def test_a_server_that_does_not_broadcast(self):
        # An echo server answers the sender alone: the others never receive it, no broadcastResult.
        server = self.start_server("--mode", "echo")
        tmp = tempfile.mkdtemp(prefix="wsring-load-fanout-")
        path = os.path.join(tmp, "r.json")
        status, out, err = run_load([server.url(), "--scenario", "shootout", "-c", 3, "--max-clients", 3,
                                     "--sample-size", 1, "--concurrent", 1, "--json", path, "--quiet"])
        self.assertEqual(status, 1, out + err)
        with open(path) as f:
            s = json.load(f)["shootout"]
        self.assertFalse(s["completed"], s)
        self.assertEqual(s["lost"], 2, s)  # the sender got its echo as "its" copy; the other two nothing
        self.assertIn("broadcastResult missing", s["outcome"])


class PubsubScenario(ServerTestCase):
    shared_server = False
    threads = "1"

    def test_every_publish_delivered(self):
        server = self.start_server("--threads", self.threads, "--mode", "pubsub")
        path = os.path.join(tempfile.mkdtemp(prefix="wsring-load-fanout-"), "r.json")
        status, out, err = run_load([server.url(), "--scenario", "pubsub", "-c", 60, "-t", 2, "--topics", 6,
                                     "--publishers", 4, "--rate", 600, "-d", "2s", "--json", path, "--quiet"])
        self.assertEqual(status, 0, out + err)
        with open(path) as f:
            r = json.load(f)
        p = r["pubsub"]
        self.assertEqual(r["scenario"], "pubsub")
        # 600/s for 2 s; a generous lower bound for a busy machine.
        self.assertGreater(p["published"], 600, p)
        self.assertEqual(p["expected_deliveries"], p["published"] * 10, p)  # 60 clients over 6 topics
        self.assertEqual(p["delivered"], p["expected_deliveries"], p)
        self.assertEqual(p["lost"], 0, p)
        self.assertEqual(p["out_of_order"], 0, p)
        self.assertEqual(p["duplicates"], 0, p)
        self.assertEqual(r["messages"]["sent"], p["published"])
        self.assertEqual(r["messages"]["received"], p["delivered"])
        self.assertEqual(r["errors"]["total"], 0, r["error_details"])
        self.assertGreater(r["latency_us"]["count"], 0)
        self.assertIn("pubsub ", out)

    def test_publishes_beyond_the_send_buffer_are_dropped_and_fail_the_run(self):
        server = self.start_server("--threads", self.threads, "--mode", "pubsub")
        path = os.path.join(tempfile.mkdtemp(prefix="wsring-load-fanout-"), "r.json")
        # 1,000,000 publishes/s from one publisher: far more per millisecond than its buffer holds.
        status, out, err = run_load([server.url(), "--scenario", "pubsub", "-c", 2, "--rate", 1000000,
                                     "-d", "1s", "--json", path, "--quiet"])
        self.assertEqual(status, 1, out + err)
        with open(path) as f:
            p = json.load(f)["pubsub"]
        self.assertGreater(p["dropped"], 0, p)
        self.assertGreater(p["published"], 0, p)
        self.assertIn("dropped", out)

    def test_a_server_without_pubsub_fails_the_run(self):
        server = self.start_server("--mode", "echo")  # echoes "SUB t0": no acknowledgement
        status, out, err = run_load([server.url(), "--scenario", "pubsub", "-c", 4, "-d", "1s", "--quiet"])
        self.assertEqual(status, 1, out + err)
        self.assertIn("no delivery of its topic", out + err)


class PubsubScenarioTwoServerThreads(PubsubScenario):
    threads = "2"


class ScriptedServersAreCaught(unittest.TestCase):
    backend_independent = False

    def run_against(self, answer, args):
        server = ScriptedFanoutServer(answer)
        self.addCleanup(server.close)
        path = os.path.join(tempfile.mkdtemp(prefix="wsring-load-fanout-"), "r.json")
        status, out, err = run_load(["ws://127.0.0.1:%d/" % server.port, "-c", 1, "--json", path, "--quiet"] + args)
        with open(path) as f:
            return status, json.load(f), out + err

    def test_a_duplicated_broadcast(self):
        def answer(opcode, payload):  # binary shootout: every broadcast twice, then the result
            return [server_frame(2, payload), server_frame(2, payload), server_frame(2, b"r" + payload[1:])]
        status, r, text = self.run_against(answer, ["--scenario", "shootout", "--shootout-format", "binary",
                                                    "--max-clients", 1, "--sample-size", 3, "--concurrent", 1])
        self.assertEqual(status, 1, text)
        s = r["shootout"]
        self.assertFalse(s["completed"], s)
        self.assertGreaterEqual(s["duplicates"], 1, s)
        self.assertIn("received twice", json.dumps(r["error_details"]))

    def test_a_lost_and_a_repeated_publish(self):
        published = []

        def answer(opcode, payload):
            if payload.startswith(b"SUB "):
                return [server_frame(1, b"OK " + payload)]
            published.append(payload)
            n = len(published)
            if n == 2:
                return []  # the second publish never arrives: lost
            copies = 2 if n == 4 else 1  # the fourth arrives twice: a duplicate
            return [server_frame(opcode, b"MSG " + payload[4:])] * copies
        status, r, text = self.run_against(answer, ["--scenario", "pubsub", "--rate", 20, "-d", "1s"])
        self.assertEqual(status, 1, text)
        p = r["pubsub"]
        self.assertGreaterEqual(p["published"], 5, p)
        self.assertEqual(p["lost"], 1, p)
        self.assertEqual(p["duplicates"], 1, p)
        self.assertEqual(p["delivered"], p["published"] - 1, p)
        self.assertEqual(r["messages"]["lost"], 1)


class ShootoutFlags(unittest.TestCase):
    backend_independent = True

    def test_bad_combinations_are_refused(self):
        for args, words in ((["--step-size", "10"], "--step-size"),
                            (["--scenario", "shootout", "--duration", "5s"], "--duration"),
                            (["--scenario", "shootout", "--rate", "10"], "--rate"),
                            (["--scenario", "shootout", "--concurrent", "0"], "--concurrent"),
                            (["--scenario", "shootout", "--limit-rtt", "soon"], "--limit-rtt"),
                            (["--scenario", "shootout", "--shootout-format", "xml"], "--shootout-format"),
                            (["--scenario", "shootout", "-c", "200", "--max-clients", "100"], "--connections"),
                            (["--topics", "3"], "--topics"),
                            (["--scenario", "pubsub", "-c", "2", "--publishers", "3"], "--publishers"),
                            (["--scenario", "pubsub", "--size", "16-64"], "--size")):
            status, out, err = run_load(["ws://127.0.0.1:9/"] + args, timeout=10)
            self.assertEqual(status, 2, args)
            self.assertIn(words, err, args)
            self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    unittest.main()
