#!/usr/bin/perl

# llm_route on at server level is inherited by every location, also the
# module's own status and mock locations: those are not routed (the
# status location answered 404 unknown_url).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);

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
            proxy_pass \$llm_route_url;
            proxy_http_version 1.1;
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

$t->done_testing;
