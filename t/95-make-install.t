#!/usr/bin/perl

# make install for source builds, into a staging directory (DESTDIR): the
# module where this machine's nginx loads modules from, its load_module
# line Debian's way, the tools, docs, examples, the observability pack and
# the state directory; the installed module passes nginx -t; make
# uninstall takes it all away but the state directory.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use File::Find;

plan skip_all => 'make install installs the build for /usr/sbin/nginx; '
    . "this run tests $ENV{TEST_NGINX_BINARY}"
    if ($ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx') ne '/usr/sbin/nginx';

my $t = LLRTest->new(timeout => 300);
my $repo = $t->repo;
my $root = $t->dir . '/root';

# a staging root that has Debian's modules-enabled directory
mkdir $root;
system('mkdir', '-p', "$root/etc/nginx/modules-enabled") == 0 or die;

my $out = `make -C $repo --no-print-directory install DESTDIR=$root PREFIX=/usr 2>&1`;
is($?, 0, 'make install DESTDIR=... PREFIX=/usr') or diag($out);

chomp(my $mods = `/usr/sbin/nginx -V 2>&1 | sed -n 's/.*--modules-path=\\([^ ]*\\).*/\\1/p'`);
$mods ||= '/usr/lib/nginx/modules';

my $so = "$root$mods/ngx_http_llm_route_module.so";
ok(-f $so, "the module in $mods (nginx -V's --modules-path)");

my $conf = "$root/usr/share/nginx/modules-available/mod-http-llm-route.conf";
open(my $fh, '<', $conf) or die "$conf: $!";
is(scalar(<$fh>), "load_module $mods/ngx_http_llm_route_module.so;\n",
   'modules-available/mod-http-llm-route.conf loads it');
close $fh;
is(readlink("$root/etc/nginx/modules-enabled/50-mod-http-llm-route.conf"),
   '/usr/share/nginx/modules-available/mod-http-llm-route.conf',
   'enabled in etc/nginx/modules-enabled/ (it exists in DESTDIR)');

my @tools = map { s{.*/}{}r } glob("$repo/build/llm-route-*");
ok(@tools >= 2, "tools: @tools");
for my $tool (@tools) {
    ok(-x "$root/usr/bin/$tool", "/usr/bin/$tool");
}
$out = `echo '{"prompt":"What is 17 times 23?"}' | $root/usr/bin/llm-route-classify 2>&1`;
like($out, qr/^\{"task":"\w+","difficulty":/, 'the installed tool runs');

my $doc = "$root/usr/share/doc/ngx_llm_route_module";
ok(-f "$doc/README.md" && -f "$doc/directives.md" && -f "$doc/install.md",
   'docs');
ok(-f "$doc/examples/openai.conf"
   && -f "$doc/examples/conf.d/llm-route-demo.conf", 'examples');
ok(-f "$doc/observability/grafana-dashboard.json"
   && -f "$doc/observability/llm-route-alerts.yml", 'the observability pack');
ok(-d "$root/var/lib/nginx/llm_route", 'the state directory');

# the installed module, as nginx loads it
my ($rc, $o) = $t->nginx_t(<<"EOF");
load_module $so;
error_log ${\ $t->dir}/t-error.log;
pid ${\ $t->dir}/t.pid;
events {}
http {
    client_body_temp_path ${\ $t->dir}/body;
    proxy_temp_path ${\ $t->dir}/proxy;
    fastcgi_temp_path ${\ $t->dir}/fastcgi;
    uwsgi_temp_path ${\ $t->dir}/uwsgi;
    scgi_temp_path ${\ $t->dir}/scgi;
    llm_route_zone llm:1m;
}
EOF
is($rc, 0, 'nginx -t loads the installed module') or diag($o);

$out = `make -C $repo --no-print-directory uninstall DESTDIR=$root PREFIX=/usr 2>&1`;
is($?, 0, 'make uninstall') or diag($out);

my @left;
find({ no_chdir => 1, wanted => sub { push @left, $_ if -f $_ || -l $_ } },
     $root);
is_deeply(\@left, [], 'nothing left but directories') or diag("@left");
ok(-d "$root/var/lib/nginx/llm_route", 'the state directory is kept');

done_testing;
