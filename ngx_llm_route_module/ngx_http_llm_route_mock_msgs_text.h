
/*
 * ngx_llm_route_module: the bytes of llm_route_mock's Anthropic Messages
 * answers (the JSON answer, the events of a stream, errors).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MOCK_MSGS_TEXT_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MOCK_MSGS_TEXT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_mock_ctx.h"


ngx_int_t ngx_http_llm_route_mock_msgs_sizes(
    ngx_http_llm_route_mock_ctx_t *ctx);

ngx_buf_t *ngx_http_llm_route_mock_msgs_answer(
    ngx_http_llm_route_mock_ctx_t *ctx);
u_char *ngx_http_llm_route_mock_msgs_head(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p);
u_char *ngx_http_llm_route_mock_msgs_events(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, ngx_uint_t from,
    ngx_uint_t n);
u_char *ngx_http_llm_route_mock_msgs_tail(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p);

/* {"type":"error","error":{"type":...,"message":...}} */
ngx_int_t ngx_http_llm_route_mock_msgs_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *message);


#endif /* _NGX_HTTP_LLM_ROUTE_MOCK_MSGS_TEXT_H_INCLUDED_ */
