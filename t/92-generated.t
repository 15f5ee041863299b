#!/usr/bin/perl

# Generated files are what their generators write: core/llr_default_model.c
# is models/default.model (build-aux/check-generated.sh; make check-generated;
# LLR_CHECK_TRAIN=1 also retrains, which this test does not).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use LLRTest;

my $repo = LLRTest->repo;

plan skip_all => 'build/llm-route-train is not built'
    unless -x "$repo/build/llm-route-train";

my $out = `cd $repo && BUILD=build sh build-aux/check-generated.sh 2>&1`;
is($?, 0, 'build-aux/check-generated.sh') or diag($out);
like($out, qr/llr_default_model\.c is models\/default\.model/,
     'the built-in model is models/default.model');

done_testing;
