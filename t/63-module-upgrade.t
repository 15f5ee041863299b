#!/usr/bin/perl

# A new build of the module and a reload (a package upgrade: a new .so,
# then nginx -s reload).  nginx dlopen()s modules RTLD_GLOBAL and keeps
# the old configuration's loaded while it reads the new one, so the code
# loaded first keeps running: the same path returns the loaded object;
# another path binds the module's symbols to the loaded definitions.
# The zones are adopted by that old code, whatever layout version the
# new build has (a build of the module with the zone's layout version
# bumped proves it: it would refuse the old zone).  What the operator
# must learn is that the upgrade did not take: a warning, in both cases;
# a restart runs the new build with a zone of its own.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Copy qw(copy);
use LLRTest;

# two builds of the module loaded at once is this file's subject: under
# make test-asan, ASan would call it an ODR violation and abort
$ENV{LLR_ASAN_OPTIONS} = 'detect_odr_violation=0';

my $t = LLRTest->new;
my $m = $t->mock;
my $dir = $t->dir;
my $orig = $LLRTest::MODULE;

# the module at a path of its own, to be replaced like a package does
my $mod = "$dir/mod.so";
copy($orig, $mod) or die "copy: $!";
$LLRTest::MODULE = $mod;

# a second build, the zone's layout version bumped, if the build tree of
# the module under test is here (make builds build/nginx next to
# build/ngx_http_llm_route_module.so, make test-nginx-src its own beside
# its module); else a copy of the module under another name
(my $objs = $orig) =~ s{/[^/]+$}{/nginx};
my $bumped = "$dir/bumped.so";
my $built = 0;

if (-f "$objs/objs/Makefile" && -f "$objs/objs/ngx_http_llm_route_module.so")
{
    system('cp', '-a', $objs, "$dir/nginx") == 0 or die "cp: $?";
    open(my $fh, '<', "$dir/nginx/objs/Makefile") or die $!;
    my ($cflags) = map { /^CFLAGS = (.*)/ ? $1 : () } <$fh>;
    close $fh;
    unlink "$dir/nginx/objs/addon/ngx_llm_route_module/"
           . 'ngx_http_llm_route_zone.o';
    my $out = `make -s -C $dir/nginx -f objs/Makefile modules CFLAGS='$cflags -DNGX_HTTP_LLM_ROUTE_ZONE_VERSION=1000' 2>&1`;
    $built = $? == 0;
    ok($built, 'a build with the zone layout version bumped') or diag $out;
    copy("$dir/nginx/objs/ngx_http_llm_route_module.so", $bumped)
        or die "copy: $!";
} else {
    copy($orig, $bumped) or die "copy: $!";
}

my $conf = $t->routed_http(server => <<'EOF');
        location = /llm/status { llm_route_status; }
EOF
$t->config($conf);
$t->start;

my $msgs = [{ role => 'user', content => 'upgrade' }];

# totals.requests, once at least $want (counted in the log phase, which
# may run after the client has its answer)
sub requests {
    my ($want) = @_;
    return $t->status_json($want)->{totals}{requests} // -1;
}

is($t->chat({ model => 'gpt-4o', messages => $msgs })->{status}, 200,
   'served');
my $before = requests(1);
ok($before >= 1, "counted: $before");

my $warn_replaced = qr/llm_route: "\Q$mod\E" was replaced on disk/;
my $warn_other = qr/llm_route: the module in "\Q$bumped\E" is loaded but does not run/;

ok($t->reload, 'a reload, nothing changed');
unlike($t->error_log, qr/$warn_replaced|$warn_other/, 'no warning');

# 1. the package upgrade: the same path, a new file (dpkg renames over it)
copy($bumped, "$mod.new") or die "copy: $!";
rename("$mod.new", $mod) or die "rename: $!";

ok($t->reload, 'the same path replaced, reload');
like($t->error_log, $warn_replaced, 'warned: the replaced file does not run');
ok(requests() >= $before, 'the zone kept (the loaded code adopted it)');
is($t->chat({ model => 'gpt-4o', messages => $msgs })->{status}, 200,
   'served after it');

# 2. load_module of another path: loaded, does not run
$LLRTest::MODULE = $bumped;
ok($t->reload, 'another path, reload');
like($t->error_log, $warn_other, 'warned: the other object does not run');
my $after = requests($before + 1);
ok($after > $before, "the zone adopted, not refused: $after > $before");
unlike($t->error_log, qr/created by another version/,
       'the bumped build\'s version check never ran');
is($t->chat({ model => 'gpt-4o', messages => $msgs })->{status}, 200,
   'served after it');

# 3. a restart runs the new build, with a zone of its own
$t->stop(quiet => 1);
$_->start for $t->mocks;
$t->start;
ok(requests() < $after, 'restarted: a new zone');
is($t->chat({ model => 'gpt-4o', messages => $msgs })->{status}, 200,
   'served by the new build');

$LLRTest::MODULE = $orig;
$t->done_testing;
