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


/* the reason line: written at p, never past end (room for the NUL) */
typedef struct {
    char    *p;
    char    *end;
} llr_line_t;


static void llr_sort(llr_rank_t *r, size_t n, int by_cost);
static inline void llr_put(llr_line_t *l, const char *s, size_t n)
    __attribute__((always_inline));
static void llr_put_str(llr_line_t *l, const char *s);
static void llr_put_uint(llr_line_t *l, uint64_t v);
static void llr_put_q(llr_line_t *l, uint64_t v, uint64_t one);
static void llr_put_usd(llr_line_t *l, uint64_t pusd);

#define llr_put_lit(l, s)  llr_put(l, s, sizeof(s) - 1)

/* two decimal digits: "00" to "99", at 2 * n */
static const char  llr_digits2[] =
    "0001020304050607080910111213141516171819"
    "2021222324252627282930313233343536373839"
    "4041424344454647484950515253545556575859"
    "6061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";


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


uint32_t
llr_select_threshold(uint32_t q, uint32_t f, uint32_t h)
{
    uint64_t  t;

    if (q < f) {
        return LLR_SELECT_NEVER;
    }

    if (h <= f || q >= h) {
        return LLR_Q_ONE;
    }

    /* the largest d with q * 10^4 >= f * 10^4 + d (h - f) */
    t = (uint64_t) (q - f) * LLR_Q_ONE / (h - f);

    return t < LLR_Q_ONE ? (uint32_t) t : LLR_Q_ONE;
}


