
/*
 * ngx_llm_route_module: the rewritten body.
 *
 * The scanner (core/llr_req) writes the body again as it reads it, into
 * pool buffers, leaving holes for what is decided after the whole body
 * was seen: the routed model, and the stream options that ask for the
 * usage chunk.  Once the route is chosen the holes are filled, the body
 * replaces the client's, and the URL proxy_pass uses is made.  A
 * failover fills the model's hole again and makes the URL again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_rewrite.h"


#define NGX_HTTP_LLM_ROUTE_OUT_MIN     4096
/*
 * Runs of the body shorter than this are copied: a buffer and a link
 * more cost nginx more than copying a few kilobytes
 */
#define NGX_HTTP_LLM_ROUTE_REF_MIN     16384


/* the rewriter's output (llr_out_t) into ctx->body */
typedef struct {
    llr_out_t                      out;        /* must be first */
    ngx_http_request_t            *request;
    ngx_http_llm_route_ctx_t      *ctx;
    ngx_buf_t                     *buf;        /* being written */
    size_t                         size;       /* of the next buffer */
} ngx_http_llm_route_rewrite_t;


static ngx_int_t ngx_http_llm_route_out_buf(ngx_http_llm_route_rewrite_t *o,
    size_t size);
static int ngx_http_llm_route_out_next(llr_out_t *out);
static int ngx_http_llm_route_out_mark(llr_out_t *out, llr_mark_e mark,
    int comma);
static int ngx_http_llm_route_out_ref(llr_out_t *out, const u_char *p,
    size_t len);
static ngx_int_t ngx_http_llm_route_out_link(ngx_http_llm_route_rewrite_t *o,
    ngx_buf_t *b);
static int ngx_http_llm_route_out_rest(ngx_http_llm_route_rewrite_t *o);
static int ngx_http_llm_route_out_flush(llr_out_t *out);


static ngx_str_t  ngx_http_llm_route_usage_on =
    ngx_string(",\"stream_options\":{\"include_usage\":true}");


/*
 * The output of the rewriter: a chain of pool buffers, ctx->body.  The
 * rewritten body is about as long as the original; long runs of a body
 * held in memory are linked where they lie, not copied: they need no
 * room here.
 */

llr_out_t *
ngx_http_llm_route_rewrite_out(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, off_t size, ngx_uint_t in_file)
{
    size_t                     n;
    ngx_http_llm_route_rewrite_t  *o;

    o = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_route_rewrite_t));
    if (o == NULL) {
        return NULL;
    }

    o->request = r;
    o->ctx = ctx;
    o->out.next = ngx_http_llm_route_out_next;
    o->out.mark = ngx_http_llm_route_out_mark;
    o->out.ref = ngx_http_llm_route_out_ref;
    o->out.flush = ngx_http_llm_route_out_flush;

    ctx->body = NULL;
    ctx->last = &ctx->body;

    n = (size_t) size;

    if (!in_file && n > NGX_HTTP_LLM_ROUTE_REF_MIN) {
        n = NGX_HTTP_LLM_ROUTE_REF_MIN;
    }

    if (ngx_http_llm_route_out_buf(o, n + 256) != NGX_OK) {
        return NULL;
    }

    o->size = NGX_HTTP_LLM_ROUTE_OUT_MIN;

    return &o->out;
}


/* the holes the rewriter left, then the body replaces the client's */

