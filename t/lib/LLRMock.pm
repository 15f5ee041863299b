package LLRMock;

# A mock OpenAI-compatible provider for the tests, in plain perl.
#
# It listens on a loopback port in a forked child (its own process group),
# handles every accepted connection in a forked grandchild, supports
# keepalive (several requests per connection), Content-Length and chunked
# request bodies, records every request as one JSON line in a file, and
# answers like OpenAI:
#
#   POST .../chat/completions   chat.completion JSON, or SSE when "stream":true
#   POST .../completions        text_completion JSON
#   POST .../embeddings         embedding list
#   POST .../responses          response object
#   GET  .../models             model list
#   POST .../messages           Anthropic Messages JSON, or its SSE event
#                               sequence when "stream":true (usage with
#                               cache_creation_input_tokens 7 and
#                               cache_read_input_tokens 5)
#   POST .../messages/count_tokens  {"input_tokens":N}
#
# Behaviour is controlled per request by headers (the tests send them to
# nginx, which forwards them):
#
#   X-Mock-Status: 503        answer with that status and an OpenAI error
#   X-Mock-Retry-After: 2     add Retry-After to that error
#   X-Mock-Delay: 0.2         seconds to wait before answering
#   X-Mock-Event-Delay: 0.3   seconds between SSE events
#   X-Mock-Events: 5          number of SSE content chunks
#   X-Mock-Close: 1           close the connection without answering
#   X-Mock-Cut: 2             stream: close after N events, without [DONE]
#   X-Mock-Content-Type: T    stream: send Content-Type T, not
#                             text/event-stream
#   X-Mock-Cached: N          chat (JSON and the stream's usage chunk):
#                             prompt_tokens_details.cached_tokens N
#
# What a chat answer says (the quality signals' tests):
#
#   X-Mock-Content: TEXT      the message's content (a stream: cut into
#                             X-Mock-Events pieces); "-": null
#   X-Mock-Finish: R          finish_reason R (default stop)
#   X-Mock-Refusal: TEXT      the message's refusal
#   X-Mock-Tool-Args: ARGS    a tool call with these arguments (a stream:
#                             cut into X-Mock-Events pieces)
#
# An Anthropic Messages answer takes the same headers: X-Mock-Content the
# text block's text ("-": no text block; a stream: text_delta pieces),
# X-Mock-Finish its stop_reason (default end_turn), X-Mock-Tool-Args a
# tool_use block after it (JSON: ARGS decoded as its input, {} if they
# are not JSON; a stream: input_json_delta pieces of ARGS as they are).
#
# Recorded request (one JSON object per line, see requests()):
#   {"id":N, "time":T, "method":"POST", "uri":"/v1/chat/completions",
#    "version":"HTTP/1.1", "headers":{"host":"..."}, "header_list":[[n,v]...],
#    "body_hex":"7b22...", "conn":C, "seq":S}
# requests() returns the same hashes with "body" holding the exact bytes.
# When a stream finishes (or is cut), a second line records the send time of
# every event: {"id":N, "event_times":[...], "done":1}; requests() merges it
# into the request's hash as "event_times" (list of epoch seconds).

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use POSIX qw(:sys_wait_h setpgid _exit);
use Fcntl qw(:flock O_WRONLY O_APPEND O_CREAT);
use Time::HiRes qw(time sleep);
use Socket qw(SOL_SOCKET SO_REUSEADDR IPPROTO_TCP TCP_NODELAY);

my $JSON = JSON::PP->new->utf8->canonical(1)->allow_nonref(1);

sub new {
    my ($class, %opts) = @_;

    my $self = bless {
        dir         => $opts{dir} || die("LLRMock: dir required"),
        name        => $opts{name} || 'mock',
        events      => $opts{events} // 3,
        event_delay => $opts{event_delay} // 0,
        delay       => $opts{delay} // 0,
        models      => $opts{models} || ['mock-model'],
        # X-Mock-* behaviour by default, for a provider that always fails:
        # faults => { 'x-mock-status' => 503, 'x-mock-retry-after' => 2 }
        faults      => $opts{faults} || {},
    }, $class;

    $self->{log} = "$self->{dir}/$self->{name}.requests.jsonl";
    $self->{ctr} = "$self->{dir}/$self->{name}.counter";

    return $self;
}

sub port { $_[0]{port} }
sub pid { $_[0]{pid} }
sub log_file { $_[0]{log} }

