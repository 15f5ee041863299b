
/*
 * ngx_llm_route_module: what the mock answers a request (llm_route_mock).
 *
 * The body is scanned with the router's scanner (its model, stream,
 * max_tokens, and its text: 3 prompt tokens a message and one a word),
 * then parsed whole for what shapes the answer (n, tools, response
 * formats: core/llr_mock).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_body.h"
#include "ngx_http_llm_route_mock_plan.h"
#include "ngx_http_llm_route_mock_text.h"
#include "llr_mock.h"


static void ngx_http_llm_route_mock_message_begin(void *data,
    const char *role, size_t turn);
static void ngx_http_llm_route_mock_text(void *data, const unsigned char *s,
    size_t len);
static ngx_int_t ngx_http_llm_route_mock_plan(
    ngx_http_llm_route_mock_ctx_t *ctx, const u_char *body, size_t len);
static ngx_int_t ngx_http_llm_route_mock_prepare(
    ngx_http_llm_route_mock_ctx_t *ctx, llr_req_t *rq);
static ngx_int_t ngx_http_llm_route_mock_sizes(
    ngx_http_llm_route_mock_ctx_t *ctx);


ngx_int_t
ngx_http_llm_route_mock_scan(ngx_http_llm_route_mock_ctx_t *ctx)
{
    ngx_str_t             body;
    ngx_int_t             rc;
    llr_req_t            *rq;
    llr_alloc_t           alloc;
    llr_req_err_e         err;
    llr_text_sink_t       sink;
    ngx_http_request_t   *r;
    const char           *msg;

    r = ctx->request;

    if (ctx->endpoint == LLR_API_EMBEDDINGS) {
        ctx->hashes = ngx_array_create(r->pool, 4, sizeof(uint32_t));
        if (ctx->hashes == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_http_llm_route_pool_alloc(r->pool, &alloc);

    sink.message_begin = ngx_http_llm_route_mock_message_begin;
    sink.text = ngx_http_llm_route_mock_text;
    sink.message_end = NULL;
    sink.ctx = ctx;

    rq = llr_req_create(&alloc, llr_api_body(ctx->endpoint), NULL, &sink);
    if (rq == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the body in one piece of memory: the plan parses it whole */

    if (ngx_http_llm_route_body_flat(r, &body) != NGX_OK) {
        llr_req_destroy(rq);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = llr_req_feed(rq, body.data, body.len);

    if (err == LLR_REQ_OK) {
        err = llr_req_finish(rq);
    }

    if (err != LLR_REQ_OK) {
        rc = NGX_HTTP_BAD_REQUEST;

        if (err == LLR_REQ_ERR_NOMEM || err == LLR_REQ_ERR_OUTPUT) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        msg = llr_req_error_message(rq);
        if (msg == NULL) {
            msg = "invalid request body";
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: mock bad body: %s", msg);

        /* the scanner owns its messages: copy them */

        ctx->error.len = ngx_strlen(msg);
        ctx->error.data = ngx_pnalloc(r->pool, ctx->error.len);

        if (ctx->error.data) {
            ngx_memcpy(ctx->error.data, msg, ctx->error.len);

        } else {
            ctx->error.len = 0;
        }

        msg = llr_req_error_param(rq);

        if (msg) {
            ctx->error_param = ngx_pnalloc(r->pool, ngx_strlen(msg) + 1);

            if (ctx->error_param) {
                ngx_cpystrn((u_char *) ctx->error_param, (u_char *) msg,
                            ngx_strlen(msg) + 1);
            }
        }

        llr_req_destroy(rq);
        return rc;
    }

    rc = ngx_http_llm_route_mock_plan(ctx, body.data, body.len);

    if (rc == NGX_OK) {
        rc = ngx_http_llm_route_mock_prepare(ctx, rq);
    }

    llr_req_destroy(rq);

    return rc;
}


/*
 * prompt tokens: 3 per message (a completions prompt, an embeddings
 * input and responses instructions are one message each) plus 1 per
 * word, a word being a run of non-whitespace bytes in one JSON string
 */

static void
ngx_http_llm_route_mock_message_begin(void *data, const char *role,
    size_t turn)
{
    ngx_http_llm_route_mock_ctx_t  *ctx = data;

    ctx->prompt_tokens += NGX_HTTP_LLM_ROUTE_MOCK_MSG_TOKENS;
}


static void
ngx_http_llm_route_mock_text(void *data, const unsigned char *s, size_t len)
{
    ngx_http_llm_route_mock_ctx_t  *ctx = data;

    size_t      i;
    uint32_t   *h;
    ngx_uint_t  words, word;

    words = 0;
    word = 0;

    for (i = 0; i < len; i++) {
        switch (s[i]) {

        case ' ': case '\t': case '\n': case '\r': case '\v': case '\f':
            word = 0;
            break;

        default:
            if (!word) {
                words++;
                word = 1;
            }
        }
    }

    ctx->prompt_tokens += words;

    if (ctx->hashes) {
        h = ngx_array_push(ctx->hashes);
        if (h) {
            *h = llr_fnv1a32(LLR_FNV1A32_INIT, s, len);
        }
    }
}


/*
 * What of the request shapes the answer (core/llr_mock): n, base64
 * embeddings, and the text of a tool call the request requires or of a
 * JSON answer it asks for (an instance of the schema)
 */

static ngx_int_t
ngx_http_llm_route_mock_plan(ngx_http_llm_route_mock_ctx_t *ctx,
    const u_char *body, size_t len)
{
    size_t               n;
    u_char              *p;
    llr_alloc_t          alloc;
    llr_jv_doc_t        *doc;
    const char          *msg, *param;
    llr_mock_plan_t      plan;
    const llr_jv_t      *schema;
    ngx_http_request_t  *r;

    r = ctx->request;
    ctx->n = 1;

    ngx_http_llm_route_pool_alloc(r->pool, &alloc);

    doc = llr_jv_parse(&alloc, body, len, llr_mock_wanted, &msg);

    if (doc == NULL) {
        /* the request scanner took the body: only memory can fail */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: mock plan: %s", msg);

        return (msg && ngx_strcmp(msg, "out of memory") == 0)
               ? NGX_HTTP_INTERNAL_SERVER_ERROR : NGX_OK;
    }

    param = NULL;
    msg = llr_mock_plan(&plan, doc->root,
                        ctx->endpoint == LLR_API_RESPONSES,
                        &param);

    if (msg) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: mock bad request: %s", msg);

        ctx->error.data = (u_char *) msg;
        ctx->error.len = ngx_strlen(msg);
        ctx->error_param = (char *) param;
        llr_jv_free(doc);
        return NGX_HTTP_BAD_REQUEST;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: mock n %ui, base64 %d, json %d, tool %d",
                   (ngx_uint_t) plan.n, plan.base64, plan.json,
                   plan.tool != NULL);

    if (ctx->endpoint == LLR_API_CHAT
        || ctx->endpoint == LLR_API_COMPLETIONS)
    {
        ctx->n = plan.n;
    }

    ctx->base64 = (ctx->endpoint == LLR_API_EMBEDDINGS
                   && plan.base64);

    if ((ctx->endpoint != LLR_API_CHAT
         && ctx->endpoint != LLR_API_RESPONSES)
        || (plan.tool == NULL && !plan.json))
    {
        llr_jv_free(doc);
        return NGX_OK;
    }

    if (plan.tool) {
        ctx->call = 1;

        n = llr_json_escape_len((u_char *) plan.tool->str, plan.tool->len);

        ctx->tool.data = ngx_pnalloc(r->pool, n);
        if (ctx->tool.data == NULL) {
            llr_jv_free(doc);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->tool.len = llr_json_escape(ctx->tool.data,
                                        (u_char *) plan.tool->str,
                                        plan.tool->len);
    }

    if (plan.tool == NULL && plan.schema == NULL) {
        /* json_object: the words in an object, made with them */
        ctx->json_object = 1;
        llr_jv_free(doc);
        return NGX_OK;
    }

    schema = plan.tool ? plan.tool_params : plan.schema;

    n = llr_schema_instance(schema, NULL, 0);

    if (n == (size_t) -1 || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_TEXT) {
        ngx_str_set(&ctx->error, "llm_route_mock: the JSON schema asks for "
                                 "too large a value");
        ctx->error_param = plan.tool ? "tools" : "response_format";
        llr_jv_free(doc);
        return NGX_HTTP_BAD_REQUEST;
    }

    p = ngx_pnalloc(r->pool, n);
    if (p == NULL) {
        llr_jv_free(doc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->text.data = p;
    ctx->text.len = llr_schema_instance(schema, (char *) p, n);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: mock %s, %uz bytes: \"%V\"",
                   plan.tool ? "tool call" : "JSON answer", ctx->text.len,
                   &ctx->text);

    llr_jv_free(doc);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_mock_prepare(ngx_http_llm_route_mock_ctx_t *ctx,
    llr_req_t *rq)
{
    u_char                  *p;
    size_t                   len;
    ngx_uint_t               c;
    ngx_connection_t        *conn;
    ngx_http_request_t      *r;
    const llr_req_view_t    *view;

    r = ctx->request;
    conn = r->connection;
    view = llr_req_view(rq);

    /* the model, escaped once */

    if (view->model && view->model_len) {
        len = llr_json_escape_len((u_char *) view->model, view->model_len);

        ctx->model.data = ngx_pnalloc(r->pool, len);
        if (ctx->model.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->model.len = llr_json_escape(ctx->model.data,
                                         (u_char *) view->model,
                                         view->model_len);

    } else {
        ngx_str_set(&ctx->model, "mock-model");
    }

    ctx->stream = (view->stream == 1
                   && ctx->endpoint != LLR_API_EMBEDDINGS);
    ctx->include_usage = (view->include_usage == 1);

    /* completion tokens, of each choice */

    c = ctx->tokens;

    if (view->max_tokens >= 0 && (uint64_t) view->max_tokens < c) {
        c = (ngx_uint_t) view->max_tokens;
        ctx->length = 1;
    }

    if (ctx->endpoint == LLR_API_EMBEDDINGS) {
        c = 0;
    }

    if (ctx->json_object) {
        /* {"text":"<the words>"} */

        p = ngx_pnalloc(r->pool, sizeof("{\"text\":\"\"}") - 1
                        + c * (NGX_HTTP_LLM_ROUTE_MOCK_WORD_MAX + 1));
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->text.data = p;
        p = ngx_cpymem(p, "{\"text\":\"", sizeof("{\"text\":\"") - 1);
        p = ngx_http_llm_route_mock_words(p, 0, c);
        p = ngx_cpymem(p, "\"}", 2);
        ctx->text.len = p - ctx->text.data;
    }

    if (ctx->text.len) {
        /* a JSON answer is whole: 4 bytes a token */
        c = (ctx->text.len + NGX_HTTP_LLM_ROUTE_MOCK_TEXT_TOKEN - 1)
            / NGX_HTTP_LLM_ROUTE_MOCK_TEXT_TOKEN;
        ctx->length = 0;
        ctx->text_size = llr_json_escape_len(ctx->text.data, ctx->text.len);

    } else {
        ctx->text_size = c * (NGX_HTTP_LLM_ROUTE_MOCK_WORD_MAX + 1);
    }

    ctx->tokens = c;
    ctx->events = (c + ctx->chunk - 1) / ctx->chunk;

    /* the id and the head of every stream event */

    ctx->id.data = ngx_pnalloc(r->pool, sizeof("chatcmpl-mock--")
                                        + 2 * NGX_ATOMIC_T_LEN);
    if (ctx->id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ctx->endpoint) {

    case LLR_API_CHAT:
        p = ngx_sprintf(ctx->id.data, "chatcmpl-mock-%uA-%ui",
                        conn->number, conn->requests);
        break;

    case LLR_API_COMPLETIONS:
        p = ngx_sprintf(ctx->id.data, "cmpl-mock-%uA-%ui",
                        conn->number, conn->requests);
        break;

    default:
        p = ngx_sprintf(ctx->id.data, "resp_mock-%uA-%ui",
                        conn->number, conn->requests);
        break;
    }

    ctx->id.len = p - ctx->id.data;

    if (!ctx->stream) {
        return NGX_OK;
    }

    return ngx_http_llm_route_mock_sizes(ctx);
}


/*
 * A stream: the head of its chunks, and the bounds of its buffers (a
 * content event; the events before and after them)
 */

static ngx_int_t
ngx_http_llm_route_mock_sizes(ngx_http_llm_route_mock_ctx_t *ctx)
{
    u_char              *p;
    size_t               len, event;
    ngx_http_request_t  *r;

    r = ctx->request;

    /* bounds: a content event, the events before and after them */

    event = NGX_HTTP_LLM_ROUTE_MOCK_EVENT
            + ctx->chunk * (NGX_HTTP_LLM_ROUTE_MOCK_WORD_MAX + 1);

    if (ctx->endpoint == LLR_API_RESPONSES) {
        /* an event, or the response object, without the text */
        len = NGX_HTTP_LLM_ROUTE_MOCK_FIXED + 3 * ctx->id.len
              + ctx->model.len + ctx->tool.len;

        /* the text is in 5 places of the last events (and the id) */
        ctx->event_size = event + ctx->id.len + NGX_HTTP_LLM_ROUTE_MOCK_EVENT;
        ctx->base_size = 4 * len;
        ctx->tail_size = 6 * (len + ctx->text_size);

        return NGX_OK;
    }

    len = sizeof("{\"id\":\"\",\"object\":\"chat.completion.chunk\","
                 "\"created\":,\"model\":\"\",") - 1
          + ctx->id.len + NGX_TIME_T_LEN + ctx->model.len;

    ctx->head.data = ngx_pnalloc(r->pool, len);
    if (ctx->head.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(ctx->head.data,
                    "{\"id\":\"%V\",\"object\":\"%s\",\"created\":%T,"
                    "\"model\":\"%V\",",
                    &ctx->id,
                    ctx->endpoint == LLR_API_CHAT
                    ? "chat.completion.chunk" : "text_completion",
                    ngx_time(), &ctx->model);

    ctx->head.len = p - ctx->head.data;

    len = sizeof("data: ") - 1 + ctx->head.len;

    ctx->event_size = ctx->n * (len + event);
    ctx->base_size = ctx->n * (len + NGX_HTTP_LLM_ROUTE_MOCK_EVENT_MAX
                               + ctx->id.len + ctx->tool.len);
    ctx->tail_size = ctx->base_size + len + NGX_HTTP_LLM_ROUTE_MOCK_EVENT_MAX;

    return NGX_OK;
}
