
/*
 * ngx_llm_route_module: the accounting of a finished request, in the
 * log phase.
 *
 * Once per request: from this module's log handler (the first of the
 * log phase, before access_log's), or from the first of the token and
 * cost variables evaluated once the response is complete.  The tokens
 * and the cost are core's (core/llr_account.h); the zone counts them,
 * the budgets are settled, the deployment's latency noted.  A failed
 * attempt before a failover counts for its model and provider only; a
 * request the module refused counts for its reason.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_account.h"
#include "ngx_http_llm_route_health.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_limits.h"
#include "ngx_http_llm_route_metrics.h"
#include "ngx_http_llm_route_series.h"
#include "ngx_http_llm_route_shm.h"
#include "ngx_http_llm_route_signal.h"
#include "ngx_http_llm_route_quality.h"
#include "ngx_http_llm_route_feedback.h"
#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_drift.h"


static void ngx_http_llm_route_log_exhausted(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_main_conf_t *mcf, ngx_msec_int_t ms);
static void ngx_http_llm_route_count_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_msec_t latency_ms);


/*
 * Accounting, once per request: from this module's log handler (the
 * first of the log phase), or from the first $llm_route_prompt_tokens
 * (and friends) evaluated once the response is complete.
 */

void
ngx_http_llm_route_account(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    llr_attempt_t                     a;
    ngx_http_llm_route_deployment_t  *d;

    if (ctx->accounted || !ctx->routed) {
        return;
    }

    ctx->accounted = 1;

    d = ctx->deployment;

    ngx_memzero(&a, sizeof(llr_attempt_t));

    a.status = r->headers_out.status;

    if (r->upstream && r->upstream->state && r->upstream->state->status) {
        a.status = r->upstream->state->status;
    }

    a.mode = ctx->resp_mode;

    if (ctx->resp_mode == LLR_RESP_JSON) {
        a.res = &ctx->watch.json->res;

    } else if (ctx->resp_mode == LLR_RESP_SSE) {
        a.res = &ctx->watch.sse->res;
        a.ended = ngx_http_llm_route_stream_ended(ctx);
    }

    a.done = ctx->resp_done;
    a.client_gone = ngx_http_llm_route_client_gone(r);
    a.embeddings = (ctx->endpoint == LLR_API_EMBEDDINGS);
    a.count_only = (ctx->endpoint == LLR_API_COUNT_TOKENS);
    a.text_bytes = ctx->view.text_bytes;
    a.reserved_tokens = ctx->est.tokens;
    a.price = &d->price;

    if (ctx->policy) {
        a.prices = ctx->policy->prices;
        a.nprices = ctx->policy->candidates.nelts;
    }

    llr_account(&a, &ctx->acc);

    ngx_log_debug6(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: settled: status %ui, charge %d, %uL + %uL "
                   "tokens, %uL pUSD, failed %d",
                   (ngx_uint_t) a.status, ctx->acc.charge,
                   ctx->acc.prompt_tokens, ctx->acc.completion_tokens,
                   ctx->acc.cost, (int) ctx->acc.failed);
}


/*
 * A failed attempt before a failover: counted as a request and an error
 * of its model and provider (those count attempts); the client's request
 * is counted once, in the log phase.  count_tokens is no request of
 * these series (ngx_http_llm_route_log_handler()).
 */

void
ngx_http_llm_route_attempt_failed(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_uint_t status)
{
    ngx_http_llm_route_shm_t   *sh;
    ngx_http_llm_route_slot_t  *s;

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL || ctx->endpoint == LLR_API_COUNT_TOKENS) {
        return;
    }

    s = ngx_http_llm_route_zone_slot(sh, ctx->model->slot);

    if (s) {
        ngx_http_llm_route_counter_add(&s->c.requests, 1);
        ngx_http_llm_route_counter_add(&s->c.errors, 1);
    }

    s = ngx_http_llm_route_zone_slot(sh, ctx->deployment->provider->slot);

    if (s) {
        ngx_http_llm_route_counter_add(&s->c.requests, 1);
        ngx_http_llm_route_counter_add(&s->c.errors, 1);
    }

    s = ngx_http_llm_route_zone_slot(sh, ctx->deployment->slot);

    if (s) {
        ngx_http_llm_route_counter_add(&s->c.requests, 1);
        ngx_http_llm_route_counter_add(&s->c.errors, 1);
    }
}


/* a failed attempt at deployment d is retried at another one */

