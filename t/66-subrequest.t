#!/usr/bin/perl

# A subrequest of a routed request (here "mirror", with "log_subrequest
# on") runs the log phase handlers too, and shares the main request's
# context.  Only the main request may account and settle: the
# subrequest's log phase used to settle it early, charging nothing to the
# budget and counting the request as failed.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

$t->config($t->routed_http(
    http => '    llm_route_model dollar provider=mockp input=0 output=500000
                    context=128000 quality=0.9;',
    location => '            llm_route_budget $http_x_team 2;
            mirror /mirror;',
    server => '        location = /llm/status { llm_route_status; }
        location = /mirror { internal; log_subrequest on; return 204; }'));
$t->start;

my $b = { model => 'dollar', max_tokens => 2,
          messages => [{ role => 'user', content => 'hi' }] };

my @s = map { select(undef, undef, undef, 0.1);
              $t->chat($b, headers => { 'X-Team' => 'a' })->{status} } 1 .. 5;
select(undef, undef, undef, 0.2);
my $j = $t->get('/llm/status')->{json};
diag("statuses: @s");
diag("budget a: spent=$j->{budgets}{a}{spent_usd} "
     . "model dollar: requests=$j->{models}{dollar}{requests} "
     . "errors=$j->{models}{dollar}{errors} "
     . "cost=$j->{models}{dollar}{cost_usd}");
is("@s", '200 200 429 429 429', '$2 budget, $1 requests: 2 admitted');
is($j->{budgets}{a}{spent_usd} + 0, 2, 'the budget was charged');
is($j->{models}{dollar}{errors}, 0, 'successful requests not counted as errors');

$t->done_testing;
