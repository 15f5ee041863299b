/*
 * ngx_llm_route_module: experiments (see llr_abtest.h).
 */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "llr_abtest.h"


/* where the mixtures are tightest: observations per arm */
#define LLR_AB_TUNE_N        1000.0

/* Cochran's rule: n >= 25 G1^2 */
#define LLR_AB_COCHRAN       25.0

/* the quantile tests: n (1 - q) >= this in each arm */
#define LLR_AB_TAIL_MIN      5.0

#define LLR_AB_NEED_MAX      1e9

/* each metric's share of the arm's 5% (Bonferroni) */
#define LLR_AB_ALPHA_M       (LLR_AB_ALPHA / LLR_AB_METRICS)


static const char  *llr_ab_metric_names[LLR_AB_METRICS] = {
    "cost_usd",
    "errors",
    "truncated",
    "content_filter",
    "empty",
    "bad_tool_json",
    "bad_json",
    "refusal",
    "feedback",
    "latency_p50_ms",
    "latency_p99_ms"
};


/* what a mean comparison needs of one arm */
typedef struct {
    double      n;
    double      mean;
    double      var;            /* sample variance */
    double      g1sq;           /* squared sample skewness */
} llr_ab_moments_t;


static void llr_ab_moments(llr_ab_moments_t *m, double n, double s1,
    double s2, double s3);
static void llr_ab_means(const llr_ab_moments_t *a, const llr_ab_moments_t *b,
    int skew, llr_ab_cmp_t *out);
static void llr_ab_props(uint64_t ka, uint64_t na, uint64_t kb, uint64_t nb,
    llr_ab_cmp_t *out);
static void llr_ab_test(double d, double var, double sigma2, double nb,
    llr_ab_cmp_t *out);
static void llr_ab_quantile(const uint64_t *a, const uint64_t *b,
    const uint64_t *bounds, double q, llr_ab_cmp_t *out);


uint64_t
llr_ab_hash(const unsigned char *name, size_t name_len,
    const unsigned char *key, size_t key_len)
{
    uint64_t  h;

    h = llr_q_fnv1a64(LLR_Q_FNV_INIT, name, name_len);
    h = llr_q_fnv1a64(h, (const unsigned char *) "", 1);
    h = llr_q_fnv1a64(h, key, key_len);

    return llr_q_fmix64(h);
}


int
llr_ab_assign(const llr_ab_conf_t *conf, const unsigned char *key,
    size_t key_len, uint64_t rnd)
{
    uint64_t  h, w, u, cum;
    unsigned  i;

    w = 0;

    for (i = 0; i < conf->narms && i < LLR_AB_ARMS; i++) {
        w += conf->weight[i];
    }

    if (w == 0) {
        return -1;
    }

    h = key_len ? llr_ab_hash(conf->name, conf->name_len, key, key_len)
                : rnd;

    /* the high 32 bits scaled to [0, w): w < 2^35, no overflow */
    u = ((h >> 32) * w) >> 32;
    cum = 0;

    for (i = 0; i < conf->narms && i < LLR_AB_ARMS; i++) {
        cum += conf->weight[i];

        if (u < cum) {
            return (int) i;
        }
    }

    return (int) (i - 1);
}


void
llr_ab_record(llr_ab_arm_t *arm, const llr_q_obs_t *obs)
{
    unsigned  i;
    double    c;

    llr_q_add(&arm->requests, 1);

    if (obs->error) {
        llr_q_add(&arm->errors, 1);
    }

    for (i = 0; i < LLR_SIG_N; i++) {
        if (obs->signals & LLR_SIG_BIT(i)) {
            llr_q_add(&arm->signals[i], 1);
        }
    }

    c = obs->cost_usd;

    if (c != 0) {
        llr_q_add_double(&arm->cost[0], c);
        llr_q_add_double(&arm->cost[1], c * c);
        llr_q_add_double(&arm->cost[2], c * c * c);
    }

    if (obs->latency_bucket < LLR_Q_LAT_BUCKETS) {
        llr_q_add(&arm->latency[obs->latency_bucket], 1);
    }
}


