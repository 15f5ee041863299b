#!/usr/bin/perl

# The observability pack (contrib/observability/) against a real
# Prometheus (Debian's "prometheus" package):
#
# - promtool check rules, promtool test rules (the rules' unit tests);
# - two nginx with the module: "a" serves traffic through the built-in mock
#   provider (some requests failing, a provider down, a budget nearly
#   spent, a rate limit refusing); "b" has a nearly full zone, a state
#   file it cannot write, and refuses a new rate-limit key for lack of
#   room (503 limits_zone_full);
# - prometheus on loopback (a free port, its own directory) scrapes both
#   every second with the alert rules loaded; every query of the Grafana
#   dashboard and every alert expression is run through Prometheus' HTTP
#   API and must return data, and every alert must be pending or firing.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use HTTP::Tiny;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

# PENDING: metrics the dashboard and the rules use that the module does
# not export yet (added on another branch).  Queries that use them must be
# valid but may return nothing.  Empty this list once they are merged: the
# test then fails on any of them that is still missing.
my @PENDING = qw();

# ELSEWHERE: metrics whose alerts need a condition this test does not
# make: llm_route_quality_drift is 1 only while a model's quality drifts
# (llm_route_drift); t/76-drift.t raises a drift, and
# llm-route-alerts.test.yml tests the rule.  Queries that use them must
# be valid, their rules loaded; they need not return data or fire here.
my @ELSEWHERE = qw(llm_route_quality_drift);

chomp(my $prometheus = `command -v prometheus 2>/dev/null` // '');
chomp(my $promtool = `command -v promtool 2>/dev/null` // '');
plan skip_all => 'needs Debian\'s prometheus package (prometheus, promtool)'
    unless $prometheus && $promtool;

my $a = LLRTest->new(timeout => 300);
my $repo = $a->repo;
my $pack = "$repo/contrib/observability";

# ---- static checks ----------------------------------------------------------

my $out = `$promtool check rules $pack/llm-route-alerts.yml 2>&1`;
is($?, 0, 'promtool check rules') or diag($out);
$out = `cd $pack && $promtool test rules llm-route-alerts.test.yml 2>&1`;
is($?, 0, 'promtool test rules (the rules\' unit tests)') or diag($out);

open(my $fh, '<', "$pack/grafana-dashboard.json") or die $!;
my $dash = LLRTest::json_decode(do { local $/; <$fh> });
close $fh;
ok($dash && ref $dash->{panels} eq 'ARRAY', 'the dashboard is JSON');

my (@queries, %ids);
for my $p (map { ($_, @{ $_->{panels} || [] }) } @{ $dash->{panels} }) {
    $ids{$p->{id}}++;
    push @queries, map { [ "$p->{title} ($_->{refId})", $_->{expr} ] }
                   @{ $p->{targets} || [] };
}
ok(!grep({ $_ > 1 } values %ids), 'panel ids are unique');
ok(@queries >= 20, scalar(@queries) . ' dashboard queries');

my @rules;
{
    open($fh, '<', "$pack/llm-route-alerts.yml") or die $!;
    my $y = do { local $/; <$fh> };
    close $fh;
    # the rule file's own layout: "- alert: NAME" then "expr: ..." (one
    # line, or a "|" block indented deeper)
    while ($y =~ /^\s*- alert:\s*(\S+)\n\s*expr:\s*(\|\n((?:\s{10,}.*\n)+)|(.*)\n)/mg) {
        my ($name, $expr) = ($1, defined $3 ? $3 : $4);
        $expr =~ s/\s+/ /g;
        push @rules, [ $name, $expr ];
    }
}
ok(@rules >= 7, scalar(@rules) . ' alert rules');

# ---- nginx "a": traffic ---------------------------------------------------

my $dead = LLRTest::free_port();        # nothing listens there
my $proxy = $a->proxy_directives(intercept => 1);

$a->config(<<"EOF");
    llm_route_zone llm:1m state=%%DIR%%/llm.state state_interval=1s;
    llm_route_spend_key \$http_x_team;

    upstream mock { server 127.0.0.1:%%PORT2%%; keepalive 8; }

    llm_route_provider mock {
        upstream mock; scheme http; host mock.local; base_path /v1;
        api_key k; max_fails 1000; fail_timeout 1s;
    }
    llm_route_provider dead {
        upstream 127.0.0.1:$dead; scheme http; host dead.local;
        base_path /v1; max_fails 1; fail_timeout 10m;
    }

    llm_route_model mini provider=mock input=0.15 output=0.60
                    context=128000 quality=0.78;
    llm_route_model large provider=mock input=2.50 output=10.00
                    context=128000 quality=0.92;
    llm_route_model gone provider=dead input=1 output=1 context=8000
                    quality=0.9;
    llm_route_policy auto { candidates mini large; floor 0.7;
                            floor_hard 0.9; }

    server {
        listen 127.0.0.1:%%PORT%%;
        llm_route_budget \$http_x_budget 0.00001;
        llm_route_rate \$http_x_rate rpm=5;
        llm_route_rate \$http_x_rate tpm=1000000;

        # the failover pattern (docs/failover.md): failures count for
        # provider health where they reach the fallback location
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
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v1/ { llm_route_mock ttft=10ms; }
    }
EOF
$a->start;

# ---- nginx "b": a nearly full zone, a state file it cannot write ---------

my $b = LLRTest->new(timeout => 300);

my $proxy_b = $a->proxy_directives(connection => 0, attempt => 0);

sub b_config {
    my ($nmodels) = @_;
    my $models = join('', map {
        "    llm_route_model m$_ provider=mock input=1 output=1 "
        . "context=8000 quality=0.8;\n" } 1 .. $nmodels);
    return <<"EOF";
    llm_route_zone tiny:200k state=%%DIR%%/missing/llm.state
                   state_interval=100ms;
    llm_route_provider mock {
        upstream 127.0.0.1:%%PORT2%%; scheme http; host mock.local;
        base_path /v1;
    }
$models
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
            llm_route on;
            llm_route_rate \$http_x_key rpm=100;
$proxy_b
        }
        location = /llm/status { llm_route_status; }
    }
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v1/ { llm_route_mock; }
    }
