"""wsring-load --scenario push against wsring-echo --mode push (one and two server threads):
every pushed message is accounted for (received, none lost, in order, no duplicates) with a
delivery latency; and against a tiny scripted server that skips, reorders and repeats sequence
numbers, so that loss, reordering and duplicates are detected and the exit status is 1."""

import json
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from wsharness import ServerTestCase, accept_key, backend, bound, build_dir


def run_load(args, timeout=30.0):
    cmd = [os.path.join(build_dir(), "wsring-load")] + [str(a) for a in args]
    if backend() and "--backend" not in cmd:
        cmd += ["--backend", backend()]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=bound(timeout))
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def push_message(sequence, size=32):
    payload = struct.pack("<QQ", time.time_ns(), sequence) + bytes(size - 16)
    return bytes([0x82, len(payload)]) + payload


class ScriptedPushServer:
    """One connection: answers the upgrade, pushes messages with the given sequence numbers,
    then answers the client's close. Loopback only; bounded waits."""

    def __init__(self, sequences):
        self.sequences = sequences
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
            conn.settimeout(bound(10))
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            key = [line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:")][0]
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept_key(key.decode()).encode() + b"\r\n\r\n")
            conn.sendall(b"".join(push_message(s) for s in self.sequences))
            try:
                while conn.recv(4096):  # the client's close (masked, not parsed): answer and end
                    conn.sendall(b"\x88\x02\x03\xe8")
                    break
            except OSError:
                pass

    def close(self):
        self.listener.close()
        self.thread.join(bound(10))


class PushScenario(ServerTestCase):
    shared_server = False
    threads = "1"

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="wsring-load-scen-")

    def report(self, name):
        with open(os.path.join(self.tmp, name)) as f:
            return json.load(f)

    def test_every_push_accounted_for(self):
        server = self.start_server("--threads", self.threads, "--mode", "push", "--push-rate", "100")
        out_json = os.path.join(self.tmp, "push.json")
        status, out, err = run_load([server.url(), "--scenario", "push", "-c", 20, "-t", 2, "-d", "2s",
                                     "--json", out_json, "--quiet"])
        self.assertEqual(status, 0, out + err)
        r = self.report("push.json")
        self.assertEqual(r["scenario"], "push")
        push = r["push"]
        # 20 connections x 100/s for at least 2 s; generous lower bound for a busy machine.
        self.assertGreater(push["received"], 20 * 100, push)
        self.assertEqual(push["lost"], 0, push)
        self.assertEqual(push["out_of_order"], 0, push)
        self.assertEqual(push["duplicates"], 0, push)
        self.assertEqual(push["short"], 0, push)
        self.assertEqual(r["messages"]["sent"], 0)
        self.assertEqual(r["messages"]["received"], push["received"])
        self.assertGreater(r["latency_us"]["count"], 20 * 50)
        self.assertLess(r["latency_us"]["p50"], 5_000_000)
        self.assertIn("push ", out)

    def test_threshold_on_push_latency(self):
        server = self.start_server("--threads", self.threads, "--mode", "push", "--push-rate", "50")
        status, out, err = run_load([server.url(), "--scenario", "push", "-c", 4, "-d", "1s", "--quiet",
                                     "--threshold", "p50<1us"])
        self.assertEqual(status, 1, out + err)  # nothing on a real socket takes under a microsecond
        self.assertIn("p50", out + err)


class PushScenarioTwoThreads(PushScenario):
    threads = "2"


class PushScenarioDetectsLoss(unittest.TestCase):
    backend_independent = False

    def test_gaps_reorder_and_duplicates(self):
        # 0 1 3 2 5 5 7: 4 and 6 never come, 2 is late, 5 comes twice.
        server = ScriptedPushServer([0, 1, 3, 2, 5, 5, 7])
        self.addCleanup(server.close)
        tmp = tempfile.mkdtemp(prefix="wsring-load-scen-")
        out_json = os.path.join(tmp, "r.json")
        status, out, err = run_load(["ws://127.0.0.1:%d/" % server.port, "--scenario", "push", "-c", 1,
                                     "-d", "1s", "--json", out_json, "--quiet"])
        self.assertEqual(status, 1, out + err)  # loss is a failed run
        with open(out_json) as f:
            push = json.load(f)["push"]
        self.assertEqual(push, {"received": 7, "lost": 2, "out_of_order": 1, "duplicates": 1, "stale": 0,
                                "short": 0}, out + err)


class ScenarioFlags(unittest.TestCase):
    backend_independent = True

    def test_bad_values_are_refused(self):
        for args, words in ((["--scenario", "pull"], "--scenario"),
                            (["--scenario", "push", "--messages", "10"], "--messages"),
                            (["--scenario", "push", "--rate", "10"], "--rate"),
                            (["--scenario", "push", "--pipeline", "4"], "--pipeline")):
            status, out, err = run_load(["ws://127.0.0.1:9/"] + args, timeout=10)
            self.assertEqual(status, 2, args)
            self.assertIn(words, err, args)


if __name__ == "__main__":
    unittest.main()
