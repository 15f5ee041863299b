/*
 * ngx_llm_route_module: calibration of a policy's floors (see
 * llr_calib.h and docs/selection.md).
 */

#include <stdio.h>
#include <string.h>

#include "llr_cost.h"
#include "llr_calib.h"


#define LLR_CALIB_ARGS   70          /* tokens of one statement */


/* the tokens of one statement, and where it was */
typedef struct {
    const char  *tok[LLR_CALIB_ARGS];
    size_t       len[LLR_CALIB_ARGS];
    size_t       n;
    size_t       line;
    int          end;              /* ';', '{' or '}' (n == 0) */
} llr_calib_stmt_t;


typedef struct {
    const char  *p;
    const char  *end;
    size_t       line;
    char        *buf;              /* unquoted copies */
    size_t       used;
    size_t       size;
} llr_calib_lex_t;


static int
llr_calib_fail(char *err, size_t errlen, size_t line, const char *what,
    const char *tok, size_t len)
{
    snprintf(err, errlen, "line %zu: %s%s%.*s%s", line, what,
             tok ? " \"" : "", tok ? (int) len : 0, tok ? tok : "",
             tok ? "\"" : "");
    return -1;
}


/*
 * The next statement: words up to ';' or '{' (or a '}' alone).
 * Returns 1, 0 at the end of the text, -1 on an error.
 */
static int
llr_calib_next(llr_calib_lex_t *lx, llr_calib_stmt_t *st, char *err,
    size_t errlen)
{
    char         q, *o;
    const char  *s;

    st->n = 0;
    st->end = 0;
    lx->used = 0;             /* quoted words live while their statement */

    for ( ;; ) {
        while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'
                                   || *lx->p == '\r' || *lx->p == '\n'))
        {
            lx->line += (*lx->p == '\n');
            lx->p++;
        }

        if (lx->p == lx->end) {
            if (st->n) {
                return llr_calib_fail(err, errlen, lx->line,
                                      "unexpected end of file after",
                                      st->tok[0], st->len[0]);
            }
            return 0;
        }

        if (st->n == 0) {
            st->line = lx->line;
        }

        if (*lx->p == '#') {
            while (lx->p < lx->end && *lx->p != '\n') {
                lx->p++;
            }
            continue;
        }

        if (*lx->p == ';' || *lx->p == '{' || *lx->p == '}') {
            if (*lx->p == '}' && st->n) {
                return llr_calib_fail(err, errlen, lx->line,
                                      "unexpected \"}\" after", st->tok[0],
                                      st->len[0]);
            }
            st->end = *lx->p++;
            return 1;
        }

        if (st->n == LLR_CALIB_ARGS) {
            return llr_calib_fail(err, errlen, lx->line,
                                  "too many words in", st->tok[0],
                                  st->len[0]);
        }

        if (*lx->p == '"' || *lx->p == '\'') {
            /* a quoted word, copied without its quotes and escapes */
            q = *lx->p++;
            o = lx->buf + lx->used;
            s = o;

            while (lx->p < lx->end && *lx->p != q) {
                if (*lx->p == '\\' && lx->p + 1 < lx->end) {
                    lx->p++;
                }
                lx->line += (*lx->p == '\n');
                if (lx->used == lx->size) {
                    return llr_calib_fail(err, errlen, lx->line,
                                          "file too large", NULL, 0);
                }
                *o++ = *lx->p++;
                lx->used++;
            }

            if (lx->p == lx->end) {
                return llr_calib_fail(err, errlen, lx->line,
                                      "unterminated quote", NULL, 0);
            }

            lx->p++;
            st->tok[st->n] = s;
            st->len[st->n] = (size_t) (o - s);
            st->n++;
            continue;
        }

        s = lx->p;
        while (lx->p < lx->end && *lx->p != ' ' && *lx->p != '\t'
               && *lx->p != '\r' && *lx->p != '\n' && *lx->p != ';'
               && *lx->p != '{' && *lx->p != '}')
        {
            lx->p++;
        }

        st->tok[st->n] = s;
        st->len[st->n] = (size_t) (lx->p - s);
        st->n++;
    }
}


