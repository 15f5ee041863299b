
/*
 * ngx_llm_route_module: llm_route_mock, a built-in OpenAI-compatible
 * provider for demos, tests and benchmarks.
 *
 * Chat completions and responses (JSON and SSE), legacy completions,
 * embeddings (float or base64) and models, with deterministic token
 * counts and simulated timing (delay, time to first token, tokens per
 * second); n choices, tool calls a tool_choice requires and JSON answers
 * to response formats (core/llr_mock).  The rules are documented in
 * docs/mock.md.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_module.h"
#include "ngx_http_llm_route_reply.h"
#include "ngx_http_llm_route_body.h"
#include "llr_mock.h"


#define NGX_HTTP_LLM_ROUTE_MOCK_TOKENS      16
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_TOKENS  100000
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_CHUNK   1024
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_TPS     1000000
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_TIME    3600000
#define NGX_HTTP_LLM_ROUTE_MOCK_BATCH       16
#define NGX_HTTP_LLM_ROUTE_MOCK_WORD_MAX    11
#define NGX_HTTP_LLM_ROUTE_MOCK_DIMS        8
#define NGX_HTTP_LLM_ROUTE_MOCK_MSG_TOKENS  3

/* room for the fixed parts of one event, and of one JSON answer */
#define NGX_HTTP_LLM_ROUTE_MOCK_EVENT       192
#define NGX_HTTP_LLM_ROUTE_MOCK_EVENT_MAX   256
#define NGX_HTTP_LLM_ROUTE_MOCK_FIXED       1024

/* bytes of JSON answer text per token (what llr_estimate_tokens counts) */
#define NGX_HTTP_LLM_ROUTE_MOCK_TEXT_TOKEN  4

/* the largest JSON answer (a schema instance, tool call arguments) */
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_TEXT    (256 * 1024)


typedef struct {
    ngx_msec_t                       delay;
    ngx_msec_t                       ttft;
    ngx_uint_t                       tps;
    ngx_uint_t                       tokens;
    ngx_uint_t                       chunk;
    ngx_str_t                        model;    /* JSON-escaped */
} ngx_http_llm_route_mock_conf_t;


typedef struct {
    ngx_http_request_t              *request;
    ngx_http_llm_route_mock_conf_t  *conf;
    llr_api_e                        endpoint;

    /* settings after the X-Mock-* overrides */
    ngx_msec_t                       delay;
    ngx_msec_t                       ttft;
    ngx_uint_t                       tps;
    ngx_uint_t                       tokens;   /* completion tokens */
    ngx_uint_t                       chunk;
    ngx_int_t                        cut;      /* -1: no cut */
    ngx_uint_t                       status;   /* 0: no override */
    ngx_str_t                        retry_after;

    /* a bad request: the message and the parameter for the client */
    ngx_str_t                        error;
    char                            *error_param;

    /* the request */
    ngx_str_t                        model;    /* JSON-escaped */
    ngx_uint_t                       prompt_tokens;
    ngx_array_t                     *hashes;   /* embeddings inputs */
    ngx_uint_t                       n;        /* choices */
    ngx_str_t                        text;     /* a JSON answer or tool
                                                  call arguments (ASCII),
                                                  or empty: words */
    ngx_str_t                        tool;     /* the function to call,
                                                  JSON-escaped */

    /* the answer */
    ngx_str_t                        id;
    ngx_str_t                        head;     /* '{"id":...,"model":"M",' */
    ngx_uint_t                       events;   /* content events */
    ngx_uint_t                       sent;
    ngx_uint_t                       seq;      /* Responses events */
    size_t                           event_size;
    size_t                           base_size;
    size_t                           tail_size;
    size_t                           text_size; /* the answer, escaped */
    ngx_msec_t                       start;

    ngx_event_t                      timer;
    ngx_chain_t                     *free;
    ngx_chain_t                     *busy;

    unsigned                         stream:1;
    unsigned                         include_usage:1;
    unsigned                         base64:1; /* embeddings as base64 */
    unsigned                         call:1;   /* a tool call */
    unsigned                         json_object:1; /* {"text":...} */
    unsigned                         length:1; /* cut by max_tokens */
    unsigned                         headers:1; /* waiting for headers */
    unsigned                         started:1; /* content has begun */
    unsigned                         closing:1; /* X-Mock-Cut: close */
    unsigned                         blocked:1; /* waits for the client */
} ngx_http_llm_route_mock_ctx_t;


