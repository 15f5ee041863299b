
/*
 * ngx_llm_route_module: failover.
 *
 * nginx's way: proxy_intercept_errors and error_page ... = @fallback
 * bring the request to a location where llm_route runs again.  The
 * context survived the internal redirect; the failed attempt is
 * recorded and the next choice is made: another deployment of the same
 * model (by weight), then the policy's next candidates in the selection
 * order.  When nothing is left: 502 (503 if every failure was an
 * overload, 429 with the provider's Retry-After if the last one asked to
 * slow down), OpenAI-shaped, naming what was tried.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_failover.h"
#include "ngx_http_llm_route_account.h"
#include "ngx_http_llm_route_headers.h"
#include "ngx_http_llm_route_health.h"
#include "ngx_http_llm_route_rewrite.h"
#include "ngx_http_llm_route_select.h"


static ngx_uint_t ngx_http_llm_route_failed_status(ngx_http_request_t *r);
static time_t ngx_http_llm_route_retry_after(ngx_http_request_t *r);
static ngx_http_llm_route_deployment_t *ngx_http_llm_route_next(
    ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_model_t **model);
static ngx_int_t ngx_http_llm_route_exhausted(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_uint_t status, time_t retry_after);
static ngx_int_t ngx_http_llm_route_attempt(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_uint_t status,
    ngx_http_llm_route_model_t *m, ngx_http_llm_route_deployment_t *d);


ngx_int_t
ngx_http_llm_route_failover(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    time_t                            retry_after;
    ngx_int_t                         rc;
    ngx_uint_t                        status;
    ngx_http_llm_route_model_t       *m;
    ngx_http_llm_route_deployment_t  *d, *failed;

    status = ngx_http_llm_route_failed_status(r);
    failed = ctx->deployment;

    retry_after = (status == NGX_HTTP_TOO_MANY_REQUESTS)
                  ? ngx_http_llm_route_retry_after(r) : 0;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm_route: attempt %ui at \"%V\" of provider \"%V\" "
                  "failed with %ui", ctx->attempt, &failed->upstream_model,
                  &failed->provider->name, status);

    ngx_http_llm_route_provider_failed(r, failed->provider, status,
                                       retry_after);
    ngx_http_llm_route_attempt_failed(r, ctx, status);

    if (ctx->ntried < NGX_HTTP_LLM_ROUTE_MAX_ATTEMPTS) {
        ctx->tried[ctx->ntried] = failed;
        ctx->tried_status[ctx->ntried] = status;
        ctx->ntried++;
    }

    d = ngx_http_llm_route_next(r, ctx, &m);

    if (d == NULL) {
        rc = ngx_http_llm_route_exhausted(r, ctx, status, retry_after);
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    return ngx_http_llm_route_attempt(r, ctx, status, m, d);
}


/*
 * The failed attempt's status: "error_page ... = @fallback" clears
 * r->err_status, the upstream's state keeps it (502 or 504 for a
 * connection error or a timeout)
 */

static ngx_uint_t
ngx_http_llm_route_failed_status(ngx_http_request_t *r)
{
    ngx_uint_t  status;

    status = 0;

    if (r->upstream && r->upstream->state) {
        status = r->upstream->state->status;
    }

    if (status == 0) {
        status = r->err_status ? (ngx_uint_t) r->err_status
                               : r->headers_out.status;
    }

    return status ? status : NGX_HTTP_BAD_GATEWAY;
}


/* the Retry-After of the provider's 429: seconds, or an HTTP-date */

static time_t
ngx_http_llm_route_retry_after(ngx_http_request_t *r)
{
    time_t            sec;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (r->upstream == NULL) {
        return 0;
    }

    part = &r->upstream->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Retry-After") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Retry-After",
                               sizeof("Retry-After") - 1) == 0)
        {
            break;
        }
    }

    sec = ngx_atotm(h[i].value.data, h[i].value.len);

    if (sec == NGX_ERROR) {
        sec = ngx_parse_http_time(h[i].value.data, h[i].value.len);
        sec = (sec != NGX_ERROR && sec > ngx_time()) ? sec - ngx_time() : 0;
    }

    /* a day at most */

    return ngx_min(sec, 86400);
}


/*
 * Another deployment of the model, then the policy's next candidates;
 * if all left are cooling down, the one that ends first.  NULL if no
 * attempt is left: another one is made only if its failure could still
 * come back here (other redirects, rewrite or try_files, count against
 * nginx's limit too).
 */

