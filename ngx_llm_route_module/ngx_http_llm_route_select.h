
/*
 * ngx_llm_route_module: routing and selection.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_SELECT_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_SELECT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"


/*
 * The route of what the request names (ctx->target): a model's
 * deployment, or a policy's choice; NGX_OK (or the module answered:
 * ctx->responded) or an HTTP status
 */
ngx_int_t ngx_http_llm_route_choose(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* a usable deployment of m, by weight or latency; NULL if none is left */
ngx_http_llm_route_deployment_t *ngx_http_llm_route_pick_deployment(
    ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_model_t *m);

/*
 * when none is usable: the one not tried whose cooldown ends first (*ms
 * left), not one under a Retry-After; NULL if there is none
 */
ngx_http_llm_route_deployment_t *ngx_http_llm_route_soonest(
    ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_model_t *m, ngx_msec_t *ms);

/* the model's context window holds the request */
ngx_uint_t ngx_http_llm_route_fits(ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_model_t *m);

/* a Retry-After header of sec seconds */
ngx_int_t ngx_http_llm_route_retry_header(ngx_http_request_t *r,
    time_t sec);


#endif /* _NGX_HTTP_LLM_ROUTE_SELECT_H_INCLUDED_ */
