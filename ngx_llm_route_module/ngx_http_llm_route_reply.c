
/*
 * ngx_llm_route_module: what every handler answers with.
 *
 * Every error the module returns is OpenAI-shaped JSON, so SDKs show it:
 *
 *     {"error":{"message":"...","type":"...","param":...,"code":...}}
 *
 * The same object ends a broken stream (the response filter).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_req.h"
#include "llr_xlate.h"
#include "ngx_http_llm_route_reply.h"


ngx_int_t
ngx_http_llm_route_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_chain_t *out)
{
    off_t         len;
    ngx_int_t     rc;
    ngx_chain_t  *cl;

    len = 0;

    for (cl = out; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);

        if (cl->next == NULL) {
            cl->buf->last_buf = (r == r->main) ? 1 : 0;
            cl->buf->last_in_chain = 1;
        }
    }

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = len;

    if (len == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


size_t
ngx_http_llm_route_error_len(const char *type, const char *param,
    const char *code, ngx_str_t *message)
{
    return sizeof("{\"message\":\"\",\"type\":\"\",\"param\":,\"code\":}") - 1
           + llr_json_escape_len(message->data, message->len)
           + ngx_strlen(type)
           + (param ? 2 + llr_json_escape_len((u_char *) param,
                                              ngx_strlen(param))
                    : 4)
           + (code ? 2 + ngx_strlen(code) : 4);
}


u_char *
ngx_http_llm_route_error_object(u_char *p, const char *type,
    const char *param, const char *code, ngx_str_t *message)
{
    p = ngx_cpymem(p, "{\"message\":\"", sizeof("{\"message\":\"") - 1);
    p += llr_json_escape(p, message->data, message->len);
    p = ngx_sprintf(p, "\",\"type\":\"%s\",\"param\":", type);

    if (param) {
        *p++ = '"';
        p += llr_json_escape(p, (u_char *) param, ngx_strlen(param));
        *p++ = '"';

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    p = ngx_cpymem(p, ",\"code\":", sizeof(",\"code\":") - 1);

    if (code) {
        p = ngx_sprintf(p, "\"%s\"", code);

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    *p++ = '}';

    return p;
}


ngx_buf_t *
ngx_http_llm_route_error_json(ngx_http_request_t *r, const char *type,
    const char *param, const char *code, ngx_str_t *message)
{
    u_char     *p;
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool,
                            sizeof("{\"error\":}\n") - 1
                            + ngx_http_llm_route_error_len(type, param, code,
                                                           message));
    if (b == NULL) {
        return NULL;
    }

    p = ngx_cpymem(b->last, "{\"error\":", sizeof("{\"error\":") - 1);
    p = ngx_http_llm_route_error_object(p, type, param, code, message);
    *p++ = '}';
    *p++ = '\n';

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    return b;
}


ngx_buf_t *
ngx_http_llm_route_error_format(ngx_http_request_t *r, ngx_uint_t anthropic,
    ngx_uint_t status, const char *type, const char *param, const char *code,
    ngx_str_t *message)
{
    size_t      n;
    ngx_buf_t  *b;

    if (!anthropic) {
        return ngx_http_llm_route_error_json(r, type, param, code, message);
    }

    /* {"type":"error","error":{"type":"...","message":"..."}} */

    n = llr_error_body(LLR_FMT_ANTHROPIC, status, NULL, NULL, NULL,
                       message->data, message->len, NULL, 0);

    b = ngx_create_temp_buf(r->pool, n + 1);
    if (b == NULL) {
        return NULL;
    }

    b->last += llr_error_body(LLR_FMT_ANTHROPIC, status, NULL, NULL, NULL,
                              message->data, message->len, b->last, n);
    *b->last++ = '\n';

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    return b;
}


ngx_int_t
ngx_http_llm_route_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *param, const char *code, ngx_str_t *message)
{
    return ngx_http_llm_route_send_error_format(r, 0, status, type, param,
                                                code, message);
}


ngx_int_t
ngx_http_llm_route_send_error_format(ngx_http_request_t *r,
    ngx_uint_t anthropic, ngx_uint_t status, const char *type,
    const char *param, const char *code, ngx_str_t *message)
{
    ngx_int_t    rc;
    ngx_str_t    msg;
    ngx_chain_t  out;

    static ngx_str_t  json = ngx_string("application/json");

    if (message == NULL || message->len == 0) {
        switch (status) {
        case NGX_HTTP_NOT_ALLOWED:
            ngx_str_set(&msg, "Method not allowed for this endpoint.");
            break;
        case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
            ngx_str_set(&msg, "The request body is larger than this server "
                              "accepts (client_max_body_size).");
            break;
        default:
            ngx_str_set(&msg, "The request could not be processed.");
        }

        message = &msg;
    }

    if (r->request_body == NULL) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    out.buf = ngx_http_llm_route_error_format(r, anthropic, status, type,
                                              param, code, message);
    if (out.buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    out.next = NULL;

    return ngx_http_llm_route_send(r, status, &json, &out);
}


ngx_int_t
ngx_http_llm_route_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    if (value->len == 0) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


/*
 * The error event that ends a broken stream, with the blank line before
 * it: chat's "data: {"error":{...}}", or the Responses API's "error"
 * event numbered after the provider's events
 */

u_char *
ngx_http_llm_route_stream_error(ngx_pool_t *pool, ngx_uint_t anthropic,
    ngx_uint_t responses, uint64_t events, u_char **end)
{
    size_t      len;
    u_char     *p, *ev;
    ngx_str_t   msg;

    ngx_str_set(&msg, "The stream from the provider was interrupted before "
                      "it completed.");

    len = sizeof("\n\nevent: error\ndata: {\"type\":\"error\","
                 "\"sequence_number\":,\"error\":}\n\n") - 1
          + NGX_INT64_LEN
          + ngx_http_llm_route_error_len("server_error", NULL,
                                         "stream_interrupted", &msg);

    ev = ngx_pnalloc(pool, len);
    if (ev == NULL) {
        return NULL;
    }

    if (anthropic) {
        /* Anthropic's: event: error, data: {"type":"error","error":{...}} */

        len = sizeof("\n\nevent: error\ndata: \n\n") - 1
              + llr_error_body(LLR_FMT_ANTHROPIC, NGX_HTTP_BAD_GATEWAY, NULL,
                               NULL, NULL, msg.data, msg.len, NULL, 0);

        ev = ngx_pnalloc(pool, len);
        if (ev == NULL) {
            return NULL;
        }

        p = ngx_cpymem(ev, "\n\nevent: error\ndata: ",
                       sizeof("\n\nevent: error\ndata: ") - 1);
        p += llr_error_body(LLR_FMT_ANTHROPIC, NGX_HTTP_BAD_GATEWAY, NULL,
                            NULL, NULL, msg.data, msg.len, p, len);
        *end = ngx_cpymem(p, "\n\n", 2);

        return ev;
    }

    if (responses) {
        p = ngx_sprintf(ev, "\n\nevent: error\ndata: {\"type\":\"error\","
                        "\"sequence_number\":%uL,\"error\":",
                        events);

    } else {
        p = ngx_cpymem(ev, "\n\ndata: {\"error\":",
                       sizeof("\n\ndata: {\"error\":") - 1);
    }

    p = ngx_http_llm_route_error_object(p, "server_error", NULL,
                                        "stream_interrupted", &msg);
    p = ngx_cpymem(p, "}\n\n", 3);

    *end = p;

    return ev;
}
