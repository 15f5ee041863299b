#!/bin/sh
#
# Evaluates the classifier; prints the tables of docs/classifier.md.
#
#   BUILD=build research/eval.sh [MODEL]
#
# MODEL (default models/default.model) on everything held out, once:
# task accuracy on the held-out split and per language on the
# multilingual held-out set (models/heldout); routing on the held-out
# GSM8K and MMLU splits; arena-bench (../shared/data/arena-bench,
# evaluation only) for gpt-4-turbo against Mixtral-8x7B and against
# gpt-3.5-turbo; and MT-Bench, cross-validated (MT-Bench is training
# data: each question is scored by a model trained without it, with the
# options of models/train-options).
#
#   BUILD=build research/eval.sh --validate [TRAIN OPTIONS]
#
# Validation inside the training split only (for choosing options and
# data; never the held-out lines, never arena-bench, never the
# multilingual held-out set): 5 folds by a hash of the first message
# (research/llr-eval.pl cv-split), a model trained on four with
# llm-route-train --bits 16 and TRAIN OPTIONS (default: those of
# models/train-options), the fifth classified, the five pooled.
#
# Both need $BUILD/train-data from build-aux/train-default.sh (make train),
# or make it with research/llr-prep-data.pl.

set -eu

cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
DATA=${LLR_DATA:-../shared/data}
WORK=$BUILD/train-data
CLS=$BUILD/llm-route-classify
TRAIN=$BUILD/llm-route-train
EVAL="perl research/llr-eval.pl"
OPTS=$(grep -v '^#' models/train-options | tr '\n' ' ')

[ -f "$WORK/task-train.jsonl" ] || {
    mkdir -p "$WORK"
    perl research/llr-prep-data.pl "$DATA" models "$WORK"
}

# cv DIR [TRAIN OPTIONS]: the five fold models and their predictions
cv() {
    dir=$1
    shift
    mkdir -p "$dir"
    $EVAL cv-split "$dir" "$WORK/task-train.jsonl" "$WORK/diff-train.jsonl" \
        "$WORK/mtbench.jsonl"
    for f in 0 1 2 3 4; do
        # shellcheck disable=SC2086
        "$TRAIN" -o "$dir/m$f.model" --bits 16 "$@" \
            --task-data "$dir/task-tr$f.jsonl" \
            --difficulty-data "$dir/diff-tr$f.jsonl" 2>/dev/null
        for s in task-te$f te$f-gsm8k te$f-mmlu te$f-written te$f-cal \
                 te$f-mtbench
        do
            "$CLS" -m "$dir/m$f.model" < "$dir/$s.jsonl" > "$dir/pr-$s.jsonl"
        done
    done
    for s in gsm8k mmlu written cal mtbench; do
        cat "$dir"/te[0-4]-$s.jsonl > "$dir/lab-$s.jsonl"
        cat "$dir"/pr-te[0-4]-$s.jsonl > "$dir/pred-$s.jsonl"
    done
    cat "$dir"/task-te[0-4].jsonl > "$dir/lab-task.jsonl"
    cat "$dir"/pr-task-te[0-4].jsonl > "$dir/pred-task.jsonl"
}

if [ "${1:-}" = "--validate" ]; then
    shift
    [ $# -gt 0 ] || set -- $OPTS
    CV=$WORK/cv
    cv "$CV" "$@"

    echo "## Validation (5 folds inside the training split): $*"
    echo
    $EVAL route "validation GSM8K" "$CV/lab-gsm8k.jsonl" \
        "$CV/pred-gsm8k.jsonl"
    $EVAL route "validation MMLU" "$CV/lab-mmlu.jsonl" "$CV/pred-mmlu.jsonl"
    $EVAL mtbench "$CV/lab-mtbench.jsonl" "$CV/pred-mtbench.jsonl"
    $EVAL labels "validation, written prompts" "$CV/lab-written.jsonl" \
        "$CV/pred-written.jsonl"
    $EVAL labels "validation, every labelled prompt (calibration)" \
        "$CV/lab-cal.jsonl" "$CV/pred-cal.jsonl"
    $EVAL task "$CV/lab-task.jsonl" "$CV/pred-task.jsonl" source
    $EVAL task "$CV/lab-task.jsonl" "$CV/pred-task.jsonl" kind \
        | sed -n '/^| kind/,/^$/p'
    grep '"source":"written"' "$CV/lab-task.jsonl" > "$CV/lab-task-w.jsonl"
    paste -d '\t' "$CV/lab-task.jsonl" "$CV/pred-task.jsonl" \
        | grep '"source":"written"' | cut -f2 > "$CV/pred-task-w.jsonl"
    $EVAL task "$CV/lab-task-w.jsonl" "$CV/pred-task-w.jsonl" lang
    exit 0
fi

MODEL=${1:-models/default.model}

echo "## Task type, held-out split ($MODEL)"
echo
"$CLS" -m "$MODEL" < "$WORK/task-test.jsonl" > "$WORK/pred-task.jsonl"
$EVAL task "$WORK/task-test.jsonl" "$WORK/pred-task.jsonl" source

echo "## Task type, multilingual held-out set ($MODEL)"
echo
"$CLS" -m "$MODEL" < "$WORK/ml-test.jsonl" > "$WORK/pred-ml.jsonl"
$EVAL task "$WORK/ml-test.jsonl" "$WORK/pred-ml.jsonl" lang
perl -MJSON::PP -ne 'my $r = JSON::PP->new->utf8->decode($_);
    $r->{label} = $r->{hard} ? 1 : 0; delete $r->{hard};
    print JSON::PP->new->utf8->canonical->encode($r), "\n"' \
    "$WORK/ml-test.jsonl" > "$WORK/ml-labels.jsonl"
$EVAL labels "multilingual held-out set, the writer's easy/hard" \
    "$WORK/ml-labels.jsonl" "$WORK/pred-ml.jsonl"

echo "## Routing, held-out GSM8K and MMLU ($MODEL)"
echo
for s in gsm8k mmlu; do
    "$CLS" -m "$MODEL" < "$WORK/diff-test-$s.jsonl" > "$WORK/pred-$s.jsonl"
    $EVAL route "held-out $s" "$WORK/diff-test-$s.jsonl" "$WORK/pred-$s.jsonl"
done

echo "## Written prompts, held-out split ($MODEL)"
echo
"$CLS" -m "$MODEL" < "$WORK/diff-test-written.jsonl" \
    > "$WORK/pred-written.jsonl"
$EVAL labels "held-out written prompts" "$WORK/diff-test-written.jsonl" \
    "$WORK/pred-written.jsonl"

echo "## arena-bench, real Chatbot Arena prompts ($MODEL)"
echo
AB=$DATA/arena-bench/arena-bench-v1.jsonl
"$CLS" -m "$MODEL" < "$AB" > "$WORK/pred-arena.jsonl"
for weak in Mixtral-8x7B-Instruct-v0.1 gpt-3.5-turbo; do
    $EVAL arena "arena-bench" "$AB" "$WORK/pred-arena.jsonl" gpt-4-turbo \
        "$weak"
done

echo "## MT-Bench, cross-validated (options of models/train-options)"
echo
# shellcheck disable=SC2086
cv "$WORK/cv-final" $OPTS
$EVAL mtbench "$WORK/cv-final/lab-mtbench.jsonl" \
    "$WORK/cv-final/pred-mtbench.jsonl"
