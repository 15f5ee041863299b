#!/bin/sh
#
# Rebuilds the default classifier model from the shared data, bit for
# bit: models/default.model and ngx_llm_route_module/core/
# llr_default_model.c.
#
#   LLR_DATA=../shared/data BUILD=build tools/train-default.sh
#
# Needs build/llm-route-train (make builds it; built here with gcc when
# missing), perl with JSON::PP.

set -eu

cd "$(dirname "$0")/.."

DATA=${LLR_DATA:-../shared/data}
BUILD=${BUILD:-build}
WORK=$BUILD/train-data
TRAIN=$BUILD/llm-route-train
CORE=ngx_llm_route_module/core

mkdir -p "$WORK"

if [ ! -x "$TRAIN" ]; then
    ${CC:-gcc} -std=gnu99 -O2 -I$CORE -o "$TRAIN" tools/llm-route-train.c \
        $CORE/llr_classify.c $CORE/llr_default_model.c \
        -lyajl -lpcre2-8 -lm
fi

perl tools/llr-prep-data.pl "$DATA" models/extra-task-prompts.jsonl "$WORK" \
    models/extra-difficulty-prompts.jsonl

"$TRAIN" -o models/default.model --bits 16 --epochs 6 --label gain \
    --diff-epochs 24 --diff-avg --diff-hashed-lr 0.3 \
    --diff-targets 1,0.2,0.2,0 \
    --task-data "$WORK/task-train.jsonl" \
    --difficulty-data "$WORK/diff-train.jsonl" \
    --emit-c $CORE/llr_default_model.c

sha256sum models/default.model
