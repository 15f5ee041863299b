#!/usr/bin/perl

# The limits' records in the zone: eviction, names, the clock, keys.
#
#   1. a zone full of idle nodes makes room for a new key
#   2. two budgets of one key and period keep their names
#   3. status names of budgets are unique across keys too
#   4. a clock stepped back keeps the period and its spend
#   5. keys that are not UTF-8, and long keys, in the status and the 429

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use List::Util qw(shuffle);
use Time::HiRes qw(time sleep);
use JSON::PP;

# ==== Eviction (was 62-limits-evict.t) =======================================
#
# A zone full of idle budget nodes (nothing spent) makes room for a new
# key however many idle nodes that takes: a long key needs a larger slab
# chunk, and freeing small chunks scattered over many pages frees no page
# until all of a page's chunks are free.  (It used to stop after 64
# evictions and answer 503 "limits_zone_full"; docs/budgets.md promises
# the 503 only when nothing can be evicted.)

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $c = $t->routed_http(
    http => '    llm_route_model free provider=mockp input=0 output=0
                    context=128000 quality=0.9;',
    location => 'llm_route_budget $http_x_team 5;',
    server => '        location = /llm/status { llm_route_status; }');
$c =~ s/llm_route_zone llm:1m;/llm_route_zone llm:320k;/;
$t->config($c);
$t->start;

my $b = { model => 'free', max_tokens => 2,
          messages => [{ role => 'user', content => 'hi' }] };
my sub ask { $t->chat($b, headers => { 'X-Team' => $_[0] }) }

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

$t->stop;

}

# ==== Names of budgets sharing a key (was 63-limits-names.t) =================
#
# Two budgets with the same key value and period but different key
# expressions are named "key/day/1" and "key/day/2" in the status, by
# limit: the names must not follow the zone's LRU order (they used to swap
# between two reads when a request touched only one of the budgets).

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $proxy = $t->proxy_directives(route => 1, attempt => 0);

$t->config($t->routed_http(
    location => 'llm_route_budget $http_x_team 5;
                 llm_route_budget ${http_x_team} 7;',
    server => <<"EOF2"));
        location = /llm/status { llm_route_status; }
        location /five/ {
$proxy
            llm_route_budget \$http_x_team 5;
        }
        location /seven/ {
$proxy
            llm_route_budget \${http_x_team} 7;
        }
EOF2
$t->start;

my $b = { model => 'gpt-4o-mini', max_tokens => 2,
          messages => [{ role => 'user', content => 'hi' }] };

my sub names {
    select(undef, undef, undef, 0.2);
    my $bu = $t->get('/llm/status')->{json}{budgets} || {};
    return join ' ', map { "$_=" . ($bu->{$_}{limit_usd} + 0) } sort keys %$bu;
}

is($t->chat($b, headers => { 'X-Team' => 'a' })->{status}, 200, 'both');
my $n1 = names();
is($t->chat($b, headers => { 'X-Team' => 'a' },
            path => '/five/v1/chat/completions')->{status}, 200, 'only $5');
my $n2 = names();
is($t->chat($b, headers => { 'X-Team' => 'a' },
            path => '/seven/v1/chat/completions')->{status}, 200, 'only $7');
my $n3 = names();
diag("after both: $n1");
diag("after /five: $n2");
diag("after /seven: $n3");
is($n2, $n1, 'names stable after touching the $5 budget');
is($n3, $n1, 'names stable after touching the $7 budget');

$t->stop;

}

# ==== Names unique across keys (was 82-limits-unique-names.t) ================
#
# Status names of budgets are unique across keys too: a client's key
# "a/day" and the day budget of key "a" (named "a/day" because "a" also
# has an hour budget) used to give a duplicate JSON member (a decoder
# kept one) and a duplicate Prometheus series.  The later one in key
# order is named "a/day/#2".

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $proxy = $t->proxy_directives(route => 1, attempt => 0);

