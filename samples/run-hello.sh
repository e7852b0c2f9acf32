#!/usr/bin/env bash
# The main job: install what is missing, build, and run the seed's
# hello-world on a one-node cluster on localhost (no sshd needed).
#
#   samples/run-hello.sh            # as in the seed: reply after 2 s, exit after 6 s
#   samples/run-hello.sh --fast     # exit as soon as the reply arrives
#
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sdk/install-deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build >/dev/null
fi
ninja -C build >/dev/null

# The master finds dp-node through DP_NODE_PATH (an installed libdp finds it
# on its own); the secret lives in ~/.config/libdp/cookie, created on first use.
export DP_NODE_PATH="$top/build/loader/dp-node"
exec "$top/build/samples/hello-world/hello-world" "$@"
