/*
 * ngx_llm_route_module: drift alarms (see llr_drift.h).
 */

#include <math.h>
#include <string.h>

#include "llr_drift.h"


/* the words of a bucket */
enum {
    W_REQ = 0,
    W_ERR,
    W_FB_N,
    W_FB_SUM,           /* sum of (score + 1000), thousandths */
    W_FB_SQ,            /* sum of score^2, millionths */
    W_SIG,              /* + llr_sig_e */
    W_LAT = W_SIG + LLR_SIG_N
};

#define LLR_DRIFT_COUNT_BITS  40
#define LLR_DRIFT_COUNT_MAX   ((1ULL << LLR_DRIFT_COUNT_BITS) - 1)
#define LLR_DRIFT_STAMP_MASK  ((1ULL << (64 - LLR_DRIFT_COUNT_BITS)) - 1)

/* an alarm stays while significant at this level */
#define LLR_DRIFT_HOLD_P      0.05

/* the pooled latency quantile whose bound is compared */
#define LLR_DRIFT_LAT_Q       0.99


typedef struct {
    uint64_t    req;
    uint64_t    err;
    uint64_t    sig[LLR_SIG_N];
    uint64_t    fb_n;
    uint64_t    fb_sum;
    uint64_t    fb_sq;
    uint64_t    lat[LLR_Q_LAT_BUCKETS];
} llr_drift_window_t;


static const char  *llr_drift_fixed_names[] = {
    "errors", "feedback", "latency_p99_ms"
};


static void llr_drift_window(const llr_drift_series_t *s, uint64_t first,
    uint64_t last, llr_drift_window_t *win);
static void llr_drift_decide(llr_drift_alarm_t *al, int testable,
    int material, int half, double base, double now, double p,
    double alpha_t, uint64_t since);


void
llr_drift_conf_default(llr_drift_conf_t *conf)
{
    conf->bucket_sec = 300;
    conf->recent = 3;
    conf->baseline = 72;
    conf->tests = 1000;
    conf->min_requests = 50;
    conf->min_scores = 20;
    conf->alpha = 0.05;
    conf->rate_abs = 0.01;
    conf->rate_rel = 0.5;
    conf->feedback_drop = 0.1;
    conf->latency_rel = 0.5;
}


int
llr_drift_conf_check(const llr_drift_conf_t *conf, const char **err)
{
    if (conf->bucket_sec == 0) {
        *err = "the bucket must be at least 1 second";
        return -1;
    }

    if (conf->recent == 0 || conf->baseline == 0) {
        *err = "a window must have at least 1 bucket";
        return -1;
    }

    if ((uint64_t) conf->recent + conf->baseline > 100000) {
        *err = "the windows must have at most 100000 buckets together";
        return -1;
    }

    if (!(conf->alpha > 0 && conf->alpha < 1)) {
        *err = "alpha must be between 0 and 1";
        return -1;
    }

    if (!(conf->rate_abs >= 0 && conf->rate_rel >= 0
          && conf->feedback_drop >= 0 && conf->latency_rel >= 0))
    {
        *err = "a threshold must not be negative";
        return -1;
    }

    return 0;
}


size_t
llr_drift_size(const llr_drift_conf_t *conf)
{
    return sizeof(llr_drift_series_t)
           + (size_t) (conf->recent + conf->baseline) * LLR_DRIFT_WORDS
             * sizeof(uint64_t);
}


void
llr_drift_init(llr_drift_series_t *s, const llr_drift_conf_t *conf)
{
    memset(s, 0, llr_drift_size(conf));
    s->ring = conf->recent + conf->baseline;
    s->bucket_sec = conf->bucket_sec;
}


int
llr_drift_compatible(const llr_drift_series_t *s,
    const llr_drift_conf_t *conf)
{
    return s->ring == conf->recent + conf->baseline
           && s->bucket_sec == conf->bucket_sec;
}


