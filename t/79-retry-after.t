#!/usr/bin/perl

# A 429's Retry-After, in seconds or as an HTTP-date (RFC 9110 allows
# both), cools the provider down.  (The date form was read as 0: no
# cooldown at all with max_fails 0.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use POSIX qw(strftime);

my $t = LLRTest->new;
my $busy = $t->mock(name => 'busy');
my $good = $t->mock(name => 'good');

$t->config(<<'EOF');
    llm_route_zone llm:1m;
    llm_route_provider busy {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host busy.example;
        max_fails 0;
    }
    llm_route_provider good {
        upstream 127.0.0.1:%%MOCK_PORT2%%; scheme http; host good.example;
    }
    llm_route_model m provider=busy input=1 output=1;
    llm_route_model m2 provider=busy input=1 output=1;
    llm_route_model m2 provider=good input=1 output=1;
    server {
        listen 127.0.0.1:%%PORT%%;
        recursive_error_pages on;
        location /v1/ {
            llm_route on;
            proxy_pass $llm_route_url;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_intercept_errors on;
            error_page 429 500 502 503 504 = @fb;
        }
        location @fb {
            llm_route on;
            proxy_pass $llm_route_url;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_intercept_errors on;
            error_page 429 500 502 503 504 = @fb;
        }
        location = /llm/status { llm_route_status; }
    }
EOF
$t->start;
my $msgs = [{ role => 'user', content => 'hi' }];

sub state { $t->get('/llm/status')->{json}{providers}{busy}{state} // '?' }

# seconds form: cooled down (control)
my $r = $t->chat({ model => 'm', messages => $msgs },
                 headers => { 'X-Mock-Status' => 429, 'X-Mock-Retry-After' => 3 });
is(state(), 'cooldown', 'Retry-After: 3 cools busy down');
sleep 3.5;
is(state(), 'up', 'and it recovers');

# HTTP-date form, 60 s ahead
my $date = strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time + 60));
$r = $t->chat({ model => 'm', messages => $msgs },
              headers => { 'X-Mock-Status' => 429, 'X-Mock-Retry-After' => $date });
is($r->{status}, 429, '429 seen, and passed on as 429 (nothing else left)');
my $ra = $r->{headers}{'retry-after'} // '';
ok($ra =~ /^\d+$/ && $ra >= 55 && $ra <= 61,
   "with the provider's Retry-After in seconds ($ra)");
is(state(), 'cooldown', "Retry-After: $date cools busy down too");
$t->done_testing;
