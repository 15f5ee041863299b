#!/usr/bin/perl
#
# The shape of the nginx glue (docs/architecture.md), checked:
#
#   - no glue file (ngx_llm_route_module/ngx_http_llm_route_*.[ch]) over
#     1,000 lines, the generated dashboard aside;
#   - no glue function over 150 lines, directive handlers included
#     (a function: from the line of its name to its closing brace);
#   - no cycle among the glue files, by includes (a file's .c and .h are
#     one node; "x.h" included means using x.c) or by calls (a file calls
#     another when it names a function the other defines with external
#     linkage; naming the module variables is data, not a call).
#
#   perl build-aux/check-glue.pl            check; exit 1 names each miss
#   perl build-aux/check-glue.pl --report   also every file's lines and
#                                           longest function, the ten
#                                           longest functions
#
# t/93-glue-shape.t runs it, so that make test keeps it true.

use strict;
use warnings;
use File::Basename qw(dirname basename);

my $MAX_FILE = 1000;
my $MAX_FUNC = 150;
my $GENERATED = qr/^ngx_http_llm_route_dashboard\.[ch]$/;

my $report = @ARGV && $ARGV[0] eq '--report';
my $dir = dirname(__FILE__) . '/../ngx_llm_route_module';
my @files = sort map { basename($_) } glob("$dir/ngx_http_llm_route_*.[ch]");
die "check-glue: no glue files under $dir\n" unless @files;

my (@miss, %lines, %longest, @funcs, %defines, %text);

sub node { my ($f) = @_; $f =~ s/^ngx_http_llm_route_//; $f =~ s/\.[ch]$//;
           return $f }

for my $f (@files) {
    open my $fh, '<', "$dir/$f" or die "check-glue: $f: $!\n";
    my @l = <$fh>;
    close $fh;
    $lines{$f} = @l;
    $text{$f} = join '', @l;
    next if $f =~ $GENERATED;
    push @miss, "$f: $lines{$f} lines (at most $MAX_FILE)"
        if @l > $MAX_FILE;
    next unless $f =~ /\.c$/;

    # nginx style: the type on one line, "name(" at column 0 on the next,
    # the body's braces at column 0
    my ($name, $start, $static);
    for my $i (0 .. $#l) {
        if ($l[$i] =~ /^(\w+)\(/) {
            ($name, $start) = ($1, $i);
            $static = $i > 0 && $l[$i - 1] =~ /^static\b/;
        } elsif ($l[$i] =~ /^\}/ && defined $name) {
            my $n = $i - $start + 1;
            push @funcs, [$n, $f, $name];
            $longest{$f} = [$n, $name]
                if !$longest{$f} || $n > $longest{$f}[0];
            push @miss, "$f: $name() is $n lines (at most $MAX_FUNC)"
                if $n > $MAX_FUNC;
            $defines{$name} = node($f) unless $static;
            undef $name;
        }
    }
}

# the graph: node -> node, by includes and by calls
my %edge;
for my $f (@files) {
    my $from = node($f);
    while ($text{$f} =~ /^#include\s+"(ngx_http_llm_route_\w+)\.h"/mg) {
        my $to = node($1);
        $edge{$from}{$to} = "includes $1.h" if $to ne $from;
    }
    next unless $f =~ /\.c$/;
    while ($text{$f} =~ /\b(ngx_http_llm_route_\w+)\s*\(/g) {
        my $to = $defines{$1};
        $edge{$from}{$to} ||= "calls $1()" if defined $to && $to ne $from;
    }
}

# a cycle: depth-first search, a node met again while on the path
my (%state, @path, %seen_cycle);
sub visit {
    my ($n) = @_;
    $state{$n} = 1;
    push @path, $n;
    for my $m (sort keys %{ $edge{$n} || {} }) {
        if (($state{$m} // 0) == 1) {
            my @c = (@path[(grep { $path[$_] eq $m } 0 .. $#path)[0]
                           .. $#path], $m);
            my $key = join ' ', sort @c[0 .. $#c - 1];
            next if $seen_cycle{$key}++;
            push @miss, 'cycle: ' . join ' -> ',
                map { $_ < $#c ? "$c[$_] ($edge{$c[$_]}{$c[$_ + 1]})"
                               : $c[$_] } 0 .. $#c;
        } elsif (!$state{$m}) {
            visit($m);
        }
    }
    pop @path;
    $state{$n} = 2;
}
visit($_) for sort keys %edge;

if ($report) {
    printf "%-42s %6s  %s\n", 'file', 'lines', 'longest function';
    for my $f (@files) {
        my $lf = $longest{$f};
        printf "%-42s %6d  %s\n", $f, $lines{$f},
            $lf ? "$lf->[1]() $lf->[0]" : '';
    }
    my $n = 0;
    $n += $lines{$_} for @files;
    printf "%-42s %6d\n\nthe ten longest functions:\n", 'total', $n;
    my @top = (sort { $b->[0] <=> $a->[0] || $a->[2] cmp $b->[2] } @funcs);
    printf "%5d  %s %s()\n", @$_ for @top[0 .. ($#top < 9 ? $#top : 9)];
    my $e = 0;
    $e += keys %{ $edge{$_} } for keys %edge;
    printf "\n%d files as %d nodes, %d edges (includes and calls)\n",
        scalar @files, scalar(keys %{{ map { node($_) => 1 } @files }}), $e;
}

if (@miss) {
    print STDERR "check-glue: $_\n" for @miss;
    exit 1;
}
print "check-glue: ok: no file over $MAX_FILE lines, no function over "
    . "$MAX_FUNC, no cycle among the glue files\n";
