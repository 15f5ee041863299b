
/*
 * ngx_llm_route_module: requests and answers translated between the
 * OpenAI and the Anthropic wire formats (core/llr_xlate, core/llr_xsse).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_XLATE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_XLATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"


/* the max_tokens an Anthropic provider is sent without max_output= */
#define NGX_HTTP_LLM_ROUTE_MAX_OUTPUT  4096


/*
 * The request body (r->request_body->bufs, the client's, holes filled)
 * in the provider's format (ctx->xlate): NGX_OK, the new body in its
 * place; NGX_DECLINED, it cannot be translated (ctx->xparam names the
 * field, ctx->xmessage says why: a 400 for the client); or an HTTP
 * status
 */
ngx_int_t ngx_http_llm_route_xlate_request(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/*
 * Header filter, a translated request's answer: the status and the
 * headers of the client's format (no Content-Length: the body changes)
 */
ngx_int_t ngx_http_llm_route_xlate_header(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/*
 * Body filter, after the usage scanners read the provider's bytes: *in
 * becomes the client's bytes; a stream event by event, a JSON answer or
 * an error at its end (*in is NULL until then)
 */
ngx_int_t ngx_http_llm_route_xlate_body(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in);


#endif /* _NGX_HTTP_LLM_ROUTE_XLATE_H_INCLUDED_ */
