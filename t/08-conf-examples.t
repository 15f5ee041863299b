#!/usr/bin/perl

# Every file in conf-examples/ passes nginx -t with the built module.

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
ok(@files >= 3, 'conf-examples/ has the demo, OpenAI and local-server '
   . 'examples (' . scalar(@files) . ' files)');

for my $file (@files) {
    (my $name = $file) =~ s{.*/}{};

    open(my $fh, '<', $file) or die "$file: $!";
    local $/;
    my $text = <$fh>;
    close $fh;

    my $n = ($text =~ s{^(\s*)load_module\s+\S*ngx_http_llm_route_module\.so\s*;}
                        {${1}load_module $module;}mg);
    is($n, 1, "$name: one load_module line for the module");

    # the examples refer to files next to them (mime.types, keys, models):
    # run with the prefix at a copy of the directory
    my $prefix = "$dir/$name.prefix";
    mkdir $prefix;
    mkdir "$prefix/conf";
    mkdir "$prefix/logs";
    system('cp', '-r', "$repo/conf-examples/.", "$prefix/conf/");
    open(my $out, '>', "$prefix/conf/$name") or die;
    print $out $text;
    close $out;

    my ($rc, $o) = $t->nginx_t("$prefix/conf/$name", prefix => $prefix);
    is($rc, 0, "$name: nginx -t") or diag($o);
    unlike($o, qr/\[(emerg|alert|crit)\]/, "$name: no emerg/alert/crit")
        or diag($o);
}

done_testing;
