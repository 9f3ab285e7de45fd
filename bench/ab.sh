#!/usr/bin/env bash
# A/B comparison of two echo servers (typically two builds of wsring-echo) in alternating short
# windows: on a shared VM whole runs drift by ~20%, so A and B run in turn (A B, then B A, ...),
# each round gives one ratio B/A per figure, and the median of those ratios is the result, with
# their spread (min, max). Every run starts a fresh server, pinned to SERVER_CPU, with
# wsring-load pinned to LOAD_CPU, and reads the server's CPU time before and after.
#
# Usage: bench/ab.sh [options] A B
#   A, B: a wsring-echo binary (started as BINARY --listen 127.0.0.1:0 SERVER_ARGS A_ARGS|B_ARGS),
#         or any server command containing {PORT}, e.g. '/path/to/uws-echo {PORT}' (run by bash;
#         it must listen on 127.0.0.1:{PORT})
# Options (or the environment variable named in brackets):
#   --rounds N        [ROUNDS=12]      rounds; each runs A and B once per scenario
#   --window S        [WINDOW=3]       seconds of traffic per run (wsring-load --duration)
#   --scenarios LIST  [SCENARIOS="pingpong pipeline16 size16k"]  names from bench/lib.sh
#   --server-args S   [SERVER_ARGS=]   extra wsring-echo arguments for both, e.g. "--backend epoll"
#   --a-args S, --b-args S [A_ARGS=, B_ARGS=]  extra arguments for one side only
#   --a-name S, --b-name S [A_NAME=A, B_NAME=B]  labels in the report
#   --a-tls, --b-tls  [A_TLS=1, B_TLS=1]  measure that side over wss://: a wsring-echo also
#                     serves wss:// (--tls-listen 127.0.0.1:0 with the certificate below), a
#                     {PORT} command must serve wss:// on {PORT}; wsring-load gets --insecure
#   --tls-cert FILE, --tls-key FILE [TLS_CERT=, TLS_KEY=]  the certificate and key of wsring's wss://
#   --load-args S     [LOAD_ARGS=]     extra wsring-load arguments for both sides
#   --load PATH       [LOAD=build/wsring-load]
#   --out DIR         [AB_OUT=build/ab]  per-run JSON and logs, ab.md and ab.json
#   SERVER_CPU=0 LOAD_CPU=1            CPUs to pin to (taskset)
# Output: one table per scenario (medians of A and of B, median/min/max of the per-round
# ratios B/A) on stdout and in OUT/ab.md; everything, per-run figures included, in OUT/ab.json.
# Exit status: 0 if every run was clean, 1 if any run failed (its round is left out), 2 for bad
# arguments.
set -u

ROUNDS=${ROUNDS:-12}
WINDOW=${WINDOW:-3}
SCENARIOS=${SCENARIOS:-"pingpong pipeline16 size16k"}
SERVER_ARGS=${SERVER_ARGS:-}
A_ARGS=${A_ARGS:-}
B_ARGS=${B_ARGS:-}
A_NAME=${A_NAME:-A}
B_NAME=${B_NAME:-B}
A_TLS=${A_TLS:-}
B_TLS=${B_TLS:-}
TLS_CERT=${TLS_CERT:-}
TLS_KEY=${TLS_KEY:-}
LOAD_ARGS=${LOAD_ARGS:-}
LOAD=${LOAD:-build/wsring-load}
OUT=${AB_OUT:-build/ab}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "ab.sh: $*" >&2; exit 2; }
usage() { sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=${2-}; shift 2 || die "--rounds needs a value";;
    --window) WINDOW=${2-}; shift 2 || die "--window needs a value";;
    --scenarios) SCENARIOS=${2-}; shift 2 || die "--scenarios needs a value";;
    --server-args) SERVER_ARGS=${2-}; shift 2 || die "--server-args needs a value";;
    --a-args) A_ARGS=${2-}; shift 2 || die "--a-args needs a value";;
    --b-args) B_ARGS=${2-}; shift 2 || die "--b-args needs a value";;
    --a-name) A_NAME=${2-}; shift 2 || die "--a-name needs a value";;
    --b-name) B_NAME=${2-}; shift 2 || die "--b-name needs a value";;
    --a-tls) A_TLS=1; shift;;
    --b-tls) B_TLS=1; shift;;
    --tls-cert) TLS_CERT=${2-}; shift 2 || die "--tls-cert needs a value";;
    --tls-key) TLS_KEY=${2-}; shift 2 || die "--tls-key needs a value";;
    --load-args) LOAD_ARGS=${2-}; shift 2 || die "--load-args needs a value";;
    --load) LOAD=${2-}; shift 2 || die "--load needs a value";;
    --out) OUT=${2-}; shift 2 || die "--out needs a value";;
    -h|--help) usage 0;;
    -*) die "unknown option $1 (see --help)";;
    *) positional+=("$1"); shift;;
  esac
