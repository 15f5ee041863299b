
/*
 * ngx_llm_route_module: budgets and rate limits: admission and
 * settlement.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_LIMITS_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_LIMITS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"


/*
 * The route is chosen (ctx->est): the request reserved in every limit
 * that applies, or refused; NGX_OK (or ctx->responded) or an HTTP status
 */
ngx_int_t ngx_http_llm_route_limits_admit(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* the log phase: the reservations released, the actual cost charged */
void ngx_http_llm_route_limits_settle(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_ROUTE_LIMITS_H_INCLUDED_ */
