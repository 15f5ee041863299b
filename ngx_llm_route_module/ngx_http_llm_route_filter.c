
/*
 * ngx_llm_route_module: the header and body filters of routed requests.
 *
 * The header filter adds the X-LLM-Route-* trace headers and turns the
 * error pages nginx itself produces in a routed location (413 for a too
 * large body, 400 for broken framing, ...) into OpenAI-shaped JSON, so
 * SDKs show them.  The body filter passes bytes on as they arrive.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_filter.h"
#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_metrics.h"
#include "ngx_http_llm_route_reply.h"
#include "ngx_http_llm_route_xlate.h"
#include "llr_api.h"
#include "ngx_http_llm_route_signal.h"
#include "ngx_http_llm_route_feedback.h"
#include "llr_cost.h"
#include "llr_sse.h"
#include "llr_xlate.h"
#include "llr_usage.h"


#define LLR_RESP_NONE  0
#define LLR_RESP_JSON  1
#define LLR_RESP_SSE   2
#define LLR_RESP_ENCODED   3     /* compressed: not read */


typedef struct {
    ngx_http_request_t  *request;
    ngx_chain_t         *out;
    ngx_chain_t        **last;
    ngx_buf_t           *in;        /* the buffer being parsed */
    u_char              *span;      /* the first bytes emitted, if they */
    size_t               span_len;  /* are one span of in, or NULL */
    ngx_uint_t           spans;
    ngx_buf_t           *copy;      /* the bytes emitted after them */
} ngx_http_llm_route_emit_t;


