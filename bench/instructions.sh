#!/usr/bin/env bash
# User-space instructions per echoed message of one server, counted by valgrind's callgrind (Ir):
# no CPU performance counters are needed, and the VM's noise barely moves the figure. For each
# scenario, wsring-load sends a budget of N messages, then 2N, each to a fresh server run under
# callgrind, counting from just before the load starts to just after it ends; (Ir at 2N - Ir at
# N) / (messages at 2N - messages at N) leaves out handshakes and closes. Repeated REPEATS times: median, min, max. Kernel work (most
# of an echo's cost on loopback) is not counted: see bench/syscalls.sh for that side.
#
# Usage: bench/instructions.sh [options] SERVER
#   SERVER: a wsring-echo binary, or a server command containing {PORT} (as in bench/ab.sh)
# Options (or the environment variable named in brackets):
#   --scenarios LIST  [SCENARIOS="pingpong pipeline16 size16k"]  names from bench/lib.sh
#   --messages N      [MESSAGES=]      budget N for every scenario (default: 20000 for pingpong,
#                                      100000 for pipeline16, 10000 for size16k)
#   --repeats R       [REPEATS=3]      pairs of runs (N, 2N) per scenario
#   --server-args S   [SERVER_ARGS=]   extra wsring-echo arguments, e.g. "--backend epoll"
#   --load PATH       [LOAD=build/wsring-load]
#   --out DIR         [INSTRUCTIONS_OUT=build/instructions]  callgrind outputs (for
#                                      callgrind_annotate), logs, instructions.md and .json
#   SERVER_CPU=0 LOAD_CPU=1            CPUs to pin to (taskset)
# Exit status: 0 if every run was clean, 1 if any failed, 2 for bad arguments.
set -u

SCENARIOS=${SCENARIOS:-"pingpong pipeline16 size16k"}
MESSAGES=${MESSAGES:-}
REPEATS=${REPEATS:-3}
SERVER_ARGS=${SERVER_ARGS:-}
LOAD=${LOAD:-build/wsring-load}
OUT=${INSTRUCTIONS_OUT:-build/instructions}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "instructions.sh: $*" >&2; exit 2; }
usage() { sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scenarios) SCENARIOS=${2-}; shift 2 || die "--scenarios needs a value";;
    --messages) MESSAGES=${2-}; shift 2 || die "--messages needs a value";;
    --repeats) REPEATS=${2-}; shift 2 || die "--repeats needs a value";;
    --server-args) SERVER_ARGS=${2-}; shift 2 || die "--server-args needs a value";;
    --load) LOAD=${2-}; shift 2 || die "--load needs a value";;
    --out) OUT=${2-}; shift 2 || die "--out needs a value";;
    -h|--help) usage 0;;
    -*) die "unknown option $1 (see --help)";;
    *) positional+=("$1"); shift;;
  esac
done
[ ${#positional[@]} -eq 1 ] || die "needs one server (see --help)"
SERVER=${positional[0]}
case "$SERVER" in *'{PORT}'*) ;; *) [ -x "$SERVER" ] || die "$SERVER is not an executable (nor a command with {PORT})";; esac
case "$REPEATS" in ''|*[!0-9]*|0) die "REPEATS must be a positive whole number, got '$REPEATS'";; esac
[ "$REPEATS" -le 100 ] || die "REPEATS must be at most 100, got '$REPEATS'"
case "$MESSAGES" in *[!0-9]*|0*) die "MESSAGES must be a positive whole number, got '$MESSAGES'";; esac
[ -x "$LOAD" ] || die "LOAD: $LOAD is not an executable (build it: make build/wsring-load)"
{ command -v valgrind && command -v callgrind_control; } >/dev/null || die "valgrind is missing (apt-get install valgrind)"
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
for scenario in $SCENARIOS; do
  scenario_args "$scenario" >/dev/null || die "unknown scenario '$scenario'"
  case "$scenario" in handshakes|latency) die "scenario '$scenario' echoes no message budget";; esac
done
mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT"/*.json "$OUT"/*.log "$OUT"/*.callgrind "$OUT"/*.callgrind.* "$OUT"/runs.tsv "$OUT"/instructions.md 2>/dev/null
pin_setup instructions.sh
install_cleanup instructions.sh

default_budget() {
  case "$1" in pipeline16) echo 100000;; size16k|size1m) echo 10000;; *) echo 20000;; esac
}

