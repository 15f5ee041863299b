#!/usr/bin/perl

# Experiments (llm_route_experiment): requests whose target is in
# "match" get an arm, sticky by the key; an arm routes to its model, the
# control as configured; $llm_route_experiment, $llm_route_arm and the
# receipt name them; the status compares each arm with the control
# (every metric, an interval, an always-valid p-value, the verdict) and
# Prometheus counts the arms; feedback goes to the arm too; a stopped
# arm (weight 0), and an experiment taken out by a reload, keep their
# history, and a restart with a state file too (feedback on an answer
# given before it goes to its arm); nginx -t checks the block.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $t = LLRTest->new;
my $m = $t->mock;

sub experiment {
    my ($mini) = @_;
    return <<"EOF2";
    llm_route_experiment cheap {
        match gpt-4o;
        key   \$http_x_user;
        arm   control weight=1;
        arm   mini weight=$mini model=gpt-4o-mini;
    }
EOF2
}

my $server = <<'EOF2';
        location = /v1/feedback { llm_route_feedback; }
        location = /llm/status { llm_route_status; }
EOF2
my $loc = 'add_header X-Test-Arm "$llm_route_experiment/$llm_route_arm" '
          . 'always;';

sub conf {
    my ($http) = @_;
    return $t->routed_http(http => $http, server => $server,
                           location => $loc);
}

$t->config(conf(experiment(1)));
$t->start;

