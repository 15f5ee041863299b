#!/usr/bin/perl

# Wire formats (issue 24): providers of the anthropic and azure formats,
# clients of Anthropic Messages (/v1/messages, /v1/messages/count_tokens)
# passed through to an Anthropic-format provider.
#
#   1. nginx -t: format and api_version
#   2. /v1/messages to an anthropic provider: the module's x-api-key and
#      anthropic-version, the client's anthropic-* passed on, its own key
#      not; max_output= as max_tokens; usage and cost with cache tokens
#      exact, JSON and SSE, in the access log and the zone;
#      Anthropic-shaped errors
#   3. azure: classic deployments and /openai/v1, the api-key header
#   4. count_tokens: from an anthropic provider, estimated otherwise
#   5. endpoints without a translation are refused

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use Time::HiRes qw(sleep);

my $SECRET = 'sk-test-secret-0123456789';

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

# ==== nginx -t ===============================================================

{
    my $base = sub {
        my ($p) = @_;
        return "llm_route_provider p { upstream 127.0.0.1:1; $p }\n"
               . "llm_route_model m provider=p input=1 output=2;\n";
    };

    my ($rc, $out) = $t->nginx_t_http($base->('format gemini;'));
    isnt($rc, 0, 'nginx -t: an unknown format is refused');
    like($out, qr/invalid "format" value "gemini"/, '... and named');

    ($rc, $out) = $t->nginx_t_http($base->('api_version 2024-10-21;'));
    isnt($rc, 0, 'nginx -t: api_version without format azure is refused');
    like($out, qr/for "format azure" only/, '... and said so');

    ($rc, $out) = $t->nginx_t_http(
        $base->('format azure; api_version 2024-10-21;'));
    is($rc, 0, 'nginx -t: format azure with api_version') or diag($out);
}

# ==== the configuration ======================================================

my $loc = $t->routed_location(location =>
    "            access_log %%DIR%%/acc.log llr;\n"
    . "            add_header X-Test-Format \$llm_route_format always;");

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    log_format llr "\$request_uri \$llm_route_prompt_tokens"
                   " \$llm_route_cached_tokens \$llm_route_cache_write_tokens"
                   " \$llm_route_completion_tokens \$llm_route_cost";

    llm_route_provider claude {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host api.anthropic.test;
        format anthropic; api_key $SECRET;
    }
    llm_route_provider az {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host az.test;
        format azure; api_version 2024-10-21; api_key $SECRET;
    }
    llm_route_provider az1 {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host az.test;
        format azure; api_key $SECRET;
    }
    llm_route_provider oai {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host oai.test;
        api_key $SECRET;
    }

    llm_route_model claude-haiku provider=claude input=0.80 output=4.00
                    cached_input=0.08 cache_write=1.00 context=200000
                    max_output=4096 quality=0.80;
    llm_route_model azure-4o provider=az input=2.50 output=10.00
                    upstream_model=gpt4o-dep;
    llm_route_model azure-v1 provider=az1 input=2.50 output=10.00;
    llm_route_model gpt-4o-mini provider=oai input=0.15 output=0.60;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /llm/status { llm_route_status; }
$loc
    }
EOF
$t->start;

my sub acc_lines {
    open(my $fh, '<', $t->dir . '/acc.log') or return ();
    my @l = <$fh>;
    close $fh;
    chomp @l;
    return @l;
}

# the provider's own arithmetic, in USD: prices per 1M tokens

my sub cost {
    my ($input, $read, $write, $output) = @_;
    return ($input * 0.80 + $read * 0.08 + $write * 1.00 + $output * 4.00)
           / 1e6;
}

# the mock's input_tokens: a token per 4 bytes of the body, at least 1

my sub mock_pt { int(length($_[0]{body}) / 4) + 1 }

# ==== /v1/messages, JSON =====================================================

my $req = { model => 'claude-haiku', max_tokens => 100,
            messages => [{ role => 'user', content => 'Say hello.' }] };

