#!/usr/bin/perl

# Real Anthropic clients (issue 24): @anthropic-ai/sdk (t/sdk/anthropic.mjs:
# messages.create, streams, tools, countTokens, cache tokens, errors) and
# Claude Code (`claude -p`), both installed by `make sdk-deps` from
# t/sdk/package-lock.json, as t/81-sdk.t's clients are.
#
#   1. directly against llm_route_mock (anthropic_headers=on): the real
#      SDK and Claude Code parse the mock's JSON and event streams;
#   2. through the router, to an Anthropic-format provider and to an
#      OpenAI-format one (translated), once the module has the provider
#      directive "format" (issue 24's glue); until then skipped, saying so.
#
# Without the packages the file is skipped, unless LLR_SDK_REQUIRED is set
# (make test sets it): then that is a failure.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRSdk;
use File::Path qw(make_path);
use JSON::PP;
use Time::HiRes qw(time);

my $SDK = $LLRSdk::SDK;
my $CLAUDE = "$SDK/node_modules/\@anthropic-ai/claude-code-linux-x64/claude";

LLRSdk::require_packages('@anthropic-ai/sdk');

my $t = LLRTest->new(workers => 1, timeout => 400);
my $dir = $t->dir;

LLRSdk::copy_scripts();

my $WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit';

# does the module have the provider formats (issue 24's router glue)?

my ($format_rc, $format_out) = $t->nginx_t_http(<<"EOF");
    upstream u { server 127.0.0.1:1; }
    llm_route_provider p { upstream u; scheme http; host h; base_path /v1;
                           format anthropic; }
    llm_route_model m provider=p input=1 output=1 context=1000 quality=0.5;
    server { listen 127.0.0.1:1; location /v1/ { llm_route on; } }
EOF
my $ROUTER = ($format_rc == 0);

my $router = '';

if ($ROUTER) {
    my $proxy = $t->proxy_directives(auth => 1, identity => 1,
                                     unbuffered => 1, attempt => 0);
    $router = <<"EOF";
    llm_route_zone llm:4m;

    upstream mock_backend { server 127.0.0.1:%%PORT2%%; keepalive 8; }

    llm_route_provider claude { upstream mock_backend; scheme http;
                                host mock.local; base_path /v1;
                                format anthropic; api_key sk-ant-provider; }
    llm_route_provider oai { upstream mock_backend; scheme http;
                             host mock.local; base_path /v1;
                             api_key sk-provider; }

    llm_route_model claude-haiku provider=claude input=0.80 output=4.00
                    cached_input=0.08 cache_write=1.00 context=200000
                    max_output=8192 quality=0.80;
    llm_route_model gpt-4o-mini provider=oai input=0.15 output=0.60
                    context=128000 quality=0.78;

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /llm/status { llm_route_status; }
        location /v1/ {
            llm_route on;
$proxy
        }
    }
EOF
}

$t->config(<<"EOF");
$router
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v1/ {
            llm_route_mock tokens=8 chunk=2;
        }
        location /strict/v1/ {
            llm_route_mock tokens=8 chunk=2 anthropic_headers=on;
        }
        location /cc/v1/ {
            access_log $dir/cc.log;
            llm_route_mock tokens=8 chunk=2 anthropic_headers=on
                           auto_tools=off cache=read;
        }
    }
EOF
$t->start;

my $MOCK = 'http://127.0.0.1:' . $t->port(2);
my $ROOT = 'http://127.0.0.1:' . $t->port;

sub run_script {
    my ($label, %env) = @_;
    LLRSdk::run_script('anthropic.mjs', [$label],
                       { %env, LLR_WORDS => $WORDS, NODE_NO_WARNINGS => 1 });
}

# Claude Code, non-interactive: `claude -p PROMPT --output-format json`

sub claude {
    my ($label, $base, %env) = @_;

    my $home = "$dir/claude-home-$label";
    my $work = "$dir/claude-work-$label";
    make_path($home, $work);

    my $t0 = time;
    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open(STDIN, '<', '/dev/null');
        open(STDERR, '>', "$dir/claude-$label.err");
        chdir $work;
        $ENV{HOME} = $home;
        $ENV{ANTHROPIC_BASE_URL} = $base;
        $ENV{ANTHROPIC_API_KEY} = 'sk-ant-client';
        $ENV{DISABLE_TELEMETRY} = 1;
        $ENV{CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC} = 1;
        @ENV{keys %env} = values %env;
        exec('timeout', '120', $CLAUDE, '-p', 'Say hello',
             '--output-format', 'json') or exit 127;
    }

    my $output = do { local $/; <$out> };
    close $out;
    my $rc = $? >> 8;

    my $j = eval { JSON::PP->new->decode($output) } || {};

    is($rc, 0, "claude -p ($label): exit 0")
        or diag($output, `cat '$dir/claude-$label.err'`);
    like($j->{result} // '', qr/^\Q$WORDS\E/,
         "claude -p ($label): it prints the answer");
    ok(!$j->{is_error}, "claude -p ($label): no error");
    note(sprintf('claude -p (%s): %.1f s', $label, time - $t0));

    return $j;
}

# ---- 1. directly against the mock ------------------------------------------

run_script('mock', LLR_ANTHROPIC_URL => "$MOCK/strict",
           LLR_ANTHROPIC_EXACT => 1);

SKIP: {
    skip("no Claude Code binary at $CLAUDE", 6) unless -x $CLAUDE;

    my $j = claude('mock', "$MOCK/cc");

    # its prompt ends with a cache_control block: all of it is cached
    ok(($j->{usage}{cache_read_input_tokens} // 0) > 0,
       'claude -p (mock): it read the cache tokens of the usage')
        or diag(explain $j->{usage});
    is($j->{usage}{output_tokens}, 8,
       'claude -p (mock): 8 output tokens, from message_delta');

    open(my $fh, '<', "$dir/cc.log");
    my @posts = grep { m{"POST /cc/v1/messages(\?\S*)? HTTP/1\.1" 200 } }
                <$fh>;
    ok(@posts >= 1, 'claude -p (mock): its requests reached the mock')
        or diag(`cat '$dir/cc.log'`);
}

# ---- 2. through the router ------------------------------------------------

SKIP: {
    skip('the module has no provider "format" yet (issue 24, the router '
         . "glue): $format_out", 1) unless $ROUTER;

    run_script('router-anthropic', LLR_ANTHROPIC_URL => $ROOT,
               LLR_ANTHROPIC_MODEL => 'claude-haiku');
    run_script('router-openai', LLR_ANTHROPIC_URL => $ROOT,
               LLR_ANTHROPIC_MODEL => 'gpt-4o-mini');

    if (-x $CLAUDE) {
        claude('router-anthropic', $ROOT, ANTHROPIC_MODEL => 'claude-haiku',
               ANTHROPIC_SMALL_FAST_MODEL => 'claude-haiku');
        claude('router-openai', $ROOT, ANTHROPIC_MODEL => 'gpt-4o-mini',
               ANTHROPIC_SMALL_FAST_MODEL => 'gpt-4o-mini');
    }

    my $st = $t->get('/llm/status')->{json};
    for my $m ('claude-haiku', 'gpt-4o-mini') {
        ok(($st->{models}{$m}{requests} // 0) > 0,
           "router: ${m}'s requests were counted");
    }
}

$t->done_testing;
