
/*
 * ngx_llm_route_module: the bytes of the mock's answers (llm_route_mock):
 * the JSON answer of each endpoint, and the events of a stream: chat and
 * legacy completions chunks, the Responses API's events.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_mock_text.h"
#include "llr_req.h"


static u_char *ngx_http_llm_route_mock_response(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, const char *status);
static u_char *ngx_http_llm_route_mock_item(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, ngx_uint_t done);
static u_char *ngx_http_llm_route_mock_response_event(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, const char *type,
    const char *status);
static u_char *ngx_http_llm_route_mock_item_event(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, const char *type,
    ngx_uint_t done);
static u_char *ngx_http_llm_route_mock_resp_event(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, const char *type);
static u_char *ngx_http_llm_route_mock_embeddings(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p);
static u_char *ngx_http_llm_route_mock_content(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, ngx_uint_t choice,
    ngx_uint_t from, ngx_uint_t n);


/* the completion text: word i of the answer is words[i % n] */
static ngx_str_t  ngx_http_llm_route_mock_word_list[] = {
    ngx_string("lorem"),
    ngx_string("ipsum"),
    ngx_string("dolor"),
    ngx_string("sit"),
    ngx_string("amet"),
    ngx_string("consectetur"),
    ngx_string("adipiscing"),
    ngx_string("elit"),
    ngx_string("sed"),
    ngx_string("do"),
    ngx_string("eiusmod"),
    ngx_string("tempor"),
    ngx_string("incididunt"),
    ngx_string("ut"),
    ngx_string("labore"),
    ngx_string("et")
};

#define NGX_HTTP_LLM_ROUTE_MOCK_NWORDS                                        \
    (sizeof(ngx_http_llm_route_mock_word_list) / sizeof(ngx_str_t))


/* the JSON answer, whole */

