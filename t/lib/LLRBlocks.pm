package LLRBlocks;

# Tests as data, in the spirit of openresty's Test::Nginx: a block names a
# case, gives what to send (or the configuration nginx -t reads) and what
# must come back; run_blocks() does the rest.  Stock Debian perl only.
#
#   use LLRTest;
#   use LLRBlocks;
#
#   my $t = LLRTest->new;
#   my $m = $t->mock;
#   $t->config($t->routed_http);
#   $t->start;
#   run_blocks($t, mock => $m);             # the blocks of __DATA__
#   $t->done_testing;
#
#   __DATA__
#
#   === unknown model
#   --- request
#   POST /v1/chat/completions
#   {"model":"nope","messages":[{"role":"user","content":"hi"}]}
#   --- error_code: 404
#   --- openai_error: model_not_found model
#   --- upstream_requests: 0
#
# A block starts with "=== NAME" (the name prefixes every test of the
# block); "--- SECTION: VALUE" is a one-line section, "--- SECTION" on a
# line of its own starts a section whose value is the lines up to the next
# "---" or "===" (trailing empty lines dropped).  "--- SECTION eval" is
# perl code, run in package main, whose value is the section's (it sees
# the variables as %V); lines before the first section of a block are
# comments.  %%NAME%% in a
# section is replaced by the variable NAME (vars => {...}) before
# anything else (the others, %%PORT%% and the like, are the harness's).
#
# Request blocks (sent to the running nginx with $t->request):
#
#   request            "METHOD /uri", then the body (none: empty for POST
#                      and PUT, absent otherwise); a body is sent with
#                      Content-Type: application/json unless more_headers
#                      names one
#   more_headers       "Name: value" lines
#   error_code: N      the status                       "NAME: N"
#   openai_error[: CODE [PARAM]]
#                      a JSON content type, an OpenAI-shaped error body
#                      (message, type, code and param members), its code
#                      and param ("-" skips the code)
#                                                       "NAME: JSON content type"
#                                                       "NAME: OpenAI-shaped error"
#                                                       "NAME: code CODE"
#                                                       "NAME: param PARAM"
#   answer: OBJECT     the JSON answer's "object"       "NAME: a OBJECT answer"
#   upstream_requests: N
#                      what the mock received (mock => $m; it is cleared
#                      before each block)               "NAME: provider not
#                                                       reached" (0),
#                                                       "NAME: forwarded once"
#                                                       (1), "NAME: forwarded
#                                                       N times"
#   response_headers   "Name: value" (equal), "!Name" (absent)
#                                                       "NAME: Name: value",
#                                                       "NAME: no Name"
#   response_json      "a.b.0.c: value" (the value at that path, as text;
#                      "null" for an absent or null one)
#                                                       "NAME: a.b.0.c is value"
#   response_json_like "a.b: REGEX"                     "NAME: a.b like /REGEX/"
#   response_body_like REGEX (whole body)               "NAME: body like /REGEX/"
#
# Configuration blocks (nginx -t on the configuration, nothing started):
#
#   nginx_t: ok|fails  nginx -t passes or fails     "nginx -t accepts: NAME",
#                                                   "nginx -t rejects: NAME"
#   http               the http{} body to check (else the config => callback
#                      of run_blocks builds it from the block's sections)
#   error_like         one REGEX a line, "WHAT => REGEX" to say what it
#                      finds in the output          "NAME: message",
#                                                   "NAME: message names WHAT"
#   and with secrets => qr/.../, a rejected configuration's output never
#   matches it                                      "NAME: no key in the output"
#
# run_blocks($t, %options):
#
#   blocks => [...]    parsed blocks (default: those of the caller's __DATA__,
#                      or of data => TEXT)
#   mock => $m         the mock upstream_requests counts
#   vars => {...}      %%NAME%% substitutions, %V of eval sections
#   config => sub { my ($sections, $block) = @_; ...; return $http }
#                      $sections: every section's value, substituted
#   secrets => qr/.../
#   after => sub { my ($sections, $response, $block) = @_; ... }
#                      more checks after each request block

use strict;
use warnings;

use Test::More ();
use Exporter qw(import);

our @EXPORT = qw(blocks run_blocks);
our @EXPORT_OK = qw(openai_shaped json_path);

# ---- parsing ----------------------------------------------------------------

