#!/usr/bin/perl

# What clients send besides the body:
#
#   1. credential and billing headers never reach a provider that has a
#      key, in the first location and after a failover
#   2. the client-key idiom of the examples: unknown keys get 401 and never
#      escape the budgets

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

# ==== Client headers (was 92-client-headers.t) ===============================
#
# A client's credential and billing headers never reach a provider that
# has a key: Authorization, Proxy-Authorization, Cookie, api-key,
# x-api-key, x-goog-api-key, OpenAI-Organization and OpenAI-Project are
# removed from the request once it is routed there, in the first location
# and after a failover, whatever their case or number. Every other header
# passes. The $http_ variables of removed headers keep the client's values
# (budget keys, add_header, proxy_set_header to pass one on on purpose).
# A provider without a key gets the client's headers as before.

{

my $t = LLRTest->new;
my $m = $t->mock;                                           # mockp, a key
my $bad = $t->mock(name => 'bad', faults => { 'x-mock-status' => 503 });
my $open = $t->mock(name => 'open');                         # no key
my $openbad = $t->mock(name => 'openbad',
                       faults => { 'x-mock-status' => 503 });

my $S = $LLRTest::SECRET;
my $pass_proxy = $t->proxy_directives(route => 1, auth => 1, keepalive => 0,
                                      attempt => 0);
my $proxy = $t->proxy_directives(intercept => 1, auth => 1);

$t->config($t->routed_http(
    http => <<"EOF",
    llm_route_provider bad {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host bad.example;
        api_key sk-bad-key;
    }
    llm_route_provider open {
        upstream 127.0.0.1:%%MOCK_PORT3%%; scheme http; host open.example;
    }
    llm_route_provider openbad {
        upstream 127.0.0.1:%%MOCK_PORT4%%; scheme http;
        host openbad.example;
    }

    llm_route_model local provider=open input=0 output=0;

    # failover from a provider with a key, and from one without
    llm_route_model fo provider=bad input=1 output=1 weight=100;
    llm_route_model fo provider=mockp input=1 output=1 weight=1;
    llm_route_model fo2 provider=openbad input=1 output=1 weight=100;
    llm_route_model fo2 provider=mockp input=1 output=1 weight=1;
EOF
    location => "llm_route_budget \$http_openai_project 5;\n"
                . "            add_header X-Seen-Org "
                . "\$http_openai_organization always;\n"
                . "            add_header X-Seen-Key \$http_x_api_key always;",
    server => <<"EOF"));
        location = /llm/status { llm_route_status; }

        # an operator who passes the client's project on, deliberately
        location /pass/ {
$pass_proxy
            proxy_set_header OpenAI-Project \$http_openai_project;
        }

        location /f/ {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@fb;
        }
        location \@fb {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@fb;
        }
EOF
$t->start;

my $msgs = [{ role => 'user', content => 'Say hello.' }];

my %CRED = ('Authorization' => 'Bearer sk-client-own',
            'Proxy-Authorization' => 'Basic Y2xpZW50OnB3',
            'Cookie' => 'session=client-cookie',
            'api-key' => 'client-azure-key',
            'X-API-Key' => 'client-anthropic-key',
            'x-goog-api-key' => 'client-google-key',
            'OpenAI-Organization' => 'org-client',
            'OpenAI-Project' => 'proj-client');
my @CRED = map { lc } keys %CRED;
my %OTHER = ('OpenAI-Beta' => 'assistants=v2', 'X-Trace' => 'abc123',
             'User-Agent' => 'OpenAI/Python 1.50.0');

# the credentials a recorded provider request carries, lower-case names
my sub leaked {
    my ($req) = @_;
    my %h = %{ $req->{headers} || {} };
    delete $h{authorization}
        if ($h{authorization} // '') =~ /^Bearer (?:\Q$S\E|sk-bad-key)$/;
    return join(', ', sort grep { exists $h{$_} } @CRED) || 'none';
}

my sub values_seen {
    my ($req) = @_;
    my $raw = join("\n", map { "@$_" } @{ $req->{header_list} || [] });
    return join(', ', grep { index($raw, $_) >= 0 } values %CRED) || 'none';
}

# ---- a provider with a key -------------------------------------------------

my $r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs },
                 headers => { %CRED, %OTHER });
is($r->{status}, 200, 'routed');
my $q = $m->last;
is(leaked($q), 'none', 'no client credential header reached the provider');
is(values_seen($q), 'none', 'and no client credential value');
is($q->{headers}{authorization}, "Bearer $S", "the provider's own key");
is($q->{headers}{'openai-beta'}, 'assistants=v2', 'OpenAI-Beta passes');
is($q->{headers}{'x-trace'}, 'abc123', 'other headers pass');
is($q->{headers}{'user-agent'}, 'OpenAI/Python 1.50.0', 'User-Agent passes');
is($q->{headers}{'content-type'}, 'application/json', 'Content-Type passes');