ngx_buf_t *
ngx_http_llm_route_mock_answer(ngx_http_llm_route_mock_ctx_t *ctx)
{
    u_char              *p;
    size_t               len;
    ngx_buf_t           *b;
    ngx_uint_t           c, i, total;
    ngx_http_request_t  *r;
    const char          *finish;

    r = ctx->request;
    c = ctx->tokens;
    total = ctx->prompt_tokens + ctx->n * c;
    finish = ctx->call ? "tool_calls" : ctx->length ? "length" : "stop";

    len = NGX_HTTP_LLM_ROUTE_MOCK_FIXED + 3 * ctx->id.len + ctx->model.len
          + 2 * ctx->n * (ctx->text_size + ctx->tool.len + ctx->id.len
                          + NGX_HTTP_LLM_ROUTE_MOCK_EVENT);

    if (ctx->hashes) {
        len += (ctx->hashes->nelts + 1)
               * (64 + NGX_HTTP_LLM_ROUTE_MOCK_DIMS * 12);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = b->last;

    switch (ctx->endpoint) {

    case LLR_API_CHAT:
        p = ngx_sprintf(p, "{\"id\":\"%V\",\"object\":\"chat.completion\","
                        "\"created\":%T,\"model\":\"%V\",\"choices\":[",
                        &ctx->id, ngx_time(), &ctx->model);

        for (i = 0; i < ctx->n; i++) {
            p = ngx_sprintf(p, "%s{\"index\":%ui,\"message\":"
                            "{\"role\":\"assistant\",\"content\":",
                            i ? "," : "", i);

            if (ctx->call) {
                p = ngx_sprintf(p, "null,\"tool_calls\":[{\"id\":\"call_%V\","
                                "\"type\":\"function\",\"function\":"
                                "{\"name\":\"%V\",\"arguments\":\"",
                                &ctx->id, &ctx->tool);
                p = ngx_http_llm_route_mock_content(ctx, p, i, 0, c);
                p = ngx_cpymem(p, "\"}}]", 4);

            } else {
                *p++ = '"';
                p = ngx_http_llm_route_mock_content(ctx, p, i, 0, c);
                *p++ = '"';
            }

            p = ngx_sprintf(p, "},\"logprobs\":null,\"finish_reason\":\"%s\"}",
                            finish);
        }

        p = ngx_sprintf(p, "],\"usage\":{\"prompt_tokens\":%ui,"
                        "\"completion_tokens\":%ui,\"total_tokens\":%ui}}",
                        ctx->prompt_tokens, ctx->n * c, total);
        break;

    case LLR_API_COMPLETIONS:
        p = ngx_sprintf(p, "{\"id\":\"%V\",\"object\":\"text_completion\","
                        "\"created\":%T,\"model\":\"%V\",\"choices\":[",
                        &ctx->id, ngx_time(), &ctx->model);

        for (i = 0; i < ctx->n; i++) {
            p = ngx_cpymem(p, i ? ",{\"text\":\"" : "{\"text\":\"",
                           i ? 10 : 9);
            p = ngx_http_llm_route_mock_content(ctx, p, i, 0, c);
            p = ngx_sprintf(p, "\",\"index\":%ui,\"logprobs\":null,"
                            "\"finish_reason\":\"%s\"}", i, finish);
        }

        p = ngx_sprintf(p, "],\"usage\":{\"prompt_tokens\":%ui,"
                        "\"completion_tokens\":%ui,\"total_tokens\":%ui}}",
                        ctx->prompt_tokens, ctx->n * c, total);
        break;

    case LLR_API_EMBEDDINGS:
        p = ngx_cpymem(p, "{\"object\":\"list\",\"data\":[",
                       sizeof("{\"object\":\"list\",\"data\":[") - 1);
        p = ngx_http_llm_route_mock_embeddings(ctx, p);
        p = ngx_sprintf(p, "],\"model\":\"%V\",\"usage\":"
                        "{\"prompt_tokens\":%ui,\"total_tokens\":%ui}}",
                        &ctx->model, ctx->prompt_tokens, ctx->prompt_tokens);
        break;

    default: /* LLR_API_RESPONSES */
        p = ngx_http_llm_route_mock_response(ctx, p, NULL);
        break;
    }

    b->last = p;

    return b;
}


/*
 * A Responses API response object; status NULL: the final one, as the
 * JSON answer (with output_text) and in response.completed (or
 * response.incomplete); else ("in_progress") with no output and no usage
 */

static u_char *
ngx_http_llm_route_mock_response(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p, const char *status)
{
    ngx_uint_t  final;

    final = (status == NULL);

    if (final) {
        status = ctx->length ? "incomplete" : "completed";
    }

    p = ngx_sprintf(p, "{\"id\":\"%V\",\"object\":\"response\","
                    "\"created_at\":%T,\"status\":\"%s\",\"error\":null,"
                    "\"incomplete_details\":%s,\"model\":\"%V\","
                    "\"output\":[",
                    &ctx->id, ngx_time(), status,
                    final && ctx->length ? "{\"reason\":\"max_output_tokens\"}"
                                         : "null",
                    &ctx->model);

    if (!final) {
        return ngx_cpymem(p, "],\"usage\":null}",
                          sizeof("],\"usage\":null}") - 1);
    }

    p = ngx_http_llm_route_mock_item(ctx, p, 1);

    p = ngx_cpymem(p, "],\"output_text\":\"",
                   sizeof("],\"output_text\":\"") - 1);

    if (!ctx->call) {
        p = ngx_http_llm_route_mock_content(ctx, p, 0, 0, ctx->tokens);
    }

    return ngx_sprintf(p, "\",\"usage\":{\"input_tokens\":%ui,"
                       "\"input_tokens_details\":{\"cached_tokens\":0},"
                       "\"output_tokens\":%ui,\"output_tokens_details\":"
                       "{\"reasoning_tokens\":0},\"total_tokens\":%ui}}",
                       ctx->prompt_tokens, ctx->tokens,
                       ctx->prompt_tokens + ctx->tokens);
}


/*
 * The output item of a Responses API answer: a message or a function
 * call; done: with its content and status, else as it begins
 */

static u_char *
ngx_http_llm_route_mock_item(ngx_http_llm_route_mock_ctx_t *ctx, u_char *p,
    ngx_uint_t done)
{
    const char  *status;

    status = !done ? "in_progress" : ctx->length ? "incomplete" : "completed";

    if (ctx->call) {
        p = ngx_sprintf(p, "{\"type\":\"function_call\",\"id\":\"fc_%V\","
                        "\"call_id\":\"call_%V\",\"name\":\"%V\","
                        "\"arguments\":\"",
                        &ctx->id, &ctx->id, &ctx->tool);

        if (done) {
            p = ngx_http_llm_route_mock_content(ctx, p, 0, 0, ctx->tokens);
        }

        return ngx_sprintf(p, "\",\"status\":\"%s\"}", status);
    }

    p = ngx_sprintf(p, "{\"type\":\"message\",\"id\":\"msg_%V\","
                    "\"status\":\"%s\",\"role\":\"assistant\",\"content\":[",
                    &ctx->id, status);

    if (!done) {
        return ngx_cpymem(p, "]}", 2);
    }

    p = ngx_cpymem(p, "{\"type\":\"output_text\",\"text\":\"",
                   sizeof("{\"type\":\"output_text\",\"text\":\"") - 1);
    p = ngx_http_llm_route_mock_content(ctx, p, 0, 0, ctx->tokens);

    return ngx_cpymem(p, "\",\"annotations\":[],\"logprobs\":[]}]}",
                      sizeof("\",\"annotations\":[],\"logprobs\":[]}]}")
                      - 1);
}


/* a Responses API event with the response object, or the output item */

static u_char *
ngx_http_llm_route_mock_response_event(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p, const char *type, const char *status)
{
    p = ngx_http_llm_route_mock_resp_event(ctx, p, type);
    p = ngx_cpymem(p, "\"response\":", sizeof("\"response\":") - 1);
    p = ngx_http_llm_route_mock_response(ctx, p, status);

    return ngx_cpymem(p, "}\n\n", 3);
}


static u_char *
ngx_http_llm_route_mock_item_event(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p, const char *type, ngx_uint_t done)
{
    p = ngx_http_llm_route_mock_resp_event(ctx, p, type);
    p = ngx_cpymem(p, "\"output_index\":0,\"item\":",
                   sizeof("\"output_index\":0,\"item\":") - 1);
    p = ngx_http_llm_route_mock_item(ctx, p, done);

    return ngx_cpymem(p, "}\n\n", 3);
}


/* the start of a Responses API event: "event: T\ndata: {"type":"T",..., */

static u_char *
ngx_http_llm_route_mock_resp_event(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p, const char *type)
{
    return ngx_sprintf(p, "event: %s\ndata: {\"type\":\"%s\","
                       "\"sequence_number\":%ui,", type, type, ctx->seq++);
}


static u_char *
ngx_http_llm_route_mock_embeddings(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p)
{
    float        f;
    int32_t      v;
    uint32_t    *hashes, h, x, bits;
    ngx_str_t    src, dst;
    ngx_uint_t   i, j, n, k;
    u_char       raw[NGX_HTTP_LLM_ROUTE_MOCK_DIMS * 4];

    static uint32_t  empty = LLR_FNV1A32_INIT;

    n = ctx->hashes->nelts;
    hashes = ctx->hashes->elts;

    if (n == 0) {
        n = 1;
        hashes = &empty;
    }

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "%s{\"object\":\"embedding\",\"index\":%ui,"
                        "\"embedding\":%s", i ? "," : "", i,
                        ctx->base64 ? "\"" : "[");

        h = hashes[i];

        for (j = 0; j < NGX_HTTP_LLM_ROUTE_MOCK_DIMS; j++) {

            /* a murmur3-style finalizer of (hash, dimension) */

            x = h ^ (uint32_t) ((j + 1) * 0x9e3779b9u);
            x ^= x >> 16;
            x *= 0x85ebca6bu;
            x ^= x >> 13;
            x *= 0xc2b2ae35u;
            x ^= x >> 16;

            /* -1.000000 .. 1.000000, millionths */

            v = (int32_t) (x % 2000001) - 1000000;

            if (ctx->base64) {
                /* the float32 of the same number, little-endian */
                f = (float) v / 1000000.0f;
                ngx_memcpy(&bits, &f, 4);

                for (k = 0; k < 4; k++) {
                    raw[j * 4 + k] = (u_char) (bits >> (8 * k));
                }

                continue;
            }

            k = (ngx_uint_t) (v < 0 ? -v : v);
            p = ngx_sprintf(p, "%s%s%ui.%06ui", j ? "," : "",
                            v < 0 ? "-" : "", k / 1000000, k % 1000000);
        }

        if (ctx->base64) {
            src.data = raw;
            src.len = sizeof(raw);
            dst.data = p;
            ngx_encode_base64(&dst, &src);
            p += dst.len;
        }

        *p++ = ctx->base64 ? '"' : ']';
        *p++ = '}';
    }

    return p;
}


