#!/usr/bin/perl

# Directives: nginx -t accepts good configurations and rejects bad ones with
# a message naming the directive and the bad argument; keys never appear in
# the output.  The cases are the blocks of __DATA__ (t/lib/LLRBlocks.pm):
# "providers" goes into the base configuration below before the model m,
# "models" after it.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;
use LLRBlocks;

my $t = LLRTest->new;
my $SECRET = $LLRTest::SECRET;
my $dir = $t->dir;

$ENV{LLR_TEST_ENV_KEY} = 'sk-env-KEY-5f4dcc3b5aa765d6';
delete $ENV{LLR_UNSET_VAR_XYZ};

open(my $kf, '>', "$dir/key.txt") or die;
print $kf "sk-file-KEY-7c6a180b36896a0a\n";
close $kf;

my $proxy = $t->proxy_directives(route => 1, auth => 1, keepalive => 0,
                                 attempt => 0);

# %%P%% and %%M%% are replaced by extra provider / model text of each case

my $base = <<"EOF";
    llm_route_zone llm:1m;
    upstream b { server 127.0.0.1:9; }
    llm_route_provider p {
        upstream b;
        scheme http;
        host h.example;
        base_path /v1;
        api_key $SECRET;
    }
%%P%%
    llm_route_model m provider=p input=1 output=2 context=1000 quality=0.5;
%%M%%
    server {
        listen 127.0.0.1:%%PORT%%;
        location /v1/ {
$proxy
        }
    }
EOF

sub conf {
    my (%o) = @_;
    my $c = $base;
    my $p = $o{p} // '';
    my $m = $o{m} // '';
    $c =~ s/%%P%%/$p/;
    $c =~ s/%%M%%/$m/;
    return $c;
}

run_blocks($t,
    config => sub { conf(p => $_[0]{providers}, m => $_[0]{models}) },
    vars => { DIR => $dir },
    secrets => qr/\Q$SECRET\E|sk-file-KEY|sk-env-KEY/);

# a key in a bad api_key line is not echoed either
my ($rc, $out) = $t->nginx_t_http(conf(p => <<'EOF'));
    llm_route_provider pk { upstream b; scheme http; host k.example;
                            base_path /v1; api_key sk-LEAKY-0123 extra; }
EOF
isnt($rc, 0, 'api_key with two arguments is rejected');
unlike($out, qr/sk-LEAKY-0123/, 'the rejected key is not echoed');

# keys never appear in the -t error log either
my $tlog = $t->error_log("$dir/t-error.log");
unlike($tlog, qr/\Q$SECRET\E|sk-file-KEY|sk-env-KEY|sk-LEAKY/,
       'no key in the error log of nginx -t');

done_testing;

__DATA__

# ---- good configurations ------------------------------------------------

=== the base configuration
--- nginx_t: ok

=== several deployments of one model (weights)
--- nginx_t: ok
--- models
    llm_route_provider p2 { upstream 127.0.0.1:10; scheme http;
                            host h2.example; base_path /v1; }
    llm_route_model dep provider=p input=1 output=2 context=1000
                    quality=0.5 weight=3;
    llm_route_model dep provider=p2 input=1 output=2 context=1000
                    quality=0.5 weight=1;

=== upstream_model and quality_<task>
--- nginx_t: ok
--- models
    llm_route_model fast provider=p input=0.15 output=0.60 context=128000
                    quality=0.7 quality_code=0.8 upstream_model=gpt-4o-mini;

=== api_key env= with the variable set
--- nginx_t: ok
--- providers
    llm_route_provider pe { upstream b; scheme http; host e.example;
                            base_path /v1; api_key env=LLR_TEST_ENV_KEY; }

=== api_key file= readable
--- nginx_t: ok
--- providers
    llm_route_provider pf { upstream b; scheme https; host f.example;
                            base_path /openai/v1;
                            api_key file=%%DIR%%/key.txt; }

=== provider without a key, host:port upstream
--- nginx_t: ok
--- providers
    llm_route_provider pn { upstream 127.0.0.1:11; scheme http;
                            host n.example; base_path /v1; }

