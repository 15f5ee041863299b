/*
 * ngx_llm_route_module: experiments (llm_route_experiment): who gets
 * which arm, what each arm records, and each arm against the control.
 *
 * Plain C, no nginx headers, no allocation, no global state.
 *
 * Assignment.  A request with a key (llm_route_experiment's key, e.g.
 * $http_x_user) gets the arm of
 *
 *     h = mix64(FNV-1a-64(name, 0x00, key))
 *     u = (h >> 32) * W >> 32               (0 <= u < W, W = the sum of
 *                                            the weights)
 *
 * that is, the key's place in [0, 1), (h >> 32) / 2^32, falls in one of
 * consecutive ranges, one per arm in their order (arm 0, the control,
 * from 0), each as wide as the arm's share of the weight: the same key
 * gets the same arm in every worker, on every instance and after every
 * reload, as long as the experiment's name and its arms' weights stay.
 * Changing a weight moves the ranges, and with them some keys (the
 * unit test computes how many); an arm of weight 0 takes no requests
 * (stopped) and keeps its history.  mix64 is the 64-bit finalizer of
 * MurmurHash3 (FNV-1a alone spreads keys that differ in their last
 * byte badly over the high bits).  Without a key (an empty one
 * included) the caller's random number takes the place of h (per
 * request).
 *
 * State.  Each arm's sufficient statistics are one llr_ab_arm_t: 64-bit
 * words, LLR_AB_ARM_SIZE bytes, to be kept in shared memory (and the
 * state file, as they are: no pointers) and updated with atomic adds by
 * llr_ab_record() and llr_ab_feedback() from any worker at any time,
 * with no lock.  Nothing per request is kept.
 *
 * Comparisons (docs/quality.md): each arm against the control, for
 * each metric: the difference arm - control, its 95% confidence
 * interval and an always-valid p-value, computed from two snapshots.
 * Sequential tests: the interval is a confidence sequence and the
 * p-value is valid at whatever moment it is read, however often (a
 * status page refreshed every minute), so "significant" (p < 0.05) is
 * not an artefact of looking again and again.
 *
 *   cost_usd, feedback   means: a two-sample mixture sequential
 *                        probability ratio test (mSPRT) with a normal
 *                        mixture, on the difference of the means, its
 *                        variance estimated (Welch); only once each arm
 *                        has LLR_AB_MIN_N observations and n >= 25 G1^2
 *                        (Cochran's rule for the normal approximation
 *                        of the mean of a skewed variable, G1 the
 *                        sample skewness), "skewed" until then
 *   errors, signals      proportions: the exact conditional test: the
 *                        share of the events that fell in the arm
 *                        against the arm's share of the requests, by a
 *                        beta-binomial mixture (no normal
 *                        approximation); signals are per answer
 *                        (requests without an error)
 *   latency_p50_ms,      quantiles from the latency histograms: exact
 *   latency_p99_ms       confidence sequences of each arm's quantile at
 *                        the bucket bounds (beta-binomial mixtures), the
 *                        difference's interval from the two arms'
 *
 * Each of the 11 metrics is tested at 5% / 11 (Bonferroni; the p-value
 * is the metric's times 11): with identical arms, the chance that any
 * metric ever shows significant is at most 5%, and the intervals are
 * simultaneous.  The mixtures are tuned to be tightest at about 1,000
 * observations in each arm.
 *
 * For the glue: the status handler snapshots the control's and each
 * arm's llr_ab_arm_t (llr_ab_snapshot()), calls llr_ab_compare() for
 * every metric into an array of LLR_AB_METRICS, prints each (NAN as
 * null: "lo", "hi", "p" are NAN unless state is LLR_AB_OK) and the
 * verdict (llr_ab_verdict(), the arm's name before it).
 */

#ifndef _LLR_ABTEST_H_INCLUDED_
#define _LLR_ABTEST_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_qstat.h"
#include "llr_signal.h"


#define LLR_AB_ARMS          8        /* arms of an experiment, the
                                         control (arm 0) included */
#define LLR_AB_MIN_N         30       /* observations per arm, at least */
#define LLR_AB_ALPHA         0.05


typedef struct {
    const unsigned char    *name;
    size_t                  name_len;
    unsigned                narms;
    uint32_t                weight[LLR_AB_ARMS];   /* arm 0: control */
} llr_ab_conf_t;


/* the hash of a key in an experiment (see above) */
uint64_t llr_ab_hash(const unsigned char *name, size_t name_len,
    const unsigned char *key, size_t key_len);

/*
 * The arm (0 .. narms - 1) of a request: by its key, or by rnd (a
 * uniformly random 64-bit number) when key_len is 0.  -1 if every
 * weight is 0.
 */
