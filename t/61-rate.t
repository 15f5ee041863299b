#!/usr/bin/perl

# Rate limits: llm_route_rate KEY [rpm=N] [tpm=N].  The 429 comes at the
# right request, OpenAI-shaped (type "requests" or "tokens", code
# "rate_limit_exceeded"), with Retry-After and the x-ratelimit-* headers,
# which admitted responses carry too; tokens are admitted by estimate and
# corrected by the usage the provider reports; other keys are unaffected;
# the counts survive a reload; nginx -t errors.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use Time::HiRes qw(time sleep);

my $t = LLRTest->new(workers => 2);
my $m = $t->mock;

my $proxy = <<'EOF';
            llm_route on;
            proxy_pass $llm_route_url;
            proxy_set_header Host $llm_route_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
EOF

sub conf {
    my (%o) = @_;
    return $t->routed_http(
        location => $o{rate} // 'llm_route_rate $http_x_team rpm=3;',
        server => <<"EOF");
        location = /llm/status { llm_route_status; }

        location /tpm/ {
$proxy
            llm_route_rate "t-\$http_x_team" tpm=250;
        }

        location /both/ {
$proxy
            llm_route_rate "b-\$http_x_team" rpm=100 tpm=100000;
            llm_route_rate "b2-\$http_x_team" rpm=50;
        }
EOF
}

my $msgs = [{ role => 'user', content => 'Say hello.' }];

