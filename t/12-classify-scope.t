#!/usr/bin/perl

# Which requests the classifier sees: by default ("llm_route_classify
# policy") only those for a policy, wherever the "model" member stands in
# the body (the OpenAI SDKs send it after the messages, so the scanner
# keeps the text until it knows); with "llm_route_classify all" every
# routed request; text rules and overrides need the text whatever the
# model.  Unclassified requests count under the task "unclassified".

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new;
my $m = $t->mock;

my $extra = <<'EOF';
            add_header X-Test-Task "[$llm_route_task]" always;
            add_header X-Test-Difficulty "[$llm_route_difficulty]" always;
EOF

my $conf = $t->routed_http(
    http => <<'EOF',
    llm_route_policy auto {
        candidates gpt-4o-mini gpt-4o;
        floor      0.5;
        floor_hard 0.9;
    }
EOF
    location => $extra,
    server => "location = /llm/status { llm_route_status; }\n"
              . $t->routed_location(path => '/all/', location =>
                                    "llm_route_classify all;\n$extra")
              . $t->routed_location(path => '/rules/', location =>
                                    "llm_route_rule text ~*zebra "
                                    . "task=creative;\n$extra"));
$t->config($conf);
$t->start;

my $code = 'Write a Python function that reverses a linked list in place '
         . 'and explain its complexity.';

# the same members, the model first or last (as JSON::PP orders them)
sub body_first {
    my ($model) = @_;
    return '{"model":"' . $model . '","messages":[{"role":"user",'
           . '"content":' . LLRTest::json_encode($code) . '}]}';
}

sub body_last {
    my ($model) = @_;
    return '{"messages":[{"role":"user","content":'
           . LLRTest::json_encode($code) . '}],"model":"' . $model . '"}';
}

my %task;

for my $order (['first', \&body_first], ['last', \&body_last]) {
    my ($name, $mk) = @$order;

    my $r = $t->chat($mk->('auto'));
    is($r->{status}, 200, "auto, model $name: 200");
    like($r->{headers}{'x-test-task'}, qr/^\[[a-z]+\]$/,
         "auto, model $name: classified");
    unlike($r->{headers}{'x-test-task'}, qr/unclassified/,
           "auto, model $name: a real task");
    like($r->{headers}{'x-test-difficulty'}, qr/^\[[01]\.\d\d\]$/,
         "auto, model $name: a difficulty");
    $task{$name} = $r->{headers}{'x-test-task'};

    $r = $t->chat($mk->('gpt-4o'));
    is($r->{status}, 200, "explicit, model $name: 200");
    is($r->{headers}{'x-test-model'}, 'gpt-4o', "explicit, model $name: "
       . 'routed as asked');
    is($r->{headers}{'x-test-task'}, '[]',
       "explicit, model $name: not classified");

    $r = $t->chat($mk->('gpt-4o'), path => '/all/v1/chat/completions');
    is($r->{status}, 200, "classify all, model $name: 200");
    is($r->{headers}{'x-test-task'}, $task{$name},
       "classify all, model $name: the explicit request is classified too");
}

is($task{first}, $task{last}, 'the model\'s place does not change the task');

# a text rule needs the text of explicit requests too
my $r = $t->chat('{"messages":[{"role":"user","content":"a zebra poem"}],'
                 . '"model":"gpt-4o"}', path => '/rules/v1/chat/completions');
is($r->{status}, 200, 'text rule, explicit model: 200');
is($r->{headers}{'x-test-task'}, '[creative]',
   'text rule, explicit model: the rule saw the text');

# the counters: two unclassified explicit requests in the default location
my ($j, $end) = ({}, time + 3);
for (;;) {
    $j = $t->get('/llm/status')->{json} || {};
    last if ($j->{totals}{requests} // 0) >= 7 || time > $end;
    select(undef, undef, undef, 0.05);
}
is($j->{totals}{requests}, 7, 'status: all requests counted');
is($j->{tasks}{unclassified}{requests}, 2,
   'status: the explicit requests of the default location are unclassified');

# the directive's values
my ($rc, $out) = $t->nginx_t_http($t->routed_http(
    http => 'llm_route_classify sometimes;'));
isnt($rc, 0, 'nginx -t rejects llm_route_classify sometimes');
like($out, qr/invalid value "sometimes"/, 'with nginx\'s message');

$t->stop;
$t->done_testing;
