/*
 * ngx_llm_route_module: policy selection.
 */

#include <string.h>

#include "llr_cost.h"
#include "llr_select.h"


typedef struct {
    unsigned    idx;
    uint32_t    q;
    uint64_t    cost;
} llr_rank_t;


static void llr_sort(llr_rank_t *r, size_t n, int by_cost);
/* the reason line: strings appended, cut to fit, always NUL-terminated */
typedef struct {
    char    *buf;
    size_t   size;
    size_t   len;
} llr_line_t;


static void llr_fmt_q(char *buf, size_t size, uint64_t v, uint64_t one);
static void llr_cat(llr_line_t *l, const char *s);
static void llr_cat_uint(llr_line_t *l, uint64_t v);


uint32_t
llr_select_quality(const llr_cand_t *c, unsigned task, unsigned ntasks)
{
    if (c->task_quality && task < ntasks
        && c->task_quality[task] != LLR_Q_UNSET)
    {
        return c->task_quality[task];
    }

    return c->quality;
}


uint64_t
llr_select_cost(const llr_cand_t *c, uint64_t prompt, uint64_t expected)
{
    return llr_add_sat(llr_mul_sat(prompt, c->input),
                       llr_mul_sat(expected, c->output));
}


/* by_cost: cost, then quality (higher first), then policy order */
static int
llr_before(const llr_rank_t *a, const llr_rank_t *b, int by_cost)
{
    if (by_cost) {
        if (a->cost != b->cost) {
            return a->cost < b->cost;
        }

        if (a->q != b->q) {
            return a->q > b->q;
        }

    } else {
        if (a->q != b->q) {
            return a->q > b->q;
        }

        if (a->cost != b->cost) {
            return a->cost < b->cost;
        }
    }

    return a->idx < b->idx;
}


static void
llr_sort(llr_rank_t *r, size_t n, int by_cost)
{
    size_t      i, k;
    llr_rank_t  t;

    for (i = 1; i < n; i++) {
        t = r[i];

        for (k = i; k > 0 && llr_before(&t, &r[k - 1], by_cost); k--) {
            r[k] = r[k - 1];
        }

        r[k] = t;
    }
}


