#!/usr/bin/perl

# llm_route_redis: the fleet's Redis connection alone (issue 26, before
# limits and health sync through it).  One non-blocking connection per
# worker on nginx's event loop: it connects, authenticates, selects its
# database, loads the sync script and syncs every interval; it survives a
# Redis killed and restarted, a slow Redis, a partition, a script cache
# flushed, a reload and a killed worker, and a request never waits for it.
# $llm_route_redis_status shows the instance's view (the status JSON's
# "redis" object).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRRedis;
use Time::HiRes qw(time sleep);

plan skip_all => 'redis-server is not installed' unless LLRRedis->available;

my $t = LLRTest->new(workers => 2,
                     log_ignore => qr/exited on signal 9/);
my $dir = $t->dir;

# ---- nginx -t -------------------------------------------------------------

my $server = "server { listen 127.0.0.1:%%PORT%%; }";

my @bad = (
    [ 'llm_route_redis 127.0.0.1:6379 sync=0;',
      qr/invalid parameter "sync=0" of llm_route_redis/, 'sync=0' ],
    [ 'llm_route_redis 127.0.0.1:6379 timeout=fast;',
      qr/invalid parameter "timeout=fast"/, 'a bad timeout' ],
    [ 'llm_route_redis 127.0.0.1:6379 fail=maybe;',
      qr/invalid parameter "fail=maybe"/, 'fail=maybe' ],
    [ 'llm_route_redis 127.0.0.1:6379 db=x;',
      qr/invalid parameter "db=x"/, 'db=x' ],
    [ 'llm_route_redis 127.0.0.1:99999;',
      qr/invalid port in "127.0.0.1:99999" of llm_route_redis/,
      'a bad port' ],
    [ "llm_route_redis 127.0.0.1 password_file=$dir/none;",
      qr/cannot open password_file "\Q$dir\E\/none"/, 'no password file' ],
    [ "llm_route_redis 127.0.0.1;\n llm_route_redis 127.0.0.2;",
      qr/"llm_route_redis" directive is duplicate/, 'twice' ],
);

for my $b (@bad) {
    my ($rc, $out) = $t->nginx_t_http("$b->[0]\n$server\n");
    ok($rc != 0 && $out =~ $b->[1], "nginx -t refuses $b->[2]")
        or diag($out);
}

{
    open(my $fh, '>', "$dir/empty.pw");
    close $fh;
    my ($rc, $out) = $t->nginx_t_http(
        "llm_route_redis 127.0.0.1 password_file=$dir/empty.pw;\n$server\n");
    ok($rc != 0 && $out =~ /password_file "[^"]*" is empty/,
       'nginx -t refuses an empty password file') or diag($out);

    ($rc, $out) = $t->nginx_t_http(
        "llm_route_redis localhost:6380 db=2 prefix=x: timeout=1s sync=1s "
        . "fail=closed;\n$server\n");
    is($rc, 0, 'a host name is resolved at configuration time')
        or diag($out);
}

# ---- a running instance -----------------------------------------------------

my $password = 'pw-' . join('', map { ('a' .. 'z')[rand 26] } 1 .. 24);
my $r = LLRRedis->new(dir => $dir, password => $password);
open(my $fh, '>', "$dir/redis.pw") or die;
print $fh "$password\n";
close $fh;

my $p = $r->proxy;
my $pport = $p->port;

my $conf = <<"CONF";
    llm_route_redis 127.0.0.1:$pport password_file=$dir/redis.pw db=3
                    prefix=t45: timeout=200ms sync=50ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /redis { return 200 "\$llm_route_redis_status\\n"; }
        location = /fast { return 200 "ok\\n"; }
    }
CONF

$t->config($conf);
$t->start;

sub status {
    my $x = $t->get('/redis', timeout => 5);
    return LLRTest::json_decode($x->{content}) // {};
}

