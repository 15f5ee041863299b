#!/usr/bin/perl

# llm_route_mock degraded on purpose (docs/mock.md, "Degraded answers"):
#
#   1. the shares: of 100 answers in a row, exactly the configured number
#      of each kind, in the documented order (answer k takes the slot
#      37k mod 100; slow: 73k + 50 mod 100), slow ones later by slow_delay
#   2. X-Mock-Degrade: each kind, in every format (Chat Completions,
#      Responses, Anthropic Messages), as JSON and as a stream
#   3. nginx -t of the parameters

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use Time::HiRes qw(time);

# one worker: the answers of a location are counted in each worker
my $t = LLRTest->new(workers => 1);

$t->config(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
            llm_route_mock tokens=8;
        }
        location /shares/v1/ {
            llm_route_mock tokens=8 truncate=10% empty=5% refuse=20
                           bad_json=15% slow=10% slow_delay=1s;
        }
    }
EOF

$t->start;

my $T = JSON::PP::true;
my $JSON = JSON::PP->new;
my $msgs = [{ role => 'user', content => 'What is the weather in Paris?' }];
my $tool = { type => 'function',
             function => { name => 'get_weather',
                           parameters => { type => 'object',
                                           properties => {
                                               city => { type => 'string' } },
                                           required => ['city'] } } };
my $chat = { model => 'm', messages => $msgs, tools => [$tool],
             tool_choice => 'required' };
my $WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit';
my $REFUSAL = "I can't help with that request.";

sub valid_json { my $v = eval { $JSON->decode($_[0]) }; defined $v }

