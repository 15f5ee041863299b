#!/usr/bin/perl

# "n" (issue 20, item 5): a provider generates, and bills, n choices, so
# the estimates that budgets and tpm admit by are n times the completion
# (max_tokens or 256).  The estimate ignored n: n=50 turned a $10 budget
# into $402 spent.  Every choice's tokens count too when the provider
# reports no usage.
#
# The provider here is a small one of the test's own that honours n as
# OpenAI does: n choices of 2 tokens each, usage.completion_tokens = 2n,
# after 1 s (so that concurrent requests are in flight together).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);

my $t = LLRTest->new(workers => 2);

# ---- the provider ----------------------------------------------------------

my $lsn = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                Listen => 128, ReuseAddr => 1) or die "$!";
my $pport = $lsn->sockport;
my $served = $t->dir . '/served';

my $ppid = fork() // die "fork: $!";

if ($ppid == 0) {
    $SIG{CHLD} = 'IGNORE';
    $SIG{ALRM} = 'DEFAULT';
    alarm(0);

    while (my $c = $lsn->accept) {
        next if fork();

        my $buf = '';
        while ($buf !~ /\r\n\r\n/) {
            sysread($c, $buf, 65536, length $buf) or _exit(0);
        }
        my ($len) = $buf =~ /content-length:\s*(\d+)/i;
        my $head = index($buf, "\r\n\r\n") + 4;
        while (length($buf) - $head < ($len // 0)) {
            sysread($c, $buf, 65536, length $buf) or _exit(0);
        }
        my $req = eval { decode_json(substr($buf, $head)) } || {};
        my $n = $req->{n} // 1;
        my $usage = $buf !~ /x-no-usage:/i;

        open(my $fh, '>>', $served);
        print $fh "$n\n";
        close $fh;

        sleep(1);

        my $body = encode_json({
            id => 'chatcmpl-n', object => 'chat.completion',
            created => 1700000000, model => $req->{model},
            choices => [ map { { index => $_, finish_reason => 'length',
                                 message => { role => 'assistant',
                                              content => 'mock rep' } } }
                         0 .. $n - 1 ],
            ($usage ? (usage => { prompt_tokens => 4,
                                  completion_tokens => 2 * $n,
                                  total_tokens => 4 + 2 * $n }) : ()),
        });
        syswrite($c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     . "Content-Length: " . length($body) . "\r\n"
                     . "Connection: close\r\n\r\n$body");
        close $c;
        _exit(0);
    }

    _exit(0);
}

close $lsn;

END { kill 'KILL', $ppid if $ppid; }

# ---- nginx ----------------------------------------------------------------

my $proxy = "            llm_route on;\n" . $t->proxy_directives;

# $0.10 a completion token: 2 tokens $0.20, n=50 of them $10
$t->config(<<"EOF");
    llm_route_zone llm:1m;

    llm_route_provider np {
        upstream 127.0.0.1:$pport;
        scheme http;
        host n.example;
        base_path /v1;
    }

    llm_route_model dime provider=np input=0 output=100000
                    context=128000 quality=0.9;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /llm/status { llm_route_status; }

        location /v1/ {
$proxy
            llm_route_budget \$http_x_team 10;
        }

        location /tpm/ {
$proxy
            llm_route_rate \$http_x_team tpm=150;
        }
    }
EOF
$t->start;

my $msgs = [{ role => 'user', content => 'hi' }];

sub served {
    open(my $fh, '<', $served) or return 0;
    my @l = <$fh>;
    close $fh;
    unlink $served;
    return scalar @l;
}

# n concurrent requests, each answered after 1 s: their statuses
sub burst {
    my ($k, %o) = @_;
    my $body = LLRTest::json_encode({ model => 'dime', max_tokens => 2,
                                      n => $o{n}, messages => $msgs });
    my @s;

    for (1 .. $k) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $t->port) or die "$!";
        print $s "POST $o{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               . "X-Team: $o{team}\r\nContent-Type: application/json\r\n"
               . "Content-Length: " . length($body) . "\r\n\r\n$body";
        push @s, $s;
    }

    my @st;

    for my $s (@s) {
        local $/;
        my $res = <$s> // '';
        push @st, $res =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
        close $s;
    }

    return @st;
}

sub status {
    sleep(0.3);
    return $t->get('/llm/status')->{json} || {};
}

# ---- n=50 under a $10 budget: 40 concurrent requests ----------------------

my @st = burst(40, n => 50, path => '/v1/chat/completions', team => 'n50');
my $ok = grep { $_ == 200 } @st;
my $st = status();
my $b = $st->{budgets}{n50} || {};
my $reached = served();
diag(sprintf("n=50, \$0.20 per choice, \$10 budget, 40 concurrent requests: "
             . "%d admitted, %d reached the provider, spent \$%.2f",
             $ok, $reached, $b->{spent_usd} // -1));

is($ok, 1, 'one request of an estimated $10 (50 x 2 tokens) is admitted');
is($reached, 1, 'one reaches the provider');
is($b->{spent_usd}, 10, 'the budget is spent, not overspent');
is($st->{totals}{completion_tokens}, 100, 'its 50 choices counted');

# ---- tpm: n times the tokens -----------------------------------------------

@st = burst(1, n => 40, path => '/tpm/v1/chat/completions', team => 'tpm');
is($st[0], 200, 'tpm=150: n=40 of 2 tokens (80 + prompt) admitted');
@st = burst(1, n => 40, path => '/tpm/v1/chat/completions', team => 'tpm');
is($st[0], 429, 'a second one would pass 150: refused');
@st = burst(1, n => 80, path => '/tpm/v1/chat/completions', team => 'tpm2');
is($st[0], 429, 'n=80 of 2 tokens never fits 150 ("Request too large")');
served();

# ---- no usage: every choice's text counts -----------------------------------

my $r = $t->chat({ model => 'dime', max_tokens => 2, n => 10,
                   messages => $msgs },
                 headers => { 'X-Team' => 'nousage', 'X-No-Usage' => 1 });
is($r->{status}, 200, 'an answer without usage');
is(scalar @{ $r->{json}{choices} || [] }, 10, 'of 10 choices');
$st = status();
my $rec = $st->{recent}[0] || {};
ok($rec->{estimated}, 'estimated');
is($rec->{completion_tokens}, 20,
   'from the text of all 10 choices (10 x 8 bytes / 4)');

$t->done_testing;
