"""wsring-load --scenario shootout against wsring-echo --mode shootout (one and two server
threads, two load threads, both formats): every step is present, every broadcast reached every
client once, the clients at the limit are reported; a limit small enough to be crossed at once is
reported as crossed at step 1; a server that does not broadcast is caught (lost deliveries, exit
status 1); bad flag combinations are refused with one line naming the flag. And --scenario pubsub
against wsring-echo --mode pubsub: every publish reaches every subscriber of its topic, in order,
once, with a delivery latency; a server that does not speak pubsub fails the run."""

import json
import os
import tempfile
import unittest

from test_load_scenarios import run_load
from wsharness import ServerTestCase, raise_fd_limit


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

    def test_a_server_without_pubsub_fails_the_run(self):
        server = self.start_server("--mode", "echo")  # echoes "SUB t0": no acknowledgement
        status, out, err = run_load([server.url(), "--scenario", "pubsub", "-c", 4, "-d", "1s", "--quiet"])
        self.assertEqual(status, 1, out + err)
        self.assertIn("no delivery of its topic", out + err)


class PubsubScenarioTwoServerThreads(PubsubScenario):
    threads = "2"


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
