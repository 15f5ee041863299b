#!/usr/bin/perl

# llm_route_mock: the OpenAI-compatible provider inside nginx, directly and
# as the upstream of a routed location (the demo's shape).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $t = LLRTest->new;

$t->config(<<'EOF');
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
            llm_route on;
            proxy_pass $llm_route_url;
            proxy_set_header Host $llm_route_host;
            proxy_set_header Authorization $llm_route_authorization;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
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

sub norm {
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

$t->done_testing;
