"""Scale-out behind HAProxy: three wsring-echo backends (PROXY protocol v2 from the balancer,
--admin-listen for its health checks on /readyz) behind one HAProxy, in `mode tcp` and in
`mode http` (WebSocket tunnelling), driven by wsring-load. Checked: every echo verified through
the balancer; connections spread over all three backends (their /metrics); the client's own
address (127.0.0.5) reaches a backend through the PROXY header; a backend killed with SIGKILL
costs only its own connections, whose clients reconnect (--reconnect) and land on the others; a
backend drained with SIGTERM gets no new clients and closes its own with 1001. nginx's http
proxy (README.md's configuration) in front of three plain backends: echoes verified, spread.

Skipped when haproxy (or nginx) is not installed (Debian packages `haproxy`, `nginx`)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from test_load_generator import load_binary, run_load
from test_metrics import admin_port, get, parse_metrics
from wsharness import OP_TEXT, RawClient, ServerTestCase, backend, bound

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
CLIENT_ADDRESS = "127.0.0.5"  # wsring-load binds here; the backends must learn it from the PROXY header
BACKENDS = 3

# The configuration README.md ("Beyond one machine") shows; {mode}, {port}, {servers} filled in.
CONFIG = """\
global
    maxconn 4096
    stats socket {stats}

defaults
    mode {mode}
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout tunnel 60s
    retries 3
    option redispatch 1

frontend websocket
    bind 127.0.0.1:{port}
    default_backend wsring

backend wsring
    balance leastconn
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host wsring
    http-check expect status 200
{servers}
"""
SERVER_LINE = "    server ws{index} 127.0.0.1:{port} send-proxy-v2 check port {admin} inter 200ms fall 2 rise 2\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric(values, name):
    return int(values.get(name, 0))


def errors_total(report):
    return int(report["errors"]["total"])


class HaproxyTestCase(ServerTestCase):
    shared_server = False
    mode = "tcp"

    def setUp(self):
        if HAPROXY is None:
            self.skipTest("haproxy is not installed (apt-get install haproxy): no balancer to test behind")
        super().setUp()
        self.backends = []
        for _ in range(BACKENDS):
            server = self.start_server("--proxy-protocol", "all", "--proxy-from", "127.0.0.1/32",
                                       "--admin-listen", "127.0.0.1:0", "--connection-log", "1",
                                       "--drain-window", "2s", "--close-timeout", "2s")
            self.backends.append((server, admin_port(server)))
        self.port = free_port()
        servers = "".join(SERVER_LINE.format(index=i, port=s.port, admin=a) for i, (s, a) in enumerate(self.backends))
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        path = os.path.join(self.tmp.name, "haproxy.cfg")
        with open(path, "w") as handle:
            handle.write(CONFIG.format(mode=self.mode, port=self.port, servers=servers, stats=self.stats_path()))
        self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", path], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(self.stop_haproxy)
        self.wait_until_every_backend_is_checked()

    def stats_path(self):
        return os.path.join(self.tmp.name, "haproxy.sock")

    def server_status(self):
        """{'ws0': 'UP', ...}: HAProxy's view of each backend server (its stats socket)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(bound(2))
            s.connect(self.stats_path())
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
        return {r["svname"]: r["status"] for r in rows if r["pxname"] == "wsring" and r["svname"].startswith("ws")}

    def wait_for_status(self, name, want, timeout=3.0):
        deadline = time.monotonic() + bound(timeout)
        status = {}
        while time.monotonic() < deadline:
            status = self.server_status()
            if status.get(name, "").startswith(want):
                return
            time.sleep(0.02)
        self.fail("HAProxy says %s is %s, expected %s" % (name, status.get(name), want))

    def stop_haproxy(self):
        if self.haproxy.poll() is None:
            self.haproxy.terminate()
            try:
                self.haproxy.wait(bound(5))
            except subprocess.TimeoutExpired:
                self.haproxy.kill()
                self.haproxy.wait(bound(5))
        self.haproxy.stderr.close()

    def wait_until_every_backend_is_checked(self):
        """HAProxy listens, and every backend has answered a /readyz check (its admin log is quiet,
        so count on the frontend: an echo through the balancer, after two check intervals)."""
        deadline = time.monotonic() + bound(10)
        while time.monotonic() < deadline:
            if self.haproxy.poll() is not None:
                self.fail("haproxy exited with status %s: %s" % (self.haproxy.returncode,
                                                                  self.haproxy.stderr.read().decode()[-2000:]))
            try:
                client = self.through_balancer()
                client.echo(OP_TEXT, b"ready?")
                client.close()
                time.sleep(0.5)  # rise 2, inter 200ms: every server has been checked
                return
            except (OSError, AssertionError):
                time.sleep(0.05)
        self.fail("no echo through haproxy on port %d within the time allowed" % self.port)

    def url(self):
        return "ws://127.0.0.1:%d/" % self.port

    def through_balancer(self):
        client = RawClient("127.0.0.1", self.port)
        self.clients.append(client)
        client.handshake("127.0.0.1:%d" % self.port)
        return client

    def backend_metrics(self):
        return [parse_metrics(get(a, "/metrics")[1]) for _, a in self.backends]

    def accepted(self):
        return [metric(v, "wsring_connections_accepted_total") for v in self.backend_metrics()]

    def settled_metrics(self, name, total, timeout=3.0):
        """Each backend's metrics once `name` sums to `total` over them (counters lag one tick)."""
        deadline = time.monotonic() + bound(timeout)
        while True:
            values = self.backend_metrics()
            if sum(metric(v, name) for v in values) == total or time.monotonic() > deadline:
                return values
            time.sleep(0.05)

    def load(self, *args, timeout=30.0):
        """wsring-load through the balancer in the background; returns (process, report path)."""
        report = os.path.join(self.tmp.name, "load-%d.json" % time.monotonic_ns())
        cmd = [load_binary(), self.url(), "--json", report, "--quiet"] + [str(a) for a in args]
        if backend():
            cmd += ["--backend", backend()]
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        return process, report

    def finish(self, process, report_path, timeout=30.0):
        out, err = process.communicate(timeout=bound(timeout))
        with open(report_path) as handle:
            return process.returncode, json.load(handle), (out + err).decode("utf-8", "replace")


