#!/usr/bin/env bash
# The seed's test restarter.rkt: a place that sleeps 1 s and returns, under
# restart-every 5 #:retry 3: it runs four times, then the master prints
# "Failed 3 times exititing" and exits with status 1 (about 15 s).
# Installs what is missing and builds first.
#
#   samples/run-restarter.sh                  # as in the seed
#   samples/run-restarter.sh --keep-running   # examples/restart/restarter.rkt: no
#                                             #   on-final-fail, runs until Ctrl-C
#   DP_TIME_SCALE=20 samples/run-restarter.sh # 20x faster (under a second)
#
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILDDIR:-$top/build}
cd "$top"

sdk/install-deps.sh
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" >/dev/null
fi
ninja -C "$build" >/dev/null

export DP_NODE_PATH="$build/loader/dp-node"
exec "$build/samples/restart/restarter" "$@"