void
ngx_http_llm_route_attempt_retried(ngx_http_request_t *r,
    ngx_http_llm_route_deployment_t *d)
{
    ngx_http_llm_route_shm_t   *sh;
    ngx_http_llm_route_slot_t  *s;

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL) {
        return;
    }

    ngx_http_llm_route_counter_add(&sh->totals.failovers, 1);

    s = ngx_http_llm_route_zone_slot(sh, d->slot);

    if (s) {
        ngx_http_llm_route_counter_add(&s->c.failovers, 1);
    }
}


ngx_int_t
ngx_http_llm_route_log_handler(ngx_http_request_t *r)
{
    ngx_msec_int_t                   ms;
    ngx_http_llm_route_ctx_t        *ctx;
    ngx_http_llm_route_shm_t        *sh;
    ngx_http_llm_route_record_t      rec;
    ngx_http_llm_route_main_conf_t  *mcf;

    /*
     * a subrequest (mirror, auth_request) logged with log_subrequest
     * shares the main request's context: only the main request settles
     */

    if (r != r->main) {
        return NGX_OK;
    }

    ctx = ngx_http_llm_route_get_ctx(r);

    if (ctx) {
        ngx_http_llm_route_inflight_end(r, ctx);
    }

    if (ctx && ctx->rejected && !ctx->routed && !ctx->exhausted) {
        ngx_http_llm_route_count_rejected(r, ctx,
                               (ngx_msec_t) ngx_http_llm_route_elapsed(r));
        return NGX_OK;
    }

    if (ctx == NULL || (!ctx->routed && !ctx->exhausted)) {
        return NGX_OK;
    }

    sh = ngx_http_llm_route_shm(r);

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    ms = ngx_http_llm_route_elapsed(r);

    if (ctx->exhausted) {
        /* every attempt failed: the request counts, as an error */
        ngx_http_llm_route_log_exhausted(r, ctx, sh, mcf, ms);
        return NGX_OK;
    }

    ngx_memzero(&rec, sizeof(ngx_http_llm_route_record_t));
    rec.pair_slot = -1;

    ngx_http_llm_route_account(r, ctx);
    ngx_http_llm_route_limits_settle(r, ctx);

    if (ctx->endpoint == LLR_API_COUNT_TOKENS) {
        /*
         * not inference: no tokens, no cost, milliseconds; counted, it
         * would double the requests of a client that counts before each
         * message and halve its model's latency, and draw the latency
         * balance to the deployment that counted.  Its limits are
         * settled above; the router's estimate of it is not counted
         * either (format.c).
         */

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: count_tokens: not counted as a request");
        return NGX_OK;
    }

    if (sh == NULL) {
        return NGX_OK;
    }

    rec.model_slot = ctx->model->slot;
    rec.provider_slot = ctx->deployment->provider->slot;
    rec.deployment_slot = ctx->deployment->slot;
    rec.task_slot = mcf->task_slots[ctx->task_index];
    rec.pair_slot = ngx_http_llm_route_pair_slot(mcf, ctx->model,
                                                 ctx->task_index);
    rec.answered = (ngx_http_llm_route_signal_end(r, ctx, &rec.signals)
                    == NGX_OK);

    /* a client that went away is 499, before the answer or in the middle */
    rec.status = ngx_http_llm_route_client_gone(r)
                 ? NGX_HTTP_CLIENT_CLOSED_REQUEST : r->headers_out.status;
    rec.prompt_tokens = ctx->acc.prompt_tokens;
    rec.completion_tokens = ctx->acc.completion_tokens;
    rec.cached_tokens = ctx->acc.cached_tokens;
    rec.cache_write_tokens = ctx->acc.cache_write_tokens;
    rec.reasoning_tokens = ctx->acc.reasoning_tokens;
    rec.cost_pusd = ctx->acc.cost;
    rec.saved_pusd = ctx->acc.saved;
    rec.latency_ms = (ngx_msec_t) ngx_max(ms, 0);
    rec.ttft_ms = ctx->ttft_ms;
    rec.tpot_us = (ctx->acc.failed || ctx->acc.estimated) ? -1
                  : llr_tpot_us(rec.latency_ms, ctx->ttft_ms,
                                rec.completion_tokens, ctx->stream);
    rec.overhead_us = (ctx->own_ns + 500) / 1000;
    rec.failover = ctx->ntried ? 1 + ctx->acc.failed : 0;
    rec.difficulty = ctx->difficulty;
    rec.requested = ctx->requested_model;
    rec.model = ctx->deployment->upstream_model;
    rec.provider = ctx->deployment->provider->name;
    rec.task = ctx->task.len ? ctx->task
                             : ((ngx_str_t *) mcf->tasks.elts)[ctx->task_index];
    rec.reason = ctx->reason;
    rec.error = ctx->acc.failed;
    rec.estimated = ctx->acc.estimated;
    rec.stream = ctx->stream;

    if (!ctx->acc.failed) {
        /* for streams, the time to the first token is the comparable part */
        ngx_http_llm_route_latency_sample(r, ctx->deployment,
                                          (ctx->stream && ctx->ttft_ms >= 0)
                                          ? (ngx_msec_t) ctx->ttft_ms
                                          : rec.latency_ms);
    }

    ngx_http_llm_route_zone_record(sh, &rec);
    ngx_http_llm_route_series_record(r, ctx, sh, &rec);
    ngx_http_llm_route_experiment_record(r, ctx, &rec);
    ngx_http_llm_route_drift_record(r, &rec);
    ngx_http_llm_route_feedback_record(r, ctx, &rec);

    return NGX_OK;
}


