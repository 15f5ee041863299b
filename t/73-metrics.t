#!/usr/bin/perl

# The metrics operators expect (issue 23), after known traffic, in the
# Prometheus text (checked by promtool) and in the JSON status:
#
#   1. per-deployment series, failovers and their outcomes, cooldowns,
#      the requested model next to the routed one, per-key spend
#      (llm_route_spend_key, bounded by max=), budget rejections and
#      remaining budget, time per output token, the router's own time
#   2. requests in flight: counted while the provider answers, not after,
#      and not for a worker that was killed
#   3. without llm_route_spend_key: no key series; state files of the
#      versions before (fewer counters per record) still load

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

my $msgs = [{ role => 'user', content => 'Say hello.' }];

# the value of one series of a Prometheus text, undef if it is not there
sub metric { LLRTest::metric(@_) }

# a request whose answer is not read yet: its socket
sub start_request {
    my ($t, $body, %h) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port, Proto => 'tcp')
        or die "connect: $!";
    my $json = LLRTest::json_encode($body);
    print $s "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        . join('', map { "$_: $h{$_}\r\n" } sort keys %h)
        . "Content-Type: application/json\r\n"
        . "Content-Length: " . length($json) . "\r\nConnection: close\r\n\r\n"
        . $json;
    return $s;
}

# ==== 1. after known traffic ================================================