static int
llr_calib_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(tok, word, len) == 0;
}


/* the index of a task name, -1 if none */
static int
llr_calib_task(const char *const *tasks, size_t ntasks, const char *s,
    size_t len)
{
    size_t  t;

    for (t = 0; t < ntasks; t++) {
        if (llr_calib_is(s, len, tasks[t])) {
            return (int) t;
        }
    }

    return -1;
}


static int
llr_calib_name(char *dst, const char *s, size_t len)
{
    if (len == 0 || len >= LLR_CALIB_NAME) {
        return -1;
    }

    memcpy(dst, s, len);
    dst[len] = '\0';

    return 0;
}


static int
llr_calib_quality(const char *s, size_t len, uint32_t *q)
{
    uint64_t     v;
    const char  *e;

    if (llr_parse_decimal(s, len, 4, LLR_Q_ONE, &v, &e) != 0) {
        return -1;
    }

    *q = (uint32_t) v;
    return 0;
}


/* llm_route_model NAME key=value ...; the first one of a name counts */
static int
llr_calib_model(llr_calib_conf_t *c, llr_calib_stmt_t *st,
    const char *const *tasks, size_t ntasks, char *err, size_t errlen)
{
    int                 t;
    size_t              i, k, klen;
    uint64_t            v;
    const char         *eq, *e;
    llr_calib_model_t   m, *x;

    memset(&m, 0, sizeof(llr_calib_model_t));

    if (st->n < 2 || llr_calib_name(m.name, st->tok[1], st->len[1]) != 0) {
        return llr_calib_fail(err, errlen, st->line,
                              "llm_route_model needs a name (at most 63 "
                              "bytes)", NULL, 0);
    }

    for (t = 0; t < LLR_CALIB_TASKS; t++) {
        m.task_quality[t] = LLR_Q_UNSET;
    }

    for (i = 2; i < st->n; i++) {
        eq = memchr(st->tok[i], '=', st->len[i]);
        if (eq == NULL) {
            return llr_calib_fail(err, errlen, st->line,
                                  "not key=value in llm_route_model:",
                                  st->tok[i], st->len[i]);
        }

        klen = (size_t) (eq - st->tok[i]);
        k = st->len[i] - klen - 1;
        eq++;

        if (llr_calib_is(st->tok[i], klen, "quality")) {
            if (llr_calib_quality(eq, k, &m.quality) != 0) {
                goto bad;
            }

        } else if (klen > 8 && memcmp(st->tok[i], "quality_", 8) == 0) {
            t = llr_calib_task(tasks, ntasks, st->tok[i] + 8, klen - 8);
            if (t < 0 || t >= LLR_CALIB_TASKS) {
                return llr_calib_fail(err, errlen, st->line,
                                      "unknown task in", st->tok[i],
                                      st->len[i]);
            }
            if (llr_calib_quality(eq, k, &m.task_quality[t]) != 0) {
                goto bad;
            }

        } else if (llr_calib_is(st->tok[i], klen, "input")) {
            if (llr_parse_price(eq, k, &m.input, &e) != 0) {
                goto bad;
            }

        } else if (llr_calib_is(st->tok[i], klen, "output")) {
            if (llr_parse_price(eq, k, &m.output, &e) != 0) {
                goto bad;
            }

        } else if (llr_calib_is(st->tok[i], klen, "context")) {
            if (llr_parse_uint(eq, k, UINT64_MAX, &v, &e) != 0) {
                goto bad;
            }
            m.context = v;
        }

        /* provider=, upstream_model=, weight=, ...: not needed here */
        continue;

    bad:

        return llr_calib_fail(err, errlen, st->line, "invalid value:",
                              st->tok[i], st->len[i]);
    }

    for (i = 0; i < c->nmodels; i++) {
        if (strcmp(c->model[i].name, m.name) == 0) {
            /* another deployment: the module describes by the first */
            return 0;
        }
    }

    if (c->nmodels == LLR_CALIB_MODELS) {
        return llr_calib_fail(err, errlen, st->line, "too many models",
                              NULL, 0);
    }

    x = &c->model[c->nmodels++];
    *x = m;

    return 0;
}


