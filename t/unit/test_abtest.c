/*
 * core/llr_abtest, llr_qstat: assignment, the arms' statistics, and
 * the comparisons' error rates measured on simulated experiments.
 *
 *   - sticky assignment: the same key, the same arm; shares as weighed;
 *     a heavier last arm takes keys only from the others;
 *   - the sums of an arm are exact, a second score replaces the first;
 *   - the distributions against brute force;
 *   - A/A: SIM_AA experiments of identical arms (90/10), each looked at
 *     every SIM_LOOK requests up to SIM_N, as a status page refreshed
 *     during the experiment: how many ever show a metric significant
 *     (the false-positive rate, per metric and for any metric);
 *   - A/B: arms with known differences: after how many requests the
 *     difference is significant, in the right direction, and never in
 *     the wrong one (docs/quality.md quotes the figures printed here).
 *
 *   LLR_SIM_VERBOSE=1   print every experiment's first significant look
 *
 * Under valgrind (make test-asan) the simulations are cut to a few
 * experiments: valgrind checks memory, the other runs measure.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "sim.h"
#include "llr_abtest.h"


#define SIM_AA      400          /* A/A experiments */
#define SIM_N       20000        /* requests per experiment */
#define SIM_LOOK    250          /* requests between two looks */
#define SIM_AB      100          /* A/B experiments per scenario */
#define SIM_AB_N    60000        /* their horizon */


static int  sim_aa = SIM_AA;
static int  sim_ab = SIM_AB;


typedef struct {
    double      cost;            /* mean cost per request, USD */
    double      cost_sigma;      /* of its log */
    double      err;
    double      sig[LLR_SIG_N];  /* per answer */
    double      fb_rate;         /* share of requests scored */
    double      fb_mean;         /* scores: N(mean, sd), clamped */
    double      fb_sd;
    double      lat_ms;          /* mean latency */
    double      lat_sigma;
} sim_pop_t;


/* a typical arm: rates of the size the signals have in practice */
static const sim_pop_t  sim_base = {
    0.002, 1.0, 0.02,
    { 0.03, 0.002, 0.01, 0.005, 0.01, 0.02 },
    0.3, 0.4, 0.6,
    900, 0.8
};


/* an experiment of two arms, weighed w0 / w1 */
static void
sim_conf(llr_ab_conf_t *conf, const char *name, uint32_t w0, uint32_t w1)
{
    conf->name = (const unsigned char *) name;
    conf->name_len = strlen(name);
    conf->narms = 2;
    conf->weight[0] = w0;
    conf->weight[1] = w1;
}


static void
sim_request(sim_rng_t *r, const sim_pop_t *p, llr_ab_arm_t *arm)
{
    int          i;
    double       s;
    llr_q_obs_t  obs;

    memset(&obs, 0, sizeof(obs));

    obs.error = sim_bernoulli(r, p->err);

    if (!obs.error) {
        for (i = 0; i < LLR_SIG_N; i++) {
            if (sim_bernoulli(r, p->sig[i])) {
                obs.signals |= LLR_SIG_BIT(i);
            }
        }
    }

    obs.cost_usd = sim_lognormal(r, p->cost, p->cost_sigma);
    obs.latency_bucket = sim_bucket(sim_lognormal(r, p->lat_ms,
                                                  p->lat_sigma));

    llr_ab_record(arm, &obs);

    if (sim_bernoulli(r, p->fb_rate)) {
        s = p->fb_mean + p->fb_sd * sim_normal(r);
        s = s > 1 ? 1 : s < -1 ? -1 : s;
        llr_ab_feedback(arm, (int32_t) lrint(s * 1000), LLR_Q_NO_SCORE);
    }
}


/*
 * One experiment, control and arm drawn from pa and pb, 90/10, looked
 * at every SIM_LOOK requests.  first[m]: the requests at the first
 * look where metric m was significant (0: never); dir[m]: the sign of
 * its difference then; wrong[m]: a look significant against sign[m].
 */
