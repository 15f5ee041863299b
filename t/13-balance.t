#!/usr/bin/perl

# Several deployments of one model:
#
#   1. smooth weighted round-robin by weight=, llm_route_balance latency
#   2. every deployment has its own slot in the zone, whatever its name

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

# ==== Weights and latency (was 51-balance.t) =================================
#
# Load balancing across the deployments of one model: smooth weighted
# round-robin by weight=, and llm_route_balance latency (EWMA in the zone).

{

my $t = LLRTest->new(workers => 1);

my $fast = $t->mock(name => 'fast');
my $slow = $t->mock(name => 'slow', faults => { 'x-mock-delay' => 0.25 });

my $loc = $t->proxy_directives(auth => 1, attempt => 0, extra => <<'EOF');
            add_header X-Test-Provider $llm_route_provider always;
            add_header X-Test-Reason $llm_route_reason always;
EOF

$t->config(<<"EOF");
    llm_route_zone llm:1m;

    llm_route_provider fast {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host fast.example;
    }
    llm_route_provider slow {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host slow.example;
    }

    llm_route_model m provider=fast input=1 output=1 weight=1;
    llm_route_model m provider=slow input=1 output=1 weight=3;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /v1/ {
            llm_route on;
$loc
        }

        location /latency/v1/ {
            llm_route on;
            llm_route_balance latency;
$loc
        }

        location = /llm/status { llm_route_status; }
    }
EOF

$t->start;

my $msgs = [{ role => 'user', content => 'hi' }];

# ---- weighted: 3 of 4 to "slow" (weight 3), in a smooth order -------------

my (@order, %reason);
for (1 .. 8) {
    my $r = $t->chat({ model => 'm', messages => $msgs });
    push @order, $r->{headers}{'x-test-provider'} // '?';
    $reason{$order[-1]} = $r->{headers}{'x-test-reason'} // '';
}
is($reason{slow}, 'explicit model m; deployment slow/m (weight 3 of 4)',
   'weighted: the receipt names the deployment and its weight');
is($reason{fast}, 'explicit model m; deployment fast/m (weight 1 of 4)',
   'weighted: and for the other one');
is(scalar(grep { $_ eq 'slow' } @order), 6, 'weighted: 6 of 8 to weight 3');
is(scalar(grep { $_ eq 'fast' } @order), 2, 'weighted: 2 of 8 to weight 1');
unlike(join(',', @order), qr/fast,fast/,
       'weighted: smooth, never twice in a row for weight 1');

# ---- latency: the fast deployment wins despite its weight -------------------

my %n;
for (1 .. 20) {
    my $r = $t->chat({ model => 'm', messages => $msgs },
                     path => '/latency/v1/chat/completions');
    $n{$r->{headers}{'x-test-provider'} // '?'}++;
}
cmp_ok($n{fast} // 0, '>=', 15,
       'latency: most requests go to the faster deployment')
    or diag(explain(\%n));
is(($n{fast} // 0) + ($n{slow} // 0), 20,
   'latency: every request answered by a deployment of the model');

# when the fast one gets slow, traffic moves

$fast->set_faults({ 'x-mock-delay' => 0.6 });
$slow->set_faults({});

%n = ();
for (1 .. 24) {
    my $r = $t->chat({ model => 'm', messages => $msgs },
                     path => '/latency/v1/chat/completions');
    $n{$r->{headers}{'x-test-provider'} // '?'}++;
}
cmp_ok($n{slow} // 0, '>', $n{fast} // 0,
       'latency: traffic follows the lower latency')
    or diag(explain(\%n));

$t->stop;

}

# ==== One zone slot per deployment (was 80-deployment-slots.t) ===============
#
# Every deployment has its own slot in the zone (latency, counters): two
# whose "model@provider" names are the same in their first 63 bytes used
# to share one, so llm_route_balance latency sent everything to the first,
# however slow.  Names too long for a slot now end in a hash of all of
# the name (and "/upstream_model" tells apart two deployments of a model
# at one provider).

{

my $t = LLRTest->new(workers => 1);
my $slow = $t->mock(name => 'slow', faults => { 'x-mock-delay' => 0.25 });
my $fast = $t->mock(name => 'fast');
my $proxy = $t->proxy_directives(route => 1, attempt => 0);

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
$proxy
            llm_route_balance latency;
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
$t->stop;

}

done_testing;
