#!/usr/bin/perl

# A request body read that fails after going asynchronous (here the
# temporary file cannot be written, as on a full disk: 500) never calls
# the body handler.  When error_page sends that 500 to a location with
# llm_route on (the documented @llm_fallback), the module must answer it
# (a JSON 500), not wait for a body that will not come (it did: the
# client got no answer at all).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use Time::HiRes qw(time);

my $t = LLRTest->new(workers => 1, log_ignore => qr/client_body_temp/);
my $m = $t->mock;

my $proxy = $t->proxy_directives(intercept => 1);

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    llm_route_provider mockp {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host mock.example;
        base_path /v1;
    }
    llm_route_model gpt-4o-mini provider=mockp input=0.15 output=0.60
                    quality=0.78;

    server {
        listen 127.0.0.1:%%PORT%%;
        client_body_buffer_size 1k;
        client_body_timeout 3s;   # no effect: the whole body has arrived

        # the documented failover idiom
        location /v1/ {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@llm_fallback;
        }

        # control: the same, but the error page is not routed
        location /ctl/ {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@plain;
        }

        location \@plain {
            return 503 '{"error":"plain"}';
        }

        location \@llm_fallback {
            llm_route on;
$proxy
        }
    }
EOF
$t->start;

# the standard list (500): the body spills to a temp file that cannot be
# written (as with a full disk): 500 -> error_page -> @llm_fallback

my $tmp = $t->dir . '/client_body_temp';
system("rm -rf $tmp && touch $tmp");

my $big = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'
          . ('b' x 5000) . '"}]}';
my @parts = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
          . "Content-Type: application/json\r\nContent-Length: "
          . length($big) . "\r\nConnection: close\r\n\r\n",
          substr($big, 0, 100), substr($big, 100));

my $t0 = time;
my $raw = $t->raw(\@parts, pause => 0.2, timeout => 10);
my $p = LLRTest::parse_response($raw);
is($p->{status}, 500,
   'temp file write error (500) with error_page 500 = @llm_fallback: answered')
    or diag(sprintf("no answer after %.1fs: %s", time - $t0,
                    length $raw ? substr($raw, 0, 300) : '(nothing)'));

like($p->{headers}{'content-type'} // '', qr{application/json},
     'an OpenAI-shaped JSON error');

# control: same failure, error_page to a location without llm_route
$t0 = time;
$parts[0] =~ s{/v1/}{/ctl/};
$raw = $t->raw(\@parts, pause => 0.2, timeout => 10);
$p = LLRTest::parse_response($raw);
ok($p->{status} >= 500, "control: answered ($p->{status})");

system("rm -f $tmp && mkdir $tmp");

$t->done_testing;
