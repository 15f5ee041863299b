
/*
 * ngx_llm_route_module: budgets and rate limits, the admission of a
 * request and its settlement.
 *
 * The directives are in limits_conf.c, the counts in the zone
 * (limits_shm.c), one node per directive and key.  Admission checks and
 * reserves in one step, with the slab mutex held, so concurrent requests
 * of every worker see each other's reservations.
 *
 * Budgets.  Admission: refused with 429 when spent + reserved >= limit,
 * otherwise the request's estimated cost is reserved.  Settlement (log
 * phase): the reservation is released and the actual cost charged to the
 * period in progress at that time.  The spent amounts are written to the
 * state file (the reservations are not: nothing is in flight after a
 * restart).
 *
 * Rate limits.  A sliding window (core/llr_limits.h): one request and
 * the estimated tokens are counted at admission, the tokens corrected to
 * the actual usage at settlement.
 *
 * A full zone.  When a node does not fit even after idle ones were
 * evicted, the request is refused with 503 ("limits_zone_full") and an
 * error is logged: a key that cannot be tracked is not let through
 * unlimited.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_limits.h"
#include "ngx_http_llm_route_limits_conf.h"
#include "ngx_http_llm_route_limits_shm.h"
#include "ngx_http_llm_route_reply.h"
#include "llr_cost.h"
#include "llr_limits.h"


/* a limit that applies to the request, and its key's node */
typedef struct {
    ngx_http_llm_route_limit_t       *limit;
    ngx_str_t                         key;
    ngx_http_llm_route_limit_node_t  *node;
} ngx_http_llm_route_limit_match_t;


/* per request: its hold, for the settlement */
struct ngx_http_llm_route_limits_req_s {
    ngx_slab_pool_t                  *shpool;
    ngx_http_llm_route_limits_sh_t   *lsh;
    ngx_http_llm_route_limit_hold_t  *hold;
    unsigned                          settled:1;
};


/* what the admission decided */
typedef struct {
    ngx_uint_t                        status;     /* 0: admitted */
    const char                       *type;
    const char                       *code;
    int64_t                           wait_ms;    /* -1: waiting is vain */
    time_t                            now;
    ngx_http_llm_route_limit_match_t *by;         /* the limit that refused */
    llr_ratelimit_t                   requests;   /* x-ratelimit-*-requests */
    llr_ratelimit_t                   tokens;     /* x-ratelimit-*-tokens */
} ngx_http_llm_route_verdict_t;


static ngx_int_t ngx_http_llm_route_limits_keys(ngx_http_request_t *r,
    ngx_http_llm_route_loc_conf_t *lcf, ngx_http_llm_route_limit_match_t *m,
    ngx_uint_t n);
static void ngx_http_llm_route_limits_reserve(
    ngx_http_llm_route_limits_req_t *st, ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_limit_match_t *m, ngx_uint_t n, ngx_uint_t first,
    int64_t now_ms, ngx_http_llm_route_verdict_t *v);
static ngx_uint_t ngx_http_llm_route_budget_reserve(
    ngx_http_llm_route_limit_hold_t *hold, ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_limit_match_t *m, ngx_uint_t again,
    ngx_http_llm_route_verdict_t *v);
static ngx_uint_t ngx_http_llm_route_rate_reserve(
    ngx_http_llm_route_limit_hold_t *hold, ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_limit_match_t *m, int64_t now_ms,
    ngx_http_llm_route_verdict_t *v);
static void ngx_http_llm_route_limits_undo(
    ngx_http_llm_route_limit_hold_t *hold);
static ngx_int_t ngx_http_llm_route_limits_refused(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_verdict_t *v);
static ngx_int_t ngx_http_llm_route_ratelimit_headers(ngx_http_request_t *r,
    llr_ratelimit_t *h, ngx_uint_t kind);
static ngx_int_t ngx_http_llm_route_limit_header(ngx_http_request_t *r,
    const char *name, u_char *value, size_t len);
static void ngx_http_llm_route_limits_release(
    ngx_http_llm_route_limits_req_t *st, uint64_t cost, uint64_t tokens);
