/*
 * core/llr_drift: the stamped words of the ring, the evaluation once per
 * closed bucket, and, on simulated traffic with the default windows
 * (5-minute buckets, a recent window of 3, a baseline of 72):
 *
 *   - a series whose truncation rate, feedback or latency degrades (as
 *     the mock's degradation parameters do) raises its alarm within a
 *     few buckets, keeps it while degraded, clears it after, and the
 *     other metrics stay quiet;
 *   - series with nothing drifting: the tests' p-values are calibrated
 *     (at most 1% of them below 0.01, and so on) and no alarm rises.
 *
 * The documented delays (docs/quality.md, what this prints): raised
 * within 3 buckets (feedback, 20% of requests scored: 4), cleared within
 * the recent window and one bucket more after the answers are good
 * again, plus a minute (the page's refresh).  Under valgrind (make
 * test-asan) the simulations are cut short.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "sim.h"
#include "llr_drift.h"
#include "llr_abtest.h"


#define SIM_T0      1700000100   /* a bucket boundary (5 min) */
#define SIM_DAY     86400


typedef struct {
    double      rps;
    double      err;
    double      sig[LLR_SIG_N];
    double      fb_rate;
    double      fb_mean;
    double      lat_ms;
} sim_traffic_t;


static const sim_traffic_t  sim_normal_traffic = {
    1.0, 0.02,
    { 0.03, 0.002, 0.01, 0.005, 0.01, 0.02 },
    0.2, 0.4,
    900
};

static int  sim_series = 60;
static int  sim_days = 1;
static int  sim_runs = 10;


/* one second of a series' traffic */
static void
sim_second(sim_rng_t *r, llr_drift_series_t *s, uint64_t t,
    const sim_traffic_t *tr)
{
    int          i, n;
    double       x;
    llr_q_obs_t  obs;

    /* Poisson arrivals (rps small): by Bernoulli thirds of a second */
    n = 0;

    for (i = 0; i < 3; i++) {
        n += sim_bernoulli(r, tr->rps / 3);
    }

    while (n--) {
        memset(&obs, 0, sizeof(obs));
        obs.error = sim_bernoulli(r, tr->err);

        if (!obs.error) {
            for (i = 0; i < LLR_SIG_N; i++) {
                if (sim_bernoulli(r, tr->sig[i])) {
                    obs.signals |= LLR_SIG_BIT(i);
                }
            }
        }

        obs.latency_bucket = sim_bucket(sim_lognormal(r, tr->lat_ms, 0.8));
        llr_drift_record(s, t, &obs);

        if (sim_bernoulli(r, tr->fb_rate)) {
            x = tr->fb_mean + 0.6 * sim_normal(r);
            x = x > 1 ? 1 : x < -1 ? -1 : x;
            llr_drift_feedback(s, t, (int32_t) lrint(x * 1000),
                               LLR_Q_NO_SCORE, 0);
        }
    }
}


