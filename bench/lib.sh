# shellcheck shell=bash
# Pieces shared by the benchmark scripts (compare.sh, ab.sh, syscalls.sh, instructions.sh):
# CPU pinning, the servers started and killed on exit, server CPU time, the scenarios.
# Sourced, never run. Callers set PY and define die() before sourcing.

# pin_server / pin_load: the taskset prefixes (SERVER_CPU, LOAD_CPU; none on a single CPU).
# shellcheck disable=SC2034  # both are used by the sourcing scripts
pin_setup() {  # script-name
  if [ "$(nproc)" -lt 2 ]; then
    echo "$1: only one CPU: server and load share it (figures are not comparable)" >&2
    pin_server=(); pin_load=()
  else
    pin_server=(taskset -c "${SERVER_CPU:-0}"); pin_load=(taskset -c "${LOAD_CPU:-1}")
  fi
}

# Every server we start is killed on the way out, whatever happens.
started_pids=()
cleanup() {
  for pid in "${started_pids[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.3
  for pid in "${started_pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
}
install_cleanup() {  # script-name
  trap cleanup EXIT
  # shellcheck disable=SC2064
  trap "echo '$1: interrupted' >&2; exit 130" INT TERM
}

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# utime + stime of a whole process (all threads), in clock ticks. Fields counted after the
# ")" that ends the command name, which may itself contain spaces.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }

# Time on CPU of all threads of a process, in nanoseconds (the scheduler's exact account, where
# the ticks above are sampled): the first field of each /proc/PID/task/TID/schedstat.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {if (NR) print s}'; }

# TCP segments retransmitted, machine-wide (this network namespace): loopback drops packets when
# a CPU's backlog (net.core.netdev_max_backlog) overflows, and the retransmission timeout then
# stalls a connection for 0.2-3 s, which shows in messages/s (less in messages per CPU-second).
tcp_retransmits() { awk '$1 == "Tcp:" {if (!col) {for (i = 2; i <= NF; i++) if ($i == "RetransSegs") col = i} else print $col}' /proc/net/snmp; }

wait_for_line() {  # file pattern seconds pid
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -le $deadline ]; do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Waits (at most 10 s) until something accepts TCP connections on 127.0.0.1:PORT, while PID lives.
wait_for_port() {  # port pid
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# A command the servers are started under (e.g. valgrind and its options); none by default.
server_wrapper=()

# Starts one wsring-echo (or compatible) binary on a port of its own choosing, pinned to the
# server CPU, with the given extra arguments; sets SERVER_PID and SERVER_PORT, or returns 1.
start_wsring_echo() {  # binary log [args...]
  local binary=$1 log=$2
  shift 2
  SERVER_PID=""; SERVER_PORT=""
  "${pin_server[@]}" "${server_wrapper[@]}" "$binary" --listen 127.0.0.1:0 "$@" 2>"$log" &
  SERVER_PID=$!
  started_pids+=("$SERVER_PID")
  wait_for_line "$log" "listening on" 10 "$SERVER_PID" || { cat "$log" >&2; return 1; }
  SERVER_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
  [ -n "$SERVER_PORT" ]
}

# wss:// (bench/ab.sh --a-tls/--b-tls, idle_memory.py --tls): a wsring-echo started with
# tls_server_args also serves wss:// on a port of its own choosing; wss_port_of reads that port
# from its log ("serving wss://127.0.0.1:PORT/..."), after waiting for the line.
tls_server_args() {  # cert key
  echo "--tls-listen 127.0.0.1:0 --tls-cert $1 --tls-key $2"
}
wss_port_of() {  # log pid
  wait_for_line "$1" "serving wss://127\.0\.0\.1:" 10 "$2" || return 1
  sed -n 's/.*serving wss:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -1
}

# Starts a wsring-echo binary as above, or runs a server command containing {PORT} (through
# bash, pinned likewise; it must listen on 127.0.0.1:{PORT}), the arguments then being ignored.
# Sets SERVER_PID and SERVER_PORT, or returns 1.
start_any_server() {  # binary-or-command log [args...]
  local server=$1 log=$2 port
  case "$server" in
    *'{PORT}'*)
      port=$(free_port)
      local wrapper=""
      [ ${#server_wrapper[@]} -eq 0 ] || wrapper=$(printf '%q ' "${server_wrapper[@]}")
      "${pin_server[@]}" bash -c "exec $wrapper${server//\{PORT\}/$port}" >"$log" 2>&1 &
      SERVER_PID=$!
      started_pids+=("$SERVER_PID")
      SERVER_PORT=$port
      wait_for_port "$port" "$SERVER_PID" || { cat "$log" >&2; return 1; }
      ;;
    *) start_wsring_echo "$@";;
  esac
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}

scenario_args() {  # the wsring-load flags of a scenario (the latency one gets --rate later)
  case "$1" in
    pingpong)   echo "--connections 100 --size 32 --pipeline 1";;
    pipeline16) echo "--connections 100 --size 32 --pipeline 16";;
    conn1000)   echo "--connections 1000 --size 32 --pipeline 4";;
    size16k)    echo "--connections 100 --size 16K --pipeline 1";;
    size1m)     echo "--connections 10 --size 1M --pipeline 1";;
    handshakes) echo "--connections 50 --handshake-only";;
    resumed)    echo "--connections 50 --handshake-only --tls-resume";;
    latency)    echo "--connections 100 --size 32 --pipeline 1";;
    deflate1)   echo "--connections 100 --size 512 --text --pipeline 1 --deflate";;
    deflate16)  echo "--connections 100 --size 512 --text --pipeline 16 --deflate";;
    *) return 1;;
  esac
}

scenario_title() {
  case "$1" in
    pingpong)   echo "100 conns x 32 B, ping-pong";;
    pipeline16) echo "100 conns x 32 B, pipeline 16";;
    conn1000)   echo "1,000 conns x 32 B, pipeline 4";;
    size16k)    echo "100 conns x 16 KiB, ping-pong";;
    size1m)     echo "10 conns x 1 MiB, ping-pong";;
    handshakes) echo "handshakes (connect, upgrade, close)";;
    resumed)    echo "resumed TLS handshakes (connect, upgrade, close; wss:// only)";;
    latency)    echo "latency at 50% of the ping-pong maximum";;
    deflate1)   echo "100 conns x 512 B text, permessage-deflate, ping-pong";;
    deflate16)  echo "100 conns x 512 B text, permessage-deflate, pipeline 16";;
    *) echo "$1";;
  esac
}