class SpreadAndClientAddress:
    """Both modes: echoes verified, spread over the backends, the client address carried."""

    def test_echoes_spread_over_every_backend_with_the_client_address(self):
        connections = 12
        self.settled_metrics("wsring_connections_open", 0)
        baseline = self.accepted()
        status, report, out, err = run_load(self.url(), "--connections", connections, "--duration", "1500ms",
                                            "--pipeline", 2, "--size", "16-2000", "--source-addrs", CLIENT_ADDRESS)
        self.assertEqual(status, 0, out + err)
        self.assertEqual(errors_total(report), 0, report["errors"])
        self.assertEqual(report["messages"]["mismatched"], 0)
        self.assertEqual(report["messages"]["lost"], 0)
        self.assertGreater(report["messages"]["received"], 100)
        values = self.settled_metrics("wsring_connections_accepted_total", sum(baseline) + connections)
        accepted = [metric(v, "wsring_connections_accepted_total") - b for v, b in zip(values, baseline)]
        self.assertEqual(sum(accepted), connections, accepted)
        for count in accepted:  # leastconn: 4 each; at least 2 each whatever the timing
            self.assertGreaterEqual(count, 2, accepted)
        for v in values:
            self.assertEqual(metric(v, "wsring_proxy_headers_total"), metric(v, "wsring_connections_accepted_total"))
            self.assertEqual(sum(n for k, n in v.items() if k.startswith("wsring_proxy_errors_total")), 0)
        print("\n  %s mode: connections accepted per backend %s" % (self.mode, accepted))
        # --connection-log 1: one line per closed connection, naming the client the header gave.
        deadline = time.monotonic() + bound(3)
        while not any(CLIENT_ADDRESS in s.log() for s, _ in self.backends) and time.monotonic() < deadline:
            time.sleep(0.05)
        logs = "\n".join(s.log() for s, _ in self.backends)
        self.assertIn("peer=%s:" % CLIENT_ADDRESS, logs, logs[-3000:])


