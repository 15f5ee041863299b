package LLRTest;

# The test harness of ngx_llm_route_module: stock Debian perl only.
#
#   use lib 't/lib';
#   use LLRTest;
#
#   my $t = LLRTest->new;                 # temp dir, free ports, 2 workers
#   my $m = $t->mock;                     # perl mock provider (LLRMock)
#   $t->config(<<'EOF');                  # the body of http { ... }
#       upstream mock_backend { server 127.0.0.1:%%MOCK_PORT%%; keepalive 8; }
#       server { listen 127.0.0.1:%%PORT%%; location / { ... } }
#   EOF
#   $t->start;
#   my $r = $t->chat({ model => 'x', messages => [...] });
#   is($r->{status}, 200);
#   is($m->last_request->{json}{model}, 'x');
#   $t->done_testing;                     # stop, check error.log, plan
#
# Environment:
#   TEST_NGINX_BINARY   nginx binary (default /usr/sbin/nginx)
#   TEST_NGINX_MODULE   the module .so (default build/ngx_http_llm_route_module.so)
#   TEST_NGINX_LEAVE    keep the temp dir (its path is printed)
#   TEST_NGINX_DEBUG    error_log at "debug" instead of "info"
#   TEST_NGINX_TIMEOUT  seconds a whole test file may take (default 180)

use strict;
use warnings;

use Test::More ();
use File::Temp qw(tempdir);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IO::Socket::INET;
use IO::Select;
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Scalar::Util qw(weaken refaddr);
use Time::HiRes qw(time sleep);

use LLRMock;

our $REPO = abs_path(dirname(abs_path(__FILE__)) . '/../..');
our $NGINX = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $MODULE = $ENV{TEST_NGINX_MODULE}
              || "$REPO/build/ngx_http_llm_route_module.so";

my %LIVE;           # refaddr -> weak ref of every harness not yet stopped
my %USED_PORTS;

my $JSON = JSON::PP->new->utf8->canonical(1)->allow_nonref(1);

sub json_encode { $JSON->encode($_[-1]) }
sub json_decode { my $v = eval { JSON::PP->new->utf8->allow_nonref(1)
                                     ->decode($_[-1]) }; $v }

# LLRTest::metric($prometheus_text, 'name{labels}'): the value of one
# series, undef if it is not there
sub metric {
    my ($text, $series) = @_;
    for my $line (split /\n/, $text) {
        next if $line =~ /^#/;
        my ($s, $v) = $line =~ /^(\S+(?:\{.*\})?) (\S+)$/ or next;
        return $v + 0 if $s eq $series;
    }
    return undef;
}

# LLRTest::slurp($path): a file's whole text (dies if it cannot be read)
sub slurp {
    my ($f) = @_;
    open(my $fh, '<', $f) or die "$f: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

# ---- construction ---------------------------------------------------------

sub new {
    my ($class, %opts) = @_;

    my $module = exists $opts{module} ? $opts{module} : 1;

    if ($module && !-f $MODULE) {
        die "LLRTest: module not found: $MODULE (run make, or set "
            . "TEST_NGINX_MODULE)\n";
    }

    my $dir = tempdir('llrtest-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{TEST_NGINX_LEAVE});
    Test::More::diag("test dir: $dir") if $ENV{TEST_NGINX_LEAVE};

    my $self = bless {
        dir       => $dir,
        workers   => $opts{workers} // 2,
        module    => $module,
        main      => $opts{main} // '',
        ports     => [],
        mocks     => [],
        log_ignore => $opts{log_ignore},
        owner     => $$,
        conf_n    => 0,
    }, $class;

    my $timeout = $opts{timeout} // $ENV{TEST_NGINX_TIMEOUT} // 180;
    $SIG{PIPE} = 'IGNORE';
    $SIG{ALRM} = sub { die "LLRTest: test timed out after ${timeout}s\n" };
    alarm($timeout);

    $LIVE{refaddr $self} = $self;
    weaken($LIVE{refaddr $self});

    return $self;
}

sub dir { $_[0]{dir} }
sub repo { $REPO }
sub module_path { $MODULE }
sub nginx_binary { $NGINX }

sub free_port {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
            Listen => 1, ReuseAddr => 1,
        ) or die "LLRTest: cannot bind: $!";
        my $p = $s->sockport;
        close $s;
        return $p unless $USED_PORTS{$p}++;
    }
    die "LLRTest: no free port\n";
}

