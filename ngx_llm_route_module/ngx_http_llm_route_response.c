
/*
 * ngx_llm_route_module: header and body filters of routed requests.
 *
 * The header filter adds the X-LLM-Route-* trace headers and turns the
 * error pages nginx itself produces in a routed location (413 for a too
 * large body, 400 for broken framing, ...) into OpenAI-shaped JSON, so
 * SDKs show them.  The body filter passes bytes on as they arrive.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_module.h"


static ngx_int_t ngx_http_llm_route_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_llm_route_add_header(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_llm_route_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_llm_route_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_llm_route_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_error_page(ngx_http_request_t *r)
{
    ngx_uint_t                 status;
    ngx_str_t                  msg;
    ngx_http_llm_route_ctx_t  *ctx;

    status = r->headers_out.status;

    ctx = ngx_http_llm_route_get_ctx(r);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_route_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ctx->request = r;
        ctx->difficulty = -1;
        ngx_http_set_ctx(r, ctx, ngx_http_llm_route_module);
    }

    ctx->error_page = 1;

    switch (status) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_str_set(&msg, "The request body is larger than this server "
                          "accepts (client_max_body_size).");
        ctx->error_code = (u_char *) "request_too_large";
        break;

    case NGX_HTTP_REQUEST_TIME_OUT:
        ngx_str_set(&msg, "The request body was not received in time.");
        ctx->error_code = (u_char *) "request_timeout";
        break;

    case NGX_HTTP_BAD_REQUEST:
        ngx_str_set(&msg, "The request could not be read.");
        ctx->error_code = (u_char *) "bad_request";
        break;

    default:
        ngx_str_set(&msg, "The router could not process the request.");
        ctx->error_code = (u_char *) "server_error";
    }

    ctx->error_message = msg;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_header_filter(ngx_http_request_t *r)
{
    ngx_http_llm_route_ctx_t       *ctx;
    ngx_http_llm_route_loc_conf_t  *lcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    if (!lcf->enable) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_llm_route_get_ctx(r);

    /* an error page of nginx's own, in a routed location */

    if (r->err_status && r->upstream == NULL
        && r->headers_out.status >= NGX_HTTP_BAD_REQUEST
        && (ctx == NULL || !ctx->routed))
    {
        if (ngx_http_llm_route_error_page(r) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx = ngx_http_llm_route_get_ctx(r);

        ngx_str_set(&r->headers_out.content_type, "application/json");
        r->headers_out.content_type_len = r->headers_out.content_type.len;
        r->headers_out.content_type_lowcase = NULL;
        r->headers_out.charset.len = 0;

        ctx->error_body = ngx_http_llm_route_error_json(r,
                                              "invalid_request_error", NULL,
                                              (char *) ctx->error_code,
                                              &ctx->error_message);
        if (ctx->error_body == NULL) {
            return NGX_ERROR;
        }

        r->headers_out.content_length_n = ngx_buf_size(ctx->error_body);

        if (r->headers_out.content_length) {
            r->headers_out.content_length->hash = 0;
            r->headers_out.content_length = NULL;
        }

        return ngx_http_next_header_filter(r);
    }

    if (ctx == NULL || !ctx->routed) {
        return ngx_http_next_header_filter(r);
    }

    if (lcf->trace) {
        if (ngx_http_llm_route_add_header(r, "X-LLM-Route-Model",
                                          &ctx->deployment->upstream_model)
            != NGX_OK
            || ngx_http_llm_route_add_header(r, "X-LLM-Route-Provider",
                                          &ctx->deployment->provider->name)
               != NGX_OK
            || ngx_http_llm_route_add_header(r, "X-LLM-Route-Task",
                                             &ctx->task)
               != NGX_OK
            || ngx_http_llm_route_add_header(r, "X-LLM-Route-Reason",
                                             &ctx->reason)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_llm_route_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t                out;
    ngx_http_llm_route_ctx_t  *ctx;

    if (r != r->main || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_route_module);

    if (ctx == NULL || !ctx->error_page) {
        return ngx_http_next_body_filter(r, in);
    }

    /* nginx's own error page replaced by JSON: sent once, rest dropped */

    if (ctx->error_body == NULL) {
        return NGX_OK;
    }

    out.buf = ctx->error_body;
    out.next = NULL;
    ctx->error_body = NULL;

    return ngx_http_next_body_filter(r, &out);
}


static ngx_int_t
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
