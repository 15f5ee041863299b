#!/usr/bin/perl

# A provider stream that ends cleanly (last chunk, or Content-Length
# reached) inside an event and without [DONE].  docs/failover.md: the
# stream_interrupted error event is then preceded by a blank line that
# ends the provider's unfinished event, and comes last.  (The blank line
# was lost, as the parser was reset before it was asked, which glued the
# error onto the provider's data line; and in strip mode, the bytes the
# parser held came after the error event.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $t = LLRTest->new(workers => 1);

my $ev1 = 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"one\"},\"finish_reason\":null}]}\n\n';
my $cut_text  = $ev1 . 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"TWO';
my $cut_usage = $ev1 . 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":5';

$t->config(<<"EOF2");
    llm_route_zone llm:1m;
    llm_route_provider p1 { upstream 127.0.0.1:%%PORT2%%; scheme http;
                            host p.example; base_path /text/v1; }
    llm_route_provider p2 { upstream 127.0.0.1:%%PORT2%%; scheme http;
                            host p.example; base_path /usage/v1; }
    llm_route_model text  provider=p1 input=1 output=1 context=128000 quality=0.8;
    llm_route_model usage provider=p2 input=1 output=1 context=128000 quality=0.8;

    server {
        listen 127.0.0.1:%%PORT2%%;
        default_type text/event-stream;
        location /text/v1/  { return 200 "$cut_text"; }
        location /usage/v1/ { return 200 "$cut_usage"; }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
            llm_route on;
            proxy_pass \$llm_route_url;
            proxy_set_header Host \$llm_route_host;
            proxy_set_header Accept-Encoding "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
EOF2
$t->start;

my $T = JSON::PP::true;
my $msgs = [{ role => 'user', content => 'hello' }];

for my $case (['text', 0], ['text', 1], ['usage', 0]) {
    my ($model, $inc) = @$case;
    my $name = "$model, " . ($inc ? 'include_usage (no strip)' : 'strip mode');
    my $s = $t->stream_request(body => { model => $model, stream => $T,
        messages => $msgs,
        ($inc ? (stream_options => { include_usage => $T }) : ()) });
    is($s->{status}, 200, "$name: status 200");
    my $b = $s->{body};
    diag("$name, client body:\n$b\n----");
    my @err = grep { $_->{json} && $_->{json}{error} } @{$s->{events}};
    is(scalar @err, 1, "$name: the client gets a stream_interrupted error event");
    like($b, qr/\n\ndata: \{"error":\{[^\n]*"stream_interrupted"\}\}\n\n\z/,
         "$name: the error event is last, after a blank line");
}

$t->done_testing;
