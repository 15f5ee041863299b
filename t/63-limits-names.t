#!/usr/bin/perl

# Two budgets with the same key value and period but different key
# expressions are named "key/day/1" and "key/day/2" in the status, by
# limit: the names must not follow the zone's LRU order (they used to swap
# between two reads when a request touched only one of the budgets).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $proxy = <<'EOF2';
            llm_route on;
            proxy_pass $llm_route_url;
            proxy_set_header Host $llm_route_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
EOF2

$t->config($t->routed_http(
    location => 'llm_route_budget $http_x_team 5;
                 llm_route_budget ${http_x_team} 7;',
    server => <<"EOF2"));
        location = /llm/status { llm_route_status; }
        location /five/ {
$proxy
            llm_route_budget \$http_x_team 5;
        }
        location /seven/ {
$proxy
            llm_route_budget \${http_x_team} 7;
        }
EOF2
$t->start;

my $b = { model => 'gpt-4o-mini', max_tokens => 2,
          messages => [{ role => 'user', content => 'hi' }] };

sub names {
    select(undef, undef, undef, 0.2);
    my $bu = $t->get('/llm/status')->{json}{budgets} || {};
    return join ' ', map { "$_=" . ($bu->{$_}{limit_usd} + 0) } sort keys %$bu;
}

is($t->chat($b, headers => { 'X-Team' => 'a' })->{status}, 200, 'both');
my $n1 = names();
is($t->chat($b, headers => { 'X-Team' => 'a' },
            path => '/five/v1/chat/completions')->{status}, 200, 'only $5');
my $n2 = names();
is($t->chat($b, headers => { 'X-Team' => 'a' },
            path => '/seven/v1/chat/completions')->{status}, 200, 'only $7');
my $n3 = names();
diag("after both: $n1");
diag("after /five: $n2");
diag("after /seven: $n3");
is($n2, $n1, 'names stable after touching the $5 budget');
is($n3, $n1, 'names stable after touching the $7 budget');

$t->done_testing;
