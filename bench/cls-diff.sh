#!/bin/bash
#
# The classifier of this tree against that of another commit, bit for
# bit, on every input at hand: for each one the task, the calibrated
# difficulty, the raw logit and every task probability must be the same
# double (llm-route-classify -x prints them as hexadecimal floats).
#
#   bench/cls-diff.sh [BASE]          # BASE: a commit, default main
#
# Inputs (one JSON line each, or a line of a fuzz input): the training
# and evaluation sets of research/llr-prep-data.pl (built into
# build/train-data if missing; LLR_DATA, default ../shared/data), the
# benchmark's bodies (bench/gen-bodies.pl), conversations made of those
# prompts (1 to 14 messages, every role, string and array contents,
# escapes, long messages: the classifier's ring and context budget),
# and the lines of the fuzz seeds and regressions of the classifier and
# request scanner.  The tool's source is this tree's for both builds
# (only the public API of core/llr_classify.h is used).

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
BASE=${1:-main}
DATA=${LLR_DATA:-$TOP/../shared/data}
CC=${CC:-cc}
W=$(mktemp -d /tmp/llr-clsdiff.XXXXXX)
trap 'rm -rf "$W"' EXIT

cd "$TOP"

mkdir -p "$W/base" "$W/inputs"
git archive "$BASE" ngx_llm_route_module/core | tar -x -C "$W/base"

build() {   # build OUT CORE_DIR
    $CC -std=gnu99 -O2 -I"$2" -o "$1" tools/llm-route-classify.c \
        "$2"/llr*.c -lpcre2-8 -lm
}
build "$W/old" "$W/base/ngx_llm_route_module/core" &
build "$W/new" ngx_llm_route_module/core
wait

if [ ! -f build/train-data/task-train.jsonl ]; then
    mkdir -p build/train-data
    perl research/llr-prep-data.pl "$DATA" models build/train-data >/dev/null
fi

cat build/train-data/*.jsonl > "$W/inputs/sets"
mkdir -p "$W/bodies"
perl bench/gen-bodies.pl "$W/bodies" "$DATA" > /dev/null
for f in "$W"/bodies/*.json; do cat "$f"; echo; done > "$W/inputs/bodies"
cat fuzz/seeds/cls/* fuzz/seeds/req/* fuzz/regressions/* \
    > "$W/inputs/fuzz" 2>/dev/null || true

# conversations from the sets' prompts, deterministic
perl -MJSON::PP -e '
    my (@p, $n);
    open(my $f, "<", $ARGV[0]) or die;
    while (my $l = <$f>) {
        my $o = eval { decode_json($l) } or next;
        push @p, $o->{prompt} if defined $o->{prompt};
    }
    my $seed = 12345;
    sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648;
              return $seed % $_[0]; }
    my @roles = ("user", "assistant", "system", "developer", "tool",
                 "user", "user", "assistant");
    my $js = JSON::PP->new->canonical->utf8;
    my $ja = JSON::PP->new->canonical->ascii;
    for my $i (1 .. 20000) {
        my @m;
        my $k = 1 + rnd(14);
        for my $j (1 .. $k) {
            my $t = $p[rnd(scalar @p)];
            $t = $t x (1 + rnd(40)) if rnd(10) == 0;
            $t = substr($t, 0, rnd(length($t) + 1)) if rnd(4) == 0;
            my $r = $j == $k ? "user" : $roles[rnd(scalar @roles)];
            my $c = rnd(5) == 0
                ? [ { type => "text", text => $t },
                    { type => "text", text => $p[rnd(scalar @p)] } ]
                : $t;
            push @m, { role => $r, content => $c };
        }
        my %b = (messages => \@m);
        $b{model} = "auto" if rnd(2);
        print((rnd(2) ? $ja : $js)->encode(\%b), "\n");
    }' "$W/inputs/sets" > "$W/inputs/conversations"

n=0
for f in "$W"/inputs/*; do
    "$W/old" -x < "$f" > "$f.old"
    "$W/new" -x < "$f" > "$f.new"
    lines=$(wc -l < "$f.old")
    n=$((n + lines))
    if ! cmp -s "$f.old" "$f.new"; then
        echo "cls-diff: $(basename "$f"): results differ:" >&2
        diff "$f.old" "$f.new" | head -10 >&2
        exit 1
    fi
    printf 'cls-diff: %-14s %6d inputs, the same results\n' \
        "$(basename "$f")" "$lines"
done
echo "cls-diff: $n inputs, bit for bit the same as $BASE"
