
/*
 * ngx_llm_route_module: the wire formats of a routed request: the
 * client's (OpenAI or Anthropic Messages) against its provider's.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_FORMAT_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_FORMAT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"


/*
 * After a deployment is chosen (at each attempt): its formats
 * (ctx->xlate, ctx->panthropic, ctx->upstream_path) and NGX_OK to go on;
 * or the module answered (ctx->responded): count_tokens estimated for a
 * provider that cannot count, or a 400 for an endpoint that has no
 * translation to the provider's format (completions, embeddings, the
 * Responses API to an Anthropic provider); or an HTTP status
 */
ngx_int_t ngx_http_llm_route_format_check(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/*
 * The 400 of a request the translator refused (ctx->xparam,
 * ctx->xmessage: ngx_http_llm_route_body_format() said NGX_DECLINED)
 */
ngx_int_t ngx_http_llm_route_format_untranslated(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_ROUTE_FORMAT_H_INCLUDED_ */
