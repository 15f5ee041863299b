#!/usr/bin/perl
#
# Does a slow Redis move a request's latency? (issue 26: "Redis slowed to
# 200 ms per command changes the request p99 by less than 1 ms")
#
#   perl bench/fleet-latency.pl [--rounds N] [--requests M] [--conc "1 8"]
#        [--sync 50ms] [--delay 200] [--workers 1] [--settle 0.5]
#        [--boot 1000] [--out FILE]
#
# One nginx (the proxy under test) routes the explicit model of 2 KB
# request bodies (bench/gen-bodies.pl) with a budget and rpm/tpm limits
# on its location (high enough never to refuse), shared through
# llm_route_redis (sync=--sync, timeout=1s, fail=open) with a
# redis-server of its own, reached through the TCP proxy of the tests
# (t/lib/LLRRedis.pm) that delays every command by 0 or --delay ms.  The
# provider is llm_route_mock in a second nginx.  A closed-loop client
# (bench/fleet-latency.c, compiled here) sends M requests per round over
# CONC keep-alive connections and times each one on CLOCK_MONOTONIC.
#
# For each CONC: 2N rounds alternating Redis quick (delay 0) and slow
# (--delay), after a warm-up round; the delay is switched --settle
# seconds before a round starts.  Per round: median, p99, p99.9, max, the
# requests slower than 50 ms and at least 200 ms, the syncs the instance
# counted (status JSON "redis"), the EVALSHA Redis ran, the last sync's
# round trip (lag_ms), Redis errors, the nginx workers' CPU time per
# request and the machine's load.  Then the slow rounds against the
# quick ones: the pools' percentiles, the difference slow - quick with
# 95% bootstrap intervals (over requests and over whole rounds), and
# each slow round's p99 against the mean of the quick rounds on either
# side of it.
#
# Placement (as bench/run.sh): PROXY_CPUS=0 the nginx under test,
# LOAD_CPUS=1 the client, the mock, redis-server and the delay proxy
# (a fleet's Redis is on another machine).  Empty: no pinning.  NICE=-20
# (root) runs both nginxes and the client at that priority, so that other
# work on a shared machine preempts them less; with autogroups
# (/proc/sys/kernel/sched_autogroup_enabled) a nice value only counts
# within its session, so the script then runs in a session of its own
# and gives that session and the two nginxes' (daemons: sessions of their
# own) the same nice (/proc/PID/autogroup).  Redis and the delay proxy
# keep theirs.
#
# The report goes to FILE (default build/bench/fleet-latency-STAMP.md)
# and to stdout; the per-request lines of every round to FILE's name
# with .raw/ instead of .md.
#
# Needs: nginx (NGINX, default /usr/sbin/nginx), the module (SO, default
# build/ngx_http_llm_route_module.so: make module), redis-server, cc,
# taskset; the data of bench/gen-bodies.pl (LLR_DATA).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Getopt::Long;
use HTTP::Tiny;
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

my $TOP;
BEGIN { $TOP = abs_path(dirname(abs_path(__FILE__)) . '/..') }
use lib "$TOP/t/lib";
use LLRTest ();
use LLRRedis;

my @ARGV_ALL = @ARGV;
my %o = (rounds => 20, requests => 20000, conc => '1 8', sync => '50ms',
         delay => 200, workers => 1, settle => 0.5, boot => 1000);
GetOptions(\%o, 'rounds=i', 'requests=i', 'conc=s', 'sync=s', 'delay=i',
           'workers=i', 'settle=f', 'boot=i', 'out=s', 'help')
    or die "fleet-latency: bad options (--help)\n";