void
llr_ab_feedback(llr_ab_arm_t *arm, int32_t score, int32_t old)
{
    int64_t  s, o;

    s = llr_q_score(score);

    if (old == LLR_Q_NO_SCORE) {
        llr_q_add(&arm->feedback, 1);
        o = 0;

    } else {
        o = llr_q_score(old);
    }

    /* two's complement: adding the difference as uint64_t is exact */
    llr_q_add(&arm->score[0], (uint64_t) (s - o));
    llr_q_add(&arm->score[1], (uint64_t) (s * s - o * o));
    llr_q_add(&arm->score[2], (uint64_t) (s * s * s - o * o * o));
}


void
llr_ab_snapshot(llr_ab_arm_t *dst, const llr_ab_arm_t *src)
{
    llr_q_snapshot((uint64_t *) dst, (const uint64_t *) src,
                   LLR_AB_ARM_WORDS);
}


const char *
llr_ab_metric_name(unsigned metric)
{
    return (metric < LLR_AB_METRICS) ? llr_ab_metric_names[metric] : NULL;
}


void
llr_ab_compare(const llr_ab_arm_t *control, const llr_ab_arm_t *arm,
    unsigned metric, const uint64_t *bounds, llr_ab_cmp_t *out)
{
    double            k;
    uint64_t          na, nb;
    llr_ab_moments_t  ma, mb;

    memset(out, 0, sizeof(llr_ab_cmp_t));
    out->metric = metric;
    out->lo = NAN;
    out->hi = NAN;
    out->p = NAN;
    out->need = NAN;

    switch (metric) {

    case LLR_AB_COST:
        llr_ab_moments(&ma, (double) control->requests,
                       llr_q_double(control->cost[0]),
                       llr_q_double(control->cost[1]),
                       llr_q_double(control->cost[2]));
        llr_ab_moments(&mb, (double) arm->requests,
                       llr_q_double(arm->cost[0]),
                       llr_q_double(arm->cost[1]),
                       llr_q_double(arm->cost[2]));
        llr_ab_means(&ma, &mb, 1, out);
        break;

    case LLR_AB_FEEDBACK:
        k = 1.0 / LLR_Q_SCORE_MAX;
        llr_ab_moments(&ma, (double) control->feedback,
                       (double) (int64_t) control->score[0] * k,
                       (double) (int64_t) control->score[1] * k * k,
                       (double) (int64_t) control->score[2] * k * k * k);
        llr_ab_moments(&mb, (double) arm->feedback,
                       (double) (int64_t) arm->score[0] * k,
                       (double) (int64_t) arm->score[1] * k * k,
                       (double) (int64_t) arm->score[2] * k * k * k);
        llr_ab_means(&ma, &mb, 1, out);
        break;

    case LLR_AB_ERRORS:
        llr_ab_props(control->errors, control->requests, arm->errors,
                     arm->requests, out);
        break;

    case LLR_AB_LATENCY_P50:
    case LLR_AB_LATENCY_P99:
        llr_ab_quantile(control->latency, arm->latency, bounds,
                        metric == LLR_AB_LATENCY_P50 ? 0.50 : 0.99, out);
        break;

    default:
        if (metric < LLR_AB_SIGNAL || metric >= LLR_AB_FEEDBACK) {
            return;
        }

        /* per answer: requests without an error */
        na = control->requests - (control->errors < control->requests
                                  ? control->errors : control->requests);
        nb = arm->requests - (arm->errors < arm->requests
                              ? arm->errors : arm->requests);

        llr_ab_props(control->signals[metric - LLR_AB_SIGNAL], na,
                     arm->signals[metric - LLR_AB_SIGNAL], nb, out);
        break;
    }
}


