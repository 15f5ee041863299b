#!/bin/bash
#
# Instructions (valgrind --tool=callgrind) per answer of the quality
# signals (core/llr_signal: the accumulator fed through the response
# scanners' hook, with the default refusal patterns), next to the
# response filters' own work for the same answers (bench/cg_resp.c):
#
#   - a non-streamed answer with 1 KB and 100 KB of text;
#   - a stream of 200 events (cg_resp's);
#   - a tool call whose arguments stream in 40 deltas;
#   - a JSON-mode answer streamed in 100 deltas.
#
#   bench/callgrind-signals.sh [--out FILE]   (default
#                                   bench/results/callgrind-signals.md)
#
# Per answer = (Ir of 1+K answers - Ir of 1 answer) / K (bench/cg-lib.sh).
# Needs gcc, valgrind, libyajl-dev, libpcre2-dev.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
CORE=$TOP/ngx_llm_route_module/core
OUT=$HERE/results/callgrind-signals.md

while [ $# -gt 0 ]; do
    case "$1" in
    --out) OUT=$2; shift ;;
    *) echo "callgrind-signals.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null

W=$(mktemp -d /tmp/llr-cgs.XXXXXX)
trap 'rm -rf "$W"' EXIT

CFLAGS="-std=gnu99 -O2 -g -Wall -Wextra -Werror -Wpointer-arith"
CFLAGS="$CFLAGS -Wno-unused-parameter"
for p in cg_sig cg_resp; do
    gcc $CFLAGS -I"$CORE" -o "$W/$p" "$HERE/$p.c" "$CORE"/llr_*.c \
        -lyajl -lpcre2-8 -lm
done

# ir, per_req
. "$HERE/cg-lib.sh"

row() {
    # row LABEL SIG_ARGS [RESP_ARGS]
    local s r
    s=$(per_req 10 bench_sig "$W/cg_sig" $2)
    if [ -n "${3:-}" ]; then
        r=$(per_req 10 bench_resp "$W/cg_resp" $3)
        printf '| %s | %d | %d | %+.0f%% |\n' "$1" "$s" "$r" \
            "$(echo "100 * $s / $r" | bc -l)"
    else
        printf '| %s | %d | | |\n' "$1" "$s"
    fi
}

{
echo "# bench/callgrind-signals.sh — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Instructions (Ir) per answer of the quality signals (llr_signal fed"
echo "through the scanners' hook, default refusal patterns; the calls a"
echo "scanner would make included), and of the response filter alone"
echo "for the same answer (bench/cg_resp.c), callgrind, gcc -O2."
echo
echo "| answer | signals Ir | filter Ir | added to the filter |"
echo "|---|---:|---:|---:|"
row "JSON, 1 KB of text" "json 1024" "usage 1024"
row "JSON, 100 KB of text" "json 102400" "usage 102400"
row "SSE, 200 events (~41 KB)" "sse 200" "sse 200"
row "tool call, arguments in 40 deltas" "tools 40"
row "JSON mode, 100 deltas (1.1 KB)" "json-mode 100"
echo
echo "Where the 200-event stream's signals go (callgrind_annotate, self Ir):"
echo
ir bench_sig "$W/cg_sig" sse 200 11 > /dev/null
echo '```'
callgrind_annotate --inclusive=no "$W/cg.out" 2>/dev/null \
    | grep -E '^ *[0-9,]+ \(' | sed "s|$TOP/||" | awk 'NR <= 8' || true
echo '```'
} > "$W/report.md"

mkdir -p "$(dirname "$OUT")"
cp "$W/report.md" "$OUT"
cat "$OUT"
echo "written: $OUT" >&2
