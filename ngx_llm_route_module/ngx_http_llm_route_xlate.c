
/*
 * ngx_llm_route_module: requests and answers translated between the
 * OpenAI and the Anthropic wire formats.
 *
 * A chat completions client routed to an Anthropic-format provider, or a
 * Messages client routed to an OpenAI-format one (format.c decides):
 *
 *   - the request: the rewritten body (the routed model in it) is read
 *     whole, as core/llr_xlate's parser takes it, and written again in
 *     the provider's format; what cannot be carried over faithfully is a
 *     400 naming the field, in the client's format;
 *   - a stream: each buffer of the provider's SSE goes to core/llr_xsse
 *     after the usage scanner (filter.c) read it in the provider's
 *     format, and what it writes goes on at once: nothing of the answer
 *     is held but a partial event;
 *   - a JSON answer or an error: held until its end (a provider's answer
 *     is bounded; at most NGX_HTTP_LLM_ROUTE_XLATE_MAX), then translated.
 *
 * Accounting does not change: the usage scanners read the provider's own
 * bytes, so a translated request is charged as a passed-through one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_xlate.h"
#include "llr_xsse.h"
#include "ngx_http_llm_route_xlate.h"


/* the largest JSON answer held for translation */
#define NGX_HTTP_LLM_ROUTE_XLATE_MAX  (16 * 1024 * 1024)


/* the bytes the stream translator writes for one buffer */
typedef struct {
    ngx_http_request_t             *request;
    ngx_buf_t                      *out;
} ngx_http_llm_route_xemit_t;


