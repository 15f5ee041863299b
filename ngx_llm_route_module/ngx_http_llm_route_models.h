
/*
 * ngx_llm_route_module: the models endpoint, and the 404 of an unknown
 * model.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MODELS_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MODELS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"


/*
 * GET /v1/models, and GET /v1/models/{id} (ctx->requested_model): an
 * nginx handler's return value
 */
ngx_int_t ngx_http_llm_route_models(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/*
 * 404: an unknown endpoint, or a model (ctx->target, or else the one
 * requested) that is neither a model nor a policy
 */
ngx_int_t ngx_http_llm_route_not_found(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_ROUTE_MODELS_H_INCLUDED_ */