ngx_int_t
ngx_http_llm_route_finish_body(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    u_char       *p;
    ngx_int_t     usage;
    ngx_buf_t    *b;
    ngx_chain_t  *cl, **ll;

    if (ngx_http_llm_route_fill_model(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * Streams: ask for the usage chunk, so tokens are exact; a client
     * that did not ask for it does not see it (the body filter strips
     * it).  Otherwise the client's stream_options.include_usage goes
     * back as it was.
     */

    ctx->stream = (ctx->view.stream == 1);
    usage = ctx->view.include_usage;

    if (ctx->stream
        && (ctx->endpoint == LLR_API_CHAT
            || ctx->endpoint == LLR_API_COMPLETIONS)
        && (ctx->view.has_stream_options || !ctx->view.stream_options_key))
    {
        ctx->strip_usage = (usage != 1);
        usage = 1;

        if (!ctx->view.has_stream_options) {
            b = ctx->tail_hole;

            if (b == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            b->start = ngx_http_llm_route_usage_on.data;
            b->pos = b->start;
            b->last = b->start + ngx_http_llm_route_usage_on.len;
            b->end = b->last;
            b->temporary = 0;
            b->memory = 1;
        }
    }

    b = ctx->stream_options_hole;

    if (b && usage != -1) {
        p = ngx_pnalloc(r->pool, sizeof(",\"include_usage\":false"));
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->start = p;
        b->pos = p;

        if (ctx->stream_options_comma) {
            *p++ = ',';
        }

        p = ngx_sprintf(p, "\"include_usage\":%s", usage ? "true" : "false");
        b->last = p;
        b->end = p;
    }

    /* drop empty links: the proxy must not meet zero size buffers */

    ll = &ctx->body;

    for (cl = ctx->body; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last == b->pos) {
            continue;
        }

        b->last_buf = 0;

        *ll = cl;
        ll = &cl->next;
    }

    *ll = NULL;

    if (ctx->body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (cl = ctx->body; cl->next; cl = cl->next) { /* void */ }

    cl->buf->last_buf = 1;

    r->request_body->bufs = ctx->body;
    r->request_body->buf = NULL;

    return ngx_http_llm_route_set_url(r, ctx);
}


/* "model":"<upstream model>" in the hole the rewriter left for it */

ngx_int_t
ngx_http_llm_route_fill_model(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    u_char                           *p;
    size_t                            n;
    ngx_buf_t                        *b;
    ngx_http_llm_route_deployment_t  *d;

    d = ctx->deployment;
    b = ctx->model_hole;

    if (b == NULL) {
        return NGX_ERROR;
    }

    n = llr_json_escape_len(d->upstream_model.data, d->upstream_model.len);

    p = ngx_pnalloc(r->pool, sizeof("\"model\":\"\"") - 1 + n);
    if (p == NULL) {
        return NGX_ERROR;
    }

    b->start = p;
    b->pos = p;
    p = ngx_cpymem(p, "\"model\":\"", sizeof("\"model\":\"") - 1);
    p += llr_json_escape(p, d->upstream_model.data, d->upstream_model.len);
    *p++ = '"';
    b->last = p;
    b->end = p;

    return NGX_OK;
}


/* the body's length and the URL proxy_pass uses, for the deployment */

ngx_int_t
ngx_http_llm_route_set_url(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    u_char                         *p;
    off_t                           len;
    size_t                          n;
    ngx_chain_t                    *cl;
    ngx_table_elt_t                *h;
    ngx_http_llm_route_provider_t  *pr;

    pr = ctx->deployment->provider;

    len = 0;

    for (cl = ctx->body; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    r->headers_in.content_length_n = len;

    h = r->headers_in.content_length;

    if (h) {
        p = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->value.data = p;
        h->value.len = ngx_sprintf(p, "%O", len) - p;
    }

    n = pr->scheme.len + sizeof("://") - 1 + pr->upstream.len
        + pr->base_path.len + ctx->endpoint_path.len;

    if (r->args.len) {
        n += 1 + r->args.len;
    }

    p = ngx_pnalloc(r->pool, n);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->url.data = p;

    p = ngx_cpymem(p, pr->scheme.data, pr->scheme.len);
    p = ngx_cpymem(p, "://", sizeof("://") - 1);
    p = ngx_cpymem(p, pr->upstream.data, pr->upstream.len);
    p = ngx_cpymem(p, pr->base_path.data, pr->base_path.len);
    p = ngx_cpymem(p, ctx->endpoint_path.data, ctx->endpoint_path.len);

    if (r->args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, r->args.data, r->args.len);
    }

    ctx->url.len = p - ctx->url.data;
    ctx->uri_changes = r->uri_changes;
    ctx->upstream_tries = r->upstream_states ? r->upstream_states->nelts : 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: url \"%V\", body %O bytes", &ctx->url, len);

    return NGX_OK;
}


/* output memory for the rewriter: a chain of pool buffers */

static ngx_int_t
ngx_http_llm_route_out_buf(ngx_http_llm_route_rewrite_t *o, size_t size)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(o->request->pool, size);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_llm_route_out_link(o, b) != NGX_OK) {
        return NGX_ERROR;
    }

    o->buf = b;
    o->out.pos = b->last;
    o->out.end = b->end;

    return NGX_OK;
}


