#!/usr/bin/perl

# Drift (llm_route_drift): with 1-second buckets, a model x task whose
# answers start to come back truncated (the perl mock scripts
# finish_reason "length") is flagged in the status JSON ("drift": model,
# task, signal, baseline, now, since) and in Prometheus
# (llm_route_quality_drift 1) within the recent window, while the other
# metrics stay quiet, and on the dashboard; cleared once the answers
# are whole again; a restart with a state file keeps the series (the
# baseline from before it); nginx -t checks the directive.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use Time::HiRes qw(time sleep);
use POSIX ();

my $t = LLRTest->new;
my $m = $t->mock;

$t->config($t->routed_http(
    http => '    llm_route_drift bucket=1s recent=2 baseline=4 '
            . 'min_requests=10;',
    server => '        location = /llm/status { llm_route_status; }'));
$t->start;

my $msgs = [{ role => 'user', content => 'drift please' }];

# requests for `secs` seconds, reading the status after each second
sub traffic {
    my ($secs, $headers, $until) = @_;
    my $end = time + $secs;
    my ($j, $seen);
    while (time < $end) {
        my $sec = int(time);
        while (int(time) == $sec) {
            $t->chat({ model => 'gpt-4o-mini', messages => $msgs },
                     headers => $headers);
        }
        $j = $t->get('/llm/status')->{json} || {};
        if ($until && $until->($j)) {
            $seen = time;
            last;
        }
    }
    return ($j, $seen);
}

sub truncated {
    my ($j) = @_;
    return grep { $_->{signal} eq 'truncated' } @{$j->{drift} || []};
}

my ($j) = traffic(6, {});
is_deeply($j->{drift}, [], 'plain answers: no drift');

my $t0 = time;
my $seen;
($j, $seen) = traffic(8, { 'X-Mock-Finish' => 'length' },
                      sub { truncated($_[0]) });
ok($seen, 'truncated answers: drift raised after '
   . (defined $seen ? sprintf('%.1f', $seen - $t0) : 'never') . ' s');
ok(defined $seen && $seen - $t0 <= 4,
   '... within the recent window (2 s) and a bucket or two');

my ($d) = truncated($j);
is($d->{model}, 'gpt-4o-mini', 'drift: the model');
is($d->{task}, 'unclassified', 'drift: the task');
is($d->{baseline}, 0, 'drift: baseline 0');
ok($d->{now} > $d->{baseline}, "drift: now $d->{now}, above the baseline");
ok($d->{since} >= int($t0) && $d->{since} <= time, 'drift: since');
is(scalar(@{$j->{drift}}), 1, 'no other metric drifts');

my $p = $t->get('/llm/status?format=prometheus')->{content};
like($p, qr/^llm_route_quality_drift\{model="gpt-4o-mini",
            task="unclassified",signal="truncated"\}[ ]1$/mx,
     'llm_route_quality_drift 1');
like($p, qr/^llm_route_quality_drift\{model="gpt-4o-mini",
            task="unclassified",signal="errors"\}[ ]0$/mx,
     '... and 0 for the errors');
SKIP: {
    my ($rc, $out) = $t->promtool($p);
    skip 'no promtool', 1 unless defined $rc;
    is($rc, 0, 'promtool check metrics') or diag($out);
}

SKIP: {
    skip 'chromium is not installed', 2 unless LLRTest::chromium_path();

    # truncated answers go on while the page loads: a window without
    # requests cannot be tested, and the alarm would clear
    my $kid = fork // die "fork: $!";
    if ($kid == 0) {
        traffic(30, { 'X-Mock-Finish' => 'length' });
        POSIX::_exit(0);
    }
    my $dom = LLRTest::chromium('--dump-dom', '--virtual-time-budget=3000',
        'http://127.0.0.1:' . $t->port . '/llm/status?format=html');
    kill 'TERM', $kid;
    waitpid($kid, 0);
    like($dom, qr/<div class="panel full" id="drift-panel">/,
         'the dashboard shows the drift panel');
    my ($rows) = $dom =~ m{<tbody id="drift">(.*?)</tbody>}s;
    like($rows // '', qr{<td[ ]class="name">gpt-4o-mini</td>
                         <td>unclassified</td>
                         <td><span[ ]class="err">truncated</span></td>
                         <td[ ]class="n">\d+\.\d%</td>
                         <td[ ]class="n">\d+\.\d%</td>}x,
         '... with the model, the task, the signal, baseline and now');
}

$t0 = time;
($j, $seen) = traffic(10, {}, sub { !truncated($_[0]) });
ok($seen, 'whole answers again: cleared after '
   . (defined $seen ? sprintf('%.1f', $seen - $t0) : 'never') . ' s');

# ---- a restart keeps the series (state file) --------------------------------

# whole answers, then a restart, then truncated ones only: the drift can
# only be seen against the whole answers from before the restart
my $state = $t->dir . '/llr.state';
$t->reload(config => $t->routed_http(
    http => '    llm_route_drift bucket=1s recent=2 baseline=4 '
            . 'min_requests=10;',
    server => '        location = /llm/status { llm_route_status; }')
    =~ s{llm_route_zone llm:1m;}
        {llm_route_zone llm:1m state=$state state_interval=1s;}r);
traffic(5, {});
$t->stop(quiet => 1);
$t->start;
$m->start;                      # stop() stopped the mock too
$t0 = time;
($j, $seen) = traffic(4, { 'X-Mock-Finish' => 'length' },
                      sub { truncated($_[0]) });
ok($seen, 'restarted: truncated answers raise the drift against the '
   . 'baseline from before the restart, after '
   . (defined $seen ? sprintf('%.1f', $seen - $t0) : 'never') . ' s');

# ---- nginx -t ---------------------------------------------------------------

my ($rc, $out) = $t->nginx_t_http($t->routed_http(
    http => '    llm_route_drift recent=0;'));
isnt($rc, 0, 'nginx -t: a window of 0 buckets fails');
like($out, qr/llm_route_drift: a window must have at least 1 bucket/,
     '... and says why');
($rc, $out) = $t->nginx_t_http($t->routed_http(
    http => '    llm_route_drift bucket=10ms;'));
like($out, qr/invalid parameter "bucket=10ms" in llm_route_drift/,
     'nginx -t: a bucket under a second fails');

$t->stop;
$t->check_log;

done_testing();
