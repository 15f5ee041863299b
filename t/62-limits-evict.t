#!/usr/bin/perl

# A zone full of idle budget nodes (nothing spent) makes room for a new
# key however many idle nodes that takes: a long key needs a larger slab
# chunk, and freeing small chunks scattered over many pages frees no page
# until all of a page's chunks are free.  (It used to stop after 64
# evictions and answer 503 "limits_zone_full"; docs/budgets.md promises
# the 503 only when nothing can be evicted.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use List::Util qw(shuffle);

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $c = $t->routed_http(
    http => '    llm_route_model free provider=mockp input=0 output=0
                    context=128000 quality=0.9;',
    location => 'llm_route_budget $http_x_team 5;',
    server => '        location = /llm/status { llm_route_status; }');
$c =~ s/llm_route_zone llm:1m;/llm_route_zone llm:200k;/;
$t->config($c);
$t->start;

my $b = { model => 'free', max_tokens => 2,
          messages => [{ role => 'user', content => 'hi' }] };
sub ask { $t->chat($b, headers => { 'X-Team' => $_[0] }) }

# fill the zone with idle keys (a free model: nothing is ever spent)
my $bad = 0;
$bad++ for grep { ask("k$_")->{status} != 200 } 1 .. 1200;
is($bad, 0, '1200 short idle keys: all admitted (idle ones evicted)');

my @in = keys %{ $t->get('/llm/status')->{json}{budgets} || {} };
diag(scalar(@in) . ' keys tracked, all idle');

# touch them in random order: the LRU order no longer follows the pages
srand(7);
ask($_) for shuffle @in;

# a new key of 1000 bytes
my @st;
for my $i (1 .. 5) {
    my $r = ask(chr(ord('A') + $i) x 1000);
    push @st, $r->{status};
}
diag("long new keys: @st");
is($st[0], 200, 'a new long key is admitted while every tracked node is idle');
my $n = () = $t->error_log =~ /too full to track/g;
is($n, 0, 'no "too full" error while everything is evictable');

$t->done_testing;