static ngx_int_t ngx_http_llm_route_xlate_stream(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in);
static ngx_int_t ngx_http_llm_route_xlate_hold(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in);
static ngx_buf_t *ngx_http_llm_route_xlate_answer(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static int ngx_http_llm_route_xlate_emit(void *data, const u_char *p,
    size_t len);
static ngx_int_t ngx_http_llm_route_xlate_append(ngx_http_request_t *r,
    ngx_buf_t **bp, const u_char *p, size_t len, size_t max);


ngx_int_t
ngx_http_llm_route_xlate_request(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    u_char                           *body, *p;
    size_t                            len;
    ngx_buf_t                        *b;
    ngx_chain_t                      *cl;
    llr_alloc_t                       alloc;
    llr_xlate_rc_e                    rc;
    llr_xlate_out_t                   out;
    llr_xlate_opts_t                  opts;
    ngx_http_llm_route_deployment_t  *d;

    d = ctx->deployment;

    /* the rewritten body, in one piece (its buffers are all in memory) */

    len = 0;

    for (cl = ctx->body; cl; cl = cl->next) {
        if (!ngx_buf_in_memory(cl->buf)) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body;

    for (cl = ctx->body; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    ngx_memzero(&opts, sizeof(llr_xlate_opts_t));
    opts.model = (const char *) d->upstream_model.data;
    opts.model_len = d->upstream_model.len;
    opts.max_tokens = d->max_output ? d->max_output
                                    : NGX_HTTP_LLM_ROUTE_MAX_OUTPUT;

    ngx_http_llm_route_pool_alloc(r->pool, &alloc);

    rc = llr_xlate_request((llr_xlate_e) ctx->xlate, &alloc, &opts, body, len,
                           &out);

    switch (rc) {

    case LLR_XLATE_OK:
        break;

    case LLR_XLATE_REFUSED:
        ctx->xparam = NULL;

        if (out.param[0]) {
            p = ngx_pnalloc(r->pool, ngx_strlen(out.param) + 1);
            if (p == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_cpystrn(p, (u_char *) out.param, ngx_strlen(out.param) + 1);
            ctx->xparam = (char *) p;
        }

        ctx->xmessage.len = ngx_strlen(out.message);
        ctx->xmessage.data = ngx_pnalloc(r->pool, ctx->xmessage.len);
        if (ctx->xmessage.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(ctx->xmessage.data, out.message, ctx->xmessage.len);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: not translated (%s): %V",
                       ctx->xparam ? ctx->xparam : "-", &ctx->xmessage);

        return NGX_DECLINED;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* start = pos: ngx_http_upstream_reinit() rewinds to start */

    b->memory = 1;
    b->start = out.data;
    b->pos = out.data;
    b->last = out.data + out.len;
    b->end = b->last;
    b->last_buf = 1;

    cl->buf = b;
    cl->next = NULL;

    r->request_body->bufs = cl;
    r->request_body->buf = NULL;

    ctx->stream = out.stream ? 1 : 0;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: request translated (%ui), %uz bytes, "
                   "stream %d", (ngx_uint_t) ctx->xlate, out.len, out.stream);

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route_xlate_header(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    llr_alloc_t       alloc;
    llr_xlate_out_t   out;
    llr_xsse_opts_t   opts;

    ctx->xs = NULL;
    ctx->xbuf = NULL;
    ctx->xerror = 0;
    ctx->xstatus = r->headers_out.status;

    if (ctx->resp_mode == LLR_RESP_NONE
        || ctx->resp_mode == LLR_RESP_ENCODED)
    {
        /* nothing to read, or compressed: passed as it is */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: answer not translated");
        return NGX_OK;
    }

    ngx_http_llm_route_pool_alloc(r->pool, &alloc);

    if (ctx->xstatus >= NGX_HTTP_BAD_REQUEST) {
        /* an error: its status in the client's format (529 is 503) */

        ctx->xerror = 1;

        if (llr_xlate_error((llr_xlate_e) ctx->xlate, &alloc, ctx->xstatus,
                            NULL, 0, &out)
            != LLR_XLATE_OK)
        {
            return NGX_ERROR;
        }

        r->headers_out.status = out.status;
        r->headers_out.status_line.len = 0;

    } else if (ctx->resp_mode == LLR_RESP_SSE) {
        ngx_memzero(&opts, sizeof(llr_xsse_opts_t));
        opts.created = ngx_time();
        opts.include_usage = (ctx->view.include_usage == 1);

        ctx->xs = llr_xsse_create((llr_xlate_e) ctx->xlate, &alloc, &opts);
        if (ctx->xs == NULL) {
            return NGX_ERROR;
        }
    }

    if (ctx->resp_mode == LLR_RESP_JSON || ctx->xerror) {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        r->headers_out.content_type_len = r->headers_out.content_type.len;
        r->headers_out.content_type_lowcase = NULL;
        r->headers_out.charset.len = 0;
    }

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_etag(r);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: answer translated, status %ui, %s",
                   ctx->xstatus, ctx->xs ? "stream" : "held");

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route_xlate_body(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in)
{
    if (ctx->xs) {
        return ngx_http_llm_route_xlate_stream(r, ctx, in);
    }

    if (ctx->resp_mode == LLR_RESP_JSON || ctx->xerror) {
        return ngx_http_llm_route_xlate_hold(r, ctx, in);
    }

    return NGX_OK;
}


/* a stream: each buffer's events translated and sent on at once */

static ngx_int_t
ngx_http_llm_route_xlate_stream(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in)
{
    ngx_buf_t                   *b, *nb;
    ngx_uint_t                   end;
    ngx_chain_t                 *cl, *out, **ll, *ncl;
    ngx_http_llm_route_xemit_t   e;

    out = NULL;
    ll = &out;

    for (cl = *in; cl; cl = cl->next) {
        b = cl->buf;

        e.request = r;
        e.out = NULL;

        if (ngx_buf_in_memory(b) && b->last > b->pos) {
            if (llr_xsse_feed(ctx->xs, b->pos, b->last - b->pos,
                              ngx_http_llm_route_xlate_emit, &e)
                != 0)
            {
                return NGX_ERROR;
            }
        }

        /* the end: the last buffer, or the flush after the upstream failed */

        end = b->last_buf
              || (b->flush && !ngx_buf_in_memory(b) && !b->in_file
                  && r->upstream && r->upstream->peer.connection == NULL);

        if (end && !llr_xsse_ended(ctx->xs)
            && llr_xsse_finish(ctx->xs, ngx_http_llm_route_xlate_emit, &e)
               != 0)
        {
            return NGX_ERROR;
        }

        if (end && llr_xsse_cut(ctx->xs)) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "llm_route: the stream from provider \"%V\" "
                          "ended before its end, error event sent",
                          &ctx->deployment->provider->name);
        }

        /* the provider's buffer is consumed: ours goes on in its place */

        b->pos = b->last;

        if (e.out == NULL && !b->last_buf && !b->flush && !b->sync) {
            continue;
        }

        nb = e.out;

        if (nb == NULL) {
            nb = ngx_calloc_buf(r->pool);
            if (nb == NULL) {
                return NGX_ERROR;
            }
        }

        nb->flush = 1;
        nb->sync = (e.out == NULL) ? b->sync : 0;
        nb->last_buf = b->last_buf;
        nb->last_in_chain = b->last_in_chain;
        nb->tag = (ngx_buf_tag_t) &ngx_http_llm_route_module;

        ncl = ngx_alloc_chain_link(r->pool);
        if (ncl == NULL) {
            return NGX_ERROR;
        }

        ncl->buf = nb;
        *ll = ncl;
        ll = &ncl->next;
    }

    *ll = NULL;
    *in = out;

    return NGX_OK;
}


/* a JSON answer or an error: held, translated at its end */

static ngx_int_t
ngx_http_llm_route_xlate_hold(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in)
{
    ngx_buf_t    *b, *nb;
    ngx_uint_t    last;
    ngx_chain_t  *cl;

    last = 0;

    for (cl = *in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b) && b->last > b->pos) {
            if (ngx_http_llm_route_xlate_append(r, &ctx->xbuf, b->pos,
                                                b->last - b->pos,
                                                NGX_HTTP_LLM_ROUTE_XLATE_MAX)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        if (b->last_buf) {
            last = 1;
        }

        b->pos = b->last;
    }

    *in = NULL;

    if (!last) {
        return NGX_OK;
    }

    nb = ngx_http_llm_route_xlate_answer(r, ctx);
    if (nb == NULL) {
        return NGX_ERROR;
    }

    nb->last_buf = 1;
    nb->last_in_chain = 1;
    nb->tag = (ngx_buf_tag_t) &ngx_http_llm_route_module;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = nb;
    cl->next = NULL;
    *in = cl;

    return NGX_OK;
}


/*
 * The whole answer in the client's format; one that is not its format's
 * (or too large) becomes the client's error, a 502's
 */

static ngx_buf_t *
ngx_http_llm_route_xlate_answer(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    size_t            n, len;
    u_char           *data;
    ngx_buf_t        *b;
    llr_alloc_t       alloc;
    llr_format_e      fmt;
    llr_xlate_rc_e    rc;
    llr_xlate_out_t   out;

    ngx_http_llm_route_pool_alloc(r->pool, &alloc);

    data = ctx->xbuf ? ctx->xbuf->pos : (u_char *) "";
    len = ctx->xbuf ? (size_t) (ctx->xbuf->last - ctx->xbuf->pos) : 0;

    if (ctx->xerror) {
        rc = llr_xlate_error((llr_xlate_e) ctx->xlate, &alloc, ctx->xstatus,
                             data, len, &out);

    } else if (len >= NGX_HTTP_LLM_ROUTE_XLATE_MAX) {
        rc = LLR_XLATE_BAD_ANSWER;
        ngx_cpystrn((u_char *) out.message,
                    (u_char *) "The provider's answer is too large to "
                               "translate.", sizeof(out.message));

    } else {
        rc = llr_xlate_response((llr_xlate_e) ctx->xlate, &alloc, ngx_time(),
                                data, len, &out);
    }

    if (rc == LLR_XLATE_NOMEM) {
        return NULL;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NULL;
    }

    if (rc == LLR_XLATE_OK) {
        b->memory = 1;
        b->pos = out.data;
        b->last = out.data + out.len;
        return b;
    }

    /* the headers are gone: the client's error in the body */

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "llm_route: the answer of provider \"%V\" could not be "
                  "translated: %s", &ctx->deployment->provider->name,
                  out.message);

    fmt = llr_xlate_client((llr_xlate_e) ctx->xlate);

    n = llr_error_body(fmt, NGX_HTTP_BAD_GATEWAY, "server_error",
                       "bad_provider_answer", NULL, (u_char *) out.message,
                       ngx_strlen(out.message), NULL, 0);

    b->start = ngx_pnalloc(r->pool, n);
    if (b->start == NULL) {
        return NULL;
    }

    b->memory = 1;
    b->pos = b->start;
    b->last = b->start
              + llr_error_body(fmt, NGX_HTTP_BAD_GATEWAY, "server_error",
                               "bad_provider_answer", NULL,
                               (u_char *) out.message,
                               ngx_strlen(out.message), b->start, n);
    b->end = b->last;

    return b;
}


static int
ngx_http_llm_route_xlate_emit(void *data, const u_char *p, size_t len)
{
    ngx_http_llm_route_xemit_t *e = data;

    return ngx_http_llm_route_xlate_append(e->request, &e->out, p, len, 0)
           == NGX_OK ? 0 : -1;
}


/* bytes appended to *bp, grown from the pool; at most max (0: any) */

static ngx_int_t
ngx_http_llm_route_xlate_append(ngx_http_request_t *r, ngx_buf_t **bp,
    const u_char *p, size_t len, size_t max)
{
    size_t      size, have;
    ngx_buf_t  *b, *nb;

    b = *bp;
    have = b ? (size_t) (b->last - b->pos) : 0;

    if (max && have + len > max) {
        /* too large: max bytes kept, seen as too large at the end */
        len = max - have;
    }

    if (b == NULL || (size_t) (b->end - b->last) < len) {
        size = ngx_max(2 * have, have + len + 1024);

        if (max && size > max) {
            size = max;
        }

        nb = ngx_create_temp_buf(r->pool, size);
        if (nb == NULL) {
            return NGX_ERROR;
        }

        if (b) {
            nb->last = ngx_cpymem(nb->last, b->pos, have);
        }

        *bp = nb;
        b = nb;
    }

    b->last = ngx_cpymem(b->last, p, len);

    return NGX_OK;
}
