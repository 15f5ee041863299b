#!/usr/bin/perl

# Status names of budgets are unique across keys too: a client's key
# "a/day" and the day budget of key "a" (named "a/day" because "a" also
# has an hour budget) used to give a duplicate JSON member (a decoder
# kept one) and a duplicate Prometheus series.  The later one in key
# order is named "a/day/#2".

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $proxy = <<'EOF2';
            llm_route on;
            proxy_pass $llm_route_url;
            proxy_set_header Host $llm_route_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
EOF2

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

$t->done_testing;
