#!/usr/bin/perl

# The provider quick starts of conf-examples/ (docs/providers.md), each run
# as written, its provider moved to the perl mock (t/lib/LLRMock.pm): the
# upstream address and the scheme are changed, nothing else (host,
# base_path, api_key, models, the location's proxy directives).  The mock
# records what the provider would see: the path, the Host, the
# Authorization header and the model, which must be what that provider
# documents for its OpenAI-compatible endpoint (the table below).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $REPO = LLRTest->repo;

# file => [ env var, model asked => upstream model, path, Host, headers ]
my @cases = (
    { file => 'provider-gemini.conf', env => 'GEMINI_API_KEY',
      model => 'gemini-2.5-flash', upstream_model => 'gemini-2.5-flash',
      path => '/v1beta/openai/chat/completions',
      host => 'generativelanguage.googleapis.com' },
    { file => 'provider-groq.conf', env => 'GROQ_API_KEY',
      model => 'gpt-oss-120b', upstream_model => 'openai/gpt-oss-120b',
      path => '/openai/v1/chat/completions', host => 'api.groq.com' },
    { file => 'provider-openrouter.conf', env => 'OPENROUTER_API_KEY',
      model => 'or-claude-haiku',
      upstream_model => 'anthropic/claude-3.5-haiku',
      path => '/api/v1/chat/completions', host => 'openrouter.ai',
      headers => { 'http-referer' => 'https://example.com/',
                   'x-title' => 'llm_route' } },
    { file => 'provider-mistral.conf', env => 'MISTRAL_API_KEY',
      model => 'mistral-small', upstream_model => 'mistral-small-latest',
      path => '/v1/chat/completions', host => 'api.mistral.ai' },
    { file => 'provider-deepseek.conf', env => 'DEEPSEEK_API_KEY',
      model => 'deepseek-chat', upstream_model => 'deepseek-chat',
      path => '/v1/chat/completions', host => 'api.deepseek.com' },
    { file => 'provider-together.conf', env => 'TOGETHER_API_KEY',
      model => 'llama-3.3-70b-turbo',
      upstream_model => 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
      path => '/v1/chat/completions', host => 'api.together.xyz' },
    # local servers: no key, the client's is not passed on
    { file => 'local-openai-compatible.conf', model => 'qwen2.5-7b',
      upstream_model => 'Qwen/Qwen2.5-7B-Instruct',
      path => '/v1/chat/completions', host => 'localhost' },
    { file => 'local-openai-compatible.conf', model => 'gemma-2b',
      upstream_model => 'gemma-2b',
      path => '/v1/chat/completions', host => 'localhost' },
);

sub slurp {
    my ($f) = @_;
    open(my $fh, '<', $f) or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

for my $c (@cases) {
    my $name = "$c->{file} $c->{model}";
    my $key = $c->{env} ? "sk-provider-$c->{env}-0123" : undef;
    local $ENV{$c->{env}} = $key if $c->{env};

    my $text = slurp("$REPO/conf-examples/$c->{file}");

    # the example's http{} and its main-level env lines
    my ($http) = $text =~ /^http \{\n(.*)^\}\s*\z/ms;
    my $main = join('', $text =~ /^(env \w+;\n)/mg);

    ok(defined $http, "$name: an http{} block") or next;

    my $t = LLRTest->new(main => $main);
    my $m = $t->mock;
    my $mp = $m->port;

    # the provider moves to the mock, and the server to a free port
    my $n = ($http =~ s{^(\s+upstream\s+)[\w.-]+:443;}{${1}127.0.0.1:$mp;}mg);
    $http =~ s{^(\s+scheme\s+)https;}{${1}http;}mg;
    $n += ($http =~ s{(server\s+)127\.0\.0\.1:\d+;}{${1}127.0.0.1:$mp;}g);
    ok($n >= 1, "$name: its provider moved to the mock ($n)");

    $n = ($http =~ s{^(\s+listen\s+)127\.0\.0\.1:\d+;}
                    {${1}127.0.0.1:%%PORT%%;}mg);
    is($n, 1, "$name: one server, on loopback");

    $t->config($http);
    $t->start;

    my $r = $t->chat({ model => $c->{model},
                       messages => [{ role => 'user', content => 'Hi' }] },
                     headers => { Authorization => 'Bearer sk-client-key' });
    is($r->{status}, 200, "$name: 200");
    is($r->{json} && $r->{json}{object}, 'chat.completion',
       "$name: the provider's answer");

    my $q = $m->last;
    is($q->{uri}, $c->{path}, "$name: the provider's path");
    is($q->{headers}{host}, $c->{host}, "$name: the provider's Host");
    is($q->{json} && $q->{json}{model}, $c->{upstream_model},
       "$name: the provider's model name");

    if ($key) {
        is($q->{headers}{authorization}, "Bearer $key",
           "$name: Authorization: Bearer \$$c->{env}");
    } else {
        ok(!defined $q->{headers}{authorization},
           "$name: no Authorization (the client's is not passed on)")
            or diag($q->{headers}{authorization});
    }

    for my $h (sort keys %{ $c->{headers} || {} }) {
        is($q->{headers}{$h}, $c->{headers}{$h}, "$name: $h");
    }

    # a stream with usage goes the same way
    my $s = $t->stream_request(body => { model => $c->{model}, stream =>
                                         JSON::PP::true,
                                         messages => [{ role => 'user',
                                                        content => 'Hi' }] });
    is($s->{status}, 200, "$name: a stream, 200");
    ok($s->{done}, "$name: the stream ends with [DONE]");
    is($m->last->{uri}, $c->{path}, "$name: the stream's path");

    $t->check_log;
    $t->stop;
}

done_testing;
