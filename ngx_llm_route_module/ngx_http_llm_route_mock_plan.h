
/*
 * ngx_llm_route_module: the mock's request, and what its answer will be.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MOCK_PLAN_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MOCK_PLAN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_mock_ctx.h"
#include "llr_mock.h"


/*
 * The request's body (read by then) and its X-Mock-* settings make the
 * plan of the answer in ctx, or ctx->error for the client
 */
ngx_int_t ngx_http_llm_route_mock_scan(ngx_http_llm_route_mock_ctx_t *ctx);

/* the rest of the plan once the request is read (max_tokens -1: none) */
ngx_int_t ngx_http_llm_route_mock_prepare(ngx_http_llm_route_mock_ctx_t *ctx,
    const char *model, size_t model_len, ngx_uint_t stream,
    ngx_uint_t include_usage, int64_t max_tokens);

/* ctx->text: the instance of schema (param: the field to blame) */
ngx_int_t ngx_http_llm_route_mock_instance(ngx_http_llm_route_mock_ctx_t *ctx,
    const llr_jv_t *schema, char *param);


#endif /* _NGX_HTTP_LLM_ROUTE_MOCK_PLAN_H_INCLUDED_ */
