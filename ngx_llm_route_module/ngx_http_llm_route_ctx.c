
/*
 * ngx_llm_route_module: the context of a routed request.
 *
 * It must survive internal redirects (error_page to a named location
 * for failover), which zero r->ctx: like the realip module's, it is
 * also reachable through a cleanup of the request pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_reply.h"


static void ngx_http_llm_route_ctx_cleanup(void *data);


/* a routed request's context and the pool cleanup that finds it again */
typedef struct {
    ngx_pool_cleanup_t              cln;
    ngx_http_llm_route_ctx_t        ctx;
} ngx_http_llm_route_ctx_block_t;


ngx_http_llm_route_ctx_t *
ngx_http_llm_route_create_ctx(ngx_http_request_t *r, ngx_uint_t keep)
{
    ngx_http_llm_route_ctx_t        *ctx;
    ngx_http_llm_route_ctx_block_t  *b;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (!keep) {
        /* an error page's: only what the header filter needs */

        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_route_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ctx->request = r;
        ctx->difficulty = -1;
        ngx_http_set_ctx(r, ctx, ngx_http_llm_route_module);

        return ctx;
    }

    /*
     * one allocation: the cleanup (as ngx_pool_cleanup_add() links it)
     * and the context, zeroed together
     */

    b = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_route_ctx_block_t));
    if (b == NULL) {
        return NULL;
    }

    ctx = &b->ctx;

    ctx->request = r;
    ctx->attempt = 1;
    ctx->difficulty = -1;
    ctx->ttft_ms = -1;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);
    ctx->task_index = mcf->tasks.nelts ? mcf->tasks.nelts - 1 : 0;

    b->cln.handler = ngx_http_llm_route_ctx_cleanup;
    b->cln.data = ctx;
    b->cln.next = r->pool->cleanup;
    r->pool->cleanup = &b->cln;

    ngx_http_set_ctx(r, ctx, ngx_http_llm_route_module);

    return ctx;
}


ngx_http_llm_route_ctx_t *
ngx_http_llm_route_find_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_llm_route_ctx_t  *ctx;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_llm_route_ctx_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_llm_route_module);
            return ctx;
        }
    }

    return NULL;
}


static void
ngx_http_llm_route_ctx_cleanup(void *data)
{
    /* nothing to release: the context lives in the request pool */
}


ngx_int_t
ngx_http_llm_route_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *param, const char *code, ngx_str_t *message)
{
    ngx_str_t                  allow;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_route_module);

    if (ctx) {
        ctx->responded = 1;

        /* counted in the log phase, unless every attempt failed */
        ctx->rejected = llr_reject_reason(status, code);
    }

    if (status == NGX_HTTP_NOT_ALLOWED) {

        if (ctx && ctx->endpoint == LLR_API_MODELS) {
            ngx_str_set(&allow, "GET, HEAD");

        } else {
            ngx_str_set(&allow, "POST");
        }

        if (ngx_http_llm_route_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_llm_route_send_error_format(r, ctx && ctx->anthropic,
                                                status, type, param, code,
                                                message);
}


ngx_msec_int_t
ngx_http_llm_route_elapsed(ngx_http_request_t *r)
{
    ngx_time_t      *tp;
    ngx_msec_int_t   ms;

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    return ngx_max(ms, 0);
}


/*
 * It closed the connection (nginx logs 499 when nothing was sent yet),
 * reset its HTTP/2 stream, or a write to it failed.
 */

ngx_uint_t
ngx_http_llm_route_client_gone(ngx_http_request_t *r)
{
    return r->connection->error
           || r->headers_out.status == NGX_HTTP_CLIENT_CLOSED_REQUEST;
}
