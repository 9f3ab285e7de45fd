#!/usr/bin/env bash
# Syscalls per echoed message of one server, a figure the VM's noise barely moves (unlike
# messages/s). For each scenario, wsring-load sends a budget of N messages, then 2N, each to a
# fresh server whose syscalls are counted (perf stat on the raw_syscalls:sys_enter tracepoint,
# enabled just before the load starts and disabled when it ends); the difference of the two
# counts over the difference of the messages received leaves out start-up, handshakes and
# closes. Also counted: the io_uring requests the server submits (io_uring:io_uring_submit_req)
# and a breakdown over the syscalls an echo server makes. Repeated REPEATS times: median, min, max.
#
# Usage: bench/syscalls.sh [options] SERVER
#   SERVER: a wsring-echo binary, or a server command containing {PORT} (as in bench/ab.sh)
# Options (or the environment variable named in brackets):
#   --scenarios LIST  [SCENARIOS="pingpong pipeline16 size16k"]  names from bench/lib.sh
#   --messages N      [MESSAGES=]      budget N for every scenario (default: 100000 for
#                                      pingpong, 1000000 for pipeline16, 40000 for size16k)
#   --repeats R       [REPEATS=5]      pairs of runs (N, 2N) per scenario
#   --server-args S   [SERVER_ARGS=]   extra wsring-echo arguments, e.g. "--backend epoll"
#   --tool perf|strace [TOOL=perf]     strace -c -f counts syscalls only (no io_uring requests)
#                                      and slows the server down: use it only where perf cannot attach
#   --load PATH       [LOAD=build/wsring-load]
#   --out DIR         [SYSCALLS_OUT=build/syscalls]  per-run counts and logs, syscalls.md and .json
#   SERVER_CPU=0 LOAD_CPU=1            CPUs to pin to (taskset)
# Exit status: 0 if every run was clean, 1 if any failed, 2 for bad arguments.
set -u

SCENARIOS=${SCENARIOS:-"pingpong pipeline16 size16k"}
MESSAGES=${MESSAGES:-}
REPEATS=${REPEATS:-5}
SERVER_ARGS=${SERVER_ARGS:-}
TOOL=${TOOL:-perf}
LOAD=${LOAD:-build/wsring-load}
OUT=${SYSCALLS_OUT:-build/syscalls}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "syscalls.sh: $*" >&2; exit 2; }
usage() { sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scenarios) SCENARIOS=${2-}; shift 2 || die "--scenarios needs a value";;
    --messages) MESSAGES=${2-}; shift 2 || die "--messages needs a value";;
    --repeats) REPEATS=${2-}; shift 2 || die "--repeats needs a value";;
    --server-args) SERVER_ARGS=${2-}; shift 2 || die "--server-args needs a value";;
    --tool) TOOL=${2-}; shift 2 || die "--tool needs a value";;
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
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
for scenario in $SCENARIOS; do
  scenario_args "$scenario" >/dev/null || die "unknown scenario '$scenario'"
  case "$scenario" in handshakes|latency) die "scenario '$scenario' echoes no message budget";; esac
done

# The tracepoints counted: the total first, then the breakdown (kept if this kernel has them).
events=(raw_syscalls:sys_enter io_uring:io_uring_submit_req)
for name in io_uring_enter epoll_wait epoll_pwait epoll_pwait2 epoll_ctl sendmsg sendto write writev \
            recvfrom recvmsg read readv accept4 close; do
  events+=("syscalls:sys_enter_$name")
done
case "$TOOL" in
  perf)
    command -v perf >/dev/null || die "perf is missing (apt-get install linux-perf), or use --tool strace"
    kept=()
    for event in "${events[@]}"; do
      perf stat -e "$event" -x, -o /dev/null -- true 2>/dev/null && kept+=("$event")
    done
    [ "${kept[0]-}" = raw_syscalls:sys_enter ] || die "perf cannot count raw_syscalls:sys_enter here (perf_event_paranoid? try --tool strace)"
    events=("${kept[@]}")
    ;;
  strace) command -v strace >/dev/null || die "strace is missing (apt-get install strace)";;
  *) die "--tool must be perf or strace, got '$TOOL'";;
esac
mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT"/*.json "$OUT"/*.log "$OUT"/*.counts "$OUT"/runs.tsv "$OUT"/syscalls.md "$OUT"/ctl "$OUT"/ack 2>/dev/null
pin_setup syscalls.sh
install_cleanup syscalls.sh

default_budget() {
  case "$1" in pipeline16) echo 1000000;; size16k|size1m) echo 40000;; *) echo 100000;; esac
}

