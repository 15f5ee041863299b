#!/usr/bin/perl

# The Debian package, end to end on this machine (as root; skipped
# otherwise):
#
#   make deb; dpkg -i build/libnginx-mod-http-llm-route_*.deb
#   -> the module enabled in /etc/nginx/modules-enabled, the nginx ABI
#      dependency, the tools, docs and examples, the state directory owned
#      by www-data, the logrotate file;
#   the shipped conf.d/llm-route-demo.conf in /etc/nginx/conf.d/ (on ports
#   of its own) -> the system nginx passes "nginx -t";
#   the system nginx serves a request through the mock, stops, starts
#   again with the counters of before (the state file, written by the
#   www-data workers);
#   dpkg --purge -> /etc/nginx, the module directories, /usr/bin and
#   /var/lib/nginx are as they were before the test.
#
# "The system nginx" here is /usr/sbin/nginx with the system's
# /etc/nginx/nginx.conf (modules-enabled, conf.d/, user www-data), run
# from a copy of that file in which only what would touch the running
# system is changed: its pid file, its logs and temp paths go to the
# test's directory and the sites-enabled include (port 80) is left out.
# The test never starts, stops or reloads an nginx it did not start, and
# skips when the system nginx is running or the package is installed.
# Tests that touch the system nginx hold $LOCK (flock) while they do.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use Fcntl qw(:flock);
use Digest::SHA;
use File::Find;
use POSIX qw(:sys_wait_h);

my $PKG = 'libnginx-mod-http-llm-route';
my $LOCK = '/run/lock/ngx-llm-route-system-nginx.lock';
my $NGINX = '/usr/sbin/nginx';
my $CONFD = '/etc/nginx/conf.d';
my $STATE_DIR = '/var/lib/nginx/llm_route';

plan skip_all => 'needs root: installs a package into the system nginx'
    unless $> == 0;
