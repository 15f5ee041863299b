
/*
 * ngx_llm_route_module: the mock's request, and what its answer will be.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MOCK_PLAN_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MOCK_PLAN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_mock_ctx.h"


/*
 * The request's body (read by then) and its X-Mock-* settings make the
 * plan of the answer in ctx, or ctx->error for the client
 */
ngx_int_t ngx_http_llm_route_mock_scan(ngx_http_llm_route_mock_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_ROUTE_MOCK_PLAN_H_INCLUDED_ */