sub start {
    my ($self) = @_;

    my $sock = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => $self->{port} || 0,
        Proto     => 'tcp',
        Listen    => 128,
        ReuseAddr => 1,
    ) or die "LLRMock: cannot listen: $!";

    $self->{port} = $sock->sockport;

    open(my $fh, '>', $self->{log}) or die "LLRMock: $self->{log}: $!";
    close $fh;

    my $pid = fork();
    die "LLRMock: fork: $!" unless defined $pid;

    if ($pid == 0) {
        setpgid(0, 0);
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { _exit(0) };
        $SIG{ALRM} = 'DEFAULT';
        alarm(0);
        eval { $self->_serve($sock) };
        _exit(0);
    }

    close $sock;
    $self->{pid} = $pid;
    $self->{owner} = $$;
    setpgid($pid, $pid);

    return $self;
}

# change the default faults of the running mock: set_faults({}) heals it

sub set_faults {
    my ($self, $faults) = @_;
    my $file = "$self->{log}.faults";
    open(my $fh, '>', "$file.tmp") or die "LLRMock: $file: $!";
    print $fh JSON::PP::encode_json($faults || {});
    close $fh;
    rename("$file.tmp", $file) or die "LLRMock: $file: $!";
}

sub stop {
    my ($self) = @_;

    my $pid = delete $self->{pid} or return;

    # the server and its per-connection children form one process group
    kill 'TERM', -$pid;
    kill 'TERM', $pid;

    for (1 .. 100) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }

    kill 'KILL', -$pid;
    kill 'KILL', $pid;
    waitpid($pid, WNOHANG);
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->stop if $self->{pid} && $self->{owner} && $self->{owner} == $$;
}

# recorded requests, oldest first; each a hash:
# id, method, uri, version, headers (lowercased names, last value wins),
# header_list, body (exact bytes), json (decoded body or undef),
# event_times (streams only)

