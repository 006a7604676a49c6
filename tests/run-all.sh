#!/bin/sh
# Runs every test against the build in $1 (the sanitizer build for `make
# check`): the cmocka unit tests, then the pytest system tests, which start
# the real binary. Any sanitizer report fails the run. The last line is
# "N passed, N failed" summed over both, and is also written to
# $1/test-summary.txt for .ci/run.
set -u
BUILD=${1:?usage: tests/run-all.sh BUILD_DIR}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ISTHMUS_BIN="$BUILD/isthmus"
SANITIZER_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer'

passed=0
failed=0
rm -f "$BUILD/test-summary.txt"

echo "== unit tests"
for t in "$BUILD"/tests/unit/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    out=$(CMOCKA_MESSAGE_OUTPUT=stdout "$t" 2>&1)
    rc=$?
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    p=${p:-0}
    f=${f:-0}
    if printf '%s\n' "$out" | grep -Eq "$SANITIZER_RE"; then
        echo "$name: sanitizer report"
        f=$((f + 1))
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: exited $rc"
        f=1
    fi
    if [ "$f" -ne 0 ]; then
        printf '%s\n' "$out"
    fi
    echo "$name: $p passed, $f failed"
    passed=$((passed + p))
    failed=$((failed + f))
done

# The libFuzzer harnesses (tests/fuzz), a few seconds each from their
# committed corpus, which holds every input of a crash fixed so far: they
# keep building and no known crash comes back. Each is one test. They run
# at nice 19 beside the system tests, which mostly wait on sockets and
# timers: the minute they take is not added to the run.
fuzz_out="$BUILD/fuzz-check.out"
fuzz_pid=""
if [ -n "${FUZZ_BUILD:-}" ]; then
    rm -f "$fuzz_out"
    (FUZZ_FRESH=1 nice -n 19 "$TOP/tests/fuzz/run.sh" "$FUZZ_BUILD" \
        "${FUZZ_CHECK_SECONDS:-3}" > "$fuzz_out" 2>&1) &
    fuzz_pid=$!
fi

echo "== system tests"
xml="$BUILD/pytest-junit.xml"
rm -f "$xml"
# Two at a time (pytest-xdist): most tests wait on sockets and timers,
# not on the CPU, and each makes its own ports, directories and clusters.
# ISTHMUS_TEST_JOBS=1 runs them one after another.
jobs=${ISTHMUS_TEST_JOBS:-2}
par=""
if [ "$jobs" -gt 1 ] && /usr/bin/python3 -c "import xdist" 2>/dev/null; then
    par="-n $jobs"
fi
# shellcheck disable=SC2086
(cd "$TOP" && /usr/bin/python3 -m pytest tests/system -q -p no:cacheprovider \
    $par --junitxml="$xml")
rc=$?
if [ -f "$xml" ]; then
    set -- $(/usr/bin/python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = s = 0
for su in suites:
    t += int(su.get("tests", 0))
    f += int(su.get("failures", 0)) + int(su.get("errors", 0))
    s += int(su.get("skipped", 0))
print(t - f - s, f, s)
PY
)
    passed=$((passed + $1))
    failed=$((failed + $2))
    [ "$3" -ne 0 ] && echo "system tests: $3 skipped"
    # pytest exiting non-zero with no failing test (e.g. a crash in
    # collection) is still a failure
    if [ "$rc" -ne 0 ] && [ "$2" -eq 0 ]; then failed=$((failed + 1)); fi
else
    echo "system tests: pytest did not run (exit $rc)"
    failed=$((failed + 1))
fi

if [ -n "$fuzz_pid" ]; then
    wait "$fuzz_pid"
    echo "== fuzz harnesses"
    out=$(cat "$fuzz_out" 2>/dev/null)
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | grep -c '^fuzz_[a-z0-9_]*: passed')
    f=$(printf '%s\n' "$out" | grep -c '^fuzz_[a-z0-9_]*: failed')
    # no harness at all (none listed, or the script broke) is a failure
    [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
fi

summary="$passed passed, $failed failed"
echo "$summary" > "$BUILD/test-summary.txt"
echo "$summary"
[ "$failed" -eq 0 ]
