#!/usr/bin/perl

# Rate limits: llm_route_rate KEY [rpm=N] [tpm=N].  The 429 comes at the
# right request, OpenAI-shaped (type "requests" or "tokens", code
# "rate_limit_exceeded"), with Retry-After and the x-ratelimit-* headers,
# which admitted responses carry too; tokens are admitted by estimate and
# corrected by the usage the provider reports; other keys are unaffected;
# the counts survive a reload; the status (JSON "rates" and the Prometheus
# llm_route_rate_* families) shows the same counts; nginx -t errors.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRBlocks;
use Time::HiRes qw(time sleep);
use JSON::PP;

my $t = LLRTest->new(workers => 2);
my $m = $t->mock;

my $proxy = $t->proxy_directives(route => 1, attempt => 0);

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

        location /st/ {
$proxy
            llm_route_rate "s-\$http_x_team" rpm=2;
        }

        location /fo/ {
$proxy
            llm_route_rate "f-\$http_x_team" rpm=10;
            proxy_intercept_errors on;
            error_page 500 = \@fo_err;
        }

        location \@fo_err {
            llm_route on;
            return 502 "fallback\\n";
        }

        location /dup/ {
$proxy
            # the same key value as the server's rpm=3 line: three rate
            # nodes named "alpha", two of them with the same limits
            llm_route_rate \$http_x_team rpm=5;
            llm_route_rate \${http_x_team} rpm=5;
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
my $tpm_minute = int(time / 60);

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
my $eps_usage = int(length($m->last_request->{body} // '') / 4) + 1 + 2;

# ---- an error_page after the provider failed: the headers stay -----------------

$r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs },
              headers => { 'X-Team' => 'phi', 'X-Mock-Status' => 500 },
              path => '/fo/v1/chat/completions');
is($r->{status}, 502, 'error_page: the fallback answered');
is($r->{headers}{'x-ratelimit-limit-requests'}, 10,
   'error_page: x-ratelimit-limit-requests kept');
is($r->{headers}{'x-ratelimit-remaining-requests'}, 9,
   'error_page: x-ratelimit-remaining-requests kept');
like($r->{headers}{'x-ratelimit-reset-requests'} // '', qr/^[0-9.hms]+$/,
     'error_page: x-ratelimit-reset-requests kept');
$r = ask('phi', path => '/fo/v1');
is($r->{status}, 200, 'error_page: then an answer from the provider');
is($r->{headers}{'x-ratelimit-remaining-requests'}, 8,
   'error_page: which has its headers once, counted');

# ---- the status: what the windows hold --------------------------------------

# after a short pause: the last request is settled (its tokens corrected)
# in its log phase
sub status {
    select(undef, undef, undef, 0.1);
    my $r = $t->get('/llm/status');
    return ($r->{json} || {}, $r->{content} // '');
}

my ($s, $raw) = status();
my $rates = $s->{rates} || {};
is(ref $s->{rates}, 'HASH', 'status: rates is an object');
like($raw, qr/"budgets":\{\},"rates":\{"/, 'status: rates after budgets');

# still the minute of the tpm requests (or the window moved on: weighted)
my $same_minute = int(($s->{now_ms} // 0) / 60000) == $tpm_minute;
my $g = $rates->{'t-gamma'} || {};
is($g->{key}, 't-gamma', 'status: t-gamma: key');
is($g->{tpm_limit}, 250, 'status: t-gamma: tpm_limit');
ok(exists $g->{rpm_limit} && !defined $g->{rpm_limit},
   'status: t-gamma: rpm_limit null (no rpm=)');
ok(exists $g->{requests} && !defined $g->{requests},
   'status: t-gamma: requests null (not counted without rpm=)');
if ($same_minute) {
    is($g->{tokens}, $usage,
       "status: t-gamma: tokens are the actual usage ($usage)");
} else {
    cmp_ok($g->{tokens} // -1, '<=', $usage,
           'status: t-gamma: tokens (the window moved on: weighted)');
}
is($g->{rejected}, 1, 'status: t-gamma: rejected');

my $d = $rates->{'t-delta'} || {};
is($d->{rejected}, 1, 'status: t-delta: a request larger than tpm rejected');
is($d->{tokens}, 0, 'status: t-delta: no tokens counted');

my $be = $rates->{'b-eps'} || {};
is_deeply([@$be{qw(rpm_limit tpm_limit requests rejected)}],
          [100, 100000, 1, 0], 'status: b-eps: rpm, tpm, requests, rejected');
is($be->{tokens}, $eps_usage, "status: b-eps: tokens ($eps_usage)")
    if $same_minute;
my $b2 = $rates->{'b2-eps'} || {};
is_deeply([@$b2{qw(rpm_limit requests rejected)}], [50, 1, 0],
          'status: b2-eps: rpm, requests, rejected');
ok(exists $b2->{tokens} && !defined $b2->{tokens},
   'status: b2-eps: tokens null (no tpm=)');

is($rates->{alpha}{rpm_limit}, 3, 'status: alpha: rpm_limit');
is($rates->{alpha}{rejected}, 2,
   'status: alpha: rejected (the 4th request and the one after reload)');

# ---- rpm=2: 3 requests, then JSON and Prometheus agree ----------------------

fresh_minute();

my @st = map { ask('zeta', path => '/st/v1')->{status} } 1 .. 3;
is("@st", '200 200 429', 'rpm 2: the third request is refused');
is(ask('q"u\\o', path => '/st/v1')->{status}, 200,
   'a key with a quote and a backslash');
is(ask('alpha', path => '/dup/v1')->{status}, 200, 'dup: admitted');

($s, $raw) = status();
$rates = $s->{rates} || {};
is_deeply($rates->{'s-zeta'},
          { key => 's-zeta', rpm_limit => 2, tpm_limit => undef,
            requests => 2, tokens => undef, rejected => 1 },
          'status: s-zeta: requests 2, rejected 1, rpm_limit 2');
is($rates->{'s-q"u\\o'}{requests}, 1, 'status: the escaped key');

# names: "alpha" three times, two with the same limits: key/rpm=N/i
ok(!exists $rates->{alpha}, 'dup: "alpha" alone is ambiguous');
my @alpha = sort grep { m{^alpha/} } keys %$rates;
is("@alpha", 'alpha/rpm=3/1 alpha/rpm=5/2 alpha/rpm=5/3',
   'dup: key/rpm=N/i names');
is($rates->{'alpha/rpm=3/1'}{rejected}, 2, 'dup: rpm=3 keeps its counts');
is_deeply([map { [@{$rates->{$_}}{qw(key rpm_limit requests)}] }
           qw(alpha/rpm=5/2 alpha/rpm=5/3)],
          [['alpha', 5, 1], ['alpha', 5, 1]],
          'dup: each rpm=5 line counted the request once');

my $p = $t->get('/llm/status?format=prometheus')->{content} // '';

for my $f (qw(llm_route_rate_limit_rpm llm_route_rate_limit_tpm
              llm_route_rate_requests llm_route_rate_tokens))
{
    like($p, qr/^# TYPE $f gauge$/m, "prometheus: $f is a gauge");
}
like($p, qr/^# TYPE llm_route_rate_rejected_total counter$/m,
     'prometheus: llm_route_rate_rejected_total is a counter');
like($p, qr/^llm_route_rate_limit_rpm\{key="s-zeta"\} 2$/m,
     'prometheus: s-zeta rpm limit');
like($p, qr/^llm_route_rate_requests\{key="s-zeta"\} 2$/m,
     'prometheus: s-zeta requests');
like($p, qr/^llm_route_rate_rejected_total\{key="s-zeta"\} 1$/m,
     'prometheus: s-zeta rejected');
unlike($p, qr/^llm_route_rate_(limit_tpm|tokens)\{key="s-zeta"\}/m,
       'prometheus: no tpm series without tpm=');
like($p, qr/^llm_route_rate_limit_tpm\{key="t-gamma"\} 250$/m,
     'prometheus: t-gamma tpm limit');
like($p, qr/^llm_route_rate_tokens\{key="t-gamma"\} \d+$/m,
     'prometheus: t-gamma tokens');
unlike($p, qr/^llm_route_rate_(limit_rpm|requests)\{key="t-gamma"\}/m,
       'prometheus: no rpm series without rpm=');
like($p, qr/^llm_route_rate_requests\{key="s-q\\"u\\\\o"\} 1$/m,
     'prometheus: the label value is escaped');
like($p, qr{^llm_route_rate_rejected_total\{key="alpha/rpm=3/1"\} 2$}m,
     'prometheus: disambiguated names');

SKIP: {
    my ($rc, $out) = $t->promtool($p)
        or skip 'no promtool (Debian package "prometheus")', 1;
    is($rc, 0, 'promtool check metrics') or diag($out);
}

$t->stop;

# ---- nginx -t ---------------------------------------------------------------

# the location's rate limit of each block in the configuration of this file
run_blocks($t, config => sub { conf(rate => $_[0]{location}) },
           data => <<'EOF');
=== no rpm/tpm
--- nginx_t: fails
--- location: llm_route_rate $http_x_team;
--- error_like
invalid number of arguments in "llm_route_rate"

=== rpm=0
--- nginx_t: fails
--- location: llm_route_rate $http_x_team rpm=0;
--- error_like
invalid parameter "rpm=0" in "llm_route_rate"

=== rps=5
--- nginx_t: fails
--- location: llm_route_rate $http_x_team rps=5;
--- error_like
invalid parameter "rps=5" in "llm_route_rate"

=== duplicate rpm
--- nginx_t: fails
--- location: llm_route_rate $http_x_team rpm=5 rpm=6;
EOF

$t->done_testing;
