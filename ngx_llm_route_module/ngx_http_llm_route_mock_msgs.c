
/*
 * ngx_llm_route_module: llm_route_mock as an Anthropic Messages provider,
 * the request (POST .../messages, .../messages/count_tokens): its
 * parameters, the headers anthropic_headers=on asks for, the body checked
 * and counted in core/llr_mock (llr_mock_msgs), then planned as chat's
 * (mock_plan.c).  The answer's bytes are in mock_msgs_text.c;
 * docs/mock.md has the rules.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_body.h"
#include "ngx_http_llm_route_mock_msgs.h"
#include "ngx_http_llm_route_mock_plan.h"
#include "llr_mock.h"


ngx_int_t
ngx_http_llm_route_mock_msgs_param(ngx_http_llm_route_mock_conf_t *mcf,
    ngx_str_t *value)
{
    ngx_int_t    n;
    ngx_str_t    v;
    ngx_flag_t  *flag;

    if (value->len > 18
        && ngx_strncmp(value->data, "anthropic_headers=", 18) == 0)
    {
        flag = &mcf->anthropic_headers;
        v.data = value->data + 18;
        v.len = value->len - 18;

    } else if (value->len > 11
               && ngx_strncmp(value->data, "auto_tools=", 11) == 0)
    {
        flag = &mcf->auto_tools;
        v.data = value->data + 11;
        v.len = value->len - 11;

    } else if (value->len > 6 && ngx_strncmp(value->data, "cache=", 6) == 0) {
        v.data = value->data + 6;
        v.len = value->len - 6;

        n = ngx_http_llm_route_mock_msgs_cache(&v);
        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        mcf->cache = n;
        return NGX_OK;

    } else {
        return NGX_DECLINED;
    }

    if (v.len == 2 && ngx_strncmp(v.data, "on", 2) == 0) {
        *flag = 1;
        return NGX_OK;
    }

    if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0) {
        *flag = 0;
        return NGX_OK;
    }

    return NGX_ERROR;
}


/* cache=, X-Mock-Cache: 1 "read", 0 "write", or NGX_ERROR */

ngx_int_t
ngx_http_llm_route_mock_msgs_cache(ngx_str_t *value)
{
    if (value->len == 4
        && ngx_strncasecmp(value->data, (u_char *) "read", 4) == 0)
    {
        return 1;
    }

    if (value->len == 5
        && ngx_strncasecmp(value->data, (u_char *) "write", 5) == 0)
    {
        return 0;
    }

    return NGX_ERROR;
}


/* x-api-key (or Authorization) and anthropic-version, as Anthropic asks */

ngx_uint_t
ngx_http_llm_route_mock_msgs_headers(ngx_http_request_t *r, ngx_str_t *msg)
{
    ngx_uint_t        i, key, version;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    key = (r->headers_in.authorization != NULL);
    version = 0;

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

        if (h[i].value.len == 0) {
            continue;
        }

        if (h[i].key.len == 9
            && ngx_strncasecmp(h[i].key.data, (u_char *) "x-api-key", 9) == 0)
        {
            key = 1;

        } else if (h[i].key.len == 17
                   && ngx_strncasecmp(h[i].key.data,
                                      (u_char *) "anthropic-version", 17)
                      == 0)
        {
            version = 1;
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: mock anthropic headers: key %ui, version %ui",
                   key, version);

    if (!key) {
        ngx_str_set(msg, "x-api-key header is required");
        return NGX_HTTP_UNAUTHORIZED;
    }

    if (!version) {
        ngx_str_set(msg, "anthropic-version: header is required");
        return NGX_HTTP_BAD_REQUEST;
    }

    return 0;
}


ngx_int_t
ngx_http_llm_route_mock_msgs_scan(ngx_http_llm_route_mock_ctx_t *ctx)
{
    size_t               n;
    ngx_int_t            rc;
    ngx_str_t            body;
    llr_alloc_t          alloc;
    llr_jv_doc_t        *doc;
    const char          *msg;
    llr_mock_msgs_t      m;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ngx_http_llm_route_body_flat(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_llm_route_pool_alloc(r->pool, &alloc);

    doc = llr_jv_parse(&alloc, body.data, body.len, NULL, &msg);

    if (doc == NULL) {
        if (msg && ngx_strcmp(msg, "out of memory") == 0) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_str_set(&ctx->error, "There was an issue with the request "
                                 "body: it is not valid JSON");
        return NGX_HTTP_BAD_REQUEST;
    }

    msg = llr_mock_msgs(&m, doc->root, ctx->count, ctx->conf->auto_tools);

    if (msg) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: mock bad request: %s", msg);

        ctx->error.data = (u_char *) msg;
        ctx->error.len = ngx_strlen(msg);
        llr_jv_free(doc);
        return NGX_HTTP_BAD_REQUEST;
    }

    ctx->prompt_tokens = m.input;
    ctx->cached_tokens = m.cached;
    ctx->cache_read = (ctx->cache >= 0) ? (ngx_uint_t) ctx->cache
                                      : ctx->conf->cache;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: mock messages: input %uz, cached %uz, "
                   "max_tokens %L, tool %d",
                   m.input, m.cached, m.max_tokens, m.tool != NULL);

    if (m.tool) {
        ctx->call = 1;

        n = llr_json_escape_len((u_char *) m.tool->str, m.tool->len);

        ctx->tool.data = ngx_pnalloc(r->pool, n);
        if (ctx->tool.data == NULL) {
            llr_jv_free(doc);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->tool.len = llr_json_escape(ctx->tool.data,
                                        (u_char *) m.tool->str, m.tool->len);

        rc = ngx_http_llm_route_mock_instance(ctx, m.tool_schema, "tools");
        if (rc != NGX_OK) {
            llr_jv_free(doc);
            return rc;
        }
    }

    rc = ngx_http_llm_route_mock_prepare(ctx, m.model->str, m.model->len,
                                         m.stream, 0, m.max_tokens);

    llr_jv_free(doc);

    return rc;
}
