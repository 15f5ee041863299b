#!/usr/bin/perl
#
# Scores llm-route-classify output against held-out labels.
#
#   perl tools/llr-eval.pl task LABELS.jsonl PRED.jsonl
#   perl tools/llr-eval.pl difficulty NAME LABELS.jsonl PRED.jsonl
#   perl tools/llr-eval.pl cv-split DIR TRAIN.jsonl GSM8K.jsonl MMLU.jsonl
#
# cv-split (validation inside the training split, tools/eval.sh
# --validate): fold = FNV-1a-32(prompt bytes . "#cv") mod 5; writes
# DIR/tr<f>.jsonl (TRAIN's lines not in fold f) and DIR/te<f>-gsm8k.jsonl,
# DIR/te<f>-mmlu.jsonl (the lines of fold f that are in GSM8K.jsonl or
# MMLU.jsonl), lines copied byte for byte.
#
# Difficulty: route the k highest-difficulty prompts to the strong model
# (ties broken by input order), performance = mean correctness (strong's
# where routed, weak's otherwise), PGR = (perf - weak) / (strong - weak),
# CPT(x) = smallest strong share with PGR >= x, APGR = area under PGR
# over strong share in [0, 1] (trapezoids over every k).  Then a 95%
# bootstrap interval of the router's CPT(50%), CPT(80%) and APGR: the
# prompts resampled with replacement LLR_EVAL_BOOT times (default 1000,
# 0 for none), the 2.5th and 97.5th percentiles; and the share of the
# resamples in which CPT(50%) <= 30% (the issue's target).

use strict;
use warnings;
use JSON::PP;

my $J = JSON::PP->new->utf8;

sub lines {
    my ($p) = @_;
    open(my $f, '<:raw', $p) or die "$p: $!\n";
    my @l = map { $J->decode($_) } grep { /\S/ } <$f>;
    close $f;
    return @l;
}

my $mode = shift @ARGV // '';

sub fnv1a32 {
    my $h = 0x811c9dc5;
    for my $c (unpack 'C*', $_[0]) {
        $h = (($h ^ $c) * 0x01000193) & 0xffffffff;
    }
    return $h;
}

if ($mode eq 'cv-split') {
    my ($dir, $all, @src) = @ARGV;
    my (%src, @out);
    for my $i (0, 1) {
        open(my $f, '<:raw', $src[$i]) or die "$src[$i]: $!\n";
        for (grep { /\S/ } <$f>) {
            $src{$J->decode($_)->{prompt}} = $i;
        }
    }
    for my $k (0 .. 4) {
        open($out[$k][0], '>:raw', "$dir/tr$k.jsonl") or die "$dir: $!\n";
        open($out[$k][1], '>:raw', "$dir/te$k-gsm8k.jsonl") or die;
        open($out[$k][2], '>:raw', "$dir/te$k-mmlu.jsonl") or die;
    }
    open(my $f, '<:raw', $all) or die "$all: $!\n";
    for my $l (grep { /\S/ } <$f>) {
        my $p = $J->decode($l)->{prompt};
        my $b = $p;
        utf8::encode($b);
        my $k = fnv1a32($b . '#cv') % 5;
        for my $o (0 .. 4) {
            print { $out[$o][0] } $l if $o != $k;
        }
        print { $out[$k][1 + $src{$p}] } $l if defined $src{$p};
    }
    close $_ for map { @$_ } @out;
    exit 0;
}