{

my $t = LLRTest->new(workers => 1);

my $bad = $t->mock(name => 'bad', faults => { 'x-mock-status' => 503 });
my $good = $t->mock(name => 'good');
my $doom = $t->mock(name => 'doom', faults => { 'x-mock-status' => 503 });

my $proxy = $t->proxy_directives(auth => 1, identity => 1, unbuffered => 1,
                                 intercept => 1, timeout => '5s');

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    llm_route_spend_key \$http_x_team max=2;

    llm_route_provider bad {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host bad.example;
        max_fails 1; fail_timeout 60s;
    }
    llm_route_provider good {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host good.example;
    }
    llm_route_provider doom {
        upstream 127.0.0.1:%%MOCK_PORT3%%; scheme http; host doom.example;
        max_fails 0;
    }

    # m: its first deployment fails once, then cools down
    llm_route_model m provider=bad  input=1 output=1 quality=0.9 weight=100
                    upstream_model=m-bad;
    llm_route_model m provider=good input=1 output=1 quality=0.9 weight=1
                    upstream_model=m-good;
    llm_route_model doomed provider=doom input=1 output=1 quality=0.9;
    llm_route_model cheap provider=good input=0.1 output=0.1 quality=0.9;
    llm_route_model dear provider=good input=5 output=5 quality=0.95;
    llm_route_model streamer provider=good input=1 output=1 quality=0.9;

    llm_route_policy auto {
        candidates cheap dear;
        floor 0.5;
        floor_hard 0.5;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        recursive_error_pages on;

        location /v1/ {
            llm_route on;
            llm_route_override \$http_x_force;
            llm_route_budget \$http_x_budget 0.000001 period=total;
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

my @st;

# m: one failover (bad fails, good answers), then good only: bad cools down
push @st, $t->chat({ model => 'm', messages => $msgs },
                   headers => { 'X-Team' => 'a' })->{status} for 1 .. 3;

# every attempt fails
push @st, $t->chat({ model => 'doomed', messages => $msgs })->{status};

# auto -> cheap, twice; cheap asked for by name; a third key: "_other"
push @st, $t->chat({ model => 'auto', messages => $msgs },
                   headers => { 'X-Team' => 'b' })->{status} for 1 .. 2;
push @st, $t->chat({ model => 'cheap', messages => $msgs },
                   headers => { 'X-Team' => 'c' })->{status};

# a name the client made up, routed by llm_route_override: "_other"
push @st, $t->chat({ model => 'made-up-by-a-client', messages => $msgs },
                   headers => { 'X-Force' => 'cheap' })->{status};

# 200 ms for 2 tokens: 100 ms per token; it spends the budget "z"
push @st, $t->chat({ model => 'dear', messages => $msgs },
                   headers => { 'X-Mock-Delay' => '0.2',
                                'X-Budget' => 'z' })->{status};
push @st, $t->chat({ model => 'dear', messages => $msgs },
                   headers => { 'X-Budget' => 'z' })->{status};

# a stream of 5 tokens, 100 ms apart
my $T = JSON::PP::true;
my $sr = $t->stream_request(body => { model => 'streamer', messages => $msgs,
                                      stream => $T },
                            headers => { 'X-Mock-Events' => 5,
                                         'X-Mock-Event-Delay' => '0.1' });

is("@st", '200 200 200 503 200 200 200 200 200 429',
   'the traffic: failover answered, all failed, budget refused');

my ($p, $j);
for (1 .. 60) {
    $j = $t->get('/llm/status')->{json};
    last if ($j->{totals}{requests} // 0) >= 10;
    sleep 0.05;
}
$p = $t->get('/llm/status?format=prometheus')->{content};
diag($p) if $ENV{LLR_SHOW_METRICS};

SKIP: {
    my @pc = $t->promtool($p);
    skip 'no promtool', 1 unless @pc;
    is($pc[0], 0, 'promtool check metrics accepts the new series')
        or diag($pc[1]);
}

# ---- per deployment -------------------------------------------------------

my $dep = 'model="m",provider="bad",upstream_model="m-bad"';
my $dgood = 'model="m",provider="good",upstream_model="m-good"';

is(metric($p, "llm_route_deployment_requests_total{$dep}"), 1,
   'm at bad: one attempt');
is(metric($p, "llm_route_deployment_errors_total{$dep}"), 1,
   'm at bad: it failed');
is(metric($p, "llm_route_deployment_failovers_total{$dep}"), 1,
   'm at bad: retried elsewhere');
is(metric($p, "llm_route_deployment_requests_total{$dgood}"), 3,
   'm at good: three answers');
is(metric($p, "llm_route_deployment_failovers_total{$dgood}"), 0,
   'm at good: no failover');
is(metric($p, "llm_route_deployment_request_duration_seconds_count{$dgood}"),
   3, 'm at good: three latency samples');
ok(metric($p, "llm_route_deployment_cost_usd_total{$dgood}") > 0,
   'm at good: cost');
ok(metric($p, "llm_route_deployment_completion_tokens_total{$dgood}") > 0,
   'm at good: completion tokens');

my $dj = $j->{deployments}{'m@bad/m-bad'} // {};
is(join(',', map { $dj->{$_} // '?' } qw(model provider upstream_model
                                          requests errors failovers)),
   'm,bad,m-bad,1,1,1', 'JSON: deployments."m@bad/m-bad"');

# ---- failover and cooldown --------------------------------------------------

is(metric($p, 'llm_route_failovers_total'), 1, 'one failover attempt');
is(metric($p, 'llm_route_failover_requests_total{outcome="recovered"}'), 1,
   'one request failed over and was answered');
is(metric($p, 'llm_route_failover_requests_total{outcome="failed"}'), 1,
   'one request failed over and failed');
is(metric($p, 'llm_route_provider_cooldowns_total{provider="bad"}'), 1,
   'bad cooled down once');
is(metric($p, 'llm_route_provider_cooldowns_total{provider="doom"}'), 0,
   'doom (max_fails 0) never');
is(join(',', $j->{totals}{failovers},
        $j->{totals}{failover_requests}{recovered},
        $j->{totals}{failover_requests}{failed},
        $j->{providers}{bad}{cooldowns}), '1,1,1,1',
   'JSON: totals.failovers, failover_requests, providers.bad.cooldowns');

# ---- requested model -> model -----------------------------------------------

my sub routed {
    my ($requested, $model) = @_;
    return metric($p, 'llm_route_requested_model_requests_total'
                      . "{requested_model=\"$requested\",model=\"$model\"}");
}

is(routed('auto', 'cheap'), 2, 'auto routed to cheap twice');
is(routed('cheap', 'cheap'), 1, 'cheap asked for by name once');
is(routed('m', 'm'), 3, 'm, failover or not, is m');
is(routed('_other', 'cheap'), 1, 'a made-up name an override routed: "_other"');
ok($p !~ /made-up-by-a-client/, 'the made-up name is in no label');
my ($rj) = grep { $_->{requested_model} eq 'auto' } @{$j->{routes} // []};
is($rj && "$rj->{model} $rj->{requests}", 'cheap 2', 'JSON: routes');

# ---- per key ---------------------------------------------------------------

is(metric($p, 'llm_route_key_requests_total{key="a"}'), 3, 'key a: 3');
is(metric($p, 'llm_route_key_requests_total{key="b"}'), 2, 'key b: 2');
is(metric($p, 'llm_route_key_requests_total{key="_other"}'), 1,
   'key c, over max=2: counted as "_other"');
is(metric($p, 'llm_route_key_requests_total{key="c"}'), undef,
   'no series for key c');
ok(metric($p, 'llm_route_key_cost_usd_total{key="a"}') > 0, 'key a: cost');
is(join(',', sort keys %{$j->{keys} // {}}), '_other,a,b', 'JSON: keys');

# ---- budgets ---------------------------------------------------------------

is(metric($p, 'llm_route_budget_rejected_total{key="z",period="total"}'), 1,
   'budget z refused one request');
is(metric($p, 'llm_route_budget_remaining_usd{key="z",period="total"}'), 0,
   'budget z: nothing left');
is($j->{budgets}{z}{remaining_usd}, 0, 'JSON: remaining_usd');
ok($j->{budgets}{z}{spent_usd} > 0.000001, 'JSON: more spent than the limit');

# ---- time per output token ------------------------------------------------

my $tp = 'model="dear",provider="good"';
is(metric($p, "llm_route_time_per_output_token_seconds_count{$tp}"), 1,
   'dear: one time per output token');
my $tpot = metric($p, "llm_route_time_per_output_token_seconds_sum{$tp}");
ok($tpot >= 0.1 && $tpot < 0.5, "dear: 200+ ms for 2 tokens: $tpot s");

$tp = 'model="streamer",provider="good"';
$tpot = metric($p, "llm_route_time_per_output_token_seconds_sum{$tp}");
ok(defined $tpot && $tpot >= 0.05 && $tpot < 0.5,
   'streamer: about 100 ms between tokens: ' . ($tpot // 'none'));
ok(($j->{models}{dear}{tpot_ms}{avg} // 0) >= 100, 'JSON: tpot_ms');

# ---- the router's own time ---------------------------------------------------

is(metric($p, 'llm_route_overhead_seconds_count'), 10,
   'one sample per routed request (the refusal is not routed)');
my $own = metric($p, 'llm_route_overhead_seconds_sum');
ok($own > 0 && $own < 1, "overhead measured: $own s for 10 requests");
is($j->{totals}{overhead_us}{count}, 10, 'JSON: totals.overhead_us');

is(metric($p, 'llm_route_requests_in_flight'), 0, 'nothing in flight');

# ---- a reload keeps the tables; without llm_route_spend_key, no keys ------

(my $conf = $t->{http}) =~ s/^\s*llm_route_spend_key .*\n//m;
ok($t->reload(config => $conf), 'reloaded without llm_route_spend_key');
$p = $t->get('/llm/status?format=prometheus')->{content};
$j = $t->get('/llm/status')->{json};
ok($p !~ /^llm_route_key_/m && !exists $j->{keys},
   'the key series are no longer listed');
is(metric($p, 'llm_route_requested_model_requests_total'
              . '{requested_model="auto",model="cheap"}'), 2,
   'the routes are kept across the reload');
is(metric($p, 'llm_route_deployment_failovers_total{' . $dep . '}'), 1,
   'and the deployments\' counters');

$t->stop;

}

# ==== 2. requests in flight ===================================================

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

$t->config($t->routed_http(
    http => '    llm_route_spend_key $http_x_team;',
    server => '        location = /llm/status { llm_route_status; }'));
$t->start;

sub in_flight {
    my ($t, $want) = @_;
    my $p;
    for (1 .. 100) {
        $p = $t->get('/llm/status?format=prometheus')->{content};
        my $v = metric($p, 'llm_route_requests_in_flight') // -1;
        return $v if $v == $want;
        sleep 0.05;
    }
    return metric($p, 'llm_route_requests_in_flight');
}

my $s = start_request($t, { model => 'gpt-4o-mini', messages => $msgs },
                      'X-Mock-Delay' => 3);
is(in_flight($t, 1), 1, 'a request waiting for the provider is in flight');
is($t->get('/llm/status')->{json}{totals}{in_flight}, 1,
   'JSON: totals.in_flight');

# its worker is killed: it is not in flight any more
$t->kill_workers($t->worker_pids);
close $s;
is(in_flight($t, 0), 0, 'a killed worker\'s requests are not in flight');

$s = start_request($t, { model => 'gpt-4o-mini', messages => $msgs },
                   'X-Mock-Delay' => 1);
is(in_flight($t, 1), 1, 'the new worker counts its own');
my $answer = do { local $/; <$s> };
close $s;     # nginx logs it after its lingering close: once it is closed
like($answer, qr{^HTTP/1.1 200}, 'answered');
is(in_flight($t, 0), 0, 'and, answered, it is no longer in flight');

# a key with a quote, a backslash, a byte that is no UTF-8, and a long one
my $odd = "q\"u\\o\xff" . ('k' x 100);
$s = start_request($t, { model => 'gpt-4o-mini', messages => $msgs },
                   'X-Team' => $odd);
$answer = do { local $/; <$s> };
close $s;
like($answer, qr{^HTTP/1.1 200}, 'an odd key: answered');
my $p;
for (1 .. 40) {
    $p = $t->get('/llm/status?format=prometheus')->{content};
    last if $p =~ /^llm_route_key_requests_total/m;
    sleep 0.05;
}
like($p, qr/^llm_route_key_requests_total\{key="q\\"u\\\\o\?k{57}"\} 1$/m,
     'escaped, valid UTF-8, cut to 63 bytes');
SKIP: {
    my @pc = $t->promtool($p);
    skip 'no promtool', 1 unless @pc;
    is($pc[0], 0, 'promtool accepts it') or diag($pc[1]);
}
ok($t->get('/llm/status')->{json}{keys}, 'the JSON too');

$t->stop;

}

# ==== 3. without llm_route_spend_key; a version 2 state file ================

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;
my $state = $t->dir . '/llr.state';

my $conf = $t->routed_http(
    server => '        location = /llm/status { llm_route_status; }');
$conf =~ s{llm_route_zone llm:1m;}{llm_route_zone llm:1m state=$state;};

# a version 2 file: the totals and one slot, 48 counters each (the
# counters before zone version 8), no budgets
my @c = (0) x 48;
$c[0] = 7;                                     # requests
my $counters = pack('Q<*', @c);
my $name = 'gpt-4o-mini';
my $rec = pack('L<L<a64Q<', 1, length $name, $name, 0) . $counters;
my $body = $counters . $rec . pack('Q<', 0);  # no budgets
my $sum = fnv1a64($body);
open(my $fh, '>', $state) or die;
print $fh pack('a8L<L<L<L<Q<Q<Q<', 'LLRSTATE', 2, 48, 1, 64, time - 100,
               time - 50, $sum) . $body;
close $fh;

$t->config($conf);
$t->start;

my $j = $t->get('/llm/status')->{json};
is($j->{totals}{requests}, 7, 'a version 2 state file loads its counters');
is($j->{models}{'gpt-4o-mini'}{requests}, 7, 'and its slots');
is($j->{models}{'gpt-4o-mini'}{tpot_ms}{count}, 0,
   'the newer counters start at zero');
ok(!exists $j->{keys}, 'without llm_route_spend_key: no keys');

my $p = $t->get('/llm/status?format=prometheus')->{content};
ok($p !~ /^llm_route_key_/m, 'and no key series');
like($t->error_log,
     qr/state file .* is of version 2: the counters it has are loaded/,
     'the older version is noted');

$t->stop;

# a version 3 file: 71 counters (zone version 8, before the cache write
# tokens), budgets: none
@c = (0) x 71;
$c[0] = 9;                                     # requests
$c[4] = 11;                                    # cached_tokens
$counters = pack('Q<*', @c);
$rec = pack('L<L<a64Q<', 1, length $name, $name, 0) . $counters;
$body = $counters . $rec . pack('Q<', 0);
$sum = fnv1a64($body);
open($fh, '>', $state) or die;
print $fh pack('a8L<L<L<L<Q<Q<Q<', 'LLRSTATE', 3, 71, 1, 64, time - 100,
               time - 50, $sum) . $body;
close $fh;

$t->start;

$j = $t->get('/llm/status')->{json};
is($j->{totals}{requests}, 9, 'a version 3 state file loads its counters');
is($j->{models}{'gpt-4o-mini'}{cached_tokens}, 11, 'and its cached tokens');
is($j->{models}{'gpt-4o-mini'}{cache_write_tokens}, 0,
   'the cache write tokens start at zero');
like($t->error_log,
     qr/state file .* is of version 3: the counters it has are loaded/,
     'version 3 is noted');

$t->stop;

# a zone too small for max= names the size to add, and that is enough
my $spend = <<'EOF';
    llm_route_spend_key $http_x_team max=4096;
    upstream b { server 127.0.0.1:9; }
    llm_route_provider p { upstream b; scheme http; host h.example;
                           base_path /v1; }
    llm_route_model m provider=p input=1 output=2 context=1000 quality=0.5;
EOF
my ($rc, $out) = $t->nginx_t_http("    llm_route_zone llm:1m;\n$spend");
my ($more) = $out =~ /spend_key series .* give it (\d+)k more/;
ok($rc && $more, 'max=4096 does not fit in 1m: ' . ($more // $out));
($rc, $out) = $t->nginx_t_http('    llm_route_zone llm:' . (1024 + ($more // 0))
                               . "k;\n$spend");
is($rc, 0, 'with what it asked for, it does') or diag($out);

}

# FNV-1a 64 (core/llr.h) in 32-bit halves: exact with perl's doubles too
sub fnv1a64 {
    my ($s) = @_;
    my ($hi, $lo) = (0xcbf29ce4, 0x84222325);
    for my $c (unpack 'C*', $s) {
        $lo ^= $c;
        my $t = $lo * 0x1b3;
        $hi = ($hi * 0x1b3 + $lo * 0x100 + ($t >> 32)) & 0xffffffff;
        $lo = $t & 0xffffffff;
    }
    return ($hi << 32) | $lo;
}

done_testing;