static void
sim_experiment(uint64_t seed, const sim_pop_t *pa, const sim_pop_t *pb,
    const int *sign, uint64_t *first, int *dir, int *wrong)
{
    int            m, a;
    uint64_t       n;
    sim_rng_t      r;
    llr_ab_arm_t   arms[2];
    llr_ab_cmp_t   c;
    llr_ab_conf_t  conf;

    sim_seed(&r, seed);
    memset(arms, 0, sizeof(arms));
    memset(first, 0, LLR_AB_METRICS * sizeof(uint64_t));
    memset(dir, 0, LLR_AB_METRICS * sizeof(int));
    memset(wrong, 0, LLR_AB_METRICS * sizeof(int));

    sim_conf(&conf, "sim", 90, 10);

    for (n = 1; n <= SIM_N; n++) {
        a = llr_ab_assign(&conf, NULL, 0, sim_next(&r));
        sim_request(&r, a ? pb : pa, &arms[a]);

        if (n % SIM_LOOK) {
            continue;
        }

        for (m = 0; m < LLR_AB_METRICS; m++) {
            llr_ab_compare(&arms[0], &arms[1], (unsigned) m, sim_bounds, &c);

            if (c.state != LLR_AB_OK || !c.significant) {
                continue;
            }

            if (first[m] == 0) {
                first[m] = n;
                dir[m] = c.diff > 0 ? 1 : -1;
            }

            if (sign && sign[m] && (c.diff > 0 ? 1 : -1) != sign[m]) {
                wrong[m] = 1;
            }
        }
    }
}


static void
test_assign(void)
{
    int            i, a, b, moved, bad;
    char           key[32];
    unsigned       counts[3];
    double         chi;
    llr_ab_conf_t  conf, wider;

    conf.name = (const unsigned char *) "cheaper_auto";
    conf.name_len = 12;
    conf.narms = 3;
    conf.weight[0] = 80;
    conf.weight[1] = 15;
    conf.weight[2] = 5;

    wider = conf;
    wider.weight[2] = 20;

    memset(counts, 0, sizeof(counts));
    bad = 0;
    moved = 0;

    for (i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "user%d", i);

        a = llr_ab_assign(&conf, (const unsigned char *) key, strlen(key), 0);

        if (a != llr_ab_assign(&conf, (const unsigned char *) key,
                               strlen(key), (uint64_t) i * 7919))
        {
            bad++;
        }

        counts[a]++;

        b = llr_ab_assign(&wider, (const unsigned char *) key, strlen(key), 0);
        moved += (b != a);
    }

    is_int(bad, 0, "a key always gets the same arm");

    /* chi-square with 2 degrees of freedom: 13.8 is p = 0.001 */
    chi = 0;
    chi += pow(counts[0] - 100000 * 80.0 / 100, 2) / (100000 * 80.0 / 100);
    chi += pow(counts[1] - 100000 * 15.0 / 100, 2) / (100000 * 15.0 / 100);
    chi += pow(counts[2] - 100000 * 5.0 / 100, 2) / (100000 * 5.0 / 100);
    ok(chi < 13.8, "100,000 keys 80/15/5: %u/%u/%u (chi-square %.2f)",
       counts[0], counts[1], counts[2], chi);

    /*
     * 80/15/5 -> 80/15/20: the ranges [0, .8) [.8, .95) [.95, 1) become
     * [0, .696) [.696, .826) [.826, 1): a key stays where they overlap
     */
    chi = 80.0 / 115 + (95.0 / 115 - 0.8) + 0.05;
    ok(fabs(moved / 100000.0 - (1 - chi)) < 0.005,
       "a heavier arm: %.3f of the keys change arms (%.3f expected)",
       moved / 100000.0, 1 - chi);

    /* documented: the hash of the key in the experiment */
    ok(llr_ab_hash((const unsigned char *) "e", 1,
                   (const unsigned char *) "k", 1)
       != llr_ab_hash((const unsigned char *) "f", 1,
                      (const unsigned char *) "k", 1),
       "the experiment's name is in the hash");
    ok(llr_ab_hash((const unsigned char *) "ab", 2,
                   (const unsigned char *) "c", 1)
       != llr_ab_hash((const unsigned char *) "a", 1,
                      (const unsigned char *) "bc", 2),
       "name and key are separated");

    /* without a key: the random number, in the same ranges */
    conf.weight[0] = 1;
    conf.weight[1] = 1;
    conf.weight[2] = 0;
    is_int(llr_ab_assign(&conf, NULL, 0, 0), 0, "rnd 0: the first arm");
    is_int(llr_ab_assign(&conf, NULL, 0, UINT64_MAX), 1,
           "rnd max: the last arm of weight > 0");
    conf.weight[0] = 0;
    conf.weight[1] = 0;
    is_int(llr_ab_assign(&conf, NULL, 0, 5), -1, "no weight: no arm");
}


