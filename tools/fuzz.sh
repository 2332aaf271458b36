#!/usr/bin/env bash
# Fuzzes Baton's parsers with libFuzzer and AddressSanitizer (docs/testing.md, "Fuzzing").
#
#   tools/fuzz.sh [--time SECONDS] [--jobs N] [TARGET...]   run each target (default: all) for SECONDS (default 60)
#   tools/fuzz.sh --build                                  build the instrumented driver only
#   tools/fuzz.sh --list                                   the targets
#
# The driver is built once under .build-fuzz (release, -sanitize=fuzzer,address). Each
# target starts from its committed seeds (tools/fuzz/corpus/TARGET) plus what earlier runs
# found (var/fuzz/corpus/TARGET); a crash leaves its input in var/fuzz/artifacts/TARGET/
# and fails the run. A crash found becomes a regression: minimize it
# (`BATON_FUZZ_TARGET=T .build-fuzz/release/baton-fuzz -minimize_crash=1 -runs=10000 FILE`),
# commit it under tools/fuzz/regressions/TARGET/, and FuzzTests replays it from then on.
# Each run's figures (executions, coverage, corpus) go to var/fuzz/TARGET.stats.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(sip sdp ng identity digest http-json relay)
TIME=60
JOBS=1
BUILD_ONLY=0
SELECTED=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) TIME="$2"; shift 2 ;;
        --jobs) JOBS="$2"; shift 2 ;;
        --build) BUILD_ONLY=1; shift ;;
        --list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) SELECTED+=("$1"); shift ;;
    esac
done
[ ${#SELECTED[@]} -gt 0 ] || SELECTED=("${TARGETS[@]}")
for t in "${SELECTED[@]}"; do
    [[ " ${TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (tools/fuzz.sh --list)" >&2; exit 2; }
done

echo "fuzz.sh: building the instrumented driver (.build-fuzz)"
set +e
swift build -c release --scratch-path .build-fuzz --product baton-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DBATON_FUZZ -Xswiftc -use-ld=lld 2>&1 | grep -Ev 'ld.gold: warning: Cannot export local symbol'
built=${PIPESTATUS[0]}
set -e
# A failed build must not leave an older driver to run.
[ "$built" = 0 ] || { echo "fuzz.sh: the build failed" >&2; exit 1; }
DRIVER=.build-fuzz/release/baton-fuzz
[ "$BUILD_ONLY" = 1 ] && exit 0

export SWIFT_BACKTRACE=enable=no
# Leaks: Swift's runtime caches and NIO's singleton threads are reachable at exit; what is
# lost per input shows as growing RSS, which -rss_limit_mb catches.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:symbolize=1"
failed=0
run_one() {
    local t="$1"
    mkdir -p "var/fuzz/corpus/$t" "var/fuzz/artifacts/$t"
    local log="var/fuzz/$t.log"
    echo "fuzz.sh: $t for ${TIME}s"
    set +e
    BATON_FUZZ_TARGET="$t" "$DRIVER" -max_total_time="$TIME" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="var/fuzz/artifacts/$t/" \
        "var/fuzz/corpus/$t" "tools/fuzz/corpus/$t" > "$log" 2>&1
    local rc=$?
    set -e
    local execs cov ft corp
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -Eo '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
    printf 'target=%s seconds=%s rc=%s executions=%s last=%s\n' "$t" "$TIME" "$rc" "${execs:-0}" "$cov" | tee "var/fuzz/$t.stats"
    if [ "$rc" != 0 ]; then
        echo "fuzz.sh: $t FAILED (rc=$rc); the input is under var/fuzz/artifacts/$t/; the report:" >&2
        grep -E 'ERROR|Fatal error|SUMMARY|==[0-9]+==|#[0-9]+ 0x' "$log" | head -40 >&2
        return 1
    fi
}
export -f run_one
export DRIVER TIME
if [ "$JOBS" -gt 1 ]; then
    printf '%s\n' "${SELECTED[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}' || failed=1
else
    for t in "${SELECTED[@]}"; do run_one "$t" || failed=1; done
fi
exit $failed