/* a statement inside llm_route_policy NAME { ... } */
static int
llr_calib_policy_stmt(llr_calib_conf_t *c, llr_calib_policy_t *p,
    llr_calib_stmt_t *st, const char *const *tasks, size_t ntasks,
    char *err, size_t errlen)
{
    int        t, hard;
    size_t     i, k;
    uint32_t   q;

    if (llr_calib_is(st->tok[0], st->len[0], "candidates")) {
        for (i = 1; i < st->n; i++) {
            for (k = 0; k < c->nmodels; k++) {
                if (llr_calib_is(st->tok[i], st->len[i], c->model[k].name))
                {
                    break;
                }
            }

            if (k == c->nmodels) {
                return llr_calib_fail(err, errlen, st->line,
                                      "candidate is not an llm_route_model "
                                      "(models must come first):",
                                      st->tok[i], st->len[i]);
            }

            if (p->ncands == LLR_SELECT_MAX) {
                return llr_calib_fail(err, errlen, st->line,
                                      "too many candidates", NULL, 0);
            }

            p->cand[p->ncands++] = (uint16_t) k;
        }

        return 0;
    }

    if (st->len[0] < 5 || memcmp(st->tok[0], "floor", 5) != 0
        || st->n != 2)
    {
        return llr_calib_fail(err, errlen, st->line,
                              "unknown statement in llm_route_policy:",
                              st->tok[0], st->len[0]);
    }

    if (llr_calib_quality(st->tok[1], st->len[1], &q) != 0) {
        return llr_calib_fail(err, errlen, st->line, "invalid floor",
                              st->tok[1], st->len[1]);
    }

    if (llr_calib_is(st->tok[0], st->len[0], "floor")) {
        p->floor = q;
        return 0;
    }

    if (llr_calib_is(st->tok[0], st->len[0], "floor_hard")) {
        p->floor_hard = q;
        return 0;
    }

    hard = (st->len[0] > 11 && memcmp(st->tok[0], "floor_hard_", 11) == 0);
    k = hard ? 11 : 6;

    t = (st->len[0] > k && st->tok[0][5] == '_')
        ? llr_calib_task(tasks, ntasks, st->tok[0] + k, st->len[0] - k)
        : -1;

    if (t < 0 || t >= LLR_CALIB_TASKS) {
        return llr_calib_fail(err, errlen, st->line,
                              "unknown task in", st->tok[0], st->len[0]);
    }

    if (hard) {
        p->task_floor_hard[t] = q;

    } else {
        p->task_floor[t] = q;
    }

    return 0;
}