static void ngx_http_llm_route_limits_cleanup(void *data);


/* ---- admission ---------------------------------------------------------- */


ngx_int_t
ngx_http_llm_route_limits_admit(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    int64_t                            now_ms;
    ngx_uint_t                         n, first;
    ngx_slab_pool_t                   *shpool;
    ngx_pool_cleanup_t                *cln;
    ngx_http_llm_route_shm_t          *sh;
    ngx_http_llm_route_loc_conf_t     *lcf;
    ngx_http_llm_route_main_conf_t    *mcf;
    ngx_http_llm_route_limits_req_t   *st;
    ngx_http_llm_route_limit_match_t  *m;
    ngx_http_llm_route_verdict_t       v;

    if (ctx->limits) {
        /* admitted once for the whole request, failovers included */
        return NGX_OK;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    n = (lcf->budgets ? lcf->budgets->nelts : 0)
        + (lcf->rates ? lcf->rates->nelts : 0);

    if (n == 0) {
        return NGX_OK;
    }

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL || sh->limits == NULL) {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);
    shpool = (ngx_slab_pool_t *) mcf->shm_zone->shm.addr;

    /* the keys, evaluated before the lock is taken */

    m = ngx_pcalloc(r->pool, n * sizeof(ngx_http_llm_route_limit_match_t));
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    first = ngx_http_llm_route_limits_keys(r, lcf, m, n);

    if (first == (ngx_uint_t) NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (first == n) {
        /* every key is empty: nothing limits this request */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: limits: every key empty");
        return NGX_OK;
    }

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_route_limits_req_t));
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->shpool = shpool;
    st->lsh = sh->limits;

    now_ms = (int64_t) ngx_http_llm_route_now_ms();

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_llm_route_limits_reserve(st, ctx, m, n, first, now_ms, &v);

    ngx_shmtx_unlock(&shpool->mutex);

    /* OpenAI's headers, on admitted requests and on 429s alike */

    if (ngx_http_llm_route_ratelimit_headers(r, &v.requests, 0) != NGX_OK
        || ngx_http_llm_route_ratelimit_headers(r, &v.tokens, 1) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (v.status) {
        return ngx_http_llm_route_limits_refused(r, ctx, &v);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_llm_route_limits_release(st, 0, 0);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_llm_route_limits_cleanup;
    cln->data = st;

    ctx->limits = st;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: limits: admitted on %ui count(s), "
                   "est %uL pUSD, %uL tokens",
                   st->hold->n, ctx->est.cost, ctx->est.tokens);

    return NGX_OK;
}


/*
 * The keys of the limits that apply (m[i]), cut to their largest size:
 * the first one that is not empty, n if none, NGX_ERROR
 */

