
/*
 * ngx_llm_route_module: routing and selection.
 *
 * An explicit model: one of its deployments, by smooth weighted
 * round-robin (core/llr_balance) or, with llm_route_balance latency, the
 * one of lowest recent latency (health.c).  A policy: the cheapest
 * candidate whose quality for the classified task meets the floor for
 * its difficulty (core/llr_select, docs/selection.md).  Deployments
 * already tried for the request and providers cooling down are skipped;
 * when nothing else is left, the one whose cooldown ends first is taken,
 * as nginx never marks the last server of an upstream down either.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_select.h"
#include "ngx_http_llm_route_health.h"
#include "ngx_http_llm_route_models.h"
#include "ngx_http_llm_route_reply.h"


static ngx_uint_t ngx_http_llm_route_tried(ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_deployment_t *d);
static ngx_uint_t ngx_http_llm_route_deployment_usable(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_deployment_t *d);
static ngx_uint_t ngx_http_llm_route_model_usable(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_model_t *m);
static ngx_int_t ngx_http_llm_route_all_down(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_str_t *what);
static ngx_int_t ngx_http_llm_route_select(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static void ngx_http_llm_route_select_in(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, llr_cand_t *c, llr_select_in_t *in);
static ngx_uint_t ngx_http_llm_route_select_soonest(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, llr_cand_t *c);
static ngx_int_t ngx_http_llm_route_select_none(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, llr_select_in_t *in);


/* already tried for this request */

static ngx_uint_t
ngx_http_llm_route_tried(ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_deployment_t *d)
{
    ngx_uint_t  j;

    for (j = 0; j < ctx->ntried; j++) {
        if (ctx->tried[j] == d) {
            return 1;
        }
    }

    return 0;
}


/* not tried yet for this request, and its provider is not cooling down */

static ngx_uint_t
ngx_http_llm_route_deployment_usable(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_deployment_t *d)
{
    ngx_msec_t  left;

    if (ngx_http_llm_route_tried(ctx, d)) {
        return 0;
    }

    left = ngx_http_llm_route_provider_cooldown(r, d->provider);

    if (left) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: \"%V\" skipped: provider \"%V\" is "
                       "cooling down for %M ms",
                       &d->upstream_model, &d->provider->name, left);
        return 0;
    }

    return 1;
}


/*
 * When no deployment is usable: the one of m not tried yet whose
 * cooldown ends first.  nginx never marks the last server of an upstream
 * down either: one failure must not turn every client away until the
 * cooldown ends (docs/failover.md).  A provider under the Retry-After of
 * its 429 is not taken: it asked to be left alone that long.  *ms is the
 * cooldown left of the one returned; NULL if none can be taken.
 */

ngx_http_llm_route_deployment_t *
ngx_http_llm_route_soonest(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_model_t *m,
    ngx_msec_t *ms)
{
    ngx_msec_t                         left, best_ms;
    ngx_uint_t                         i;
    ngx_http_llm_route_deployment_t  **d, *best;

    d = m->deployments.elts;
    best = NULL;
    best_ms = 0;

    for (i = 0; i < m->deployments.nelts; i++) {

        if (ngx_http_llm_route_tried(ctx, d[i])
            || ngx_http_llm_route_provider_retry_after(r, d[i]->provider))
        {
            continue;
        }

        left = ngx_http_llm_route_provider_cooldown(r, d[i]->provider);

        if (best == NULL || left < best_ms) {
            best = d[i];
            best_ms = left;
        }
    }

    *ms = best_ms;

    if (best) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm_route: every deployment of \"%V\" left is "
                      "cooling down, trying provider \"%V\" whose "
                      "cooldown ends first (in %M ms)",
                      &m->name, &best->provider->name, *ms);
    }

    return best;
}


/*
 * Smooth weighted round-robin among a model's usable deployments (per
 * worker), or the lowest recent latency with llm_route_balance latency.
 * NULL when none is left.
 */

