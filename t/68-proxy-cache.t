#!/usr/bin/perl

# Answers through proxy_cache with sendfile on: on a miss the body reaches
# the filters as buffers read from the cache's temporary file, on a hit
# from the cache file.  The module asks the copy filter for them in memory
# (they used to pass unread: usage lost, and a cached stream got an
# error event after its [DONE]), and a stream whose usage chunk it strips
# is sent from memory, not from the file (it was cut short).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use Time::HiRes qw(sleep);

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;
my $T = JSON::PP::true;

my $c = $t->routed_http(
    http => "proxy_cache_path %%DIR%%/cache keys_zone=c:1m;\n"
          . "log_format llr \"\$llm_route_prompt_tokens \$llm_route_completion_tokens\";\n",
    server => "location = /llm/status { llm_route_status; }\n",
    location => "sendfile on; proxy_buffering on; proxy_cache c;"
              . " proxy_cache_methods POST; proxy_cache_valid 200 10m;"
              . " proxy_ignore_headers Cache-Control;"
              . " proxy_cache_key \$request_body;"
              . " add_header X-Cache \$upstream_cache_status always;"
              . " access_log %%DIR%%/acc.log llr;");
$c =~ s/proxy_buffering off;//;
$t->config($c);
$t->start;

my $msgs = [{ role => 'user', content => 'cache me please' }];

# ---- JSON: the mock reports completion_tokens 2 ------------------------------
for my $i (1 .. 2) {
    my $r = $t->chat({ model => 'fast', messages => $msgs });
    is($r->{status}, 200, "json try $i: 200 (" . ($r->{headers}{'x-cache'} // '-') . ")");
    is($r->{json}{usage}{completion_tokens}, 2, "json try $i: client sees usage 2");
}
sleep 0.3;
my $st = $t->get('/llm/status')->{json};
is($st->{totals}{completion_tokens}, 4, 'zone: completion tokens = 2 + 2 (usage reported by provider)');
is($st->{totals}{estimated}, 0, 'zone: nothing estimated (usage was in the body)');

# ---- SSE -------------------------------------------------------------------
for my $i (1 .. 2) {
    my $s = $t->stream_request(
        body => { model => 'fast', messages => $msgs, stream => $T });
    ok($s->{done}, "sse try $i (" . ($s->{headers}{'x-cache'} // '-') . "): [DONE] seen");
    unlike($s->{body}, qr/stream_interrupted/,
           "sse try $i: no stream_interrupted error event appended");
}
sleep 0.3;
$st = $t->get('/llm/status')->{json};
is($st->{totals}{errors}, 0, 'zone: no request counted as an error');
diag("totals: " . JSON::PP->new->canonical->encode($st->{totals}));
open(my $fh, '<', $t->dir . '/acc.log'); my @l = <$fh>; close $fh;
diag("access log (prompt completion): " . join('|', map { chomp; $_ } @l));

$t->done_testing;
