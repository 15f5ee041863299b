
/*
 * ngx_llm_route_module: the bytes of llm_route_mock's Anthropic Messages
 * answers: a "message" with one content block (text, or tool_use with an
 * instance of the tool's input_schema), its stop_reason and usage (cache
 * tokens included), or the documented event stream: message_start,
 * content_block_start, ping, content_block_delta (text_delta or
 * input_json_delta) paced like chat's chunks, content_block_stop,
 * message_delta (the cumulative usage), message_stop; count_tokens'
 * {"input_tokens":N}; errors in Anthropic's shape.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_reply.h"
#include "ngx_http_llm_route_mock_msgs_text.h"
#include "ngx_http_llm_route_mock_text.h"
#include "llr_req.h"


static u_char *ngx_http_llm_route_mock_msgs_event(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, ngx_uint_t from,
    ngx_uint_t n);
static u_char *ngx_http_llm_route_mock_msgs_usage(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, ngx_uint_t output);
static u_char *ngx_http_llm_route_mock_msgs_event_start(u_char *p,
    const char *type);


static ngx_str_t  ngx_http_llm_route_mock_msgs_json_type =
    ngx_string("application/json");


/* the bounds of a stream's buffers, as mock_plan.c's for chat */

ngx_int_t
ngx_http_llm_route_mock_msgs_sizes(ngx_http_llm_route_mock_ctx_t *ctx)
{
    ctx->event_size = NGX_HTTP_LLM_ROUTE_MOCK_EVENT
                      + 2 * ctx->chunk * (NGX_HTTP_LLM_ROUTE_MOCK_WORD_MAX + 1);
    ctx->base_size = NGX_HTTP_LLM_ROUTE_MOCK_FIXED + 2 * ctx->id.len
                     + ctx->model.len + ctx->tool.len;
    ctx->tail_size = NGX_HTTP_LLM_ROUTE_MOCK_FIXED;

    return NGX_OK;
}