# the variables keep the client's values

is($r->{headers}{'x-seen-org'}, 'org-client',
   '$http_openai_organization still reads the client\'s value');
is($r->{headers}{'x-seen-key'}, 'client-anthropic-key',
   '$http_x_api_key too');
my $st = $t->get('/llm/status')->{json} || {};
ok(exists $st->{budgets}{'proj-client'},
   'a budget keyed by $http_openai_project sees it')
    or diag(join(', ', keys %{ $st->{budgets} || {} }));

# several of them, in other cases

$r = $t->request('POST', '/v1/chat/completions',
                 body => LLRTest::json_encode({ model => 'gpt-4o',
                                                messages => $msgs }),
                 headers => { 'Content-Type' => 'application/json',
                              'OPENAI-ORGANIZATION' => 'org-upper',
                              'openai-project' => 'proj-lower',
                              'Api-Key' => 'k1' });
is($r->{status}, 200, 'other cases: routed');
is(leaked($m->last), 'none', 'other cases: removed too');

$r = $t->raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
             . "Content-Type: application/json\r\nContent-Length: "
             . length(LLRTest::json_encode({ model => 'fast',
                                             messages => $msgs }))
             . "\r\nCookie: a=1\r\nCookie: b=2\r\nX-API-Key: one\r\n"
             . "X-API-Key: two\r\nConnection: close\r\n\r\n"
             . LLRTest::json_encode({ model => 'fast', messages => $msgs }));
like($r, qr{^HTTP/1\.1 200}, 'repeated headers: routed');
is(leaked($m->last), 'none', 'repeated headers: all removed');

# more headers than nginx's list holds in its first part (20), the
# credentials among the last: every other one passes, in its order (the
# list is used as it is until the first header that goes, copied from
# there: headers.c)

my sub many {
    my ($model) = @_;
    my $body = LLRTest::json_encode({ model => $model, messages => $msgs });
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
           . "Content-Type: application/json\r\nContent-Length: "
           . length($body) . "\r\n"
           . join('', map { "X-Many-$_: v$_\r\n" } 1 .. 22)
           . "Authorization: Bearer sk-client-own\r\nCookie: c=1\r\n"
           . join('', map { "X-Many-$_: v$_\r\n" } 23 .. 25)
           . "Connection: close\r\n\r\n" . $body;
}

like($t->raw(many('gpt-4o-mini')), qr{^HTTP/1\.1 200},
     '30 headers, a provider with a key: routed');
my @many = grep { /^x-many-/i } map { $_->[0] }
           @{ $m->last->{header_list} || [] };
is(join(' ', @many), join(' ', map { "X-Many-$_" } 1 .. 25),
   '... the 25 others passed, in order');
is(leaked($m->last), 'none', '... the credentials did not');

like($t->raw(many('local')), qr{^HTTP/1\.1 200},
     '30 headers, a provider without a key: routed');
@many = grep { /^x-many-/i } map { $_->[0] } @{ $open->last->{header_list}
                                                || [] };
is(scalar(@many), 25, '... the 25 passed');
is($open->last->{headers}{cookie}, 'c=1', '... and the Cookie');

# on purpose: proxy_set_header with the variable

$r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs },
              path => '/pass/v1/chat/completions', headers => { %CRED });
is($r->{status}, 200, 'proxy_set_header OpenAI-Project: routed');
is($m->last->{headers}{'openai-project'}, 'proj-client',
   'proxy_set_header OpenAI-Project $http_openai_project passes it on');
is($m->last->{headers}{'openai-organization'}, undef,
   'and only that one');

# ---- a provider without a key ----------------------------------------------

$r = $t->chat({ model => 'local', messages => $msgs },
              headers => { %CRED });
is($r->{status}, 200, 'no key: routed');
my $oq = $open->last;
is($oq->{headers}{'openai-organization'}, 'org-client',
   'no key: the client\'s headers pass, as before');
is($oq->{headers}{authorization}, undef,
   'but not its Authorization (proxy_set_header with an empty key)');

# ---- failover --------------------------------------------------------------

$r = $t->chat({ model => 'fo', messages => $msgs },
              path => '/f/v1/chat/completions', headers => { %CRED });
is($r->{status}, 200, 'failover with keys: answered');
is($r->{headers}{'x-test-attempt'}, 2, 'on the second attempt');
is(leaked($bad->last), 'none', 'the first provider got no credential');
is(leaked($m->last), 'none', 'nor the failover provider');
is($m->last->{headers}{authorization}, "Bearer $S",
   'which got its own key');

