#!/usr/bin/perl

# llm_route_mock, the OpenAI-compatible provider inside nginx:
#
#   1. directly and as the upstream of a routed location
#   2. answers like a real provider: Responses API events, base64
#      embeddings, tool calls and JSON objects that fit their schema, n
#   3. a client that stops reading a paced stream: the mock waits

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF pack_sockaddr_in inet_aton);
use Time::HiRes qw(sleep time);

# ==== The mock (was 06-mock.t) ===============================================
#
# llm_route_mock: the OpenAI-compatible provider inside nginx, directly and
# as the upstream of a routed location (the demo's shape).

{

my $t = LLRTest->new;

my $proxy = $t->proxy_directives(route => 1, auth => 1, unbuffered => 1,
                                 attempt => 0);

$t->config(<<"EOF");
    llm_route_zone llm:1m;

    upstream mock_inside { server 127.0.0.1:%%PORT2%%; keepalive 4; }

    llm_route_provider inside {
        upstream mock_inside;
        scheme http;
        host mock.local;
        base_path /v1;
        api_key sk-inside-KEY;
    }
    llm_route_model small provider=inside input=0.1 output=0.2 context=8000
                    quality=0.6 upstream_model=mock-small;

    llm_route_provider inside_slow {
        upstream mock_inside;
        scheme http;
        host mock.local;
        base_path /slow/v1;
    }
    llm_route_model paced provider=inside_slow input=0.1 output=0.2
                    context=8000 quality=0.6 upstream_model=mock-paced;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
$proxy
        }
    }

    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v1/ {
            llm_route_mock;
        }
        location /slow/v1/ {
            llm_route_mock tokens=5 ttft=300ms tps=10;
        }
    }
EOF

$t->start;

my $P2 = $t->port(2);
my $T = JSON::PP::true;
my $msgs = [{ role => 'system', content => 'You are terse.' },
            { role => 'user', content => 'Name three colours.' }];

# ---- chat completion as JSON ------------------------------------------------

my $r = $t->chat({ model => 'whatever-model', messages => $msgs },
                 port => $P2);
