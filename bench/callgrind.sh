#!/bin/bash
#
# Instructions (valgrind --tool=callgrind) per request for the module's
# own work, from small C drivers linking ngx_llm_route_module/core/*.c:
#
#   - request scan + rewrite (explicit model) and scan + rewrite +
#     classify ("auto") for bodies of 200 B, 2 KB, 32 KB and 1 MB, with
#     instructions per byte (linear growth = constant Ir/byte);
#   - classification of a 2 KB chat request, JSON parsing included
#     (llr_req scanner + classifier sink, as tools/llm-route-classify.c);
#   - the response filters per response: llr_usage on a 1 KB and a
#     100 KB JSON answer, llr_sse on a 200-event stream with and without
#     LLR_SSE_STRIP_USAGE;
#   - the translation between the OpenAI and the Anthropic formats
#     (bench/cg_xlate.c): a 2 KB request both ways, next to the
#     pass-through scan of each form; a 200-event stream both ways, per
#     event, next to the pass-through scan of each; a 1 KB JSON answer
#     both ways;
#   - wall time of the 1 MB body (median of 20, no valgrind).
#
#   bench/callgrind.sh [--out FILE] [--only xlate]
#
# --only xlate: the translation section only (no wall times), into
# bench/results/callgrind-xlate.md unless --out says otherwise.
#
# Per request = (Ir of 1+K requests - Ir of 1 request) / K: the steady
# state, without the first call's one-time costs.  Needs gcc, valgrind,
# libpcre2-dev, perl.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
CORE=$TOP/ngx_llm_route_module/core
DATA=${LLR_DATA:-$(cd "$TOP/.." && pwd)/shared/data}
OUT=
ONLY=

while [ $# -gt 0 ]; do
    case "$1" in
    --out) OUT=$2; shift ;;
    --only) ONLY=$2; shift ;;
    *) echo "callgrind.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "$OUT" ]; then
    OUT=$HERE/results/callgrind${ONLY:+-$ONLY}.md
fi

command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null

W=$(mktemp -d /tmp/llr-cg.XXXXXX)
trap 'rm -rf "$W"' EXIT

CFLAGS="-std=gnu99 -O2 -g -Wall -Wextra -Werror -Wpointer-arith"
CFLAGS="$CFLAGS -Wno-unused-parameter"
for p in cg_req cg_resp cg_xlate; do
    gcc $CFLAGS -I"$CORE" -o "$W/$p" "$HERE/$p.c" "$CORE"/llr*.c \
        -lyajl -lpcre2-8 -lm
done

mkdir -p "$W/bodies"
perl "$HERE/gen-bodies.pl" "$W/bodies" "$DATA" > /dev/null

# ir, per_req
. "$HERE/cg-lib.sh"

xlate_section() {
    local f=$W/bodies/2k-auto-json.json ev=200 a b
    echo "## Translation between the OpenAI and the Anthropic formats"
    echo
    echo "A 2 KB chat request (\`2k-auto-json\`) and the same request as an"
    echo "Anthropic client writes it (made from it by llr_xlate; the"
    echo "pass-through rows rewrite the model as an explicit model does):"
    echo
    echo "| request | work | Ir |"
    echo "|---|---|---:|"
    echo "| chat, 2 KB | llr_req scan + rewrite (pass-through) | $(per_req 10 bench_xlate "$W/cg_xlate" scan-chat "$f") |"
    echo "| Anthropic form | llr_req scan + rewrite (pass-through) | $(per_req 10 bench_xlate "$W/cg_xlate" scan-messages "$f") |"
    echo "| chat, 2 KB | llr_xlate_request() to Anthropic | $(per_req 10 bench_xlate "$W/cg_xlate" chat2anthropic "$f") |"
    echo "| Anthropic form | llr_xlate_request() to chat | $(per_req 10 bench_xlate "$W/cg_xlate" anthropic2chat "$f") |"
    echo
    echo "Streams of $ev events (a word of text per delta), fed in 8 KB pieces:"
    echo "per stream and per event.  A translated stream costs the scan of"
    echo "the provider's stream (accounting) plus its translation."
    echo
    echo "| stream | work | Ir/stream | Ir/event |"
    echo "|---|---|---:|---:|"
    for m in "sse-chat|OpenAI|llr_sse (pass-through)" \
             "sse-anthropic|Anthropic|llr_sse LLR_SSE_ANTHROPIC (pass-through)" \
             "xsse-anthropic|Anthropic|llr_xsse to chat chunks" \
             "xsse-chat|OpenAI|llr_xsse to Anthropic events"; do
        IFS='|' read -r a b c <<< "$m"
        x=$(per_req 10 bench_xlate "$W/cg_xlate" "$a" $ev)
        printf '| %s | %s | %d | %.0f |\n' "$b" "$c" "$x" \
            "$(echo "$x / $ev" | bc -l)"
    done
    echo
    echo "A JSON answer of about 1 KB:"
    echo
    echo "| answer | work | Ir |"
    echo "|---|---|---:|"
    echo "| Anthropic | llr_usage (pass-through) | $(per_req 10 bench_xlate "$W/cg_xlate" usage-anthropic 1024) |"
    echo "| Anthropic | llr_xlate_response() to chat | $(per_req 10 bench_xlate "$W/cg_xlate" json-anthropic 1024) |"
    echo "| OpenAI | llr_xlate_response() to Anthropic | $(per_req 10 bench_xlate "$W/cg_xlate" json-chat 1024) |"
}

