#!/usr/bin/perl

# Provider keys:
#
#   1. api_key env= and file= as a distribution runs nginx: read by the
#      master at start and reload, never by the workers
#   2. an error log at debug level receives the key: nginx -t and the
#      start warn about it

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

# ==== api_key env= and file= (was 96-api-keys.t) =============================
#
# Provider keys as a distribution runs nginx (docs/install.md, "Provider
# keys"):
#
# - api_key env=: the master reads the variable from its own environment
#   at start and at every reload, without nginx's "env" directive; the
#   "nginx -s reload" that an operator (or systemd's ExecReload) runs
#   reads the configuration only to find the pid file, so it works
#   without the variable;
# - a missing variable fails nginx -t with a message that says how to
#   provide it;
# - api_key file= (as root): a root-only key file is read by the master,
#   the workers run as an unprivileged user and never open it; a reload
#   picks up a rotated key.

{

# the harness runs the workers as root when the tests run as root; the
# key-file part runs them as nobody
{
    package LLRTestNobody;
    our @ISA = ('LLRTest');

    sub wrap {
        my $self = shift;
        my $conf = $self->SUPER::wrap(@_);
        $conf =~ s/^user root;$/user nobody nogroup;/m;
        return $conf;
    }
}

my $msgs = [{ role => 'user', content => 'Say hello.' }];

my sub provider_http {
    my ($t, $key) = @_;
    my $loc = $t->routed_location;
    return <<"EOF";
    llm_route_zone llm:1m;
    llm_route_provider p { upstream 127.0.0.1:%%MOCK_PORT%%; scheme http;
                           host p.example; api_key $key; }
    llm_route_model m provider=p input=1 output=2 context=8000 quality=0.8;
    server {
        listen 127.0.0.1:%%PORT%%;
$loc
    }
EOF
}

my sub run_env {
    my ($env, @cmd) = @_;
    local %ENV = %ENV;
    delete $ENV{$_} for grep { !defined $env->{$_} } keys %$env;
    $ENV{$_} = $env->{$_} for grep { defined $env->{$_} } keys %$env;
    my $out = `@cmd 2>&1`;
    return ($? >> 8, $out);
}

# wait until every serving worker is one that was not there before

my sub wait_new_workers {
    my ($t, %old) = @_;
    my $end = time + 10;
    while (time < $end) {
        my @now = $t->worker_pids;
        return 1 if @now >= 2 && !grep { $old{$_} } @now;
        select(undef, undef, undef, 0.05);
    }
    return 0;
}

# ---- a missing variable: nginx -t says how to provide it -----------------

{
    my $t = LLRTest->new;
    delete $ENV{LLR_KEYS_UNSET};

    my ($rc, $out) = $t->nginx_t_http(<<'EOF');
    llm_route_provider p { upstream 127.0.0.1:1; scheme http; host p.example;
                           api_key env=LLR_KEYS_UNSET; }
EOF
    isnt($rc, 0, 'env= with the variable unset: nginx -t fails');
    like($out, qr/\[emerg\].*"LLR_KEYS_UNSET".*llm_route_provider "p"/,
         'the error names the variable and the provider');
    like($out, qr/EnvironmentFile=/,
         'the error says how to set it for a systemd service');
    like($out, qr/sudo --preserve-env=LLR_KEYS_UNSET/,
         'and how to keep it for "sudo nginx -t"');
    like($out, qr/api_key file=/, 'and names the alternative, file=');
    $t->stop(quiet => 1);
}

# ---- env=: start with it, reload and signal without it -------------------

{
    my $t = LLRTest->new;
    my $m = $t->mock;
    my $dir = $t->dir;

    $ENV{LLR_KEYS_ENV} = 'sk-env-KEY-0f1e2d3c4b5a';
    $t->config(provider_http($t, 'env=LLR_KEYS_ENV'));
    $t->start;
    delete $ENV{LLR_KEYS_ENV};

    my $r = $t->chat({ model => 'm', messages => $msgs });
    is($r->{status}, 200, 'env=: routed');
    is($m->last_request->{headers}{authorization},
       'Bearer sk-env-KEY-0f1e2d3c4b5a', 'env=: the key reaches the provider');

    my $conf = "$dir/nginx.conf";
    my %old = map { $_ => 1 } $t->worker_pids(all => 1);

    # what "sudo nginx -s reload" runs: no variable in its environment
    my ($rc, $out) = run_env({ LLR_KEYS_ENV => undef },
                             $t->nginx_binary, '-p', "$dir/", '-c', $conf,
                             '-s', 'reload');
    is($rc, 0, 'nginx -s reload without the variable sends the signal')
        or diag($out);
    unlike($out, qr/\[emerg\]/, 'and says nothing about the key')
        or diag($out);

    ok(wait_new_workers($t, %old), 'the master reloaded');
    unlike($t->error_log, qr/\[emerg\]/,
           'the master found the variable in its own environment '
           . '(no "env" directive)');

    $r = $t->chat({ model => 'm', messages => $msgs });
    is($r->{status}, 200, 'after the reload: routed');
    is($m->last_request->{headers}{authorization},
       'Bearer sk-env-KEY-0f1e2d3c4b5a', 'after the reload: the same key');

    # nginx -t without the variable still fails: it checks what a start
    # would do
    ($rc, $out) = run_env({ LLR_KEYS_ENV => undef },
                          $t->nginx_binary, '-t', '-p', "$dir/", '-c', $conf);
    isnt($rc, 0, 'nginx -t without the variable fails');

    $t->stop;
}

# ---- env=: a binary upgrade (USR2) needs nginx's "env" directive ---------
#
# The new master gets only the variables "env" lists (Debian's
# "service nginx upgrade", run when the nginx package is upgraded).

my sub upgrade {
    my ($t) = @_;
    my $dir = $t->dir;
    my $old = $t->master_pid;
    kill 'USR2', $old;
    my $end = time + 10;
    while (time < $end) {
        my $new = $t->master_pid;
        return $new if $new && $new != $old && -f "$dir/nginx.pid.oldbin";
        return 0 if $t->error_log =~ /\[emerg\].*LLR_KEYS_UP/;
        select(undef, undef, undef, 0.05);
    }
    return 0;
}

# a wrapper script (make test-asan's) cannot be exec'ed by a USR2 upgrade
# with its environment: only a real binary is upgraded
my $wrapper = do {
    open(my $b, '<', LLRTest->nginx_binary) or die;
    read($b, my $magic, 2);
    $magic eq '#!';
};

for my $with_env ($wrapper ? () : (0, 1)) {
    my $t = LLRTest->new($with_env ? (main => 'env LLR_KEYS_UP;') : ());
    my $m = $t->mock;
    local $ENV{LLR_KEYS_UP} = 'sk-upgrade-KEY-77aa';
    $t->config(provider_http($t, 'env=LLR_KEYS_UP'));
    $t->start;
    delete $ENV{LLR_KEYS_UP};

    my $old = $t->master_pid;
    my $new = upgrade($t);

    if (!$with_env) {
        ok(!$new, 'binary upgrade without "env LLR_KEYS_UP;": the new '
           . 'master cannot read the key');
        like($t->error_log, qr/\[emerg\].*"LLR_KEYS_UP".*is not set/,
             'and says so');
        # the old master renames nginx.pid.oldbin back once it has reaped
        # the new one, which logged the [emerg] before it exited
        my $end = time + 5;
        select(undef, undef, undef, 0.05)
            while ($t->master_pid // 0) != $old && time < $end;
        is($t->master_pid, $old, 'the old master goes on');
        $t->{log_ignore} = qr/LLR_KEYS_UP/;
        $t->stop;
        next;
    }

    ok($new, 'binary upgrade with "env LLR_KEYS_UP;": a new master');
    kill 'QUIT', $old;
    my $end = time + 10;
    select(undef, undef, undef, 0.05) while kill(0, $old) && time < $end;
    ok(!kill(0, $old), 'the old master exited');

    my $end2 = time + 10;
    select(undef, undef, undef, 0.05)
        while (() = $t->worker_pids) < 2 && time < $end2;
    my $r = $t->chat({ model => 'm', messages => $msgs });
    is($r->{status}, 200, 'the new master\'s workers route');
    is($m->last_request->{headers}{authorization},
       'Bearer sk-upgrade-KEY-77aa', 'with the key');
    $t->stop;
}

# ---- file=: root-only key, unprivileged workers, rotation by reload ------

SKIP: {
    skip 'needs root (a root-only key file and workers as nobody)', 10
        unless $> == 0;
    skip 'no user "nobody" or group "nogroup"', 10
        unless defined getpwnam('nobody') && defined getgrnam('nogroup');

    my $t = LLRTestNobody->new;
    my $m = $t->mock;
    my $dir = $t->dir;

    # the test directory must be reachable by the workers (logs are opened
    # by the master); the key directory is not
    chmod 0755, $dir;
    mkdir "$dir/keys", 0700 or die;
    my $key = "$dir/keys/p.key";
    open(my $fh, '>', $key) or die;
    print $fh "sk-file-KEY-9a8b7c6d\n";
    close $fh;
    chmod 0600, $key;

    $t->config(provider_http($t, "file=$key"));
    $t->start;

    my @w = $t->worker_pids;
    my @uids = map {
        open(my $s, '<', "/proc/$_/status") or die;
        my ($uid) = join('', <$s>) =~ /^Uid:\s+(\d+)/m;
        $uid;
    } @w;
    ok(@uids && !grep({ $_ == 0 } @uids),
       'the workers run unprivileged (uid ' . join(',', @uids) . ')');

    # as the workers' user, the key file cannot be read
    my $pid = fork // die;
    if ($pid == 0) {
        $) = getgrnam('nogroup') . ' ' . getgrnam('nogroup');
        $> = getpwnam('nobody');
        exit(open(my $k, '<', $key) ? 1 : 0);
    }
    waitpid($pid, 0);
    is($? >> 8, 0, 'the workers\' user cannot read the key file');

    my $r = $t->chat({ model => 'm', messages => $msgs });
    is($r->{status}, 200, 'file=: routed');
    is($m->last_request->{headers}{authorization},
       'Bearer sk-file-KEY-9a8b7c6d', 'file=: the key reaches the provider');

    # rotation: a new key in the file, then a reload
    open($fh, '>', $key) or die;
    print $fh "sk-file-KEY-rotated-1234\n";
    close $fh;

    ok($t->reload, 'reload after the key file changed');
    $r = $t->chat({ model => 'm', messages => $msgs });
    is($r->{status}, 200, 'after the reload: routed');
    is($m->last_request->{headers}{authorization},
       'Bearer sk-file-KEY-rotated-1234', 'after the reload: the new key');

    unlike($t->error_log, qr/p\.key.*(denied|failed)/,
           'no worker tried to open the key file');

    $t->stop;
}


}

