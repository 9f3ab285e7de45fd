#!/usr/bin/env python3
"""Soak test for wsring-echo: the hardening churn and slowloris together, for minutes.

Usage: /usr/bin/python3 tests/soak/soak.py [--build DIR] [--backend io_uring|epoll] [--long]
                                           [--duration SECONDS] [--crowd N] ...

1. Starts build/wsring-echo (--handshake-timeout 5 by default) and makes its receive ring
   resident (see touch_receive_ring in tests/integration/test_hardening.py).
2. Crowd: 10,000 connections open at once, each echoes 2 verified messages while all are
   open, then they leave (close handshake, RST, RST mid-frame, half-close).
3. Steady phase (30 s, or 10 minutes with --long): churn workers (the same connections as in
   the crowd, one after another), 1,000 half-request sockets that the server must close after
   --handshake-timeout (each replaced when closed), 100 upgraded connections dribbling frame
   headers one byte a second (each frame then completed and its echo verified), and 4
   latency probes (in a process of their own, so that the churn's Python does not delay
   them). A line every 10 s: connections, messages, errors, slowloris, latency,
   server RSS and fds.
4. Everything closes; the server's fds must return to their baseline, RSS at the end must be
   within 10% of RSS after the warm-up, and after SIGTERM the server's own count of echoed
   messages must equal the complete messages the clients sent.

Ends with one summary line; exit status 1 on any lost or corrupted message, client error,
fd leak, RSS growth over 10% or server failure.
"""

import argparse
import asyncio
import multiprocessing
import os
import queue
import random
import signal
import socket
import statistics
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))

import wsharness  # noqa: E402  (needs the path above)
import test_hardening as hardening  # noqa: E402

MiB = 1 << 20


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build", help="directory holding wsring-echo (default build)")
    parser.add_argument("--backend", choices=["io_uring", "epoll"], default="io_uring")
    parser.add_argument("--long", action="store_true", help="steady phase of 10 minutes instead of 30 s")
    parser.add_argument("--duration", type=float, help="steady phase in seconds (overrides --long)")
    parser.add_argument("--warm-up", type=float, help="seconds of the steady phase before the RSS reference "
                        "(default: a third of the duration, at most 60)")
    parser.add_argument("--crowd", type=int, default=10000, help="concurrent connections at the start (10000)")
    parser.add_argument("--workers", type=int, default=32, help="concurrent churn loops (32)")
    parser.add_argument("--slowloris", type=int, default=1000, help="half-request sockets held (1000)")
    parser.add_argument("--dribblers", type=int, default=100, help="upgraded sockets dribbling headers (100)")
    parser.add_argument("--probes", type=int, default=4, help="latency probe connections (4)")
    parser.add_argument("--handshake-timeout", type=float, default=5.0, help="server --handshake-timeout (5)")
    parser.add_argument("--report-every", type=float, default=10.0, help="seconds between progress lines (10)")
    parser.add_argument("--max-rss-growth", type=float, default=0.10, help="allowed RSS growth after warm-up (0.10)")
    parser.add_argument("--server-arg", action="append", default=[], help="extra wsring-echo argument (repeatable)")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 600.0 if args.long else 30.0
    if args.warm_up is None:
        args.warm_up = min(60.0, args.duration / 3)
    if not 0 < args.warm_up < args.duration:
        parser.error("--warm-up must be within the duration")
    return args


def log(text):
    print(text, flush=True)


# ----------------------------------------------------------------------------- the crowd

async def crowd(server, stats, count, timeout):
    """`count` connections upgraded and held open together, then each echoes 2 messages and
    leaves (the ending modes in turn). Returns (seconds to open all, server fds while open)."""
    slots = asyncio.Semaphore(200)
    all_open = asyncio.Event()
    settled = 0
    started = time.monotonic()
    opened_at = [None]
    process = hardening.probe(server)
    fds_open = [None]

    def settle():
        nonlocal settled
        settled += 1
        if settled == count:
            opened_at[0] = time.monotonic() - started
            fds_open[0] = process.fd_count()
            all_open.set()

    async def one(index):
        reached = False

        async def hold():
            nonlocal reached
            reached = True
            settle()
            await all_open.wait()

        await hardening.churn_connection(server, stats, random.Random(index), "crowd%d" % index,
                                         hardening.MODES[index % len(hardening.MODES)], 2,
                                         connect_slots=slots, after_upgrade=hold)
        if not reached:  # failed before the upgrade (an error is recorded): do not hold the others
            settle()

    tasks = [asyncio.ensure_future(one(i)) for i in range(count)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=5)
        stats.error("crowd: %d connections still busy after %.0f s" % (len(pending), timeout))
    return opened_at[0], fds_open[0]