# nginx's listening ports: port() or port(1) is %%PORT%%, port(2) %%PORT2%%

sub port {
    my ($self, $n) = @_;
    $n ||= 1;
    $self->{ports}[$n] //= free_port();
    return $self->{ports}[$n];
}

# ---- the perl mock provider -----------------------------------------------

sub mock {
    my ($self, %opts) = @_;

    my $n = @{$self->{mocks}} + 1;
    my $m = LLRMock->new(dir => $self->{dir}, name => "mock$n", %opts);
    $m->start;
    push @{$self->{mocks}}, $m;

    return $m;
}

sub mocks { @{$_[0]{mocks}} }

# ---- configuration --------------------------------------------------------

sub config {
    my ($self, $text) = @_;
    $self->{http} = $text;
    return $self;
}

sub substitute {
    my ($self, $text) = @_;

    $text =~ s/%%PORT(\d*)%%/$self->port($1 || 1)/ge;
    $text =~ s/%%MOCK_PORT(\d*)%%/$self->_mock_port($1 || 1)/ge;
    $text =~ s/%%DIR%%/$self->{dir}/g;
    $text =~ s/%%REPO%%/$REPO/g;
    $text =~ s/%%MODULE%%/$MODULE/g;

    return $text;
}

sub _mock_port {
    my ($self, $n) = @_;
    my $m = $self->{mocks}[$n - 1]
        or die "LLRTest: %%MOCK_PORT" . ($n > 1 ? $n : '')
               . "%% used but only " . scalar(@{$self->{mocks}})
               . " mock(s) started\n";
    return $m->port;
}

# the whole nginx.conf around an http{} body

sub wrap {
    my ($self, $http, %opts) = @_;

    my $dir = $self->{dir};
    my $level = $ENV{TEST_NGINX_DEBUG} ? 'debug' : 'info';
    my $elog = $opts{error_log} // "$dir/error.log";
    my $module = exists $opts{module} ? $opts{module} : $self->{module};
    my $main = $opts{main} // $self->{main};

    my $conf = '';
    $conf .= "load_module $MODULE;\n" if $module;
    $conf .= "user root;\n" if $> == 0;
    $conf .= <<"EOF";
worker_processes $self->{workers};
daemon on;
master_process on;
error_log $elog $level;
pid $dir/nginx.pid;
$main
events {
    worker_connections 1024;
}

http {
    access_log $dir/access.log;
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;

$http
}
EOF

    return $self->substitute($conf);
}

sub write_config {
    my ($self) = @_;

    defined $self->{http} or die "LLRTest: config() not called\n";

    my $file = "$self->{dir}/nginx.conf";
    open(my $fh, '>', $file) or die "LLRTest: $file: $!";
    print $fh $self->wrap($self->{http});
    close $fh;

    return $file;
}

# ---- the standard routed configuration ------------------------------------

our $SECRET = 'sk-test-SECRET-d41d8cd98f00b204';

# The location every routing test uses, observing the variables with
# add_header (never the key).  %o: location => extra text in the location.

sub routed_location {
    my ($self, %o) = @_;
    my $path = $o{path} // '/v1/';
    my $extra = $o{location} // '';

    chomp(my $proxy = $self->proxy_directives(auth => 1, identity => 1,
                                              unbuffered => 1,
                                              attempt => 0));

    return <<"EOF";
        location $path {
            llm_route on;
            llm_route_trace on;
$proxy
            add_header X-Test-Url \$llm_route_url always;
            add_header X-Test-Upstream \$llm_route_upstream always;
            add_header X-Test-Host \$llm_route_host always;
            add_header X-Test-Provider \$llm_route_provider always;
            add_header X-Test-Model \$llm_route_model always;
            add_header X-Test-Requested \$llm_route_requested_model always;
            add_header X-Test-Policy "[\$llm_route_policy]" always;
            add_header X-Test-Attempt \$llm_route_attempt always;
$extra
        }
EOF
}