sub ask {
    my ($user, $model, $words) = @_;
    my $text = join(' ', ('word') x ($words // 5));
    return $t->chat({ model => $model // 'gpt-4o',
                      messages => [{ role => 'user', content => $text }] },
                    headers => { 'X-User' => $user });
}

sub status { return $t->status_json(@_) }

# ---- assignment -------------------------------------------------------------

my (%arm_of, %count, $bad);
my $n = 0;
for my $u (1 .. 200) {
    my $r = ask("user$u", 'gpt-4o', 5 + ($u * 37) % 60);
    $n++;
    my $h = $r->{headers};
    my ($e, $a) = split m{/}, $h->{'x-test-arm'} // '';
    $arm_of{"user$u"} = $a;
    $count{$a // 'none'}++;
    my $want = ($a // '') eq 'mini' ? 'gpt-4o-mini' : 'gpt-4o';
    $bad++ if ($e // '') ne 'cheap' || ($h->{'x-test-model'} // '') ne $want
              || ($h->{'x-llm-route-reason'} // '')
                 !~ /^experiment cheap arm $a; /;
}
ok(!$bad, 'every request: $llm_route_experiment, $llm_route_arm, the '
   . 'arm\'s model, the arm in the receipt');
ok($count{control} > 60 && $count{mini} > 60,
   "both arms of weight 1 take about half ($count{control} / $count{mini})");

my $sticky = 0;
for (1 .. 10) {
    my $r = ask('user7');
    $n++;
    $sticky++ if ($r->{headers}{'x-test-arm'} // '') eq "cheap/$arm_of{user7}";
}
is($sticky, 10, 'the same key, the same arm');

my $r = ask('user1', 'gpt-4o-mini');
$n++;
is($r->{headers}{'x-test-arm'}, '/', 'a target not in match: no experiment');

# ---- the status -------------------------------------------------------------

my $j = status($n);
my $x = $j->{experiments}{cheap};
ok($x, 'experiments.cheap');
is($x->{arms}{control}{requests} + $x->{arms}{mini}{requests}, $n - 1,
   'the arms count the experiment\'s requests');
is($x->{arms}{mini}{target}, 'gpt-4o-mini', 'an arm\'s target');
is($x->{arms}{control}{target}, undef, 'the control\'s: null');
is_deeply([sort keys %{$x->{arms}{mini}{signals}}],
          [sort qw(truncated content_filter empty bad_tool_json bad_json
                   refusal)], 'an arm\'s signals');
my $c = $x->{comparison}{mini};
is_deeply([sort keys %$c],
          [sort qw(cost_usd errors truncated content_filter empty
                   bad_tool_json bad_json refusal feedback latency_p50_ms
                   latency_p99_ms)], 'every metric compared');
is(ref $c->{cost_usd}{ci95}, 'ARRAY', 'an interval');
ok(JSON::PP::is_bool($c->{errors}{significant}), 'significant: a boolean');
ok($c->{cost_usd}{diff} < 0, 'the cheaper model costs less');
ok($c->{cost_usd}{significant},
   'after ~100 requests per arm the cost difference is significant (p '
   . ($c->{cost_usd}{p} // 'null') . ')');
ok(!$c->{errors}{significant}, 'no error difference');
like($x->{verdict}, qr/^mini: costs \d+% less, significant/,
     "the verdict ($x->{verdict})");

# ---- feedback to the arm ----------------------------------------------------

$r = ask('user3');
$n++;
my $arm = (split m{/}, $r->{headers}{'x-test-arm'})[1];
status($n);
$r = $t->request('POST', '/v1/feedback',
                 body => LLRTest::json_encode({
                     id => $r->{headers}{'x-llm-route-id'}, score => -1 }),
                 headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 200, 'feedback on an arm\'s answer');
$j = status();
is($j->{experiments}{cheap}{arms}{$arm}{feedback}{count}, 1,
   '... counted in its arm');

# ---- Prometheus -------------------------------------------------------------

my $p = $t->get('/llm/status?format=prometheus')->{content};
my $minis = $j->{experiments}{cheap}{arms}{mini}{requests};
like($p, qr/^llm_route_experiment_requests_total
            \{experiment="cheap",arm="mini"\}[ ]$minis$/mx,
     'llm_route_experiment_requests_total');
SKIP: {
    my ($rc, $out) = $t->promtool($p);
    skip 'no promtool', 1 unless defined $rc;
    is($rc, 0, 'promtool check metrics') or diag($out);
}

# ---- stop an arm, take the experiment out, bring it back --------------------

my $mini = $j->{experiments}{cheap}{arms}{mini}{requests};
$t->reload(config => conf(experiment(0)));
my $stopped = 0;
for my $u (1 .. 20) {
    $r = ask("user$u");
    $n++;
    $stopped++ if ($r->{headers}{'x-test-arm'} // '') eq 'cheap/control';
}
is($stopped, 20, 'mini at weight 0: every request goes to the control');
$j = status($n);
is($j->{experiments}{cheap}{arms}{mini}{requests}, $mini,
   '... and mini keeps its history');

$t->reload(config => conf(''));
$r = ask('user1');
$n++;
is($r->{headers}{'x-test-arm'}, '/', 'the experiment taken out: none');
$j = status($n);
is_deeply($j->{experiments}, {}, '... not in the status');

$t->reload(config => conf(experiment(1)));
$j = status($n);
is($j->{experiments}{cheap}{arms}{mini}{requests}, $mini,
   'brought back: its history is there');

# ---- a restart, with a state file -------------------------------------------

my $state = $t->dir . '/llr.state';
(my $with_state = conf(experiment(1)))
    =~ s{llm_route_zone llm:1m;}
        {llm_route_zone llm:1m state=$state state_interval=1s;};
$t->reload(config => $with_state);
$r = ask('user1');
$n++;
my $before = status($n)->{experiments}{cheap}{arms};
sleep 1.5;
$t->stop;
ok(-s $state, 'the state file is written');
$t->start;
$j = status();
is($j->{totals}{requests}, $n, 'restarted: the counters are back');
is_deeply($j->{experiments}{cheap}{arms}, $before,
          'and the arms\' statistics, every one of them');

# the sections after the arms are where the arms' section says (it was
# written with the padding of the arms' struct, 4 bytes an arm of
# uninitialized memory the load did not skip: the drift series, the
# decisions and the budgets were read from the wrong place)
unlike($t->error_log, qr/state file .* (is corrupt|are malformed)/,
       'restarted: the state file loaded whole');

# feedback after the restart on the answer given before it: its arm
# (the ring of decisions is in the state file, the arm found by name)
$arm = (split m{/}, $r->{headers}{'x-test-arm'})[1];
$r = $t->request('POST', '/v1/feedback',
                 body => LLRTest::json_encode({
                     id => $r->{headers}{'x-llm-route-id'}, score => 1 }),
                 headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 200, 'restarted: feedback on an answer given before')
    or diag($r->{content});
is(status()->{experiments}{cheap}{arms}{$arm}{feedback}{count},
   $before->{$arm}{feedback}{count} + 1, '... counted in its arm');

# ---- nginx -t ---------------------------------------------------------------

for my $case (
    [ "arm control weight=1 model=gpt-4o;\n arm b weight=1 model=fast;",
      qr/the first arm .* is the control/ ],
    [ "arm control weight=1;\n arm b weight=1 model=nope;",
      qr/arm "b" of llm_route_experiment "x" .*: no model or policy "nope"/ ],
    [ "arm control weight=1;", qr/needs "match" and two arms at least/ ],
    [ "arm control weight=1;\n arm b model=fast;", qr/arm "b" needs weight=/ ],
    [ "arm control weight=1;\n arm b weight=1 model=fast;\n foo 1;",
      qr/unknown or malformed "foo"/ ])
{
    my ($body, $re) = @$case;
    my ($rc, $out) = $t->nginx_t_http(conf(
        "    llm_route_experiment x { match gpt-4o; $body }"));
    (my $name = $body) =~ s/\n/ /g;
    isnt($rc, 0, "nginx -t fails: $name");
    like($out, $re, '... and says why') or diag($out);
}

$t->stop;
$t->check_log;

done_testing();