static ngx_int_t ngx_http_llm_route_mock_overrides(ngx_http_request_t *r,
    ngx_http_llm_route_mock_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_mock_models(ngx_http_request_t *r,
    ngx_http_llm_route_mock_conf_t *mcf);
static void ngx_http_llm_route_mock_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route_mock_scan(
    ngx_http_llm_route_mock_ctx_t *ctx);
static void ngx_http_llm_route_mock_message_begin(void *data,
    const char *role, size_t turn);
static void ngx_http_llm_route_mock_text(void *data, const unsigned char *s,
    size_t len);
static ngx_int_t ngx_http_llm_route_mock_plan(
    ngx_http_llm_route_mock_ctx_t *ctx, const u_char *body, size_t len);
static ngx_int_t ngx_http_llm_route_mock_prepare(
    ngx_http_llm_route_mock_ctx_t *ctx, llr_req_t *rq);
static ngx_int_t ngx_http_llm_route_mock_respond(
    ngx_http_llm_route_mock_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_mock_json(
    ngx_http_llm_route_mock_ctx_t *ctx);
static u_char *ngx_http_llm_route_mock_embeddings(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p);
static ngx_int_t ngx_http_llm_route_mock_stream(
    ngx_http_llm_route_mock_ctx_t *ctx);
static u_char *ngx_http_llm_route_mock_event(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, ngx_uint_t from,
    ngx_uint_t n);
static u_char *ngx_http_llm_route_mock_head(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p);
static u_char *ngx_http_llm_route_mock_tail(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p);
static u_char *ngx_http_llm_route_mock_content(
    ngx_http_llm_route_mock_ctx_t *ctx, u_char *p, ngx_uint_t choice,
    ngx_uint_t from, ngx_uint_t n);
static u_char *ngx_http_llm_route_mock_words(u_char *p, ngx_uint_t from,
    ngx_uint_t n);
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
static ngx_int_t ngx_http_llm_route_mock_cut(
    ngx_http_llm_route_mock_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_llm_route_mock_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, const char *param,
    const char *code, u_char *msg, size_t len, ngx_str_t *retry_after);
static void ngx_http_llm_route_mock_timer_handler(ngx_event_t *ev);
static void ngx_http_llm_route_mock_writer(ngx_http_request_t *r);
static void ngx_http_llm_route_mock_wait(ngx_http_llm_route_mock_ctx_t *ctx,
    ngx_msec_t delay);
static ngx_http_llm_route_mock_ctx_t *ngx_http_llm_route_mock_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_llm_route_mock_cleanup(void *data);


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


static ngx_str_t  ngx_http_llm_route_mock_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_llm_route_mock_sse_type =
    ngx_string("text/event-stream");


/* the directive */

char *
ngx_http_llm_route_mock(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_loc_conf_t  *llcf = conf;

    size_t                           len;
    ngx_int_t                        n;
    ngx_str_t                       *value, v;
    ngx_uint_t                       i;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_llm_route_mock_conf_t  *mcf;

    if (llcf->mock != NULL && llcf->mock != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_mock_conf_t));
    if (mcf == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->tokens = NGX_HTTP_LLM_ROUTE_MOCK_TOKENS;
    mcf->chunk = 1;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "ttft=", 5) == 0
            || ngx_strncmp(value[i].data, "delay=", 6) == 0)
        {
            len = value[i].data[0] == 't' ? 5 : 6;

            v.data = value[i].data + len;
            v.len = value[i].len - len;

            n = ngx_parse_time(&v, 0);
            if (n == NGX_ERROR || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_TIME) {
                goto invalid;
            }

            if (len == 5) {
                mcf->ttft = (ngx_msec_t) n;

            } else {
                mcf->delay = (ngx_msec_t) n;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "tps=", 4) == 0) {
            n = ngx_atoi(value[i].data + 4, value[i].len - 4);
            if (n == NGX_ERROR || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_TPS) {
                goto invalid;
            }

            mcf->tps = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "tokens=", 7) == 0) {
            n = ngx_atoi(value[i].data + 7, value[i].len - 7);
            if (n == NGX_ERROR || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_TOKENS) {
                goto invalid;
            }

            mcf->tokens = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "chunk=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n == NGX_ERROR || n == 0
                || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_CHUNK)
            {
                goto invalid;
            }

            mcf->chunk = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "model=", 6) == 0) {
            if (value[i].len == 6) {
                goto invalid;
            }

            len = llr_json_escape_len(value[i].data + 6, value[i].len - 6);

            mcf->model.data = ngx_pnalloc(cf->pool, len);
            if (mcf->model.data == NULL) {
                return NGX_CONF_ERROR;
            }

            mcf->model.len = llr_json_escape(mcf->model.data,
                                             value[i].data + 6,
                                             value[i].len - 6);
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_llm_route_mock_handler;

    llcf->mock = mcf;
    llcf->answers = 1;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* the content handler */

ngx_int_t
ngx_http_llm_route_mock_handler(ngx_http_request_t *r)
{
    u_char                          *end;
    ngx_int_t                        rc;
    llr_api_e                        ep;
    ngx_pool_cleanup_t              *cln;
    ngx_http_llm_route_mock_ctx_t   *ctx;
    ngx_http_llm_route_mock_conf_t  *mcf;
    ngx_http_llm_route_loc_conf_t   *llcf;
    u_char                           msg[128];

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);
    mcf = llcf->mock;

    /* the endpoint: the end of the URI */

    ep = llr_api_of_path(r->uri.data, r->uri.len);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route_mock: \"%V\" endpoint %d", &r->uri, ep);

    if (ep == LLR_API_UNKNOWN) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        end = ngx_snprintf(msg, sizeof(msg), "Unknown request URL: %V %V",
                           &r->method_name, &r->uri);

        return ngx_http_llm_route_mock_error(r, NGX_HTTP_NOT_FOUND,
                                             "invalid_request_error", NULL,
                                             "unknown_url", msg, end - msg,
                                             NULL);
    }

    if (ep == LLR_API_MODELS) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            goto not_allowed;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_llm_route_mock_models(r, mcf);
    }

    if (r->method != NGX_HTTP_POST) {
        goto not_allowed;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_route_mock_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_llm_route_mock_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ctx->conf = mcf;
    ctx->endpoint = ep;
    ctx->delay = mcf->delay;
    ctx->ttft = mcf->ttft;
    ctx->tps = mcf->tps;
    ctx->tokens = mcf->tokens;
    ctx->chunk = mcf->chunk;
    ctx->cut = -1;

    ctx->timer.handler = ngx_http_llm_route_mock_timer_handler;
    ctx->timer.data = ctx;
    ctx->timer.log = r->connection->log;

    if (ngx_http_llm_route_mock_overrides(r, ctx) != NGX_OK) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_llm_route_mock_error(r, NGX_HTTP_BAD_REQUEST,
                                   "invalid_request_error", NULL, NULL,
                                   (u_char *) "llm_route_mock: invalid "
                                   "X-Mock-* request header",
                                   sizeof("llm_route_mock: invalid "
                                          "X-Mock-* request header") - 1,
                                   NULL);
    }

    rc = ngx_http_read_client_request_body(r,
                                         ngx_http_llm_route_mock_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;

not_allowed:

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    end = ngx_snprintf(msg, sizeof(msg), "Method %V not allowed for %V",
                       &r->method_name, &r->uri);

    return ngx_http_llm_route_mock_error(r, NGX_HTTP_NOT_ALLOWED,
                                         "invalid_request_error", NULL,
                                         "method_not_allowed", msg,
                                         end - msg, NULL);
}