static void
test_sums(void)
{
    llr_ab_arm_t  arm, copy;
    llr_q_obs_t   obs;

    memset(&arm, 0, sizeof(arm));
    memset(&obs, 0, sizeof(obs));

    obs.cost_usd = 0.5;
    obs.signals = LLR_SIG_BIT(LLR_SIG_TRUNCATED) | LLR_SIG_BIT(LLR_SIG_EMPTY);
    obs.latency_bucket = 3;
    llr_ab_record(&arm, &obs);

    obs.error = 1;
    obs.signals = 0;
    obs.cost_usd = 0.25;
    obs.latency_bucket = 99;     /* out of range: not counted */
    llr_ab_record(&arm, &obs);

    llr_ab_feedback(&arm, 800, LLR_Q_NO_SCORE);
    llr_ab_feedback(&arm, -300, LLR_Q_NO_SCORE);
    llr_ab_feedback(&arm, 5000, 800);            /* replaces 800, clamped */

    llr_ab_snapshot(&copy, &arm);

    ok(copy.requests == 2 && copy.errors == 1
       && copy.signals[LLR_SIG_TRUNCATED] == 1
       && copy.signals[LLR_SIG_EMPTY] == 1
       && copy.signals[LLR_SIG_REFUSAL] == 0
       && copy.latency[3] == 1,
       "requests, errors, signals and latency counted");
    ok(llr_q_double(copy.cost[0]) == 0.75
       && llr_q_double(copy.cost[1]) == 0.3125
       && llr_q_double(copy.cost[2]) == 0.140625,
       "cost sums exact");
    ok(copy.feedback == 2 && (int64_t) copy.score[0] == 700
       && (int64_t) copy.score[1] == 1090000
       && (int64_t) copy.score[2] == 1000000000LL - 27000000LL,
       "a second score replaces the first: %lld %lld %lld",
       (long long) copy.score[0], (long long) copy.score[1],
       (long long) copy.score[2]);
    is_int(sizeof(llr_ab_arm_t), 264, "an arm is 264 bytes");
}


static void
test_distributions(void)
{
    int       k, n;
    double    p, s, c, x, sum, maxerr;

    /* the binomial tail against the sum of its terms */
    maxerr = 0;

    for (n = 1; n <= 60; n += 7) {
        for (p = 0.01; p < 1; p += 0.17) {
            for (k = 0; k <= n; k++) {
                s = 0;

                for (x = k; x <= n; x++) {
                    c = lgamma(n + 1.0) - lgamma(x + 1) - lgamma(n - x + 1)
                        + x * log(p) + (n - x) * log1p(-p);
                    s += exp(c);
                }

                c = fabs(llr_q_binom_sf((uint64_t) k, (uint64_t) n, p) - s);
                maxerr = c > maxerr ? c : maxerr;
            }
        }
    }

    ok(maxerr < 1e-10, "binomial tails exact (max error %.2g)", maxerr);

    ok(fabs(llr_q_norm_sf(1.959963985) - 0.025) < 1e-9
       && fabs(llr_q_norm_sf(0) - 0.5) < 1e-15, "normal tail");

    /* t with 1 df is Cauchy: P(T > 1) = 1/4; 10 df: 2.228 is 2.5% */
    ok(fabs(llr_q_t_sf(1, 1) - 0.25) < 1e-12
       && fabs(llr_q_t_sf(2.228139, 10) - 0.025) < 1e-6
       && fabs(llr_q_t_sf(-2.228139, 10) - 0.975) < 1e-6,
       "Student's t tails");

    /* a tiny tail stays accurate in logs */
    x = llr_q_log_betai(2000, 3000, 0.2);
    ok(isfinite(x) && x < -200, "log I_x of a far tail: %.1f", x);

    /* the mixture: p < alpha exactly beyond the boundary */
    sum = llr_q_mix_bound(400, 50, 0.05);
    ok(llr_q_mix_p(sum * 1.0001, 400, 50) < 0.05
       && llr_q_mix_p(sum * 0.9999, 400, 50) > 0.05,
       "p-value and boundary agree (%.2f)", sum);

    /* rho tuned at v: the boundary over sqrt(v) is smallest near it */
    c = llr_q_mix_rho(1000, 0.05);
    ok(llr_q_mix_bound(1000, c, 0.05) / sqrt(1000)
       < llr_q_mix_bound(300, c, 0.05) / sqrt(300)
       && llr_q_mix_bound(1000, c, 0.05) / sqrt(1000)
          < llr_q_mix_bound(3000, c, 0.05) / sqrt(3000),
       "the boundary is tightest where it is tuned");

    /* beta-binomial mixtures: no evidence at the null, much against it */
    ok(llr_q_bb_log(990, 1000, 0.99, 62, 0.62) < 0
       && llr_q_bb_log(900, 1000, 0.99, 62, 0.62) > 20
       && llr_q_bb_log(1000, 1000, 0.99, 62, 0.62) > 5,
       "beta-binomial mixture");

    /*
     * its confidence sequence covers the truth at every look at once:
     * 1000 sequences of 1000 Bernoulli(0.3) draws, each looked at
     * every 10 draws, alpha 10%
     */
    {
        int        seq, t, miss, k;
        double     lo, hi;
        sim_rng_t  r;

        sim_seed(&r, 42);
        miss = 0;

        for (seq = 0; seq < 1000; seq++) {
            k = 0;

            for (t = 1; t <= 1000; t++) {
                k += sim_bernoulli(&r, 0.3);

                if (t % 10) {
                    continue;
                }

                llr_q_bb_interval(k, t, 6, 14, log(10), &lo, &hi);

                if (lo > 0.3 || hi < 0.3) {
                    miss++;
                    break;
                }
            }
        }

        ok(miss <= 100, "a proportion's confidence sequence: %d of 1000 "
           "ever miss at 10%%", miss);
    }
}


