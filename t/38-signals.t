#!/usr/bin/perl

# The quality signals of routed answers (docs/quality.md), read by the
# response filters as the bytes pass: truncated, content_filter, empty,
# bad_tool_json, bad_json (JSON mode: response_format json_object or
# json_schema), refusal (the default list and llm_route_refusal_pattern),
# in JSON answers and streams; counted per model, per task and per model x
# task in the status JSON (answers, signals) and in Prometheus
# (llm_route_quality_signal_total); errors and embeddings are no answers.
# The same signals from an Anthropic-format provider, its answers passed
# through to /v1/messages or translated for an OpenAI client.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $t = LLRTest->new;
my $m = $t->mock;

$t->config($t->routed_http(
    http => '    llm_route_refusal_pattern "^Computer says no";',
    server => '        location = /llm/status { llm_route_status; }'));
$t->start;

my $msgs = [{ role => 'user', content => 'signals please' }];
my $T = JSON::PP::true;

# each answer, and the signals it must have
my @cases = (
    [ 'a plain answer', {}, [] ],
    [ 'finish_reason length', { 'X-Mock-Finish' => 'length' },
      ['truncated'] ],
    [ 'content_filter with no text',
      { 'X-Mock-Finish' => 'content_filter', 'X-Mock-Content' => '' },
      ['content_filter', 'empty'] ],
    [ 'white space only', { 'X-Mock-Content' => "  \t " }, ['empty'] ],
    [ 'a refusal of the default list',
      { 'X-Mock-Content' => "I'm sorry, but I can't help with that." },
      ['refusal'] ],
    [ 'refusal text of its own',
      { 'X-Mock-Content' => '-', 'X-Mock-Refusal' => 'No.' },
      ['refusal'] ],
    [ 'a configured refusal pattern',
      { 'X-Mock-Content' => 'Computer says no, sorry.' }, ['refusal'] ],
    [ 'a tool call cut short',
      { 'X-Mock-Content' => '-', 'X-Mock-Tool-Args' => '{"city": "Par',
        'X-Mock-Finish' => 'tool_calls' },
      ['bad_tool_json'] ],
    [ 'a tool call', { 'X-Mock-Content' => '-',
                       'X-Mock-Tool-Args' => '{"city": "Paris"}',
                       'X-Mock-Finish' => 'tool_calls' }, [] ],
    [ 'JSON mode, an answer that is JSON',
      { 'X-Mock-Content' => '{"city": "Paris", "days": [1, 2]}' }, [],
      { response_format => { type => 'json_object' } } ],
    [ 'JSON mode, an answer that is not',
      { 'X-Mock-Content' => 'Sure! {"city": "Paris"}' }, ['bad_json'],
      { response_format => { type => 'json_schema',
                             json_schema => { name => 'x', schema => {} } } } ],
    [ 'text mode, the same answer', { 'X-Mock-Content' => 'Sure! {"a": 1}' },
      [], { response_format => { type => 'text' } } ],
);

sub status { return $t->status_json(@_) }

my @names = qw(truncated content_filter empty bad_tool_json bad_json refusal);
my %zero = map { $_ => 0 } @names;
my $n = 0;
my %before = %zero;

