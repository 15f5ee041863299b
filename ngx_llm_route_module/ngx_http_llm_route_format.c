
/*
 * ngx_llm_route_module: the wire formats of a routed request.
 *
 * A client speaks OpenAI's format (chat completions, completions,
 * embeddings, the Responses API) or Anthropic Messages (/v1/messages,
 * /v1/messages/count_tokens); a provider speaks openai, azure (OpenAI's
 * format on Azure's paths and key header) or anthropic.  Same-format
 * traffic passes through; chat completions and Messages are translated
 * into each other (xlate.c); the other endpoints have no translation to
 * anthropic (a 400).  /v1/messages/count_tokens routed to a provider
 * that cannot count (not anthropic) is answered here with an estimate,
 * said so by "X-LLM-Route-Estimated: true" (docs/formats.md).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_xlate.h"
#include "ngx_http_llm_route_format.h"
#include "ngx_http_llm_route_reply.h"


static ngx_int_t ngx_http_llm_route_format_route(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_format_refuse(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_count_estimate(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);


/* the formats of the chosen deployment; NGX_DECLINED: no translation */

static ngx_int_t
ngx_http_llm_route_format_route(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    ngx_http_llm_route_provider_t  *pr;

    pr = ctx->deployment->provider;

    ctx->panthropic = (pr->format == NGX_HTTP_LLM_ROUTE_FORMAT_ANTHROPIC);
    ctx->xlate = LLR_XLATE_NONE;
    ctx->upstream_path = ctx->endpoint_path;

    if (ctx->anthropic == ctx->panthropic) {
        return NGX_OK;
    }

    switch (ctx->endpoint) {

    case LLR_API_CHAT:
        ctx->xlate = LLR_XLATE_CHAT_ANTHROPIC;
        ngx_str_set(&ctx->upstream_path, "/messages");
        break;

    case LLR_API_MESSAGES:
        ctx->xlate = LLR_XLATE_ANTHROPIC_CHAT;
        ngx_str_set(&ctx->upstream_path, "/chat/completions");
        break;

    default:
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: provider \"%V\" speaks format %ui, "
                       "no translation for the endpoint",
                       &pr->name, pr->format);
        return NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: translated (%ui) for provider \"%V\"",
                   (ngx_uint_t) ctx->xlate, &pr->name);

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route_format_check(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    if (ngx_http_llm_route_format_route(r, ctx) == NGX_OK) {
        return NGX_OK;
    }

    if (ctx->endpoint == LLR_API_COUNT_TOKENS) {
        return ngx_http_llm_route_count_estimate(r, ctx);
    }

    return ngx_http_llm_route_format_refuse(r, ctx);
}


/* a 400: the endpoint has no translation to the provider's format */

static ngx_int_t
ngx_http_llm_route_format_refuse(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    u_char                         *p;
    ngx_str_t                       msg;
    ngx_http_llm_route_provider_t  *pr;

    pr = ctx->deployment->provider;

    p = ngx_pnalloc(r->pool, 160 + ctx->deployment->name.len + pr->name.len
                             + ctx->endpoint_path.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg.data = p;
    msg.len = ngx_sprintf(p, "The model \"%V\" is served by provider "
                          "\"%V\" in the %s format, to which %V requests "
                          "are not translated.", &ctx->deployment->name,
                          &pr->name,
                          ctx->panthropic ? "Anthropic Messages" : "OpenAI",
                          &ctx->endpoint_path)
              - p;

    ctx->routed = 0;

    return ngx_http_llm_route_refuse(r, NGX_HTTP_BAD_REQUEST,
                                     "invalid_request_error", "model",
                                     "unsupported_format", &msg);
}


/*
 * {"input_tokens":N}: what the module estimates of the body (4 bytes of
 * text a token, 4 a message; llr_count_tokens_estimate())
 */

static ngx_int_t
ngx_http_llm_route_count_estimate(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    uint64_t     n;
    ngx_buf_t   *b;
    ngx_str_t    yes;
    ngx_chain_t  out;

    static ngx_str_t  json = ngx_string("application/json");

    n = llr_count_tokens_estimate(&ctx->view);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: count_tokens estimated %uL for provider "
                   "\"%V\"", n, &ctx->deployment->provider->name);

    b = ngx_create_temp_buf(r->pool, 48);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last += llr_count_tokens_body(n, (char *) b->last, 48);

    out.buf = b;
    out.next = NULL;

    ngx_str_set(&yes, "true");

    if (ngx_http_llm_route_add_header(r, "X-LLM-Route-Estimated", &yes)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* answered here: nothing is asked of a provider, nothing charged */

    ctx->routed = 0;
    ctx->responded = 1;

    return ngx_http_llm_route_send(r, NGX_HTTP_OK, &json, &out);
}


/* the request cannot be translated for the provider: a 400 naming why */

ngx_int_t
ngx_http_llm_route_format_untranslated(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    ctx->routed = 0;

    return ngx_http_llm_route_refuse(r, NGX_HTTP_BAD_REQUEST,
                                     "invalid_request_error", ctx->xparam,
                                     "unsupported_parameter", &ctx->xmessage);
}