# The proxy lines of a routed location, for tests that write their own
# locations (failover, redirects, limits).  By default proxy_pass
# $llm_route_url, the Host header, HTTP/1.1 keepalive and the
# X-Test-Attempt header; %o adds or leaves out lines:
#
#   route => 1         "llm_route on;" first
#   host => 0          no Host header
#   keepalive => 0     no HTTP/1.1 and empty Connection
#   connection => 0    HTTP/1.1 without the empty Connection
#   attempt => 0       no X-Test-Attempt
#   auth => 1          Authorization $llm_route_authorization
#   identity => 1      Accept-Encoding "" (uncompressed answers)
#   tls => 1           proxy_ssl_server_name on, proxy_ssl_name
#   unbuffered => 1    proxy_buffering off (streams)
#   intercept => 1     proxy_intercept_errors on (error_page failover)
#   fallback => '@x'   error_page 429 500 502 503 504 = @x;
#   timeout => '1s'    proxy_read_timeout
#   extra => TEXT      more lines at the end

sub proxy_directives {
    my ($self, %o) = @_;

    my @l;
    push @l, 'llm_route on;' if $o{route};
    push @l, 'proxy_pass $llm_route_url;';
    push @l, 'proxy_set_header Host $llm_route_host;' if $o{host} // 1;
    push @l, 'proxy_set_header Authorization $llm_route_authorization;'
        if $o{auth};
    push @l, 'proxy_set_header Accept-Encoding "";' if $o{identity};
    if ($o{keepalive} // 1) {
        push @l, 'proxy_http_version 1.1;';
        push @l, 'proxy_set_header Connection "";' if $o{connection} // 1;
    }
    push @l, 'proxy_ssl_server_name on;', 'proxy_ssl_name $llm_route_host;'
        if $o{tls};
    push @l, 'proxy_buffering off;' if $o{unbuffered};
    push @l, "proxy_read_timeout $o{timeout};" if $o{timeout};
    push @l, 'add_header X-Test-Attempt $llm_route_attempt always;'
        if $o{attempt} // 1;
    push @l, 'proxy_intercept_errors on;' if $o{intercept};
    push @l, "error_page 429 500 502 503 504 = $o{fallback};"
        if $o{fallback};

    my $s = join('', map { "            $_\n" } @l);
    $s .= $o{extra} if defined $o{extra};

    return $s;
}

# A whole http{} body: the zone, one provider "mockp" on the first perl mock
# (upstream block with keepalive, literal key $SECRET), models gpt-4o-mini,
# gpt-4o and "fast" (upstream_model=gpt-4o-mini), and a server on %%PORT%%.
# %o: http => extra http-level text, server => extra server-level text,
#     location => extra text in the routed location.

sub routed_http {
    my ($self, %o) = @_;

    my $loc = $self->routed_location(%o);
    my $http = $o{http} // '';
    my $server = $o{server} // '';

    return <<"EOF";
    llm_route_zone llm:1m;

    upstream mock_backend {
        server 127.0.0.1:%%MOCK_PORT%%;
        keepalive 8;
    }

    llm_route_provider mockp {
        upstream mock_backend;
        scheme http;
        host mock.example;
        base_path /v1;
        api_key $SECRET;
    }

    llm_route_model gpt-4o-mini provider=mockp input=0.15 output=0.60
                    context=128000 quality=0.78;
    llm_route_model gpt-4o provider=mockp input=2.50 output=10.00
                    context=128000 quality=0.92;
    llm_route_model fast provider=mockp input=0.15 output=0.60
                    context=128000 quality=0.70 upstream_model=gpt-4o-mini;

$http

    server {
        listen 127.0.0.1:%%PORT%%;
        client_body_buffer_size 16k;
        client_max_body_size 2m;

$server

$loc
    }
EOF
}

# ---- nginx -t -------------------------------------------------------------

# nginx_t($path_or_full_config_text, prefix => DIR): (exit code, output)