static ngx_int_t
ngx_http_llm_route_mock_overrides(ngx_http_request_t *r,
    ngx_http_llm_route_mock_ctx_t *ctx)
{
    u_char           *name;
    size_t            len;
    ngx_int_t         n;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len <= 7
            || ngx_strncasecmp(h[i].key.data, (u_char *) "x-mock-", 7) != 0)
        {
            continue;
        }

        name = h[i].key.data + 7;
        len = h[i].key.len - 7;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route_mock: override \"%V: %V\"",
                       &h[i].key, &h[i].value);

        if (len == 6 && ngx_strncasecmp(name, (u_char *) "status", 6) == 0) {
            n = ngx_atoi(h[i].value.data, h[i].value.len);
            if (n < 400 || n > 599) {
                return NGX_ERROR;
            }

            ctx->status = n;

        } else if (len == 11
                   && ngx_strncasecmp(name, (u_char *) "retry-after", 11)
                      == 0)
        {
            if (ngx_atoi(h[i].value.data, h[i].value.len) == NGX_ERROR) {
                return NGX_ERROR;
            }

            ctx->retry_after = h[i].value;

        } else if (len == 6
                   && ngx_strncasecmp(name, (u_char *) "tokens", 6) == 0)
        {
            n = ngx_atoi(h[i].value.data, h[i].value.len);
            if (n == NGX_ERROR || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_TOKENS) {
                return NGX_ERROR;
            }

            ctx->tokens = n;

        } else if (len == 3
                   && ngx_strncasecmp(name, (u_char *) "tps", 3) == 0)
        {
            n = ngx_atoi(h[i].value.data, h[i].value.len);
            if (n == NGX_ERROR || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_TPS) {
                return NGX_ERROR;
            }

            ctx->tps = n;

        } else if (len == 5
                   && ngx_strncasecmp(name, (u_char *) "chunk", 5) == 0)
        {
            n = ngx_atoi(h[i].value.data, h[i].value.len);
            if (n == NGX_ERROR || n == 0
                || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_CHUNK)
            {
                return NGX_ERROR;
            }

            ctx->chunk = n;

        } else if ((len == 4
                    && ngx_strncasecmp(name, (u_char *) "ttft", 4) == 0)
                   || (len == 5
                       && ngx_strncasecmp(name, (u_char *) "delay", 5) == 0))
        {
            n = ngx_parse_time(&h[i].value, 0);
            if (n == NGX_ERROR || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_TIME) {
                return NGX_ERROR;
            }

            if (len == 4) {
                ctx->ttft = (ngx_msec_t) n;

            } else {
                ctx->delay = (ngx_msec_t) n;
            }

        } else if (len == 3
                   && ngx_strncasecmp(name, (u_char *) "cut", 3) == 0)
        {
            n = ngx_atoi(h[i].value.data, h[i].value.len);
            if (n == NGX_ERROR) {
                return NGX_ERROR;
            }

            ctx->cut = n;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_mock_models(ngx_http_request_t *r,
    ngx_http_llm_route_mock_conf_t *mcf)
{
    size_t        len;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    static u_char  start[] = "{\"object\":\"list\",\"data\":[";
    static u_char  model[] = "{\"id\":\"mock-model\",\"object\":\"model\","
                             "\"created\":0,\"owned_by\":\"llm_route_mock\"}";
    static u_char  other[] = ",{\"id\":\"%V\",\"object\":\"model\","
                             "\"created\":0,\"owned_by\":\"llm_route_mock\"}";

    len = sizeof(start) - 1 + sizeof(model) - 1 + 2;

    if (mcf->model.len) {
        len += sizeof(other) - 1 + mcf->model.len;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, start, sizeof(start) - 1);
    b->last = ngx_cpymem(b->last, model, sizeof(model) - 1);

    if (mcf->model.len) {
        b->last = ngx_sprintf(b->last, (char *) other, &mcf->model);
    }

    *b->last++ = ']';
    *b->last++ = '}';

    out.buf = b;
    out.next = NULL;

    return ngx_http_llm_route_send(r, NGX_HTTP_OK,
                                   &ngx_http_llm_route_mock_json_type, &out);
}


/* the body is read: scan it, then answer now or after the delay */

static void
ngx_http_llm_route_mock_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_msec_t                      wait;
    ngx_http_llm_route_mock_ctx_t  *ctx;

    ctx = ngx_http_llm_route_mock_get_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ctx->status == 0) {
        rc = ngx_http_llm_route_mock_scan(ctx);

        if (rc != NGX_OK && ctx->error.len) {
            rc = ngx_http_llm_route_mock_error(r, rc,
                                         rc == NGX_HTTP_BAD_REQUEST
                                         ? "invalid_request_error"
                                         : "server_error",
                                         ctx->error_param, NULL,
                                         ctx->error.data, ctx->error.len,
                                         NULL);
            ngx_http_finalize_request(r, rc);
            return;
        }

        if (rc != NGX_OK) {
            ngx_http_finalize_request(r, rc);
            return;
        }
    }

    wait = ctx->delay;

    if (ctx->status == 0 && !ctx->stream) {

        /* a JSON answer comes when the last token would have */

        wait += ctx->ttft;

        if (ctx->tps && ctx->events > 1) {
            wait += (ngx_msec_t) ((uint64_t) (ctx->events - 1) * ctx->chunk
                                  * 1000 / ctx->tps);
        }
    }

    if (wait) {
        ctx->headers = 1;
        ngx_http_llm_route_mock_wait(ctx, wait);
        return;
    }

    rc = ngx_http_llm_route_mock_respond(ctx);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
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
                       "llm_route_mock: bad body: %s", msg);

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
                       "llm_route_mock: plan: %s", msg);

        return (msg && ngx_strcmp(msg, "out of memory") == 0)
               ? NGX_HTTP_INTERNAL_SERVER_ERROR : NGX_OK;
    }

    param = NULL;
    msg = llr_mock_plan(&plan, doc->root,
                        ctx->endpoint == LLR_API_RESPONSES,
                        &param);

    if (msg) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route_mock: bad request: %s", msg);

        ctx->error.data = (u_char *) msg;
        ctx->error.len = ngx_strlen(msg);
        ctx->error_param = (char *) param;
        llr_jv_free(doc);
        return NGX_HTTP_BAD_REQUEST;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route_mock: n %ui, base64 %d, json %d, tool %d",
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
                   "llm_route_mock: %s, %uz bytes: \"%V\"",
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
    size_t                   len, event;
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