static ngx_int_t ngx_http_llm_route_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_llm_route_watch_start(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_watch(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in);
static ngx_int_t ngx_http_llm_route_watch_sse(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in);
static ngx_int_t ngx_http_llm_route_watch_strip(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in);
static ngx_chain_t **ngx_http_llm_route_strip_out(ngx_http_request_t *r,
    ngx_buf_t *b, ngx_http_llm_route_emit_t *e, ngx_chain_t **ll);
static ngx_int_t ngx_http_llm_route_stream_end(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;

/*
 * The SSE event templates of this worker, shared by its streams: each
 * stream uses them only inside llr_sse_feed(), which never waits, so
 * one process needs one (zero bytes: empty, as a new worker has it).
 */
static llr_sse_cache_t  ngx_http_llm_route_sse_cache;


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
    u_char                    *p;
    ngx_uint_t                 status;
    ngx_str_t                  msg, *provider;
    ngx_http_llm_route_ctx_t  *ctx;

    status = r->headers_out.status;

    ctx = ngx_http_llm_route_get_ctx(r);

    if (ctx == NULL) {
        ctx = ngx_http_llm_route_create_ctx(r, 0);
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        /* not routed yet: the client's format from the path */

        switch (llr_api_of_path(r->uri.data, r->uri.len)) {
        case LLR_API_MESSAGES:
        case LLR_API_COUNT_TOKENS:
            ctx->anthropic = 1;
            break;
        default:
            break;
        }
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

    case NGX_HTTP_BAD_GATEWAY:
    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case NGX_HTTP_GATEWAY_TIME_OUT:

        if (ctx->routed) {
            /*
             * the provider refused the connection, timed out, or sent
             * no valid answer, and no error_page took the request
             * elsewhere (the README's minimal configuration)
             */

            provider = &ctx->deployment->provider->name;

            p = ngx_pnalloc(r->pool, 128 + ngx_min(provider->len, 64));
            if (p == NULL) {
                return NGX_ERROR;
            }

            msg.data = p;
            msg.len = ngx_sprintf(p, "The provider \"%*s\" %s (%ui).",
                                  ngx_min(provider->len, 64), provider->data,
                                  status == NGX_HTTP_GATEWAY_TIME_OUT
                                  ? "did not answer in time"
                                  : "could not be reached or sent no valid "
                                    "answer", status)
                      - p;
            ctx->error_code = (u_char *)
                              (status == NGX_HTTP_GATEWAY_TIME_OUT
                               ? "upstream_timeout" : "upstream_failed");

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llm_route: nginx's %ui page of provider "
                           "\"%V\" as JSON", status, provider);
            break;
        }

        /* fall through */

    default:
        ngx_str_set(&msg, "The router could not process the request.");
        ctx->error_code = (u_char *) "server_error";
    }

    ctx->error_message = msg;
    ctx->rejected = llr_reject_reason(status, (char *) ctx->error_code);

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

    /*
     * an error page of nginx's own, in a routed location: before the
     * request was routed, or after the provider failed (a provider's own
     * error response has no err_status, it passes as it is)
     */

    if (r->err_status && r->headers_out.status >= NGX_HTTP_BAD_REQUEST) {
        if (ngx_http_llm_route_error_page(r) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx = ngx_http_llm_route_get_ctx(r);

        ngx_str_set(&r->headers_out.content_type, "application/json");
        r->headers_out.content_type_len = r->headers_out.content_type.len;
        r->headers_out.content_type_lowcase = NULL;
        r->headers_out.charset.len = 0;

        ctx->error_body = ngx_http_llm_route_error_format(r, ctx->anthropic,
                                  r->headers_out.status,
                                  r->headers_out.status
                                  >= NGX_HTTP_INTERNAL_SERVER_ERROR
                                  ? "server_error" : "invalid_request_error",
                                  NULL, (char *) ctx->error_code,
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

    if (r->upstream && ngx_http_llm_route_watch_start(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (r->upstream && ctx->xlate
        && ngx_http_llm_route_xlate_header(r, ctx) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_llm_route_feedback_header(r, ctx) != NGX_OK) {
        return NGX_ERROR;
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
    uint64_t                   start;
    ngx_int_t                  rc;
    ngx_chain_t                out, *cl;
    ngx_http_llm_route_ctx_t  *ctx;

    if (r != r->main || in == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_route_module);

    if (ctx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->resp_mode == LLR_RESP_ENCODED) {
        for (cl = in; cl; cl = cl->next) {
            if (cl->buf->last_buf) {
                ctx->resp_done = 1;
            }
        }

        return ngx_http_next_body_filter(r, in);
    }

    if (ctx->resp_mode == LLR_RESP_JSON || ctx->resp_mode == LLR_RESP_SSE) {
        start = ngx_http_llm_route_clock_ns();
        rc = ngx_http_llm_route_watch(r, ctx, &in);
        ngx_http_llm_route_own_time(ctx, start);

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }

        if (ctx->xlate && ngx_http_llm_route_xlate_body(r, ctx, &in) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (in == NULL) {
            /* everything held back (a usage event being decided) */
            return NGX_OK;
        }

        return ngx_http_next_body_filter(r, in);
    }

    if (!ctx->error_page) {
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


/*
 * The response of the provider, as it passes: usage, finish reasons and
 * time to first token.  JSON bodies and, without stripping, SSE streams
 * pass unchanged (the same buffers); stripping the usage chunk a client
 * did not ask for copies only the buffers that change.
 */

static ngx_int_t
ngx_http_llm_route_watch_start(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    size_t         sig;
    ngx_str_t     *ct;
    llr_sse_t     *sse;
    llr_usage_t   *u;
    llr_alloc_t    mem;

    ctx->watch.json = NULL;
    ctx->resp_mode = LLR_RESP_NONE;
    ctx->resp_done = 0;
    ctx->ttft_ms = -1;
    ctx->signal = NULL;    /* an earlier attempt's answer is not this one */

    if (r->header_only) {
        return NGX_OK;
    }

    /*
     * a compressed answer (the client asked for gzip and the location
     * passed Accept-Encoding on) is not read, only watched for its end:
     * its tokens are estimated, and nothing is added to a stream that is
     * not text
     */

    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->value.len
        && ngx_strcasecmp(r->headers_out.content_encoding->value.data,
                          (u_char *) "identity")
           != 0)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: answer encoded \"%V\", not read",
                       &r->headers_out.content_encoding->value);

        ctx->resp_mode = LLR_RESP_ENCODED;
        return NGX_OK;
    }

    /*
     * the body is read as it passes: file buffers (proxy_cache, a
     * temporary file with sendfile on) are read into memory for this
     * filter by the copy filter
     */

    r->filter_need_in_memory = 1;

    ct = &r->headers_out.content_type;

    /*
     * the media type is case-insensitive; providers send it in lower
     * case, which a byte compare finds for a tenth of the cost
     */
    if (ct->len >= sizeof("text/event-stream") - 1
        && (ngx_strncmp(ct->data, "text/event-stream",
                        sizeof("text/event-stream") - 1) == 0
            || ngx_strncasecmp(ct->data, (u_char *) "text/event-stream",
                               sizeof("text/event-stream") - 1) == 0))
    {
        /*
         * the parser and the signals in one allocation: each is too
         * large for what is left of a pool block (a new block each),
         * together they are one allocation of the pool's large ones
         */
        sig = ngx_http_llm_route_signal_size(r, ctx);

        sse = ngx_palloc(r->pool, sizeof(llr_sse_t) + sig);
        if (sse == NULL) {
            return NGX_ERROR;
        }

        ngx_http_llm_route_pool_alloc(r->pool, &mem);

        llr_sse_init(sse, (ctx->strip_usage ? LLR_SSE_STRIP_USAGE : 0)
                          | (ctx->panthropic ? LLR_SSE_ANTHROPIC : 0),
                     0, &mem);

        if (sig
            && ngx_http_llm_route_signal_watch(r, ctx, &sse->json, sse + 1)
               == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        /*
         * a stream whose text the signals read (tapped) uses the cache
         * to learn its own templates, which tell the tap their text
         */
        llr_sse_use_cache(sse, &ngx_http_llm_route_sse_cache);

        if (ctx->strip_usage) {
            /* one event less: the length is not known any more */
            ngx_http_clear_content_length(r);
            ngx_http_clear_accept_ranges(r);
        }

        ctx->watch.sse = sse;
        ctx->resp_mode = LLR_RESP_SSE;

        return NGX_OK;
    }

    u = ngx_palloc(r->pool, sizeof(llr_usage_t));
    if (u == NULL) {
        return NGX_ERROR;
    }

    llr_usage_init_format(u, ctx->panthropic ? LLR_FMT_ANTHROPIC
                                             : LLR_FMT_OPENAI);

    if (ngx_http_llm_route_signal_watch(r, ctx, &u->json, NULL)
        == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    ctx->watch.json = u;
    ctx->resp_mode = LLR_RESP_JSON;

    return NGX_OK;
}


static int
ngx_http_llm_route_emit(void *data, const unsigned char *p, size_t len)
{
    ngx_http_llm_route_emit_t *e = data;

    size_t        size;
    ngx_buf_t    *b;

    if (len == 0) {
        return 0;
    }

    /*
     * The first bytes, if they lie in the buffer being parsed, are passed
     * on where they lie (the common case: one span, or all of it); what
     * comes after them (the rest of the buffer after a stripped event),
     * or what comes first from the hold buffer, is copied.
     */

    if (e->spans == 0
        && (u_char *) p >= e->in->pos && (u_char *) p + len <= e->in->last)
    {
        e->span = (u_char *) p;
        e->span_len = len;
        e->spans = 1;
        return 0;
    }

    b = e->copy;

    if (b == NULL) {
        if ((u_char *) p >= e->in->pos && (u_char *) p < e->in->last) {
            /* after the first span: the rest of the buffer at most */
            size = (e->in->last - (u_char *) p) + 256;

        } else {
            size = ngx_buf_size(e->in) + len + 256;
        }

        b = ngx_create_temp_buf(e->request->pool, size);
        if (b == NULL) {
            return -1;
        }

        e->copy = b;
    }

    if ((size_t) (b->end - b->last) < len) {
        /* held bytes of an earlier piece: grow */
        size = (b->last - b->pos) + len + 256;

        b = ngx_create_temp_buf(e->request->pool, size);
        if (b == NULL) {
            return -1;
        }

        b->last = ngx_cpymem(b->last, e->copy->pos,
                             e->copy->last - e->copy->pos);
        e->copy = b;
    }

    b->last = ngx_cpymem(b->last, p, len);
    e->spans++;

    return 0;
}


static ngx_int_t
ngx_http_llm_route_watch(ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx,
    ngx_chain_t **in)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (ctx->resp_mode == LLR_RESP_JSON) {

        for (cl = *in; cl; cl = cl->next) {
            b = cl->buf;

            if (ngx_buf_in_memory(b) && b->last > b->pos) {
                (void) llr_usage_feed(ctx->watch.json, b->pos,
                                      b->last - b->pos);
            }

            if (b->last_buf) {
                (void) llr_usage_finish(ctx->watch.json);
                ctx->resp_done = 1;
            }
        }

        return NGX_OK;
    }

    if (ngx_http_llm_route_watch_sse(r, ctx, in) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->xlate) {
        /* the translator ends the client's stream (xlate.c) */
        return NGX_OK;
    }

    return ngx_http_llm_route_stream_end(r, ctx, in);
}


/*
 * A stream that breaks after its headers were sent cannot fail over:
 * so that the client's SDK raises instead of taking half an answer for a
 * whole one, the stream ends with an error event (docs/failover.md):
 *
 *     \n\ndata: {"error":{"message":"...","type":"server_error",
 *     "param":null,"code":"stream_interrupted"}}\n\n
 *
 * A Responses API stream ends with its last event (response.completed,
 * response.incomplete, response.failed or error), not "data: [DONE]";
 * when cut, it gets the error in that API's own event format, numbered
 * after the events the provider sent (OpenAI numbers them from 0):
 *
 *     \n\nevent: error\ndata: {"type":"error","sequence_number":N,
 *     "error":{"type":"server_error","code":"stream_interrupted",
 *     "message":"...","param":null}}\n\n
 *
 * It goes before the flush nginx sends when the upstream failed (the
 * upstream connection is closed by then), or after the last buffer of a
 * stream that ended without "data: [DONE]" (what the parser held is
 * flushed into it), taking over its last_buf.  The leading blank line is
 * sent only when the stream stopped inside an event (known before
 * llr_sse_finish() reset the parser, for the last buffer).
 */

static ngx_int_t
ngx_http_llm_route_stream_end(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in)
{
    u_char       *ev, *ev_end;
    ngx_buf_t    *b, *eb;
    ngx_chain_t  *cl, *out, **ll, *ncl, *after;
    llr_sse_t    *sse;

    sse = ctx->watch.sse;

    if (ngx_http_llm_route_stream_ended(ctx) || ctx->stream_error_sent
        || r->header_only)
    {
        return NGX_OK;
    }

    out = NULL;
    ll = &out;

    for (cl = *in; cl; cl = cl->next) {
        b = cl->buf;
        after = NULL;

        if (!ctx->stream_error_sent
            && (b->last_buf
                || (b->flush && !ngx_buf_in_memory(b) && !b->in_file
                    && r->upstream && r->upstream->peer.connection == NULL)))
        {
            eb = ngx_calloc_buf(r->pool);
            if (eb == NULL) {
                return NGX_ERROR;
            }

            ev = ngx_http_llm_route_stream_error(r->pool, ctx->anthropic,
                     ctx->endpoint == LLR_API_RESPONSES,
                     ctx->watch.sse->events, &ev_end);
            if (ev == NULL) {
                return NGX_ERROR;
            }

            eb->memory = 1;

            /* the blank line ends an event the provider left unfinished */
            eb->pos = (b->last_buf ? ctx->stream_cut : llr_sse_in_event(sse))
                      ? ev : ev + 2;
            eb->last = ev_end;
            eb->start = eb->pos;
            eb->end = eb->last;
            eb->flush = 1;

            ncl = ngx_alloc_chain_link(r->pool);
            if (ncl == NULL) {
                return NGX_ERROR;
            }

            ncl->buf = eb;

            if (b->last_buf && ngx_buf_size(b) > 0) {
                /* after the provider's last bytes, taking over the flag */
                eb->last_buf = 1;
                eb->last_in_chain = b->last_in_chain;
                b->last_buf = 0;
                after = ncl;

            } else {
                *ll = ncl;
                ll = &ncl->next;
            }

            ctx->stream_error_sent = 1;

            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "llm_route: the stream from provider \"%V\" "
                          "ended without %s, error event sent",
                          &ctx->deployment->provider->name,
                          (ctx->endpoint == LLR_API_RESPONSES
                           || ctx->anthropic)
                          ? "its last event" : "[DONE]");
        }

        ncl = ngx_alloc_chain_link(r->pool);
        if (ncl == NULL) {
            return NGX_ERROR;
        }

        ncl->buf = b;
        *ll = ncl;
        ll = &ncl->next;

        if (after) {
            *ll = after;
            ll = &after->next;
        }
    }

    *ll = NULL;
    *in = out;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_watch_sse(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in)
{
    ngx_buf_t       *b;
    ngx_msec_int_t   ms;
    ngx_chain_t     *cl;
    llr_sse_t       *sse;

    sse = ctx->watch.sse;

    if (ctx->strip_usage) {
        return ngx_http_llm_route_watch_strip(r, ctx, in);
    }

    for (cl = *in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b) && b->last > b->pos) {
            (void) llr_sse_feed(sse, b->pos, b->last - b->pos, NULL,
                                NULL);
        }

        if (b->last_buf) {
            ctx->stream_cut = llr_sse_in_event(sse);
            (void) llr_sse_finish(sse, NULL, NULL);
            ctx->resp_done = 1;
        }

        if (sse->first_content && ctx->ttft_ms < 0) {
            ms = ngx_http_llm_route_elapsed(r);
            ctx->ttft_ms = ngx_max(ms, 0);
        }
    }

    return NGX_OK;
}


/*
 * Stripping the usage chunk the client did not ask for: the chain passed
 * on is built of the bytes the parser emits
 */

static ngx_int_t
ngx_http_llm_route_watch_strip(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_chain_t **in)
{
    ngx_buf_t                  *b;
    ngx_msec_int_t              ms;
    ngx_chain_t                *cl, *out, **ll;
    llr_sse_t                  *sse;
    ngx_http_llm_route_emit_t   e;

    sse = ctx->watch.sse;

    out = NULL;
    ll = &out;

    for (cl = *in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            /*
             * read from a file into memory (proxy_cache): the memory is
             * what changes, so it is what is sent, not the file's bytes
             */
            b->in_file = 0;
        }

        ngx_memzero(&e, sizeof(ngx_http_llm_route_emit_t));
        e.request = r;
        e.in = b;

        if (ngx_buf_in_memory(b) && b->last > b->pos) {
            if (llr_sse_feed(sse, b->pos, b->last - b->pos,
                             ngx_http_llm_route_emit, &e)
                != 0)
            {
                return NGX_ERROR;
            }
        }

        if (b->last_buf) {
            ctx->stream_cut = llr_sse_in_event(sse);

            if (llr_sse_finish(sse, ngx_http_llm_route_emit, &e) != 0) {
                return NGX_ERROR;
            }

            ctx->resp_done = 1;
        }

        if (sse->first_content && ctx->ttft_ms < 0) {
            ms = ngx_http_llm_route_elapsed(r);
            ctx->ttft_ms = ngx_max(ms, 0);
        }

        ll = ngx_http_llm_route_strip_out(r, b, &e, ll);
        if (ll == NULL) {
            return NGX_ERROR;
        }
    }

    *ll = NULL;
    *in = out;

    return NGX_OK;
}


/*
 * What is passed on of buffer b, after ll: b itself if it passes whole;
 * its flags only if all of it is held back; the first span narrowed in
 * b and the bytes after it in a copy; or a copy.  The new end of the
 * chain, NULL if out of memory.
 */

static ngx_chain_t **
ngx_http_llm_route_strip_out(ngx_http_request_t *r, ngx_buf_t *b,
    ngx_http_llm_route_emit_t *e, ngx_chain_t **ll)
{
    ngx_buf_t    *nb;
    ngx_chain_t  *ncl;

    if (e->copy == NULL
        && (e->spans == 0
            || (e->span == b->pos
                && e->span_len == (size_t) (b->last - b->pos))))
    {
        nb = b;

        if (e->spans == 0 && ngx_buf_in_memory(b)) {

            /* all held back: pass the flags, not the bytes */

            b->pos = b->last;

            if (!b->last_buf && !b->flush && !b->sync) {
                return ll;
            }

            nb = ngx_calloc_buf(r->pool);
            if (nb == NULL) {
                return NULL;
            }

            nb->flush = b->flush;
            nb->sync = b->sync;
            nb->last_buf = b->last_buf;
            nb->last_in_chain = b->last_in_chain;
            nb->tag = (ngx_buf_tag_t) &ngx_http_llm_route_module;
        }

        ncl = ngx_alloc_chain_link(r->pool);
        if (ncl == NULL) {
            return NULL;
        }

        ncl->buf = nb;
        *ll = ncl;
        ll = &ncl->next;

        return ll;
    }

    if (e->span) {
        /*
         * The first span goes on in b itself, narrowed to it: b is
         * the upstream's, so its memory is not reused before b is
         * sent (a buffer of ours pointing there could outlive it).
         * The bytes after it follow in a copy, with b's flags.
         */

        b->pos = e->span;
        b->last = e->span + e->span_len;

        ncl = ngx_alloc_chain_link(r->pool);
        if (ncl == NULL) {
            return NULL;
        }

        ncl->buf = b;
        *ll = ncl;
        ll = &ncl->next;

        if (e->copy == NULL) {
            return ll;
        }

        nb = e->copy;

        nb->flush = b->flush;
        nb->last_buf = b->last_buf;
        nb->last_in_chain = b->last_in_chain;
        nb->tag = (ngx_buf_tag_t) &ngx_http_llm_route_module;

        b->last_buf = 0;
        b->last_in_chain = 0;

        ncl = ngx_alloc_chain_link(r->pool);
        if (ncl == NULL) {
            return NULL;
        }

        ncl->buf = nb;
        *ll = ncl;
        ll = &ncl->next;

        return ll;
    }

    /* held bytes first: all in a buffer of our own, with b's flags */

    nb = e->copy;

    nb->flush = b->flush;
    nb->last_buf = b->last_buf;
    nb->last_in_chain = b->last_in_chain;
    nb->tag = (ngx_buf_tag_t) &ngx_http_llm_route_module;

    b->pos = b->last;

    ncl = ngx_alloc_chain_link(r->pool);
    if (ncl == NULL) {
        return NULL;
    }

    ncl->buf = nb;
    *ll = ncl;
    ll = &ncl->next;

    return ll;
}


