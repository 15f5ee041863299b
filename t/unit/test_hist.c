/*
 * core/llr_stats: the latency histograms' buckets and percentiles.
 */

#include <math.h>
#include <stdint.h>

#include "tap.h"
#include "llr_stats.h"


typedef struct {
    uint64_t     ms;
    unsigned     bucket;
} bucket_case_t;


typedef struct {
    const char  *name;
    uint64_t     counts[LLR_HIST_BUCKETS];
    double       q;
    double       want;
} pct_case_t;


static const bucket_case_t  buckets[] = {
    { 0, 0 }, { 5, 0 }, { 6, 1 }, { 10, 1 }, { 11, 2 }, { 1000, 7 },
    { 1001, 8 }, { 600000, 16 }, { 600001, 17 }, { UINT64_MAX, 17 }
};


static const pct_case_t  pcts[] = {
    { "empty: 0", { 0 }, 0.5, 0 },
    { "one bucket: half way up it", { 0, 0, 0, 0, 4 }, 0.5, 75 },
    { "one bucket: p90", { 0, 0, 0, 0, 10 }, 0.9, 95 },
    { "the first bucket starts at 0", { 2 }, 0.5, 2.5 },
    { "two buckets: the rank in the second",
      { 0, 0, 0, 0, 0, 0, 0, 1, 1 }, 0.99, 2470 },
    { "the rank at a bucket's end: its bound",
      { 0, 0, 0, 0, 0, 0, 0, 1, 1 }, 0.5, 1000 },
    { "above the last bound: that bound",
      { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3 }, 0.5,
      600000 }
};


int
main(void)
{
    size_t  i;
    double  got;

    is_int(llr_hist_bounds_ms[LLR_HIST_BUCKETS - 1], UINT64_MAX,
           "the last bucket is +Inf");

    for (i = 1; i < LLR_HIST_BUCKETS; i++) {
        if (llr_hist_bounds_ms[i] <= llr_hist_bounds_ms[i - 1]) {
            break;
        }
    }

    is_int(i, LLR_HIST_BUCKETS, "the bounds grow");

    for (i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
        is_int(llr_hist_bucket(buckets[i].ms), buckets[i].bucket,
               "%llu ms: bucket %u", (unsigned long long) buckets[i].ms,
               buckets[i].bucket);
    }

    for (i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
        got = llr_hist_percentile(pcts[i].counts, pcts[i].q);
        ok(fabs(got - pcts[i].want) < 1e-9, "percentile: %s (%g, want %g)",
           pcts[i].name, got, pcts[i].want);
    }

    done_testing();
}
