#!/usr/bin/env bash
# make compare: the same wsring-load scenarios against wsring-echo (io_uring and epoll backends),
# gorilla/websocket (bench/peers/gorilla_echo.go), node's ws (bench/peers/ws_echo.js) and,
# optionally, any server given by URL. Servers run on one CPU, the load on another; every
# scenario runs RUNS times and the medians are reported, with the server's CPU time (from
# /proc/PID/stat) so that messages per server CPU-second stand beside messages per second.
#
# Usage: bench/compare.sh [BUILD_DIR]          (default: build; needs wsring-echo and wsring-load)
# Environment:
#   DURATION=5      seconds per run          RUNS=3      runs per scenario (median reported)
#   EXTRA_URL=ws://HOST:PORT/PATH            another server to compare (started by you)
#   EXTRA_PID=PID   its process, to measure its CPU time (else "n/a")
#   EXTRA_NAME=...  its column title (default "extra")
#   SERVERS="wsring-io_uring wsring-epoll gorilla ws"   which of the built-in servers to run
#   SCENARIOS="pingpong pipeline16 conn1000 size16k size1m handshakes latency"
#   SERVER_CPU=0 LOAD_CPU=1                  CPUs to pin to (taskset)
#   COMPARE_OUT=BUILD_DIR/compare            where the JSON reports and compare.md go
# Exit status: 0 if every run was clean, 1 if any run reported errors or could not run.
set -u

BUILD=${1:-build}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
EXTRA_URL=${EXTRA_URL:-}
EXTRA_PID=${EXTRA_PID:-}
EXTRA_NAME=${EXTRA_NAME:-extra}
SERVERS=${SERVERS:-"wsring-io_uring wsring-epoll gorilla ws"}
SCENARIOS=${SCENARIOS:-"pingpong pipeline16 conn1000 size16k size1m handshakes latency"}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${COMPARE_OUT:-$BUILD/compare}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)

die() { echo "compare.sh: $*" >&2; exit 1; }
[ -x "$BUILD/wsring-load" ] || die "$BUILD/wsring-load is missing: run make first"
[ -x "$BUILD/wsring-echo" ] || die "$BUILD/wsring-echo is missing: run make first"
case "$DURATION" in ''|*[!0-9.]*) die "DURATION must be a number of seconds, got '$DURATION'";; esac
case "$RUNS" in ''|*[!0-9]*|0) die "RUNS must be a positive whole number, got '$RUNS'";; esac
mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT"/*.json "$OUT"/*.cpu "$OUT"/*.log "$OUT"/*.status 2>/dev/null

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
pin_setup compare.sh
install_cleanup compare.sh

# Starts one built-in server; sets SERVER_URL and SERVER_PID, or returns 1.
start_server() {
  local name=$1 log="$OUT/$1.server.log" port
  SERVER_URL=""; SERVER_PID=""
  case "$name" in
    wsring-io_uring|wsring-epoll)
      start_wsring_echo "$BUILD/wsring-echo" "$log" --backend "${name#wsring-}" || return 1
      port=$SERVER_PORT
      ;;
    gorilla)
      command -v go >/dev/null || { echo "compare.sh: go not installed (golang-go)" >&2; return 1; }
      mkdir -p "$BUILD/peers"
      if [ ! -x "$BUILD/peers/gorilla-echo" ] || [ "$HERE/peers/gorilla_echo.go" -nt "$BUILD/peers/gorilla-echo" ]; then
        GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$(cd "$BUILD" && pwd)/peers/gocache" \
          timeout 300 go build -o "$BUILD/peers/gorilla-echo" "$HERE/peers/gorilla_echo.go" >"$log" 2>&1 \
          || { echo "compare.sh: cannot build the gorilla echo (golang-github-gorilla-websocket-dev?)" >&2; cat "$log" >&2; return 1; }
      fi
      port=$(free_port)
      "${pin_server[@]}" "$BUILD/peers/gorilla-echo" -listen "127.0.0.1:$port" 2>"$log" &
      SERVER_PID=$!
      started_pids+=("$SERVER_PID")
      wait_for_line "$log" "listening on" 10 "$SERVER_PID" || { cat "$log" >&2; return 1; }
      ;;
    ws)
      command -v node >/dev/null || { echo "compare.sh: node not installed (nodejs, node-ws)" >&2; return 1; }
      port=$(free_port)
      NODE_PATH=/usr/share/nodejs "${pin_server[@]}" node "$HERE/peers/ws_echo.js" "$port" 2>"$log" &
      SERVER_PID=$!
      started_pids+=("$SERVER_PID")
      wait_for_line "$log" "listening on" 10 "$SERVER_PID" || { cat "$log" >&2; return 1; }
      ;;
    *) echo "compare.sh: unknown server $name" >&2; return 1;;
  esac
  [ -n "$port" ] || return 1
  SERVER_URL="ws://127.0.0.1:$port/"
}