/*
 * The events before the content: chat's role chunk of each choice (with
 * the tool call's name and id); the Responses API's response.created,
 * response.in_progress, response.output_item.added and, for a message,
 * response.content_part.added
 */

u_char *
ngx_http_llm_route_mock_head(ngx_http_llm_route_mock_ctx_t *ctx, u_char *p)
{
    ngx_uint_t  i;

    if (ctx->endpoint == LLR_API_RESPONSES) {
        p = ngx_http_llm_route_mock_response_event(ctx, p,
                                                   "response.created",
                                                   "in_progress");
        p = ngx_http_llm_route_mock_response_event(ctx, p,
                                                   "response.in_progress",
                                                   "in_progress");
        p = ngx_http_llm_route_mock_item_event(ctx, p,
                                               "response.output_item.added",
                                               0);

        if (ctx->call) {
            return p;
        }

        p = ngx_http_llm_route_mock_resp_event(ctx, p,
                                           "response.content_part.added");
        return ngx_sprintf(p, "\"item_id\":\"msg_%V\",\"output_index\":0,"
                           "\"content_index\":0,\"part\":{\"type\":"
                           "\"output_text\",\"text\":\"\",\"annotations\":[],"
                           "\"logprobs\":[]}}\n\n", &ctx->id);
    }

    if (ctx->endpoint != LLR_API_CHAT) {
        return p;
    }

    for (i = 0; i < ctx->n; i++) {
        p = ngx_sprintf(p, "data: %V\"choices\":[{\"index\":%ui,\"delta\":"
                        "{\"role\":\"assistant\",\"content\":",
                        &ctx->head, i);

        if (ctx->call) {
            p = ngx_sprintf(p, "null,\"tool_calls\":[{\"index\":0,"
                            "\"id\":\"call_%V\",\"type\":\"function\","
                            "\"function\":{\"name\":\"%V\","
                            "\"arguments\":\"\"}}]",
                            &ctx->id, &ctx->tool);

        } else {
            p = ngx_cpymem(p, "\"\"", 2);
        }

        p = ngx_sprintf(p, "},\"logprobs\":null,\"finish_reason\":null}]%s"
                        "}\n\n",
                        ctx->include_usage ? ",\"usage\":null" : "");
    }

    return p;
}