done
[ ${#positional[@]} -eq 2 ] || die "needs two servers, A and B (see --help)"
A=${positional[0]}
B=${positional[1]}
case "$ROUNDS" in ''|*[!0-9]*|0) die "ROUNDS must be a positive whole number, got '$ROUNDS'";; esac
[ "$ROUNDS" -le 1000 ] || die "ROUNDS must be at most 1000, got '$ROUNDS'"
case "$WINDOW" in ''|*[!0-9.]*|.*|*.*.*) die "WINDOW must be a number of seconds, got '$WINDOW'";; esac
[ -x "$LOAD" ] || die "LOAD: $LOAD is not an executable (build it: make build/wsring-load)"
for side in "$A" "$B"; do
  case "$side" in
    *'{PORT}'*) ;;
    *) [ -x "$side" ] || die "$side is not an executable (nor a command with {PORT})";;
  esac
done
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
for scenario in $SCENARIOS; do
  scenario_args "$scenario" >/dev/null || die "unknown scenario '$scenario'"
  case "$scenario" in latency) die "scenario '$scenario' has no message rate to compare";; esac
done
if [ -n "$A_TLS$B_TLS" ]; then
  for side in A B; do
    tls_var=${side}_TLS; server_var=$side
    [ -n "${!tls_var}" ] || continue
    case "${!server_var}" in *'{PORT}'*) continue;; esac
    [ -r "$TLS_CERT" ] && [ -r "$TLS_KEY" ] || die "--$(echo $side | tr AB ab)-tls on a wsring-echo needs readable --tls-cert and --tls-key"
  done
fi
mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT"/*.json "$OUT"/*.log "$OUT"/runs.tsv "$OUT"/ab.md 2>/dev/null
pin_setup ab.sh
install_cleanup ab.sh

# One run: a fresh server, WINDOW seconds of one scenario, one line in runs.tsv.
run_once() {  # scenario round side(A|B)
  local scenario=$1 round=$2 side=$3 server extra tls base t0 t1 n0 n1 r0 r1 status attempt url tls_load=""
  if [ "$side" = A ]; then server=$A; extra=$A_ARGS; tls=$A_TLS; else server=$B; extra=$B_ARGS; tls=$B_TLS; fi
  case "$server" in *'{PORT}'*) ;; *) [ -z "$tls" ] || extra="$extra $(tls_server_args "$TLS_CERT" "$TLS_KEY")";; esac
  base="$OUT/$scenario.$round.$side"
  for attempt in 1 2 3; do  # a port taken between free_port and bind: try another
    # shellcheck disable=SC2086  # the argument strings are split into words on purpose
    start_any_server "$server" "$base.server.log" $SERVER_ARGS $extra && break
    stop_server
    [ "$attempt" = 3 ] && { printf '%s\t%s\t%s\tnostart\t\t\t\t\t\t\n' "$scenario" "$round" "$side" >>"$OUT/runs.tsv"; return 1; }
  done
  url="ws://127.0.0.1:$SERVER_PORT/"
  if [ -n "$tls" ]; then
    case "$server" in
      *'{PORT}'*) url="wss://127.0.0.1:$SERVER_PORT/";;
      *) url="wss://127.0.0.1:$(wss_port_of "$base.server.log" "$SERVER_PID")/";;
    esac
    tls_load="--insecure"
  fi
  t0=$(cpu_ticks "$SERVER_PID"); n0=$(cpu_ns "$SERVER_PID"); r0=$(tcp_retransmits)
  # shellcheck disable=SC2046,SC2086  # the scenario's flags are split into words on purpose
  timeout $((${WINDOW%.*} * 3 + 60)) "${pin_load[@]}" "$LOAD" "$url" $tls_load $LOAD_ARGS \
    $(scenario_args "$scenario") --duration "$WINDOW" --json "$base.json" >"$base.log" 2>&1
  status=$?
  t1=$(cpu_ticks "$SERVER_PID"); n1=$(cpu_ns "$SERVER_PID"); r1=$(tcp_retransmits)
  kill -0 "$SERVER_PID" 2>/dev/null || status="server-died"
  stop_server
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$round" "$side" "$status" \
    "$t0" "$t1" "$n0" "$n1" "$r0" "$r1" >>"$OUT/runs.tsv"
  [ "$status" = 0 ] || { echo "  $scenario round $round $side: failed ($status, see $base.log)" >&2; return 1; }
}

