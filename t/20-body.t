#!/usr/bin/perl

# The request body:
#
#   1. read in memory, from a temp file, chunked, slowly; rewritten with
#      exactly one "model" (the routed one), every other byte of meaning
#      kept
#   2. a body read that fails asynchronously, sent by error_page to a
#      routed location, is answered

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;
use Time::HiRes qw(time);

# ==== Reading and rewriting (was 04-body.t) ==================================
#
# The body: read in memory, from a temp file, chunked, slowly; rewritten with
# exactly one "model" (the routed one) and every other byte of meaning kept.

{

my $t = LLRTest->new;
my $m = $t->mock;

# /mem/: bodies up to 1 MB stay in memory (the rest of the server: 16 KB)
$t->config($t->routed_http(
    server => $t->routed_location(path => '/mem/',
                                  location => 'client_body_buffer_size 1m;')));
$t->start;

my $J = JSON::PP->new->canonical(1);

# the client's JSON without its model keys, compared by meaning
my sub without_model {
    my ($v) = @_;
    my %h = %$v;
    delete $h{model};
    return \%h;
}

# received body minus model equals the sent one; exactly one model key
my sub check_forwarded {
    my ($name, $sent_json, $model) = @_;

    my $q = $m->last_request;
    ok($q, "$name: provider reached") or return;

    my $got = LLRTest::json_decode($q->{body});
    ok(ref $got eq 'HASH', "$name: forwarded body is a JSON object")
        or return;
    is($got->{model}, $model, "$name: model is $model");
    is_deeply(without_model($got), without_model($sent_json),
              "$name: the rest is equal in meaning");
    my $top = () = $q->{body} =~ /^\{"model":/;
    ok($top, "$name: forwarded body starts with the routed model");
    is($q->{headers}{'content-length'}, length $q->{body},
       "$name: Content-Length is the new length");
    ok(!defined $q->{headers}{'transfer-encoding'},
       "$name: no Transfer-Encoding upstream");
    return $q;
}

# ---- duplicate model keys ---------------------------------------------------

for my $c (
    [ 'model twice', '{"model":"gpt-4o","model":"gpt-4o-mini",'
      . '"messages":[{"role":"user","content":"x"}]}', qr/^gpt-4o(-mini)?$/ ],
    [ 'model at the end', '{"messages":[{"role":"user","content":"x"}],'
      . '"n":1,"model":"fast"}', qr/^gpt-4o-mini$/ ],
    [ 'model in the middle', '{"temperature":0.5,"model":"gpt-4o",'
      . '"messages":[{"role":"user","content":"x"}],"top_p":1}', qr/^gpt-4o$/ ],
) {
    my ($name, $body, $expect) = @$c;
    $m->clear;
    my $r = $t->chat($body);
    is($r->{status}, 200, "$name: 200");
    my $q = $m->last_request or next;
    my @models = $q->{body} =~ /"model":"([^"]*)"/g;
    is(scalar @models, 1, "$name: exactly one model key forwarded");
    like($models[0] // '', $expect, "$name: the routed model");
}

# a duplicate model: which one counts is the client's business, but never
# both, and the other members stay in order
$m->clear;
$t->chat('{"a":1,"model":"gpt-4o","b":[2,3],"model":"gpt-4o-mini","c":"4",'
         . '"messages":[{"role":"user","content":"d"}]}');
like($m->last->{body},
     qr/^\{"model":"gpt-4o(-mini)?","a":1,"b":\[2,3\],"c":"4","messages":\[\{"role":"user","content":"d"\}\]\}$/,
     'duplicate model: exact compact body, members in order');

# "model" inside nested objects is not the top-level model
$m->clear;
my $nested = '{"model":"fast","messages":[{"role":"user","content":"x"}],'
           . '"metadata":{"model":"keep-me"},"tools":[{"model":"me-too"}]}';
$t->chat($nested);
is($m->last->{body},
   '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],'
   . '"metadata":{"model":"keep-me"},"tools":[{"model":"me-too"}]}',
   'nested "model" members are kept as they are');

# ---- numbers, escapes, unicode ---------------------------------------------

my $numbers = '{"model":"fast","messages":[{"role":"user","content":"n"}],'
    . '"temperature":0.70000000000000001,"x_extra":1e2,'
    . '"seed":12345678901234567890123,"frequency_penalty":-0.0,'
    . '"logit_bias":{"50256":-100},"top_p":1.0E-3}';
$m->clear;
my $r = $t->chat($numbers);
is($r->{status}, 200, 'numbers: 200');
my $nb = $m->last->{body} // '';
for my $lit ('0.70000000000000001', '1e2', '12345678901234567890123', '-0.0',
             '-100', '1.0E-3')
{
    like($nb, qr/:\Q$lit\E[,}]/, "number $lit forwarded verbatim");
}