for my $stream (0, 1) {
    for my $c (@cases) {
        my ($name, $h, $sig, $extra) = @$c;

        # refusal text of its own is not streamed by the mock
        next if $stream && exists $h->{'X-Mock-Refusal'};

        my $what = ($stream ? 'stream' : 'JSON') . ": $name";

        if ($stream) {
            my $r = $t->stream_request(
                body => { model => 'gpt-4o-mini', messages => $msgs,
                          stream => $T, %{$extra // {}} },
                headers => { %$h, 'X-Mock-Events' => 4 });
            ok($r->{done}, "$what: the stream ended");
        } else {
            my $r = $t->chat({ model => 'gpt-4o-mini', messages => $msgs,
                               %{$extra // {}} }, headers => $h);
            is($r->{status}, 200, "$what: 200");
        }

        my $j = status(++$n);
        my $s = $j->{models}{'gpt-4o-mini'}{signals} || {};
        my %want = %before;
        $want{$_}++ for @$sig;

        is_deeply($s, \%want, "$what: " . (@$sig ? "@$sig" : 'no signal'));
        is($j->{models}{'gpt-4o-mini'}{answers}, $n, "$what: an answer");
        %before = %$s;
    }
}

# ---- what is not an answer --------------------------------------------------

$t->chat({ model => 'gpt-4o-mini', messages => $msgs },
         headers => { 'X-Mock-Status' => 500 });
$t->chat({ model => 'gpt-4o-mini', input => 'embed me' },
         path => '/v1/embeddings');
my $j = status($n + 2);
is($j->{models}{'gpt-4o-mini'}{requests}, $n + 2, 'the error and the '
   . 'embeddings are requests');
is($j->{models}{'gpt-4o-mini'}{answers}, $n, '... but no answers');
is_deeply($j->{models}{'gpt-4o-mini'}{signals}, \%before,
          '... and have no signals');

# ---- where the counts are ---------------------------------------------------

is_deeply($j->{totals}{signals}, \%before, 'totals.signals');
is($j->{totals}{answers}, $n, 'totals.answers');
is_deeply($j->{tasks}{unclassified}{signals}, \%before,
          'tasks.unclassified.signals');
is_deeply($j->{models}{'gpt-4o'}{signals}, \%zero,
          'a model without answers: zeros');
is_deeply($j->{models}{'gpt-4o-mini'}{feedback},
          { count => 0, mean => undef }, 'no feedback: mean null');

my @q = @{$j->{quality} || []};
is(scalar @q, 1, 'quality: the one model x task with requests');
is("$q[0]{model} $q[0]{task}", 'gpt-4o-mini unclassified',
   'quality: its model and task');
is($q[0]{requests}, $n + 2, 'quality: requests');
is($q[0]{errors}, 1, 'quality: errors');
is($q[0]{answers}, $n, 'quality: answers');
is_deeply($q[0]{signals}, \%before, 'quality: signals');
ok($q[0]{completion_tokens} > 0, 'quality: output tokens');
ok(exists $q[0]{latency_ms}{p99}, 'quality: latency');

# ---- Prometheus -------------------------------------------------------------

my $p = $t->get('/llm/status?format=prometheus')->{content};

for my $s (@names) {
    like($p, qr/^llm_route_quality_signal_total\{model="gpt-4o-mini",
                task="unclassified",signal="$s"\}[ ]$before{$s}$/mx,
         "llm_route_quality_signal_total $s");
}
like($p, qr/^llm_route_quality_answers_total\{model="gpt-4o-mini",
            task="unclassified"\}[ ]$n$/mx, 'llm_route_quality_answers_total');
like($p, qr/^llm_route_feedback_total\{model="gpt-4o-mini",
            task="unclassified"\}[ ]0$/mx, 'llm_route_feedback_total');
like($p, qr/^llm_route_feedback_score_sum\{model="gpt-4o-mini",
            task="unclassified"\}[ ]0\.000$/mx, 'llm_route_feedback_score_sum');
unlike($p, qr/model="gpt-4o",task=/, 'no series for a pair without requests');

SKIP: {
    my ($rc, $out) = $t->promtool($p);
    skip 'no promtool', 1 unless defined $rc;
    is($rc, 0, 'promtool check metrics') or diag($out);
}

# ---- a refusal pattern that does not compile --------------------------------

my ($rc, $out) = $t->nginx_t_http($t->routed_http(
    http => '    llm_route_refusal_pattern "^I (can";'));
isnt($rc, 0, 'nginx -t: a bad refusal pattern fails');
like($out, qr/invalid regex "\^I \(can" in llm_route_refusal_pattern/,
     'nginx -t: says which');

# ---- Anthropic answers: passed through and translated -----------------------
#
# An Anthropic-format provider (the perl mock's Messages answers): its
# text blocks and text_delta, tool_use blocks and input_json_delta, and
# stop_reason give the same signals, for an Anthropic client
# (/v1/messages, passed through) and an OpenAI one (translated).

my $proxy = $t->proxy_directives(auth => 1, identity => 1, unbuffered => 1);

# a reload into a zone of its own: its counts start at zero
ok($t->reload(config => $t->substitute(<<"EOF")), 'reloaded');
    llm_route_zone llm2:1m;
    llm_route_provider claude {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host api.anthropic.test;
        format anthropic; api_key sk-test-secret-0123456789;
    }
    llm_route_model claude-haiku provider=claude input=0.80 output=4.00
                    max_output=1000 upstream_model=claude-3-5-haiku;

    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
            llm_route on;
$proxy
        }
        location = /llm/status { llm_route_status; }
    }
EOF

# JSON mode for an Anthropic provider: structured outputs (a schema)
my $jschema = { response_format => { type => 'json_schema',
    json_schema => { name => 'x', schema => { type => 'object' } } } };

# name, headers, signals, more of the body, streams only, chat only
my @acases = (
    [ 'a plain answer', {}, [] ],
    [ 'stop_reason max_tokens', { 'X-Mock-Finish' => 'max_tokens' },
      ['truncated'] ],
    [ 'stop_reason refusal with no text',
      { 'X-Mock-Finish' => 'refusal', 'X-Mock-Content' => '-' },
      ['content_filter', 'empty'] ],
    [ 'white space only', { 'X-Mock-Content' => "  \t " }, ['empty'] ],
    [ 'a refusal of the default list',
      { 'X-Mock-Content' => "I'm sorry, but I can't help with that." },
      ['refusal'] ],
    [ 'a tool call and no text',
      { 'X-Mock-Content' => '-', 'X-Mock-Tool-Args' => '{"city": "Paris"}',
        'X-Mock-Finish' => 'tool_use' }, [] ],
    [ 'a tool call cut short',
      { 'X-Mock-Content' => '-', 'X-Mock-Tool-Args' => '{"city": "Par',
        'X-Mock-Finish' => 'tool_use' }, ['bad_tool_json'], undef, 1 ],
    [ 'JSON mode, an answer that is not JSON',
      { 'X-Mock-Content' => 'Sure! {"city": "Paris"}' }, ['bad_json'],
      $jschema, 0, 1 ],
    [ 'JSON mode, an answer that is JSON',
      { 'X-Mock-Content' => '{"city": "Paris"}' }, [],
      $jschema, 0, 1 ],
);

%before = %zero;
$n = 0;

for my $client ('messages', 'chat') {
    for my $stream (0, 1) {
        for my $c (@acases) {
            my ($name, $h, $sig, $extra, $stream_only, $chat_only) = @$c;

            next if ($stream_only && !$stream)
                    || ($chat_only && $client ne 'chat');

            my $what = "anthropic, $client " . ($stream ? 'stream' : 'JSON')
                       . ": $name";
            my $path = $client eq 'chat' ? '/v1/chat/completions'
                                         : '/v1/messages';
            my %body = (model => 'claude-haiku', messages => $msgs,
                        %{$extra // {}});
            $body{max_tokens} = 100 if $client eq 'messages';

            if ($stream) {
                my $r = $t->stream_request(path => $path,
                    body => { %body, stream => $T },
                    headers => { %$h, 'X-Mock-Events' => 4 });
                is($r->{status}, 200, "$what: 200");
            } else {
                my $r = $t->chat(\%body, path => $path, headers => $h);
                is($r->{status}, 200, "$what: 200");
            }

            my $j = status(++$n);
            my $s = $j->{models}{'claude-haiku'}{signals} || {};
            my %want = %before;
            $want{$_}++ for @$sig;

            is_deeply($s, \%want,
                      "$what: " . (@$sig ? "@$sig" : 'no signal'));
            is($j->{models}{'claude-haiku'}{answers}, $n, "$what: an answer");
            %before = %$s;
        }
    }
}

$t->stop;
$t->check_log;

done_testing();
