#!/usr/bin/perl

# Routing explicit models, and the model list the module answers itself:
#
#   1. the provider receives the rewritten model, its key, host and path;
#      the variables and trace headers tell the decision; GET /v1/models
#   2. GET /v1/models/{id}: one model object, 404 for an unknown id

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

# ==== Explicit models (was 02-route.t) =======================================
#
# Routing explicit models: the provider receives the rewritten model, its
# key, host and path; the variables and trace headers tell the decision;
# GET /v1/models lists the configuration.

{

my $t = LLRTest->new;
my $SECRET = $LLRTest::SECRET;
my $dir = $t->dir;

my $m1 = $t->mock;          # provider mockp (upstream block, literal key)
my $m2 = $t->mock;          # providers azurish (base_path), envp, nokey
my $m3 = $t->mock;          # provider filep, and the weighted deployment

$ENV{LLR_TEST_ENV_KEY} = 'sk-env-KEY-5f4dcc3b5aa765d6';

open(my $kf, '>', "$dir/key.txt") or die;
print $kf "sk-file-KEY-7c6a180b36896a0a\n";
close $kf;

$t->config($t->routed_http(http => <<'EOF'));
    llm_route_provider azurish {
        upstream 127.0.0.1:%%MOCK_PORT2%%;
        scheme http;
        host az.example;
        base_path /openai/v1;
        api_key az-literal-KEY-0001;
    }
    llm_route_provider envp {
        upstream 127.0.0.1:%%MOCK_PORT2%%;
        scheme http;
        host env.example;
        base_path /v1;
        api_key env=LLR_TEST_ENV_KEY;
    }
    llm_route_provider nokey {
        upstream 127.0.0.1:%%MOCK_PORT2%%;
        scheme http;
        host nokey.example;
        base_path /v1;
    }
    upstream third { server 127.0.0.1:%%MOCK_PORT3%%; }
    llm_route_provider filep {
        upstream third;
        scheme http;
        host file.example;
        base_path /v1;
        api_key file=%%DIR%%/key.txt;
    }

    llm_route_model az-model provider=azurish input=1 output=2 context=8000
                    quality=0.8 upstream_model=deployment-17;
    llm_route_model env-model provider=envp input=1 output=2 context=8000
                    quality=0.8;
    llm_route_model open-model provider=nokey input=0 output=0 context=8000
                    quality=0.5 upstream_model=llama-3.1-8b;
    llm_route_model file-model provider=filep input=1 output=2 context=8000
                    quality=0.8;

    llm_route_model split provider=mockp input=1 output=2 context=8000
                    quality=0.8 weight=3 upstream_model=split-a;
    llm_route_model split provider=filep input=1 output=2 context=8000
                    quality=0.8 weight=1 upstream_model=split-b;
EOF

$t->start;

my $msgs = [{ role => 'user', content => 'Say hello.' }];

# ---- an explicit model ----------------------------------------------------

my $r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs },
                 headers => { Authorization => 'Bearer client-own-key',
                              'X-Client-Extra' => 'kept' });
is($r->{status}, 200, 'gpt-4o-mini: 200');
is($r->{json}{model}, 'gpt-4o-mini', 'client sees the model the mock echoed');
is($r->{json}{choices}[0]{message}{content}, 'mock reply', 'mock content');

my $q = $m1->last_request;
ok($q, 'mock received the request');
is($q->{method}, 'POST', 'mock: POST');
is($q->{uri}, '/v1/chat/completions', 'mock: base_path + endpoint');
is($q->{headers}{host}, 'mock.example', 'mock: Host is the provider host');
is($q->{headers}{authorization}, "Bearer $SECRET",
   "mock: the provider's key, not the client's");
is($q->{headers}{'x-client-extra'}, 'kept', 'mock: other client headers pass');
is($q->{headers}{'content-length'}, length $q->{body},
   'mock: Content-Length matches the rewritten body');
is($q->{body},
   '{"model":"gpt-4o-mini","messages":[{"content":"Say hello.",'
   . '"role":"user"}]}',
   'mock: exact rewritten body');

is($r->{headers}{'x-test-url'},
   'http://mock_backend/v1/chat/completions', '$llm_route_url');
is($r->{headers}{'x-test-upstream'}, 'mock_backend', '$llm_route_upstream');
is($r->{headers}{'x-test-host'}, 'mock.example', '$llm_route_host');
is($r->{headers}{'x-test-provider'}, 'mockp', '$llm_route_provider');
is($r->{headers}{'x-test-model'}, 'gpt-4o-mini', '$llm_route_model');
is($r->{headers}{'x-test-requested'}, 'gpt-4o-mini',
   '$llm_route_requested_model');
is($r->{headers}{'x-test-policy'}, '[]', '$llm_route_policy empty');
is($r->{headers}{'x-test-attempt'}, '1', '$llm_route_attempt');

