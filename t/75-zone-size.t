#!/usr/bin/perl

# A zone too small for its names names the size it needs, and that size is
# enough: every deployment (model at provider) takes a name too, which the
# advice left out (300 models: it asked for a size that then failed).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $t = LLRTest->new(workers => 1);

sub conf {
    my ($zone) = @_;
    my $models = join '', map {
        "    llm_route_model model-number-$_ provider=p input=1 output=1"
        . " context=1000 quality=0.5;\n" } 1 .. 300;
    return <<"EOF";
    llm_route_zone llm:$zone;
    llm_route_provider p { upstream 127.0.0.1:9; scheme http; host p; base_path /v1; }
$models
    server { listen 127.0.0.1:%%PORT%%;
             location /v1/ { llm_route on; proxy_pass \$llm_route_url; } }
EOF
}

my ($rc, $out) = $t->nginx_t_http(conf('200k'));
isnt($rc, 0, '200k is refused');
my ($need) = $out =~ /needs at least (\d+)k/;
ok($need, "the error names a size: ${\($need // '?')}k");
diag($out);

($rc, $out) = $t->nginx_t_http(conf("${need}k"));
is($rc, 0, "the size the error asked for (${need}k) is accepted");
diag($out);

$t->done_testing;
