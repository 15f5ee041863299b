#!/usr/bin/perl

# A provider that answers with Content-Encoding: gzip (the OpenAI SDKs
# send "Accept-Encoding: gzip, deflate"; this location, unlike the
# documented one, does not clear it).  The module does not inflate: the
# answer passes untouched (no plain-text error event inserted into a gzip
# stream, which it used to be, as the stream never showed [DONE]), counts
# as a success when it completes, and its tokens are estimated, the
# completion at max_tokens or 256, so that budgets are not escaped.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Time::HiRes qw(sleep);

my $t = LLRTest->new(workers => 1);

my $sse = 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n'
        . 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}\n\n'
        . 'data: [DONE]\n\n';
my $json = '{\"id\":\"c2\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}';

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
            llm_route on;
            proxy_pass \$llm_route_url;
            proxy_set_header Host \$llm_route_host;
            proxy_http_version 1.1;
            proxy_buffering off;
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

$t->done_testing;
