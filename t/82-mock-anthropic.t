#!/usr/bin/perl

# llm_route_mock as an Anthropic Messages provider (docs/mock.md):
#
#   1. POST /v1/messages as JSON: the message, its content block, the
#      stop reason, the usage with cache tokens; tool_use
#   2. the event stream: the documented order, the text and the tool input
#      it spells, the cumulative usage of message_delta, X-Mock-Cut
#   3. count_tokens, errors in Anthropic's shape, the checks of the body
#      and of the headers (anthropic_headers=on)
#   4. nginx -t of the new parameters

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $t = LLRTest->new;

$t->config(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
            llm_route_mock tokens=6;
        }
        location /strict/v1/ {
            llm_route_mock anthropic_headers=on cache=read auto_tools=off;
        }
        location /chunky/v1/ {
            llm_route_mock tokens=5 chunk=2;
        }
    }
EOF

$t->start;

my $T = JSON::PP::true;
my %AV = ('anthropic-version' => '2023-06-01');

sub msgs {
    my ($body, %o) = @_;
    return $t->chat($body, path => $o{path} // '/v1/messages',
                    headers => { %AV, %{ $o{headers} || {} } });
}

sub events {
    my ($body, %o) = @_;
    return $t->stream_request(path => $o{path} // '/v1/messages',
                              body => $body,
                              headers => { %AV, %{ $o{headers} || {} } });
}

