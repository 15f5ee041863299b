#!/usr/bin/perl

# Reload (HUP) under the module: requests keep being served, a new
# configuration takes effect, a bad one is refused and the old one stays,
# and nothing alerts.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use Time::HiRes qw(time sleep);

my $t = LLRTest->new;
my $m = $t->mock;

my $conf1 = $t->routed_http;
$t->config($conf1);
$t->start;

my $msgs = [{ role => 'user', content => 'reload' }];

my $r = $t->chat({ model => 'gpt-4o', messages => $msgs });
is($r->{status}, 200, 'before reload: 200');

# a client hammering the server while we reload
my $flag = $t->dir . '/stop-client';
my $res = $t->dir . '/client-results';
my $kid = fork();
if ($kid == 0) {
    my ($ok, $bad) = (0, 0);
    my @bad;
    while (!-e $flag) {
        my $x = $t->chat({ model => 'gpt-4o-mini', messages => $msgs },
                         timeout => 10);
        if ($x->{status} == 200
            && ($x->{json}{model} // '') eq 'gpt-4o-mini')
        {
            $ok++;
        } else {
            $bad++;
            push @bad, "$x->{status} " . substr($x->{content} // '', 0, 80);
        }
    }
    open(my $fh, '>', $res);
    print $fh "$ok $bad\n", map { "$_\n" } @bad[0 .. ($#bad < 4 ? $#bad : 4)];
    close $fh;
    POSIX::_exit(0);
}

for my $i (1 .. 3) {
    ok($t->reload, "reload $i: a new generation of workers");
    sleep 0.2;
}

# a new configuration: a new model appears
my $conf2 = $t->routed_http(http => <<'EOF');
    llm_route_model added-later provider=mockp input=1 output=1 context=4000
                    quality=0.5 upstream_model=later-upstream;
EOF
ok($t->reload(config => $conf2), 'reload with a new model');

$r = $t->chat({ model => 'added-later', messages => $msgs });
is($r->{status}, 200, 'the new model routes');
is($r->{headers}{'x-test-model'}, 'later-upstream',
   'the new model: $llm_route_model is its upstream_model');
ok(scalar(grep { ($_->{json}{model} // '') eq 'later-upstream' }
           $m->requests),
   'the new model reaches the provider with its upstream_model');
my %ids = map { $_->{id} => 1 } @{ $t->get('/v1/models')->{json}{data}
                                   || [] };
ok($ids{'added-later'}, '/v1/models lists the new model');

# a bad configuration is refused; the old one keeps serving
my @w = $t->worker_pids;
my $bad = $t->routed_http(http => <<'EOF');
    llm_route_model broken provider=nosuchprov input=1 output=1 context=1
                    quality=0.5;
EOF
ok(!$t->reload(config => $bad, timeout => 2), 'a bad config is not loaded');
is(join(',', $t->worker_pids), join(',', @w), 'the same workers serve');
$r = $t->chat({ model => 'added-later', messages => $msgs });
is($r->{status}, 200, 'the old configuration still routes');
like($t->error_log, qr/nosuchprov/, 'the refusal is in error.log');
unlike($t->error_log, qr/\Q$LLRTest::SECRET\E/,
       'no key in error.log after the refused reload');

# back to a good configuration (so the final config on disk is valid)
ok($t->reload(config => $conf1), 'reload back to the first configuration');
$r = $t->chat({ model => 'added-later', messages => $msgs });
is($r->{status}, 404, 'the removed model is unknown again');

open(my $fh, '>', $flag);
close $fh;
waitpid($kid, 0);

open($fh, '<', $res) or die "no client results";
my ($line, @why) = <$fh>;
close $fh;
my ($ok, $nok) = split ' ', $line;
ok($ok > 10, "the client was served during the reloads ($ok requests)");
is($nok, 0, 'no failed request during the reloads') or diag(@why);

# the emerg of the refused config is expected; nothing else may alert
$t->{log_ignore} = qr/nosuchprov/;

$t->done_testing;