sub requests {
    my ($self) = @_;

    my (@reqs, %by_id);

    open(my $fh, '<', $self->{log}) or return ();
    flock($fh, LOCK_SH);
    my @lines = <$fh>;
    close $fh;

    for my $line (@lines) {
        chomp $line;
        next unless length $line;
        my $rec = eval { $JSON->decode($line) } or next;

        if ($rec->{done}) {
            $by_id{$rec->{id}}{event_times} = $rec->{event_times}
                if $by_id{$rec->{id}};
            next;
        }

        $rec->{body} = pack('H*', delete $rec->{body_hex} // '');
        $rec->{json} = eval { JSON::PP->new->utf8->allow_nonref(1)
                                  ->decode($rec->{body}) };
        push @reqs, $rec;
        $by_id{$rec->{id}} = $rec;
    }

    return @reqs;
}

sub last_request {
    my ($self) = @_;
    my @r = $self->requests;
    return $r[-1];
}

# the last request once the mock recorded the times of its $n stream
# events (written after the stream, so possibly after the client saw it),
# or after $timeout seconds

sub last_stream {
    my ($self, $n, $timeout) = @_;
    my $end = time + ($timeout // 3);
    my $r;

    for (;;) {
        $r = $self->last_request;
        last if ($r && @{$r->{event_times} || []} >= $n) || time > $end;
        sleep 0.05;
    }

    return $r;
}

# the last request, or an empty record (missing => 1) so that
# $m->last->{headers}{host} fails a test instead of dying

sub last {
    my ($self) = @_;
    return $self->last_request
           || { missing => 1, headers => {}, body => undef, json => undef };
}

sub clear {
    my ($self) = @_;
    open(my $fh, '+<', $self->{log}) or die "LLRMock: $self->{log}: $!";
    flock($fh, LOCK_EX);
    truncate($fh, 0);
    close $fh;
}

# ---- the server (runs in the forked child) --------------------------------

sub _serve {
    my ($self, $sock) = @_;

    my $conn_id = 0;

    while (1) {
        my $c = $sock->accept;
        next unless $c;
        $conn_id++;

        my $pid = fork();
        if (!defined $pid) {
            close $c;
            next;
        }

        if ($pid == 0) {
            close $sock;
            eval { $self->_connection($c, $conn_id) };
            _exit(0);
        }

        close $c;
    }
}

sub _next_id {
    my ($self) = @_;

    sysopen(my $fh, $self->{ctr}, O_WRONLY | O_CREAT) or return int(rand(1e9));
    flock($fh, LOCK_EX);
    open(my $r, '<', $self->{ctr});
    my $n = <$r> // 0;
    close $r;
    $n = int($n) + 1;
    open(my $w, '>', $self->{ctr});
    print $w $n;
    close $w;
    close $fh;

    return $n;
}

sub _record {
    my ($self, $rec) = @_;

    my $line = $JSON->encode($rec) . "\n";

    sysopen(my $fh, $self->{log}, O_WRONLY | O_APPEND | O_CREAT)
        or return;
    flock($fh, LOCK_EX);
    syswrite($fh, $line);
    close $fh;
}

# read until $buf holds at least $n bytes; undef on EOF / timeout

sub _fill {
    my ($c, $bufref, $n, $timeout) = @_;

    my $sel = IO::Select->new($c);

    while (length($$bufref) < $n) {
        return undef unless $sel->can_read($timeout);
        my $got = sysread($c, $$bufref, 65536, length $$bufref);
        return undef unless $got;
    }

    return 1;
}

sub _read_line {
    my ($c, $bufref, $timeout) = @_;

    my $sel = IO::Select->new($c);

    while (1) {
        my $i = index($$bufref, "\r\n");
        if ($i >= 0) {
            my $line = substr($$bufref, 0, $i);
            substr($$bufref, 0, $i + 2, '');
            return $line;
        }
        return undef unless $sel->can_read($timeout);
        my $got = sysread($c, $$bufref, 65536, length $$bufref);
        return undef unless $got;
    }
}

sub _connection {
    my ($self, $c, $conn_id) = @_;

    setsockopt($c, IPPROTO_TCP, TCP_NODELAY, 1);
    binmode $c;

    my $buf = '';
    my $seq = 0;

    # keepalive: serve requests until the peer closes or asks to close
    while (1) {
        my $hdr_end;
        my $sel = IO::Select->new($c);

        while (($hdr_end = index($buf, "\r\n\r\n")) < 0) {
            return unless $sel->can_read(60);
            my $got = sysread($c, $buf, 65536, length $buf);
            return unless $got;
        }

        my $head = substr($buf, 0, $hdr_end);
        substr($buf, 0, $hdr_end + 4, '');

        my ($reqline, @hlines) = split /\r\n/, $head;
        my ($method, $uri, $version) = split / /, $reqline, 3;
        $version //= 'HTTP/0.9';

        my (%h, @list);
        for my $l (@hlines) {
            my ($n, $v) = $l =~ /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
            push @list, [$n, $v];
            $h{lc $n} = $v;
        }

        my $body = '';

        if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
            while (1) {
                my $sz = _read_line($c, \$buf, 30);
                return unless defined $sz;
                $sz =~ s/;.*//;
                my $n = hex($sz);
                if ($n == 0) {
                    # trailers up to the empty line
                    while (1) {
                        my $t = _read_line($c, \$buf, 30);
                        return unless defined $t;
                        last if $t eq '';
                    }
                    last;
                }
                return unless _fill($c, \$buf, $n + 2, 30);
                $body .= substr($buf, 0, $n);
                substr($buf, 0, $n + 2, '');
            }

        } elsif (defined $h{'content-length'}) {
            my $n = int($h{'content-length'});
            return unless _fill($c, \$buf, $n, 30);
            $body = substr($buf, 0, $n);
            substr($buf, 0, $n, '');
        }

        my $id = $self->_next_id;

        $self->_record({
            id          => $id,
            time        => time,
            conn        => $conn_id,
            seq         => ++$seq,
            method      => $method,
            uri         => $uri,
            version     => $version,
            headers     => \%h,
            header_list => \@list,
            body_hex    => unpack('H*', $body),
        });

        my $keep = $version eq 'HTTP/1.1'
                   && ($h{connection} // '') !~ /close/i;

        my $faults = $self->{faults};

        if (-e "$self->{log}.faults"
            && open(my $ff, '<', "$self->{log}.faults"))
        {
            local $/;
            my $text = <$ff>;
            close $ff;
            $faults = eval { JSON::PP::decode_json($text) } || $faults;
        }

        for my $k (keys %$faults) {
            $h{$k} //= $faults->{$k};
        }

        return if $h{'x-mock-close'};

        my $delay = $h{'x-mock-delay'} // $self->{delay};
        sleep($delay) if $delay > 0;

        my $ok = $self->_answer($c, $id, $method, $uri, \%h, $body, $keep);

        return unless $ok && $keep;
    }
}

sub _send {
    my ($c, $data) = @_;

    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($c, $data, length($data) - $off, $off);
        return 0 unless $n;
        $off += $n;
    }

    return 1;
}

my %REASON = (
    200 => 'OK', 400 => 'Bad Request', 401 => 'Unauthorized',
    404 => 'Not Found', 405 => 'Method Not Allowed',
    429 => 'Too Many Requests', 500 => 'Internal Server Error',
    502 => 'Bad Gateway', 503 => 'Service Unavailable',
    504 => 'Gateway Timeout',
);

sub _respond {
    my ($c, $status, $body, $keep, %extra) = @_;

    my $ct = delete $extra{'Content-Type'} // 'application/json';
    my $reason = $REASON{$status} // 'Status';

    my $head = "HTTP/1.1 $status $reason\r\n"
             . "Content-Type: $ct\r\n"
             . "Content-Length: " . length($body) . "\r\n"
             . "X-Mock: perl\r\n";

    for my $k (sort keys %extra) {
        $head .= "$k: $extra{$k}\r\n";
    }

    $head .= $keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n";

    return _send($c, "$head\r\n$body");
}

sub _error_json {
    my ($status, $msg, $type) = @_;
    return $JSON->encode({ error => {
        message => $msg,
        type    => $type // ($status >= 500 ? 'server_error'
                                            : 'invalid_request_error'),
        param   => undef,
        code    => undef,
    }});
}

