#!/usr/bin/env python3
"""Runs the wsring integration and conformance suites against the built binaries.

Usage: /usr/bin/python3 tests/integration/run.py [--build DIR] [-k PATTERN]... [--backend io_uring|epoll|both]
                                                  [--jobs N]

Discovers unittest modules tests/integration/test_*.py and tests/conformance/test_*.py, runs
every test once per selected backend (classes marked backend_independent run once), then the
modules that set RUNS_OVER_TLS once more per backend over wss:// (--transport; the same test
bodies, wsharness.transport_tls()), prints one line per test and the failure details, and ends
with exactly one line
"N passed, N failed, N skipped". Exit status 1 if anything failed.

--jobs N runs the test classes in N worker processes (this script with --worker, fed one class
of one pass at a time); classes or modules that set RUN_ALONE = True (timing- or CPU-sensitive
tests) run afterwards one at a time with no other worker busy.
"""

import argparse
import faulthandler
import fnmatch
import glob
import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
SUITE_DIRS = [("integration", os.path.join(REPO_ROOT, "tests", "integration")),
              ("conformance", os.path.join(REPO_ROOT, "tests", "conformance"))]


class TestTimeout(BaseException):
    """Raised in the main thread by SIGALRM when a test exceeds its hard limit.
    A BaseException so that broad `except Exception` in a test cannot swallow it."""


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build", help="directory with wsring-echo (build or build/asan)")
    parser.add_argument("-k", dest="patterns", action="append", default=[],
                        help="only tests whose id matches (substring or fnmatch pattern); repeatable")
    parser.add_argument("--backend", choices=["io_uring", "epoll", "both"], default="both")
    parser.add_argument("--transport", choices=["plain", "tls", "both"], default="both",
                        help="tls: the modules that set RUNS_OVER_TLS, over wss:// (default both)")
    parser.add_argument("--test-timeout", type=float, default=None,
                        help="hard limit per test in seconds (default 120, x4 when sanitized)")
    parser.add_argument("--list", action="store_true", help="list the selected tests and exit")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes running test classes in parallel (default 1: in this process)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def load_modules():
    modules = []
    for suite_name, directory in SUITE_DIRS:
        if directory not in sys.path and suite_name == "integration":
            sys.path.insert(0, directory)  # so test modules can `import wsharness`
        for path in sorted(glob.glob(os.path.join(directory, "test_*.py"))):
            name = "%s.%s" % (suite_name, os.path.splitext(os.path.basename(path))[0])
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            modules.append(module)
    return modules


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


def matches(test_id, patterns):
    if not patterns:
        return True
    for pattern in patterns:
        if "*" not in pattern and "?" not in pattern and "[" not in pattern:
            pattern = "*%s*" % pattern
        if fnmatch.fnmatchcase(test_id, pattern):
            return True
    return False


class LineResult(unittest.TestResult):
    """Prints one line per test: backend, id, outcome, seconds. Collects failure details."""

    def __init__(self, label, log_servers, test_timeout):
        super().__init__()
        self.label = label
        self.test_timeout = test_timeout
        self.passed = 0
        self.failed = 0
        self.skipped_count = 0
        self.details = []
        self._started = 0.0
        self._outcome = None
        self._log_servers = log_servers

    # A failure in a class or module fixture (setUpClass, tearDownClass) arrives without startTest.
    def _fixture_failure(self, test, err):
        self.failed += 1
        name = getattr(test, "description", str(test))
        print("%-9s %s ... FAIL (fixture)" % (self.label, name), flush=True)
        self.details.append(("%s %s" % (self.label, name), self._exc_info_to_string(err, test), ""))

    def startTest(self, test):
        super().startTest(test)
        self._started = time.monotonic()
        self._outcome = None
        self._server_logs = ""
        signal.setitimer(signal.ITIMER_REAL, self.test_timeout)

    def _capture_server_logs(self, test):
        logs = []
        for server in getattr(test, "servers", []) or []:
            try:
                logs.append(server.log_tail(40))
            except Exception:  # diagnostics only
                pass
        return "\n".join(logs)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._outcome = self._outcome or "ok"

    def _add_problem(self, test, err, kind):
        if not hasattr(test, "id") or isinstance(test, unittest.suite._ErrorHolder):
            self._fixture_failure(test, err)
            return
        if self._outcome in ("FAIL", "ERROR"):
            # Second problem in the same test (e.g. tearDown after a failure): keep details only.
            self.details[-1] = (self.details[-1][0], self.details[-1][1] + "\n" +
                                self._exc_info_to_string(err, test), self.details[-1][2])
            return
        self._outcome = kind
        self.details.append(("%s %s" % (self.label, test.id()), self._exc_info_to_string(err, test),
                             self._capture_server_logs(test)))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._add_problem(test, err, "FAIL")

    def addError(self, test, err):
        super().addError(test, err)
        self._add_problem(test, err, "ERROR")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._outcome = "skip (%s)" % reason

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._outcome = "ok (expected failure)"

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._outcome = "FAIL"
        self.details.append(("%s %s" % (self.label, test.id()), "unexpected success", ""))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._add_problem(subtest, err, "FAIL")

    def stopTest(self, test):
        signal.setitimer(signal.ITIMER_REAL, 0)
        super().stopTest(test)
        outcome = self._outcome or "ok"
        if outcome.startswith("skip"):
            self.skipped_count += 1
        elif outcome.startswith("ok"):
            self.passed += 1
        else:
            self.failed += 1
            outcome = "FAIL" if outcome == "FAIL" else "FAIL (error)"
        print("%-9s %s ... %s %.3fs" % (self.label, test.id(), outcome, time.monotonic() - self._started),
              flush=True)


