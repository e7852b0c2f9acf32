#!/usr/bin/env bash
# The seed's examples/restart/master.rkt: one node on localhost, a place
# that sleeps 5 s and returns, relaunched whenever it ends; exits after
# 50 s (or Ctrl-C). Installs what is missing and builds first.
#
#   samples/run-restart.sh                  # as in the seed (50 s)
#   samples/run-restart.sh --seconds 12     # stop sooner
#   DP_TIME_SCALE=20 samples/run-restart.sh # every libdp timer and sleep 20x faster
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
exec "$build/samples/restart/restart" "$@"