/* content events from..from+n-1: a chunk of each choice, or a delta */

u_char *
ngx_http_llm_route_mock_event(ngx_http_llm_route_mock_ctx_t *ctx, u_char *p,
    ngx_uint_t from, ngx_uint_t n)
{
    ngx_uint_t  i, c, k, end, len;

    end = ngx_min(from + n, ctx->events);

    for (i = from; i < end; i++) {
        k = i * ctx->chunk;
        len = ngx_min(ctx->chunk, ctx->tokens - k);

        if (ctx->endpoint == LLR_API_RESPONSES) {
            if (ctx->call) {
                p = ngx_http_llm_route_mock_resp_event(ctx, p,
                                     "response.function_call_arguments.delta");
                p = ngx_sprintf(p, "\"item_id\":\"fc_%V\",\"output_index\":0,"
                                "\"delta\":\"", &ctx->id);

            } else {
                p = ngx_http_llm_route_mock_resp_event(ctx, p,
                                             "response.output_text.delta");
                p = ngx_sprintf(p, "\"item_id\":\"msg_%V\",\"output_index\":0,"
                                "\"content_index\":0,\"delta\":\"", &ctx->id);
            }

            p = ngx_http_llm_route_mock_content(ctx, p, 0, k, len);
            p = ngx_cpymem(p, ctx->call ? "\"}\n\n" : "\",\"logprobs\":[]}\n\n",
                           ctx->call ? 4 : 18);
            continue;
        }

        for (c = 0; c < ctx->n; c++) {
            p = ngx_sprintf(p, "data: %V\"choices\":[{", &ctx->head);

            if (ctx->endpoint != LLR_API_CHAT) {
                p = ngx_cpymem(p, "\"text\":\"", sizeof("\"text\":\"") - 1);
                p = ngx_http_llm_route_mock_content(ctx, p, c, k, len);
                p = ngx_sprintf(p, "\",\"index\":%ui,\"logprobs\":null,", c);

            } else if (ctx->call) {
                p = ngx_sprintf(p, "\"index\":%ui,\"delta\":{\"tool_calls\":"
                                "[{\"index\":0,\"function\":{\"arguments\":"
                                "\"", c);
                p = ngx_http_llm_route_mock_content(ctx, p, c, k, len);
                p = ngx_cpymem(p, "\"}}]},\"logprobs\":null,",
                               sizeof("\"}}]},\"logprobs\":null,") - 1);

            } else {
                p = ngx_sprintf(p, "\"index\":%ui,\"delta\":{\"content\":\"",
                                c);
                p = ngx_http_llm_route_mock_content(ctx, p, c, k, len);
                p = ngx_cpymem(p, "\"},\"logprobs\":null,",
                               sizeof("\"},\"logprobs\":null,") - 1);
            }

            p = ngx_sprintf(p, "\"finish_reason\":null}]%s}\n\n",
                            ctx->include_usage ? ",\"usage\":null" : "");
        }
    }

    return p;
}


