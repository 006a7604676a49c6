#!/bin/sh
# Runs every libFuzzer harness of BUILD_DIR (a -Dfuzz=true build) for
# SECONDS each, one after another (one core): first every input of its
# committed corpus tests/fuzz/corpus/TARGET (seeds and the inputs of crashes
# fixed since, regress-*), then new inputs for the rest of the time. New
# inputs go to BUILD_DIR/fuzz-corpus/TARGET, never into the source tree; a
# crash leaves its input in BUILD_DIR/fuzz-artifacts/. With FUZZ_FRESH set
# (make check) the inputs found before are left out: a fresh directory.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# Prints one line per harness, "fuzz_X: passed|failed (...)", and exits
# non-zero if any failed. FUZZ_LOG_DIR keeps each harness's full output.
set -u
BUILD=${1:?usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
SECS=${2:?usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
LOGS=${FUZZ_LOG_DIR:-$BUILD/fuzz-logs}
mkdir -p "$LOGS" "$BUILD/fuzz-artifacts"
# Leaks are bugs too; UBSan stops at the first report (-fno-sanitize-
# recover) and libFuzzer treats that as a crash.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The file parsers write a file per input (and the cache's writer syncs
# it): on tmpfs when there is one.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi

if [ $# -eq 0 ]; then
    for d in "$TOP"/tests/fuzz/corpus/*/; do
        set -- "$@" "$(basename "$d")"
    done
fi
failed=0
for t in "$@"; do
    bin="$BUILD/tests/fuzz/$t"
    work="$BUILD/fuzz-corpus/$t"
    if [ -n "${FUZZ_FRESH:-}" ]; then
        # make check: the committed corpus only, whatever longer runs
        # found, so its time stays the same
        work="$BUILD/fuzz-check/$t"
        rm -rf "$work"
    fi
    log="$LOGS/$t.log"
    if [ ! -x "$bin" ]; then
        echo "$t: failed (not built: $bin)"
        failed=$((failed + 1))
        continue
    fi
    mkdir -p "$work"
    # -timeout: an input that takes seconds is a hang; -rss_limit_mb: one
    # that takes 2 GB is a bug. The committed corpus is read, not written.
    nice -n 19 "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$BUILD/fuzz-artifacts/$t-" \
        "$work" "$TOP/tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    stats=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        echo "$t: passed (${stats:-0} runs, ${cov:-cov: ?})"
    else
        echo "$t: failed (exit $rc; $log)"
        grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|Test unit written' \
            "$log" | head -5
        failed=$((failed + 1))
    fi
done
[ "$failed" -eq 0 ]
