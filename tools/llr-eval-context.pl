#!/usr/bin/perl
#
# How much of a conversation the classifier needs to read: the task
# accuracy of MT-Bench's second turns, classified with the first turn
# and an assistant's first answer as context, at several context
# budgets (llm-route-classify -b).
#
#   perl tools/llr-eval-context.pl [DATA_DIR] [CLASSIFY] [MODEL]
#
# DATA_DIR defaults to ../shared/data, CLASSIFY to build/llm-route-classify.
# Each of the 80 questions gives two conversations, [user: turn 1,
# assistant: answer 1, user: turn 2], one with the weak model's answer
# and one with the strong model's (both from mt_bench_judgements.jsonl,
# which quotes the conversation it judged).  The label of the second
# turn is the question's category, mapped as tools/llr-prep-data.pl
# maps it (stem and humanities are "general").  The first turns are
# training prompts; the second turns and the answers are not.
#
# Also printed: the second turn alone (no context), the share of
# conversations whose task is the one found at the built-in budget, and
# the mean absolute change of the difficulty against it.  For the
# difficulty, "hard" is the weak model's second answer scoring below the
# strong model's (GPT-4 judge); AUC is the probability that a hard
# second turn gets a higher difficulty than an easy one (ties count
# half).  80 questions: a few points are noise.

use strict;
use warnings;
use JSON::PP;
use IPC::Open2;

my $data = shift // '../shared/data';
my $cls = shift // 'build/llm-route-classify';
my $model = shift;

my $J = JSON::PP->new->canonical->utf8;

# the built-in budget, as the module uses it: the row that agrees with
# the tool run without -b on every conversation
my $builtin = 256;

my %map = (writing => 'creative', roleplay => 'creative',
           reasoning => 'reasoning', math => 'math', coding => 'code',
           extraction => 'extraction', stem => 'general',
           humanities => 'general');

my (%q, %ans, %ans2, %score);

open(my $f, '<:raw', "$data/routellm/mt_bench_questions.jsonl") or die $!;
while (<$f>) {
    my $r = $J->decode($_);
    $q{$r->{question_id}} = $r;
}
close $f;

open($f, '<:raw', "$data/routellm/mt_bench_judgements.jsonl") or die $!;
while (<$f>) {
    my $r = $J->decode($_);
    my $w = $r->{model} =~ /mixtral/i ? 'weak' : 'strong';
    $score{$r->{question_id}}{$w}{$r->{turn}} = $r->{score};
    next unless $r->{turn} == 2;
    my $u = $r->{user_prompt};
    my $a = qr/### Assistant A:\n/;
    $u =~ /$a(.*?)\n\n### User:\n.*?$a(.*?)\n\n<\|The End/s
        or die "question $r->{question_id}: no answers\n";
    $ans{$r->{question_id}}{$w} = $1;
    $ans2{$r->{question_id}}{$w} = $2;
}
close $f;

# [turn 1, answer 1, turn 2] of question $id, with the $w model's answer
sub convo {
    my ($id, $w, $full) = @_;
    my $r = $q{$id};
    my @m = ({ role => 'user', content => $r->{turns}[0] },
             { role => 'assistant', content => $ans{$id}{$w} },
             { role => 'user', content => $r->{turns}[1] });
    push @m, { role => 'assistant', content => $ans2{$id}{$w} } if $full;
    return @m;
}