my $r = $t->chat($req, path => '/v1/messages',
                 headers => { 'x-api-key' => 'client-key',
                              'Authorization' => 'Bearer client-key',
                              'anthropic-version' => '2023-01-01',
                              'anthropic-beta' => 'tools-2024' });
is($r->{status}, 200, 'messages: 200');
is($r->{json}{type}, 'message', 'messages: the Anthropic answer passes');
is($r->{headers}{'x-test-format'}, 'anthropic', '$llm_route_format');

my $u = $m->last_request;
is($u->{uri}, '/v1/messages', 'messages: to base_path/messages');
is($u->{headers}{'x-api-key'}, $SECRET,
   'messages: the provider key in x-api-key, not the client\'s');
ok(!exists $u->{headers}{authorization}, 'messages: no Authorization');
is($u->{headers}{'anthropic-version'}, '2023-01-01',
   'messages: the client\'s anthropic-version passed on');
is($u->{headers}{'anthropic-beta'}, 'tools-2024',
   'messages: the client\'s anthropic-beta passed on');
is(decode_json($u->{body})->{max_tokens}, 100,
   'messages: the client\'s max_tokens kept');
my $pt = mock_pt($u);

# usage: input pt, cache write 7, cache read 5, output 2

sleep 0.3;
my @acc = acc_lines();
my ($uri, $p, $cached, $write, $c, $usd) = split / /, $acc[-1];
is($p, $pt + 12, 'messages: prompt tokens count every input token');
is($cached, 5,
   'messages: $llm_route_cached_tokens = cache_read_input_tokens');
is($write, 7,
   'messages: $llm_route_cache_write_tokens = cache_creation_input_tokens');
is($c, 2, 'messages: completion tokens');
ok(abs($usd - cost($pt, 5, 7, 2)) < 1e-9,
   "messages: cost $usd is the provider's arithmetic");

# ==== defaults: anthropic-version, max_tokens ================================

$r = $t->chat({ model => 'claude-haiku',
                messages => [{ role => 'user', content => 'Hi.' }] },
              path => '/v1/messages');
is($r->{status}, 200, 'messages without max_tokens: 200');
$u = $m->last_request;
is($u->{headers}{'anthropic-version'}, '2023-06-01',
   'the module sends anthropic-version when the client sent none');
is(decode_json($u->{body})->{max_tokens}, 4096,
   'max_tokens from the model\'s max_output=');

# ==== /v1/messages, SSE ======================================================

my $s = $t->stream_request(path => '/v1/messages',
    body => { %$req, stream => JSON::PP::true },
    headers => { 'X-Mock-Events' => 3 });
is($s->{status}, 200, 'messages stream: 200');
like($s->{body}, qr/event: message_stop/,
     'messages stream: passes to its end');
unlike($s->{body}, qr/stream_interrupted|"error"/,
       'messages stream: no error event added');
$u = $m->last_request;
$pt = mock_pt($u);
sleep 0.3;
@acc = acc_lines();
($uri, $p, $cached, $write, $c, $usd) = split / /, $acc[-1];
is($p, $pt + 12, 'messages stream: prompt tokens from message_start');
is($c, 3, 'messages stream: output tokens from message_delta');
ok(abs($usd - cost($pt, 5, 7, 3)) < 1e-9,
   "messages stream: cost $usd exact");

# a stream cut before message_stop ends with Anthropic's error event

$s = $t->stream_request(path => '/v1/messages',
    body => { %$req, stream => JSON::PP::true },
    headers => { 'X-Mock-Events' => 3, 'X-Mock-Cut' => 3 });
like($s->{body},
     qr/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/,
     'messages stream cut: Anthropic\'s error event');

# ==== Anthropic-shaped errors ================================================

$r = $t->chat({ model => 'nope', max_tokens => 5,
                messages => [{ role => 'user', content => 'x' }] },
              path => '/v1/messages');
is($r->{status}, 404, 'messages, unknown model: 404');
is($r->{json}{type}, 'error', 'messages error: {"type":"error"}');
is($r->{json}{error}{type}, 'not_found_error',
   'messages error: Anthropic\'s type');

