#!/usr/bin/perl

# The shared-memory zone:
#
#   1. exact totals under concurrency, kept across reloads, a killed
#      worker and a restart with state=; bad state files; a zone too small
#   2. the size "too small" asks for is enough

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

# ==== Counters, reload, restart (was 20-zone.t) ==============================
#
# The shared-memory zone: exact totals over a concurrent mix of JSON and
# SSE requests from 2 workers, counters kept across reloads (models added
# and removed by name), a killed worker, a restart with state=, a corrupt
# or truncated state file (logged, ignored, nginx starts), and a zone too
# small for its names (nginx -t error).

{

my $t = LLRTest->new(workers => 2);
my $m = $t->mock;

my $state = $t->dir . '/llr.state';

# pUSD per token: input, output
my %PRICE = ('gpt-4o-mini' => [150_000, 600_000],
             'gpt-4o'      => [2_500_000, 10_000_000],
             'fast'        => [150_000, 600_000]);

my sub conf {
    my (%o) = @_;
    my $zone = $o{zone} // "llm:1m state=$state state_interval=1s";
    my $c = $t->routed_http(
        http => ($o{http} // '') . "\n    log_format llr_pid \"\$pid\";\n",
        server => "location = /llm/status { llm_route_status; }\n"
                  . "access_log %%DIR%%/pids.log llr_pid;\n");
    $c =~ s/llm_route_zone llm:1m;/llm_route_zone $zone;/;
    $c =~ s/\n\s*llm_route_model fast [^;]*;//s if $o{no_fast};
    return $c;
}

my sub status {
    my $r = $t->get('/llm/status');
    return ($r->{json} || {}, $r->{content} // '');
}

# the status once the zone counted $n requests: a request is counted in
# its log phase, just after its last byte went out, possibly while another
# worker already answers the status request
my sub status_after {
    my ($n) = @_;
    my ($j, $raw);
    my $end = time + 3;

    for (;;) {
        ($j, $raw) = status();
        last if ($j->{totals}{requests} // -1) >= $n || time > $end;
        select(undef, undef, undef, 0.05);
    }

    return ($j, $raw);
}

# the "cost_usd" string of a JSON object, exactly as printed
my sub cost_of {
    my ($raw, $section, $name) = @_;
    my $re = defined $name
             ? qr/"$section":\{.*?"\Q$name\E":\{[^{}]*?"cost_usd":([0-9.]+)/s
             : qr/"$section":\{[^{}]*?"cost_usd":([0-9.]+)/s;
    return $raw =~ $re ? $1 : 'missing';
}

my sub usd9 {
    my ($pusd) = @_;
    my $units = int($pusd / 1000) + (($pusd % 1000) >= 500 ? 1 : 0);
    return sprintf('%d.%09d', int($units / 1e9), $units % 1_000_000_000);
}

# what the provider was asked, turned into what the zone must hold
my sub expected {
    my %e;
    for my $q ($m->requests) {
        next unless ($q->{uri} // '') =~ m{/chat/completions$};
        my $model = $q->{headers}{'x-t-model'} // next;
        my $x = $e{$model} //= { requests => 0, errors => 0, prompt => 0,
                                 completion => 0, pusd => 0 };
        $x->{requests}++;
        if ($q->{headers}{'x-mock-status'}) {
            $x->{errors}++;
            next;
        }
        my $pt = int(length($q->{body}) / 4) + 1;
        my $ct = $q->{json}{stream} ? ($q->{headers}{'x-mock-events'} // 3)
                                    : 2;
        $x->{prompt} += $pt;
        $x->{completion} += $ct;
        $x->{pusd} += $pt * $PRICE{$model}[0] + $ct * $PRICE{$model}[1];
    }
    my %tot = (requests => 0, errors => 0, prompt => 0, completion => 0,
               pusd => 0);
    for my $x (values %e) {
        $tot{$_} += $x->{$_} for keys %tot;
    }
    return (\%e, \%tot);
}

my sub check_exact {
    my ($what) = @_;
    my ($e, $tot) = expected();
    my ($j, $raw) = status_after($tot->{requests});
    my $T = $j->{totals} || {};

    is($T->{requests}, $tot->{requests}, "$what: total requests");
    is($T->{errors}, $tot->{errors}, "$what: total errors");
    is($T->{prompt_tokens}, $tot->{prompt}, "$what: total prompt tokens");
    is($T->{completion_tokens}, $tot->{completion},
       "$what: total completion tokens");
    is(cost_of($raw, 'totals'), usd9($tot->{pusd}),
       "$what: total cost exact to 1e-9 USD");

    for my $name (sort keys %$e) {
        my $x = $e->{$name};
        my $got = $j->{models}{$name} || {};
        is(join(' ', map { $got->{$_} // '-' }
                qw(requests errors prompt_tokens completion_tokens)),
           "$x->{requests} $x->{errors} $x->{prompt} $x->{completion}",
           "$what: model $name: requests errors prompt completion");
        is(cost_of($raw, 'models', $name), usd9($x->{pusd}),
           "$what: model $name: cost");
    }

    is($j->{providers}{mockp}{requests}, $tot->{requests},
       "$what: provider requests");
    my $tasks = 0;
    $tasks += $_->{requests} for values %{ $j->{tasks} || {} };
    is($tasks, $tot->{requests}, "$what: task requests add up");

    return $j;
}

my $T = JSON::PP::true;
my $msgs = [{ role => 'user', content => 'count me' }];

my sub one {
    my ($i) = @_;
    my $k = $i % 5;
    my $content = 'count me ' . ('x' x ($i % 13));
    my $body = { messages => [{ role => 'user', content => $content }] };

    if ($k == 0) {
        return $t->chat({ %$body, model => 'gpt-4o' },
                        headers => { 'X-T-Model' => 'gpt-4o' });
    }
    if ($k == 1) {
        return $t->stream_request(
            body => { %$body, model => 'gpt-4o-mini', stream => $T },
            headers => { 'X-T-Model' => 'gpt-4o-mini',
                         'X-Mock-Events' => 1 + $i % 4 });
    }
    if ($k == 2) {
        return $t->chat({ %$body, model => 'gpt-4o' },
                        headers => { 'X-T-Model' => 'gpt-4o',
                                     'X-Mock-Status' => 503 });
    }
    if ($k == 3) {
        return $t->chat({ %$body, model => 'fast' },
                        headers => { 'X-T-Model' => 'fast' });
    }
    return $t->chat({ %$body, model => 'gpt-4o-mini' },
                    headers => { 'X-T-Model' => 'gpt-4o-mini',
                                 'X-Mock-Delay' => 0.01 });
}

my sub burst {
    my ($kids, $each, $base) = @_;
    my @pids;
    for my $c (1 .. $kids) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            one($base + $c * 1000 + $_) for 1 .. $each;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
}

# ---- a concurrent mix, 2 workers ------------------------------------------

unlink $state;
$t->config(conf());
$t->start;

my ($j) = status();
is($j->{totals}{requests}, 0, 'a new zone starts at zero');
is($j->{generation}, 1, 'generation 1');
like($t->error_log, qr/no state file .* yet/, 'missing state file: notice');

burst(4, 25, 0);

my %pids;
if (open(my $fh, '<', $t->dir . '/pids.log')) {
    while (<$fh>) { chomp; $pids{$_}++ if /^\d+$/ }
    close $fh;
}
ok(keys(%pids) >= 2, 'requests were served by ' . keys(%pids) . ' workers');

$j = check_exact('concurrent mix');
is($j->{models}{fast}{provider}, 'mockp', 'model provider listed');
ok(@{ $j->{recent} || [] } > 0, 'the recent ring has entries');

# ---- reload: counters kept, models added and removed by name --------------

my $before = $j->{totals}{requests};
ok($t->reload(config => conf()), 'reload, same zone');
($j) = status();
is($j->{totals}{requests}, $before, 'reload keeps the totals');
is($j->{generation}, 2, 'reload bumps the generation');

my $added = <<'EOF';
    llm_route_model added-later provider=mockp input=1 output=1
                    context=4000 quality=0.5;
EOF
ok($t->reload(config => conf(http => $added, no_fast => 1)),
   'reload: one model added, one removed');
($j) = status();
ok(exists $j->{models}{'added-later'}, 'the added model is listed');
is($j->{models}{'added-later'}{requests}, 0, 'the added model starts at 0');
ok(!exists $j->{models}{fast}, 'the removed model is not listed');
is($j->{totals}{requests}, $before, 'totals unchanged by the new config');

my ($e0) = expected();
my $fast = $e0->{fast}{requests};
ok($t->reload(config => conf()), 'reload: the removed model comes back');
($j) = status();
is($j->{models}{fast}{requests}, $fast,
   'a model that comes back has its counters again (kept by name)');
ok(!exists $j->{models}{'added-later'}, 'the added model is gone again');

burst(2, 10, 100000);
check_exact('after reloads');

# ---- a killed worker --------------------------------------------------------

my @w = $t->worker_pids;
$t->kill_workers($w[0]);
burst(2, 10, 200000);
check_exact('after a killed worker');

# ---- the state file: periodic, then a restart -----------------------------

sleep 2.5;
ok(-s $state, 'the state file is written while running');
($j) = status();
ok($j->{state}{writes} >= 1, "state writes counted ($j->{state}{writes})");

my $running = $j->{totals}{requests};
$t->stop(quiet => 1);

ok(-s $state, 'state file written at exit');

# checked once nginx is down: while it runs, a periodic write may be in
# progress (the CI caught one), and PATH.tmp then exists until its rename
ok(!-e "$state.tmp", 'no temporary file left');
$t->{http} = conf();
$t->start;
($j) = status();
is($j->{totals}{requests}, $running, 'restart with state=: totals kept');
ok($j->{state}{loaded} > 0, 'the state file was loaded');
like($t->error_log, qr/state file .* loaded: $running requests/,
     'load logged');
check_exact('after a restart');

# ---- a corrupt state file -------------------------------------------------

$t->stop(quiet => 1);

{
    open(my $fh, '+<', $state) or die "$state: $!";
    binmode $fh;
    seek($fh, 100, 0);
    read($fh, my $b, 1);
    seek($fh, 100, 0);
    print $fh chr(ord($b) ^ 0x55);
    close $fh;
}

$t->start;
($j) = status();
is($j->{totals}{requests}, 0, 'corrupt state file: counters start at zero');
like($t->error_log, qr/\[error\].*state file .* is corrupt/,
     'corrupt state file: logged as an error');
$t->chat({ model => 'gpt-4o', messages => $msgs });
($j) = status_after(1);
is($j->{totals}{requests}, 1, 'and counting works');

# ---- a truncated one --------------------------------------------------------

$t->stop(quiet => 1);
truncate($state, 20);
$t->start;
($j) = status();
is($j->{totals}{requests}, 0, 'truncated state file: ignored');

# ---- a state path that cannot be written -----------------------------------

$t->stop(quiet => 1);
$t->{http} = conf(zone => 'llm:1m state=/nonexistent-dir/x.state '
                          . 'state_interval=200ms');
$t->start;
sleep 0.8;
($j) = status();
ok($j->{state}{errors} >= 1, 'unwritable state file: errors counted');
like($t->error_log, qr/cannot open state file/, 'and logged');
$t->chat({ model => 'gpt-4o', messages => $msgs });
($j) = status_after(1);
is($j->{totals}{requests}, 1, 'serving goes on');

# ---- configuration errors -------------------------------------------------

my ($rc, $out) = $t->nginx_t_http(conf(zone => 'llm:32k'));
isnt($rc, 0, 'a zone too small for its names is refused');
like($out, qr/llm_route_zone "llm" is too small .* needs at least \d+k/,
     'and the error names the zone and the size needed');

($rc, $out) = $t->nginx_t_http(conf(zone => 'llm:1m state_interval=x'));
isnt($rc, 0, 'a bad state_interval is refused');
like($out, qr/invalid parameter "state_interval=x"/, 'named in the error');

$t->stop;

}

# ==== The size a zone needs (was 75-zone-size.t) =============================
#
# A zone too small for its names names the size it needs, and that size is
# enough: every deployment (model at provider) takes a name too, which the
# advice left out (300 models: it asked for a size that then failed).

{

my $t = LLRTest->new(workers => 1);
my $proxy = $t->proxy_directives(route => 1, host => 0, keepalive => 0,
                                 attempt => 0);

my sub conf {
    my ($zone) = @_;
    my $models = join '', map {
        "    llm_route_model model-number-$_ provider=p input=1 output=1"
        . " context=1000 quality=0.5;\n" } 1 .. 300;
    return <<"EOF";
    llm_route_zone llm:$zone;
    llm_route_provider p { upstream 127.0.0.1:9; scheme http; host p; base_path /v1; }
$models
    server { listen 127.0.0.1:%%PORT%%;
             location /v1/ {
$proxy
             } }
EOF
}

my ($rc, $out) = $t->nginx_t_http(conf('200k'));
isnt($rc, 0, '200k is refused');
my ($need) = $out =~ /needs at least (\d+)k/;
ok($need, "the error names a size: ${\($need // '?')}k");
diag($out);

($rc, $out) = $t->nginx_t_http(conf("${need}k"));
is($rc, 0, "the size the error asked for (${need}k) is accepted");
diag($out);

$t->stop;

}

done_testing;
