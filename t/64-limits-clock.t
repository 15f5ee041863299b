#!/usr/bin/perl

# A budget's period follows the wall clock forward only: a clock stepped
# back (NTP step, VM resume) across a period boundary keeps the period the
# budget is in and what was spent in it, as the rate windows do.  (It
# used to start the earlier period from zero, granting a new budget.)
#
# The clock is moved with t/lib/timeshift.c, an LD_PRELOAD shim built
# here with cc: the wall clock plus the offset in the file $LLR_TIMESHIFT.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use Time::HiRes qw(time sleep);

my $t = LLRTest->new(workers => 1, main => 'env LLR_TIMESHIFT;');
my $shim = $t->dir . '/timeshift.so';
system($ENV{CC} || 'cc', '-shared', '-fPIC', '-o', $shim,
       LLRTest->repo . '/t/lib/timeshift.c', '-ldl') == 0
    or plan skip_all => 'no C compiler for the clock shim';
my $m = $t->mock;
my $offf = $t->dir . '/offset';

sub set_off { open(my $f, '>', $offf) or die; print $f int($_[0]), "\n";
              close $f; sleep 0.3 }

$t->config($t->routed_http(
    http => '    llm_route_model dollar provider=mockp input=0 output=500000
                    context=128000 quality=0.9;',
    location => 'llm_route_budget $http_x_team 2 period=minute;',
    server => '        location = /llm/status { llm_route_status; }'));

# fake time: 50 s into a UTC minute
my $now = time;
my $off = (50 - (int($now) % 60)) % 60;
$off += 60 if int($now) % 60 > 45;   # keep 10 s of room
set_off($off);
local $ENV{LLR_TIMESHIFT} = $offf;
{
    local $ENV{LD_PRELOAD} = $shim;
    $t->start;
}

my $b = { model => 'dollar', max_tokens => 2,
          messages => [{ role => 'user', content => 'hi' }] };
sub ask { sleep 0.1; $t->chat($b, headers => { 'X-Team' => 'a' })->{status} }

my @s = map { ask() } 1 .. 3;
is("@s", '200 200 429', 'minute N: $2 budget, $1 each: 2 admitted');

set_off($off + 15);          # minute N+1
@s = map { ask() } 1 .. 3;
is("@s", '200 200 429', 'minute N+1 (clock forward): a new budget');

set_off($off);               # the clock steps back 15 s, into minute N
my $st = ask();
diag('status: ' . $t->get('/llm/status')->{content} =~ s/.*"budgets":(\{.*?\}\}).*/$1/sr);
is($st, 429, 'clock stepped back into minute N: still refused '
             . '(both minutes already spent)');

$t->done_testing;
