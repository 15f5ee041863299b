#!/usr/bin/perl

# Policy routing ("auto") and what overrides it:
#
#   1. the classifier's task and difficulty, the selection rule, the
#      receipt, the module agreeing with llm-route-classify, rules and
#      overrides before the policy, configuration errors
#   2. llm_route_rule at http{} level, checked and resolved
#   3. a task's floor above the policy's floor_hard

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRBlocks;

# ==== Policies, rules and overrides (was 30-policy.t) ========================
#
# Policy routing ("auto"): the classifier's task and difficulty, the
# selection rule (easy prompts to the cheap model, hard ones to the strong
# one where that is the rule), the receipt, the module agreeing with
# llm-route-classify, and rules and overrides taking precedence.

{

my $t = LLRTest->new;
my $m = $t->mock;
my $classify = $t->repo . '/build/llm-route-classify';

plan skip_all => "$classify is not built" unless -x $classify;

# prompts of different difficulty; the test takes the easiest and the
# hardest by the classifier's own account, so it holds for any model
my @prompts = (
    'Hi! How are you today?',
    'What is the capital of France?',
    'Janet has 3 apples and buys 2 more. How many apples does she have?',
    'A store sells pencils at 3 for $0.75 and pens at 2 for $1.10. Maria '
        . 'buys 18 pencils and 7 pens, pays with a $20 bill and receives a '
        . '10% loyalty discount on the total. How much change does she get?',
    'Let f(x) = x^3 - 6x^2 + 11x - 6. Find all real x such that '
        . 'f(f(x)) = 0 and prove that there are no other solutions.',
    'Which of the following best describes the role of the Golgi '
        . 'apparatus? A) protein synthesis B) modification and packaging of '
        . 'proteins C) ATP production D) DNA replication',
    'In the context of international law, which doctrine allows a state '
        . 'to exercise jurisdiction over crimes committed abroad by foreign '
        . 'nationals against its own nationals? A) territoriality B) passive '
        . 'personality C) protective principle D) universality',
);

# what the tool says, to put the threshold between the two prompts

my sub classify {
    my @bodies = @_;
    my $in = join('', map { LLRTest::json_encode($_) . "\n" } @bodies);
    my $file = $t->dir . '/in.jsonl';
    open(my $fh, '>', $file) or die;
    print $fh $in;
    close $fh;
    my @out = map { LLRTest::json_decode($_) } `$classify < $file`;
    return @out;
}

my sub body { { model => 'auto', messages => [{ role => 'user',
                                             content => $_[0] }] } }

my @c = classify(map { body($_) } @prompts);
is(scalar(grep { defined $_->{difficulty} } @c), scalar @prompts,
   'the tool classifies every prompt');
my @order = sort { $c[$a]{difficulty} <=> $c[$b]{difficulty} } 0 .. $#c;
my ($easy, $hard) = ($prompts[$order[0]], $prompts[$order[-1]]);
my ($ce, $ch) = ($c[$order[0]], $c[$order[-1]]);
cmp_ok($ch->{difficulty}, '>', $ce->{difficulty} + 0.05,
       'the prompts span a range of difficulty')
    or diag(join(', ', map { $_->{difficulty} } @c));

# required = 0.5 + d * 0.5; the cheap model's quality sits between both
my $mid = ($ce->{difficulty} + $ch->{difficulty}) / 2;
my $q = sprintf('%.4f', 0.5 + $mid * 0.5);

$t->config($t->routed_http(http => <<"EOF", location => <<'EOF2'));
    llm_route_model cheap provider=mockp input=0.10 output=0.40
                    context=128000 quality=$q;
    llm_route_model strong provider=mockp input=5.00 output=15.00
                    context=128000 quality=1.0;
    llm_route_model tiny provider=mockp input=0.01 output=0.01
                    context=100 quality=1.0;

    llm_route_policy auto {
        candidates cheap strong;
        floor      0.5;
        floor_hard 1.0;
    }

    llm_route_policy ctx {
        candidates tiny strong;
        floor      0.1;
        floor_hard 0.1;
    }

    map \$http_x_force \$force_model {
        default "";
        yes     strong;
    }
EOF
            add_header X-Test-Task $llm_route_task always;
            add_header X-Test-Difficulty $llm_route_difficulty always;
            add_header X-Test-Reason $llm_route_reason always;
            llm_route_rule text ~*\bsql\b task=extraction;
            llm_route_rule $http_x_priority =high model=strong;
            llm_route_rule $http_x_team ~^cheap- policy=ctx;
            llm_route_override $force_model;
EOF2

$t->start;

# ---- easy and hard ---------------------------------------------------------

my $r = $t->chat(body($easy));
is($r->{status}, 200, 'easy prompt routed');
is($r->{headers}{'x-test-model'}, 'cheap', 'easy prompt goes to the cheap model');
is($r->{headers}{'x-test-policy'}, '[auto]', '$llm_route_policy names the policy');
is($r->{headers}{'x-test-requested'}, 'auto', 'requested model is auto');
is($m->last->{json}{model}, 'cheap', 'provider receives cheap');
like($r->{headers}{'x-llm-route-reason'} // '', qr/chose=cheap/,
     'the receipt names the choice');
like($r->{headers}{'x-llm-route-reason'} // '', qr/required=/,
     'the receipt gives the required quality');
ok(defined $r->{headers}{'x-llm-route-task'}, 'trace header: task');

$r = $t->chat(body($hard));
is($r->{status}, 200, 'hard prompt routed');
is($r->{headers}{'x-test-model'}, 'strong', 'hard prompt goes to the strong model');
is($m->last->{json}{model}, 'strong', 'provider receives strong');

# ---- module and tool agree -------------------------------------------------

my @bodies = (
    body($easy), body($hard),
    body('Translate into French: the cat sleeps on the warm windowsill.'),
    body("Write a Python function that returns the n-th Fibonacci number."),
    { model => 'auto', messages => [
        { role => 'system', content => 'You are terse.' },
        { role => 'user', content => 'Summarize: ' . ('The meeting went long. ' x 40) },
      ], max_tokens => 50 },
    { model => 'auto', messages => [
        { role => 'user', content => 'What is 17 * 23?' },
        { role => 'assistant', content => '391' },
        { role => 'user', content => 'And divided by 7, as a fraction?' },
      ] },
    # longer than the context ring (8 messages) and the budget: only the
    # newest context is read, in the module as in the tool
    { model => 'auto', messages => [
        (map { ({ role => 'user', content => "Write a Python function $_ "
                  . 'that parses a CSV file, with tests.' },
                { role => 'assistant', content => "def parse_$_(path):\n"
                  . "    import csv\n    return list(csv.DictReader("
                  . "open(path)))\n" }) } 1 .. 5),
        { role => 'user', content => 'Translate into French: the cat '
          . 'sleeps on the warm windowsill.' },
        { role => 'assistant', content => 'Le chat dort sur le rebord '
          . 'chaud de la fenetre.' },
        { role => 'user', content => 'And this one: the dog barks at the '
          . 'mailman every morning.' },
      ] },
    # 1,200 messages, "model" last: the kept text outgrows the worker's
    # scratch block (the rest comes from the request pool), and the body
    # is spilled to a file, so the text is copied, not referenced
    { model => 'auto', messages => [
        (map { ({ role => $_ % 2 ? 'assistant' : 'user',
                  content => "Step $_: add \"$_\" to the running "
                             . 'total and report it.' }) } 1 .. 1199),
        { role => 'user', content => 'Prove that the square root of 2 is '
          . 'irrational.' },
      ] },
);

my @tool = classify(@bodies);

for my $i (0 .. $#bodies) {
    my $r = $t->chat($bodies[$i]);
    is($r->{headers}{'x-test-task'}, $tool[$i]{task},
       "body $i: module and tool agree on the task");
    # the variable has 2 decimals, the tool 4: equal up to rounding
    my $got = $r->{headers}{'x-test-difficulty'} // -1;
    ok(abs($got - $tool[$i]{difficulty}) <= 0.0051,
       "body $i: module and tool agree on the difficulty")
        or diag("module $got, tool $tool[$i]{difficulty}");
}

# ---- explicit models are not classified into a policy -----------------------

$r = $t->chat({ model => 'cheap', messages => [{ role => 'user',
                                                 content => $hard }] });
is($r->{headers}{'x-test-model'}, 'cheap', 'explicit model stays explicit');
is($r->{headers}{'x-test-policy'}, '[]', 'no policy for an explicit model');

# ---- context windows ---------------------------------------------------------

$r = $t->chat({ model => 'ctx', messages => [{ role => 'user',
                content => 'short' }] });
is($r->{headers}{'x-test-model'}, 'tiny', 'small prompt fits the tiny model');

$r = $t->chat({ model => 'ctx', messages => [{ role => 'user',
                content => 'word ' x 200 }] });
is($r->{headers}{'x-test-model'}, 'strong',
   'a prompt over the tiny context goes to the other candidate');

$r = $t->chat({ model => 'ctx', messages => [{ role => 'user',
                content => 'short' }], max_tokens => 1000 });
is($r->{headers}{'x-test-model'}, 'strong', 'max_tokens counts for the context');

# ---- rules and override ------------------------------------------------------

$r = $t->chat(body('Select all rows: SQL please, from the users table.'));
is($r->{headers}{'x-test-task'}, 'extraction', 'text rule forces the task');

$r = $t->chat(body($easy), headers => { 'X-Priority' => 'high' });
is($r->{headers}{'x-test-model'}, 'strong', 'variable rule forces the model');
like($r->{headers}{'x-test-reason'} // '', qr/llm_route_rule/,
     'the receipt names the rule');
is($r->{headers}{'x-test-requested'}, 'auto',
   '$llm_route_requested_model is still what the client asked');

$r = $t->chat(body($easy), headers => { 'X-Priority' => 'higher' });
is($r->{headers}{'x-test-model'}, 'cheap', '"=" is an exact match');

$r = $t->chat(body('short'), headers => { 'X-Team' => 'cheap-ops' });
is($r->{headers}{'x-test-model'}, 'tiny', 'regex rule forces a policy');
is($r->{headers}{'x-test-policy'}, '[ctx]', 'the forced policy is reported');

$r = $t->chat(body($easy), headers => { 'X-Force' => 'yes',
                                        'X-Team' => 'cheap-ops' });
is($r->{headers}{'x-test-model'}, 'strong',
   'llm_route_override comes before the rules');
like($r->{headers}{'x-test-reason'} // '', qr/llm_route_override/,
     'the receipt names the override');

# ---- /v1/models lists policies -------------------------------------------------

$r = $t->get('/v1/models');
my %ids = map { $_->{id} => $_ } @{ $r->{json}{data} || [] };
ok($ids{auto}, '/v1/models lists the policy auto');
ok($ids{cheap}, '/v1/models lists the model cheap');

# ---- configuration errors ------------------------------------------------------

# a corrupt model file
my $bad = $t->dir . '/bad.model';
open(my $fh, '>', $bad) or die;
print $fh "LLRCLSM\x1a" . ("\0" x 100);
close $fh;

# http_config and location of each block go into the routed configuration
my $policy_conf = sub {
    $t->routed_http(http => $_[0]{http_config}, location => $_[0]{location});
};

run_blocks($t, config => $policy_conf, data => <<'EOF');
=== unknown candidate
--- nginx_t: fails
--- http_config: llm_route_policy p { candidates nope; floor 0.5; }
--- error_like
unknown model "nope".*llm_route_policy "p"

=== bad floor
--- nginx_t: fails
--- http_config: llm_route_policy p { candidates gpt-4o; floor 1.5; }
--- error_like
floor.*1\.5

=== no candidates
--- nginx_t: fails
--- http_config: llm_route_policy p { floor 0.5; }
--- error_like
no "candidates"

=== unknown task floor
--- nginx_t: fails
--- http_config: llm_route_policy p { candidates gpt-4o; floor_poetry 0.5; }
--- error_like
unknown task "poetry"

=== policy named like a model
--- nginx_t: fails
--- http_config: llm_route_policy gpt-4o { candidates gpt-4o-mini; }
--- error_like
has the name of a model

=== unknown quality task
--- nginx_t: fails
--- http_config
    llm_route_model zz provider=mockp input=1 output=1 quality_poetry=0.5;
--- error_like
unknown task "poetry"

=== bad classifier file
--- nginx_t: fails
--- http_config: llm_route_classifier /nonexistent/model;
--- error_like
cannot open classifier model

=== a bad regex
--- nginx_t: fails
--- location: llm_route_rule $http_x ~*[ task=code;
--- error_like
invalid regex

=== a rule naming an unknown model
--- nginx_t: fails
--- location: llm_route_rule text ~x model=nope;
--- error_like
unknown model "nope"

=== a corrupt model file
--- nginx_t: fails
--- http_config: llm_route_classifier %%DIR%%/bad.model;
--- error_like
invalid classifier model

=== models/default.model
--- nginx_t: ok
--- http_config: llm_route_classifier %%REPO%%/models/default.model;
EOF

$t->stop;

}

# ==== Rules at http level (was 77-http-rules.t) ==============================
#
# llm_route_rule at http{} level: its names are checked (nginx -t rejects
# an unknown model or task) and task= is resolved, as at server and
# location level.  (The http level's rules were only ever merged as
# inherited ones, never checked: an unknown model passed nginx -t, and
# task= stayed 0, "general".)

{

my $t = LLRTest->new;
my $m = $t->mock;

# 1. nginx -t accepts an unknown model/task named by an http-level rule
my $http_bad = <<'EOF2';
    llm_route_provider p { upstream 127.0.0.1:1; scheme http; api_key k; }
    llm_route_model a provider=p input=1 output=1;
    llm_route_rule $http_x =y model=no-such-model;
    llm_route_rule text ~foo task=no-such-task;
    server { listen 127.0.0.1:%%PORT%%; location / { llm_route on; } }
EOF2
my ($rc, $out) = $t->nginx_t_http($http_bad);
isnt($rc, 0, 'nginx -t rejects an http-level rule naming an unknown model')
    or diag($out);

# same rule at server level, for comparison
my $srv_bad = $http_bad;
$srv_bad =~ s/^    llm_route_rule .*\n//mg;
$srv_bad =~ s/server \{/server { llm_route_rule \$http_x =y model=no-such-model;/;
($rc, $out) = $t->nginx_t_http($srv_bad);
isnt($rc, 0, 'nginx -t rejects the same rule at server level') or diag($out);

# 2. an http-level task= rule assigns task index 0 instead of the task named
$t->config($t->routed_http(http => <<'EOF2', location => <<'EOF3'));
    llm_route_policy auto { candidates gpt-4o-mini gpt-4o; floor 0.5; }
    llm_route_rule text ~*\bsql\b task=extraction;
EOF2
            add_header X-Test-Task $llm_route_task always;
EOF3
$t->{http} =~ s/(\n    \}\n)$/"\n" . $t->routed_location(path => '\/v2\/', location => "            add_header X-Test-Task \$llm_route_task always;\n            llm_route_rule text ~*\\\\bsql\\\\b task=extraction;\n") . $1/e or die;
$t->start;
my $r = $t->chat({ model => 'auto', messages => [
    { role => 'user', content => 'Write a Python function that runs a sql query and returns the rows as a list of dicts' } ] });
is($r->{status}, 200, 'routed');
is($r->{headers}{'x-test-task'}, 'extraction',
   'http-level task= rule sets the named task');
$r = $t->chat({ model => 'auto', messages => [
    { role => 'user', content => 'Write a Python function that runs a sql query and returns the rows as a list of dicts' } ] },
    path => '/v2/chat/completions');
is($r->{headers}{'x-test-task'}, 'extraction',
   'control: the same rule at location level sets the task');
$t->stop;

}

# ==== A task's floor above floor_hard (was 78-task-floor.t) ==================
#
# floor_TASK above the policy's floor_hard, without floor_hard_TASK: the
# task's hard prompts need the task's floor too.  (The requirement fell
# from floor_TASK towards the policy's floor_hard as difficulty rose, so
# a harder code prompt needed less quality.)

{

my $t = LLRTest->new;
my $m = $t->mock;
$t->config($t->routed_http(http => <<'EOF', location => <<'EOF2'));
    llm_route_model cheap provider=mockp input=0.10 output=0.40 quality=0.75;
    llm_route_model strong provider=mockp input=5 output=15 quality=0.95;
    llm_route_policy auto {
        candidates cheap strong;
        floor      0.5;
        floor_code 0.9;
    }
EOF
            add_header X-Test-Task $llm_route_task always;
            add_header X-Test-Reason $llm_route_reason always;
EOF2
$t->start;
my $r = $t->chat({ model => 'auto', messages => [{ role => 'user', content =>
  'Write a Python function that runs a sql query and returns the rows as a list of dicts' }] });
diag($r->{headers}{'x-test-reason'});
is($r->{headers}{'x-test-task'}, 'code', 'classified as code');
is($r->{headers}{'x-test-model'}, 'strong',
   'floor_code 0.9: a code prompt needs quality 0.9, the 0.75 model does not qualify');
$t->stop;

}

done_testing;
