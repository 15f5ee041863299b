#!/usr/bin/perl

# llm_route_mock answers like a real provider (issue 20, item 13): the
# Responses API streams its documented event sequence, embeddings come
# as base64 when asked, tool_choice that requires a call gets a tool call
# whose arguments the tool's schema accepts, response_format (and the
# Responses API's text.format) gets a JSON object (an instance of the
# schema), n gets n choices; and the router passes and accounts for all
# of them (a Responses stream through the router ends at its last event,
# a cut one gets the Responses error event).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use MIME::Base64 qw(decode_base64);

my $t = LLRTest->new(workers => 1);

$t->config(<<'EOF');
    llm_route_zone llm:1m;

    llm_route_provider mock { upstream 127.0.0.1:%%PORT2%%; scheme http;
                              host mock.local; base_path /v1; }
    llm_route_model m provider=mock input=1 output=2 context=128000
                    quality=0.8;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /llm/status { llm_route_status; }
        location /v1/ {
            llm_route on;
            proxy_pass $llm_route_url;
            proxy_set_header Host $llm_route_host;
            proxy_set_header Accept-Encoding "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
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

sub mock {
    my ($path, $body, %o) = @_;
    return $t->chat($body, port => $o{port} // $P2, path => $path, %o);
}

sub stream {
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
sub weather_ok {
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

$t->done_testing;
