#!/usr/bin/env bash
# Runs one libFuzzer harness for a bounded time: the suite `fuzz` of a
# -Dfuzz=true build (tests/fuzz/meson.build).
#
#   run-fuzz.sh HARNESS SEED_DIR ARTIFACT_DIR [libFuzzer options...]
#
# DP_FUZZ_SECONDS (default 20) bounds the run. The seeds are only read:
# what the fuzzer finds goes to a temporary directory, removed afterwards,
# so the tree stays clean. A crash, a leak, an input that hangs or any
# sanitizer report fails the test; the input is kept in ARTIFACT_DIR
# (crash-…, leak-…, timeout-…) and named in the log.
set -euo pipefail
harness=$1 seeds=$2 artifacts=$3
shift 3
seconds=${DP_FUZZ_SECONDS:-20}

work=$(mktemp -d "${TMPDIR:-/tmp}/dp-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# whatever the caller set, a sanitizer report ends the run as a crash
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
# GLib 2.74 carves GVariants, GBytes and many more out of GSlice's own
# blocks, where LeakSanitizer sees no leak: make each a malloc()
export G_SLICE=always-malloc G_DEBUG=gc-friendly

"$harness" -max_total_time="$seconds" -timeout=20 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$@" "$work" "$seeds"