is($r->{headers}{'x-llm-route-model'}, 'gpt-4o-mini', 'trace: model');
is($r->{headers}{'x-llm-route-provider'}, 'mockp', 'trace: provider');
is($r->{headers}{'x-llm-route-reason'},
   'explicit model gpt-4o-mini; deployment mockp/gpt-4o-mini',
   'trace: reason header');

# ---- upstream_model renames what is sent ----------------------------------

$r = $t->chat({ model => 'fast', messages => $msgs, temperature => 0 });
is($r->{status}, 200, 'fast: 200');
$q = $m1->last_request;
is($q->{json}{model}, 'gpt-4o-mini', 'fast: provider gets upstream_model');
is($q->{body},
   '{"model":"gpt-4o-mini","messages":[{"content":"Say hello.",'
   . '"role":"user"}],"temperature":0}',
   'fast: exact body, members in order');
is($r->{headers}{'x-test-model'}, 'gpt-4o-mini', 'fast: $llm_route_model');
is($r->{headers}{'x-test-requested'}, 'fast',
   'fast: $llm_route_requested_model');

# ---- base_path, host:port upstream, query string --------------------------

$r = $t->chat({ model => 'az-model', messages => $msgs },
              path => '/v1/chat/completions?api-version=2024-06-01');
is($r->{status}, 200, 'az-model: 200');
$q = $m2->last_request;
is($q->{uri}, '/openai/v1/chat/completions?api-version=2024-06-01',
   'az-model: base_path /openai/v1 and the query string');
is($q->{headers}{host}, 'az.example', 'az-model: Host');
is($q->{headers}{authorization}, 'Bearer az-literal-KEY-0001',
   'az-model: its own key');
is($q->{json}{model}, 'deployment-17', 'az-model: upstream_model');
like($r->{headers}{'x-test-url'},
     qr{^http://127\.0\.0\.1:\d+/openai/v1/chat/completions\?api-version=},
     'az-model: $llm_route_url with host:port');

# ---- env= and file= keys; a provider without a key -----------------------

$r = $t->chat({ model => 'env-model', messages => $msgs });
is($r->{status}, 200, 'env-model: 200');
is($m2->last->{headers}{authorization},
   'Bearer sk-env-KEY-5f4dcc3b5aa765d6', 'env= key sent');
is($m2->last->{headers}{host}, 'env.example', 'env-model: Host');

$r = $t->chat({ model => 'file-model', messages => $msgs });
is($r->{status}, 200, 'file-model: 200');
is($m3->last->{headers}{authorization},
   'Bearer sk-file-KEY-7c6a180b36896a0a',
   'file= key sent (trailing newline trimmed)');

$r = $t->chat({ model => 'open-model', messages => $msgs },
              headers => { Authorization => 'Bearer client-own-key' });
is($r->{status}, 200, 'open-model: 200');
$q = $m2->last_request;
is($q->{json}{model}, 'llama-3.1-8b', 'open-model: upstream_model');
ok(!defined $q->{headers}{authorization}
   || $q->{headers}{authorization} !~ /client-own-key/,
   'no-key provider: the client Authorization is not leaked through '
   . '$llm_route_authorization');

# ---- other endpoints -------------------------------------------------------

for my $ep (['/v1/completions', { model => 'fast', prompt => 'hi' },
             'text_completion'],
            ['/v1/embeddings', { model => 'fast', input => 'hi' }, 'list'],
            ['/v1/responses', { model => 'fast', input => 'hi' }, 'response'])
{
    my ($path, $body, $object) = @$ep;
    $r = $t->chat($body, path => $path);
    is($r->{status}, 200, "$path: 200");
    is($r->{json}{object}, $object, "$path: provider answer passed");
    $q = $m1->last_request;
    is($q->{uri}, $path, "$path: mock uri");
    is($q->{json}{model}, 'gpt-4o-mini', "$path: model rewritten");
}

# ---- deployments chosen by weight -----------------------------------------

$m1->clear;
$m3->clear;
my %seen;
for (1 .. 40) {
    $r = $t->chat({ model => 'split', messages => $msgs });
    $seen{$r->{status}}++;
}
is($seen{200}, 40, 'split: 40 x 200');
my @a = $m1->requests;
my @b = $m3->requests;
is(@a + @b, 40, 'split: every request reached one of the two providers');
ok(@a > @b && @b > 0, "split: weight 3:1 honoured (got "
   . scalar(@a) . ":" . scalar(@b) . ")");
ok(!grep({ $_->{json}{model} ne 'split-a' } @a)
   && !grep({ $_->{json}{model} ne 'split-b' } @b),
   'split: each deployment sends its own upstream_model');

# ---- GET /v1/models --------------------------------------------------------

$m1->clear;
$r = $t->get('/v1/models');
is($r->{status}, 200, '/v1/models: 200');
like($r->{headers}{'content-type'}, qr{^application/json}, '/v1/models: json');
is($r->{json}{object}, 'list', '/v1/models: object list');
my %ids = map { $_->{id} => $_ } @{$r->{json}{data} || []};
ok($ids{$_}, "/v1/models lists $_")
    for qw(gpt-4o-mini gpt-4o fast az-model split);
is($ids{'gpt-4o'}{object}, 'model', '/v1/models: object model');
is($ids{'gpt-4o'}{owned_by}, 'mockp', '/v1/models: owned_by provider');
is(scalar($m1->requests), 0, '/v1/models answered by the module itself');

# ---- keys never logged -----------------------------------------------------

$t->stop;
my $log = $t->error_log;
unlike($log, qr/\Q$SECRET\E|sk-env-KEY|sk-file-KEY|az-literal-KEY/,
       'no key in error.log');
my $alog = $t->error_log("$dir/access.log");
unlike($alog, qr/\Q$SECRET\E|sk-env-KEY|sk-file-KEY/, 'no key in access.log');


}