any_failure=0
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  echo "== round $round of $ROUNDS ($order)" >&2
  for scenario in $SCENARIOS; do
    for side in $order; do
      run_once "$scenario" "$round" "$side" || any_failure=1
    done
  done
done

CLK_TCK=$(getconf CLK_TCK) OUT="$OUT" SCENARIO_LIST="$SCENARIOS" ROUNDS="$ROUNDS" WINDOW="$WINDOW" \
  A="$A" B="$B" A_ARGS="$SERVER_ARGS $A_ARGS${A_TLS:+ (wss://)}" B_ARGS="$SERVER_ARGS $B_ARGS${B_TLS:+ (wss://)}" \
  A_NAME="$A_NAME" B_NAME="$B_NAME" LOAD_ARGS="$LOAD_ARGS" \
  STARTED="$started" LOAD="$LOAD" HERE="$HERE" "$PY" - <<'EOF' | tee "$OUT/ab.md"
import hashlib, json, os, platform, statistics, subprocess

env = os.environ
out, ticks = env["OUT"], float(env["CLK_TCK"])
scenarios = env["SCENARIO_LIST"].split()

def digest(server):
    if "{PORT}" in server:
        return None
    with open(server, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]

def scenario_flags(name):
    return subprocess.run(["bash", "-c", '. "$0"; scenario_args "$1"', os.path.join(env["HERE"], "lib.sh"), name],
                          capture_output=True, text=True).stdout.strip()

def scenario_title(name):
    return subprocess.run(["bash", "-c", '. "$0"; scenario_title "$1"', os.path.join(env["HERE"], "lib.sh"), name],
                          capture_output=True, text=True).stdout.strip()

runs = {}  # (scenario, round, side) -> dict
with open(os.path.join(out, "runs.tsv")) as f:
    for line in f:
        scenario, rnd, side, status, t0, t1, n0, n1, r0, r1 = line.rstrip("\n").split("\t")
        run = {"scenario": scenario, "round": int(rnd), "side": side, "status": status,
               "tcp_retransmits": int(r1) - int(r0) if r0 and r1 else None}
        if status == "0":
            with open(os.path.join(out, "%s.%s.%s.json" % (scenario, rnd, side))) as jf:
                report = json.load(jf)
            # Work done: messages echoed, or for --handshake-only the connections opened.
            handshakes = report["parameters"]["handshake_only"]
            received = report["connections"]["opened"] if handshakes else report["messages"]["received"]
            cpu_stat = (float(t1) - float(t0)) / ticks if t0 and t1 else None
            cpu_sched = (float(n1) - float(n0)) / 1e9 if n0 and n1 else None
            run.update({
                "msgs_per_s": report["throughput"]["handshakes_per_s" if handshakes else "msgs_per_s"],
                "received": received,
                "server_cpu_s": cpu_stat,
                "server_cpu_s_schedstat": cpu_sched,
                "msgs_per_cpu_s": received / cpu_stat if cpu_stat else None,
                "msgs_per_cpu_s_schedstat": received / cpu_sched if cpu_sched else None,
                "load_cpu_pct": 100.0 * (report["load_cpu_s"]["user"] + report["load_cpu_s"]["system"])
                                / report["elapsed_s"] if report["elapsed_s"] else None,
            })
        runs[(scenario, int(rnd), side)] = run

figures = [("msgs_per_s", "msgs/s (handshakes/s)"),
           ("msgs_per_cpu_s", "msgs (handshakes) per server CPU-s (utime+stime)"),
           ("msgs_per_cpu_s_schedstat", "msgs (handshakes) per server CPU-s (schedstat)"),
           ("load_cpu_pct", "wsring-load CPU, % of its core")]

