#!/usr/bin/perl

# A fleet (issue 26): two nginx instances, one redis-server of the test's
# own, the same configuration.  Budgets, rate limits and provider
# cooldowns are shared through Redis (llm_route_redis, fleet.c):
#
#   - a budget spent on one instance is refused on the other once a sync
#     has passed, and what both spent is in Redis, exactly;
#   - 32 concurrent clients over both instances, a $5 budget at $1 per
#     request: the fleet admits 5 plus at most what each instance admitted
#     before it heard of the other (docs/fleet.md, "The overspend
#     bound"), measured and printed; never more than 5 per instance;
#   - rpm= shared the same way;
#   - a provider cooled down on one instance is cooling down on the other
#     within one sync interval.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRRedis;
use LLRFleet;
use POSIX ();
use Time::HiRes qw(time sleep);

plan skip_all => 'redis-server is not installed' unless LLRRedis->available;

my $SYNC = 100;                     # ms
my $TIMEOUT = 200;                  # ms
my $USD = $LLRFleet::USD;

my $f = LLRFleet->new(instances => 2, sync => $SYNC, timeout => $TIMEOUT,
                      prefix => 't66:');
my ($ia, $ib) = $f->instances;

sub ask { $f->ask(@_) }
sub redis_status { $f->redis_status(@_) }
sub settle_sync { $f->settle_sync(@_) }
sub redis_spent { $f->redis_spent(@_) }

ok(settle_sync(), 'both instances sync with Redis');
is(redis_status($ia)->{state}, 'up', 'instance A: up');
isnt(redis_status($ia)->{instance}, redis_status($ib)->{instance},
     'two instances, two ids');

# ---- the status: JSON and Prometheus ---------------------------------------

{
    my $s = $ia->get('/llm/status')->{json} || {};
    my $rd = $s->{redis} || {};
    is($rd->{state}, 'up', 'status JSON: redis.state');
    like($rd->{last_sync} // '', qr/^\d{4}-\d\d-\d\dT[\d:]{8}Z$/,
         'status JSON: redis.last_sync');
    ok(defined $rd->{lag_ms} && defined $rd->{errors},
       'status JSON: redis.lag_ms, redis.errors');

    my $prom = $ia->get('/llm/status?format=prometheus')->{content} // '';
    like($prom, qr/^llm_route_redis_up 1$/m, 'Prometheus: llm_route_redis_up');
    like($prom, qr/^llm_route_redis_syncs_total [1-9]\d*$/m,
         'Prometheus: llm_route_redis_syncs_total');
    like($prom, qr/^llm_route_redis_last_sync_seconds \d+(\.\d+)?$/m,
         'Prometheus: llm_route_redis_last_sync_seconds');
  SKIP: {
        my ($rc, $out) = $ia->promtool($prom);
        skip 'promtool is not installed', 1 unless defined $rc;
        is($rc, 0, 'promtool accepts the metrics') or diag($out);
    }
}

# ---- a budget spent on A is refused on B ----------------------------------

# (a key new to an instance counts only locally until its next sync: B
# spends first, so that it has the fleet's view of the key)
is(ask($ib, 'alpha')->{status}, 200, 'B: $1 of $5 spent');
ok(settle_sync(), 'synced');
my @st = map { sleep 0.05; ask($ia, 'alpha')->{status} } 1 .. 3;
is("@st", '200 200 200', 'A: $3 more');
ok(settle_sync(), 'synced');

@st = map { sleep 0.05; ask($ib, 'alpha')->{status} } 1 .. 3;
is("@st", '200 429 429', 'B: admits the $1 left, then 429');

my $x = ask($ib, 'alpha');
is($x->{json}{error}{code}, 'budget_exceeded', 'the refusal is a budget\'s');
ok(settle_sync(), 'synced');
is(ask($ia, 'alpha')->{status}, 429, 'A: refused too, B\'s spend seen');
is(redis_spent('alpha'), 5 * $USD, 'Redis: $5 spent, exactly');

is(ask($ib, 'beta')->{status}, 200, 'another key is not affected');

# ---- 32 concurrent clients over both ----------------------------------------

