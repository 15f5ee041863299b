/*
 * ngx_llm_route_module: the arithmetic shared by experiments
 * (llr_abtest) and drift (llr_drift): what one answer contributes,
 * distributions, the mixture boundaries of sequential tests, latency
 * quantiles from histogram buckets, and the atomic updates of the
 * 64-bit words that hold sufficient statistics in shared memory.
 *
 * Plain C, no nginx headers, no global state (lgamma() sets the C
 * library's signgam; its arguments here are positive).
 *
 * Atomics.  The state in shared memory is arrays of uint64_t updated
 * with the compiler's __atomic builtins (lock-free on every 64-bit
 * target nginx runs on; 8-byte aligned words): no update is lost when
 * workers record at the same time, and a killed worker leaves no lock
 * behind.  A reader takes each word with an atomic load; words of one
 * structure are not a snapshot of one instant (a reader may see a
 * request counted before its cost), which the statistics tolerate (a
 * variance that comes out negative is taken as 0).  Doubles are kept as
 * their bit patterns in such words and added with a compare-and-set.
 */

#ifndef _LLR_QSTAT_H_INCLUDED_
#define _LLR_QSTAT_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "llr_signal.h"


/*
 * The latency histogram of an arm or a drift bucket has the zone's
 * buckets: LLR_Q_LAT_BUCKETS counts, bucket i holding the samples of at
 * most bounds[i] ms and more than bounds[i - 1] (the last one +Inf).
 * The bounds are the caller's (the zone's table): functions that need
 * them take them.
 */
#define LLR_Q_LAT_BUCKETS    18

/* a feedback score in thousandths, -1000 .. 1000 */
#define LLR_Q_SCORE_MAX      1000

/* no score before this one (llr_ab_feedback(), llr_drift_feedback()) */
#define LLR_Q_NO_SCORE       INT32_MIN


/* a score clamped to -LLR_Q_SCORE_MAX .. LLR_Q_SCORE_MAX */
static inline int32_t
llr_q_score(int32_t score)
{
    return score < -LLR_Q_SCORE_MAX ? -LLR_Q_SCORE_MAX
           : score > LLR_Q_SCORE_MAX ? LLR_Q_SCORE_MAX : score;
}


/*
 * The hash of experiment keys and feedback ids: FNV-1a 64 (pass
 * LLR_Q_FNV_INIT, or the hash so far to go on), then MurmurHash3's
 * fmix64, which spreads FNV-1a's last bytes over all the bits.  Both are
 * fixed here: a key's arm must not change with a new build.
 */
#define LLR_Q_FNV_INIT       0xcbf29ce484222325ULL

static inline uint64_t
llr_q_fnv1a64(uint64_t h, const unsigned char *p, size_t len)
{
    while (len--) {
        h = (h ^ *p++) * 0x100000001b3ULL;
    }

    return h;
}


static inline uint64_t
llr_q_fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;

    return h;
}


/* what one routed request contributes */
typedef struct {
    uint32_t    signals;        /* LLR_SIG_BIT()s of its answer */
    unsigned    error:1;        /* it failed: no answer, no signals */
    unsigned    latency_bucket; /* < LLR_Q_LAT_BUCKETS */
    double      cost_usd;
} llr_q_obs_t;


static inline uint64_t
llr_q_load(const uint64_t *w)
{
    return __atomic_load_n(w, __ATOMIC_RELAXED);
}


static inline void
llr_q_add(uint64_t *w, uint64_t v)
{
    (void) __atomic_fetch_add(w, v, __ATOMIC_RELAXED);
}


static inline double
llr_q_double(uint64_t bits)
{
    double  d;

    memcpy(&d, &bits, sizeof(d));
    return d;
}


static inline uint64_t
llr_q_bits(double d)
{
    uint64_t  bits;

    memcpy(&bits, &d, sizeof(bits));
    return bits;
}


/* *w (a double's bits) += v, without losing a concurrent update */
static inline void
llr_q_add_double(uint64_t *w, double v)
{
    uint64_t  old, new;

    old = __atomic_load_n(w, __ATOMIC_RELAXED);

    do {
        new = llr_q_bits(llr_q_double(old) + v);
    } while (!__atomic_compare_exchange_n(w, &old, new, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
}


/* n words, each loaded atomically */
void llr_q_snapshot(uint64_t *dst, const uint64_t *src, size_t n);


/* P(Z > z) of the standard normal */
double llr_q_norm_sf(double z);

/* log of the regularized incomplete beta function I_x(a, b), a, b > 0 */
double llr_q_log_betai(double a, double b, double x);

/*
 * P(X >= k) for X ~ Binomial(n, p): the exact tail (1 for k <= 0, 0
 * for k > n)
 */
double llr_q_binom_sf(uint64_t k, uint64_t n, double p);

/* P(T > t) for Student's t with df degrees of freedom (df > 0) */
double llr_q_t_sf(double t, double df);


/*
 * The two-sided normal-mixture boundary of a sequential test (Robbins
 * 1970; Howard, Ramdas, McAuliffe, Sekhon 2021, "Time-uniform,
 * nonparametric, nonasymptotic confidence sequences"): for a sum S_t
 * of increments with variance
 * process v_t, P(exists t: |S_t| >= llr_q_mix_bound(v_t, rho, alpha))
 * <= alpha (asymptotically, under a normal approximation).  rho sets
 * where the boundary is tightest; llr_q_mix_rho(v_opt, alpha) puts
 * that near v_opt.
 */
double llr_q_mix_bound(double v, double rho, double alpha);
double llr_q_mix_rho(double v_opt, double alpha);

/*
 * The same test's always-valid p-value for S_t = s: min(1, 1 / L_t),
 * L_t the mixture likelihood ratio sqrt(rho / (v + rho))
 * exp(s^2 / (2 (v + rho))).  p < alpha exactly when |s| >=
 * llr_q_mix_bound(v, rho, alpha).
 */
double llr_q_mix_p(double s, double v, double rho);


/*
 * The beta-binomial mixture martingale of a proportion (exact, no
 * normal approximation): for k successes in n Bernoulli(p0) trials,
 * the log of the mixture over p ~ Beta(a, b) of the likelihood ratio
 * of p against p0.  Under p0, P(ever >= log(1 / alpha)) <= alpha.
 * llr_q_bb_interval(): its confidence sequence, the p0 where it stays
 * below crit = log(1 / alpha), an interval around k / n.
 */
double llr_q_bb_log(double k, double n, double p0, double a, double b);
void llr_q_bb_interval(double k, double n, double a, double b, double crit,
    double *lo, double *hi);


/*
 * The q-quantile (0..1) in ms of a histogram, linear in the bucket the
 * rank falls in (from the bound below, 0 for the first bucket, to its
 * bound; the +Inf bucket gives the last finite bound): the zone's
 * percentiles.  0 for an empty histogram.
 */
double llr_q_hist_quantile(const uint64_t *counts, const uint64_t *bounds,
    unsigned n, double q);


#endif /* _LLR_QSTAT_H_INCLUDED_ */
