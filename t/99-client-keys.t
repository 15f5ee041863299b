#!/usr/bin/perl

# The client-key idiom of the examples (conf-examples/conf.d/
# llm-route-openai.conf, run as shipped but for its addresses and paths):
# a request without a key or with a key the map does not know is answered
# 401 in OpenAI's format and never reaches the provider, so no request
# escapes the per-team budget and rate limit (issue 20, item 19: the old
# "map ... default """ idiom let unknown keys through, unlimited).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new;
my $m = $t->mock;
my $dir = $t->dir;

my $file = $t->repo . '/conf-examples/conf.d/llm-route-openai.conf';
open(my $fh, '<', $file) or die "$file: $!";
my $conf = do { local $/; <$fh> };
close $fh;

# the addresses and paths of the machine it is installed on -> the test's
my @subst = (
    [ qr/listen 127\.0\.0\.1:8080;/, 'listen 127.0.0.1:%%PORT%%;' ],
    [ qr/upstream\s+api\.openai\.com:443;/, 'upstream 127.0.0.1:%%MOCK_PORT%%;' ],
    [ qr/scheme\s+https;/, 'scheme http;' ],
    [ qr{/etc/nginx/llm_route/}, '%%DIR%%/' ],
    [ qr{/var/lib/nginx/llm_route/}, '%%DIR%%/' ],
    [ qr{/var/log/nginx/}, '%%DIR%%/' ],
);
for my $s (@subst) {
    my $n = ($conf =~ s/$s->[0]/$s->[1]/g);
    ok($n >= 1, "the example has $s->[0]");
}

open($fh, '>', "$dir/openai.key") or die;
print $fh "sk-provider-KEY-3e4f5a6b\n";
close $fh;

$t->config($conf);
$t->start;

my $body = { model => 'gpt-4o-mini',
             messages => [{ role => 'user', content => 'Say hello.' }] };

my $n0 = () = $m->requests;

for my $case ([ 'no key', {} ],
              [ 'an unknown key', { Authorization => 'Bearer sk-guess' } ],
              [ 'a key that differs in one character',
                { Authorization => 'Bearer sk-team-a-CHANGE-ME-0123456788' } ])
{
    my $r = $t->chat($body, headers => $case->[1]);
    is($r->{status}, 401, "$case->[0]: 401");
    like($r->{headers}{'content-type'}, qr{^application/json},
         "$case->[0]: JSON");
    is($r->{json}{error}{code}, 'invalid_api_key',
       "$case->[0]: OpenAI's error code");
    is($r->{json}{error}{type}, 'invalid_request_error',
       "$case->[0]: OpenAI's error type");
}

is(scalar(() = $m->requests), $n0, 'refused requests never reach the provider');

my $r = $t->chat($body, headers => {
    Authorization => 'Bearer sk-team-a-CHANGE-ME-0123456789' });
is($r->{status}, 200, 'a known key: routed');
is($m->last_request->{headers}{authorization}, 'Bearer sk-provider-KEY-3e4f5a6b',
   'the provider gets the key from the key file, not the client\'s');

my $s = $t->get('/llm/status')->{json};
my @budgets = sort keys %{ $s->{budgets} || {} };
ok(scalar(@budgets) >= 1 && !grep({ !/^team-a\b/ } @budgets),
   'the budget counts the known team only: ' . join(',', @budgets));
ok(($s->{budgets}{'team-a/day'} // $s->{budgets}{'team-a'} // {})
       ->{spent_usd} > 0, 'and charged it');

# the JSON access log of the example
open($fh, '<', "$dir/llm.json") or die "llm.json: $!";
my @lines = <$fh>;
close $fh;
my @json = map { LLRTest::json_decode($_) } @lines;
is(scalar(grep { defined } @json), scalar(@lines),
   'every line of the JSON access log is JSON (' . scalar(@lines) . ')');
my ($ok) = grep { $_ && $_->{status} == 200 } @json;
is($ok && $ok->{team}, 'team-a', 'the log names the team');

$t->done_testing;