# ==== Keys and the debug log (was 93-debug-log-key.t) ========================
#
# nginx's own debug lines print the request sent upstream ("http proxy
# header:") and variable values ("http script var:"), so an error log at
# debug level receives the provider's key. nginx -t and the start warn
# when a provider has a key and a routed location's error log is at
# debug level, or debug_connection is set; not otherwise. The key does
# appear in such a log (that is what the warning is for), and never in an
# error log at info.

{

my $t = LLRTest->new;
my $m = $t->mock;
my $S = $LLRTest::SECRET;
my $dir = $t->dir;

my $debug_built = `$LLRTest::NGINX -V 2>&1` =~ /--with-debug/;

my $WARN = qq{the error log of "/v1/" is at debug level with llm_route on: }
           . qq{nginx's debug lines show the headers sent to providers, so }
           . qq{the key of provider "mockp" will be written to it};
my $DC = qq{"debug_connection" is set: nginx's debug lines show the }
         . qq{headers sent to providers, so the key of provider "mockp" }
         . qq{will be written to the error log for those clients};

my sub conf {
    my (%o) = @_;
    my $c = $t->routed_http(location => $o{location} // '',
                            server => $o{server} // '');
    $c =~ s/\n\s*api_key [^;]*;// if $o{no_key};
    return $c;
}

# nginx -t of a configuration, optionally with debug_connection
my sub check {
    my ($http, $debug_connection) = @_;
    my $text = $t->wrap($http, error_log => "$dir/t-error.log");
    $text =~ s/(worker_connections \d+;)/$1 debug_connection 192.0.2.1;/
        if $debug_connection;
    my $file = "$dir/check.conf";
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh $text;
    close $fh;
    # not LLRTest's nginx_t: its -q hides warnings
    my $out = LLRTest::_run_capture($LLRTest::NGINX, '-t', '-p', "$dir/",
                                    '-c', $file);
    return ($? >> 8, $out);
}

SKIP: {
    skip 'nginx is not built --with-debug: no debug lines', 6
        unless $debug_built;

    my ($rc, $out) = check(conf(
        location => "error_log $dir/debug.log debug;"));
    is($rc, 0, 'a debug error log in a routed location: nginx -t passes');
    like($out, qr/\[warn\] (?:\d+#\d+: )?\Q$WARN\E/,
         'with a warning naming the location and the provider');
    unlike($out, qr/\Q$S\E/, 'the warning does not show the key');

    ($rc, $out) = check(conf(location => "error_log $dir/debug.log debug;",
                             no_key => 1));
    unlike($out, qr/debug level/, 'no key: no warning') or diag($out);

    ($rc, $out) = check(conf(location => "error_log $dir/i.log info;"));
    unlike($out, qr/debug level/, 'an error log at info: no warning')
        or diag($out);

    ($rc, $out) = check(conf(), 1);
    like($out, qr/\[warn\] (?:\d+#\d+: )?\Q$DC\E/,
         'debug_connection: a warning too');
}

# the warning is about something real: the debug log has the key, an info
# log has not

$t->config(conf(location => "error_log $dir/debug.log debug;"));
$t->start;

my $r = $t->chat({ model => 'gpt-4o-mini',
                   messages => [{ role => 'user', content => 'hello' }] });
is($r->{status}, 200, 'routed');
is($m->last->{headers}{authorization}, "Bearer $S", 'with the key');

SKIP: {
    skip 'nginx is not built --with-debug', 3 unless $debug_built;
    like($t->error_log("$dir/debug.log"), qr/Authorization: Bearer \Q$S\E/,
         'the debug log has the key: the warning is needed');
    ok($t->reload, 'reload');
    like($t->error_log, qr/\[warn\] \d+#\d+: \Q$WARN\E/,
         'a reload warns in error.log');
}
unlike($t->error_log, qr/\Q$S\E/, 'the info log has not');

$t->stop;

}

done_testing;