my $text = "caf\x{e9} \x{4e2d}\x{6587} \x{1f600} tab\t nl\n quote\" back\\ "
         . "slash/ \x{7f} ctl\x{1}";
my $esc = { model => 'gpt-4o',
            messages => [{ role => 'user', content => $text }],
            user => "\x{2028}\x{2029}" };

# the same meaning written two ways: \u escapes and raw UTF-8
for my $form (['ascii escapes', JSON::PP->new->ascii->canonical],
              ['raw UTF-8', JSON::PP->new->utf8->canonical])
{
    my ($name, $enc) = @$form;
    $m->clear;
    my $bytes = $enc->encode($esc);
    $r = $t->chat($bytes);
    is($r->{status}, 200, "$name: 200");
    check_forwarded($name, $esc, 'gpt-4o');
}

# surrogate pairs written as escapes
$m->clear;
$r = $t->chat('{"model":"gpt-4o","messages":[{"role":"user",'
              . '"content":"\ud83d\ude00 \u00e9\u0000z"}]}');
is($r->{status}, 200, 'surrogate escapes: 200');
is((LLRTest::json_decode($m->last->{body} // '') || {})
       ->{messages}[0]{content},
   "\x{1f600} \x{e9}\x{0}z", 'surrogate pair and \u0000 keep their meaning');

# ---- 300 KB through a temp file ------------------------------------------

my @msgs;
for my $i (1 .. 700) {
    push @msgs, { role => $i % 2 ? 'user' : 'assistant',
                  content => "m$i: $text " . ("\x{442}\x{435}\x{441}\x{442} "
                                             x 40) . "\"q\" \\ end" };
}
my $large = { model => 'fast', messages => \@msgs, temperature => 0.2,
              stop => ["\n\n", "###"] };
my $large_bytes = JSON::PP->new->utf8->canonical->encode($large);
ok(length($large_bytes) > 300 * 1024, 'large body is over 300 KB ('
   . length($large_bytes) . ' bytes)');

$m->clear;
$r = $t->chat($large_bytes);
is($r->{status}, 200, 'large body: 200');
my $q = check_forwarded('large body', $large, 'gpt-4o-mini');
is(scalar @{ (LLRTest::json_decode($q->{body}) || {})->{messages} || [] },
   700,
   'large body: 700 messages in order')
    if $q;
like($t->error_log, qr/buffered to a temporary file/,
     'large body went through a temp file');

# ---- objects and arrays go on as the client wrote them --------------------

# A pretty-printed 40 KB body: its messages array is forwarded byte for
# byte, whitespace included, whether the body was held in memory (where
# the module links long runs of it instead of copying them) or read back
# from a temporary file (copied); the top-level members are compacted.

my @pm = map { { role => $_ % 2 ? 'user' : 'assistant',
                 content => "p$_ \"q\" \x{e9} " . ('z' x 250) } } 1 .. 150;
my $pbody = JSON::PP->new->utf8->pretty->canonical->encode(
    { messages => \@pm, model => 'fast', temperature => 0.5 });
my ($pmsgs) = $pbody =~ /^   "messages" : (\[\n.*?\n   \]),\n/ms;
ok(defined $pmsgs && length($pbody) > 32 * 1024,
   'pretty body of ' . length($pbody) . ' bytes');
my $pwant = '{"model":"gpt-4o-mini","messages":' . ($pmsgs // '')
            . ',"temperature":0.5}';

for my $c ([ 'in memory', '/mem/chat/completions' ],
           [ 'from a temp file', '/v1/chat/completions' ]) {
    $m->clear;
    $r = $t->chat($pbody, path => $c->[1]);
    is($r->{status}, 200, "pretty body $c->[0]: 200");
    is(($m->last_request || {})->{body}, $pwant,
       "pretty body $c->[0]: forwarded as written, model first");
}

# ---- chunked request bodies -----------------------------------------------

my sub chunked {
    my ($body, $size) = @_;
    my $out = '';
    for (my $i = 0; $i < length $body; $i += $size) {
        my $c = substr($body, $i, $size);
        $out .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    return $out . "0\r\n\r\n";
}

my $head = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
         . "Content-Type: application/json\r\n"
         . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

my $small = '{"messages":[{"role":"user","content":"chunk \u00e9"}],'
          . '"model":"fast","stream":false}';
$m->clear;
my $p = LLRTest::parse_response($t->raw($head . chunked($small, 7)));
is($p->{status}, 200, 'chunked small body (7-byte chunks): 200');
is($p->{json}{model}, 'gpt-4o-mini', 'chunked small: answer');
check_forwarded('chunked small', JSON::PP->new->utf8->decode($small),
                'gpt-4o-mini');

$m->clear;
$p = LLRTest::parse_response($t->raw($head . chunked($large_bytes, 10000)));
is($p->{status}, 200, 'chunked 300 KB body: 200');
check_forwarded('chunked large', $large, 'gpt-4o-mini');

# ---- a slow client: the body arrives in pieces ---------------------------

my $slow = JSON::PP->new->utf8->canonical->encode(
    { model => 'gpt-4o', messages => [{ role => 'user', content => 'slow' }],
      n => 1 });
my $hdr = "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
        . "Content-Type: application/json\r\nConnection: close\r\n"
        . "Content-Length: " . length($slow) . "\r\n\r\n";
my @pieces = ($hdr, map { substr($slow, $_ * 10, 10) }
                        0 .. int((length($slow) - 1) / 10));
$m->clear;
$p = LLRTest::parse_response($t->raw(\@pieces, pause => 0.05));
is($p->{status}, 200, 'body in 10-byte pieces: 200');
is($m->last->{body},
   '{"model":"gpt-4o","messages":[{"content":"slow","role":"user"}],"n":1}',
   'body in pieces: exact rewritten body');

# several requests on one client keepalive connection
my $one = '{"model":"gpt-4o","messages":[{"role":"user","content":"p"}]}';
my $ka = '';
for my $i (1 .. 3) {
    $ka .= "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
         . "Content-Type: application/json\r\n"
         . ($i == 3 ? "Connection: close\r\n" : '')
         . "Content-Length: " . length($one) . "\r\n\r\n$one";
}
$m->clear;
my $resp = $t->raw($ka);
my @st = $resp =~ m{HTTP/1\.1 (\d{3}) }g;
is(join(',', @st), '200,200,200', 'three pipelined requests: 200 each');
is(scalar($m->requests), 3, 'three pipelined requests reached the provider');

$t->stop;

}

# ==== A body read that fails (was 72-body-fail.t) ============================
#
# A request body read that fails after going asynchronous (here the
# temporary file cannot be written, as on a full disk: 500) never calls
# the body handler.  When error_page sends that 500 to a location with
# llm_route on (the documented @llm_fallback), the module must answer it
# (a JSON 500), not wait for a body that will not come (it did: the
# client got no answer at all).

{

my $t = LLRTest->new(workers => 1, log_ignore => qr/client_body_temp/);
my $m = $t->mock;

my $proxy = $t->proxy_directives(intercept => 1);

$t->config(<<"EOF");
    llm_route_zone llm:1m;
    llm_route_provider mockp {
        upstream 127.0.0.1:%%MOCK_PORT%%; scheme http; host mock.example;
        base_path /v1;
    }
    llm_route_model gpt-4o-mini provider=mockp input=0.15 output=0.60
                    quality=0.78;

    server {
        listen 127.0.0.1:%%PORT%%;
        client_body_buffer_size 1k;
        client_body_timeout 3s;   # no effect: the whole body has arrived

        # the documented failover idiom
        location /v1/ {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@llm_fallback;
        }

        # control: the same, but the error page is not routed
        location /ctl/ {
            llm_route on;
$proxy
            error_page 429 500 502 503 504 = \@plain;
        }

        location \@plain {
            return 503 '{"error":"plain"}';
        }

        location \@llm_fallback {
            llm_route on;
$proxy
        }
    }
EOF
$t->start;

# the standard list (500): the body spills to a temp file that cannot be
# written (as with a full disk): 500 -> error_page -> @llm_fallback

my $tmp = $t->dir . '/client_body_temp';
system("rm -rf $tmp && touch $tmp");

my $big = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"'
          . ('b' x 5000) . '"}]}';
my @parts = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
          . "Content-Type: application/json\r\nContent-Length: "
          . length($big) . "\r\nConnection: close\r\n\r\n",
          substr($big, 0, 100), substr($big, 100));

my $t0 = time;
my $raw = $t->raw(\@parts, pause => 0.2, timeout => 10);
my $p = LLRTest::parse_response($raw);
is($p->{status}, 500,
   'temp file write error (500) with error_page 500 = @llm_fallback: answered')
    or diag(sprintf("no answer after %.1fs: %s", time - $t0,
                    length $raw ? substr($raw, 0, 300) : '(nothing)'));

like($p->{headers}{'content-type'} // '', qr{application/json},
     'an OpenAI-shaped JSON error');

# control: same failure, error_page to a location without llm_route
$t0 = time;
$parts[0] =~ s{/v1/}{/ctl/};
$raw = $t->raw(\@parts, pause => 0.2, timeout => 10);
$p = LLRTest::parse_response($raw);
ok($p->{status} >= 500, "control: answered ($p->{status})");

system("rm -f $tmp && mkdir $tmp");

$t->stop;

}

done_testing;
