/*
 * Unit tests of core/llr_select: the policy selection rule, as a table.
 */

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "llr_cost.h"
#include "llr_select.h"


#define U  LLR_Q_UNSET

enum { T_GENERAL = 0, T_CODE, T_MATH, NTASKS };

/* per-task qualities: general, code, math */
static const uint32_t  q_mini[NTASKS] = { U, 8000, 7500 };

/* A: gpt-4o-mini, B: gpt-4o, C: a cheap model with a small context */
static llr_cand_t  cands[] = {
    { "A", 7800, q_mini, 150000, 600000, 128000, 1 },
    { "B", 9200, NULL, 2500000, 10000000, 128000, 1 },
    { "C", 8500, NULL, 50000, 200000, 8000, 1 },
};


typedef struct {
    const char  *what;
    unsigned     task;
    double       d;
    uint64_t     P;
    int64_t      M;
    unsigned     usable;        /* bit i: candidate i usable */
    int          rc;
    int          chosen;
    int          met;
    const char  *fallback;      /* names in order */
} case_t;


static const case_t  cases[] = {
    { "easy prompt -> cheapest", T_GENERAL, 0.0, 100, -1, 7, 0, 2, 1,
      "AB" },
    { "easy, long prompt: C too small", T_GENERAL, 0.0, 10000, -1, 7,
      0, 0, 1, "B" },
    { "hard prompt -> strong", T_GENERAL, 1.0, 100, -1, 7, 0, 1, 1, "CA" },
    { "medium: A below 0.825, C meets", T_GENERAL, 0.5, 100, -1, 7,
      0, 2, 1, "BA" },
    { "medium, max_tokens overflows C", T_GENERAL, 0.5, 100, 8000, 7,
      0, 1, 1, "A" },
    { "code: quality_code 0.80 meets 0.795", T_CODE, 0.3, 10000, -1, 7,
      0, 0, 1, "B" },
    { "math: 0.75 meets 0.75 exactly", T_MATH, 0.0, 10000, -1, 7,
      0, 0, 1, "B" },
    { "math: 0.75 misses 0.7515", T_MATH, 0.01, 10000, -1, 7,
      0, 1, 1, "A" },
    { "strong unusable: best quality", T_GENERAL, 1.0, 100, -1, 5,
      0, 2, 0, "A" },
    { "only A usable, hard: none met", T_GENERAL, 1.0, 100, -1, 1,
      0, 0, 0, "" },
    { "none usable: error", T_GENERAL, 0.0, 100, -1, 0, -1, -1, 0, "" },
    { "context too small for all", T_GENERAL, 0.0, 200000, -1, 7,
      -1, -1, 0, "" },
    { "prompt + max_tokens too big", T_GENERAL, 0.0, 100000, 30000, 7,
      -1, -1, 0, "" },
    { "difficulty above 1 clamps", T_GENERAL, 1.7, 100, -1, 7, 0, 1, 1,
      "CA" },
    { "difficulty below 0 clamps", T_GENERAL, -3.0, 100, -1, 7, 0, 2, 1,
      "AB" },
    { "unusable cheapest skipped", T_GENERAL, 0.0, 100, -1, 3, 0, 0, 1,
      "B" },
    { NULL, 0, 0, 0, 0, 0, 0, 0, 0, NULL }
};


static void
init_in(llr_select_in_t *in)
{
    memset(in, 0, sizeof(*in));
    in->ntasks = NTASKS;
    in->floor = 7500;
    in->floor_hard = 9000;
    in->max_tokens = -1;
    in->cands = cands;
    in->ncands = 3;
}


