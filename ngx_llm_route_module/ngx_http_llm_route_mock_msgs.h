
/*
 * ngx_llm_route_module: llm_route_mock as an Anthropic Messages provider
 * (POST .../messages and .../messages/count_tokens): the request.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MOCK_MSGS_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MOCK_MSGS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_mock_ctx.h"


/* a parameter of llm_route_mock: NGX_OK, NGX_DECLINED (not one of these) */
ngx_int_t ngx_http_llm_route_mock_msgs_param(
    ngx_http_llm_route_mock_conf_t *mcf, ngx_str_t *value);

/* cache= and X-Mock-Cache: 1 (read), 0 (write), or NGX_ERROR */
ngx_int_t ngx_http_llm_route_mock_msgs_cache(ngx_str_t *value);

/* anthropic_headers=on: 0, or the status of the error, and its message */
ngx_uint_t ngx_http_llm_route_mock_msgs_headers(ngx_http_request_t *r,
    ngx_str_t *msg);

/* the body (read by then): the plan of the answer, or ctx->error */
ngx_int_t ngx_http_llm_route_mock_msgs_scan(
    ngx_http_llm_route_mock_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_ROUTE_MOCK_MSGS_H_INCLUDED_ */
