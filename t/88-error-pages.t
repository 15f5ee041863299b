#!/usr/bin/perl

# nginx's own error pages in routed locations (issue 20, item 21).  With
# the README's minimal configuration (no failover pattern), a provider
# that refuses the connection or does not answer in time gave the client
# nginx's HTML 502 or 504 page; so did a failover location whose own
# attempt failed with nothing left to redirect to.  Every routed location
# answers them in OpenAI-shaped JSON; a provider's own error passes as it
# is.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

my $proxy = <<'EOF';
            proxy_pass $llm_route_url;
            proxy_set_header Host $llm_route_host;
            proxy_set_header Authorization $llm_route_authorization;
            proxy_set_header Accept-Encoding "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_ssl_server_name on;
            proxy_ssl_name $llm_route_host;
            proxy_buffering off;
            proxy_read_timeout 1s;
EOF

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

sub is_json_error {
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

$t->done_testing;