ngx_http_llm_route_deployment_t *
ngx_http_llm_route_pick_deployment(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_model_t *m)
{
    ngx_uint_t                         i, n;
    llr_swrr_peer_t                   *rr[64];
    ngx_http_llm_route_loc_conf_t     *lcf;
    ngx_http_llm_route_deployment_t  **d, *best, *usable[64];

    d = m->deployments.elts;
    n = 0;

    for (i = 0; i < m->deployments.nelts && n < 64; i++) {
        if (ngx_http_llm_route_deployment_usable(r, ctx, d[i])) {
            usable[n++] = d[i];
        }
    }

    if (n == 0) {
        return NULL;
    }

    if (n == 1) {
        return usable[0];
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    if (lcf->balance == NGX_HTTP_LLM_ROUTE_BALANCE_LATENCY) {
        best = ngx_http_llm_route_least_latency(r, usable, n);

        if (best) {
            return best;
        }

        /* some have no recent latency yet: round-robin to learn it */
    }

    for (i = 0; i < n; i++) {
        rr[i] = &usable[i]->rr;
    }

    return usable[llr_swrr_pick(rr, n)];
}


/* the model's context window (its first deployment's) holds the request */

ngx_uint_t
ngx_http_llm_route_fits(ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_model_t *m)
{
    uint64_t                           need;
    ngx_http_llm_route_deployment_t  **d;

    d = m->deployments.elts;

    need = llr_add_sat(llr_estimate_tokens(ctx->view.text_bytes),
                       ctx->view.max_tokens > 0
                       ? (uint64_t) ctx->view.max_tokens : 0);

    return d[0]->context == 0 || d[0]->context >= need;
}


/* can the model still be tried: one of its deployments is usable */

static ngx_uint_t
ngx_http_llm_route_model_usable(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_model_t *m)
{
    ngx_uint_t                         i;
    ngx_http_llm_route_deployment_t  **d;

    d = m->deployments.elts;

    for (i = 0; i < m->deployments.nelts; i++) {
        if (ngx_http_llm_route_deployment_usable(r, ctx, d[i])) {
            return 1;
        }
    }

    return 0;
}


/*
 * Every deployment that could serve is under the Retry-After of a 429
 * (the others would have been tried, see ngx_http_llm_route_soonest()):
 * 429, with the Retry-After that ends first, as the providers said.
 */

static ngx_int_t
ngx_http_llm_route_all_down(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_str_t *what)
{
    ngx_int_t                          rc;
    ngx_str_t                          msg;
    ngx_msec_t                         ms, min;
    ngx_uint_t                         i, j;
    ngx_http_llm_route_model_t       **cand, *m;
    ngx_http_llm_route_deployment_t  **d;

    /* the earliest end of a Retry-After */

    min = 0;

    for (i = 0; ; i++) {
        if (ctx->policy) {
            if (i == ctx->policy->candidates.nelts) {
                break;
            }

            cand = ctx->policy->candidates.elts;
            m = cand[i];

        } else {
            if (i == 1) {
                break;
            }

            m = ctx->model;
        }

        d = m->deployments.elts;

        for (j = 0; j < m->deployments.nelts; j++) {
            ms = ngx_http_llm_route_provider_retry_after(r, d[j]->provider);

            if (ms && (min == 0 || ms < min)) {
                min = ms;
            }
        }
    }

    if (min
        && ngx_http_llm_route_retry_header(r, (time_t) ((min + 999) / 1000))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg.len = sizeof("Every provider of \"\" asked to be retried later "
                     "(429 with Retry-After).") - 1 + ngx_min(what->len, 128);
    msg.data = ngx_pnalloc(r->pool, msg.len);
    if (msg.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg.len = ngx_sprintf(msg.data, "Every provider of \"%*s\" asked to be "
                          "retried later (429 with Retry-After).",
                          ngx_min(what->len, 128), what->data)
              - msg.data;

    rc = ngx_http_llm_route_refuse(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                       "requests", NULL,
                                       "rate_limit_exceeded", &msg);

    /* not one of the module's own limits: the providers are unavailable */
    ctx->rejected = LLR_REJECT_UNAVAILABLE;

    return rc;
}


/* Retry-After: seconds */

ngx_int_t
ngx_http_llm_route_retry_header(ngx_http_request_t *r, time_t sec)
{
    ngx_str_t  value;

    value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%T", sec) - value.data;

    return ngx_http_llm_route_add_header(r, "Retry-After", &value);
}


ngx_int_t
ngx_http_llm_route_choose(ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx)
{
    size_t                            len;
    u_char                           *p;
    ngx_str_t                         msg;
    ngx_msec_t                        ms;
    ngx_http_llm_route_model_t       *m;
    ngx_http_llm_route_main_conf_t   *mcf;
    ngx_http_llm_route_deployment_t  *d;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    if (ctx->target.len == 0) {
        ngx_str_set(&msg, "you must provide a model parameter");
        return ngx_http_llm_route_refuse(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request_error", "model",
                                             "missing_required_parameter",
                                             &msg);
    }

    m = ngx_http_llm_route_find_model(mcf, ctx->target.data,
                                      ctx->target.len);

    if (m == NULL) {
        ctx->policy = ngx_http_llm_route_find_policy(mcf, ctx->target.data,
                                                     ctx->target.len);
        if (ctx->policy == NULL) {
            return ngx_http_llm_route_not_found(r, ctx);
        }

        return ngx_http_llm_route_select(r, ctx);
    }

    ctx->model = m;

    d = ngx_http_llm_route_pick_deployment(r, ctx, m);

    if (d == NULL) {
        d = ngx_http_llm_route_soonest(r, ctx, m, &ms);

        if (d == NULL) {
            return ngx_http_llm_route_all_down(r, ctx, &m->name);
        }
    }

    ctx->deployment = d;
    ctx->routed = 1;

    /* the receipt: why this deployment */

    len = sizeof("explicit model ; deployment / (weight  of )") - 1
          + m->name.len + d->provider->name.len + d->upstream_model.len
          + 2 * NGX_INT_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->reason.data = p;

    /* "explicit model M; deployment P/U", then the weight if several */

    p = ngx_cpymem(p, "explicit model ", sizeof("explicit model ") - 1);
    p = ngx_cpymem(p, m->name.data, m->name.len);
    p = ngx_cpymem(p, "; deployment ", sizeof("; deployment ") - 1);
    p = ngx_cpymem(p, d->provider->name.data, d->provider->name.len);
    *p++ = '/';
    p = ngx_cpymem(p, d->upstream_model.data, d->upstream_model.len);

    if (m->deployments.nelts > 1) {
        p = ngx_sprintf(p, " (weight %uL of %ui)", d->rr.weight,
                        m->total_weight);
    }

    ctx->reason.len = p - ctx->reason.data;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: \"%V\" -> \"%V\" at provider \"%V\"",
                   &ctx->requested_model, &d->upstream_model,
                   &d->provider->name);

    return NGX_OK;
}


/*
 * A policy: the cheapest candidate whose quality for the classified task
 * meets the floor for this difficulty (core/llr_select.c, documented in
 * docs/selection.md).
 */

static ngx_int_t
ngx_http_llm_route_select(ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx)
{
    char                              reason[512];
    int                               rc;
    size_t                            len;
    ngx_uint_t                        i;
    ngx_msec_t                        ms;
    llr_cand_t                       *c;
    llr_select_in_t                   in;
    llr_select_out_t                  out;
    ngx_http_llm_route_model_t      **cand, *m;
    ngx_http_llm_route_policy_t      *p;
    ngx_http_llm_route_deployment_t  *d;

    p = ctx->policy;
    cand = p->candidates.elts;

    c = ngx_palloc(r->pool, p->candidates.nelts * sizeof(llr_cand_t));
    if (c == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_llm_route_select_in(r, ctx, c, &in);

    rc = llr_select(&in, &out, reason, sizeof(reason));

    if (rc != 0 && ngx_http_llm_route_select_soonest(r, ctx, c)) {
        rc = llr_select(&in, &out, reason, sizeof(reason));
    }

    if (rc != 0) {
        return ngx_http_llm_route_select_none(r, ctx, &in);
    }

    m = cand[out.chosen];
    d = ngx_http_llm_route_pick_deployment(r, ctx, m);

    if (d == NULL) {
        d = ngx_http_llm_route_soonest(r, ctx, m, &ms);

        if (d == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->model = m;
    ctx->deployment = d;
    ctx->routed = 1;

    ctx->nfallback = 0;
    ctx->fallback_next = 0;

    for (i = 0; i < out.nfallback; i++) {
        ctx->fallback[ctx->nfallback++] = (u_char) out.fallback[i];
    }

    len = out.reason_len;

    ctx->reason.data = ngx_pnalloc(r->pool, len);
    if (ctx->reason.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->reason.data, reason, len);
    ctx->reason.len = len;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: policy \"%V\" chose \"%V\": %V",
                   &p->name, &m->name, &ctx->reason);

    return NGX_OK;
}


/* what core/llr_select decides on: the candidates and the request */

static void
ngx_http_llm_route_select_in(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, llr_cand_t *c, llr_select_in_t *in)
{
    ngx_uint_t                        i;
    ngx_http_llm_route_model_t      **cand;
    ngx_http_llm_route_policy_t      *p;
    ngx_http_llm_route_deployment_t  *d, **dd;

    p = ctx->policy;
    cand = p->candidates.elts;

    /* a candidate model is described by its first deployment */

    for (i = 0; i < p->candidates.nelts; i++) {
        dd = cand[i]->deployments.elts;
        d = dd[0];

        c[i].name = (char *) cand[i]->name.data;
        c[i].quality = d->quality;
        c[i].task_quality = d->quality_task;
        c[i].input = d->price.input;
        c[i].output = d->price.output;
        c[i].context = d->context ? d->context : (uint64_t) -1;
        c[i].usable = ngx_http_llm_route_model_usable(r, ctx, cand[i]);
    }

    ngx_memzero(in, sizeof(llr_select_in_t));

    in->policy = (char *) p->name.data;
    in->task = ctx->classified ? ctx->task_index : 0;
    in->ntasks = NGX_HTTP_LLM_ROUTE_MAX_TASKS;
    in->task_name = ctx->task.len ? (char *) ctx->task.data : NULL;
    in->difficulty = ctx->difficulty < 0 ? 0 : ctx->difficulty;
    in->floor = p->floor;
    in->floor_hard = p->floor_hard;
    in->task_floor = p->floor_task;
    in->task_floor_hard = p->floor_hard_task;
    in->prompt_tokens = llr_estimate_tokens(ctx->view.text_bytes);
    in->max_tokens = ctx->view.max_tokens;
    in->expected = 0;
    in->cands = c;
    in->ncands = p->candidates.nelts;
}


/*
 * Nothing was selected: every candidate that fits is cooling down.  The
 * one whose cooldown ends first is made the only usable one, as for a
 * model's deployments; 0 if there is none.
 */

static ngx_uint_t
ngx_http_llm_route_select_soonest(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, llr_cand_t *c)
{
    ngx_uint_t                        i, k, n;
    ngx_msec_t                        ms, soon_ms;
    ngx_http_llm_route_model_t      **cand;
    ngx_http_llm_route_deployment_t  *d, *soon;

    cand = ctx->policy->candidates.elts;
    n = ctx->policy->candidates.nelts;

    soon = NULL;
    soon_ms = 0;
    k = 0;

    for (i = 0; i < n; i++) {
        if (!ngx_http_llm_route_fits(ctx, cand[i])) {
            continue;
        }

        d = ngx_http_llm_route_soonest(r, ctx, cand[i], &ms);

        if (d && (soon == NULL || ms < soon_ms)) {
            soon = d;
            soon_ms = ms;
            k = i;
        }
    }

    if (soon == NULL) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        c[i].usable = (i == k);
    }

    return 1;
}


/* still nothing: too long for every candidate, or all asked to wait */

static ngx_int_t
ngx_http_llm_route_select_none(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, llr_select_in_t *in)
{
    ngx_str_t          msg;
    ngx_uint_t         i;
    const llr_cand_t  *c;

    c = in->cands;

    for (i = 0; i < in->ncands; i++) {
        if (c[i].context >= in->prompt_tokens
                            + (in->max_tokens > 0 ? in->max_tokens : 0)
            && !c[i].usable)
        {
            /* one would fit, but it asked to wait (Retry-After) */
            return ngx_http_llm_route_all_down(r, ctx, &ctx->policy->name);
        }
    }

    ngx_str_set(&msg, "This model's maximum context length is smaller "
                      "than the request: no candidate of the policy "
                      "fits it.");

    return ngx_http_llm_route_refuse(r, NGX_HTTP_BAD_REQUEST,
                                     "invalid_request_error", "messages",
                                     "context_length_exceeded", &msg);
}
