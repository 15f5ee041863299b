#!/usr/bin/perl

# Streams: SSE passes through unbuffered (the first event reaches the client
# before the provider sends the last), usage chunks, cut streams, errors.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use JSON::PP;

my $t = LLRTest->new;
my $m = $t->mock;

$t->config($t->routed_http);
$t->start;

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $msgs = [{ role => 'user', content => 'stream please' }];

# ---- a paced stream ---------------------------------------------------------

my $s = $t->stream_request(
    body => { model => 'fast', messages => $msgs, stream => $T },
    headers => { 'X-Mock-Event-Delay' => 0.3, 'X-Mock-Events' => 5 });

is($s->{status}, 200, 'stream: 200');
like($s->{headers}{'content-type'} // '', qr{^text/event-stream},
     'stream: text/event-stream');
is($s->{headers}{'x-llm-route-model'}, 'gpt-4o-mini',
   'stream: trace header on the stream');
my @ev = @{$s->{events}};
is(scalar @ev, 1 + 5 + 1 + 1, 'stream: role + 5 content + finish + [DONE]');
ok($s->{done}, 'stream: ends with [DONE]');
is($ev[0]{json}{choices}[0]{delta}{role}, 'assistant', 'stream: role chunk');
is(join('', map { $_->{json}{choices}[0]{delta}{content} // '' } @ev[1 .. 5]),
   'w1 w2 w3 w4 w5 ', 'stream: content chunks in order');
is($ev[6]{json}{choices}[0]{finish_reason}, 'stop', 'stream: finish chunk');
ok(!grep({ $_->{json} && $_->{json}{usage} } @ev),
   'stream: no usage chunk when the client did not ask');
is($ev[1]{json}{model}, 'gpt-4o-mini', 'stream: chunks carry the sent model');

my $q = $m->last_stream(9);
is($q->{json}{model}, 'gpt-4o-mini', 'stream: provider got the routed model');
ok($q->{json}{stream} && JSON::PP::is_bool($q->{json}{stream}),
   'stream: provider got "stream": true');
is_deeply($q->{json}{messages}, $msgs, 'stream: messages forwarded');

ok($q->{json}{stream_options} && $q->{json}{stream_options}{include_usage},
   'stream: the router asked the provider for the usage chunk');
my $sent = $q->{event_times} || [];
is(scalar @$sent, 9, 'mock sent 9 events (with the usage chunk)');
ok(@$sent && $ev[0]{time} < $sent->[-1],
   'first event reached the client before the provider sent the last');
ok(@$sent && $ev[0]{time} - $sent->[0] < 0.25,
   'first event arrived within 0.25 s of being sent');
my $spread = $ev[-1]{time} - $ev[0]{time};
ok($spread > 1.5, sprintf('events arrived spread over time (%.2f s)',
                          $spread));

# ---- include_usage ----------------------------------------------------------

$s = $t->stream_request(
    body => { model => 'gpt-4o', messages => $msgs, stream => $T,
              stream_options => { include_usage => $T } });
is($s->{status}, 200, 'include_usage: 200');
my @u = grep { $_->{json} && $_->{json}{usage} } @{$s->{events}};
is(scalar @u, 1, 'include_usage: one usage chunk');
is($u[0]{json}{usage}{completion_tokens}, 3,
   'include_usage: completion tokens') if @u;
is_deeply($u[0]{json}{choices}, [], 'include_usage: usage chunk has no '
          . 'choices') if @u;
ok($s->{done}, 'include_usage: [DONE]');
is_deeply($m->last->{json}{stream_options}, { include_usage => $T },
          'include_usage: stream_options forwarded');

# ---- the media type in another case is still a stream ----------------------

# the router asked for the usage chunk, so it must recognise the stream to
# take that chunk out again and count it; the response filter compares the
# lower-case spelling first, then any case

$s = $t->stream_request(
    body => { model => 'fast', messages => $msgs, stream => $T },
    headers => { 'X-Mock-Events' => 2,
                 'X-Mock-Content-Type' => 'Text/Event-Stream; charset=utf-8' });
is($s->{status}, 200, 'mixed-case type: 200');
like($s->{headers}{'content-type'} // '', qr{^Text/Event-Stream},
     'mixed-case type: passed on as sent');
is(scalar @{$s->{events}}, 1 + 2 + 1 + 1,
   'mixed-case type: role + 2 content + finish + [DONE]');
ok(!grep({ $_->{json} && $_->{json}{usage} } @{$s->{events}}),
   'mixed-case type: the usage chunk the client did not ask for is removed');
ok($m->last->{json}{stream_options}{include_usage},
   'mixed-case type: the provider was asked for it');

# ---- stream: false is plain JSON --------------------------------------------

my $r = $t->chat({ model => 'gpt-4o', messages => $msgs, stream => $F });
is($r->{status}, 200, 'stream false: 200');
like($r->{headers}{'content-type'}, qr{^application/json},
     'stream false: JSON');
is($r->{json}{object}, 'chat.completion', 'stream false: chat.completion');
ok(JSON::PP::is_bool($m->last->{json}{stream})
   && !$m->last->{json}{stream}, 'stream false: forwarded as false');

# ---- a stream the provider cuts ---------------------------------------------

$s = $t->stream_request(
    body => { model => 'gpt-4o', messages => $msgs, stream => $T },
    headers => { 'X-Mock-Cut' => 3, 'X-Mock-Event-Delay' => 0.05 });
is($s->{status}, 200, 'cut stream: 200 (headers were sent)');
is(scalar @{$s->{events}}, 4,
   'cut stream: the 3 events sent arrive, and the error event')
    or diag(join("\n", map { $_->{raw} // '' } @{$s->{events}}));
ok(!$s->{done}, 'cut stream: no [DONE]');
is(eval { $s->{events}[-1]{json}{error}{code} }, 'stream_interrupted',
   'cut stream: ends with the stream_interrupted error event');

# ---- errors from the provider pass through ----------------------------------

$r = $t->chat({ model => 'gpt-4o', messages => $msgs, stream => $T },
              headers => { 'X-Mock-Status' => 429,
                           'X-Mock-Retry-After' => 7 });
is($r->{status}, 429, 'provider 429 passes through');
is($r->{headers}{'retry-after'}, 7, 'provider Retry-After passes through');
is($r->{json}{error}{message}, 'mock error 429', 'provider error body');

# ---- concurrent streams ---------------------------------------------------

$m->clear;
my @kids;
for my $i (1 .. 4) {
    my $pid = fork();
    if ($pid == 0) {
        my $x = $t->stream_request(
            body => { model => 'fast', messages => $msgs, stream => $T },
            headers => { 'X-Mock-Event-Delay' => 0.05,
                         'X-Mock-Events' => 10 });
        POSIX::_exit($x->{done} && @{$x->{events}} == 13 ? 0 : 1);
    }
    push @kids, $pid;
}
my $fails = 0;
for (@kids) { waitpid($_, 0); $fails++ if $?; }
is($fails, 0, 'four concurrent streams complete');
is(scalar($m->requests), 4, 'four streams reached the provider');

$t->done_testing;