# callgrind_control (through vgdb, which can interrupt a server blocked in a syscall) zeroes the
# counts once the server is up and dumps them once the load is done: a signal would not do, as
# valgrind delivers it only when the blocking syscall returns (io_uring_enter may never return).
callgrind_command() {  # option (-z zero, -d dump)
  timeout 60 callgrind_control "$1" "$SERVER_PID" >>"$OUT/callgrind_control.log" 2>&1
}
kill_server_now() {  # the counts are dumped already
  kill -9 "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}

# One run: a fresh server under callgrind, wsring-load sends BUDGET messages, the server stops.
run_once() {  # scenario repeat budget
  local scenario=$1 repeat=$2 budget=$3 base status ir
  base="$OUT/$scenario.$repeat.$budget"
  server_wrapper=(valgrind --tool=callgrind --callgrind-out-file="$base.callgrind")
  for attempt in 1 2 3; do  # a port taken between free_port and bind: try another
    # shellcheck disable=SC2086  # the argument string is split into words on purpose
    start_any_server "$SERVER" "$base.server.log" $SERVER_ARGS && break
    stop_server
    [ "$attempt" = 3 ] && { echo "  could not start the server (see $base.server.log)" >&2; return 1; }
  done
  callgrind_command -z || { echo "  callgrind_control -z failed (see $OUT/callgrind_control.log)" >&2; kill_server_now; return 1; }
  # shellcheck disable=SC2046  # the scenario's flags are split into words on purpose
  timeout 600 "${pin_load[@]}" "$LOAD" "ws://127.0.0.1:$SERVER_PORT/" $(scenario_args "$scenario") \
    --messages "$budget" --json "$base.json" >"$base.log" 2>&1
  status=$?
  kill -0 "$SERVER_PID" 2>/dev/null || status="server-died"
  callgrind_command -d || status="callgrind-dump-failed"
  kill_server_now
  # The dump is the first numbered file (BASE.callgrind.1); BASE.callgrind itself stays empty.
  ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$base.callgrind.1" 2>/dev/null | head -1)
  [ -n "$ir" ] || { [ "$status" = 0 ] && status="no-callgrind-totals"; }
  printf '%s\t%s\t%s\t%s\t%s\n' "$scenario" "$repeat" "$budget" "$status" "$ir" >>"$OUT/runs.tsv"
  [ "$status" = 0 ] || { echo "  $scenario repeat $repeat, $budget messages: failed ($status, see $base.log, $base.server.log)" >&2; return 1; }
}

any_failure=0
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for scenario in $SCENARIOS; do
  budget=${MESSAGES:-$(default_budget "$scenario")}
  for repeat in $(seq "$REPEATS"); do
    echo "== $scenario: repeat $repeat of $REPEATS ($budget and $((budget * 2)) messages)" >&2
    run_once "$scenario" "$repeat" "$budget" || any_failure=1
    run_once "$scenario" "$repeat" $((budget * 2)) || any_failure=1
  done
done

OUT="$OUT" SCENARIO_LIST="$SCENARIOS" REPEATS="$REPEATS" SERVER="$SERVER" SERVER_ARGS="$SERVER_ARGS" \
  STARTED="$started" HERE="$HERE" VALGRIND="$(valgrind --version)" "$PY" - <<'EOF' | tee "$OUT/instructions.md"
import hashlib, json, os, platform, statistics, subprocess

env = os.environ
out = env["OUT"]
scenarios = env["SCENARIO_LIST"].split()

def lib(function, name):
    return subprocess.run(["bash", "-c", '. "$0"; %s "$1"' % function, os.path.join(env["HERE"], "lib.sh"), name],
                          capture_output=True, text=True).stdout.strip()

runs = {}  # (scenario, repeat) -> {budget: {...}}
tsv = os.path.join(out, "runs.tsv")
with open(tsv) if os.path.exists(tsv) else open(os.devnull) as f:  # no file: no run got that far
    for line in f:
        scenario, repeat, budget, status, ir = line.rstrip("\n").split("\t")
        if status != "0":
            continue
        base = os.path.join(out, "%s.%s.%s" % (scenario, repeat, budget))
        with open(base + ".json") as jf:
            received = json.load(jf)["messages"]["received"]
        runs.setdefault((scenario, int(repeat)), {})[int(budget)] = {
            "received": received, "ir": int(ir)}

summary = {}
for scenario in scenarios:
    per_msg = []
    for (s, _), pair in sorted(runs.items()):
        if s != scenario or len(pair) != 2:
            continue
        small, large = (pair[b] for b in sorted(pair))
        d_msgs = large["received"] - small["received"]
        if d_msgs <= 0:
            continue
        per_msg.append((large["ir"] - small["ir"]) / d_msgs)
    def stats(values):
        return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values} if values else None
    summary[scenario] = {"title": lib("scenario_title", scenario), "load_flags": lib("scenario_args", scenario),
                         "repeats_ok": len(per_msg), "ir_per_message": stats(per_msg)}

digest = None
if "{PORT}" not in env["SERVER"]:
    with open(env["SERVER"], "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
meta = {"tool": "bench/instructions.sh", "counter": env["VALGRIND"] + " --tool=callgrind", "started": env["STARTED"],
        "kernel": platform.release(), "server": env["SERVER"], "server_args": env["SERVER_ARGS"], "sha256_16": digest,
        "repeats": int(env["REPEATS"])}
with open(os.path.join(out, "instructions.json"), "w") as f:
    json.dump({**meta, "scenarios": summary,
               "runs": [{"scenario": s, "repeat": r, "budgets": {str(b): v for b, v in p.items()}}
                        for (s, r), p in sorted(runs.items())]}, f, indent=1)

print("## User-space instructions per message: `%s`%s%s\n" % (env["SERVER"], " `%s`" % env["SERVER_ARGS"] if env["SERVER_ARGS"] else "",
      " (sha256 %s)" % digest if digest else ""))
print("Counted by %s (Ir, every user-space instruction of the server, libraries included) from "
      "just before the load to just after it, started %s, kernel %s; (Ir at 2N - Ir at N) / "
      "(messages at 2N - messages at N).\n" % (meta["counter"], meta["started"], meta["kernel"]))
print("| scenario | wsring-load flags | repeats | Ir per message: median | min | max |")
print("|---|---|---|---|---|---|")
for scenario in scenarios:
    e = summary[scenario]
    ir = e["ir_per_message"]
    print("| %s | `%s` | %d of %d | %s | %s | %s |" % (
        e["title"], e["load_flags"], e["repeats_ok"], meta["repeats"],
        *(("{:,.0f}".format(ir[k]) if ir else "n/a") for k in ("median", "min", "max"))))
print()
EOF
echo "(saved to $OUT/instructions.md and $OUT/instructions.json; callgrind outputs and logs in $OUT)" >&2
exit $any_failure
