#!/usr/bin/perl

# Generated files are what their generators write: build-aux/
# check-generated.sh (make check-generated, a step of make test) passes
# on this tree, and fails, naming the file, when one of them is stale:
# checked in copies of the files it reads, each with one generated file
# out of date.  The retraining of models/default.model (LLR_CHECK_TRAIN,
# a minute of CPU) is make check-generated's, not this test's.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use File::Path qw(make_path);
use File::Temp qw(tempdir);

my $repo = LLRTest->repo;
my $train = "$repo/build/llm-route-train";

plan skip_all => 'build/llm-route-train is not built' unless -x $train;

my $tmp = tempdir('llrtest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $data = $ENV{LLR_DATA} || "$repo/../shared/data";
my $have_data = -d "$data/routellm";

# check-generated.sh in TREE: (exit status, output)
sub check {
    my ($tree) = @_;
    my $out = `cd '$tree' && BUILD='$repo/build' LLR_DATA='$data' \\
               LLR_CHECK_TRAIN=0 sh build-aux/check-generated.sh 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = check($repo);
is($rc, 0, 'build-aux/check-generated.sh') or diag($out);
like($out, qr/llr_default_model\.c is models\/default\.model/,
     'the built-in model is models/default.model');
like($out, qr/ngx_http_llm_route_dashboard\.c is dashboard\.html/,
     'the dashboard C file is dashboard.html');
like($out, qr/pooled-session13\.md is what bench\/report\.pl writes/,
     'the pooled benchmark table is what bench/report.pl writes');
SKIP: {
    skip "no data in $data (LLR_DATA)", 1 unless $have_data;
    my $n = () = $out =~ /fuzz\/seeds\/\w+\/ is what fuzz\/make-seeds\.pl/g;
    # the targets make-seeds.pl generates: the directories it rewrites
    open(my $fh, '<', "$repo/fuzz/make-seeds.pl") or die "make-seeds.pl: $!";
    my ($list) = do { local $/; <$fh> }
                 =~ /remove_tree\("\$dir\/\$_"\) for qw\(([^)]*)\)/;
    close $fh;
    my @targets = split ' ', $list // '';
    is($n, scalar @targets, 'the seeds of the ' . @targets . ' generated '
       . "targets are what fuzz/make-seeds.pl writes (@targets)");
}

# a copy of what the check reads, with one change

my $n = 0;

sub tree {
    my ($change) = @_;
    my $dir = "$tmp/tree" . ++$n;
    make_path("$dir/ngx_llm_route_module/core", "$dir/bench/results",
              "$dir/models", "$dir/fuzz", "$dir/t/unit");
    system('cp', '-R', "$repo/build-aux", "$dir/") == 0 or die;
    system('cp', "$repo/ngx_llm_route_module/dashboard.html",
           "$repo/ngx_llm_route_module/ngx_http_llm_route_dashboard.c",
           "$dir/ngx_llm_route_module/") == 0 or die;
    system('cp', "$repo/ngx_llm_route_module/core/llr_default_model.c",
           "$dir/ngx_llm_route_module/core/") == 0 or die;
    system('cp', "$repo/models/default.model", "$dir/models/") == 0 or die;
    system("cp '$repo'/bench/report.pl '$dir/bench/' && "
           . "cp '$repo'/bench/results/* '$dir/bench/results/' && "
           . "cp -R '$repo'/fuzz/make-seeds.pl '$repo'/fuzz/seeds "
           . "'$dir/fuzz/' && "
           # the translation fixtures and the mock's streams some seeds
           # are made of
           . "cp -R '$repo'/t/unit/xlate '$repo'/t/unit/sse-tap "
           . "'$dir/t/unit/'") == 0 or die;
    $change->($dir) if $change;
    return $dir;
}

sub append {
    my ($file, $text) = @_;
    open(my $fh, '>>', $file) or die "$file: $!";
    print $fh $text;
    close $fh;
}

($rc, $out) = check(tree());
is($rc, 0, 'a copy of the files passes the check') or diag($out);

my @stale = (
    [ 'dashboard.html edited',
      sub { append("$_[0]/ngx_llm_route_module/dashboard.html",
                   "<!-- new -->\n") },
      qr/STALE: ngx_http_llm_route_dashboard\.c is not dashboard\.html/ ],
    [ 'models/default.model changed',
      sub { system('cp', "$_[0]/models/default.model", "$_[0]/m");
            open(my $fh, '+<:raw', "$_[0]/models/default.model") or die;
            seek($fh, 200, 0); print $fh "\xff"; close $fh },
      qr/STALE: core\/llr_default_model\.c is not models\/default\.model/ ],
    [ 'a raw benchmark run changed',
      sub { my $f = "$_[0]/bench/results/run-20261123-010845.tsv";
            my $s = do { local (@ARGV, $/) = ($f); <> };
            # a measured round (round 0 is the warm-up)
            $s =~ s/^(1 explicit .*?requests=)(\d+)/$1 . $2 * 2/me;
            open(my $fh, '>', $f) or die; print $fh $s; close $fh },
      qr/STALE: bench\/results\/pooled-session13\.md is not what/ ],
    [ 'a pooled table without its command',
      sub { my $f = "$_[0]/bench/results/pooled-session13.md";
            my $s = do { local (@ARGV, $/) = ($f); <> };
            $s =~ s/^<!--[^\n]*\n//;
            open(my $fh, '>', $f) or die; print $fh $s; close $fh },
      qr/STALE: bench\/results\/pooled-session13\.md does not say how/ ],
);

push @stale,
    [ 'a request seed edited',
      sub { append("$_[0]/fuzz/seeds/req/" . (glob("$repo/fuzz/seeds/req/*")
                   )[0] =~ s{.*/}{}r, 'x') },
      qr/STALE: fuzz\/seeds\/req\/ is not what fuzz\/make-seeds\.pl/ ],
    [ 'a seed that no generator writes',
      sub { append("$_[0]/fuzz/seeds/sse/left-over", 'x') },
      qr/STALE: fuzz\/seeds\/sse\/ is not what fuzz\/make-seeds\.pl/ ]
    if $have_data;

for my $s (@stale) {
    my ($name, $change, $re) = @$s;
    ($rc, $out) = check(tree($change));
    isnt($rc, 0, "$name: the check fails");
    like($out, $re, "$name: and names the file") or diag($out);
}

done_testing;
