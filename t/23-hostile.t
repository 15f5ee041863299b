#!/usr/bin/perl

# Hostile input: the request bodies and headers an attacker or a buggy
# client would send.  Each case has its expected status; the module's own
# answers are OpenAI-shaped JSON; after each group no worker has crashed
# (same worker pids; the harness checks error.log for "exited on signal"
# and [alert] at stop).  Nothing a client sends may reach another host, a
# path outside the endpoint, or smuggle a second model or a header past
# the router.  Last, 2,000 medium requests must not grow the workers' RSS.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRBlocks qw(openai_shaped);
use JSON::PP;
use Time::HiRes qw(time sleep);
use IO::Select;

my $t = LLRTest->new(timeout => 600);
my $m = $t->mock;

# a second provider without a key on the same perl mock; an in-nginx mock
# provider (llm_route_mock on %%PORT2%%) for the memory group
$t->config($t->routed_http(http => <<'EOF', server => <<'EOF'));
    llm_route_provider nokey {
        upstream mock_backend;
        scheme http;
        host nokey.example;
        base_path /v1;
    }
    llm_route_model nokey-model provider=nokey input=1 output=1;

    llm_route_provider inmock {
        upstream 127.0.0.1:%%PORT2%%;
        scheme http;
        host inmock.example;
        base_path /v1;
    }
    llm_route_model inm-mini provider=inmock input=0.15 output=0.60
                    context=128000 quality=0.78;
    llm_route_model inm-big provider=inmock input=2.50 output=10.00
                    context=128000 quality=0.92;
    llm_route_policy inauto {
        candidates inm-mini inm-big;
        floor      0.75;
        floor_hard 0.90;
    }

    server {
        listen 127.0.0.1:%%PORT2%%;
        client_max_body_size 4m;
        location /v1/ { llm_route_mock; }
    }
EOF
        client_body_timeout 2s;
        location = /llm/status { llm_route_status; }
EOF
$t->start;

my @start_workers = $t->worker_pids;
is(scalar @start_workers, 2, 'two workers');

my $last_workers = join(',', @start_workers);

# after each group: the same workers serve, none crashed
sub group_done {
    my ($name) = @_;
    sleep 0.05;
    my $now = join(',', $t->worker_pids);
    is($now, $last_workers, "$name: no worker crashed");
    $last_workers = $now;
}

my $MSGS = '"messages":[{"role":"user","content":"hi"}]';
my $OKBODY = qq({"model":"gpt-4o-mini",$MSGS});