/*
 * The events after the content: the finish chunk of each choice, the
 * usage chunk if asked, [DONE]; the Responses API's ...done events and
 * response.completed (or response.incomplete)
 */

u_char *
ngx_http_llm_route_mock_tail(ngx_http_llm_route_mock_ctx_t *ctx, u_char *p)
{
    ngx_uint_t   c;
    const char  *finish;

    if (ctx->endpoint == LLR_API_RESPONSES) {

        if (ctx->call) {
            p = ngx_http_llm_route_mock_resp_event(ctx, p,
                                      "response.function_call_arguments.done");
            p = ngx_sprintf(p, "\"item_id\":\"fc_%V\",\"output_index\":0,"
                            "\"name\":\"%V\",\"arguments\":\"",
                            &ctx->id, &ctx->tool);
            p = ngx_http_llm_route_mock_content(ctx, p, 0, 0, ctx->tokens);
            p = ngx_cpymem(p, "\"}\n\n", 4);

        } else {
            p = ngx_http_llm_route_mock_resp_event(ctx, p,
                                              "response.output_text.done");
            p = ngx_sprintf(p, "\"item_id\":\"msg_%V\",\"output_index\":0,"
                            "\"content_index\":0,\"text\":\"", &ctx->id);
            p = ngx_http_llm_route_mock_content(ctx, p, 0, 0, ctx->tokens);
            p = ngx_cpymem(p, "\",\"logprobs\":[]}\n\n",
                           sizeof("\",\"logprobs\":[]}\n\n") - 1);

            p = ngx_http_llm_route_mock_resp_event(ctx, p,
                                              "response.content_part.done");
            p = ngx_sprintf(p, "\"item_id\":\"msg_%V\",\"output_index\":0,"
                            "\"content_index\":0,\"part\":{\"type\":"
                            "\"output_text\",\"text\":\"", &ctx->id);
            p = ngx_http_llm_route_mock_content(ctx, p, 0, 0, ctx->tokens);
            p = ngx_cpymem(p, "\",\"annotations\":[],\"logprobs\":[]}}\n\n",
                           sizeof("\",\"annotations\":[],\"logprobs\":[]}}"
                                  "\n\n") - 1);
        }

        p = ngx_http_llm_route_mock_item_event(ctx, p,
                                               "response.output_item.done",
                                               1);

        return ngx_http_llm_route_mock_response_event(ctx, p, ctx->length
                                                      ? "response.incomplete"
                                                      : "response.completed",
                                                      NULL);
    }

    finish = ctx->call ? "tool_calls" : ctx->length ? "length" : "stop";

    for (c = 0; c < ctx->n; c++) {
        if (ctx->endpoint == LLR_API_CHAT) {
            p = ngx_sprintf(p, "data: %V\"choices\":[{\"index\":%ui,"
                            "\"delta\":{},\"logprobs\":null,"
                            "\"finish_reason\":\"%s\"}]%s}\n\n",
                            &ctx->head, c, finish,
                            ctx->include_usage ? ",\"usage\":null" : "");

        } else {
            p = ngx_sprintf(p, "data: %V\"choices\":[{\"text\":\"\","
                            "\"index\":%ui,\"logprobs\":null,"
                            "\"finish_reason\":\"%s\"}]%s}\n\n",
                            &ctx->head, c, finish,
                            ctx->include_usage ? ",\"usage\":null" : "");
        }
    }

    if (ctx->include_usage) {
        p = ngx_sprintf(p, "data: %V\"choices\":[],\"usage\":"
                        "{\"prompt_tokens\":%ui,\"completion_tokens\":%ui,"
                        "\"total_tokens\":%ui}}\n\n",
                        &ctx->head, ctx->prompt_tokens, ctx->n * ctx->tokens,
                        ctx->prompt_tokens + ctx->n * ctx->tokens);
    }

    return ngx_cpymem(p, "data: [DONE]\n\n", sizeof("data: [DONE]\n\n") - 1);
}


