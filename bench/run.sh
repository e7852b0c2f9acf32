#!/usr/bin/env bash
# The benchmarks in one command: install what is missing, build (release,
# in build-bench/), then run every workload for libdp, raw TCP and ZeroMQ
# and print one table (bench/run.py).
#
#   bench/run.sh                       # 5 repetitions of every workload (W0 W1 W1S W2 W2C
#                                      # W2R W3 W4 W5 W6 W7 W8 W8R), the machine's costs on top
#   bench/run.sh --quick               # 1 repetition
#   bench/run.sh --reps 3 --workloads W2,W3 --json results.json
#   bench/run.sh --results bench/RESULTS.md   # also rewrite bench/RESULTS.md with this run
#                                      # (its "What the baselines do" is kept; notes dropped)
#
# LIBDP_BENCH_BUILD=DIR builds and runs in DIR instead of build-bench/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)    # no cd: --json FILE is relative to the caller

"$top/sdk/install-deps.sh"
build=${LIBDP_BENCH_BUILD:-$top/build-bench}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" -Dbuildtype=release -Dtests=false -Dbench=true >/dev/null
fi
if ! ninja -C "$build" >"$build/bench-build.log" 2>&1; then
  cat "$build/bench-build.log" >&2
  echo "bench/run.sh: the build failed" >&2
  exit 1
fi

export LIBDP_BENCH_COMMAND="bench/run.sh${*:+ $*}"
# W1S spawns nodes over ssh: run next to a private sshd on loopback (the
# test fixture; LIBDP_BENCH_NO_SSH=1 skips it)
if [ -z "${LIBDP_BENCH_NO_SSH:-}" ] && [ -x /usr/sbin/sshd ]; then
  exec "$top/tests/sshd-fixture.sh" python3 "$top/bench/run.py" --build "$build" "$@"
fi
exec python3 "$top/bench/run.py" --build "$build" "$@"