void
llr_select_floors(const llr_select_in_t *in, uint32_t *floor,
    uint32_t *floor_hard)
{
    int       tf;
    uint32_t  f, h;

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

    *floor = f;
    *floor_hard = h;
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
    size_t             i, n, nq, nr, low;
    double             d;
    uint32_t           f, h, q, t;
    uint64_t           need, cost, e, lcost;
    llr_rank_t         qual[LLR_SELECT_MAX], rest[LLR_SELECT_MAX];
    llr_line_t         line;
    const llr_cand_t  *c;

    memset(out, 0, sizeof(llr_select_out_t));
    out->chosen = -1;

    d = in->difficulty;
    d = (d > 0.0) ? d : 0.0;            /* also maps NaN to 0 */
    d = (d < 1.0) ? d : 1.0;
    out->difficulty = (uint32_t) (d * LLR_Q_ONE + 0.5);

    llr_select_floors(in, &f, &h);

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

    /* the cheapest usable candidate that fits: its threshold decides */
    low = n;
    lcost = 0;

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

        if (low == n || cost < lcost) {
            low = i;
            lcost = cost;
        }

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

    /* the reason line: what was asked, then what came of it */

    line.p = NULL;
    line.end = NULL;

    if (reason && reason_size) {
        line.p = reason;
        line.end = reason + reason_size - 1;

        if (in->policy) {
            llr_put_lit(&line, "policy=");
            llr_put_str(&line, in->policy);
            llr_put_lit(&line, " ");
        }

        llr_put_lit(&line, "task=");
        llr_put_str(&line, in->task_name ? in->task_name : "-");
        llr_put_lit(&line, " difficulty=");
        llr_put_q(&line, out->difficulty, LLR_Q_ONE);
        llr_put_lit(&line, " required=");
        llr_put_q(&line, out->required, (uint64_t) LLR_Q_ONE * LLR_Q_ONE);
    }

    if (out->nfallback == 0) {
        if (reason && reason_size) {
            llr_put_lit(&line, " no usable candidate fits ");
            llr_put_uint(&line, need);
            llr_put_lit(&line, " tokens");
            *line.p = '\0';
            out->reason_len = (size_t) (line.p - reason);
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

    if (reason == NULL || reason_size == 0) {
        return 0;
    }

    llr_put_lit(&line, " chose=");
    llr_put_str(&line, in->cands[out->chosen].name);

    if (nq) {
        llr_put_lit(&line, " (cheapest of ");
        llr_put_uint(&line, nq);
        llr_put_lit(&line, " meeting ");

    } else {
        llr_put_lit(&line, " (none met ");
    }

    llr_put_q(&line, out->required, (uint64_t) LLR_Q_ONE * LLR_Q_ONE);

    if (!nq) {
        llr_put_lit(&line, ", best quality ");
        llr_put_q(&line, q, LLR_Q_ONE);
    }

    /* the threshold of the cheapest candidate that fits */

    if (n > 1) {
        t = llr_select_threshold(llr_select_quality(&in->cands[low],
                                                    in->task, in->ntasks),
                                 f, h);
        llr_put_lit(&line, "; ");
        llr_put_str(&line, in->cands[low].name);

        if (t == LLR_SELECT_NEVER) {
            llr_put_lit(&line, " never");

        } else if (t == LLR_Q_ONE) {
            llr_put_lit(&line, " always");

        } else {
            llr_put_lit(&line, " up to ");
            llr_put_q(&line, t, LLR_Q_ONE);
        }
    }

    llr_put_lit(&line, ") est_cost=$");
    llr_put_usd(&line, out->est_cost);
    llr_put_lit(&line, " est_saving=$");
    llr_put_usd(&line, out->est_cost_max - out->est_cost);

    *line.p = '\0';
    out->reason_len = (size_t) (line.p - reason);

    return 0;
}


/*
 * appends n bytes of s, cut to the room left (inlined: for a literal,
 * the copy that fits is a few moves)
 */

static inline void
llr_put(llr_line_t *l, const char *s, size_t n)
{
    size_t  room;

    room = (size_t) (l->end - l->p);

    if (n <= room) {
        memcpy(l->p, s, n);
        l->p += n;
        return;
    }

    memcpy(l->p, s, room);
    l->p += room;
}


static void
llr_put_str(llr_line_t *l, const char *s)
{
    char  *p, *end;

    /* names are short: a byte at a time, cut to the room */

    p = l->p;
    end = l->end;

    while (*s && p < end) {
        *p++ = *s++;
    }

    l->p = p;
}


static void
llr_put_uint(llr_line_t *l, uint64_t v)
{
    char    tmp[24];
    size_t  n;

    n = sizeof(tmp);

    do {
        tmp[--n] = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    llr_put(l, tmp + n, sizeof(tmp) - n);
}


/*
 * v / one with 4 decimals, rounded half up, trailing zeros dropped
 * down to 2 decimals: "0.75", "0.825", "0.7515" (no snprintf: it costs
 * more than the whole selection).  A value under 10 with room for it is
 * written in place, two decimals at a time; the rest through a buffer.
 */
static void
llr_put_q(llr_line_t *l, uint64_t v, uint64_t one)
{
    char      buf[32], *p;
    size_t    n, dot;
    uint32_t  hi, lo;
    uint64_t  r, frac;

    r = (v * 10000 + one / 2) / one;
    frac = r % 10000;

    if (r < 10 * 10000 && l->end - l->p >= 6) {
        p = l->p;
        hi = (uint32_t) frac / 100;
        lo = (uint32_t) frac % 100;

        p[0] = (char) ('0' + r / 10000);
        p[1] = '.';
        memcpy(p + 2, &llr_digits2[2 * hi], 2);

        if (lo == 0) {
            l->p = p + 4;
            return;
        }

        memcpy(p + 4, &llr_digits2[2 * lo], 2);
        l->p = p + 6 - (lo % 10 == 0);
        return;
    }

    n = 0;

    if (r < 10 * 10000) {
        buf[n++] = (char) ('0' + r / 10000);

    } else {
        llr_put_uint(l, r / 10000);
    }

    dot = n;
    buf[n++] = '.';
    buf[n++] = (char) ('0' + frac / 1000);
    buf[n++] = (char) ('0' + frac / 100 % 10);
    buf[n++] = (char) ('0' + frac / 10 % 10);
    buf[n++] = (char) ('0' + frac % 10);

    while (buf[n - 1] == '0' && n > dot + 3) {
        n--;
    }

    llr_put(l, buf, n);
}


/*
 * USD with 6 decimals, rounded half up, as llr_format_usd() writes it;
 * under $10 with room for it, in place, two decimals at a time
 */
static void
llr_put_usd(llr_line_t *l, uint64_t pusd)
{
    char      buf[8], *p;
    size_t    i;
    uint32_t  hi, lo;
    uint64_t  micro, frac;

    /* 1 micro-USD is 10^6 pUSD; no overflow near UINT64_MAX */
    micro = pusd / 1000000 + (pusd % 1000000 >= 500000);
    frac = micro % 1000000;

    if (micro < 10 * 1000000 && l->end - l->p >= 8) {
        p = l->p;
        hi = (uint32_t) frac / 10000;
        lo = (uint32_t) frac % 10000;

        p[0] = (char) ('0' + micro / 1000000);
        p[1] = '.';
        memcpy(p + 2, &llr_digits2[2 * hi], 2);
        memcpy(p + 4, &llr_digits2[2 * (lo / 100)], 2);
        memcpy(p + 6, &llr_digits2[2 * (lo % 100)], 2);
        l->p = p + 8;
        return;
    }

    if (micro < 10 * 1000000) {
        buf[0] = (char) ('0' + micro / 1000000);

    } else {
        llr_put_uint(l, micro / 1000000);
        buf[0] = '\0';
    }

    buf[1] = '.';
    for (i = 7; i > 1; i--) {
        buf[i] = (char) ('0' + frac % 10);
        frac /= 10;
    }

    if (buf[0]) {
        llr_put(l, buf, 8);

    } else {
        llr_put(l, buf + 1, 7);
    }
}
