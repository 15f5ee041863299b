#!/bin/sh
#
# Instructions to classify a 2 KB chat request, JSON scan included:
# callgrind over llm-route-classify's classify_line() (llr_req + the
# classifier, with a bump allocator like the module's request pool), for
# 1 and 11 copies of the request; the difference / 10 is the
# steady-state cost of one request.  Two key orders are measured:
#
#   sdk     {"model", "messages": [{"role", "content"}]}, the order the
#           OpenAI SDKs send
#   sorted  keys sorted ({"messages": [{"content", "role"}], "model"}):
#           each message's text arrives before its role, so the scanner
#           holds it until the role is known (the worst case)
#
# Then the benchmark's 2 KB conversation (ten messages, model last, from
# bench/gen-bodies.pl) and a 1 MB body of 5,001 messages.
#
#   BUILD=build bench/callgrind-classify.sh
#
# CLS_ARGS="-b BYTES" measures the 2 KB requests at another context
# budget (research/eval.sh --validate reports the follow-up turns of
# MT-Bench, cross-validated, for the built-in one).

set -eu

cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
DATA=${LLR_DATA:-../shared/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# a system prompt and ~1.9 KB of GSM8K text (with newlines) as the user turn
perl -e '
    open(my $f, "<", $ARGV[0]) or die; local $/; my $t = <$f>;
    my $p = substr($t, 3000, 1900); $p =~ s/[^\x20-\x7e\n]//g;
    sub js { my $s = shift; $s =~ s/(["\\])/\\$1/g; $s =~ s/\n/\\n/g;
             return "\"$s\"" }
    my $sys = js("You are a helpful assistant."); my $u = js($p);
    open(my $a, ">", "$ARGV[1]/sdk.json") or die;
    print $a "{\"model\":\"auto\",\"messages\":[{\"role\":\"system\","
        . "\"content\":$sys},{\"role\":\"user\",\"content\":$u}]}\n";
    open(my $b, ">", "$ARGV[1]/sorted.json") or die;
    print $b "{\"messages\":[{\"content\":$sys,\"role\":\"system\"},"
        . "{\"content\":$u,\"role\":\"user\"}],\"model\":\"auto\"}\n";' \
    "$DATA/routellm/gsm8k_responses.csv" "$T"

# a 1 MB body: 5,000 messages of ~200 bytes (user, assistant and every
# fourth a system message), then a last user turn
perl -e '
    open(my $f, "<", $ARGV[0]) or die; local $/; my $t = <$f>;
    $t =~ s/[^\x20-\x7e]//g;
    my @m;
    for my $k (0 .. 4999) {
        my $r = $k % 4 == 3 ? "system" : $k % 2 ? "assistant" : "user";
        my $p = substr($t, 5000 + 200 * $k, 200);
        $p =~ s/(["\\])/\\$1/g;
        push @m, "{\"role\":\"$r\",\"content\":\"$p\"}";
    }
    push @m, "{\"role\":\"user\",\"content\":\"Write a Python function "
        . "that parses a CSV file.\"}";
    open(my $a, ">", "$ARGV[1]/big.json") or die;
    print $a "{\"model\":\"auto\",\"messages\":[", join(",", @m),
        "]}\n";' "$DATA/routellm/gsm8k_responses.csv" "$T"

run() {
    LD_BIND_NOW=1 valgrind --tool=callgrind --toggle-collect=classify_line \
        --callgrind-out-file="$T/cg.out" "$BUILD/llm-route-classify" \
        ${CLS_ARGS:-} < "$1" > /dev/null 2> "$T/log"
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$T/log"
}

for order in sdk sorted; do
    for i in 1 2 3 4 5 6 7 8 9 10 11; do cat "$T/$order.json"; done \
        > "$T/eleven.json"
    a=$(run "$T/$order.json")
    b=$(run "$T/eleven.json")
    echo "$order: request $(($(wc -c < "$T/$order.json") - 1)) bytes," \
         "first $a, per request (steady state) $(( (b - a) / 10 ))"
done

# a 2 KB conversation of ten messages, model last: the benchmark's body
mkdir -p "$T/bodies"
perl bench/gen-bodies.pl "$T/bodies" "$DATA" > /dev/null
tr -d '\n' < "$T/bodies/2k-auto-json.json" > "$T/conv.json"
echo >> "$T/conv.json"
for i in 1 2 3 4 5 6 7 8 9 10 11; do cat "$T/conv.json"; done \
    > "$T/eleven.json"
a=$(run "$T/conv.json")
b=$(run "$T/eleven.json")
echo "conversation: request $(($(wc -c < "$T/conv.json") - 1)) bytes," \
     "10 messages, first $a, per request (steady state) $(( (b - a) / 10 ))"

# the 1 MB body: the whole request, and the classifier's own part (the
# inclusive cost of its sink callbacks, state init and finish)
LD_BIND_NOW=1 valgrind --tool=callgrind --toggle-collect=classify_line \
    --callgrind-out-file="$T/cg.out" "$BUILD/llm-route-classify" \
    < "$T/big.json" > "$T/big.out" 2> "$T/log"
grep -q '"task"' "$T/big.out" || { echo "1mb: not classified:" \
    "$(cut -c1-200 "$T/big.out")" >&2; exit 1; }
all=$(sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$T/log")
cls=$(callgrind_annotate --inclusive=yes "$T/cg.out" 2>/dev/null \
      | grep -E ':llr_cls_(message_begin|text|message_end|finish|state_init) \[' \
      | awk '{ gsub(",", "", $1); s += $1 } END { print s + 0 }')
echo "1mb: request $(($(wc -c < "$T/big.json") - 1)) bytes, 5001 messages," \
     "all $all, classifier $cls"
