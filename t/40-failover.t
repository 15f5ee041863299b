#!/usr/bin/perl

# Failover with nginx's idiom (proxy_intercept_errors + error_page to a
# named location with llm_route on):
#
#   1. shared provider health, all-failed JSON errors, the SSE error event
#      of a stream cut after its headers
#   2. at most NGX_HTTP_MAX_URI_CHANGES attempts, and none whose failure
#      could not come back

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

# ==== Failover and health (was 50-failover.t) ================================
#
# Failover with nginx's idiom (proxy_intercept_errors + error_page to a
# named location with llm_route on), shared provider health (max_fails,
# fail_timeout, 429 Retry-After), all-failed JSON errors, and the SSE
# error event of a stream cut after its headers.

{

my $t = LLRTest->new(workers => 2);

my $bad = $t->mock(name => 'bad', faults => { 'x-mock-status' => 503 });
my $busy = $t->mock(name => 'busy', faults => { 'x-mock-status' => 429,
                                                'x-mock-retry-after' => 2 });
my $good = $t->mock(name => 'good');
my $cut = $t->mock(name => 'cut', events => 6,
                   faults => { 'x-mock-cut' => 3 });
my $slow = $t->mock(name => 'slow', faults => { 'x-mock-delay' => 3 });
my $reset = $t->mock(name => 'reset', faults => { 'x-mock-close' => 1 });

my $proxy = $t->proxy_directives(auth => 1, identity => 1, unbuffered => 1,
                                 intercept => 1, timeout => '1s',
                                 extra => <<'EOF');
            add_header X-Test-Model $llm_route_model always;
            add_header X-Test-Provider $llm_route_provider always;
            add_header X-Test-Reason $llm_route_reason always;
EOF

$t->config(<<"EOF");
    llm_route_zone llm:1m;

    llm_route_provider bad {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host bad.example;
        max_fails 1; fail_timeout 2s;
    }
    llm_route_provider busy {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host busy.example;
        max_fails 5; fail_timeout 30s;
    }
    llm_route_provider good {
        upstream 127.0.0.1:%%MOCK_PORT3%%; scheme http; host good.example;
    }
    llm_route_provider cut {
        upstream 127.0.0.1:%%MOCK_PORT4%%; scheme http; host cut.example;
    }
    llm_route_provider refused {
        upstream 127.0.0.1:1; scheme http; host refused.example;
        max_fails 3; fail_timeout 30s;
    }

    # one model at three providers: the failing ones first by weight
    llm_route_model m provider=bad  input=1 output=1 quality=0.9 weight=100
                    upstream_model=m-bad;
    llm_route_model m provider=busy input=1 output=1 quality=0.9 weight=10
                    upstream_model=m-busy;
    llm_route_model m provider=good input=1 output=1 quality=0.9 weight=1
                    upstream_model=m-good;

    llm_route_model onlybad provider=bad input=1 output=1 quality=0.9;
    llm_route_model onlyrefused provider=refused input=1 output=1
                    quality=0.9;
    llm_route_model cutter provider=cut input=1 output=1 quality=0.9;

    llm_route_provider slow {
        upstream 127.0.0.1:%%MOCK_PORT5%%; scheme http; host slow.example;
    }
    llm_route_provider reset {
        upstream 127.0.0.1:%%MOCK_PORT6%%; scheme http; host reset.example;
    }

    # a timeout, then a connection closed without an answer, then success
    llm_route_model t provider=slow  input=1 output=1 weight=100;
    llm_route_model t provider=reset input=1 output=1 weight=10;
    llm_route_model t provider=good  input=1 output=1 weight=1
                    upstream_model=t-good;

    llm_route_model cheap provider=refused input=0.1 output=0.1
                    quality=0.9;
    llm_route_model dear provider=good input=5 output=5 quality=0.95;

    llm_route_policy auto {
        candidates cheap dear;
        floor 0.5;
        floor_hard 0.5;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        recursive_error_pages on;
        client_body_buffer_size 1m;

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

my $msgs = [{ role => 'user', content => 'Say hello.' }];

# ---- deployments fail over -----------------------------------------------

my $r = $t->chat({ model => 'm', messages => $msgs });
is($r->{status}, 200, 'm: the client sees a success');
is($r->{headers}{'x-test-provider'}, 'good', 'm: answered by the live provider');
is($r->{headers}{'x-test-model'}, 'm-good', 'm: with its model name');
is($r->{headers}{'x-test-attempt'}, 3, 'm: third attempt');
like($r->{headers}{'x-test-reason'} // '', qr/failover 3/,
     'm: the receipt tells the failover');
is(scalar($bad->requests), 1, 'bad provider tried once');
is(scalar($busy->requests), 1, 'busy provider tried once');
is(scalar($good->requests), 1, 'good provider answered');
is(($good->last->{json} || {})->{model}, 'm-good',
   'good provider received its own model name');

# both failing providers are cooling down now, for every worker

for my $i (1 .. 6) {
    $r = $t->chat({ model => 'm', messages => $msgs });
    is($r->{headers}{'x-test-provider'}, 'good', "m again ($i): good");
    is($r->{headers}{'x-test-attempt'}, 1, "m again ($i): first attempt");
}

is(scalar($bad->requests), 1, 'bad provider not retried during its cooldown');
is(scalar($busy->requests), 1, 'busy provider not retried during Retry-After');

my $st = $t->get('/llm/status')->{json} || {};
is($st->{providers}{bad}{state}, 'cooldown', 'status: bad is cooling down');
is($st->{providers}{busy}{state}, 'cooldown', 'status: busy is cooling down');
is($st->{providers}{good}{state}, 'up', 'status: good is up');
cmp_ok($st->{providers}{bad}{failures}, '>=', 1, 'status: bad failures');

# after the cooldowns the providers come back

$bad->set_faults({});
$busy->set_faults({});
sleep 3;

my %seen;
for my $i (1 .. 12) {
    $r = $t->chat({ model => 'm', messages => $msgs });
    $seen{$r->{headers}{'x-test-provider'} // ''}++;
}
ok($seen{bad}, 'bad provider is used again after fail_timeout');
ok($seen{busy}, 'busy provider is used again after Retry-After');
is($t->get('/llm/status')->{json}{providers}{bad}{state}, 'up',
   'status: bad is up again');

# ---- everything failed ---------------------------------------------------

$bad->set_faults({ 'x-mock-status' => 503 });

$r = $t->chat({ model => 'onlybad', messages => $msgs });
is($r->{status}, 503, 'only failures of 503: 503');
is($r->{json}{error}{code}, 'upstream_failed', 'all failed: code');
like($r->{json}{error}{message}, qr/onlybad at bad \(503\)/,
     'all failed: the message names what was tried');
like($r->{headers}{'content-type'}, qr{application/json}, 'all failed: JSON');

# its only provider is cooling down: tried all the same, as nginx never
# marks the last server of an upstream down (issue 20, 9)
my $before = scalar($bad->requests);
$r = $t->chat({ model => 'onlybad', messages => $msgs });
is(scalar($bad->requests), $before + 1,
   'cooling down, nothing else left: the provider is tried anyway');
is($r->{status}, 503, 'and its failure answered: 503');
is($r->{json}{error}{code}, 'upstream_failed', 'cooling down: code');

$r = $t->chat({ model => 'onlyrefused', messages => $msgs });
is($r->{status}, 502, 'connection refused: 502');
like($r->{json}{error}{message} // '', qr/\(502\)/,
     'connection refused: the message has the status');

# ---- a timeout and a reset count as failures too -------------------------

$r = $t->chat({ model => 't', messages => $msgs });
is($r->{status}, 200, 'timeout and reset: the client sees a success');
is($r->{headers}{'x-test-provider'}, 'good', 'timeout and reset: from good');
is($r->{headers}{'x-test-attempt'}, 3, 'timeout and reset: third attempt');
like($r->{headers}{'x-test-reason'} // '', qr/at slow failed \(504\)/,
     'the timeout is a 504 failure');
is(scalar($slow->requests), 1, 'the slow provider was tried once');
is(scalar($reset->requests), 1, 'the resetting provider was tried once');

$st = $t->get('/llm/status')->{json} || {};
is($st->{providers}{slow}{state}, 'cooldown', 'status: slow is cooling down');
is($st->{providers}{reset}{state}, 'cooldown', 'status: reset is cooling down');

# ---- a policy fails over to its next candidate ---------------------------

$r = $t->chat({ model => 'auto', messages => $msgs });
is($r->{status}, 200, 'policy: success');
is($r->{headers}{'x-test-model'}, 'dear', 'policy: next candidate');
is($r->{headers}{'x-test-attempt'}, 2, 'policy: second attempt');

# a body held in memory whose messages are linked from the client's
# buffer, not copied (over 16 KB): the next candidate gets all of it

my $long = [ map { { role => 'user', content => "long $_ " . ('y' x 300) } }
                 1 .. 100 ];
$good->clear;
$r = $t->chat({ model => 'auto', messages => $long });
is($r->{status}, 200, 'policy, 33 KB body: success');
is($r->{headers}{'x-test-attempt'}, 2, 'policy, 33 KB body: second attempt');
is_deeply(($good->last || {})->{json}{messages}, $long,
          'policy, 33 KB body: the next candidate got every message');

# ---- a stream cut after its headers --------------------------------------

my $s = $t->stream_request(body => { model => 'cutter', messages => $msgs,
                                     stream => JSON::PP::true });
is($s->{status}, 200, 'cut stream: headers were sent');
ok(!$s->{done}, 'cut stream: no [DONE]');
my @err = grep { $_->{json} && $_->{json}{error} } @{$s->{events}};
is(scalar @err, 1, 'cut stream: ends with one error event');
is($err[0]{json}{error}{code}, 'stream_interrupted', 'cut stream: its code')
    if @err;

sleep 1;
$st = $t->get('/llm/status')->{json} || {};
cmp_ok($st->{models}{cutter}{errors} // 0, '>=', 1,
       'cut stream: counted as an error');

$t->stop;

}

# ==== The redirect limit (was 69-failover-limit.t) ===========================
#
# Each failover is an error_page redirect to the named location, and nginx
# allows a request NGX_HTTP_MAX_URI_CHANGES (10) of them.  So
# llm_route_max_attempts is at most 10 (it took 16, and the 11th redirect
# ended in nginx's HTML 500 "redirection cycle"), and when no redirect
# would be left to bring a failure back (a rewrite took one), the module
# stops and answers "Every attempt failed" itself.

{

my $t = LLRTest->new(workers => 1);
my $bad = $t->mock(name => 'bad', faults => { 'x-mock-status' => 503 });
my $good = $t->mock(name => 'good');

my $proxy = $t->proxy_directives(intercept => 1,
                                 fallback => '@llm_fallback');

my $prov = '';
my $dep_all_bad = '';
my $dep_12th_good = '';
for my $i (1 .. 12) {
    $prov .= "    llm_route_provider p$i { upstream 127.0.0.1:%%MOCK_PORT%%;"
           . " scheme http; host p$i.example; base_path /v1; max_fails 0; }\n";
    $dep_all_bad .= "    llm_route_model allbad provider=p$i input=1 output=1"
                  . " weight=" . (100 - $i) . " upstream_model=allbad-$i;\n";
    $dep_12th_good .= "    llm_route_model last provider=p$i input=1 output=1"
                    . " weight=" . (100 - $i) . " upstream_model=last-$i;\n"
        if $i < 12;
}

$t->config(<<"EOF");
    llm_route_zone llm:1m;
$prov
    llm_route_provider good { upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http;
                              host good.example; base_path /v1; }
$dep_all_bad
$dep_12th_good
    llm_route_model last provider=good input=1 output=1 weight=1
                    upstream_model=last-good;

    server {
        listen 127.0.0.1:%%PORT%%;
        recursive_error_pages on;
        llm_route_max_attempts 10;

        location /v1/ {
            llm_route on;
$proxy
        }
        location /old/ {
            rewrite ^/old(/.*)\$ \$1 last;
        }
        location \@llm_fallback {
            llm_route on;
$proxy
        }
    }
EOF
$t->start;

# 12 deployments, all failing: 10 attempts and the JSON 503
my $r = $t->chat({ model => 'allbad',
                   messages => [{ role => 'user', content => 'hi' }] });
is(scalar(my @q = $bad->requests), 10, '10 of the 12 deployments tried');
is($r->{status}, 503, 'all failed: 503 (every failure was a 503)');
like($r->{content} // '', qr/Every attempt failed \(10 of at most 10\)/,
     'the JSON error, not nginx\'s page')
    or diag("status $r->{status}: $r->{content}");
unlike($t->error_log, qr/redirection cycle/, 'no redirection cycle');

# a rewrite takes one redirect first: 9 attempts, then the JSON 503
my $n0 = scalar(my @q0 = $bad->requests);
$r = $t->chat({ model => 'allbad',
                messages => [{ role => 'user', content => 'hi' }] },
              path => '/old/v1/chat/completions');
is(scalar(my @q1 = $bad->requests) - $n0, 9,
   'after a rewrite: 9 attempts, the redirects left');
is($r->{status}, 503, 'after a rewrite: 503');
like($r->{content} // '', qr/Every attempt failed \(9 of at most 10\)/,
     'after a rewrite: the JSON error')
    or diag("status $r->{status}: $r->{content}");
unlike($t->error_log, qr/redirection cycle/, 'no redirection cycle');

my ($rc, $out) = $t->nginx_t_http(<<'EOF');
    llm_route_max_attempts 11;
EOF
isnt($rc, 0, 'nginx -t rejects llm_route_max_attempts 11');
like($out, qr/between 1 and 10/, 'and gives the bounds');

$t->stop;

}

done_testing;
