#!/usr/bin/perl

# research/llr-eval.pl: the routing metrics of docs/classifier.md on
# hand-made predictions (routers, baselines, bootstrap intervals, the
# paired differences), arena-bench and MT-Bench scoring, the AUC and
# calibration of labels, task accuracy per group, and the validation
# split.

use strict;
use warnings;
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

my $dir = tempdir(CLEANUP => 1);
my $J = JSON::PP->new->utf8->canonical;
my $n = 0;

sub write_lines {
    my ($path, @rows) = @_;
    open(my $f, '>:raw', $path) or die "$path: $!";
    print $f $J->encode($_), "\n" for @rows;
    close $f;
}

# run(MODE, ARGS...): the output of llr-eval.pl
sub run {
    my @a = @_;
    my $out = `perl research/llr-eval.pl @a 2>&1`;
    is($?, 0, "llr-eval.pl $a[0] exits 0") or diag($out);
    return $out;
}

sub row {
    my ($out, $name) = @_;
    my ($r) = $out =~ /^\| \Q$name\E \|([^\n]*)/m;
    return map { s/^\s+|\s+$//gr } split /\|/, $r // '';
}

# route: PROMPTS = [weak_correct, strong_correct, difficulty, prompt]
sub route {
    my ($rows, $boot) = @_;
    $n++;
    write_lines("$dir/lab$n.jsonl", map { {prompt => $_->[3] // 'p',
        weak_correct => $_->[0] ? JSON::PP::true : JSON::PP::false,
        strong_correct => $_->[1] ? JSON::PP::true : JSON::PP::false} }
        @$rows);
    write_lines("$dir/pred$n.jsonl", map { {task => $_->[4] // 'math',
        difficulty => $_->[2]} } @$rows);
    local $ENV{LLR_EVAL_BOOT} = $boot;
    return run('route', 'test', "$dir/lab$n.jsonl", "$dir/pred$n.jsonl");
}

# by hand: routed in the order 0, 1, 2, 3; weak 2 of 4, strong 3 of 4;
# PGR = (correct - 2) / 1 after k = 0..4: 0, 1, 1, 2, 1; CPT(50%) =
# CPT(80%) = 1/4; APGR = (0.5 + 1 + 1.5 + 1.5) / 4 = 1.125
my $out = route([[0, 1, 0.9, 'aa'], [1, 1, 0.8, 'bbbbbbbb'],
                 [0, 1, 0.2, 'c'], [1, 0, 0.1, 'dddddddddddddd']], 0);
is_deeply([(row($out, 'llm_route'))[-3 .. -1]], ['25.0%', '25.0%', '1.125'],
          "llm_route by hand");

# prompt length routes the longest first: 3, 1, 0, 2: PGR after k =
# 0..4: 0, -1, -1, 0, 1: never 50% before the end; APGR = (-0.5 - 1 -
# 0.5 + 0.5) / 4 = -0.375
is_deeply([(row($out, 'prompt length'))[-3 .. -1]],
          ['100.0%', '100.0%', '-0.375'], "prompt length by hand");

# task only: every prompt has the same task, so the same score: the tie
# break (a hash of the prompt) decides; the oracle sends the prompts the
# strong model fixes first: PGR 0, 1, 2, 2, 1, APGR (0.5 + 1.5 + 2 +
# 1.5) / 4 = 1.375
is((row($out, 'oracle'))[-1], '1.375', "oracle by hand");
ok(defined((row($out, 'task only'))[-1]), "a task-only row");
# weak wrong at 0.9 and 0.2, right at 0.8 and 0.1: 3 of 4 pairs ordered
like($out, qr/AUC of difficulty: weak answer wrong 0\.750/,
     "AUC of difficulty by hand");
unlike($out, qr/bootstrap/, "LLR_EVAL_BOOT=0: no interval");

# task only: two tasks, the model's mean difficulty per task orders them
# (code: mean 0.7, first; general 0.5): PGR 0.5, 1, 1, 1; APGR = (0.25
# + 0.75 + 1 + 1) / 4
$out = route([[0, 1, 0.6, 'a', 'code'], [1, 1, 0.9, 'b', 'general'],
              [0, 1, 0.8, 'c', 'code'], [1, 1, 0.1, 'd', 'general']], 0);
is_deeply([(row($out, 'task only'))[-3 .. -1]], ['25.0%', '50.0%', '0.750'],
          "task only: the code prompts (mean 0.7) before general (0.5)")
    or diag($out);

# every prompt the same (only the strong model right): PGR = k / n in
# every resample, so each interval is one point; the paired difference
# to the other routers is 0
my @same = map { [0, 1, 0.5, "p$_"] } 1 .. 20;
$out = route(\@same, 200);
like($out, qr/\| llm_route \| 0\.500 \| 0\.500–0\.500 \|/,
     "constant outcome: a one-point APGR interval");
like($out, qr/llm_route − prompt length \| \+0\.000 \| \+0\.000 to \+0\.000/,
     "constant outcome: a zero paired difference");

# the same inputs, the same intervals
my @rows = map { [$_ % 3 == 0 ? 1 : 0, $_ % 5 == 0 ? 0 : 1, ($_ * 37 % 100)
                  / 100, 'x' x ($_ % 7 + 1)] } 1 .. 60;
my $a = route(\@rows, 300);
my $b = route(\@rows, 300);
my ($ia) = $a =~ /(\| llm_route \| [^\n]*–[^\n]*)/;
my ($ib) = $b =~ /(\| llm_route \| [^\n]*–[^\n]*)/;
ok(defined $ia && $ia eq $ib, "deterministic intervals");
my ($lo, $hi) = $a =~ /\| llm_route \| [\d.-]+ \| ([\d.-]+)–([\d.-]+) \|/;
ok(defined $lo && $lo < $hi, "the interval has a width ($lo, $hi)");

# ---- arena: grades, prompts without both grades dropped ----------------------

write_lines("$dir/arena.jsonl",
    {prompt => 'hard one', scores => {S => 9, W => 2}},
    {prompt => 'easy', scores => {S => 8, W => 8}},
    {prompt => 'no weak grade', scores => {S => 9, W => undef}},
    {prompt => 'medium', scores => {S => 7, W => 5}});
write_lines("$dir/arena-pred.jsonl", {task => 'code', difficulty => 0.9},
            {task => 'general', difficulty => 0.1},
            {task => 'code', difficulty => 0.5},
            {task => 'code', difficulty => 0.3});
{
    local $ENV{LLR_EVAL_BOOT} = 0;
    $out = run('arena', 'bench', "$dir/arena.jsonl", "$dir/arena-pred.jsonl",
               'S', 'W');
}
# three prompts: gains 7, 0, 2; routed hard (0.9), medium (0.3), easy:
# PGR 7/9, 1, 1 of the gap of 9; APGR = (7/18 + (7/9 + 1) / 2 + 1) / 3
like($out, qr/S \/ W: 3 prompts/, "a prompt without both grades dropped");
is((row($out, 'llm_route'))[-1], '0.759', "arena APGR by hand");

# ---- MT-Bench: the 8 contaminated questions dropped, AUC per category ------

my @mt;
my @mtp;
for my $q (81 .. 92) {
    my $cat = $q % 2 ? 'odd' : 'even';
    my $gain = $q % 3 == 0 ? 2 : 0;
    push @mt, {qid => $q, category => $cat, prompt => "q$q",
               weak => [7, 7], strong => [7 + $gain, 7]};
    push @mtp, {task => 'general', difficulty => $gain ? 0.9 : 0.1};
}
write_lines("$dir/mt.jsonl", @mt);
write_lines("$dir/mt-pred.jsonl", @mtp);
{
    local $ENV{LLR_EVAL_BOOT} = 0;
    $out = run('mtbench', "$dir/mt.jsonl", "$dir/mt-pred.jsonl");
}
# 81, 88, 91, 92 are among RouteLLM's 8: 12 - 4 = 8 left
like($out, qr/: 8 prompts/, "RouteLLM's contaminated questions dropped");
like($out, qr/mean within-category AUC \(2 categories with both classes\): 1\.000/,
     "within-category AUC: perfect ranking") or diag($out);

# ---- labels: AUC within task and language, calibration ----------------------

write_lines("$dir/lab.jsonl",
    (map { {prompt => "e$_", task => 'code', lang => 'en', label => 0} } 1 .. 5),
    (map { {prompt => "h$_", task => 'code', lang => 'en', label => 1} } 1 .. 5),
    {prompt => 'u', task => 'code', lang => 'de', label => 0.5});
write_lines("$dir/lab-pred.jsonl",
    (map { {task => 'code', difficulty => 0.1} } 1 .. 5),
    (map { {task => 'code', difficulty => 0.8} } 1 .. 5),
    {task => 'code', difficulty => 0.5});
$out = run('labels', 'x', "$dir/lab.jsonl", "$dir/lab-pred.jsonl");
like($out, qr/all: 1\.000/, "labels: AUC 1 (the unsure one left out)");
like($out, qr/\| code \| 11 \| 5 \| 1\.000 \|/, "labels: per task");
like($out, qr/expected calibration error \(10 bins\): 0\.136/,
     "calibration error by hand: (5 * 0.1 + 5 * 0.2 + 0) / 11");

# ---- task accuracy per group ---------------------------------------------------

write_lines("$dir/task.jsonl", {prompt => 'a', task => 'code', lang => 'en'},
            {prompt => 'b', task => 'code', lang => 'de'},
            {prompt => 'c', task => 'math', lang => 'de'});
write_lines("$dir/task-pred.jsonl", {task => 'code'}, {task => 'math'},
            {task => 'math'});
$out = run('task', "$dir/task.jsonl", "$dir/task-pred.jsonl", 'lang');
like($out, qr/task accuracy: 66\.7% \(2\/3/, "task accuracy");
like($out, qr/\| de \| 2 \| 50\.0% \|/, "per language");
# Wilson 95%: 2 of 3 is 20.8%..93.9%, 1 of 1 is 20.7%..100.0%
like($out, qr/95% interval 20\.8%\S+93\.9%\)/, "an interval for all");
like($out, qr/\| en \| 1 \| 100\.0% \| 20\.7%\S+100\.0% \|/,
     "an interval per language");

# ---- cv-split: groups stay together, held-out lines never appear ----------

write_lines("$dir/cvt.jsonl", map { {prompt => "t$_", task => 'code',
    ($_ <= 10 ? (group => 'g') : ())} } 1 .. 40);
write_lines("$dir/cvd.jsonl", (map { {prompt => "d$_", source => 'gsm8k',
    weak_correct => JSON::PP::true, strong_correct => JSON::PP::true} }
    1 .. 40), {prompt => 'w', source => 'written', group => 'g',
    target => 1, label => 1});
write_lines("$dir/cvm.jsonl", {qid => 1, prompt => 'm', category => 'x',
    weak => [1, 1], strong => [2, 2]});
mkdir "$dir/cv";
run('cv-split', "$dir/cv", "$dir/cvt.jsonl", "$dir/cvd.jsonl",
    "$dir/cvm.jsonl");
my (%fold_of, $tot);
for my $k (0 .. 4) {
    open(my $f, '<', "$dir/cv/task-te$k.jsonl") or die;
    for (<$f>) {
        $fold_of{$J->decode($_)->{prompt}} = $k;
        $tot++;
    }
}
is($tot, 40, "every task line is in one test fold");
is(scalar(grep { $fold_of{"t$_"} == $fold_of{t1} } 1 .. 10), 10,
   "a group is one fold");
{
    my $k = $fold_of{t1};
    open(my $f, '<', "$dir/cv/task-tr$k.jsonl") or die;
    my @l = <$f>;
    is(scalar(grep { /"t1"/ } @l), 0, "the fold is not in its training set");
    open($f, '<', "$dir/cv/te$k-written.jsonl") or die;
    @l = <$f>;
    is(scalar @l, 1, "the written line of the group is in the same fold");
}

done_testing();