sub _prompt_tokens {
    my ($json, $body) = @_;

    # deterministic: one token per 4 bytes of the request body, at least 1
    return int(length($body) / 4) + 1;
}

sub _answer {
    my ($self, $c, $id, $method, $uri, $h, $body, $keep) = @_;

    my $path = $uri;
    $path =~ s/\?.*//;

    my %xh = (
        'X-Mock-Request-Id' => $id,
        'X-Mock-Uri'        => $uri,
    );

    if (my $st = $h->{'x-mock-status'}) {
        $xh{'Retry-After'} = $h->{'x-mock-retry-after'}
            if defined $h->{'x-mock-retry-after'};
        return _respond($c, $st, $JSON->encode({ type => 'error',
                            error => { type => 'api_error',
                                       message => "mock error $st" } }),
                        $keep, %xh)
            if $path =~ m{/messages(/count_tokens)?$};
        return _respond($c, $st,
                        _error_json($st, "mock error $st"), $keep, %xh);
    }

    if ($method eq 'GET' && $path =~ m{/models$}) {
        return _respond($c, 200, $JSON->encode({
            object => 'list',
            data   => [ map { { id => $_, object => 'model', created => 0,
                                owned_by => 'mock' } } @{$self->{models}} ],
        }), $keep, %xh);
    }

    if ($method ne 'POST') {
        return _respond($c, 405, _error_json(405, "method not allowed"),
                        $keep, %xh);
    }

    my $json = eval { JSON::PP->new->utf8->decode($body) };

    if (ref $json ne 'HASH') {
        return _respond($c, 400, _error_json(400, "mock: invalid json"),
                        $keep, %xh);
    }

    my $model = $json->{model} // '';
    my $pt = _prompt_tokens($json, $body);

    if ($path =~ m{/messages/count_tokens$}) {
        return _respond($c, 200, $JSON->encode({ input_tokens => $pt }),
                        $keep, %xh);
    }

    if ($path =~ m{/messages$}) {
        return $self->_messages($c, $id, $h, $json, $model, $pt, $keep,
                                \%xh);
    }

    if ($path =~ m{/chat/completions$}) {
        if ($json->{stream} && JSON::PP::is_bool($json->{stream})) {
            return $self->_stream($c, $id, $h, $json, $model, $pt, $keep,
                                  \%xh);
        }

        return _respond($c, 200, $JSON->encode({
            id      => "chatcmpl-mock$id",
            object  => 'chat.completion',
            created => 1700000000,
            model   => $model,
            choices => [{
                index         => 0,
                message       => _message($h),
                finish_reason => $h->{'x-mock-finish'} // 'stop',
                logprobs      => undef,
            }],
            usage => { prompt_tokens => $pt, completion_tokens => 2,
                       total_tokens => $pt + 2, _cached($h) },
        }), $keep, %xh);
    }

    if ($path =~ m{/completions$}) {
        return _respond($c, 200, $JSON->encode({
            id      => "cmpl-mock$id",
            object  => 'text_completion',
            created => 1700000000,
            model   => $model,
            choices => [{ index => 0, text => 'mock reply',
                          finish_reason => 'stop', logprobs => undef }],
            usage => { prompt_tokens => $pt, completion_tokens => 2,
                       total_tokens => $pt + 2 },
        }), $keep, %xh);
    }

    if ($path =~ m{/embeddings$}) {
        return _respond($c, 200, $JSON->encode({
            object => 'list',
            model  => $model,
            data   => [{ object => 'embedding', index => 0,
                         embedding => [0.5, -0.25, 0.125] }],
            usage  => { prompt_tokens => $pt, total_tokens => $pt },
        }), $keep, %xh);
    }

    if ($path =~ m{/responses$}) {
        return _respond($c, 200, $JSON->encode({
            id     => "resp_mock$id",
            object => 'response',
            model  => $model,
            status => 'completed',
            output => [{ type => 'message', role => 'assistant',
                         content => [{ type => 'output_text',
                                       text => 'mock reply' }] }],
            usage  => { input_tokens => $pt, output_tokens => 2,
                        total_tokens => $pt + 2 },
        }), $keep, %xh);
    }

    return _respond($c, 404, _error_json(404, "mock: unknown path $path"),
                    $keep, %xh);
}