sub nginx_t {
    my ($self, $conf, %opts) = @_;

    my $file = $conf;

    if ($conf =~ /\n/ || !-f $conf) {
        $file = sprintf("%s/t-%d.conf", $self->{dir}, ++$self->{conf_n});
        open(my $fh, '>', $file) or die "LLRTest: $file: $!";
        print $fh $conf;
        close $fh;
    }

    my $prefix = $opts{prefix} // "$self->{dir}/";
    $prefix .= '/' unless $prefix =~ m{/$};

    my $out = _run_capture($NGINX, '-t', '-q', '-p', $prefix, '-c', $file);
    my $rc = $? >> 8;

    # -q hides the "syntax is ok" lines; failures are printed regardless
    return ($rc, $out);
}

# nginx_t_http($http_body): wraps like config() (own error log), runs -t

sub nginx_t_http {
    my ($self, $http, %opts) = @_;

    my $text = $self->wrap($http,
                           error_log => "$self->{dir}/t-error.log", %opts);
    return $self->nginx_t($text);
}

sub _run_capture {
    my (@cmd) = @_;

    my $pid = open(my $fh, '-|');
    die "LLRTest: fork: $!" unless defined $pid;

    if ($pid == 0) {
        open(STDERR, '>&', \*STDOUT);
        exec(@cmd) or POSIX::_exit(127);
    }

    local $/;
    my $out = <$fh> // '';
    close $fh;

    return $out;
}

# ---- process control ------------------------------------------------------

sub master_pid {
    my ($self) = @_;
    open(my $fh, '<', "$self->{dir}/nginx.pid") or return undef;
    my $pid = <$fh>;
    close $fh;
    return undef unless defined $pid && $pid =~ /(\d+)/;
    return $1;
}

sub _alive {
    my ($pid) = @_;
    return 0 unless $pid && kill(0, $pid);
    if (open(my $fh, '<', "/proc/$pid/stat")) {
        my $st = <$fh> // '';
        close $fh;
        return 0 if $st =~ /\)\s+Z/;
    }
    return 1;
}

# children of the master that are serving (not "is shutting down")

sub worker_pids {
    my ($self, %opts) = @_;

    my $master = $self->master_pid or return ();
    my @pids;

    opendir(my $d, '/proc') or return ();
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open(my $fh, '<', "/proc/$pid/stat") or next;
        my $st = <$fh> // '';
        close $fh;
        my $rest = substr($st, rindex($st, ')') + 2);
        my ($state, $ppid) = split / /, $rest;
        next unless defined $ppid && $ppid == $master && $state ne 'Z';

        open(my $c, '<', "/proc/$pid/cmdline") or next;
        my $cmd = <$c> // '';
        close $c;
        next unless $cmd =~ /worker process/;
        next if !$opts{all} && $cmd =~ /shutting down/;

        push @pids, $pid;
    }
    closedir $d;

    return sort { $a <=> $b } @pids;
}

# SIGKILL the given workers and wait (up to 10 s) until the master has
# replaced them: none of them serving any more, as many serving as before;
# their "exited on signal 9" is expected in error.log from then on

sub kill_workers {
    my ($self, @pids) = @_;

    my $before = () = $self->worker_pids;
    my %old = map { $_ => 1 } @pids;

    kill 'KILL', @pids;

    my $end = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $end) {
        my @now = $self->worker_pids;
        last if !grep({ $old{$_} } @now) && @now >= $before;
        Time::HiRes::sleep(0.05);
    }

    $self->{log_ignore} = qr/exited on signal 9/;
}

# promtool check metrics on a Prometheus text: (exit status, output), or
# an empty list without promtool (Debian package "prometheus")

sub promtool {
    my ($self, $text) = @_;

    my $promtool = `command -v promtool 2>/dev/null`;
    chomp $promtool;
    return () unless $promtool;

    my $f = $self->{dir} . '/metrics-' . ++$self->{promtool_runs} . '.txt';
    open(my $fh, '>', $f) or die "$f: $!";
    print $fh $text;
    close $fh;

    my $out = `$promtool check metrics < $f 2>&1`;
    return ($? >> 8, $out);
}

sub _wait_port {
    my ($port, $timeout) = @_;
    my $end = time + $timeout;

    while (time < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp',
                                      Timeout => 1);
        if ($s) {
            close $s;
            return 1;
        }
        sleep 0.02;
    }

    return 0;
}

