#!/usr/bin/perl

# The status endpoint: JSON fields present and typed, Prometheus text that
# promtool accepts, GET/HEAD only, unknown formats refused, access control
# with allow/deny, llm_route_status without a zone refused by nginx -t.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $t = LLRTest->new;
my $m = $t->mock;

$t->config($t->routed_http(location => 'llm_route_override $http_x_force;',
                           server => <<'EOF'));
        location = /llm/status { llm_route_status; }
        location = /llm/private {
            llm_route_status;
            allow 127.0.0.2;
            deny all;
        }
        location = /llm/local {
            llm_route_status;
            allow 127.0.0.1;
            deny all;
        }
EOF
$t->start;

my $msgs = [{ role => 'user', content => 'status please' }];
my $T = JSON::PP::true;

$t->chat({ model => 'gpt-4o-mini', messages => $msgs }) for 1 .. 3;
$t->chat({ model => 'gpt-4o', messages => $msgs });
$t->chat({ model => 'gpt-4o', messages => $msgs },
         headers => { 'X-Mock-Status' => 500 });
$t->stream_request(body => { model => 'fast', messages => $msgs,
                             stream => $T,
                             stream_options => { include_usage => $T } });

# ---- JSON -----------------------------------------------------------------

# a request is counted in its log phase, just after its last byte went
# out: wait until all six are
my $r;
for (1 .. 60) {
    $r = $t->get('/llm/status');
    last if (($r->{json} || {})->{totals}{requests} // 0) >= 6;
    select(undef, undef, undef, 0.05);
}

is($r->{status}, 200, 'GET: 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON type');
is($r->{headers}{'cache-control'}, 'no-store', 'not cached');
my $j = $r->{json};
my $raw = $r->{content};
ok($j, 'valid JSON') or diag($raw);

my $NUM = qr/^\d+$/;
my $USD = qr/^\d+\.\d{9}$/;

sub raw_field {
    my ($section, $field) = @_;
    return $raw =~ /"$section":\{[^{}]*?"$field":([^,}]+)/ ? $1 : 'missing';
}

for my $f (qw(requests errors prompt_tokens completion_tokens cached_tokens
              reasoning_tokens estimated))
{
    like(raw_field('totals', $f), $NUM, "totals.$f is an integer");
}
like(raw_field('totals', $_), $USD, "totals.$_ has 9 decimals")
    for qw(cost_usd saved_usd);

is($j->{totals}{requests}, 6, 'totals.requests counts routed requests');
is($j->{totals}{errors}, 1, 'totals.errors counts the upstream error');
ok($j->{totals}{prompt_tokens} > 0, 'prompt tokens counted');

for my $k (qw(generation uptime started now_ms)) {
    like($j->{$k}, $NUM, "$k is an integer");
}
is($j->{zone}, 'llm', 'the zone name');

is(ref $j->{models}, 'HASH', 'models is an object');
is_deeply([sort keys %{$j->{models}}], [qw(fast gpt-4o gpt-4o-mini)],
          'the configured models, nothing else');
my $mm = $j->{models}{'gpt-4o-mini'};
is($mm->{provider}, 'mockp', 'model provider');
is($mm->{requests}, 3, 'model requests');
for my $h (qw(latency_ms ttft_ms)) {
    is(ref $mm->{$h}, 'HASH', "model $h is an object");
    ok(defined $mm->{$h}{$_} && $mm->{$h}{$_} =~ /^\d+(\.\d+)?$/,
       "model $h.$_ is a number") for qw(p50 p90 p99);
}
is($j->{models}{'gpt-4o'}{errors}, 1, 'model errors');
is(scalar @{$mm->{latency_buckets}}, 18, 'model latency buckets');

is(ref $j->{providers}, 'HASH', 'providers is an object');
is_deeply([keys %{$j->{providers}}], ['mockp'], 'the configured provider');
like($j->{providers}{mockp}{state}, qr/^(up|cooldown)$/, 'provider state');
is($j->{providers}{mockp}{state}, 'up', 'provider up');
is($j->{providers}{mockp}{requests}, 6, 'provider requests');
like($j->{providers}{mockp}{failures}, $NUM, 'provider failures');

is(ref $j->{tasks}, 'HASH', 'tasks is an object');
ok(exists $j->{tasks}{unclassified}, 'the "unclassified" task is listed');
my $tr = 0;
$tr += $_->{requests} for values %{$j->{tasks}};
is($tr, 6, 'task requests add up to the total');
like($raw, qr/"tasks":\{.*"cost_usd":\d+\.\d{9}/s, 'task cost_usd');

is(ref $j->{budgets}, 'HASH', 'budgets is an object');
is(ref $j->{rates}, 'HASH', 'rates is an object');
is_deeply($j->{rates}, {}, 'no llm_route_rate: rates is empty');
like($raw, qr/"budgets":\{[^}]*\},"rates":\{\},"recent":\[/,
     'rates comes between budgets and recent');

my $h = $j->{histograms};
is(scalar @{$h->{bounds_ms}}, 17, '17 finite bucket bounds');
is(scalar @{$h->{latency}}, 18, '18 latency buckets (+Inf last)');
is(scalar @{$h->{ttft}}, 18, '18 TTFT buckets');
my $n = 0;
$n += $_ for @{$h->{latency}};
is($n, 6, 'latency histogram counts every request');

is(ref $j->{recent}, 'ARRAY', 'recent is an array');
is(scalar @{$j->{recent}}, 6, 'one recent entry per request');
my $e = $j->{recent}[0];
ok($j->{recent}[0]{n} > $j->{recent}[1]{n}, 'recent: newest first');
for my $f (qw(time requested model provider task prompt_tokens
              completion_tokens cost_usd latency_ms status reason))
{
    ok(exists $e->{$f}, "recent entry has $f");
}
is($e->{provider}, 'mockp', 'recent provider');
ok(!grep({ /status please/ } $raw), 'no prompt text in the status');
unlike($raw, qr/\Q$LLRTest::SECRET\E/, 'no key in the status');

$r = $t->get('/llm/status?format=json');
is($r->{status}, 200, '?format=json');
ok($r->{json} && $r->{json}{totals}, '?format=json is the JSON');

# ---- HEAD, other methods, unknown format ---------------------------------

$r = $t->request('HEAD', '/llm/status');
is($r->{status}, 200, 'HEAD: 200');
is($r->{content} // '', '', 'HEAD: no body');
like($r->{headers}{'content-type'}, qr{^application/json}, 'HEAD: type');

for my $method (qw(POST PUT DELETE)) {
    $r = $t->request($method, '/llm/status', body => '{}');
    is($r->{status}, 405, "$method: 405");
    is($r->{headers}{allow}, 'GET, HEAD', "$method: Allow header");
    ok($r->{json} && $r->{json}{error}{message}, "$method: JSON error");
}

$r = $t->get('/llm/status?format=xml');
is($r->{status}, 400, 'unknown format: 400');
ok($r->{json} && $r->{json}{error}, 'unknown format: JSON error');

# ---- access control is nginx's own ----------------------------------------

is($t->get('/llm/private')->{status}, 403, 'deny all: 403');
is($t->get('/llm/local')->{status}, 200, 'allow 127.0.0.1: 200');

# ---- Prometheus -----------------------------------------------------------

$r = $t->get('/llm/status?format=prometheus');
is($r->{status}, 200, 'prometheus: 200');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'prometheus: content type');
my $p = $r->{content} // '';

for my $fam (qw(llm_route_requests_total llm_route_errors_total
                llm_route_tokens_total llm_route_cost_usd_total
                llm_route_saved_usd_total llm_route_request_duration_seconds
                llm_route_ttft_seconds llm_route_provider_up
                llm_route_task_requests_total llm_route_rate_limit_rpm
                llm_route_rate_limit_tpm llm_route_rate_requests
                llm_route_rate_tokens llm_route_rate_rejected_total))
{
    like($p, qr/^# HELP $fam /m, "$fam: HELP");
    like($p, qr/^# TYPE $fam (counter|gauge|histogram)$/m, "$fam: TYPE");
}

like($p, qr/^llm_route_requests_total\{model="gpt-4o-mini",provider="mockp"\} 3$/m,
     'requests by model and provider');
like($p, qr/^llm_route_tokens_total\{model="gpt-4o-mini",provider="mockp",type="prompt"\} [1-9]\d*$/m,
     'prompt tokens');
like($p, qr/^llm_route_tokens_total\{[^}]*type="completion"\} \d+$/m,
     'completion tokens');
like($p, qr/^llm_route_request_duration_seconds_bucket\{model="gpt-4o-mini",provider="mockp",le="\+Inf"\} 3$/m,
     'histogram +Inf bucket');
like($p, qr/^llm_route_request_duration_seconds_bucket\{[^}]*le="0\.005"\} \d+$/m,
     'bucket bounds in seconds');
like($p, qr/^llm_route_request_duration_seconds_count\{model="gpt-4o-mini",provider="mockp"\} 3$/m,
     'histogram count');
like($p, qr/^llm_route_request_duration_seconds_sum\{[^}]*\} [\d.]+$/m,
     'histogram sum');
like($p, qr/^llm_route_provider_up\{provider="mockp"\} 1$/m, 'provider up');
like($p, qr/^llm_route_cost_usd_total\{[^}]*\} \d+\.\d{9}$/m, 'cost in USD');