const char *
llr_drift_metric_name(unsigned metric)
{
    if (metric >= LLR_DRIFT_SIGNAL && metric < LLR_DRIFT_FEEDBACK) {
        return llr_sig_name(metric - LLR_DRIFT_SIGNAL);
    }

    switch (metric) {
    case LLR_DRIFT_ERRORS:
        return llr_drift_fixed_names[0];
    case LLR_DRIFT_FEEDBACK:
        return llr_drift_fixed_names[1];
    case LLR_DRIFT_LATENCY_P99:
        return llr_drift_fixed_names[2];
    default:
        return NULL;
    }
}


/* ---- the stamped words --------------------------------------------------- */


/* the count a word holds for bucket b */
static uint64_t
llr_drift_count(uint64_t w, uint64_t b)
{
    return ((w >> LLR_DRIFT_COUNT_BITS) == (b & LLR_DRIFT_STAMP_MASK))
           ? w & LLR_DRIFT_COUNT_MAX : 0;
}


/* add v for bucket b: an older bucket's word starts again at v */
static void
llr_drift_add(uint64_t *w, uint64_t b, uint64_t v)
{
    uint64_t  old, new, stamp, ours, c;

    ours = b & LLR_DRIFT_STAMP_MASK;
    old = __atomic_load_n(w, __ATOMIC_RELAXED);

    do {
        stamp = old >> LLR_DRIFT_COUNT_BITS;

        if (stamp == ours) {
            c = (old & LLR_DRIFT_COUNT_MAX);
            c = (c > LLR_DRIFT_COUNT_MAX - v) ? LLR_DRIFT_COUNT_MAX : c + v;

        } else if (old == 0
                   || ((ours - stamp) & LLR_DRIFT_STAMP_MASK)
                      < (LLR_DRIFT_STAMP_MASK >> 1))
        {
            /* empty, or an older bucket's */
            c = v < LLR_DRIFT_COUNT_MAX ? v : LLR_DRIFT_COUNT_MAX;

        } else {
            /* the slot is a newer bucket's: this one left the ring */
            return;
        }

        new = (ours << LLR_DRIFT_COUNT_BITS) | c;

    } while (!__atomic_compare_exchange_n(w, &old, new, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
}


/* take v from bucket b's count, if the word is still b's */
static void
llr_drift_sub(uint64_t *w, uint64_t b, uint64_t v)
{
    uint64_t  old, new, c;

    old = __atomic_load_n(w, __ATOMIC_RELAXED);

    do {
        if ((old >> LLR_DRIFT_COUNT_BITS) != (b & LLR_DRIFT_STAMP_MASK)) {
            return;
        }

        c = old & LLR_DRIFT_COUNT_MAX;
        new = (old & ~LLR_DRIFT_COUNT_MAX) | (c > v ? c - v : 0);

    } while (!__atomic_compare_exchange_n(w, &old, new, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
}


static uint64_t *
llr_drift_bucket(llr_drift_series_t *s, uint64_t b)
{
    return &s->w[(b % s->ring) * LLR_DRIFT_WORDS];
}


void
llr_drift_record(llr_drift_series_t *s, uint64_t now, const llr_q_obs_t *obs)
{
    unsigned   i;
    uint64_t   b, *w;

    b = now / s->bucket_sec;
    w = llr_drift_bucket(s, b);

    llr_drift_add(&w[W_REQ], b, 1);

    if (obs->error) {
        llr_drift_add(&w[W_ERR], b, 1);
    }

    for (i = 0; i < LLR_SIG_N; i++) {
        if (obs->signals & LLR_SIG_BIT(i)) {
            llr_drift_add(&w[W_SIG + i], b, 1);
        }
    }

    if (obs->latency_bucket < LLR_Q_LAT_BUCKETS) {
        llr_drift_add(&w[W_LAT + obs->latency_bucket], b, 1);
    }
}


void
llr_drift_feedback(llr_drift_series_t *s, uint64_t now, int32_t score,
    int32_t old, uint64_t old_time)
{
    int64_t    v;
    uint64_t   b, *w;

    if (old != LLR_Q_NO_SCORE) {
        b = old_time / s->bucket_sec;
        w = llr_drift_bucket(s, b);
        v = llr_q_score(old);

        llr_drift_sub(&w[W_FB_N], b, 1);
        llr_drift_sub(&w[W_FB_SUM], b, (uint64_t) (v + LLR_Q_SCORE_MAX));
        llr_drift_sub(&w[W_FB_SQ], b, (uint64_t) (v * v));
    }

    b = now / s->bucket_sec;
    w = llr_drift_bucket(s, b);
    v = llr_q_score(score);

    llr_drift_add(&w[W_FB_N], b, 1);
    llr_drift_add(&w[W_FB_SUM], b, (uint64_t) (v + LLR_Q_SCORE_MAX));
    llr_drift_add(&w[W_FB_SQ], b, (uint64_t) (v * v));
}


/* ---- evaluation ---------------------------------------------------------- */


/* the sums of buckets first .. last */
static void
llr_drift_window(const llr_drift_series_t *s, uint64_t first, uint64_t last,
    llr_drift_window_t *win)
{
    unsigned        i;
    uint64_t        b, v[LLR_DRIFT_WORDS];
    const uint64_t *w;

    memset(win, 0, sizeof(llr_drift_window_t));

    for (b = first; b <= last; b++) {
        w = &s->w[(b % s->ring) * LLR_DRIFT_WORDS];

        for (i = 0; i < LLR_DRIFT_WORDS; i++) {
            v[i] = llr_drift_count(__atomic_load_n(&w[i], __ATOMIC_RELAXED),
                                   b);
        }

        win->req += v[W_REQ];
        win->err += v[W_ERR];
        win->fb_n += v[W_FB_N];
        win->fb_sum += v[W_FB_SUM];
        win->fb_sq += v[W_FB_SQ];

        for (i = 0; i < LLR_SIG_N; i++) {
            win->sig[i] += v[W_SIG + i];
        }

        for (i = 0; i < LLR_Q_LAT_BUCKETS; i++) {
            win->lat[i] += v[W_LAT + i];
        }
    }
}


/* a rate: the conditional test, and whether it is material */
static void
llr_drift_rate(llr_drift_alarm_t *al, const llr_drift_conf_t *conf,
    uint64_t kr, uint64_t nr, uint64_t kb, uint64_t nb, double alpha_t,
    uint64_t since)
{
    int     testable, material, half;
    double  now, base, p;

    kr = kr < nr ? kr : nr;
    kb = kb < nb ? kb : nb;

    now = nr ? (double) kr / (double) nr : 0;
    base = nb ? (double) kb / (double) nb : 0;

    testable = (nr >= conf->min_requests && nb >= conf->min_requests);

    p = testable ? llr_q_binom_sf(kr, kr + kb,
                                  (double) nr / (double) (nr + nb))
                 : 1.0;

    material = (now - base >= conf->rate_abs
                && now >= base * (1.0 + conf->rate_rel));
    half = (now - base >= conf->rate_abs / 2
            && now >= base * (1.0 + conf->rate_rel / 2));

    llr_drift_decide(al, testable, material, half, base, now, p, alpha_t,
                     since);
}


static void
llr_drift_scores(llr_drift_alarm_t *al, const llr_drift_conf_t *conf,
    const llr_drift_window_t *r, const llr_drift_window_t *b,
    double alpha_t, uint64_t since)
{
    int     testable, material, half;
    double  nr, nb, mr, mb, vr, vb, sr, sb, qr, qb, se, t, df, p;

    nr = (double) r->fb_n;
    nb = (double) b->fb_n;

    /* the sums in scores: the offset of 1 per score taken out */
    sr = ((double) r->fb_sum - LLR_Q_SCORE_MAX * nr) / LLR_Q_SCORE_MAX;
    sb = ((double) b->fb_sum - LLR_Q_SCORE_MAX * nb) / LLR_Q_SCORE_MAX;
    qr = (double) r->fb_sq / ((double) LLR_Q_SCORE_MAX * LLR_Q_SCORE_MAX);
    qb = (double) b->fb_sq / ((double) LLR_Q_SCORE_MAX * LLR_Q_SCORE_MAX);

    mr = nr ? sr / nr : 0;
    mb = nb ? sb / nb : 0;

    testable = (r->fb_n >= conf->min_scores && b->fb_n >= conf->min_scores);
    p = 1.0;

    if (testable) {
        /* a score of -1 and one of +1 more in each window */
        vr = (qr + 2 - sr * sr / (nr + 2)) / (nr + 1);
        vb = (qb + 2 - sb * sb / (nb + 2)) / (nb + 1);
        vr = vr > 0 ? vr / (nr + 2) : 0;
        vb = vb > 0 ? vb / (nb + 2) : 0;
        se = sqrt(vr + vb);

        if (se > 0) {
            t = (sb / (nb + 2) - sr / (nr + 2)) / se;
            df = (vr + vb) * (vr + vb)
                 / (vr * vr / (nr + 1) + vb * vb / (nb + 1));
            p = llr_q_t_sf(t, df);
        }
    }

    material = (mb - mr >= conf->feedback_drop);
    half = (mb - mr >= conf->feedback_drop / 2);

    llr_drift_decide(al, testable, material, half, mb, mr, p, alpha_t, since);
}


static void
llr_drift_latency(llr_drift_alarm_t *al, const llr_drift_conf_t *conf,
    const llr_drift_window_t *r, const llr_drift_window_t *b,
    const uint64_t *bounds, double alpha_t, uint64_t since)
{
    int       testable, material, half;
    double    now, base, p;
    unsigned  i, e;
    uint64_t  pooled[LLR_Q_LAT_BUCKETS], n, nr, nb, cum, kr, kb;

    nr = 0;
    nb = 0;

    for (i = 0; i < LLR_Q_LAT_BUCKETS; i++) {
        pooled[i] = r->lat[i] + b->lat[i];
        nr += r->lat[i];
        nb += b->lat[i];
    }

    now = bounds ? llr_q_hist_quantile(r->lat, bounds, LLR_Q_LAT_BUCKETS,
                                       LLR_DRIFT_LAT_Q) : 0;
    base = bounds ? llr_q_hist_quantile(b->lat, bounds, LLR_Q_LAT_BUCKETS,
                                        LLR_DRIFT_LAT_Q) : 0;

    /* the bound at which the pooled histogram reaches 99% */

    n = nr + nb;
    cum = 0;

    for (e = 0; e + 1 < LLR_Q_LAT_BUCKETS; e++) {
        cum += pooled[e];

        if ((double) cum >= LLR_DRIFT_LAT_Q * (double) n) {
            break;
        }
    }

    testable = (bounds != NULL && e + 1 < LLR_Q_LAT_BUCKETS
                && nr >= conf->min_requests
                && (double) nb * (1.0 - LLR_DRIFT_LAT_Q) >= 5.0);
    p = 1.0;

    if (testable) {
        kr = 0;
        kb = 0;

        for (i = e + 1; i < LLR_Q_LAT_BUCKETS; i++) {
            kr += r->lat[i];
            kb += b->lat[i];
        }

        p = llr_q_binom_sf(kr, kr + kb, (double) nr / (double) n);
    }

    material = (now >= base * (1.0 + conf->latency_rel) && now > base);
    half = (now >= base * (1.0 + conf->latency_rel / 2) && now > base);

    llr_drift_decide(al, testable, material, half, base, now, p, alpha_t,
                     since);
}


/* raise, keep or clear an alarm; its values for the status */
static void
llr_drift_decide(llr_drift_alarm_t *al, int testable, int material,
    int half, double base, double now, double p, double alpha_t,
    uint64_t since)
{
    uint64_t  raised;

    raised = __atomic_load_n(&al->raised, __ATOMIC_RELAXED);

    if (!raised) {
        if (testable && material && p <= alpha_t) {
            __atomic_store_n(&al->since, since, __ATOMIC_RELAXED);
            raised = 1;
        }

    } else if (!(testable && half && p <= LLR_DRIFT_HOLD_P)) {
        raised = 0;
        __atomic_store_n(&al->since, 0, __ATOMIC_RELAXED);
    }

    __atomic_store_n(&al->raised, raised, __ATOMIC_RELAXED);
    __atomic_store_n(&al->baseline, llr_q_bits(base), __ATOMIC_RELAXED);
    __atomic_store_n(&al->now, llr_q_bits(now), __ATOMIC_RELAXED);
    __atomic_store_n(&al->p, llr_q_bits(p), __ATOMIC_RELAXED);
}


int
llr_drift_eval(llr_drift_series_t *s, const llr_drift_conf_t *conf,
    uint64_t now, const uint64_t *bounds)
{
    double              per_day, alpha_t;
    unsigned            i;
    uint64_t            k, old, since;
    llr_drift_window_t  r, b;

    if (!llr_drift_compatible(s, conf)) {
        return 0;
    }

    k = now / s->bucket_sec;

    if (k < s->ring + 1) {
        return 0;
    }

    /* the last closed bucket is k - 1: evaluated once, by one caller */

    old = __atomic_load_n(&s->evaluated, __ATOMIC_RELAXED);

    if (old >= k
        || !__atomic_compare_exchange_n(&s->evaluated, &old, k, 0,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    {
        return 0;
    }

    k--;

    llr_drift_window(s, k + 1 - conf->recent, k, &r);
    llr_drift_window(s, k + 1 - s->ring, k - conf->recent, &b);

    per_day = 86400.0 / s->bucket_sec;
    per_day = per_day > 1 ? per_day : 1;
    alpha_t = conf->alpha / ((conf->tests ? conf->tests : 1) * per_day);
    since = (k + 1) * s->bucket_sec;

    llr_drift_rate(&s->alarm[LLR_DRIFT_ERRORS], conf, r.err, r.req, b.err,
                   b.req, alpha_t, since);

    for (i = 0; i < LLR_SIG_N; i++) {
        llr_drift_rate(&s->alarm[LLR_DRIFT_SIGNAL + i], conf, r.sig[i],
                       r.req - (r.err < r.req ? r.err : r.req), b.sig[i],
                       b.req - (b.err < b.req ? b.err : b.req), alpha_t,
                       since);
    }

    llr_drift_scores(&s->alarm[LLR_DRIFT_FEEDBACK], conf, &r, &b, alpha_t,
                     since);
    llr_drift_latency(&s->alarm[LLR_DRIFT_LATENCY_P99], conf, &r, &b, bounds,
                      alpha_t, since);

    return 1;
}


void
llr_drift_get(const llr_drift_series_t *s, unsigned metric,
    llr_drift_state_t *st)
{
    const llr_drift_alarm_t  *al;

    memset(st, 0, sizeof(llr_drift_state_t));

    if (metric >= LLR_DRIFT_METRICS) {
        return;
    }

    al = &s->alarm[metric];

    st->raised = (unsigned) __atomic_load_n(&al->raised, __ATOMIC_RELAXED);
    st->since = __atomic_load_n(&al->since, __ATOMIC_RELAXED);
    st->baseline = llr_q_double(__atomic_load_n(&al->baseline,
                                                __ATOMIC_RELAXED));
    st->now = llr_q_double(__atomic_load_n(&al->now, __ATOMIC_RELAXED));
    st->p = llr_q_double(__atomic_load_n(&al->p, __ATOMIC_RELAXED));
}
