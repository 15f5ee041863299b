#!/usr/bin/perl

# The module inside nginx's request processing: internal redirects,
# server-level configuration and subrequests.
#
#   1. a redirect after the route was chosen is a failover only when the
#      provider was asked since (try_files, llm_route on at server level)
#   2. llm_route on at server level leaves the status and mock locations
#      alone
#   3. a subrequest (mirror) shares the context; only the main request
#      accounts and settles

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

# ==== Internal redirects (was 70-redirects.t) ================================
#
# An internal redirect after the route was chosen is a failover only when
# the provider was asked since (an upstream state was added): try_files
# to a routed named location, or llm_route on at server level with
# try_files in "location /", routes once and proxies.  (Any redirect used
# to count as a failed attempt: the provider, never contacted, was marked
# failed and cooled down, the client got 502, the next request 503.)

{

my $t = LLRTest->new(workers => 1, log_ignore => qr/llm route/);
my $m = $t->mock;

my $proxy = $t->proxy_directives();

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    llm_route_provider mockp {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host mock.example;
        base_path /v1;
    }
    llm_route_model gpt-4o-mini provider=mockp input=0.15 output=0.60;

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%;

        location /v1/ {
            llm_route on;
$proxy
        }

        # a static file if there is one, else the router
        location /tf/ {
            llm_route on;
            try_files \$uri \@router;
        }
        location \@router {
            llm_route on;
$proxy
        }
    }

    # the same with llm_route on at server level (a documented context)
    server {
        listen 127.0.0.1:%%PORT2%%;
        root %%DIR%%;
        llm_route on;

        location / {
            try_files \$uri \@router;
        }
        location \@router {
$proxy
        }
    }
EOF
$t->start;

my $body = { model => 'gpt-4o-mini',
             messages => [{ role => 'user', content => 'hi' }] };

my $r = $t->chat($body, path => '/tf/chat/completions');
is($r->{status}, 200, 'try_files to a routed named location: 200')
    or diag("$r->{status}: $r->{content}");
is(scalar($m->requests), 1, 'the provider was reached once');

$m->clear;
$r = $t->chat($body);
is($r->{status}, 200, 'an ordinary request afterwards: 200')
    or diag("$r->{status}: $r->{content}");

sleep 11;   # the cooldown (fail_timeout 10s) passes
$m->clear;
$r = $t->chat($body, port => $t->port(2));
is($r->{status}, 200, 'server-level llm_route, try_files in location /: 200')
    or diag("$r->{status}: $r->{content}");
is(scalar($m->requests), 1, 'server-level: the provider was reached once');

diag(join '', grep { /llm route/ } split /^/, $t->error_log);
$t->stop;

}

# ==== llm_route on at server level (was 71-server-level.t) ===================
#
# llm_route on at server level is inherited by every location, also the
# module's own status and mock locations: those are not routed (the
# status location answered 404 unknown_url).

{

my $t = LLRTest->new(workers => 1);

# llm_route on comes from the server level
my $proxy = $t->proxy_directives(host => 0, connection => 0, attempt => 0);

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    llm_route_provider self {
        upstream 127.0.0.1:%%PORT2%%; scheme http; host mock.example;
        base_path /v1;
    }
    llm_route_model gpt-4o-mini provider=self input=0.15 output=0.60;

    server {
        listen 127.0.0.1:%%PORT%%;
        llm_route on;

        location /v1/ {
$proxy
        }
        location = /llm/status { llm_route_status; }
    }

    server {
        listen 127.0.0.1:%%PORT2%%;
        llm_route on;
        location /v1/ { llm_route_mock; }
    }
EOF
$t->start;

my $r = $t->chat({ model => 'gpt-4o-mini',
                   messages => [{ role => 'user', content => 'hi' }] });
is($r->{status}, 200, 'routed to the mock');
diag($r->{content}) if $r->{status} != 200;

$r = $t->get('/llm/status');
is($r->{status}, 200, 'status endpoint answers');
diag($r->{content}) if $r->{status} != 200;

$t->stop;

}

# ==== Subrequests (was 66-subrequest.t) ======================================
#
# A subrequest of a routed request (here "mirror", with "log_subrequest
# on") runs the log phase handlers too, and shares the main request's
# context.  Only the main request may account and settle: the
# subrequest's log phase used to settle it early, charging nothing to the
# budget and counting the request as failed.

{

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

$t->stop;

}

done_testing;
