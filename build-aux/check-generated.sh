#!/bin/sh
#
# The generated files are what their generators write (make
# check-generated, and t/92-generated.t):
#
#   ngx_llm_route_module/core/llr_default_model.c is models/default.model
#   as llm-route-train --emit-c writes it;
#
# with LLR_CHECK_TRAIN=1 also that build-aux/train-default.sh (make train)
# rebuilds models/default.model bit for bit from the data (a minute;
# needs $LLR_DATA, default ../shared/data).
#
#   BUILD=build build-aux/check-generated.sh

set -eu

cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$BUILD/llm-route-train" -i models/default.model --emit-c "$T/model.c"

if ! cmp -s "$T/model.c" ngx_llm_route_module/core/llr_default_model.c; then
    echo "check-generated: core/llr_default_model.c is not" \
         "models/default.model (run make train)" >&2
    exit 1
fi

echo "check-generated: core/llr_default_model.c is models/default.model"

if [ "${LLR_CHECK_TRAIN:-0}" = 1 ]; then
    LLR_MODEL_OUT=$T/default.model LLR_MODEL_EMIT=$T/train.c \
        sh build-aux/train-default.sh > "$T/log" 2>&1 || {
        cat "$T/log" >&2
        exit 1
    }

    if ! cmp -s "$T/default.model" models/default.model \
        || ! cmp -s "$T/train.c" ngx_llm_route_module/core/llr_default_model.c
    then
        echo "check-generated: make train does not rebuild" \
             "models/default.model bit for bit" >&2
        exit 1
    fi

    echo "check-generated: make train rebuilds models/default.model bit" \
         "for bit ($(sha256sum < models/default.model | cut -c1-16))"
fi
