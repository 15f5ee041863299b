#!/usr/bin/perl

# Budgets: llm_route_budget KEY LIMIT [period=...].  Each answer of the
# mock costs exactly $1 here (2 completion tokens at $500,000 per 1M, input
# free), so a $5 budget admits exactly 5 requests.  Sequential and
# concurrent load, other keys unaffected, an empty key unlimited, the
# OpenAI-shaped 429 with Retry-After, the status and Prometheus output,
# limits kept across reload and restart (state=), a period that resets,
# a zone too full to track new keys, and nginx -t errors (data blocks).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRBlocks;
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);
use IO::Socket::INET;

my $t = LLRTest->new(workers => 2);
my $m = $t->mock;

my $state = $t->dir . '/llr.state';

my $proxy = $t->proxy_directives(route => 1, attempt => 0);
my $proxy_nolimit = $t->proxy_directives(route => 1, keepalive => 0,
                                         attempt => 0);

sub conf {
    my (%o) = @_;
    my $zone = $o{zone} // "llm:1m state=$state state_interval=1s";
    my $budget = $o{budget} // 'llm_route_budget $http_x_team 5;';
    my $c = $t->routed_http(
        http => <<'EOF',
    llm_route_model dollar provider=mockp input=0 output=500000
                    context=128000 quality=0.9;
    llm_route_model free provider=mockp input=0 output=0
                    context=128000 quality=0.9;
EOF
        location => $budget,
        server => <<"EOF" . ($o{server} // ''));
        location = /llm/status { llm_route_status; }

        location /minute/ {
            llm_route_budget "m-\$http_x_team" 2 period=minute;
$proxy
        }

        location /nolimit/ {
            # a level's own list replaces the inherited one: none here
$proxy_nolimit
        }
EOF
    $c =~ s/llm_route_zone llm:1m;/llm_route_zone $zone;/;
    return $c;
}

my $msgs = [{ role => 'user', content => 'Say hello.' }];

sub ask {
    my ($team, %o) = @_;
    my %body = (model => $o{model} // 'dollar', messages => $msgs);
    $body{max_tokens} = $o{max_tokens} // 2;
    delete $body{max_tokens} if $o{max_tokens} && $o{max_tokens} eq 'none';
    my %h = defined $team ? ('X-Team' => $team) : ();
    $h{'X-Mock-Delay'} = $o{delay} if $o{delay};
    return $t->chat(\%body, headers => \%h,
                    path => ($o{path} // '/v1') . '/chat/completions');
}

# after a short pause: the last request is settled in its log phase, just
# after its last byte went out
sub status {
    select(undef, undef, undef, 0.1);
    return $t->get('/llm/status')->{json} || {};
}

$t->config(conf());
$t->start;

# ---- sequential: exactly up to the limit ----------------------------------

# each request settled (log phase) before the next: see t/51-rate.t
my @st = map { select(undef, undef, undef, 0.05); ask('alpha')->{status} }
         1 .. 7;
is("@st", '200 200 200 200 200 429 429',
   'sequential: $5 admits exactly 5 requests of $1');

my $r = ask('alpha');
is($r->{status}, 429, 'past the limit: 429');
is($r->{json}{error}{type}, 'insufficient_quota', 'error type');
is($r->{json}{error}{code}, 'budget_exceeded', 'error code');
like($r->{json}{error}{message}, qr/day budget of \$5\.00 for "alpha"/,
     'the message names the budget and the key');
like($r->{headers}{'content-type'}, qr{application/json}, 'JSON');

my $now = time;
my $next_day = (int($now / 86400) + 1) * 86400;
my $ra = $r->{headers}{'retry-after'} // -1;
ok(abs($ra - ($next_day - $now)) <= 2,
   "Retry-After ($ra) is the time until 00:00 UTC");
my $iso = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($next_day));
like($r->{json}{error}{message}, qr/resets at \Q$iso\E/,
     'the message tells when it resets');

is(scalar(grep { ($_->{json} || {})->{model} } $m->requests), 5,
   'the provider saw only the admitted requests');

my $s = status();
my $b = $s->{budgets}{alpha} || {};
is($b->{spent_usd}, 5, 'status: spent_usd');
is($b->{limit_usd} + 0, 5, 'status: limit_usd');
is($b->{reserved_usd} + 0, 0, 'status: nothing reserved');
is($b->{period}, 'day', 'status: period');
is($b->{resets_at}, $iso, 'status: resets_at');
cmp_ok($b->{rejected}, '>=', 3, 'status: rejected counted');

# refused requests are not counted as routed requests of the model
is($s->{models}{dollar}{requests}, 5, 'refusals are not model requests');

# ---- other keys and the empty key -------------------------------------------

is(ask('beta')->{status}, 200, 'another key is unaffected');
is(status()->{budgets}{beta}{spent_usd} + 0, 1, 'beta spent $1');

@st = map { ask(undef)->{status} } 1 .. 8;
is("@st", join(' ', (200) x 8), 'no key: not limited');
@st = map { ask('')->{status} } 1 .. 2;
is("@st", '200 200', 'an empty key: not limited');
ok(!exists status()->{budgets}{''}, 'the empty key is not tracked');

is(ask('alpha', path => '/nolimit/v1')->{status}, 200,
   'a location with its own (empty) list is not limited');

# a free model spends nothing
@st = map { ask('gamma', model => 'free')->{status} } 1 .. 8;
is("@st", join(' ', (200) x 8), 'a free model never reaches the limit');

# ---- concurrent load --------------------------------------------------------

# exact estimates (max_tokens 2 = the actual 2 tokens): at most $5, ever

sub burst {
    my ($team, $n, %o) = @_;
    my @pids;
    my $dir = $t->dir;
    for my $i (1 .. $n) {
        my $pid = fork // die;
        if ($pid == 0) {
            my $res = ask($team, delay => 0.3, %o);
            open(my $fh, '>', "$dir/burst-$team-$i") or POSIX::_exit(1);
            print $fh $res->{status};
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    my %c;
    for my $i (1 .. $n) {
        open(my $fh, '<', "$dir/burst-$team-$i") or next;
        $c{<$fh>}++;
        close $fh;
    }
    return \%c;
}

my $c = burst('delta', 12);
is($c->{200}, 5, 'concurrent, exact estimates: 5 of 12 admitted');
is($c->{429}, 7, 'concurrent: the others get 429');
is(status()->{budgets}{delta}{spent_usd} + 0, 5,
   'concurrent: spent exactly $5');

# estimates below the cost ($0.50 for $1): the overspend is bounded by what
# was in flight when the limit was reached

$c = burst('epsilon', 12, max_tokens => 1);
my $spent = status()->{budgets}{epsilon}{spent_usd};
cmp_ok($c->{200}, '>=', 5, "low estimates: $c->{200} admitted");
cmp_ok($c->{200}, '<=', 10, 'low estimates: at most 2x the limit admitted');
is($spent + 0, $c->{200}, 'low estimates: spent = admitted x $1');

# no max_tokens: the estimate (256 tokens, $128) takes the whole budget
# while a request is in flight
$c = burst('zeta', 6, max_tokens => 'none');
is($c->{200}, 1, 'large estimates: one in flight at a time');

# ---- reload ---------------------------------------------------------------

ok($t->reload, 'reload');
is(ask('alpha')->{status}, 429, 'reload: alpha still refused');
is(status()->{budgets}{alpha}{spent_usd} + 0, 5, 'reload: spent kept');
is(ask('beta')->{status}, 200, 'reload: beta still admitted');

# raising the limit keeps what was spent (identity: key text and period)

ok($t->reload(config => conf(budget => 'llm_route_budget $http_x_team 6;')),
   'reload with a $6 limit');
is(ask('alpha')->{status}, 200, '$6: alpha gets one more');
is(ask('alpha')->{status}, 429, '$6: and no more');
is(status()->{budgets}{alpha}{limit_usd} + 0, 6, 'status: new limit');

# ---- restart with state= ------------------------------------------------------

$t->stop(quiet => 1);
ok(-s $state, 'state file written at exit');
$t->start;
$m->start;
is(ask('alpha')->{status}, 429, 'restart: alpha still refused');
$s = status();
is($s->{budgets}{alpha}{spent_usd} + 0, 6, 'restart: alpha spent kept');
is($s->{budgets}{beta}{spent_usd} + 0, 2, 'restart: beta spent kept');
like($t->error_log, qr/state file .* loaded: .* \d+ budgets/,
     'restart: the log counts the budgets loaded');

# ---- Prometheus --------------------------------------------------------------

my $p = $t->get('/llm/status?format=prometheus')->{content} // '';
like($p, qr/^llm_route_budget_spent_usd\{key="alpha",period="day"\} 6\.0+$/m,
     'prometheus: spent');
like($p, qr/^llm_route_budget_limit_usd\{key="alpha",period="day"\} 6\.0+$/m,
     'prometheus: limit');
like($p, qr/^# TYPE llm_route_budget_spent_usd gauge$/m, 'prometheus: type');

SKIP: {
    my ($rc, $out) = $t->promtool($p) or skip 'no promtool', 1;
    is($rc, 0, 'promtool check metrics') or diag($out);
}

# ---- a period that resets: period=minute -------------------------------------

# wait for a fresh minute with room for the requests
sleep 0.2 while (time % 60) > 50;

@st = map { ask('omega', path => '/minute/v1')->{status} } 1 .. 3;
is("@st", '200 200 429', 'minute budget of $2');
$r = ask('omega', path => '/minute/v1');
$now = time;
my $next_min = (int($now / 60) + 1) * 60;
$ra = $r->{headers}{'retry-after'} // -1;
ok(abs($ra - ($next_min - $now)) <= 1.5,
   "minute: Retry-After $ra is the time to the next minute");
$s = status();
my ($mk) = grep { /^m-omega/ } keys %{$s->{budgets}};
$mk //= 'm-omega';
is($s->{budgets}{$mk}{resets_at},
   strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($next_min)), 'minute: resets_at');
is($s->{budgets}{$mk}{period}, 'minute', 'minute: period');

sleep($next_min - time + 0.3);
is(ask('omega', path => '/minute/v1')->{status}, 200,
   'minute: admitted again after the reset');
is(status()->{budgets}{$mk}{spent_usd} + 0, 1,
   'minute: a new period starts from zero');

# ---- a worker killed with requests in flight ---------------------------------
#
# Its reservations are released by the workers the master starts in its
# place, and its requests charged at their estimates ($1 each here:
# max_tokens 2 at $500,000 per 1M).  Settled requests leave nothing
# behind to release twice.

is(ask('kappa')->{status}, 200, 'crash: a settled request first');

sub kappa {
    my $b = status()->{budgets}{kappa} || {};
    return ($b->{in_flight} // -1, $b->{reserved_usd} // -1,
            $b->{spent_usd} // -1);
}

my $body = LLRTest::json_encode({ model => 'dollar', messages => $msgs,
                                  max_tokens => 2 });
my @held;
for (1 .. 2) {
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $t->port, Proto => 'tcp')
        or die "connect: $!";
    print $sock "POST /v1/chat/completions HTTP/1.1\r\n"
        . "Host: localhost\r\nContent-Type: application/json\r\n"
        . "X-Team: kappa\r\nX-Mock-Delay: 30\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
    push @held, $sock;
}

my $deadline = time + 10;
my @k = kappa();
@k = kappa() while $k[0] != 2 && time < $deadline;
is_deeply([@k], [2, 2, 1], 'crash: 2 requests in flight, $2 reserved');

$t->kill_workers($t->worker_pids);
close $_ for @held;

is_deeply([kappa()], [0, 0, 3],
          'crash: released after the respawn, charged at the estimates');

# one line per respawned worker that found holds of dead workers: one
# worker may release both requests, or each one (the CI saw that split)
my ($nreq, $pusd) = (0, 0);
my $log = $t->error_log;
my $released = 'released the budget and rate reservations of (\d+) '
               . 'request\(s\) left in flight by exited worker processes, '
               . '(\d+) pUSD charged';
while ($log =~ /\[notice\].*$released/g) {
    $nreq += $1;
    $pusd += $2;
}
is("$nreq $pusd", '2 2000000000000',
   'crash: the release is logged (2 requests, $2 charged)');

# the limit is $6 since the reload above
@st = map { ask('kappa')->{status} } 1 .. 4;
is("@st", '200 200 200 429', 'crash: the budget admits what is left ($3)');

$t->kill_workers($t->worker_pids);
is_deeply([kappa()], [0, 0, 6],
          'crash: nothing in flight, nothing charged twice');

# ---- a zone too full for new keys ------------------------------------------------

$t->stop(quiet => 1);
unlink $state;

# a small zone: little room for budget nodes (320k: the counters of its
# 32 names and the ring fit in half of it; 200k no longer held them with
# the operators', the cache and the quality loop's counters of zone
# version 9)
$t->config(conf(zone => 'llm:' . ($ENV{LLR_SMALL_ZONE} // '320k')));
$t->start;
$m->start;

# keys of a free model spend nothing: idle, they are evicted for new keys
my $bad = 0;
for my $i (1 .. 800) {
    $bad++ if ask("free$i", model => 'free')->{status} != 200;
}
is($bad, 0, 'idle keys (nothing spent) are evicted: 800 keys all admitted');
my $nb = scalar keys %{status()->{budgets}};
cmp_ok($nb, '<', 800, "the zone holds fewer ($nb) than 800 keys");

# keys with spend are never evicted: the zone fills, then new keys are refused
my ($ok, $full) = (0, 0);
for my $i (1 .. 1500) {
    $r = ask("paid$i");
    if ($r->{status} == 200) {
        $ok++;
    } elsif ($r->{status} == 503) {
        $full++;
        last if $full >= 3;
    }
}
cmp_ok($ok, '>', 10, "$ok paid keys were tracked");
is($full, 3, 'then a new key is refused with 503');
is($r->{json}{error}{code}, 'limits_zone_full', '503: code');
ok($r->{headers}{'retry-after'}, '503: Retry-After');
like($t->error_log, qr/\[error\].*too full to track the key "paid\d+"/,
     'the refusal is logged at error level');

$s = status();
my @paid = grep { /^paid\d+$/ } keys %{$s->{budgets}};
is(scalar @paid, $ok, 'every paid key is still tracked');
is(scalar(grep { $s->{budgets}{$_}{spent_usd} != 1 } @paid), 0,
   'with its spend');
is(ask('paid1')->{status}, 200, 'a tracked key is still admitted');

$t->stop(quiet => 1);

# ---- nginx -t ------------------------------------------------------------------

# the location's budget of each block in the configuration of this file;
# "zone: none" leaves out llm_route_zone (and the status location)
my $budget_conf = sub {
    my ($s) = @_;
    my $c = conf(budget => $s->{location});
    if (($s->{zone} // '') eq 'none') {
        $c =~ s/^\s*llm_route_zone [^;]*;//m;
        $c =~ s/location = \/llm\/status \{ llm_route_status; \}//;
    }
    return $c;
};

run_blocks($t, config => $budget_conf, data => <<'EOF');
=== bad limit
--- nginx_t: fails
--- location: llm_route_budget $http_x_team 5x;
--- error_like
invalid limit "5x" in "llm_route_budget"

=== bad period
--- nginx_t: fails
--- location: llm_route_budget $http_x_team 5 period=year;
--- error_like
invalid parameter "period=year" in "llm_route_budget"

=== too many decimals
--- nginx_t: fails
--- location: llm_route_budget $http_x_team 0.0000000000001;

=== no zone
--- nginx_t: fails
--- zone: none
--- location: llm_route_budget $http_x_team 5;
--- error_like
"llm_route_budget" in .*:\d+ needs "llm_route_zone"

=== a good budget
--- nginx_t: ok
--- location: llm_route_budget $http_x_team 2.50 period=week;
EOF

$t->done_testing;
