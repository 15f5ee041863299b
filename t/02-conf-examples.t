#!/usr/bin/perl

# Every file in conf-examples/ passes nginx -t with the built module: the
# whole nginx.conf files, and the conf.d/ snippets (http-level includes)
# inside an nginx.conf shaped like a distribution's.  And the rules every
# example keeps (docs/install.md): a server of an example that holds a
# provider key listens on loopback or refuses unknown client keys with a
# 401; the resolver is a local one; state files live in the package's
# state directory.
#
# nginx -t runs with everything an example names under /etc/nginx,
# /var/lib/nginx and /var/log/nginx moved into a prefix of its own, and
# with temp paths of its own: the test leaves the system's nginx
# directories alone.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new;
my $repo = $t->repo;
my $dir = $t->dir;
my $module = $t->module_path;

# keys the examples may read from the environment
for my $v (qw(OPENAI_API_KEY ANTHROPIC_API_KEY AZURE_OPENAI_API_KEY
              GROQ_API_KEY MISTRAL_API_KEY OPENROUTER_API_KEY
              TOGETHER_API_KEY DEEPSEEK_API_KEY GEMINI_API_KEY
              VLLM_API_KEY OLLAMA_API_KEY LLAMACPP_API_KEY LOCAL_API_KEY))
{
    $ENV{$v} //= "sk-dummy-$v";
}

my @files = sort glob("$repo/conf-examples/*.conf");
my @snippets = sort glob("$repo/conf-examples/conf.d/*.conf");

ok(@files >= 3, 'conf-examples/ has the demo, OpenAI and local-server '
   . 'examples (' . scalar(@files) . ' files)');
ok(@snippets >= 2, 'conf-examples/conf.d/ has snippets ('
   . scalar(@snippets) . ' files)');

sub slurp {
    my ($f) = @_;
    open(my $fh, '<', $f) or die "$f: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub spew {
    my ($f, $s) = @_;
    open(my $fh, '>', $f) or die "$f: $!";
    print $fh $s;
    close $fh;
}

# a prefix with a copy of conf-examples/ and the system directories the
# examples name; returns the text with those paths moved into it

sub prefix_for {
    my ($name, $text) = @_;

    my $prefix = "$dir/$name.prefix";
    mkdir $_ for $prefix, "$prefix/conf", "$prefix/logs", "$prefix/lib",
                 "$prefix/lib/llm_route", "$prefix/etc",
                 "$prefix/etc/llm_route", "$prefix/temp";
    system('cp', '-r', "$repo/conf-examples/.", "$prefix/conf/");

    $text =~ s{/var/log/nginx/}{$prefix/logs/}g;
    $text =~ s{/var/lib/nginx/}{$prefix/lib/}g;
    $text =~ s{/etc/nginx/}{$prefix/etc/}g;

    # key files the examples read: present, as the operator creates them
    while ($text =~ /\bapi_key\s+file=(\S+?);/g) {
        spew($1, "sk-dummy-file-key\n");
    }

    return ($prefix, $text);
}

my $temp_paths = join('', map { "    ${_}_temp_path %s/temp/$_;\n" }
                                qw(client_body proxy fastcgi uwsgi scgi));

# the rules of every example

sub check_rules {
    my ($name, $text) = @_;

    (my $code = $text) =~ s/#[^\n]*//g;

    if ($code =~ /\bapi_key\s/) {
        my @open = grep { !m{^(127\.\d+\.\d+\.\d+|\[::1\]|localhost):\d+$} }
                   ($code =~ /^\s*listen\s+(\S+?)[\s;]/mg);
        my $checks = $code =~ /if\s+\(\$\w+\s*=\s*""\)\s*\{\s*return\s+401\s/;

        ok(!@open || $checks, "$name: holds a key, so it listens on "
           . 'loopback or refuses unknown client keys')
            or diag("listens on: @open");

        if ($checks) {
            like($code, qr/return\s+401\s+'\{"error":\{.*"code":"invalid_api_key"\}\}/,
                 "$name: the 401 is OpenAI-shaped JSON");
        }
    }

    for my $r ($code =~ /^\s*resolver\s+([^;]+);/mg) {
        my @addr = grep { !/=/ } split ' ', $r;
        my @public = grep { !/^(127\.|\[::1\]|localhost)/ } @addr;
        ok(!@public, "$name: the resolver is a local one ($r)");
    }

    for my $s ($code =~ /\bstate=(\S+)/g) {
        like($s, qr{^/var/lib/nginx/llm_route/[^/]+;?$},
             "$name: the state file is in /var/lib/nginx/llm_route/");
    }
}

# ---- whole nginx.conf files -----------------------------------------------

for my $file (@files) {
    (my $name = $file) =~ s{.*/}{};

    my $text = slurp($file);
    check_rules($name, $text);

    my $n = ($text =~ s{^(\s*)load_module\s+\S*ngx_http_llm_route_module\.so\s*;}
                        {${1}load_module $module;}mg);
    is($n, 1, "$name: one load_module line for the module");

    # the examples refer to files next to them (mime.types, keys, models):
    # run with the prefix at a copy of the directory
    my $prefix;
    ($prefix, $text) = prefix_for($name, $text);

    my $tp = sprintf($temp_paths, ($prefix) x 5);
    my $http = ($text =~ s/^(http\s*\{\n)/$1$tp/m);
    is($http, 1, "$name: one http{} block");

    spew("$prefix/conf/$name", $text);

    my ($rc, $o) = $t->nginx_t("$prefix/conf/$name", prefix => $prefix);
    is($rc, 0, "$name: nginx -t") or diag($o);
    unlike($o, qr/\[(emerg|alert|crit)\]/, "$name: no emerg/alert/crit")
        or diag($o);
}

# ---- conf.d/ snippets: included inside http{} -----------------------------

for my $file (@snippets) {
    (my $name = $file) =~ s{.*/}{conf.d/};
    (my $base = $name) =~ s{/}{-}g;

    my $text = slurp($file);
    check_rules($name, $text);

    unlike($text, qr/^\s*(load_module|events|http)\b/m,
           "$name: http-level directives only (the package loads the "
           . 'module)');

    my $prefix;
    ($prefix, $text) = prefix_for($base, $text);
    spew("$prefix/conf/$base", $text);

    # what Debian's nginx.conf does around conf.d/*.conf
    my $main = "load_module $module;\n"
             . ($> == 0 ? "user root;\n" : '')
             . "pid $prefix/logs/nginx.pid;\n"
             . "error_log $prefix/logs/error.log;\n"
             . "events { worker_connections 768; }\n"
             . "http {\n"
             . sprintf($temp_paths, ($prefix) x 5)
             . "    default_type application/octet-stream;\n"
             . "    access_log $prefix/logs/access.log;\n"
             . "    include $prefix/conf/$base;\n"
             . "}\n";
    spew("$prefix/conf/nginx.conf", $main);

    my ($rc, $o) = $t->nginx_t("$prefix/conf/nginx.conf", prefix => $prefix);
    is($rc, 0, "$name: nginx -t inside http{}") or diag($o);
    unlike($o, qr/\[(emerg|alert|crit)\]/, "$name: no emerg/alert/crit")
        or diag($o);
}

done_testing;