static int
ngx_http_llm_route_out_next(llr_out_t *out)
{
    ngx_http_llm_route_rewrite_t  *o = (ngx_http_llm_route_rewrite_t *) out;

    o->buf->last = out->pos;

    if (ngx_http_llm_route_out_buf(o, o->size) != NGX_OK) {
        return -1;
    }

    if (o->size < 65536) {
        o->size *= 2;
    }

    return 0;
}


static int
ngx_http_llm_route_out_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    ngx_buf_t                 *b;
    ngx_http_llm_route_rewrite_t  *o = (ngx_http_llm_route_rewrite_t *) out;

    o->buf->last = out->pos;

    /* an empty buffer, filled once the route is chosen */

    b = ngx_calloc_buf(o->request->pool);
    if (b == NULL) {
        return -1;
    }

    b->temporary = 1;

    if (ngx_http_llm_route_out_link(o, b) != NGX_OK) {
        return -1;
    }

    switch (mark) {

    case LLR_MARK_MODEL:
        o->ctx->model_hole = b;
        break;

    case LLR_MARK_STREAM_OPTIONS:
        o->ctx->stream_options_hole = b;
        o->ctx->stream_options_comma = comma ? 1 : 0;
        break;

    case LLR_MARK_TAIL:
        o->ctx->tail_hole = b;
        break;
    }

    return ngx_http_llm_route_out_rest(o);
}


/* bytes of the body's own buffers, linked, not copied */

static int
ngx_http_llm_route_out_ref(llr_out_t *out, const u_char *p, size_t len)
{
    ngx_buf_t                 *b;
    ngx_http_llm_route_rewrite_t  *o = (ngx_http_llm_route_rewrite_t *) out;

    if (len < NGX_HTTP_LLM_ROUTE_REF_MIN) {
        return 1;
    }

    o->buf->last = out->pos;

    b = ngx_calloc_buf(o->request->pool);
    if (b == NULL) {
        return -1;
    }

    /* start = pos: ngx_http_upstream_reinit() rewinds to start */

    b->memory = 1;
    b->start = (u_char *) p;
    b->pos = (u_char *) p;
    b->last = (u_char *) p + len;
    b->end = b->last;

    if (ngx_http_llm_route_out_link(o, b) != NGX_OK) {
        return -1;
    }

    return ngx_http_llm_route_out_rest(o);
}


static ngx_int_t
ngx_http_llm_route_out_link(ngx_http_llm_route_rewrite_t *o, ngx_buf_t *b)
{
    ngx_chain_t  *cl;

    cl = ngx_alloc_chain_link(o->request->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    *o->ctx->last = cl;
    o->ctx->last = &cl->next;

    return NGX_OK;
}


/* after a mark or a reference: go on in what is left of the buffer */

static int
ngx_http_llm_route_out_rest(ngx_http_llm_route_rewrite_t *o)
{
    ngx_buf_t  *b;
    llr_out_t  *out;

    out = &o->out;
    b = o->buf;

    if (out->end - out->pos < 64) {
        return ngx_http_llm_route_out_buf(o, o->size) == NGX_OK ? 0 : -1;
    }

    o->buf = ngx_calloc_buf(o->request->pool);
    if (o->buf == NULL) {
        return -1;
    }

    o->buf->temporary = 1;
    o->buf->start = out->pos;
    o->buf->pos = out->pos;
    o->buf->last = out->pos;
    o->buf->end = out->end;
    b->end = out->pos;

    return ngx_http_llm_route_out_link(o, o->buf) == NGX_OK ? 0 : -1;
}


static int
ngx_http_llm_route_out_flush(llr_out_t *out)
{
    ngx_http_llm_route_rewrite_t  *o = (ngx_http_llm_route_rewrite_t *) out;

    o->buf->last = out->pos;

    return 0;
}