if ($o{help}) {
    open(my $fh, '<', __FILE__) or die;
    while (<$fh>) { last if $. > 1 && !/^#/; print if $. > 1 }
    exit 0;
}

my $NGINX = $ENV{NGINX} || '/usr/sbin/nginx';
my $SO = $ENV{SO} || "$TOP/build/ngx_http_llm_route_module.so";
my $DATA = $ENV{LLR_DATA} || abs_path("$TOP/..") . '/shared/data';
my $PROXY_CPUS = $ENV{PROXY_CPUS} // '0';
my $LOAD_CPUS = $ENV{LOAD_CPUS} // '1';
my $NICE = $ENV{NICE} // '';

if (length $NICE && !$ENV{FLEET_LATENCY_SESSION}) {
    $ENV{FLEET_LATENCY_SESSION} = 1;
    exec('setsid', '-w', $^X, abs_path(__FILE__), @ARGV_ALL)
        or die "fleet-latency: setsid: $!\n";
}

# the nice of PID's session (autogroup), if NICE is set
sub autogroup {
    my ($pid) = @_;
    return unless length $NICE && -e "/proc/$pid/autogroup";
    open(my $fh, '>', "/proc/$pid/autogroup")
        or die "fleet-latency: /proc/$pid/autogroup: $!\n";
    print $fh "$NICE\n";
    close $fh or die "fleet-latency: /proc/$pid/autogroup: $!\n";
}
autogroup($$);
my @CONC = split ' ', $o{conc};

-f $SO or die "fleet-latency: $SO is missing (make module)\n";
LLRRedis->available or die "fleet-latency: redis-server is missing\n";

my $stamp = strftime('%Y%m%d-%H%M%S', gmtime);
my $out = $o{out} // "$TOP/build/bench/fleet-latency-$stamp.md";
(my $raw = $out) =~ s/\.md\z//;
$raw .= '.raw';
make_path(dirname($out), $raw);

my $W = tempdir('llr-fleet-lat-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$SIG{INT} = $SIG{TERM} = sub { exit 130 };

# CMD on CPUS (none: unpinned), at the priority of NICE (if set)
sub pin {
    my ($cpus, @cmd) = @_;
    @cmd = ('nice', '-n', $NICE, @cmd) if length $NICE;
    return length $cpus ? ('taskset', '-c', $cpus, @cmd) : @cmd;
}

sub run_ok {
    my (@cmd) = @_;
    system(@cmd) == 0 or die "fleet-latency: @cmd: failed\n";
}

# ---- the client, the bodies, a private copy of the module ----------------

my $CLIENT = "$W/fleet-latency";
run_ok('cc', '-O2', '-Wall', '-pthread', '-o', $CLIENT,
       "$TOP/bench/fleet-latency.c");
copy($SO, "$W/module.so") or die "fleet-latency: copy $SO: $!\n";

mkdir "$W/bodies";
run_ok("perl $TOP/bench/gen-bodies.pl $W/bodies $DATA > $W/bodies.txt");
my $BODY = "$W/bodies/2k-gpt-4.1-mini-json.json";
my $body_len = -s $BODY;

# ---- Redis behind the delay proxy ----------------------------------------

my $redis = LLRRedis->new(dir => $W, persist => 0);
my $delayer = $redis->proxy;
if (length $LOAD_CPUS) {
    for my $pid ($redis->pid, $delayer->{pid}) {
        run_ok("taskset -a -p -c $LOAD_CPUS $pid >/dev/null");
    }
}

# ---- the mock and the proxy under test -----------------------------------

my $MOCK_PORT = LLRTest::free_port();
my $PORT = LLRTest::free_port();
my $user = $> == 0 ? 'user root;' : '';

sub nginx_conf {
    my ($name, $workers, $http) = @_;
    my $d = "$W/$name";
    mkdir $d;
    mkdir "$d/tmp";
    open(my $fh, '>', "$d/nginx.conf") or die "$d/nginx.conf: $!";
    print $fh <<"EOF";
$user
worker_processes $workers;
pid $d/nginx.pid;
error_log $d/error.log warn;
load_module $W/module.so;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    client_body_buffer_size 64k;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
$http
}
EOF
    close $fh;
    return $d;
}

my $mock_dir = nginx_conf('mock', 1, <<"EOF");
    server {
        listen 127.0.0.1:$MOCK_PORT;
        location /v1/ { llm_route_mock; }
    }
EOF

my $fleet_dir = nginx_conf('fleet', $o{workers}, <<"EOF");
    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }

    llm_route_zone llm:16m;

    llm_route_redis 127.0.0.1:${\ $delayer->port } prefix=llr-bench-lat:
                    timeout=1s sync=$o{sync} fail=open;

    llm_route_provider mock {
        upstream  mock;
        scheme    http;
        host      127.0.0.1;
        base_path /v1;
    }

    llm_route_model gpt-4.1-mini provider=mock input=0.40 output=1.60
                                 context=1047576 quality=0.78;

    server {
        listen 127.0.0.1:$PORT;

        location /v1/ {
            llm_route on;
            llm_route_budget bench 1000000;
            llm_route_rate bench rpm=100000000 tpm=100000000000;
            proxy_pass \$llm_route_url;
            proxy_set_header Host \$llm_route_host;
            proxy_set_header Authorization \$llm_route_authorization;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Accept-Encoding "";
            proxy_buffering off;
            proxy_buffer_size 16k;
            proxy_busy_buffers_size 16k;
        }

        location = /llm/status { llm_route_status; }
    }
