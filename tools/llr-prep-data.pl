#!/usr/bin/perl
#
# Builds the classifier's training and held-out JSON lines from the
# openly licensed data in $LLR_DATA (default ../shared/data) and
# models/extra-task-prompts.jsonl.  Deterministic: fixed order, and a
# prompt is held out iff FNV-1a-32(prompt UTF-8 bytes) % 5 == 0.
#
#   perl tools/llr-prep-data.pl DATA_DIR EXTRA_PROMPTS OUT_DIR [EXTRA_DIFF]
#
# EXTRA_DIFF: difficulty lines written for this project ({"prompt",
# "aux"}: short chit-chat with difficulty 0), appended to the difficulty
# training set (held-out prompts dropped).

use strict;
use warnings;
use JSON::PP;
use IO::Uncompress::Gunzip qw($GunzipError);

my ($data, $extra, $out, $extra_diff) = @ARGV;
die "usage: $0 DATA_DIR EXTRA_PROMPTS OUT_DIR [EXTRA_DIFF]\n"
    unless defined $out;

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

sub held_out { return fnv32($_[0]) % 5 == 0; }

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

# RFC 4180 CSV with quoted fields spanning lines
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
    my $hdr = shift @rows;
    return ($hdr, @rows);
}

# contaminated prompts (RouteLLM evaluations drop them)
my %bad;
for my $f ("gsm8k", "mmlu") {
    for my $r (read_jsonl("$data/routellm/${f}_contaminated_prompts.jsonl")) {
        $bad{$r->{eval_prompt}} = 1 if defined $r->{eval_prompt};
    }
}

my (@ttrain, @ttest, %seen);

sub add_task {
    my ($prompt, $task) = @_;
    return if !defined $prompt || $prompt !~ /\S/;
    return if $bad{$prompt} || $seen{$prompt}++;
    my $line = $J->encode({prompt => $prompt, task => $task}) . "\n";
    if (held_out($prompt)) { push @ttest, $line } else { push @ttrain, $line }
}

# keep at most $cap prompts of a list, chosen by hash (deterministic)
sub cap {
    my ($cap, @p) = @_;
    return @p if @p <= $cap;
    my @s = map { $_->[1] }
            sort { $a->[0] <=> $b->[0] or $a->[1][0] cmp $b->[1][0] }
            map { [fnv32($_->[0] . "#cap"), $_] } @p;
    return @s[0 .. $cap - 1];
}

my %mt = (writing => 'creative', roleplay => 'creative',
          reasoning => 'reasoning', math => 'math', coding => 'code',
          extraction => 'extraction', stem => 'general',
          humanities => 'general');
for my $r (read_jsonl("$data/routellm/mt_bench_questions.jsonl")) {
    add_task($r->{turns}[0], $mt{$r->{category}}) if $mt{$r->{category}};
}

my %ah = (coding => 'code', math => 'math',
          creative_writing => 'creative');
for my $r (read_jsonl("$data/arena-hard/question-v2.0.jsonl")) {
    add_task($r->{prompt}, $ah{$r->{subcategory}})
        if defined $r->{subcategory} && $ah{$r->{subcategory}};
}

{
    my $z = IO::Uncompress::Gunzip->new("$data/human-eval/HumanEval.jsonl.gz")
        or die "HumanEval: $GunzipError\n";
    while (my $l = $z->getline) {
        my $r = $J->decode($l);
        add_task($r->{prompt}, 'code');
    }
}

add_task($_->[0], 'math') for cap(1500, map { [$_->{question}] }
    read_jsonl("$data/grade-school-math/train.jsonl"));

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

add_task($_->[0], 'math') for cap(800, map { [$_->[0]] } @gsm);
add_task($_->[0], 'general') for cap(2500, @{$mmlu_by_task{general}});
add_task($_->[0], 'math') for cap(600, @{$mmlu_by_task{math}});
add_task($_->[0], 'reasoning') for @{$mmlu_by_task{reasoning}};

for my $r (read_jsonl($extra)) {
    add_task($r->{prompt}, $r->{task});
}

sub write_lines {
    my ($path, @l) = @_;
    open(my $f, '>:raw', $path) or die "$path: $!\n";
    print $f @l;
    close $f or die "$path: $!\n";
}

write_lines("$out/task-train.jsonl", @ttrain);
write_lines("$out/task-test.jsonl", @ttest);

# A graded difficulty for the GSM8K test problems, for training only:
# the share of the four GPT-3 variants of example_model_solutions.jsonl
# that got the problem wrong.  Only lines of the training split get it.
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

for my $set (['gsm8k', \@gsm], ['mmlu', \@mmlu]) {
    my (@tr, @te);
    for my $r (@{$set->[1]}) {
        my %l = (prompt => $r->[0],
                 weak_correct => $r->[1] ? JSON::PP::true : JSON::PP::false,
                 strong_correct => $r->[2] ? JSON::PP::true
                                           : JSON::PP::false);
        if (held_out($r->[0])) {
            push @te, $J->encode(\%l) . "\n";
            next;
        }
        my $w = $wrong4{gkey($r->[0])};
        $l{aux} = $w if $set->[0] eq 'gsm8k' && defined $w;
        push @tr, $J->encode(\%l) . "\n";
    }
    write_lines("$out/diff-train-$set->[0].jsonl", @tr);
    write_lines("$out/diff-test-$set->[0].jsonl", @te);
}

# all difficulty training sets, in a fixed order
{
    my @all;
    for my $s ('gsm8k', 'mmlu') {
        open(my $f, '<:raw', "$out/diff-train-$s.jsonl") or die;
        push @all, <$f>;
        close $f;
    }
    if (defined $extra_diff) {
        for my $r (read_jsonl($extra_diff)) {
            next if held_out($r->{prompt});
            push @all, $J->encode($r) . "\n";
        }
    }
    write_lines("$out/diff-train.jsonl", @all);
}

# GSM8K training problems (not the test problems RouteLLM measured) with
# a soft difficulty from the number of calculations of the reference
# solution: 0.15 + 0.05 per step, at most 0.6
{
    my @l;
    for my $r (cap(3000, map { [$_->{question}, $_->{answer}] }
                   read_jsonl("$data/grade-school-math/train.jsonl")))
    {
        next if $bad{$r->[0]} || held_out($r->[0]);
        my $steps = () = $r->[1] =~ /<</g;
        my $aux = 0.15 + 0.05 * $steps;
        $aux = 0.6 if $aux > 0.6;
        push @l, $J->encode({prompt => $r->[0], aux => $aux + 0,
                             weight => 0.5}) . "\n";
    }
    write_lines("$out/diff-aux-steps.jsonl", @l);
}
