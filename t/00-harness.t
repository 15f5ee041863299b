#!/usr/bin/perl

# The harness and the perl mock provider themselves, without the module:
# plain proxy_pass to the mock; and the data-block runner (LLRBlocks),
# which must fail where a block's expectation is wrong.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use Time::HiRes qw(time);

my $t = LLRTest->new(module => 0);
my $m = $t->mock;

$t->config(<<'EOF');
    upstream mock_backend { server 127.0.0.1:%%MOCK_PORT%%; keepalive 8; }
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
            proxy_pass http://mock_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host mock.example;
            proxy_buffering off;
        }
        location = /raw { return 200 "raw ok\n"; }
    }
EOF

$t->start;

my @w = $t->worker_pids;
is(scalar @w, 2, 'two workers');

# plain JSON answer, recorded request
my $body = { model => 'm1',
             messages => [{ role => 'user', content => "h\x{e9}llo" }] };
my $r = $t->chat($body);
is($r->{status}, 200, 'chat 200');
is($r->{json}{model}, 'm1', 'mock echoes model');
is($r->{json}{choices}[0]{message}{content}, 'mock reply', 'content');
my $q = $m->last_request;
is($q->{method}, 'POST', 'recorded method');
is($q->{uri}, '/v1/chat/completions', 'recorded uri');
is($q->{headers}{host}, 'mock.example', 'recorded host');
is($q->{body}, LLRTest::json_encode($body), 'recorded exact body bytes');
is($q->{headers}{'content-length'}, length($q->{body}), 'content-length');

# keepalive: several requests over one upstream connection
$m->clear;
$t->chat($body) for 1 .. 6;
my @reqs = $m->requests;
is(scalar @reqs, 6, 'six recorded after clear');
my %conns;
$conns{$_->{conn}}++ for @reqs;
ok(scalar(keys %conns) < 6, 'upstream keepalive reuses connections');

# chunked request body through nginx (nginx forwards it with length)
my $raw = $t->raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
    . "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
    . "Connection: close\r\n\r\n"
    . "5\r\n{\"mod\r\n" . "d\r\nel\":\"chunky\"}\r\n0\r\n\r\n");
my $p = LLRTest::parse_response($raw);
is($p->{status}, 200, 'chunked request 200');
is($p->{json}{model}, 'chunky', 'chunked body reached mock');
is($m->last_request->{body}, '{"model":"chunky"}', 'chunked body bytes');

# statuses and headers
$r = $t->chat($body, headers => { 'X-Mock-Status' => 503,
                                  'X-Mock-Retry-After' => 2 });
is($r->{status}, 503, 'X-Mock-Status');
is($r->{headers}{'retry-after'}, 2, 'Retry-After');
is($r->{json}{error}{message}, 'mock error 503', 'error json');

$r = $t->get('/v1/models');
is($r->{json}{data}[0]{id}, 'mock-model', 'mock /v1/models');

my $t0 = time;
$r = $t->chat($body, headers => { 'X-Mock-Delay' => 0.3 });
ok(time - $t0 >= 0.3, 'X-Mock-Delay');

$r = $t->chat($body, headers => { 'X-Mock-Close' => 1 });
is($r->{status}, 502, 'X-Mock-Close gives 502');

# SSE
my $s = $t->stream_request(
    body => { model => 'sm', stream => JSON::PP::true,
              stream_options => { include_usage => JSON::PP::true } },
    headers => { 'X-Mock-Event-Delay' => 0.2, 'X-Mock-Events' => 4 });
is($s->{status}, 200, 'stream status');
like($s->{headers}{'content-type'}, qr{text/event-stream}, 'sse type');
is(scalar @{$s->{events}}, 1 + 4 + 1 + 1 + 1,
   'role + 4 + finish + usage + DONE');
ok($s->{done}, 'saw [DONE]');
is($s->{events}[-2]{json}{usage}{completion_tokens}, 4, 'usage chunk');
my $mr = $m->last_stream(8);
is(scalar @{$mr->{event_times} || []}, 8, 'mock recorded event times');
ok($s->{events}[0]{time} < $mr->{event_times}[-1],
   'first event before last sent');

$s = $t->stream_request(body => { model => 'sm', stream => JSON::PP::true },
                        headers => { 'X-Mock-Cut' => 2 });
is(scalar @{$s->{events}}, 2, 'cut after 2 events');
ok(!$s->{done}, 'no [DONE] when cut');

is($t->request(GET => '/raw')->{content}, "raw ok\n", 'plain location');

# reload
my @before = $t->worker_pids;
ok($t->reload, 'reload produced new workers');
my @after = $t->worker_pids;
my %b = map { $_ => 1 } @before;
ok(!grep({ $b{$_} } @after), 'all workers new');
is($t->chat($body)->{status}, 200, 'serves after reload');

# nginx -t
my ($rc, $out) = $t->nginx_t_http(
    "server { listen 127.0.0.1:%%PORT2%%; bogus_directive 1; }");
isnt($rc, 0, 'nginx -t fails on bad config');
like($out, qr/unknown directive "bogus_directive"/, 'output names directive');
($rc, $out) = $t->nginx_t_http("server { listen 127.0.0.1:%%PORT2%%; }");
is($rc, 0, 'nginx -t ok') or diag $out;

# the block runner, in a test file of its own run here: the blocks with
# right expectations pass, every wrong expectation is a "not ok"
my $script = $t->dir . '/blocks.t';
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'EOF';
use strict;
use warnings;
use Test::More;
use LLRTest;
use LLRBlocks;

my $t = LLRTest->new(module => 0, workers => 1);
$t->config(<<'CONF');
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /e {
            default_type application/json;
            return 404
                '{"error":{"message":"m","type":"t","code":"c","param":null}}';
        }
    }
CONF
$t->start;
run_blocks($t);
$t->done_testing;

__DATA__

=== right
--- request
GET /e
--- error_code: 404
--- openai_error: c
--- response_json
error.type: t
error.param: null
--- response_headers
Content-Type: application/json
!X-None

=== wrong status
--- request
GET /e
--- error_code: 200

=== wrong code
--- request
GET /e
--- openai_error: x

=== wrong json
--- request
GET /e
--- response_json
error.type: u

=== bad config
--- nginx_t: ok
--- http
    server { listen 127.0.0.1:%%PORT2%%; bogus 1; }

=== bad config found
--- nginx_t: fails
--- http
    server { listen 127.0.0.1:%%PORT2%%; bogus 1; }
--- error_like
the directive => unknown directive "bogus"
something else => no such text
EOF
close $fh;

my $tap = `$^X -I$LLRTest::REPO/t/lib $script 2>/dev/null`;
isnt($?, 0, 'blocks: a file with wrong expectations fails');
my @not = $tap =~ /^not ok \d+ - (.*)$/mg;
is_deeply(\@not, [ 'wrong status: 200', 'wrong code: code x',
                   'wrong json: error.type is u',
                   'nginx -t accepts: bad config',
                   'bad config found: message names something else' ],
          'blocks: each wrong expectation is a failure')
    or diag($tap);
my $oks = () = $tap =~ /^ok \d+ - right: /mg;
is($oks, 8, 'blocks: the right block passes its 8 checks') or diag($tap);
like($tap, qr/^ok \d+ - bad config found: message names the directive$/m,
     'blocks: a message that is there is found');

$t->done_testing;