sub start {
    my ($self) = @_;

    my $conf = $self->write_config;
    my $dir = $self->{dir};

    unlink "$dir/nginx.pid";

    my $out = _run_capture($NGINX, '-p', "$dir/", '-c', $conf);
    my $rc = $? >> 8;

    if ($rc != 0) {
        Test::More::diag("nginx failed to start ($rc):\n$out"
                         . $self->_log_tail);
        die "LLRTest: nginx failed to start\n";
    }

    my $end = time + 10;
    sleep 0.02 while !$self->master_pid && time < $end;
    die "LLRTest: no pid file\n" . $self->_log_tail unless $self->master_pid;

    $self->{running} = 1;

    for my $p (grep { defined } @{$self->{ports}}) {
        _wait_port($p, 10) or die "LLRTest: port $p does not accept\n";
    }

    $end = time + 10;
    while (time < $end) {
        my @w = $self->worker_pids;
        last if @w >= $self->{workers};
        sleep 0.02;
    }

    return $self;
}

sub _log_tail {
    my ($self) = @_;
    my @l = split /\n/, $self->error_log;
    splice(@l, 0, @l - 20) if @l > 20;
    return join('', map { "  $_\n" } @l);
}

sub error_log {
    my ($self, $file) = @_;
    $file //= "$self->{dir}/error.log";
    open(my $fh, '<', $file) or return '';
    local $/;
    my $s = <$fh> // '';
    close $fh;
    return $s;
}

# lines of error.log that must never appear

sub bad_log_lines {
    my ($self) = @_;

    my @bad = grep {
        /\[(alert|emerg|crit)\]/ || /exited on signal/
    } split /\n/, $self->error_log;

    if (my $re = $self->{log_ignore}) {
        @bad = grep { !/$re/ } @bad;
    }

    return @bad;
}