int
llr_calib_conf(llr_calib_conf_t *c, const char *text, size_t len,
    const char *const *tasks, size_t ntasks, char *err, size_t errlen)
{
    int                  rc, depth, pdepth, t;
    char                 buf[16384];
    llr_calib_lex_t      lx;
    llr_calib_stmt_t     st;
    llr_calib_policy_t  *p;

    lx.p = text;
    lx.end = text + len;
    lx.line = 1;
    lx.buf = buf;
    lx.used = 0;
    lx.size = sizeof(buf);

    depth = 0;
    pdepth = -1;            /* the depth inside a policy block */
    p = NULL;

    while ((rc = llr_calib_next(&lx, &st, err, errlen)) == 1) {

        if (st.end == '}') {
            if (depth == 0) {
                return llr_calib_fail(err, errlen, st.line,
                                      "unexpected \"}\"", NULL, 0);
            }

            if (depth == pdepth) {
                if (p->floor_hard == LLR_Q_UNSET) {
                    p->floor_hard = p->floor;
                }
                pdepth = -1;
                p = NULL;
            }

            depth--;
            continue;
        }

        if (st.n == 0) {
            if (st.end == '{') {
                if (depth == pdepth) {
                    return llr_calib_fail(err, errlen, st.line,
                                          "a block inside llm_route_policy",
                                          NULL, 0);
                }

                depth++;
            }
            continue;
        }

        if (pdepth >= 0 && depth == pdepth) {
            if (st.end != ';') {
                return llr_calib_fail(err, errlen, st.line,
                                      "a block inside llm_route_policy:",
                                      st.tok[0], st.len[0]);
            }

            if (llr_calib_policy_stmt(c, p, &st, tasks, ntasks, err,
                                      errlen)
                != 0)
            {
                return -1;
            }

            continue;
        }

        if (llr_calib_is(st.tok[0], st.len[0], "llm_route_model")) {
            if (st.end != ';') {
                return llr_calib_fail(err, errlen, st.line,
                                      "llm_route_model is not a block",
                                      NULL, 0);
            }

            if (llr_calib_model(c, &st, tasks, ntasks, err, errlen) != 0) {
                return -1;
            }

            continue;
        }

        if (llr_calib_is(st.tok[0], st.len[0], "llm_route_policy")) {
            if (st.end != '{' || st.n != 2) {
                return llr_calib_fail(err, errlen, st.line,
                                      "llm_route_policy needs NAME { ... }",
                                      NULL, 0);
            }

            if (c->npolicies == LLR_CALIB_POLICIES) {
                return llr_calib_fail(err, errlen, st.line,
                                      "too many policies", NULL, 0);
            }

            p = &c->policy[c->npolicies++];
            memset(p, 0, sizeof(llr_calib_policy_t));

            if (llr_calib_name(p->name, st.tok[1], st.len[1]) != 0) {
                return llr_calib_fail(err, errlen, st.line,
                                      "policy name too long", NULL, 0);
            }

            p->floor_hard = LLR_Q_UNSET;
            for (t = 0; t < LLR_CALIB_TASKS; t++) {
                p->task_floor[t] = LLR_Q_UNSET;
                p->task_floor_hard[t] = LLR_Q_UNSET;
            }

            depth++;
            pdepth = depth;
            continue;
        }

        if (st.end == '{') {
            depth++;
        }
    }

    if (rc < 0) {
        return -1;
    }

    if (depth != 0) {
        return llr_calib_fail(err, errlen, lx.line, "unclosed block", NULL,
                              0);
    }

    return 0;
}


llr_calib_policy_t *
llr_calib_find_policy(llr_calib_conf_t *c, const char *name)
{
    size_t  i;

    for (i = 0; i < c->npolicies; i++) {
        if (strcmp(c->policy[i].name, name) == 0) {
            return &c->policy[i];
        }
    }

    return NULL;
}


void
llr_calib_route(const llr_calib_conf_t *c, const llr_calib_policy_t *p,
    uint32_t f, uint32_t h, const llr_calib_sample_t *s, size_t n,
    size_t ntasks, size_t *count, size_t *tcount)
{
    size_t              i, k, row;
    llr_cand_t          cand[LLR_SELECT_MAX];
    llr_select_in_t     in;
    llr_select_out_t    out;
    const llr_calib_model_t  *m;

    for (k = 0; k < p->ncands; k++) {
        m = &c->model[p->cand[k]];
        cand[k].name = m->name;
        cand[k].quality = m->quality;
        cand[k].task_quality = m->task_quality;
        cand[k].input = m->input;
        cand[k].output = m->output;
        cand[k].context = m->context ? m->context : UINT64_MAX;
        cand[k].usable = 1;
        count[k] = 0;
    }

    if (tcount) {
        memset(tcount, 0, (LLR_CALIB_TASKS + 1) * p->ncands
                          * sizeof(size_t));
    }

    memset(&in, 0, sizeof(in));
    in.ntasks = (unsigned) (ntasks < LLR_CALIB_TASKS ? ntasks
                                                     : LLR_CALIB_TASKS);
    in.floor = f;
    in.floor_hard = h;
    in.task_floor = p->task_floor;
    in.task_floor_hard = p->task_floor_hard;
    in.cands = cand;
    in.ncands = p->ncands;

    for (i = 0; i < n; i++) {
        in.task = s[i].task;
        in.difficulty = s[i].difficulty / (double) LLR_Q_ONE;
        in.prompt_tokens = s[i].prompt_tokens;
        in.max_tokens = s[i].max_tokens;

        if (llr_select(&in, &out, NULL, 0) != 0) {
            continue;
        }

        count[out.chosen]++;

        if (tcount) {
            row = s[i].task < in.ntasks ? s[i].task : LLR_CALIB_TASKS;
            tcount[row * p->ncands + (size_t) out.chosen]++;
        }
    }
}


