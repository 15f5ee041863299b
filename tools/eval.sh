#!/bin/sh
#
# Evaluates the classifier on the held-out splits and prints the tables
# of docs/classifier.md.  Run after tools/train-default.sh (it uses
# $BUILD/train-data).
#
#   BUILD=build tools/eval.sh [MODEL]      (default: models/default.model)
#
# The last table (tools/llr-eval-context.pl) reads MT-Bench from
# $LLR_DATA (default ../shared/data).
#
# Validation inside the training split (never the held-out lines): the
# difficulty lines of $BUILD/train-data/diff-train.jsonl in 5 folds
# (tools/llr-eval.pl cv-split), difficulty trained on four with the
# llm-route-train options given (plus --bits 16 and the task data), the
# fifth classified; the five pooled per benchmark:
#
#   BUILD=build tools/eval.sh --validate --epochs 6 --label gain \
#       --diff-epochs 24 --diff-avg --diff-hashed-lr 0.3 \
#       --diff-targets 1,0.2,0.2,0

set -eu

cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
WORK=$BUILD/train-data
MODEL=${1:-models/default.model}
CLS=$BUILD/llm-route-classify
TRAIN=$BUILD/llm-route-train
EVAL="perl tools/llr-eval.pl"

for f in task-test diff-test-gsm8k diff-test-mmlu diff-train-gsm8k \
         diff-train-mmlu task-train
do
    [ -f "$WORK/$f.jsonl" ] || {
        echo "eval.sh: $WORK/$f.jsonl missing: run tools/train-default.sh" >&2
        exit 1
    }
done

if [ "${1:-}" = "--validate" ]; then
    shift
    CV=$WORK/cv
    mkdir -p "$CV"
    $EVAL cv-split "$CV" "$WORK/diff-train.jsonl" \
        "$WORK/diff-train-gsm8k.jsonl" "$WORK/diff-train-mmlu.jsonl"

    for f in 0 1 2 3 4; do
        "$TRAIN" -o "$CV/m$f.model" --bits 16 "$@" \
            --task-data "$WORK/task-train.jsonl" \
            --difficulty-data "$CV/tr$f.jsonl" 2>/dev/null
        for s in gsm8k mmlu; do
            "$CLS" -m "$CV/m$f.model" < "$CV/te$f-$s.jsonl" \
                > "$CV/pr$f-$s.jsonl"
        done
    done

    echo "## Validation (5 folds inside the training split): $*"
    echo
    for s in gsm8k mmlu; do
        cat "$CV"/te[0-4]-$s.jsonl > "$CV/lab-$s.jsonl"
        cat "$CV"/pr[0-4]-$s.jsonl > "$CV/pred-$s.jsonl"
        $EVAL difficulty "validation $s" "$CV/lab-$s.jsonl" \
            "$CV/pred-$s.jsonl"
    done
    exit 0
fi

echo "## Task type ($MODEL)"
echo
"$CLS" -m "$MODEL" < "$WORK/task-test.jsonl" > "$WORK/pred-task.jsonl"
$EVAL task "$WORK/task-test.jsonl" "$WORK/pred-task.jsonl"
echo

echo "## Difficulty, in domain ($MODEL)"
echo
for s in gsm8k mmlu; do
    "$CLS" -m "$MODEL" < "$WORK/diff-test-$s.jsonl" > "$WORK/pred-$s.jsonl"
    $EVAL difficulty "$s" "$WORK/diff-test-$s.jsonl" "$WORK/pred-$s.jsonl"
done

echo "## Difficulty, cross domain"
echo

# difficulty trained on GSM8K only, tested on MMLU; and on MMLU only,
# tested on GSM8K; the difficulty options of tools/train-default.sh
DIFF_OPTS="--diff-epochs 24 --diff-avg --diff-hashed-lr 0.3
           --diff-targets 1,0.2,0.2,0"
"$TRAIN" -o "$WORK/x-gsm8k.model" --bits 16 --label gain $DIFF_OPTS \
    --task-data "$WORK/task-train.jsonl" \
    --difficulty-data "$WORK/diff-train-gsm8k.jsonl" 2>/dev/null
"$TRAIN" -o "$WORK/x-mmlu.model" --bits 16 --label gain $DIFF_OPTS \
    --task-data "$WORK/task-train.jsonl" \
    --difficulty-data "$WORK/diff-train-mmlu.jsonl" 2>/dev/null

"$CLS" -m "$WORK/x-gsm8k.model" < "$WORK/diff-test-mmlu.jsonl" \
    > "$WORK/pred-x-mmlu.jsonl"
$EVAL difficulty "trained on GSM8K, tested on MMLU" \
    "$WORK/diff-test-mmlu.jsonl" "$WORK/pred-x-mmlu.jsonl"

"$CLS" -m "$WORK/x-mmlu.model" < "$WORK/diff-test-gsm8k.jsonl" \
    > "$WORK/pred-x-gsm8k.jsonl"
$EVAL difficulty "trained on MMLU, tested on GSM8K" \
    "$WORK/diff-test-gsm8k.jsonl" "$WORK/pred-x-gsm8k.jsonl"

echo "## Context: follow-up turns (MT-Bench second turns)"
echo
perl tools/llr-eval-context.pl "${LLR_DATA:-../shared/data}" "$CLS" "$MODEL"
