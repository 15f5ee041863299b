#!/usr/bin/perl

# Provider cooldowns:
#
#   1. when every deployment cools down: the one whose cooldown ends first
#      is tried, unless its provider asked to wait; a provider's 429
#      reaches the client as a 429 with its Retry-After
#   2. Retry-After in seconds or as an HTTP-date cools the provider down

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use Time::HiRes qw(time sleep);
use POSIX qw(strftime);

# ==== Every deployment cooling down (was 89-cooldown-last.t) =================
#
# When every deployment is cooling down (issue 20, items 8 and 9).
#
# - One failing provider blocked everyone: with a single provider and the
#   documented failover pattern, one 500 gave every client 503 for the
#   whole cooldown (58 of 58).  nginx never marks the last server of an
#   upstream down: the module now tries the deployment whose cooldown
#   ends first, unless its provider asked to wait with a 429's
#   Retry-After.
# - A provider's 429 reached the client as 503 upstream_failed without
#   Retry-After when no other deployment was left (SDKs raised
#   InternalServerError): it is a 429 with the provider's Retry-After.

{

my $t = LLRTest->new(workers => 2);
my $one = $t->mock(name => 'one');
my $a = $t->mock(name => 'a');
my $b = $t->mock(name => 'b');
my $c = $t->mock(name => 'c');
my $d = $t->mock(name => 'd');

my $proxy = $t->proxy_directives(intercept => 1, attempt => 0,
                                 fallback => '@llm_fallback',
                                 extra => <<'EOF');
            add_header X-Test-Provider $llm_route_provider always;
EOF

$t->config(<<"EOF");
    llm_route_zone llm:1m;

    llm_route_provider one {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host one.example;
        max_fails 1; fail_timeout 5s;
    }
    llm_route_provider a {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host a.example;
        max_fails 1; fail_timeout 20s;
    }
    llm_route_provider b {
        upstream 127.0.0.1:%%MOCK_PORT3%%; scheme http; host b.example;
        max_fails 1; fail_timeout 10s;
    }

    llm_route_provider c {
        upstream 127.0.0.1:%%MOCK_PORT4%%; scheme http; host c.example;
        max_fails 1; fail_timeout 20s;
    }
    llm_route_provider d {
        upstream 127.0.0.1:%%MOCK_PORT5%%; scheme http; host d.example;
        max_fails 1; fail_timeout 20s;
    }

    llm_route_model solo provider=one input=1 output=1;
    llm_route_model cheap provider=c input=1 output=1 quality=0.9;
    llm_route_model dear provider=d input=5 output=5 quality=0.9;

    llm_route_policy duo {
        candidates cheap dear;
        floor 0.5;
        floor_hard 0.5;
    }
    llm_route_model pair provider=a input=1 output=1 upstream_model=pa;
    llm_route_model pair provider=b input=1 output=1 upstream_model=pb;

    llm_route_policy auto {
        candidates solo pair;
        floor 0.1;
        floor_hard 0.1;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        recursive_error_pages on;

        location = /llm/status { llm_route_status; }

        location /v1/ {
            llm_route on;
$proxy
        }

        location \@llm_fallback {
            llm_route on;
$proxy
        }
    }
EOF
$t->start;

my $msgs = [{ role => 'user', content => 'hi' }];

my sub ask {
    my ($model, %h) = @_;
    return $t->chat({ model => $model, messages => $msgs }, headers => \%h);
}

my sub state { $t->get('/llm/status')->{json}{providers}{$_[0]}{state} // '?' }

# ---- one provider, one 500 -------------------------------------------------

my $r = ask('solo', 'X-Mock-Status' => 500);
is($r->{status}, 502, 'solo: its provider fails once (500)');
is(state('one'), 'cooldown', 'and cools down for 5 s');

my %got;
$got{ask('solo')->{status}}++ for 1 .. 20;
diag('during the cooldown: ' . join(', ', map { "$got{$_} x $_" } sort keys %got));
is($got{200}, 20, 'every client is answered during the cooldown: the '
                  . 'last provider is tried');
is(scalar($one->requests), 21, 'the provider had them all');

# ---- two deployments cooling down: the one that ends first ---------------

# both fail: a cools down for 20 s, b for 10 s
$r = ask('pair', 'X-Mock-Status' => 503);
is($r->{status}, 503, 'pair: both deployments fail');
is(state('a') . '/' . state('b'), 'cooldown/cooldown', 'both cool down');

my $na = scalar($a->requests);
$r = ask('pair');
is($r->{status}, 200, 'pair: the next request is answered');
is($r->{headers}{'x-test-provider'}, 'b', 'by b, whose cooldown ends first');
is(scalar($a->requests), $na, 'a was not tried');

# ---- a policy: a candidate cooling down is its failover's last resort -----

$r = ask('dear', 'X-Mock-Status' => 500);
is(state('d'), 'cooldown', 'duo: its candidate "dear" cools down');
$c->set_faults({ 'x-mock-status' => 500 });
$r = ask('duo');
is($r->{status}, 200, 'duo: "cheap" fails, and the request is answered');
is($r->{headers}{'x-test-provider'}, 'd',
   'by "dear", cooling down but the only one left');
$c->set_faults({});

# ---- a 429 with Retry-After is left alone, and passed on as a 429 ---------

$one->set_faults({ 'x-mock-status' => 429, 'x-mock-retry-after' => 30 });
sleep(5.2);     # the 500's cooldown is over
$r = ask('solo');
is($r->{status}, 429, "solo: the provider's 429 reaches the client as 429");
is($r->{headers}{'retry-after'}, 30, "with the provider's Retry-After");
is(($r->{json} || {})->{error}{code}, 'rate_limit_exceeded', 'code');
like(($r->{json} || {})->{error}{message} // '', qr/solo at one \(429\)/,
     'the message names the attempt');

my $n = scalar($one->requests);
$r = ask('solo');
is($r->{status}, 429, 'during the Retry-After: 429 at once');
is(scalar($one->requests), $n, 'without asking the provider');
my $ra = $r->{headers}{'retry-after'} // 0;
ok($ra >= 28 && $ra <= 30, "with what is left of its Retry-After ($ra)");

# a policy: the other candidate takes it
$r = ask('auto');
is($r->{status}, 200, 'auto: a candidate not waiting answers');
is($r->{headers}{'x-test-provider'}, 'b', 'b');

$t->stop;

}

# ==== Retry-After (was 79-retry-after.t) =====================================
#
# A 429's Retry-After, in seconds or as an HTTP-date (RFC 9110 allows
# both), cools the provider down.  (The date form was read as 0: no
# cooldown at all with max_fails 0.)

{

my $t = LLRTest->new;
my $busy = $t->mock(name => 'busy');
my $good = $t->mock(name => 'good');

my $proxy = $t->proxy_directives(route => 1, host => 0, intercept => 1,
                                 attempt => 0, fallback => '@fb');

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    llm_route_provider busy {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host busy.example;
        max_fails 0;
    }
    llm_route_provider good {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host good.example;
    }
    llm_route_model m provider=busy input=1 output=1;
    llm_route_model m2 provider=busy input=1 output=1;
    llm_route_model m2 provider=good input=1 output=1;
    server {
        listen 127.0.0.1:%%PORT%%;
        recursive_error_pages on;
        location /v1/ {
$proxy
        }
        location \@fb {
$proxy
        }
        location = /llm/status { llm_route_status; }
    }
EOF
$t->start;
my $msgs = [{ role => 'user', content => 'hi' }];

my sub state { $t->get('/llm/status')->{json}{providers}{busy}{state} // '?' }

# seconds form: cooled down (control)
my $r = $t->chat({ model => 'm', messages => $msgs },
                 headers => { 'X-Mock-Status' => 429, 'X-Mock-Retry-After' => 3 });
is(state(), 'cooldown', 'Retry-After: 3 cools busy down');
sleep 3.5;
is(state(), 'up', 'and it recovers');

# HTTP-date form, 60 s ahead
my $date = strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + 60));
$r = $t->chat({ model => 'm', messages => $msgs },
              headers => { 'X-Mock-Status' => 429, 'X-Mock-Retry-After' => $date });
is($r->{status}, 429, '429 seen, and passed on as 429 (nothing else left)');
my $ra = $r->{headers}{'retry-after'} // '';
ok($ra =~ /^\d+$/ && $ra >= 55 && $ra <= 61,
   "with the provider's Retry-After in seconds ($ra)");
is(state(), 'cooldown', "Retry-After: $date cools busy down too");
$t->stop;

}

done_testing;
