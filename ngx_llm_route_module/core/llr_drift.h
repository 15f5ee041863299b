/*
 * ngx_llm_route_module: drift alarms, per model x task.
 *
 * Plain C, no nginx headers, no allocation, no global state.
 *
 * A series (one per model x task) is a ring of time buckets of
 * sufficient statistics: requests, errors, each signal, feedback count,
 * sum and sum of squares, the latency histogram.  Once per closed
 * bucket, the recent window (the last `recent` closed buckets) is
 * compared with the baseline window (the `baseline` buckets before
 * them) on each metric: the error rate, each signal's rate (per answer:
 * requests without an error), the feedback mean and the latency p99.
 * An alarm is raised when the metric got worse by more than a threshold
 * (material) and the change is significant at alpha_t; it stays while
 * it is still worse by half the threshold and significant at 5%; it
 * clears otherwise (hysteresis).  docs/quality.md has the rule, its
 * defaults and the delays measured by t/unit/test_drift.c.
 *
 *   rates     the exact conditional test of two Poisson rates: of the K
 *             events of both windows, the recent window's count is
 *             Binomial(K, n_r / (n_r + n_b)) if nothing changed (for
 *             binomial proportions this is conservative); one-sided
 *   feedback  Welch's t test, one-sided (a drop), each window with one
 *             score of -1 and one of +1 added (no zero variance)
 *   latency   the share of requests above the bucket bound at which the
 *             pooled (both windows) histogram reaches 99%, compared as
 *             a rate (exact under exchangeability: the bound depends on
 *             the pooled samples only); material when the recent p99
 *             is above the baseline's by latency_rel
 *
 * False alarms.  A page refreshed every minute must not turn noise into
 * alarms, and many series are watched at once.  The evaluation happens
 * once per closed bucket, whoever asks and however often (the first
 * caller after a bucket closes claims it with a compare-and-set), so
 * looking more often tests nothing more; and each test is made at
 *
 *     alpha_t = alpha / (tests * evaluations per day)
 *
 * (Bonferroni over the series x metrics and over a day's evaluations):
 * with nothing drifting, the probability of any false alarm in a day,
 * over all series, is at most alpha (default 0.05: about one false
 * alarm in 20 days).  Benjamini-Hochberg would control the share of
 * false alarms among the alarms of one evaluation, but with nothing
 * drifting it gives a false alarm in a share alpha of the evaluations,
 * hundreds of times a day.
 *
 * State.  A series is llr_drift_size(conf) bytes of caller memory
 * (shared memory, the state file as it is: no pointers), all updated
 * with atomics and no lock: each counter of a bucket is one 64-bit word
 * holding the bucket's number in its high 24 bits and the count in the
 * low 40 (saturating), so that the first update in a new bucket resets
 * the word for it with one compare-and-set (as llr_stats.h's
 * per-second counts), and a write for a bucket that has left the ring
 * is dropped.  A word left unwritten for a multiple of 2^24 buckets
 * reads as current (160 years of 5-minute buckets).
 *
 * For the glue: one series per model x task in the zone (found by the
 * pair's names, so that a reload keeps it; llr_drift_compatible() says
 * whether it can go on with a new configuration); the log phase calls
 * llr_drift_record(), the feedback handler llr_drift_feedback(), the
 * status handler llr_drift_eval() then llr_drift_get() for each metric
 * (a raised one is a "drift" entry and llm_route_quality_drift 1).
 */

#ifndef _LLR_DRIFT_H_INCLUDED_
#define _LLR_DRIFT_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_qstat.h"
#include "llr_signal.h"


enum {
    LLR_DRIFT_ERRORS = 0,
    LLR_DRIFT_SIGNAL,                       /* + llr_sig_e */
    LLR_DRIFT_FEEDBACK = LLR_DRIFT_SIGNAL + LLR_SIG_N,
    LLR_DRIFT_LATENCY_P99,
    LLR_DRIFT_METRICS
};


