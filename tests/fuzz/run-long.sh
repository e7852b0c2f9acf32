#!/usr/bin/env bash
# The long fuzzing run: builds the libFuzzer build (build-fuzz, set up as
# tests/run-all.sh sets it up) if needed, fuzzes each harness for SECONDS
# (default 600) and prints one line per harness: executions, executions
# per second, coverage (cov: edges, ft: features, libFuzzer's counts),
# corpus size and crashes.
#
#   tests/fuzz/run-long.sh [SECONDS] [codec|connection...]
#
# DP_FUZZ_WORKERS (default 1): fuzzing processes per harness (libFuzzer's
# -fork=N), for a machine with cores to spare. The corpus grows from run to
# run in build-fuzz/fuzz-corpus/NAME, seeded from tests/fuzz/corpus-NAME
# (which is only read); what crashes, leaks or hangs is kept in
# build-fuzz/fuzz-artifacts/ and the full output in build-fuzz/fuzz-logs/.
# Exits non-zero if any harness found something.
#
# To keep an input as a regression seed: minimise it
# (build-fuzz/tests/fuzz/fuzz-NAME -minimize_crash=1 -runs=100000 FILE),
# copy it into tests/fuzz/corpus-NAME/, and the replay tests of every
# build run it from then on.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

seconds=${1:-600}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(codec connection)
workers=${DP_FUZZ_WORKERS:-1}
dir=build-fuzz

if [ ! -f "$dir/build.ninja" ]; then
  sdk/install-deps.sh || exit 1
  CC=clang meson setup "$dir" -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbench=false || exit 1
fi
ninja -C "$dir" $(printf 'tests/fuzz/fuzz-%s ' "${harnesses[@]}") || exit 1

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
# GLib 2.74 carves GVariants, GBytes and many more out of GSlice's own
# blocks, where LeakSanitizer sees no leak: make each a malloc()
export G_SLICE=always-malloc G_DEBUG=gc-friendly
mkdir -p "$dir/fuzz-artifacts" "$dir/fuzz-logs"

status=0
summary=()
for name in "${harnesses[@]}"; do
  corpus=$dir/fuzz-corpus/$name
  log=$dir/fuzz-logs/$name.log
  mkdir -p "$corpus"
  before=$(ls "$dir/fuzz-artifacts" | wc -l)
  args=(-max_total_time="$seconds" -timeout=20 -print_final_stats=1
        -artifact_prefix="$dir/fuzz-artifacts/")
  [ "$workers" -gt 1 ] && args+=(-fork="$workers" -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  echo "== fuzz-$name: ${seconds} s, $workers worker(s), log $log =="
  t0=$SECONDS
  "$dir/tests/fuzz/fuzz-$name" "${args[@]}" "$corpus" "tests/fuzz/corpus-$name" >"$log" 2>&1
  rc=$?
  found=$(( $(ls "$dir/fuzz-artifacts" | wc -l) - before ))
  # the last status line: "#N DONE cov: C ft: F corp: K/..b ... exec/s: R"
  # (or, forked, "#N: cov: C ft: F corp: K exec/s: R ...")
  last=$(grep -E '^#[0-9]+:?[[:space:]]+([A-Z]+[[:space:]]+)?cov:' "$log" | tail -n 1)
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
  rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
  # forked, there is no final average: the executions over the time taken
  [ -n "$rate" ] || rate=$(( ${execs:-0} / (SECONDS - t0 > 0 ? SECONDS - t0 : 1) ))
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
  files=$(ls "$corpus" | wc -l)
  if [ $rc -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -n 10
  fi
  summary+=("fuzz-$name: ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus $files files, $found crash(es) (exit $rc)")
done

echo
echo "== summary =="
printf '%s\n' "${summary[@]}"
exit $status