$t->config($t->routed_http(
    location => 'llm_route_budget $http_x_team 5;
                 llm_route_budget $http_x_team 7 period=hour;',
    server => <<"EOF2"));
        location = /llm/status { llm_route_status; }
        location /one/ {
$proxy
            llm_route_budget \$http_x_team 3;
        }
EOF2
$t->start;

my $b = { model => 'gpt-4o-mini', max_tokens => 2,
          messages => [{ role => 'user', content => 'hi' }] };

is($t->chat($b, headers => { 'X-Team' => 'a' })->{status}, 200,
   'key "a": two budgets (day, hour)');
is($t->chat($b, headers => { 'X-Team' => 'a/day' },
            path => '/one/v1/chat/completions')->{status}, 200,
   'key "a/day": one budget (day)');
select(undef, undef, undef, 0.2);

my $s = $t->get('/llm/status');
my @names = $s->{content} =~ /"budgets":\{(.*?)\},"rates"/s
            ? ($1 =~ /(?:^|\},)"([^"]*)":\{"key"/g) : ();
diag("budget member names: @names");
my %seen;
my @dups = grep { $seen{$_}++ } @names;
is(scalar(@names), 3, 'three budget nodes listed');
is("@dups", '', 'budget member names are unique');
is(scalar(keys %{ $s->{json}{budgets} || {} }), 3,
   'a JSON decoder sees three budgets');

my $p = $t->get('/llm/status?format=prometheus')->{content};
my @series = $p =~ /^(llm_route_budget_limit_usd\{[^}]*\})/mg;
diag("series: @series");
%seen = ();
@dups = grep { $seen{$_}++ } @series;
is("@dups", '', 'no duplicate Prometheus series');
SKIP: {
    my ($rc, $out) = $t->promtool($p) or skip 'no promtool', 1;
    is($rc, 0, 'promtool accepts the exposition') or diag($out);
}

# ---- crafted keys: names unique whatever the keys (issue 20, item 3) ----
#
# "/#2" was added again and again over four passes at most: keys such as
# "a/day/#2/#2/#2/#2/#2" were still left with a duplicate JSON member and
# a duplicate Prometheus series.

for my $k (1 .. 6) {
    my $key = 'a/day' . ('/#2' x $k);
    is($t->chat($b, headers => { 'X-Team' => $key },
                path => '/one/v1/chat/completions')->{status}, 200,
       "key \"$key\" tracked");
}
select(undef, undef, undef, 0.2);

$s = $t->get('/llm/status');
@names = $s->{content} =~ /"budgets":\{(.*?)\},"rates"/s
         ? ($1 =~ /(?:^|\},)"([^"]*)":\{"key"/g) : ();
diag("budget member names: @names");
%seen = ();
@dups = grep { $seen{$_}++ } @names;
is(scalar(@names), 9, 'nine budget nodes listed');
is("@dups", '', 'crafted keys: member names still unique');
is(scalar(keys %{ $s->{json}{budgets} || {} }), 9,
   'a JSON decoder sees nine budgets');
my %keys = map { $_->{key} => 1 } values %{ $s->{json}{budgets} || {} };
is(scalar(keys %keys), 8, 'with their eight keys');

$p = $t->get('/llm/status?format=prometheus')->{content};
@series = $p =~ /^(llm_route_budget_spent_usd\{[^}]*\})/mg;
%seen = ();
@dups = grep { $seen{$_}++ } @series;
is(scalar(@series), 9, 'nine Prometheus series');
is("@dups", '', 'crafted keys: no duplicate Prometheus series');

$t->stop;

}

# ==== A clock stepped back (was 64-limits-clock.t) ===========================
#
# A budget's period follows the wall clock forward only: a clock stepped
# back (NTP step, VM resume) across a period boundary keeps the period the
# budget is in and what was spent in it, as the rate windows do.  (It
# used to start the earlier period from zero, granting a new budget.)
#
# The clock is moved with t/lib/timeshift.c, an LD_PRELOAD shim built
# here with cc: the wall clock plus the offset in the file $LLR_TIMESHIFT.

