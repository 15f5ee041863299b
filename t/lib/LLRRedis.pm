package LLRRedis;

# A redis-server of the test's own, and what a fleet test does to it: stock
# Debian perl only.
#
#   use LLRRedis;
#   plan skip_all => 'no redis-server' unless LLRRedis->available;
#   my $r = LLRRedis->new(dir => $t->dir);   # free loopback port, started
#   $r->port;                                # its port (or $r->unix: socket)
#   $r->cmd(qw(SET k v));                    # a small RESP client
#   $r->kill;  $r->start;                    # SIGKILL, then again (same port,
#                                            #   same append-only file)
#   $r->stop;                                # SHUTDOWN, or TERM
#   $r->sleep_ms(300);                       # DEBUG SLEEP: one stall
#   my $p = $r->proxy;                       # a TCP proxy in front of it
#   $p->delay(200);  $p->pause;  $p->resume;  $p->cut;  $p->stop;
#   $p->failover($replica->port);            # connections cut, new ones
#                                            #   go to the replica
#
# new(dir => D, password => P, persist => 0|1 (default 1: appendonly with
# fsync always, so a kill loses nothing), args => [...] more redis-server
# arguments).  Everything started is stopped when the object goes.

use strict;
use warnings;

use IO::Socket::INET;
use IO::Socket::UNIX;
use IO::Select;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use Errno qw(EAGAIN EWOULDBLOCK EINTR);

our $N = 0;
our $SERVER = $ENV{TEST_REDIS_SERVER} || 'redis-server';

# 1 if redis-server is installed; without it a test skips, unless
# LLR_REDIS_REQUIRED is set (make test sets it): then it fails
sub available {
    for my $d (split /:/, ($ENV{PATH} // '') . ':/usr/bin:/usr/sbin') {
        return 1 if $SERVER =~ m{/} ? -x $SERVER : -x "$d/$SERVER";
    }
    die "LLRRedis: $SERVER is not installed and LLR_REDIS_REQUIRED is set\n"
        if $ENV{LLR_REDIS_REQUIRED};
    return 0;
}

sub _free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1,
                                  ReuseAddr => 1)
        or die "LLRRedis: cannot bind: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub new {
    my ($class, %o) = @_;

    my $n = ++$LLRRedis::N;
    my $dir = "$o{dir}/redis$n";
    mkdir $dir or die "LLRRedis: mkdir $dir: $!";

    my $self = bless {
        dir      => $dir,
        port     => $o{port} // _free_port(),
        password => $o{password},
        persist  => $o{persist} // 1,
        args     => $o{args} || [],
        owner    => $$,
        proxies  => [],
    }, $class;

    $self->start;

    return $self;
}

sub port { $_[0]{port} }
sub unix { "$_[0]{dir}/redis.sock" }
sub dir { $_[0]{dir} }
sub pid { $_[0]{pid} }
sub log_file { "$_[0]{dir}/redis.log" }

sub start {
    my ($self) = @_;

    die "LLRRedis: already running\n" if $self->{pid};

    my @args = ($SERVER,
        '--port', $self->{port}, '--bind', '127.0.0.1',
        '--unixsocket', $self->unix, '--unixsocketperm', '777',
        '--dir', $self->{dir}, '--logfile', $self->log_file,
        '--daemonize', 'no', '--save', '',
        '--enable-debug-command', 'local',
        ($self->{persist}
            ? ('--appendonly', 'yes', '--appendfsync', 'always') : ()),
        (defined $self->{password}
            ? ('--requirepass', $self->{password}) : ()),
        @{$self->{args}});

    my $pid = fork() // die "LLRRedis: fork: $!";
    if ($pid == 0) {
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>>', $self->log_file);
        open(STDERR, '>&', \*STDOUT);
        exec(@args) or POSIX::_exit(127);
    }
    $self->{pid} = $pid;

    my $end = time + 10;
    while (time < $end) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            die "LLRRedis: redis-server exited:\n" . $self->_log_tail;
        }
        my $r = eval { $self->cmd('PING') };
        return $self if defined $r && $r eq 'PONG';
        sleep 0.02;
    }

    die "LLRRedis: redis-server does not answer:\n" . $self->_log_tail;
}

sub _log_tail {
    my ($self) = @_;
    open(my $fh, '<', $self->log_file) or return '';
    my @l = <$fh>;
    splice(@l, 0, @l - 10) if @l > 10;
    return join('', map { "  $_" } @l);
}

sub _reap {
    my ($self, $timeout) = @_;
    my $pid = $self->{pid} or return 1;
    my $end = time + $timeout;
    while (time < $end) {
        if (waitpid($pid, WNOHANG) != 0) {
            delete $self->{pid};
            delete $self->{sock};
            return 1;
        }
        sleep 0.01;
    }
    return 0;
}