plan skip_all => 'the package is for the system nginx; this run tests '
    . "$ENV{TEST_NGINX_BINARY} (the suite runs it with /usr/sbin/nginx)"
    if ($ENV{TEST_NGINX_BINARY} // $NGINX) ne $NGINX;
plan skip_all => 'needs dpkg, /usr/sbin/nginx and /etc/nginx/nginx.conf '
    . '(a Debian system with nginx)'
    unless -x '/usr/bin/dpkg' && -x $NGINX && -f '/etc/nginx/nginx.conf'
           && -d $CONFD;

my $t = LLRTest->new(timeout => 900);
my $repo = $t->repo;
my $dir = $t->dir;

sub run {
    my $out = `@_ 2>&1`;
    return ($? >> 8, $out);
}

sub system_nginx_running {
    open(my $fh, '<', '/run/nginx.pid') or return 0;
    my ($pid) = (<$fh> // '') =~ /(\d+)/;
    return $pid && kill(0, $pid);
}

sub installed {
    my ($rc, $out) = run("dpkg-query -W -f '\${Status}' $PKG");
    return $rc == 0 && $out =~ /installed|config-files|unpacked/;
}

# ---- serialise with anything else that touches the system nginx ----------

mkdir '/run/lock' unless -d '/run/lock';
open(my $lock, '>>', $LOCK) or die "$LOCK: $!";
unless (flock($lock, LOCK_EX | LOCK_NB)) {
    diag("waiting for $LOCK");
    flock($lock, LOCK_EX) or die "flock: $!";
}

if (system_nginx_running()) {
    plan skip_all => 'the system nginx is running (/run/nginx.pid): '
        . 'installing the package would reload it; stop it first';
}
if (installed()) {
    plan skip_all => "$PKG is installed: the test would purge it";
}

# ---- the state of the system before ---------------------------------------

my @WATCH = ('/etc/nginx', '/usr/lib/nginx/modules',
             '/usr/share/nginx/modules-available', '/etc/logrotate.d',
             '/var/lib/nginx');

sub snapshot {
    my %s;
    for my $top (grep { -e } @WATCH) {
        find({ no_chdir => 1, wanted => sub {
            my $p = $File::Find::name;
            my @st = lstat($p) or return;
            my $v = sprintf('%o %d:%d', $st[2], $st[4], $st[5]);
            if (-l $p) {
                $v .= ' -> ' . readlink($p);
            } elsif (-f _) {
                $v .= ' ' . Digest::SHA->new(256)->addfile($p)->hexdigest;
            }
            $s{$p} = $v;
        } }, $top);
    }
    $s{$_} = 'present' for glob('/usr/bin/llm-route-*');
    my (undef, $st) = run("dpkg-query -W -f '\${Package} \${Status}\\n' "
                          . "'nginx*' 'libnginx-mod-*'");
    $s{'dpkg'} = join("\n", sort grep { /installed/ } split /\n/, $st);
    return \%s;
}

sub diff_snapshots {
    my ($a, $b) = @_;
    my @d;
    for my $k (sort keys %{{ %$a, %$b }}) {
        my ($x, $y) = ($a->{$k} // '(absent)', $b->{$k} // '(absent)');
        push @d, "$k: $x => $y" if $x ne $y;
    }
    return @d;
}

# nginx -t and nginx itself create and chown its temp directories
# (/var/lib/nginx/body, ...) for the worker user: give them back
sub restore_owners {
    my ($before) = @_;
    for my $p (grep { m{^/var/lib/nginx/} } keys %$before) {
        my ($mode, $uid, $gid) = $before->{$p} =~ /^(\d+) (\d+):(\d+)/;
        next unless -e $p && !-l $p;
        chown($uid, $gid, $p);
        chmod(oct($mode) & 07777, $p);
    }
}

my $before = snapshot();

# ---- from here on, whatever happens, leave the system as it was -----------

my ($snippet, $served_pid, $cleaned);

sub stop_served {
    my ($pidfile) = @_;
    open(my $fh, '<', $pidfile) or return 1;
    my ($pid) = (<$fh> // '') =~ /(\d+)/;
    close $fh;
    return 1 unless $pid && kill(0, $pid);
    kill 'QUIT', $pid;
    for (1 .. 300) {
        return 1 unless kill(0, $pid);
        select(undef, undef, undef, 0.05);
    }
    kill 'KILL', $pid;
    return 0;
}

sub cleanup {
    return if $cleaned++;
    stop_served("$dir/nginx.pid");
    unlink $snippet if $snippet;
    if (installed()) {
        my ($rc, $out) = dpkg("--purge $PKG");
        diag("dpkg --purge: $out") if $rc;
    }
    restore_owners($before);
}

END { cleanup() if $t && $t->{owner} && $t->{owner} == $$ }

# ---- build and install ----------------------------------------------------

my ($rc, $out) = run("make -C $repo --no-print-directory deb");
is($rc, 0, 'make deb') or diag($out);

my @debs = glob("$repo/build/${PKG}_*.deb");
is(scalar(@debs), 1, 'one package in build/: '
   . join(' ', map { s{.*/}{}r } @debs));
my $deb = $debs[0] // '';

chomp(my $arch = `dpkg --print-architecture`);
like($deb, qr{/${PKG}_[0-9][^_]*_$arch\.deb$},
     "named ${PKG}_<version>_$arch.deb");

($rc, $out) = run("dpkg-deb -f $deb Depends");
like($out, qr/\bnginx-abi-[\d.]+-\d+\b/,
     'depends on the nginx ABI it was built for');
my ($abi) = $out =~ /\b(nginx-abi-[\d.]+-\d+)\b/;
($rc, my $prov) = run("dpkg-query -W -f '\${Provides}' nginx");
like($prov, qr/\Q$abi\E/, "the installed nginx provides $abi")
    if $abi;

# dpkg -i, waiting (a while) for another dpkg or apt to finish
sub dpkg {
    my ($args) = @_;
    my ($rc, $out);
    for (1 .. 120) {
        ($rc, $out) = run("dpkg $args");
        last unless $rc && $out =~ /\block\b/;
        diag('dpkg is locked, waiting') if $_ == 1;
        sleep 1;
    }
    return ($rc, $out);
}

($rc, $out) = dpkg("-i $deb");
is($rc, 0, 'dpkg -i') or diag($out);

unless (installed()) {
    fail("$PKG is installed");
    cleanup();
    done_testing;
    exit;
}
pass("$PKG is installed");

ok(-f '/usr/lib/nginx/modules/ngx_http_llm_route_module.so',
   'the module in /usr/lib/nginx/modules/');
is(readlink('/etc/nginx/modules-enabled/50-mod-http-llm-route.conf'),
   '/usr/share/nginx/modules-available/mod-http-llm-route.conf',
   'enabled through /etc/nginx/modules-enabled/');
($rc, $out) = run('cat /usr/share/nginx/modules-available/mod-http-llm-route.conf');
like($out, qr{^load_module modules/ngx_http_llm_route_module\.so;$}m,
     'the load_module line');

for my $tool (qw(llm-route-classify llm-route-train)) {
    ok(-x "/usr/bin/$tool", "/usr/bin/$tool");
}
($rc, $out) = run(q{echo '{"prompt":"Write a Python function that sorts a list."}'}
                  . ' | /usr/bin/llm-route-classify');
like($out, qr/"task":"code"/, 'llm-route-classify works') or diag($out);
if (-f "$repo/build/llm-route-calibrate") {
    ok(-x '/usr/bin/llm-route-calibrate', '/usr/bin/llm-route-calibrate');
}

my $doc = "/usr/share/doc/$PKG";
ok(-f "$doc/examples/conf.d/llm-route-demo.conf"
   && -f "$doc/examples/openai.conf", "examples under $doc/examples/");
ok(-f "$doc/copyright" && -f "$doc/observability/grafana-dashboard.json"
   && -f "$doc/observability/llm-route-alerts.yml",
   "docs and the observability pack under $doc/");

my @st = stat($STATE_DIR);
ok(@st && -d _, "$STATE_DIR exists");
is(scalar(getpwuid($st[4] // 0)), 'www-data', 'owned by www-data');
is(sprintf('%o', ($st[2] // 0) & 07777), '750', 'mode 0750');

my $lr = "/etc/logrotate.d/$PKG";
ok(-f $lr, $lr);
if (-x '/usr/sbin/logrotate') {
    ($rc, $out) = run("/usr/sbin/logrotate -d $lr");
    is($rc, 0, 'logrotate accepts it') or diag($out);
}

# ---- the system nginx with the shipped conf.d/ snippet --------------------

my ($p1, $p2) = ($t->port(1), $t->port(2));

open(my $fh, '<', "$doc/examples/conf.d/llm-route-demo.conf") or die $!;
my $demo = do { local $/; <$fh> };
close $fh;
$demo =~ s/127\.0\.0\.1:8080\b/127.0.0.1:$p1/g;
$demo =~ s/127\.0\.0\.1:8081\b/127.0.0.1:$p2/g;
ok($demo =~ /^\s*listen 127\.0\.0\.1:$p1;/m
   && $demo =~ /^\s*listen 127\.0\.0\.1:$p2;/m
   && $demo =~ /^\s*server 127\.0\.0\.1:$p2;/m,
   'the demo snippet, moved from 127.0.0.1:8080 and :8081 to free ports');

$snippet = "$CONFD/zz-llrtest-$$.conf";
open($fh, '>', $snippet) or die "$snippet: $!";
print $fh $demo;
close $fh;

($rc, $out) = run("$NGINX -t");
is($rc, 0, 'the system nginx: nginx -t with the conf.d/ snippet') or diag($out);
unlike($out, qr/\[(emerg|alert|crit|warn)\]/, 'nothing to warn about')
    or diag($out);
restore_owners($before);

# the system's nginx.conf, minus what would touch the running system
open($fh, '<', '/etc/nginx/nginx.conf') or die $!;
my $main = do { local $/; <$fh> };
close $fh;

my %edit = (
    pid => ($main =~ s{^(\s*)pid\s+[^;]+;}{${1}pid $dir/nginx.pid;}m),
    error_log => ($main =~ s{^(\s*)error_log\s+[^;]+;}
                            {${1}error_log $dir/error.log info;}m),
    access_log => ($main =~ s{^(\s*)access_log\s+[^;]+;}
                             {${1}access_log $dir/access.log;}m),
    sites => ($main =~ s{^(\s*)include\s+/etc/nginx/sites-enabled/[^;]*;}
                        {${1}# sites-enabled left out by the test}m),
    temp => ($main =~ s{^(http\s*\{\n)}{$1 . join('', map {
        "    ${_}_temp_path $dir/$_;\n" } qw(client_body proxy fastcgi
                                               uwsgi scgi))}me),
);
ok(!grep({ !$edit{$_} } keys %edit), 'the copy of nginx.conf: '
   . join(', ', map { "$_ " . ($edit{$_} ? 'moved' : 'NOT FOUND') }
                sort keys %edit));
ok($main =~ m{include /etc/nginx/modules-enabled/\*\.conf;}
   && $main =~ m{include /etc/nginx/conf\.d/\*\.conf;},
   'it still loads modules-enabled/ and conf.d/');
# the workers (www-data) write nothing in the test directory, but reach it
chmod 0755, $dir;
open($fh, '>', "$dir/nginx.conf") or die;
print $fh $main;
close $fh;

sub start_served {
    my ($rc, $out) = run("$NGINX -c $dir/nginx.conf");
    return 0 if $rc;
    for (1 .. 200) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p1",
                                      Timeout => 1);
        return 1 if $s;
        select(undef, undef, undef, 0.05);
    }
    return 0;
}

sub totals { ($t->get('/llm/status', port => $p1)->{json} // {})->{totals} }

# a request is counted in its log phase, which may run just after the
# client has read the answer: wait a little for the count to arrive
sub requests_counted {
    my ($n) = @_;
    my $got;
    for (1 .. 50) {
        $got = (totals() // {})->{requests} // -1;
        last if $got >= $n;
        select(undef, undef, undef, 0.05);
    }
    return $got;
}

ok(start_served(), 'the system nginx starts with the package and the snippet')
    or diag($t->error_log);

my $r = $t->chat({ model => 'auto',
                   messages => [{ role => 'user', content => 'Say hello.' }] },
                 port => $p1);
is($r->{status}, 200, 'a request through the router to the mock');
like($r->{headers}{'x-llm-route-model'} // '', qr/^mock-/,
     'routed by the module (X-LLM-Route-Model)');
is(requests_counted(1), 1, 'the zone counted it');

my $www = getpwnam('www-data');
my @uids = map {
    open(my $s, '<', "/proc/$_/status") or die;
    (join('', <$s>) =~ /^Uid:\s+(\d+)/m)[0];
} $t->worker_pids;
ok(@uids && !grep({ $_ != $www } @uids), 'the workers run as www-data');

ok(stop_served("$dir/nginx.pid"), 'stopped');
@st = stat("$STATE_DIR/llm.state");
ok(@st, "the state file $STATE_DIR/llm.state was written");
is(scalar(getpwuid($st[4] // 0)), 'www-data', 'by the workers (www-data)');

ok(start_served(), 'started again') or diag($t->error_log);
is(totals()->{requests}, 1, 'the counters of before, from the state file');
$r = $t->chat({ model => 'mock-mini',
                messages => [{ role => 'user', content => 'Again.' }] },
              port => $p1);
is($r->{status}, 200, 'serving');
is(requests_counted(2), 2, 'counting on from there');
ok(stop_served("$dir/nginx.pid"), 'stopped');

unlike($t->error_log, qr/\[(emerg|alert|crit)\]|state file.*(failed|denied)/,
       'no alerts, no state file errors in the error log')
    or diag($t->error_log);

# ---- purge: the system as it was ------------------------------------------

unlink $snippet;
undef $snippet;

($rc, $out) = dpkg("--purge $PKG");
is($rc, 0, 'dpkg --purge') or diag($out);
ok(!installed(), 'not installed any more');
ok(!-e $STATE_DIR, "$STATE_DIR removed with its state file");

($rc, $out) = run("$NGINX -t");
is($rc, 0, 'the system nginx still passes nginx -t') or diag($out);
restore_owners($before);

my @d = diff_snapshots($before, snapshot());
ok(!@d, '/etc/nginx, the module directories, /usr/bin, /var/lib/nginx '
   . 'and the nginx packages are as they were')
    or diag(join("\n", @d));
ok(!system_nginx_running(), 'the system nginx is not running');

cleanup();
close $lock;

done_testing;