/* the log phase of a request whose every attempt failed */

static void
ngx_http_llm_route_log_exhausted(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_main_conf_t *mcf, ngx_msec_int_t ms)
{
    ngx_http_llm_route_record_t  rec;

    ngx_memzero(&rec, sizeof(ngx_http_llm_route_record_t));
    rec.pair_slot = -1;

    ngx_http_llm_route_limits_settle(r, ctx);

    if (sh == NULL || ctx->endpoint == LLR_API_COUNT_TOKENS) {
        return;
    }

    rec.model_slot = -1;
    rec.provider_slot = -1;
    rec.deployment_slot = -1;
    rec.task_slot = mcf->task_slots[ctx->task_index];
    rec.status = ngx_http_llm_route_client_gone(r)
                 ? NGX_HTTP_CLIENT_CLOSED_REQUEST : r->headers_out.status;
    rec.latency_ms = (ngx_msec_t) ngx_max(ms, 0);
    rec.ttft_ms = -1;
    rec.tpot_us = -1;
    rec.overhead_us = (ctx->own_ns + 500) / 1000;
    rec.failover = 2;
    rec.difficulty = ctx->difficulty;
    rec.requested = ctx->requested_model;
    rec.task = ctx->task.len ? ctx->task
                             : ((ngx_str_t *) mcf->tasks.elts)
                               [ctx->task_index];
    rec.reason = ctx->reason;
    rec.error = 1;
    rec.stream = ctx->stream;

    ngx_http_llm_route_zone_record(sh, &rec);
    ngx_http_llm_route_series_record(r, ctx, sh, &rec);
    ngx_http_llm_route_experiment_record(r, ctx, &rec);
}


/*
 * The log phase of a request the module answered itself instead of
 * routing it (ctx->rejected): its reason counted once, and an entry in
 * the recent ring with what was known when it was refused.
 */

static void
ngx_http_llm_route_count_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_msec_t latency_ms)
{
    ngx_http_llm_route_shm_t        *sh;
    ngx_http_llm_route_record_t      rec;
    ngx_http_llm_route_main_conf_t  *mcf;

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL) {
        return;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: refused with %ui, counted as \"%s\"",
                   r->headers_out.status,
                   llr_reject_name((llr_reject_e) ctx->rejected));

    ngx_memzero(&rec, sizeof(ngx_http_llm_route_record_t));

    rec.model_slot = -1;
    rec.provider_slot = -1;
    rec.task_slot = -1;
    rec.pair_slot = -1;
    rec.rejected = ctx->rejected;
    rec.rejected_slot = mcf->rejected_slots[ctx->rejected];
    rec.status = r->headers_out.status;
    rec.latency_ms = latency_ms;
    rec.ttft_ms = -1;
    rec.difficulty = ctx->classified ? ctx->difficulty : -1;
    rec.requested = ctx->requested_model;
    rec.task = ctx->task;
    rec.stream = ctx->stream;

    /* a budget or a rate limit refuses a request after it was routed */

    if (ctx->deployment) {
        rec.model = ctx->deployment->upstream_model;
        rec.provider = ctx->deployment->provider->name;
    }

    /* the route's receipt, if the refusal came after the route */
    rec.reason = ctx->reason;

    ngx_http_llm_route_zone_record(sh, &rec);
}