$r = $t->chat({ model => 'fo2', messages => $msgs },
              path => '/f/v1/chat/completions', headers => { %CRED });
is($r->{status}, 200, 'failover from a provider without a key: answered');
is($openbad->last->{headers}{'openai-project'}, 'proj-client',
   'the provider without a key got the client\'s headers');
is(leaked($m->last), 'none',
   'the failover provider with a key got none of them');

$t->stop;

}

# ==== Client keys (was 99-client-keys.t) =====================================
#
# The client-key idiom of the examples (conf-examples/conf.d/
# llm-route-openai.conf, run as shipped but for its addresses and paths):
# a request without a key or with a key the map does not know is answered
# 401 in OpenAI's format and never reaches the provider, so no request
# escapes the per-team budget and rate limit (issue 20, item 19: the old
# "map ... default """ idiom let unknown keys through, unlimited).

{

my $t = LLRTest->new;
my $m = $t->mock;
my $dir = $t->dir;

my $file = $t->repo . '/conf-examples/conf.d/llm-route-openai.conf';
open(my $fh, '<', $file) or die "$file: $!";
my $conf = do { local $/; <$fh> };
close $fh;

# the addresses and paths of the machine it is installed on -> the test's
my @subst = (
    [ qr/listen 127\.0\.0\.1:8080;/, 'listen 127.0.0.1:%%PORT%%;' ],
    [ qr/upstream\s+api\.openai\.com:443;/, 'upstream 127.0.0.1:%%MOCK_PORT%%;' ],
    [ qr/scheme\s+https;/, 'scheme http;' ],
    [ qr{/etc/nginx/llm_route/}, '%%DIR%%/' ],
    [ qr{/var/lib/nginx/llm_route/}, '%%DIR%%/' ],
    [ qr{/var/log/nginx/}, '%%DIR%%/' ],
);
for my $s (@subst) {
    my $n = ($conf =~ s/$s->[0]/$s->[1]/g);
    ok($n >= 1, "the example has $s->[0]");
}

open($fh, '>', "$dir/openai.key") or die;
print $fh "sk-provider-KEY-3e4f5a6b\n";
close $fh;

$t->config($conf);
$t->start;

my $body = { model => 'gpt-4o-mini',
             messages => [{ role => 'user', content => 'Say hello.' }] };

my $n0 = () = $m->requests;

for my $case ([ 'no key', {} ],
              [ 'an unknown key', { Authorization => 'Bearer sk-guess' } ],
              [ 'a key that differs in one character',
                { Authorization => 'Bearer sk-team-a-CHANGE-ME-0123456788' } ])
{
    my $r = $t->chat($body, headers => $case->[1]);
    is($r->{status}, 401, "$case->[0]: 401");
    like($r->{headers}{'content-type'}, qr{^application/json},
         "$case->[0]: JSON");
    is($r->{json}{error}{code}, 'invalid_api_key',
       "$case->[0]: OpenAI's error code");
    is($r->{json}{error}{type}, 'invalid_request_error',
       "$case->[0]: OpenAI's error type");
}

is(scalar(() = $m->requests), $n0, 'refused requests never reach the provider');

my $r = $t->chat($body, headers => {
    Authorization => 'Bearer sk-team-a-CHANGE-ME-0123456789' });
is($r->{status}, 200, 'a known key: routed');
is($m->last_request->{headers}{authorization}, 'Bearer sk-provider-KEY-3e4f5a6b',
   'the provider gets the key from the key file, not the client\'s');

# the request is charged in its log phase, which may run after the client
# has the answer: the status is read until it shows a spend (5 s at most)
my $s;
my $end = time + 5;
for (;;) {
    $s = $t->get('/llm/status')->{json};
    my $b = $s->{budgets} || {};
    last if grep({ ($_->{spent_usd} // 0) > 0 } values %$b) || time > $end;
    select(undef, undef, undef, 0.05);
}
my @budgets = sort keys %{ $s->{budgets} || {} };
ok(scalar(@budgets) >= 1 && !grep({ !/^team-a\b/ } @budgets),
   'the budget counts the known team only: ' . join(',', @budgets));
ok(($s->{budgets}{'team-a/day'} // $s->{budgets}{'team-a'} // {})
       ->{spent_usd} > 0, 'and charged it');

# the JSON access log of the example
open($fh, '<', "$dir/llm.json") or die "llm.json: $!";
my @lines = <$fh>;
close $fh;
my @json = map { LLRTest::json_decode($_) } @lines;
is(scalar(grep { defined } @json), scalar(@lines),
   'every line of the JSON access log is JSON (' . scalar(@lines) . ')');
my ($ok) = grep { $_ && $_->{status} == 200 } @json;
is($ok && $ok->{team}, 'team-a', 'the log names the team');

$t->stop;

}

done_testing;
