#!/usr/bin/perl

# Budget and rate keys are client-chosen bytes (a header here).  Bytes
# that are not UTF-8 become U+FFFD in the status JSON, in Prometheus label
# values and in the 429 message, and the 1024-byte key cap and the 64-byte
# cut of the 429 message never split a character: one odd header must not
# make the whole status document undecodable (it did).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

$t->config($t->routed_http(
    location => 'llm_route_rate $http_x_team rpm=100;',
    server => '        location = /llm/status { llm_route_status; }'));
$t->start;

my $body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}';

sub ask_raw {
    my ($team) = @_;
    my $req = "POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\n"
            . "Content-Type: application/json\r\nX-Team: $team\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n$body";
    return LLRTest::parse_response($t->raw($req));
}

# 1. a raw 0xff byte in the key
is(ask_raw("caf\xff")->{status}, 200, 'request with key caf\\xff admitted');

my $s = $t->get('/llm/status');
is($s->{status}, 200, 'status 200');
ok(defined $s->{json}, 'status JSON decodes as UTF-8 (strict)')
    or diag('raw bytes in body: '
            . join(' ', map { sprintf '%02x', ord }
                   ($s->{content} =~ /"(caf[^"]*)"/ ? split //, $1 : ())));

my $p = $t->get('/llm/status?format=prometheus')->{content};
SKIP: {
    my ($rc, $out) = $t->promtool($p) or skip 'no promtool', 1;
    is($rc, 0, 'promtool accepts the exposition') or diag($out);
}

$t->stop;

# 2. valid UTF-8 cut at 1024 bytes in the middle of a character
my $t2 = LLRTest->new(workers => 1);
my $m2 = $t2->mock;
$t2->config($t2->routed_http(
    location => 'llm_route_rate $http_x_team rpm=100;',
    server => '        location = /llm/status { llm_route_status; }'));
$t2->start;
$t = $t2;

my $key = ('a' x 1023) . "\xc3\xa9";     # 1025 bytes, valid UTF-8
ok(utf8::decode(my $tmp = $key), 'the key sent is valid UTF-8');
is(ask_raw($key)->{status}, 200, 'long valid-UTF-8 key admitted');
$s = $t2->get('/llm/status');
ok(defined $s->{json}, 'status JSON still decodes after the 1024-byte cut');


# 3. the 429 message cuts the key at 64 bytes, in the middle of a character
my $k3 = ('b' x 63) . "\xc3\xa9";     # 65 bytes, valid UTF-8
is(ask_raw($k3)->{status}, 200, 'first request with a 65-byte key');
$t2->stop;

my $t3 = LLRTest->new(workers => 1);
my $m3 = $t3->mock;
$t3->config($t3->routed_http(
    location => 'llm_route_rate $http_x_team rpm=1;',
    server => '        location = /llm/status { llm_route_status; }'));
$t3->start;
$t = $t3;
is(ask_raw($k3)->{status}, 200, 'rpm=1: first request admitted');
my $r3 = ask_raw($k3);
is($r3->{status}, 429, 'rpm=1: second request refused');
ok(defined $r3->{json}, 'the 429 body is valid UTF-8 JSON')
    or diag('body: ' . $r3->{body});
$t3->done_testing;
