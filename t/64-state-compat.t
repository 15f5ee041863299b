#!/usr/bin/perl

# A state file written by an earlier build of the module (state file
# version 2: main at 387fdfb, before the metrics of issue 23 and the
# fleet of issue 26 changed the counters and the limits' structures) is
# loaded by this one: the totals, the models' counters and the budgets'
# spend, so that a restart into the new build keeps what was spent.
#
# The file is t/data/state-v2-387fdfb.bin, written by that build with
# the configuration below (two budgets, one spent twice; period=total,
# so that the spend it holds is the current period's on any day: with
# the default period=day the test failed from the day after the file was
# written, the spend loaded being yesterday's); to write it
# again: build 387fdfb (git archive 387fdfb | tar -x -C DIR; make -C DIR
# module) and run this test with LLR_OLD_MODULE=DIR/build/ngx_http_llm_
# route_module.so.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Copy qw(copy);
use LLRTest;

my $fixture = LLRTest->repo . '/t/data/state-v2-387fdfb.bin';

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;
my $state = $t->dir . '/llr.state';
my $proxy = $t->proxy_directives(route => 1, attempt => 0);

my $conf = $t->routed_http(
    http => <<'EOF',
    llm_route_model dollar provider=mockp input=0 output=500000
                    context=128000 quality=0.9;
EOF
    location => 'llm_route_budget $http_x_team 5 period=total;',
    server => <<"EOF");
        location = /llm/status { llm_route_status; }

        location /minute/ {
            llm_route_budget "m-\$http_x_team" 3 period=minute;
$proxy
        }
EOF
$conf =~ s/llm_route_zone llm:1m;/llm_route_zone llm:1m state=$state;/;

my $msgs = [{ role => 'user', content => 'Say hello.' }];

sub ask {
    my ($team, $path) = @_;
    return $t->chat({ model => 'dollar', messages => $msgs, max_tokens => 2 },
                    headers => { 'X-Team' => $team },
                    path => ($path // '/v1') . '/chat/completions');
}

sub status {
    select(undef, undef, undef, 0.1);
    return $t->get('/llm/status')->{json} || {};
}

$t->config($conf);

if ($ENV{LLR_OLD_MODULE}) {
    # write the fixture with the old build: alpha spends $2 of 5, beta $1
    my $new = $LLRTest::MODULE;
    $LLRTest::MODULE = $ENV{LLR_OLD_MODULE};
    $t->start;
    is(ask('alpha')->{status}, 200, 'old build: alpha 1') for 1 .. 2;
    is(ask('beta')->{status}, 200, 'old build: beta');
    is(ask('gamma', '/minute')->{status}, 200, 'old build: gamma, minute');
    $t->stop(quiet => 1);
    $_->start for $t->mocks;
    copy($state, $fixture) or die "copy: $!";
    $LLRTest::MODULE = $new;
}

copy($fixture, $state) or die "copy $fixture: $!";
$t->start;

my $s = status();

like($t->error_log, qr/state file "\Q$state\E" is of version 2: the counters it has are loaded/,
     'the version 2 file is recognized');
unlike($t->error_log, qr/state file .* is (invalid|malformed)|budgets of state file .* malformed/,
       'not refused as malformed');
is($s->{totals}{requests}, 4, 'totals: 4 requests');
is($s->{models}{dollar}{requests}, 4, 'the model\'s requests');
is($s->{budgets}{alpha}{spent_usd} + 0, 2, 'alpha: $2 spent, kept');
is($s->{budgets}{beta}{spent_usd} + 0, 1, 'beta: $1 spent, kept');
is($s->{budgets}{alpha}{limit_usd} + 0, 5, 'alpha: its limit');

# the spend counts against the limit: $3 left for alpha
is(ask('alpha')->{status}, 200, 'alpha: 3') for 1 .. 3;
is(ask('alpha')->{status}, 429, 'alpha: the sixth dollar refused');

$s = status();
is($s->{totals}{requests}, 7,
   'the three answered added to the loaded totals (a refusal is no request)');

$t->done_testing;