# each client: one request (the answer takes 300 ms), its instance, its
# status and when it was sent
sub burst {
    my ($team, $n) = @_;
    my $dir = $ia->dir;
    my @pids;
    my $t0 = time;
    for my $i (0 .. $n - 1) {
        my $pid = fork // die;
        if ($pid == 0) {
            my $t = $i % 2 ? $ib : $ia;
            my $sent = time;
            my $res = ask($t, $team, delay => 0.3);
            open(my $fh, '>', "$dir/burst-$team-$i") or POSIX::_exit(1);
            printf $fh "%d %d %.6f\n", $i % 2, $res->{status}, $sent - $t0;
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    my @res;
    for my $i (0 .. $n - 1) {
        open(my $fh, '<', "$dir/burst-$team-$i") or next;
        my ($inst, $status, $sent) = split ' ', scalar <$fh>;
        close $fh;
        push @res, { inst => $inst, status => $status, sent => $sent };
    }
    return @res;
}

# A_j of docs/fleet.md: the most requests instance j admitted within one
# sync interval plus a round trip (at most the timeout), from the clients'
# send times (a request is admitted as soon as its body is read)
sub admitted_within {
    my ($res, $inst, $w) = @_;
    my @t = sort { $a <=> $b }
            map { $_->{sent} }
            grep { $_->{inst} == $inst && $_->{status} == 200 } @$res;
    my $most = 0;
    for my $i (0 .. $#t) {
        my $n = grep { $_ >= $t[$i] && $_ < $t[$i] + $w } @t;
        $most = $n if $n > $most;
    }
    return $most;
}

my @res = burst('gamma', 32);
is(scalar(@res), 32, '32 clients answered');
my @ok = grep { $_->{status} == 200 } @res;
my @other = grep { $_->{status} != 200 && $_->{status} != 429 } @res;
is(scalar(@other), 0, 'every answer is 200 or 429');
my @per = map { my $j = $_; scalar grep { $_->{inst} == $j } @ok } (0, 1);
my $w = ($SYNC + $TIMEOUT) / 1000;
my @aj = map { admitted_within(\@res, $_, $w) } (0, 1);
my $bound = 5 + $aj[0] + $aj[1];

diag(sprintf("fleet budget \$5, \$1/request, 32 clients, sync=%dms: "
             . "admitted %d (%d + %d), bound %d (5 + %d + %d)",
             $SYNC, scalar(@ok), @per, $bound, @aj));

cmp_ok(scalar(@ok), '>=', 5, 'the fleet admits at least the $5');
cmp_ok(scalar(@ok), '<=', $bound, 'within the documented bound');
cmp_ok($per[0], '<=', 5, 'A alone never admits more than $5');
cmp_ok($per[1], '<=', 5, 'B alone never admits more than $5');

ok(settle_sync(), 'synced');
is(redis_spent('gamma'), scalar(@ok) * $USD,
   'Redis: what was admitted, exactly (nothing lost or counted twice)');
is(ask($ia, 'gamma')->{status}, 429, 'then A refuses');
is(ask($ib, 'gamma')->{status}, 429, 'and B refuses');

# ---- rpm shared -------------------------------------------------------------

is(ask($ib, 'r1', path => '/rate/v1')->{status}, 200, 'rpm=4: 1 on B');
ok(settle_sync(), 'synced');
@st = map { ask($ia, 'r1', path => '/rate/v1')->{status} } 1 .. 2;
is("@st", '200 200', 'rpm=4: 2 on A');
ok(settle_sync(), 'synced');
@st = map { ask($ib, 'r1', path => '/rate/v1')->{status} } 1 .. 2;
is("@st", '200 429', 'B: the 4th is admitted, the 5th refused');
$x = ask($ib, 'r1', path => '/rate/v1');
is($x->{json}{error}{code}, 'rate_limit_exceeded', 'a rate limit\'s 429');
is($x->{headers}{'x-ratelimit-remaining-requests'}, 0,
   'x-ratelimit-remaining-requests counts the fleet');
is(ask($ib, 'r2', path => '/rate/v1')->{status}, 200,
   'another key is not affected');

# ---- a cooldown on A is seen by B ----------------------------------------

sub cooldown {
    my ($t) = @_;
    my $s = $t->get('/llm/status')->{json} || {};
    return $s->{providers}{coolp}{cooldown_until};
}

ok(!cooldown($ib), 'B: coolp is up');
$x = ask($ia, 'cold', model => 'cool', status => 500, path => '/fo/v1');
is($x->{status}, 502, 'A: coolp fails (500)');
ok(cooldown($ia), 'A: coolp cools down (max_fails 1)');

my $t0 = time;
my $seen;
while (time < $t0 + 5) {
    last if $seen = cooldown($ib);
    sleep 0.01;
}
my $ms = int((time - $t0) * 1000);
ok($seen, "B: coolp cooling down too, after ${ms} ms");
diag("cooldown seen by the other instance after $ms ms (sync=${SYNC}ms)");
is($seen, cooldown($ia), 'the same end on both');

$ia->stop;
$ib->stop;
$ia->check_log;
$ib->check_log;

done_testing();
