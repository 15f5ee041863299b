
/*
 * ngx_llm_route_module: the accounting of a finished request.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_ACCOUNT_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_ACCOUNT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"


/* the log phase's handler, first of the phase */
ngx_int_t ngx_http_llm_route_log_handler(ngx_http_request_t *r);

/* the tokens and the cost of the request (ctx->acc), once */
void ngx_http_llm_route_account(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* a failed attempt before a failover, for its model and provider */
void ngx_http_llm_route_attempt_failed(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_uint_t status);


#endif /* _NGX_HTTP_LLM_ROUTE_ACCOUNT_H_INCLUDED_ */