is($r->{status}, 200, 'mock: 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'mock: JSON');
my $j = $r->{json} || {};
is($j->{object}, 'chat.completion', 'mock: object chat.completion');
is($j->{model}, 'whatever-model', 'mock: echoes the model');
like($j->{id} // '', qr/\S/, 'mock: has an id');
is($j->{choices}[0]{message}{role}, 'assistant', 'mock: assistant message');
like($j->{choices}[0]{message}{content} // '', qr/\S/, 'mock: some content');
is($j->{choices}[0]{finish_reason}, 'stop', 'mock: finish_reason stop');
my $u = $j->{usage} || {};
ok(($u->{prompt_tokens} // 0) > 0, 'mock: prompt_tokens > 0');
ok(($u->{completion_tokens} // 0) > 0, 'mock: completion_tokens > 0');
is($u->{total_tokens}, ($u->{prompt_tokens} // 0)
                       + ($u->{completion_tokens} // 0),
   'mock: total = prompt + completion');

my $r2 = $t->chat({ model => 'whatever-model', messages => $msgs },
                  port => $P2);
is_deeply($r2->{json}{usage}, $u, 'mock: token counts are deterministic');
is($r2->{json}{choices}[0]{message}{content},
   $j->{choices}[0]{message}{content}, 'mock: content is deterministic');

my $longer = [@$msgs, { role => 'user', content => 'and more ' x 50 }];
$r2 = $t->chat({ model => 'whatever-model', messages => $longer },
               port => $P2);
ok(($r2->{json}{usage}{prompt_tokens} // 0) > $u->{prompt_tokens},
   'mock: a longer prompt counts more prompt tokens');

# ---- SSE ------------------------------------------------------------------

my $s = $t->stream_request(port => $P2,
    body => { model => 'm-stream', messages => $msgs, stream => $T });
is($s->{status}, 200, 'mock stream: 200');
like($s->{headers}{'content-type'} // '', qr{^text/event-stream},
     'mock stream: event-stream');
my @ev = @{$s->{events}};
ok(@ev >= 4, 'mock stream: at least role, content, finish, [DONE]');
ok($s->{done} && $ev[-1]{data} eq '[DONE]', 'mock stream: [DONE] last');
is($ev[0]{json}{object}, 'chat.completion.chunk', 'mock stream: chunk object');
is($ev[0]{json}{model}, 'm-stream', 'mock stream: echoes the model');
is($ev[0]{json}{choices}[0]{delta}{role}, 'assistant',
   'mock stream: first chunk has the role');
my @fin = grep { $_->{json} && $_->{json}{choices}
                 && $_->{json}{choices}[0]
                 && $_->{json}{choices}[0]{finish_reason} } @ev;
is(scalar @fin, 1, 'mock stream: one finish chunk');
ok(!grep({ $_->{json} && $_->{json}{usage} } @ev),
   'mock stream: no usage chunk without include_usage');
my $content = join('', map { $_->{json} && $_->{json}{choices}
                             && $_->{json}{choices}[0]
                             ? $_->{json}{choices}[0]{delta}{content} // ''
                             : '' } @ev);
is($content, $j->{choices}[0]{message}{content},
   'mock stream: the chunks spell the same content as the JSON answer');

$s = $t->stream_request(port => $P2,
    body => { model => 'whatever-model', messages => $msgs, stream => $T,
              stream_options => { include_usage => $T } });
my @u = grep { $_->{json} && $_->{json}{usage} } @{$s->{events}};
is(scalar @u, 1, 'mock stream include_usage: one usage chunk');
is_deeply($u[0]{json}{choices}, [], 'mock stream: usage chunk has no choices')
    if @u;
is_deeply($u[0]{json}{usage}, $u,
          'mock stream: the same usage as the JSON answer') if @u;
is($s->{events}[-1]{data}, '[DONE]', 'mock stream include_usage: [DONE]');

# ---- models and errors ------------------------------------------------------

$r = $t->get('/v1/models', port => $P2);
is($r->{status}, 200, 'mock /v1/models: 200');
is($r->{json}{object}, 'list', 'mock /v1/models: list');
ok(ref $r->{json}{data} eq 'ARRAY', 'mock /v1/models: data array');

$r = $t->chat('{"model":', port => $P2);
is($r->{status}, 400, 'mock: malformed JSON 400');
ok($r->{json} && $r->{json}{error}, 'mock: OpenAI-shaped error');

# ---- parameters: tokens, ttft, tps; X-Mock-* overrides ----------------------

use Time::HiRes qw(time);

my $t0 = time;
$r = $t->chat({ model => 'slow', messages => $msgs }, port => $P2,
              path => '/slow/v1/chat/completions');
my $took = time - $t0;
is($r->{status}, 200, 'tokens=5 ttft=300ms tps=10: 200');
is($r->{json}{usage}{completion_tokens}, 5, 'tokens=5: 5 completion tokens');
ok($took >= 0.3 + 0.4 - 0.05,
   sprintf('JSON answer waits ttft + (tokens-1)/tps (%.2f s)', $took));

$s = $t->stream_request(port => $P2, path => '/slow/v1/chat/completions',
    body => { model => 'slow', messages => $msgs, stream => $T,
              stream_options => { include_usage => $T } });
my @c = grep { $_->{json} && $_->{json}{choices} && $_->{json}{choices}[0]
               && length($_->{json}{choices}[0]{delta}{content} // '') }
        @{$s->{events}};
is(scalar @c, 5, 'stream tokens=5: 5 content chunks (chunk=1)');
ok(@c && $c[0]{time} - $s->{t_start} >= 0.28,
   sprintf('first token after ttft (%.2f s)',
           @c ? $c[0]{time} - $s->{t_start} : -1));
ok(@c && $c[-1]{time} - $c[0]{time} >= 0.35,
   sprintf('tokens paced at tps=10 (%.2f s for 4 gaps)',
           @c ? $c[-1]{time} - $c[0]{time} : -1));
my @uu = grep { $_->{json} && $_->{json}{usage} } @{$s->{events}};
is(@uu ? $uu[0]{json}{usage}{completion_tokens} : undef, 5,
   'stream usage: 5 completion tokens');

$r = $t->chat({ model => 'x', messages => $msgs }, port => $P2,
              headers => { 'X-Mock-Tokens' => 7 });
is($r->{json}{usage}{completion_tokens}, 7, 'X-Mock-Tokens: 7');

$r = $t->chat({ model => 'x', messages => $msgs }, port => $P2,
              headers => { 'X-Mock-Status' => 503,
                           'X-Mock-Retry-After' => 3 });
is($r->{status}, 503, 'X-Mock-Status: 503');
is($r->{headers}{'retry-after'}, 3, 'X-Mock-Retry-After: 3');
ok($r->{json} && $r->{json}{error}, 'X-Mock-Status: OpenAI-shaped error');

$s = $t->stream_request(port => $P2,
    body => { model => 'x', messages => $msgs, stream => $T },
    headers => { 'X-Mock-Cut' => 2 });
is(scalar(grep { $_->{json} && $_->{json}{choices} && $_->{json}{choices}[0]
                 && length($_->{json}{choices}[0]{delta}{content} // '') }
           @{$s->{events}}), 2, 'X-Mock-Cut: 2 content events');
ok(!$s->{done}, 'X-Mock-Cut: no [DONE]');

# ---- routed through the module to the mock (the demo) ----------------------

$r = $t->chat({ model => 'small', messages => $msgs });
is($r->{status}, 200, 'routed to llm_route_mock: 200');
is($r->{json}{model}, 'mock-small',
   'routed: the mock saw the upstream_model');
is($r->{json}{usage}{prompt_tokens} > 0 ? 1 : 0, 1, 'routed: usage');

$s = $t->stream_request(
    body => { model => 'small', messages => $msgs, stream => $T });
is($s->{status}, 200, 'routed stream: 200');
ok($s->{done}, 'routed stream: [DONE]');
is($s->{events}[0]{json}{model}, 'mock-small', 'routed stream: model');

# ---- the usage chunk the router asked for goes, byte for byte --------------

# What the mock sends when asked for usage, and what a client of the router
# that did not ask gets: the same bytes without the usage-only event.  The
# mock's stream reaches nginx in one buffer (that event in its middle) or,
# paced, an event at a time.

my sub norm {
    my ($s) = @_;
    $s =~ s/"id":"[^"]*"/"id":"X"/g;
    $s =~ s/"created":\d+/"created":0/g;
    return $s;
}

for my $c (['small', 'mock-small', '/v1/chat/completions', 'one buffer'],
           ['paced', 'mock-paced', '/slow/v1/chat/completions', 'paced'])
{
    my ($model, $sent, $path, $name) = @$c;

    my $direct = $t->chat({ model => $sent, messages => $msgs, stream => $T,
                            stream_options => { include_usage => $T } },
                          port => $P2, path => $path);
    my $routed = $t->chat({ model => $model, messages => $msgs,
                            stream => $T });

    my $all = norm($direct->{content} // '');
    (my $want = $all) =~ s/data: \{[^\n]*"choices":\[\],"usage":\{[^\n]*\n\n//;

    isnt($want, $all, "$name: the mock sent a usage-only event");
    is($routed->{status}, 200, "$name: routed stream 200");
    is(norm($routed->{content} // ''), $want,
       "$name: the client gets the same bytes without it");
}

$r = $t->get('/v1/models');
is_deeply([ map { $_->{id} } @{$r->{json}{data} || []} ], ['small', 'paced'],
          'routed /v1/models: the configured models');

$t->stop;

}

# ==== Faithful answers (was 84-mock-faithful.t) ==============================
#
# llm_route_mock answers like a real provider (issue 20, item 13): the
# Responses API streams its documented event sequence, embeddings come
# as base64 when asked, tool_choice that requires a call gets a tool call
# whose arguments the tool's schema accepts, response_format (and the
# Responses API's text.format) gets a JSON object (an instance of the
# schema), n gets n choices; and the router passes and accounts for all
# of them (a Responses stream through the router ends at its last event,
# a cut one gets the Responses error event).

{

my $t = LLRTest->new(workers => 1);

my $proxy = $t->proxy_directives(route => 1, identity => 1,
                                 unbuffered => 1, attempt => 0);

$t->config(<<"EOF");
    llm_route_zone llm:1m;

    llm_route_provider mock { upstream 127.0.0.1:%%PORT2%%; scheme http;
                              host mock.local; base_path /v1; }
    llm_route_model m provider=mock input=1 output=2 context=128000
                    quality=0.8;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /llm/status { llm_route_status; }
        location /v1/ {
$proxy
        }
    }
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v1/ { llm_route_mock tokens=6 chunk=2; }
        location /paced/v1/ { llm_route_mock tokens=6 chunk=1 tps=200; }
    }
EOF
$t->start;

my $P2 = $t->port(2);
my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $msgs = [{ role => 'user', content => 'What is the weather in Paris?' }];

my sub mock {
    my ($path, $body, %o) = @_;
    return $t->chat($body, port => $o{port} // $P2, path => $path, %o);
}

my sub stream {
    my ($path, $body, %o) = @_;
    return $t->stream_request(port => $o{port} // $P2, path => $path,
                              body => $body, %o);
}

my $weather = {
    type => 'object',
    properties => {
        city => { type => 'string', description => 'a city' },
        unit => { type => 'string', enum => ['celsius', 'fahrenheit'] },
        days => { type => 'integer', minimum => 1, maximum => 7 },
        hourly => { type => 'boolean' },
        at => { type => 'string', format => 'date-time' },
        spots => { type => 'array', items => { '$ref' => '#/$defs/spot' },
                   minItems => 2 },
        note => { anyOf => [{ type => 'string' }, { type => 'null' }] },
    },
    required => [qw(city unit days hourly at spots note)],
    additionalProperties => $F,
    '$defs' => { spot => { type => 'object',
                           properties => { lat => { type => 'number',
                                                    minimum => -90,
                                                    maximum => 90 } },
                           required => ['lat'] } },
};

# what the schema above accepts, checked by hand
my sub weather_ok {
    my ($v) = @_;
    return 0 unless ref $v eq 'HASH';
    return 0 unless join(',', sort keys %$v)
                    eq 'at,city,days,hourly,note,spots,unit';
    return 0 unless !ref $v->{city} && $v->{unit} eq 'celsius'
        && $v->{days} =~ /^\d+$/ && $v->{days} >= 1 && $v->{days} <= 7
        && JSON::PP::is_bool($v->{hourly})
        && $v->{at} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
        && ref $v->{spots} eq 'ARRAY' && @{$v->{spots}} == 2
        && !ref $v->{note};
    for my $s (@{$v->{spots}}) {
        return 0 unless ref $s eq 'HASH' && $s->{lat} >= -90
                        && $s->{lat} <= 90;
    }
    return 1;
}

my $fn = { type => 'function', function => { name => 'get_weather',
           description => 'weather', parameters => $weather } };

# ---- chat: tool calls -------------------------------------------------------

my $r = mock('/v1/chat/completions',
    { model => 'x', messages => $msgs, tools => [$fn] });
ok(!$r->{json}{choices}[0]{message}{tool_calls},
   'tools without tool_choice: no call (the model chooses, and does not)');

$r = mock('/v1/chat/completions', { model => 'x', messages => $msgs,
    tools => [{ type => 'function', function => { name => 'other' } }, $fn],
    tool_choice => { type => 'function',
                     function => { name => 'get_weather' } } });
my $c = $r->{json}{choices}[0];
is($c->{finish_reason}, 'tool_calls', 'named tool_choice: finish tool_calls');
is($c->{message}{content}, undef, 'tool call: content null');
my $call = $c->{message}{tool_calls}[0] // {};
is($call->{type}, 'function', 'tool call: a function call');
is($call->{function}{name}, 'get_weather', 'tool call: the named function');
like($call->{id} // '', qr/^call_/, 'tool call: an id');
my $args = LLRTest::json_decode($call->{function}{arguments} // '');
ok(weather_ok($args), 'tool call: arguments the schema accepts')
    or diag($call->{function}{arguments});
my $len = length $call->{function}{arguments};
is($r->{json}{usage}{completion_tokens}, int(($len + 3) / 4),
   'tool call: completion tokens are its bytes / 4');

my $r2 = mock('/v1/chat/completions', { model => 'x', messages => $msgs,
    tools => [$fn], tool_choice => 'required' });
is($r2->{json}{choices}[0]{message}{tool_calls}[0]{function}{arguments},
   $call->{function}{arguments},
   'tool_choice required: the first function, the same arguments');

my $s = stream('/v1/chat/completions', { model => 'x', messages => $msgs,
    tools => [$fn], tool_choice => 'required', stream => $T,
    stream_options => { include_usage => $T } });
my @ev = grep { $_->{json} } @{$s->{events}};
my $first = $ev[0]{json}{choices}[0]{delta}{tool_calls}[0] // {};
is($first->{function}{name}, 'get_weather', 'tool stream: the name first');
is($first->{id}, $call->{id} =~ s/chatcmpl-mock-\d+-\d+/$ev[0]{json}{id}/r,
   'tool stream: the call id first');
my $joined = join '', map { $_->{json}{choices}[0]{delta}{tool_calls}[0]
    {function}{arguments} // '' } grep { @{$_->{json}{choices}} } @ev;
is($joined, $call->{function}{arguments},
   'tool stream: the argument pieces join into the JSON answer\'s');
my @fin = grep { ($_->{json}{choices}[0]{finish_reason} // '') ne '' } @ev;
is($fin[0]{json}{choices}[0]{finish_reason}, 'tool_calls',
   'tool stream: finish tool_calls');
is($ev[-1]{json}{usage}{completion_tokens},
   $r->{json}{usage}{completion_tokens}, 'tool stream: the same usage');
ok($s->{done}, 'tool stream: [DONE]');

$r = mock('/v1/chat/completions', { model => 'x', messages => $msgs,
    tools => [$fn], tool_choice => { type => 'function',
                                     function => { name => 'nope' } } });
is($r->{status}, 400, 'tool_choice naming a missing function: 400');
is($r->{json}{error}{param}, 'tool_choice', '... param tool_choice');

$r = mock('/v1/chat/completions', { model => 'x', messages => $msgs,
    tool_choice => 'required' });
is($r->{status}, 400, 'tool_choice required without tools: 400');

# ---- chat: structured outputs -----------------------------------------------

$r = mock('/v1/chat/completions', { model => 'x', messages => $msgs,
    response_format => { type => 'json_schema', json_schema => {
        name => 'weather', strict => $T, schema => $weather } } });
my $content = $r->{json}{choices}[0]{message}{content} // '';
ok(weather_ok(LLRTest::json_decode($content)),
   'json_schema: content the schema accepts') or diag($content);
is($r->{json}{choices}[0]{finish_reason}, 'stop', 'json_schema: stop');

$r = mock('/v1/chat/completions', { model => 'x', messages => $msgs,
    response_format => { type => 'json_object' } });
my $obj = LLRTest::json_decode($r->{json}{choices}[0]{message}{content});
is(ref $obj, 'HASH', 'json_object: a JSON object');
is($obj->{text}, 'lorem ipsum dolor sit amet consectetur',
   'json_object: the words in "text"');

$s = stream('/v1/chat/completions', { model => 'x', messages => $msgs,
    stream => $T, response_format => { type => 'json_schema',
    json_schema => { name => 'w', schema => $weather } } });
$joined = join '', map { $_->{json}{choices}[0]{delta}{content} // '' }
    grep { $_->{json} } @{$s->{events}};
is($joined, $content, 'json_schema stream: the pieces join into the answer');

$r = mock('/v1/chat/completions', { model => 'x', messages => $msgs,
    response_format => { type => 'json_schema', json_schema => {
        name => 'big', schema => { type => 'array', minItems => 64,
            items => { type => 'array', minItems => 64,
                       items => { type => 'array', minItems => 64 } } } } } });
is($r->{status}, 400, 'a schema too large to answer: 400');

# ---- chat and completions: n ------------------------------------------------

$r = mock('/v1/chat/completions', { model => 'x', messages => $msgs, n => 3 });
my @ch = @{$r->{json}{choices} // []};
is(scalar @ch, 3, 'n 3: three choices');
is_deeply([map { $_->{index} } @ch], [0, 1, 2], 'n 3: indexes');
isnt($ch[0]{message}{content}, $ch[1]{message}{content},
     'n 3: the choices differ');
is($r->{json}{usage}{completion_tokens}, 18,
   'n 3: completion tokens of every choice');

$s = stream('/v1/chat/completions', { model => 'x', messages => $msgs,
    n => 3, stream => $T, stream_options => { include_usage => $T } });
my %text;
for my $e (grep { $_->{json} } @{$s->{events}}) {
    for my $x (@{$e->{json}{choices}}) {
        $text{$x->{index}} .= $x->{delta}{content} // '';
    }
}
is_deeply([map { $text{$_} } 0 .. 2],
          [map { $_->{message}{content} } @ch],
          'n 3 stream: each choice spells its JSON answer');
is($s->{events}[-2]{json}{usage}{completion_tokens}, 18, 'n 3 stream: usage');

$r = mock('/v1/completions', { model => 'x', prompt => 'Say', n => 2 });
is(scalar @{$r->{json}{choices} // []}, 2, 'completions n 2: two choices');

for my $bad (0, 129, 1.5, '2') {
    $r = mock('/v1/chat/completions',
              { model => 'x', messages => $msgs, n => $bad });
    is($r->{status}, 400, "n $bad: 400");
}

# ---- embeddings as base64 ---------------------------------------------------

my $f = mock('/v1/embeddings', { model => 'e', input => ['a', 'bb'] });
my $b = mock('/v1/embeddings', { model => 'e', input => ['a', 'bb'],
                                 encoding_format => 'base64' });
for my $i (0, 1) {
    my $e = $b->{json}{data}[$i]{embedding} // '';
    ok(!ref $e, "base64 $i: a string");
    my @v = unpack('f<*', decode_base64($e));
    is(scalar @v, 8, "base64 $i: 8 float32 numbers");
    my $same = @v == 8;
    for my $k (0 .. 7) {
        $same &&= abs($v[$k] - $f->{json}{data}[$i]{embedding}[$k]) < 1e-6;
    }
    ok($same, "base64 $i: the same numbers as the float answer");
}
is_deeply($b->{json}{usage}, $f->{json}{usage}, 'base64: the same usage');
$r = mock('/v1/embeddings', { model => 'e', input => 'a',
                              encoding_format => 'hex' });
is($r->{status}, 400, 'encoding_format hex: 400');

# ---- responses: the event sequence ------------------------------------------

my $rj = mock('/v1/responses', { model => 'x', input => 'Say hello',
                                 instructions => 'Be brief.' });
is($rj->{json}{status}, 'completed', 'responses JSON: completed');
my $u = $rj->{json}{usage};
is($u->{input_tokens_details}{cached_tokens}, 0, 'responses JSON: details');

$s = stream('/v1/responses', { model => 'x', input => 'Say hello',
                               instructions => 'Be brief.', stream => $T });
is($s->{status}, 200, 'responses stream: 200');
like($s->{headers}{'content-type'}, qr{^text/event-stream},
     'responses stream: event-stream');
@ev = @{$s->{events}};
my @types = map { $_->{json}{type} // '?' } @ev;
is_deeply(\@types, [qw(response.created response.in_progress
    response.output_item.added response.content_part.added),
    ('response.output_text.delta') x 3, qw(response.output_text.done
    response.content_part.done response.output_item.done
    response.completed)], 'responses stream: the documented sequence');
ok(!(grep { $_->{data} eq '[DONE]' } @ev), 'responses stream: no [DONE]');
is_deeply([map { $_->{json}{sequence_number} } @ev], [0 .. $#ev],
          'responses stream: sequence numbers from 0');
ok(!(grep { ($_->{raw} =~ /^event: (\S+)/)[0] ne $_->{json}{type} } @ev),
   'responses stream: each event: line names its type');
my $text = join '', map { $_->{json}{delta} } grep {
    $_->{json}{type} eq 'response.output_text.delta' } @ev;
is($text, $rj->{json}{output_text}, 'responses stream: deltas spell the text');
my $done = $ev[-1]{json}{response};
is($done->{status}, 'completed', 'responses stream: completed');
is_deeply($done->{usage}, $u, 'responses stream: the JSON answer\'s usage');
is($done->{output}[0]{content}[0]{text}, $text,
   'responses stream: the output in response.completed');
is($ev[0]{json}{response}{id}, $done->{id}, 'responses stream: one id');

$s = stream('/v1/responses', { model => 'x', input => 'hi', stream => $T,
                               max_output_tokens => 3 });
is($s->{events}[-1]{json}{type}, 'response.incomplete',
   'max_output_tokens: response.incomplete');
is($s->{events}[-1]{json}{response}{incomplete_details}{reason},
   'max_output_tokens', '... with the reason');

# function calls and structured outputs in the Responses API's names

my $rfn = { type => 'function', name => 'get_weather',
            parameters => $weather, strict => $T };
$s = stream('/v1/responses', { model => 'x', input => 'weather?',
    stream => $T, tools => [$rfn], tool_choice => 'required' });
@types = map { $_->{json}{type} } @{$s->{events}};
is_deeply([grep { !/delta/ } @types], [qw(response.created
    response.in_progress response.output_item.added
    response.function_call_arguments.done response.output_item.done
    response.completed)], 'responses tool stream: the sequence');
my $item = $s->{events}[-1]{json}{response}{output}[0] // {};
is($item->{type}, 'function_call', 'responses tool stream: function_call');
is($item->{name}, 'get_weather', '... named');
like($item->{call_id} // '', qr/^call_/, '... with a call_id');
ok(weather_ok(LLRTest::json_decode($item->{arguments} // '')),
   '... arguments the schema accepts');
$joined = join '', map { $_->{json}{delta} // '' } grep {
    $_->{json}{type} eq 'response.function_call_arguments.delta' }
    @{$s->{events}};
is($joined, $item->{arguments}, '... the deltas spell them');

$r = mock('/v1/responses', { model => 'x', input => 'weather?',
    text => { format => { type => 'json_schema', name => 'w',
                          schema => $weather, strict => $T } } });
ok(weather_ok(LLRTest::json_decode($r->{json}{output_text} // '')),
   'responses text.format json_schema: output the schema accepts');

# paced, and cut

$s = stream('/paced/v1/responses', { model => 'x', input => 'hi',
                                     stream => $T });
is($s->{events}[-1]{json}{type}, 'response.completed', 'paced: completed');
is(scalar(grep { $_->{json}{type} eq 'response.output_text.delta' }
       @{$s->{events}}), 6, 'paced: 6 deltas (chunk=1)');

$s = stream('/v1/responses', { model => 'x', input => 'hi', stream => $T },
            headers => { 'X-Mock-Cut' => 1 });
is($s->{events}[-1]{json}{type}, 'response.output_text.delta',
   'X-Mock-Cut 1: the stream stops after one delta');

# ---- through the router -----------------------------------------------------

my $P = $t->port;

$s = stream('/v1/responses', { model => 'm', input => 'Say hello',
    instructions => 'Be brief.', stream => $T }, port => $P);
is($s->{events}[-1]{json}{type}, 'response.completed',
   'routed responses stream: ends with response.completed, nothing added');

$s = stream('/v1/responses', { model => 'm', input => 'hi', stream => $T },
            port => $P, headers => { 'X-Mock-Cut' => 2 });
my $last = $s->{events}[-1]{json} // {};
my $streamed = length join '', map { $_->{json}{delta} // '' }
    @{$s->{events}};
is($last->{type}, 'error', 'routed, cut: the Responses error event');
is($last->{error}{code}, 'stream_interrupted', '... stream_interrupted');
is($last->{sequence_number}, 6, '... after the 6 events sent');

$r = mock('/v1/chat/completions', { model => 'm', messages => $msgs, n => 3 },
          port => $P);
is(scalar @{$r->{json}{choices}}, 3, 'routed n 3: three choices');

my $st = $t->get('/llm/status', port => $P)->{json}{models}{m};
is($st->{requests}, 3, 'status: three routed requests');
is($st->{errors}, 1, 'status: the cut stream is the one error');
is($st->{completion_tokens}, 6 + 18 + int(($streamed + 3) / 4),
   'status: completion tokens (responses 6, n 3: 18, cut: the streamed '
   . 'text / 4)');

$t->stop;

}

# ==== A client that stops reading (was 81-mock-stall.t) ======================
#
# A client that stops reading a paced mock stream (many tokens at a high
# rate, a small receive buffer): the mock stops making events until what
# it wrote has left, so send_timeout closes the connection and memory and
# CPU stay flat.  (It went on making a buffer per tick, never waiting:
# the worker grew by megabytes and send_timeout never fired.)

{

my $t = LLRTest->new(workers => 1);

$t->config(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT%%;
        send_timeout 1s;
        location /v1/ { llm_route_mock; }
    }
EOF
$t->start;

my ($w) = $t->worker_pids;

my sub rss { open(my $f, '<', "/proc/$w/status") or return 0;
          for (<$f>) { return $1 if /^VmRSS:\s+(\d+)/ } 0 }
my sub cpu { open(my $f, '<', "/proc/$w/stat") or return 0; my $s = <$f>;
          my @f = split / /, substr($s, rindex($s, ')') + 2);
          return ($f[11] + $f[12]) / 100 }

my $body = '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}';
my $s = IO::Socket::INET->new(Proto => 'tcp');
setsockopt($s, SOL_SOCKET, SO_RCVBUF, 2048);
$s->connect(pack_sockaddr_in($t->port, inet_aton('127.0.0.1'))) or die $!;
print $s "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
    . "X-Mock-Tokens: 100000\r\nX-Mock-TPS: 1000\r\n"
    . "Content-Length: " . length($body) . "\r\n\r\n$body";
$s->flush;

my ($rss0, $cpu0) = (rss(), cpu());
sleep 20;                                # never read
my ($rss1, $cpu1) = (rss(), cpu());

# is the server still holding the connection 19 s after send_timeout?
my $port = $t->port;
my @open = grep { /\S/ } split /\n/,
           `ss -tnH state established '( sport = :$port )'`;

diag(sprintf "worker RSS %d kB -> %d kB, CPU %.1f s -> %.1f s in 20 s, "
     . "server-side connections open: %d", $rss0, $rss1, $cpu0, $cpu1,
     scalar @open);

is(scalar @open, 0, 'the stalled connection was closed by send_timeout (1s)');
cmp_ok($rss1 - $rss0, '<', 8192, 'worker memory did not grow by 8 MB+');
cmp_ok($cpu1 - $cpu0, '<', 2, 'the worker did not burn CPU on a stalled client');

close $s;
$t->stop;

}

done_testing;