static void
llr_ab_moments(llr_ab_moments_t *m, double n, double s1, double s2,
    double s3)
{
    double  mean, m2, m3;

    memset(m, 0, sizeof(llr_ab_moments_t));
    m->n = n;

    if (n < 1) {
        return;
    }

    mean = s1 / n;
    m->mean = mean;

    /* central moments; a torn read may make m2 slightly negative */
    m2 = s2 / n - mean * mean;
    m2 = m2 > 0 ? m2 : 0;
    m3 = s3 / n - 3.0 * mean * s2 / n + 2.0 * mean * mean * mean;

    m->var = (n > 1) ? m2 * n / (n - 1) : 0;

    /* relative to the scale: rounding leaves m2 ~ 1e-16 mean^2 */
    if (m2 > 1e-12 * mean * mean) {
        m->g1sq = m3 * m3 / (m2 * m2 * m2);
    }
}


/* the minimum of the arms' requirements, as a factor on both */
static double
llr_ab_grow(double need_a, double na, double need_b, double nb)
{
    double  f;

    f = 1.0;

    if (na > 0 && need_a / na > f) {
        f = need_a / na;
    }

    if (nb > 0 && need_b / nb > f) {
        f = need_b / nb;
    }

    return f;
}


static void
llr_ab_means(const llr_ab_moments_t *a, const llr_ab_moments_t *b, int skew,
    llr_ab_cmp_t *out)
{
    double  f, v, sigma2, var;

    out->n_control = (uint64_t) a->n;
    out->n_arm = (uint64_t) b->n;

    if (a->n < 1 || b->n < 1) {
        out->state = LLR_AB_NO_DATA;
        return;
    }

    out->control = a->mean;
    out->arm = b->mean;
    out->diff = b->mean - a->mean;

    if (a->n < LLR_AB_MIN_N || b->n < LLR_AB_MIN_N) {
        out->state = LLR_AB_FEW;
        f = llr_ab_grow(LLR_AB_MIN_N, a->n, LLR_AB_MIN_N, b->n);
        out->need = ceil((f - 1.0) * b->n);
        return;
    }

    if (skew) {
        /*
         * the larger of the two estimates for both arms: a heavy tail
         * makes the sample skewness of the smaller arm too small
         */
        v = a->g1sq > b->g1sq ? a->g1sq : b->g1sq;
        f = llr_ab_grow(LLR_AB_COCHRAN * v, a->n, LLR_AB_COCHRAN * v, b->n);

        if (f > 1.0) {
            out->state = LLR_AB_SKEWED;
            out->need = ceil((f - 1.0) * b->n);
            return;
        }
    }

    var = a->var / a->n + b->var / b->n;
    sigma2 = ((a->n - 1) * a->var + (b->n - 1) * b->var) / (a->n + b->n - 2);

    llr_ab_test(out->diff, var, sigma2, b->n, out);
}


/*
 * The growth factor f in [1, LLR_AB_NEED_MAX] of both arms' counts at
 * which reached(ctx, f) turns true (it is monotone in f), or INFINITY
 */
static double
llr_ab_growth(int (*reached)(const void *ctx, double f), const void *ctx)
{
    int     i;
    double  lo, hi, mid;

    if (!reached(ctx, LLR_AB_NEED_MAX)) {
        return INFINITY;
    }

    lo = 0;
    hi = log(LLR_AB_NEED_MAX);

    for (i = 0; i < 60; i++) {
        mid = (lo + hi) / 2;

        if (reached(ctx, exp(mid))) {
            hi = mid;

        } else {
            lo = mid;
        }
    }

    return exp(hi);
}


/*
 * Proportions: the arm each event fell in.  With requests assigned at
 * random, an arm's share w of the requests, and the same rate in both
 * arms, every event (an error, a signal) is in the arm with probability
 * w, whatever the rate, independently of the others: the count kb of
 * the K events that are the arm's is a Bernoulli(w) sum, and the
 * beta-binomial mixture of the likelihood ratio against Bernoulli(pi)
 * is an exact martingale in K (no normal approximation: rare events
 * included).  w is taken as the arm's share of the denominators, which
 * is the assignment's share up to its sampling error.  pi and the
 * rate ratio r = pb / pa determine each other:
 *
 *     r = pi / (1 - pi) * (1 - w) / w
 *
 * The difference's interval: r's from pi's confidence sequence, times
 * the control's rate from its own (a beta-binomial mixture, uniform
 * prior), each at half the metric's alpha.
 */