static void
test_aa(void)
{
    int         i, m, any, fp[LLR_AB_METRICS], anyfp, dir[LLR_AB_METRICS],
                wrong[LLR_AB_METRICS];
    uint64_t    first[LLR_AB_METRICS];
    double      worst;
    const char *verbose;

    verbose = getenv("LLR_SIM_VERBOSE");
    memset(fp, 0, sizeof(fp));
    anyfp = 0;

    for (i = 0; i < sim_aa; i++) {
        sim_experiment(1000 + (uint64_t) i, &sim_base, &sim_base, NULL,
                       first, dir, wrong);
        any = 0;

        for (m = 0; m < LLR_AB_METRICS; m++) {
            if (first[m]) {
                fp[m]++;
                any = 1;

                if (verbose) {
                    printf("# A/A %d: %s significant at %llu\n", i,
                           llr_ab_metric_name((unsigned) m),
                           (unsigned long long) first[m]);
                }
            }
        }

        anyfp += any;
    }

    worst = 0;

    for (m = 0; m < LLR_AB_METRICS; m++) {
        printf("# A/A false positives, %-15s %3d of %d (%.1f%%)\n",
               llr_ab_metric_name((unsigned) m), fp[m], sim_aa,
               100.0 * fp[m] / sim_aa);
        worst = fp[m] > worst ? fp[m] : worst;
    }

    printf("# A/A any metric significant at some look: %d of %d (%.1f%%)\n",
           anyfp, sim_aa, 100.0 * anyfp / sim_aa);

    /*
     * each metric is tested at 5% / 11 (Bonferroni), so that identical
     * arms show any metric significant in at most 5% of experiments
     */
    ok((double) anyfp / sim_aa <= 0.05,
       "identical arms, %d experiments of %d requests looked at every "
       "%d: some metric ever significant in %.1f%% (<= 5%%; worst "
       "metric %.1f%%)", sim_aa, SIM_N, SIM_LOOK,
       100.0 * anyfp / sim_aa, 100 * worst / sim_aa);
}