# "event: X" of each event, and X must be its data's "type"
sub names {
    my ($s) = @_;
    my @n;
    for my $e (@{$s->{events}}) {
        my ($name) = $e->{raw} =~ /^event: (\S+)/m;
        push @n, $name // '-';
        return ('mismatch', $e->{raw})
            unless $e->{json} && ($e->{json}{type} // '') eq ($name // '');
    }
    return @n;
}

# 3 + 3 words of the system prompt, 3 + 2 words of the message
my $system = 'You are terse.';
my $body = { model => 'claude-test', max_tokens => 100, system => $system,
             messages => [{ role => 'user', content => 'Hello there' }] };

# ---- 1. JSON ----------------------------------------------------------------

my $r = msgs($body);
is($r->{status}, 200, 'messages: 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'messages: JSON');
my $j = $r->{json} || {};
like($j->{id} // '', qr/^msg_/, 'messages: id msg_...');
is($j->{type}, 'message', 'messages: type message');
is($j->{role}, 'assistant', 'messages: role assistant');
is($j->{model}, 'claude-test', 'messages: the model asked for');
is(scalar @{$j->{content} || []}, 1, 'messages: one content block');
is($j->{content}[0]{type}, 'text', 'messages: a text block');
is($j->{content}[0]{text}, 'lorem ipsum dolor sit amet consectetur',
   'messages: tokens=6 words');
is($j->{stop_reason}, 'end_turn', 'messages: stop_reason end_turn');
ok(exists $j->{stop_sequence} && !defined $j->{stop_sequence},
   'messages: stop_sequence null');
is_deeply($j->{usage}, { input_tokens => 11, output_tokens => 6,
                         cache_creation_input_tokens => 0,
                         cache_read_input_tokens => 0 },
          'messages: usage (3 + 3, 3 + 2 prompt tokens)');

$r = msgs({ %$body, max_tokens => 2 });
is($r->{json}{stop_reason}, 'max_tokens', 'max_tokens 2: stop_reason');
is($r->{json}{usage}{output_tokens}, 2, 'max_tokens 2: 2 output tokens');
is($r->{json}{content}[0]{text}, 'lorem ipsum', 'max_tokens 2: 2 words');

# cache_control: the prefix up to the last marked block is the cache's

my $cached = { %$body,
               system => [{ type => 'text', text => $system,
                            cache_control => { type => 'ephemeral' } }] };

$r = msgs($cached);
is_deeply($r->{json}{usage}, { input_tokens => 5, output_tokens => 6,
                               cache_creation_input_tokens => 6,
                               cache_read_input_tokens => 0 },
          'cache_control: the system prompt written to the cache');

$r = msgs($cached, headers => { 'X-Mock-Cache' => 'read' });
is_deeply($r->{json}{usage}, { input_tokens => 5, output_tokens => 6,
                               cache_creation_input_tokens => 0,
                               cache_read_input_tokens => 6 },
          'X-Mock-Cache: read: read from the cache');

$r = msgs($cached, path => '/strict/v1/messages',
          headers => { 'x-api-key' => 'k' });
is($r->{json}{usage}{cache_read_input_tokens}, 16 - 10,
   'cache=read: read from the cache');

# tool_use

my $tools = [{ name => 'get_weather', description => 'Weather',
               input_schema => { type => 'object',
                                 properties => { city => { type => 'string' },
                                                 days => { type => 'integer',
                                                           minimum => 3 } },
                                 required => ['city'] } }];

$r = msgs({ %$body, tools => $tools });
$j = $r->{json} || {};
is($j->{stop_reason}, 'tool_use', 'tools: stop_reason tool_use');
is($j->{content}[0]{type}, 'tool_use', 'tools: a tool_use block');
like($j->{content}[0]{id} // '', qr/^toolu_/, 'tools: id toolu_...');
is($j->{content}[0]{name}, 'get_weather', 'tools: the tool');
is_deeply($j->{content}[0]{input}, { city => 'lorem', days => 3 },
          'tools: input is an instance of input_schema');
is($j->{usage}{output_tokens}, 7, 'tools: 25 bytes of input, 7 tokens');

my $after = { %$body, tools => $tools,
              messages => [@{$body->{messages}},
                           { role => 'assistant',
                             content => [$j->{content}[0]] },
                           { role => 'user', content => [{
                               type => 'tool_result',
                               tool_use_id => $j->{content}[0]{id},
                               content => 'sunny' }] }] };
$r = msgs($after);
is($r->{json}{content}[0]{type}, 'text',
   'tools: after a tool result the answer is text');
is($r->{json}{usage}{input_tokens}, 11 + 3 + 3 + 1,
   'tools: the tool result counts (tool_use does not)');

$r = msgs({ %$body, tools => $tools, tool_choice => { type => 'none' } });
is($r->{json}{content}[0]{type}, 'text', 'tool_choice none: text');

$r = msgs({ %$body, tools => $tools }, path => '/strict/v1/messages',
          headers => { 'x-api-key' => 'k' });
is($r->{json}{content}[0]{type}, 'text', 'auto_tools=off: text');

$r = msgs({ %$body, tools => $tools, tool_choice => { type => 'any' } },
          path => '/strict/v1/messages', headers => { 'x-api-key' => 'k' });
is($r->{json}{content}[0]{type}, 'tool_use',
   'auto_tools=off: tool_choice any still calls');

# ---- 2. the stream --------------------------------------------------------

my $s = events({ %$body, stream => $T });
is($s->{status}, 200, 'stream: 200');
like($s->{headers}{'content-type'} // '', qr{^text/event-stream},
     'stream: text/event-stream');
is(join(' ', names($s)),
   'message_start content_block_start ping ' . 'content_block_delta ' x 6
   . 'content_block_stop message_delta message_stop',
   'stream: the documented order of events');

my @ev = map { $_->{json} } @{$s->{events}};
is($ev[0]{message}{id} =~ /^msg_/ ? 1 : 0, 1, 'stream: message_start id');
is_deeply($ev[0]{message}{content}, [], 'stream: message_start content []');
ok(exists $ev[0]{message}{stop_reason}
   && !defined $ev[0]{message}{stop_reason},
   'stream: message_start stop_reason null');
is($ev[0]{message}{usage}{input_tokens}, 11, 'stream: message_start input');
is_deeply($ev[1]{content_block}, { type => 'text', text => '' },
          'stream: an empty text block starts');
my $text = join('', map { $_->{delta}{text} // '' }
                    grep { $_->{type} eq 'content_block_delta' } @ev);
is($text, 'lorem ipsum dolor sit amet consectetur',
   'stream: the text_deltas spell the JSON answer');
is_deeply($ev[-2]{delta}, { stop_reason => 'end_turn',
                            stop_sequence => undef },
          'stream: message_delta stop_reason');
is_deeply($ev[-2]{usage}, { input_tokens => 11, output_tokens => 6,
                            cache_creation_input_tokens => 0,
                            cache_read_input_tokens => 0 },
          'stream: message_delta has the cumulative usage');

$s = events({ %$body, stream => $T }, path => '/chunky/v1/messages');
is(scalar(grep { $_->{json}{type} eq 'content_block_delta' }
                @{$s->{events}}), 3, 'chunk=2: 3 deltas for 5 tokens');

$s = events({ %$cached, stream => $T, max_tokens => 3 });
is($s->{events}[-2]{json}{delta}{stop_reason}, 'max_tokens',
   'stream max_tokens: stop_reason');
is_deeply($s->{events}[-2]{json}{usage},
          { input_tokens => 5, output_tokens => 3,
            cache_creation_input_tokens => 6, cache_read_input_tokens => 0 },
          'stream: cache tokens in message_delta');
is($s->{events}[0]{json}{message}{usage}{cache_creation_input_tokens}, 6,
   'stream: cache tokens in message_start');

$s = events({ %$body, stream => $T, tools => $tools });
is(join(' ', names($s)),
   'message_start content_block_start ping ' . 'content_block_delta ' x 7
   . 'content_block_stop message_delta message_stop',
   'stream tools: the order of events (7 pieces of 4 bytes)');
@ev = map { $_->{json} } @{$s->{events}};
is($ev[1]{content_block}{type}, 'tool_use', 'stream tools: tool_use block');
is($ev[1]{content_block}{name}, 'get_weather', 'stream tools: its name');
is_deeply($ev[1]{content_block}{input}, {}, 'stream tools: input {} first');
my @d = grep { $_->{type} eq 'content_block_delta' } @ev;
is(scalar(grep { $_->{delta}{type} eq 'input_json_delta' } @d), scalar @d,
   'stream tools: input_json_delta');
is_deeply(JSON::PP->new->decode(join('', map { $_->{delta}{partial_json} }
                                             @d)),
          { city => 'lorem', days => 3 },
          'stream tools: the pieces join into the input');
is($ev[-2]{delta}{stop_reason}, 'tool_use', 'stream tools: tool_use');

$s = events({ %$body, stream => $T }, headers => { 'X-Mock-Cut' => 2 });
is(join(' ', names($s)),
   'message_start content_block_start ping content_block_delta '
   . 'content_block_delta', 'X-Mock-Cut 2: two deltas, no message_stop');

# ---- 3. count_tokens, errors, checks ------------------------------------

$r = msgs({ model => 'claude-test', system => $system,
            messages => $body->{messages} },
          path => '/v1/messages/count_tokens');
is($r->{status}, 200, 'count_tokens: 200');
is_deeply($r->{json}, { input_tokens => 11 },
          'count_tokens: the input tokens of the same prompt');

$r = msgs($cached, path => '/v1/messages/count_tokens');
is_deeply($r->{json}, { input_tokens => 11 },
          'count_tokens: cached tokens are input tokens too');

my @bad = (
    [{ model => 'm', messages => $body->{messages} },
     400, 'invalid_request_error', 'max_tokens: Field required'],
    [{ max_tokens => 5, messages => $body->{messages} },
     400, 'invalid_request_error', 'model: Field required'],
    [{ model => 'm', max_tokens => 0, messages => $body->{messages} },
     400, 'invalid_request_error',
     'max_tokens: Input should be greater than or equal to 1'],
    [{ model => 'm', max_tokens => 5, messages => [] },
     400, 'invalid_request_error',
     'messages: at least one message is required'],
    [{ model => 'm', max_tokens => 5,
       messages => [{ role => 'tool', content => 'x' }] },
     400, 'invalid_request_error',
     "messages: each role must be 'user', 'assistant' or 'system'"],
    ['{"model":', 400, 'invalid_request_error',
     'There was an issue with the request body: it is not valid JSON'],
);

for my $b (@bad) {
    my ($req, $status, $type, $msg) = @$b;
    $r = msgs($req);
    is($r->{status}, $status, "refused: $msg: $status");
    is_deeply($r->{json}, { type => 'error',
                            error => { type => $type, message => $msg } },
              "refused: $msg: Anthropic's error shape");
}

for my $c ([429, 'rate_limit_error'], [500, 'api_error'],
           [529, 'overloaded_error'], [401, 'authentication_error'],
           [403, 'permission_error'], [413, 'request_too_large'])
{
    $r = msgs($body, headers => { 'X-Mock-Status' => $c->[0],
                                  'X-Mock-Retry-After' => 3 });
    is($r->{status}, $c->[0], "X-Mock-Status $c->[0]");
    is($r->{json}{type}, 'error', "X-Mock-Status $c->[0]: type error");
    is($r->{json}{error}{type}, $c->[1], "X-Mock-Status $c->[0]: $c->[1]");
    is($r->{headers}{'retry-after'}, 3, "X-Mock-Status $c->[0]: Retry-After");
}

$r = $t->get('/v1/messages');
is($r->{status}, 405, 'GET /v1/messages: 405');
is($r->{headers}{allow}, 'POST', 'GET /v1/messages: Allow POST');
is($r->{json}{error}{type}, 'invalid_request_error',
   'GET /v1/messages: Anthropic shape');

$r = msgs($body, headers => { 'X-Mock-Cache' => 'sometimes' });
is($r->{status}, 400, 'a bad X-Mock-Cache: 400');
is($r->{json}{type}, 'error', 'a bad X-Mock-Cache: Anthropic shape');

# the chat endpoint keeps OpenAI's shape
$r = $t->chat({ model => 'm' });
is($r->{json}{error}{type}, 'invalid_request_error',
   'chat errors keep the OpenAI shape');
ok(!exists $r->{json}{type}, 'chat errors: no top-level type');

# anthropic_headers=on

$r = $t->chat($body, path => '/strict/v1/messages', headers => { %AV });
is($r->{status}, 401, 'anthropic_headers: no x-api-key: 401');
is_deeply($r->{json}, { type => 'error', error => {
              type => 'authentication_error',
              message => 'x-api-key header is required' } },
          'anthropic_headers: authentication_error');

$r = $t->chat($body, path => '/strict/v1/messages',
              headers => { 'x-api-key' => 'k' });
is($r->{status}, 400, 'anthropic_headers: no anthropic-version: 400');
is($r->{json}{error}{message}, 'anthropic-version: header is required',
   'anthropic_headers: the message');

$r = $t->chat($body, path => '/strict/v1/messages',
              headers => { %AV, Authorization => 'Bearer t' });
is($r->{status}, 200, 'anthropic_headers: Authorization also does');

$r = $t->chat($body, path => '/v1/messages');
is($r->{status}, 200, 'without anthropic_headers: no header needed');

$t->check_log;
$t->stop;

# ---- 4. nginx -t -------------------------------------------------------------

for my $c (['anthropic_headers=yes', 'invalid value "anthropic_headers=yes"'],
           ['auto_tools=1', 'invalid value "auto_tools=1"'],
           ['cache=both', 'invalid value "cache=both"'])
{
    my ($rc, $out) = $t->nginx_t_http(
        "server { listen 127.0.0.1:1; "
        . "location / { llm_route_mock $c->[0]; } }");
    ok($rc != 0 && index($out, $c->[1]) >= 0, "nginx -t: $c->[0] refused")
        or diag($out);
}

my ($rc, $out) = $t->nginx_t_http(
    "server { listen 127.0.0.1:1; location / { llm_route_mock "
    . "anthropic_headers=on auto_tools=off cache=write; } }");
is($rc, 0, 'nginx -t: the parameters') or diag($out);

done_testing;
