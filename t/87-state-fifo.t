#!/usr/bin/perl

# A FIFO (or another file that is not a regular one) at the state= path
# hung the start: the master opened it to read, waiting for a writer
# forever (issue 20, item 7).  nginx -t and the start now refuse it with
# a line saying so.  The state writer does not open what it finds at
# PATH.tmp either (a FIFO there blocked a worker): it removes it and
# creates a new file.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use POSIX qw(mkfifo);
use Time::HiRes qw(time sleep);

my $t = LLRTest->new(workers => 1);

my $dir = $t->dir;
my $state = "$dir/llr.state";

sub conf {
    my ($path) = @_;
    return <<"EOF";
    llm_route_zone llm:1m state=$path state_interval=200ms;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /llm/status { llm_route_status; }
    }
EOF
}

# nginx -t, killed after 10 s if it hangs
sub nginx_t {
    my ($path) = @_;
    my $file = "$dir/t.conf";
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $t->wrap(conf($path), error_log => "$dir/t-error.log");
    close $fh;
    my $out = `timeout -s KILL 10 ${\ $t->nginx_binary} -t -q -p $dir/ -c $file 2>&1`;
    return ($? >> 8, $out);
}

# ---- a FIFO at the state path ---------------------------------------------

mkfifo($state, 0600) or die "mkfifo: $!";

my $t0 = time;
my ($rc, $out) = nginx_t($state);
my $took = time - $t0;
diag("nginx -t with a FIFO at state=: exit $rc after "
     . sprintf('%.1f', $took) . " s: $out");
cmp_ok($took, '<', 9, 'nginx -t does not hang on a FIFO');
isnt($rc, 0, 'it refuses it');
like($out, qr/state file "\Q$state\E" is not a regular file/,
     'and says why');

# a directory too
unlink $state;
mkdir $state or die "mkdir: $!";
($rc, $out) = nginx_t($state);
isnt($rc, 0, 'a directory at state= is refused too');
like($out, qr/is not a regular file/, 'with the same line');
rmdir $state;

# ---- a FIFO at PATH.tmp does not block the writer ---------------------------

mkfifo("$state.tmp", 0600) or die "mkfifo: $!";

$t->config(conf($state));
$t->start;

sleep(1);

$t0 = time;
my $r = $t->get('/llm/status', timeout => 5);
is($r->{status}, 200, 'the worker answers: the writer did not block');
cmp_ok(time - $t0, '<', 3, 'at once');
ok(-f $state && -s $state, 'and the state file was written');
ok(!-p "$state.tmp", 'the FIFO at PATH.tmp is gone');

$t->done_testing;
