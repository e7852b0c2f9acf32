#!/usr/bin/env bash
# The test command: install what is missing, build, and run the whole test
# suite twice — a plain build and one under AddressSanitizer + UBSan — then
# fuzz the codec and the connection reader for a bounded time (a clang
# build with libFuzzer, the suite `fuzz`: DP_FUZZ_SECONDS, 20 s each).
#
#   tests/run-all.sh
#
# The plain build also builds the gi-docgen API reference (-Ddocs=true).
#
# The plain and the sanitizer build both run the `netns` suite (16 network
# namespaces with an sshd each, tests/netns/netns.sh; about a minute each):
# it needs root, as CI has, and fails saying so otherwise.
#
# Every build always runs, even when one before it failed, so one failure
# cannot hide another; the script ends with one line per build and exits
# non-zero if any failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

sdk/install-deps.sh || { echo "run-all: installing the dependencies failed" >&2; exit 1; }

jobs=$(nproc)
declare -A result
t_start=$SECONDS

# build_and_test NAME DIR [meson setup options...]
build_and_test() {
  local name=$1 dir=$2; shift 2
  local t0=$SECONDS
  echo "== $name =="
  if [ ! -f "$dir/build.ninja" ] && ! meson setup "$dir" "$@"; then
    result[$name]="FAILED (meson setup)"
    return
  fi
  if ! ninja -C "$dir"; then
    result[$name]="FAILED (build)"
    return
  fi
  if ! meson test -C "$dir" --print-errorlogs --num-processes "$jobs" "${test_args[@]}"; then
    # LeakSanitizer's own tracer sometimes crashes at a process's exit
    # after every test in it passed ("Tracer caught signal 11 … LeakSanitizer
    # has encountered a fatal error": google/sanitizers#1353, seen once in
    # five runs of the ASan netns suite): such a program, and only such,
    # runs once more. A failed assertion, a leak report or a crash of
    # anything else fails as it did.
    local again
    again=$(lsan_tracer_crashes "$dir/meson-logs/testlog.json")
    if [ -z "$again" ] ||
       ! meson test -C "$dir" --print-errorlogs --num-processes "$jobs" "${test_args[@]}" $again; then
      result[$name]="FAILED (tests; see $dir/meson-logs/testlog.txt)"
      return
    fi
    result[$name]="passed in $((SECONDS - t0)) s (run again after LeakSanitizer's tracer crashed at exit: $again)"
    return
  fi
  result[$name]="passed in $((SECONDS - t0)) s"
}

# The names of the failed tests of a meson test log, if every failure is
# LeakSanitizer's tracer crashing at exit with no subtest failed; nothing
# otherwise.
lsan_tracer_crashes() {
  python3 - "$1" <<'PY'
import json, sys
names = []
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] in ("OK", "SKIP", "EXPECTEDFAIL"):
        continue
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    if ("Tracer caught signal" not in out or
            "LeakSanitizer has encountered a fatal error" not in out or
            "\nnot ok" in out or "Bail out!" in out or "ERROR: AddressSanitizer" in out or
            "runtime error:" in out):
        sys.exit(0)
    names.append(t["name"].split(" / ")[-1])
print(" ".join(names))
PY
}

# The plain build also builds the API reference (-Ddocs=true: gi-docgen,
# warnings fatal) and runs the test `reference` (every public symbol
# documented, with `Since:`, an example per type): a broken doc comment
# fails here. About 15 s more (the reference ~10 s, the check ~3-5 s).
test_args=()
if [ -f build/build.ninja ]; then
  meson configure build -Ddocs=true >/dev/null || { echo "run-all: meson configure build -Ddocs=true failed" >&2; exit 1; }
fi
build_and_test "plain build" build -Ddocs=true

test_args=(--timeout-multiplier 3)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# GLib 2.74 hands GVariants and GBytes out of GSlice blocks, which
# LeakSanitizer cannot see into: plain malloc, so that a leaked one shows
export G_SLICE=always-malloc
build_and_test "AddressSanitizer + UBSan build" build-asan \
  -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false

# the harnesses of tests/fuzz/ under libFuzzer (the other builds only
# replay their corpora); the two run side by side
test_args=(--suite fuzz)
CC=clang build_and_test "libFuzzer build" build-fuzz \
  -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false

echo
echo "== summary ($((SECONDS - t_start)) s) =="
status=0
for name in "plain build" "AddressSanitizer + UBSan build" "libFuzzer build"; do
  echo "$name: ${result[$name]}"
  case "${result[$name]}" in FAILED*) status=1 ;; esac
done
exit $status