my @samples = grep { !/^#/ && length } split /\n/, $p;
ok(!grep({ !/^llm_route_\w+(\{[^}]*\})? [0-9.+Inf]+$/ } @samples),
   'every sample line is well formed');

SKIP: {
    my ($rc, $out) = $t->promtool($p)
        or skip 'promtool not installed (Debian package "prometheus")', 2;
    is($rc, 0, 'promtool check metrics: exit 0') or diag($out);
    is($out, '', 'promtool check metrics: no complaint') or diag($out);
}

# ---- names in the recent list: UTF-8 kept, cut at a character -------------

# With an override the requested name is whatever the client sent; the
# recent list keeps 63 bytes of it, never half a character.  Characters
# sit across the first 8-byte word, after it, and across the cut.
{
    my @cases = (
        [ "abcdefg\x{e9}",                  "abcdefg\x{e9}" ],
        [ "abcdefgh\x{e9}xyz",              "abcdefgh\x{e9}xyz" ],
        [ "\x{65e5}\x{672c}" x 4,            "\x{65e5}\x{672c}" x 4 ],
        [ ('z' x 20) . "\x{1f600}end",       ('z' x 20) . "\x{1f600}end" ],
        [ ('x' x 62) . "\x{e9}",             'x' x 62 ],
        [ ('y' x 61) . "\x{65e5}",           'y' x 61 ],
        [ ('w' x 70),                       'w' x 63 ],
    );

    for my $c (@cases) {
        $t->chat({ model => $c->[0], messages => $msgs },
                 headers => { 'X-Force' => 'gpt-4o-mini' });
    }

    my %seen;
    for (1 .. 60) {
        my $s = $t->get('/llm/status');
        %seen = map { ($_->{requested} // '') => 1 }
                @{(($s->{json} || {})->{recent}) || []};
        last if !grep { !$seen{$_->[1]} } @cases;
        select(undef, undef, undef, 0.05);
    }

    for my $i (0 .. $#cases) {
        ok($seen{$cases[$i][1]}, "recent: requested name $i kept whole "
           . "or cut at a character");
    }
}

# ---- llm_route_status needs a zone ----------------------------------------

my $nozone = $t->routed_http(server => 'location = /s { llm_route_status; }');
$nozone =~ s/llm_route_zone llm:1m;//;
my ($rc, $out) = $t->nginx_t_http($nozone);
isnt($rc, 0, 'llm_route_status without llm_route_zone: nginx -t fails');
like($out, qr/"llm_route_status" in .* needs "llm_route_zone"/,
     'and says why');

my ($rc2, $out2) = $t->nginx_t_http($t->routed_http(
    http => 'server { listen 127.0.0.1:1; llm_route_status; }'));
isnt($rc2, 0, 'llm_route_status at server level is refused');

$t->done_testing;
