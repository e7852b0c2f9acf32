#!/usr/bin/env bash
# The seed's examples/multiple/master.rkt: five nodes on localhost (a bank,
# three workers, a place restarted whenever it ends). The seed runs for
# ever: stop it with Ctrl-C, or --seconds N. Installs what is missing and
# builds first.
#
#   samples/run-multiple.sh                 # until Ctrl-C
#   samples/run-multiple.sh --seconds 20
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
exec "$build/samples/multiple/multiple" "$@"
