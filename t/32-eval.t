#!/usr/bin/perl

# tools/llr-eval.pl difficulty: the routing metrics of docs/classifier.md
# on hand-made predictions, and their bootstrap intervals.

use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $dir = tempdir(CLEANUP => 1);
my $n = 0;

# run_eval(PROMPTS, BOOT): PROMPTS = [weak_correct, strong_correct, difficulty]
sub run_eval {
    my ($rows, $boot) = @_;
    $n++;
    open(my $l, '>', "$dir/lab$n.jsonl") or die;
    open(my $p, '>', "$dir/pred$n.jsonl") or die;
    for my $r (@$rows) {
        printf $l "{\"prompt\":\"p\",\"weak_correct\":%s,"
            . "\"strong_correct\":%s}\n",
            $r->[0] ? 'true' : 'false', $r->[1] ? 'true' : 'false';
        printf $p "{\"task\":\"math\",\"difficulty\":%s}\n", $r->[2];
    }
    close $l;
    close $p;
    local $ENV{LLR_EVAL_BOOT} = $boot;
    my $out = `perl tools/llr-eval.pl difficulty test $dir/lab$n.jsonl \\
               $dir/pred$n.jsonl`;
    is($?, 0, "llr-eval.pl exits 0");
    return $out;
}

sub row {
    my ($out) = @_;
    my ($r) = $out =~ /^\| llm_route \|([^\n]*)/m;
    my @f = map { s/^\s+|\s+$//gr } split /\|/, $r // '';
    return @f[-3 .. -1];
}

sub interval {
    my ($out) = @_;
    my $v = '([\d.]+)';
    my $re = "CPT\\(50%\\) $v%–$v%, CPT\\(80%\\) $v%–$v%, APGR $v–$v; "
             . "CPT\\(50%\\) ≤ 30% in (\\d+)%";

    return $out =~ /$re/;
}

# by hand: routed in the order 0, 1, 2, 3; weak 2 of 4, strong 3 of 4;
# PGR = (correct - 2) / 1 after k = 0..4: 0, 1, 1, 2, 1; CPT(50%) =
# CPT(80%) = 1/4; APGR = (0.5 + 1 + 1.5 + 1.5) / 4 = 1.125
my $out = run_eval([[0, 1, 0.9], [1, 1, 0.8], [0, 1, 0.2], [1, 0, 0.1]],
                   0);
is_deeply([row($out)], ['25.0%', '25.0%', '1.125'], "figures by hand");
unlike($out, qr/bootstrap/, "LLR_EVAL_BOOT=0: no interval");

# every prompt the same (only the strong model right): PGR = k / n in
# every resample, so each interval is one point
my @same = map { [0, 1, $_ / 100] } 1 .. 20;
$out = run_eval(\@same, 200);
like($out, qr/\(200 resamples of the prompts\)/, "200 resamples");
is_deeply([interval($out)], [qw(50.0 50.0 80.0 80.0 0.500 0.500 0)],
          "identical prompts: CPT(50%) 50%, CPT(80%) 80%, APGR 0.5, in "
          . "every resample");

# the strong model behind the weak one: no resample to take an interval
# from, and no division by zero
$out = run_eval([[1, 0, 0.9], [1, 1, 0.5], [0, 0, 0.1]], 50);
like($out, qr/bootstrap: no resample where the strong model is ahead/,
     "strong model behind: no interval");

# a router that is good but not perfect, on 300 prompts: the intervals
# hold the figures measured on all of them, and are repeatable
my (@mix, $x);
$x = 12345;
for my $i (0 .. 299) {
    $x = ($x * 1103515245 + 12345) % 2147483648;
    my $kind = ($x >> 16) % 5;  # gain (2 in 5), both right, both
    $kind-- if $kind;           # wrong, hurt
    my $d = ($kind == 0 ? 0.5 : 0) + ($x % 1000) / 2000;
    push @mix, $kind == 0 ? [0, 1, $d] : $kind == 1 ? [1, 1, $d]
               : $kind == 2 ? [0, 0, $d] : [1, 0, $d];
}
$out = run_eval(\@mix, 1000);
my ($c5, $c8, $a) = map { s/%//r } row($out);
my @iv = interval($out);
is(scalar @iv, 7, "interval line printed") or diag $out;
@iv = (-1) x 7 unless @iv == 7;
ok($iv[0] <= $c5 && $c5 <= $iv[1], "CPT(50%) $c5 in [$iv[0], $iv[1]]");
ok($iv[2] <= $c8 && $c8 <= $iv[3], "CPT(80%) $c8 in [$iv[2], $iv[3]]");
ok($iv[4] <= $a && $a <= $iv[5], "APGR $a in [$iv[4], $iv[5]]");
ok($iv[0] < $iv[1], "CPT(50%) varies between resamples");
is(run_eval(\@mix, 1000), $out, "the same input, the same output");

done_testing();
