#!/usr/bin/perl
#
# Scores llm-route-classify output (PRED: one JSON line per input line,
# {"task", "difficulty", ...}) against labels.  The tables of
# docs/classifier.md.
#
#   perl research/llr-eval.pl task LABELS PRED [FIELD]
#       task accuracy, overall, per true task, and per value of FIELD
#       (for example "lang" or "source")
#   perl research/llr-eval.pl route NAME LABELS PRED
#       LABELS with weak_correct / strong_correct: routing by difficulty
#   perl research/llr-eval.pl arena NAME ARENA PRED STRONG WEAK
#       arena-bench: the gain is the strong model's grade minus the weak
#       model's (GPT-4 grades 1-10); prompts without both grades dropped
#   perl research/llr-eval.pl mtbench MTBENCH PRED
#       MT-Bench as RouteLLM scores it: the 72 questions left after its
#       decontamination, routed by the first turn, a question's score the
#       mean of its two turns; and the AUC of difficulty within each
#       category for "the strong model scores higher"
#   perl research/llr-eval.pl labels NAME LABELS PRED
#       LABELS with "label" (0..1, or from weak/strong correctness: weak
#       wrong and strong right): AUC of difficulty within each task and
#       language, and its calibration
#   perl research/llr-eval.pl cv-split DIR TASK DIFF MTBENCH
#       5 folds, fold = FNV-1a-32(bytes . "#cv") mod 5 of the line's
#       "group" if it has one (the written prompts: translations of one
#       item), else of its first message:
#       DIR/task-tr<f>.jsonl, DIR/diff-tr<f>.jsonl (the lines not in fold
#       f), DIR/task-te<f>.jsonl, DIR/te<f>-gsm8k.jsonl, -mmlu, -written,
#       -cal (every labelled difficulty line) and -mtbench (the lines in
#       fold f), copied byte for byte
#
# Routing (route, arena, mtbench): send the k highest-scoring prompts to
# the strong model; performance = mean outcome (the strong model's where
# routed, the weak model's otherwise), PGR = (perf - weak) / (strong -
# weak), CPT(x) = the smallest strong share with PGR >= x, APGR = the area
# under PGR over the strong share in [0, 1] (trapezoids over every k).
# Routers: random (expected values), prompt length (bytes, longest
# first), task only (each prompt scored by the mean difficulty of its
# predicted task over the set: the model's ordering of tasks, nothing
# within a task), llm_route (the difficulty), oracle.  Ties are broken by
# a hash of the prompt.  95% bootstrap intervals: the prompts resampled
# with replacement LLR_EVAL_BOOT times (default 1000, 0: none), the 2.5th
# and 97.5th percentiles, and the paired differences of APGR between
# llm_route and the baselines on the same resamples.

use strict;
use warnings;
use JSON::PP;

my $J = JSON::PP->new->utf8->canonical;

sub lines {
    my ($p) = @_;
    open(my $f, '<:raw', $p) or die "$p: $!\n";
    my @l = map { $J->decode($_) } grep { /\S/ } <$f>;
    close $f;
    return @l;
}

sub raw_lines {
    my ($p) = @_;
    open(my $f, '<:raw', $p) or die "$p: $!\n";
    my @l = grep { /\S/ } <$f>;
    close $f;
    return @l;
}

sub fnv1a32 {
    my $h = 0x811c9dc5;
    for my $c (unpack 'C*', $_[0]) {
        $h = (($h ^ $c) * 0x01000193) & 0xffffffff;
    }
    return $h;
}

sub bytes_of { my $b = $_[0] // ''; utf8::encode($b); return $b; }

sub first_text {
    my ($r) = @_;
    return $r->{prompt} // ($r->{messages} ? $r->{messages}[0]{content}
                                            : '');
}