class TcpMode(SpreadAndClientAddress, HaproxyTestCase):
    mode = "tcp"

    def test_a_killed_backend_costs_only_its_own_connections(self):
        connections = 12
        process, report_path = self.load("--connections", connections, "--duration", "4s", "--pipeline", 1,
                                         "--reconnect", "--source-addrs", CLIENT_ADDRESS)
        values = self.settled_metrics("wsring_connections_open", connections, timeout=5.0)
        victim, _ = self.backends[0]
        killed = metric(values[0], "wsring_connections_open")
        self.assertGreaterEqual(killed, 2, [metric(v, "wsring_connections_open") for v in values])
        time.sleep(0.5)
        survivors_before = sum(self.accepted()[1:])
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(bound(5))
        self.wait_for_status("ws0", "DOWN")
        status, report, output = self.finish(process, report_path)
        self.assertEqual(status, 1, output)  # the killed connections are errors
        self.assertGreaterEqual(errors_total(report), 1, report["errors"])
        self.assertLessEqual(errors_total(report), killed, report["errors"])
        self.assertLessEqual(report["messages"]["lost"], killed)
        self.assertEqual(report["messages"]["mismatched"], 0)
        self.assertGreaterEqual(report["reconnects"]["upgraded"], 1, report["reconnects"])
        # The survivors took the reconnects, and none of their own connections was cut: every
        # one of them ended with the client's close frame.
        survivors = [parse_metrics(get(a, "/metrics")[1]) for _, a in self.backends[1:]]
        accepted = sum(metric(v, "wsring_connections_accepted_total") for v in survivors)
        self.assertGreaterEqual(accepted - survivors_before, report["reconnects"]["upgraded"])
        print("\n  killed backend: %d connections open on it, %d errors (%s), %d lost, %d reconnects upgraded, "
              "survivors accepted %d more" % (killed, errors_total(report),
                                               {k: v for k, v in report["errors"].items() if v and k != "total"},
                                               report["messages"]["lost"], report["reconnects"]["upgraded"],
                                               accepted - survivors_before))
        for v in survivors:
            for reason in ("peer_eof", "network_error", "protocol_error", "idle_timeout", "send_timeout"):
                self.assertEqual(metric(v, 'wsring_connections_closed_total{reason="%s"}' % reason), 0, reason)

    def test_a_drained_backend_gets_no_new_clients_and_closes_its_own_with_1001(self):
        self.settled_metrics("wsring_connections_open", 0)
        watcher = self.through_balancer()
        watcher.echo(OP_TEXT, b"which backend?")
        values = self.settled_metrics("wsring_connections_open", 1)
        holders = [i for i, v in enumerate(values) if metric(v, "wsring_connections_open") == 1]
        self.assertEqual(len(holders), 1, [metric(v, "wsring_connections_open") for v in values])
        drained, drained_admin = self.backends[holders[0]]
        self.assertEqual(self.server_status(), {"ws0": "UP", "ws1": "UP", "ws2": "UP"})
        process, report_path = self.load("--connections", 9, "--duration", "4s", "--pipeline", 1, "--reconnect")
        time.sleep(1.0)
        drained_clients = metric(parse_metrics(get(drained_admin, "/metrics")[1]), "wsring_connections_open") - 1
        drained.signal(signal.SIGTERM)
        deadline = time.monotonic() + bound(3)
        while "draining: listeners closed" not in drained.log() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(get(drained_admin, "/readyz")[0], 503)
        # HAProxy's check sees the 503 and takes the server out (fall 2 x inter 200ms).
        self.wait_for_status("ws%d" % holders[0], "DOWN")
        before = metric(parse_metrics(get(drained_admin, "/metrics")[1]), "wsring_connections_accepted_total")
        for i in range(6):
            self.through_balancer().echo(OP_TEXT, b"after the drain began %d" % i)
        after = metric(parse_metrics(get(drained_admin, "/metrics")[1]), "wsring_connections_accepted_total")
        self.assertEqual(after, before)
        watcher.expect_close(1001, timeout=bound(5))
        self.assertEqual(drained.wait(bound(10)), 0, drained.log_tail())
        status, report, output = self.finish(process, report_path)
        self.assertEqual(report["messages"]["mismatched"], 0, output)
        # Only the drained backend's clients saw a close (1001), and they came back elsewhere.
        self.assertLessEqual(errors_total(report), drained_clients, report["errors"])
        self.assertEqual(errors_total(report), report["errors"]["unexpected_close"], report["errors"])
        self.assertGreaterEqual(report["reconnects"]["upgraded"], errors_total(report))
        print("\n  drained backend: %d errors (%s), %d reconnects upgraded, accepted %d before and after the "
              "listener closed" % (errors_total(report),
                                   {k: v for k, v in report["errors"].items() if v and k != "total"},
                                   report["reconnects"]["upgraded"], before))


