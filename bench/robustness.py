#!/usr/bin/python3
"""The two denial-of-service scenarios of tests/integration/test_robustness.py at full scale.

1. Partial pings: N connections (default 10,000) each upgrade and send the 7 bytes of a masked
   ping announcing 125 bytes with 1 byte of it; then a new client upgrades and echoes (time
   measured) and a client that was connected before closes with a close handshake.
2. Non-reading peers: N peers (default 3,000) each send about 1 MiB more echo traffic than the
   kernel buffers take (small SO_RCVBUF/SO_SNDBUF/MSS on our side) and never read, under
   --max-memory (default 256M), at most --window of them sending at a time. Clients measured by
   wsring-load (4 connections, one message in flight each) echo during the flood, then while
   the peers hold their output. Reports the server's RSS (baseline, peak), memory refusals,
   victims' p50/p99, time.

Every server listens on 127.0.0.1 and is stopped at the end. Point --build at another build
directory (e.g. an older binary) to compare; flags that binary does not know are left out.

    bench/robustness.py --build build [--backend io_uring|epoll] [--only partial|flood]
        [--partial-pings 10000] [--peers 3000] [--max-memory 256M] [--json FILE]
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build", help="directory with wsring-echo and wsring-load")
    parser.add_argument("--backend", choices=["io_uring", "epoll"], default=None)
    parser.add_argument("--only", choices=["partial", "flood"], default=None)
    parser.add_argument("--partial-pings", type=int, default=10000)
    parser.add_argument("--peers", type=int, default=3000)
    parser.add_argument("--peer-volume-kib", type=int, default=1216,
                        help="echo traffic each peer sends (default 1 MiB + 192 KiB: 1 MiB beyond what the "
                             "kernel buffers take)")
    parser.add_argument("--max-memory", default="256M")
    parser.add_argument("--window", type=int, default=300,
                        help="peers sending at a time (bytes in flight sit in kernel buffers: thousands at once "
                             "would put the machine's TCP memory under pressure)")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="an extra wsring-echo argument, repeatable (e.g. --server-arg=--recv-buffers=4096)")
    parser.add_argument("--json", help="write the figures here")
    return parser.parse_args()


def main():
    args = parse_args()
    build = os.path.abspath(args.build if os.path.isabs(args.build) else os.path.join(os.getcwd(), args.build))
    os.environ["WSRING_BUILD"] = build
    if args.backend:
        os.environ["WSRING_BACKEND"] = args.backend
    # Imported once the environment names the build: the harness reads it.
    import test_robustness as robust
    from wsharness import OP_BINARY, OP_TEXT, RawClient, Server, wait_until_server_read_everything

    results = {"build": build, "backend": args.backend or "default", "server_args": args.server_arg}

    def stopped(server):
        status = server.stop(grace=15.0)
        return status, robust.exit_summary_count(server, "memory refusal")

    def partial_pings():
        server = Server(*robust.known_flags(("--frame-timeout", 600)), "--handshake-timeout", "600",
                        *args.server_arg).start()
        pid = server.process.pid
        out = {"connections": args.partial_pings, "backend": server.backend_name}
        veteran = RawClient(server.host, server.port, 10.0)
        crowd = robust.PartialPingCrowd(server, args.partial_pings)
        try:
            veteran.handshake(server.host_header())
            veteran.echo(OP_TEXT, "before the crowd")
            crowd.open(timeout=300.0)
            out["open_s"] = round(crowd.seconds, 2)
            out["upgrade_failures"] = crowd.failed
            out["first_failed_batch_from"] = crowd.first_failure
            out["server_read_everything"] = wait_until_server_read_everything(server.port, 30.0)
            out["rss_mib"] = round(robust.ProcessProbe(pid).rss_kib() / 1024, 1)
            out["server_fds"] = robust.ProcessProbe(pid).fd_count()
            started = time.monotonic()
            try:
                newcomer = RawClient(server.host, server.port, 5.0)
                newcomer.handshake(server.host_header())
                newcomer.echo(OP_BINARY, b"newcomer")
                out["newcomer"] = "upgraded and echoed in %.1f ms" % ((time.monotonic() - started) * 1e3)
                newcomer.close()
            except Exception as error:  # the figure to report, not a crash of the bench
                out["newcomer"] = "FAILED after %.1f ms: %s: %s" % ((time.monotonic() - started) * 1e3,
                                                                   type(error).__name__, error)
            try:
                veteran.send_close(1000)
                code, _, _ = veteran.expect_close(timeout=5.0)
                out["existing_close_handshake"] = "close %s back, then FIN" % code
            except Exception as error:
                out["existing_close_handshake"] = "FAILED: %s: %s" % (type(error).__name__, error)
            out["still_open"] = crowd.still_open()
        finally:
            crowd.close()
            veteran.close()
            out["exit_status"], _ = stopped(server)
        return out

    def flood():
        server = Server(*robust.known_flags(("--max-memory", args.max_memory)), *args.server_arg).start()
        pid = server.process.pid
        out = {"peers": args.peers, "peer_volume_kib": args.peer_volume_kib, "max_memory": args.max_memory,
               "max_memory_applied": robust.binary_knows("--max-memory"), "backend": server.backend_name}
        peers = robust.NonReadingFlood(server, args.peers, volume=args.peer_volume_kib * robust.KiB)
        try:
            baseline = robust.ProcessProbe(pid).rss_kib()
            out["rss_baseline_mib"] = round(baseline / 1024, 1)
            started = time.monotonic()
            peers.open(timeout=300.0)
            out["open_s"] = round(time.monotonic() - started, 1)
            sampler = robust.RssSampler(pid)
            during = robust.VictimLoad(server, connections=4, rate=None, duration=10.0).start()
            started = time.monotonic()
            peers.pump(time.monotonic() + 120.0, stall_s=3.0, on_round=sampler, window=args.window)
            out["flood_s"] = round(time.monotonic() - started, 1)
            during_report = during.result()
            sampler()
            out["alive_after_flood"] = server.alive()
            held_report = robust.VictimLoad(server, connections=4, rate=None, duration=5.0).start().result()
            sampler()
            out["rss_peak_mib"] = round(sampler.peak / 1024, 1)
            out["rss_growth_mib"] = round((sampler.peak - baseline) / 1024, 1)
            out["rss_held_mib"] = round(robust.ProcessProbe(pid).rss_kib() / 1024, 1) if server.alive() else None
            out["flood"] = peers.summary()
            out["sent_mib"] = round(sum(peers.sent) / robust.MiB, 1)
            out["peers_reset"] = peers.resets_seen()
            for name, report in (("victims_during_flood_closed_loop", during_report),
                                 ("victims_held_closed_loop", held_report)):
                latency = report["latency_us"]
                out[name] = {"p50_ms": latency["p50"] / 1e3, "p99_ms": latency["p99"] / 1e3,
                             "max_ms": latency["max"] / 1e3, "echoes": latency["count"],
                             "errors": report["errors"]["total"]}
        finally:
            peers.close()
            out["exit_status"], out["memory_refusals"] = stopped(server)
            out["log_tail"] = server.log_tail(4)
        return out

    if args.only in (None, "partial"):
        results["partial_pings"] = partial_pings()
        print(json.dumps({"partial_pings": results["partial_pings"]}, indent=2), flush=True)
    if args.only in (None, "flood"):
        results["non_reading_peers"] = flood()
        print(json.dumps({"non_reading_peers": results["non_reading_peers"]}, indent=2), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