# Counting starts on the server's PID and returns once it is counting; counter_stop ends it and
# leaves "count,event" lines in the given file.
COUNTER_PID=""
counter_start() {  # pid counts-file
  local ack
  if [ "$TOOL" = perf ]; then
    rm -f "$OUT/ctl" "$OUT/ack"; mkfifo "$OUT/ctl" "$OUT/ack" || return 1
    local event_args=()
    for event in "${events[@]}"; do event_args+=(-e "$event"); done
    perf stat -D -1 --control "fifo:$OUT/ctl,$OUT/ack" -x, -o "$2.raw" "${event_args[@]}" -p "$1" 2>"$2.err" &
    COUNTER_PID=$!
    started_pids+=("$COUNTER_PID")
    # Read-write opens of a FIFO do not wait for the other end, so a perf that failed cannot hang us.
    exec 5<>"$OUT/ctl" 6<>"$OUT/ack"
    echo enable >&5
    read -r -t 10 -u 6 ack || return 1
    [ "$ack" = ack ]
  else
    strace -c -f -p "$1" -o "$2.raw" 2>"$2.err" &
    COUNTER_PID=$!
    started_pids+=("$COUNTER_PID")
    wait_for_line "$2.err" "attached" 10 "$COUNTER_PID"
  fi
}
counter_stop() {  # counts-file
  local ack
  if [ "$TOOL" = perf ]; then
    echo disable >&5
    read -r -t 10 -u 6 ack
    exec 5>&- 6<&-
  fi
  kill -INT "$COUNTER_PID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$COUNTER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$COUNTER_PID" 2>/dev/null
  wait "$COUNTER_PID" 2>/dev/null
  COUNTER_PID=""
  if [ "$TOOL" = perf ]; then
    # "count,unit,event,..." lines; "<not counted>" (no syscall of that kind at all) is 0.
    awk -F, '$3 ~ /:/ {c = $1; if (c !~ /^[0-9]+$/) c = 0; print c "," $3}' "$1.raw" >"$1"
  else
    # strace -c: "% time seconds usecs/call calls errors syscall" rows, then "total".
    awk '$NF == "total" {print $4 ",raw_syscalls:sys_enter"; next}
         $1 ~ /^[0-9.]+$/ && NF >= 5 {print $4 ",syscalls:sys_enter_" $NF}' "$1.raw" >"$1"
  fi
  [ -s "$1" ]
}

