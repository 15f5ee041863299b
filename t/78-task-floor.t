#!/usr/bin/perl

# floor_TASK above the policy's floor_hard, without floor_hard_TASK: the
# task's hard prompts need the task's floor too.  (The requirement fell
# from floor_TASK towards the policy's floor_hard as difficulty rose, so
# a harder code prompt needed less quality.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

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
$t->done_testing;