# $r from $t->chat/request or parse_response: both have status, headers,
# json; content (chat) or body (raw)
sub check_error {
    my ($name, $r, $status, $code, $param) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    is($r->{status}, $status, "$name: $status");
    like($r->{headers}{'content-type'} // '', qr{^application/json},
         "$name: JSON content type");
    ok(openai_shaped($r->{json}), "$name: OpenAI-shaped error")
        or diag(substr($r->{content} // $r->{body} // '', 0, 300));
    is($r->{json}{error}{code}, $code, "$name: code $code")
        if defined $code && ref $r->{json} eq 'HASH';
    is($r->{json}{error}{param}, $param, "$name: param $param")
        if defined $param && ref $r->{json} eq 'HASH';
}

sub check_not_reached {
    my ($name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is(scalar($m->requests), 0, "$name: provider not reached");
}

# the top-level keys of a JSON object text, in order, decoded, duplicates
# kept (JSON::PP would keep only the last)
sub top_keys {
    my ($text) = @_;
    my (@keys, $depth, $in, $esc, $start, $expect_key);

    $depth = 0;
    $in = 0;
    $esc = 0;
    $expect_key = 0;

    for my $i (0 .. length($text) - 1) {
        my $c = substr($text, $i, 1);
        if ($in) {
            if ($esc) { $esc = 0; next }
            if ($c eq '\\') { $esc = 1; next }
            if ($c eq '"') {
                $in = 0;
                if (defined $start) {
                    my $k = eval { JSON::PP->new->utf8->decode(
                                   '[' . substr($text, $start, $i - $start + 1)
                                   . ']')->[0] };
                    push @keys, $k // '<bad>';
                    undef $start;
                }
            }
            next;
        }
        if ($c eq '"') {
            $in = 1;
            $start = $i if $depth == 1 && $expect_key;
            $expect_key = 0;
        } elsif ($c eq '{' || $c eq '[') {
            $depth++;
            $expect_key = ($c eq '{' && $depth == 1);
        } elsif ($c eq '}' || $c eq ']') {
            $depth--;
        } elsif ($c eq ',' && $depth == 1) {
            $expect_key = 1;
        }
    }

    return @keys;
}

# ---- 1. wrong types, for every field the router reads ----------------------

# [ name, body, status, code, param ]; 200 means routed and forwarded
my @types = (
    [ 'model number', qq({"model":42,$MSGS}), 400, 'invalid_type', 'model' ],
    [ 'model float', qq({"model":4.2,$MSGS}), 400, 'invalid_type', 'model' ],
    [ 'model true', qq({"model":true,$MSGS}), 400, 'invalid_type', 'model' ],
    [ 'model false', qq({"model":false,$MSGS}), 400, 'invalid_type',
      'model' ],
    [ 'model null', qq({"model":null,$MSGS}), 400, 'invalid_type', 'model' ],
    [ 'model array', qq({"model":["gpt-4o"],$MSGS}), 400, 'invalid_type',
      'model' ],
    [ 'model object', qq({"model":{"id":"gpt-4o"},$MSGS}), 400,
      'invalid_type', 'model' ],
    [ 'model empty', qq({"model":"",$MSGS}), 400,
      'missing_required_parameter', 'model' ],
    [ 'model blank', qq({"model":" ",$MSGS}), 404, 'model_not_found',
      'model' ],
    [ 'messages null', '{"model":"gpt-4o","messages":null}', 400,
      'invalid_type', 'messages' ],
    [ 'messages object', '{"model":"gpt-4o","messages":{}}', 400,
      'invalid_type', 'messages' ],
    [ 'messages string', '{"model":"gpt-4o","messages":"hi"}', 400,
      'invalid_type', 'messages' ],
    [ 'messages number', '{"model":"gpt-4o","messages":1}', 400,
      'invalid_type', 'messages' ],
    [ 'messages true', '{"model":"gpt-4o","messages":true}', 400,
      'invalid_type', 'messages' ],
    [ 'messages empty', '{"model":"gpt-4o","messages":[]}', 400, undef,
      'messages' ],
    [ 'messages [1]', '{"model":"gpt-4o","messages":[1]}', 400,
      'invalid_type', 'messages' ],
    [ 'messages [null]', '{"model":"gpt-4o","messages":[null]}', 400,
      'invalid_type', 'messages' ],
    [ 'messages [[]]', '{"model":"gpt-4o","messages":[[]]}', 400,
      'invalid_type', 'messages' ],
    [ 'messages ["hi"]', '{"model":"gpt-4o","messages":["hi"]}', 400,
      'invalid_type', 'messages' ],
    [ 'message without role', '{"model":"gpt-4o","messages":[{}]}', 400,
      'missing_required_parameter', 'messages' ],
    [ 'role number', '{"model":"gpt-4o","messages":[{"role":1}]}', 400,
      'invalid_type', 'messages' ],
    [ 'role null', '{"model":"gpt-4o","messages":[{"role":null,'
      . '"content":"x"}]}', 400, 'invalid_type', 'messages' ],
    [ 'role array', '{"model":"gpt-4o","messages":[{"role":["user"],'
      . '"content":"x"}]}', 400, 'invalid_type', 'messages' ],
    [ 'second message a number', '{"model":"gpt-4o","messages":'
      . '[{"role":"user","content":"x"},5]}', 400, 'invalid_type',
      'messages' ],
    [ 'content number', '{"model":"gpt-4o","messages":[{"role":"user",'
      . '"content":5}]}', 400, 'invalid_type', 'messages' ],
    [ 'content object', '{"model":"gpt-4o","messages":[{"role":"user",'
      . '"content":{"a":1}}]}', 400, 'invalid_type', 'messages' ],
    [ 'content null (assistant tool calls)', '{"model":"gpt-4o","messages":'
      . '[{"role":"user","content":null}]}', 200 ],
    [ 'stream string', qq({"model":"gpt-4o",$MSGS,"stream":"true"}), 400,
      'invalid_type', 'stream' ],
    [ 'stream 1', qq({"model":"gpt-4o",$MSGS,"stream":1}), 400,
      'invalid_type', 'stream' ],
    [ 'stream 0', qq({"model":"gpt-4o",$MSGS,"stream":0}), 400,
      'invalid_type', 'stream' ],
    [ 'stream array', qq({"model":"gpt-4o",$MSGS,"stream":[]}), 400,
      'invalid_type', 'stream' ],
    [ 'stream object', qq({"model":"gpt-4o",$MSGS,"stream":{}}), 400,
      'invalid_type', 'stream' ],
    [ 'stream null (= unset)', qq({"model":"gpt-4o",$MSGS,"stream":null}),
      200 ],
    [ 'max_tokens -1', qq({"model":"gpt-4o",$MSGS,"max_tokens":-1}), 400,
      'invalid_type', 'max_tokens' ],
    [ 'max_tokens 1.5', qq({"model":"gpt-4o",$MSGS,"max_tokens":1.5}), 400,
      'invalid_type', 'max_tokens' ],
    [ 'max_tokens "10"', qq({"model":"gpt-4o",$MSGS,"max_tokens":"10"}),
      400, 'invalid_type', 'max_tokens' ],
    [ 'max_tokens true', qq({"model":"gpt-4o",$MSGS,"max_tokens":true}),
      400, 'invalid_type', 'max_tokens' ],
    [ 'max_tokens array', qq({"model":"gpt-4o",$MSGS,"max_tokens":[1]}),
      400, 'invalid_type', 'max_tokens' ],
    [ 'max_tokens 1e999999', qq({"model":"gpt-4o",$MSGS,)
      . qq("max_tokens":1e999999}), 400, 'invalid_type', 'max_tokens' ],
    [ 'max_tokens 2^64', qq({"model":"gpt-4o",$MSGS,)
      . qq("max_tokens":18446744073709551616}), 400, 'invalid_type',
      'max_tokens' ],
    [ 'max_tokens 30 digits', qq({"model":"gpt-4o",$MSGS,)
      . qq("max_tokens":999999999999999999999999999999}), 400,
      'invalid_type', 'max_tokens' ],
    [ 'max_tokens 0', qq({"model":"gpt-4o",$MSGS,"max_tokens":0}), 200 ],
    [ 'max_tokens -0', qq({"model":"gpt-4o",$MSGS,"max_tokens":-0}), 200 ],
    [ 'max_tokens 2^31', qq({"model":"gpt-4o",$MSGS,)
      . qq("max_tokens":2147483648}), 200 ],
    [ 'max_tokens null', qq({"model":"gpt-4o",$MSGS,"max_tokens":null}),
      200 ],
    [ 'stream_options string', qq({"model":"gpt-4o",$MSGS,)
      . qq("stream_options":"x"}), 400, 'invalid_type', 'stream_options' ],
    [ 'stream_options array', qq({"model":"gpt-4o",$MSGS,)
      . qq("stream_options":[]}), 400, 'invalid_type', 'stream_options' ],
    [ 'stream_options number', qq({"model":"gpt-4o",$MSGS,)
      . qq("stream_options":1}), 400, 'invalid_type', 'stream_options' ],
    [ 'stream_options twice', qq({"model":"gpt-4o",$MSGS,)
      . qq("stream_options":{},"stream_options":{}}), 400, 'invalid_type',
      'stream_options' ],
    [ 'include_usage string', qq({"model":"gpt-4o",$MSGS,)
      . qq("stream_options":{"include_usage":"yes"}}), 400, 'invalid_type',
      'stream_options.include_usage' ],
    [ 'stream_options null', qq({"model":"gpt-4o",$MSGS,)
      . qq("stream_options":null}), 200 ],
    # tools and response_format are the provider's business: passed on
    [ 'tools string', qq({"model":"gpt-4o",$MSGS,"tools":"x"}), 200 ],
    [ 'tools object', qq({"model":"gpt-4o",$MSGS,"tools":{}}), 200 ],
    [ 'tools of scalars', qq({"model":"gpt-4o",$MSGS,"tools":[1,"a",null]}),
      200 ],
    [ 'response_format string', qq({"model":"gpt-4o",$MSGS,)
      . qq("response_format":"x"}), 200 ],
    [ 'messages duplicated, last bad', qq({"model":"gpt-4o",$MSGS,)
      . qq("messages":"x"}), 400, 'invalid_type', 'messages' ],
);

sub run_cases {
    my ($group, @cases) = @_;

    for my $c (@cases) {
        my ($name, $body, $status, $code, $param) = @$c;
        $name = "$group: $name";

        $m->clear;
        my $r = $t->chat($body);

        if ($status == 200) {
            is($r->{status}, 200, "$name: 200")
                or diag(substr($r->{content} // '', 0, 300));
            is(ref $r->{json} eq 'HASH' && $r->{json}{object}, 
               'chat.completion', "$name: a chat.completion answer");
            is(scalar($m->requests), 1, "$name: forwarded once");
            next;
        }

        check_error($name, $r, $status, $code, $param);
        check_not_reached($name);
    }
}

run_cases('types', @types);
group_done('types');

# ---- 2. not JSON ------------------------------------------------------------

my @syntax = (
    [ 'empty body', '' ],
    [ 'whitespace only', " \r\n\t  \n" ],
    [ 'NaN', qq({"model":"gpt-4o",$MSGS,"x":NaN}) ],
    [ 'Infinity', qq({"model":"gpt-4o",$MSGS,"x":Infinity}) ],
    [ '-Infinity', qq({"model":"gpt-4o",$MSGS,"x":-Infinity}) ],
    [ 'hex number', qq({"model":"gpt-4o",$MSGS,"x":0x10}) ],
    [ 'leading zero', qq({"model":"gpt-4o",$MSGS,"x":01}) ],
    [ 'plus sign', qq({"model":"gpt-4o",$MSGS,"x":+1}) ],
    [ 'leading dot', qq({"model":"gpt-4o",$MSGS,"x":.5}) ],
    [ 'trailing dot', qq({"model":"gpt-4o",$MSGS,"x":1.}) ],
    [ 'block comment', qq({"model":"gpt-4o",$MSGS /* c */}) ],
    [ 'line comment', qq({"model":"gpt-4o",$MSGS // c\n}) ],
    [ 'leading comment', qq(/* c */{"model":"gpt-4o",$MSGS}) ],
    [ 'trailing comma in object', qq({"model":"gpt-4o",$MSGS,}) ],
    [ 'trailing comma in array', qq({"model":"gpt-4o",$MSGS,"x":[1,]}) ],
    [ 'single-quoted strings', qq({'model':'gpt-4o',$MSGS}) ],
    [ 'unquoted key', qq({model:"gpt-4o",$MSGS}) ],
    [ 'undefined', qq({"model":"gpt-4o",$MSGS,"x":undefined}) ],
    [ 'True', qq({"model":"gpt-4o",$MSGS,"x":True}) ],
    [ 'bad escape \q', qq({"model":"gpt-4o",$MSGS,"x":"\\q"}) ],
    [ 'short \u escape', qq({"model":"gpt-4o",$MSGS,"x":"\\u00"}) ],
    [ 'non-hex \u escape', qq({"model":"gpt-4o",$MSGS,"x":"\\uZZZZ"}) ],
    [ 'raw newline in a string', qq({"model":"gpt-4o",$MSGS,"x":"a\nb"}) ],
    [ 'raw NUL byte in a string', qq({"model":"gpt-4o",$MSGS,"x":"a\0b"}) ],
    [ 'NUL byte after the object', qq({"model":"gpt-4o",$MSGS}\0) ],
    [ 'unterminated string', qq({"model":"gpt-4o",$MSGS,"x":"abc) ],
    [ 'lone {', '{' ],
    [ 'lone }', '}' ],
    [ 'colon without value', qq({"model":"gpt-4o",$MSGS,"x":}) ],
    [ 'missing colon', qq({"model" "gpt-4o",$MSGS}) ],
    [ 'two top-level objects', qq($OKBODY$OKBODY) ],
    [ 'UTF-16LE body', join("\0", split //, $OKBODY) . "\0" ],
    [ 'BOM then object', "\xef\xbb\xbf$OKBODY" ],
    [ 'form-encoded body', 'model=gpt-4o-mini&messages=hi' ],
);

run_cases('syntax', map { [ $_->[0], $_->[1], 400, 'invalid_json' ] }
                        @syntax);

run_cases('shape', [ 'body {}', '{}', 400, 'missing_required_parameter',
                     'model' ],
                   [ 'top-level array', "[$OKBODY]", 400, 'invalid_type' ],
                   [ 'top-level string', '"gpt-4o"', 400, 'invalid_type' ],
                   [ 'top-level null', 'null', 400, 'invalid_type' ]);
group_done('syntax');

# ---- 3. nesting: just under and over the 64-level limit ---------------------

# depth counts the top-level object: {"x":[[...]]} with d-1 arrays is d deep
sub nested_array {
    my ($d) = @_;
    return qq({"model":"gpt-4o-mini",$MSGS,"x":) . ('[' x ($d - 1))
           . (']' x ($d - 1)) . '}';
}

sub nested_object {
    my ($d) = @_;
    return qq({"model":"gpt-4o-mini",$MSGS,"x":) . ('{"a":' x ($d - 2))
           . '{}' . ('}' x ($d - 2)) . '}';
}

run_cases('nesting',
    [ 'arrays 63 deep', nested_array(63), 200 ],
    [ 'arrays 64 deep', nested_array(64), 200 ],
    [ 'objects 64 deep', nested_object(64), 200 ],
    [ 'arrays 65 deep', nested_array(65), 400, 'nesting_too_deep' ],
    [ 'objects 65 deep', nested_object(65), 400, 'nesting_too_deep' ],
    [ 'arrays 100000 deep', nested_array(100000), 400, 'nesting_too_deep' ],
    [ 'unclosed 100000 deep', qq({"model":"gpt-4o-mini",$MSGS,"x":)
      . ('[{"a":' x 50000), 400, 'nesting_too_deep' ],
    [ 'deep inside messages', '{"model":"gpt-4o-mini","messages":[{"role":'
      . '"user","content":"x","extra":' . ('[' x 70) . (']' x 70) . '}]}',
      400, 'nesting_too_deep' ],
);

# the 64-deep body is forwarded unchanged
$m->clear;
$t->chat(nested_array(64));
is($m->last->{body}, nested_array(64), 'nesting 64: forwarded unchanged');
group_done('nesting');

# ---- 4. sizes ---------------------------------------------------------------

{
    # a 1 MB single string, 10,000 messages, 20,000 keys, a 100 KB key
    my $mb = join('', map { chr(97 + $_ % 26) } 0 .. 1024 * 1024 - 1);
    my $body = qq({"model":"gpt-4o-mini","messages":[{"role":"user",)
             . qq("content":"$mb"}]});
    $m->clear;
    my $r = $t->chat($body);
    is($r->{status}, 200, '1 MB string: 200');
    my $fw = LLRTest::json_decode($m->last->{body} // '') || {};
    ok(($fw->{messages}[0]{content} // '') eq $mb,
       '1 MB string: forwarded byte for byte');

    my @msgs = map { { role => $_ % 2 ? 'user' : 'assistant',
                       content => "m$_" } } 1 .. 10000;
    $m->clear;
    $r = $t->chat({ model => 'gpt-4o', messages => \@msgs });
    is($r->{status}, 200, '10,000 messages: 200');
    $fw = LLRTest::json_decode($m->last->{body} // '') || {};
    is(scalar @{ $fw->{messages} || [] }, 10000,
       '10,000 messages: all forwarded');
    is($fw->{messages}[9999]{content}, 'm10000', '10,000 messages: in order');

    my $keys = join(',', map { qq("k$_":$_) } 1 .. 20000);
    $m->clear;
    $r = $t->chat(qq({"model":"gpt-4o",$MSGS,"metadata":{$keys}}));
    is($r->{status}, 200, '20,000 keys: 200');
    $fw = LLRTest::json_decode($m->last->{body} // '') || {};
    is(scalar keys %{ $fw->{metadata} || {} }, 20000,
       '20,000 keys: all forwarded');

    my $top = join(',', map { qq("x$_":0) } 1 .. 20000);
    $m->clear;
    $r = $t->chat(qq({$top,"model":"gpt-4o",$MSGS}));
    is($r->{status}, 200, '20,000 top-level keys before model: 200');
    is((LLRTest::json_decode($m->last->{body} // '') || {})->{model},
       'gpt-4o', '20,000 top-level keys: routed model');

    my $bigkey = 'k' x 100000;
    $m->clear;
    $r = $t->chat(qq({"model":"gpt-4o",$MSGS,"$bigkey":1}));
    is($r->{status}, 200, '100 KB key: 200');

    my $many_strings = join(',', map { '"' . ('s' x 100) . '"' } 1 .. 15000);
    $m->clear;
    $r = $t->chat(qq({"model":"gpt-4o",$MSGS,"stop":[$many_strings]}));
    is($r->{status}, 200, '15,000 strings in one array (1.5 MB): 200');

    # a model name of 100 KB: 404 with a short, escaped fragment
    # (a raw client: the test location echoes $llm_route_requested_model
    # in a response header, a line longer than HTTP::Tiny accepts)
    $m->clear;
    my $long = qq({"model":") . ('m' x 100000) . qq(",$MSGS});
    $r = LLRTest::parse_response($t->raw(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        . "Connection: close\r\nContent-Length: " . length($long)
        . "\r\n\r\n$long"));
    check_error('100 KB model name', $r, 404, 'model_not_found', 'model');
    ok(length($r->{body} // '') < 4096,
       '100 KB model name: the error does not echo it ('
       . length($r->{body} // '') . ' bytes)');
    check_not_reached('100 KB model name');

    # just under the 2m limit, through a temp file
    my $pad = 'p' x (2 * 1024 * 1024 - 1000);
    $m->clear;
    $r = $t->chat(qq({"model":"gpt-4o",$MSGS,"pad":"$pad"}));
    is($r->{status}, 200, 'body 1 KB under client_max_body_size: 200');

    # over it: with Content-Length, and chunked in many small chunks
    $m->clear;
    $r = $t->chat(qq({"model":"gpt-4o",$MSGS,"pad":"$pad$pad"}));
    check_error('body over the limit (Content-Length)', $r, 413,
                'request_too_large');
    check_not_reached('413 Content-Length');

    my $head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
             . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    my $chunk = 'a' x 4000;
    my $p = LLRTest::parse_response($t->raw(
        $head . sprintf("%x\r\n%s\r\n", 14, '{"model":"x","')
        . join('', map { sprintf("%x\r\n%s\r\n", 4000, $chunk) } 1 .. 600)
        . "3\r\n\":1\r\n0\r\n\r\n"));
    check_error('body over the limit (chunked)', $p, 413,
                'request_too_large');
    check_not_reached('413 chunked');
}
group_done('sizes');

# ---- 5. duplicate and hidden "model" keys ----------------------------------

# [ name, body, expected routed model (sent upstream) ]
my @dups = (
    [ 'model twice', qq({"model":"gpt-4o-mini",$MSGS,"model":"gpt-4o"}),
      'gpt-4o' ],
    [ 'model five times', '{"model":"a","model":"b","model":"gpt-4o",'
      . qq($MSGS,"model":"c","model":"gpt-4o-mini"}), 'gpt-4o-mini' ],
    [ 'unknown first, known last', qq({"model":"nope",$MSGS,)
      . qq("model":"gpt-4o"}), 'gpt-4o' ],
    [ 'alias last', qq({"model":"gpt-4o",$MSGS,"model":"fast"}),
      'gpt-4o-mini' ],
    [ 'escaped key "mod\u0065l" last', qq({"model":"gpt-4o-mini",$MSGS,)
      . qq("mod\\u0065l":"gpt-4o"}), 'gpt-4o' ],
    [ 'escaped key "mod\u0065l" first', qq({"mod\\u0065l":"gpt-4o",)
      . qq("model":"gpt-4o-mini",$MSGS}), 'gpt-4o-mini' ],
    [ 'escaped key only', qq({"\\u006d\\u006f\\u0064\\u0065\\u006c":)
      . qq("gpt-4o",$MSGS}), 'gpt-4o' ],
    [ 'escaped value', qq({"model":"gpt\\u002d4o",$MSGS}), 'gpt-4o' ],
);

for my $c (@dups) {
    my ($name, $body, $expect) = @$c;
    $name = "duplicates: $name";

    $m->clear;
    my $r = $t->chat($body);
    is($r->{status}, 200, "$name: 200");
    my $fw = $m->last->{body} // '';
    my @models = grep { $_ eq 'model' } top_keys($fw);
    is(scalar @models, 1, "$name: exactly one top-level model forwarded");
    is((LLRTest::json_decode($fw) || {})->{model}, $expect,
       "$name: the routed one ($expect)");
    is($r->{headers}{'x-test-model'}, $expect,
       "$name: \$llm_route_model agrees");
}

run_cases('duplicates',
    [ 'unknown last', qq({"model":"gpt-4o-mini",$MSGS,"model":"nope"}), 404,
      'model_not_found', 'model' ],
    [ 'number last', qq({"model":"gpt-4o",$MSGS,"model":42}), 400,
      'invalid_type', 'model' ],
    [ 'number first', qq({"model":42,$MSGS,"model":"gpt-4o"}), 400,
      'invalid_type', 'model' ],
    [ 'only nested models', '{"messages":[{"role":"user","content":"x",'
      . '"model":"gpt-4o"}],"metadata":{"model":"gpt-4o"}}', 400,
      'missing_required_parameter', 'model' ],
);

# a second "model" hidden in nested objects: untouched, not routed
{
    my $nested = '{"model":"fast","messages":[{"role":"user","content":"x",'
               . '"model":"gpt-4o"}],"metadata":{"model":"gpt-4o","x":'
               . '{"model":"nope"}},"tools":[{"type":"function","function":'
               . '{"name":"model","parameters":{"model":"gpt-4o"}}}],'
               . '"extra":["model","gpt-4o"]}';
    $m->clear;
    my $r = $t->chat($nested);
    is($r->{status}, 200, 'nested model keys: 200');
    is($r->{headers}{'x-test-model'}, 'gpt-4o-mini',
       'nested model keys: routed by the top-level model only');
    my $want = $nested;
    $want =~ s/^\{"model":"fast"/{"model":"gpt-4o-mini"/;
    is($m->last->{body}, $want, 'nested model keys: forwarded untouched');
}
group_done('duplicates');

# ---- 6. unicode -----------------------------------------------------------

sub content_body {
    my ($c) = @_;
    return qq({"model":"gpt-4o-mini","messages":[{"role":"user",)
           . qq("content":"$c"}]});
}

run_cases('unicode',
    [ 'byte FF', content_body("a\xffb"), 400, 'invalid_json' ],
    [ 'truncated 2-byte sequence', content_body("a\xc3"), 400,
      'invalid_json' ],
    [ 'lone continuation byte', content_body("a\x80b"), 400,
      'invalid_json' ],
    [ '5-byte form', content_body("\xf8\x88\x80\x80\x80"), 400,
      'invalid_json' ],
    [ 'invalid UTF-8 in the model', qq({"model":"gpt-4o\xff",$MSGS}), 400,
      'invalid_json' ],
    [ 'invalid UTF-8 in a key', qq({"model":"gpt-4o",$MSGS,"k\xfe":1}), 400,
      'invalid_json' ],
    [ 'model with \u0000', qq({"model":"gpt-4o\\u0000",$MSGS}), 404,
      'model_not_found', 'model' ],
    [ 'model with a raw 4-byte char', qq({"model":"gpt-4o\xf0\x9f\x98\x80",)
      . $MSGS . '}', 404, 'model_not_found', 'model' ],
    [ 'model with a look-alike (Cyrillic o)', qq({"model":"gpt-4\xd0\xbe",)
      . $MSGS . '}', 404, 'model_not_found', 'model' ],
    [ 'raw U+FFFE and U+10FFFF', content_body("\xef\xbf\xbe\xf4\x8f\xbf\xbf"),
      200 ],
    [ 'raw emoji', content_body("\xf0\x9f\x98\x80"), 200 ],
    [ 'U+2028 raw', content_body("\xe2\x80\xa8"), 200 ],
);

# UTF-8 that is well-formed in shape but invalid (overlong forms, encoded
# surrogates, code points above U+10FFFF): yajl's lexer checks only the
# shape of a sequence, the scanner's own strict check refuses them
run_cases('unicode',
    [ 'overlong "/" (C0 AF)', content_body("\xc0\xaf"), 400,
      'invalid_json' ],
    [ 'overlong 3-byte (E0 80 AF)', content_body("\xe0\x80\xaf"), 400,
      'invalid_json' ],
    [ 'overlong NUL (C0 80)', content_body("\xc0\x80"), 400,
      'invalid_json' ],
    [ 'UTF-8 encoded surrogate (ED A0 80)', content_body("\xed\xa0\x80"),
      400, 'invalid_json' ],
    [ 'above U+10FFFF (F4 90 80 80)', content_body("\xf4\x90\x80\x80"),
      400, 'invalid_json' ],
);

# the meaning of escapes survives the rewrite
for my $c ([ '\u0000', 'a\u0000b', "a\0b" ],
           [ 'surrogate pair', '\ud83d\ude00', "\x{1f600}" ],
           [ q(control escapes), q(\u0001\b\f\t\r\n\u001f),
             "\x01\b\f\t\r\n\x1f" ],
           [ 'escaped quote and backslash', '\"\\\\\/', "\"\\/" ])
{
    my ($name, $esc, $want) = @$c;
    $m->clear;
    my $r = $t->chat(content_body($esc));
    is($r->{status}, 200, "escapes: $name: 200");
    my $fw = LLRTest::json_decode($m->last->{body} // '');
    is(ref $fw eq 'HASH' && $fw->{messages}[0]{content}, $want,
       "escapes: $name: same string upstream");
}
like($m->last->{body} // '', qr/^[\x20-\x7e]*$/,
     'escapes: control characters stay escaped upstream');

# Lone surrogates are valid JSON grammar but not valid Unicode.  yajl
# would decode them into "?", invalid UTF-8 or a wrong code point; the
# scanner refuses them (400 invalid_json) and the provider gets nothing
run_cases('unicode',
    map { [ "lone surrogate, $_->[0]", content_body("x$_->[1]"), 400,
            'invalid_json' ] }
        ([ 'lone high \ud800', '\ud800' ],
         [ 'lone low \udc00', '\udc00' ],
         [ 'high then ASCII \ud800\u0041', '\ud800\u0041' ],
         [ 'reversed pair \udc00\ud800', '\udc00\ud800' ],
         [ 'high then high \ud800\ud800', '\ud800\ud800' ]));

# an escaped backslash before "ud800" is text, not an escape
{
    $m->clear;
    my $r = $t->chat(content_body('x\\\\ud800'));
    is($r->{status}, 200, 'escaped backslash and ud800: 200');
    my $fw = LLRTest::json_decode($m->last->{body} // '');
    is(ref $fw eq 'HASH' && $fw->{messages}[0]{content}, 'x\\ud800',
       'escaped backslash and ud800: same string upstream');
}
group_done('unicode');

# ---- 7. numbers are copied digit for digit --------------------------------

{
    my @nums = ('1e999999', '-1e999999', '-0', '-0.0', '1.0e-400',
                '123456789012345678901234567890', '-9223372036854775809',
                '18446744073709551616', '0.1e+00001', '1E-7',
                '0.00000000000000000000000000000000000000000000001');
    my $extra = join(',', map { qq("n$_":$nums[$_]) } 0 .. $#nums);
    $m->clear;
    my $r = $t->chat(qq({"model":"gpt-4o-mini",$MSGS,$extra,)
                     . qq("temperature":1e-400,"seed":99999999999999999999}));
    is($r->{status}, 200, 'odd numbers: 200');
    my $fw = $m->last->{body} // '';
    for my $i (0 .. $#nums) {
        ok(index($fw, qq("n$i":$nums[$i])) >= 0,
           "number $nums[$i] forwarded verbatim");
    }
    ok(index($fw, '"temperature":1e-400,"seed":99999999999999999999') >= 0,
       'temperature 1e-400 and a 20-digit seed forwarded verbatim');
}
group_done('numbers');

# ---- 8. model names that look like paths, hosts, headers -------------------

my @names = ('gpt-4o/../gpt-4o-mini', '../../admin', '/v1/chat/completions',
             'gpt-4o-mini/', 'gpt-4o-mini@evil.example',
             'http://evil.example/v1', '//evil.example', 'gpt-4o-mini#x',
             'gpt-4o-mini?x=1', 'gpt-4o%2Fmini', 'gpt-4o mini',
             'GPT-4O-MINI', 'gpt-4o-mini ', ' gpt-4o-mini', "gpt-4o-mini\\t",
             'gpt-4o\\r\\nX-Evil: 1', 'gpt-4o\\u000d\\u000aX-Evil: 1',
             'gpt-4o\\nHost: evil.example', 'gpt-4o-mini;rm -rf /',
             '${jndi:ldap://evil}', '$llm_route_url', '%s%s%s%n',
             '<script>alert(1)</script>', 'mockp', 'inauto/../gpt-4o');

for my $n (@names) {
    my $name = "model name '$n'";
    $m->clear;
    my $r = $t->chat(qq({"model":"$n",$MSGS}));
    check_error($name, $r, 404, 'model_not_found', 'model');
    unlike($r->{content} // '', qr/\r|\n./,
           "$name: no raw CR or LF in the error body");
    # $llm_route_requested_model turns control characters into '?'
    ok(!exists $r->{headers}{'x-evil'} && !exists $r->{headers}{host},
       "$name: no header injected");
    unlike($r->{headers}{'x-test-requested'} // '', qr/[\x00-\x1f\x7f]/,
           "$name: no control character in \$llm_route_requested_model");
    check_not_reached($name);
}

# the same with raw control characters inside the JSON string: not JSON
run_cases('model names',
    [ 'raw CR LF in the model', qq({"model":"gpt-4o\r\nX-Evil: 1",$MSGS}),
      400, 'invalid_json' ]);

# the escaped message stays escaped JSON, and shows the fragment
{
    my $r = $t->chat(qq({"model":"<b>\\"x\\"</b>\\\\\\t",$MSGS}));
    is($r->{status}, 404, 'quoted model: 404');
    ok(openai_shaped($r->{json}), 'quoted model: the error is valid JSON');
    like($r->{json}{error}{message} // '', qr{<b>"x"</b>\\\t},
         'quoted model: the message shows the decoded fragment');

    # a CR LF in the name ends the response header early when the
    # variable is echoed by add_header
    $r = $t->chat(qq({"model":"x\\r\\n\\r\\n<html>",$MSGS}));
    ok(openai_shaped($r->{json}), 'CR LF CR LF model: the error is JSON');
    is($r->{headers}{'x-test-requested'}, 'x????<html>',
       'CR LF CR LF model: the variable shows ? for each control character');
}
group_done('model names');

# ---- 9. framing -----------------------------------------------------------

my $L = length $OKBODY;
my $H = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
      . "Connection: close\r\nContent-Type: application/json\r\n";

sub chunks {
    my ($body, $size) = @_;
    my $out = '';
    for (my $i = 0; $i < length $body; $i += $size) {
        my $c = substr($body, $i, $size);
        $out .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    return $out;
}

sub raw_case {
    my ($name, $bytes, $status, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    $m->clear;
    my $raw = $t->raw($bytes, %o);
    my $final = $raw;
    $final =~ s{^HTTP/1\.1 100 [^\r]*\r\n\r\n}{} if $o{many};
    my $p = LLRTest::parse_response($final);
    my @all = $raw =~ m{HTTP/1\.1 (\d{3}) }g;

    if ($o{nginx}) {
        # refused by nginx while reading the header: not a routed location
        # yet, nginx's own page
        is($p->{status}, $status, "$name: $status (nginx)");
    } elsif ($status == 200) {
        is($p->{status}, 200, "$name: 200");
        is(ref $p->{json} eq 'HASH' && $p->{json}{object}, 'chat.completion',
           "$name: a chat.completion answer");
    } else {
        check_error($name, $p, $status, $o{code});
    }

    is(scalar @all, 1, "$name: exactly one response") unless $o{many};
    is(scalar($m->requests), $status == 200 ? 1 : 0,
       "$name: provider reached " . ($status == 200 ? 'once' : 'never'));

    return ($p, $raw);
}

raw_case('chunked in 1-byte chunks', $H . "Transfer-Encoding: chunked\r\n\r\n"
         . chunks($OKBODY, 1) . "0\r\n\r\n", 200);
raw_case('chunk extensions', $H . "Transfer-Encoding: chunked\r\n\r\n"
         . sprintf("%x;foo=bar;baz=\"q\"\r\n", $L) . "$OKBODY\r\n"
         . "0;end=1\r\n\r\n", 200);
raw_case('chunked with trailers', $H . "Transfer-Encoding: chunked\r\n\r\n"
         . chunks($OKBODY, 10) . "0\r\nX-Trailer: 1\r\n\r\n", 200);
raw_case('bad chunk size', $H . "Transfer-Encoding: chunked\r\n\r\n"
         . "zz\r\n$OKBODY\r\n0\r\n\r\n", 400, code => 'bad_request');
raw_case('overflowing chunk size', $H . "Transfer-Encoding: chunked\r\n\r\n"
         . "ffffffffffffffffffff\r\n$OKBODY\r\n0\r\n\r\n", 400,
         code => 'bad_request');
raw_case('chunk shorter than its size', $H
         . "Transfer-Encoding: chunked\r\n\r\n5\r\n$OKBODY\r\n0\r\n\r\n", 400,
         code => 'bad_request');
raw_case('negative chunk size', $H . "Transfer-Encoding: chunked\r\n\r\n"
         . "-5\r\nhello\r\n0\r\n\r\n", 400, code => 'bad_request');
raw_case('Content-Length smaller than the body', $H
         . "Content-Length: 20\r\n\r\n$OKBODY", 400, code => 'invalid_json');
raw_case('no Content-Length, no chunked', $H . "\r\n$OKBODY", 400,
         code => 'invalid_json');
raw_case('Transfer-Encoding and Content-Length', $H
         . "Transfer-Encoding: chunked\r\nContent-Length: $L\r\n\r\n"
         . chunks($OKBODY, 100) . "0\r\n\r\n", 400, nginx => 1);
raw_case('Transfer-Encoding gzip, chunked', $H
         . "Transfer-Encoding: gzip, chunked\r\n\r\n" . chunks($OKBODY, 100)
         . "0\r\n\r\n", 501, nginx => 1);
raw_case('Content-Length twice', $H . "Content-Length: $L\r\n"
         . "Content-Length: $L\r\n\r\n$OKBODY", 400, nginx => 1);
raw_case('Content-Length negative', $H . "Content-Length: -1\r\n\r\n"
         . $OKBODY, 400, nginx => 1);
raw_case('Content-Length not a number', $H . "Content-Length: 12abc\r\n\r\n"
         . $OKBODY, 400, nginx => 1);
raw_case('Content-Length with 30 digits', $H
         . "Content-Length: 999999999999999999999999999999\r\n\r\n$OKBODY",
         400, nginx => 1);
raw_case('Expect: 100-continue', $H . "Expect: 100-continue\r\n"
         . "Content-Length: $L\r\n\r\n$OKBODY", 200, many => 1);

# a body cut mid-way (Content-Length larger than what is sent), and a
# chunked body without its last chunk: after client_body_timeout (2s)
# nginx gives up; it closes the connection without an answer (nginx's
# ngx_http_finalize_request terminates a 408, it never sends one) and logs
# 408 in the access log
for my $c ([ 'body cut short', $H . "Content-Length: " . ($L + 50)
                                  . "\r\n\r\n$OKBODY" ],
           [ 'chunked without the last chunk', $H
             . "Transfer-Encoding: chunked\r\n\r\n" . chunks($OKBODY, 10) ])
{
    my ($name, $bytes) = @$c;
    $m->clear;
    my $t0 = time;
    my $raw = $t->raw($bytes, timeout => 8);
    my $dt = time - $t0;
    ok($dt >= 1.5 && $dt < 6,
       sprintf("%s: the server gives up after the body timeout (%.1fs)",
               $name, $dt));
    my $p = LLRTest::parse_response($raw);
    ok($raw eq '' || $p->{status} == 408,
       "$name: closed without an answer, or a 408")
        or diag(substr($raw, 0, 200));
    if ($raw ne '') {
        check_error($name, $p, 408, 'request_timeout');
    }
    check_not_reached($name);
}
sleep 0.2;
my @l408 = grep { m{"POST /v1/chat/completions HTTP/1\.1" 408 } }
           split /\n/, $t->error_log($t->dir . '/access.log');
is(scalar @l408, 2, 'both timeouts are logged as 408');

# slow clients: header and body byte by byte
{
    my $req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
            . "Connection: close\r\nContent-Length: $L\r\n\r\n";
    raw_case('body byte by byte', [ $req, split(//, $OKBODY) ], 200,
             pause => 0.01, timeout => 20);
    raw_case('header and body in 7-byte pieces',
             [ unpack('(a7)*', $req . $OKBODY) ], 200, pause => 0.02,
             timeout => 20);
    raw_case('chunked, one byte per chunk, slowly',
             [ $H . "Transfer-Encoding: chunked\r\n\r\n",
               unpack('(a4)*', chunks($OKBODY, 1) . "0\r\n\r\n") ],
             200, pause => 0.005, timeout => 20);
}

# pipelined requests: answered in order, each routed on its own
{
    my $req = sub {
        my ($method, $path, $body, $last) = @_;
        return "$method $path HTTP/1.1\r\nHost: x\r\n"
               . ($last ? "Connection: close\r\n" : '')
               . (defined $body ? "Content-Length: " . length($body)
                                  . "\r\n" : '')
               . "\r\n" . ($body // '');
    };
    my $b1 = qq({"model":"gpt-4o",$MSGS});
    my $b2 = qq({"model":"fast",$MSGS});

    $m->clear;
    my $raw = $t->raw($req->('POST', '/v1/chat/completions', $b1)
                      . $req->('POST', '/v1/chat/completions', '{bad')
                      . $req->('POST', '/v1/chat/completions',
                               qq({"model":"nope",$MSGS}))
                      . $req->('GET', '/v1/models')
                      . $req->('POST', '/v1/chat/completions', $b2, 1));
    my @st = $raw =~ m{HTTP/1\.1 (\d{3}) }g;
    is(join(',', @st), '200,400,404,200,200',
       'pipelined 200/400/404/models/200: answered in order');
    is(join(',', map { $_->{json}{model} // '-' } $m->requests),
       'gpt-4o,gpt-4o-mini', 'pipelined: each routed on its own');

    # a request hidden in the body of a refused one is never executed
    my $hidden = $req->('POST', '/v1/chat/completions', $b1);
    for my $c ([ 'GET with a body', 'GET', '/v1/chat/completions', 405 ],
               [ 'unknown path with a body', 'POST', '/v1/nope', 404 ],
               [ 'OPTIONS with a body', 'OPTIONS', '/v1/chat/completions',
                 405 ])
    {
        my ($name, $method, $path, $status) = @$c;
        $m->clear;
        $raw = $t->raw("$method $path HTTP/1.1\r\nHost: x\r\n"
                       . "Content-Length: " . length($hidden) . "\r\n\r\n"
                       . $hidden, timeout => 3);
        @st = $raw =~ m{HTTP/1\.1 (\d{3}) }g;
        is(join(',', @st), $status,
           "$name: one answer, $status; the body is not a request");
        check_not_reached("$name (smuggling)");
    }
}
group_done('framing');

# ---- 10. methods and paths ------------------------------------------------

for my $method (qw(GET PUT DELETE OPTIONS PATCH HEAD FOO)) {
    my $name = "$method /v1/chat/completions";
    my $p = LLRTest::parse_response($t->raw(
        "$method /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        . "Connection: close\r\n\r\n"));
    is($p->{status}, 405, "$name: 405");
    like($p->{headers}{allow} // '', qr/^POST$/, "$name: Allow: POST");
    like($p->{headers}{'content-type'} // '', qr{^application/json},
         "$name: JSON");
    if ($method ne 'HEAD') {
        is(ref $p->{json} eq 'HASH' && $p->{json}{error}{code},
           'method_not_allowed', "$name: method_not_allowed");
    }
}
for my $path ('/v1/embeddings', '/v1/completions', '/v1/responses') {
    my $r = $t->request('DELETE', $path);
    check_error("DELETE $path", $r, 405, 'method_not_allowed');
}
{
    my $r = $t->chat($OKBODY, path => '/v1/models');
    check_error('POST /v1/models', $r, 405, 'method_not_allowed');
    like($r->{headers}{allow} // '', qr/GET/, 'POST /v1/models: Allow GET');
}

for my $path ('/v1/foo', '/v1/chat/completions/x', '/v1/chat/completionsX',
              '/v1/chat/completions;x', '/v1/chat', '/v1/',
              '/v1/chat/completions/', "/v1/chat/completions%20")
{
    $m->clear;
    my $r = $t->chat($OKBODY, path => $path);
    check_error("POST $path", $r, 404, 'unknown_url');
    check_not_reached("POST $path");
}

# paths nginx normalizes to the endpoint are routed to the configured one
for my $path ('/v1/../v1/chat/completions', '/v1/chat%2Fcompletions',
              '/v1//chat/completions', '/v1/x/../chat/completions',
              '/v1/./chat/completions')
{
    $m->clear;
    my $r = $t->chat($OKBODY, path => $path);
    is($r->{status}, 200, "POST $path: 200 (normalized by nginx)");
    is($m->last->{uri}, '/v1/chat/completions',
       "POST $path: the provider sees /v1/chat/completions");
}

# query strings with odd bytes: passed on as they are, never a header
for my $q ('a=%00&b=%0d%0aX-Evil:%201', "b=\xff\xfe", 'x=%2e%2e%2f%2e%2e',
           'a=1&a=2&model=gpt-4o', '%%%', 'q=' . ('z' x 3000))
{
    my $name = 'query ' . substr(join('', map { sprintf('%%%02X', ord) }
                                          split //, $q), 0, 40);
    $m->clear;
    my $p = LLRTest::parse_response($t->raw(
        "POST /v1/chat/completions?$q HTTP/1.1\r\nHost: x\r\n"
        . "Connection: close\r\nContent-Length: $L\r\n\r\n$OKBODY"));
    is($p->{status}, 200, "$name: 200");
    my $u = $m->last->{uri} // '';
    is($u, "/v1/chat/completions?$q", "$name: passed on verbatim");
    ok(!defined $m->last->{headers}{'x-evil'}, "$name: no header injected");
    is($m->last->{json}{model}, 'gpt-4o-mini',
       "$name: the body's model, not the query's");
}
{
    my $p = LLRTest::parse_response($t->raw(
        "POST /v1/chat/completions%00 HTTP/1.1\r\nHost: x\r\n"
        . "Connection: close\r\nContent-Length: $L\r\n\r\n$OKBODY"));
    is($p->{status}, 400, 'path with %00: 400 (nginx)');
}
group_done('methods and paths');

# ---- 11. hosts and credentials --------------------------------------------

for my $c ([ 'Host: evil.example', "POST /v1/chat/completions HTTP/1.1\r\n"
             . "Host: evil.example\r\n" ],
           [ 'absolute URI', "POST http://evil.example:9999/v1/chat/"
             . "completions HTTP/1.1\r\nHost: x\r\n" ],
           [ 'X-Forwarded-Host', "POST /v1/chat/completions HTTP/1.1\r\n"
             . "Host: x\r\nX-Forwarded-Host: evil.example\r\n"
             . "Forwarded: host=evil.example\r\n" ],
           [ q(HTTP/1.0 without Host),
             "POST /v1/chat/completions HTTP/1.0\r\n" ],
           [ 'Host with a port', "POST /v1/chat/completions HTTP/1.1\r\n"
             . "Host: mock.example:1\r\n" ])
{
    my ($name, $head) = @$c;
    $m->clear;
    my $p = LLRTest::parse_response($t->raw(
        $head . "Connection: close\r\nContent-Length: $L\r\n\r\n$OKBODY"));
    is($p->{status}, 200, "$name: 200");
    is($m->last->{headers}{host}, 'mock.example',
       "$name: the provider gets the configured host");
    is($m->last->{uri}, '/v1/chat/completions',
       "$name: the configured path");
}
{
    my $p = LLRTest::parse_response($t->raw(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nHost: y\r\n"
        . "Connection: close\r\nContent-Length: $L\r\n\r\n$OKBODY"));
    is($p->{status}, 400, 'two Host headers: 400 (nginx)');
}

# the client's Authorization is never forwarded
for my $c ([ 'Authorization', 'gpt-4o', "Bearer $LLRTest::SECRET" ],
           [ 'authorization, provider without a key', 'nokey-model', undef ])
{
    my ($name, $model, $want) = @$c;
    for my $h ('Authorization: Bearer sk-client-1',
               'authorization: Basic dXNlcjpwYXNz',
               "Authorization: Bearer sk-client\r\nProxy-Authorization: x")
    {
        $m->clear;
        my $body = qq({"model":"$model",$MSGS});
        my $p = LLRTest::parse_response($t->raw(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n$h\r\n"
            . "Connection: close\r\nContent-Length: " . length($body)
            . "\r\n\r\n$body"));
        is($p->{status}, 200, "$name ($h): 200");
        my @auth = map { $_->[1] } grep { lc $_->[0] eq 'authorization' }
                   @{ $m->last->{header_list} || [] };
        is_deeply(\@auth, defined $want ? [$want] : [],
                  "$name: the provider gets "
                  . (defined $want ? 'its key only' : 'no Authorization'));
    }
}
{
    my $p = LLRTest::parse_response($t->raw(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        . "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n"
        . "Connection: close\r\nContent-Length: $L\r\n\r\n$OKBODY"));
    ok($p->{status} == 400 || $p->{status} == 200,
       "two Authorization headers: $p->{status}");
    my @auth = map { $_->[1] } grep { lc $_->[0] eq 'authorization' }
               @{ $m->last->{header_list} || [] };
    ok(!grep({ !/\Q$LLRTest::SECRET\E/ } @auth),
       'two Authorization headers: neither is forwarded');
}
group_done('hosts and credentials');

# ---- 12. memory: no growth across requests --------------------------------

# a minimal keepalive client: one write per request (no Nagle stalls)
package KA {
    use IO::Socket::INET;
    use Socket qw(IPPROTO_TCP TCP_NODELAY);

    sub new {
        my ($class, $port) = @_;
        return bless { port => $port }, $class;
    }

    sub _connect {
        my ($self) = @_;
        $self->{s} = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                           PeerPort => $self->{port},
                                           Proto => 'tcp', Timeout => 5)
            or die "KA: connect: $!";
        setsockopt($self->{s}, IPPROTO_TCP, TCP_NODELAY, 1);
        binmode $self->{s};
        $self->{reconnects}++;
    }

    # status of the answer, 0 on a broken connection
    sub post {
        my ($self, $path, $body) = @_;
        $self->_connect unless $self->{s};
        my $s = $self->{s};
        my $req = "POST $path HTTP/1.1\r\nHost: x\r\n"
                . "Content-Type: application/json\r\n"
                . "Content-Length: " . length($body) . "\r\n\r\n$body";
        my $off = 0;
        while ($off < length $req) {
            my $n = syswrite($s, $req, length($req) - $off, $off);
            return $self->_broken unless $n;
            $off += $n;
        }
        my $buf = '';
        my $sel = IO::Select->new($s);
        my ($i, $status, $need, $chunked);
        while (1) {
            return $self->_broken unless $sel->can_read(20);
            my $n = sysread($s, $buf, 65536, length $buf);
            return $self->_broken unless $n;
            if (!defined $status) {
                $i = index($buf, "\r\n\r\n");
                next if $i < 0;
                my $head = substr($buf, 0, $i);
                ($status) = $head =~ m{^HTTP/1\.1 (\d{3})};
                $chunked = $head =~ /^transfer-encoding: *chunked/mi;
                ($need) = $head =~ /^content-length: *(\d+)/mi;
                $self->{close} = $head =~ /^connection: *close/mi;
                substr($buf, 0, $i + 4, '');
            }
            last if $chunked && $buf =~ /(^|\r\n)0\r\n\r\n\z/;
            last if !$chunked && length($buf) >= ($need // 0);
        }
        if ($self->{close}) {
            close $s;
            delete $self->{s};
        }
        return $status;
    }

    sub _broken {
        my ($self) = @_;
        close $self->{s} if $self->{s};
        delete $self->{s};
        return 0;
    }
}

sub rss_kb {
    my $sum = 0;
    for my $pid ($t->worker_pids) {
        open(my $fh, '<', "/proc/$pid/status") or next;
        while (<$fh>) {
            $sum += $1 if /^VmRSS:\s+(\d+)/;
        }
        close $fh;
    }
    return $sum;
}

{
    my $port = $t->port;
    my @clients = (KA->new($port), KA->new($port));
    my $words = join(' ', map { "word$_" } 1 .. 2200);
    my $filler = substr($words, 0, 20000);

    my @kinds = (
        sub { { model => 'inm-mini', messages => [
                  { role => 'user', content => "$_[0] $filler" } ] } },
        sub { { model => 'inauto', messages => [
                  { role => 'system', content => 'be brief' },
                  { role => 'user', content => "prove $_[0] $filler" } ] } },
        sub { { model => 'inm-big', stream => JSON::PP::true,
                stream_options => { include_usage => JSON::PP::true },
                messages => [ { role => 'user',
                                content => "$_[0] $filler" } ] } },
        sub { { model => 'inauto', stream => JSON::PP::true,
                messages => [ { role => 'user',
                                content => "write code $_[0] $filler" } ] } },
        sub { { model => 'no-such', messages => [
                  { role => 'user', content => "$_[0] $filler" } ] } },
        sub { { model => 'inm-mini', messages => "$_[0] $filler" } },
    );
    my @want = (200, 200, 200, 200, 404, 400);

    my $bad = 0;
    my $run = sub {
        my ($n, $from) = @_;
        for my $i ($from .. $from + $n - 1) {
            my $k = $i % @kinds;
            my $st = $clients[$i % 2]->post('/v1/chat/completions',
                LLRTest::json_encode($kinds[$k]->("r$i")));
            $bad++ if $st != $want[$k];
        }
    };

    $run->(300, 0);
    my $rss0 = rss_kb();
    my $t0 = time;
    $run->(2000, 300);
    my $dt = time - $t0;
    my $rss1 = rss_kb();
    $run->(1000, 2300);
    my $rss2 = rss_kb();

    is($bad, 0, '3,300 medium requests (20 KB): every status as expected');
    diag(sprintf('memory: workers RSS %d KB after warm-up, %d KB after '
                 . '2,000 more, %d KB after 1,000 more (%.1f req/s)',
                 $rss0, $rss1, $rss2, 2000 / $dt));
    SKIP: {
        skip 'RSS means nothing under AddressSanitizer (quarantine)', 2
            if $ENV{TEST_NGINX_SANITIZED};

        ok($rss1 - $rss0 < 10 * 1024,
           'RSS growth over 2,000 requests < 10 MB (' . ($rss1 - $rss0)
           . ' KB)');
        ok($rss2 - $rss1 < 2 * 1024,
           'RSS flat over the next 1,000 requests (' . ($rss2 - $rss1)
           . ' KB)');
    }

    # large bodies: memory does not grow with their number
    my $pad = 'q' x (1900 * 1024);
    my $big = sub {
        return $clients[0]->post('/v1/chat/completions',
            qq({"model":"inm-mini",$MSGS,"pad":"$pad"}));
    };
    $big->() for 1 .. 3;
    my $rb0 = rss_kb();
    my $okb = 0;
    for (1 .. 30) {
        $okb++ if $big->() == 200;
    }
    my $rb1 = rss_kb();
    is($okb, 30, '30 bodies of 1.9 MB: 200');
    diag("memory: RSS $rb0 KB before 30 x 1.9 MB bodies, $rb1 KB after");
    SKIP: {
        skip 'RSS means nothing under AddressSanitizer (quarantine)', 1
            if $ENV{TEST_NGINX_SANITIZED};

        ok($rb1 - $rb0 < 4 * 1024,
           '30 bodies of 1.9 MB: RSS growth < 4 MB (' . ($rb1 - $rb0)
           . ' KB)');
    }
}
group_done('memory');

# ---- the counters stayed consistent --------------------------------------

{
    my $r = $t->get('/llm/status');
    my $j = $r->{json} || {};
    my $sum = 0;
    $sum += $_->{requests} for values %{ $j->{models} || {} };
    is($j->{totals}{requests}, $sum,
       "status: totals.requests ($sum) equals the sum over models");
    ok(($j->{models}{'inm-mini'}{requests} // 0) >= 500,
       'status: the memory run was counted');
}

is(join(',', $t->worker_pids), join(',', @start_workers),
   'the workers of the start still serve: none crashed');

$t->done_testing;
