
/*
 * ngx_llm_route_module: sending the mock's answer, on time.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MOCK_SEND_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MOCK_SEND_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_mock_ctx.h"


ngx_int_t ngx_http_llm_route_mock_respond(
    ngx_http_llm_route_mock_ctx_t *ctx);
void ngx_http_llm_route_mock_wait(ngx_http_llm_route_mock_ctx_t *ctx,
    ngx_msec_t delay);
ngx_int_t ngx_http_llm_route_mock_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, const char *param,
    const char *code, u_char *msg, size_t len, ngx_str_t *retry_after);


#endif /* _NGX_HTTP_LLM_ROUTE_MOCK_SEND_H_INCLUDED_ */
