#!/usr/bin/perl

# Issues 24, 23 and 26 together: an Anthropic /v1/messages request with a
# budget, a rate limit, a failover (to a deployment of another format)
# and the fleet on (llm_route_redis, a redis-server of the test's own):
#
#   - charged once, at the answering deployment's prices, in the zone and
#     in Redis; the failed attempt charges nothing;
#   - counted in the issue-23 series: requested model, each deployment
#     (the failover on the first), nothing left in flight;
#   - a spent budget and a rate limit refuse it in Anthropic's shape;
#   - count_tokens (answered by the router's estimate or by an Anthropic
#     provider): never charged, and counted as what it is (see
#     docs/formats.md, count_tokens).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRRedis;
use Time::HiRes qw(sleep time);

plan skip_all => 'redis-server is not installed' unless LLRRedis->available;

my $USD = 1_000_000_000_000;        # pico-USD

my $t = LLRTest->new(workers => 1);
my $bad = $t->mock(name => 'bad', faults => { 'x-mock-status' => 503 });
my $good = $t->mock(name => 'good');
my $redis = LLRRedis->new(dir => $t->dir);
my $rport = $redis->port;

my $proxy = $t->proxy_directives(auth => 1, identity => 1, intercept => 1,
                                 timeout => '5s');

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    llm_route_redis 127.0.0.1:$rport prefix=t68: sync=100ms timeout=200ms;

    llm_route_provider bad {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host bad.example;
        max_fails 0;
    }
    llm_route_provider claude {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host claude.example;
        format anthropic; api_key sk-a;
    }

    # m: its first deployment (OpenAI format) always fails, the second
    # (Anthropic format) answers
    llm_route_model m provider=bad input=100 output=100 quality=0.9
                    weight=100 upstream_model=m-bad;
    llm_route_model m provider=claude input=3 output=15 quality=0.9
                    weight=1 upstream_model=m-claude;
    llm_route_model c provider=claude input=3 output=15 quality=0.9;

    server {
        listen 127.0.0.1:%%PORT%%;
        recursive_error_pages on;

        location /v1/ {
            llm_route on;
            llm_route_budget \$http_x_team 1;
            llm_route_rate \$http_x_rate rpm=1;
$proxy
            error_page 429 500 502 503 504 = \@llm_fallback;
        }

        location \@llm_fallback {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@llm_fallback;
        }

        location = /llm/status { llm_route_status; }
        location = /llm/redis { return 200 "\$llm_route_redis_status\\n"; }
    }
EOF
$t->start;

sub metric { LLRTest::metric(@_) }