int llr_ab_assign(const llr_ab_conf_t *conf, const unsigned char *key,
    size_t key_len, uint64_t rnd);


/*
 * One arm's sufficient statistics, in shared memory.  All zero bytes is
 * an arm with nothing recorded.  cost[] are doubles (llr_q_double()):
 * the sums of the cost in USD, of its square and of its cube; score[]
 * are int64_t in two's complement: the sums of the feedback scores in
 * thousandths (-1000 .. 1000), of their squares and of their cubes.
 */
typedef struct {
    uint64_t    requests;
    uint64_t    errors;
    uint64_t    signals[LLR_SIG_N];
    uint64_t    cost[3];
    uint64_t    feedback;              /* scores */
    uint64_t    score[3];
    uint64_t    latency[LLR_Q_LAT_BUCKETS];
} llr_ab_arm_t;

#define LLR_AB_ARM_SIZE      sizeof(llr_ab_arm_t)      /* 264 bytes */
#define LLR_AB_ARM_WORDS     (sizeof(llr_ab_arm_t) / sizeof(uint64_t))


/* a routed request, in the log phase (atomic adds) */
void llr_ab_record(llr_ab_arm_t *arm, const llr_q_obs_t *obs);

/*
 * A feedback score (thousandths, clamped to -1000 .. 1000) for a
 * request of this arm; old: the score it replaces, LLR_Q_NO_SCORE for
 * a first one (atomic adds)
 */
void llr_ab_feedback(llr_ab_arm_t *arm, int32_t score, int32_t old);

/* a copy, each word loaded atomically */
void llr_ab_snapshot(llr_ab_arm_t *dst, const llr_ab_arm_t *src);


/* the metrics compared */
enum {
    LLR_AB_COST = 0,
    LLR_AB_ERRORS,
    LLR_AB_SIGNAL,                     /* + llr_sig_e */
    LLR_AB_FEEDBACK = LLR_AB_SIGNAL + LLR_SIG_N,
    LLR_AB_LATENCY_P50,
    LLR_AB_LATENCY_P99,
    LLR_AB_METRICS
};

/*
 * "cost_usd", "errors", the signals' names, "feedback",
 * "latency_p50_ms", "latency_p99_ms"; NULL if none
 */
const char *llr_ab_metric_name(unsigned metric);


/* llr_ab_cmp_t.state */
enum {
    LLR_AB_NO_DATA = 0,      /* an arm has none */
    LLR_AB_FEW,              /* fewer than the test needs */
    LLR_AB_SKEWED,           /* a mean: too skewed for its n yet */
    LLR_AB_OK
};

typedef struct {
    unsigned    metric;
    unsigned    state;
    double      control;     /* cost per request (USD), rate (0..1),
                                mean score (-1..1), quantile (ms) */
    double      arm;
    double      diff;        /* arm - control */
    double      lo;          /* the 95% interval of diff (may be
                                -INFINITY / INFINITY for a quantile);
                                NAN unless state is LLR_AB_OK */
    double      hi;
    double      p;           /* always-valid p-value; NAN unless OK */
    unsigned    significant:1;   /* p < 0.05 */

    /*
     * How many more observations of the arm (requests; scores for the
     * feedback) until a difference as large as diff would be
     * significant, the control growing in proportion; 0 when it is
     * already; INFINITY when diff is 0 (or would need over 10^9); NAN
     * when not estimated (quantiles)
     */
    double      need;
    uint64_t    n_control;   /* observations of the metric */
    uint64_t    n_arm;
} llr_ab_cmp_t;


/*
 * Compare an arm with the control (two snapshots) on a metric; bounds:
 * the histogram's bucket bounds in ms (LLR_Q_LAT_BUCKETS of them, the
 * last UINT64_MAX), used by the latency metrics only
 */
void llr_ab_compare(const llr_ab_arm_t *control, const llr_ab_arm_t *arm,
    unsigned metric, const uint64_t *bounds, llr_ab_cmp_t *out);

/*
 * The verdict on one arm in plain words, from its comparisons with the
 * control (cmp[LLR_AB_METRICS], in metric order), for instance
 *
 *   "costs 61% less, significant; truncated 2.1 pp higher, significant;
 *    feedback not different yet, need ~1,200 more scores; no other
 *    significant difference"
 *
 * The caller puts the arm's name before it.  Writes at most size bytes
 * with the NUL (size > 0); returns the length without it.
 */
size_t llr_ab_verdict(char *buf, size_t size, const llr_ab_cmp_t *cmp);


#endif /* _LLR_ABTEST_H_INCLUDED_ */