class HttpMode(SpreadAndClientAddress, HaproxyTestCase):
    mode = "http"


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

# README.md's nginx configuration (http proxy: no PROXY header toward the backends), made to run
# unprivileged-style from a temp dir.
NGINX_CONFIG = """\
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    upstream wsring {{
        least_conn;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://wsring;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
        }}
    }}
}}
"""


class NginxHttpProxy(ServerTestCase):
    """The same spread through nginx's http proxy (README.md's configuration)."""
    shared_server = False

    def test_echoes_spread_over_every_backend(self):
        if NGINX is None:
            self.skipTest("nginx is not installed (apt-get install nginx)")
        backends = [self.start_server("--admin-listen", "127.0.0.1:0") for _ in range(BACKENDS)]
        admins = [admin_port(b) for b in backends]
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        port = free_port()
        servers = "\n".join("        server 127.0.0.1:%d;" % b.port for b in backends)
        path = os.path.join(tmp.name, "nginx.conf")
        with open(path, "w") as handle:
            handle.write(NGINX_CONFIG.format(tmp=tmp.name, port=port, servers=servers))
        nginx = subprocess.Popen([NGINX, "-c", path, "-e", os.path.join(tmp.name, "error.log")],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def stop():
            if nginx.poll() is None:
                nginx.terminate()
                try:
                    nginx.wait(bound(5))
                except subprocess.TimeoutExpired:
                    nginx.kill()
                    nginx.wait(bound(5))
            nginx.stderr.close()
        self.addCleanup(stop)
        deadline = time.monotonic() + bound(10)
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if nginx.poll() is not None or time.monotonic() > deadline:
                    self.fail("nginx did not listen: %s" % nginx.stderr.read().decode()[-2000:])
                time.sleep(0.05)
        connections = 12
        status, report, out, err = run_load("ws://127.0.0.1:%d/" % port, "--connections", connections,
                                            "--duration", "1500ms", "--pipeline", 2, "--size", "16-2000")
        self.assertEqual(status, 0, out + err)
        self.assertEqual(errors_total(report), 0, report["errors"])
        self.assertEqual(report["messages"]["mismatched"], 0)
        self.assertGreater(report["messages"]["received"], 100)
        accepted = [metric(parse_metrics(get(a, "/metrics")[1]), "wsring_connections_accepted_total") for a in admins]
        deadline = time.monotonic() + bound(3)
        while sum(accepted) < connections and time.monotonic() < deadline:
            time.sleep(0.05)
            accepted = [metric(parse_metrics(get(a, "/metrics")[1]), "wsring_connections_accepted_total")
                        for a in admins]
        self.assertEqual(sum(accepted), connections, accepted)
        for count in accepted:
            self.assertGreaterEqual(count, 2, accepted)
        print("\n  nginx http proxy: connections accepted per backend %s" % accepted)


if __name__ == "__main__":
    unittest.main()