sub blocks {
    my ($text) = @_;

    unless (defined $text) {
        no strict 'refs';
        my $fh = \*{'main::DATA'};
        local $/;
        $text = <$fh> // '';
    }

    my (@blocks, $b, $sec);

    for my $line (split /\n/, $text, -1) {

        if ($line =~ /^===\s*(?:TEST \d+:\s*)?(.*?)\s*$/) {
            push @blocks, $b if $b;
            $b = { name => $1, _order => [] };
            undef $sec;
            next;
        }

        if ($line =~ /^---\s*(\w+)((?:\s+eval)?)\s*(?::\s?(.*))?$/) {
            die "LLRBlocks: section $1 before any block\n" unless $b;
            $sec = $1;
            $b->{$sec} = defined $3 ? $3 : '';
            $b->{_eval}{$sec} = 1 if $2;
            push @{$b->{_order}}, $sec;
            $sec = undef if defined $3;
            next;
        }

        next unless $b && defined $sec;

        $b->{$sec} .= (length $b->{$sec} || $b->{_open}{$sec}++ ? "\n" : '')
                      . $line;
    }

    push @blocks, $b if $b;

    for my $b (@blocks) {
        for my $s (@{$b->{_order}}) {
            $b->{$s} =~ s/\n+\z//;
        }
        delete $b->{_open};
    }

    return @blocks;
}

# the value of a section: variables substituted, eval'ed if asked

sub _value {
    my ($b, $sec, $vars) = @_;

    return undef unless exists $b->{$sec};

    my $v = $b->{$sec};
    $v =~ s/%%(\w+)%%/exists $vars->{$1} ? $vars->{$1} : "%%$1%%"/ge;

    if ($b->{_eval}{$sec}) {
        package main;
        our %V;
        local %V = %$vars;
        my $r = eval $v;
        die "LLRBlocks: $b->{name}: $sec: $@" if $@;
        return $r;
    }

    return $v;
}

sub _values {
    my ($b, $vars) = @_;
    return { map { $_ => _value($b, $_, $vars) } @{$b->{_order}} };
}

sub _lines {
    my ($v) = @_;
    return () unless defined $v;
    return grep { length } split /\n/, $v;
}

# ---- running ----------------------------------------------------------------

sub run_blocks {
    my ($t, %o) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my @bl = $o{blocks} ? @{$o{blocks}}
           : defined $o{data} ? blocks($o{data})
           : blocks();
    my $vars = $o{vars} || {};

    Test::More::BAIL_OUT('LLRBlocks: no blocks') unless @bl;

    for my $b (@bl) {
        if (exists $b->{nginx_t}) {
            _run_nginx_t($t, $b, $vars, \%o);
        } elsif (exists $b->{request}) {
            _run_request($t, $b, $vars, \%o);
        } else {
            die "LLRBlocks: $b->{name}: neither request nor nginx_t\n";
        }
    }
}

sub _run_nginx_t {
    my ($t, $b, $vars, $o) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 2;

    my $name = $b->{name};
    my $http = exists $b->{http} ? _value($b, 'http', $vars)
             : $o->{config} ? $o->{config}->(_values($b, $vars), $b)
             : die "LLRBlocks: $name: no http section, no config callback\n";

    my ($rc, $out) = $t->nginx_t_http($http);
    my $want = _value($b, 'nginx_t', $vars);

    if ($want eq 'ok') {
        Test::More::is($rc, 0, "nginx -t accepts: $name")
            or Test::More::diag($out);
    } elsif ($want eq 'fails') {
        Test::More::isnt($rc, 0, "nginx -t rejects: $name");
    } else {
        die "LLRBlocks: $name: nginx_t is ok or fails, not \"$want\"\n";
    }

    for my $l (_lines(_value($b, 'error_like', $vars))) {
        my ($what, $re) = $l =~ /^(.*?) => (.*)$/ ? ($1, $2) : (undef, $l);
        Test::More::like($out, qr/$re/,
                         defined $what ? "$name: message names $what"
                                       : "$name: message");
    }

    if ($o->{secrets} && $want eq 'fails') {
        Test::More::unlike($out, $o->{secrets},
                           "$name: no key in the output");
    }
}

