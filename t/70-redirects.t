#!/usr/bin/perl

# An internal redirect after the route was chosen is a failover only when
# the provider was asked since (an upstream state was added): try_files
# to a routed named location, or llm_route on at server level with
# try_files in "location /", routes once and proxies.  (Any redirect used
# to count as a failed attempt: the provider, never contacted, was marked
# failed and cooled down, the client got 502, the next request 503.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

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
$t->done_testing;