/* headers (and for JSON the whole answer) after the delay */

static ngx_int_t
ngx_http_llm_route_mock_respond(ngx_http_llm_route_mock_ctx_t *ctx)
{
    u_char              *end;
    ngx_int_t            rc;
    ngx_http_request_t  *r;
    u_char               msg[64];

    r = ctx->request;
    ctx->headers = 0;

    if (ctx->status) {
        end = ngx_snprintf(msg, sizeof(msg),
                           "llm_route_mock: simulated status %ui",
                           ctx->status);

        return ngx_http_llm_route_mock_error(r, ctx->status,
                                   ctx->status == NGX_HTTP_TOO_MANY_REQUESTS
                                   ? "rate_limit_exceeded"
                                   : (ctx->status >= 500 ? "server_error"
                                      : "invalid_request_error"),
                                   NULL,
                                   ctx->status == NGX_HTTP_TOO_MANY_REQUESTS
                                   ? "rate_limit_exceeded" : NULL,
                                   msg, end - msg, &ctx->retry_after);
    }

    if (!ctx->stream) {
        return ngx_http_llm_route_mock_json(ctx);
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ngx_http_llm_route_mock_sse_type;
    r->headers_out.content_type_len = ngx_http_llm_route_mock_sse_type.len;
    ngx_http_clear_content_length(r);

    if (ctx->cut >= 0) {
        r->keepalive = 0;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (ctx->ttft) {
        ngx_http_llm_route_mock_wait(ctx, ctx->ttft);
        return NGX_DONE;
    }

    return ngx_http_llm_route_mock_stream(ctx);
}


static ngx_int_t
ngx_http_llm_route_mock_json(ngx_http_llm_route_mock_ctx_t *ctx)
{
    u_char              *p;
    size_t               len;
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_uint_t           c, i, total;
    ngx_chain_t          out;
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
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
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

    out.buf = b;
    out.next = NULL;

    if (ctx->cut < 0) {
        return ngx_http_llm_route_send(r, NGX_HTTP_OK,
                                       &ngx_http_llm_route_mock_json_type,
                                       &out);
    }

    /* X-Mock-Cut: the whole length announced, its first bytes sent */

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ngx_http_llm_route_mock_json_type;
    r->headers_out.content_type_len = ngx_http_llm_route_mock_json_type.len;
    r->headers_out.content_length_n = b->last - b->pos;
    r->keepalive = 0;

    if ((off_t) ctx->cut < b->last - b->pos) {
        b->last = b->pos + ctx->cut;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->flush = 1;

    if (b->last == b->pos) {
        b->temporary = 0;
        b->sync = 1;
    }

    rc = ngx_http_output_filter(r, &out);

    return ngx_http_llm_route_mock_cut(ctx, rc);
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
 * the stream: the first events (the role chunks; the Responses API's
 * response.created ...) go with the first content event, then content
 * events, each "chunk" tokens of every choice, paced at "tps"; the last
 * content event carries the finish chunks, the usage chunk and [DONE]
 * (the Responses API's ...done events and response.completed)
 */

static ngx_int_t
ngx_http_llm_route_mock_stream(ngx_http_llm_route_mock_ctx_t *ctx)
{
    u_char              *p;
    size_t               size;
    uint64_t             due;
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_uint_t           limit, n, final, tail;
    ngx_msec_t           now, next;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = ctx->request;
    now = ngx_current_msec;

    if (!ctx->started) {
        ctx->start = now;
    }

    limit = ctx->events;

    if (ctx->cut >= 0 && (ngx_uint_t) ctx->cut < limit) {
        limit = ctx->cut;
    }

    if (ctx->tps == 0) {
        n = limit - ctx->sent;

    } else {

        /* event k is due at start + k * chunk / tps */

        due = (uint64_t) (now - ctx->start) * ctx->tps
              / ((uint64_t) ctx->chunk * 1000) + 1;

        if (due > limit) {
            due = limit;
        }

        n = (due > ctx->sent) ? (ngx_uint_t) due - ctx->sent : 0;

        if (n == 0 && ctx->sent < limit) {
            n = 1;
        }

        if (n > NGX_HTTP_LLM_ROUTE_MOCK_BATCH) {
            n = NGX_HTTP_LLM_ROUTE_MOCK_BATCH;
        }
    }

    final = (ctx->sent + n == limit);
    tail = (final && ctx->cut < 0);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route_mock: stream %ui+%ui of %ui events",
                   ctx->sent, n, ctx->events);

    if (ctx->tps == 0 || tail) {

        /* everything at once, or the last events: a buffer of its own */

        size = n * ctx->event_size + ctx->base_size
               + (tail ? ctx->tail_size : 0);

        b = ngx_create_temp_buf(r->pool, size);
        if (b == NULL) {
            return NGX_ERROR;
        }

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        b->tag = (ngx_buf_tag_t) &ngx_http_llm_route_mock_stream;

    } else {

        /* paced: buffers of one size, reused once sent */

        size = NGX_HTTP_LLM_ROUTE_MOCK_BATCH * ctx->event_size
               + ctx->base_size;

        cl = ngx_chain_get_free_buf(r->pool, &ctx->free);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        b = cl->buf;

        if (b->start == NULL) {
            b->start = ngx_palloc(r->pool, size);
            if (b->start == NULL) {
                return NGX_ERROR;
            }

            b->end = b->start + size;
            b->temporary = 1;
            b->tag = (ngx_buf_tag_t) &ngx_http_llm_route_mock_stream;
        }

        b->pos = b->start;
        b->last = b->start;
    }

    cl->next = NULL;

    p = b->last;

    if (!ctx->started) {
        ctx->started = 1;
        p = ngx_http_llm_route_mock_head(ctx, p);
    }

    p = ngx_http_llm_route_mock_event(ctx, p, ctx->sent, n);
    ctx->sent += n;

    if (tail) {
        p = ngx_http_llm_route_mock_tail(ctx, p);

        b->last_buf = (r == r->main) ? 1 : 0;
        b->last_in_chain = 1;

    } else {
        b->last_buf = 0;
        b->last_in_chain = 0;
    }

    b->last = p;
    b->flush = 1;

    /* an empty buffer (a cut at 0 events) is a flush only */
    b->temporary = (b->last != b->pos);

    rc = ngx_http_output_filter(r, cl);

    if (ctx->tps) {
        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &cl,
                                b->tag);
    }

    if (final) {
        if (ctx->cut >= 0) {
            return ngx_http_llm_route_mock_cut(ctx, rc);
        }

        return rc;
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (r->buffered || r->connection->buffered) {
        /*
         * the client does not keep up: no more events until what was
         * written has left (send_timeout applies meanwhile), so that
         * buffers do not pile up
         */

        ctx->blocked = 1;
        r->read_event_handler = ngx_http_test_reading;
        r->write_event_handler = ngx_http_llm_route_mock_writer;
        ngx_http_llm_route_mock_writer(r);
        return NGX_DONE;
    }

    next = ctx->start + (ngx_msec_t) ((uint64_t) ctx->sent * ctx->chunk
                                      * 1000 / ctx->tps);

    ngx_http_llm_route_mock_wait(ctx, (ngx_msec_int_t) (next - now) > 0
                                      ? next - now : 0);

    return NGX_DONE;
}


/*
 * The events before the content: chat's role chunk of each choice (with
 * the tool call's name and id); the Responses API's response.created,
 * response.in_progress, response.output_item.added and, for a message,
 * response.content_part.added
 */

static u_char *
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

static u_char *
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

static u_char *
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


static u_char *
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


/* X-Mock-Cut: close the connection once what was written has left */

static ngx_int_t
ngx_http_llm_route_mock_cut(ngx_http_llm_route_mock_ctx_t *ctx, ngx_int_t rc)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route_mock: cut");

    r->keepalive = 0;

    if (r->buffered || r->connection->buffered) {
        ctx->closing = 1;
        r->read_event_handler = ngx_http_test_reading;
        r->write_event_handler = ngx_http_llm_route_mock_writer;
        ngx_http_llm_route_mock_writer(r);
        return NGX_DONE;
    }

    return NGX_HTTP_CLOSE;
}


/* an OpenAI-shaped error, with Retry-After if it was asked for */

static ngx_int_t
ngx_http_llm_route_mock_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *param, const char *code, u_char *msg,
    size_t len, ngx_str_t *retry_after)
{
    ngx_str_t  message, allow;

    if (retry_after
        && ngx_http_llm_route_add_header(r, "Retry-After", retry_after)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_NOT_ALLOWED) {

        if (llr_api_of_path(r->uri.data, r->uri.len) == LLR_API_MODELS) {
            ngx_str_set(&allow, "GET, HEAD");

        } else {
            ngx_str_set(&allow, "POST");
        }

        if (ngx_http_llm_route_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    message.data = msg;
    message.len = len;

    return ngx_http_llm_route_send_error(r, status, type, param, code,
                                         &message);
}


/* timing */

static void
ngx_http_llm_route_mock_wait(ngx_http_llm_route_mock_ctx_t *ctx,
    ngx_msec_t delay)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route_mock: wait %M", delay);

    /* notice a client that goes away while we wait */

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_llm_route_mock_writer;

    ngx_add_timer(&ctx->timer, delay);
}


static void
ngx_http_llm_route_mock_timer_handler(ngx_event_t *ev)
{
    ngx_int_t                       rc;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_llm_route_mock_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "llm_route_mock: timer");

    if (ctx->headers) {
        rc = ngx_http_llm_route_mock_respond(ctx);

    } else {
        rc = ngx_http_llm_route_mock_stream(ctx);
    }

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }

    ngx_http_run_posted_requests(c);
}


/* the write event while the stream is paced or being cut */

static void
ngx_http_llm_route_mock_writer(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_event_t                    *wev;
    ngx_connection_t               *c;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_llm_route_mock_ctx_t  *ctx;

    c = r->connection;
    wev = c->write;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "llm_route_mock: writer");

    if (wev->timedout) {
        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (!r->header_sent) {
        return;
    }

    ctx = ngx_http_llm_route_mock_get_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    rc = ngx_http_output_filter(r, NULL);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    if (r->buffered || c->buffered) {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (!wev->delayed) {
            ngx_add_timer(wev, clcf->send_timeout);
        }

        if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    if (ctx->closing) {
        ngx_http_finalize_request(r, NGX_HTTP_CLOSE);
        return;
    }

    if (ctx->blocked) {
        /* what was written has left: the stream goes on */
        ctx->blocked = 0;
        ngx_http_llm_route_mock_wait(ctx, 0);
    }
}


static ngx_http_llm_route_mock_ctx_t *
ngx_http_llm_route_mock_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t             *cln;
    ngx_http_llm_route_mock_ctx_t  *ctx;

    /*
     * the module's ctx slot belongs to the router (a location may have
     * both "llm_route on" and "llm_route_mock"): ours is found through
     * its pool cleanup, one of the first few in the list
     */

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_llm_route_mock_cleanup) {
            ctx = cln->data;

            if (ctx->request == r) {
                return ctx;
            }
        }
    }

    return NULL;
}


static void
ngx_http_llm_route_mock_cleanup(void *data)
{
    ngx_http_llm_route_mock_ctx_t  *ctx = data;

    if (ctx->timer.timer_set) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "llm_route_mock: cleanup, timer deleted");
        ngx_del_timer(&ctx->timer);
    }
}