#define LLR_AB_PI_PRIOR      20.0     /* tuned for about 300 events */


/* the arm's events k of n, the share w, the prior: for "need" */
typedef struct {
    double      k;
    double      n;
    double      w;
    double      a;
    double      b;
} llr_ab_props_t;


static int
llr_ab_props_reached(const void *ctx, double f)
{
    const llr_ab_props_t  *g = ctx;

    return llr_q_bb_log(g->k * f, g->n * f, g->w, g->a, g->b)
           >= log(2.0 * LLR_AB_METRICS / LLR_AB_ALPHA);
}


static void
llr_ab_props(uint64_t ka, uint64_t na, uint64_t kb, uint64_t nb,
    llr_ab_cmp_t *out)
{
    double          w, a, b, k, n, crit, l, f, lo, hi, pi_lo, pi_hi,
                    pa_lo, pa_hi, r_lo, r_hi;
    llr_ab_props_t  g;

    out->n_control = na;
    out->n_arm = nb;

    if (na == 0 || nb == 0) {
        out->state = LLR_AB_NO_DATA;
        return;
    }

    ka = ka < na ? ka : na;
    kb = kb < nb ? kb : nb;

    out->control = (double) ka / (double) na;
    out->arm = (double) kb / (double) nb;
    out->diff = out->arm - out->control;

    if (na < LLR_AB_MIN_N || nb < LLR_AB_MIN_N) {
        out->state = LLR_AB_FEW;
        f = llr_ab_grow(LLR_AB_MIN_N, (double) na, LLR_AB_MIN_N, (double) nb);
        out->need = ceil((f - 1.0) * (double) nb);
        return;
    }

    out->state = LLR_AB_OK;

    w = (double) nb / (double) (na + nb);
    a = LLR_AB_PI_PRIOR * w;
    b = LLR_AB_PI_PRIOR * (1.0 - w);
    k = (double) kb;
    n = (double) (ka + kb);

    /* the p-value: the pi test at half the metric's alpha, Bonferroni */
    l = llr_q_bb_log(k, n, w, a, b);
    out->p = (l > 0) ? 2.0 * LLR_AB_METRICS * exp(-l) : 1.0;
    out->p = out->p < 1.0 ? out->p : 1.0;
    out->significant = (out->p < LLR_AB_ALPHA);

    /* the interval */

    crit = log(2.0 / LLR_AB_ALPHA_M);

    llr_q_bb_interval(k, n, a, b, crit, &pi_lo, &pi_hi);
    llr_q_bb_interval((double) ka, (double) na, 1.0, 1.0, crit,
                       &pa_lo, &pa_hi);

    r_lo = pi_lo / (1.0 - pi_lo) * (1.0 - w) / w;
    r_hi = (pi_hi < 1.0) ? pi_hi / (1.0 - pi_hi) * (1.0 - w) / w : INFINITY;

    lo = (r_lo < 1.0) ? pa_hi * (r_lo - 1.0) : pa_lo * (r_lo - 1.0);
    hi = (r_hi > 1.0) ? pa_hi * (r_hi - 1.0) : pa_lo * (r_hi - 1.0);

    /* the arm's rate is a rate too */
    out->lo = lo > -pa_hi ? lo : -pa_hi;
    out->hi = (isfinite(hi) && hi < 1.0 - pa_lo) ? hi : 1.0 - pa_lo;

    if (out->significant) {
        out->need = 0;
        return;
    }

    /* the growth of both arms at which the same shares would be */

    g.k = k;
    g.n = n;
    g.w = w;
    g.a = a;
    g.b = b;

    f = (n > 0) ? llr_ab_growth(llr_ab_props_reached, &g) : INFINITY;
    out->need = isfinite(f) ? ceil((f - 1.0) * (double) nb) : INFINITY;
}


