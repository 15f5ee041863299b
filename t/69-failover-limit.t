#!/usr/bin/perl

# Each failover is an error_page redirect to the named location, and nginx
# allows a request NGX_HTTP_MAX_URI_CHANGES (10) of them.  So
# llm_route_max_attempts is at most 10 (it took 16, and the 11th redirect
# ended in nginx's HTML 500 "redirection cycle"), and when no redirect
# would be left to bring a failure back (a rewrite took one), the module
# stops and answers "Every attempt failed" itself.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);
my $bad = $t->mock(name => 'bad', faults => { 'x-mock-status' => 503 });
my $good = $t->mock(name => 'good');

my $proxy = $t->proxy_directives(intercept => 1)
            . "            error_page 429 500 502 503 504 = \@llm_fallback;\n";

my $prov = '';
my $dep_all_bad = '';
my $dep_12th_good = '';
for my $i (1 .. 12) {
    $prov .= "    llm_route_provider p$i { upstream 127.0.0.1:%%MOCK_PORT%%;"
           . " scheme http; host p$i.example; base_path /v1; max_fails 0; }\n";
    $dep_all_bad .= "    llm_route_model allbad provider=p$i input=1 output=1"
                  . " weight=" . (100 - $i) . " upstream_model=allbad-$i;\n";
    $dep_12th_good .= "    llm_route_model last provider=p$i input=1 output=1"
                    . " weight=" . (100 - $i) . " upstream_model=last-$i;\n"
        if $i < 12;
}

$t->config(<<"EOF");
    llm_route_zone llm:1m;
$prov
    llm_route_provider good { upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http;
                              host good.example; base_path /v1; }
$dep_all_bad
$dep_12th_good
    llm_route_model last provider=good input=1 output=1 weight=1
                    upstream_model=last-good;

    server {
        listen 127.0.0.1:%%PORT%%;
        recursive_error_pages on;
        llm_route_max_attempts 10;

        location /v1/ {
            llm_route on;
$proxy
        }
        location /old/ {
            rewrite ^/old(/.*)\$ \$1 last;
        }
        location \@llm_fallback {
            llm_route on;
$proxy
        }
    }
EOF
$t->start;

# 12 deployments, all failing: 10 attempts and the JSON 503
my $r = $t->chat({ model => 'allbad',
                   messages => [{ role => 'user', content => 'hi' }] });
is(scalar(my @q = $bad->requests), 10, '10 of the 12 deployments tried');
is($r->{status}, 503, 'all failed: 503 (every failure was a 503)');
like($r->{content} // '', qr/Every attempt failed \(10 of at most 10\)/,
     'the JSON error, not nginx\'s page')
    or diag("status $r->{status}: $r->{content}");
unlike($t->error_log, qr/redirection cycle/, 'no redirection cycle');

# a rewrite takes one redirect first: 9 attempts, then the JSON 503
my $n0 = scalar(my @q0 = $bad->requests);
$r = $t->chat({ model => 'allbad',
                messages => [{ role => 'user', content => 'hi' }] },
              path => '/old/v1/chat/completions');
is(scalar(my @q1 = $bad->requests) - $n0, 9,
   'after a rewrite: 9 attempts, the redirects left');
is($r->{status}, 503, 'after a rewrite: 503');
like($r->{content} // '', qr/Every attempt failed \(9 of at most 10\)/,
     'after a rewrite: the JSON error')
    or diag("status $r->{status}: $r->{content}");
unlike($t->error_log, qr/redirection cycle/, 'no redirection cycle');

my ($rc, $out) = $t->nginx_t_http(<<'EOF');
    llm_route_max_attempts 11;
EOF
isnt($rc, 0, 'nginx -t rejects llm_route_max_attempts 11');
like($out, qr/between 1 and 10/, 'and gives the bounds');

$t->done_testing;