sub check_log {
    my ($self, $name) = @_;

    my @bad = $self->bad_log_lines;
    my $tb = Test::More->builder;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    Test::More::ok(!@bad, $name // 'no alerts in error.log')
        or Test::More::diag(join("\n", @bad));
}

sub _signal_and_wait {
    my ($self, $sig, $timeout) = @_;

    my $pid = $self->master_pid or return 1;
    kill $sig, $pid;

    my $end = time + $timeout;
    while (time < $end) {
        return 1 unless _alive($pid);
        sleep 0.02;
    }

    return 0;
}

# graceful stop, then the error.log check (one assertion)

sub stop {
    my ($self, %opts) = @_;

    if ($self->{running}) {
        my $graceful = $self->_signal_and_wait('QUIT', 15);
        unless ($graceful) {
            $self->_signal_and_wait('TERM', 5)
                or $self->_signal_and_wait('KILL', 5);
        }
        $self->{running} = 0;

        Test::More::ok($graceful, 'nginx exited on QUIT')
            unless $opts{quiet};
    }

    $_->stop for @{$self->{mocks}};

    unless ($opts{quiet} || $self->{log_checked}++) {
        local $Test::Builder::Level = $Test::Builder::Level + 1;
        $self->check_log;
    }

    delete $LIVE{refaddr $self};

    return $self;
}

sub done_testing {
    my ($self, @args) = @_;
    $self->stop;
    alarm(0);
    Test::More::done_testing(@args);
}

# HUP (optionally with a new http{} body) and wait for a new generation of
# workers; returns true when every serving worker is new

sub reload {
    my ($self, %opts) = @_;

    if (defined $opts{config}) {
        $self->{http} = $opts{config};
    }
    $self->write_config;

    my %old = map { $_ => 1 } $self->worker_pids(all => 1);
    my $master = $self->master_pid or return 0;

    kill 'HUP', $master;

    my $end = time + ($opts{timeout} // 10);
    while (time < $end) {
        my @now = $self->worker_pids;
        if (@now >= $self->{workers} && !grep { $old{$_} } @now) {
            for my $p (grep { defined } @{$self->{ports}}) {
                _wait_port($p, 5) or return 0;
            }
            return 1;
        }
        sleep 0.05;
    }

    return 0;
}

sub _cleanup {
    my ($self) = @_;
    return unless $self->{owner} && $self->{owner} == $$;

    if ($self->{running}) {
        $self->_signal_and_wait('QUIT', 5)
            or $self->_signal_and_wait('TERM', 3)
            or $self->_signal_and_wait('KILL', 3);
        $self->{running} = 0;

        my @bad = $self->bad_log_lines;
        print STDERR "# error.log alerts:\n", map { "#   $_\n" } @bad
            if @bad;
    }

    $_ && $_->stop for @{$self->{mocks} || []};
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    $self->_cleanup;
}

END {
    local $?;
    for my $t (values %LIVE) {
        $t->_cleanup if $t;
    }
}

# ---- clients --------------------------------------------------------------

sub _http {
    my ($self, %opts) = @_;
    return HTTP::Tiny->new(timeout => $opts{timeout} // 20,
                           max_redirect => 0, keep_alive => 0,
                           agent => 'llrtest/1');
}

# request(METHOD => '/path', body => BYTES, headers => {...}, port => N)
# returns { status, reason, headers (lowercase names), content, json }

sub request {
    my ($self, $method, $path, %opts) = @_;

    my $port = $opts{port} // $self->port;
    my $url = "http://127.0.0.1:$port$path";

    my %args = (headers => $opts{headers} || {});
    $args{content} = $opts{body} if defined $opts{body};

    my $res = $self->_http(%opts)->request($method, $url, \%args);

    $res->{json} = json_decode($res->{content})
        if defined $res->{content} && length $res->{content};

    return $res;
}

sub get { my $self = shift; $self->request('GET', @_) }

# chat(\%body or $raw_json, path => ..., headers => {...})

sub chat {
    my ($self, $body, %opts) = @_;

    my $path = delete $opts{path} // '/v1/chat/completions';
    my $bytes = ref $body ? json_encode($body) : $body;

    my %h = ('Content-Type' => 'application/json',
             %{ delete $opts{headers} || {} });

    return $self->request('POST', $path, body => $bytes, headers => \%h,
                          %opts);
}

# raw($bytes, port => N, timeout => S): send bytes, read until EOF

sub raw {
    my ($self, $bytes, %opts) = @_;

    my $port = $opts{port} // $self->port;
    my $timeout = $opts{timeout} // 10;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "LLRTest: connect $port: $!";
    binmode $s;

    my @parts = ref $bytes eq 'ARRAY' ? @$bytes : ($bytes);
    for my $i (0 .. $#parts) {
        sleep($opts{pause} // 0.05) if $i > 0;
        my $off = 0;
        my $d = $parts[$i];
        while ($off < length $d) {
            my $n = syswrite($s, $d, length($d) - $off, $off);
            last unless $n;
            $off += $n;
        }
    }

    my $sel = IO::Select->new($s);
    my $buf = '';
    my $end = time + $timeout;

    while (time < $end) {
        last unless $sel->can_read($end - time);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }

    close $s;
    return $buf;
}

# parse a raw HTTP response: { status, headers, body (de-chunked), raw }

sub parse_response {
    my ($raw) = @_;
    $raw = $_[1] if @_ > 1;

    my $i = index($raw, "\r\n\r\n");
    return { status => 0, headers => {}, body => '', raw => $raw } if $i < 0;

    my ($line, @h) = split /\r\n/, substr($raw, 0, $i);
    my ($status) = $line =~ m{^HTTP/\d\.\d (\d{3})};
    my %h;
    for (@h) {
        my ($n, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $n} = exists $h{lc $n} ? "$h{lc $n}, $v" : $v;
    }

    my $body = substr($raw, $i + 4);

    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n);
            substr($body, 0, $n + 2, '');
        }
        $body = $out;

    } elsif (defined $h{'content-length'}) {
        $body = substr($body, 0, $h{'content-length'});
    }

    return { status => $status // 0, headers => \%h, body => $body,
             raw => $raw, json => json_decode($body) };
}

# stream_request(path => ..., body => BYTES|\%json, headers => {...})
# Reads an SSE response incrementally; returns
# { status, headers, events => [{ data, time }], body, done (saw [DONE]),
#   t_start, t_headers, t_end }

