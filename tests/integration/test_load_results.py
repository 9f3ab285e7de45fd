"""wsring-load's results over time and across processes, against wsring-echo: the JSON timeline
and progress lines, --threshold (exit status 1 on a failure, 2 on a bad one), the --hdr-log
interval log read back by HdrHistogram's own Java tools, the --report HTML page rendered in
headless Chromium, and --shard/--start-at runs merged by `wsring-load merge`."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from wsharness import ServerTestCase, backend, bound, build_dir

HDR_JAR = "/usr/share/java/hdrhistogram.jar"


def load_binary():
    return os.path.join(build_dir(), "wsring-load")


def run(args, timeout=30.0):
    """Runs wsring-load with these arguments; returns (exit status, stdout, stderr)."""
    cmd = [load_binary()] + [str(a) for a in args]
    if backend() and args and str(args[0]).startswith("ws") and "--backend" not in args:
        cmd += ["--backend", backend()]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=bound(timeout))
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def java():
    return shutil.which("java") if os.path.exists(HDR_JAR) else None


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class LoadResults(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="wsring-load-results-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def load(self, *args, timeout=30.0):
        return run([self.server.url()] + list(args), timeout=timeout)

    def read_json(self, name):
        with open(self.path(name)) as f:
            return json.load(f)

    def test_timeline_adds_up_to_the_totals(self):
        status, out, err = self.load("--connections", 8, "--duration", 2.5, "--json", self.path("r.json"))
        self.assertEqual(status, 0, out + err)
        report = self.read_json("r.json")
        timeline = report["timeline"]
        self.assertGreaterEqual(len(timeline), 3, timeline)
        self.assertEqual(sum(p["received"] for p in timeline), report["messages"]["received"])
        self.assertEqual(sum(p["sent"] for p in timeline), report["messages"]["sent"])
        self.assertEqual(sum(p["latency_us"]["count"] for p in timeline), report["latency_us"]["count"])
        for k, p in enumerate(timeline[:-1]):
            self.assertAlmostEqual(p["t"], float(k), places=3)
            self.assertAlmostEqual(p["length_s"], 1.0, places=3)
        self.assertTrue(any(p["connections"] == 8 and p["latency_us"]["p99"] > 0 for p in timeline), timeline)
        # One progress line a second on stderr, with the interval's latency.
        progress = [line for line in err.splitlines() if re.match(r"\[\s*\d+\.\ds\]", line)]
        self.assertGreaterEqual(len(progress), 2, err)
        self.assertTrue(any(" p99 " in line for line in progress), err)
        self.assertGreater(report["start_unix_s"], time.time() - 120)
        self.assertIsNone(report["shard"])

    def test_quiet_prints_no_progress(self):
        status, out, err = self.load("--connections", 2, "--duration", 1.5, "--quiet")
        self.assertEqual(status, 0, out + err)
        self.assertFalse(re.search(r"^\[\s*\d+\.\ds\]", err, re.M), err)

    def test_thresholds_pass_fail_and_exit_status(self):
        status, out, err = self.load("--connections", 4, "--duration", 1, "--json", self.path("ok.json"),
                                     "--threshold", "p99<10s", "--threshold", "errors==0", "--threshold",
                                     "rate>=1")
        self.assertEqual(status, 0, out + err)
        self.assertIn("all passed", out)
        report = self.read_json("ok.json")
        self.assertTrue(report["thresholds_passed"])
        self.assertEqual([t["pass"] for t in report["thresholds"]], [True, True, True])
        self.assertEqual(report["exit_status"], 0)

        status, out, err = self.load("--connections", 4, "--duration", 1, "--json", self.path("bad.json"),
                                     "--threshold", "p50<1ns", "--threshold", "errors==0")
        self.assertEqual(status, 1, out + err)
        self.assertRegex(out, r"p50<1ns .* FAIL")
        report = self.read_json("bad.json")
        self.assertFalse(report["thresholds_passed"])
        self.assertEqual([t["pass"] for t in report["thresholds"]], [False, True])
        self.assertEqual(report["thresholds"][0]["actual"], report["latency_us"]["p50"])
        self.assertEqual(report["exit_status"], 1)

    def test_bad_threshold_is_a_usage_error(self):
        status, out, err = self.load("--threshold", "p99 is small")
        self.assertEqual(status, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("--threshold", err)

    def test_hdr_log_read_by_hdrhistogram_java(self):
        if not java():
            self.skipTest("java or %s not installed (DEB_PACKAGES has both)" % HDR_JAR)
        log = self.path("run.hlog")
        status, out, err = self.load("--connections", 8, "--duration", 2, "--pipeline", 4, "--hdr-log", log,
                                     "--json", self.path("r.json"))
        self.assertEqual(status, 0, out + err)
        report = self.read_json("r.json")
        with open(log) as f:
            text = f.read()
        self.assertIn("#[StartTime: ", text)
        self.assertIn("#[BaseTime: ", text)
        self.assertIn('"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"', text)
        lines = [line for line in text.splitlines() if line and line[0].isdigit()]
        self.assertEqual(len(lines), len(report["timeline"]))
        # HistogramLogProcessor, values in microseconds (ratio 1): the last CSV row holds the
        # totals over every interval: count, p50, p90, p99, p99.9, p99.99, max.
        # -o writes the interval table to OUT (and the whole log's distribution to OUT.hgrm).
        out = self.path("processed")
        done = subprocess.run(["java", "-cp", HDR_JAR, "org.HdrHistogram.HistogramLogProcessor", "-i", log, "-csv",
                               "-outputValueUnitRatio", "1", "-o", out], capture_output=True, timeout=bound(60))
        self.assertEqual(done.returncode, 0, done.stderr.decode()[-2000:])
        with open(out) as f:
            table = f.read()
        rows = [r.split(",") for r in table.splitlines() if r and r[0].isdigit()]
        # It lists the intervals that hold values.
        points = [p for p in report["timeline"] if p["latency_us"]["count"]]
        self.assertEqual(len(rows), len(points), table)
        total = rows[-1]
        ours = report["latency_us"]
        self.assertEqual(int(total[5]), ours["count"])
        for column, key in ((6, "p50"), (7, "p90"), (8, "p99"), (9, "p999"), (10, "p9999"), (11, "max")):
            theirs = float(total[column])
            # The same buckets: equal, except that we cap a percentile at the exact maximum where
            # HdrHistogram reports the top of the maximum's bucket (at most 1/1024 above it).
            self.assertLessEqual(abs(theirs - ours[key]), ours[key] / 1024 + 1, (key, theirs, ours[key]))
        # Per interval: its count and median agree too.
        for row, point in zip(rows, points):
            self.assertEqual(int(row[1]), point["latency_us"]["count"])
            if point["latency_us"]["count"]:
                self.assertLessEqual(abs(float(row[2]) - point["latency_us"]["p50"]),
                                     point["latency_us"]["p50"] / 1024 + 1)

    def test_html_report_renders_in_chromium(self):
        page = self.path("report.html")
        status, out, err = self.load("--connections", 4, "--duration", 2.5, "--report", page, "--json",
                                     self.path("r.json"), "--threshold", "errors==0")
        self.assertEqual(status, 0, out + err)
        report = self.read_json("r.json")
        with open(page) as f:
            html = f.read()
        self.assertNotIn("<script", html)
        self.assertNotRegex(html, r"(src|href)=")
        browser = chromium()
        if not browser:
            self.skipTest("chromium not installed (DEB_PACKAGES has it)")
        cmd = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
               "--user-data-dir=" + self.path("profile"), "--dump-dom", "file://" + page]
        done = subprocess.run(cmd, capture_output=True, timeout=bound(90))
        dom = done.stdout.decode("utf-8", "replace")
        self.assertIn("</svg>", dom, done.stderr.decode()[-2000:])
        n = len(report["timeline"])
        with_latency = sum(1 for p in report["timeline"] if p["latency_us"]["count"])
        for plot, lines, points in (("plot-rate", 2, 2 * n), ("plot-latency", 4, 4 * with_latency),
                                    ("plot-connections", 2, 2 * n)):
            match = re.search(r'<svg[^>]*id="%s"[^>]*>(.*?)</svg>' % plot, dom, re.S)
            self.assertIsNotNone(match, plot)
            self.assertIn('data-points="%d"' % points, dom[match.start():match.start() + 300])
            self.assertEqual(len(re.findall(r'<circle class="pt"', match.group(1))), points, plot)
            self.assertEqual(len(re.findall(r"<polyline", match.group(1))), lines, plot)
        spectrum = re.search(r'<svg[^>]*id="plot-spectrum"[^>]*data-points="(\d+)"[^>]*>(.*?)</svg>', dom, re.S)
        self.assertIsNotNone(spectrum)
        self.assertGreater(int(spectrum.group(1)), 10)
        self.assertEqual(len(re.findall(r'<circle class="pt"', spectrum.group(2))), int(spectrum.group(1)))
        self.assertRegex(dom, r'<tr class="pass"><td>errors==0</td>')

    def test_shards_merge_to_the_sum(self):
        shards = 3
        start = time.time() + 1.5
        procs = []
        for i in range(shards):
            cmd = [load_binary(), self.server.url(), "--connections", 10, "--messages", 3001, "--pipeline", 2,
                   "--shard", "%d/%d" % (i, shards), "--start-at", "%.3f" % start, "--quiet",
                   "--json", self.path("s%d.json" % i), "--hdr-log", self.path("s%d.hlog" % i)]
            if backend():
                cmd += ["--backend", backend()]
            procs.append(subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        for p in procs:
            out, err = p.communicate(timeout=bound(60))
            self.assertEqual(p.returncode, 0, out.decode() + err.decode())
        results = [self.read_json("s%d.json" % i) for i in range(shards)]
        self.assertEqual(sorted(r["parameters"]["connections"] for r in results), [3, 3, 4])
        self.assertEqual(sum(r["messages"]["received"] for r in results), 3001)
        for r in results:
            self.assertAlmostEqual(r["start_unix_s"], start, delta=0.5)
            self.assertEqual(r["shard"]["count"], shards)
        inputs = [self.path("s%d.hlog" % i) for i in range(shards)] + [self.path("s%d.json" % i) for i in range(shards)]
        status, out, err = run(["merge"] + inputs + ["--json", self.path("m.json"), "--report", self.path("m.html")])
        self.assertEqual(status, 0, out + err)
        merged = self.read_json("m.json")
        self.assertEqual(merged["messages"]["received"], 3001)
        self.assertEqual(merged["messages"]["sent"], sum(r["messages"]["sent"] for r in results))
        self.assertEqual(merged["connections"]["opened"], 10)
        self.assertEqual(merged["latency_us"]["count"], sum(r["latency_us"]["count"] for r in results))
        self.assertEqual(merged["latency_us"]["max"] >= max(r["latency_us"]["max"] for r in results), True)
        self.assertEqual(sum(p["received"] for p in merged["timeline"]), 3001)
        self.assertEqual(sum(p["latency_us"]["count"] for p in merged["timeline"]), merged["latency_us"]["count"])
        self.assertTrue(os.path.getsize(self.path("m.html")) > 1000)

    def test_start_at_waits_and_refuses_the_past(self):
        began = time.time()
        status, out, err = self.load("--connections", 1, "--messages", 10, "--start-at", "%.3f" % (began + 1.2))
        self.assertEqual(status, 0, out + err)
        self.assertGreaterEqual(time.time() - began, 1.1)
        self.assertIn("waiting", err)
        status, out, err = self.load("--start-at", "%.0f" % (time.time() - 30))
        self.assertEqual(status, 2)
        self.assertRegex(err.strip(), r"^wsring-load: --start-at: .* s in the past")
        status, out, err = self.load("--start-at", "2020-01-01T00:00:00Z")
        self.assertEqual(status, 2)

    def test_unwritable_outputs_are_refused_before_the_run(self):
        for flag in ("--hdr-log", "--report"):
            began = time.time()
            status, out, err = self.load("--duration", 5, flag, self.path("no-such-dir/out"))
            self.assertEqual(status, 2, out + err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertRegex(err, r"^wsring-load: %s: cannot write .*no-such-dir/out" % flag)
            self.assertLess(time.time() - began, 4)  # refused at once, not after the run

    def test_merge_bad_input(self):
        with open(self.path("junk.hlog"), "w") as f:
            f.write("1.0,2.0,3.0,!!!\n")
        status, out, err = run(["merge", self.path("junk.hlog")])
        self.assertEqual(status, 2)
        self.assertIn("junk.hlog", err)
        status, out, err = run(["merge"])
        self.assertEqual(status, 2)
        status, out, err = run(["merge", self.path("missing.hlog")])
        self.assertEqual(status, 2)


if __name__ == "__main__":
    unittest.main()
