#!/usr/bin/perl

# make demo (build-aux/demo.sh with conf-examples/demo.conf) on free
# ports: after its traffic the status JSON shows the experiment
# cheaper_auto with requests in both arms and a drift alarm on mock-mini's
# truncated answers, which the demo printed; demo.sh stop stops it.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new;
my $repo = $t->repo;
my $dir = $t->dir;
my ($port, $mock_port) = ($t->port(1), $t->port(2));

plan skip_all => 'curl is not installed'
    unless system('curl --version >/dev/null 2>&1') == 0;

my $env = "DEMO_DIR=$dir/demo DEMO_PORT=$port DEMO_MOCK_PORT=$mock_port "
          . 'DEMO_MODULE=' . $t->module_path
          . ' NGINX_BIN=' . $t->nginx_binary;

# whatever happens, the demo's nginx does not outlive the test
END { system("$env bash $repo/build-aux/demo.sh stop >/dev/null 2>&1") if $env }

my $out = `$env bash $repo/build-aux/demo.sh start 2>&1`;
is($? >> 8, 0, 'demo.sh start exits 0') or diag($out);
like($out, qr/drift raised after \d+ s: "drift":\[\{"model":"mock-mini"/,
     'the demo says when the drift alarm came') or diag($out);
like($out, qr{Dashboard: http://127\.0\.0\.1:$port/llm/status\?format=html},
     'the demo says where to look');

my $r = $t->get('/llm/status');
my $j = $r->{json} || {};

my $arms = $j->{experiments}{cheaper_auto}{arms} || {};
is_deeply([sort keys %$arms], ['control', 'mini'], 'the experiment\'s arms');
ok(($arms->{control}{requests} || 0) > 0
   && ($arms->{mini}{requests} || 0) > 0, 'both arms have requests: '
   . join(', ', map { "$_ " . ($arms->{$_}{requests} // 0) } sort keys %$arms));

my @d = grep { $_->{model} eq 'mock-mini' && $_->{signal} eq 'truncated' }
        @{$j->{drift} || []};
is(scalar @d, 1, 'a drift entry: mock-mini, truncated')
    or diag(LLRTest::json_encode($j->{drift}));
ok($d[0] && $d[0]{now} > $d[0]{baseline}, 'now above the baseline');

my $html = $t->get('/llm/status?format=html')->{content} // '';
like($html, qr/drift/, 'the dashboard has the drift panel');

$out = `$env bash $repo/build-aux/demo.sh stop 2>&1`;
like($out, qr/demo stopped/, 'demo.sh stop');

done_testing;