SKIP: {

my $t = LLRTest->new(workers => 1, main => 'env LLR_TIMESHIFT;');
my $shim = $t->dir . '/timeshift.so';
system($ENV{CC} || 'cc', '-shared', '-fPIC', '-o', $shim,
       LLRTest->repo . '/t/lib/timeshift.c', '-ldl') == 0
    or skip 'no C compiler for the clock shim', 5;
my $m = $t->mock;
my $offf = $t->dir . '/offset';

my sub set_off { open(my $f, '>', $offf) or die; print $f int($_[0]), "\n";
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
my sub ask { sleep 0.1; $t->chat($b, headers => { 'X-Team' => 'a' })->{status} }

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

$t->stop;

}

# ==== Keys that are not UTF-8 (was 65-keys-utf8.t) ===========================
#
# Budget and rate keys are client-chosen bytes (a header here).  Bytes
# that are not UTF-8 become U+FFFD in the status JSON, in Prometheus label
# values and in the 429 message, and the 1024-byte key cap and the 64-byte
# cut of the 429 message never split a character: one odd header must not
# make the whole status document undecodable (it did).

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

$t->config($t->routed_http(
    location => 'llm_route_rate $http_x_team rpm=100;',
    server => '        location = /llm/status { llm_route_status; }'));
$t->start;

my $body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}';

my sub ask_raw {
    my ($team) = @_;
    my $req = "POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\n"
            . "Content-Type: application/json\r\nX-Team: $team\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n$body";
    return LLRTest::parse_response($t->raw($req));
}

# 1. a raw 0xff byte in the key
is(ask_raw("caf\xff")->{status}, 200, 'request with key caf\\xff admitted');

my $s = $t->get('/llm/status');
is($s->{status}, 200, 'status 200');
ok(defined $s->{json}, 'status JSON decodes as UTF-8 (strict)')
    or diag('raw bytes in body: '
            . join(' ', map { sprintf '%02x', ord }
                   ($s->{content} =~ /"(caf[^"]*)"/ ? split //, $1 : ())));

my $p = $t->get('/llm/status?format=prometheus')->{content};
SKIP: {
    my ($rc, $out) = $t->promtool($p) or skip 'no promtool', 1;
    is($rc, 0, 'promtool accepts the exposition') or diag($out);
}

$t->stop;

# 2. valid UTF-8 cut at 1024 bytes in the middle of a character
my $t2 = LLRTest->new(workers => 1);
my $m2 = $t2->mock;
$t2->config($t2->routed_http(
    location => 'llm_route_rate $http_x_team rpm=100;',
    server => '        location = /llm/status { llm_route_status; }'));
$t2->start;
$t = $t2;

my $key = ('a' x 1023) . "\xc3\xa9";     # 1025 bytes, valid UTF-8
ok(utf8::decode(my $tmp = $key), 'the key sent is valid UTF-8');
is(ask_raw($key)->{status}, 200, 'long valid-UTF-8 key admitted');
$s = $t2->get('/llm/status');
ok(defined $s->{json}, 'status JSON still decodes after the 1024-byte cut');


# 3. the 429 message cuts the key at 64 bytes, in the middle of a character
my $k3 = ('b' x 63) . "\xc3\xa9";     # 65 bytes, valid UTF-8
is(ask_raw($k3)->{status}, 200, 'first request with a 65-byte key');
$t2->stop;

my $t3 = LLRTest->new(workers => 1);
my $m3 = $t3->mock;
$t3->config($t3->routed_http(
    location => 'llm_route_rate $http_x_team rpm=1;',
    server => '        location = /llm/status { llm_route_status; }'));
$t3->start;
$t = $t3;
is(ask_raw($k3)->{status}, 200, 'rpm=1: first request admitted');
my $r3 = ask_raw($k3);
is($r3->{status}, 429, 'rpm=1: second request refused');
ok(defined $r3->{json}, 'the 429 body is valid UTF-8 JSON')
    or diag('body: ' . $r3->{body});
$t3->stop;

}

done_testing;