/*
 * The content of choice c, tokens from..from+n-1, escaped: the words
 * (choice c starts at word c of the list; a space before all but the
 * first), or 4 bytes a token of the JSON answer
 */

static u_char *
ngx_http_llm_route_mock_content(ngx_http_llm_route_mock_ctx_t *ctx,
    u_char *p, ngx_uint_t choice, ngx_uint_t from, ngx_uint_t n)
{
    size_t  a, b;

    if (ctx->text.len == 0) {
        if (from && n) {
            *p++ = ' ';
        }

        return ngx_http_llm_route_mock_words(p, choice + from, n);
    }

    a = ngx_min(from * NGX_HTTP_LLM_ROUTE_MOCK_TEXT_TOKEN, ctx->text.len);
    b = ngx_min((from + n) * NGX_HTTP_LLM_ROUTE_MOCK_TEXT_TOKEN,
                ctx->text.len);

    return p + llr_json_escape(p, ctx->text.data + a, b - a);
}


u_char *
ngx_http_llm_route_mock_words(u_char *p, ngx_uint_t from, ngx_uint_t n)
{
    ngx_str_t   *w;
    ngx_uint_t   i;

    for (i = from; i < from + n; i++) {
        if (i != from) {
            *p++ = ' ';
        }

        w = &ngx_http_llm_route_mock_word_list[i
                                           % NGX_HTTP_LLM_ROUTE_MOCK_NWORDS];
        p = ngx_cpymem(p, w->data, w->len);
    }

    return p;
}
