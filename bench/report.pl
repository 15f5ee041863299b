#!/usr/bin/perl
#
# Turns run.sh's raw lines into markdown tables:
#
#   perl bench/report.pl RAW.tsv [RAW.tsv ...] [CLK_TCK]
#
# RAW lines: round setup size resp conn cpu_ticks requests=N
# duration_us=N p50_us=N p99_us=N non2xx=N sockerr=N [utime=N] (round 0
# is the warm-up and is ignored; utime, the user part of cpu_ticks, is
# in the lines of runs since session 11).  Per cell and setup: median
# req/s, median of the per-round ratios to "plain" measured in the same
# round, median p50/p99, median proxy CPU time per request and its user
# part, non-2xx and socket errors summed over the rounds.  Several raw
# files are pooled: their rounds are kept apart (a ratio is still taken
# within one round of one run), the medians are over all of them.
# Then, for the 2 KB cells, the issue-6 targets (explicit and auto
# against plain and Portkey) and, when the run has the "limits" and
# "fleet" setups, their ratios to "explicit" and fleet / limits: the
# throughput with the Redis sync on vs off (issue 26).

use strict;
use warnings;

my $hz = (@ARGV > 1 && $ARGV[-1] =~ /^\d+$/) ? pop @ARGV : 100;
my @raws = @ARGV or die "usage: report.pl RAW.tsv [RAW.tsv ...] [CLK_TCK]\n";

my (%d, @cells, %seen_cell, @setups, %seen_setup);

