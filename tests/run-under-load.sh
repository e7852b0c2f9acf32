#!/usr/bin/env bash
# Runs the plain test suite on a loaded machine: one busy loop per core
# (two on a 2-core machine) holds every CPU while the suite runs, ROUNDS
# times in a row (default 2). A test that assumes a speed fails here.
#
#   tests/run-under-load.sh [ROUNDS]
#
# The busy loops are bounded (they end by themselves after an hour) and are
# stopped when the script ends, whatever happens. Builds build/ first if
# needed (the same plain build as tests/run-all.sh).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

rounds=${1:-2}
loops=$(nproc)
[ "$loops" -ge 2 ] || loops=2

sdk/install-deps.sh || exit 1
if [ ! -f build/build.ninja ]; then
  meson setup build || exit 1
fi
ninja -C build || exit 1

pids=()
stop_loops() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait "${pids[@]}" 2>/dev/null
}
trap stop_loops EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$loops"); do
  timeout 3600 sh -c 'while :; do :; done' &
  pids+=($!)
done
echo "run-under-load: $loops busy loops running (pids ${pids[*]})"

status=0
for r in $(seq "$rounds"); do
  t0=$SECONDS
  echo "== round $r of $rounds, under load =="
  if meson test -C build --print-errorlogs --num-processes "$(nproc)"; then
    echo "run-under-load: round $r passed in $((SECONDS - t0)) s"
  else
    echo "run-under-load: round $r FAILED after $((SECONDS - t0)) s (build/meson-logs/testlog.txt)"
    status=1
  fi
done
exit $status
