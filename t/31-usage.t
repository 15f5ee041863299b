#!/usr/bin/perl

# What a provider's answer is counted as:
#
#   1. usage that cannot be used is estimated; zone counters saturate
#   2. compressed answers pass untouched, their tokens estimated
#   3. answers through proxy_cache (file buffers) are read all the same

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Time::HiRes qw(sleep);

# ==== Usage that cannot be used (was 85-usage-validity.t) ====================
#
# Usage that cannot be used, and counters that cannot wrap (issue 20,
# item 4).  A "usage" object without usable token counts ({}, negative,
# fractional, string, null values), in JSON or in the stream's usage
# chunk, was charged $0; it is estimated from the text instead and
# counted as estimated.  A provider reporting 2^64-1 tokens moved
# totals.prompt_tokens from 200 to 199 (a reset to Prometheus): every
# zone counter saturates instead.
#
# The provider is a server of this nginx answering fixed bodies
# (return 200), chosen by the X-Usage request header.

{

my $t = LLRTest->new(workers => 1);

my %usage = (
    ok     => '{"prompt_tokens":7,"completion_tokens":5}',
    empty  => '{}',
    neg    => '{"prompt_tokens":-7,"completion_tokens":-5}',
    float  => '{"prompt_tokens":7.5,"completion_tokens":5}',
    string => '{"prompt_tokens":"7","completion_tokens":"5"}',
    null   => '{"prompt_tokens":null,"completion_tokens":null}',
    half   => '{"prompt_tokens":7}',
    p200   => '{"prompt_tokens":200,"completion_tokens":0}',
    huge   => '{"prompt_tokens":18446744073709551615,"completion_tokens":1}',
);

my $json_map = join('', map {
    "        $_ '{\"id\":\"x\",\"object\":\"chat.completion\","
    . "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    . "\"content\":\"abcdefgh\"},\"finish_reason\":\"stop\"}],"
    . "\"usage\":$usage{$_}}';\n" } sort keys %usage);

my $sse_map = join('', map {
    "        $_ 'data: {\"choices\":[{\"index\":0,\"delta\":"
    . "{\"content\":\"abcdefgh\"}}]}\\n\\n"
    . "data: {\"choices\":[{\"index\":0,\"delta\":{},"
    . "\"finish_reason\":\"stop\"}]}\\n\\n"
    . "data: {\"choices\":[],\"usage\":$usage{$_}}\\n\\n"
    . "data: [DONE]\\n\\n';\n" } sort keys %usage);

my $proxy = $t->proxy_directives(route => 1);

$t->config(<<"EOF");
    llm_route_zone llm:1m;

    llm_route_provider fixed {
        upstream 127.0.0.1:%%PORT2%%;
        scheme http;
        host fixed.example;
        base_path /json/v1;
    }
    llm_route_provider fixedsse {
        upstream 127.0.0.1:%%PORT2%%;
        scheme http;
        host fixed.example;
        base_path /sse/v1;
    }

    # \$1 per 1M tokens: a token is 1 micro-USD
    llm_route_model j provider=fixed input=1 output=1 context=128000;
    llm_route_model s provider=fixedsse input=1 output=1 context=128000;

    map \$http_x_usage \$json_answer {
$json_map
    }

    map \$http_x_usage \$sse_answer {
$sse_map
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /llm/status { llm_route_status; }

        location /v1/ {
$proxy
            llm_route_budget \$http_x_team 1000;
        }
    }

    server {
        listen 127.0.0.1:%%PORT2%%;

        location = /json/v1/chat/completions {
            default_type application/json;
            return 200 \$json_answer;
        }

        location = /sse/v1/chat/completions {
            default_type text/event-stream;
            return 200 \$sse_answer;
        }
    }
EOF
$t->start;

# "hello there": 11 bytes of text, 3 tokens; "abcdefgh": 2 tokens
my $msgs = [{ role => 'user', content => 'hello there' }];

my sub ask {
    my ($model, $kind, $team) = @_;
    my %b = (model => $model, messages => $msgs, max_tokens => 100);
    $b{stream} = JSON::PP::true if $model eq 's';
    my $r = $t->chat(\%b, headers => { 'X-Usage' => $kind,
                                       'X-Team' => $team // 'u' });
    select(undef, undef, undef, 0.1);
    my $st = $t->get('/llm/status');
    return ($r, $st->{json}{recent}[0] || {}, $st);
}

for my $model (qw(j s)) {
    my $what = $model eq 'j' ? 'JSON' : 'stream';

    my ($r, $rec) = ask($model, 'ok');
    is($r->{status}, 200, "$what: usable usage answered");
    ok(!$rec->{estimated}, "$what: usable usage is not estimated");
    is("$rec->{prompt_tokens}/$rec->{completion_tokens}", '7/5',
       "$what: usable usage is taken as it is");

    for my $kind (qw(empty neg float string null half)) {
        my $est0 = $t->get('/llm/status')->{json}{totals}{estimated};
        ($r, $rec, my $st) = ask($model, $kind, "$model-$kind");
        is($r->{status}, 200, "$what, usage $kind: answered");
        ok($rec->{estimated}, "$what, usage $kind: counted as estimated");
        is("$rec->{prompt_tokens}/$rec->{completion_tokens}", '3/2',
           "$what, usage $kind: tokens estimated from the text");
        is($st->{json}{totals}{estimated}, $est0 + 1,
           "$what, usage $kind: totals.estimated counts it");
        cmp_ok($st->{json}{budgets}{"$model-$kind"}{spent_usd} // 0, '>', 0,
               "$what, usage $kind: its budget is charged");
    }
}

# ---- counters saturate -----------------------------------------------------

my sub total {
    my ($field) = @_;
    my $c = $t->get('/llm/status')->{content};
    return $c =~ /"totals":\{[^}]*"\Q$field\E":([0-9.]+)/ ? $1 : '?';
}

my sub prom {
    my ($metric) = @_;
    my $c = $t->get('/llm/status?format=prometheus')->{content};
    return $c =~ /^\Q$metric\E ([0-9.e+]+)$/m ? $1 : '?';
}

ask('j', 'p200');
my $before = total('prompt_tokens');
ask('j', 'huge');
my $after = total('prompt_tokens');
diag("totals.prompt_tokens: $before, then $after after 2^64-1 more");
is($after, '18446744073709551615',
   'a provider reporting 2^64-1 tokens: prompt_tokens saturates');
ask('j', 'ok');
is(total('prompt_tokens'), '18446744073709551615', 'and stays there');
my $cost = total('cost_usd');
cmp_ok($cost, '>=', 18446744, 'the cost saturates too (at $18.4M)');
ask('j', 'huge');
is(total('cost_usd'), $cost, 'and does not wrap either');

my ($st) = (ask('j', 'ok'))[2];
my $m = $st->{json}{models}{j} || {};
ok($m->{prompt_tokens} && $m->{prompt_tokens} > 1e19,
   'the model counter saturates as the totals');

$t->stop;

}

# ==== Compressed answers (was 67-encoded.t) ==================================
#
# A provider that answers with Content-Encoding: gzip (the OpenAI SDKs
# send "Accept-Encoding: gzip, deflate"; this location, unlike the
# documented one, does not clear it).  The module does not inflate: the
# answer passes untouched (no plain-text error event inserted into a gzip
# stream, which it used to be, as the stream never showed [DONE]), counts
# as a success when it completes, and its tokens are estimated, the
# completion at max_tokens or 256, so that budgets are not escaped.

{

my $t = LLRTest->new(workers => 1);

my $sse = 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n'
        . 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\n'
        . 'data: [DONE]\n\n';
my $json = '{\"id\":\"c2\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}';

# this location, unlike the documented one, keeps the client's
# Accept-Encoding
my $proxy = $t->proxy_directives(route => 1, connection => 0, attempt => 0,
                                 unbuffered => 1);

$t->config(<<"EOF2");
    llm_route_zone llm:1m;
    llm_route_provider gzj { upstream 127.0.0.1:%%PORT2%%; scheme http;
                             host gz.example; base_path /v1; }
    llm_route_provider gzs { upstream 127.0.0.1:%%PORT2%%; scheme http;
                             host gz.example; base_path /sse/v1; }
    llm_route_model mj provider=gzj input=1 output=1 context=128000 quality=0.8;
    llm_route_model ms provider=gzs input=1 output=1 context=128000 quality=0.8;

    server {
        listen 127.0.0.1:%%PORT2%%;
        gzip on; gzip_min_length 1; gzip_types application/json text/event-stream;
        location /v1/ { default_type application/json; return 200 "$json"; }
        location /sse/v1/ { default_type text/event-stream; return 200 "$sse"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /llm/status { llm_route_status; }
        location /v1/ {
$proxy
        }
    }
EOF2
$t->start;

my $r = $t->chat({ model => 'ms', stream => JSON::PP::true,
                   messages => [{ role => 'user', content => 'hello' }] },
                 headers => { 'Accept-Encoding' => 'gzip' });
is($r->{status}, 200, 'sse: 200');
is($r->{headers}{'content-encoding'}, 'gzip', 'sse: provider answered gzip');
diag("sse content-type: $r->{headers}{'content-type'}");
like($r->{content}, qr/\A\x1f\x8b/, 'sse: the body starts with the gzip magic (nothing inserted before it)');
unlike($r->{content}, qr/stream_interrupted/, 'sse: no plain-text error event mixed into a complete gzip stream');

$r = $t->chat({ model => 'mj', messages => [{ role => 'user', content => 'hello' }] },
              headers => { 'Accept-Encoding' => 'gzip' });
is($r->{status}, 200, 'json: 200');
is($r->{headers}{'content-encoding'}, 'gzip', 'json: provider answered gzip');

sleep 0.3;
my $st = $t->get('/llm/status')->{json};
diag("totals: " . JSON::PP->new->canonical->encode($st->{totals}));
is($st->{models}{ms}{errors}, 0, 'zone: the complete gzip stream is not an error');
is($st->{models}{mj}{errors}, 0, 'zone: the complete gzip JSON is not an error');
is($st->{totals}{estimated}, 2, 'zone: both counted as estimated');
is($st->{totals}{completion_tokens}, 512,
   'zone: completion estimated at 256 each (no max_tokens)');

$t->stop;

}

# ==== proxy_cache and sendfile (was 68-proxy-cache.t) ========================
#
# Answers through proxy_cache with sendfile on: on a miss the body reaches
# the filters as buffers read from the cache's temporary file, on a hit
# from the cache file.  The module asks the copy filter for them in memory
# (they used to pass unread: usage lost, and a cached stream got an
# error event after its [DONE]), and a stream whose usage chunk it strips
# is sent from memory, not from the file (it was cut short).

{

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

$t->stop;

}

done_testing;