# Median of one figure (a dotted path in the JSON reports) over the runs of a server and scenario.
median_of() {  # server scenario path
  $PY - "$3" "$OUT/$1.$2".*.json <<'EOF_PY'
import json, statistics, sys
values = []
for path in sys.argv[2:]:
    try:
        value = json.load(open(path))
    except (OSError, ValueError):
        continue
    for key in sys.argv[1].split("."):
        value = value[key]
    values.append(value)
print(statistics.median(values) if values else "")
EOF_PY
}

run_summary() {  # one line about one report
  $PY - "$1" <<'EOF_PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("no report")
    sys.exit()
t = r["throughput"]
print("%.0f msg/s, %.0f handshakes/s, p99 %d us, errors %d" % (t["msgs_per_s"], t["handshakes_per_s"],
      r["latency_us"]["p99"], r["errors"]["total"]))
EOF_PY
}

run_scenario() {  # server url pid scenario run
  local server=$1 url=$2 pid=$3 scenario=$4 run=$5 args rate
  args=$(scenario_args "$scenario")
  if [ "$scenario" = latency ]; then
    # Half the highest rate this server sustained in the ping-pong scenario.
    rate=$(median_of "$server" pingpong throughput.msgs_per_s)
    if [ -z "$rate" ]; then
      echo "  latency: needs the pingpong scenario first; skipped" >&2
      return
    fi
    rate=$(awk -v r="$rate" 'BEGIN {printf "%.0f", r / 2}')
    [ "$rate" -gt 0 ] 2>/dev/null || { echo "  latency: no ping-pong throughput to halve; skipped" >&2; return; }
    args="$args --rate $rate"
  fi
  {
    local base="$OUT/$server.$scenario.$run" c0 c1 status
    c0=$([ -n "$pid" ] && cpu_ticks "$pid")
    # shellcheck disable=SC2086
    timeout $((${DURATION%.*} * 3 + 60)) "${pin_load[@]}" "$BUILD/wsring-load" "$url" $args --duration "$DURATION" \
      --json "$base.json" >"$base.log" 2>&1
    status=$?
    c1=$([ -n "$pid" ] && cpu_ticks "$pid")
    echo "$status" >"$base.status"
    if [ -n "$c0" ] && [ -n "$c1" ]; then echo "$((c1 - c0))" >"$base.cpu"; fi
    if [ "$status" != 0 ]; then
      any_failure=1
      echo "  $scenario run $run: wsring-load exited $status (see $base.log)" >&2
      [ -f "$base.json" ] || rm -f "$base.cpu"
    fi
    printf '  %-11s run %d: %s\n' "$scenario" "$run" "$(run_summary "$base.json")" >&2
  }
}

# Rounds: every server runs every scenario once per round, so that a drift of the machine
# (a shared VM) spreads over all servers instead of favouring the one measured first.
any_failure=0
columns=()
add_column() { case " ${columns[*]} " in *" $1 "*) ;; *) columns+=("$1") ;; esac; }
for run in $(seq "$RUNS"); do
  for server in $SERVERS; do
    echo "== $server (round $run of $RUNS)" >&2
    if ! start_server "$server"; then
      echo "  could not start $server: no figures from this round" >&2
      any_failure=1
      continue
    fi
    add_column "$server"
    for scenario in $SCENARIOS; do run_scenario "$server" "$SERVER_URL" "$SERVER_PID" "$scenario" "$run"; done
    stop_server
  done
  if [ -n "$EXTRA_URL" ]; then
    echo "== $EXTRA_NAME ($EXTRA_URL, round $run of $RUNS)" >&2
    add_column "$EXTRA_NAME"
    for scenario in $SCENARIOS; do run_scenario "$EXTRA_NAME" "$EXTRA_URL" "$EXTRA_PID" "$scenario" "$run"; done
  fi
done

# The table: servers as columns, medians in the cells, then the ratios of wsring to each peer.
CLK_TCK=$(getconf CLK_TCK) OUT="$OUT" COLUMNS_LIST="${columns[*]}" SCENARIO_LIST="$SCENARIOS" \
  DURATION="$DURATION" RUNS="$RUNS" "$PY" - <<'EOF' | tee "$OUT/compare.md"
import glob, json, os, platform, statistics

out, ticks = os.environ["OUT"], float(os.environ["CLK_TCK"])
columns = os.environ["COLUMNS_LIST"].split()
scenarios = os.environ["SCENARIO_LIST"].split()
titles = {
    "pingpong": "100 conns x 32 B, ping-pong", "pipeline16": "100 conns x 32 B, pipeline 16",
    "conn1000": "1,000 conns x 32 B, pipeline 4", "size16k": "100 conns x 16 KiB, ping-pong",
    "size1m": "10 conns x 1 MiB, ping-pong", "handshakes": "handshakes (connect, upgrade, close)",
    "latency": "latency at 50% of the ping-pong maximum",
}

