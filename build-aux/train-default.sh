#!/bin/sh
#
# Rebuilds the default classifier model from the shared data and the
# prompts written for this project, bit for bit: models/default.model
# and ngx_llm_route_module/core/llr_default_model.c.
#
#   LLR_DATA=../shared/data BUILD=build build-aux/train-default.sh
#
# The options of llm-route-train are those of models/train-options.
# Needs build/llm-route-train (make builds it; built here with gcc when
# missing), perl with JSON::PP.  make check-generated checks that the
# two files are what this script writes.

set -eu

cd "$(dirname "$0")/.."

DATA=${LLR_DATA:-../shared/data}
BUILD=${BUILD:-build}
WORK=$BUILD/train-data
TRAIN=$BUILD/llm-route-train
CORE=ngx_llm_route_module/core
OUT=${LLR_MODEL_OUT:-models/default.model}
EMIT=${LLR_MODEL_EMIT:-$CORE/llr_default_model.c}

mkdir -p "$WORK"

if [ ! -x "$TRAIN" ]; then
    ${CC:-gcc} -std=gnu99 -O2 -I$CORE -o "$TRAIN" tools/llm-route-train.c \
        $CORE/llr*.c -lyajl -lpcre2-8 -lm
fi

perl research/llr-prep-data.pl "$DATA" models "$WORK"

# shellcheck disable=SC2046
"$TRAIN" -o "$OUT" --bits 16 $(grep -v '^#' models/train-options) \
    --task-data "$WORK/task-train.jsonl" \
    --difficulty-data "$WORK/diff-train.jsonl" \
    --emit-c "$EMIT"

sha256sum "$OUT"