# the text a length router sees: every message
sub all_text {
    my ($r) = @_;
    return $r->{prompt} if defined $r->{prompt};
    return join("\n", map { $_->{content} // '' } @{$r->{messages} // []});
}

my $mode = shift @ARGV // '';

# ---- cv-split -----------------------------------------------------------------

if ($mode eq 'cv-split') {
    my ($dir, $task, $diff, $mt) = @ARGV;
    die "usage: cv-split DIR TASK DIFF MTBENCH\n" unless defined $mt;
    my %out;
    my $fh = sub {
        my ($name) = @_;
        return $out{$name} //= do {
            open(my $f, '>:raw', "$dir/$name.jsonl") or die "$dir: $!\n";
            $f;
        };
    };
    my $fold = sub {
        return fnv1a32(bytes_of($_[0]{group} // first_text($_[0])) . '#cv')
               % 5;
    };
    # every file exists, even if empty
    for my $k (0 .. 4) {
        $fh->($_) for "task-tr$k", "diff-tr$k", "task-te$k", "te$k-gsm8k",
            "te$k-mmlu", "te$k-written", "te$k-cal", "te$k-mtbench";
    }
    for my $l (raw_lines($task)) {
        my $k = $fold->($J->decode($l));
        print { $fh->("task-te$k") } $l;
        print { $fh->("task-tr$_") } $l for grep { $_ != $k } 0 .. 4;
    }
    for my $l (raw_lines($diff)) {
        my $r = $J->decode($l);
        my $k = $fold->($r);
        print { $fh->("diff-tr$_") } $l for grep { $_ != $k } 0 .. 4;
        my $s = $r->{source} // '';
        print { $fh->("te$k-$s") } $l
            if $s eq 'gsm8k' || $s eq 'mmlu' || $s eq 'written';
        print { $fh->("te$k-cal") } $l
            if defined $r->{label} || defined $r->{weak_correct};
    }
    for my $l (raw_lines($mt)) {
        my $k = $fold->($J->decode($l));
        print { $fh->("te$k-mtbench") } $l;
    }
    close $_ for values %out;
    exit 0;
}

# ---- shared ---------------------------------------------------------------------

sub load_pair {
    my ($lp, $pp) = @_;
    my @lab = lines($lp);
    my @pre = lines($pp);
    die "$lp, $pp: count mismatch (" . @lab . ", " . @pre . ")\n"
        unless @lab == @pre;
    return (\@lab, \@pre);
}

# AUC of score for pos (1) against neg (0); undef entries skipped
sub auc {
    my ($score, $pos) = @_;
    my @i = grep { defined $pos->[$_] } 0 .. $#$score;
    my ($np, $nn) = (0, 0);
    $np += $pos->[$_] for @i;
    $nn = @i - $np;
    return undef unless $np && $nn;
    my @asc = sort { $score->[$a] <=> $score->[$b] } @i;
    my ($sum, $r) = (0, 0);
    while ($r < @asc) {
        my $e = $r;
        $e++ while $e + 1 < @asc && $score->[$asc[$e + 1]]
                                    == $score->[$asc[$r]];
        my $avg = ($r + $e) / 2 + 1;
        for my $k ($r .. $e) { $sum += $avg if $pos->[$asc[$k]]; }
        $r = $e + 1;
    }
    return ($sum - $np * ($np + 1) / 2) / ($np * $nn);
}

# the routing order of a score: highest first, ties by the tie keys
sub order_by {
    my ($score, $tie) = @_;
    return sort { $score->[$b] <=> $score->[$a] or $tie->[$a] <=> $tie->[$b]
                  or $a <=> $b } 0 .. $#$score;
}

# PGR curve metrics of an order; $c: resample counts (or undef: 1 each)
sub metrics {
    my ($w, $s, $order, $c) = @_;
    my $n = 0;
    my ($W, $S) = (0, 0);
    for my $i (0 .. $#$w) {
        my $m = $c ? $c->[$i] : 1;
        $n += $m;
        $W += $m * $w->[$i];
        $S += $m * $s->[$i];
    }
    return undef if $S <= $W + 1e-12;
    my ($perf, $k, $prev, $area) = ($W, 0, 0, 0);
    my (%m, @pgr);
    push @pgr, 0;
    for my $i (@$order) {
        my $m = $c ? $c->[$i] : 1;
        for (1 .. $m) {
            $k++;
            $perf += $s->[$i] - $w->[$i];
            my $p = ($perf - $W) / ($S - $W);
            $area += ($prev + $p) / 2 / $n;
            $prev = $p;
            push @pgr, $p unless $c;
            $m{c5} //= $k / $n if $p >= 0.5 - 1e-12;
            $m{c8} //= $k / $n if $p >= 0.8 - 1e-12;
        }
    }
    $m{apgr} = $area;
    $m{at} = [map { $pgr[int($_ * $n / 10 + 0.5)] } 1 .. 10] unless $c;
    $m{w} = $W / $n;
    $m{s} = $S / $n;
    return \%m;
}

# the Wilson score interval (95%) of k successes in n, as "a%–b%"
sub wilson {
    my ($k, $n) = @_;
    return 'n/a' unless $n;
    my ($z, $p) = (1.959964, $k / $n);
    my $c = ($p + $z * $z / (2 * $n)) / (1 + $z * $z / $n);
    my $h = $z / (1 + $z * $z / $n)
            * sqrt($p * (1 - $p) / $n + $z * $z / (4 * $n * $n));
    return sprintf '%.1f%%–%.1f%%', 100 * ($c - $h), 100 * ($c + $h);
}

sub pct {
    my ($v, $q) = @_;
    my @s = sort { $a <=> $b } @$v;
    return $s[int($q * (@s - 1) + 0.5)];
}

# the routing tables of one set: outcomes w, s; routers {name => score}
sub routing_report {
    my ($title, $w, $s, $tie, $routers, $names) = @_;
    my $n = @$w;
    my %ord;
    $ord{$_} = [order_by($routers->{$_}, $tie)] for @$names;
    my @gain = map { $s->[$_] - $w->[$_] } 0 .. $n - 1;
    $ord{oracle} = [order_by(\@gain, $tie)];

    my %m = map { $_ => metrics($w, $s, $ord{$_}) } @$names, 'oracle';
    my $any = $m{oracle};
    unless ($any) {
        print "### $title: the strong model is not ahead\n\n";
        return;
    }
    printf "### %s: %d prompts, weak %.3f, strong %.3f\n\n", $title, $n,
        $any->{w}, $any->{s};
    print "| router | PGR\@10% | PGR\@20% | PGR\@30% | PGR\@50% | PGR\@70% "
        . "| CPT(50%) | CPT(80%) | APGR |\n|---|---|---|---|---|---|---|---|---|\n";
    printf "| random | 0.10 | 0.20 | 0.30 | 0.50 | 0.70 | 50.0%% | 80.0%% "
        . "| 0.500 |\n";
    for my $r (@$names, 'oracle') {
        my $x = $m{$r};
        printf "| %s | %s | %.1f%% | %.1f%% | %.3f |\n", $r,
            join(' | ', map { sprintf "%.2f", $x->{at}[$_] } 0, 1, 2, 4, 6),
            100 * $x->{c5}, 100 * $x->{c8}, $x->{apgr};
    }
    print "\n";

    my $reps = $ENV{LLR_EVAL_BOOT} // 1000;
    return if $reps <= 0;

    # the same resamples for every router: xorshift32 seeded by n
    my (%ap, %c5, %diff, $used);
    my $x = ($n * 2654435761 + 1) & 0xffffffff;
    for (1 .. $reps) {
        my @c = (0) x $n;
        for (1 .. $n) {
            $x ^= ($x << 13) & 0xffffffff;
            $x ^= $x >> 17;
            $x ^= ($x << 5) & 0xffffffff;
            $c[$x % $n]++;
        }
        my %r = map { $_ => metrics($w, $s, $ord{$_}, \@c) } @$names;
        next if grep { !defined } values %r;
        $used++;
        for my $k (@$names) {
            push @{$ap{$k}}, $r{$k}{apgr};
            push @{$c5{$k}}, $r{$k}{c5};
        }
        for my $k (@$names[1 .. $#$names]) {
            push @{$diff{$k}}, $r{$names->[0]}{apgr} - $r{$k}{apgr};
        }
    }
    unless ($used) {
        print "(bootstrap: no resample where the strong model is ahead)\n\n";
        return;
    }
    printf "95%% bootstrap intervals (%d resamples of the prompts):\n\n",
        $used;
    print "| router | APGR | 95% interval | CPT(50%) 95% interval |\n"
        . "|---|---|---|---|\n";
    for my $k (@$names) {
        printf "| %s | %.3f | %.3f–%.3f | %.1f%%–%.1f%% |\n", $k,
            $m{$k}{apgr}, pct($ap{$k}, 0.025), pct($ap{$k}, 0.975),
            100 * pct($c5{$k}, 0.025), 100 * pct($c5{$k}, 0.975);
    }
    print "\n| APGR difference | measured | 95% interval (paired) |\n"
        . "|---|---|---|\n";
    for my $k (@$names[1 .. $#$names]) {
        printf "| %s − %s | %+.3f | %+.3f to %+.3f |\n", $names->[0], $k,
            $m{$names->[0]}{apgr} - $m{$k}{apgr}, pct($diff{$k}, 0.025),
            pct($diff{$k}, 0.975);
    }
    print "\n";
}

# the routers of a set: llm_route, prompt length, task only
sub routers {
    my ($lab, $pre, $textf) = @_;
    my @d = map { $_->{difficulty} // 0 } @$pre;
    my @len = map { length(bytes_of($textf->($_))) } @$lab;
    my (%sum, %cnt);
    for my $i (0 .. $#d) {
        my $t = $pre->[$i]{task} // '';
        $sum{$t} += $d[$i];
        $cnt{$t}++;
    }
    my @task = map { my $t = $pre->[$_]{task} // ''; $sum{$t} / $cnt{$t} }
               0 .. $#d;
    my @tie = map { fnv1a32(bytes_of($textf->($_)) . '#tie') } @$lab;
    return ({llm_route => \@d, 'prompt length' => \@len,
             'task only' => \@task}, \@tie,
            ['llm_route', 'prompt length', 'task only']);
}

# ---- task ---------------------------------------------------------------------

if ($mode eq 'task') {
    my ($lab, $pre) = load_pair($ARGV[0], $ARGV[1]);
    my $field = $ARGV[2];
    my (%n, %ok, %conf, %gn, %gok, $ok);
    for my $i (0 .. $#$lab) {
        my ($t, $p) = ($lab->[$i]{task}, $pre->[$i]{task} // 'ERROR');
        $n{$t}++;
        $conf{$t}{$p}++;
        my $g = defined $field ? ($lab->[$i]{$field} // '-') : undef;
        $gn{$g}++ if defined $g;
        if ($t eq $p) {
            $ok{$t}++;
            $ok++;
            $gok{$g}++ if defined $g;
        }
    }
    my @t = sort keys %n;
    printf "task accuracy: %.1f%% (%d/%d prompts; 95%% interval %s)\n\n",
        100 * ($ok // 0) / @$lab, $ok // 0, scalar @$lab,
        wilson($ok // 0, scalar @$lab);
    if (defined $field) {
        print "| $field | n | accuracy | 95% interval |\n",
              "|---|---:|---:|---|\n";
        for my $g (sort keys %gn) {
            printf "| %s | %d | %.1f%% | %s |\n", $g, $gn{$g},
                100 * ($gok{$g} // 0) / $gn{$g},
                wilson($gok{$g} // 0, $gn{$g});
        }
        print "\n";
    }
    print "| true \\ predicted | n | accuracy | ", join(' | ', @t), " |\n";
    print "|---|---|---|", join('|', map { '---' } @t), "|\n";
    for my $a (@t) {
        printf "| %s | %d | %.1f%% | %s |\n", $a, $n{$a},
            100 * ($ok{$a} // 0) / $n{$a},
            join(' | ', map { $conf{$a}{$_} // 0 } @t);
    }
    print "\n";
    exit 0;
}

# ---- route: correctness of a weak and a strong model -----------------------------

if ($mode eq 'route') {
    my ($name, $lp, $pp) = @ARGV;
    my ($lab, $pre) = load_pair($lp, $pp);
    my @w = map { $_->{weak_correct} ? 1 : 0 } @$lab;
    my @s = map { $_->{strong_correct} ? 1 : 0 } @$lab;
    my @d = map { $_->{difficulty} // 0 } @$pre;
    my ($r, $tie, $names) = routers($lab, $pre, \&all_text);
    my $a = auc(\@d, [map { $w[$_] ? 0 : 1 } 0 .. $#w]);
    my $g = auc(\@d, [map { !$w[$_] && $s[$_] ? 1 : 0 } 0 .. $#w]);
    routing_report($name, \@w, \@s, $tie, $r, $names);
    printf "AUC of difficulty: weak answer wrong %.3f; weak wrong and "
        . "strong right %.3f\n\n", $a // 0, $g // 0;
    exit 0;
}

# ---- arena-bench ------------------------------------------------------------------

if ($mode eq 'arena') {
    my ($name, $ap, $pp, $strong, $weak) = @ARGV;
    my ($lab, $pre) = load_pair($ap, $pp);
    my (@w, @s, @l, @p);
    for my $i (0 .. $#$lab) {
        my ($sw, $ss) = ($lab->[$i]{scores}{$weak}, $lab->[$i]{scores}{$strong});
        next unless defined $sw && defined $ss;
        push @w, $sw;
        push @s, $ss;
        push @l, $lab->[$i];
        push @p, $pre->[$i];
    }
    my ($r, $tie, $names) = routers(\@l, \@p, \&all_text);
    my @d = map { $_->{difficulty} // 0 } @p;
    routing_report("$name: $strong / $weak", \@w, \@s, $tie, $r, $names);
    my %tc;
    $tc{$_->{task} // '-'}++ for @p;
    printf "AUC of difficulty for \"the strong model's grade is higher\": "
        . "%.3f; predicted tasks: %s\n\n",
        auc(\@d, [map { $s[$_] > $w[$_] ? 1 : 0 } 0 .. $#w]) // 0,
        join(', ', map { "$_ $tc{$_}" } sort { $tc{$b} <=> $tc{$a}
                                                   or $a cmp $b } keys %tc);
    exit 0;
}

# ---- MT-Bench -----------------------------------------------------------------

if ($mode eq 'mtbench') {
    my ($mp, $pp) = @ARGV;
    my ($lab, $pre) = load_pair($mp, $pp);
    # RouteLLM's decontamination drops these 8 questions
    my %contam = map { $_ => 1 } 81, 88, 91, 92, 101, 104, 120, 122;
    my (@w, @s, @l, @p);
    for my $i (0 .. $#$lab) {
        next if $contam{$lab->[$i]{qid}};
        push @w, ($lab->[$i]{weak}[0] + $lab->[$i]{weak}[1]) / 2;
        push @s, ($lab->[$i]{strong}[0] + $lab->[$i]{strong}[1]) / 2;
        push @l, $lab->[$i];
        push @p, $pre->[$i];
    }
    my ($r, $tie, $names) = routers(\@l, \@p, \&all_text);
    routing_report("MT-Bench (first turn routes both)", \@w, \@s, $tie, $r,
                   $names);
    my (%cat, @rows);
    push @{$cat{$l[$_]{category}}}, $_ for 0 .. $#l;
    my (@aucs, @taucs);
    print "| category | questions | strong ahead | AUC of difficulty |\n"
        . "|---|---:|---:|---:|\n";
    for my $c (sort keys %cat) {
        my @i = @{$cat{$c}};
        my @sc = map { $p[$_]{difficulty} // 0 } @i;
        my @pos = map { $s[$_] > $w[$_] ? 1 : 0 } @i;
        my $np = 0;
        $np += $_ for @pos;
        my $a = auc(\@sc, \@pos);
        push @aucs, $a if defined $a;
        printf "| %s | %d | %d | %s |\n", $c, scalar @i, $np,
            defined $a ? sprintf("%.3f", $a) : 'n/a (one class)';
    }
    my $mean = 0;
    $mean += $_ for @aucs;
    printf "\nmean within-category AUC (%d categories with both classes): "
        . "%.3f\n\n", scalar @aucs, @aucs ? $mean / @aucs : 0;
    exit 0;
}

# ---- labels: AUC within task and language, calibration ---------------------------

if ($mode eq 'labels') {
    my ($name, $lp, $pp) = @ARGV;
    my ($lab, $pre) = load_pair($lp, $pp);
    my (@d, @y, @task, @lang, @ptask);
    for my $i (0 .. $#$lab) {
        my $r = $lab->[$i];
        my $y = $r->{label};
        if (!defined $y && defined $r->{weak_correct}) {
            $y = (!$r->{weak_correct} && $r->{strong_correct}) ? 1 : 0;
        }
        next unless defined $y;
        push @d, $pre->[$i]{difficulty} // 0;
        push @y, $y;
        push @task, $r->{task} // $pre->[$i]{task} // '-';
        push @ptask, $pre->[$i]{task} // '-';
        push @lang, $r->{lang} // $r->{source} // '-';
    }
    my @pos = map { $_ >= 0.75 ? 1 : ($_ <= 0.25 ? 0 : undef) } @y;
    printf "### %s: %d labelled prompts\n\n", $name, scalar @d;
    printf "AUC of difficulty (label >= 0.75 against <= 0.25), all: %.3f\n\n",
        auc(\@d, \@pos) // 0;
    for my $g (['task', \@task], ['language or source', \@lang]) {
        my %by;
        push @{$by{$g->[1][$_]}}, $_ for 0 .. $#d;
        my (@a, $sum);
        print "| $g->[0] | n | hard | AUC | mean difficulty | mean label |\n"
            . "|---|---:|---:|---:|---:|---:|\n";
        for my $k (sort keys %by) {
            my @i = @{$by{$k}};
            my $a = auc([map { $d[$_] } @i], [map { $pos[$_] } @i]);
            my ($md, $my, $nh) = (0, 0, 0);
            $md += $d[$_] for @i;
            $my += $y[$_] for @i;
            $nh += ($pos[$_] // 0) for @i;
            push @a, $a if defined $a;
            printf "| %s | %d | %d | %s | %.3f | %.3f |\n", $k, scalar @i,
                $nh, defined $a ? sprintf("%.3f", $a) : 'n/a', $md / @i,
                $my / @i;
        }
        $sum = 0;
        $sum += $_ for @a;
        printf "\nmean AUC within %s: %.3f\n\n", $g->[0],
            @a ? $sum / @a : 0;
    }
    # calibration: ten bins of the difficulty, and per predicted task
    my (@bn, @bd, @by);
    for my $i (0 .. $#d) {
        my $b = int($d[$i] * 10);
        $b = 9 if $b > 9;
        $bn[$b]++;
        $bd[$b] += $d[$i];
        $by[$b] += $y[$i];
    }
    my $ece = 0;
    print "| difficulty | n | mean difficulty | mean label |\n"
        . "|---|---:|---:|---:|\n";
    for my $b (0 .. 9) {
        next unless $bn[$b];
        printf "| %.1f–%.1f | %d | %.3f | %.3f |\n", $b / 10, ($b + 1) / 10,
            $bn[$b], $bd[$b] / $bn[$b], $by[$b] / $bn[$b];
        $ece += abs($bd[$b] - $by[$b]) / @d;
    }
    printf "\nexpected calibration error (10 bins): %.3f\n\n", $ece;
    my %pt;
    push @{$pt{$ptask[$_]}}, $_ for 0 .. $#d;
    print "| predicted task | n | mean difficulty | mean label |\n"
        . "|---|---:|---:|---:|\n";
    for my $k (sort keys %pt) {
        my @i = @{$pt{$k}};
        my ($md, $my) = (0, 0);
        $md += $d[$_] for @i;
        $my += $y[$_] for @i;
        printf "| %s | %d | %.3f | %.3f |\n", $k, scalar @i, $md / @i,
            $my / @i;
    }
    print "\n";
    exit 0;
}

die "usage: $0 task|route|arena|mtbench|labels|cv-split ...\n";
