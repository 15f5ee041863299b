#!/usr/bin/perl
#
# Builds the classifier's training and held-out JSON lines from the
# openly licensed data in DATA_DIR (../shared/data) and the prompts
# written for this project in MODELS_DIR (models/).  Deterministic: fixed
# order, and a prompt is held out iff FNV-1a-32(prompt UTF-8 bytes) % 5
# == 0 (for a conversation: of its first message).
#
#   perl research/llr-prep-data.pl DATA_DIR MODELS_DIR OUT_DIR
#
# Writes to OUT_DIR:
#
#   task-train.jsonl, task-test.jsonl      {"prompt"|"messages", "task",
#                                           "source", ["lang"]}
#   diff-train.jsonl                       every difficulty source, with
#                                           "source" (see below)
#   diff-train-gsm8k.jsonl, diff-train-mmlu.jsonl, diff-test-gsm8k.jsonl,
#   diff-test-mmlu.jsonl                   RouteLLM's GSM8K and MMLU lines
#   diff-test-written.jsonl                held-out written prompts with
#                                           the writer's label
#   mtbench.jsonl                          MT-Bench questions with both
#                                           models' scores (evaluation)
#   ml-test.jsonl                          the multilingual held-out set
#                                           (models/heldout), evaluation
#   typical-mix.jsonl                      request bodies of training
#                                           prompts: the sample the tiers
#                                           are calibrated on
#
# Difficulty sources ("source"):
#   gsm8k, mmlu      RouteLLM: Mixtral-8x7B (weak) and gpt-4-1106-preview
#                    (strong) correctness; GSM8K lines carry "aux", the
#                    share of the four GPT-3 variants of
#                    grade-school-math/example_model_solutions.jsonl that
#                    got the problem wrong
#   mtbench          MT-Bench, both turns (the second as a conversation:
#                    turn 1, the strong model's answer, turn 2), GPT-4
#                    judge scores of the same two models
#   arenahard        Arena-Hard v0.1 and v2.0 prompts: hard anchors
#                    ("target" 0.8, no calibration label); prompts also in
#                    arena-bench are dropped
#   written          models/written/*.txt: the writer's label
#   chitchat         models/extra-difficulty-prompts.jsonl
#   gsm8k_steps      GSM8K training problems, "aux" from the number of
#                    calculator steps of the reference solution
#
# The prompts of *_contaminated_prompts.jsonl are dropped everywhere.

use strict;
use warnings;
use JSON::PP;
use IO::Uncompress::Gunzip qw($GunzipError);

my ($data, $models, $out) = @ARGV;
die "usage: $0 DATA_DIR MODELS_DIR OUT_DIR\n" unless defined $out;

my $J = JSON::PP->new->canonical->utf8;

sub fnv32 {
    my ($s) = @_;
    my $h = 0x811c9dc5;
    for my $c (unpack('C*', $s)) {
        $h ^= $c;
        $h = ($h * 0x01000193) & 0xffffffff;
    }
    return $h;
}

# held out: by the UTF-8 bytes of the prompt (a Perl character string)
sub held_out {
    my ($p) = @_;
    my $b = $p;
    utf8::encode($b);
    return fnv32($b) % 5 == 0;
}

sub read_jsonl {
    my ($path) = @_;
    my @r;
    open(my $f, '<:raw', $path) or die "$path: $!\n";
    while (my $l = <$f>) {
        next unless $l =~ /\S/;
        push @r, $J->decode($l);
    }
    close $f;
    return @r;
}

