"""Drain and rolling restart: SIGTERM closes the listeners, then sends close 1001 to the open
connections spread over --drain-window, waits for the replies and exits 0. A rolling restart
(a new wsring-echo joins the port with --reuse-port, then the old one gets SIGTERM) under a fleet
of clients opening 1,000+ connections a second (tests/integration/echo_fleet.py, two processes)
fails no connect and loses or corrupts no message, and every long-lived client of the old
process gets its 1001.

Connections still in a closing SO_REUSEPORT listener's accept queue are reset unless the kernel
migrates them to a sibling listener (net.ipv4.tcp_migrate_req=1): the restart test turns the
setting on for its run when it can (and puts it back), and is skipped where it cannot."""

import json
import os
import subprocess
import sys
import time
import unittest

from wsharness import OP_TEXT, RawClient, ServerTestCase, bound

HERE = os.path.dirname(os.path.abspath(__file__))
FLEET = os.path.join(HERE, "echo_fleet.py")
MIGRATE = "/proc/sys/net/ipv4/tcp_migrate_req"


def read_migrate():
    try:
        with open(MIGRATE) as handle:
            return handle.read().strip()
    except OSError:
        return None


def write_migrate(value):
    try:
        with open(MIGRATE, "w") as handle:
            handle.write(value)
        return read_migrate() == value
    except OSError:
        return False


class Drain(ServerTestCase):
    shared_server = False

    def open_clients(self, server, count):
        clients = []
        for i in range(count):
            client = RawClient(server.host, server.port)
            self.clients.append(client)
            client.handshake(server.host_header())
            clients.append(client)
        return clients

    def test_closes_are_spread_over_the_window(self):
        server = self.start_server("--drain-window", "1s", "--close-timeout", "2s")
        clients = self.open_clients(server, 20)
        started = time.monotonic()
        server.signal(15)
        arrivals = []
        for client in clients:
            client.expect_close(1001, timeout=bound(4.0))
            arrivals.append(time.monotonic() - started)
        self.assertEqual(server.wait(bound(5.0)), 0, server.log_tail())
        # In order of connection: the first at once, the last near the end of the window.
        self.assertLess(arrivals[0], 0.5, arrivals)
        self.assertGreater(max(arrivals), 0.6, arrivals)
        self.assertIn("draining: listeners closed", server.log())

    def test_window_zero_closes_everyone_at_once(self):
        server = self.start_server("--drain-window", "0")
        clients = self.open_clients(server, 10)
        started = time.monotonic()
        server.signal(15)
        for client in clients:
            client.expect_close(1001, timeout=bound(2.0))
        self.assertLess(time.monotonic() - started, bound(1.0))
        self.assertEqual(server.wait(bound(5.0)), 0, server.log_tail())

    def test_log_says_whether_queued_connections_migrate(self):
        setting = read_migrate()
        if setting is None:
            self.skipTest("this kernel has no net.ipv4.tcp_migrate_req")
        server = self.start_server("--drain-window", "0")
        server.signal(15)
        self.assertEqual(server.wait(bound(5.0)), 0)
        self.assertIn("net.ipv4.tcp_migrate_req=%s" % setting, server.log())

    def test_bad_drain_window(self):
        from wsharness import run_server_command
        result = run_server_command(["--listen", "127.0.0.1:0", "--drain-window", "soon"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("--drain-window", result.stderr if isinstance(result.stderr, str) else result.stderr.decode())


class RollingRestart(ServerTestCase):
    RUN_ALONE = True  # alone under run.py --jobs: a fleet opening 1,000+ connections a second
    shared_server = False

    def setUp(self):
        super().setUp()
        previous = read_migrate()
        if previous is None:
            self.skipTest("this kernel has no net.ipv4.tcp_migrate_req: queued connections cannot migrate")
        if previous != "1":
            if not write_migrate("1"):
                self.skipTest("net.ipv4.tcp_migrate_req is %s and cannot be set to 1 here" % previous)
            self.addCleanup(write_migrate, previous)

    def fleet(self, port, duration, rate, long_lived):
        return subprocess.Popen([sys.executable, FLEET, "--port", str(port), "--duration", str(duration),
                                 "--rate", str(rate), "--long", str(long_lived)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def test_rolling_restart_under_load(self):
        old = self.start_server("--reuse-port", "--drain-window", "1s", "--close-timeout", "10s")
        address = "127.0.0.1:%d" % old.port
        fleets = [self.fleet(old.port, 5.0, 600, 100) for _ in range(2)]
        for fleet in fleets:
            self.addCleanup(lambda f=fleet: f.poll() is None and f.kill())
        time.sleep(1.5)
        new = self.start_server("--reuse-port", "--drain-window", "1s", listen=address)
        old.signal(15)
        results = []
        for fleet in fleets:
            out, err = fleet.communicate(timeout=60)
            self.assertEqual(fleet.returncode, 0, err)
            results.append(json.loads(out))
        self.assertEqual(old.wait(bound(20.0)), 0, old.log_tail())
        new.stop()
        report = json.dumps(results, indent=1) + "\nold: " + old.log_tail(3) + "\nnew: " + new.log_tail(3)
        total = lambda key: sum(r[key] for r in results)
        print("\nrolling restart: %s" % json.dumps({k: total(k) for k in (
            "connects_attempted", "connects_failed", "messages_sent", "messages_echoed", "messages_lost",
            "messages_corrupted", "retries_after_1001")}), file=sys.stderr)
        self.assertEqual(total("connects_failed"), 0, report)
        self.assertEqual(total("messages_lost"), 0, report)
        self.assertEqual(total("messages_corrupted"), 0, report)
        self.assertEqual(total("unfinished_tasks"), 0, report)
        # Every long-lived client was on the old process and got its 1001.
        self.assertEqual(sum(r["long_first_close"].get("1001", 0) for r in results), 200, report)
        self.assertGreaterEqual(total("connects_attempted") / 5.0, 1000 * 0.8 if not os.environ.get(
            "WSRING_SANITIZED") else 100, report)


if __name__ == "__main__":
    unittest.main()
