#!/bin/sh
#
# make check-generated (a step of make test): every committed file that a
# script of this tree generates is what that script writes now.
#
#   ngx_llm_route_module/ngx_http_llm_route_dashboard.c
#       build-aux/gen-dashboard.sh, from ngx_llm_route_module/dashboard.html
#   ngx_llm_route_module/core/llr_default_model.c
#       llm-route-train --emit-c, from models/default.model
#   fuzz/seeds/{req,sse,usage,values,model,pattern,mock}/
#       fuzz/make-seeds.pl (needs the data: the request seeds hold its
#       prompts; the model seeds are trained by build/llm-route-train)
#   models/default.model (and llr_default_model.c again)
#       build-aux/train-default.sh, from the data and models/ (a minute
#       of CPU; LLR_CHECK_TRAIN=0 leaves it out)
#   bench/results/pooled-*.md
#       bench/report.pl, from the raw runs (.tsv) next to them
#
# Not checked, because no script here writes them: the hand-written
# seeds (fuzz/seeds/cls, fuzz/seeds/calib), t/sdk/package-lock.json (npm,
# from the registry), and docs/dashboard.png (a screenshot of the page in
# Chromium, t/71-dashboard.t with LLR_DASHBOARD_PNG, then pngquant: fonts,
# anti-aliasing and the figures on the page differ from run to run).
#
# Without the data (LLR_DATA, default ../shared/data) the checks that need
# it are skipped and say so.  Exit status 1 names every stale file.
#
#   BUILD=build build-aux/check-generated.sh

set -u

cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
DATA=${LLR_DATA:-../shared/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0

ok() { echo "check-generated: $*"; }
stale() { echo "check-generated: STALE: $*" >&2; fail=1; }

# the dashboard page
sh build-aux/gen-dashboard.sh "$T/dashboard.c"
if cmp -s "$T/dashboard.c" ngx_llm_route_module/ngx_http_llm_route_dashboard.c
then
    ok "ngx_http_llm_route_dashboard.c is dashboard.html"
else
    stale "ngx_http_llm_route_dashboard.c is not dashboard.html" \
          "(run build-aux/gen-dashboard.sh)"
fi

# the built-in model
if "$BUILD/llm-route-train" -i models/default.model --emit-c "$T/model.c" \
       > "$T/emit.log" 2>&1 \
   && cmp -s "$T/model.c" ngx_llm_route_module/core/llr_default_model.c
then
    ok "core/llr_default_model.c is models/default.model"
else
    cat "$T/emit.log" >&2
    stale "core/llr_default_model.c is not models/default.model" \
          "(run make train)"
fi

# the benchmark's pooled tables: the first line names the raw files
for f in bench/results/pooled-*.md; do
    [ -f "$f" ] || continue
    args=$(sed -n \
        '1s/^<!-- perl bench\/report\.pl \([-A-Za-z0-9._\/ ]*\) -->$/\1/p' "$f")
    if [ -z "$args" ]; then
        stale "$f does not say how it was made" \
              "(<!-- perl bench/report.pl RAW.tsv ... --> as its first line)"
        continue
    fi
    # shellcheck disable=SC2086
    { sed -n 1p "$f"; perl bench/report.pl $args; } > "$T/pooled.md" 2>&1
    if cmp -s "$T/pooled.md" "$f"; then
        ok "$f is what bench/report.pl writes"
    else
        stale "$f is not what bench/report.pl $args writes"
    fi
done

if [ ! -d "$DATA/routellm" ]; then
    echo "check-generated: skipped (no data in $DATA, set LLR_DATA):" \
         "fuzz/seeds/, models/default.model"
    exit $fail
fi

# the fuzz seeds
LLR_DATA=$DATA LLR_SEEDS_DIR=$T/seeds \
    perl fuzz/make-seeds.pl "$BUILD/llm-route-train" > "$T/seeds.log" 2>&1 \
    || { cat "$T/seeds.log" >&2; stale "fuzz/make-seeds.pl failed"; }
for d in "$T"/seeds/*/; do
    target=$(basename "$d")
    if diff -r "$d" "fuzz/seeds/$target" > "$T/seeds.diff" 2>&1; then
        ok "fuzz/seeds/$target/ is what fuzz/make-seeds.pl writes"
    else
        head -5 "$T/seeds.diff" >&2
        stale "fuzz/seeds/$target/ is not what fuzz/make-seeds.pl writes" \
              "(run it)"
    fi
done

# the model, trained again from the data
if [ "${LLR_CHECK_TRAIN:-1}" = 1 ]; then
    if LLR_DATA=$DATA LLR_MODEL_OUT=$T/default.model \
       LLR_MODEL_EMIT=$T/train.c BUILD=$BUILD \
           sh build-aux/train-default.sh > "$T/train.log" 2>&1 \
       && cmp -s "$T/default.model" models/default.model \
       && cmp -s "$T/train.c" ngx_llm_route_module/core/llr_default_model.c
    then
        ok "make train rebuilds models/default.model bit for bit" \
           "($(sha256sum < models/default.model | cut -c1-16))"
    else
        tail -20 "$T/train.log" >&2
        stale "make train does not rebuild models/default.model bit for bit"
    fi
fi

exit $fail
