#!/usr/bin/perl

# A state file the worker processes cannot write is a [warn] at start,
# not only a count in state.errors: on Debian /var/lib/nginx is root:root
# 0755 and the workers run as www-data, so every write failed with EACCES
# while the master (root) read the file fine and nginx -t passed. Here the
# workers run as nobody (as root; otherwise the directory is made
# read-only) next to a directory only root can write; a directory the
# workers' user owns works without a warning.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use Time::HiRes qw(sleep time);

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

sub conf {
    my ($state) = @_;
    my $c = $t->routed_http(
        server => "location = /llm/status { llm_route_status; }\n");
    $c =~ s/llm_route_zone llm:1m;/llm_route_zone llm:1m state=$state;/;
    return $c;
}

sub warned {
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

$t->done_testing;
