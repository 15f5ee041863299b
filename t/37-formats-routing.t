#!/usr/bin/perl

# Wire formats and the rest of the router (issue 24): a /v1/messages
# request meets budgets, rate limits and policies exactly as a chat
# completion does, whatever the provider's format; its refusals are
# Anthropic-shaped; the status and Prometheus count it.
#
#   1. `auto` across vendors: a Messages body is classified; a policy of
#      Anthropic- and OpenAI-format candidates serves clients of both
#      formats (passed through or translated)
#   2. budgets and rate limits on /v1/messages: 429 in Anthropic's shape
#   3. the zone: per-model cost in the status and in Prometheus agrees
#      with the access log
#   4. cache tokens (Anthropic's cache_read_input_tokens and
#      cache_creation_input_tokens, OpenAI's cached_tokens), passed
#      through and translated, JSON and SSE: exact per model and per
#      deployment in the status and in Prometheus, as the variables say,
#      and kept across a restart

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use Time::HiRes qw(sleep);

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $loc = $t->routed_location(location => <<'EOF');
            add_header X-Test-Task $llm_route_task always;
            add_header X-Test-Format $llm_route_format always;
            access_log %%DIR%%/acc.log llr;
            llm_route_rate $http_x_rate rpm=1;
            llm_route_budget $http_x_budget 0.000001;
EOF

$t->config(<<"EOF");
    llm_route_zone llm:1m state=%%DIR%%/llr.state;
    log_format llr "\$llm_route_model \$llm_route_cost \$status"
                   " \$llm_route_cached_tokens \$llm_route_cache_write_tokens";

    llm_route_provider claude {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host claude.test;
        format anthropic; api_key sk-a;
    }
    llm_route_provider oai {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host oai.test;
        api_key sk-o;
    }

    llm_route_model claude-haiku provider=claude input=0.80 output=4.00
                    cached_input=0.08 cache_write=1.00 context=200000
                    max_output=1024 quality=0.80;
    llm_route_model gpt-4o provider=oai input=2.50 output=10.00
                    context=128000 quality=0.92;

    llm_route_policy auto {
        candidates claude-haiku gpt-4o;
        floor 0.5;
    }
    llm_route_policy best {
        candidates claude-haiku gpt-4o;
        floor 0.9;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /llm/status { llm_route_status; }
$loc
    }
EOF
$t->start;

my $user = [{ role => 'user',
              content => 'Write a Python function that reverses a list.' }];

# ==== auto across vendors ====================================================

my $r = $t->chat({ model => 'auto', max_tokens => 64, messages => $user },
                 path => '/v1/messages');
is($r->{status}, 200, 'messages, auto: 200');
is($r->{headers}{'x-test-model'}, 'claude-haiku',
   'messages, auto: the cheapest good enough (Anthropic, passed through)');
