#!/usr/bin/perl

# Responses API streams through the router (issue 20, item 11).  They end
# with response.completed, response.incomplete or response.failed (or an
# error event), never with "data: [DONE]": such a stream passes unchanged
# (the module used to append a stream_interrupted error to every one), its
# usage comes from response.usage (input_tokens, output_tokens and their
# details).  A stream cut before its last event gets the error in the
# Responses API's own event format, numbered after the provider's events.
# Chat streams keep their format.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $t = LLRTest->new(workers => 1);

# provider events, as nginx config strings (\" and \n are nginx escapes)

sub ev {
    my ($type, $json) = @_;
    $json =~ s/"/\\"/g;
    return "event: $type\\ndata: $json\\n\\n";
}

my $created = ev('response.created', '{"type":"response.created",'
    . '"sequence_number":0,"response":{"id":"resp_1","object":"response",'
    . '"status":"in_progress","model":"m-upstream","output":[],'
    . '"error":null,"usage":null}}');
my $delta = ev('response.output_text.delta',
    '{"type":"response.output_text.delta","sequence_number":1,'
    . '"item_id":"msg_1","output_index":0,"content_index":0,'
    . '"delta":"Hello there","logprobs":[]}');
my $usage = '"usage":{"input_tokens":12,"input_tokens_details":'
    . '{"cached_tokens":4},"output_tokens":7,"output_tokens_details":'
    . '{"reasoning_tokens":3},"total_tokens":19}';
my $completed = ev('response.completed', '{"type":"response.completed",'
    . '"sequence_number":2,"response":{"id":"resp_1","object":"response",'
    . '"status":"completed","model":"m-upstream","error":null,'
    . '"incomplete_details":null,"output":[{"type":"message","id":"msg_1",'
    . '"status":"completed","role":"assistant","content":[{"type":'
    . '"output_text","text":"Hello there","annotations":[]}]}],'
    . $usage . '}}');
my $incomplete = ev('response.incomplete', '{"type":"response.incomplete",'
    . '"sequence_number":2,"response":{"id":"resp_1","object":"response",'
    . '"status":"incomplete","incomplete_details":{"reason":'
    . '"max_output_tokens"},"error":null,' . $usage . '}}');
my $failed = ev('response.failed', '{"type":"response.failed",'
    . '"sequence_number":2,"response":{"id":"resp_1","object":"response",'
    . '"status":"failed","error":{"code":"server_error","message":"boom"},'
    . '"usage":null}}');
my $error = ev('error', '{"type":"error","sequence_number":1,"error":'
    . '{"type":"server_error","code":"server_error","message":"boom",'
    . '"param":null}}');
my $half = 'event: response.output_text.delta\ndata: {\"type\":'
    . '\"response.output_text.delta\",\"sequence_number\":2,\"delta\":\"wor';
my $json = '{"id":"resp_2","object":"response","status":"completed",'
    . '"model":"m-upstream","output":[{"type":"message","content":[{"type":'
    . '"output_text","text":"Hi"}]}],' . $usage . '}';
$json =~ s/"/\\"/g;

my %streams = (
    completed  => $created . $delta . $completed,
    incomplete => $created . $delta . $incomplete,
    failed     => $created . $failed,
    error      => $created . $error,
    cut        => $created . $delta,
    half       => $created . $delta . $half,
);

my ($providers, $models, $locations) = ('', '', '');

