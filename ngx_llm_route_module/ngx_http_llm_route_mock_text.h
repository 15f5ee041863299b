
/*
 * ngx_llm_route_module: the bytes of the mock's answers.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MOCK_TEXT_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MOCK_TEXT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_mock_ctx.h"


ngx_buf_t *ngx_http_llm_route_mock_answer(ngx_http_llm_route_mock_ctx_t *ctx);
u_char *ngx_http_llm_route_mock_head(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p);
u_char *ngx_http_llm_route_mock_event(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p, ngx_uint_t from, ngx_uint_t n);
u_char *ngx_http_llm_route_mock_tail(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p);
u_char *ngx_http_llm_route_mock_words(u_char *p, ngx_uint_t from,
    ngx_uint_t n);


#endif /* _NGX_HTTP_LLM_ROUTE_MOCK_TEXT_H_INCLUDED_ */
