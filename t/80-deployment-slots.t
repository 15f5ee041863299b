#!/usr/bin/perl

# Every deployment has its own slot in the zone (latency, counters): two
# whose "model@provider" names are the same in their first 63 bytes used
# to share one, so llm_route_balance latency sent everything to the first,
# however slow.  Names too long for a slot now end in a hash of all of
# the name (and "/upstream_model" tells apart two deployments of a model
# at one provider).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);
my $slow = $t->mock(name => 'slow', faults => { 'x-mock-delay' => 0.25 });
my $fast = $t->mock(name => 'fast');

my $model = 'm' x 50;
my ($PS, $PF) = ('provider-east-slow', 'provider-east-fast');

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    llm_route_provider $PS {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host slow.example;
    }
    llm_route_provider $PF {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host fast.example;
    }
    llm_route_model $model provider=$PS input=1 output=1;
    llm_route_model $model provider=$PF input=1 output=1;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
            llm_route on;
            llm_route_balance latency;
            proxy_pass \$llm_route_url;
            proxy_set_header Host \$llm_route_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header X-Test-Provider \$llm_route_provider always;
        }
        location = /llm/status { llm_route_status; }
    }
EOF
$t->start;

my %n;
for (1 .. 20) {
    my $r = $t->chat({ model => $model,
                       messages => [{ role => 'user', content => 'hi' }] });
    $n{$r->{headers}{'x-test-provider'} // '?'}++;
}
diag(explain(\%n));
cmp_ok($n{$PF} // 0, '>=', 15,
       'latency: most requests go to the faster deployment');
$t->done_testing;