/*
 * The mixture test of a difference d whose estimate has variance var;
 * sigma2: the variance of one observation (pooled), which sets the
 * mixture; nb: the arm's observations, for "need"
 */
/* a difference d, the information and the mixture: for "need" */
typedef struct {
    double      d;
    double      info;
    double      rho;
} llr_ab_test_t;


static int
llr_ab_test_reached(const void *ctx, double f)
{
    const llr_ab_test_t  *g = ctx;

    return llr_q_mix_bound(g->info * f, g->rho, LLR_AB_ALPHA_M)
           / (g->info * f) <= g->d;
}


static void
llr_ab_test(double d, double var, double sigma2, double nb,
    llr_ab_cmp_t *out)
{
    double         info, rho, hw, f;
    llr_ab_test_t  g;

    out->state = LLR_AB_OK;

    if (var <= 0 || sigma2 <= 0) {
        /* no variation in either arm */
        out->lo = d;
        out->hi = d;
        out->p = (d == 0) ? 1.0 : 0.0;
        out->significant = (d != 0);
        out->need = (d == 0) ? INFINITY : 0;
        return;
    }

    /*
     * information 1 / var; the mixture is tightest at 1000 + 1000; the
     * p-value is the metric's, times the metrics (Bonferroni)
     */
    info = 1.0 / var;
    rho = llr_q_mix_rho(LLR_AB_TUNE_N / 2.0 / sigma2, LLR_AB_ALPHA_M);

    out->p = llr_q_mix_p(d * info, info, rho) * LLR_AB_METRICS;
    out->p = out->p < 1.0 ? out->p : 1.0;
    hw = llr_q_mix_bound(info, rho, LLR_AB_ALPHA_M) / info;
    out->lo = d - hw;
    out->hi = d + hw;
    out->significant = (out->p < LLR_AB_ALPHA);

    if (out->significant) {
        out->need = 0;
        return;
    }

    /* the growth factor f of both arms at which |d| reaches the bound */

    g.d = fabs(d);
    g.info = info;
    g.rho = rho;

    f = (d != 0) ? llr_ab_growth(llr_ab_test_reached, &g) : INFINITY;
    out->need = isfinite(f) ? ceil((f - 1.0) * nb) : INFINITY;
}


/*
 * The quantile q of two histograms.  For each arm, the confidence
 * sequence of its quantile x_q: the x where the count c(x) of samples
 * <= x, out of n, keeps the beta-binomial mixture against q below
 * log(2 / alpha) (at x_q, c(x) is a Bernoulli(q) sum; the set is an
 * interval of x, c being monotone).  At a bucket bound b outside that
 * interval with c(b) < n q, x_q > b; with c(b) > n q, x_q <= b.  Each
 * arm's sequence is at half the metric's alpha.  One arm is slower when
 * some bound b_k is below its interval and some b_j <= b_k above the
 * other's: the evidence of that is the weaker of the two mixtures, the
 * best such pair taken; the p-value is 2 / that (times the metrics).
 */