# RFC 4180 CSV with quoted fields spanning lines (bytes, decoded after)
sub read_csv {
    my ($path) = @_;
    open(my $f, '<:raw', $path) or die "$path: $!\n";
    local $/;
    my $t = <$f>;
    close $f;
    my (@rows, @row);
    my $field = '';
    my $i = 0;
    my $n = length $t;
    my $inq = 0;
    while ($i < $n) {
        my $c = substr($t, $i, 1);
        if ($inq) {
            if ($c eq '"') {
                if ($i + 1 < $n && substr($t, $i + 1, 1) eq '"') {
                    $field .= '"'; $i += 2; next;
                }
                $inq = 0; $i++; next;
            }
            my $j = index($t, '"', $i);
            $j = $n if $j < 0;
            $field .= substr($t, $i, $j - $i);
            $i = $j;
            next;
        }
        if ($c eq '"') { $inq = 1; $i++; next; }
        if ($c eq ',') { push @row, $field; $field = ''; $i++; next; }
        if ($c eq "\r") { $i++; next; }
        if ($c eq "\n") {
            push @row, $field; push @rows, [@row];
            @row = (); $field = ''; $i++; next;
        }
        my $j = $i;
        $j++ while $j < $n && substr($t, $j, 1) !~ /[",\r\n]/;
        $field .= substr($t, $i, $j - $i);
        $i = $j;
    }
    if (length $field || @row) { push @row, $field; push @rows, [@row]; }
    for my $r (@rows) { utf8::decode($_) for @$r; }
    my $hdr = shift @rows;
    return ($hdr, @rows);
}

sub write_lines {
    my ($path, @l) = @_;
    open(my $f, '>:raw', $path) or die "$path: $!\n";
    print $f @l;
    close $f or die "$path: $!\n";
}

sub enc { return $J->encode($_[0]) . "\n"; }

# the first message of a line: the prompt or the first "content"
sub first_text {
    my ($r) = @_;
    return $r->{prompt} // $r->{messages}[0]{content};
}

# ---- exclusions ---------------------------------------------------------

# contaminated prompts (RouteLLM evaluations drop them)
my %bad;
for my $f ("gsm8k", "mmlu") {
    for my $r (read_jsonl("$data/routellm/${f}_contaminated_prompts.jsonl")) {
        $bad{$r->{eval_prompt}} = 1 if defined $r->{eval_prompt};
    }
}

# arena-bench is evaluation only: a training prompt whose normalized
# opening (letters and digits, 80 of them) is an arena-bench prompt's is
# dropped
sub nkey {
    my $k = lc $_[0];
    $k =~ s/[^a-z0-9]+/ /g;
    $k =~ s/^ +| +$//g;
    return substr($k, 0, 80);
}

my %bench;
if (-f "$data/arena-bench/arena-bench-v1.jsonl") {
    $bench{nkey($_->{prompt})} = 1
        for read_jsonl("$data/arena-bench/arena-bench-v1.jsonl");
}
my $nbench = 0;

sub excluded {
    my ($p) = @_;
    return 1 if $bad{$p};
    if ($bench{nkey($p)}) { $nbench++; return 1; }
    return 0;
}

# near a prompt of the multilingual held-out set (see below), by source
my %ndecon;
sub decontaminated {
    my ($p, $source) = @_;
    return 0 unless near_heldout($p);
    $ndecon{$source}++;
    return 1;
}

# ---- the multilingual held-out set -----------------------------------------

my @ml;
{
    opendir(my $h, "$models/heldout") or die "$models/heldout: $!\n";
    for my $f (sort grep { /^ml-[a-z][a-z]\.txt$/ } readdir $h) {
        open(my $fh, '<:encoding(UTF-8)', "$models/heldout/$f")
            or die "$f: $!\n";
        my ($cur, $text);
        my $flush = sub {
            return unless $cur;
            $text =~ s/\n+\z//;
            push @ml, enc({%$cur, prompt => $text});
        };
        while (my $l = <$fh>) {
            if ($l =~ /^#: (\d+) ([a-z][a-z]) (\w+) (easy|hard)\s*$/) {
                $flush->();
                $cur = {item => $1 + 0, lang => $2, task => $3,
                        hard => $4 eq 'hard' ? JSON::PP::true
                                             : JSON::PP::false};
                $text = '';
                next;
            }
            next if !$cur && $l =~ /^#/;
            die "$f:$.: text before the first prompt\n" unless $cur;
            $text .= $l;
        }
        $flush->();
        close $fh;
    }
    closedir $h;
}
write_lines("$out/ml-test.jsonl", @ml);

# Decontamination: a training prompt that is nearly a prompt of the
# multilingual held-out set is dropped: Jaccard similarity of their sets
# of character 4-grams (lowercased, spaces squeezed, the first 400
# characters) of 0.4 or more.  4-grams found in more than 40 held-out
# prompts are ignored (they say nothing about a match).
my (%gidx, @gsize);
sub grams4 {
    my $t = lc substr($_[0], 0, 400);
    $t =~ s/\s+/ /g;
    my %g;
    $g{substr($t, $_, 4)} = 1 for 0 .. length($t) - 4;
    return \%g;
}
for my $i (0 .. $#ml) {
    my $g = grams4($J->decode($ml[$i])->{prompt});
    $gsize[$i] = keys %$g;
    push @{$gidx{$_}}, $i for keys %$g;
}
delete $gidx{$_} for grep { @{$gidx{$_}} > 40 } keys %gidx;
my %decon;
sub near_heldout {
    my ($p) = @_;
    my $g = grams4($p);
    my $n = keys %$g;
    my %shared;
    for my $k (keys %$g) {
        $shared{$_}++ for @{$gidx{$k} // []};
    }
    for my $i (keys %shared) {
        return 1 if $shared{$i} / ($n + $gsize[$i] - $shared{$i}) >= 0.4;
    }
    return 0;
}


my (@ttrain, @ttest, %seen);

sub add_task {
    my ($r) = @_;
    my $p = first_text($r);
    return if !defined $p || $p !~ /\S/;
    return if excluded($p) || decontaminated($p, "task $r->{source}");
    my $key = $r->{prompt} // $J->encode($r->{messages});
    return if $seen{$key}++;
    if (held_out($p)) { push @ttest, enc($r) } else { push @ttrain, enc($r) }
}

# keep at most $cap items of a list, chosen by hash (deterministic)
sub cap {
    my ($cap, @p) = @_;
    return @p if @p <= $cap;
    my @s = map { $_->[1] }
            sort { $a->[0] <=> $b->[0] or $a->[1][0] cmp $b->[1][0] }
            map { my $b = $_->[0]; utf8::encode($b);
                  [fnv32($b . "#cap"), $_] } @p;
    return @s[0 .. $cap - 1];
}

# MT-Bench: first turns, and second turns after the first turn and the
# strong model's answer to it
my %mt = (writing => 'creative', roleplay => 'creative',
          reasoning => 'reasoning', math => 'math', coding => 'code',
          extraction => 'extraction', stem => 'general',
          humanities => 'general');

my @mtq = read_jsonl("$data/routellm/mt_bench_questions.jsonl");

my %judge;    # {qid}{model}{turn} = [score, answer 1]
for my $r (read_jsonl("$data/routellm/mt_bench_judgements.jsonl")) {
    my ($a1) = $r->{user_prompt} =~ /### Assistant A:\n(.*?)\n\n### User:/s;
    $judge{$r->{question_id}}{$r->{model}}{$r->{turn}} = [$r->{score}, $a1];
}
my $WEAK = 'mistralai/Mixtral-8x7B-Instruct-v0.1';
my $STRONG = 'gpt-4-1106-preview';

sub mt_conv {
    my ($q) = @_;
    my $a1 = $judge{$q->{question_id}}{$STRONG}{2}[1] // '';
    return [{role => 'user', content => $q->{turns}[0]},
            {role => 'assistant', content => $a1},
            {role => 'user', content => $q->{turns}[1]}];
}

for my $q (@mtq) {
    my $t = $mt{$q->{category}} or next;
    add_task({prompt => $q->{turns}[0], task => $t, source => 'mtbench',
              kind => 'mtbench first turn'});
    add_task({messages => mt_conv($q), task => $t, source => 'mtbench',
              kind => 'mtbench follow-up'})
        if defined $q->{turns}[1];
}

my %ah = (coding => 'code', math => 'math',
          creative_writing => 'creative');
my @ah2 = read_jsonl("$data/arena-hard/question-v2.0.jsonl");
for my $r (@ah2) {
    add_task({prompt => $r->{prompt}, task => $ah{$r->{subcategory}},
              source => 'arenahard'})
        if defined $r->{subcategory} && $ah{$r->{subcategory}};
}

my @ah1 = read_jsonl("$data/arena-hard/question-v0.1.jsonl");
{
    my %lab;
    open(my $f, '<:encoding(UTF-8)', "$models/arena-hard-v0.1-tasks.tsv")
        or die "$models/arena-hard-v0.1-tasks.tsv: $!\n";
    while (<$f>) {
        next if /^#/ || !/\S/;
        chomp;
        my ($uid, $t) = split /\t/;
        $lab{$uid} = $t;
    }
    for my $r (@ah1) {
        add_task({prompt => $r->{prompt}, task => $lab{$r->{uid}},
                  source => 'arenahard'}) if $lab{$r->{uid}};
    }
}

{
    my $z = IO::Uncompress::Gunzip->new("$data/human-eval/HumanEval.jsonl.gz")
        or die "HumanEval: $GunzipError\n";
    while (my $l = $z->getline) {
        my $r = $J->decode($l);
        add_task({prompt => $r->{prompt}, task => 'code',
                  source => 'humaneval'});
    }
}

my @gtrain = read_jsonl("$data/grade-school-math/train.jsonl");
add_task({prompt => $_->[0], task => 'math', source => 'gsm8k'})
    for cap(1500, map { [$_->{question}] } @gtrain);

my %mmlu_task = map { $_ => 'math' } qw(abstract_algebra college_mathematics
    elementary_mathematics high_school_mathematics high_school_statistics);
$mmlu_task{$_} = 'reasoning' for qw(formal_logic logical_fallacies);

my (@gsm, @mmlu);
{
    my ($h, @rows) = read_csv("$data/routellm/gsm8k_responses.csv");
    for my $r (@rows) {
        next if $bad{$r->[0]};
        push @gsm, [$r->[0], $r->[1] eq 'True', $r->[2] eq 'True'];
    }
}

opendir(my $d, "$data/routellm/mmlu") or die "mmlu: $!\n";
my @subj = sort grep { /^mmlu_.*\.csv$/ } readdir $d;
closedir $d;
my %mmlu_by_task;
for my $f (@subj) {
    (my $s = $f) =~ s/^mmlu_(.*)\.csv$/$1/;
    my ($h, @rows) = read_csv("$data/routellm/mmlu/$f");
    for my $r (@rows) {
        next if $bad{$r->[0]};
        push @mmlu, [$r->[0], $r->[1] eq 'True', $r->[2] eq 'True'];
        push @{$mmlu_by_task{$mmlu_task{$s} // 'general'}}, [$r->[0]];
    }
}

add_task({prompt => $_->[0], task => 'math', source => 'gsm8k'})
    for cap(800, map { [$_->[0]] } @gsm);
add_task({prompt => $_->[0], task => 'general', source => 'mmlu'})
    for cap(1500, @{$mmlu_by_task{general}});
add_task({prompt => $_->[0], task => 'math', source => 'mmlu'})
    for cap(600, @{$mmlu_by_task{math}});
add_task({prompt => $_->[0], task => 'reasoning', source => 'mmlu'})
    for @{$mmlu_by_task{reasoning}};

for my $r (read_jsonl("$models/extra-task-prompts.jsonl")) {
    add_task({prompt => $r->{prompt}, task => $r->{task},
              source => 'extra'});
}

# the written prompts: TASK LABEL TEXT, "\n" a line break
my %wlabel = (e => 0, m => 0.5, h => 1);
my @written;
{
    opendir(my $w, "$models/written") or die "$models/written: $!\n";
    for my $f (sort grep { /^[a-z][a-z]\.txt$/ } readdir $w) {
        (my $lang = $f) =~ s/\.txt$//;
        open(my $fh, '<:encoding(UTF-8)', "$models/written/$f")
            or die "$f: $!\n";
        my %ord;
        while (my $l = <$fh>) {
            chomp $l;
            next if $l =~ /^#/ || $l !~ /\S/;
            my ($task, $lab, $text) = $l =~ /^(\w+) ([emh]) (.+)$/
                or die "$models/written/$f:$.: not TASK LABEL TEXT\n";
            $text =~ s/\\n/\n/g;
            # the files of the other languages follow one another item by
            # item: the n-th prompt of a task and label is one group, so
            # that validation folds keep translations together
            my $group = "w:$task:$lab:" . $ord{"$task $lab"}++;
            push @written, [$text, $task, $wlabel{$lab}, $lang, $group];
            add_task({prompt => $text, task => $task, source => 'written',
                      lang => $lang, group => $group});
        }
        close $fh;
    }
    closedir $w;
}

write_lines("$out/task-train.jsonl", @ttrain);
write_lines("$out/task-test.jsonl", @ttest);

# ---- difficulty data --------------------------------------------------------

# the share of the four GPT-3 variants that got a GSM8K test problem
# wrong (example_model_solutions.jsonl); training lines only
sub gkey { my $k = lc $_[0]; $k =~ s/[^a-z0-9]//g; return $k; }
my %wrong4;
for my $r (read_jsonl("$data/grade-school-math/example_model_solutions.jsonl"))
{
    my $w = 0;
    $w += $r->{$_}{is_correct} ? 0 : 1
        for qw(6b_finetuning 6b_verification 175b_finetuning
               175b_verification);
    $wrong4{gkey($r->{question})} = $w / 4;
}

my @dtrain;

for my $set (['gsm8k', \@gsm], ['mmlu', \@mmlu]) {
    my (@tr, @te);
    for my $r (@{$set->[1]}) {
        my %l = (prompt => $r->[0], source => $set->[0],
                 weak_correct => $r->[1] ? JSON::PP::true : JSON::PP::false,
                 strong_correct => $r->[2] ? JSON::PP::true
                                           : JSON::PP::false);
        if (held_out($r->[0])) {
            push @te, enc(\%l);
            next;
        }
        my $w = $wrong4{gkey($r->[0])};
        $l{aux} = $w if $set->[0] eq 'gsm8k' && defined $w;
        push @tr, enc(\%l);
    }
    write_lines("$out/diff-train-$set->[0].jsonl", @tr);
    write_lines("$out/diff-test-$set->[0].jsonl", @te);
    push @dtrain, @tr;
}

# MT-Bench: the target and the calibration label from the judge's scores
# of the two models (1-10): a gain of 2 or more is "the strong model is
# needed" (1), of 1 is 0.5, none is 0; the training target grows with
# the gain (gain / 3, at most 1), 0 without one
my @mteval;
for my $q (@mtq) {
    my $j = $judge{$q->{question_id}} or next;
    my @ws = map { $j->{$WEAK}{$_}[0] } 1, 2;
    my @ss = map { $j->{$STRONG}{$_}[0] } 1, 2;
    next if grep { !defined } @ws, @ss;
    push @mteval, enc({qid => $q->{question_id}, category => $q->{category},
                       prompt => $q->{turns}[0], weak => \@ws,
                       strong => \@ss});
    for my $t (0, 1) {
        my $g = $ss[$t] - $ws[$t];
        my $target = $g > 0 ? ($g >= 3 ? 1 : $g / 3) : 0;
        my $label = $g >= 2 ? 1 : ($g >= 1 ? 0.5 : 0);
        my %l = (source => 'mtbench', target => $target + 0,
                 label => $label + 0);
        if ($t == 0) { $l{prompt} = $q->{turns}[0]; }
        else { $l{messages} = mt_conv($q); }
        push @dtrain, enc(\%l);
    }
}
write_lines("$out/mtbench.jsonl", @mteval);

# Arena-Hard prompts: hard anchors
for my $r (@ah1, @ah2) {
    next if excluded($r->{prompt}) || held_out($r->{prompt});
    push @dtrain, enc({prompt => $r->{prompt}, source => 'arenahard',
                       target => 0.8});
}

# the written prompts
my @wtest;
for my $w (@written) {
    next if decontaminated($w->[0], 'difficulty written');
    my %l = (prompt => $w->[0], source => 'written', target => $w->[2],
             label => $w->[2], lang => $w->[3], task => $w->[1],
             group => $w->[4]);
    if (held_out($w->[0])) { push @wtest, enc(\%l); next; }
    push @dtrain, enc(\%l);
}
write_lines("$out/diff-test-written.jsonl", @wtest);

# chit-chat written earlier ({"prompt", "aux": 0, "weight"})
for my $r (read_jsonl("$models/extra-difficulty-prompts.jsonl")) {
    next if held_out($r->{prompt})
            || decontaminated($r->{prompt}, 'difficulty chitchat');
    push @dtrain, enc({%$r, source => 'chitchat', label => 0});
}

# GSM8K training problems (not the test problems RouteLLM measured): a
# soft difficulty from the calculator steps of the reference solution,
# 0.15 + 0.05 per step, at most 0.6
for my $r (cap(3000, map { [$_->{question}, $_->{answer}] } @gtrain)) {
    next if $bad{$r->[0]} || held_out($r->[0]);
    my $steps = () = $r->[1] =~ /<</g;
    my $aux = 0.15 + 0.05 * $steps;
    $aux = 0.6 if $aux > 0.6;
    push @dtrain, enc({prompt => $r->[0], aux => $aux + 0, weight => 0.5,
                       source => 'gsm8k_steps'});
}

write_lines("$out/diff-train.jsonl", @dtrain);


# ---- a typical traffic mix, for the tiers (llm-route-calibrate) --------------
#
# Training-split prompts only, one request body per line: the written
# prompts of every language, the Arena-Hard v0.1 prompts (real Chatbot
# Arena traffic, hard), MT-Bench's first turns, and 100 GSM8K and 100
# MMLU questions (by hash).  docs/selection.md gives its task mix.
{
    my @mix;
    my $body = sub { push @mix, enc({model => 'auto', messages =>
        [{role => 'user', content => $_[0]}]}); };
    $body->($_->[0]) for grep { !held_out($_->[0]) && !near_heldout($_->[0]) }
        @written;
    $body->($_->{prompt}) for grep { !held_out($_->{prompt})
        && !$bench{nkey($_->{prompt})} } @ah1;
    $body->($_->{turns}[0]) for @mtq;
    $body->($_->[0]) for cap(100, map { [$_->[0]] }
        grep { !held_out($_->[0]) } @gsm);
    $body->($_->[0]) for cap(100, map { [$_->[0]] }
        grep { !held_out($_->[0]) } @mmlu);
    write_lines("$out/typical-mix.jsonl", @mix);
}

printf STDERR "llr-prep-data: task %d train / %d held out; difficulty %d "
    . "train; MT-Bench %d questions; multilingual held-out %d; %d "
    . "training prompts dropped as arena-bench prompts; dropped as near a "
    . "multilingual held-out prompt: %s\n", scalar @ttrain,
    scalar @ttest, scalar @dtrain, scalar @mteval, scalar @ml, $nbench,
    join(', ', map { "$_ $ndecon{$_}" } sort keys %ndecon) || 'none';