if ($mode eq 'task') {
    my @lab = lines($ARGV[0]);
    my @pre = lines($ARGV[1]);
    die "count mismatch\n" unless @lab == @pre;
    my (%n, %ok, %conf, $ok);
    for my $i (0 .. $#lab) {
        my ($t, $p) = ($lab[$i]{task}, $pre[$i]{task} // 'ERROR');
        $n{$t}++;
        $conf{$t}{$p}++;
        if ($t eq $p) { $ok{$t}++; $ok++; }
    }
    my @t = sort keys %n;
    printf "task accuracy: %.1f%% (%d/%d held-out prompts)\n\n",
        100 * ($ok // 0) / @lab, $ok // 0, scalar @lab;
    print "| true \\ predicted | n | accuracy | ", join(' | ', @t), " |\n";
    print "|---|---|---|", join('|', map { '---' } @t), "|\n";
    for my $a (@t) {
        printf "| %s | %d | %.1f%% | %s |\n", $a, $n{$a},
            100 * ($ok{$a} // 0) / $n{$a},
            join(' | ', map { $conf{$a}{$_} // 0 } @t);
    }
    exit 0;
}

die "usage: $0 task LABELS PRED | difficulty NAME LABELS PRED"
    . " | cv-split DIR TRAIN GSM8K MMLU\n"
    unless $mode eq 'difficulty';

my ($name, $lp, $pp) = @ARGV;
my @lab = lines($lp);
my @pre = lines($pp);
die "count mismatch\n" unless @lab == @pre;
my $n = @lab;
my @w = map { $_->{weak_correct} ? 1 : 0 } @lab;
my @s = map { $_->{strong_correct} ? 1 : 0 } @lab;
my ($ws, $ss) = (0, 0);
$ws += $_ for @w;
$ss += $_ for @s;
my $gap = ($ss - $ws) / $n;

sub curve {
    my (@order) = @_;
    my @pgr = (0);
    my $perf = $ws;
    for my $k (1 .. $n) {
        my $i = $order[$k - 1];
        $perf += $s[$i] - $w[$i];
        push @pgr, ($perf / $n - $ws / $n) / $gap;
    }
    return @pgr;
}

sub metrics {
    my (@pgr) = @_;
    my %m;
    for my $x (0.5, 0.8) {
        for my $k (0 .. $n) {
            if ($pgr[$k] >= $x - 1e-12) { $m{$x} = $k / $n; last; }
        }
    }
    my $a = 0;
    $a += ($pgr[$_ - 1] + $pgr[$_]) / 2 / $n for 1 .. $n;
    $m{apgr} = $a;
    $m{at} = [map { $pgr[int($_ * $n / 10 + 0.5)] } 1 .. 10];
    return \%m;
}

my @d = map { $_->{difficulty} // -1 } @pre;
my @order = sort { $d[$b] <=> $d[$a] or $a <=> $b } 0 .. $n - 1;
my $r = metrics(curve(@order));

# oracle: prompts the strong model fixes first, the ones it breaks last
my @orc = sort { ($s[$b] - $w[$b]) <=> ($s[$a] - $w[$a]) or $a <=> $b }
    0 .. $n - 1;
my $o = metrics(curve(@orc));

# random: the expected PGR at share x is x
my $rnd = {0.5 => 0.5, 0.8 => 0.8, apgr => 0.5,
           at => [map { $_ / 10 } 1 .. 10]};

# AUC of difficulty against "weak wrong"
my ($pos, $neg, $auc) = (0, 0, 0);
{
    my @asc = sort { $d[$a] <=> $d[$b] or $a <=> $b } 0 .. $n - 1;
    my ($rank, $i) = (0, 0);
    my $sum = 0;
    while ($i < $n) {
        my $j = $i;
        $j++ while $j + 1 < $n && $d[$asc[$j + 1]] == $d[$asc[$i]];
        my $avg = ($i + $j) / 2 + 1;
        for my $k ($i .. $j) {
            if (!$w[$asc[$k]]) { $sum += $avg; $pos++ } else { $neg++ }
        }
        $i = $j + 1;
    }
    $auc = ($pos && $neg) ? ($sum - $pos * ($pos + 1) / 2) / ($pos * $neg)
                          : 0;
}

# bootstrap: the prompts resampled with replacement LLR_EVAL_BOOT times
# (default 1000; 0: none), each resample scored in the router's order;
# xorshift32 seeded with the number of prompts, so the same inputs give
# the same intervals
sub boot {
    my ($reps) = @_;
    my (@cpt5, @cpt8, @apgr, $under);
    my $x = ($n * 2654435761 + 1) & 0xffffffff;
    for my $rep (1 .. $reps) {
        my @c = (0) x $n;
        for (1 .. $n) {
            $x ^= ($x << 13) & 0xffffffff;
            $x ^= $x >> 17;
            $x ^= ($x << 5) & 0xffffffff;
            $c[$x % $n]++;
        }
        my ($w0, $s0) = (0, 0);
        for my $i (0 .. $n - 1) {
            $w0 += $c[$i] * $w[$i];
            $s0 += $c[$i] * $s[$i];
        }
        next if $s0 <= $w0;
        my ($perf, $k, $prev, $area) = ($w0, 0, 0, 0);
        my ($c5, $c8);
        for my $i (@order) {
            for (1 .. $c[$i]) {
                $k++;
                $perf += $s[$i] - $w[$i];
                my $p = ($perf - $w0) / ($s0 - $w0);
                $area += ($prev + $p) / 2 / $n;
                $prev = $p;
                $c5 //= $k / $n if $p >= 0.5 - 1e-12;
                $c8 //= $k / $n if $p >= 0.8 - 1e-12;
            }
        }
        push @cpt5, $c5;
        push @cpt8, $c8;
        push @apgr, $area;
        $under++ if $c5 <= 0.30 + 1e-12;
    }
    return () unless @cpt5;
    my $ci = sub {
        my @v = sort { $a <=> $b } @_;
        return ($v[int(0.025 * @v)], $v[int(0.975 * @v + 0.5) - 1]);
    };
    return ([$ci->(@cpt5)], [$ci->(@cpt8)], [$ci->(@apgr)],
            ($under // 0) / @cpt5, scalar @cpt5);
}

printf "### %s: %d %s prompts, weak %.1f%%, strong %.1f%%\n\n",
    $name, $n, $name =~ /^validation/ ? 'out-of-fold' : 'held-out',
    100 * $ws / $n, 100 * $ss / $n;
printf "AUC of difficulty for \"weak answer wrong\": %.3f\n\n", $auc;
print "| router | ", join(' | ', map { "PGR\@" . ($_ * 10) . "%" } 1 .. 10),
    " | CPT(50%) | CPT(80%) | APGR |\n";
print "|---|", join('|', map { '---' } 1 .. 13), "|\n";
for my $row (['random', $rnd], ['llm_route', $r], ['oracle', $o]) {
    my $m = $row->[1];
    printf "| %s | %s | %.1f%% | %.1f%% | %.3f |\n", $row->[0],
        join(' | ', map { sprintf "%.2f", $_ } @{$m->{at}}),
        100 * $m->{0.5}, 100 * $m->{0.8}, $m->{apgr};
}
print "\n";

my $reps = $ENV{LLR_EVAL_BOOT} // 1000;
my ($b5, $b8, $ba, $under, $used) = $reps > 0 ? boot($reps) : ();
if ($reps > 0 && !$used) {
    print "llm_route, bootstrap: no resample where the strong model is"
        . " ahead\n\n";
} elsif ($reps > 0) {
    printf "llm_route, 95%% bootstrap interval (%d resamples of the"
        . " prompts): CPT(50%%) %.1f%%–%.1f%%, CPT(80%%) %.1f%%–%.1f%%,"
        . " APGR %.3f–%.3f; CPT(50%%) ≤ 30%% in %.0f%% of the"
        . " resamples\n\n", $used, 100 * $b5->[0], 100 * $b5->[1],
        100 * $b8->[0], 100 * $b8->[1], $ba->[0], $ba->[1], 100 * $under;
}