EOF
}

$b->config(b_config(1));
$b->start;
my $slots = $b->get('/llm/status')->{json}{slots};
# each model takes two names (the model and its deployment): as near to
# 95% as whole models get (rounded down, a zone of 29 slots stayed under
# 90%)
my $more = int((0.95 * $slots->{capacity} - $slots->{used}) / 2 + 0.5);
ok($more > 0, "zone b: $slots->{used} of $slots->{capacity} slots used, "
   . "$more more models");
ok($b->reload(config => b_config(1 + $more)), 'zone b: reloaded with them');
$slots = $b->get('/llm/status')->{json}{slots};
ok($slots->{used} / $slots->{capacity} > 0.9,
   "zone b: $slots->{used} of $slots->{capacity} slots used");

# ---- prometheus -------------------------------------------------------------

my $pdir = $a->dir . '/prom';
mkdir $pdir or die;
my $pport = LLRTest::free_port();
my ($pa, $pb) = ($a->port, $b->port);

open($fh, '>', "$pdir/prometheus.yml") or die;
print $fh <<"EOF";
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $pack/llm-route-alerts.yml
scrape_configs:
  - job_name: llm_route
    metrics_path: /llm/status
    params:
      format: [prometheus]
    static_configs:
      - targets: ["127.0.0.1:$pa", "127.0.0.1:$pb"]
EOF
close $fh;

my $ppid = fork // die "fork: $!";
if ($ppid == 0) {
    open(STDOUT, '>', "$pdir/prometheus.log");
    open(STDERR, '>&', \*STDOUT);
    exec($prometheus, "--config.file=$pdir/prometheus.yml",
         "--storage.tsdb.path=$pdir/data",
         "--web.listen-address=127.0.0.1:$pport",
         '--log.level=warn')
        or POSIX::_exit(127);
}

