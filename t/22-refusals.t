#!/usr/bin/perl

# The router's refusals: what they say, and how they are counted.
#
#   1. the limit that refused is the one named; amounts under a cent;
#      x-should-retry: false when waiting cannot help; the zone-full line
#      names the key and the directive
#   2. every refusal counted once, by reason: status JSON, Prometheus, the
#      recent ring; kept across reload and restart

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRBlocks;
use JSON::PP;
use Time::HiRes qw(sleep time);

# ==== What a refusal says (was 86-refusals.t) ================================
#
# What a refusal says (issue 20, items 2 and 10).
#
# - With a budget and a rate limit, the rate limit's 429 named the budget
#   ("the day budget of $100.00 for "" is spent"): the loop that undoes
#   the request's reservations reused the index of the limit that refused
#   it.  The zone-full error line named the wrong key and directive line
#   for the same reason.
# - An amount under a cent printed as $0.00.
# - A spent budget sends "x-should-retry: false" (openai-node and
#   openai-python then raise at once instead of sleeping until the
#   Retry-After, hours away); a rate limit keeps its short Retry-After
#   and lets SDKs retry; a request larger than its tpm can never pass and
#   says so too.

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $proxy = $t->proxy_directives(route => 1);

my sub conf {
    my ($zone) = @_;
    my $c = $t->routed_http(
        http => <<'EOF',
    llm_route_model dollar provider=mockp input=0 output=500000
                    context=128000 quality=0.9;
EOF
        location => 'llm_route_budget $http_x_a 100;
                     llm_route_rate $http_x_b rpm=1;',
        server => <<"EOF");
        location = /llm/status { llm_route_status; }

        location /cent/ {
$proxy
            llm_route_budget \$http_x_c 0.001;
        }

        location /tpm/ {
$proxy
            llm_route_rate \$http_x_c tpm=100;
        }

        location /full/ {
$proxy
            llm_route_budget \$http_x_a 100;
            llm_route_budget \$http_x_long 100;
        }
EOF
    $c =~ s/llm_route_zone llm:1m;/llm_route_zone llm:$zone;/ if $zone;
    return $c;
}

$t->config(conf());
$t->start;

my $msgs = [{ role => 'user', content => 'hi' }];

my sub ask {
    my ($path, %h) = @_;
    return $t->chat({ model => $h{model} // 'gpt-4o-mini', max_tokens => 2,
                      messages => $msgs },
                    path => "$path/v1/chat/completions",
                    headers => { map { $_ => $h{$_} } grep { /^X-/ } keys %h });
}

# ---- the limit that refused is the one named -------------------------------

is(ask('', 'X-B' => 'k')->{status}, 200, 'rpm=1: the first request passes');
my $r = ask('', 'X-B' => 'k');
is($r->{status}, 429, 'the second is refused');
is($r->{json}{error}{code}, 'rate_limit_exceeded', 'by the rate limit');
like($r->{json}{error}{message} // '',
     qr/^Rate limit reached for "k" on requests per min \(RPM\): Limit 1\./,
     'and its message names the rate limit, not the budget')
    or diag($r->{json}{error}{message});
ok($r->{headers}{'retry-after'}, 'a rate limit sends Retry-After');
ok(!defined $r->{headers}{'x-should-retry'},
   'and lets SDKs retry (no x-should-retry: false)');

# both keys set: the budget passes, the rate limit refuses
$r = ask('', 'X-A' => 'team', 'X-B' => 'k');
is($r->{json}{error}{code}, 'rate_limit_exceeded',
   'budget and rate limit both tracked: the rate limit refuses');
my $st = $t->get('/llm/status')->{json};
is($st->{budgets}{team}{reserved_usd}, 0,
   'the budget reservation of the refused request is undone');
is($st->{budgets}{team}{in_flight}, 0, 'nothing left in flight');

# ---- an amount under a cent ----------------------------------------------

is(ask('/cent', 'X-C' => 'c', model => 'dollar')->{status}, 200,
   'a $0.001 budget admits one request');
$r = ask('/cent', 'X-C' => 'c', model => 'dollar');
is($r->{status}, 429, 'then it is spent');
like($r->{json}{error}{message} // '', qr/the day budget of \$0\.001 for "c"/,
     'the message says $0.001, not $0.00')
    or diag($r->{json}{error}{message});
is($r->{headers}{'x-should-retry'}, 'false',
   'a spent budget sends x-should-retry: false');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/,
     'and still when it resets (Retry-After)');

