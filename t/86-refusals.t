#!/usr/bin/perl

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

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $proxy = "            llm_route on;\n" . $t->proxy_directives;

sub conf {
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

sub ask {
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
$t->config(conf('200k'));
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

$t->done_testing;