static void
llr_ab_quantile(const uint64_t *ha, const uint64_t *hb,
    const uint64_t *bounds, double q, llr_ab_cmp_t *out)
{
    int              x;
    double           a, b, c, f, v, crit, best, l[2], lo[2], hi[2], up[2];
    uint64_t         n[2], cum[2];
    unsigned         i;
    const uint64_t  *h[2];

    h[0] = ha;
    h[1] = hb;
    n[0] = 0;
    n[1] = 0;

    for (i = 0; i < LLR_Q_LAT_BUCKETS; i++) {
        n[0] += ha[i];
        n[1] += hb[i];
    }

    out->n_control = n[0];
    out->n_arm = n[1];

    if (n[0] == 0 || n[1] == 0 || bounds == NULL) {
        out->state = LLR_AB_NO_DATA;
        return;
    }

    out->control = llr_q_hist_quantile(ha, bounds, LLR_Q_LAT_BUCKETS, q);
    out->arm = llr_q_hist_quantile(hb, bounds, LLR_Q_LAT_BUCKETS, q);
    out->diff = out->arm - out->control;

    v = LLR_AB_TAIL_MIN / (1.0 - q);
    v = v > LLR_AB_MIN_N ? v : LLR_AB_MIN_N;

    if ((double) n[0] < v || (double) n[1] < v) {
        out->state = LLR_AB_FEW;
        f = llr_ab_grow(v, (double) n[0], v, (double) n[1]);
        out->need = ceil((f - 1.0) * (double) n[1]);
        return;
    }

    out->state = LLR_AB_OK;

    /* the prior Beta(c q, c (1 - q)), tuned for about 1000 per arm */
    c = llr_q_mix_rho(LLR_AB_TUNE_N, LLR_AB_ALPHA_M / 2);
    a = c * q;
    b = c * (1.0 - q);

    crit = log(2.0 / LLR_AB_ALPHA_M);
    best = -INFINITY;

    for (x = 0; x < 2; x++) {
        lo[x] = 0;
        hi[x] = INFINITY;
        up[x] = -INFINITY;    /* the best "at most b_j" so far */
        cum[x] = 0;
    }

    for (i = 0; i + 1 < LLR_Q_LAT_BUCKETS; i++) {
        v = (double) bounds[i];

        /* "at most b" first: it pairs with "above b" of the other */

        for (x = 0; x < 2; x++) {
            cum[x] += h[x][i];
            l[x] = llr_q_bb_log((double) cum[x], (double) n[x], q, a, b);

            if ((double) cum[x] > (double) n[x] * q) {
                if (l[x] >= crit && hi[x] == INFINITY) {
                    hi[x] = v;
                }

                up[x] = l[x] > up[x] ? l[x] : up[x];
            }
        }

        for (x = 0; x < 2; x++) {
            if ((double) cum[x] < (double) n[x] * q) {
                if (l[x] >= crit) {
                    lo[x] = v;
                }

                f = l[x] < up[1 - x] ? l[x] : up[1 - x];
                best = f > best ? f : best;
            }
        }
    }

    out->lo = lo[1] - hi[0];
    out->hi = hi[1] - lo[0];

    f = log(2.0 * LLR_AB_METRICS);
    out->p = (best > f) ? exp(f - best) : 1.0;
    out->significant = (out->p < LLR_AB_ALPHA);
}


/* ---- the verdict -------------------------------------------------------- */


typedef struct {
    char       *pos;
    char       *end;
    unsigned    items;
} llr_ab_text_t;


