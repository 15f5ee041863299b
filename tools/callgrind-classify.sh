#!/bin/sh
#
# Instructions to classify a 2 KB chat request, JSON scan included:
# callgrind over llm-route-classify's classify_line() (llr_req + the
# classifier), for 1 and 11 copies of the request; the difference / 10
# is the steady-state cost of one request.
#
#   BUILD=build tools/callgrind-classify.sh

set -eu

cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
DATA=${LLR_DATA:-../shared/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# a system prompt and ~1.9 KB of GSM8K text (with newlines) as the user turn
perl -MJSON::PP -e '
    open(my $f, "<", $ARGV[0]) or die; local $/; my $t = <$f>;
    my $p = substr($t, 3000, 1900); $p =~ s/[^\x20-\x7e\n]//g;
    print JSON::PP->new->canonical->encode({model => "auto",
        messages => [{role => "system",
                      content => "You are a helpful assistant."},
                     {role => "user", content => $p}]}), "\n"' \
    "$DATA/routellm/gsm8k_responses.csv" > "$T/one.json"

for i in 1 2 3 4 5 6 7 8 9 10 11; do cat "$T/one.json"; done > "$T/eleven.json"

run() {
    LD_BIND_NOW=1 valgrind --tool=callgrind --toggle-collect=classify_line \
        --callgrind-out-file="$T/cg.out" "$BUILD/llm-route-classify" \
        < "$1" > /dev/null 2> "$T/log"
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$T/log"
}

a=$(run "$T/one.json")
b=$(run "$T/eleven.json")
echo "request: $(($(wc -c < "$T/one.json") - 1)) bytes"
echo "first request (cold caches of the dynamic linker aside): $a"
echo "per request, steady state: $(( (b - a) / 10 ))"
