#!/usr/bin/perl

# Errors the client gets:
#
#   1. every request the module rejects gets an OpenAI-shaped JSON error
#      with the right status, and never reaches the provider
#   2. nginx's own error pages in routed locations become OpenAI-shaped
#      JSON too

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRBlocks;

# ==== The module's errors (was 03-errors.t) ==================================
#
# Every request the module rejects gets an OpenAI-shaped JSON error with the
# right status, and never reaches the provider; no input crashes a worker.

{

my $t = LLRTest->new;
my $m = $t->mock;

$t->config($t->routed_http);
$t->start;

my @workers = $t->worker_pids;

# the workers are the same as after the previous check: none crashed
my $last_workers = join(',', @workers);
my sub no_crash {
    my ($name) = @_;
    select(undef, undef, undef, 0.05);
    my $now = join(',', $t->worker_pids);
    is($now, $last_workers, "$name: no worker crashed");
    $last_workers = $now;
}

my $MSGS = '"messages":[{"role":"user","content":"hi"}]';

# the cases are the blocks of __DATA__ (t/lib/LLRBlocks.pm)
run_blocks($t, mock => $m, vars => { MSGS => $MSGS },
           after => sub { no_crash($_[2]{name}) });

# the unknown-model message lists what is available
my $r = $t->chat({ model => 'no-such-model',
                   messages => [{ role => 'user', content => 'hi' }] });
like($r->{json}{error}{message}, qr/gpt-4o-mini/,
     'unknown model: message lists gpt-4o-mini');
like($r->{json}{error}{message}, qr/\bfast\b/,
     'unknown model: message lists fast');
is($r->{json}{error}{type}, 'invalid_request_error',
   'unknown model: invalid_request_error');
ok(!defined $r->{headers}{'x-test-attempt'},
   'unknown model: no $llm_route_attempt (nothing was chosen; it was 1)');

# a nesting depth that is fine still routes
my $ok_deep = '[' x 20 . '1' . ']' x 20;
$m->clear;
$r = $t->chat(qq({"model":"gpt-4o-mini",$MSGS,"x":$ok_deep}));
is($r->{status}, 200, 'nesting 20 levels: 200');
is($m->last->{body},
   qq({"model":"gpt-4o-mini",$MSGS,"x":$ok_deep}),
   'nesting 20 levels: body forwarded');

# ---- methods ---------------------------------------------------------------

for my $method (qw(GET PUT DELETE PATCH)) {
    $m->clear;
    $r = $t->request($method, '/v1/chat/completions',
                     body => qq({"model":"gpt-4o-mini",$MSGS}),
                     headers => { 'Content-Type' => 'application/json' });
    is($r->{status}, 405, "$method /v1/chat/completions: 405");
    ok(ref $r->{json} eq 'HASH' && $r->{json}{error},
       "$method: JSON error");
    is(scalar($m->requests), 0, "$method: provider not reached");
    no_crash($method);
}

$r = $t->chat(qq({"model":"gpt-4o-mini"}), path => '/v1/models');
is($r->{status}, 405, 'POST /v1/models: 405');

# ---- body too large --------------------------------------------------------

$m->clear;
my $big = qq({"model":"gpt-4o-mini",$MSGS,"pad":") . ('a' x (2500 * 1024))
          . '"}';
$r = $t->chat($big);
is($r->{status}, 413, 'body over client_max_body_size: 413');
like($r->{headers}{'content-type'} // '', qr{^application/json},
     '413: JSON content type');
ok(ref $r->{json} eq 'HASH' && $r->{json}{error}, '413: OpenAI-shaped');
is(scalar($m->requests), 0, '413: provider not reached');
no_crash('413');

# the same, chunked: the limit is found while reading
my $chunk = 'a' x 65536;
my $head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
           . "Content-Type: application/json\r\n"
           . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
my $first = qq({"model":"gpt-4o-mini","p":");
my $payload = join('', map { sprintf("%x\r\n%s\r\n", length $chunk, $chunk) }
                       1 .. 40);
my $raw = $t->raw($head . sprintf("%x\r\n%s\r\n", length $first, $first)
                  . $payload . qq(2\r\n"}\r\n0\r\n\r\n));
my $p = LLRTest::parse_response($raw);
is($p->{status}, 413, 'chunked body over the limit: 413');
is(scalar($m->requests), 0, 'chunked 413: provider not reached');
no_crash('chunked 413');

# ---- headers and hosts the config did not name ----------------------------

$m->clear;
my $body = qq({"model":"gpt-4o-mini",$MSGS});
$p = LLRTest::parse_response($t->raw(
    "POST /v1/chat/completions HTTP/1.1\r\nHost: evil.example\r\n"
    . "X-Forwarded-Host: evil2.example\r\nConnection: close\r\n"
    . "Content-Type: application/json\r\n"
    . "Content-Length: " . length($body) . "\r\n\r\n$body"));
is($p->{status}, 200, 'client Host header: 200');
is($m->last->{headers}{host}, 'mock.example',
   'client Host never reaches the provider');

# ---- nothing crashed -------------------------------------------------------

is(join(',', $t->worker_pids), join(',', @workers),
   'same workers as at start: none crashed');

$t->stop;

}

# ==== nginx's error pages (was 88-error-pages.t) =============================
#
# nginx's own error pages in routed locations (issue 20, item 21).  With
# the README's minimal configuration (no failover pattern), a provider
# that refuses the connection or does not answer in time gave the client
# nginx's HTML 502 or 504 page; so did a failover location whose own
# attempt failed with nothing left to redirect to.  Every routed location
# answers them in OpenAI-shaped JSON; a provider's own error passes as it
# is.

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $proxy = $t->proxy_directives(auth => 1, identity => 1, tls => 1,
                                 unbuffered => 1, timeout => '1s',
                                 attempt => 0);

$t->config(<<"EOF");
    llm_route_zone llm:1m;

    llm_route_provider refused {
        upstream 127.0.0.1:1; scheme http; host refused.example;
    }
    llm_route_provider slow {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host slow.example;
    }

    llm_route_model down provider=refused input=1 output=1;
    llm_route_model late provider=slow input=1 output=1;

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /llm/status { llm_route_status; }

        # the README's minimal configuration
        location /v1/ {
            llm_route on;
$proxy
        }

        # the failover pattern, with a fallback that cannot fail over
        location /fo/ {
            llm_route on;
$proxy
            proxy_intercept_errors on;
            error_page 429 500 502 503 504 = \@last;
        }

        location \@last {
            llm_route on;
$proxy
        }
    }
EOF
$t->start;

my $msgs = [{ role => 'user', content => 'Say hello.' }];

my sub is_json_error {
    my ($r, $status, $code, $what) = @_;
    is($r->{status}, $status, "$what: $status");
    like($r->{headers}{'content-type'} // '', qr{^application/json},
         "$what: JSON");
    is(($r->{json} || {})->{error}{code}, $code, "$what: code $code")
        or diag($r->{content});
    is(($r->{json} || {})->{error}{type}, 'server_error',
       "$what: type server_error");
    unlike($r->{content} // '', qr/<html>/i, "$what: no HTML page");
}

my $r = $t->chat({ model => 'down', messages => $msgs });
is_json_error($r, 502, 'upstream_failed', 'connection refused');
like($r->{json}{error}{message} // '', qr/provider "refused"/,
     'connection refused: the message names the provider');

$r = $t->chat({ model => 'late', messages => $msgs },
              headers => { 'X-Mock-Delay' => 3 });
is_json_error($r, 504, 'upstream_timeout', 'timeout');

$r = $t->chat({ model => 'down', messages => $msgs },
              path => '/fo/v1/chat/completions');
is_json_error($r, 502, 'upstream_failed',
              'failover location that fails in turn');

# a provider's own error is the provider's: passed as it is
$r = $t->chat({ model => 'late', messages => $msgs },
              headers => { 'X-Mock-Status' => 500 });
is($r->{status}, 500, "a provider's own 500 passes");
is(($r->{json} || {})->{error}{message}, 'mock error 500',
   'with its own body');

# streams: the same JSON, before any byte of the stream
$r = $t->chat({ model => 'down', messages => $msgs, stream => JSON::PP::true });
is_json_error($r, 502, 'upstream_failed', 'a stream refused');

my $st = $t->get('/llm/status')->{json} || {};
cmp_ok($st->{models}{down}{errors} // 0, '>=', 3,
       'the failures are counted as errors of their model');

$t->stop;

}

done_testing;

__DATA__

# The module's errors: one block a request, each refused with an
# OpenAI-shaped error (after each, no worker crashed).

=== truncated JSON
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini",%%MSGS%%,"x":[
--- error_code: 400
--- openai_error: invalid_json
--- upstream_requests: 0

=== unquoted key
--- request
POST /v1/chat/completions
{model:"gpt-4o-mini",%%MSGS%%}
--- error_code: 400
--- openai_error: invalid_json
--- upstream_requests: 0

=== single quotes
--- request
POST /v1/chat/completions
{'model':'gpt-4o-mini'}
--- error_code: 400
--- openai_error: invalid_json
--- upstream_requests: 0

=== trailing comma
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini",%%MSGS%%,}
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== trailing garbage
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini",%%MSGS%%} xyz
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== two objects
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini",%%MSGS%%}{"model":"gpt-4o"}
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== invalid UTF-8
--- request eval
"POST /v1/chat/completions\n" . qq({"model":"gpt-4o-mini","messages":[{"role":"user",)
    . qq("content":"\xff\xfe\xc3"}]})
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== raw control character in a string
--- request eval
"POST /v1/chat/completions\n" . qq({"model":"gpt-4o-mini","messages":[{"role":"user",)
    . qq("content":"a\x01b"}]})
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== top-level array
--- request
POST /v1/chat/completions
[]
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== top-level string
--- request
POST /v1/chat/completions
"x"
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== top-level number
--- request
POST /v1/chat/completions
1
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== top-level null
--- request
POST /v1/chat/completions
null
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== top-level true
--- request
POST /v1/chat/completions
true
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== empty body
--- request
POST /v1/chat/completions
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== only whitespace
--- request eval
"POST /v1/chat/completions\n" . "  \r\n\t "
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== missing model
--- request
POST /v1/chat/completions
{%%MSGS%%}
--- error_code: 400
--- openai_error: missing_required_parameter model
--- upstream_requests: 0

=== model is a number
--- request
POST /v1/chat/completions
{"model":42,%%MSGS%%}
--- error_code: 400
--- openai_error: invalid_type model
--- upstream_requests: 0

=== model is an object
--- request
POST /v1/chat/completions
{"model":{"name":"gpt-4o"},%%MSGS%%}
--- error_code: 400
--- openai_error: invalid_type model
--- upstream_requests: 0

=== model is null
--- request
POST /v1/chat/completions
{"model":null,%%MSGS%%}
--- error_code: 400
--- openai_error: - model
--- upstream_requests: 0

=== missing messages
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini"}
--- error_code: 400
--- openai_error: - messages
--- upstream_requests: 0

=== messages is a string
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":"hi"}
--- error_code: 400
--- openai_error: - messages
--- upstream_requests: 0

=== messages is empty
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini","messages":[]}
--- error_code: 400
--- openai_error: - messages
--- upstream_requests: 0

=== stream is a string
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini",%%MSGS%%,"stream":"yes"}
--- error_code: 400
--- openai_error: - stream
--- upstream_requests: 0

=== stream is a number
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini",%%MSGS%%,"stream":1}
--- error_code: 400
--- openai_error: - stream
--- upstream_requests: 0

=== max_tokens is a decimal
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini",%%MSGS%%,"max_tokens":1e2}
--- error_code: 400
--- openai_error: invalid_type max_tokens
--- upstream_requests: 0

=== max_tokens is a string
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini",%%MSGS%%,"max_tokens":"100"}
--- error_code: 400
--- openai_error: invalid_type max_tokens
--- upstream_requests: 0

=== nesting deeper than 64
--- request eval
"POST /v1/chat/completions\n" . qq({"model":"gpt-4o-mini",$V{MSGS},"x":)
    . ('[' x 100) . (']' x 100) . '}'
--- error_code: 400
--- openai_error
--- upstream_requests: 0

=== unknown model
--- request
POST /v1/chat/completions
{"model":"no-such-model",%%MSGS%%}
--- error_code: 404
--- openai_error: model_not_found model
--- upstream_requests: 0

=== model name like a path
--- request
POST /v1/chat/completions
{"model":"../../etc/passwd",%%MSGS%%}
--- error_code: 404
--- openai_error: model_not_found
--- upstream_requests: 0

=== model name like a host
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini@evil.example",%%MSGS%%}
--- error_code: 404
--- openai_error: model_not_found
--- upstream_requests: 0

=== model with a NUL escape
--- request
POST /v1/chat/completions
{"model":"gpt-4o-mini\u0000",%%MSGS%%}
--- error_code: 404
--- openai_error: model_not_found
--- upstream_requests: 0