=== llm_route_mock in another server
--- nginx_t: ok
--- models
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v1/ { llm_route_mock; }
    }

# ---- bad configurations -------------------------------------------------

=== unknown provider
--- nginx_t: fails
--- models
    llm_route_model m2 provider=nosuchprov input=1 output=2 context=1000
                    quality=0.5;
--- error_like
the directive => llm_route_model
the argument => nosuchprov

=== duplicate provider
--- nginx_t: fails
--- providers
    llm_route_provider dupprov { upstream b; scheme http; host d.example;
                                 base_path /v1; }
    llm_route_provider dupprov { upstream b; scheme http; host d.example;
                                 base_path /v1; }
--- error_like
the directive => llm_route_provider
the argument => dupprov

=== bad number input=abc
--- nginx_t: fails
--- models
    llm_route_model m3 provider=p input=abc output=2 context=1000 quality=0.5;
--- error_like
the directive => llm_route_model
the argument => input=abc|"abc"

=== bad number context=12k4
--- nginx_t: fails
--- models
    llm_route_model m3 provider=p input=1 output=2 context=12k4 quality=0.5;
--- error_like
the directive => llm_route_model
the argument => 12k4

=== unreadable key file
--- nginx_t: fails
--- providers
    llm_route_provider pf { upstream b; scheme http; host f.example;
                            base_path /v1;
                            api_key file=/nonexistent/llr-key-file; }
--- error_like
the directive => api_key
the argument => /nonexistent/llr-key-file

=== unset environment variable
--- nginx_t: fails
--- providers
    llm_route_provider pe { upstream b; scheme http; host e.example;
                            base_path /v1; api_key env=LLR_UNSET_VAR_XYZ; }
--- error_like
the directive => api_key
the argument => LLR_UNSET_VAR_XYZ

=== unknown parameter foo=1
--- nginx_t: fails
--- models
    llm_route_model m4 provider=p input=1 output=2 context=1000 quality=0.5
                    foo=1;
--- error_like
the directive => llm_route_model
the argument => foo

=== missing provider=
--- nginx_t: fails
--- models
    llm_route_model m5 input=1 output=2 context=1000 quality=0.5;
--- error_like
the directive => llm_route_model
the argument => provider

=== bad scheme
--- nginx_t: fails
--- providers
    llm_route_provider ps { upstream b; scheme gopher; host s.example;
                            base_path /v1; }
--- error_like
the directive => scheme
the argument => gopher

=== unknown directive inside llm_route_provider
--- nginx_t: fails
--- providers
    llm_route_provider pu { upstream b; scheme http; host u.example;
                            base_path /v1; colour red; }
--- error_like
the directive => colour
the argument => colour

=== llm_route_rate rpm=0 (the reason was read uninitialized)
--- nginx_t: fails
--- models
    llm_route_rate $http_x_team rpm=0;
--- error_like
the directive => llm_route_rate
the argument => "rpm=0" in "llm_route_rate": must be positive

=== floor twice in a policy (the last one won)
--- nginx_t: fails
--- models
    llm_route_policy pz { candidates m; floor 0.9; floor 0.1; }
--- error_like
the directive => llm_route_policy
the argument => "floor" is duplicate

=== floor_hard_code twice in a policy
--- nginx_t: fails
--- models
    llm_route_policy pz { candidates m; floor_hard_code 0.9;
                          floor_hard_code 0.1; }
--- error_like
the directive => llm_route_policy
the argument => "floor_hard_code" is duplicate

=== input= twice (the last one won)
--- nginx_t: fails
--- models
    llm_route_model m9 provider=p input=1 input=900 output=2 context=1000
                    quality=0.5;
--- error_like
the directive => llm_route_model
the argument => duplicate parameter "input=900"

=== llm_route with a bad flag
--- nginx_t: fails
--- models
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v1/ { llm_route maybe; }
    }
--- error_like
the directive => llm_route
the argument => maybe