# X-Mock-Cached: OpenAI's prompt_tokens_details, or nothing

sub _cached {
    my ($h) = @_;
    my $n = $h->{'x-mock-cached'};
    return () unless defined $n;
    return (prompt_tokens_details => { cached_tokens => $n + 0 });
}

# the chat answer's message, as the X-Mock-* headers script it
sub _message {
    my ($h) = @_;

    my $content = $h->{'x-mock-content'} // 'mock reply';
    my %m = (role => 'assistant',
             content => $content eq '-' ? undef : $content);

    $m{refusal} = $h->{'x-mock-refusal'} if defined $h->{'x-mock-refusal'};

    if (defined $h->{'x-mock-tool-args'}) {
        $m{tool_calls} = [{ id => 'call_mock', type => 'function',
                            function => { name => 'f',
                                arguments => $h->{'x-mock-tool-args'} } }];
    }

    return \%m;
}

# s cut into n pieces (the last ones may be empty)
sub _pieces {
    my ($s, $n) = @_;
    my $k = int((length($s) + $n - 1) / $n) || 1;
    return map { $_ * $k < length $s ? substr($s, $_ * $k, $k) : '' }
           0 .. $n - 1;
}

sub _stream {
    my ($self, $c, $id, $h, $json, $model, $pt, $keep, $xh) = @_;

    my $n = $h->{'x-mock-events'} // $self->{events};

    my $usage = ref $json->{stream_options} eq 'HASH'
                && $json->{stream_options}{include_usage};

    my $chunk = sub {
        my ($delta, $finish, $extra) = @_;
        return $JSON->encode({
            id      => "chatcmpl-mock$id",
            object  => 'chat.completion.chunk',
            created => 1700000000,
            model   => $model,
            choices => $delta ? [{ index => 0, delta => $delta,
                                   finish_reason => $finish,
                                   logprobs => undef }] : [],
            ($extra ? %$extra : ()),
        });
    };

    my @events;
    push @events, $chunk->({ role => 'assistant', content => '' }, undef);

    if (defined $h->{'x-mock-tool-args'}) {
        push @events, $chunk->({ tool_calls => [{ index => 0,
            id => 'call_mock', type => 'function',
            function => { name => 'f', arguments => '' } }] }, undef);
        push @events, $chunk->({ tool_calls => [{ index => 0,
            function => { arguments => $_ } }] }, undef)
            for _pieces($h->{'x-mock-tool-args'}, $n);

    } elsif (defined $h->{'x-mock-content'}) {
        push @events, $chunk->({ content => $_ }, undef)
            for _pieces($h->{'x-mock-content'}, $n);

    } else {
        push @events, $chunk->({ content => "w$_ " }, undef) for 1 .. $n;
    }

    push @events, $chunk->({}, $h->{'x-mock-finish'} // 'stop');
    push @events, $chunk->(undef, undef, { usage => {
        prompt_tokens => $pt, completion_tokens => $n + 0,
        total_tokens => $pt + $n, _cached($h) } })
        if $usage;
    push @events, '[DONE]';

    return $self->_send_events($c, $id, $h, $keep, $xh,
                               [ map { "data: $_\n\n" } @events ]);
}

# an Anthropic Messages answer: JSON, or the documented event sequence

sub _messages {
    my ($self, $c, $id, $h, $json, $model, $pt, $keep, $xh) = @_;

    my $n = $h->{'x-mock-events'} // $self->{events};
    my %usage = (input_tokens => $pt, cache_creation_input_tokens => 7,
                 cache_read_input_tokens => 5);
    my $text = $h->{'x-mock-content'};
    my $args = $h->{'x-mock-tool-args'};
    my $stop = $h->{'x-mock-finish'} // 'end_turn';

    unless ($json->{stream} && JSON::PP::is_bool($json->{stream})) {
        my @content;
        push @content, { type => 'text', text => $text // 'mock reply' }
            unless defined $text && $text eq '-';
        if (defined $args) {
            my $input = eval { $JSON->decode($args) };
            push @content, { type => 'tool_use', id => 'toolu_mock',
                             name => 'f',
                             input => ref $input ? $input : {} };
        }
        return _respond($c, 200, $JSON->encode({
            id => "msg_mock$id", type => 'message', role => 'assistant',
            model => $model, stop_reason => $stop,
            stop_sequence => undef, content => \@content,
            usage => { %usage, output_tokens => 2 },
        }), $keep, %$xh);
    }

    my $ev = sub { "event: $_[0]\ndata: " . $JSON->encode($_[1]) . "\n\n" };
    my $delta = sub {
        my ($i, $d) = @_;
        return $ev->('content_block_delta', { type => 'content_block_delta',
                                              index => $i, delta => $d });
    };
    my $block = sub {
        my ($i, $cb, @deltas) = @_;
        return ($ev->('content_block_start', { type => 'content_block_start',
                                               index => $i,
                                               content_block => $cb }),
                (map { $delta->($i, $_) } @deltas),
                $ev->('content_block_stop', { type => 'content_block_stop',
                                              index => $i }));
    };
    my @pieces = defined $text ? _pieces($text, $n)
                               : map { "w$_ " } 1 .. $n;
    my @blocks;
    push @blocks, $block->(0, { type => 'text', text => '' },
                           map { { type => 'text_delta', text => $_ } }
                               @pieces)
        unless defined $text && $text eq '-';
    push @blocks, $block->(scalar(@blocks) ? 1 : 0,
                           { type => 'tool_use', id => 'toolu_mock',
                             name => 'f', input => {} },
                           map { { type => 'input_json_delta',
                                   partial_json => $_ } }
                               _pieces($args, $n))
        if defined $args;

    my @events = (
        $ev->('message_start', { type => 'message_start', message => {
            id => "msg_mock$id", type => 'message', role => 'assistant',
            model => $model, content => [], stop_reason => undef,
            stop_sequence => undef,
            usage => { %usage, output_tokens => 1 } } }),
        @blocks,
        $ev->('message_delta', { type => 'message_delta',
            delta => { stop_reason => $stop, stop_sequence => undef },
            usage => { output_tokens => $n + 0 } }),
        $ev->('message_stop', { type => 'message_stop' }),
    );

    return $self->_send_events($c, $id, $h, $keep, $xh, \@events);
}

sub _send_events {
    my ($self, $c, $id, $h, $keep, $xh, $events) = @_;

    my $delay = $h->{'x-mock-event-delay'} // $self->{event_delay};
    my $cut = $h->{'x-mock-cut'};
    my $ct = $h->{'x-mock-content-type'} // 'text/event-stream';
    my $head = "HTTP/1.1 200 OK\r\n"
             . "Content-Type: $ct\r\n"
             . "Cache-Control: no-cache\r\n"
             . "Transfer-Encoding: chunked\r\n"
             . "X-Mock: perl\r\n";
    $head .= "$_: $xh->{$_}\r\n" for sort keys %$xh;
    $head .= $keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n";

    return 0 unless _send($c, "$head\r\n");

    my @times;
    my $i = 0;
    my $ok = 1;

    for my $data (@$events) {
        if (defined $cut && $i >= $cut) {
            $ok = 0;
            last;
        }
        sleep($delay) if $i > 0 && $delay > 0;
        push @times, time;
        unless (_send($c, sprintf("%x\r\n%s\r\n", length $data, $data))) {
            $ok = 0;
            last;
        }
        $i++;
    }

    $ok = _send($c, "0\r\n\r\n") if $ok;

    $self->_record({ id => $id, done => 1, event_times => \@times });

    return $ok;
}

1;