def runs(server, scenario):
    result = []
    for path in sorted(glob.glob(os.path.join(out, "%s.%s.*.json" % (server, scenario)))):
        with open(path) as f:
            report = json.load(f)
        cpu_path = path[:-5] + ".cpu"
        cpu = float(open(cpu_path).read()) / ticks if os.path.exists(cpu_path) else None
        result.append((report, cpu))
    return result

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def fmt(value, digits=0):
    if value is None:
        return "n/a"
    return "{:,.{d}f}".format(value, d=digits)

cells = {}  # (scenario, server) -> dict of medians
for scenario in scenarios:
    for server in columns:
        rs = runs(server, scenario)
        if not rs:
            continue
        count_key = "handshakes_per_s" if scenario == "handshakes" else "msgs_per_s"
        done_key = "opened" if scenario == "handshakes" else None
        per_cpu = []
        for report, cpu in rs:
            done = report["connections"]["opened"] if done_key else report["messages"]["received"]
            per_cpu.append(done / cpu if cpu else None)
        cells[(scenario, server)] = {
            "rate": median(r["throughput"][count_key] for r, _ in rs),
            "per_cpu": median(per_cpu),
            "p50": median(r["latency_us"]["p50"] for r, _ in rs),
            "p99": median(r["latency_us"]["p99"] for r, _ in rs),
            "p999": median(r["latency_us"]["p999"] for r, _ in rs),
            "mbps": median(r["throughput"]["bytes_per_s"] / 1e6 for r, _ in rs),
            "load_cpu": median(100.0 * (r["load_cpu_s"]["user"] + r["load_cpu_s"]["system"]) / r["elapsed_s"]
                               for r, _ in rs if r["elapsed_s"]),
            "bad_runs": sum(1 for r, _ in rs if r["exit_status"] != 0),
            "rate_asked": rs[0][0]["parameters"]["rate"],
        }

run_count = int(os.environ["RUNS"])
print("## wsring-load comparison (%s of %s s)\n" % ("medians of %d runs" % run_count if run_count != 1 else "1 run",
                                                   os.environ["DURATION"]))
print("Kernel %s; %s; servers pinned to one CPU, wsring-load to another.\n" % (platform.release(),
      next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "cpu ?")))
print("| scenario | " + " | ".join(columns) + " |")
print("|---|" + "---|" * len(columns))
for scenario in scenarios:
    rows = []
    if scenario == "latency":
        rows.append(("rate asked (msg/s)", lambda c: fmt(c["rate_asked"])))
        rows.append(("latency p50 / p99 / p99.9 (us)", lambda c: "%s / %s / %s" % (fmt(c["p50"]), fmt(c["p99"]), fmt(c["p999"]))))
    elif scenario == "handshakes":
        rows.append(("handshakes/s", lambda c: fmt(c["rate"])))
        rows.append(("handshakes per server CPU-s", lambda c: fmt(c["per_cpu"])))
    else:
        rows.append(("msgs/s", lambda c: fmt(c["rate"])))
        rows.append(("msgs per server CPU-s", lambda c: fmt(c["per_cpu"])))
        if scenario in ("size16k", "size1m"):
            rows.append(("MB/s (payload, each way)", lambda c: fmt(c["mbps"], 1)))
        rows.append(("latency p99 (us)", lambda c: fmt(c["p99"])))
        rows.append(("wsring-load CPU (% of its core)", lambda c: fmt(c["load_cpu"])))
    for label, render in rows:
        line = "| %s: %s |" % (titles.get(scenario, scenario), label)
        for server in columns:
            cell = cells.get((scenario, server))
            text = render(cell) if cell else "not run"
            if cell and cell["bad_runs"]:
                text += " (errors in %d run%s)" % (cell["bad_runs"], "" if cell["bad_runs"] == 1 else "s")
            line += " %s |" % text
        print(line)

base = "wsring-io_uring" if "wsring-io_uring" in columns else None
peers = [c for c in columns if c != base]
if base and peers:
    print("\n### Ratios: wsring-echo (io_uring) to each peer\n")
    print("Throughput and throughput per server CPU-second: above 1 means wsring is ahead. "
          "Latency: the peer's p99 over wsring's, above 1 means wsring's is lower.\n")
    print("| scenario | " + " | ".join("vs " + p for p in peers) + " |")
    print("|---|" + "---|" * len(peers))
    def ratio(a, b):
        return "%.2fx" % (a / b) if a is not None and b else "n/a"
    for scenario in scenarios:
        line = "| %s |" % titles.get(scenario, scenario)
        mine = cells.get((scenario, base))
        for peer in peers:
            theirs = cells.get((scenario, peer))
            if not mine or not theirs:
                line += " n/a |"
            elif scenario == "latency":
                line += " p99 %s |" % ratio(theirs["p99"], mine["p99"])
            else:
                line += " %s (per CPU-s %s) |" % (ratio(mine["rate"], theirs["rate"]), ratio(mine["per_cpu"], theirs["per_cpu"]))
        print(line)
EOF
echo "(table saved to $OUT/compare.md; reports and logs in $OUT)" >&2
exit $any_failure
