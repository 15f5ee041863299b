/*
 * ngx_llm_route_module: the arithmetic of experiments and drift (see
 * llr_qstat.h).
 */

#include <math.h>

#include "llr_qstat.h"


#define LLR_Q_CF_MAX   10000
#define LLR_Q_CF_EPS   1e-15
#define LLR_Q_TINY     1e-300


void
llr_q_snapshot(uint64_t *dst, const uint64_t *src, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        dst[i] = llr_q_load(&src[i]);
    }
}


double
llr_q_norm_sf(double z)
{
    return 0.5 * erfc(z / sqrt(2.0));
}


static double
llr_q_lbeta(double a, double b)
{
    return lgamma(a) + lgamma(b) - lgamma(a + b);
}


/*
 * The continued fraction of I_x(a, b) (its even and odd terms),
 * evaluated by the modified Lentz method; it converges fast for
 * x < (a + 1) / (a + b + 2).
 */
static double
llr_q_betacf(double a, double b, double x)
{
    int     m;
    double  c, d, h, t, del;

    c = 1.0;
    d = 1.0 - (a + b) * x / (a + 1.0);

    if (fabs(d) < LLR_Q_TINY) {
        d = LLR_Q_TINY;
    }

    d = 1.0 / d;
    h = d;

    for (m = 1; m <= LLR_Q_CF_MAX; m++) {

        /* the even term d_2m */
        t = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));

        d = 1.0 + t * d;
        d = fabs(d) < LLR_Q_TINY ? LLR_Q_TINY : d;
        c = 1.0 + t / c;
        c = fabs(c) < LLR_Q_TINY ? LLR_Q_TINY : c;
        d = 1.0 / d;
        h *= d * c;

        /* the odd term d_2m+1 */
        t = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));

        d = 1.0 + t * d;
        d = fabs(d) < LLR_Q_TINY ? LLR_Q_TINY : d;
        c = 1.0 + t / c;
        c = fabs(c) < LLR_Q_TINY ? LLR_Q_TINY : c;
        d = 1.0 / d;
        del = d * c;
        h *= del;

        if (fabs(del - 1.0) < LLR_Q_CF_EPS) {
            break;
        }
    }

    return h;
}


double
llr_q_log_betai(double a, double b, double x)
{
    double  front, y;

    if (x <= 0.0) {
        return -INFINITY;
    }

    if (x >= 1.0) {
        return 0.0;
    }

    if (x < (a + 1.0) / (a + b + 2.0)) {
        front = a * log(x) + b * log1p(-x) - llr_q_lbeta(a, b) - log(a);
        return front + log(llr_q_betacf(a, b, x));
    }

    /* I_x(a, b) = 1 - I_1-x(b, a), which is not small here */

    front = b * log1p(-x) + a * log(x) - llr_q_lbeta(a, b) - log(b);
    y = exp(front + log(llr_q_betacf(b, a, 1.0 - x)));

    return (y < 1.0) ? log1p(-y) : -INFINITY;
}


double
llr_q_binom_sf(uint64_t k, uint64_t n, double p)
{
    if (k == 0) {
        return 1.0;
    }

    if (k > n || p <= 0.0) {
        return 0.0;
    }

    if (p >= 1.0) {
        return 1.0;
    }

    /* P(X >= k) = I_p(k, n - k + 1) */
    return exp(llr_q_log_betai((double) k, (double) (n - k + 1), p));
}


double
llr_q_t_sf(double t, double df)
{
    double  tail;

    /* P(|T| > |t|) = I_x(df / 2, 1 / 2), x = df / (df + t^2) */
    tail = 0.5 * exp(llr_q_log_betai(df / 2.0, 0.5, df / (df + t * t)));

    return (t > 0.0) ? tail : 1.0 - tail;
}


double
llr_q_mix_bound(double v, double rho, double alpha)
{
    return sqrt((v + rho) * (log((v + rho) / rho) - 2.0 * log(alpha)));
}


double
llr_q_mix_rho(double v_opt, double alpha)
{
    double  l;

    /* Howard et al.: the boundary is tightest near v_opt */
    l = -2.0 * log(alpha);

    return v_opt / (l + log(1.0 + l));
}


double
llr_q_mix_p(double s, double v, double rho)
{
    double  log_l;

    log_l = 0.5 * log(rho / (v + rho)) + s * s / (2.0 * (v + rho));

    return (log_l > 0.0) ? exp(-log_l) : 1.0;
}


/* the part of llr_q_bb_log() that does not depend on p0 */
static double
llr_q_bb0(double k, double n, double a, double b)
{
    return lgamma(a + k) + lgamma(b + n - k) - lgamma(a + b + n)
           - lgamma(a) - lgamma(b) + lgamma(a + b);
}


double
llr_q_bb_log(double k, double n, double p0, double a, double b)
{
    return llr_q_bb0(k, n, a, b) - k * log(p0) - (n - k) * log1p(-p0);
}


void
llr_q_bb_interval(double k, double n, double a, double b, double crit,
    double *lo, double *hi)
{
    int     i, side;
    double  x, y, m, c0, mle;

    c0 = llr_q_bb0(k, n, a, b) - crit;
    mle = (n > 0) ? k / n : 0.5;

    /* inside: c0 - k log(p0) - (n - k) log(1 - p0) < 0, convex in p0 */

    for (side = 0; side < 2; side++) {
        x = mle;
        y = side ? 1.0 : 0.0;
        m = side ? 1.0 - 1e-15 : 1e-15;

        if (c0 - k * log(m) - (n - k) * log1p(-m) < 0) {
            /* the interval reaches the end */
            *(side ? hi : lo) = y;
            continue;
        }

        for (i = 0; i < 40; i++) {
            m = (x + y) / 2;

            if (c0 - k * log(m) - (n - k) * log1p(-m) < 0) {
                x = m;

            } else {
                y = m;
            }
        }

        *(side ? hi : lo) = x;
    }
}


double
llr_q_hist_quantile(const uint64_t *counts, const uint64_t *bounds,
    unsigned n, double q)
{
    double    rank, lo, hi;
    uint64_t  total, cum;
    unsigned  i;

    total = 0;

    for (i = 0; i < n; i++) {
        total += counts[i];
    }

    if (total == 0 || n < 2) {
        return 0;
    }

    rank = q * (double) total;
    cum = 0;

    for (i = 0; i < n; i++) {

        if (counts[i] == 0 || (double) (cum + counts[i]) < rank) {
            cum += counts[i];
            continue;
        }

        lo = i ? (double) bounds[i - 1] : 0;

        if (i == n - 1) {
            /* above the last bound: nothing better than the bound */
            return lo;
        }

        hi = (double) bounds[i];

        return lo + (hi - lo) * (rank - (double) cum) / (double) counts[i];
    }

    return (double) bounds[n - 2];
}
