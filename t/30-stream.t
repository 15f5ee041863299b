#!/usr/bin/perl

# Streams (SSE):
#
#   1. unbuffered pass-through, usage chunks, cut streams, errors
#   2. a stream that ends cleanly inside an event and without [DONE]: the
#      error event after a blank line, last
#   3. Responses API streams: their own last events, usage and error event

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

# ==== Chat streams (was 05-stream.t) =========================================
#
# Streams: SSE passes through unbuffered (the first event reaches the client
# before the provider sends the last), usage chunks, cut streams, errors.

{

my $t = LLRTest->new;
my $m = $t->mock;

$t->config($t->routed_http);
$t->start;

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $msgs = [{ role => 'user', content => 'stream please' }];

# ---- a paced stream ---------------------------------------------------------

my $s = $t->stream_request(
    body => { model => 'fast', messages => $msgs, stream => $T },
    headers => { 'X-Mock-Event-Delay' => 0.3, 'X-Mock-Events' => 5 });

is($s->{status}, 200, 'stream: 200');
like($s->{headers}{'content-type'} // '', qr{^text/event-stream},
     'stream: text/event-stream');
is($s->{headers}{'x-llm-route-model'}, 'gpt-4o-mini',
   'stream: trace header on the stream');
my @ev = @{$s->{events}};
is(scalar @ev, 1 + 5 + 1 + 1, 'stream: role + 5 content + finish + [DONE]');
ok($s->{done}, 'stream: ends with [DONE]');
is($ev[0]{json}{choices}[0]{delta}{role}, 'assistant', 'stream: role chunk');
is(join('', map { $_->{json}{choices}[0]{delta}{content} // '' } @ev[1 .. 5]),
   'w1 w2 w3 w4 w5 ', 'stream: content chunks in order');
is($ev[6]{json}{choices}[0]{finish_reason}, 'stop', 'stream: finish chunk');
ok(!grep({ $_->{json} && $_->{json}{usage} } @ev),
   'stream: no usage chunk when the client did not ask');
is($ev[1]{json}{model}, 'gpt-4o-mini', 'stream: chunks carry the sent model');

my $q = $m->last_stream(9);
is($q->{json}{model}, 'gpt-4o-mini', 'stream: provider got the routed model');
ok($q->{json}{stream} && JSON::PP::is_bool($q->{json}{stream}),
   'stream: provider got "stream": true');
is_deeply($q->{json}{messages}, $msgs, 'stream: messages forwarded');

ok($q->{json}{stream_options} && $q->{json}{stream_options}{include_usage},
   'stream: the router asked the provider for the usage chunk');
my $sent = $q->{event_times} || [];
is(scalar @$sent, 9, 'mock sent 9 events (with the usage chunk)');
ok(@$sent && $ev[0]{time} < $sent->[-1],
   'first event reached the client before the provider sent the last');
ok(@$sent && $ev[0]{time} - $sent->[0] < 0.25,
   'first event arrived within 0.25 s of being sent');
my $spread = $ev[-1]{time} - $ev[0]{time};
ok($spread > 1.5, sprintf('events arrived spread over time (%.2f s)',
                          $spread));

# ---- include_usage ----------------------------------------------------------

$s = $t->stream_request(
    body => { model => 'gpt-4o', messages => $msgs, stream => $T,
              stream_options => { include_usage => $T } });
is($s->{status}, 200, 'include_usage: 200');
my @u = grep { $_->{json} && $_->{json}{usage} } @{$s->{events}};
is(scalar @u, 1, 'include_usage: one usage chunk');
is($u[0]{json}{usage}{completion_tokens}, 3,
   'include_usage: completion tokens') if @u;
is_deeply($u[0]{json}{choices}, [], 'include_usage: usage chunk has no '
          . 'choices') if @u;
ok($s->{done}, 'include_usage: [DONE]');
is_deeply($m->last->{json}{stream_options}, { include_usage => $T },
          'include_usage: stream_options forwarded');

# ---- the media type in another case is still a stream ----------------------

# the router asked for the usage chunk, so it must recognise the stream to
# take that chunk out again and count it; the response filter compares the
# lower-case spelling first, then any case

$s = $t->stream_request(
    body => { model => 'fast', messages => $msgs, stream => $T },
    headers => { 'X-Mock-Events' => 2,
                 'X-Mock-Content-Type' => 'Text/Event-Stream; charset=utf-8' });
is($s->{status}, 200, 'mixed-case type: 200');
like($s->{headers}{'content-type'} // '', qr{^Text/Event-Stream},
     'mixed-case type: passed on as sent');
is(scalar @{$s->{events}}, 1 + 2 + 1 + 1,
   'mixed-case type: role + 2 content + finish + [DONE]');
ok(!grep({ $_->{json} && $_->{json}{usage} } @{$s->{events}}),
   'mixed-case type: the usage chunk the client did not ask for is removed');
ok($m->last->{json}{stream_options}{include_usage},
   'mixed-case type: the provider was asked for it');

# ---- stream: false is plain JSON --------------------------------------------

my $r = $t->chat({ model => 'gpt-4o', messages => $msgs, stream => $F });
is($r->{status}, 200, 'stream false: 200');
like($r->{headers}{'content-type'}, qr{^application/json},
     'stream false: JSON');
is($r->{json}{object}, 'chat.completion', 'stream false: chat.completion');
ok(JSON::PP::is_bool($m->last->{json}{stream})
   && !$m->last->{json}{stream}, 'stream false: forwarded as false');

# ---- a stream the provider cuts ---------------------------------------------

$s = $t->stream_request(
    body => { model => 'gpt-4o', messages => $msgs, stream => $T },
    headers => { 'X-Mock-Cut' => 3, 'X-Mock-Event-Delay' => 0.05 });
is($s->{status}, 200, 'cut stream: 200 (headers were sent)');
is(scalar @{$s->{events}}, 4,
   'cut stream: the 3 events sent arrive, and the error event')
    or diag(join("\n", map { $_->{raw} // '' } @{$s->{events}}));
ok(!$s->{done}, 'cut stream: no [DONE]');
is(eval { $s->{events}[-1]{json}{error}{code} }, 'stream_interrupted',
   'cut stream: ends with the stream_interrupted error event');

# ---- errors from the provider pass through ----------------------------------

$r = $t->chat({ model => 'gpt-4o', messages => $msgs, stream => $T },
              headers => { 'X-Mock-Status' => 429,
                           'X-Mock-Retry-After' => 7 });
is($r->{status}, 429, 'provider 429 passes through');
is($r->{headers}{'retry-after'}, 7, 'provider Retry-After passes through');
is($r->{json}{error}{message}, 'mock error 429', 'provider error body');

# ---- concurrent streams ---------------------------------------------------

$m->clear;
my @kids;
for my $i (1 .. 4) {
    my $pid = fork();
    if ($pid == 0) {
        my $x = $t->stream_request(
            body => { model => 'fast', messages => $msgs, stream => $T },
            headers => { 'X-Mock-Event-Delay' => 0.05,
                         'X-Mock-Events' => 10 });
        POSIX::_exit($x->{done} && @{$x->{events}} == 13 ? 0 : 1);
    }
    push @kids, $pid;
}
my $fails = 0;
for (@kids) { waitpid($_, 0); $fails++ if $?; }
is($fails, 0, 'four concurrent streams complete');
is(scalar($m->requests), 4, 'four streams reached the provider');

$t->stop;

}

# ==== A stream cut inside an event (was 73-stream-cut.t) =====================
#
# A provider stream that ends cleanly (last chunk, or Content-Length
# reached) inside an event and without [DONE].  docs/failover.md: the
# stream_interrupted error event is then preceded by a blank line that
# ends the provider's unfinished event, and comes last.  (The blank line
# was lost, as the parser was reset before it was asked, which glued the
# error onto the provider's data line; and in strip mode, the bytes the
# parser held came after the error event.)

{

my $t = LLRTest->new(workers => 1);

my $ev1 = 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"one\"},\"finish_reason\":null}]}\n\n';
my $cut_text  = $ev1 . 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"TWO';
my $cut_usage = $ev1 . 'data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":5';

my $proxy = $t->proxy_directives(route => 1, identity => 1,
                                 unbuffered => 1, attempt => 0);

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
$proxy
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

$t->stop;

}

# ==== Responses API streams (was 83-responses-stream.t) ======================
#
# Responses API streams through the router (issue 20, item 11).  They end
# with response.completed, response.incomplete or response.failed (or an
# error event), never with "data: [DONE]": such a stream passes unchanged
# (the module used to append a stream_interrupted error to every one), its
# usage comes from response.usage (input_tokens, output_tokens and their
# details).  A stream cut before its last event gets the error in the
# Responses API's own event format, numbered after the provider's events.
# Chat streams keep their format.

{

my $t = LLRTest->new(workers => 1);

# provider events, as nginx config strings (\" and \n are nginx escapes)

my sub ev {
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

my $proxy = $t->proxy_directives(route => 1, identity => 1,
                                 unbuffered => 1, attempt => 0);

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
$proxy
        }
    }
EOF
$t->start;

my $T = JSON::PP::true;

my sub unescape {
    my ($s) = @_;
    $s =~ s/\\n/\n/g;
    $s =~ s/\\"/"/g;
    return $s;
}

my sub respond {
    my ($model) = @_;
    return $t->stream_request(path => '/v1/responses',
        body => { model => $model, stream => $T, input => 'Say hello' });
}

my sub model_stats {
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

$t->stop;

}

done_testing;