# ==== GET /v1/models/{id} (was 85-models-retrieve.t) =========================
#
# GET /v1/models/{id} (issue 20, item 12): the OpenAI model object of a
# configured model or policy (what openai-node's models.retrieve() reads),
# 404 JSON (model_not_found) for an unknown id; an id may hold '/', which
# the SDKs send as %2F.  Answered by the module: nothing reaches the
# provider.

{

my $t = LLRTest->new(workers => 1);
my $m = $t->mock;

$t->config($t->routed_http(http => <<'EOF'));
    llm_route_model org/llama-3.1-8b provider=mockp input=0.1 output=0.1
                    context=128000 quality=0.6;
    llm_route_policy auto {
        candidates gpt-4o-mini gpt-4o;
        floor 0.75;
    }
EOF
$t->start;

for my $case (['gpt-4o', 'mockp'], ['gpt-4o-mini', 'mockp'],
              ['auto', 'llm_route'])
{
    my ($id, $owner) = @$case;
    my $r = $t->get("/v1/models/$id");
    is($r->{status}, 200, "$id: 200");
    like($r->{headers}{'content-type'}, qr{^application/json},
         "$id: application/json");
    is_deeply($r->{json}, { id => $id, object => 'model', created => 0,
                            owned_by => $owner }, "$id: the model object");
}

my $r = $t->get('/v1/models/org%2Fllama-3.1-8b');
is($r->{json}{id}, 'org/llama-3.1-8b', 'an id with %2F: the model with "/"');
$r = $t->get('/v1/models/org/llama-3.1-8b');
is($r->{json}{id}, 'org/llama-3.1-8b', 'an id with "/": the same');

# the list still answers, and holds what retrieve() answers

$r = $t->get('/v1/models');
my ($listed) = grep { $_->{id} eq 'gpt-4o' } @{$r->{json}{data} // []};
is_deeply($listed, $t->get('/v1/models/gpt-4o')->{json},
          'the list has the same object');

# unknown ids

$r = $t->get('/v1/models/gpt-5-nope');
is($r->{status}, 404, 'unknown id: 404');
like($r->{headers}{'content-type'}, qr{^application/json},
     'unknown id: JSON');
is($r->{json}{error}{code}, 'model_not_found', 'unknown id: model_not_found');
is($r->{json}{error}{type}, 'invalid_request_error',
   'unknown id: invalid_request_error');
is($r->{json}{error}{param}, 'model', 'unknown id: param model');
like($r->{json}{error}{message}, qr/gpt-5-nope.*gpt-4o/,
     'unknown id: the message names it and what is available');

$r = $t->get('/v1/models/' . ('x' x 5000));
is($r->{status}, 404, 'a 5000-byte id: 404');
ok(length($r->{content}) < 2000, 'a 5000-byte id: a short message');

$r = $t->get('/v1/models/%22%5C%C3%A9%FF%0A');
is($r->{status}, 404, 'an id with a quote, a backslash, bad UTF-8: 404');
ok(defined $r->{json}, '... valid JSON');

$r = $t->get('/v1/models/gpt-4o%20');
is($r->{status}, 404, 'gpt-4o and a space: not gpt-4o');

# methods

$r = $t->request('HEAD', '/v1/models/gpt-4o');
is($r->{status}, 200, 'HEAD: 200');
is($r->{content} // '', '', 'HEAD: no body');

$r = $t->request('POST', '/v1/models/gpt-4o', body => '{}');
is($r->{status}, 405, 'POST: 405');
is($r->{headers}{allow}, 'GET, HEAD', 'POST: Allow GET, HEAD');
is($r->{json}{error}{code}, 'method_not_allowed', 'POST: JSON error');

$r = $t->request('DELETE', '/v1/models/gpt-4o');
is($r->{status}, 405, 'DELETE: 405');

is(scalar($m->requests), 0, 'nothing reached the provider');

$t->stop;

}

done_testing;