static ngx_http_llm_route_deployment_t *
ngx_http_llm_route_next(ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_model_t **model)
{
    ngx_uint_t                         i;
    ngx_msec_t                         ms, next_ms;
    ngx_http_llm_route_model_t       **cand, *m;
    ngx_http_llm_route_loc_conf_t     *lcf;
    ngx_http_llm_route_deployment_t   *d, *next;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    if (ctx->attempt >= lcf->max_attempts || r->uri_changes <= 1) {
        return NULL;
    }

    m = ctx->model;
    d = ngx_http_llm_route_pick_deployment(r, ctx, m);

    cand = ctx->policy ? ctx->policy->candidates.elts : NULL;

    while (d == NULL && cand && ctx->fallback_next < ctx->nfallback) {
        m = cand[ctx->fallback[ctx->fallback_next++]];

        if (m != ctx->model) {
            d = ngx_http_llm_route_pick_deployment(r, ctx, m);
        }
    }

    if (d == NULL) {
        /* all left are cooling down: the one that ends first */

        m = ctx->model;
        d = ngx_http_llm_route_soonest(r, ctx, m, &ms);

        /* every candidate that fits, usable at selection or not */

        for (i = 0; cand && i < ctx->policy->candidates.nelts; i++) {

            if (!ngx_http_llm_route_fits(ctx, cand[i])) {
                continue;
            }

            next = ngx_http_llm_route_soonest(r, ctx, cand[i], &next_ms);

            if (next && (d == NULL || next_ms < ms)) {
                d = next;
                m = cand[i];
                ms = next_ms;
            }
        }
    }

    *model = m;

    return d;
}


/* every attempt failed: the answer names them */

static ngx_int_t
ngx_http_llm_route_exhausted(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_uint_t status, time_t retry_after)
{
    u_char                         *p, *last;
    ngx_str_t                       msg;
    ngx_uint_t                      i, overload;
    ngx_http_llm_route_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    ctx->routed = 0;
    ctx->exhausted = 1;

    overload = 1;

    for (i = 0; i < ctx->ntried; i++) {
        if (ctx->tried_status[i] != NGX_HTTP_TOO_MANY_REQUESTS
            && ctx->tried_status[i] != NGX_HTTP_SERVICE_UNAVAILABLE)
        {
            overload = 0;
        }
    }

    msg.len = 128 + ctx->ntried * (2 * NGX_HTTP_LLM_ROUTE_NAME_MAX + 16);
    msg.data = ngx_pnalloc(r->pool, msg.len);
    if (msg.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = msg.data;
    last = msg.data + msg.len;

    p = ngx_slprintf(p, last, "Every attempt failed (%ui of at most %ui): ",
                     ctx->ntried, lcf->max_attempts);

    for (i = 0; i < ctx->ntried; i++) {
        p = ngx_slprintf(p, last, "%s%*s at %*s (%ui)",
                         i ? ", " : "",
                         ngx_min(ctx->tried[i]->upstream_model.len,
                                 NGX_HTTP_LLM_ROUTE_NAME_MAX),
                         ctx->tried[i]->upstream_model.data,
                         ngx_min(ctx->tried[i]->provider->name.len,
                                 NGX_HTTP_LLM_ROUTE_NAME_MAX),
                         ctx->tried[i]->provider->name.data,
                         ctx->tried_status[i]);
    }

    p = ngx_slprintf(p, last, ".");
    msg.len = p - msg.data;

    r->err_status = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: failover: none left after %ui attempts, "
                   "overload %ui", ctx->ntried, overload);

    if (status != NGX_HTTP_TOO_MANY_REQUESTS) {
        return ngx_http_llm_route_refuse(r,
                                         overload
                                         ? NGX_HTTP_SERVICE_UNAVAILABLE
                                         : NGX_HTTP_BAD_GATEWAY,
                                         "server_error", NULL,
                                         "upstream_failed", &msg);
    }

    /*
     * the last provider asked to slow down: so does the client, with its
     * Retry-After, as a RateLimitError that SDKs back off from (a 5xx
     * would be an InternalServerError)
     */

    if (retry_after > 0
        && ngx_http_llm_route_retry_header(r, retry_after) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_llm_route_refuse(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                     "requests", NULL, "rate_limit_exceeded",
                                     &msg);
}


/* the next attempt, at deployment d of model m: a fresh response to watch */

static ngx_int_t
ngx_http_llm_route_attempt(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_uint_t status,
    ngx_http_llm_route_model_t *m, ngx_http_llm_route_deployment_t *d)
{
    u_char                           *p;
    ngx_int_t                         rc;
    ngx_str_t                         msg;
    ngx_http_llm_route_deployment_t  *failed;

    failed = ctx->deployment;

    ctx->attempt++;
    ctx->model = m;
    ctx->deployment = d;

    ctx->watch.json = NULL;
    ctx->resp_mode = LLR_RESP_NONE;
    ctx->resp_done = 0;
    ctx->accounted = 0;
    ctx->acc.failed = 0;
    ctx->acc.estimated = 0;
    ctx->ttft_ms = -1;
    ctx->error_page = 0;
    r->err_status = 0;

    msg.len = ctx->reason.len + 64 + failed->upstream_model.len
              + failed->provider->name.len + m->name.len
              + d->provider->name.len;
    msg.data = ngx_pnalloc(r->pool, msg.len);
    if (msg.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_slprintf(msg.data, msg.data + msg.len,
                     "failover %ui: %V at %V failed (%ui), now %V at %V; %V",
                     ctx->attempt, &failed->upstream_model,
                     &failed->provider->name, status, &m->name,
                     &d->provider->name, &ctx->reason);
    ctx->reason.data = msg.data;
    ctx->reason.len = p - msg.data;

    if (ngx_http_llm_route_fill_model(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_llm_route_set_url(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_llm_route_strip_credentials(r, d->provider) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->routed = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: failover attempt %ui to \"%V\"",
                   ctx->attempt, &ctx->url);

    return NGX_DECLINED;
}
