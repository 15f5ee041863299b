#!/usr/bin/perl

# llm_route_rule at http{} level: its names are checked (nginx -t rejects
# an unknown model or task) and task= is resolved, as at server and
# location level.  (The http level's rules were only ever merged as
# inherited ones, never checked: an unknown model passed nginx -t, and
# task= stayed 0, "general".)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

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
$t->done_testing;
