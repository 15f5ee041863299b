#!/bin/bash
#
# Build and run the libFuzzer targets in fuzz/ (see fuzz/README.md).
#
#   fuzz/run.sh [TARGET...]          targets: req sse usage values model cls mock
#                                    pattern calib fleet xlate xsse jsonv signal
#                                    fbreq (default: every fuzz/fuzz_*.c)
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_JOBS     targets run at the same time (default: number of CPUs)
#   FUZZ_FRESH=1  start from the seeds only (default: keep the corpus
#                 grown by earlier runs in build/fuzz/corpus-<target>)
#   FUZZ_ARGS     extra libFuzzer arguments
#   CLANG         the compiler (default clang)
#
# Exit status: 0 when every target ran clean, 1 on any crash, leak,
# timeout or sanitizer report (the inputs are in build/fuzz/crashes/),
# 2 on a build failure.

set -u
set -o pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CORE=$TOP/ngx_llm_route_module/core
OUT=$TOP/build/fuzz
SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
CLANG=${CLANG:-clang}
SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
CFLAGS="-g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter"

if ! command -v "$CLANG" >/dev/null; then
    echo "fuzz/run.sh: $CLANG not found (apt-get install clang)" >&2
    exit 2
fi

if [ $# -gt 0 ]; then
    TARGETS="$*"
else
    TARGETS=$(cd "$TOP/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
fi

mkdir -p "$OUT/obj" "$OUT/crashes" "$OUT/logs"

# --- build: core objects once (fuzzer-instrumented), then each target ----

objs=()
for src in "$CORE"/llr*.c; do
    obj=$OUT/obj/$(basename "${src%.c}").o
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] \
       || [ -n "$(find "$CORE" -name 'llr*.h' -newer "$obj")" ]
    then
        echo "CC $(basename "$src")"
        # fuzzer-no-link: coverage instrumentation without libFuzzer's main
        $CLANG $CFLAGS -fsanitize=fuzzer-no-link,address,undefined \
            -fno-sanitize-recover=all -I"$CORE" -c "$src" -o "$obj" \
            || exit 2
    fi
    objs+=("$obj")
done

for t in $TARGETS; do
    src=$TOP/fuzz/fuzz_$t.c
    bin=$OUT/fuzz_$t
    if [ ! -f "$src" ]; then
        echo "fuzz/run.sh: no $src" >&2
        exit 2
    fi
    echo "LD fuzz_$t"
    $CLANG $CFLAGS $SAN -I"$CORE" -o "$bin" "$src" "${objs[@]}" \
        -lpcre2-8 -lhiredis -lm || exit 2
done

# --- replay fuzz/regressions/<target>-* (crashes found before) -----------

fail=0
for t in $TARGETS; do
    regs=$(ls "$TOP/fuzz/regressions/$t"-* 2>/dev/null)
    [ -n "$regs" ] || continue
    # shellcheck disable=SC2086
    if ! "$OUT/fuzz_$t" $regs >"$OUT/logs/$t-regressions.log" 2>&1; then
        echo "fuzz_$t: a regression input fails again:" \
             "see $OUT/logs/$t-regressions.log"
        fail=1
    fi
done
if [ "$fail" != 0 ]; then
    exit 1
fi
echo "regressions: replayed $(ls "$TOP/fuzz/regressions" | grep -vc README)" \
     "inputs, ok"

# --- run -----------------------------------------------------------------

run_one() {
    local t=$1 corpus=$OUT/corpus-$1 log=$OUT/logs/$1.log dict=""
    local -a args

    [ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
    mkdir -p "$corpus"
    if [ -d "$TOP/fuzz/seeds/$t" ]; then
        cp -p "$TOP/fuzz/seeds/$t"/* "$corpus"/ 2>/dev/null
    fi
    [ -f "$TOP/fuzz/$t.dict" ] && dict="-dict=$TOP/fuzz/$t.dict"

    # the model target needs whole (small) model files
    case $t in
        model) args=(-max_len=65536) ;;
        *)     args=(-max_len=8192) ;;
    esac

    # shellcheck disable=SC2086
    "$OUT/fuzz_$t" "${args[@]}" $dict \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2560 \
        -print_final_stats=1 -artifact_prefix="$OUT/crashes/$t-" \
        ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
    echo $? >"$OUT/logs/$t.rc"
}

echo "fuzzing $(echo $TARGETS | wc -w) targets, ${SECONDS_EACH}s each," \
     "$JOBS at a time; logs in $OUT/logs/"

start=$(date +%s)
running=0
for t in $TARGETS; do
    rm -f "$OUT/logs/$t.rc"
    : >"$OUT/logs/$t.start"
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

# --- report --------------------------------------------------------------

fail=0
printf '%-8s %12s %9s %8s %8s %7s  %s\n' target execs exec/s cov ft corpus \
    result
for t in $TARGETS; do
    log=$OUT/logs/$t.log
    rc=$(cat "$OUT/logs/$t.rc" 2>/dev/null || echo 99)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # the last status line (DONE, or the last pulse before a crash)
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" \
           | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    crashes=$(find "$OUT/crashes" -name "$t-*" \
              -newer "$OUT/logs/$t.start" | wc -l)
    if [ "$rc" = 0 ] && [ "$crashes" = 0 ] \
       && ! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\|libFuzzer\)\|runtime error:' "$log"
    then
        result=ok
    else
        result="FAIL (rc $rc, $crashes input(s) saved)"
        fail=1
    fi
    printf '%-8s %12s %9s %8s %8s %7s  %s\n' "$t" "${execs:-?}" \
        "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done

echo "total time $(( $(date +%s) - start ))s"

if [ "$fail" != 0 ]; then
    echo
    echo "crash inputs (newest first):"
    ls -t "$OUT/crashes" | head -20 | sed "s|^|  $OUT/crashes/|"
    echo "reproduce: $OUT/fuzz_<target> <input>;" \
         "minimize: $OUT/fuzz_<target> -minimize_crash=1 -runs=10000 <input>"
    exit 1
fi

exit 0