# SIGKILL: what a crash or a lost machine does
sub kill {
    my ($self) = @_;
    return unless $self->{pid};
    CORE::kill('KILL', $self->{pid});
    $self->_reap(10);
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    CORE::kill('TERM', $self->{pid});
    $self->_reap(10) or $self->kill;
}

# ---- a RESP client (blocking: it is the test's, never nginx's) -----------

sub _sock {
    my ($self) = @_;

    return $self->{sock} if $self->{sock};

    my $s = IO::Socket::UNIX->new(Peer => $self->unix, Type => SOCK_STREAM)
        or die "LLRRedis: connect: $!\n";
    $self->{sock} = $s;

    if (defined $self->{password}) {
        my $r = $self->_do($s, 'AUTH', $self->{password});
        die "LLRRedis: AUTH: $r->{error}\n" if ref $r eq 'HASH';
    }

    return $s;
}

sub _do {
    my ($self, $s, @argv) = @_;

    my $req = '*' . scalar(@argv) . "\r\n";
    $req .= '$' . length($_) . "\r\n$_\r\n" for @argv;

    local $SIG{ALRM} = sub { die "LLRRedis: no answer\n" };
    my $old = alarm(10);
    my $r = eval {
        print $s $req or die "LLRRedis: write: $!\n";
        _read_reply($s);
    };
    my $err = $@;
    alarm($old);
    die $err if $err;

    return $r;
}

# a reply: a string, a number, undef (nil), an array ref, or
# { error => "..." }
sub cmd {
    my ($self, @argv) = @_;

    my $r = eval { $self->_do($self->_sock, @argv) };
    if ($@) {
        delete $self->{sock};
        die $@;
    }
    return $r;
}

sub _line {
    my ($s) = @_;
    my $l = <$s>;
    die "LLRRedis: connection closed\n" unless defined $l;
    $l =~ s/\r\n\z//;
    return $l;
}

sub _read_reply {
    my ($s) = @_;

    my $l = _line($s);
    my ($t, $v) = (substr($l, 0, 1), substr($l, 1));

    return $v if $t eq '+';
    return { error => $v } if $t eq '-';
    return 0 + $v if $t eq ':';

    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        while (length($buf) < $v + 2) {
            my $n = read($s, $buf, $v + 2 - length($buf), length($buf));
            die "LLRRedis: connection closed\n" unless $n;
        }
        return substr($buf, 0, $v);
    }

    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { _read_reply($s) } 1 .. $v ];
    }

    die "LLRRedis: bad reply line '$l'\n";
}

# clients connected over TCP or the socket, but this harness's own
sub clients {
    my ($self) = @_;
    my $list = $self->cmd('CLIENT', 'LIST');
    return grep { !/ cmd=client\|list / } split /\n/, $list;
}

# one stall of the whole server (DEBUG SLEEP), in the background
sub sleep_ms {
    my ($self, $ms) = @_;
    my $pid = fork() // die "LLRRedis: fork: $!";
    if ($pid == 0) {
        my $c = bless { %$self, sock => undef }, ref $self;
        eval { $c->cmd('DEBUG', 'SLEEP', sprintf('%.3f', $ms / 1000)) };
        POSIX::_exit(0);
    }
    push @{$self->{kids}}, $pid;
    return $pid;
}

# ---- a proxy in front of it: latency, partitions --------------------------

sub proxy {
    my ($self, %o) = @_;
    my $p = LLRRedis::Proxy->new(dir => $self->{dir}, to => $self->{port},
                                 %o);
    push @{$self->{proxies}}, $p;
    return $p;
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    return unless $self->{owner} && $self->{owner} == $$;
    $_->stop for @{$self->{proxies}};
    $self->stop;
    for my $k (@{$self->{kids} || []}) {
        CORE::kill('KILL', $k);
        waitpid($k, 0);
    }
}


package LLRRedis::Proxy;

# A forked TCP proxy on a free loopback port.  Its mode is a control file
# it reads every few milliseconds:
#   pass          forward both ways
#   delay N       forward what the client sends N ms late (every command
#                 answered N ms later: a slow Redis or a long link)
#   pause         forward nothing, keep every connection and what was sent
#                 (a partition: TCP keeps the bytes; they go on after resume)
#   cut           close every connection now, then pass
#   to PORT       a failover: close every connection now, then forward new
#                 ones to PORT (the promoted replica), then pass

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