static ngx_int_t
ngx_http_llm_route_limits_keys(ngx_http_request_t *r,
    ngx_http_llm_route_loc_conf_t *lcf, ngx_http_llm_route_limit_match_t *m,
    ngx_uint_t n)
{
    ngx_uint_t                   i, first, nbudgets;
    ngx_http_llm_route_limit_t  *budgets, *rates;

    budgets = lcf->budgets ? lcf->budgets->elts : NULL;
    rates = lcf->rates ? lcf->rates->elts : NULL;
    nbudgets = lcf->budgets ? lcf->budgets->nelts : 0;

    first = n;

    for (i = 0; i < n; i++) {
        m[i].limit = (i < nbudgets) ? &budgets[i] : &rates[i - nbudgets];

        if (ngx_http_complex_value(r, &m[i].limit->key, &m[i].key)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (m[i].key.len > NGX_HTTP_LLM_ROUTE_LIMIT_KEY_MAX) {
            m[i].key.len = llr_utf8_cut(m[i].key.data, m[i].key.len,
                                        NGX_HTTP_LLM_ROUTE_LIMIT_KEY_MAX);
        }

        if (m[i].key.len && first == n) {
            first = i;
        }
    }

    return first;
}


/*
 * With the mutex held: each limit's node, and the request reserved in
 * it, or nothing reserved at all.
 *
 * The hold first: whatever is reserved from here on is written in it,
 * so that what a worker killed at any point of the admission has
 * reserved can be recounted (ngx_http_llm_route_limits_recover()).  A
 * request whose reservations could not be recovered is not admitted: no
 * room for the hold is a full zone, as for a new key.
 */

static void
ngx_http_llm_route_limits_reserve(ngx_http_llm_route_limits_req_t *st,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_limit_match_t *m,
    ngx_uint_t n, ngx_uint_t first, int64_t now_ms,
    ngx_http_llm_route_verdict_t *v)
{
    ngx_uint_t                        i, j, refused;
    ngx_http_llm_route_limits_sh_t   *lsh;
    ngx_http_llm_route_limit_node_t  *ln;
    ngx_http_llm_route_limit_hold_t  *hold;

    ngx_memzero(v, sizeof(ngx_http_llm_route_verdict_t));
    v->wait_ms = -1;
    v->now = (time_t) (now_ms / 1000);

    lsh = st->lsh;

    hold = ngx_http_llm_route_limit_alloc(st->shpool, lsh,
                          offsetof(ngx_http_llm_route_limit_hold_t, entries)
                          + n * sizeof(ngx_http_llm_route_limit_entry_t),
                          now_ms);

    if (hold == NULL) {
        v->status = NGX_HTTP_SERVICE_UNAVAILABLE;
        v->by = &m[first];
        lsh->full++;
        return;
    }

    hold->pid = ngx_pid;
    hold->n = 0;
    hold->settled = 0;
    hold->admitted = 0;
    ngx_queue_insert_head(&lsh->holds, &hold->queue);

    st->hold = hold;
    refused = 0;

    for (i = 0; i < n && !refused; i++) {

        if (m[i].key.len == 0) {
            /* an empty key is not limited */
            continue;
        }

        ln = ngx_http_llm_route_limit_lookup(lsh, m[i].limit->ident,
                                             &m[i].key);

        if (ln == NULL) {
            ln = ngx_http_llm_route_limit_create(st->shpool, lsh,
                                                 m[i].limit->kind,
                                                 m[i].limit->ident,
                                                 &m[i].key, now_ms);
            if (ln == NULL) {
                v->status = NGX_HTTP_SERVICE_UNAVAILABLE;
                v->by = &m[i];
                lsh->full++;
                refused = 1;
                break;
            }

        } else {
            ngx_queue_remove(&ln->queue);
            ngx_queue_insert_head(&lsh->queue, &ln->queue);
        }

        m[i].node = ln;
        ln->last = v->now;

        /* the same node twice in one request: reserved once */

        for (j = 0; j < i; j++) {
            if (m[j].node == ln) {
                break;
            }
        }

        if (m[i].limit->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
            refused = ngx_http_llm_route_budget_reserve(hold, ctx, &m[i],
                                                        j < i, v);

        } else if (j == i) {
            /* the same rate directive again is counted once */
            refused = ngx_http_llm_route_rate_reserve(hold, ctx, &m[i],
                                                      now_ms, v);
        }
    }

    if (refused) {
        /* nothing of this request is kept */

        ngx_http_llm_route_limits_undo(hold);
        ngx_queue_remove(&hold->queue);
        ngx_slab_free_locked(st->shpool, hold);
        st->hold = NULL;

        return;
    }

    /* complete: a dead worker's successor charges it (recover) */

    ngx_memory_barrier();
    hold->admitted = 1;
}


/*
 * A budget: refused while spent + reserved >= limit, else the estimated
 * cost reserved; again: its node is reserved already for this request
 */

static ngx_uint_t
ngx_http_llm_route_budget_reserve(ngx_http_llm_route_limit_hold_t *hold,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_limit_match_t *m,
    ngx_uint_t again, ngx_http_llm_route_verdict_t *v)
{
    time_t                             reset;
    uint64_t                           reserved;
    ngx_http_llm_route_limit_node_t   *ln;
    ngx_http_llm_route_limit_entry_t  *e;

    ln = m->node;

    ln->period = (uint32_t) m->limit->period;
    ln->limit = m->limit->limit;

    ngx_http_llm_route_limit_period(ln, v->now);

    reserved = ln->reserved;

    if (again) {
        reserved -= ngx_min(reserved, ctx->est.cost);
    }

    if (!llr_budget_admit(ln->spent, reserved, ln->limit)) {
        ln->rejected++;

        reset = (time_t) llr_period_next((llr_period_e) ln->period,
                                         ln->period_start);

        v->status = NGX_HTTP_TOO_MANY_REQUESTS;
        v->type = "insufficient_quota";
        v->code = "budget_exceeded";
        v->wait_ms = reset ? (int64_t) (reset - v->now) * 1000 : -1;
        v->by = m;

        return 1;
    }

    if (again) {
        return 0;
    }

    e = &hold->entries[hold->n++];
    e->node = ln;
    e->est = ctx->est.cost;
    e->tpm = 0;

    ln->reserved = llr_add_sat(ln->reserved, ctx->est.cost);
    ln->inflight++;

    return 0;
}


/*
 * A rate limit: a request (rpm=) and the estimated tokens (tpm=) counted
 * in the sliding windows, or refused; the x-ratelimit-* headers note it
 */

static ngx_uint_t
ngx_http_llm_route_rate_reserve(ngx_http_llm_route_limit_hold_t *hold,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_limit_match_t *m,
    int64_t now_ms, ngx_http_llm_route_verdict_t *v)
{
    int64_t                            wait;
    ngx_http_llm_route_limit_node_t   *ln;
    ngx_http_llm_route_limit_entry_t  *e;

    ln = m->node;

    ln->rpm = m->limit->rpm;
    ln->tpm = m->limit->tpm;

    if (ln->rpm) {
        wait = llr_window_admit(&ln->req, now_ms, ln->rpm, 1);

        if (wait != 0) {
            v->status = NGX_HTTP_TOO_MANY_REQUESTS;
            v->type = "requests";
            v->wait_ms = wait;
        }
    }

    if (v->status == 0 && ln->tpm) {
        wait = llr_window_admit(&ln->tok, now_ms, ln->tpm, ctx->est.tokens);

        if (wait != 0) {
            if (ln->rpm) {
                /* undo the request just counted */
                ln->req.cur--;
            }

            v->status = NGX_HTTP_TOO_MANY_REQUESTS;
            v->type = "tokens";
            v->wait_ms = wait;
        }
    }

    /* the headers: the tightest of the limits that apply */

    if (ln->rpm) {
        llr_ratelimit_note(&v->requests, ln->rpm, &ln->req, now_ms);
    }

    if (ln->tpm) {
        llr_ratelimit_note(&v->tokens, ln->tpm, &ln->tok, now_ms);
    }

    if (v->status) {
        ln->rejected++;
        v->code = "rate_limit_exceeded";
        v->by = m;
        return 1;
    }

    e = &hold->entries[hold->n++];
    e->node = ln;
    e->tpm = 0;
    e->est = 0;

    if (ln->tpm) {
        e->tpm = 1;
        e->est = ctx->est.tokens;
        e->tok_start = ln->tok.start;
    }

    ln->inflight++;

    return 0;
}


/* with the mutex held: what a refused request reserved, given back */

static void
ngx_http_llm_route_limits_undo(ngx_http_llm_route_limit_hold_t *hold)
{
    ngx_uint_t                         j;
    ngx_http_llm_route_limit_node_t   *ln;
    ngx_http_llm_route_limit_entry_t  *e;

    for (j = 0; j < hold->n; j++) {
        e = &hold->entries[j];
        ln = e->node;

        ln->inflight--;

        if (ln->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
            ln->reserved -= ngx_min(ln->reserved, e->est);
            continue;
        }

        if (ln->rpm && ln->req.cur) {
            ln->req.cur--;
        }

        if (e->tpm && ln->tok.start == e->tok_start) {
            ln->tok.cur -= ngx_min(ln->tok.cur, e->est);
        }
    }
}


/*
 * The refusal, OpenAI's way: 429 with the message OpenAI writes for a
 * spent quota or a rate limit, Retry-After, and x-should-retry: false
 * where waiting is vain; 503 when the zone is full
 */

static ngx_int_t
ngx_http_llm_route_limits_refused(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_verdict_t *v)
{
    u_char                          *p, buf[64];
    size_t                           len;
    ngx_str_t                        msg, value, no;
    ngx_http_llm_route_limit_t      *l;
    ngx_http_llm_route_main_conf_t  *mcf;

    /* not routed, so nothing is accounted for it */

    ctx->routed = 0;

    l = v->by->limit;

    msg.len = 256 + v->by->key.len;
    msg.data = ngx_pnalloc(r->pool, msg.len);
    if (msg.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value = v->by->key;
    value.len = llr_utf8_cut(value.data, value.len, 64);

    if (v->status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm_route: llm_route_zone \"%V\" is too full to track "
                      "the key \"%V\" of \"%s\" in %V:%ui, request refused: "
                      "make the zone larger",
                      &mcf->shm_zone->shm.name, &value,
                      l->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET
                      ? "llm_route_budget" : "llm_route_rate",
                      &l->file, l->line);

        p = ngx_slprintf(msg.data, msg.data + msg.len,
                         "The router cannot track more budget or rate "
                         "limit keys right now; retry later.");
        v->type = "server_error";
        v->code = "limits_zone_full";
        v->wait_ms = 1000;

    } else if (l->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
        p = ngx_slprintf(msg.data, msg.data + msg.len,
                         "You exceeded your current quota: the %s budget "
                         "of ", llr_period_name(l->period));
        len = llr_format_usd_exact((char *) buf, sizeof(buf), l->limit, 2);
        p = ngx_slprintf(p, msg.data + msg.len, "$%*s for \"%V\" is spent",
                         len, buf, &value);

        if (v->wait_ms >= 0) {
            len = llr_format_iso8601((char *) buf, sizeof(buf),
                                     (int64_t) (v->now + v->wait_ms / 1000));
            p = ngx_slprintf(p, msg.data + msg.len, "; it resets at %*s.",
                             len, buf);

        } else {
            p = ngx_slprintf(p, msg.data + msg.len, " (it never resets).");
        }

    } else if (v->wait_ms < 0) {
        p = ngx_slprintf(msg.data, msg.data + msg.len,
                         "Request too large for \"%V\" on tokens per min "
                         "(TPM): Limit %uL, Requested %uL.",
                         &value, l->tpm, ctx->est.tokens);

    } else {
        p = ngx_slprintf(msg.data, msg.data + msg.len,
                         "Rate limit reached for \"%V\" on %s per min "
                         "(%s): Limit %uL. Please try again in %uLms.",
                         &value, v->type,
                         v->type[0] == 'r' ? "RPM" : "TPM",
                         v->type[0] == 'r' ? l->rpm : l->tpm,
                         (uint64_t) v->wait_ms);
    }

    msg.len = p - msg.data;

    /*
     * a spent budget, or a request larger than its tpm: retrying soon
     * cannot help.  SDKs that read this header (openai-node,
     * openai-python) raise at once instead of sleeping until the
     * Retry-After, which may be hours away (docs/budgets.md).
     */

    ngx_str_set(&no, "false");

    if (v->status == NGX_HTTP_TOO_MANY_REQUESTS
        && (l->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET || v->wait_ms < 0)
        && ngx_http_llm_route_add_header(r, "x-should-retry", &no) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (v->wait_ms >= 0) {
        /* whole seconds, rounded up */
        p = ngx_sprintf(buf, "%L", (v->wait_ms + 999) / 1000);

        if (ngx_http_llm_route_limit_header(r, "Retry-After", buf, p - buf)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "llm_route: %V", &msg);

    return ngx_http_llm_route_refuse(r, v->status, v->type, NULL, v->code,
                                     &msg);
}


/* x-ratelimit-{limit,remaining,reset}-{requests,tokens} (kind 0, 1) */

static ngx_int_t
ngx_http_llm_route_ratelimit_headers(ngx_http_request_t *r,
    llr_ratelimit_t *h, ngx_uint_t kind)
{
    u_char      *p, buf[64];
    size_t       len;
    ngx_int_t    rc;

    static const char  *names[2][3] = {
        { "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
          "x-ratelimit-reset-requests" },
        { "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
          "x-ratelimit-reset-tokens" }
    };

    if (!h->set) {
        return NGX_OK;
    }

    p = ngx_sprintf(buf, "%uL", h->limit);
    rc = ngx_http_llm_route_limit_header(r, names[kind][0], buf, p - buf);

    p = ngx_sprintf(buf, "%uL", h->remaining);
    rc |= ngx_http_llm_route_limit_header(r, names[kind][1], buf, p - buf);

    len = llr_format_duration((char *) buf, sizeof(buf), h->reset_ms);
    rc |= ngx_http_llm_route_limit_header(r, names[kind][2], buf, len);

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


/* a header whose value is copied into the request's pool */

static ngx_int_t
ngx_http_llm_route_limit_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_str_t  v;

    v.data = ngx_pnalloc(r->pool, len);
    if (v.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(v.data, value, len);
    v.len = len;

    return ngx_http_llm_route_add_header(r, name, &v);
}


/* ---- settlement --------------------------------------------------------- */


/* ---- settlement --------------------------------------------------------- */


void
ngx_http_llm_route_limits_settle(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    uint64_t                          cost, tokens;
    ngx_http_llm_route_limits_req_t  *st;

    st = ctx->limits;

    if (st == NULL || st->settled) {
        return;
    }

    if (ctx->exhausted || !ctx->accounted) {
        /* every attempt failed, or nothing was answered: nothing to pay */
        cost = 0;
        tokens = 0;

    } else {
        cost = ctx->acc.cost;
        tokens = llr_add_sat(ctx->acc.prompt_tokens,
                             ctx->acc.completion_tokens);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: limits: settled on %ui count(s), "
                   "%uL pUSD, %uL tokens",
                   st->hold ? st->hold->n : 0, cost, tokens);

    ngx_http_llm_route_limits_release(st, cost, tokens);
}


/* a request that ended without its log phase: its reservations go */

static void
ngx_http_llm_route_limits_cleanup(void *data)
{
    ngx_http_llm_route_limits_req_t  *st = data;

    if (!st->settled) {
        ngx_http_llm_route_limits_release(st, 0, 0);
    }
}


static void
ngx_http_llm_route_limits_release(ngx_http_llm_route_limits_req_t *st,
    uint64_t cost, uint64_t tokens)
{
    int64_t                            now_ms;
    ngx_uint_t                         i;
    ngx_http_llm_route_limit_node_t   *ln;
    ngx_http_llm_route_limit_hold_t   *hold;
    ngx_http_llm_route_limit_entry_t  *e;

    st->settled = 1;
    hold = st->hold;

    if (hold == NULL) {
        return;
    }

    now_ms = (int64_t) ngx_http_llm_route_now_ms();

    ngx_shmtx_lock(&st->shpool->mutex);

    for (i = 0; i < hold->n; i++) {
        e = &hold->entries[i];
        ln = e->node;

        if (ln->inflight) {
            ln->inflight--;
        }

        if (ln->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
            ln->reserved -= ngx_min(ln->reserved, e->est);

            /* charged to the period in progress now */
            ngx_http_llm_route_limit_period(ln, (time_t) (now_ms / 1000));
            ln->spent = llr_add_sat(ln->spent, cost);

        } else if (e->tpm) {
            llr_window_correct(&ln->tok, now_ms, e->tok_start, e->est,
                               tokens);
        }

        /* charged: not again by recover() if this worker dies now */
        ngx_memory_barrier();
        hold->settled = i + 1;
    }

    ngx_queue_remove(&hold->queue);
    ngx_slab_free_locked(st->shpool, hold);
    st->hold = NULL;

    ngx_shmtx_unlock(&st->shpool->mutex);
}
