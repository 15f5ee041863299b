#!/usr/bin/perl

# The dashboard (?format=html): a self-contained page that renders the
# status JSON in a real browser.  Headless Chromium takes a screenshot of
# the requested size and dumps the DOM after the page's script ran: the
# model names and a non-zero request count must be in it.
#
# LLR_DASHBOARD_PNG=path keeps a copy of the screenshot (docs/dashboard.png
# is made this way, then compressed with pngquant).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use File::Temp qw(tempdir);
use File::Copy qw(copy);

my ($chromium) = grep { -x } map {; ("$_/chromium", "$_/chromium-browser") }
                 split /:/, $ENV{PATH};

plan skip_all => 'chromium is not installed (Debian package "chromium"); '
                 . 'CI installs it'
    unless $chromium;

my $t = LLRTest->new;
my $m = $t->mock;

$t->config($t->routed_http(
    http => <<'EOF',
    llm_route_policy auto {
        candidates gpt-4o-mini gpt-4o;
        floor      0.5;
        floor_hard 0.9;
    }
EOF
    server => 'location = /llm/status { llm_route_status; }'));
$t->start;

my $T = JSON::PP::true;

for my $i (1 .. 12) {
    my $msgs = [{ role => 'user', content => "dashboard request $i" }];
    my $model = (qw(gpt-4o-mini gpt-4o fast auto))[$i % 4];
    if ($model eq 'fast') {
        $t->stream_request(body => { model => $model, messages => $msgs,
                                     stream => $T });
    } else {
        $t->chat({ model => $model, messages => $msgs });
    }
}
$t->chat({ model => 'gpt-4o', messages => [{ role => 'user',
                                               content => 'fail' }] },
         headers => { 'X-Mock-Status' => 503 });

my $url = 'http://127.0.0.1:' . $t->port . '/llm/status?format=html';

# ---- the page itself ------------------------------------------------------

my $r = $t->get('/llm/status?format=html');
is($r->{status}, 200, 'html: 200');
like($r->{headers}{'content-type'}, qr{^text/html}, 'html: text/html');
like($r->{headers}{'content-security-policy'} // '',
     qr/default-src 'none'/, 'html: a CSP that allows no external asset');
my $html = $r->{content} // '';
like($html, qr/^<!DOCTYPE html>/, 'a complete page');
unlike($html, qr{(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/}i,
       'no external URL in the page');
unlike($html, qr/<link\b|\@import|<script[^>]+src=|<img[^>]+src=|url\(/i,
       'no linked stylesheet, script, image or font');
like($html, qr/format=json/, 'the page polls the JSON');

# ---- chromium ---------------------------------------------------------------

my @flags = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
             '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync',
             '--disable-dev-shm-usage');

sub chromium {
    my (@args) = @_;
    my $profile = tempdir('chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open(STDERR, '>', '/dev/null');
        exec('timeout', '90', $chromium, @flags, "--user-data-dir=$profile",
             @args) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return $out;
}

my $png = $t->dir . '/dashboard.png';
chromium('--window-size=1400,1000', "--screenshot=$png",
         '--virtual-time-budget=5000', $url);

ok(-s $png, 'a screenshot was taken');

my $data = '';
if (open(my $fh, '<:raw', $png)) {
    local $/;
    $data = <$fh> // '';
    close $fh;
}

is(substr($data, 0, 8), "\x89PNG\r\n\x1a\n", 'it is a PNG');
is(substr($data, 12, 4), 'IHDR', 'with an IHDR chunk');
my ($w, $h) = length $data >= 24 ? unpack('NN', substr($data, 16, 8))
                                 : (0, 0);
is("${w}x$h", '1400x1000', 'of the requested size');
ok(length($data) > 20000, 'and not blank (' . length($data) . ' bytes)');

if ($ENV{LLR_DASHBOARD_PNG} && -s $png) {
    copy($png, $ENV{LLR_DASHBOARD_PNG});
    diag("screenshot kept in $ENV{LLR_DASHBOARD_PNG}");
}

my $dom = chromium('--dump-dom', '--virtual-time-budget=5000', $url);

like($dom, qr/<tbody id="models">.*gpt-4o-mini.*<\/tbody>/s,
     'the models table lists gpt-4o-mini');
like($dom, qr/<tbody id="models">.*>fast<.*<\/tbody>/s,
     'and fast');
my ($reqs) = $dom =~ /id="reqs">([^<]*)</;
ok(defined $reqs && $reqs =~ /^[1-9]/,
   'the request count was rendered and is not zero (' . ($reqs // '-')
   . ')');
like($dom, qr/<tbody id="providers">.*mockp.*class="pill up"/s,
     'the provider is shown up');
like($dom, qr/<tbody id="recent">.*auto.*gpt-4o-mini/s,
     'the recent table shows the policy decision');
like($dom, qr/id="k-cost">\$0\.\d+</, 'the spend is rendered');
like($dom, qr/class="dot ok"/, 'the page reports a successful poll');
my ($upd) = $dom =~ /id="updated">([^<]*)</;
like($upd // '', qr/^updated \d\d:\d\d:\d\d$/,
     'no script error shown (' . ($upd // '-') . ')');

$t->done_testing;
