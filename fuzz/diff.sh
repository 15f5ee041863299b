#!/bin/bash
#
# Differential fuzzing: core/'s scanners of an old tree against a new one
# (fuzz/diff/, fuzz/README.md "Differential fuzzing").
#
#   fuzz/diff.sh [--old REV] [--new DIR | --new-rev REV] [--build-only]
#                [TARGET...]
#
# Targets: req (llr_req), usage (llr_usage), sse (llr_sse); default all.
#   --old REV      the old scanners: core/ of REV (default ae85e40, main
#                  before issue 27's rewrites), taken with git archive
#   --new DIR      the new scanners: the core/ of a checkout (DIR, or
#                  DIR/ngx_llm_route_module/core); default this checkout
#   --new-rev REV  the new scanners: core/ of REV (a branch, a commit),
#                  taken with git archive (another branch's worktree is
#                  never read)
#   --build-only   build the targets, run nothing
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 30)
#   FUZZ_JOBS     targets run at the same time (default: number of CPUs)
#   FUZZ_FRESH=1  start from the seeds (default: keep the corpus grown
#                 by earlier runs, build/diff/corpus-<target>)
#   FUZZ_ARGS     extra libFuzzer arguments
#   DIFF_BYTES=1  the request scanner's output must be the same bytes
#                 (default: the same JSON, see fuzz/diff/diff_req.c)
#   DIFF_TAP_TEMPLATES=1  the new SSE parser feeds the tap from its
#                 templates: compare that too (fuzz/diff/diff_sse.c)
#   CLANG         the compiler (default clang)
#
# Each core/ is compiled (ASan, UBSan, libFuzzer coverage) into
# build/diff/obj/<tree>/ together with the side adapters (side_*.c),
# every global symbol then prefixed with old_ or new_ (llvm-objcopy
# --redefine-syms) into one archive per side; each target links both.
# Differences do not stop a run: the first input of each kind is saved
# in build/diff/out/<new tree>/ (the input, and <input>.txt saying what
# differed); information (different error messages, the same JSON in
# other bytes) goes to build/diff/logs/<target>.info.
#
# Exit status: 0 when no difference was found and nothing crashed, 1
# otherwise, 2 on a build failure.

set -u
set -o pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/build/diff
SECONDS_EACH=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
CLANG=${CLANG:-clang}
SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
CFLAGS="-g -O1 -fno-omit-frame-pointer -fno-common -fno-addrsig -Wall"
CFLAGS="$CFLAGS -Wextra -Wno-unused-parameter"
OLD_REV=ae85e40
NEW_DIR=
NEW_REV=
BUILD_ONLY=0

while [ $# -gt 0 ]; do
    case $1 in
    --old) OLD_REV=$2; shift 2 ;;
    --new) NEW_DIR=$2; shift 2 ;;
    --new-rev) NEW_REV=$2; shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "fuzz/diff.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done

TARGETS=${*:-req usage sse}

if command -v llvm-objcopy >/dev/null; then
    OBJCOPY=llvm-objcopy
else
    OBJCOPY=objcopy
fi

for t in "$CLANG" nm ar "$OBJCOPY"; do
    if ! command -v "$t" >/dev/null; then
        echo "fuzz/diff.sh: $t not found (apt-get install clang binutils)" >&2
        exit 2
    fi
done

mkdir -p "$OUT/src" "$OUT/obj" "$OUT/logs" "$OUT/crashes"

# one build at a time (runs against two trees may start together)
exec 9>"$OUT/.build.lock"
flock 9

# --- the two trees ----------------------------------------------------------