int
llr_select(const llr_select_in_t *in, llr_select_out_t *out,
    char *reason, size_t reason_size)
{
    int                tf;
    size_t             i, n, nq, nr;
    double             d;
    uint32_t           f, h, q;
    uint64_t           need, cost, e;
    llr_rank_t         qual[LLR_SELECT_MAX], rest[LLR_SELECT_MAX];
    const llr_cand_t  *c;
    char               cs[32], ss[32], dd[16], rq[16], qq[16];
    llr_line_t         line;
    const char        *task;

    memset(out, 0, sizeof(llr_select_out_t));
    out->chosen = -1;

    d = in->difficulty;
    d = (d > 0.0) ? d : 0.0;            /* also maps NaN to 0 */
    d = (d < 1.0) ? d : 1.0;
    out->difficulty = (uint32_t) (d * LLR_Q_ONE + 0.5);

    f = in->floor;
    h = in->floor_hard;
    tf = 0;

    if (in->task_floor && in->task < in->ntasks
        && in->task_floor[in->task] != LLR_Q_UNSET)
    {
        f = in->task_floor[in->task];
        tf = 1;
    }

    if (in->task_floor_hard && in->task < in->ntasks
        && in->task_floor_hard[in->task] != LLR_Q_UNSET)
    {
        h = in->task_floor_hard[in->task];

    } else if (tf && h < f) {
        /*
         * a task's floor above the policy's floor_hard: that task's hard
         * prompts need the task's floor too, not less than its easy ones
         */
        h = f;
    }

    /* required * 10^8 = f * 10^4 + d * 10^4 * (h - f), exact */
    out->required = (uint64_t) ((int64_t) f * LLR_Q_ONE
                                + (int64_t) out->difficulty
                                  * ((int64_t) h - (int64_t) f));

    e = in->expected ? in->expected : LLR_SELECT_EXPECTED;

    if (in->max_tokens >= 0 && (uint64_t) in->max_tokens < e) {
        e = (uint64_t) in->max_tokens;
    }

    out->expected = e;

    need = llr_add_sat(in->prompt_tokens,
                       in->max_tokens > 0 ? (uint64_t) in->max_tokens : 0);

    n = in->ncands < LLR_SELECT_MAX ? in->ncands : LLR_SELECT_MAX;
    nq = 0;
    nr = 0;

    for (i = 0; i < n; i++) {
        c = &in->cands[i];
        cost = llr_select_cost(c, in->prompt_tokens, e);

        if (cost > out->est_cost_max) {
            out->est_cost_max = cost;
        }

        if (!c->usable || c->context < need) {
            continue;
        }

        q = llr_select_quality(c, in->task, in->ntasks);

        if ((uint64_t) q * LLR_Q_ONE >= out->required) {
            qual[nq].idx = (unsigned) i;
            qual[nq].q = q;
            qual[nq].cost = cost;
            nq++;

        } else {
            rest[nr].idx = (unsigned) i;
            rest[nr].q = q;
            rest[nr].cost = cost;
            nr++;
        }
    }

    llr_sort(qual, nq, 1);
    llr_sort(rest, nr, 0);

    out->nqualified = (unsigned) nq;

    for (i = 0; i < nq; i++) {
        out->fallback[out->nfallback++] = qual[i].idx;
    }

    for (i = 0; i < nr; i++) {
        out->fallback[out->nfallback++] = rest[i].idx;
    }

    task = in->task_name ? in->task_name : "-";

    /* the reason line: what was asked, then what came of it */

    line.buf = reason;
    line.size = reason_size;
    line.len = 0;

    if (reason && reason_size) {
        llr_fmt_q(dd, sizeof(dd), out->difficulty, LLR_Q_ONE);
        llr_fmt_q(rq, sizeof(rq), out->required,
                  (uint64_t) LLR_Q_ONE * LLR_Q_ONE);

        llr_cat(&line, "task=");
        llr_cat(&line, task);
        llr_cat(&line, " difficulty=");
        llr_cat(&line, dd);
        llr_cat(&line, " required=");
        llr_cat(&line, rq);
    }

    if (out->nfallback == 0) {
        if (reason && reason_size) {
            llr_cat(&line, " no usable candidate fits ");
            llr_cat_uint(&line, need);
            llr_cat(&line, " tokens");
        }

        return -1;
    }

    out->chosen = (int) out->fallback[0];
    out->met_floor = nq > 0;
    out->est_cost = nq ? qual[0].cost : rest[0].cost;
    q = nq ? qual[0].q : rest[0].q;

    /* the chosen one is not a fallback of itself */
    out->nfallback--;
    memmove(out->fallback, out->fallback + 1,
            out->nfallback * sizeof(out->fallback[0]));

    if (reason && reason_size) {
        (void) llr_format_usd(cs, sizeof(cs), out->est_cost, 6);
        (void) llr_format_usd(ss, sizeof(ss),
                              out->est_cost_max - out->est_cost, 6);
        llr_fmt_q(qq, sizeof(qq), q, LLR_Q_ONE);

        llr_cat(&line, " chose=");
        llr_cat(&line, in->cands[out->chosen].name);

        if (nq) {
            llr_cat(&line, " (cheapest of ");
            llr_cat_uint(&line, nq);
            llr_cat(&line, " meeting ");
            llr_cat(&line, rq);

        } else {
            llr_cat(&line, " (none met ");
            llr_cat(&line, rq);
            llr_cat(&line, ", best quality ");
            llr_cat(&line, qq);
        }

        llr_cat(&line, ") est_cost=$");
        llr_cat(&line, cs);
        llr_cat(&line, " est_saving=$");
        llr_cat(&line, ss);
    }

    return 0;
}


/*
 * v / one with 4 decimals, rounded half up, trailing zeros dropped
 * down to 2 decimals: "0.75", "0.825", "0.7515" (no snprintf: it costs
 * more than the whole selection)
 */
static void
llr_fmt_q(char *buf, size_t size, uint64_t v, uint64_t one)
{
    char      tmp[32];
    size_t    n, len;
    uint64_t  r, units, frac;

    r = (v * 10000 + one / 2) / one;
    units = r / 10000;
    frac = r % 10000;

    n = 0;
    do {
        tmp[n++] = (char) ('0' + units % 10);
        units /= 10;
    } while (units);

    if (n + 6 > size) {
        buf[0] = '\0';
        return;
    }

    len = 0;
    while (n) {
        buf[len++] = tmp[--n];
    }

    buf[len++] = '.';
    buf[len++] = (char) ('0' + frac / 1000);
    buf[len++] = (char) ('0' + frac / 100 % 10);
    buf[len++] = (char) ('0' + frac / 10 % 10);
    buf[len++] = (char) ('0' + frac % 10);

    while (buf[len - 1] == '0' && buf[len - 3] != '.') {
        len--;
    }

    buf[len] = '\0';
}


/* appends s, cut to the room left (the line has size >= 1) */

static void
llr_cat(llr_line_t *l, const char *s)
{
    size_t  n;

    n = strlen(s);

    if (n > l->size - 1 - l->len) {
        n = l->size - 1 - l->len;
    }

    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->buf[l->len] = '\0';
}


static void
llr_cat_uint(llr_line_t *l, uint64_t v)
{
    char    tmp[24];
    size_t  n;

    n = sizeof(tmp) - 1;
    tmp[n] = '\0';

    do {
        tmp[--n] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    llr_cat(l, tmp + n);
}