if [ "$ONLY" = xlate ]; then
    {
    echo "# bench/callgrind.sh --only xlate — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Instructions (Ir) per request, steady state (callgrind, gcc -O2)."
    echo
    xlate_section
    } > "$W/report.md"
    mkdir -p "$(dirname "$OUT")"
    cp "$W/report.md" "$OUT"
    cat "$OUT"
    echo "written: $OUT" >&2
    exit 0
fi

{
echo "# bench/callgrind.sh — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Instructions (Ir) per request, steady state (callgrind, gcc -O2)."
echo
echo "## Request body: scan + rewrite (explicit), + classify (auto)"
echo
echo "| body | bytes | rewrite Ir | Ir/byte | rewrite + classify Ir | Ir/byte |"
echo "|---|---:|---:|---:|---:|---:|"
for s in 200 2k 32k 1m; do
    f="$W/bodies/$s-auto-json.json"
    bytes=$(wc -c < "$f")
    k=10
    [ $s = 1m ] && k=2
    rw=$(per_req $k bench_req "$W/cg_req" rewrite "$f")
    rt=$(per_req $k bench_req "$W/cg_req" route "$f")
    printf '| %s | %d | %d | %.1f | %d | %.1f |\n' "$s" "$bytes" "$rw" \
        "$(echo "$rw / $bytes" | bc -l)" "$rt" "$(echo "$rt / $bytes" | bc -l)"
done
echo
f="$W/bodies/2k-auto-json.json"
echo "Classification of a 2 KB chat request, JSON parsing included (scan," \
     "no rewrite): $(per_req 10 bench_req "$W/cg_req" classify "$f") Ir."
echo
echo "## Response filters, per response (fed in 8 KB pieces)"
echo
echo "| filter | response | Ir |"
echo "|---|---|---:|"
echo "| llr_usage | JSON, 1 KB | $(per_req 10 bench_resp "$W/cg_resp" usage 1024) |"
echo "| llr_usage | JSON, 100 KB | $(per_req 10 bench_resp "$W/cg_resp" usage 102400) |"
echo "| llr_sse | 200 events (~41 KB) | $(per_req 10 bench_resp "$W/cg_resp" sse 200) |"
echo "| llr_sse + LLR_SSE_STRIP_USAGE | 200 events (~41 KB) | $(per_req 10 bench_resp "$W/cg_resp" sse-strip 200) |"
echo "| llr_sse, its text tapped by llr_signal | 200 events (~41 KB) | $(per_req 10 bench_resp "$W/cg_resp" sse-tap 200) |"
echo "| the same, LLR_SSE_NO_TEMPLATE | 200 events (~41 KB) | $(per_req 10 bench_resp "$W/cg_resp" sse-tap-notpl 200) |"
echo
xlate_section
echo
echo "## Wall time of the 1 MB body (median of 20 runs, no valgrind)"
echo
f="$W/bodies/1m-auto-json.json"
echo "| work | median ms | min ms |"
echo "|---|---:|---:|"
for m in rewrite route classify; do
    r=$("$W/cg_req" $m "$f" 20)
    med=$(echo "$r" | sed -n 's/.*median_us=\([0-9.]*\).*/\1/p')
    min=$(echo "$r" | sed -n 's/.*min_us=\([0-9.]*\).*/\1/p')
    printf '| %s | %.2f | %.2f |\n' "$m" "$(echo "$med / 1000" | bc -l)" \
        "$(echo "$min / 1000" | bc -l)"
done
echo
echo "Load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg)" \
     "(wall times grow with other load; Ir do not)."
echo
echo "## Where the 1 MB \"auto\" request goes (callgrind_annotate, self Ir)"
echo
ir bench_req "$W/cg_req" route "$W/bodies/1m-auto-json.json" 1 > /dev/null
echo '```'
callgrind_annotate --inclusive=no "$W/cg.out" 2>/dev/null \
    | grep -E '^ *[0-9,]+ \(' | sed "s|$TOP/||" | awk 'NR <= 12' || true
echo '```'
} > "$W/report.md"

mkdir -p "$(dirname "$OUT")"
cp "$W/report.md" "$OUT"
cat "$OUT"
echo "written: $OUT" >&2