sub new {
    my ($class, %o) = @_;

    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 64,
                                  ReuseAddr => 1)
        or die "LLRRedis::Proxy: bind: $!";

    my $self = bless {
        port  => $l->sockport,
        to    => $o{to},
        ctl   => "$o{dir}/proxy-" . $l->sockport,
        owner => $$,
    }, $class;

    $self->_mode('pass');

    my $pid = fork() // die "LLRRedis::Proxy: fork: $!";
    if ($pid == 0) {
        $SIG{PIPE} = "IGNORE";
        $self->_run($l);
        POSIX::_exit(0);
    }
    close $l;
    $self->{pid} = $pid;

    return $self;
}

sub port { $_[0]{port} }

sub _mode {
    my ($self, $mode) = @_;
    my $tmp = "$self->{ctl}.tmp";
    open(my $fh, '>', $tmp) or die "LLRRedis::Proxy: $tmp: $!";
    print $fh "$mode\n";
    close $fh;
    rename $tmp, $self->{ctl} or die "LLRRedis::Proxy: rename: $!";
    sleep 0.03;                 # it reads the file every 5 ms
}

sub delay { $_[0]->_mode("delay $_[1]") }
sub pause { $_[0]->_mode('pause') }
sub resume { $_[0]->_mode('pass') }
sub cut { $_[0]->_mode('cut') }
sub failover { $_[0]->_mode("to $_[1]") }

sub stop {
    my ($self) = @_;
    return unless $self->{pid} && $self->{owner} == $$;
    CORE::kill('KILL', $self->{pid});
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

sub DESTROY { local ($?, $!, $@); $_[0]->stop }

sub _read_mode {
    my ($self) = @_;
    open(my $fh, '<', $self->{ctl}) or return $self->{mode} // 'pass';
    my $m = <$fh> // 'pass';
    chomp $m;
    return $m;
}

sub _run {
    my ($self, $l) = @_;

    $l->blocking(0);
    my $sel = IO::Select->new($l);
    my %peer;       # fileno -> the other socket
    my %queue;      # fileno of the destination -> [[due, bytes], ...]
    my %sock;       # fileno -> socket
    my %up;         # fileno of a client's upstream socket -> 1

    my $close = sub {
        my ($s) = @_;
        my $f0 = fileno $s;
        my @pair = grep { $_ } ($s, defined $f0 ? $peer{$f0} : undef);
        for my $x (@pair) {
            my $f = fileno $x;
            next unless defined $f;
            $sel->remove($x);
            delete $peer{$f};
            delete $queue{$f};
            delete $sock{$f};
            delete $up{$f};
            close $x;
        }
    };

    my $last_mode = 0;
    $self->{mode} = 'pass';

    while (1) {
        if (time - $last_mode > 0.005) {
            my $m = $self->_read_mode;
            if ($m eq 'cut' || $m =~ /^to (\d+)$/) {
                $self->{to} = $1 if $m =~ /^to (\d+)$/;
                my @all = values %sock;
                $close->($_) for @all;
                $self->_mode_quiet('pass');
                $m = 'pass';
            }
            $self->{mode} = $m;
            $last_mode = time;
        }

        my $mode = $self->{mode};
        my $delay = $mode =~ /^delay (\d+)/ ? $1 / 1000 : 0;
        my $paused = $mode eq 'pause';

        for my $s ($sel->can_read(0.002)) {
            if ($s == $l) {
                my $c = $l->accept or next;
                my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                              PeerPort => $self->{to},
                                              Proto => 'tcp');
                unless ($u) { close $c; next; }
                $_->blocking(0) for $c, $u;
                $peer{fileno $c} = $u;
                $peer{fileno $u} = $c;
                $sock{fileno $c} = $c;
                $sock{fileno $u} = $u;
                $up{fileno $u} = 1;
                $sel->add($c, $u);
                next;
            }

            my $buf;
            my $n = sysread($s, $buf, 65536);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                $close->($s);
                next;
            }
            if ($n == 0) {
                $close->($s);
                next;
            }

            my $to = $peer{fileno $s} or next;
            # the client's bytes wait the delay; Redis' answers go at once
            my $due = time + ($up{fileno $to} ? $delay : 0);
            push @{$queue{fileno $to}}, [$due, $buf];
        }

        next if $paused;

        for my $f (keys %queue) {
            my $q = $queue{$f};
            my $dst = $sock{$f} or next;
            while (@$q && $q->[0][0] <= time) {
                my $w = syswrite($dst, $q->[0][1]);
                if (!defined $w) {
                    last if $!{EAGAIN} || $!{EWOULDBLOCK};
                    $close->($dst);
                    last;
                }
                substr($q->[0][1], 0, $w, '');
                last if length $q->[0][1];
                shift @$q;
            }
        }
    }
}

sub _mode_quiet {
    my ($self, $mode) = @_;
    my $tmp = "$self->{ctl}.tmp";
    open(my $fh, '>', $tmp) or return;
    print $fh "$mode\n";
    close $fh;
    rename $tmp, $self->{ctl};
}

1;