sub wait_state {
    my ($want, $secs) = @_;
    my $end = time + $secs;
    my $s;
    while (time < $end) {
        $s = status();
        return $s if ($s->{state} // '') eq $want;
        sleep 0.05;
    }
    return $s;
}

# n requests to a location that never touches Redis: none may wait for it.
# A worker waiting on Redis would take the delay, the timeout (200 ms) or
# forever; the machine may be loaded (shared cores), so the median must be
# small and the slowest under 300 ms.
sub no_wait {
    my ($n, $name) = @_;
    my @ms;
    for (1 .. $n) {
        my $t0 = time;
        my $x = $t->get('/fast', timeout => 5);
        push @ms, $x->{status} == 200 ? (time - $t0) * 1000 : 1e9;
    }
    @ms = sort { $a <=> $b } @ms;
    my ($med, $max) = ($ms[@ms / 2], $ms[-1]);
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok($med < 20 && $max < 300,
       sprintf('%s: requests do not wait (median %.1f ms, slowest %.1f ms)',
               $name, $med, $max));
}

my $s = wait_state('up', 5);
is($s->{state}, 'up', 'connected through AUTH, SELECT and SCRIPT LOAD');
my $end = time + 5;
$s = status() while $s->{connects} < 2 && time < $end && sleep 0.05;
is($s->{connects}, 2, 'one connection per worker')
    or diag(explain $s);
like($s->{instance} // '', qr/^[0-9a-f]{16}$/, 'an instance id');
like($s->{last_sync} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
     'last_sync');
is($s->{seq}, 0, 'nothing synced yet: no batch with deltas');

my @cl = $r->clients;
is(scalar(@cl), 2, 'Redis sees two clients') or diag(join "\n", @cl);
is(scalar(grep { / db=3 / } @cl), 2, 'both on db 3');

my $s0 = status();
sleep 1;
my $s1 = status();
my $rate = $s1->{syncs} - $s0->{syncs};
ok($rate >= 8 && $rate <= 25,
   "one sync per interval per instance, not per worker (sync=50ms: "
   . "$rate in 1 s)");

ok($t->error_log =~ /connected, script ([0-9a-f]{40})/
   && $r->cmd('SCRIPT', 'EXISTS', $1)->[0] == 1,
   'the sync script is in the script cache');

no_wait(30, 'Redis up');

# ---- Redis killed, then restarted --------------------------------------------

my $errors0 = status()->{errors};
$r->kill;
$s = wait_state('down', 3);
is($s->{state}, 'down', 'Redis killed: down');
no_wait(30, 'Redis killed');

$r->start;
$s = wait_state('up', 6);
is($s->{state}, 'up', 'Redis restarted: up again (backoff at most 3 s)');
ok($s->{errors} > $errors0, "the failures are counted ($s->{errors})");
$end = time + 6;
sleep 0.05 while scalar($r->clients) != 2 && time < $end;
is(scalar($r->clients), 2, 'two clients again');

# ---- the script cache flushed (a failover to a replica without it) ----------

$r->cmd(qw(SCRIPT FLUSH));
sleep 0.3;
$s = status();
is($s->{state}, 'up', 'SCRIPT FLUSH: still up');
like($t->error_log, qr/the script is gone, EVAL/,
     'NOSCRIPT: the batch is sent again with EVAL');

# ---- a slow Redis -------------------------------------------------------------

$p->delay(100);
sleep 0.5;
$s = status();
is($s->{state}, 'up', '100 ms per command (under timeout=200ms): up');
ok($s->{lag_ms} >= 90, "the lag shows it ($s->{lag_ms} ms)");
no_wait(30, 'a Redis 100 ms slow');

$errors0 = $s->{errors};
$p->delay(400);
$s = wait_state('down', 3);
is($s->{state}, 'down', '400 ms per command (over timeout=200ms): down');
ok($s->{errors} > $errors0, 'the timeouts are counted');
like($t->error_log, qr/llm_route_redis 127\.0\.0\.1:\d+: timed out/,
     'and logged');
no_wait(30, 'a Redis 400 ms slow');

$p->delay(0);
$s = wait_state('up', 6);
is($s->{state}, 'up', 'fast again: up');

# ---- one stall of the whole server --------------------------------------------

$r->sleep_ms(600);
sleep 0.05;
no_wait(20, 'DEBUG SLEEP 0.6');
$s = wait_state('up', 6);
is($s->{state}, 'up', 'up after the stall');

# ---- a partition ----------------------------------------------------------------

$p->pause;
$s = wait_state('down', 3);
is($s->{state}, 'down', 'partition: down');
no_wait(20, 'a partition');
$p->resume;
$s = wait_state('up', 6);
is($s->{state}, 'up', 'healed: up');

$p->cut;
$s = wait_state('up', 6);
is($s->{state}, 'up', 'every connection reset: up again');

# ---- reload, a killed worker ------------------------------------------------------

for my $i (1 .. 3) {
    ok($t->reload, "reload $i");
}

$end = time + 10;
@cl = $r->clients;
while (@cl != 2 && time < $end) {
    sleep 0.1;
    @cl = $r->clients;
}
is(scalar(@cl), 2, 'after three reloads: two clients (old workers closed '
   . 'theirs)') or diag(join "\n", @cl);
$s = wait_state('up', 3);
is($s->{state}, 'up', 'up after the reloads');

my @w = $t->worker_pids;
$t->kill_workers($w[0]);
$end = time + 10;
sleep 0.1 while scalar($r->clients) != 2 && time < $end;
is(scalar($r->clients), 2, 'a killed worker: its replacement connects');

# ---- a wrong password: refused, never logged --------------------------------------

open($fh, '>', "$dir/wrong.pw") or die;
print $fh "not-$password\n";
close $fh;
(my $conf2 = $conf) =~ s/redis\.pw/wrong.pw/;
ok($t->reload(config => $conf2), 'reload with a wrong password');
$s = wait_state('down', 3);
is($s->{state}, 'down', 'a wrong password: down');
like($t->error_log, qr/AUTH failed: "WRONGPASS/, 'AUTH failed is logged');

# ---- a unix socket ------------------------------------------------------------------

(my $conf3 = $conf) =~ s/127\.0\.0\.1:$pport/'unix:' . $r->unix/e;
ok($t->reload(config => $conf3), 'reload with a unix socket');
$s = wait_state('up', 6);
is($s->{state}, 'up', 'unix socket: up');

unlike($t->error_log, qr/\Q$password\E/, 'the password never reaches the '
       . 'error log');

$t->done_testing;