for my $i (0 .. $#raws) {
    open(my $f, "<", $raws[$i]) or die "$raws[$i]: $!\n";
    while (my $l = <$f>) {
        my ($r, $setup, $size, $resp, $conn, $ticks, @kv) = split ' ', $l;
        next if $r == 0;
        my $round = "$i:$r";
        my %v = map { split /=/ } @kv;
        my $cell = "$size $resp $conn";
        push @cells, $cell unless $seen_cell{$cell}++;
        push @setups, $setup unless $seen_setup{$setup}++;
        my $rps = $v{requests} / ($v{duration_us} / 1e6);
        $d{$cell}{$setup}{$round} = {
            rps => $rps,
            p50 => $v{p50_us} / 1000,
            p99 => $v{p99_us} / 1000,
            cpu => $v{requests} ? $ticks / $hz * 1e6 / $v{requests} : 0,
            user => defined $v{utime} && $v{requests}
                    ? $v{utime} / $hz * 1e6 / $v{requests} : undef,
            non2xx => $v{non2xx},
            sockerr => $v{sockerr},
        };
    }
    close $f;
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return 0 unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

sub col {
    my ($cell, $setup, $k) = @_;
    my $r = $d{$cell}{$setup} or return ();
    return map { $r->{$_}{$k} } sort keys %$r;
}

sub ratios {
    # per-round ratio of a setup's req/s to another's, same cell
    my ($cell, $setup, $base) = @_;
    my (@r, $rounds);
    $rounds = $d{$cell}{$setup} or return ();
    for my $round (sort keys %$rounds) {
        my $b = $d{$cell}{$base}{$round} or next;
        next unless $b->{rps} > 0;
        push @r, $rounds->{$round}{rps} / $b->{rps};
    }
    return @r;
}

my %name = (
    plain    => "(1) plain proxy_pass",
    explicit => "(2) module, explicit model",
    auto     => "(3) module, auto (classifier)",
    portkey  => "(4) Portkey gateway",
    limits   => "(5) explicit + budget + rate limit",
    fleet    => "(6) (5) synced through Redis",
);

my $nrounds = 0;
for my $c (@cells) {
    for my $s (@setups) {
        my $n = () = col($c, $s, "rps");
        $nrounds = $n if $n > $nrounds;
    }
}

print "Medians of $nrounds rounds. ratio = median over rounds of "
    . "(req/s / plain proxy's req/s in the same round).\n"
    . "CPU = the proxy's own CPU time (user + system) per request; "
    . "user = its user part\n(the system part, mostly TCP over loopback, "
    . "moves by several µs from run to run).\n\n";

print "| body | response | conns | setup | req/s | ratio to (1) "
    . "| p50 ms | p99 ms | CPU µs/req | user µs/req | non-2xx "
    . "| socket errors |\n";
print "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";

for my $c (@cells) {
    my ($size, $resp, $conn) = split ' ', $c;
    for my $s (@setups) {
        next unless $d{$c}{$s};
        my $ratio = $s eq "plain" ? "1.000"
            : exists $d{$c}{plain}
            ? sprintf("%.3f", median(ratios($c, $s, "plain"))) : "-";
        my $n2 = 0;
        my $se = 0;
        $n2 += $_ for col($c, $s, "non2xx");
        $se += $_ for col($c, $s, "sockerr");
        my @u = grep { defined } col($c, $s, "user");
        printf "| %s | %s | %d | %s | %.0f | %s | %.2f | %.2f | %.0f "
            . "| %s | %d | %d |\n",
            $size, $resp, $conn, $name{$s} // $s,
            median(col($c, $s, "rps")), $ratio,
            median(col($c, $s, "p50")), median(col($c, $s, "p99")),
            median(col($c, $s, "cpu")),
            @u ? sprintf("%.1f", median(@u)) : "-", $n2, $se;
    }
}

# the issue-6 targets, where the cells exist
my @t;
for my $c (@cells) {
    my ($size, $resp, $conn) = split ' ', $c;
    next unless $size eq "2k";
    my @row = ("$size $resp c=$conn");
    for my $s ("explicit", "auto") {
        push @row, $d{$c}{$s} && $d{$c}{plain}
            ? sprintf("%.3f", median(ratios($c, $s, "plain"))) : "-";
    }
    for my $s ("plain", "explicit", "auto") {
        push @row, $d{$c}{$s} && $d{$c}{portkey}
            ? sprintf("%.1f×", median(ratios($c, $s, "portkey"))) : "-";
    }
    push @t, \@row;
}

sub summary {
    # summary TITLE, [COLUMN, ...], ROWS: a table of the cells' rows
    my ($title, $head, $rows) = @_;
    return unless @$rows;
    print "\n$title:\n\n";
    print "| ", join(" | ", @$head), " |\n";
    print "|---", "|---:" x (@$head - 1), "|\n";
    print "| ", join(" | ", @$_), " |\n" for @$rows;
}

summary("Targets at 2 KB (explicit ≥ 0.95 and auto ≥ 0.90 of plain; "
        . "≥ 50× Portkey)",
        ["cell", "explicit / plain", "auto / plain", "plain / Portkey",
         "explicit / Portkey", "auto / Portkey"], \@t);

# issue 26: the cost of the limits, and of sharing them through Redis
my @f;
for my $c (@cells) {
    my ($size, $resp, $conn) = split ' ', $c;
    next unless $size eq "2k" && $d{$c}{limits} && $d{$c}{fleet};
    my @row = ("$size $resp c=$conn");
    for my $p (["limits", "explicit"], ["fleet", "explicit"],
               ["fleet", "limits"])
    {
        push @row, $d{$c}{$p->[1]}
            ? sprintf("%.3f", median(ratios($c, @$p))) : "-";
    }
    my @u = map { [grep { defined } col($c, $_, "user")] }
            qw(explicit limits fleet);
    push @row, map { @$_ ? sprintf("%.1f", median(@$_)) : "-" } @u;
    push @f, \@row;
}

summary("Limits and Redis sync at 2 KB (req/s ratios, medians of the "
        . "per-round ratios;\nuser µs/req of the proxy as above)",
        ["cell", "(5) / (2)", "(6) / (2)", "(6) / (5): sync on / off",
         "user (2)", "user (5)", "user (6)"], \@f);
