#!/usr/bin/perl

# The dashboard (?format=html): a self-contained page that renders the
# status JSON in a real browser.  Headless Chromium takes a screenshot of
# the requested size and dumps the DOM after the page's script ran: the
# model names and a non-zero request count must be in it, and the budget
# and rate limit tables with their figures, the router's refusals by
# reason, the quality signals by model and task, an experiment's arms;
# right after traffic the rates are those of the zone's last
# seconds (not 0 for want of a previous poll); at widths from 1600 to 360
# px no figure of the cards is cut (a probe page on the same origin
# measures the page in an iframe); after a reload onto a new, empty zone
# the budget and rate limit tables are hidden.
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
use Time::HiRes qw(time);

my $chromium = LLRTest::chromium_path();

plan skip_all => 'chromium is not installed (Debian package "chromium"); '
                 . 'CI installs it'
    unless $chromium;

my $t = LLRTest->new;
my $m = $t->mock;

my $policy = <<'EOF';
    llm_route_policy auto {
        candidates gpt-4o-mini gpt-4o;
        floor      0.5;
        floor_hard 0.9;
    }
    llm_route_experiment dash {
        match fast;
        arm   control weight=1;
        arm   b weight=1 model=gpt-4o-mini;
    }
EOF

# requests without X-Team are not limited (an empty key)
$t->config($t->routed_http(
    http => $policy,
    location => "llm_route_budget \$http_x_team 5;\n"
                . "            llm_route_rate \$http_x_team rpm=2;",
    server => "location = /llm/status { llm_route_status; }\n"
              . "        location = /probe.html { root %%DIR%%; }"));
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

# latencies and times to first token of seconds: the widest figures the
# cards show ("1.30 s / 1.48 s")
for my $i (1 .. 2) {
    my $msgs = [{ role => 'user', content => "slow request $i" }];
    $t->chat({ model => 'gpt-4o-mini', messages => $msgs },
             headers => { 'X-Mock-Delay' => 1.3 });
    $t->stream_request(body => { model => 'fast', messages => $msgs,
                                 stream => $T },
                       headers => { 'X-Mock-Delay' => 1.2,
                                    'X-Mock-Event-Delay' => 0.1 });
}

# team-a: 2 admitted, the 3rd refused by rpm=2
my @team = map {
    select(undef, undef, undef, 0.05);
    $t->chat({ model => 'gpt-4o-mini',
               messages => [{ role => 'user', content => "team $_" }] },
             headers => { 'X-Team' => 'team-a' })->{status};
} 1 .. 3;
is("@team", '200 200 429', 'team-a: rpm=2 refuses the third request');

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
like($html, qr/<div class="panel full" id="budgets-panel" hidden>/,
     'a budgets panel, hidden until there is a budget');
like($html, qr/<div class="panel full" id="rates-panel" hidden>/,
     'a rate limits panel, hidden until there is a rate limit');
like($html, qr/<tbody id="budgets"><\/tbody>/, 'the budgets table body');
like($html, qr/<tbody id="rates"><\/tbody>/, 'the rate limits table body');
like($html, qr/<th[^>]*>Spent \/ limit<\/th>.*<th>Resets at<\/th>/s,
     'budget columns');
like($html,
     qr/<th[^>]*>Requests \/ rpm<\/th>.*<th[^>]*>Tokens \/ tpm<\/th>/s,
     'rate limit columns');
my ($script) = $html =~ m{<script>(.*)</script>}s;
$script //= '';
like($script, qr/\bj\.budgets\b/, 'the script reads "budgets"');
like($script, qr/\bj\.rates\b/, 'the script reads "rates"');
like($script,
     qr/\.spent_usd\b.*\.limit_usd\b.*\.reserved_usd\b.*\.resets_at\b/s,
     'and the budget fields');
like($script, qr/\.requests, x\.rpm_limit\b.*\.tokens, x\.tpm_limit\b/s,
     'and the rate fields');

# ---- chromium ---------------------------------------------------------------

sub chromium { return LLRTest::chromium(@_) }

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

# a path with a doubled slash (nginx merges them): the page still polls
# its own host ("//llm/status?format=json" was a host named "llm")