static void
test_words(void)
{
    llr_drift_conf_t    conf;
    llr_drift_series_t *s;
    llr_drift_state_t   st;
    llr_q_obs_t         obs;
    size_t              size;
    uint64_t            t, *w;
    const char         *err;

    llr_drift_conf_default(&conf);
    is_int(llr_drift_conf_check(&conf, &err), 0, "the defaults are valid");

    size = llr_drift_size(&conf);
    ok(size == sizeof(llr_drift_series_t) + 75 * 29 * 8 && size % 8 == 0,
       "a series with the default windows: %zu bytes", size);

    s = calloc(1, size);
    llr_drift_init(s, &conf);

    memset(&obs, 0, sizeof(obs));
    obs.latency_bucket = 2;
    obs.signals = LLR_SIG_BIT(LLR_SIG_REFUSAL);

    t = SIM_T0;
    w = &s->w[(t / 300) % 75 * LLR_DRIFT_WORDS];
    llr_drift_record(s, t, &obs);
    llr_drift_record(s, t + 299, &obs);

    is_int(w[0] & 0xffffffffffULL, 2, "two requests in one bucket");
    is_int(w[0] >> 40, (t / 300) & 0xffffff, "stamped with the bucket");
    is_int(w[10] & 0xffffffffffULL, 2, "their refusals");
    is_int(w[5 + LLR_SIG_N + 2] & 0xffffffffffULL, 2, "their latency");

    /* the same slot, a ring later: starts again */
    llr_drift_record(s, t + 75 * 300, &obs);
    is_int(w[0] & 0xffffffffffULL, 1, "a ring later the slot restarts");

    /* a late write for the bucket that left the ring: dropped */
    llr_drift_record(s, t + 10, &obs);
    is_int(w[0] & 0xffffffffffULL, 1, "a write for a bucket gone: dropped");

    /* feedback replaced in its bucket */
    llr_drift_feedback(s, t + 75 * 300, 500, LLR_Q_NO_SCORE, 0);
    llr_drift_feedback(s, t + 75 * 300 + 5, -200, 500, t + 75 * 300);
    is_int(w[2] & 0xffffffffffULL, 1, "a replaced score counts once");
    is_int(w[3] & 0xffffffffffULL, 800, "its sum is the new score's");
    is_int(w[4] & 0xffffffffffULL, 40000, "and so is its square");

    /* a replaced score whose bucket left the ring: only the new one */
    llr_drift_feedback(s, t + 76 * 300, 1000, -200, t);
    is_int(w[2] & 0xffffffffffULL, 1, "a score of a bucket gone: kept");

    /* one evaluation per closed bucket, whoever asks */
    t = SIM_T0 + 200 * 300;
    ok(llr_drift_eval(s, &conf, t, sim_bounds) == 1
       && llr_drift_eval(s, &conf, t + 1, sim_bounds) == 0
       && llr_drift_eval(s, &conf, t + 299, sim_bounds) == 0
       && llr_drift_eval(s, &conf, t + 300, sim_bounds) == 1,
       "evaluated once per bucket");

    llr_drift_get(s, LLR_DRIFT_SIGNAL + LLR_SIG_REFUSAL, &st);
    ok(!st.raised && st.p == 1.0, "too little traffic: not tested");

    conf.bucket_sec = 60;
    ok(!llr_drift_compatible(s, &conf)
       && llr_drift_eval(s, &conf, t + 1000, sim_bounds) == 0,
       "another bucket length: not compatible, not evaluated");

    free(s);
}


/*
 * workers recording into one series at once, across a bucket boundary,
 * and evaluating it: every count exact, one evaluation per bucket
 */