def fmt(v, digits=0):
    return "n/a" if v is None else "{:,.{d}f}".format(v, d=digits)

summary = {}
for scenario in scenarios:
    rounds_ok = [r for r in range(1, int(env["ROUNDS"]) + 1)
                 if runs.get((scenario, r, "A"), {}).get("status") == "0"
                 and runs.get((scenario, r, "B"), {}).get("status") == "0"]
    entry = {"title": scenario_title(scenario), "load_flags": scenario_flags(scenario),
             "rounds_ok": len(rounds_ok), "figures": {},
             "runs_with_retransmits": {side: sum(1 for r in rounds_ok if runs[(scenario, r, side)]["tcp_retransmits"])
                                       for side in ("A", "B")}}
    for key, _ in figures:
        a = [runs[(scenario, r, "A")][key] for r in rounds_ok]
        b = [runs[(scenario, r, "B")][key] for r in rounds_ok]
        ratios = [y / x for x, y in zip(a, b) if x and y is not None]
        entry["figures"][key] = {
            "a_median": statistics.median([v for v in a if v is not None]) if any(v is not None for v in a) else None,
            "b_median": statistics.median([v for v in b if v is not None]) if any(v is not None for v in b) else None,
            "ratio_median": statistics.median(ratios) if ratios else None,
            "ratio_min": min(ratios) if ratios else None,
            "ratio_max": max(ratios) if ratios else None,
            "ratios": ratios,
        }
    summary[scenario] = entry

meta = {
    "tool": "bench/ab.sh", "started": env["STARTED"], "kernel": platform.release(),
    "rounds": int(env["ROUNDS"]), "window_s": float(env["WINDOW"]), "load": env["LOAD"],
    "load_args": env["LOAD_ARGS"],
    "a": {"name": env["A_NAME"], "server": env["A"], "args": env["A_ARGS"].strip(), "sha256_16": digest(env["A"])},
    "b": {"name": env["B_NAME"], "server": env["B"], "args": env["B_ARGS"].strip(), "sha256_16": digest(env["B"])},
}
with open(os.path.join(out, "ab.json"), "w") as f:
    json.dump({**meta, "scenarios": summary, "runs": list(runs.values())}, f, indent=1)

print("## A/B: %s / %s, %d rounds of %s s, alternating\n" % (env["B_NAME"], env["A_NAME"], meta["rounds"], env["WINDOW"]))
for side in ("a", "b"):
    m = meta[side]
    print("- %s: `%s`%s%s" % (m["name"], m["server"], " `%s`" % m["args"] if m["args"] else "",
                              " (sha256 %s)" % m["sha256_16"] if m["sha256_16"] else ""))
print("- started %s, kernel %s; server and wsring-load pinned to separate CPUs; a fresh server per run\n"
      % (meta["started"], meta["kernel"]))
for scenario in scenarios:
    e = summary[scenario]
    print("### %s (`%s`), %d of %d rounds clean\n" % (e["title"], e["load_flags"], e["rounds_ok"], meta["rounds"]))
    stalls = e["runs_with_retransmits"]
    if stalls["A"] or stalls["B"]:
        print("TCP retransmissions on the machine during %d runs of %s and %d of %s (loopback drops: "
              "stalls that lower msgs/s; msgs per CPU-s is less affected).\n"
              % (stalls["A"], env["A_NAME"], stalls["B"], env["B_NAME"]))
    print("| figure | %s median | %s median | ratio %s/%s: median | min | max |" % (env["A_NAME"], env["B_NAME"], env["B_NAME"], env["A_NAME"]))
    print("|---|---|---|---|---|---|")
    for key, label in figures:
        v = e["figures"][key]
        r = lambda x: "n/a" if x is None else "%.3f" % x
        print("| %s | %s | %s | %s | %s | %s |" % (label, fmt(v["a_median"]), fmt(v["b_median"]),
              r(v["ratio_median"]), r(v["ratio_min"]), r(v["ratio_max"])))
    print()
EOF
echo "(saved to $OUT/ab.md and $OUT/ab.json; per-run reports and logs in $OUT)" >&2
exit $any_failure