sub stream_request {
    my ($self, %opts) = @_;

    my $port = $opts{port} // $self->port;
    my $path = $opts{path} // '/v1/chat/completions';
    my $body = ref $opts{body} ? json_encode($opts{body}) : $opts{body} // '';
    my $timeout = $opts{timeout} // 20;

    my %h = ('Host' => "127.0.0.1:$port",
             'Content-Type' => 'application/json',
             'Content-Length' => length($body),
             'Connection' => 'close',
             %{ $opts{headers} || {} });

    my $req = ($opts{method} // 'POST') . " $path HTTP/1.1\r\n"
            . join('', map { "$_: $h{$_}\r\n" } sort keys %h)
            . "\r\n" . $body;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "LLRTest: connect $port: $!";
    binmode $s;

    my $res = { events => [], t_start => time, body => '', done => 0 };

    syswrite($s, $req);

    my $sel = IO::Select->new($s);
    my ($buf, $data, $chunked, $head_done) = ('', '', 0, 0);
    my $end = time + $timeout;
    my $eof = 0;

    while (!$eof && time < $end) {
        last unless $sel->can_read($end - time);
        my $n = sysread($s, $buf, 65536, length $buf);
        $eof = 1 unless $n;
        my $now = time;

        if (!$head_done) {
            my $i = index($buf, "\r\n\r\n");
            next if $i < 0 && !$eof;
            last if $i < 0;
            my $p = parse_response(substr($buf, 0, $i + 4));
            $res->{status} = $p->{status};
            $res->{headers} = $p->{headers};
            $res->{t_headers} = $now;
            $chunked = ($p->{headers}{'transfer-encoding'} // '')
                       =~ /chunked/i;
            substr($buf, 0, $i + 4, '');
            $head_done = 1;
        }

        if ($chunked) {
            while ($buf =~ /^([0-9a-fA-F]+)[^\r\n]*\r\n/) {
                my $hl = length $&;
                my $n = hex $1;
                if ($n == 0) {
                    $buf = '';
                    $eof = 1;
                    last;
                }
                last if length($buf) < $hl + $n + 2;
                $data .= substr($buf, $hl, $n);
                substr($buf, 0, $hl + $n + 2, '');
            }
        } else {
            $data .= $buf;
            $buf = '';
        }

        while ((my $i = index($data, "\n\n")) >= 0) {
            my $ev = substr($data, 0, $i);
            substr($data, 0, $i + 2, '');
            $res->{body} .= "$ev\n\n";
            my @d = map { /^data: ?(.*)$/ ? $1 : () } split /\n/, $ev;
            my $d = join("\n", @d);
            push @{$res->{events}}, { data => $d, raw => $ev, time => $now,
                                      json => json_decode($d) };
            $res->{done} = 1 if $d eq '[DONE]';
        }
    }

    $res->{body} .= $data;
    $res->{rest} = $data;
    $res->{t_end} = time;
    $res->{eof} = $eof;
    close $s;

    return $res;
}


# ---- the status --------------------------------------------------------------

# The status JSON (GET $path, default /llm/status) once totals.requests
# is at least $want (a request is counted in its log phase, after the
# client has its answer): polled for 5 s at most; without $want, now.
sub status_json {
    my ($self, $want, $path) = @_;
    my $j;
    for (1 .. 100) {
        $j = $self->get($path // '/llm/status')->{json} || {};
        last if !defined $want || ($j->{totals}{requests} // 0) >= $want;
        sleep 0.05;
    }
    return $j;
}

# ---- headless chromium (the dashboard's tests) ----------------------------

# its path, or undef (Debian package "chromium")
sub chromium_path {
    my ($path) = grep { -x } map {; ("$_/chromium", "$_/chromium-browser") }
                 split /:/, $ENV{PATH};
    return $path;
}

my @CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu',
                      '--disable-quic', '--no-first-run',
                      '--disable-background-networking',
                      '--disable-component-update', '--disable-sync',
                      '--disable-dev-shm-usage');

# run it with @args (a fresh profile, at most 90 s); its output
sub chromium {
    my (@args) = @_;
    my $profile = tempdir('chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open(STDERR, '>', '/dev/null');
        exec('timeout', '90', chromium_path(), @CHROMIUM_FLAGS,
             "--user-data-dir=$profile", @args) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return $out;
}

1;