# ---- a request larger than its tpm --------------------------------------

$r = $t->chat({ model => 'gpt-4o-mini', max_tokens => 500, messages => $msgs },
              path => '/tpm/v1/chat/completions', headers => { 'X-C' => 'c' });
is($r->{status}, 429, 'a request over tpm is refused');
like($r->{json}{error}{message} // '', qr/^Request too large/, 'as too large');
is($r->{headers}{'x-should-retry'}, 'false', 'it never passes: no retry');

# ---- the zone-full line names the key and the directive ------------------

$t->stop(quiet => 1);
$t->config(conf('320k'));
$t->start;
$m->start;

my $conf = do { local (@ARGV, $/) = ($t->dir . '/nginx.conf'); <> };
my @lines = split /\n/, $conf;
my ($long_line) = grep { $lines[$_ - 1] =~ /llm_route_budget \$http_x_long/ }
                  1 .. @lines;

# keys with spend are never evicted: long ones fill the zone quickly
my ($ok, $full) = (0, 0);
for my $i (1 .. 400) {
    $r = ask('/full', 'X-Long' => sprintf('long%04d', $i) . ('x' x 1000));
    if ($r->{status} == 200) {
        $ok++;
    } elsif ($r->{status} == 503) {
        $full++;
        last;
    }
}
is($full, 1, "after $ok long keys the zone is full: 503") or diag("last: $r->{status} " . ($r->{content} // ""));
my ($line) = grep { /too full to track/ } split /\n/, $t->error_log;
diag($line // 'no line');
like($line // '', qr/the key "long\d{4}x+" of "llm_route_budget" in \S+:$long_line,/,
     "the line names the new key and its directive (line $long_line)");

$t->stop;

}

# ==== Refusals counted by reason (was 90-rejected.t) =========================
#
# The router's own refusals are counted, once each, by reason: every path
# that answers a request instead of routing it (400, 403, 404, 405, 413
# from the module and from nginx itself in a routed location, 429 of budgets
# and rate limits, 503 while every provider cools down), in the status
# JSON (totals.rejected, rejected{reason}), Prometheus
# (llm_route_rejected_total{reason}) and the recent ring; routed requests
# and failed attempts are not refusals. The counts survive a reload and,
# with state=, a restart.

{

my $t = LLRTest->new(workers => 2);
my $m = $t->mock;
my $down = $t->mock(name => 'down', faults => { 'x-mock-status' => 429,
                                                'x-mock-retry-after' => 60 });

my $state = $t->dir . '/llr.state';

my @REASONS = qw(invalid_request context_length model_not_found unknown_url
                 denied method_not_allowed too_large budget rate_limit
                 unavailable limits_full internal);

my $proxy = $t->proxy_directives(intercept => 1);

my $conf = $t->routed_http(
    http => <<'EOF',
    llm_route_model small provider=mockp input=1 output=1 context=100
                    quality=0.9;
    llm_route_policy tiny {
        candidates small;
        floor      0.1;
        floor_hard 0.1;
    }

    llm_route_provider down {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host down.example;
    }
    llm_route_model downm provider=down input=1 output=1 quality=0.9;
EOF
    location => "llm_route_budget \$http_x_budget 0.000001;\n"
                . "            llm_route_rate \$http_x_rate rpm=1;",
    server => <<"EOF");
        location = /llm/status { llm_route_status; }

        location /private/ {
            llm_route on;
            deny all;
$proxy
        }

        location /f/ {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@fb;
        }
        location \@fb {
            llm_route on;
$proxy
        }
EOF
$conf =~ s/llm_route_zone llm:1m;/llm_route_zone llm:1m state=$state;/;

$t->config($conf);
$t->start;

my $msgs = [{ role => 'user', content => 'Say hello.' }];
my %sent;        # reason => refusals sent
my $routed = 0;  # requests routed (counted in totals.requests)

my sub refused {
    my ($r, $status, $reason, $what) = @_;
    is($r->{status}, $status, "$what: $status");
    like($r->{headers}{'content-type'} // '', qr{^application/json},
         "$what: JSON");
    $sent{$reason}++;
}

# ---- before a route is chosen ----------------------------------------------

# one block a refusal, counted under its reason; nginx refuses the last
# one itself, in the routed location: its page is turned into JSON and
# counted the same way (as the 403 of "deny")
run_blocks($t, vars => { MSGS => LLRTest::json_encode($msgs) },
           after => sub { $sent{$_[0]{reason}}++ }, data => <<'EOF');
=== malformed JSON
--- request
POST /v1/chat/completions
{"model": "gpt-4o-mini", "messages": [
--- error_code: 400
--- openai_error
--- reason: invalid_request

=== no model
--- request
POST /v1/chat/completions
{"messages":%%MSGS%%}
--- error_code: 400
--- openai_error
--- reason: invalid_request

=== no candidate fits
--- request
POST /v1/chat/completions
{"max_tokens":100000,"messages":%%MSGS%%,"model":"tiny"}
--- error_code: 400
--- openai_error
--- reason: context_length

=== unknown model
--- request
POST /v1/chat/completions
{"messages":%%MSGS%%,"model":"nope"}
--- error_code: 404
--- openai_error
--- reason: model_not_found

=== unknown endpoint
--- request
POST /v1/chat/nothing
{"messages":%%MSGS%%,"model":"gpt-4o-mini"}
--- error_code: 404
--- openai_error
--- reason: unknown_url

=== GET of chat completions
--- request
GET /v1/chat/completions
--- error_code: 405
--- openai_error
--- reason: method_not_allowed

=== POST of /v1/models
--- request
POST /v1/models
{"messages":%%MSGS%%,"model":"gpt-4o-mini"}
--- error_code: 405
--- openai_error
--- reason: method_not_allowed

=== a routed location that denies the client
--- request
POST /private/v1/chat/completions
{"messages":%%MSGS%%,"model":"gpt-4o-mini"}
--- error_code: 403
--- openai_error
--- reason: denied

=== a body over client_max_body_size (Content-Length)
--- request eval
"POST /v1/chat/completions\n" . ('x' x (3 * 1024 * 1024))
--- error_code: 413
--- openai_error
--- reason: too_large
EOF

my $raw = $t->raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  . "Content-Type: application/json\r\n"
                  . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                  . "zz\r\n{}\r\n0\r\n\r\n");
my $p = LLRTest::parse_response($raw);
refused({ status => $p->{status}, headers => $p->{headers} }, 400,
        'invalid_request', 'a broken chunked body');

my $big = 'y' x (64 * 1024);
$raw = $t->raw(["POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                . "Content-Type: application/json\r\n"
                . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                (map { sprintf("%x\r\n%s\r\n", length $big, $big) } 1 .. 40),
                "0\r\n\r\n"], pause => 0.001);
$p = LLRTest::parse_response($raw);
refused({ status => $p->{status}, headers => $p->{headers} }, 413,
        'too_large', 'a chunked body over client_max_body_size');

# GET /v1/models is an answer, not a refusal

is($t->get('/v1/models')->{status}, 200, 'the model list is no refusal');

# ---- after the route: budgets, rate limits, cooldowns ----------------------

my $r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs },
                 headers => { 'X-Budget' => 'team-a' });
is($r->{status}, 200, 'the budget admits the first request');
$routed++;
refused($t->chat({ model => 'gpt-4o-mini', messages => $msgs },
                 headers => { 'X-Budget' => 'team-a' }),
        429, 'budget', 'the budget is spent');

$r = $t->chat({ model => 'gpt-4o', messages => $msgs },
              headers => { 'X-Rate' => 'team-b' });
is($r->{status}, 200, 'rpm=1 admits the first request');
$routed++;
refused($t->chat({ model => 'gpt-4o', messages => $msgs },
                 headers => { 'X-Rate' => 'team-b' }),
        429, 'rate_limit', 'rpm=1 refuses the second');

# a provider that answers 429 with Retry-After: 60; the attempt failed,
# which is a routed request, not a refusal ...

$r = $t->chat({ model => 'downm', messages => $msgs },
              path => '/f/v1/chat/completions');
ok($r->{status} >= 429, "every attempt failed: $r->{status}");
$routed++;

# ... and the next one is refused without asking it: a 429 while every
# provider asked to wait (its Retry-After), counted as unavailable (not
# as one of the router's own rate limits)

$r = $t->chat({ model => 'downm', messages => $msgs },
              path => '/f/v1/chat/completions');
my $code = ($r->{json} || {})->{error}{code} // '';
is("$r->{status} $code", '429 rate_limit_exceeded',
   'while the provider asks to wait: refused');
$sent{unavailable}++;
is(scalar($down->requests), 1, 'the provider was asked once');

for (1 .. 3) {
    $r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs });
    is($r->{status}, 200, "a routed request ($_)");
    $routed++;
}

my $nsent = 0;
$nsent += $_ for values %sent;

# ---- the status ------------------------------------------------------------

my sub status_after {
    my ($n) = @_;
    my $j;
    my $end = time + 5;
    for (;;) {
        $j = $t->get('/llm/status')->{json} || {};
        my $T = $j->{totals} || {};
        last if ($T->{requests} // 0) + ($T->{rejected} // 0) >= $n
                || time > $end;
        sleep 0.05;
    }
    return $j;
}

my $j = status_after($routed + $nsent);

my sub check_counts {
    my ($j, $what) = @_;

    is($j->{totals}{rejected}, $nsent,
       "$what: totals.rejected counts each refusal once ($nsent)");
    is($j->{totals}{requests}, $routed,
       "$what: totals.requests counts routed requests only ($routed)");
    is_deeply([sort keys %{ $j->{rejected} || {} }], [sort @REASONS],
              "$what: rejected lists every reason");
    is_deeply({ map { $_ => $j->{rejected}{$_} } keys %sent }, \%sent,
              "$what: by reason");
    my $zero = grep { !$sent{$_} && ($j->{rejected}{$_} // -1) == 0 }
               @REASONS;
    is($zero, @REASONS - keys %sent, "$what: the other reasons are 0");
}

check_counts($j, 'JSON');

# the recent ring: the refusals with their reason and status

my @rej = grep { defined $_->{rejected} } @{ $j->{recent} || [] };
is(scalar(@rej), $nsent, 'the recent ring has every refusal');
my %ring;
$ring{$_->{rejected}}++ for @rej;
is_deeply(\%ring, \%sent, 'with its reason');
my ($b) = grep { $_->{rejected} eq 'budget' } @rej;
is($b->{status}, 429, 'a budget refusal: status 429');
is($b->{requested}, 'gpt-4o-mini', 'the requested model');
is($b->{model}, 'gpt-4o-mini', 'and the routed one it was refused for');
is($b->{provider}, 'mockp', 'and its provider');
my ($u) = grep { $_->{rejected} eq 'unknown_url' } @rej;
is($u->{status}, 404, 'an unknown URL: status 404');
is($u->{model}, '', 'no model');
my @routed = grep { !defined $_->{rejected} } @{ $j->{recent} || [] };
is(scalar(@routed), $routed, 'routed requests are in the ring too');
ok(!grep({ exists $_->{rejected} && defined $_->{rejected} } @routed),
   'with "rejected": null');

# the per-second counts hold the same requests

my $ps = $j->{per_second} || {};
is($ps->{seconds}, 60, 'per_second: 60 seconds');
is(scalar(@{ $ps->{requests} || [] }), 60, 'per_second: 60 counts');

my sub sum { my $n = 0; $n += $_ for @{ $_[0] || [] }; return $n }

# the last second is not shown until it is complete

my ($preq, $prej);
my $end = time + 3;
for (;;) {
    ($preq, $prej) = (sum($ps->{requests}), sum($ps->{rejected}));
    last if ($preq >= $routed && $prej >= $nsent) || time > $end;
    sleep 0.3;
    $ps = ($t->get('/llm/status')->{json} || {})->{per_second} || {};
}
is($preq, $routed, 'per_second: the routed requests of the last minute');
is($prej, $nsent, 'per_second: the refusals of the last minute');

# ---- Prometheus ------------------------------------------------------------

my $prom = $t->get('/llm/status?format=prometheus')->{content} // '';
like($prom, qr/^# TYPE llm_route_rejected_total counter$/m,
     'prometheus: llm_route_rejected_total is a counter');
my %pr = $prom =~ /^llm_route_rejected_total\{reason="([a-z_]+)"\} (\d+)$/mg;
is_deeply([sort keys %pr], [sort @REASONS], 'prometheus: every reason');
is_deeply({ map { $_ => $pr{$_} } keys %sent }, \%sent,
          'prometheus: the same counts');

SKIP: {
    my ($rc, $out) = $t->promtool($prom);
    skip 'promtool is not installed', 1 unless defined $rc;
    is($rc, 0, 'promtool accepts the metrics') or diag($out);
}

# ---- a reload keeps them, and a restart with state= ------------------------

ok($t->reload, 'reload');
check_counts($t->get('/llm/status')->{json} || {}, 'after a reload');

$t->stop(quiet => 1);
ok(-s $state, 'the state file was written');
$_->start for $t->mocks;
$t->start;
check_counts($t->get('/llm/status')->{json} || {}, 'after a restart');

$t->stop;

}

done_testing;