END {
    if ($ppid && $a && $a->{owner} && $a->{owner} == $$) {
        kill 'TERM', $ppid;
        waitpid($ppid, 0);
    }
}

my $http = HTTP::Tiny->new(timeout => 10);

sub prom_query {
    my ($q) = @_;
    my $r = $http->get("http://127.0.0.1:$pport/api/v1/query?"
                       . $http->www_form_urlencode({ query => $q }));
    return LLRTest::json_decode($r->{content} // '') // { status => 'none',
        error => "HTTP $r->{status}: $r->{content}" };
}

sub wait_for {
    my ($q, $n, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        my $r = prom_query($q);
        return 1 if ($r->{status} // '') eq 'success'
                    && @{ $r->{data}{result} || [] } >= $n;
        sleep 0.25;
    }
    return 0;
}

sub prom_log {
    open(my $l, '<', "$pdir/prometheus.log") or return '';
    local $/;
    return <$l> // '';
}

my $ready = 0;
for (1 .. 120) {
    my $r = $http->get("http://127.0.0.1:$pport/-/ready");
    if ($r->{status} == 200) { $ready = 1; last }
    sleep 0.25;
}
ok($ready, "prometheus is ready on 127.0.0.1:$pport") or diag(prom_log());
ok(wait_for('up{job="llm_route"} == 1', 2, 30),
   'prometheus scrapes both nginx') or diag(prom_log());

# ---- traffic, while prometheus scrapes ------------------------------------

my $msgs = [{ role => 'user', content => 'Write a haiku about routers.' }];
my %st;
my $req = sub {
    my ($t, $body, %h) = @_;
    my $r = $t->chat({ messages => $msgs, %$body }, headers => \%h);
    $st{$r->{status}}++;
    return $r;
};

my $stream = sub {
    my $r = $a->stream_request(body => { model => 'auto', stream => \1,
                                         messages => $msgs });
    $st{"stream $r->{status}"}++;
};

# one request of each kind first: a counter that appears after a scrape
# with its first value already counted has no increase for prometheus
$req->($a, { model => 'gone' });                          # provider down
$req->($a, { model => 'mini' }, 'X-Team' => 'team-a');    # spend by key
$stream->();
$req->($a, { model => 'mini' }, 'X-Mock-Status' => 500);
$req->($a, { model => 'mini' }, 'X-Budget' => 'small');
$req->($a, { model => 'mini' }, 'X-Rate' => 'burst');
ok(wait_for('llm_route_rate_rejected_total{key=~"burst.*"} '
            . 'or llm_route_budget_spent_usd{key="small"} '
            . 'or llm_route_provider_up{provider="dead"} == 0', 3, 20),
   'prometheus has the first values');
sleep 1.5;

$req->($a, { model => 'mini' }, 'X-Team' => 'team-a') for 1 .. 8;
$req->($a, { model => 'auto' }) for 1 .. 4;
$stream->() for 1 .. 3;
$req->($a, { model => 'mini' }, 'X-Mock-Status' => 500) for 1 .. 9;
$req->($a, { model => 'mini' }, 'X-Budget' => 'small') for 1 .. 2;
$req->($a, { model => 'mini' }, 'X-Rate' => 'burst') for 1 .. 24;
note('answers of a: ' . join(', ', map { "$_: $st{$_}" } sort keys %st));
ok($st{429} >= 21, 'a: 20 rate-limit refusals and budget refusals');

# b: new rate-limit keys until the zone has no room left for one
my ($full, $sent) = (0, 0);
while (!$full && $sent < 3000) {
    my $r = $b->chat({ model => 'm1', messages => $msgs },
                     headers => { 'X-Key' => 'key-' . ++$sent . ('x' x 64) });
    $full = $r->{status} == 503
            && ($r->{json}{error}{code} // '') eq 'limits_zone_full';
}
ok($full, "b: 503 limits_zone_full after $sent new keys");
$b->{log_ignore} = qr/limits|state file/;

# a few scrapes after the traffic
ok(wait_for('increase(llm_route_rate_rejected_total[1m]) > 0', 1, 20),
   'prometheus saw the traffic');
sleep 3;

# ---- every dashboard query and alert expression returns data --------------

my $pending_re = join('|', map { quotemeta } @PENDING, @ELSEWHERE);

sub check_query {
    my ($what, $q) = @_;
    my $r = prom_query($q);
    my $n = scalar @{ $r->{data}{result} || [] };

    if ((@PENDING || @ELSEWHERE) && $q =~ /\b($pending_re)\b/) {
        is($r->{status}, 'success', "$what: valid ($1: not made here, "
           . ($n ? 'has' : 'no') . ' data)')
            or diag("$q\n" . ($r->{error} // ''));
        return;
    }

    ok($r->{status} eq 'success' && $n > 0, "$what: $n series")
        or diag("$q\n" . ($r->{error} // 'no data'));
}

for my $d (@queries) {
    (my $q = $d->[1]) =~ s/\$__rate_interval/1m/g;
    $q =~ s/\$instance/.*/g;
    check_query("dashboard: $d->[0]", $q);
}

for my $rule (@rules) {
    check_query("alert $rule->[0]", $rule->[1]);
}

# the rules as prometheus runs them: healthy, and every alert pending or
# firing
my %state;
my $end = time + 20;
while (time < $end) {
    my $r = LLRTest::json_decode($http->get(
        "http://127.0.0.1:$pport/api/v1/rules")->{content} // '');
    %state = ();
    for my $g (@{ $r->{data}{groups} || [] }) {
        for my $rule (@{ $g->{rules} }) {
            $state{$rule->{name}} = "$rule->{health} $rule->{state}";
        }
    }
    last unless grep {
        ($state{$_->[0]} // '') !~ /^ok (pending|firing)$/
        && !((@PENDING || @ELSEWHERE) && $_->[1] =~ /\b($pending_re)\b/)
    } @rules;
    sleep 0.5;
}

for my $rule (@rules) {
    my $s = $state{$rule->[0]} // 'not loaded';
    if ((@PENDING || @ELSEWHERE) && $rule->[1] =~ /\b($pending_re)\b/) {
        like($s, qr/^ok /, "rule $rule->[0]: loaded ($s; $1 not made here)");
    } else {
        like($s, qr/^ok (pending|firing)$/, "rule $rule->[0]: $s");
    }
}

# the metrics the pack adds to the status endpoint
my $pa_text = $a->get('/llm/status?format=prometheus')->{content};
my $pb_text = $b->get('/llm/status?format=prometheus')->{content};
my $bj = $b->get('/llm/status')->{json};
like($pb_text, qr/^llm_route_zone_slots_used \Q$bj->{slots}{used}\E$/m,
     'llm_route_zone_slots_used is the JSON\'s slots.used');
like($pb_text, qr/^llm_route_zone_slots \Q$bj->{slots}{capacity}\E$/m,
     'llm_route_zone_slots is the JSON\'s slots.capacity');
like($pb_text, qr/^llm_route_state_errors_total [1-9]\d*$/m,
     'b: state file errors counted');
like($pb_text, qr/^llm_route_state_last_write_seconds 0$/m,
     'b: never written');
like($pa_text, qr/^llm_route_state_last_write_seconds [1-9]\d{9}$/m,
     'a: written (Unix time)');
like($pa_text, qr/^llm_route_state_writes_total [1-9]\d*$/m,
     'a: writes counted');
for my $m (@PENDING) {
    unlike($pa_text, qr/^\Q$m\E\b/m, "PENDING $m is not exported yet "
           . '(once it is, take it off @PENDING at the top of this file)');
}

my @pc = ($a->promtool($pa_text), $b->promtool($pb_text));
is("$pc[0] $pc[2]", '0 0', 'promtool check metrics accepts both')
    or diag("$pc[1]\n$pc[3]");

$b->stop;
$a->done_testing;
