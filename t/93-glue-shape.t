#!/usr/bin/perl

# The shape of the nginx glue (issue 22, docs/architecture.md) stays
# true: build-aux/check-glue.pl passes on this tree (no glue file over
# 1,000 lines but the generated dashboard, no function over 150 lines,
# no include or call cycle among the glue files), and fails, naming the
# miss, in copies of the glue with one miss planted each.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);

my $repo = LLRTest->repo;
my $mod = "$repo/ngx_llm_route_module";

# check-glue.pl in TREE: (exit status, output)
sub check {
    my ($tree) = @_;
    my $out = `perl '$tree/build-aux/check-glue.pl' 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = check($repo);
is($rc, 0, 'build-aux/check-glue.pl') or diag($out);

# a copy of the script and the glue, CHANGE(path of the copy's glue)
# applied: the script must fail and say WHAT
sub planted {
    my ($name, $change, $what, $ok) = @_;
    my $tree = tempdir('llrtest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    make_path("$tree/build-aux", "$tree/ngx_llm_route_module");
    copy("$repo/build-aux/check-glue.pl", "$tree/build-aux/") or die $!;
    for my $f (glob "$mod/ngx_http_llm_route_*.[ch]") {
        copy($f, "$tree/ngx_llm_route_module/") or die $!;
    }
    $change->("$tree/ngx_llm_route_module");
    my ($rc, $out) = check($tree);
    is($rc, $ok ? 0 : 1, $ok ? "$name: passes" : "$name: fails")
        or diag($out);
    like($out, $what, "$name: says so") or diag($out);
}

sub append {
    my ($path, $text) = @_;
    open my $fh, '>>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

planted('a file of 1,001 lines', sub {
    my ($d) = @_;
    my $n = () = do { open my $fh, '<', "$d/ngx_http_llm_route_reply.c";
                      <$fh> };
    append("$d/ngx_http_llm_route_reply.c", "\n" x (1001 - $n));
}, qr/ngx_http_llm_route_reply\.c: 1001 lines/);

planted('the dashboard of 1,001 lines', sub {
    my ($d) = @_;
    append("$d/ngx_http_llm_route_dashboard.c", "\n" x 1001);
}, qr/^check-glue: ok/, 'passes');

planted('a function of 151 lines', sub {
    my ($d) = @_;
    append("$d/ngx_http_llm_route_body.c",
           "\nstatic void\nngx_http_llm_route_long(void)\n{\n"
           . "    ;\n" x 148 . "}\n");
}, qr/body\.c: ngx_http_llm_route_long\(\) is 151 lines/);

planted('an include cycle', sub {
    my ($d) = @_;
    append("$d/ngx_http_llm_route_reply.h",
           "#include \"ngx_http_llm_route_request.h\"\n");
}, qr/cycle: .*reply.*request|cycle: .*request.*reply/);

planted('a call cycle', sub {
    my ($d) = @_;
    append("$d/ngx_http_llm_route_body.c",
           "\nstatic void\nngx_http_llm_route_up(ngx_http_request_t *r)\n"
           . "{\n    ngx_http_llm_route_precontent_handler(r);\n}\n");
}, qr/cycle: .*calls ngx_http_llm_route_precontent_handler\(\)/);

done_testing();