# ----------------------------------------------------------------------------- slowloris

class SlowlorisPool:
    """Keeps `target` sockets holding half an upgrade request. The server must close each
    after --handshake-timeout, silently; each one closed is replaced."""

    def __init__(self, server, target, handshake_timeout):
        self.server = server
        self.target = target
        self.handshake_timeout = handshake_timeout
        self.part = hardening.half_request(server)
        self.open_since = {}  # socket -> monotonic time its half request was sent
        self.recycled = 0
        self.lifetimes = []   # of the sockets the server closed, this report interval
        self.all_lifetimes_max = 0.0
        self.all_lifetimes_min = None
        self.errors = 0
        self.first_errors = []
        self.overdue_reported = set()
        self.stopping = False
        self.openers = set()

    def error(self, text):
        self.errors += 1
        if len(self.first_errors) < 10:
            self.first_errors.append(text)

    async def open_one(self):
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ":" in self.server.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (self.server.host, self.server.port))
            await loop.sock_sendall(sock, self.part)
        except OSError as error:
            sock.close()
            self.error("slowloris connect/send: %s" % error)
            return
        if self.stopping:
            sock.close()
            return
        self.open_since[sock] = time.monotonic()
        loop.add_reader(sock.fileno(), self.on_readable, sock)

    def spawn_opener(self):
        task = asyncio.ensure_future(self.open_one())
        self.openers.add(task)
        task.add_done_callback(self.openers.discard)

    def on_readable(self, sock):
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:  # a reset is a close too
            data = b""
        if data:
            self.error("the server answered a half request with %r" % data[:60])
        lifetime = time.monotonic() - self.open_since.pop(sock)
        asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
        self.overdue_reported.discard(sock)
        self.recycled += 1
        self.lifetimes.append(lifetime)
        self.all_lifetimes_max = max(self.all_lifetimes_max, lifetime)
        self.all_lifetimes_min = lifetime if self.all_lifetimes_min is None else min(self.all_lifetimes_min, lifetime)
        # The server's clock starts at accept, a little before ours: allow half a second.
        if lifetime < self.handshake_timeout - 0.5:
            self.error("a half-request socket was closed after %.2f s, before --handshake-timeout %.1f"
                       % (lifetime, self.handshake_timeout))
        if not self.stopping:
            self.spawn_opener()

    async def run(self, stop):
        # Spread the first sockets over the first seconds so that their timeouts do not all
        # fall in the same tick.
        batches = 20
        for batch in range(batches):
            for _ in range(self.target // batches + (1 if batch < self.target % batches else 0)):
                self.spawn_opener()
            await asyncio.sleep(min(0.25, self.handshake_timeout / batches))
        while not stop.is_set():
            now = time.monotonic()
            for sock, since in self.open_since.items():
                if now - since > self.handshake_timeout + 5 and sock not in self.overdue_reported:
                    self.overdue_reported.add(sock)
                    self.error("a half-request socket is still open %.1f s after its request (--handshake-timeout %.1f)"
                               % (now - since, self.handshake_timeout))
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass

    async def close(self):
        self.stopping = True
        if self.openers:
            await asyncio.wait(list(self.openers), timeout=10)
        loop = asyncio.get_running_loop()
        for sock in list(self.open_since):
            loop.remove_reader(sock.fileno())
            sock.close()
        self.open_since.clear()

    def take_lifetimes(self):
        values, self.lifetimes = self.lifetimes, []
        return values


# ----------------------------------------------------------------------------- dribblers, probes

async def dribbler(server, stats, index, stop, interval=1.0):
    """An upgraded connection sending frame headers one byte every `interval` seconds; each
    frame is then completed and its echo verified. Stops after the frame in progress."""
    sent = verified = 0
    writer = None
    try:
        reader, writer = await hardening.ws_connect(server.host, server.port, server.host_header())
        stats.opened += 1
        cycle = 0
        pongs = []
        while True:
            size = 70000 if (index + cycle) % 2 else 300  # 14- and 8-byte headers
            payload = (b"dribble %d.%d|" % (index, cycle)) + bytes((index * 31 + cycle + i) & 0xFF for i in range(size))
            frame = wsharness.build_frame(wsharness.OP_BINARY, payload)
            header_size = 14 if len(payload) > 0xFFFF else 8
            position = 0
            # A little jitter so that the dribblers do not all write in the same instant.
            await asyncio.sleep(random.random() * interval)
            while position < header_size - 1 and not stop.is_set():
                writer.write(frame[position:position + 1])
                position += 1
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                except asyncio.TimeoutError:
                    pass
            writer.write(frame[position:])
            sent += 1
            stats.messages_sent += 1
            async with asyncio.timeout(30):
                opcode, echoed = await hardening.read_message(reader, pongs)
            if opcode != wsharness.OP_BINARY or echoed != payload:
                stats.corrupted += 1
                raise hardening.EchoMismatch("dribbled frame %d.%d: echo of %d bytes differs" % (index, cycle, len(echoed)))
            verified += 1
            stats.messages_verified += 1
            stats.bytes_verified += len(payload)
            cycle += 1
            if stop.is_set():
                break
        writer.write(wsharness.build_frame(wsharness.OP_CLOSE, wsharness.close_payload(1000)))
        async with asyncio.timeout(30):
            fin, opcode, payload = await hardening.read_frame(reader)
            if opcode != wsharness.OP_CLOSE:
                raise AssertionError("dribbler %d: expected the close reply, got opcode %d" % (index, opcode))
            await hardening.expect_eof(reader, "dribbler close")
        stats.closed["close"] += 1
    except Exception as error:
        stats.error("dribbler %d (%d sent, %d verified): %s: %s" % (index, sent, verified, type(error).__name__, error))
        stats.lost += sent - verified - (1 if isinstance(error, hardening.EchoMismatch) else 0)
    finally:
        if writer is not None:
            writer.close()


async def latency_probe(server, stats, samples, index, stop, pause):
    """A connection echoing a 64-byte message every `pause` seconds, each verified; the
    round-trip times (as seen by this busy client process) go to `samples`."""
    sent = verified = 0
    writer = None
    try:
        reader, writer = await hardening.ws_connect(server.host, server.port, server.host_header())
        stats.opened += 1
        pongs = []
        number = 0
        while not stop.is_set():
            payload = (b"probe %d.%d " % (index, number)).ljust(64, b".")
            started = time.perf_counter()
            writer.write(wsharness.build_frame(wsharness.OP_BINARY, payload))
            sent += 1
            stats.messages_sent += 1
            async with asyncio.timeout(30):
                opcode, echoed = await hardening.read_message(reader, pongs)
            samples.append(time.perf_counter() - started)
            if opcode != wsharness.OP_BINARY or echoed != payload:
                stats.corrupted += 1
                raise hardening.EchoMismatch("probe %d: echo %r != %r" % (index, echoed[:30], payload[:30]))
            verified += 1
            stats.messages_verified += 1
            stats.bytes_verified += len(payload)
            number += 1
            await asyncio.sleep(pause)
        writer.write(wsharness.build_frame(wsharness.OP_CLOSE, wsharness.close_payload(1000)))
        async with asyncio.timeout(30):
            await hardening.read_frame(reader)
            await hardening.expect_eof(reader, "probe close")
        stats.closed["close"] += 1
    except Exception as error:
        stats.error("probe %d (%d sent, %d verified): %s: %s" % (index, sent, verified, type(error).__name__, error))
        stats.lost += sent - verified - (1 if isinstance(error, hardening.EchoMismatch) else 0)
    finally:
        if writer is not None:
            writer.close()


def probe_process(host, port, host_header, count, pause, stop_flag, results):
    """Body of the probe process: `count` latency probes until stop_flag is set; sends
    ("samples", [seconds...]) about twice a second, then ("stats", ChurnStats)."""
    server = types.SimpleNamespace(host=host, port=port, host_header=lambda: host_header)
    stats = hardening.ChurnStats()
    samples = []

    async def main():
        stop = asyncio.Event()

        async def relay():
            while not stop_flag.is_set():
                await asyncio.sleep(0.5)
                if samples:
                    results.put(("samples", samples[:]))
                    samples.clear()
            stop.set()

        await asyncio.gather(relay(), *(latency_probe(server, stats, samples, i, stop, pause) for i in range(count)))
        if samples:
            results.put(("samples", samples[:]))

    try:
        asyncio.run(main())
    except Exception as error:  # reported by the parent as an error
        stats.error("probe process: %s: %s" % (type(error).__name__, error))
    results.put(("stats", stats))


class ProbeProcess:
    def __init__(self, server, count, pause=0.005):
        context = multiprocessing.get_context("fork")
        self.stop_flag = context.Event()
        self.results = context.Queue()
        self.samples = []
        self.stats = None
        self.process = context.Process(target=probe_process, daemon=True,
                                       args=(server.host, server.port, server.host_header(), count, pause,
                                             self.stop_flag, self.results))
        self.process.start()

    def _drain(self, block_until_stats=False, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if block_until_stats:
                    kind, value = self.results.get(timeout=max(0.01, deadline - time.monotonic()))
                else:
                    kind, value = self.results.get_nowait()
            except queue.Empty:
                return
            if kind == "samples":
                self.samples += value
            else:
                self.stats = value
                return

    def take_samples(self):
        self._drain()
        samples, self.samples = self.samples, []
        return samples

    def finish(self):
        """Stops the probes; returns their ChurnStats (an error recorded if they never report)."""
        self.stop_flag.set()
        self._drain(block_until_stats=True)
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
        if self.stats is None:
            self.stats = hardening.ChurnStats()
            self.stats.error("the probe process did not report (exit code %s)" % self.process.exitcode)
        return self.stats


# ----------------------------------------------------------------------------- the run

class Soak:
    def __init__(self, args, server):
        self.args = args
        self.server = server
        self.process = hardening.probe(server)
        self.failures = []
        self.crowd_stats = hardening.ChurnStats()
        self.churn_stats = hardening.ChurnStats()
        self.dribble_stats = hardening.ChurnStats()
        self.probe_stats = hardening.ChurnStats()
        self.probes = None
        self.probe_echoes = 0
        self.all_p99 = []
        self.rss_samples = []  # (seconds into the steady phase, KiB)
        self.ring_messages = 0

    def fail(self, text):
        self.failures.append(text)
        log("FAILURE: " + text)

    def all_stats(self):
        total = hardening.ChurnStats()
        for stats in (self.crowd_stats, self.churn_stats, self.dribble_stats, self.probe_stats):
            total.merge(stats)
        return total

    async def steady(self):
        args = self.args
        stop = asyncio.Event()
        pool = SlowlorisPool(self.server, args.slowloris, args.handshake_timeout)
        tasks = [asyncio.ensure_future(pool.run(stop))]
        tasks += [asyncio.ensure_future(dribbler(self.server, self.dribble_stats, i, stop))
                  for i in range(args.dribblers)]
        churn = asyncio.ensure_future(hardening.churn(self.server, self.churn_stats, args.duration + 3600,
                                                      args.workers, seed=11, per_connection_timeout=30.0, stop=stop))
        started = time.monotonic()
        next_report = started + args.report_every
        last = {"opened": 0, "messages": 0, "time": started}
        end = started + args.duration
        while True:
            now = time.monotonic()
            if now >= end:
                break
            await asyncio.sleep(min(1.0, end - now))
            now = time.monotonic()
            self.rss_samples.append((now - started, self.process.rss_kib()))
            if now >= next_report - 0.05 or now >= end:
                self.report(now - started, pool, last, now)
                next_report += args.report_every
        stop.set()
        await churn
        await asyncio.wait(tasks, timeout=60)
        await pool.close()
        self.pool = pool

    def report(self, elapsed, pool, last, now):
        total = self.all_stats()
        opened = self.churn_stats.opened
        samples = self.probes.take_samples() if self.probes else []
        self.probe_echoes += len(samples)  # each sample is a verified echo
        messages = self.churn_stats.messages_verified + self.dribble_stats.messages_verified + self.probe_echoes
        interval = max(1e-6, now - last["time"])
        p99 = hardening.percentile(samples, 0.99) * 1e3 if samples else float("nan")
        if samples:
            self.all_p99.append(p99)
        lifetimes = pool.take_lifetimes()
        log("[%5.0f s] churn %d opened, %d closed (%.0f/s) | messages verified %d (%.0f/s) | errors %d lost %d "
            "corrupted %d | slowloris %d held, %d closed by the server (after %s s) | probe p99 %.2f ms | "
            "server RSS %.1f MiB, %d fds"
            % (elapsed, opened, sum(self.churn_stats.closed.values()), (opened - last["opened"]) / interval,
               messages, (messages - last["messages"]) / interval, total.errors + pool.errors, total.lost,
               total.corrupted, len(pool.open_since), pool.recycled,
               "%.1f-%.1f" % (min(lifetimes), max(lifetimes)) if lifetimes else "-",
               p99, self.process.rss_kib() / 1024, self.process.fd_count()))
        last.update(opened=opened, messages=messages, time=now)

    def window_max(self, start, end):
        values = [rss for at, rss in self.rss_samples if start <= at <= end]
        return max(values) if values else None

    def run(self):
        args = self.args
        server = self.server
        fd_baseline = self.process.fd_count()
        log("soak: wsring-echo pid %d, backend %s, port %d; %d fds, RSS %.1f MiB at start"
            % (server.process.pid, server.backend_name, server.port, fd_baseline, self.process.rss_kib() / 1024))

        started = time.monotonic()
        hardening.touch_receive_ring(server)
        self.ring_messages = 40
        log("receive ring made resident (40 x 1 MiB echoes, %.1f s): RSS %.1f MiB"
            % (time.monotonic() - started, self.process.rss_kib() / 1024))

        if args.crowd:
            started = time.monotonic()
            open_seconds, fds_open = asyncio.run(crowd(server, self.crowd_stats, args.crowd, 300.0))
            elapsed = time.monotonic() - started
            log("crowd: %d concurrent connections open in %s s (server fds %s), all done in %.1f s; %s; RSS %.1f MiB"
                % (args.crowd, "%.1f" % open_seconds if open_seconds else "?", fds_open, elapsed,
                   self.crowd_stats.summary(), self.process.rss_kib() / 1024))
            if self.crowd_stats.problems():
                self.fail("crowd: " + self.crowd_stats.problems())
            if fds_open is not None and fds_open < fd_baseline + args.crowd:
                self.fail("crowd: the server held %d fds with %d connections open (baseline %d)"
                          % (fds_open, args.crowd, fd_baseline))
            fds = self.process.wait_fd_count(fd_baseline, 10.0)
            if fds != fd_baseline:
                self.fail("crowd: %d server fds 10 s after the crowd left, baseline %d" % (fds, fd_baseline))

        log("steady phase: %.0f s (warm-up %.0f s), %d churn workers, %d slowloris sockets "
            "(--handshake-timeout %.1f), %d dribblers, %d probes"
            % (args.duration, args.warm_up, args.workers, args.slowloris, args.handshake_timeout,
               args.dribblers, args.probes))
        self.probes = ProbeProcess(server, args.probes) if args.probes else None
        try:
            asyncio.run(self.steady())
        finally:
            if self.probes:
                self.probe_stats = self.probes.finish()
        churn = self.churn_stats
        pool = self.pool

        # Leaks: fds back to the baseline; RSS at the end against RSS after the warm-up, both
        # the highest sample of a 10 s window under the same load.
        fds_end = self.process.wait_fd_count(fd_baseline, 10.0)
        if fds_end != fd_baseline:
            self.fail("fd leak: %d server fds 10 s after every client closed, baseline %d" % (fds_end, fd_baseline))
        rss_warm = self.window_max(args.warm_up - 10, args.warm_up)
        rss_end = self.window_max(args.duration - 10, args.duration)
        rss_quiet = self.process.rss_kib()
        growth = (rss_end - rss_warm) / rss_warm if rss_warm and rss_end else 0.0
        if growth > args.max_rss_growth:
            self.fail("RSS grew %.1f%% after the warm-up: %.1f MiB -> %.1f MiB"
                      % (growth * 100, rss_warm / 1024, rss_end / 1024))

        for name, stats in (("churn", churn), ("dribblers", self.dribble_stats), ("probes", self.probe_stats)):
            if stats.problems():
                self.fail("%s: %s" % (name, stats.problems()))
        if pool.errors:
            self.fail("slowloris: %d errors; first: %s" % (pool.errors, "\n  ".join(pool.first_errors)))
        if not pool.recycled and args.slowloris and args.duration > args.handshake_timeout + 5:
            self.fail("slowloris: the server closed no half-request socket")

        # The server's own count must equal the complete messages sent.
        total = self.all_stats()
        sent = total.messages_sent + self.ring_messages
        status = server.stop(grace=30.0)
        echoed = hardening.messages_echoed_at_exit(server)
        if status != 0:
            self.fail("the server exited with status %s on SIGTERM:\n%s" % (status, server.log_tail()))
        elif echoed is None:
            self.fail("no summary line from the server at exit:\n" + server.log_tail())
        elif echoed != sent:
            self.fail("the server echoed %d messages, the clients sent %d complete ones" % (echoed, sent))
        report = server.sanitizer_report()
        if report:
            self.fail("sanitizer report:\n" + report[-4000:])

        duration = args.duration
        log("churn: %s" % churn.summary())
        log("summary: %s backend %s, %.0f s steady: %d concurrent at start; %d churn connections (%.0f/s), "
            "%d messages verified (%.0f/s, %.1f MiB), %d lost, %d corrupted, %d errors; slowloris %d closed by "
            "the server after %s s; probe p99 median %.2f ms, worst %.2f ms; server RSS %.1f MiB after warm-up, "
            "%.1f MiB at the end (%+.1f%%), %.1f MiB idle; fds %d at start, %d at the end; server echoed %s"
            % ("PASS" if not self.failures else "FAIL", server.backend_name or args.backend, duration, args.crowd,
               churn.opened, churn.opened / duration, total.messages_verified,
               (churn.messages_verified + self.dribble_stats.messages_verified + self.probe_stats.messages_verified)
               / duration, total.bytes_verified / MiB, total.lost, total.corrupted, total.errors + pool.errors,
               pool.recycled, "%.1f-%.1f" % (pool.all_lifetimes_min, pool.all_lifetimes_max)
               if pool.all_lifetimes_min is not None else "-",
               statistics.median(self.all_p99) if self.all_p99 else float("nan"),
               max(self.all_p99) if self.all_p99 else float("nan"),
               (rss_warm or 0) / 1024, (rss_end or 0) / 1024, growth * 100, rss_quiet / 1024,
               fd_baseline, fds_end, echoed))
        return 1 if self.failures else 0


def main(argv):
    args = parse_args(argv)
    build = args.build if os.path.isabs(args.build) else os.path.join(REPO_ROOT, args.build)
    os.environ["WSRING_BUILD"] = build
    os.environ["WSRING_BACKEND"] = args.backend
    needed = args.crowd + args.workers * 2 + args.slowloris + args.dribblers + args.probes + 100
    limit = wsharness.raise_fd_limit()
    if limit < needed:
        log("soak: RLIMIT_NOFILE is %d, %d needed (lower --crowd or --slowloris)" % (limit, needed))
        return 2
    server = wsharness.Server("--handshake-timeout", "%g" % args.handshake_timeout, *args.server_arg)
    try:
        server.start()
    except wsharness.ServerStartError as error:
        log("soak: %s" % error)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    try:
        return Soak(args, server).run()
    except KeyboardInterrupt:
        log("soak: interrupted")
        return 3
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