# A request is settled (its tokens corrected) in its log phase, just after
# its last byte went out, possibly after the client's next request reached
# the other worker: a short pause makes the sequence deterministic.
sub ask {
    my ($team, %o) = @_;
    select(undef, undef, undef, 0.05);
    my %body = (model => 'gpt-4o-mini', messages => $msgs);
    $body{max_tokens} = $o{max_tokens} if defined $o{max_tokens};
    return $t->chat(\%body, headers => { 'X-Team' => $team },
                    path => ($o{path} // '/v1') . '/chat/completions');
}

# a fresh minute with room for the requests of a test
sub fresh_minute { sleep 0.2 while (time % 60) > 40 }

$t->config(conf());
$t->start;

# ---- rpm ----------------------------------------------------------------------

fresh_minute();

for my $i (1 .. 3) {
    my $r = ask('alpha');
    is($r->{status}, 200, "rpm 3: request $i admitted");
    is($r->{headers}{'x-ratelimit-limit-requests'}, 3,
       "rpm: x-ratelimit-limit-requests on request $i");
    is($r->{headers}{'x-ratelimit-remaining-requests'}, 3 - $i,
       "rpm: x-ratelimit-remaining-requests on request $i");
    like($r->{headers}{'x-ratelimit-reset-requests'} // '',
         qr/^(\d+m)?\d+(\.\d+)?s$/, "rpm: x-ratelimit-reset-requests ($i)");
    ok(!exists $r->{headers}{'x-ratelimit-limit-tokens'},
       "rpm only: no token headers ($i)");
}

my $r = ask('alpha');
my $e = time - int(time / 60) * 60;
is($r->{status}, 429, 'rpm 3: the 4th request gets 429');
is($r->{json}{error}{type}, 'requests', 'rpm: type "requests"');
is($r->{json}{error}{code}, 'rate_limit_exceeded', 'rpm: code');
like($r->{json}{error}{message}, qr/requests per min \(RPM\): Limit 3/,
     'rpm: message');
is($r->{headers}{'x-ratelimit-remaining-requests'}, 0,
   'rpm 429: remaining 0');
is($r->{headers}{'x-ratelimit-limit-requests'}, 3, 'rpm 429: limit');

# 3 in this window: the next one passes 20s into the next window, when the
# 3 weigh 3 * 40/60 = 2
my $want = 60 - $e + 20;
my $ra = $r->{headers}{'retry-after'} // -100;
ok(abs($ra - $want) <= 1.5, "rpm: Retry-After $ra (expected about $want)");

my $reset = $r->{headers}{'x-ratelimit-reset-requests'} // '';
my ($mn, $sec) = $reset =~ /^(?:(\d+)m)?([\d.]+)s$/;
my $reset_s = ($mn // 0) * 60 + ($sec // -1000);
ok(abs($reset_s - (120 - $e)) <= 1.5,
   "rpm: reset $reset is when the window is empty again");

is(ask('beta')->{status}, 200, 'rpm: another key is unaffected');

# ---- reload keeps the counts --------------------------------------------------

ok($t->reload, 'reload');
is(ask('alpha')->{status}, 429, 'reload: still limited');

# ---- tpm: estimate, then the actual usage ------------------------------------

fresh_minute();

# estimate: ceil(10 bytes of text / 4) = 3 prompt tokens + max_tokens 97
my $est = 100;
my $usage = 0;
my @seen;
my $n_before = scalar $m->requests;

for my $i (1 .. 12) {
    $r = ask('gamma', path => '/tpm/v1', max_tokens => 97);
    my $admit = $usage + $est <= 250;

    if ($admit) {
        is($r->{status}, 200, "tpm: request $i admitted (usage $usage)");
        is($r->{headers}{'x-ratelimit-remaining-tokens'}, 250 - $usage - $est,
           "tpm: remaining tokens on request $i");
        is($r->{headers}{'x-ratelimit-limit-tokens'}, 250,
           "tpm: limit tokens on request $i");

        # what the mock reported: prompt int(bytes / 4) + 1, completion 2
        my $body = $m->last_request->{body} // '';
        $usage += int(length($body) / 4) + 1 + 2;
        push @seen, 200;
        next;
    }

    is($r->{status}, 429, "tpm: request $i refused (usage $usage)");
    is($r->{json}{error}{type}, 'tokens', 'tpm: type "tokens"');
    is($r->{json}{error}{code}, 'rate_limit_exceeded', 'tpm: code');
    is($r->{headers}{'x-ratelimit-remaining-tokens'}, 250 - $usage,
       'tpm 429: remaining tokens');
    ok(($r->{headers}{'retry-after'} // 0) >= 1, 'tpm 429: Retry-After');
    like($r->{headers}{'x-ratelimit-reset-tokens'} // '',
         qr/^(\d+m)?\d+(\.\d+)?s$/, 'tpm 429: x-ratelimit-reset-tokens');
    push @seen, 429;
    last;
}

my $admitted = grep { $_ == 200 } @seen;
cmp_ok($admitted, '>', 2,
       "tpm: $admitted admitted: corrected by the actual usage "
       . '(estimates alone would stop at 2)');
is($seen[-1], 429, 'tpm: and then refused');
is(scalar($m->requests) - $n_before, $admitted,
   'tpm: the provider saw only the admitted requests');

# a request larger than the whole limit
$r = ask('delta', path => '/tpm/v1', max_tokens => 1000);
is($r->{status}, 429, 'tpm: a request larger than tpm is refused');
like($r->{json}{error}{message}, qr/Request too large .*Limit 250, Requested 1003/,
     'tpm: too large: message');
ok(!exists $r->{headers}{'retry-after'}, 'tpm: too large: no Retry-After');

# ---- two limits in one location: the tightest is reported --------------------

$r = ask('eps', path => '/both/v1');
is($r->{status}, 200, 'both: admitted');
is($r->{headers}{'x-ratelimit-limit-requests'}, 50,
   'both: the tighter rpm is reported');
is($r->{headers}{'x-ratelimit-remaining-requests'}, 49, 'both: remaining');
is($r->{headers}{'x-ratelimit-limit-tokens'}, 100000, 'both: tpm');

$t->stop;

# ---- nginx -t ---------------------------------------------------------------

my ($rc, $out) = $t->nginx_t_http(conf(rate => 'llm_route_rate $http_x_team;'));
isnt($rc, 0, 'no rpm/tpm: nginx -t fails');
like($out, qr/invalid number of arguments in "llm_route_rate"/,
     'no rpm/tpm: message');

($rc, $out) = $t->nginx_t_http(conf(rate =>
                                    'llm_route_rate $http_x_team rpm=0;'));
isnt($rc, 0, 'rpm=0: nginx -t fails');
like($out, qr/invalid parameter "rpm=0" in "llm_route_rate"/, 'rpm=0: message');

($rc, $out) = $t->nginx_t_http(conf(rate =>
                                    'llm_route_rate $http_x_team rps=5;'));
isnt($rc, 0, 'rps=5: nginx -t fails');
like($out, qr/invalid parameter "rps=5" in "llm_route_rate"/, 'rps=5: message');

($rc, $out) = $t->nginx_t_http(conf(rate =>
                               'llm_route_rate $http_x_team rpm=5 rpm=6;'));
isnt($rc, 0, 'duplicate rpm: nginx -t fails');

$t->done_testing;