/* workers recording into one arm at once: nothing lost */
static void
test_concurrent(void)
{
    int            w, i, status, bad;
    pid_t          pid[4];
    llr_ab_arm_t  *arm, copy;
    llr_q_obs_t    obs;

    arm = mmap(NULL, sizeof(llr_ab_arm_t), PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(arm, 0, sizeof(llr_ab_arm_t));

    for (w = 0; w < 4; w++) {
        pid[w] = fork();

        if (pid[w] == 0) {
            memset(&obs, 0, sizeof(obs));

            for (i = 0; i < 100000; i++) {
                obs.error = (i % 10 == 0);
                obs.signals = (i % 4 == 0) ? LLR_SIG_BIT(LLR_SIG_EMPTY) : 0;
                obs.cost_usd = 0.25;
                obs.latency_bucket = (unsigned) (i % LLR_Q_LAT_BUCKETS);
                llr_ab_record(arm, &obs);
                llr_ab_feedback(arm, (i & 1) ? 500 : -250, LLR_Q_NO_SCORE);
            }

            _exit(0);
        }
    }

    bad = 0;

    for (w = 0; w < 4; w++) {
        waitpid(pid[w], &status, 0);
        bad += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    llr_ab_snapshot(&copy, arm);

    ok(bad == 0 && copy.requests == 400000 && copy.errors == 40000
       && copy.signals[LLR_SIG_EMPTY] == 100000
       && llr_q_double(copy.cost[0]) == 100000.0
       && copy.feedback == 400000 && (int64_t) copy.score[0] == 50000000
       && copy.latency[0] == 4 * 5556,
       "four processes, 100,000 requests each, at once: every count exact "
       "(cost %.2f, scores %lld)", llr_q_double(copy.cost[0]),
       (long long) copy.score[0]);

    munmap(arm, sizeof(llr_ab_arm_t));
}


/* quantiles told apart by one bucket bound, either way */
static void
test_quantile_edge(void)
{
    llr_ab_arm_t  a, b;
    llr_ab_cmp_t  c;

    /* the control's median in (25, 50] ms, the arm's in (10, 25] */
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.latency[3] = 1000;
    b.latency[2] = 1000;

    llr_ab_compare(&a, &b, LLR_AB_LATENCY_P50, sim_bounds, &c);
    ok(c.state == LLR_AB_OK && c.significant && c.diff < 0 && c.hi <= 0,
       "the arm faster by one bucket: significant (p %.2g, [%g, %g])",
       c.p, c.lo, c.hi);

    llr_ab_compare(&b, &a, LLR_AB_LATENCY_P50, sim_bounds, &c);
    ok(c.state == LLR_AB_OK && c.significant && c.diff > 0 && c.lo >= 0,
       "the arm slower by one bucket: significant (p %.2g, [%g, %g])",
       c.p, c.lo, c.hi);

    llr_ab_compare(&a, &a, LLR_AB_LATENCY_P50, sim_bounds, &c);
    ok(c.state == LLR_AB_OK && !c.significant && c.p == 1.0
       && c.lo <= 0 && c.hi >= 0, "the same histogram: no difference");
}


/* the verdict on an arm with every kind of difference */
static void
test_verdict(void)
{
    int            m, a;
    char           text[512];
    uint64_t       n;
    sim_rng_t      r;
    sim_pop_t      pb;
    llr_ab_arm_t   arms[2];
    llr_ab_cmp_t   cmp[LLR_AB_METRICS];
    llr_ab_conf_t  conf;

    sim_conf(&conf, "v", 50, 50);

    /* nothing yet */
    memset(arms, 0, sizeof(arms));

    for (m = 0; m < LLR_AB_METRICS; m++) {
        llr_ab_compare(&arms[0], &arms[1], (unsigned) m, sim_bounds, &cmp[m]);
    }

    llr_ab_verdict(text, sizeof(text), cmp);
    is_str(text, "no requests yet; no scores yet; no other significant "
           "difference", "the verdict on nothing");

    pb = sim_base;
    pb.cost *= 0.39;
    pb.sig[LLR_SIG_TRUNCATED] += 0.05;
    pb.fb_mean -= 0.02;

    sim_seed(&r, 3);

    for (n = 0; n < 40000; n++) {
        a = llr_ab_assign(&conf, NULL, 0, sim_next(&r));
        sim_request(&r, a ? &pb : &sim_base, &arms[a]);
    }

    for (m = 0; m < LLR_AB_METRICS; m++) {
        llr_ab_compare(&arms[0], &arms[1], (unsigned) m, sim_bounds, &cmp[m]);
    }

    llr_ab_verdict(text, sizeof(text), cmp);
    printf("# verdict: %s\n", text);

    ok(strncmp(text, "costs 6", 7) == 0
       && strstr(text, "% less, significant; truncated ") != NULL
       && strstr(text, " pp higher, significant") != NULL
       && strstr(text, "feedback not different yet, need ~") != NULL
       && strstr(text, " more scores") != NULL,
       "cost, truncation and feedback in the verdict");

    ok(cmp[LLR_AB_COST].significant && cmp[LLR_AB_COST].diff < 0
       && cmp[LLR_AB_COST].hi < 0 && cmp[LLR_AB_COST].need == 0
       && cmp[LLR_AB_FEEDBACK].need > 0 && isfinite(cmp[LLR_AB_FEEDBACK].need),
       "interval, need");

    /* a short buffer: cut, terminated */
    ok(llr_ab_verdict(text, 10, cmp) == 9 && strlen(text) == 9,
       "a verdict cut to its buffer");
}


/*
 * Arms with a known difference in one metric: the requests (of both
 * arms) until it is first significant, over sim_ab experiments.
 */
static void
test_power(const char *what, const sim_pop_t *pb, unsigned metric, int sign,
    uint64_t within)
{
    int            i, a, detected, wrong, late;
    uint64_t       n, first[SIM_AB], t;
    sim_rng_t      r;
    llr_ab_arm_t   arms[2];
    llr_ab_cmp_t   c;
    llr_ab_conf_t  conf;

    sim_conf(&conf, "sim", 90, 10);

    detected = 0;
    wrong = 0;
    memset(first, 0, sizeof(first));

    for (i = 0; i < sim_ab; i++) {
        sim_seed(&r, 7000 + (uint64_t) i);
        memset(arms, 0, sizeof(arms));
        first[i] = 0;

        for (n = 1; n <= SIM_AB_N; n++) {
            a = llr_ab_assign(&conf, NULL, 0, sim_next(&r));
            sim_request(&r, a ? pb : &sim_base, &arms[a]);

            if (n % SIM_LOOK) {
                continue;
            }

            llr_ab_compare(&arms[0], &arms[1], metric, sim_bounds, &c);

            if (c.state != LLR_AB_OK || !c.significant) {
                continue;
            }

            if ((c.diff > 0 ? 1 : -1) != sign) {
                wrong++;
                break;
            }

            /*
             * the interval excludes 0 (a quantile's may end at 0: the
             * arm's quantile is above a bucket bound, the control's at
             * most that bound)
             */
            if ((sign > 0 && c.lo >= 0) || (sign < 0 && c.hi <= 0)) {
                first[i] = n;
                detected++;
                break;
            }

            /* significant with 0 inside the interval: inconsistent */
            wrong++;
            break;
        }
    }

    /* the 90th percentile of the detection times (never: horizon) */
    for (i = 0; i < sim_ab; i++) {
        if (first[i] == 0) {
            first[i] = UINT64_MAX;
        }
    }

    for (i = 1; i < sim_ab; i++) {
        t = first[i];

        for (a = i; a > 0 && first[a - 1] > t; a--) {
            first[a] = first[a - 1];
        }

        first[a] = t;
    }

    late = 0;

    for (i = 0; i < sim_ab; i++) {
        late += (first[i] > within);
    }

    printf("# A/B %s: detected in %d of %d within %d requests, median "
           "%llu, 90th percentile %llu\n", what, detected, sim_ab,
           SIM_AB_N, (unsigned long long) first[sim_ab / 2],
           (unsigned long long) first[sim_ab * 9 / 10]);

    is_int(wrong, 0, "A/B %s: never significant the wrong way", what);

    if (sim_under_valgrind()) {
        /* ten experiments measure no 90th percentile: memory only */
        printf("# A/B %s: %d of %d later than %llu requests (not checked "
               "under valgrind)\n", what, late, sim_ab,
               (unsigned long long) within);
        return;
    }

    ok(late <= sim_ab / 10, "A/B %s: 90%% significant within %llu requests "
       "(%d later)", what, (unsigned long long) within, late);
}


static void
test_ab(void)
{
    sim_pop_t  pb;

    /* B costs 61% less */
    pb = sim_base;
    pb.cost = sim_base.cost * 0.39;
    test_power("cost 61% less", &pb, LLR_AB_COST, -1, 15000);

    /* truncation 2.1 pp higher */
    pb = sim_base;
    pb.sig[LLR_SIG_TRUNCATED] += 0.021;
    test_power("truncated +2.1 pp", &pb, LLR_AB_SIGNAL + LLR_SIG_TRUNCATED,
               1, 30000);

    /* errors doubled */
    pb = sim_base;
    pb.err *= 2;
    test_power("errors 2% -> 4%", &pb, LLR_AB_ERRORS, 1, 25000);

    /* feedback 0.15 lower (30% of requests scored) */
    pb = sim_base;
    pb.fb_mean -= 0.15;
    test_power("feedback -0.15", &pb, LLR_AB_FEEDBACK, -1, 20000);

    /* 2.5 times slower */
    pb = sim_base;
    pb.lat_ms *= 2.5;
    test_power("latency x2.5", &pb, LLR_AB_LATENCY_P99, 1, 15000);
}


int
main(void)
{
    if (sim_under_valgrind()) {
        sim_aa = 20;
        sim_ab = 10;
    }

    test_assign();
    test_sums();
    test_concurrent();
    test_distributions();
    test_quantile_edge();
    test_verdict();
    test_aa();
    test_ab();

    done_testing();
}
