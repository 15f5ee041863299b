#!/usr/bin/perl
#
# Writes realistic OpenAI chat request bodies of about 200 B, 2 KB,
# 32 KB and 1 MB for the benchmarks:
#
#   perl bench/gen-bodies.pl OUTDIR [DATA_DIR]
#
# OUTDIR/<size>-<model>-<json|sse>.json, size in {200,2k,32k,1m},
# model in {gpt-4.1-mini,auto,claude-haiku}; the same conversation as an
# Anthropic Messages body (the system prompt at the top, max_tokens 256
# always: the Messages API requires it) in
# OUTDIR/<size>-<model>-<json|sse>-messages.json.  A system prompt, then
# a conversation of GSM8K questions (user) and worked answers (assistant) from
# DATA_DIR/grade-school-math/train.jsonl, ending with a user turn; the
# last message is trimmed so the body is at most the target size (the
# actual sizes are printed).  Deterministic: same data, same bodies.

use strict;
use warnings;
use JSON::PP;

my ($out, $data) = @ARGV;
die "usage: gen-bodies.pl OUTDIR [DATA_DIR]\n" unless $out;
$data //= "/work/shared/data";

my @qa;
open(my $f, "<", "$data/grade-school-math/train.jsonl")
    or die "$data/grade-school-math/train.jsonl: $!\n";
while (my $l = <$f>) {
    my $o = decode_json($l);
    push @qa, [$o->{question}, $o->{answer}];
    last if @qa >= 4000;
}
close $f;

my $json = JSON::PP->new->canonical->utf8;
my %sizes = ("200" => 200, "2k" => 2048, "32k" => 32768,
             "1m" => 1048576);
my $system = "You are a careful math tutor. Explain each step briefly, "
    . "show the arithmetic, and give the final answer on its own line.";

sub body {
    my ($model, $stream, $msgs) = @_;
    my %b = (model => $model, messages => $msgs);
    if ($stream) { $b{stream} = JSON::PP::true; }
    else { $b{max_tokens} = 256; }
    return $json->encode(\%b);
}

# the same conversation in Anthropic's shape

sub messages_body {
    my ($model, $stream, $msgs) = @_;
    my @m = @$msgs;
    my %b = (model => $model, max_tokens => 256);
    $b{system} = (shift @m)->{content} if @m && $m[0]{role} eq "system";
    $b{messages} = \@m;
    $b{stream} = JSON::PP::true if $stream;
    return $json->encode(\%b);
}

for my $name (sort keys %sizes) {
    my $target = $sizes{$name};
    for my $model ("gpt-4.1-mini", "auto", "claude-haiku") {
        for my $stream (0, 1) {
            my @m;
            push @m, {role => "system", content => $system}
                if $target > 1000;
            my $i = 0;
            # add question/answer pairs while they fit (the length is
            # kept incrementally: one message adds its JSON and a comma)
            my $len = length(body($model, $stream, [])) - 1;
            while (1) {
                my $q = {role => "user", content => $qa[$i % @qa][0]};
                my $a = {role => "assistant",
                         content => $qa[$i % @qa][1]};
                push @m, $q;
                $len += length($json->encode($q)) + 1;
                last if $len >= $target;
                push @m, $a;
                $len += length($json->encode($a)) + 1;
                if ($len >= $target) {
                    pop @m;
                    last;
                }
                $i++;
            }
            # trim the last user turn to fit; keep at least one word
            while (length(body($model, $stream, \@m)) > $target
                   && length($m[-1]{content}) > 8)
            {
                my $over = length(body($model, $stream, \@m)) - $target;
                my $c = $m[-1]{content};
                $c = substr($c, 0, length($c) - ($over > 1 ? $over : 1));
                $m[-1]{content} = $c;
            }
            my $b = body($model, $stream, \@m);
            my $file = "$out/$name-$model-" . ($stream ? "sse" : "json")
                . ".json";
            open(my $o, ">", $file) or die "$file: $!\n";
            print $o $b;
            close $o;
            printf "%-40s %8d bytes, %d messages\n", "$name-$model-"
                . ($stream ? "sse" : "json"), length($b), scalar @m;
            my $mb = messages_body($model, $stream, \@m);
            $file =~ s/\.json$/-messages.json/;
            open($o, ">", $file) or die "$file: $!\n";
            print $o $mb;
            close $o;
        }
    }
}