int
main(void)
{
    const case_t      *c;
    llr_select_in_t    in;
    llr_select_out_t   out;
    llr_cand_t         tie[3];
    uint32_t           tf[NTASKS] = { U, 9000, U };
    uint32_t           tfh[NTASKS] = { U, 9500, U };
    char               fb[8], reason[256], full[256];
    size_t             i, n, bad;
    int                rc;

    for (c = cases; c->what; c++) {
        init_in(&in);
        in.task = c->task;
        in.difficulty = c->d;
        in.prompt_tokens = c->P;
        in.max_tokens = c->M;

        for (i = 0; i < 3; i++) {
            cands[i].usable = (c->usable >> i) & 1;
        }

        rc = llr_select(&in, &out, reason, sizeof(reason));
        is_int(rc, c->rc, "%s: rc", c->what);
        is_int(out.chosen, c->chosen, "%s: chosen", c->what);

        if (rc == 0) {
            is_int(out.met_floor, c->met, "%s: met floor", c->what);

            for (i = 0; i < out.nfallback; i++) {
                fb[i] = cands[out.fallback[i]].name[0];
            }
            fb[i] = '\0';
            is_str(fb, c->fallback, "%s: fallback order", c->what);
        }

        printf("# %s\n", reason);
    }

    for (i = 0; i < 3; i++) {
        cands[i].usable = 1;
    }

    /* required quality, exact */
    init_in(&in);
    in.difficulty = 0.42;
    llr_select(&in, &out, NULL, 0);
    is_int(out.required, 75000000 + 4200 * 1500, "required = f + d(h - f)");
    in.difficulty = NAN;
    llr_select(&in, &out, NULL, 0);
    is_int(out.difficulty, 0, "NaN difficulty is 0");

    /* floor_hard below floor */
    in.floor = 9000;
    in.floor_hard = 7500;
    in.difficulty = 1.0;
    llr_select(&in, &out, NULL, 0);
    is_int(out.required, 75000000, "floor_hard < floor works");

    /* per-task floors */
    init_in(&in);
    in.task = T_CODE;
    in.task_floor = tf;
    in.task_floor_hard = tfh;
    llr_select(&in, &out, NULL, 0);
    is_int(out.chosen, 1, "per-task floor 0.90 for code -> B");
    in.task = T_GENERAL;
    llr_select(&in, &out, NULL, 0);
    is_int(out.chosen, 2, "other tasks keep the policy floor -> C");

    /*
     * a task's floor above the policy's floor_hard, no floor_hard_TASK:
     * the requirement stays at the task's floor for its hard prompts
     * (it fell to the policy's floor_hard as difficulty rose)
     */
    {
        uint32_t  tf2[NTASKS] = { U, 9000, U };

        init_in(&in);
        in.floor = 5000;
        in.floor_hard = 5000;
        in.task = T_CODE;
        in.task_floor = tf2;
        in.task_floor_hard = NULL;
        in.difficulty = 1.0;
        llr_select(&in, &out, NULL, 0);
        is_int(out.required, 90000000,
               "task floor above floor_hard: hard prompts need it too");
        in.difficulty = 0.0;
        llr_select(&in, &out, NULL, 0);
        is_int(out.required, 90000000, "and easy ones");
        in.task = T_GENERAL;
        in.difficulty = 1.0;
        llr_select(&in, &out, NULL, 0);
        is_int(out.required, 50000000, "other tasks: the policy's floors");
    }

    /* ties */
    tie[0] = cands[0];
    tie[1] = cands[0];
    tie[2] = cands[0];
    tie[0].name = "X";
    tie[1].name = "Y";
    tie[2].name = "Z";
    tie[0].task_quality = tie[1].task_quality = tie[2].task_quality = NULL;
    tie[0].quality = 8000;
    tie[1].quality = 9000;
    tie[2].quality = 9000;
    init_in(&in);
    in.cands = tie;
    llr_select(&in, &out, NULL, 0);
    is_str(tie[out.chosen].name, "Y", "same cost: higher quality wins, "
           "then policy order");
    is_str(tie[out.fallback[0]].name, "Z", "then Z");
    is_str(tie[out.fallback[1]].name, "X", "then X");

    /* estimates and the reason */
    init_in(&in);
    in.task_name = "general";
    in.prompt_tokens = 100;
    llr_select(&in, &out, reason, sizeof(reason));
    is_int(out.expected, 256, "default expected completion");
    is_int(out.est_cost, 100 * 50000 + 256 * 200000, "est cost of C");
    is_int(out.est_cost_max, 100ULL * 2500000 + 256ULL * 10000000,
           "est cost of the most expensive");
    is_str(reason, "task=general difficulty=0.00 required=0.75 chose=C "
           "(cheapest of 3 meeting 0.75; C up to 0.6666) "
           "est_cost=$0.000056 est_saving=$0.002754", "reason");
    is_int(out.reason_len, strlen(reason), "reason_len");

    /* the policy (a tier) and the threshold that decided */
    in.policy = "balanced";
    in.difficulty = 0.7;
    llr_select(&in, &out, reason, sizeof(reason));
    is_str(reason, "policy=balanced task=general difficulty=0.70 "
           "required=0.855 chose=B (cheapest of 1 meeting 0.855; C up to "
           "0.6666) est_cost=$0.002810 est_saving=$0.000000",
           "the policy and the cheapest candidate's threshold");
    in.policy = NULL;

    in.max_tokens = 100;
    llr_select(&in, &out, NULL, 0);
    is_int(out.expected, 100, "E' = min(max_tokens, E)");
    in.max_tokens = 1000;
    in.expected = 500;
    llr_select(&in, &out, NULL, 0);
    is_int(out.expected, 500, "E' = E when max_tokens is larger");

    init_in(&in);
    in.task_name = "code";
    in.difficulty = 1.0;
    cands[1].usable = 0;
    llr_select(&in, &out, reason, sizeof(reason));
    ok(strstr(reason, "chose=C (none met 0.90, best quality 0.85; C up to")
       != NULL, "none-met reason: %s", reason);
    cands[1].usable = 1;

    rc = llr_select(&in, &out, reason, 10);
    is_int(strlen(reason), 9, "reason truncated to its buffer");
    is_int(out.reason_len, 9, "reason_len of a truncated reason");

    /*
     * every buffer size: the reason cut to it, never past it (the
     * numbers are written in place when they fit, through a buffer
     * when they do not)
     */
    llr_select(&in, &out, full, sizeof(full));
    bad = 0;
    for (n = 1; n <= strlen(full) + 1; n++) {
        memset(reason, 'x', sizeof(reason));
        llr_select(&in, &out, reason, n);
        bad += (strlen(reason) != n - 1 || out.reason_len != n - 1
                || strncmp(reason, full, n - 1) != 0
                || reason[n] != 'x');
    }
    is_int(bad, 0, "every size: the prefix of the whole reason");

    /* dollars above 9.999999 */
    init_in(&in);
    in.prompt_tokens = 100;
    in.difficulty = 1.0;
    in.expected = 1250000;
    llr_select(&in, &out, reason, sizeof(reason));
    ok(strstr(reason, " est_cost=$12.500250 est_saving=$0.000000") != NULL,
       "USD of two digits: %s", reason);

    /* 4 decimals when they matter; the reason when nothing fits */
    init_in(&in);
    in.task_name = "math";
    in.difficulty = 0.01;
    llr_select(&in, &out, reason, sizeof(reason));
    ok(strstr(reason, "difficulty=0.01 required=0.7515 ") != NULL,
       "4 decimals: %s", reason);

    init_in(&in);
    in.task_name = "general";
    in.difficulty = 0.5;
    llr_select(&in, &out, reason, sizeof(reason));
    ok(strstr(reason, "difficulty=0.50 required=0.825 ") != NULL,
       "3 decimals: %s", reason);

    init_in(&in);
    in.prompt_tokens = 2000000;
    rc = llr_select(&in, &out, reason, sizeof(reason));
    is_int(rc, -1, "nothing fits: -1");
    ok(strstr(reason, "no usable candidate fits 2000000 tokens") != NULL,
       "nothing fits: %s", reason);

    /* thresholds */
    is_int(llr_select_threshold(7800, 7500, 9000), 2000,
           "threshold (0.78 - 0.75) / 0.15 = 0.2");
    is_int(llr_select_threshold(7400, 7500, 9000), LLR_SELECT_NEVER,
           "below the floor: never");
    is_int(llr_select_threshold(9000, 7500, 9000), LLR_Q_ONE,
           "at floor_hard: always");
    is_int(llr_select_threshold(7500, 7500, 7500), LLR_Q_ONE,
           "flat floors, met: always");
    is_int(llr_select_threshold(8000, 9000, 7500), LLR_SELECT_NEVER,
           "falling floors, not met at 0: never");

    /*
     * the threshold is the decision: for any quality and floors, a
     * candidate qualifies at difficulty d iff d <= its threshold (d in
     * [0, t]); xorshift over many cases
     */
    {
        int       bad;
        uint32_t  x, q, fl, fh, th, dd, k;
        llr_cand_t one;

        bad = 0;
        x = 2463534242u;
        for (k = 0; k < 20000; k++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            q = x % 10001;
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            fl = x % 10001;
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            fh = fl + x % (10001 - fl);
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            dd = x % 10001;

            one = cands[0];
            one.task_quality = NULL;
            one.quality = q;
            one.usable = 1;
            init_in(&in);
            in.cands = &one;
            in.ncands = 1;
            in.floor = fl;
            in.floor_hard = fh;
            in.difficulty = dd / 10000.0;
            llr_select(&in, &out, NULL, 0);
            th = llr_select_threshold(q, fl, fh);
            bad += (out.nqualified == 1)
                   != (th != LLR_SELECT_NEVER && out.difficulty <= th);
        }
        is_int(bad, 0, "20000 cases: qualifies iff d <= threshold");
    }

    /* the USD of the reason is llr_format_usd()'s, 6 decimals */
    {
        int       bad;
        char      a[64], *p;
        uint64_t  v, k;
        llr_cand_t one;

        bad = 0;
        for (k = 0; k < 4000; k++) {
            v = k * k * k * 7919 + (k % 3) * 500000 + (k % 5) * 499999;
            one = cands[0];
            one.input = v;
            one.output = 0;
            one.usable = 1;
            init_in(&in);
            in.cands = &one;
            in.ncands = 1;
            in.prompt_tokens = 1;
            llr_select(&in, &out, reason, sizeof(reason));
            llr_format_usd(a, sizeof(a), v, 6);
            p = strstr(reason, "est_cost=$");
            bad += p == NULL || strncmp(p + 10, a, strlen(a)) != 0
                   || p[10 + strlen(a)] != ' ';
        }
        v = UINT64_MAX;
        llr_format_usd(a, sizeof(a), v, 6);
        one.input = v;
        llr_select(&in, &out, reason, sizeof(reason));
        p = strstr(reason, "est_cost=$");
        bad += p == NULL || strncmp(p + 10, a, strlen(a)) != 0;
        is_int(bad, 0, "est_cost as llr_format_usd writes it (%s)", a);
    }

    done_testing();
}
