
/*
 * ngx_llm_route_module: answers of llm_route_mock degraded on purpose
 * (truncated, empty, refusing, invalid tool call JSON, slow), a share of
 * each, in a fixed order.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MOCK_DEGRADE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MOCK_DEGRADE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_mock_ctx.h"


/* a parameter of llm_route_mock: NGX_OK, NGX_DECLINED (not one of these) */
ngx_int_t ngx_http_llm_route_mock_degrade_param(
    ngx_http_llm_route_mock_conf_t *mcf, ngx_str_t *value);
char *ngx_http_llm_route_mock_degrade_check(
    ngx_http_llm_route_mock_conf_t *mcf);

/* X-Mock-Degrade: the kind + 1, or NGX_ERROR */
ngx_int_t ngx_http_llm_route_mock_degrade_header(ngx_str_t *value);

/* chooses how this answer is degraded and applies it to c tokens */
void ngx_http_llm_route_mock_degrade(ngx_http_llm_route_mock_ctx_t *ctx,
    ngx_uint_t *c);


#endif /* _NGX_HTTP_LLM_ROUTE_MOCK_DEGRADE_H_INCLUDED_ */
