
/*
 * ngx_llm_route_module: llm_route_mock, a built-in OpenAI-compatible
 * provider for demos, tests and benchmarks, as a module of its own.
 *
 *     location /v1/ { llm_route_mock [delay=TIME] [ttft=TIME] [tps=N]
 *                                    [tokens=N] [chunk=N] [model=NAME]; }
 *
 * Chat completions and responses (JSON and SSE), legacy completions,
 * embeddings (float or base64) and models, with deterministic token
 * counts and simulated timing (delay, time to first token, tokens per
 * second); n choices, tool calls a tool_choice requires and JSON answers
 * to response formats (core/llr_mock).  X-Mock-* request headers
 * override the settings.  The rules are documented in docs/mock.md.
 *
 * This file: the module, the directive, the content handler; what the
 * answer will be is planned in mock_plan.c, sent in mock_send.c, and
 * written in mock_text.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_reply.h"
#include "ngx_http_llm_route_mock_ctx.h"
#include "ngx_http_llm_route_mock_plan.h"
#include "ngx_http_llm_route_mock_send.h"


static void *ngx_http_llm_route_mock_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llm_route_mock(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_llm_route_mock_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route_mock_overrides(ngx_http_request_t *r,
    ngx_http_llm_route_mock_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_mock_models(ngx_http_request_t *r,
    ngx_http_llm_route_mock_conf_t *mcf);
static void ngx_http_llm_route_mock_body_handler(ngx_http_request_t *r);
static void ngx_http_llm_route_mock_cleanup(void *data);


static ngx_command_t  ngx_http_llm_route_mock_commands[] = {

    { ngx_string("llm_route_mock"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_llm_route_mock,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llm_route_mock_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llm_route_mock_create_loc_conf, /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_llm_route_mock_module = {
    NGX_MODULE_V1,
    &ngx_http_llm_route_mock_module_ctx,   /* module context */
    ngx_http_llm_route_mock_commands,      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_llm_route_mock_json_type =
    ngx_string("application/json");


/* the settings of one location, not inherited: set by the directive */

static void *
ngx_http_llm_route_mock_create_loc_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_mock_conf_t));
}


static char *
ngx_http_llm_route_mock(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_mock_conf_t *mcf = conf;

    size_t                           len;
    ngx_int_t                        n;
    ngx_str_t                       *value, v;
    ngx_uint_t                       i;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_llm_route_loc_conf_t   *llcf;

    if (mcf->enable) {
        return "is duplicate";
    }

    mcf->enable = 1;
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

    /* the location answers itself: llm_route on, inherited, routes nothing */

    llcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_llm_route_module);
    llcf->answers = 1;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* the content handler */

static ngx_int_t
ngx_http_llm_route_mock_handler(ngx_http_request_t *r)
{
    u_char                          *end;
    ngx_int_t                        rc;
    llr_api_e                        ep;
    ngx_pool_cleanup_t              *cln;
    ngx_http_llm_route_mock_ctx_t   *ctx;
    ngx_http_llm_route_mock_conf_t  *mcf;
    u_char                           msg[128];

    mcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_mock_module);

    /* the endpoint: the end of the URI */

    ep = llr_api_of_path(r->uri.data, r->uri.len);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: mock \"%V\" endpoint %d", &r->uri, ep);

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

    ngx_http_set_ctx(r, ctx, ngx_http_llm_route_mock_module);

    ctx->request = r;
    ctx->conf = mcf;
    ctx->endpoint = ep;
    ctx->delay = mcf->delay;
    ctx->ttft = mcf->ttft;
    ctx->tps = mcf->tps;
    ctx->tokens = mcf->tokens;
    ctx->chunk = mcf->chunk;
    ctx->cut = -1;

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
                       "llm_route: mock override \"%V: %V\"",
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

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_route_mock_module);
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


static void
ngx_http_llm_route_mock_cleanup(void *data)
{
    ngx_http_llm_route_mock_ctx_t  *ctx = data;

    if (ctx->timer.timer_set) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "llm_route: mock cleanup, timer deleted");
        ngx_del_timer(&ctx->timer);
    }
}