sub prom { $t->get('/llm/status?format=prometheus')->{content} // '' }
sub status { sleep 0.1; $t->get('/llm/status')->{json} || {} }

sub redis_spent {
    my ($team) = @_;
    my $keys = $redis->cmd('KEYS', "t68:b:*:$team:*");
    return undef unless ref $keys eq 'ARRAY' && @$keys == 1;
    return $redis->cmd('HGET', $keys->[0], 's') // 0;
}

sub synced {
    my $first = (LLRTest::json_decode($t->get('/llm/redis')->{content})
                 // {})->{syncs} // 0;
    my $end = time + 10;
    while (time < $end) {
        my $n = (LLRTest::json_decode($t->get('/llm/redis')->{content})
                 // {})->{syncs} // 0;
        return 1 if $n >= $first + 2;
        sleep 0.05;
    }
    return 0;
}

my $user = [{ role => 'user', content => 'Say hello.' }];

ok(synced(), 'the fleet syncs');

# ==== a Messages request through the failover =============================

my $r = $t->chat({ model => 'm', max_tokens => 16, messages => $user },
                 path => '/v1/messages', headers => { 'X-Team' => 'alpha' });
is($r->{status}, 200, 'messages: 200 after the failover');
is($r->{json}{type}, 'message', 'an Anthropic answer');
is($bad->requests, 1, 'the first deployment was tried');
is($good->last_request->{uri}, '/v1/messages', 'the second answered');

my $u = $r->{json}{usage} || {};
# the cache's tokens at the input price (cached_input= and cache_write=
# default to input=, docs/directives.md)
my $cost = (($u->{input_tokens} + ($u->{cache_read_input_tokens} // 0)
             + ($u->{cache_creation_input_tokens} // 0)) * 3
            + $u->{output_tokens} * 15) * 1_000_000;
ok($u->{input_tokens} && $u->{output_tokens},
   "usage: $u->{input_tokens} in, $u->{output_tokens} out");

my $s = status();
my $spent = $s->{budgets}{alpha}{spent_usd};
ok(abs($spent * $USD - $cost) < 1,
   "charged once, at the answering deployment's prices: $spent USD")
    or diag "expected " . $cost / $USD;
ok(abs($s->{models}{m}{cost_usd} - $spent) < 1e-12,
   'the model\'s cost is the budget\'s');

ok(synced(), 'synced');
is(redis_spent('alpha'), $cost, 'Redis holds the same spend, once');

my $p = prom();
my $dbad = 'model="m",provider="bad",upstream_model="m-bad"';
my $dgood = 'model="m",provider="claude",upstream_model="m-claude"';
is(metric($p, 'llm_route_requested_model_requests_total'
              . '{requested_model="m",model="m"}'), 1,
   'requested model: one request');
is(metric($p, "llm_route_deployment_requests_total{$dbad}"), 1,
   'the failing deployment: one attempt');
is(metric($p, "llm_route_deployment_failovers_total{$dbad}"), 1,
   'its failover counted');
is(metric($p, "llm_route_deployment_requests_total{$dgood}"), 1,
   'the answering deployment: one');
ok(abs((metric($p, "llm_route_deployment_cost_usd_total{$dgood}") // -1)
       - $spent) < 1e-12, 'its cost: the charge');
is(metric($p, "llm_route_deployment_cost_usd_total{$dbad}") // 0, 0,
   'the failed attempt costs nothing');
is(metric($p, 'llm_route_requests_in_flight'), 0, 'nothing in flight');

# ==== count_tokens =========================================================

my $before = status();
$r = $t->chat({ model => 'm', messages => $user },
              path => '/v1/messages/count_tokens',
              headers => { 'X-Team' => 'alpha' });
is($r->{status}, 200, 'count_tokens: 200');
ok($r->{json}{input_tokens}, 'count_tokens: input_tokens');
$s = status();
is($s->{budgets}{alpha}{spent_usd}, $before->{budgets}{alpha}{spent_usd},
   'count_tokens: not charged');
is($s->{models}{m}{cost_usd}, $before->{models}{m}{cost_usd},
   'count_tokens: no cost');
$p = prom();
is(metric($p, 'llm_route_requests_in_flight'), 0,
   'count_tokens: nothing in flight');
is($s->{totals}{requests}, $before->{totals}{requests},
   'count_tokens, estimated: not counted as a request');
is(metric($p, 'llm_route_requested_model_requests_total'
              . '{requested_model="m",model="m"}'), 1,
   'count_tokens, estimated: nor of the requested model');

$before = $s;
$r = $t->chat({ model => 'c', messages => $user },
              path => '/v1/messages/count_tokens',
              headers => { 'X-Team' => 'alpha' });
is($r->{status}, 200, 'count_tokens, Anthropic provider: 200');
is($good->last_request->{uri}, '/v1/messages/count_tokens',
   'count_tokens, Anthropic provider: asked');
$s = status();
is($s->{budgets}{alpha}{spent_usd}, $before->{budgets}{alpha}{spent_usd},
   'count_tokens, Anthropic provider: not charged');
$p = prom();
is(metric($p, 'llm_route_requests_in_flight'), 0,
   'count_tokens, Anthropic provider: nothing in flight');
is($s->{totals}{requests}, $before->{totals}{requests},
   'count_tokens, Anthropic provider: not counted as a request');
is($s->{models}{c}{requests} // 0, 0, 'nor of its model');
is(metric($p, 'llm_route_requested_model_requests_total'
              . '{requested_model="c",model="c"}') // 0, 0,
   'nor of the requested model');
is(metric($p, 'llm_route_deployment_requests_total'
              . '{model="c",provider="claude",upstream_model="c"}') // 0, 0,
   'nor of the deployment');
is(metric($p, 'llm_route_provider_requests_total{provider="claude"}'), 1,
   'the provider: the one message');

# ==== refusals, Anthropic-shaped ==========================================

# beta spends its dollar on the expensive deployment directly (no fallback
# to the cheap one: the budget is $1, the estimate of m-bad at $100/M...)
$r = $t->chat({ model => 'm', max_tokens => 16, messages => $user },
              path => '/v1/messages', headers => { 'X-Rate' => 'r' });
is($r->{status}, 200, 'rate: the first passes');
$r = $t->chat({ model => 'm', max_tokens => 16, messages => $user },
              path => '/v1/messages', headers => { 'X-Rate' => 'r' });
is($r->{status}, 429, 'rate: the second is refused');
is($r->{json}{type}, 'error', 'rate: an Anthropic error');
is($r->{json}{error}{type}, 'rate_limit_error', 'rate: rate_limit_error');

# ==== fail=closed: Redis gone, the refusal in Anthropic's shape ==========

my $conf = $t->{http};
$conf =~ s/timeout=200ms;/timeout=200ms fail=closed;/ or die 'no fail=';
ok($t->reload(config => $conf), 'reload: fail=closed');
ok(synced(), 'synced again');

$redis->kill;
my $end = time + 5;
my $state = '';
while (time < $end) {
    $state = (LLRTest::json_decode($t->get('/llm/redis')->{content})
              // {})->{state} // '';
    last if $state eq 'down';
    sleep 0.05;
}
is($state, 'down', 'Redis killed: seen down');

$r = $t->chat({ model => 'm', max_tokens => 16, messages => $user },
              path => '/v1/messages', headers => { 'X-Team' => 'alpha' });
is($r->{status}, 503, 'fail=closed: a limited /v1/messages refused');
is($r->{json}{type}, 'error', 'fail=closed: an Anthropic error');
is($r->{json}{error}{type}, 'overloaded_error',
   'fail=closed: overloaded_error, as Anthropic types a 503');
like($r->{json}{error}{message} // '', qr/cannot reach the store/,
     'fail=closed: the message says why');
is($r->{headers}{'retry-after'}, 1, 'fail=closed: Retry-After: 1');

$t->done_testing;
