#!/usr/bin/perl

# nginx's own debug lines print the request sent upstream ("http proxy
# header:") and variable values ("http script var:"), so an error log at
# debug level receives the provider's key. nginx -t and the start warn
# when a provider has a key and a routed location's error log is at
# debug level, or debug_connection is set; not otherwise. The key does
# appear in such a log (that is what the warning is for), and never in an
# error log at info.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

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

sub conf {
    my (%o) = @_;
    my $c = $t->routed_http(location => $o{location} // '',
                            server => $o{server} // '');
    $c =~ s/\n\s*api_key [^;]*;// if $o{no_key};
    return $c;
}

# nginx -t of a configuration, optionally with debug_connection
sub check {
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

$t->done_testing;