(my $url2 = $url) =~ s{/llm/status}{//llm/status};
my $dom2 = chromium('--dump-dom', '--virtual-time-budget=5000', $url2);
my ($upd2) = $dom2 =~ /id="updated">([^<]*)</;
like($upd2 // '', qr/^updated \d\d:\d\d:\d\d$/,
     'opened at //llm/status: it polls too (' . ($upd2 // '-') . ')');

# ---- budgets and rate limits ------------------------------------------------

like($dom, qr/<div class="panel full" id="budgets-panel">/,
     'the budgets panel is shown');
like($dom, qr/<div class="panel full" id="rates-panel">/,
     'the rate limits panel is shown');

my ($brow) = $dom =~ m{<tbody id="budgets">(.*?)</tbody>}s;
$brow //= '';
like($brow, qr{<td class="name">team-a</td><td>day</td>},
     'budgets: team-a, period day');
my $bar = '<div class="bar"><i class="([a-z]*)" style="width:([\d.]+)%"';
like($brow, qr{<span>\$0\.\d+ / \$5\.00</span>$bar},
     'budgets: spent / limit with a bar');
like($brow, qr{<td class="n">\$0</td>}, 'budgets: nothing reserved');
like($brow, qr{<span class="mono">\d{4}-\d\d-\d\d 00:00 UTC</span>},
     'budgets: resets at midnight UTC');
like($brow, qr{<td class="n">0</td></tr>$}, 'budgets: none rejected');

my ($rrow) = $dom =~ m{<tbody id="rates">(.*?)</tbody>}s;
$rrow //= '';
like($rrow, qr{<td class="name">team-a</td>}, 'rates: team-a');
my @bar = $rrow =~ qr{<span>2 / 2</span>$bar};
is("@bar", 'full 100.0', 'rates: requests / rpm 2 / 2, a full red bar');
# &ndash;, as the DOM dump writes it (UTF-8)
like($rrow, qr{<td class="n">(?:&ndash;|\xe2\x80\x93)</td>},
     'rates: no tpm');
like($rrow, qr{<span class="err">1</span></td></tr>$}, 'rates: 1 rejected');

# ---- quality by model and task ---------------------------------------------

like($dom, qr/<div class="panel full" id="quality-panel">/,
     'the quality panel is shown');
my ($qrows) = $dom =~ m{<tbody id="quality">(.*?)</tbody>}s;
like($qrows // '',
     qr{<td class="name">gpt-4o-mini</td><td>[a-z_]+</td><td class="n">[1-9]},
     'quality: a model x task with its answers');
like($qrows // '', qr{(?:<td class="n">\d+\.\d%</td>){7}}, 'quality: the '
     . 'error rate and the six signals as shares');

# ---- experiments ------------------------------------------------------------

like($dom, qr/<div class="panel full" id="experiments-panel">/,
     'the experiments panel is shown');
my ($xrows) = $dom =~ m{<tbody id="experiments">(.*?)</tbody>}s;
like($xrows // '',
     qr{<td class="name">dash</td><td>control</td><td>as configured</td>},
     'experiments: the control');
like($xrows // '', qr{<td class="name">dash</td><td>b</td><td>gpt-4o-mini</td>},
     'experiments: arm b, its model');
like($xrows // '', qr{<td colspan="12" class="reason">b: }, 'experiments: '
     . 'the verdict');

# ---- the router's refusals -------------------------------------------------

like($dom, qr/<div class="panel full" id="refused-panel">/,
     'the refusals panel is shown');
my ($frow) = $dom =~ m{<tbody id="refusals">(.*?)</tbody>}s;
my $want = '<td class="name">rate_limit</td><td class="n">429</td>'
           . '<td class="n">1</td>';
like($frow // '', qr/\Q$want\E/, 'refusals: rate_limit, answered 429, once');
my ($refused) = $dom =~ /id="refused">([^<]*)</;
is($refused, '1', 'the header counts the refusal');
like($dom, qr{<tbody id="recent">.*<span class="why">refused: rate_limit}s,
     'the recent table shows it');

# ---- rates right after traffic ---------------------------------------------

# a page opened just after a burst: its first polls have no delta to
# show, the zone's counts of the last seconds do
for my $i (1 .. 20) {
    $t->chat({ model => 'gpt-4o-mini',
               messages => [{ role => 'user', content => "burst $i" }] });
}
my $burst = time;
my $rdom = chromium('--dump-dom', '--virtual-time-budget=3000', $url);
my $took = time - $burst;

my ($rps) = $rdom =~ /id="k-rps">([^<]*)</;
my ($rsub) = $rdom =~ /id="k-rps-sub">(.*?)<\/div>/s;
like($rsub // '', qr{<b>(?:0\.[1-9]\d|0\.0[1-9]|[1-9][\d.]*)</b> over 1 min},
     'requests/s: the last minute is not 0 (' . ($rsub // '-') . ')');
SKIP: {
    skip "chromium started ${took}s after the burst: its 10 s are over", 1
        if $took > 9;
    ok(defined $rps && $rps =~ /^[\d.]+$/ && $rps > 0,
       'requests/s right after the burst is not 0 (' . ($rps // '-') . ')');
}

# ---- figures fit their cards -----------------------------------------------

# the probe: the dashboard in an iframe of the given width, then the
# scroll and client widths of every card's figure (a cut figure scrolls)

open(my $ph, '>', $t->dir . '/probe.html') or die "probe.html: $!";
print $ph <<'EOF';
<!DOCTYPE html>
<html><body style="margin:0">
<iframe id="f" style="border:0;height:1000px"></iframe>
<pre id="out">pending</pre>
<script>
var w = location.search.slice(1), f = document.getElementById("f");
f.style.width = w + "px";
f.src = "/llm/status?format=html";
setTimeout(function () {
  var d = f.contentDocument, out = [];
  ["k-cost", "k-saved", "k-rps", "k-eps", "k-lat", "k-ttft", "k-cost-sub",
   "k-saved-sub", "k-rps-sub", "k-eps-sub", "k-lat-sub", "k-ttft-sub"]
  .forEach(function (id) {
      var e = d.getElementById(id);
      out.push(id + " " + e.scrollWidth + " " + e.clientWidth + " " +
               e.textContent.replace(/\s+/g, " "));
    });
  document.getElementById("out").textContent = out.join("\n");
}, 2500);
</script>
</body></html>
EOF
close $ph;

for my $w (1600, 1400, 1280, 1100, 1000, 800, 360) {
    my $pdom = chromium('--dump-dom', '--virtual-time-budget=4000',
                        '--window-size=1700,1100',
                        'http://127.0.0.1:' . $t->port . "/probe.html?$w");
    my ($out) = $pdom =~ m{<pre id="out">(.*?)</pre>}s;
    $out //= '';
    my @cut = grep { /^(\S+) (\d+) (\d+) / && $2 > $3 } split /\n/, $out;
    my ($lat) = $out =~ /^k-lat \d+ \d+ (.*)$/m;
    like($lat // '', qr{^\d[\d.]* m?s ?/ ?\d[\d.]* m?s$},
         "${w}px: latency p50 / p99 rendered (" . ($lat // '-') . ')');
    is(scalar(@cut), 0, "${w}px: no figure or line of a card is cut")
        or diag(join("\n", @cut));
}

# a new zone (another size) without limits: both tables hidden

my $bare = $t->routed_http(http => $policy,
               server => 'location = /llm/status { llm_route_status; }');
$bare =~ s/llm_route_zone llm:1m;/llm_route_zone llm:2m;/;
ok($t->reload(config => $bare), 'reload onto a new, empty zone');
is_deeply([@{$t->get('/llm/status')->{json} || {}}{qw(budgets rates)}],
          [{}, {}], 'the new zone tracks no budget and no rate limit');

$dom = chromium('--dump-dom', '--virtual-time-budget=5000', $url);
like($dom, qr/class="dot ok"/, 'empty limits: the page polled');
like($dom, qr/<div class="panel full" id="budgets-panel" hidden="">/,
     'empty budgets: the panel is hidden');
like($dom, qr/<div class="panel full" id="rates-panel" hidden="">/,
     'empty rate limits: the panel is hidden');

$t->done_testing;