static void
llr_ab_put(llr_ab_text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
llr_ab_put(llr_ab_text_t *t, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (t->pos >= t->end) {
        return;
    }

    /* end is where the NUL goes: room for it too */
    va_start(args, fmt);
    n = vsnprintf(t->pos, (size_t) (t->end - t->pos) + 1, fmt, args);
    va_end(args);

    if (n < 0) {
        return;
    }

    t->pos = (n < t->end - t->pos) ? t->pos + n : t->end;
}


/* "; " between items */
static void
llr_ab_item(llr_ab_text_t *t)
{
    if (t->items++) {
        llr_ab_put(t, "; ");
    }
}


/* ~N with two significant digits and thousands separators */
static void
llr_ab_count(llr_ab_text_t *t, double n)
{
    int       i, len;
    char      digits[32];
    uint64_t  v, scale;

    if (n >= LLR_AB_NEED_MAX) {
        llr_ab_put(t, "over 1e9");
        return;
    }

    v = (uint64_t) n;
    scale = 1;

    while (v >= 100) {
        v = (v + 5) / 10;
        scale *= 10;
    }

    len = snprintf(digits, sizeof(digits), "%llu",
                   (unsigned long long) (v * scale));

    llr_ab_put(t, "~");

    for (i = 0; i < len; i++) {
        llr_ab_put(t, "%c", digits[i]);

        if (i + 1 < len && (len - i - 1) % 3 == 0) {
            llr_ab_put(t, ",");
        }
    }
}


/* how a comparison that is not significant stands */
static void
llr_ab_pending(llr_ab_text_t *t, const llr_ab_cmp_t *c, const char *what,
    const char *unit)
{
    switch (c->state) {

    case LLR_AB_NO_DATA:
        llr_ab_put(t, "no %s yet", unit);
        return;

    case LLR_AB_FEW:
        llr_ab_put(t, "%s: too few %s yet, need ", what, unit);
        llr_ab_count(t, c->need);
        llr_ab_put(t, " more");
        return;

    case LLR_AB_SKEWED:
        llr_ab_put(t, "%s too skewed to compare yet, need ", what);
        llr_ab_count(t, c->need);
        llr_ab_put(t, " more %s", unit);
        return;
    }

    llr_ab_put(t, "%s not different yet", what);

    if (isfinite(c->need) && c->need > 0) {
        llr_ab_put(t, ", need ");
        llr_ab_count(t, c->need);
        llr_ab_put(t, " more %s", unit);
    }
}


static void
llr_ab_difference(llr_ab_text_t *t, const llr_ab_cmp_t *c)
{
    double       d;
    const char  *dir;

    d = fabs(c->diff);
    dir = (c->diff > 0) ? "higher" : "lower";

    switch (c->metric) {

    case LLR_AB_FEEDBACK:
        llr_ab_put(t, "feedback %.2f %s", d, dir);
        break;

    case LLR_AB_LATENCY_P50:
    case LLR_AB_LATENCY_P99:
        llr_ab_put(t, "%s latency ",
                   c->metric == LLR_AB_LATENCY_P50 ? "p50" : "p99");

        if (d >= 1000) {
            llr_ab_put(t, "%.1f s %s", d / 1000, dir);

        } else {
            llr_ab_put(t, "%.0f ms %s", d, dir);
        }

        break;

    default:
        llr_ab_put(t, "%s %.1f pp %s", llr_ab_metric_name(c->metric),
                   d * 100, dir);
        break;
    }

    llr_ab_put(t, ", significant");
}


size_t
llr_ab_verdict(char *buf, size_t size, const llr_ab_cmp_t *cmp)
{
    unsigned             m, other;
    const llr_ab_cmp_t  *c;
    llr_ab_text_t        t;

    t.pos = buf;
    t.end = buf + size - 1;
    t.items = 0;
    *buf = '\0';

    /* the cost first, always */

    c = &cmp[LLR_AB_COST];
    llr_ab_item(&t);

    if (c->state == LLR_AB_OK && c->significant) {
        if (c->control > 0) {
            llr_ab_put(&t, "costs %.0f%% %s, significant",
                       fabs(c->diff) / c->control * 100,
                       c->diff < 0 ? "less" : "more");

        } else {
            llr_ab_put(&t, "costs $%.6f more per request, significant",
                       c->diff);
        }

    } else {
        llr_ab_pending(&t, c, "cost", "requests");
    }

    /* every other significant difference */

    other = 0;

    for (m = LLR_AB_ERRORS; m < LLR_AB_METRICS; m++) {
        c = &cmp[m];

        if (c->state == LLR_AB_OK && c->significant) {
            llr_ab_item(&t);
            llr_ab_difference(&t, c);
            other++;
        }
    }

    /* the feedback, always */

    c = &cmp[LLR_AB_FEEDBACK];

    if (!(c->state == LLR_AB_OK && c->significant)) {
        llr_ab_item(&t);
        llr_ab_pending(&t, c, "feedback", "scores");
    }

    if (other == 0) {
        llr_ab_item(&t);
        llr_ab_put(&t, "no other significant difference");
    }

    *t.pos = '\0';

    return (size_t) (t.pos - buf);
}
