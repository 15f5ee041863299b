#!/usr/bin/perl

# A client that stops reading a paced mock stream (many tokens at a high
# rate, a small receive buffer): the mock stops making events until what
# it wrote has left, so send_timeout closes the connection and memory and
# CPU stay flat.  (It went on making a buffer per tick, never waiting:
# the worker grew by megabytes and send_timeout never fired.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF pack_sockaddr_in inet_aton);
use Time::HiRes qw(sleep time);

my $t = LLRTest->new(workers => 1);

$t->config(<<'EOF');
    server {
        listen 127.0.0.1:%%PORT%%;
        send_timeout 1s;
        location /v1/ { llm_route_mock; }
    }
EOF
$t->start;

my ($w) = $t->worker_pids;

sub rss { open(my $f, '<', "/proc/$w/status") or return 0;
          for (<$f>) { return $1 if /^VmRSS:\s+(\d+)/ } 0 }
sub cpu { open(my $f, '<', "/proc/$w/stat") or return 0; my $s = <$f>;
          my @f = split / /, substr($s, rindex($s, ')') + 2);
          return ($f[11] + $f[12]) / 100 }

my $body = '{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}';
my $s = IO::Socket::INET->new(Proto => 'tcp');
setsockopt($s, SOL_SOCKET, SO_RCVBUF, 2048);
$s->connect(pack_sockaddr_in($t->port, inet_aton('127.0.0.1'))) or die $!;
print $s "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
    . "X-Mock-Tokens: 100000\r\nX-Mock-TPS: 1000\r\n"
    . "Content-Length: " . length($body) . "\r\n\r\n$body";
$s->flush;

my ($rss0, $cpu0) = (rss(), cpu());
sleep 20;                                # never read
my ($rss1, $cpu1) = (rss(), cpu());

# is the server still holding the connection 19 s after send_timeout?
my $port = $t->port;
my @open = grep { /\S/ } split /\n/,
           `ss -tnH state established '( sport = :$port )'`;

diag(sprintf "worker RSS %d kB -> %d kB, CPU %.1f s -> %.1f s in 20 s, "
     . "server-side connections open: %d", $rss0, $rss1, $cpu0, $cpu1,
     scalar @open);

is(scalar @open, 0, 'the stalled connection was closed by send_timeout (1s)');
cmp_ok($rss1 - $rss0, '<', 8192, 'worker memory did not grow by 8 MB+');
cmp_ok($cpu1 - $cpu0, '<', 2, 'the worker did not burn CPU on a stalled client');

close $s;
$t->done_testing;
