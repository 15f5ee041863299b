#!/usr/bin/perl

# A reload that shortens llm_route_zone's state_interval (same zone size,
# so the zone and its next-write time are kept) takes effect at once: the
# next write was still due at the old interval.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use Time::HiRes qw(sleep time);

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;
my $state = $t->dir . '/llr.state';

sub conf {
    my ($iv) = @_;
    my $c = $t->routed_http(server => "location = /llm/status { llm_route_status; }\n");
    $c =~ s/llm_route_zone llm:1m;/llm_route_zone llm:1m state=$state state_interval=$iv;/;
    return $c;
}

sub writes { $t->get('/llm/status')->{json}{state}{writes} // -1 }

$t->config(conf('10s'));
$t->start;

# one worker writes the state at start (a directory it cannot write is a
# warning then), the timer every state_interval
my $end = time + 2;
sleep 0.1 while writes() < 1 && time < $end;
is(writes(), 1, 'one write at start');
$end = time + 15;
sleep 0.2 while writes() < 2 && time < $end;
is(writes(), 2, 'the first periodic write after 10s');

ok($t->reload(config => conf('200ms')), 'reload: state_interval=200ms, same zone');
sleep 0.5;
my $w0 = writes();
sleep 3;
my $w1 = writes();
diag("writes after the reload: $w0, 3 s later: $w1");
cmp_ok($w1 - $w0, '>=', 5, 'state_interval=200ms: several periodic writes in 3 s');

$t->done_testing;
