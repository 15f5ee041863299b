#!/usr/bin/perl

# The state file (llm_route_zone state=):
#
#   1. a reload that shortens state_interval takes effect at once
#   2. a FIFO (or another file that is not a regular one) at the path or
#      at PATH.tmp
#   3. a directory the workers cannot write: a [warn] at start

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use Time::HiRes qw(sleep time);
use POSIX qw(mkfifo);

# ==== state_interval on reload (was 74-state-interval.t) =====================
#
# A reload that shortens llm_route_zone's state_interval (same zone size,
# so the zone and its next-write time are kept) takes effect at once: the
# next write was still due at the old interval.

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;
my $state = $t->dir . '/llr.state';

my sub conf {
    my ($iv) = @_;
    my $c = $t->routed_http(server => "location = /llm/status { llm_route_status; }\n");
    $c =~ s/llm_route_zone llm:1m;/llm_route_zone llm:1m state=$state state_interval=$iv;/;
    return $c;
}

my sub writes { $t->get('/llm/status')->{json}{state}{writes} // -1 }

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

$t->stop;

}

# ==== Files that are not regular files (was 87-state-fifo.t) =================
#
# A FIFO (or another file that is not a regular one) at the state= path
# hung the start: the master opened it to read, waiting for a writer
# forever (issue 20, item 7).  nginx -t and the start now refuse it with
# a line saying so.  The state writer does not open what it finds at
# PATH.tmp either (a FIFO there blocked a worker): it removes it and
# creates a new file.

{

my $t = LLRTest->new(workers => 1);

my $dir = $t->dir;
my $state = "$dir/llr.state";

my sub conf {
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
my sub nginx_t {
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

$t->stop;

}

# ==== A directory the workers cannot write (was 91-state-dir.t) ==============
#
# A state file the worker processes cannot write is a [warn] at start,
# not only a count in state.errors: on Debian /var/lib/nginx is root:root
# 0755 and the workers run as www-data, so every write failed with EACCES
# while the master (root) read the file fine and nginx -t passed. Here the
# workers run as nobody (as root; otherwise the directory is made
# read-only) next to a directory only root can write; a directory the
# workers' user owns works without a warning.

{

my $root = $> == 0;

my $t = LLRTest->new(workers => 2);
my $m = $t->mock;
my $dir = $t->dir;

# the workers as nobody: they need to reach the temporary directories
chmod(0755, $dir) or die "chmod $dir: $!";

if ($root) {
    no warnings 'redefine';
    my $wrap = \&LLRTest::wrap;
    *LLRTest::wrap = sub {
        my $c = $wrap->(@_);
        $c =~ s/^user root;$/user nobody nogroup;/m;
        return $c;
    };
}

# as nginx-common leaves /var/lib/nginx, and as the package makes
# /var/lib/nginx/llm_route for the workers' user
mkdir("$dir/lib") or die "mkdir: $!";
mkdir("$dir/lib/llm_route") or die "mkdir: $!";

if ($root) {
    chown(scalar(getpwnam('nobody')), scalar(getgrnam('nogroup')),
          "$dir/lib/llm_route") or die "chown: $!";
} else {
    chmod(0555, "$dir/lib") or die "chmod: $!";
}

my sub conf {
    my ($state) = @_;
    my $c = $t->routed_http(
        server => "location = /llm/status { llm_route_status; }\n");
    $c =~ s/llm_route_zone llm:1m;/llm_route_zone llm:1m state=$state;/;
    return $c;
}

my sub warned {
    my ($re, $timeout) = @_;
    my $end = time + ($timeout // 5);
    for (;;) {
        my @w = grep { /\[warn\]/ && /$re/ } split /\n/, $t->error_log;
        return @w if @w || time > $end;
        sleep 0.1;
    }
}

# ---- a directory the workers cannot write ----------------------------------

$t->config(conf("$dir/lib/llm.state"));
$t->start;

my @w = warned(qr/state file/);
is(scalar(@w), 1, 'a [warn] at start, from one worker');
my $msg = qq{llm_route_zone "llm": the worker processes cannot open state }
          . qq{file "$dir/lib/llm.state.tmp", the counters and budgets will }
          . qq{not survive a restart: give state= a directory the workers' }
          . qq{user can write};
like($w[0] // '', qr/\Q$msg\E.*\(13: Permission denied\)/,
     'it names the file, the consequence, the remedy and the error');

my $j = $t->get('/llm/status')->{json} || {};
cmp_ok($j->{state}{errors} // 0, '>=', 1, 'and state.errors counts it');
is($j->{state}{writes}, 0, 'nothing was written');
ok(!-e "$dir/lib/llm.state", 'no state file');

# ---- the workers' own directory --------------------------------------------

my @before = split /\n/, $t->error_log;
ok($t->reload(config => conf("$dir/lib/llm_route/llm.state")),
   'reload: state=.../llm_route/llm.state');

my $end = time + 5;
sleep 0.1 while !-s "$dir/lib/llm_route/llm.state" && time < $end;
ok(-s "$dir/lib/llm_route/llm.state", 'written at start, by the workers');
SKIP: {
    skip 'not root: the workers run as the test user', 1 unless $root;
    is((stat "$dir/lib/llm_route/llm.state")[4], scalar(getpwnam('nobody')),
       "owned by the workers' user");
}

my @lines = split /\n/, $t->error_log;
my @new = grep { /\[warn\].*state file/ } @lines[@before .. $#lines];
is(scalar(@new), 0, 'no warning for it') or diag(join("\n", @new));
$j = $t->get('/llm/status')->{json} || {};
cmp_ok($j->{state}{writes} // 0, '>=', 1, 'state.writes counts the write');

$t->stop;

}

done_testing;
