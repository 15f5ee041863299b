#!/bin/bash
#
# The reason lines of core/llr_select of this tree against those of
# another commit, byte for byte (and their lengths, and every truncation
# of some): about 11 million lines from bench/reason-diff.c.
#
#   bench/reason-diff.sh [BASE]          # BASE: a commit, default main

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
BASE=${1:-main}
CC=${CC:-cc}
W=$(mktemp -d /tmp/llr-reasondiff.XXXXXX)
trap 'rm -rf "$W"' EXIT

cd "$TOP"
mkdir -p "$W/base"
git archive "$BASE" ngx_llm_route_module/core | tar -x -C "$W/base"

for t in old new; do
    core=ngx_llm_route_module/core
    [ $t = old ] && core=$W/base/ngx_llm_route_module/core
    $CC -std=gnu99 -O2 -I"$core" -o "$W/$t" bench/reason-diff.c \
        "$core/llr_select.c" "$core/llr_cost.c"
    "$W/$t" > "$W/$t.txt"
done

if ! cmp "$W/old.txt" "$W/new.txt"; then
    diff "$W/old.txt" "$W/new.txt" | head -6 >&2
    exit 1
fi
n=$(wc -l < "$W/new.txt")
echo "reason-diff: $n lines, byte for byte the same as $BASE"