# what kind of answer a chat completion with a required tool call is
sub kind {
    my ($j) = @_;
    my $c = $j->{choices}[0] || {};
    my $m = $c->{message} || {};
    my $f = $c->{finish_reason} // '';

    if ($m->{tool_calls}) {
        return valid_json($m->{tool_calls}[0]{function}{arguments})
               ? 'none' : 'bad_json';
    }
    return 'truncate' if $f eq 'length' && ($m->{content} // '') ne '';
    return 'empty' if ($m->{content} // 'x') eq '' && $f eq 'stop';
    return 'refuse' if ($m->{content} // '') eq $REFUSAL;
    return 'unknown';
}

# ---- 1. the shares ---------------------------------------------------------

my @share = ([truncate => 10], [empty => 5], [refuse => 20],
             [bad_json => 15]);
my (%count, @got, @want, @slow_want, @slow_got, $ok_kinds);

for my $k (0 .. 99) {
    my $slot = (37 * $k) % 100;
    my ($from, $want) = (0, 'none');
    for my $s (@share) {
        if ($slot < $from + $s->[1]) { $want = $s->[0]; last }
        $from += $s->[1];
    }
    push @want, $want;
    push @slow_want, ((73 * $k + 50) % 100 < 10) ? 1 : 0;

    my $t0 = time;
    my $r = $t->chat($chat, path => '/shares/v1/chat/completions');
    my $dt = time - $t0;

    push @got, $r->{status} == 200 ? kind($r->{json}) : "status $r->{status}";
    push @slow_got, $dt >= 1 ? 1 : 0;
    $count{$got[-1]}++;
}

is($count{truncate}, 10, 'shares: 10 of 100 truncated');
is($count{empty}, 5, 'shares: 5 of 100 empty');
is($count{refuse}, 20, 'shares: 20 of 100 refusals');
is($count{bad_json}, 15, 'shares: 15 of 100 invalid tool call JSON');
is($count{none}, 50, 'shares: 50 of 100 as asked');
is_deeply(\@got, \@want, 'shares: each answer as the documented order says');
is(scalar(grep { $_ } @slow_got), 10, 'slow: 10 of 100 later by 1s');
is_deeply(\@slow_got, \@slow_want, 'slow: the documented ones');

# the next 100 repeat the same sequence
my @again;
for my $k (0 .. 19) {
    my $r = $t->chat($chat, path => '/shares/v1/chat/completions');
    push @again, kind($r->{json});
}
is_deeply(\@again, [@want[0 .. 19]], 'shares: answer 100 on starts again');

# ---- 2. X-Mock-Degrade, every format -----------------------------------------

sub forced {
    my ($kind, $path, $body, %o) = @_;
    return $t->chat($body, path => $path,
                    headers => { 'X-Mock-Degrade' => $kind,
                                 %{ $o{headers} || {} } });
}

sub forced_stream {
    my ($kind, $path, $body) = @_;
    return $t->stream_request(path => $path, body => { %$body, stream => $T },
                              headers => { 'X-Mock-Degrade' => $kind });
}

# chat, JSON

my $j = forced('truncate', '/v1/chat/completions', $chat)->{json};
is($j->{choices}[0]{finish_reason}, 'length', 'chat truncate: length');
is($j->{choices}[0]{message}{content}, 'lorem ipsum dolor sit',
   'chat truncate: half the words, no tool call');
is($j->{usage}{completion_tokens}, 4, 'chat truncate: 4 tokens');

$j = forced('empty', '/v1/chat/completions', $chat)->{json};
is($j->{choices}[0]{message}{content}, '', 'chat empty: ""');
is($j->{choices}[0]{finish_reason}, 'stop', 'chat empty: stop');
is($j->{usage}{completion_tokens}, 0, 'chat empty: 0 tokens');

$j = forced('refuse', '/v1/chat/completions', $chat)->{json};
is($j->{choices}[0]{message}{content}, $REFUSAL, 'chat refuse: the text');
is($j->{choices}[0]{finish_reason}, 'stop', 'chat refuse: stop');

$j = forced('bad_json', '/v1/chat/completions', $chat)->{json};
is($j->{choices}[0]{message}{tool_calls}[0]{function}{arguments},
   '{"city":"lorem"', 'chat bad_json: the arguments lose their last byte');
is($j->{choices}[0]{finish_reason}, 'tool_calls', 'chat bad_json: tool_calls');

$j = forced('bad_json', '/v1/chat/completions',
            { model => 'm', messages => $msgs })->{json};
is($j->{choices}[0]{message}{content}, $WORDS,
   'chat bad_json without a tool call: as asked');

$j = forced('none', '/v1/chat/completions', $chat)->{json};
ok(valid_json($j->{choices}[0]{message}{tool_calls}[0]{function}{arguments}),
   'X-Mock-Degrade: none: as asked');

my $t0 = time;
$j = forced('slow', '/v1/chat/completions', $chat,
            headers => { 'X-Mock-Delay' => 0 })->{json};
ok(time - $t0 >= 0.9, 'chat slow: slow_delay (default 1s) later');
ok(valid_json($j->{choices}[0]{message}{tool_calls}[0]{function}{arguments}),
   'chat slow: the answer as asked');

# chat, stream

sub chat_text {
    my ($s) = @_;
    my ($text, $args, $finish) = ('', '', '');
    for my $e (@{$s->{events}}) {
        my $c = $e->{json} && $e->{json}{choices} && $e->{json}{choices}[0]
            or next;
        $text .= $c->{delta}{content} // '';
        $args .= $_->{function}{arguments} // ''
            for @{$c->{delta}{tool_calls} || []};
        $finish = $c->{finish_reason} if $c->{finish_reason};
    }
    return ($text, $args, $finish);
}

my ($text, $args, $finish) =
    chat_text(forced_stream('truncate', '/v1/chat/completions', $chat));
is("$text|$finish", 'lorem ipsum dolor sit|length', 'chat SSE truncate');
($text, $args, $finish) =
    chat_text(forced_stream('empty', '/v1/chat/completions', $chat));
is("$text|$args|$finish", '||stop', 'chat SSE empty');
($text, $args, $finish) =
    chat_text(forced_stream('refuse', '/v1/chat/completions', $chat));
is("$text|$finish", "$REFUSAL|stop", 'chat SSE refuse');
($text, $args, $finish) =
    chat_text(forced_stream('bad_json', '/v1/chat/completions', $chat));
is("$args|$finish", '{"city":"lorem"|tool_calls', 'chat SSE bad_json');
ok(!valid_json($args), 'chat SSE bad_json: not JSON');

# Responses

my $resp = { model => 'm', input => 'Weather?', tool_choice => 'required',
             tools => [{ type => 'function', name => 'get_weather',
                         parameters => $tool->{function}{parameters} }] };

$j = forced('truncate', '/v1/responses', $resp)->{json};
is($j->{status}, 'incomplete', 'responses truncate: incomplete');
is_deeply($j->{incomplete_details}, { reason => 'max_output_tokens' },
          'responses truncate: max_output_tokens');
is($j->{output_text}, 'lorem ipsum dolor sit', 'responses truncate: text');

$j = forced('refuse', '/v1/responses', $resp)->{json};
is($j->{output_text}, $REFUSAL, 'responses refuse');

$j = forced('bad_json', '/v1/responses', $resp)->{json};
is($j->{output}[0]{arguments}, '{"city":"lorem"', 'responses bad_json');

my $s = forced_stream('empty', '/v1/responses', $resp);
my ($done) = grep { ($_->{json}{type} // '') eq 'response.output_text.done' }
                  @{$s->{events}};
is($done && $done->{json}{text}, '', 'responses SSE empty: ""');
is($s->{events}[-1]{json}{type}, 'response.completed',
   'responses SSE empty: completed');

# Anthropic Messages

my $am = { model => 'claude', max_tokens => 100, messages => $msgs,
           tools => [{ name => 'get_weather',
                       input_schema => $tool->{function}{parameters} }] };

$j = forced('truncate', '/v1/messages', $am)->{json};
is($j->{stop_reason}, 'max_tokens', 'messages truncate: max_tokens');
is_deeply($j->{content}, [{ type => 'text', text => 'lorem ipsum dolor sit' }],
          'messages truncate: half the words');

$j = forced('empty', '/v1/messages', $am)->{json};
is_deeply($j->{content}, [], 'messages empty: no content block');
is($j->{stop_reason}, 'end_turn', 'messages empty: end_turn');
is($j->{usage}{output_tokens}, 0, 'messages empty: 0 tokens');

$j = forced('refuse', '/v1/messages', $am)->{json};
is($j->{content}[0]{text}, $REFUSAL, 'messages refuse');

$j = forced('bad_json', '/v1/messages', $am)->{json};
is_deeply($j->{content}[0]{input}, { city => 'lorem' },
          'messages JSON bad_json: input is an object, left whole');

$s = forced_stream('bad_json', '/v1/messages', $am);
my $pj = join('', map { $_->{json}{delta}{partial_json} // '' }
                  @{$s->{events}});
is($pj, '{"city":"lorem"', 'messages SSE bad_json: the pieces');
ok(!valid_json($pj), 'messages SSE bad_json: not JSON');
is($s->{events}[-2]{json}{delta}{stop_reason}, 'tool_use',
   'messages SSE bad_json: tool_use');

$s = forced_stream('truncate', '/v1/messages', $am);
is(join('', map { $_->{json}{delta}{text} // '' } @{$s->{events}}),
   'lorem ipsum dolor sit', 'messages SSE truncate: text');
is($s->{events}[-2]{json}{delta}{stop_reason}, 'max_tokens',
   'messages SSE truncate: max_tokens');
is($s->{events}[-2]{json}{usage}{output_tokens}, 4,
   'messages SSE truncate: 4 tokens');

$s = forced_stream('empty', '/v1/messages', $am);
is(join(' ', map { $_->{json}{type} } @{$s->{events}}),
   'message_start ping message_delta message_stop',
   'messages SSE empty: no content block');

# count_tokens and embeddings are never degraded
my $r = forced('refuse', '/v1/messages/count_tokens',
               { model => 'm', messages => $msgs });
is_deeply($r->{json}, { input_tokens => 9 }, 'count_tokens: not degraded');

$r = forced('teapot', '/v1/chat/completions', $chat);
is($r->{status}, 400, 'X-Mock-Degrade: an unknown kind: 400');

$t->check_log;
$t->stop;

# ---- 3. nginx -t -------------------------------------------------------------

for my $c (['truncate=101%', 'invalid value "truncate=101%"'],
           ['refuse=x', 'invalid value "refuse=x"'],
           ['slow_delay=abc', 'invalid value "slow_delay=abc"'],
           ['truncate=60 empty=50',
            'has truncate, empty, refuse and bad_json shares over 100%'])
{
    my ($rc, $out) = $t->nginx_t_http(
        "server { listen 127.0.0.1:1; "
        . "location / { llm_route_mock $c->[0]; } }");
    ok($rc != 0 && index($out, $c->[1]) >= 0, "nginx -t: $c->[0] refused")
        or diag($out);
}

my ($rc, $out) = $t->nginx_t_http(
    "server { listen 127.0.0.1:1; location / { llm_route_mock "
    . "truncate=25% empty=25 refuse=25% bad_json=25% slow=100% "
    . "slow_delay=2s; } }");
is($rc, 0, 'nginx -t: shares up to 100%, slow on its own') or diag($out);

done_testing;
