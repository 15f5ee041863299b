#!/usr/bin/perl

# A client that goes away in the middle of a stream: the request is
# accounted (tokens, cost, budgets) and the access log line shows the same
# figures.  The module's log handler runs first in the log phase; it used
# to run after access_log, whose token and cost variables were then empty
# for every response that did not complete.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;
my $c = $t->routed_http(
    http => "log_format llr \"\$status \$llm_route_prompt_tokens \$llm_route_completion_tokens \$llm_route_cost \$llm_route_ttft\";\n",
    server => "location = /llm/status { llm_route_status; }\n",
    location => "access_log %%DIR%%/acc.log llr;");
$t->config($c);
$t->start;

my $body = JSON::PP->new->encode({ model => 'fast', stream => JSON::PP::true,
    messages => [{ role => 'user', content => 'stream please' }] });
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port) or die;
print $s "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       . "X-Mock-Events: 10\r\nX-Mock-Event-Delay: 0.3\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
my $buf = '';
while ($buf !~ /w2 /) { sysread($s, $buf, 65536, length $buf) or last }
close $s;
sleep 4;
my $st = $t->get('/llm/status')->{json};
diag("totals: " . JSON::PP->new->canonical->encode($st->{totals}));
diag("recent: " . JSON::PP->new->canonical->encode($st->{recent}[0]));
open(my $fh, '<', $t->dir . '/acc.log'); my $line = <$fh>; close $fh; chomp $line;
diag("access: $line");
is($st->{totals}{requests}, 1, 'zone: counted once');
ok($st->{totals}{cost_usd} > 0, 'zone: a cost is charged');
my (undef, $pt, $ct, $cost, $ttft) = split / /, $line;
is($pt, $st->{totals}{prompt_tokens}, 'access_log: $llm_route_prompt_tokens = what the zone counted');
is($ct, $st->{totals}{completion_tokens}, 'access_log: $llm_route_completion_tokens = what the zone counted');
isnt($cost, '-', 'access_log: $llm_route_cost is known in the log phase');
isnt($ttft, '-', 'access_log: $llm_route_ttft known (the first token did arrive)');
$t->done_testing;
