#!/usr/bin/env python3
"""Runs the wsring integration and conformance suites against the built binaries.

Usage: /usr/bin/python3 tests/integration/run.py [--build DIR] [-k PATTERN]... [--backend io_uring|epoll|both]

Discovers unittest modules tests/integration/test_*.py and tests/conformance/test_*.py, runs
every test once per selected backend (classes marked backend_independent run once), then the
modules that set RUNS_OVER_TLS once more per backend over wss:// (--transport; the same test
bodies, wsharness.transport_tls()), prints one line per test and the failure details, and ends
with exactly one line
"N passed, N failed, N skipped". Exit status 1 if anything failed.
"""

import argparse
import faulthandler
import fnmatch
import glob
import importlib.util
import os
import signal
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


def main(argv):
    args = parse_args(argv)
    build = os.path.abspath(args.build if os.path.isabs(args.build) else os.path.join(os.getcwd(), args.build))
    if not os.path.isdir(build) and os.path.isdir(os.path.join(REPO_ROOT, args.build)):
        build = os.path.join(REPO_ROOT, args.build)
    os.environ["WSRING_BUILD"] = build
    sanitized = os.environ.get("WSRING_SANITIZED") == "1"
    test_timeout = args.test_timeout or (480.0 if sanitized else 120.0)

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
    if args.list:
        for test in tests:
            print(test.id())
        for test in tls_tests:
            print(test.id() + " (over TLS)")
        print("%d tests" % (len(tests) + len(tls_tests)))
        return 0

    binary = os.path.join(build, "wsring-echo")
    print("wsring integration: binary %s%s, backends %s, %d tests selected (%d more over TLS)"
          % (binary, "" if os.path.exists(binary) else " (MISSING)", "+".join(backends), len(tests),
             len(tls_tests)), flush=True)

    signal.signal(signal.SIGALRM, on_alarm)
    # Last resort if something wedges outside a test (e.g. a fixture): dump stacks and exit.
    faulthandler.dump_traceback_later(3000 if sanitized else 1500, exit=True)

    totals = {"passed": 0, "failed": 0, "skipped": 0}
    details = []
    started = time.monotonic()
    passes = [(name, False) for name in backends] + [(name, True) for name in backends if tls_tests]
    for index, (name, over_tls) in enumerate(passes):
        os.environ["WSRING_BACKEND"] = name
        os.environ["WSRING_TRANSPORT"] = "tls" if over_tls else "plain"
        if over_tls:
            selected = tls_tests
        else:
            selected = [t for t in tests if index == 0 or not getattr(t, "backend_independent", False)]
        label = name + ("+tls" if over_tls else "")
        result = LineResult(label, None, test_timeout)
        suite = unittest.TestSuite(selected)
        try:
            suite.run(result)
        except TestTimeout:
            result.failed += 1
            result.details.append((label, "hard time limit hit outside a test:\n" + traceback.format_exc(), ""))
        totals["passed"] += result.passed
        totals["failed"] += result.failed
        totals["skipped"] += result.skipped_count
        details += result.details
    signal.setitimer(signal.ITIMER_REAL, 0)
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