$r = $t->chat('{"model":', path => '/v1/messages');
is($r->{status}, 400, 'messages, bad JSON: 400');
is($r->{json}{error}{type}, 'invalid_request_error',
   'messages, bad JSON: Anthropic-shaped');
is($r->{json}{type}, 'error', '... {"type":"error"}');

$r = $t->chat($req, path => '/v1/messages',
              headers => { 'X-Mock-Status' => 529 });
is($r->{status}, 529, 'a provider error passes');
is($r->{json}{type}, 'error', '... as the provider wrote it');

# ==== azure ==================================================================

$r = $t->chat({ model => 'azure-4o', messages => [{ role => 'user',
                content => 'x' }] },
              headers => { 'api-key' => 'client-key' });
is($r->{status}, 200, 'azure: 200');
$u = $m->last_request;
is($u->{uri},
   '/openai/deployments/gpt4o-dep/chat/completions?api-version=2024-10-21',
   'azure classic: the deployment path with api-version');
is($u->{headers}{'api-key'}, $SECRET,
   'azure: the key in api-key, not the client\'s');
ok(!exists $u->{headers}{authorization}, 'azure: no Authorization');

$r = $t->chat({ model => 'azure-v1', messages => [{ role => 'user',
                content => 'x' }] });
is($r->{status}, 200, 'azure v1: 200');
$u = $m->last_request;
is($u->{uri}, '/openai/v1/chat/completions',
   'azure without api_version: /openai/v1/');
is($u->{headers}{'api-key'}, $SECRET, 'azure v1: api-key');

# the openai format: Bearer, no anthropic-* or x-api-key from the client

$r = $t->chat({ model => 'gpt-4o-mini', messages => [{ role => 'user',
                content => 'x' }] },
              headers => { 'x-api-key' => 'client-key',
                           'anthropic-version' => '2023-06-01' });
$u = $m->last_request;
is($u->{headers}{authorization}, "Bearer $SECRET", 'openai: Bearer key');
ok(!exists $u->{headers}{'x-api-key'}, 'openai: no client x-api-key');
ok(!exists $u->{headers}{'anthropic-version'},
   'openai: no anthropic-version');

# ==== count_tokens ===========================================================

$r = $t->chat($req, path => '/v1/messages/count_tokens');
is($r->{status}, 200, 'count_tokens, anthropic provider: 200');
$u = $m->last_request;
is($u->{uri}, '/v1/messages/count_tokens', '... asked of the provider');
is($r->{json}{input_tokens}, mock_pt($u), '... its count');
ok(!exists $r->{headers}{'x-llm-route-estimated'}, '... not estimated');

my $n = () = $m->requests;
$r = $t->chat({ %$req, model => 'gpt-4o-mini' },
              path => '/v1/messages/count_tokens');
is($r->{status}, 200, 'count_tokens, openai provider: 200');
is($r->{headers}{'x-llm-route-estimated'}, 'true',
   '... estimated, and said so');
ok($r->{json}{input_tokens} > 0, '... a count');
is(scalar(() = $m->requests), $n, '... the provider not asked');

# ==== formats that differ ====================================================

# chat completions and Messages are translated (t/36-translate.t); the
# other OpenAI endpoints have no Anthropic counterpart

$r = $t->chat({ model => 'claude-haiku', input => 'x' },
              path => '/v1/embeddings');
is($r->{status}, 400, 'embeddings to an anthropic provider: 400');
is($r->{json}{error}{code}, 'unsupported_format', '... unsupported_format');
is($r->{json}{error}{param}, 'model', '... naming the model');

# ==== the zone agrees with the access log ====================================

my $st = $t->get('/llm/status')->{json};
my $sum = 0;
for (acc_lines()) {
    my @f = split / /;
    $sum += $f[5] if defined $f[5] && $f[5] =~ /^[\d.]+$/;
}
ok(abs($st->{totals}{cost_usd} - $sum) < 1e-8,
   "status: cost_usd $st->{totals}{cost_usd} = the access log's $sum");

$t->stop;
$t->check_log;

done_testing;