typedef struct {
    uint32_t    bucket_sec;      /* bucket length, s (300) */
    uint32_t    recent;          /* buckets in the recent window (3) */
    uint32_t    baseline;        /* buckets in the baseline window (72) */
    uint32_t    tests;           /* series x LLR_DRIFT_METRICS watched
                                    (the configuration's models x tasks
                                    x metrics; 1000) */
    uint32_t    min_requests;    /* in each window (50) */
    uint32_t    min_scores;      /* feedback in each window (20) */
    double      alpha;           /* false alarms per day, all series
                                    together (0.05) */
    double      rate_abs;        /* a rate: up by this much (0.01) */
    double      rate_rel;        /* and by this share of the baseline
                                    (0.5: to 1.5 times) */
    double      feedback_drop;   /* the mean score: down by (0.1) */
    double      latency_rel;     /* p99: up by this share (0.5) */
} llr_drift_conf_t;


/* the last evaluation of one metric of a series */
typedef struct {
    uint64_t    raised;          /* 1 while drifting */
    uint64_t    since;           /* epoch s: when it was raised */
    uint64_t    baseline;        /* doubles: the baseline's value, the */
    uint64_t    now;             /* recent window's, and the p-value */
    uint64_t    p;               /* (1 when not tested) */
} llr_drift_alarm_t;


typedef struct {
    uint64_t            evaluated;  /* the last bucket evaluated + 1 */
    uint32_t            ring;       /* buckets: recent + baseline */
    uint32_t            bucket_sec;
    llr_drift_alarm_t   alarm[LLR_DRIFT_METRICS];
    uint64_t            w[];        /* ring x LLR_DRIFT_WORDS */
} llr_drift_series_t;

#define LLR_DRIFT_WORDS      (5 + LLR_SIG_N + LLR_Q_LAT_BUCKETS)


/* what llr_drift_get() gives */
typedef struct {
    unsigned    raised;
    uint64_t    since;
    double      baseline;        /* rate (0..1), mean score, p99 (ms) */
    double      now;
    double      p;
} llr_drift_state_t;


void llr_drift_conf_default(llr_drift_conf_t *conf);

/* 0, or -1 with a static message (a window of 0 buckets, ...) */
int llr_drift_conf_check(const llr_drift_conf_t *conf, const char **err);

/* the bytes of one series (a multiple of 8) */
size_t llr_drift_size(const llr_drift_conf_t *conf);

void llr_drift_init(llr_drift_series_t *s, const llr_drift_conf_t *conf);

/*
 * 1 if a series made for another configuration (a reload) can go on
 * with this one: the same ring and bucket length
 */
int llr_drift_compatible(const llr_drift_series_t *s,
    const llr_drift_conf_t *conf);

/* "errors", the signals' names, "feedback", "latency_p99_ms" */
const char *llr_drift_metric_name(unsigned metric);

/* a request that ended at `now` (epoch s): atomic, any worker */
void llr_drift_record(llr_drift_series_t *s, uint64_t now,
    const llr_q_obs_t *obs);

/*
 * A feedback score (thousandths) at `now`; old: the score it replaces
 * (LLR_Q_NO_SCORE for a first one) given at old_time: taken out of
 * that bucket if it is still in the ring
 */
void llr_drift_feedback(llr_drift_series_t *s, uint64_t now, int32_t score,
    int32_t old, uint64_t old_time);

/*
 * Evaluate the last closed bucket if no one has (returns 1), else
 * nothing (0).  bounds: the latency histogram's bucket bounds, ms.
 */
int llr_drift_eval(llr_drift_series_t *s, const llr_drift_conf_t *conf,
    uint64_t now, const uint64_t *bounds);

/* a metric's alarm, as the last evaluation left it */
void llr_drift_get(const llr_drift_series_t *s, unsigned metric,
    llr_drift_state_t *st);


#endif /* _LLR_DRIFT_H_INCLUDED_ */