def on_alarm(signum, frame):
    raise TestTimeout("test exceeded its hard time limit")


def select_tests(args):
    """The passes to run, [(backend, over_tls, tests)], in order, and the binary's path."""
    build = os.path.abspath(args.build if os.path.isabs(args.build) else os.path.join(os.getcwd(), args.build))
    if not os.path.isdir(build) and os.path.isdir(os.path.join(REPO_ROOT, args.build)):
        build = os.path.join(REPO_ROOT, args.build)
    os.environ["WSRING_BUILD"] = build

    modules = load_modules()
    loader = unittest.TestLoader()
    tests, tls_tests = [], []
    for module in modules:
        if args.transport != "tls":
            tests += list(flatten(loader.loadTestsFromModule(module)))
        if args.transport != "plain" and getattr(module, "RUNS_OVER_TLS", False):
            tls_tests += list(flatten(loader.loadTestsFromModule(module)))  # fresh instances
    tests = [t for t in tests if matches(t.id(), args.patterns)]
    tls_tests = [t for t in tls_tests if matches(t.id(), args.patterns)]

    backends = ["io_uring", "epoll"] if args.backend == "both" else [args.backend]
    passes = []
    for index, name in enumerate(backends):
        passes.append((name, False, [t for t in tests if index == 0 or not getattr(t, "backend_independent", False)]))
    for name in backends:
        if tls_tests:
            passes.append((name, True, tls_tests))
    return passes, backends, os.path.join(build, "wsring-echo")


def pass_label(backend, over_tls):
    return backend + ("+tls" if over_tls else "")


def run_pass(backend, over_tls, selected, test_timeout):
    """Runs `selected` on one backend and transport in this process; returns the LineResult."""
    os.environ["WSRING_BACKEND"] = backend
    os.environ["WSRING_TRANSPORT"] = "tls" if over_tls else "plain"
    label = pass_label(backend, over_tls)
    result = LineResult(label, None, test_timeout)
    try:
        unittest.TestSuite(selected).run(result)
    except TestTimeout:
        result.failed += 1
        result.details.append((label, "hard time limit hit outside a test:\n" + traceback.format_exc(), ""))
    signal.setitimer(signal.ITIMER_REAL, 0)
    return result


def class_name(test):
    return "%s.%s" % (type(test).__module__, type(test).__qualname__)


def runs_alone(test):
    """RUN_ALONE = True on a test class or its module: run with no other worker busy."""
    return bool(getattr(type(test), "RUN_ALONE", getattr(sys.modules.get(type(test).__module__), "RUN_ALONE", False)))


def test_classes(selected):
    """The classes of `selected` in order of first appearance, each with its tests."""
    classes = {}
    for test in selected:
        classes.setdefault(class_name(test), []).append(test)
    return classes


# Worker protocol: the parent writes one JSON job per line to the worker's stdin ([pass index,
# class name]); the worker runs it, its test lines go to stdout as usual, then one line
# DONE_MARKER + JSON {passed, failed, skipped, details}.
DONE_MARKER = "\x1ewsring-run-job-done "


def worker_main(passes, test_timeout, sanitized):
    for line in sys.stdin:
        index, name = json.loads(line)
        backend, over_tls, selected = passes[index]
        faulthandler.dump_traceback_later(3000 if sanitized else 1500, exit=True)
        result = run_pass(backend, over_tls, test_classes(selected).get(name, []), test_timeout)
        faulthandler.cancel_dump_traceback_later()
        print(DONE_MARKER + json.dumps({"passed": result.passed, "failed": result.failed,
                                        "skipped": result.skipped_count, "details": result.details}), flush=True)
    return 0