for my $name (sort keys %streams) {
    $providers .= "llm_route_provider p_$name { upstream 127.0.0.1:%%PORT2%%;"
        . " scheme http; host p.example; base_path /$name/v1; }\n";
    $models .= "llm_route_model $name provider=p_$name input=1 output=2"
        . " cached_input=0.5 context=128000 quality=0.8;\n";
    $locations .= "location /$name/v1/ { default_type text/event-stream;"
        . " return 200 \"$streams{$name}\"; }\n";
}

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    $providers
    llm_route_provider p_json { upstream 127.0.0.1:%%PORT2%%; scheme http;
                                host p.example; base_path /json/v1; }
    llm_route_provider p_chat { upstream 127.0.0.1:%%PORT2%%; scheme http;
                                host p.example; base_path /chat/v1; }
    $models
    llm_route_model json provider=p_json input=1 output=2 context=128000
                    quality=0.8;
    llm_route_model chat provider=p_chat input=1 output=2 context=128000
                    quality=0.8;

    server {
        listen 127.0.0.1:%%PORT2%%;
        $locations
        location /json/v1/ { default_type application/json;
                             return 200 "$json"; }
        location /chat/v1/ {
            default_type text/event-stream;
            return 200 "data: {\\"id\\":\\"c\\",\\"choices\\":[{\\"index\\":0,\\"delta\\":{\\"content\\":\\"a\\"},\\"finish_reason\\":null}]}\\n\\n";
        }
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /llm/status { llm_route_status; }
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
EOF
$t->start;

my $T = JSON::PP::true;

sub unescape {
    my ($s) = @_;
    $s =~ s/\\n/\n/g;
    $s =~ s/\\"/"/g;
    return $s;
}

sub respond {
    my ($model) = @_;
    return $t->stream_request(path => '/v1/responses',
        body => { model => $model, stream => $T, input => 'Say hello' });
}

sub model_stats {
    my ($model) = @_;
    my $st = $t->get('/llm/status')->{json};
    return $st->{models}{$model} // {};
}

# the streams that end as the API says pass unchanged

for my $name (qw(completed incomplete failed error)) {
    my $s = respond($name);
    is($s->{status}, 200, "$name: 200");
    is($s->{body}, unescape($streams{$name}),
       "$name: the stream passes unchanged, nothing appended");
    ok(!grep({ ($_->{data} // '') =~ /stream_interrupted/ } @{$s->{events}}),
       "$name: no stream_interrupted event");
}

my $m = model_stats('completed');
is($m->{requests}, 1, 'completed: one request');
is($m->{errors}, 0, 'completed: not an error');
is($m->{prompt_tokens}, 12, 'completed: prompt tokens from input_tokens');
is($m->{completion_tokens}, 7,
   'completed: completion tokens from output_tokens');
is($m->{cached_tokens}, 4,
   'completed: cached tokens from input_tokens_details');
is($m->{reasoning_tokens}, 3,
   'completed: reasoning tokens from output_tokens_details');
is($m->{estimated}, 0, 'completed: usage reported, not estimated');
# 8 uncached at $1, 4 cached at $0.50, 7 at $2 per 1M tokens
cmp_ok(abs($m->{cost_usd} - 0.000024), '<', 1e-9, 'completed: cost')
    or diag(explain $m);

$m = model_stats('incomplete');
is($m->{errors}, 0, 'incomplete: an answer, not an error');
is($m->{completion_tokens}, 7, 'incomplete: usage from response.incomplete');

is(model_stats('failed')->{errors}, 1, 'failed: counted as an error');
is(model_stats('error')->{errors}, 1, 'error event: counted as an error');

# a stream cut between events: the Responses API's error event, last

my $s = respond('cut');
is($s->{status}, 200, 'cut: 200 (the headers were sent)');
my $last = $s->{events}[-1];
like($last->{raw}, qr/\Aevent: error\ndata: /, 'cut: an "error" event last');
my $e = $last->{json} // {};
is($e->{type}, 'error', 'cut: type error');
is($e->{sequence_number}, 2, 'cut: numbered after the 2 provider events');
is($e->{error}{code}, 'stream_interrupted', 'cut: code stream_interrupted');
is($e->{error}{type}, 'server_error', 'cut: error type server_error');
ok(defined $e->{error}{message} && exists $e->{error}{param},
   'cut: message and param');
ok(!exists $e->{code}, 'cut: not the chat format');
is(substr($s->{body}, 0, length unescape($streams{cut})),
   unescape($streams{cut}), 'cut: the provider events came first, unchanged');

$m = model_stats('cut');
is($m->{errors}, 1, 'cut: counted as an error');
is($m->{estimated}, 1, 'cut: tokens estimated (no usage)');
ok($m->{completion_tokens} > 0, 'cut: the streamed text is charged');

# cut inside an event: a blank line ends it first

$s = respond('half');
like($s->{body}, qr/"delta":"wor\n\nevent: error\ndata: \{"type":"error",[^\n]*"stream_interrupted"[^\n]*\}\n\n\z/,
     'half: blank line, then the error event, last');

# a non-streamed answer: usage from input_tokens and the details

my $r = $t->request('POST', '/v1/responses',
    body => LLRTest::json_encode({ model => 'json', input => 'hi' }));
is($r->{status}, 200, 'json: 200');
$m = model_stats('json');
is($m->{prompt_tokens}, 12, 'json: input_tokens');
is($m->{completion_tokens}, 7, 'json: output_tokens');
is($m->{cached_tokens}, 4, 'json: cached_tokens');
is($m->{reasoning_tokens}, 3, 'json: reasoning_tokens');

# chat streams: the chat error format, as before

$s = $t->stream_request(body => { model => 'chat', stream => $T,
    messages => [{ role => 'user', content => 'hi' }] });
like($s->{body}, qr/\ndata: \{"error":\{[^\n]*"code":"stream_interrupted"\}\}\n\n\z/,
     'chat: the chat error event');

$t->done_testing;
