#!/usr/bin/perl

# GET /v1/models/{id} (issue 20, item 12): the OpenAI model object of a
# configured model or policy (what openai-node's models.retrieve() reads),
# 404 JSON (model_not_found) for an unknown id; an id may hold '/', which
# the SDKs send as %2F.  Answered by the module: nothing reaches the
# provider.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

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

$t->done_testing;
