
/*
 * ngx_llm_route_module: the mock's answer, on time (llm_route_mock).
 *
 * The waits (delay, time to first token, tokens per second) are nginx
 * timers: a worker never sleeps.  A paced stream waits for a client that
 * does not keep up (send_timeout applies), and X-Mock-Cut closes the
 * connection once what was written has left.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_reply.h"
#include "ngx_http_llm_route_mock_send.h"
#include "ngx_http_llm_route_mock_text.h"


static ngx_int_t ngx_http_llm_route_mock_json(
    ngx_http_llm_route_mock_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_mock_stream(
    ngx_http_llm_route_mock_ctx_t *ctx);
static ngx_uint_t ngx_http_llm_route_mock_due(
    ngx_http_llm_route_mock_ctx_t *ctx, ngx_msec_t now, ngx_uint_t limit);
static ngx_chain_t *ngx_http_llm_route_mock_buffer(
    ngx_http_llm_route_mock_ctx_t *ctx, ngx_uint_t n, ngx_uint_t tail);
static ngx_int_t ngx_http_llm_route_mock_cut(
    ngx_http_llm_route_mock_ctx_t *ctx, ngx_int_t rc);
static void ngx_http_llm_route_mock_timer_handler(ngx_event_t *ev);
static void ngx_http_llm_route_mock_writer(ngx_http_request_t *r);


static ngx_str_t  ngx_http_llm_route_mock_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_llm_route_mock_sse_type =
    ngx_string("text/event-stream");


/* headers (and for JSON the whole answer) after the delay */

ngx_int_t
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
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_chain_t          out;
    ngx_http_request_t  *r;

    r = ctx->request;

    b = ngx_http_llm_route_mock_answer(ctx);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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

    n = ngx_http_llm_route_mock_due(ctx, now, limit);

    final = (ctx->sent + n == limit);
    tail = (final && ctx->cut < 0);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: mock stream %ui+%ui of %ui events",
                   ctx->sent, n, ctx->events);

    cl = ngx_http_llm_route_mock_buffer(ctx, n, tail);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

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
 * How many events to send now: all that are left without pacing; else
 * those due (event k is due at start + k * chunk / tps), at least one,
 * at most a batch
 */

static ngx_uint_t
ngx_http_llm_route_mock_due(ngx_http_llm_route_mock_ctx_t *ctx,
    ngx_msec_t now, ngx_uint_t limit)
{
    uint64_t    due;
    ngx_uint_t  n;

    if (ctx->tps == 0) {
        return limit - ctx->sent;
    }

    due = (uint64_t) (now - ctx->start) * ctx->tps
          / ((uint64_t) ctx->chunk * 1000) + 1;

    if (due > limit) {
        due = limit;
    }

    n = (due > ctx->sent) ? (ngx_uint_t) due - ctx->sent : 0;

    if (n == 0 && ctx->sent < limit) {
        n = 1;
    }

    return ngx_min(n, NGX_HTTP_LLM_ROUTE_MOCK_BATCH);
}


/*
 * The buffer of the next n events: everything at once, or the last
 * events, in a buffer of its own; paced events in buffers of one size,
 * reused once sent
 */

static ngx_chain_t *
ngx_http_llm_route_mock_buffer(ngx_http_llm_route_mock_ctx_t *ctx,
    ngx_uint_t n, ngx_uint_t tail)
{
    size_t               size;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ctx->tps == 0 || tail) {
        size = n * ctx->event_size + ctx->base_size
               + (tail ? ctx->tail_size : 0);

        b = ngx_create_temp_buf(r->pool, size);
        if (b == NULL) {
            return NULL;
        }

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NULL;
        }

        cl->buf = b;
        b->tag = (ngx_buf_tag_t) &ngx_http_llm_route_mock_module;

        return cl;
    }

    size = NGX_HTTP_LLM_ROUTE_MOCK_BATCH * ctx->event_size + ctx->base_size;

    cl = ngx_chain_get_free_buf(r->pool, &ctx->free);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;

    if (b->start == NULL) {
        b->start = ngx_palloc(r->pool, size);
        if (b->start == NULL) {
            return NULL;
        }

        b->end = b->start + size;
        b->temporary = 1;
        b->tag = (ngx_buf_tag_t) &ngx_http_llm_route_mock_module;
    }

    b->pos = b->start;
    b->last = b->start;

    return cl;
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
                   "llm_route: mock cut");

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

ngx_int_t
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

void
ngx_http_llm_route_mock_wait(ngx_http_llm_route_mock_ctx_t *ctx,
    ngx_msec_t delay)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: mock wait %M", delay);

    /* notice a client that goes away while we wait */

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_llm_route_mock_writer;

    ctx->timer.handler = ngx_http_llm_route_mock_timer_handler;
    ctx->timer.data = ctx;
    ctx->timer.log = r->connection->log;

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
                   "llm_route: mock timer");

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
                   "llm_route: mock writer");

    if (wev->timedout) {
        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (!r->header_sent) {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_route_mock_module);
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
