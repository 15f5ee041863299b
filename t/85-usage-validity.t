#!/usr/bin/perl

# Usage that cannot be used, and counters that cannot wrap (issue 20,
# item 4).  A "usage" object without usable token counts ({}, negative,
# fractional, string, null values), in JSON or in the stream's usage
# chunk, was charged $0; it is estimated from the text instead and
# counted as estimated.  A provider reporting 2^64-1 tokens moved
# totals.prompt_tokens from 200 to 199 (a reset to Prometheus): every
# zone counter saturates instead.
#
# The provider is a server of this nginx answering fixed bodies
# (return 200), chosen by the X-Usage request header.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);

my %usage = (
    ok     => '{"prompt_tokens":7,"completion_tokens":5}',
    empty  => '{}',
    neg    => '{"prompt_tokens":-7,"completion_tokens":-5}',
    float  => '{"prompt_tokens":7.5,"completion_tokens":5}',
    string => '{"prompt_tokens":"7","completion_tokens":"5"}',
    null   => '{"prompt_tokens":null,"completion_tokens":null}',
    half   => '{"prompt_tokens":7}',
    p200   => '{"prompt_tokens":200,"completion_tokens":0}',
    huge   => '{"prompt_tokens":18446744073709551615,"completion_tokens":1}',
);

my $json_map = join('', map {
    "        $_ '{\"id\":\"x\",\"object\":\"chat.completion\","
    . "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    . "\"content\":\"abcdefgh\"},\"finish_reason\":\"stop\"}],"
    . "\"usage\":$usage{$_}}';\n" } sort keys %usage);

my $sse_map = join('', map {
    "        $_ 'data: {\"choices\":[{\"index\":0,\"delta\":"
    . "{\"content\":\"abcdefgh\"}}]}\\n\\n"
    . "data: {\"choices\":[{\"index\":0,\"delta\":{},"
    . "\"finish_reason\":\"stop\"}]}\\n\\n"
    . "data: {\"choices\":[],\"usage\":$usage{$_}}\\n\\n"
    . "data: [DONE]\\n\\n';\n" } sort keys %usage);

my $proxy = "            llm_route on;\n" . $t->proxy_directives;

$t->config(<<"EOF");
    llm_route_zone llm:1m;

    llm_route_provider fixed {
        upstream 127.0.0.1:%%PORT2%%;
        scheme http;
        host fixed.example;
        base_path /json/v1;
    }
    llm_route_provider fixedsse {
        upstream 127.0.0.1:%%PORT2%%;
        scheme http;
        host fixed.example;
        base_path /sse/v1;
    }

    # \$1 per 1M tokens: a token is 1 micro-USD
    llm_route_model j provider=fixed input=1 output=1 context=128000;
    llm_route_model s provider=fixedsse input=1 output=1 context=128000;

    map \$http_x_usage \$json_answer {
$json_map
    }

    map \$http_x_usage \$sse_answer {
$sse_map
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location = /llm/status { llm_route_status; }

        location /v1/ {
$proxy
            llm_route_budget \$http_x_team 1000;
        }
    }

    server {
        listen 127.0.0.1:%%PORT2%%;

        location = /json/v1/chat/completions {
            default_type application/json;
            return 200 \$json_answer;
        }

        location = /sse/v1/chat/completions {
            default_type text/event-stream;
            return 200 \$sse_answer;
        }
    }
EOF
$t->start;

# "hello there": 11 bytes of text, 3 tokens; "abcdefgh": 2 tokens
my $msgs = [{ role => 'user', content => 'hello there' }];

sub ask {
    my ($model, $kind, $team) = @_;
    my %b = (model => $model, messages => $msgs, max_tokens => 100);
    $b{stream} = JSON::PP::true if $model eq 's';
    my $r = $t->chat(\%b, headers => { 'X-Usage' => $kind,
                                       'X-Team' => $team // 'u' });
    select(undef, undef, undef, 0.1);
    my $st = $t->get('/llm/status');
    return ($r, $st->{json}{recent}[0] || {}, $st);
}

for my $model (qw(j s)) {
    my $what = $model eq 'j' ? 'JSON' : 'stream';

    my ($r, $rec) = ask($model, 'ok');
    is($r->{status}, 200, "$what: usable usage answered");
    ok(!$rec->{estimated}, "$what: usable usage is not estimated");
    is("$rec->{prompt_tokens}/$rec->{completion_tokens}", '7/5',
       "$what: usable usage is taken as it is");

    for my $kind (qw(empty neg float string null half)) {
        my $est0 = $t->get('/llm/status')->{json}{totals}{estimated};
        ($r, $rec, my $st) = ask($model, $kind, "$model-$kind");
        is($r->{status}, 200, "$what, usage $kind: answered");
        ok($rec->{estimated}, "$what, usage $kind: counted as estimated");
        is("$rec->{prompt_tokens}/$rec->{completion_tokens}", '3/2',
           "$what, usage $kind: tokens estimated from the text");
        is($st->{json}{totals}{estimated}, $est0 + 1,
           "$what, usage $kind: totals.estimated counts it");
        cmp_ok($st->{json}{budgets}{"$model-$kind"}{spent_usd} // 0, '>', 0,
               "$what, usage $kind: its budget is charged");
    }
}

# ---- counters saturate -----------------------------------------------------

sub total {
    my ($field) = @_;
    my $c = $t->get('/llm/status')->{content};
    return $c =~ /"totals":\{[^}]*"\Q$field\E":([0-9.]+)/ ? $1 : '?';
}

sub prom {
    my ($metric) = @_;
    my $c = $t->get('/llm/status?format=prometheus')->{content};
    return $c =~ /^\Q$metric\E ([0-9.e+]+)$/m ? $1 : '?';
}

ask('j', 'p200');
my $before = total('prompt_tokens');
ask('j', 'huge');
my $after = total('prompt_tokens');
diag("totals.prompt_tokens: $before, then $after after 2^64-1 more");
is($after, '18446744073709551615',
   'a provider reporting 2^64-1 tokens: prompt_tokens saturates');
ask('j', 'ok');
is(total('prompt_tokens'), '18446744073709551615', 'and stays there');
my $cost = total('cost_usd');
cmp_ok($cost, '>=', 18446744, 'the cost saturates too (at $18.4M)');
ask('j', 'huge');
is(total('cost_usd'), $cost, 'and does not wrap either');

my ($st) = (ask('j', 'ok'))[2];
my $m = $st->{json}{models}{j} || {};
ok($m->{prompt_tokens} && $m->{prompt_tokens} > 1e19,
   'the model counter saturates as the totals');

$t->done_testing;