class Worker:
    """One `run.py --worker` process and the job it is running."""

    def __init__(self, argv, selector):
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"] + argv,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buffer = b""
        self.job = None
        selector.register(self.process.stdout, selectors.EVENT_READ, self)

    def start(self, job):
        self.job = job
        self.process.stdin.write((json.dumps(job) + "\n").encode())
        self.process.stdin.flush()

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def run_parallel(args, passes, test_timeout, totals, details):
    """Runs every (pass, class) job on args.jobs workers, the RUN_ALONE ones last, one at a time."""
    shared, alone = [], []
    for index, (_, _, selected) in enumerate(passes):
        for name, tests in test_classes(selected).items():
            (alone if runs_alone(tests[0]) else shared).append([index, name])
    worker_argv = ["--build", os.environ["WSRING_BUILD"], "--backend", args.backend, "--transport",
                   args.transport, "--test-timeout", str(test_timeout)]
    for pattern in args.patterns:
        worker_argv += ["-k", pattern]
    selector = selectors.DefaultSelector()
    workers = [Worker(worker_argv, selector) for _ in range(args.jobs)]

    def finish(worker, summary):
        for key in totals:
            totals[key] += summary[key]
        details.extend(tuple(d) for d in summary["details"])
        worker.job = None

    def worker_died(worker):
        selector.unregister(worker.process.stdout)
        worker.stop()
        if worker.job is not None:
            label = "%s %s" % (pass_label(*passes[worker.job[0]][:2]), worker.job[1])
            text = "the worker running this class exited with status %s" % worker.process.returncode
            print("%s ... FAIL (%s)" % (label, text), flush=True)
            finish(worker, {"passed": 0, "failed": 1, "skipped": 0, "details": [(label, text, "")]})
        workers[workers.index(worker)] = Worker(worker_argv, selector)

    def drain(queue, width):
        while queue or any(w.job is not None for w in workers):
            for worker in workers[:width]:
                if worker.job is None and queue:
                    worker.start(queue.pop(0))
            for key, _ in selector.select():
                worker = key.data
                chunk = os.read(worker.process.stdout.fileno(), 65536)
                if not chunk:
                    worker_died(worker)
                    continue
                worker.buffer += chunk
                *lines, worker.buffer = worker.buffer.split(b"\n")
                for raw in lines:
                    text = raw.decode(errors="replace")
                    if text.startswith(DONE_MARKER):
                        finish(worker, json.loads(text[len(DONE_MARKER):]))
                    else:
                        print(text, flush=True)

    # timeout(1) or a CI runner stops us with SIGTERM: stop the workers too (finally below).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit("run.py: terminated by signal %d" % signum))
    try:
        drain(shared, len(workers))
        drain(alone, 1)
    finally:
        for worker in workers:
            worker.process.stdin.close()
            worker.stop()


def main(argv):
    args = parse_args(argv)
    sanitized = os.environ.get("WSRING_SANITIZED") == "1"
    test_timeout = args.test_timeout or (480.0 if sanitized else 120.0)
    passes, backends, binary = select_tests(args)

    signal.signal(signal.SIGALRM, on_alarm)
    if args.worker:
        return worker_main(passes, test_timeout, sanitized)
    # Every test once (the first pass of each transport), as selected.
    plain = next((selected for _, over_tls, selected in passes if not over_tls), [])
    tls = next((selected for _, over_tls, selected in passes if over_tls), [])
    if args.list:
        for test in plain:
            print(test.id())
        for test in tls:
            print(test.id() + " (over TLS)")
        print("%d tests" % (len(plain) + len(tls)))
        return 0

    print("wsring integration: binary %s%s, backends %s, %d tests selected (%d more over TLS)%s"
          % (binary, "" if os.path.exists(binary) else " (MISSING)", "+".join(backends), len(plain),
             len(tls), ", %d jobs" % args.jobs if args.jobs > 1 else ""), flush=True)

    totals = {"passed": 0, "failed": 0, "skipped": 0}
    details = []
    started = time.monotonic()
    if args.jobs > 1:
        run_parallel(args, passes, test_timeout, totals, details)
    else:
        # Last resort if something wedges outside a test (e.g. a fixture): dump stacks and exit.
        faulthandler.dump_traceback_later(3000 if sanitized else 1500, exit=True)
        for backend, over_tls, selected in passes:
            result = run_pass(backend, over_tls, selected, test_timeout)
            totals["passed"] += result.passed
            totals["failed"] += result.failed
            totals["skipped"] += result.skipped_count
            details += result.details
        faulthandler.cancel_dump_traceback_later()

    if details:
        print("\n==================== failure details ====================")
        for title, text, logs in details:
            print("---- %s" % title)
            print(text.rstrip())
            if logs:
                print(logs.rstrip())
    print("\nelapsed %.1f s" % (time.monotonic() - started))
    line = "%d passed, %d failed" % (totals["passed"], totals["failed"])
    if totals["skipped"]:
        line += ", %d skipped" % totals["skipped"]
    print(line, flush=True)
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