sub is_hard {
    my $s = $score{$_[0]};
    return ($s->{weak}{2} // 0) < ($s->{strong}{2} // 0) ? 1 : 0;
}

my @ids = sort { $a <=> $b } keys %q;
my %bycat;
push @{ $bycat{$q{$_}{category}} }, $_ for @ids;
my @cats = sort keys %bycat;

# the question after $id in its category, or in the next category
sub next_in {
    my ($id, $other) = @_;
    my $c = $q{$id}{category};
    my ($k) = grep { $bycat{$c}[$_] == $id } 0 .. $#{ $bycat{$c} };
    if ($other) {
        my ($ci) = grep { $cats[$_] eq $c } 0 .. $#cats;
        return $bycat{ $cats[($ci + 1) % @cats] }[$k];
    }
    return $bycat{$c}[($k + 1) % @{ $bycat{$c} }];
}

# sets of [body, label, hard, context bytes]
my (%set, @order);
for my $kind ('pair', 'same', 'switch') {
    push @order, $kind;
    for my $id (@ids) {
        for my $w (qw(weak strong)) {
            my @m = convo($id, $w, 0);
            unshift @m, convo(next_in($id, $kind eq 'switch'), $w, 1)
                if $kind ne 'pair';
            my $c = join('', map { $_->{content} } @m[0 .. $#m - 1]);
            utf8::encode($c);
            push @{ $set{$kind} }, [ $J->encode({ messages => \@m }),
                $map{$q{$id}{category}}, is_hard($id), length $c ];
        }
    }
}

my %title = (
    pair => '[turn 1, answer 1, turn 2]',
    same => 'another question of the same category (4 messages) first',
    switch => 'a question of another category (4 messages) first');

sub classify {
    my ($budget, @lines) = @_;
    my @cmd = ($cls, defined $model ? ('-m', $model) : (),
               defined $budget ? ('-b', $budget) : ());
    my $pid = open2(my $out, my $in, @cmd) or die "$cls: $!\n";
    binmode $in;
    binmode $out;
    # the tool answers line by line: write everything, then read
    print $in "$_\n" for @lines;
    close $in;
    my @r;
    while (my $l = <$out>) {
        push @r, $J->decode($l);
    }
    waitpid($pid, 0);
    die "$cls: exit $?\n" if $?;
    die "$cls: " . scalar(@r) . " answers for " . scalar(@lines) . "\n"
        unless @r == @lines;
    return @r;
}

sub auc {
    my ($d, $h) = @_;
    my ($n, $s) = (0, 0);
    for my $i (0 .. $#$d) {
        next unless $h->[$i];
        for my $j (0 .. $#$d) {
            next if $h->[$j];
            $n++;
            $s += $d->[$i] > $d->[$j] ? 1 : $d->[$i] == $d->[$j] ? 0.5 : 0;
        }
    }
    return $n ? $s / $n : 0;
}

for my $kind (@order) {
    my @body = map { $_->[0] } @{ $set{$kind} };
    my @label = map { $_->[1] } @{ $set{$kind} };
    my @hard = map { $_->[2] } @{ $set{$kind} };
    my @len = sort { $a <=> $b } map { $_->[3] } @{ $set{$kind} };
    my @alone = map {
        my $m = $J->decode($_)->{messages};
        $J->encode({ messages => [ $m->[-1] ] });
    } @body;
    my @ref = classify(undef, @body);

    printf "### %s: %d conversations\n\n", $title{$kind}, scalar @body;
    printf "Context: median %d bytes, max %d; hard last turns: %d.\n\n",
           $len[$#len / 2], $len[-1], scalar(grep { $_ } @hard);
    print "| context budget (bytes) | task accuracy | same task as "
        . "built-in | mean abs. difficulty change | difficulty AUC |\n";
    print "|---|---:|---:|---:|---:|\n";

    for my $b ('alone', 0, 128, 256, 384, 512, 768, 1024, 2048, 8192) {
        my @r = $b eq 'alone' ? classify(undef, @alone)
                              : classify($b, @body);
        my ($ok, $same, $dd) = (0, 0, 0);
        for my $i (0 .. $#r) {
            $ok++ if $r[$i]{task} eq $label[$i];
            $same++ if $r[$i]{task} eq $ref[$i]{task};
            $dd += abs($r[$i]{difficulty} - $ref[$i]{difficulty});
        }
        my @d = map { $_->{difficulty} } @r;
        die "the built-in budget is not $builtin bytes\n"
            if $b ne 'alone' && $b == $builtin && $same != @r;
        my $name = $b eq 'alone' ? 'last turn only'
                 : $b == $builtin ? "**$b** (built-in)" : $b;
        printf "| %s | %.1f%% | %.1f%% | %.4f | %.3f |\n", $name,
               100 * $ok / @r, 100 * $same / @r, $dd / @r,
               auc(\@d, \@hard);
    }
    print "\n";
}
