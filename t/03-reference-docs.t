#!/usr/bin/perl

# The reference documentation covers what the source defines:
#
#   - every directive of the module's command tables (ngx_command_t in
#     ngx_llm_route_module/*.c) has its section in docs/directives.md,
#     "## name", with nginx.org's Syntax:, Default: and Context: lines,
#     the syntax naming the directive;
#   - every sub-directive of llm_route_provider {} and llm_route_policy {}
#     (the names their parsers compare) is described in its block's
#     section;
#   - every variable the module adds (ngx_http_variable_t tables, and
#     variables added by name) is described in docs/variables.md.
#
# No nginx needed: the source and the docs are read.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $repo = LLRTest->repo;
my $glue = "$repo/ngx_llm_route_module";

sub slurp { LLRTest::slurp(@_) }

my %src = map { $_ => slurp($_) } glob("$glue/ngx_http_llm_route_*.c");
my $directives_md = slurp("$repo/docs/directives.md");
my $variables_md = slurp("$repo/docs/variables.md");

# ---- directives ------------------------------------------------------------

my @directives;
for my $f (sort keys %src) {
    while ($src{$f} =~ /static\s+ngx_command_t\s+\w+\[\]\s*=\s*\{(.*?)ngx_null_command/sg) {
        my $table = $1;
        push @directives, $table =~ /\{\s*ngx_string\("(\w+)"\)/g;
    }
}

ok(@directives >= 15, 'the command tables list ' . @directives
   . ' directives');

# the sections of directives.md: name => text up to the next one
my %section;
for my $part (split /^(?=## )/m, $directives_md) {
    my ($name) = $part =~ /^## (\w+)\s*$/m or next;
    $section{$name} = $part;
}

for my $d (@directives) {
    my $s = $section{$d};
    ok(defined $s, "directives.md: ## $d") or next;
    like($s, qr/^    Syntax:  \Q$d\E\b/m, "$d: Syntax: names it");
    like($s, qr/^    Default: \S/m, "$d: Default:");
    like($s, qr/^    Context: (http|server|location|upstream)/m, "$d: Context:");
}

# ---- the blocks' sub-directives --------------------------------------------

my %blocks = (
    llm_route_provider => 'ngx_http_llm_route_provider.c',
    llm_route_policy   => 'ngx_http_llm_route_policy.c',
);

for my $block (sort keys %blocks) {
    my $c = $src{"$glue/$blocks{$block}"} // '';
    my %subs;
    # the names the block's parser compares, and its tables of names
    $subs{$_}++ for $c =~ /ngx_strcmp\(name->data,\s*"(\w+)"\)/g;
    $subs{$_}++ for $c =~ /\{\s*ngx_string\("(\w+)"\),/g;
    my @subs = sort keys %subs;
    ok(@subs >= 3, "$block: sub-directives found in $blocks{$block}: @subs");
    my $s = $section{$block} // '';
    for my $sub (@subs) {
        # a term line: "`name` ...", or several names on one
        like($s, qr/^`(?:[^\n]*`)?\Q$sub\E`/m,
             "$block: `$sub` described in its section");
    }
}

# ---- variables --------------------------------------------------------------

my @variables;
for my $f (sort keys %src) {
    while ($src{$f} =~ /static\s+ngx_http_variable_t\s+\w+\[\]\s*=\s*\{(.*?)ngx_http_null_variable/sg) {
        push @variables, $1 =~ /\{\s*ngx_string\("(\w+)"\)/g;
    }
    # a variable added by name (ngx_http_add_variable of a local name)
    if ($src{$f} =~ /ngx_http_add_variable\(/) {
        push @variables,
            $src{$f} =~ /ngx_str_t\s+name\s*=\s*ngx_string\("(\w+)"\)/g;
    }
}

ok(@variables >= 15, 'the module adds ' . @variables . ' variables');

for my $v (@variables) {
    like($variables_md, qr/^`[^\n]*\$\Q$v\E\b[^\n]*`\s*$/m,
         "variables.md: \$$v has its entry");
}

done_testing;