isnt($r->{headers}{'x-test-task'} // 'unclassified', 'unclassified',
     "messages, auto: the Messages body was classified ("
     . ($r->{headers}{'x-test-task'} // '') . ")");
is($r->{json}{type}, 'message', 'messages, auto: an Anthropic answer');

$r = $t->chat({ model => 'auto', messages => $user });
is($r->{status}, 200, 'chat, auto: 200');
is($r->{headers}{'x-test-model'}, 'claude-haiku',
   'chat, auto: the same choice (translated)');
is($r->{json}{object}, 'chat.completion', 'chat, auto: a chat answer');
is($m->last_request->{uri}, '/v1/messages', 'chat, auto: sent as Messages');

$r = $t->chat({ model => 'best', max_tokens => 64, messages => $user },
              path => '/v1/messages');
is($r->{status}, 200, 'messages, best: 200');
is($r->{headers}{'x-test-model'}, 'gpt-4o',
   'messages, best: the OpenAI-format candidate');
is($r->{json}{type}, 'message', 'messages, best: translated back');
is($m->last_request->{uri}, '/v1/chat/completions',
   'messages, best: sent as chat completions');

# ==== rate limits and budgets on /v1/messages ================================

my $req = { model => 'claude-haiku', max_tokens => 64, messages => $user };

$r = $t->chat($req, path => '/v1/messages', headers => { 'X-Rate' => 'a' });
is($r->{status}, 200, 'rate: the first request passes');
$r = $t->chat($req, path => '/v1/messages', headers => { 'X-Rate' => 'a' });
is($r->{status}, 429, 'rate: the second is refused');
is($r->{json}{type}, 'error', 'rate: an Anthropic error');
is($r->{json}{error}{type}, 'rate_limit_error', 'rate: rate_limit_error');

$r = $t->chat($req, path => '/v1/messages', headers => { 'X-Budget' => 'x' });
is($r->{status}, 200, 'budget: the first request spends it');
$r = $t->chat($req, path => '/v1/messages', headers => { 'X-Budget' => 'x' });
is($r->{status}, 429, 'budget: then /v1/messages is refused');
is($r->{json}{error}{type}, 'rate_limit_error',
   'budget: rate_limit_error, Anthropic-shaped');

$r = $t->chat($req, path => '/v1/messages/count_tokens',
              headers => { 'X-Budget' => 'x' });
is($r->{status}, 429, 'budget: count_tokens too');

# ==== cache tokens, passed through and translated, JSON and SSE ==============

# the mock's Anthropic usage: cache_read_input_tokens 5,
# cache_creation_input_tokens 7; its OpenAI usage: X-Mock-Cached

my $s = $t->stream_request(path => '/v1/messages',
    body => { %$req, stream => JSON::PP::true },
    headers => { 'X-Mock-Events' => 2 });
like($s->{body}, qr/"cache_creation_input_tokens":7/,
     'messages stream -> anthropic: cache tokens passed through');

$s = $t->stream_request(body => { model => 'claude-haiku', messages => $user,
    stream => JSON::PP::true,
    stream_options => { include_usage => JSON::PP::true } },
    headers => { 'X-Mock-Events' => 2 });
like($s->{body}, qr/"cached_tokens":5/,
     'chat stream -> anthropic: cache reads as cached_tokens');

$r = $t->chat({ model => 'gpt-4o', messages => $user },
              headers => { 'X-Mock-Cached' => 6 });
is($r->{json}{usage}{prompt_tokens_details}{cached_tokens}, 6,
   'chat -> openai: cached_tokens passed through');

$r = $t->chat({ %$req, model => 'gpt-4o' }, path => '/v1/messages',
              headers => { 'X-Mock-Cached' => 3 });
is($r->{json}{usage}{cache_read_input_tokens}, 3,
   'messages -> openai: cached_tokens as cache_read_input_tokens');

$s = $t->stream_request(path => '/v1/messages',
    body => { %$req, model => 'gpt-4o', stream => JSON::PP::true },
    headers => { 'X-Mock-Events' => 2, 'X-Mock-Cached' => 4 });
like($s->{body}, qr/"cache_read_input_tokens":4/,
     'messages stream -> openai: cached_tokens as cache_read_input_tokens');

# ==== status and Prometheus agree with the access log ========================

sleep 0.3;
open(my $fh, '<', $t->dir . '/acc.log') or die;
my (%cost, %read, %write, %served);
while (<$fh>) {
    my ($model, $usd, $status, $cr, $cw) = split;
    next unless $usd =~ /^[\d.]+$/;
    $cost{$model} += $usd;
    $read{$model} += $cr;
    $write{$model} += $cw;
    $served{$model}++ if $status == 200;
}
close $fh;

my $st = $t->get('/llm/status')->{json};
my $prom = $t->get('/llm/status?format=prometheus')->{content} // '';

for my $model (sort keys %cost) {
    ok(abs($st->{models}{$model}{cost_usd} - $cost{$model}) < 1e-9,
       "status: $model cost $st->{models}{$model}{cost_usd} = $cost{$model}");
    my ($p) = $prom
        =~ /^llm_route_cost_usd_total\{model="\Q$model\E"[^}]*\} (\S+)$/m;
    ok(defined $p && abs($p - $cost{$model}) < 1e-9,
       "prometheus: $model cost " . ($p // '-'));
}

is($st->{rejected}{rate_limit} // 0, 1, 'status: the rate limit refusal counted');

# what the mock reported, request by request: 5 read and 7 written per
# Anthropic answer; 6 + 3 + 4 read from OpenAI's

my %want_read = ('claude-haiku' => 5 * ($served{'claude-haiku'} // 0),
                 'gpt-4o' => 13);
my %want_write = ('claude-haiku' => 7 * ($served{'claude-haiku'} // 0),
                  'gpt-4o' => 0);

ok($served{'claude-haiku'} >= 6,
   "claude-haiku served $served{'claude-haiku'} requests");

for my $model (sort keys %want_read) {
    is($read{$model}, $want_read{$model},
       "\$llm_route_cached_tokens: $model $want_read{$model}");
    is($write{$model}, $want_write{$model},
       "\$llm_route_cache_write_tokens: $model $want_write{$model}");

    my $j = $st->{models}{$model};
    is($j->{cached_tokens}, $want_read{$model},
       "status: $model cached_tokens");
    is($j->{cache_write_tokens}, $want_write{$model},
       "status: $model cache_write_tokens");

    my ($d) = grep { $_->{model} eq $model }
              values %{ $st->{deployments} || {} };
    is($d && $d->{cached_tokens}, $want_read{$model},
       "status: $model deployment cached_tokens");
    is($d && $d->{cache_write_tokens}, $want_write{$model},
       "status: $model deployment cache_write_tokens");
    ok($d && abs($d->{cost_usd} - $cost{$model}) < 1e-9,
       "status: $model deployment cost");

    for my $type (qw(cached cache_write)) {
        my $want = $type eq 'cached' ? $want_read{$model}
                                     : $want_write{$model};
        my ($v) = $prom =~ /^llm_route_tokens_total\{model="\Q$model\E"
                             [^}]*type="$type"\}\ (\S+)$/mx;
        is($v, $want, "prometheus: $model tokens type=$type");
        my $f = $type eq 'cached' ? 'cached' : 'cache_write';
        ($v) = $prom =~ /^llm_route_deployment_${f}_tokens_total
                         \{model="\Q$model\E"[^}]*\}\ (\S+)$/mx;
        is($v, $want, "prometheus: $model deployment ${f}_tokens");
    }
}

is($st->{totals}{cache_write_tokens}, 7 * $served{'claude-haiku'},
   'status: totals cache_write_tokens');
is($st->{totals}{cached_tokens}, 5 * $served{'claude-haiku'} + 13,
   'status: totals cached_tokens');

# a restart keeps them (the state file)

$t->stop;
$t->start;

my $st2 = $t->get('/llm/status')->{json};
for my $model (sort keys %want_read) {
    is($st2->{models}{$model}{cached_tokens}, $want_read{$model},
       "restart: $model cached_tokens kept");
    is($st2->{models}{$model}{cache_write_tokens}, $want_write{$model},
       "restart: $model cache_write_tokens kept");
}
is($st2->{totals}{cache_write_tokens}, $st->{totals}{cache_write_tokens},
   'restart: totals cache_write_tokens kept');

$t->stop;
$t->check_log;

done_testing;
