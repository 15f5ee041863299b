package LLRFleet;

# Instances of nginx sharing one redis-server of the test's own (issue 26),
# for the fleet tests (t/66-fleet.t, t/67-fleet-faults.t):
#
#   my $f = LLRFleet->new(instances => 2, sync => 100, timeout => 200,
#                         fail => 'open', redis_port => $proxy->port);
#   my ($a, $b) = $f->instances;             # LLRTest objects, started
#   $f->redis;                               # the LLRRedis
#   $f->ask($a, 'team', delay => 0.3);       # a $1 chat request
#   $f->redis_status($a);                    # $llm_route_redis_status
#   $f->settle_sync;                         # every instance synced twice
#   $f->redis_spent('team');                 # the key's spend in Redis
#
# The configuration: one perl mock; models "dollar" ($1 a request:
# 2 completion tokens at $500,000 per 1M, the estimate exact with
# max_tokens 2) and "cool" (provider coolp: max_fails 1, fail_timeout
# 30s); /v1/ with llm_route_budget $http_x_team 5 (budget => other
# text), /rate/v1/ with rpm=4, /fo/v1/ failing over to @fb (provider
# failures counted), /free/v1/ without limits, /llm/status and
# /llm/redis.

use strict;
use warnings;
use LLRTest;
use LLRRedis;
use Time::HiRes qw(time sleep);

our $USD = 1_000_000_000_000;        # pico-USD

sub new {
    my ($class, %o) = @_;

    my $self = bless {
        sync    => $o{sync} // 100,
        timeout => $o{timeout} // 200,
        fail    => $o{fail} // 'open',
        budget  => $o{budget} // 'llm_route_budget $http_x_team 5;',
        prefix  => $o{prefix} // 'fleet:',
        ts      => [],
    }, $class;

    for (1 .. ($o{instances} // 2)) {
        push @{$self->{ts}}, LLRTest->new(workers => $o{workers} // 2,
                                          log_ignore => $o{log_ignore});
    }

    my $first = $self->{ts}[0];
    $self->{mock} = $first->mock;
    $self->{redis} = LLRRedis->new(dir => $first->dir);
    $self->{redis_port} = $o{redis_port} ? $o{redis_port}->($self)
                                         : $self->{redis}->port;

    for my $t (@{$self->{ts}}) {
        $t->config($self->conf($t));
        $t->start;
    }

    return $self;
}

sub instances { @{$_[0]{ts}} }
sub redis { $_[0]{redis} }
sub mock { $_[0]{mock} }

sub conf {
    my ($self, $t, %o) = @_;

    my $mport = $self->{mock}->port;
    my $fail = $o{fail} // $self->{fail};
    my $proxy = $t->proxy_directives(route => 1, attempt => 0);
    my $fo = $t->proxy_directives(route => 1, attempt => 0, intercept => 1,
                                  fallback => '@fb');

    my $c = $t->routed_http(
        http => <<"EOF",
    llm_route_redis 127.0.0.1:$self->{redis_port} prefix=$self->{prefix}
                    timeout=$self->{timeout}ms sync=$self->{sync}ms
                    fail=$fail;

    llm_route_model dollar provider=mockp input=0 output=500000
                    context=128000 quality=0.9;

    upstream cool_backend {
        server 127.0.0.1:$mport;
    }
    llm_route_provider coolp {
        upstream cool_backend;
        scheme http;
        host mock.example;
        base_path /v1;
        api_key k;
        max_fails 1; fail_timeout 30s;
    }
    llm_route_model cool provider=coolp input=0 output=0 context=128000
                    quality=0.9;
EOF
        location => $self->{budget},
        server => <<"EOF");
        location = /llm/status { llm_route_status; }
        location = /llm/redis { return 200 "\$llm_route_redis_status\\n"; }

        location /rate/ {
            llm_route_rate \$http_x_team rpm=4;
$proxy
        }

        location /free/ {
$proxy
        }

        recursive_error_pages on;
        location /fo/ {
$fo
        }
        location \@fb {
$fo
        }
EOF
    $c =~ s/%%MOCK_PORT%%/$mport/g;

    return $c;
}

my $MSGS = [{ role => 'user', content => 'Say hello.' }];

# a chat request of $1 to instance $t, with key $team; %o: delay (the
# mock's), status (the mock answers it), model, path (default /v1)
sub ask {
    my ($self, $t, $team, %o) = @_;
    my %h = ('X-Team' => $team);
    $h{'X-Mock-Delay'} = $o{delay} if $o{delay};
    $h{'X-Mock-Status'} = $o{status} if $o{status};
    return $t->chat({ model => $o{model} // 'dollar', messages => $MSGS,
                      max_tokens => 2 },
                    headers => \%h, timeout => $o{timeout} // 20,
                    path => ($o{path} // '/v1') . '/chat/completions');
}

sub redis_status {
    my ($self, $t) = @_;
    return LLRTest::json_decode($t->get('/llm/redis')->{content}) // {};
}

# every instance synced at least twice from now on: what any knew before
# is in every other's view (its first sync may have been built already)
sub settle_sync {
    my ($self, $secs) = @_;
    my @ts = $self->instances;
    my %first = map { $_ => $self->redis_status($_)->{syncs} // 0 } @ts;
    my $end = time + ($secs // 10);
    while (time < $end) {
        my $done = grep {
            ($self->redis_status($_)->{syncs} // 0) >= $first{$_} + 2 } @ts;
        return 1 if $done == @ts;
        sleep 0.05;
    }
    return 0;
}

# wait until every instance's view is in state $want ("up", "down")
sub wait_state {
    my ($self, $want, $secs) = @_;
    my $end = time + ($secs // 10);
    while (time < $end) {
        my $n = grep { ($self->redis_status($_)->{state} // '') eq $want }
                $self->instances;
        return 1 if $n == $self->instances;
        sleep 0.02;
    }
    return 0;
}

# the spend of key $team's budget in Redis (pico-USD), undef if not one key
sub redis_spent {
    my ($self, $team) = @_;
    my $keys = $self->{redis}->cmd('KEYS', "$self->{prefix}b:*:$team:*");
    return undef unless ref $keys eq 'ARRAY' && @$keys == 1;
    return $self->{redis}->cmd('HGET', $keys->[0], 's') // 0;
}

1;