ngx_buf_t *
ngx_http_llm_route_mock_msgs_answer(ngx_http_llm_route_mock_ctx_t *ctx)
{
    u_char     *p;
    size_t      len;
    ngx_buf_t  *b;

    len = NGX_HTTP_LLM_ROUTE_MOCK_FIXED + 2 * ctx->id.len + ctx->model.len
          + ctx->tool.len + 2 * ctx->text_size;

    b = ngx_create_temp_buf(ctx->request->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = b->last;

    if (ctx->count) {
        b->last = ngx_sprintf(p, "{\"input_tokens\":%ui}", ctx->prompt_tokens);
        return b;
    }

    p = ngx_sprintf(p, "{\"id\":\"%V\",\"type\":\"message\","
                    "\"role\":\"assistant\",\"model\":\"%V\",\"content\":[",
                    &ctx->id, &ctx->model);

    if (ctx->call) {
        /* the instance is compact ASCII JSON: the input object as is */
        p = ngx_sprintf(p, "{\"type\":\"tool_use\",\"id\":\"toolu_%V\","
                        "\"name\":\"%V\",\"input\":%V}",
                        &ctx->id, &ctx->tool, &ctx->text);

    } else if (ctx->tokens) {
        p = ngx_cpymem(p, "{\"type\":\"text\",\"text\":\"",
                       sizeof("{\"type\":\"text\",\"text\":\"") - 1);
        p = ngx_http_llm_route_mock_content(ctx, p, 0, 0, ctx->tokens);
        p = ngx_cpymem(p, "\"}", 2);
    }

    p = ngx_sprintf(p, "],\"stop_reason\":\"%s\",\"stop_sequence\":null,",
                    ctx->call ? "tool_use"
                              : ctx->length ? "max_tokens" : "end_turn");
    p = ngx_http_llm_route_mock_msgs_usage(ctx, p, ctx->tokens);
    *p++ = '}';

    b->last = p;

    return b;
}


/* message_start, and the start of the content block, and a ping */

u_char *
ngx_http_llm_route_mock_msgs_head(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p)
{
    p = ngx_http_llm_route_mock_msgs_event_start(p, "message_start");
    p = ngx_sprintf(p, "\"message\":{\"id\":\"%V\",\"type\":\"message\","
                    "\"role\":\"assistant\",\"model\":\"%V\","
                    "\"content\":[],\"stop_reason\":null,"
                    "\"stop_sequence\":null,",
                    &ctx->id, &ctx->model);
    p = ngx_http_llm_route_mock_msgs_usage(ctx, p, ngx_min(ctx->tokens, 1));
    p = ngx_cpymem(p, "}}\n\n", 4);

    if (ctx->call) {
        p = ngx_http_llm_route_mock_msgs_event_start(p,
                                                     "content_block_start");
        p = ngx_sprintf(p, "\"index\":0,\"content_block\":"
                        "{\"type\":\"tool_use\",\"id\":\"toolu_%V\","
                        "\"name\":\"%V\",\"input\":{}}}\n\n",
                        &ctx->id, &ctx->tool);

    } else if (ctx->tokens) {
        p = ngx_http_llm_route_mock_msgs_event_start(p,
                                                     "content_block_start");
        p = ngx_cpymem(p, "\"index\":0,\"content_block\":"
                       "{\"type\":\"text\",\"text\":\"\"}}\n\n",
                       sizeof("\"index\":0,\"content_block\":"
                              "{\"type\":\"text\",\"text\":\"\"}}\n\n") - 1);
    }

    return ngx_cpymem(p, "event: ping\ndata: {\"type\":\"ping\"}\n\n",
                      sizeof("event: ping\ndata: {\"type\":\"ping\"}\n\n")
                      - 1);
}


/* content events from..from+n-1 */

u_char *
ngx_http_llm_route_mock_msgs_events(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p, ngx_uint_t from, ngx_uint_t n)
{
    ngx_uint_t  i, k, end;

    end = ngx_min(from + n, ctx->events);

    for (i = from; i < end; i++) {
        k = i * ctx->chunk;
        p = ngx_http_llm_route_mock_msgs_event(ctx, p, k,
                                               ngx_min(ctx->chunk,
                                                       ctx->tokens - k));
    }

    return p;
}


/* a content_block_delta: tokens from..from+n-1 */

static u_char *
ngx_http_llm_route_mock_msgs_event(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p, ngx_uint_t from, ngx_uint_t n)
{
    p = ngx_http_llm_route_mock_msgs_event_start(p, "content_block_delta");

    if (ctx->call) {
        p = ngx_cpymem(p, "\"index\":0,\"delta\":{\"type\":"
                       "\"input_json_delta\",\"partial_json\":\"",
                       sizeof("\"index\":0,\"delta\":{\"type\":"
                              "\"input_json_delta\",\"partial_json\":\"")
                       - 1);

    } else {
        p = ngx_cpymem(p, "\"index\":0,\"delta\":{\"type\":\"text_delta\","
                       "\"text\":\"",
                       sizeof("\"index\":0,\"delta\":{\"type\":"
                              "\"text_delta\",\"text\":\"") - 1);
    }

    p = ngx_http_llm_route_mock_content(ctx, p, 0, from, n);

    return ngx_cpymem(p, "\"}}\n\n", 5);
}


/* content_block_stop, message_delta with the usage, message_stop */

u_char *
ngx_http_llm_route_mock_msgs_tail(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p)
{
    if (ctx->call || ctx->tokens) {
        p = ngx_http_llm_route_mock_msgs_event_start(p, "content_block_stop");
        p = ngx_cpymem(p, "\"index\":0}\n\n", sizeof("\"index\":0}\n\n") - 1);
    }

    p = ngx_http_llm_route_mock_msgs_event_start(p, "message_delta");
    p = ngx_sprintf(p, "\"delta\":{\"stop_reason\":\"%s\","
                    "\"stop_sequence\":null},",
                    ctx->call ? "tool_use"
                              : ctx->length ? "max_tokens" : "end_turn");
    p = ngx_http_llm_route_mock_msgs_usage(ctx, p, ctx->tokens);
    p = ngx_cpymem(p, "}\n\n", 3);

    p = ngx_http_llm_route_mock_msgs_event_start(p, "message_stop");

    return ngx_cpymem(p, "}\n\n", 3);
}


/* "event: T\ndata: {"type":"T"," (the caller closes the object) */

static u_char *
ngx_http_llm_route_mock_msgs_event_start(u_char *p, const char *type)
{
    p = ngx_sprintf(p, "event: %s\ndata: {\"type\":\"%s\"", type, type);

    if (ngx_strcmp(type, "message_stop") != 0) {
        *p++ = ',';
    }

    return p;
}


/* the prompt's tokens: the cached prefix is written, or read */

static u_char *
ngx_http_llm_route_mock_msgs_usage(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p, ngx_uint_t output)
{
    ngx_uint_t  cached;

    cached = ctx->cached_tokens;

    return ngx_sprintf(p, "\"usage\":{\"input_tokens\":%ui,"
                       "\"cache_creation_input_tokens\":%ui,"
                       "\"cache_read_input_tokens\":%ui,"
                       "\"output_tokens\":%ui}",
                       ctx->prompt_tokens - cached,
                       ctx->cache_read ? 0 : cached,
                       ctx->cache_read ? cached : 0,
                       output);
}


ngx_int_t
ngx_http_llm_route_mock_msgs_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *message)
{
    u_char       *p;
    size_t        len;
    ngx_buf_t    *b;
    ngx_chain_t   out;
    const char   *type;

    switch (status) {
    case NGX_HTTP_UNAUTHORIZED:
        type = "authentication_error";
        break;
    case 402:
        type = "billing_error";
        break;
    case NGX_HTTP_FORBIDDEN:
        type = "permission_error";
        break;
    case NGX_HTTP_NOT_FOUND:
        type = "not_found_error";
        break;
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        type = "request_too_large";
        break;
    case NGX_HTTP_TOO_MANY_REQUESTS:
        type = "rate_limit_error";
        break;
    case NGX_HTTP_GATEWAY_TIME_OUT:
        type = "timeout_error";
        break;
    case 529:
        type = "overloaded_error";
        break;
    default:
        type = (status >= 500) ? "api_error" : "invalid_request_error";
    }

    len = sizeof("{\"type\":\"error\",\"error\":{\"type\":\"\","
                 "\"message\":\"\"}}") - 1
          + ngx_strlen(type)
          + llr_json_escape_len(message->data, message->len);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"type\":\"error\",\"error\":{\"type\":\"%s\","
                    "\"message\":\"", type);
    p += llr_json_escape(p, message->data, message->len);
    b->last = ngx_cpymem(p, "\"}}", 3);

    out.buf = b;
    out.next = NULL;

    return ngx_http_llm_route_send(r, status,
                                   &ngx_http_llm_route_mock_msgs_json_type,
                                   &out);
}