sub _run_request {
    my ($t, $b, $vars, $o) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 2;

    my $name = $b->{name};
    my $req = _value($b, 'request', $vars);
    my ($line, $body) = split /\n/, $req, 2;
    my ($method, $uri) = $line =~ /^([A-Z]+) (\S+)$/
        or die "LLRBlocks: $name: request line \"$line\"\n";

    $body //= $method =~ /^(POST|PUT)$/ ? '' : undef;

    my %h;
    for (_lines(_value($b, 'more_headers', $vars))) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/
            or die "LLRBlocks: $name: header line \"$_\"\n";
        $h{$k} = $v;
    }
    $h{'Content-Type'} = 'application/json'
        if defined $body && !grep { lc eq 'content-type' } keys %h;

    my $m = $o->{mock};
    $m->clear if $m;

    my $r = $t->request($method, $uri, headers => \%h,
                        defined $body ? (body => $body) : ());

    if (exists $b->{error_code}) {
        my $want = _value($b, 'error_code', $vars);
        Test::More::is($r->{status}, $want, "$name: $want")
            or Test::More::diag(substr($r->{content} // '', 0, 300));
    }

    if (exists $b->{openai_error}) {
        my ($code, $param) = split ' ', _value($b, 'openai_error', $vars);
        my $j = $r->{json};

        Test::More::like($r->{headers}{'content-type'} // '',
                         qr{^application/json}, "$name: JSON content type");
        Test::More::ok(openai_shaped($j), "$name: OpenAI-shaped error")
            or Test::More::diag(substr($r->{content} // '', 0, 300));
        Test::More::is(ref $j eq 'HASH' ? $j->{error}{code} : undef, $code,
                       "$name: code $code")
            if defined $code && $code ne '-';
        Test::More::is(ref $j eq 'HASH' ? $j->{error}{param} : undef, $param,
                       "$name: param $param")
            if defined $param;
    }

    if (exists $b->{answer}) {
        my $want = _value($b, 'answer', $vars);
        Test::More::is(ref $r->{json} eq 'HASH' ? $r->{json}{object} : undef,
                       $want, "$name: a $want answer");
    }

    for (_lines(_value($b, 'response_headers', $vars))) {
        if (/^!\s*(.+)$/) {
            Test::More::ok(!defined $r->{headers}{lc $1}, "$name: no $1");
            next;
        }
        my ($k, $v) = /^([^:]+):\s*(.*)$/
            or die "LLRBlocks: $name: header line \"$_\"\n";
        Test::More::is($r->{headers}{lc $k}, $v, "$name: $k: $v");
    }

    for (_lines(_value($b, 'response_json', $vars))) {
        my ($path, $v) = /^(\S+):\s*(.*)$/
            or die "LLRBlocks: $name: json line \"$_\"\n";
        my $got = json_path($r->{json}, $path);
        Test::More::is($got // 'null', $v, "$name: $path is $v");
    }

    for (_lines(_value($b, 'response_json_like', $vars))) {
        my ($path, $re) = /^(\S+):\s*(.*)$/
            or die "LLRBlocks: $name: json line \"$_\"\n";
        Test::More::like(json_path($r->{json}, $path) // '', qr/$re/,
                         "$name: $path like /$re/");
    }

    if (exists $b->{response_body_like}) {
        my $re = _value($b, 'response_body_like', $vars);
        Test::More::like($r->{content} // '', qr/$re/,
                         "$name: body like /$re/");
    }

    if (exists $b->{upstream_requests}) {
        die "LLRBlocks: $name: upstream_requests without mock =>\n" unless $m;
        my $n = _value($b, 'upstream_requests', $vars);
        Test::More::is(scalar($m->requests), $n,
                       $n == 0 ? "$name: provider not reached"
                       : $n == 1 ? "$name: forwarded once"
                       : "$name: forwarded $n times");
    }

    $o->{after}->(_values($b, $vars), $r, $b) if $o->{after};

    return $r;
}

# ---- helpers ------------------------------------------------------------------

# {"error": {"message": "...", "type": ..., "code": ..., "param": ...}}

sub openai_shaped {
    my ($j) = @_;
    return ref $j eq 'HASH' && ref $j->{error} eq 'HASH'
           && defined $j->{error}{message} && !ref $j->{error}{message}
           && defined $j->{error}{type} && exists $j->{error}{code}
           && exists $j->{error}{param};
}

# json_path($decoded, 'a.b.0.c'): the value there, undef if there is none

sub json_path {
    my ($j, $path) = @_;

    for my $k (split /\./, $path) {
        if (ref $j eq 'HASH') {
            $j = $j->{$k};
        } elsif (ref $j eq 'ARRAY' && $k =~ /^\d+$/) {
            $j = $j->[$k];
        } else {
            return undef;
        }
    }

    return ref $j ? undef : $j;
}

1;