# One run: a fresh server, counting on, wsring-load sends BUDGET messages, counting off.
run_once() {  # scenario repeat budget
  local scenario=$1 repeat=$2 budget=$3 base status
  base="$OUT/$scenario.$repeat.$budget"
  for attempt in 1 2 3; do  # a port taken between free_port and bind: try another
    # shellcheck disable=SC2086  # the argument string is split into words on purpose
    start_any_server "$SERVER" "$base.server.log" $SERVER_ARGS && break
    stop_server
    [ "$attempt" = 3 ] && { echo "  could not start the server (see $base.server.log)" >&2; return 1; }
  done
  if ! counter_start "$SERVER_PID" "$base.counts"; then
    echo "  $TOOL could not attach to the server (see $base.counts.err)" >&2
    stop_server; return 1
  fi
  # shellcheck disable=SC2046  # the scenario's flags are split into words on purpose
  timeout 300 "${pin_load[@]}" "$LOAD" "ws://127.0.0.1:$SERVER_PORT/" $(scenario_args "$scenario") \
    --messages "$budget" --json "$base.json" >"$base.log" 2>&1
  status=$?
  counter_stop "$base.counts" || status="no-counts"
  kill -0 "$SERVER_PID" 2>/dev/null || status="server-died"
  stop_server
  printf '%s\t%s\t%s\t%s\n' "$scenario" "$repeat" "$budget" "$status" >>"$OUT/runs.tsv"
  [ "$status" = 0 ] || { echo "  $scenario repeat $repeat, $budget messages: failed ($status, see $base.log)" >&2; return 1; }
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
  TOOL="$TOOL" STARTED="$started" HERE="$HERE" "$PY" - <<'EOF' | tee "$OUT/syscalls.md"
import hashlib, json, os, platform, statistics, subprocess

env = os.environ
out = env["OUT"]
scenarios = env["SCENARIO_LIST"].split()

def lib(function, name):
    return subprocess.run(["bash", "-c", '. "$0"; %s "$1"' % function, os.path.join(env["HERE"], "lib.sh"), name],
                          capture_output=True, text=True).stdout.strip()

runs = {}  # (scenario, repeat) -> {budget: {"received": n, "counts": {event: n}}}
tsv = os.path.join(out, "runs.tsv")
with open(tsv) if os.path.exists(tsv) else open(os.devnull) as f:  # no file: no run got that far
    for line in f:
        scenario, repeat, budget, status = line.rstrip("\n").split("\t")
        if status != "0":
            continue
        base = os.path.join(out, "%s.%s.%s" % (scenario, repeat, budget))
        with open(base + ".json") as jf:
            received = json.load(jf)["messages"]["received"]
        counts = {}
        with open(base + ".counts") as cf:
            for row in cf:
                count, event = row.strip().split(",", 1)
                counts[event] = counts.get(event, 0) + int(count)
        runs.setdefault((scenario, int(repeat)), {})[int(budget)] = {"received": received, "counts": counts}

def label(event):
    if event == "raw_syscalls:sys_enter":
        return "syscalls (all)"
    if event == "io_uring:io_uring_submit_req":
        return "io_uring requests submitted"
    if event == "syscalls:other":
        return "other syscalls"
    return event.replace("syscalls:sys_enter_", "")

summary = {}
for scenario in scenarios:
    per_repeat = []  # {event: per-message figure}
    for (s, _), pair in sorted(runs.items()):
        if s != scenario or len(pair) != 2:
            continue
        small, large = sorted(pair)
        d_msgs = pair[large]["received"] - pair[small]["received"]
        if d_msgs <= 0:
            continue
        events = set(pair[small]["counts"]) | set(pair[large]["counts"])
        figures = {e: (pair[large]["counts"].get(e, 0) - pair[small]["counts"].get(e, 0)) / d_msgs for e in events}
        if env["TOOL"] == "perf":  # perf counts the listed syscalls only: the rest, together
            figures["syscalls:other"] = figures["raw_syscalls:sys_enter"] - sum(
                v for e, v in figures.items() if e.startswith("syscalls:sys_enter_"))
        per_repeat.append(figures)
    events = sorted({e for r in per_repeat for e in r},
                    key=lambda e: (e != "raw_syscalls:sys_enter", e != "io_uring:io_uring_submit_req", e))
    figures = {}
    for e in events:
        values = [r.get(e, 0.0) for r in per_repeat]
        figures[e] = {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}
    summary[scenario] = {"title": lib("scenario_title", scenario), "load_flags": lib("scenario_args", scenario),
                         "repeats_ok": len(per_repeat), "per_message": figures}

digest = None
if "{PORT}" not in env["SERVER"]:
    with open(env["SERVER"], "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
meta = {"tool": "bench/syscalls.sh", "counter": env["TOOL"], "started": env["STARTED"], "kernel": platform.release(),
        "server": env["SERVER"], "server_args": env["SERVER_ARGS"], "sha256_16": digest, "repeats": int(env["REPEATS"])}
with open(os.path.join(out, "syscalls.json"), "w") as f:
    json.dump({**meta, "scenarios": summary,
               "runs": [{"scenario": s, "repeat": r, "budgets": {str(b): v for b, v in p.items()}}
                        for (s, r), p in sorted(runs.items())]}, f, indent=1)

print("## Syscalls per message: `%s`%s%s\n" % (env["SERVER"], " `%s`" % env["SERVER_ARGS"] if env["SERVER_ARGS"] else "",
      " (sha256 %s)" % digest if digest else ""))
print("Counted by %s on the server's process, started %s, kernel %s; (count at 2N - count at N) / "
      "(messages at 2N - messages at N), so start-up, handshakes and closes cancel out.%s\n"
      % ("perf stat (tracepoints)" if env["TOOL"] == "perf" else "strace -c -f",
         meta["started"], meta["kernel"],
         "" if env["TOOL"] == "perf" else " strace slows the server: batches grow, so figures differ from perf's."))
for scenario in scenarios:
    e = summary[scenario]
    print("### %s (`%s`), %d of %d repeats clean\n" % (e["title"], e["load_flags"], e["repeats_ok"], meta["repeats"]))
    print("| per message | median | min | max |")
    print("|---|---|---|---|")
    for event, v in e["per_message"].items():
        if event.startswith("syscalls:") and max(abs(v["min"]), abs(v["max"])) < 0.0005:
            continue  # a syscall this server does not make per message
        print("| %s | %.4f | %.4f | %.4f |" % (label(event), v["median"], v["min"], v["max"]))
    print()
EOF
echo "(saved to $OUT/syscalls.md and $OUT/syscalls.json; per-run counts and logs in $OUT)" >&2
exit $any_failure