static double
llr_calib_error(const llr_calib_conf_t *c, const llr_calib_policy_t *p,
    const llr_calib_sample_t *s, size_t n, size_t ntasks,
    const double *target, uint32_t f, uint32_t h)
{
    size_t  k, count[LLR_SELECT_MAX];
    double  e, d;

    llr_calib_route(c, p, f, h, s, n, ntasks, count, NULL);

    e = 0;
    for (k = 0; k < p->ncands; k++) {
        if (target[k] >= 0) {
            d = (n ? (double) count[k] / n : 0) - target[k];
            e += d * d;
        }
    }

    return e;
}


double
llr_calib_search(const llr_calib_conf_t *c, const llr_calib_policy_t *p,
    const llr_calib_sample_t *s, size_t n, size_t ntasks,
    const double *target, int fix_h, uint32_t *f, uint32_t *h)
{
    int       pass;
    double    e, best;
    uint32_t  x, y, lo, hi, ylo, yhi, step, bf, bh, first, last;

    best = 2.0 * LLR_SELECT_MAX;
    bf = 0;
    bh = fix_h ? *h : LLR_Q_ONE;

    if (fix_h) {
        /*
         * f in [0, h] in steps of 0.01; then in steps of 0.0001 around
         * the first best step (a better floor may lie between steps);
         * then the best range is widened to 0.0001 at both ends.  The
         * shares move monotonically with f, so the range is one piece.
         */
        first = last = 0;

        for (x = 0; x <= bh; x += 100) {
            e = llr_calib_error(c, p, s, n, ntasks, target, x, bh);
            if (e < best) {
                best = e;
                first = last = x;

            } else if (e == best && x == last + 100) {
                last = x;
            }
        }

        lo = first > 100 ? first - 100 : 0;
        hi = first + 100 < bh ? first + 100 : bh;

        for (x = lo; x <= hi; x++) {
            e = llr_calib_error(c, p, s, n, ntasks, target, x, bh);
            if (e < best) {
                best = e;
                first = last = x;
            }
        }

        /* the ends: at most a step beyond the best steps */
        while (first > 0
               && llr_calib_error(c, p, s, n, ntasks, target, first - 1, bh)
                  == best)
        {
            first--;
        }

        while (last < bh
               && llr_calib_error(c, p, s, n, ntasks, target, last + 1, bh)
                  == best)
        {
            last++;
        }

        /* the middle of the best range: the same shares, most margin */
        *f = first + (last - first) / 2;
        return best;
    }

    /* f <= h, both: steps of 0.02, then 0.002, then 0.0002 */
    lo = 0;
    hi = LLR_Q_ONE;
    ylo = 0;
    yhi = LLR_Q_ONE;
    step = 200;

    for (pass = 0; pass < 3; pass++) {
        for (x = lo; x <= hi; x += step) {
            for (y = x > ylo ? x : ylo; y <= yhi; y += step) {
                e = llr_calib_error(c, p, s, n, ntasks, target, x, y);
                if (e < best) {
                    best = e;
                    bf = x;
                    bh = y;
                }
            }
        }

        lo = bf > step ? bf - step : 0;
        hi = bf + step < LLR_Q_ONE ? bf + step : LLR_Q_ONE;
        ylo = bh > step ? bh - step : 0;
        yhi = bh + step < LLR_Q_ONE ? bh + step : LLR_Q_ONE;
        step /= 10;
    }

    *f = bf;
    *h = bh;

    return best;
}