static void
test_concurrent(void)
{
    int                  w, i, status, bad;
    pid_t                pid[4];
    size_t               size;
    uint64_t             t, b, *words, *evals;
    llr_drift_conf_t     conf;
    llr_drift_series_t  *s;
    llr_q_obs_t          obs;

    llr_drift_conf_default(&conf);
    size = llr_drift_size(&conf);
    s = mmap(NULL, size + 64, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    llr_drift_init(s, &conf);
    evals = (uint64_t *) ((char *) s + size);
    *evals = 0;

    /* the first bucket after the 75 a series needs before evaluating */
    t = (SIM_T0 / 300 + 80) * 300;

    for (w = 0; w < 4; w++) {
        pid[w] = fork();

        if (pid[w] == 0) {
            memset(&obs, 0, sizeof(obs));
            obs.signals = LLR_SIG_BIT(LLR_SIG_TRUNCATED);
            obs.latency_bucket = 1;

            for (i = 0; i < 50000; i++) {
                /* the first half in one bucket, the rest in the next */
                llr_drift_record(s, t + (i < 25000 ? 299 : 300), &obs);
                llr_drift_feedback(s, t + (i < 25000 ? 299 : 300), 250,
                                   LLR_Q_NO_SCORE, 0);

                if (llr_drift_eval(s, &conf, t + (i < 25000 ? 299 : 300),
                                   sim_bounds))
                {
                    __atomic_fetch_add(evals, 1, __ATOMIC_RELAXED);
                }
            }

            _exit(0);
        }
    }

    bad = 0;

    for (w = 0; w < 4; w++) {
        waitpid(pid[w], &status, 0);
        bad += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    for (b = t / 300; b <= t / 300 + 1; b++) {
        words = &s->w[(b % 75) * LLR_DRIFT_WORDS];
        bad += ((words[0] & 0xffffffffffULL) != 100000);       /* requests */
        bad += ((words[5] & 0xffffffffffULL) != 100000);       /* truncated */
        bad += ((words[2] & 0xffffffffffULL) != 100000);       /* scores */
        bad += ((words[3] & 0xffffffffffULL) != 100000 * 1250);
        bad += ((words[5 + LLR_SIG_N + 1] & 0xffffffffffULL) != 100000);
    }

    ok(bad == 0 && *evals == 2,
       "four processes across a bucket boundary: counts exact, %llu "
       "evaluations (one per bucket)", (unsigned long long) *evals);

    munmap(s, size + 64);
}


/*
 * A series at 1 request/s degrading as `bad` for an hour, after 8 hours
 * of normal traffic, at sim_runs different moments within a bucket:
 * the longest delay until its alarm on `metric` rises and until it
 * clears (seconds after the change), whether `since` is right, and
 * whether any other metric ever rises
 */
static void
test_scenario(const char *what, const sim_traffic_t *bad, unsigned metric,
    uint64_t raise_within, uint64_t clear_within)
{
    int                 m, run, others, missed, wrong_since;
    uint64_t            t, start, end, stop, raised, cleared, since,
                        worst_raise, worst_clear, best_raise;
    sim_rng_t           r;
    llr_drift_conf_t    conf;
    llr_drift_series_t *s;
    llr_drift_state_t   st;

    llr_drift_conf_default(&conf);
    s = calloc(1, llr_drift_size(&conf));

    worst_raise = 0;
    best_raise = UINT64_MAX;
    worst_clear = 0;
    others = 0;
    missed = 0;
    wrong_since = 0;

    for (run = 0; run < sim_runs; run++) {
        llr_drift_init(s, &conf);
        sim_seed(&r, 99 + (uint64_t) run);

        start = SIM_T0 + 8 * 3600 + (uint64_t) run * 300 / sim_runs;
        stop = start + 3600;
        end = stop + 3600;

        raised = 0;
        cleared = 0;
        since = 0;

        for (t = SIM_T0; t < end; t++) {
            sim_second(&r, s, t, (t >= start && t < stop)
                                 ? bad : &sim_normal_traffic);

            /* a status page refreshed every minute */
            if (t % 60) {
                continue;
            }

            llr_drift_eval(s, &conf, t, sim_bounds);

            for (m = 0; m < LLR_DRIFT_METRICS; m++) {
                llr_drift_get(s, (unsigned) m, &st);

                if ((unsigned) m != metric) {
                    others += st.raised;
                    continue;
                }

                if (st.raised && !raised) {
                    raised = t;
                    since = st.since;
                }

                if (raised && !st.raised && !cleared) {
                    cleared = t;
                }
            }
        }

        if (!raised || !cleared || cleared < stop) {
            missed++;
            continue;
        }

        /* since: the end of the bucket whose evaluation raised it */
        wrong_since += !(since <= raised && since > start
                         && since % 300 == 0 && raised - since < 300);

        worst_raise = raised - start > worst_raise ? raised - start
                                                   : worst_raise;
        best_raise = raised - start < best_raise ? raised - start
                                                 : best_raise;
        worst_clear = cleared - stop > worst_clear ? cleared - stop
                                                   : worst_clear;
    }

    printf("# drift %s, %d runs: raised %llu..%llu s after it started, "
           "cleared at most %llu s after it stopped\n", what, sim_runs,
           (unsigned long long) best_raise, (unsigned long long) worst_raise,
           (unsigned long long) worst_clear);

    is_int(missed, 0, "%s: raised and cleared in every run", what);
    ok(worst_raise <= raise_within, "%s: raised within %llu s", what,
       (unsigned long long) raise_within);
    is_int(wrong_since, 0, "%s: since is the end of the bucket that "
           "raised it", what);
    ok(worst_clear <= clear_within, "%s: cleared within %llu s after it "
       "stopped", what, (unsigned long long) clear_within);
    is_int(others, 0, "%s: no other metric raised", what);

    free(s);
}


static int
test_p_cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* nothing drifts: the p-values of the tests, and the alarms */
static void
test_quiet(void)
{
    int                  i, m, alarms, n, below[3];
    double              *ps, *p;
    uint64_t             t;
    sim_rng_t            r;
    llr_drift_conf_t     conf;
    llr_drift_series_t **s;
    llr_drift_state_t    st;

    llr_drift_conf_default(&conf);
    conf.tests = (uint32_t) sim_series * LLR_DRIFT_METRICS;

    s = calloc((size_t) sim_series, sizeof(llr_drift_series_t *));
    ps = calloc((size_t) sim_series * LLR_DRIFT_METRICS * 300 * sim_days,
                sizeof(double));
    p = ps;

    for (i = 0; i < sim_series; i++) {
        s[i] = calloc(1, llr_drift_size(&conf));
        llr_drift_init(s[i], &conf);
    }

    sim_seed(&r, 5);
    alarms = 0;

    /* a 6-hour baseline first, then sim_days of evaluations */

    for (t = SIM_T0; t < SIM_T0 + 6 * 3600 + (uint64_t) sim_days * SIM_DAY;
         t++)
    {
        for (i = 0; i < sim_series; i++) {
            sim_second(&r, s[i], t, &sim_normal_traffic);

            if (t % 300 || t < SIM_T0 + 6 * 3600 + 300) {
                continue;
            }

            if (llr_drift_eval(s[i], &conf, t, sim_bounds) != 1) {
                continue;
            }

            for (m = 0; m < LLR_DRIFT_METRICS; m++) {
                llr_drift_get(s[i], (unsigned) m, &st);
                alarms += st.raised;

                if (st.p < 1.0) {
                    *p++ = st.p;
                }
            }
        }
    }

    n = (int) (p - ps);
    qsort(ps, (size_t) n, sizeof(double), test_p_cmp);

    memset(below, 0, sizeof(below));

    for (i = 0; i < n; i++) {
        below[0] += ps[i] <= 0.01;
        below[1] += ps[i] <= 0.05;
        below[2] += ps[i] <= 0.2;
    }

    printf("# drift, nothing drifting: %d series x %d metrics, %d day(s) of "
           "evaluations: %d tests, %.2f%% with p <= 0.01, %.2f%% <= 0.05, "
           "%.2f%% <= 0.2, smallest p %.2g\n", sim_series,
           LLR_DRIFT_METRICS, sim_days, n, 100.0 * below[0] / n,
           100.0 * below[1] / n, 100.0 * below[2] / n, ps[0]);

    ok(n > 1000, "tested %d times", n);
    ok(below[0] <= 0.01 * n && below[1] <= 0.05 * n && below[2] <= 0.2 * n,
       "the p-values are calibrated (conservative)");
    is_int(alarms, 0, "no alarm");

    for (i = 0; i < sim_series; i++) {
        free(s[i]);
    }

    free(s);
    free(ps);
}


int
main(void)
{
    sim_traffic_t  bad;

    if (sim_under_valgrind()) {
        sim_series = 3;
        sim_runs = 1;
    }

    test_words();
    test_concurrent();

    /* the mock truncating 15% of its answers */
    bad = sim_normal_traffic;
    bad.sig[LLR_SIG_TRUNCATED] = 0.15;
    test_scenario("truncated 3% -> 15%", &bad,
                  LLR_DRIFT_SIGNAL + LLR_SIG_TRUNCATED, 900, 1260);

    /* refusing 10% */
    bad = sim_normal_traffic;
    bad.sig[LLR_SIG_REFUSAL] = 0.10;
    test_scenario("refusal 2% -> 10%", &bad,
                  LLR_DRIFT_SIGNAL + LLR_SIG_REFUSAL, 900, 1260);

    /* feedback dropping */
    bad = sim_normal_traffic;
    bad.fb_mean = 0.0;
    test_scenario("feedback 0.4 -> 0.0", &bad, LLR_DRIFT_FEEDBACK, 1200,
                  1260);

    /* three times slower */
    bad = sim_normal_traffic;
    bad.lat_ms *= 3;
    test_scenario("latency x3", &bad, LLR_DRIFT_LATENCY_P99, 900, 1260);

    test_quiet();

    done_testing();
}