EOF

my @started;
END {
    # Redis and its proxy first, as they were made (not in the random
    # order of global destruction)
    undef $redis;
    undef $delayer;
    for my $d (@started) {
        if (open(my $fh, '<', "$d/nginx.pid")) {
            chomp(my $pid = <$fh> // '');
            kill 'QUIT', $pid if $pid;
        }
    }
}

for ([$mock_dir, $LOAD_CPUS], [$fleet_dir, $PROXY_CPUS]) {
    my ($d, $cpus) = @$_;
    run_ok(pin($cpus, $NGINX, '-p', "$d/", '-c', "$d/nginx.conf"));
    push @started, $d;
    sleep 0.2;
    open(my $fh, '<', "$d/nginx.pid") or die "fleet-latency: $d: no pid\n";
    autogroup(<$fh> =~ s/\s+//r);
}

my $http = HTTP::Tiny->new(timeout => 10);

sub status {
    my $r = $http->get("http://127.0.0.1:$PORT/llm/status");
    $r->{success} or die "fleet-latency: status: $r->{status}\n";
    return LLRTest::json_decode($r->{content})
        // die "fleet-latency: the status is not JSON\n";
}

sub evalsha_calls {
    my $info = $redis->cmd('INFO', 'commandstats');
    my $n = 0;
    $n += $1 while $info =~ /^cmdstat_eval(?:sha)?:calls=(\d+)/mg;
    return $n;
}

# utime + stime of the workers of the nginx under test, in clock ticks
sub worker_ticks {
    open(my $fh, '<', "$fleet_dir/nginx.pid") or return 0;
    chomp(my $master = <$fh>);
    my $t = 0;
    for my $pid (split ' ', `pgrep -P $master`) {
        open(my $st, '<', "/proc/$pid/stat") or next;
        my @f = split ' ', (<$st> =~ s/^.*\) //r);
        $t += $f[11] + $f[12];
    }
    return $t;
}
my $TCK = `getconf CLK_TCK` + 0 || 100;

sub loadavg {
    open(my $fh, '<', '/proc/loadavg') or return '?';
    return (split ' ', <$fh>)[0];
}

# ready: a chat answer, and Redis up with a sync answered
my $end = time + 20;
while (1) {
    my $r = $http->post("http://127.0.0.1:$PORT/v1/chat/completions",
                        { content => do { local (@ARGV, $/) = $BODY; <> },
                          headers => { 'content-type' => 'application/json' }
                        });
    my $st = $r->{success} ? eval { status()->{redis} } : undef;
    last if $r->{status} == 200 && $r->{content} =~ /"usage"/
            && $st && $st->{state} eq 'up' && $st->{syncs} > 0;
    die "fleet-latency: not ready: HTTP $r->{status}\n" if time > $end;
    sleep 0.2;
}

# ---- the rounds -----------------------------------------------------------

sub client {
    my ($conc, $n, $file) = @_;
    run_ok(pin($LOAD_CPUS, $CLIENT, 'run', '127.0.0.1', $PORT, $BODY,
               $conc, $n, $file));
}

sub round_stats {
    my ($file) = @_;
    my @v = split ' ', `$CLIENT round $file`;
    my %s;
    @s{qw(n median p99 p999 max over50 over200 non200)} = @v;
    return \%s;
}

my (@report, %summary);
my $load0 = loadavg();
my $t_start = time;

for my $conc (@CONC) {
    # warm-up: connections, the mock's and Redis' keep-alive, the caches
    client($conc, 200 * $conc, "$W/warm");

    my @rounds;
    for my $k (0 .. 2 * $o{rounds} - 1) {
        my $slow = $k % 2;
        $delayer->delay($slow ? $o{delay} : 0);
        sleep $o{settle};

        my $ts0 = time;
        my $st0 = status()->{redis};
        my ($ev0, $cpu0) = (evalsha_calls(), worker_ticks());
        my $t0 = time;
        my $file = sprintf('%s/c%d-r%02d-%s', $raw, $conc, $k,
                           $slow ? 'slow' : 'quick');
        client($conc, $o{requests}, $file);
        my $secs = time - $t0;
        my ($ev1, $cpu1) = (evalsha_calls(), worker_ticks());
        my $st1 = status()->{redis};
        my $ts1 = time;

        my $s = round_stats($file);
        $s->{k} = $k;
        $s->{slow} = $slow;
        $s->{file} = $file;
        $s->{secs} = $secs;
        $s->{window} = $ts1 - $ts0;     # that of the syncs counted
        $s->{syncs} = $st1->{syncs} - $st0->{syncs};
        $s->{evalsha} = $ev1 - $ev0;
        $s->{lag} = $st1->{lag_ms};
        $s->{errors} = $st1->{errors} - $st0->{errors};
        $s->{state} = $st1->{state};
        $s->{cpu_us} = ($cpu1 - $cpu0) / $TCK * 1e6 / $s->{n};
        $s->{load} = loadavg();
        push @rounds, $s;

        printf STDERR "c=%d round %d %-5s median %.2f p99 %.2f max %.1f ms,"
            . " %d syncs, lag %d ms, load %s\n", $conc, $k,
            $slow ? 'slow' : 'quick', @$s{qw(median p99 max syncs lag load)};
    }
    $summary{$conc} = \@rounds;
}
my $elapsed = time - $t_start;

# ---- the report -----------------------------------------------------------

sub median {
    my @v = sort { $a <=> $b } @_;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

my $cmd = join(' ', (length $NICE ? "NICE=$NICE" : ()),
               'perl bench/fleet-latency.pl',
               map { $o{$_} =~ / / ? "--$_ \"$o{$_}\"" : "--$_ $o{$_}" }
               qw(rounds requests conc sync delay workers settle boot));

push @report, "# Redis quick and slow: request latency (issue 26)", '',
    "    $cmd", '',
    sprintf('%s UTC, %s; %s requests of %d bytes per round (explicit model,'
            . ' a budget and rpm/tpm limits on each), Redis delayed by 0 or'
            . ' %d ms per command (rounds alternate, the delay set %.1f s'
            . ' before each), `sync=%s timeout=1s fail=open`, %d worker(s);'
            . ' nginx on CPU %s, the client, the mock, redis-server and the'
            . ' delay proxy on CPU %s%s; load average %s at the start, %s'
            . ' at the end; %.0f s.',
            strftime('%Y-%m-%d %H:%M', gmtime($t_start)),
            `git -C $TOP rev-parse --short HEAD` =~ s/\s+//r,
            $o{requests}, $body_len, $o{delay}, $o{settle}, $o{sync},
            $o{workers}, length $PROXY_CPUS ? $PROXY_CPUS : 'any',
            length $LOAD_CPUS ? $LOAD_CPUS : 'any',
            length $NICE ? " (the nginxes and the client at nice $NICE)"
                         : '',
            $load0, loadavg(), $elapsed);

for my $conc (@CONC) {
    my @r = @{$summary{$conc}};

    push @report, '', "## $conc connection" . ($conc > 1 ? 's' : ''), '',
        '| round | Redis | median | p99 | p99.9 | max | > 50 ms | >= 200 ms'
        . ' | non-200 | syncs (/s) | EVALSHA | lag ms | errors | worker CPU'
        . ' µs/req | load |',
        '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:'
        . '|---:|---:|';
    for my $s (@r) {
        push @report, sprintf('| %d | %s | %.2f | %.2f | %.2f | %.1f | %d |'
            . ' %d | %d | %d (%.1f) | %d | %d | %d | %.0f | %s |', $s->{k},
            $s->{slow} ? "+$o{delay} ms" : 'quick',
            @$s{qw(median p99 p999 max over50 over200 non200 syncs)},
            $s->{syncs} / $s->{window},
            @$s{qw(evalsha lag errors cpu_us load)});
    }

    # the pools and the bootstrap intervals
    my @q = map { $_->{file} } grep { !$_->{slow} } @r;
    my @s = map { $_->{file} } grep { $_->{slow} } @r;
    my @cmp = `$CLIENT compare $o{boot} 26 @q -- @s`;
    $? == 0 or die "fleet-latency: compare failed\n";

    push @report, '', 'All the requests of the quick rounds and of the slow'
        . ' ones (ms):', '';
    push @report, map { "    $_" } grep { /^(quick|slow) / } @cmp;
    chomp @report;

    push @report, '', "Slow - quick (ms), the difference of the pools and"
        . " its 95% bootstrap interval ($o{boot} resamples) drawing"
        . ' requests, then whole rounds:', '',
        '| | difference | requests drawn | rounds drawn |',
        '|---|---:|---:|---:|';
    my %d;
    for (@cmp) {
        my ($p, $how, $est, $lo, $hi) = /^diff (\S+) (\S+) (\S+) (\S+) (\S+)/
            or next;
        $d{$p}{est} = $est;
        $d{$p}{$how} = sprintf('[%+.3f, %+.3f]', $lo, $hi);
    }
    for my $p (qw(median p99 p99.9)) {
        push @report, sprintf('| %s | %+.3f | %s | %s |', $p, $d{$p}{est},
                              $d{$p}{requests}, $d{$p}{rounds});
    }

    # each slow round against the quick rounds beside it
    my @pd;
    for my $i (grep { $r[$_]{slow} } 0 .. $#r) {
        my @nb = grep { $_ >= 0 && $_ <= $#r && !$r[$_]{slow} }
                 ($i - 1, $i + 1);
        next unless @nb;
        my $m = 0;
        $m += $r[$_]{p99} / @nb for @nb;
        push @pd, $r[$i]{p99} - $m;
    }
    my @sorted = sort { $a <=> $b } @pd;
    my ($slow200, $slowlag, $quick200) = (0, 1e9, 0);
    my ($sync_q, $sync_s, $busy, $err) = (0, 0, 0, 0);
    for my $s (@r) {
        if ($s->{slow}) {
            $slow200 += $s->{over200};
            $slowlag = $s->{lag} if $s->{lag} < $slowlag;
            $sync_s += $s->{syncs} / $s->{window} / $o{rounds};
            $busy += $s->{syncs} * $s->{lag} / 1000 / $s->{window}
                     / $o{rounds};
        } else {
            $quick200 += $s->{over200};
            $sync_q += $s->{syncs} / $s->{window} / $o{rounds};
        }
        $err += $s->{errors} + $s->{non200};
    }
    push @report, '', sprintf('Each slow round\'s p99 minus the mean of the'
        . ' quick rounds beside it: median %+.3f ms, from %+.3f to %+.3f;'
        . ' %d of %d at +1 ms or more.', median(@pd), $sorted[0],
        $sorted[-1], scalar(grep { $_ >= 1 } @pd), scalar @pd);
    push @report, '', sprintf('Requests of >= 200 ms: %d in the slow rounds,'
        . ' %d in the quick ones.  The syncs took the delay: the smallest'
        . ' lag_ms at the end of a slow round is %d ms; syncs per second'
        . ' %.1f quick, %.1f slow (a batch\'s answer is awaited before the'
        . ' next), so a batch was on the way about %.0f%% of the time of a'
        . ' slow round.  Redis errors and non-200 answers: %d.',
        $slow200, $quick200, $slowlag, $sync_q, $sync_s, 100 * $busy, $err);
}

my $text = join("\n", @report) . "\n";
open(my $fh, '>', $out) or die "fleet-latency: $out: $!\n";
print $fh $text;
close $fh;
print $text;
print STDERR "fleet-latency: $out, the requests in $raw/\n";
