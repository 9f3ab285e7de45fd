#!/usr/bin/env bash
# Runs every test: the GoogleTest unit suite, then the integration and conformance
# suites that start the real binaries. Ends with one line "N passed, N failed".
# Usage: tests/run_all.sh [BUILD_DIR]   (default build)
# WSRING_INTEGRATION_ARGS adds arguments to the integration runner (e.g. "--backend io_uring");
# WSRING_INTEGRATION_JOBS is its number of worker processes (default 4: most tests wait on
# sockets and timers; the timing-sensitive classes, RUN_ALONE, run one at a time anyway).
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
passed=0; failed=0

# The unit suite in WSRING_UNIT_JOBS GoogleTest shards (default 2, one per core), each test in one.
shards=${WSRING_UNIT_JOBS:-2}
echo "== unit tests ($build/wsring-tests, $shards shards)"
out=$(mktemp); trap 'rm -f "$out" "$out".*' EXIT
for ((i = 0; i < shards; i++)); do
  GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i timeout 600 "$build/wsring-tests" --gtest_brief=1 > "$out.$i" 2>&1 &
  pids[i]=$!
done
for ((i = 0; i < shards; i++)); do
  wait "${pids[i]}"; rc=$?
  cat "$out.$i"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out.$i" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*, listed below.*/\1/p' "$out.$i" | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "$rc" != 0 ] && [ "${f:-0}" = 0 ]; then failed=$((failed + 1)); echo "unit test shard $i exited $rc"; fi
done

echo "== integration and conformance tests"
timeout 1800 /usr/bin/python3 "$here/integration/run.py" --build "$build" --jobs "${WSRING_INTEGRATION_JOBS:-4}" \
  ${WSRING_INTEGRATION_ARGS:-} 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p'); f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
if [ "$rc" != 0 ] && [ "${f:-0}" = 0 ]; then failed=$((failed + 1)); echo "integration runner exited $rc"; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
