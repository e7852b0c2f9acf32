#!/usr/bin/env bash
# The test command: install what is missing, build, and run the whole test
# suite twice — a plain build and one under AddressSanitizer + UBSan.
#
#   tests/run-all.sh
#
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sdk/install-deps.sh

jobs=$(nproc)

echo "== plain build =="
if [ ! -f build/build.ninja ]; then
  meson setup build
fi
ninja -C build
meson test -C build --print-errorlogs --num-processes "$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false
fi
ninja -C build-asan
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  meson test -C build-asan --print-errorlogs --num-processes "$jobs" --timeout-multiplier 3
