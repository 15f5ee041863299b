#!/usr/bin/perl

# llm-route-calibrate: floors found on a sample send the chosen share to
# each candidate, and the module, configured with them, routes the same
# sample the same way; access-log lines; tiers; errors; the receipt
# names the policy and the threshold; the demo's easy and hard prompts
# go to the cheap and the strong model of conf-examples/demo.conf.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new;
my $m = $t->mock;
my $repo = $t->repo;
my $dir = $t->dir;
my $cal = "$repo/build/llm-route-calibrate";
my $cls = "$repo/build/llm-route-classify";

plan skip_all => "$cal is not built" unless -x $cal && -x $cls;

sub write_file {
    my ($path, $text) = @_;
    open(my $f, '>:raw', $path) or die "$path: $!";
    print $f $text;
    close $f;
}

sub run {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# ---- a sample of 40 request bodies -------------------------------------------

my @prompts = (
    'hi!', 'thanks a lot', 'What is the capital of Peru?',
    'Why is the sky blue?', 'Tell me a joke about cats.',
    'Translate into German: the train is late.',
    'Summarize: the meeting moved to Friday at 10.',
    'What is 12 times 14?', 'Write a haiku about snow.',
    'How do I reverse a list in Python?',
    'Write a Python function that checks for palindromes.',
    'Solve 3x + 4 = 19.', 'Give me three names for a bakery.',
    'Extract the emails: a@b.com, c@d.org',
    'Explain photosynthesis in two sentences.',
    'What causes inflation, and how do central banks respond?',
    'Write a SQL query for the top 5 customers by revenue.',
    'A train travels 180 km at 72 km/h. How long does it take?',
    'Prove that the square root of 2 is irrational.',
    'Write a short story about a robot who learns to paint.',
    'Design a distributed rate limiter for an API gateway in three regions.',
    'Implement a lock-free queue in C++ and explain the memory orders.',
    'Prove that there are infinitely many primes of the form 4k+1.',
    'Write a sestina about the sea with the end words light, stone, wait.',
    'Find all integer solutions of x^2 - 2y^2 = 1 and prove there are '
        . 'no others.',
    'Compare the monetary policy of the ECB and the Fed since 2008 with '
        . 'dates and instruments.',
    'Write a Kubernetes operator in Go that manages database backups.',
    'Implement Raft log replication in Rust with snapshots.',
    'Explain the proof of the Cauchy-Schwarz inequality for inner '
        . 'product spaces.',
    'Translate this sonnet into Russian keeping meter and rhyme.',
    'Escribe una funci\xc3\xb3n en Python que ordene una lista.',
    '\xe6\x80\x8e\xe4\xb9\x88\xe5\x81\x9a\xe7\xba\xa2\xe7\x83\xa7\xe8\x82\x89'
        . '\xef\xbc\x9f',
    'Wie sp\xc3\xa4t ist es in Tokio?',
    'Quelle est la diff\xc3\xa9rence entre un virus et une bact\xc3\xa9rie ?',
    'Design an event-sourced order system with CQRS and projections.',
    'Write a compiler front end in OCaml for a language with closures.',
    'How many ways can 8 rooks be placed on a chessboard without attacks?',
    'What is the GDP of a country?', 'good morning',
    'Evaluate the integral of 1/(1+x^4) from 0 to infinity.',
);
is(scalar @prompts, 40, '40 prompts');

my $sample = "$dir/sample.jsonl";
write_file($sample, join('', map { LLRTest::json_encode({model => 'cal',
    messages => [{role => 'user', content => $_}]}) . "\n" } @prompts));

my @diff = map { LLRTest::json_decode($_)->{difficulty} } `$cls < $sample`;
is(scalar @diff, 40, 'the tool classifies the sample');

# the policy: quality 0.9 and 1.0, floor_hard 1.0
my $models = <<'EOF';
    llm_route_model cheap provider=mockp input=0.10 output=0.40
                    context=128000 quality=0.9;
    llm_route_model strong provider=mockp input=5.00 output=15.00
                    context=128000 quality=1.0;
EOF
write_file("$dir/cal.conf", "http {\n$models\n    llm_route_policy cal {\n"
    . "        candidates cheap strong;\n        floor 0.5;\n"
    . "        floor_hard 1.0;\n    }\n}\n");

# ---- k of the 40 to the cheap model ----------------------------------------
#
# k (8..20) where the sample's difficulties have their widest gap: floors
# are in steps of 0.0001, which move the threshold by ~0.001 here
# (quality 0.9, floor near 0.9), so a gap narrower than that cannot be
# hit by any floor

my @asc = sort { $a <=> $b } @diff;
my $k = 8;
for my $i (9 .. 20) {
    $k = $i if $asc[$i] - $asc[$i - 1] > $asc[$k] - $asc[$k - 1];
}
my $pct = sprintf('%.1f', 2.5 * $k);
ok($asc[$k] - $asc[$k - 1] > 0.002,
   "a gap after the ${k}th difficulty: $asc[$k - 1] .. $asc[$k]");

my ($rc, $out) = run("$cal -c $dir/cal.conf -p cal --share cheap=$pct "
                     . $sample);
is($rc, 0, 'calibrate exits 0') or diag($out);
like($out, qr/^# share: cheap \Q$pct\E% strong/m, "the share is $pct%");
my ($floor) = $out =~ /^\s*floor\s+([\d.]+);$/m;
my ($hard) = $out =~ /^\s*floor_hard\s+([\d.]+);$/m;
ok(defined $floor && $hard == 1, "floor $floor, floor_hard stays 1.0")
    or diag($out);

# the threshold is the kth lowest difficulty or more, below the next
my ($th) = $out =~ /cheap [\d.]+% \(up to ([\d.]+)\)/;
ok(defined $th && $th + 0.00005 >= $asc[$k - 1] && $th < $asc[$k],
   "the threshold ($th) falls between the ${k}th ($asc[$k - 1]) and the "
   . "next ($asc[$k]) difficulty");

# ---- the module, configured with the floors, routes the sample alike -------

$t->config($t->routed_http(http => $models . <<"EOF", location => <<'EOF2'));
    llm_route_policy cal {
        candidates cheap strong;
        floor      $floor;
        floor_hard 1.0;
    }
EOF
            add_header X-Test-Reason $llm_route_reason always;
EOF2
$t->start;

my $ncheap = 0;
my $reason;
for my $p (@prompts) {
    my $r = $t->chat({model => 'cal', messages => [{role => 'user',
                                                    content => $p}]});
    $ncheap++ if ($r->{headers}{'x-test-model'} // '') eq 'cheap';
    $reason //= $r->{headers}{'x-test-reason'};
}
is($ncheap, $k, "the module sends the same $k of 40 to the cheap model");
like($reason // '', qr/^policy=cal task=\S+ difficulty=[\d.]+ required=/,
     'the receipt begins with the policy');
my ($rth) = ($reason // '') =~ /; cheap up to ([\d.]+)\)/;
ok(defined $rth && $rth == $th,
   'the receipt names the threshold that decided')
    or diag($reason);
$t->stop;

# ---- access-log lines: task and difficulty, no classification -------------

my $log = join('', map { sprintf("{\"task\":\"general\",\"difficulty\":"
                                 . "\"%.2f\",\"status\":200}\n", $_ / 100) }
               0 .. 99);
$log .= "{\"task\":\"\",\"difficulty\":\"\",\"status\":404}\n";
write_file("$dir/access.log", $log);
($rc, $out) = run("$cal -c $dir/cal.conf -p cal --share cheap=30 "
                  . "$dir/access.log");
is($rc, 0, 'an access log') or diag($out);
like($out, qr/^# 100 requests \(1 lines skipped\)/m,
     'a line that was not classified is skipped');
like($out, qr/general\s+100: cheap 30\.0% \(up to 0\.29\d\d\)/,
     'difficulties 0.00 .. 0.29 go to the cheap model');

# ---- two targets move both floors ------------------------------------------

write_file("$dir/three.conf", "http {\n$models"
    . "    llm_route_model mid provider=mockp input=1 output=3 quality=0.95;\n"
    . "    llm_route_policy three {\n        candidates cheap mid strong;\n"
    . "        floor 0.5;\n    }\n}\n");
# difficulties 0.00 .. 0.99: cheap up to 0.49 and mid up to 0.74 are
# (0.9 - f) / (h - f) = 0.49.. and (0.95 - f) / (h - f) = 0.74..: f 0.8,
# h 1.0 or near
($rc, $out) = run("$cal -c $dir/three.conf -p three --share cheap=50 "
                  . "--share mid=25 $dir/access.log");
is($rc, 0, 'three candidates') or diag($out);
like($out, qr/^# share: cheap 50\.0% mid 25\.0% strong 25\.0%$/m,
     'two targets move both floors: 50% and 25%') or diag($out);

# ---- tiers -------------------------------------------------------------------

($rc, $out) = run("$cal -c $dir/cal.conf -p cal --tier frugal "
                  . "$dir/access.log");
like($out, qr/# share: cheap 80\.0%/, 'frugal: 80% to the cheapest');
($rc, $out) = run("$cal -c $dir/cal.conf -p cal --tier premium "
                  . "$dir/access.log");
like($out, qr/# share: cheap 30\.0%/, 'premium: 30% to the cheapest');

# no target: the policy's own floors are reported
($rc, $out) = run("$cal -c $dir/cal.conf -p cal $dir/access.log");
like($out, qr/^\s*floor\s+0\.5000;$/m, 'no target: the floors as they are');
like($out, qr/cheap 81\.0% \(up to 0\.8000\)/,
     'floor 0.5, quality 0.9: the cheap model up to difficulty 0.8');

# ---- errors -------------------------------------------------------------------

($rc, $out) = run("$cal -c $dir/cal.conf -p nope $dir/access.log");
is($rc, 1, 'an unknown policy: exit 1');
like($out, qr/no llm_route_policy "nope"/, '... and says so');

write_file("$dir/bad.conf", "http {\n    llm_route_model x quality_poetry=0.5;"
    . "\n}\n");
($rc, $out) = run("$cal -c $dir/bad.conf -p cal $dir/access.log");
like($out, qr/line 2: unknown task in "quality_poetry=0\.5"/,
     'an unknown task, with its line');

write_file("$dir/unclosed.conf", "http {\n  llm_route_policy p {\n");
($rc, $out) = run("$cal -c $dir/unclosed.conf -p p $dir/access.log");
like($out, qr/unclosed block/, 'an unclosed block');

($rc, $out) = run("$cal -c $dir/cal.conf -p cal --share nope=10 "
                  . "$dir/access.log");
like($out, qr/"nope" is not a candidate/, 'a share for a non-candidate');

($rc, $out) = run("$cal -c $dir/cal.conf -p cal --share cheap=120 "
                  . "$dir/access.log");
is($rc, 2, 'a share over 100%: usage');

write_file("$dir/empty.jsonl", "not json\n");
($rc, $out) = run("$cal -c $dir/cal.conf -p cal $dir/empty.jsonl");
like($out, qr/no request in the sample \(every line was skipped\)/,
     'a sample of nothing');

# ---- the demo's prompts ---------------------------------------------------

my @demo = `bash -c 'eval "\$(sed -n "/^DEMO_EASY=/,/^demo=/p" \\
    $repo/build-aux/demo.sh | grep -v "^demo=")"; \\
    printf "%s\\n%s\\n" "\$DEMO_EASY" "\$DEMO_HARD"'`;
chomp @demo;
is(scalar @demo, 2, 'the demo has an easy and a hard prompt');

for my $i (0, 1) {
    write_file("$dir/demo$i.jsonl", LLRTest::json_encode({model => 'auto',
        messages => [{role => 'user', content => $demo[$i]}]}) . "\n");
    ($rc, $out) = run("$cal -c $repo/conf-examples/demo.conf -p auto "
                      . "$dir/demo$i.jsonl");
    my ($first) = $out =~ /^# share: \S+ ([\d.]+)%/m;
    is($first, $i ? '0.0' : '100.0', $i ? 'the hard demo prompt goes to '
       . 'the strong model' : 'the easy demo prompt goes to the cheap model')
        or diag($out);
}

# ---- the tiers of conf-examples/tiers.conf on the typical mix ---------------

my $data = "$repo/../shared/data";
SKIP: {
    skip "no $data", 3 unless -d "$data/routellm";
    mkdir "$dir/td";
    system("perl $repo/research/llr-prep-data.pl $data $repo/models $dir/td "
           . ">/dev/null 2>&1") == 0 or die "llr-prep-data.pl failed";
    my %want = (frugal => '80.0', balanced => '60.0', premium => '30.0');
    for my $tier (sort keys %want) {
        ($rc, $out) = run("$cal -c $repo/conf-examples/tiers.conf -p $tier "
                          . "$dir/td/typical-mix.jsonl");
        like($out, qr/^# share: gpt-4o-mini \Q$want{$tier}\E%/m,
             "tiers.conf: $tier sends $want{$tier}% of the typical mix to "
             . "gpt-4o-mini") or diag($out);
    }
}

$t->done_testing;