# core/ of a revision, extracted once: prints the directory, named
# after core/'s tree (commits that leave core/ as it was share it)
extract() {
    local sha dir

    sha=$(git -C "$TOP" rev-parse --verify "$1:ngx_llm_route_module/core") \
        || return 1
    dir=$OUT/src/${sha:0:12}
    if [ ! -f "$dir/.done" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        git -C "$TOP" archive "$sha" \
            | tar -x -C "$dir" || return 1
        : >"$dir/.done"
    fi
    echo "$dir"
}

if ! OLD_SRC=$(extract "$OLD_REV"); then
    echo "fuzz/diff.sh: no $OLD_REV" >&2
    exit 2
fi
OLD_TAG=old-nocmp-$(basename "$OLD_SRC")

if [ -n "$NEW_REV" ]; then
    NEW_SRC=$(extract "$NEW_REV") \
        || { echo "fuzz/diff.sh: no $NEW_REV" >&2; exit 2; }
    NEW_TAG=new-$(basename "$NEW_SRC")
    NEW_NAME="$NEW_REV ($(git -C "$TOP" rev-parse --short=12 "$NEW_REV"),"
    NEW_NAME="$NEW_NAME core/ tree $(basename "$NEW_SRC"))"
else
    NEW_DIR=${NEW_DIR:-$TOP}
    if [ -f "$NEW_DIR/ngx_llm_route_module/core/llr_req.c" ]; then
        NEW_DIR=$NEW_DIR/ngx_llm_route_module/core
    fi
    if [ ! -f "$NEW_DIR/llr_req.c" ]; then
        echo "fuzz/diff.sh: no core/ in $NEW_DIR" >&2
        exit 2
    fi
    NEW_SRC=$(cd "$NEW_DIR" && pwd)
    NEW_TAG=new-dir-$(echo "$NEW_SRC" | md5sum | cut -c1-8)
    NEW_NAME="$NEW_SRC (working tree)"
fi

# --- one side: core objects + adapters, symbols prefixed, one archive ------

# build_side SRC TAG PREFIX: prints the archive.  The old side without
# libFuzzer's comparison tracing (half the time of an execution went to
# it); the new side's comparisons still guide the mutations.
build_side() {
    local src=$1 tag=$2 prefix=$3 obj=$OUT/obj/$2 f o lib n=0 pid cov=""
    local -a objs pids

    [ "$prefix" = old ] && cov=-fno-sanitize-coverage=trace-cmp

    mkdir -p "$obj/raw" "$obj/renamed"
    lib=$obj/lib$prefix.a

    # a tree's headers changed: everything again
    if [ -n "$(find "$src" -name 'llr*.h' -newer "$lib" 2>/dev/null)" ]
    then
        rm -f "$obj"/raw/*.o
    fi

    for f in "$src"/llr*.c "$TOP"/fuzz/diff/side_*.c; do
        # the classifier's built-in model: 53,000 lines nothing here needs
        case $f in */llr_default_model.c) continue ;; esac
        o=$obj/raw/$(basename "${f%.c}").o
        if [ ! -f "$o" ] || [ "$f" -nt "$o" ] \
           || { [ "${f#"$TOP"/fuzz/diff/}" != "$f" ] \
                && [ "$TOP/fuzz/diff/diff.h" -nt "$o" ]; }
        then
            echo "CC $tag/$(basename "$f")" >&2
            rm -f "$o"
            $CLANG $CFLAGS -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=all $cov -I"$src" \
                -I"$TOP/fuzz/diff" -c "$f" -o "$o" >&2 &
            pids+=($!)
            n=$((n + 1))
            if [ "$n" -ge "$JOBS" ]; then
                wait -n
                n=$((n - 1))
            fi
        fi
        objs+=("$o")
    done

    for pid in "${pids[@]}"; do
        wait "$pid"
    done
    for o in "${objs[@]}"; do
        [ -f "$o" ] || return 1
    done

    if [ -f "$lib" ] && [ -z "$(find "$obj/raw" -name '*.o' -newer "$lib")" ]
    then
        echo "$lib"
        return 0
    fi

    # every global symbol the side defines gets the prefix, in the
    # objects that define it and in those that use it
    nm -g --defined-only --format=posix "${objs[@]}" 2>/dev/null \
        | awk 'NF >= 2 && $1 !~ /:$/ { print $1 }' | sort -u \
        | awk -v p="${prefix}_" '{ print $1, p $1 }' >"$obj/syms"

    rm -f "$obj"/renamed/*.o "$lib"
    for o in "${objs[@]}"; do
        $OBJCOPY --redefine-syms="$obj/syms" "$o" \
            "$obj/renamed/$(basename "$o")" || return 1
    done

    ar rcs "$lib" "$obj"/renamed/*.o || return 1
    echo "$lib"
}

OLD_LIB=$(build_side "$OLD_SRC" "$OLD_TAG" old) || exit 2
NEW_LIB=$(build_side "$NEW_SRC" "$NEW_TAG" new) || exit 2

BIN=$OUT/bin/$NEW_TAG
mkdir -p "$BIN"

for t in $TARGETS; do
    if [ ! -f "$TOP/fuzz/diff/diff_$t.c" ]; then
        echo "fuzz/diff.sh: no target $t (req, usage, sse)" >&2
        exit 2
    fi
    echo "LD diff_$t ($NEW_TAG)"
    $CLANG $CFLAGS $SAN -I"$TOP/fuzz/diff" -o "$BIN/diff_$t" \
        "$TOP/fuzz/diff/diff_$t.c" "$TOP/fuzz/diff/diff_common.c" \
        "$OLD_LIB" "$NEW_LIB" -lyajl -lpcre2-8 -lhiredis -lm || exit 2
done

flock -u 9

if [ "$BUILD_ONLY" = 1 ]; then
    echo "built in $BIN"
    exit 0
fi

# --- seeds ----------------------------------------------------------------

# the seeds of the matching fuzz target, its regressions, and for the
# request scanner the benchmark bodies (bench/gen-bodies.pl), each
# behind a control byte for chat/messages in whole and in small pieces
seed() {
    local t=$1 corpus=$2 f b

    if [ -d "$TOP/fuzz/seeds/$t" ]; then
        cp -p "$TOP/fuzz/seeds/$t"/* "$corpus"/ 2>/dev/null
    fi
    for f in "$TOP/fuzz/regressions/$t"-*; do
        [ -f "$f" ] && cp -p "$f" "$corpus/"
    done
    [ "$t" = req ] || return 0

    if [ ! -d "$OUT/bench-bodies" ]; then
        mkdir -p "$OUT/bench-bodies"
        perl "$TOP/bench/gen-bodies.pl" "$OUT/bench-bodies" \
            "$TOP/../shared/data" >/dev/null 2>&1 \
            || echo "fuzz/diff.sh: no bench bodies (bench/gen-bodies.pl)" >&2
    fi
    for f in "$OUT"/bench-bodies/{200,2k,32k}-*.json; do
        [ -f "$f" ] || continue
        # the endpoint (chat, messages) in pieces of 1..12 and 1..64
        case $f in *-messages.json) b='\x2d\xfd' ;; *) b='\x28\xf8' ;; esac
        printf "${b:0:4}" | cat - "$f" >"$corpus/bench-a-$(basename "$f")"
        printf "${b:4:4}" | cat - "$f" >"$corpus/bench-b-$(basename "$f")"
    done
}

# --- run -------------------------------------------------------------------

FINDINGS=$OUT/out/$NEW_TAG
mkdir -p "$FINDINGS"

run_one() {
    local t=$1 corpus=$OUT/corpus-$1 log=$OUT/logs/$1.log dict="" len=8192

    [ "${FUZZ_FRESH:-0}" = 1 ] && rm -rf "$corpus"
    mkdir -p "$corpus"
    seed "$t" "$corpus"
    [ -f "$TOP/fuzz/$t.dict" ] && dict="-dict=$TOP/fuzz/$t.dict"
    rm -f "$OUT/logs/$t.info"
    # the request bodies of the benchmarks are up to 32 KB
    [ "$t" = req ] && len=40000

    # shellcheck disable=SC2086
    DIFF_OUT=$FINDINGS DIFF_INFO=$OUT/logs/$t.info \
    "$BIN/diff_$t" -max_len=$len $dict \
        -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2560 \
        -print_final_stats=1 -artifact_prefix="$OUT/crashes/$t-" \
        ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
    echo $? >"$OUT/logs/$t.rc"
}

echo "differential fuzzing: old $OLD_REV (core/ tree $(basename "$OLD_SRC"))" \
     "against new $NEW_NAME, ${SECONDS_EACH}s per target; logs in" \
     "$OUT/logs/"

start=$(date +%s)
: >"$OUT/logs/.start"
running=0
for t in $TARGETS; do
    rm -f "$OUT/logs/$t.rc"
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

# --- report ------------------------------------------------------------------

SAN_ERRORS='ERROR: \(AddressSanitizer\|LeakSanitizer\|libFuzzer\)'
SAN_ERRORS="$SAN_ERRORS\\|runtime error:"
fail=0
printf '%-6s %11s %8s %6s %6s %6s %6s %5s  %s\n' target execs exec/s cov \
    ft corpus diffs info result
for t in $TARGETS; do
    log=$OUT/logs/$t.log
    rc=$(cat "$OUT/logs/$t.rc" 2>/dev/null || echo 99)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' \
           "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    diffs=$(grep -c '^DIFFERENCE ' "$log")
    info=$(grep -c '^info ' "$OUT/logs/$t.info" 2>/dev/null)
    if [ "$rc" = 0 ] && [ "$diffs" = 0 ] \
       && ! grep -q "$SAN_ERRORS" "$log"
    then
        result=ok
    else
        result="FAIL (rc $rc)"
        fail=1
    fi
    printf '%-6s %11s %8s %6s %6s %6s %6s %5s  %s\n' "$t" "${execs:-?}" \
        "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$diffs" \
        "${info:-0}" "$result"
done
echo "total time $(( $(date +%s) - start ))s"

# how often each kind of difference and information was seen (first
# examples in the .info files), and for sse what the caches did
for t in $TARGETS; do
    [ -f "$OUT/logs/$t.info" ] || continue
    if grep -q '^count \|^hits ' "$OUT/logs/$t.info"; then
        echo "$t (executions of each kind; $OUT/logs/$t.info):"
        grep '^count \|^hits ' "$OUT/logs/$t.info" | sed 's/^count /  /'
    fi
done

if [ "$fail" != 0 ]; then
    echo
    grep -h '^DIFFERENCE ' "$OUT"/logs/*.log | sort -u | head -40
    echo "inputs: $FINDINGS/ (replay: $BIN/diff_<target> <input>);" \
         "crashes: $OUT/crashes/"
    exit 1
fi

exit 0
