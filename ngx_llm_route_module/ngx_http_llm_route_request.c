
/*
 * ngx_llm_route_module: the request path.
 *
 * PRECONTENT phase, in the shape of nginx's mirror module: read the body
 * without blocking, then scan and rewrite it in one pass (core/llr_req),
 * choose a deployment, fill the holes the rewriter left (the routed
 * model, stream options), replace the body, and resume the phases so
 * that proxy_pass $llm_route_url sends it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_module.h"
#include "llr_req.h"
#include "llr_arena.h"
#include "llr_cost.h"


#define NGX_HTTP_LLM_ROUTE_READ_CHUNK  65536
#define NGX_HTTP_LLM_ROUTE_OUT_MIN     4096
/*
 * Runs of the body shorter than this are copied: a buffer and a link
 * more cost nginx more than copying a few kilobytes
 */
#define NGX_HTTP_LLM_ROUTE_REF_MIN     16384


typedef struct {
    llr_out_t                   out;        /* must be first */
    ngx_http_request_t         *request;
    ngx_http_llm_route_ctx_t   *ctx;
    ngx_buf_t                  *buf;        /* being written */
    size_t                      size;       /* of the next buffer */
} ngx_http_llm_route_out_t;


/* see ngx_http_llm_route_scratch_begin() */

#define NGX_HTTP_LLM_ROUTE_SCRATCH     16384

static u_char       *ngx_http_llm_route_scratch_mem;
static llr_arena_t   ngx_http_llm_route_scratch;


static void ngx_http_llm_route_ctx_cleanup(void *data);
static void ngx_http_llm_route_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route_process(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_scan(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_scratch_begin(ngx_http_request_t *r,
    llr_alloc_t *alloc);
static void ngx_http_llm_route_scratch_end(void);
static ngx_int_t ngx_http_llm_route_scan_error(ngx_http_request_t *r,
    llr_req_t *rq, llr_req_err_e rc);
static ngx_int_t ngx_http_llm_route_choose(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_select(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_rules(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static void ngx_http_llm_route_sink_begin(void *data, const char *role,
    size_t turn);
static void ngx_http_llm_route_sink_text(void *data,
    const unsigned char *text, size_t len);
static void ngx_http_llm_route_sink_end(void *data);
static int ngx_http_llm_route_want(void *data, const unsigned char *model,
    size_t len);
static ngx_int_t ngx_http_llm_route_finish_body(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_fill_model(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_set_url(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_retry_header(ngx_http_request_t *r,
    time_t sec);
static ngx_int_t ngx_http_llm_route_failover(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_models(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static u_char *ngx_http_llm_route_model_object(u_char *p, ngx_str_t *id,
    ngx_str_t *owner);
static ngx_int_t ngx_http_llm_route_model_id(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_llm_route_not_found(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_out_buf(ngx_http_llm_route_out_t *o,
    size_t size);
static int ngx_http_llm_route_out_next(llr_out_t *out);
static int ngx_http_llm_route_out_mark(llr_out_t *out, llr_mark_e mark,
    int comma);
static int ngx_http_llm_route_out_ref(llr_out_t *out, const u_char *p,
    size_t len);
static ngx_int_t ngx_http_llm_route_out_link(ngx_http_llm_route_out_t *o,
    ngx_buf_t *b);
static int ngx_http_llm_route_out_rest(ngx_http_llm_route_out_t *o);
static int ngx_http_llm_route_out_flush(llr_out_t *out);


/* message text goes to the classifier and to the text rules */
typedef struct {
    llr_text_sink_t                 cls;
    ngx_http_llm_route_ctx_t       *ctx;
    ngx_http_llm_route_loc_conf_t  *lcf;
    ngx_http_llm_route_main_conf_t *mcf;
    ngx_uint_t                      wanted;  /* the last want() answer */
} ngx_http_llm_route_sink_t;


static struct {
    ngx_str_t    suffix;
    ngx_uint_t   endpoint;
    ngx_uint_t   scan;
} ngx_http_llm_route_endpoints[] = {
    { ngx_string("/chat/completions"), NGX_HTTP_LLM_ROUTE_EP_CHAT,
      LLR_EP_CHAT },
    { ngx_string("/completions"), NGX_HTTP_LLM_ROUTE_EP_COMPLETIONS,
      LLR_EP_COMPLETIONS },
    { ngx_string("/embeddings"), NGX_HTTP_LLM_ROUTE_EP_EMBEDDINGS,
      LLR_EP_EMBEDDINGS },
    { ngx_string("/responses"), NGX_HTTP_LLM_ROUTE_EP_RESPONSES,
      LLR_EP_RESPONSES },
    { ngx_string("/models"), NGX_HTTP_LLM_ROUTE_EP_MODELS, LLR_EP_ANY },
    { ngx_null_string, NGX_HTTP_LLM_ROUTE_EP_UNKNOWN, LLR_EP_ANY }
};


static ngx_str_t  ngx_http_llm_route_usage_on =
    ngx_string(",\"stream_options\":{\"include_usage\":true}");


/*
 * The request context must survive internal redirects (error_page to a
 * named location for failover), which zero r->ctx: like the realip
 * module, it is also reachable through a cleanup of the request pool.
 */

ngx_http_llm_route_ctx_t *
ngx_http_llm_route_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_route_module);

    if (ctx == NULL && (r->internal || r->filter_finalize)) {

        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_llm_route_ctx_cleanup) {
                ctx = cln->data;
                ngx_http_set_ctx(r, ctx, ngx_http_llm_route_module);
                break;
            }
        }
    }

    return ctx;
}


static void
ngx_http_llm_route_ctx_cleanup(void *data)
{
    /* nothing to release: the context lives in the request pool */
}


static ngx_http_llm_route_ctx_t *
ngx_http_llm_route_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_llm_route_ctx_t        *ctx;
    ngx_http_llm_route_main_conf_t  *mcf;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_llm_route_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_llm_route_ctx_t));

    ctx->request = r;
    ctx->attempt = 1;
    ctx->difficulty = -1;
    ctx->ttft_ms = -1;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);
    ctx->task_index = mcf->tasks.nelts ? mcf->tasks.nelts - 1 : 0;

    cln->handler = ngx_http_llm_route_ctx_cleanup;

    ngx_http_set_ctx(r, ctx, ngx_http_llm_route_module);

    return ctx;
}


ngx_int_t
ngx_http_llm_route_precontent_handler(ngx_http_request_t *r)
{
    size_t                          len;
    ngx_int_t                       rc;
    ngx_uint_t                      i;
    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_llm_route_ctx_t       *ctx;
    ngx_http_llm_route_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    if (!lcf->enable || r != r->main) {
        return NGX_DECLINED;
    }

    /* llm_route on inherited by the status or the mock location */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->handler == ngx_http_llm_route_status_handler
        || clcf->handler == ngx_http_llm_route_mock_handler)
    {
        return NGX_DECLINED;
    }

    ctx = ngx_http_llm_route_get_ctx(r);

    if (ctx) {
        if (ctx->reading) {

            if (r->uri_changes == ctx->uri_changes) {
                return NGX_DONE;
            }

            /*
             * the body could not be read, and error_page brought the
             * error here: nothing to route, and no body handler to wait
             * for (it is not called after a read error)
             */

            ctx->reading = 0;
            ctx->done = 1;

            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ctx->routed && r->uri_changes != ctx->uri_changes) {

            if (r->upstream_states
                && r->upstream_states->nelts > ctx->upstream_tries)
            {
                /* error_page sent the failed attempt here: the next one */
                return ngx_http_llm_route_failover(r, ctx);
            }

            /*
             * redirected before the provider was asked (try_files,
             * rewrite ... last): the route stands
             */

            ctx->uri_changes = r->uri_changes;
        }

        return NGX_DECLINED;
    }

    ctx = ngx_http_llm_route_create_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the endpoint is the known OpenAI suffix of the path */

    for (i = 0; ngx_http_llm_route_endpoints[i].suffix.len; i++) {
        len = ngx_http_llm_route_endpoints[i].suffix.len;

        if (r->uri.len >= len
            && ngx_strncmp(r->uri.data + r->uri.len - len,
                           ngx_http_llm_route_endpoints[i].suffix.data, len)
               == 0)
        {
            break;
        }
    }

    ctx->endpoint = ngx_http_llm_route_endpoints[i].endpoint;
    ctx->endpoint_path = ngx_http_llm_route_endpoints[i].suffix;

    /* GET /v1/models/{id}: one model */

    if (ctx->endpoint == NGX_HTTP_LLM_ROUTE_EP_UNKNOWN
        && ngx_http_llm_route_model_id(r, &ctx->requested_model) == NGX_OK)
    {
        ctx->endpoint = NGX_HTTP_LLM_ROUTE_EP_MODELS;
        ngx_str_set(&ctx->endpoint_path, "/models/");
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm route: endpoint %ui \"%V\"",
                   ctx->endpoint, &ctx->endpoint_path);

    if (ctx->endpoint == NGX_HTTP_LLM_ROUTE_EP_MODELS) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            goto not_allowed;
        }

        ctx->done = 1;
        ngx_http_finalize_request(r, ngx_http_llm_route_models(r, ctx));
        return NGX_DONE;
    }

    if (ctx->endpoint == NGX_HTTP_LLM_ROUTE_EP_UNKNOWN) {
        ctx->done = 1;
        ngx_http_finalize_request(r, ngx_http_llm_route_not_found(r, ctx));
        return NGX_DONE;
    }

    if (r->method != NGX_HTTP_POST) {
        goto not_allowed;
    }

    ctx->reading = 1;
    ctx->uri_changes = r->uri_changes;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_llm_route_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->reading = 0;
        ctx->done = 1;

        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            r->keepalive = 0;
            r->lingering_close = 1;

            rc = ngx_http_llm_route_send_error(r, rc, "invalid_request_error",
                                               NULL, "request_too_large",
                                               NULL);
        }

        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;

not_allowed:

    ctx->done = 1;

    rc = ngx_http_llm_route_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                       "invalid_request_error", NULL,
                                       "method_not_allowed", NULL);
    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}


static void
ngx_http_llm_route_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r);

    ctx->reading = 0;
    ctx->done = 1;

    rc = ngx_http_llm_route_process(r, ctx);

    if (rc == NGX_OK && !ctx->responded
        && ngx_http_llm_route_strip_credentials(r, ctx->deployment->provider)
           != NGX_OK)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK || ctx->responded) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


static void *
ngx_http_llm_route_palloc(void *ctx, size_t size)
{
    size_t  *p;

    p = ngx_palloc(ctx, size + sizeof(size_t));
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void
ngx_http_llm_route_pfree(void *ctx, void *ptr)
{
    if (ptr) {
        /* returns large allocations only; the rest goes with the pool */
        (void) ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}


static void *
ngx_http_llm_route_prealloc(void *ctx, void *ptr, size_t size)
{
    size_t  old;
    void   *p;

    p = ngx_http_llm_route_palloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    if (ptr) {
        old = ((size_t *) ptr)[-1];
        ngx_memcpy(p, ptr, ngx_min(old, size));
        ngx_http_llm_route_pfree(ctx, ptr);
    }

    return p;
}


void
ngx_http_llm_route_pool_alloc(ngx_pool_t *pool, llr_alloc_t *alloc)
{
    alloc->malloc = ngx_http_llm_route_palloc;
    alloc->realloc = ngx_http_llm_route_prealloc;
    alloc->free = ngx_http_llm_route_pfree;
    alloc->ctx = pool;
}


/*
 * The scanner and the classifier state live only while
 * ngx_http_llm_route_scan() runs, and it never waits for an event.  So
 * each worker keeps one scratch block for them (as nginx's regex code
 * keeps its match data) instead of spending request pool blocks on
 * memory that every request drops before the scan returns.  What does
 * not fit comes from the request pool, as before (core/llr_arena.h).
 */

static ngx_int_t
ngx_http_llm_route_scratch_begin(ngx_http_request_t *r, llr_alloc_t *alloc)
{
    llr_alloc_t  pool;

    if (ngx_http_llm_route_scratch_mem == NULL) {
        ngx_http_llm_route_scratch_mem = ngx_alloc(NGX_HTTP_LLM_ROUTE_SCRATCH,
                                                   r->connection->log);
        if (ngx_http_llm_route_scratch_mem == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_http_llm_route_pool_alloc(r->pool, &pool);

    llr_arena_init(&ngx_http_llm_route_scratch,
                   ngx_http_llm_route_scratch_mem, NGX_HTTP_LLM_ROUTE_SCRATCH,
                   &pool);
    llr_arena_alloc(&ngx_http_llm_route_scratch, alloc);

    return NGX_OK;
}


static void
ngx_http_llm_route_scratch_end(void)
{
    if (ngx_http_llm_route_scratch_mem) {
        /* under AddressSanitizer, a late use of the scratch is reported */
        llr_arena_reset(&ngx_http_llm_route_scratch);
    }
}


static ngx_int_t
ngx_http_llm_route_process(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    u_char                         *p;
    ngx_int_t                       rc;
    ngx_str_t                       why;
    ngx_http_llm_route_rule_t      *rule;
    ngx_http_llm_route_loc_conf_t  *lcf;

    rc = ngx_http_llm_route_scan(r, ctx);

    /* the scanner and the classifier state are gone from here on */
    ngx_http_llm_route_scratch_end();

    if (rc != NGX_OK || ctx->responded) {
        return rc;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    ctx->requested_model.data = (u_char *) ctx->view.model;
    ctx->requested_model.len = ctx->view.model_len;

    rc = ngx_http_llm_route_rules(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llm_route_choose(r, ctx);
    if (rc != NGX_OK || ctx->responded) {
        return rc;
    }

    if (ctx->forced) {
        /* the receipt says who decided */
        rule = lcf->rules ? lcf->rules->elts : NULL;

        why.len = ctx->reason.len + sizeof("llm_route_override: ; ") - 1
                  + (ctx->forced > 1 ? rule[ctx->forced - 2].text.len + 16
                                     : 0);
        why.data = ngx_pnalloc(r->pool, why.len);
        if (why.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ctx->forced == 1) {
            p = ngx_sprintf(why.data, "llm_route_override; %V",
                            &ctx->reason);

        } else {
            p = ngx_sprintf(why.data, "llm_route_rule \"%V\"; %V",
                            &rule[ctx->forced - 2].text, &ctx->reason);
        }

        ctx->reason.data = why.data;
        ctx->reason.len = p - why.data;
    }

    /* budgets and rate limits (limits.c): admitted by estimate */
    {
        uint64_t     prompt_est, completion_est;
        llr_price_t  price;

        /* every choice is generated, and paid for: n times */

        prompt_est = llr_estimate_tokens(ctx->view.text_bytes);
        completion_est = llr_mul_sat(ctx->view.max_tokens >= 0
                                     ? (uint64_t) ctx->view.max_tokens : 256,
                                     ctx->view.n ? ctx->view.n : 1);

        ctx->est_tokens = llr_add_sat(prompt_est, completion_est);

        price.input = ctx->deployment->input;
        price.output = ctx->deployment->output;
        price.cached_input = ctx->deployment->cached_input;

        ctx->est_cost_pusd = llr_cost(&price, prompt_est, 0, completion_est);

        rc = ngx_http_llm_route_limits_admit(r, ctx);
        if (rc != NGX_OK || ctx->responded) {
            return rc;
        }
    }

    return ngx_http_llm_route_finish_body(r, ctx);
}


static ngx_int_t
ngx_http_llm_route_scan(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    off_t                      size, offset, end;
    u_char                    *rbuf;
    ngx_uint_t                 in_file;
    size_t                     n;
    ssize_t                    got;
    ngx_int_t                  rc;
    void                      *cls;
    llr_req_t                 *rq;
    ngx_buf_t                 *b;
    llr_alloc_t                alloc;
    ngx_chain_t               *cl;
    llr_req_err_e              err;
    llr_text_sink_t            sink, *psink;
    llr_cls_result_t           res;
    ngx_http_llm_route_out_t  *o;
    u_char                    *model;
    ngx_http_llm_route_sink_t  ws;
    ngx_http_llm_route_rule_t *rule;
    ngx_uint_t                 i, want;
    ngx_http_llm_route_loc_conf_t   *lcf;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (r->request_body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    size = 0;
    in_file = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);

        if (!ngx_buf_in_memory(cl->buf)) {
            in_file = 1;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm route: body %O bytes", size);

    o = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_route_out_t));
    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    o->request = r;
    o->ctx = ctx;
    o->out.next = ngx_http_llm_route_out_next;
    o->out.mark = ngx_http_llm_route_out_mark;
    o->out.ref = ngx_http_llm_route_out_ref;
    o->out.flush = ngx_http_llm_route_out_flush;

    ctx->body = NULL;
    ctx->last = &ctx->body;

    /*
     * The rewritten body is about as long as the original.  Long runs
     * of a body held in memory are linked where they lie, not copied:
     * they need no room here.
     */

    n = (size_t) size;

    if (!in_file && n > NGX_HTTP_LLM_ROUTE_REF_MIN) {
        n = NGX_HTTP_LLM_ROUTE_REF_MIN;
    }

    if (ngx_http_llm_route_out_buf(o, n + 256) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    o->size = NGX_HTTP_LLM_ROUTE_OUT_MIN;

    if (ngx_http_llm_route_scratch_begin(r, &alloc) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* with policies, message text goes to the classifier as it is read */

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);
    psink = NULL;
    cls = NULL;

    ngx_memzero(&ws, sizeof(ngx_http_llm_route_sink_t));
    ws.ctx = ctx;
    ws.lcf = lcf;

    if (mcf->policies.nelts
        && ctx->endpoint != NGX_HTTP_LLM_ROUTE_EP_EMBEDDINGS)
    {
        cls = alloc.malloc(alloc.ctx, llr_cls_state_size(mcf->classifier));
        if (cls == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        llr_cls_state_init(cls, mcf->classifier);
        llr_cls_sink(cls, &ws.cls);
        psink = &ws.cls;
    }

    if (lcf->text_rules) {
        sink.message_begin = ngx_http_llm_route_sink_begin;
        sink.text = ngx_http_llm_route_sink_text;
        sink.message_end = ngx_http_llm_route_sink_end;
        sink.ctx = &ws;
        psink = &sink;
    }

    rq = llr_req_create(&alloc,
                        ngx_http_llm_route_endpoints[ctx->endpoint].scan,
                        &o->out, psink);
    if (rq == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * "llm_route_classify policy": classify only requests for a policy.
     * The model may come after the messages (the OpenAI SDKs send it
     * last), so the scanner keeps the text until it knows.  Text rules,
     * an override or a rule that picks a policy need the text always.
     */

    ws.mcf = mcf;
    ws.wanted = 1;
    want = 0;

    if (cls
        && lcf->classify == NGX_HTTP_LLM_ROUTE_CLASSIFY_POLICY
        && lcf->text_rules == 0 && lcf->override == NULL)
    {
        want = 1;

        if (lcf->rules) {
            rule = lcf->rules->elts;

            for (i = 0; i < lcf->rules->nelts; i++) {
                if (rule[i].action == NGX_HTTP_LLM_ROUTE_RULE_POLICY) {
                    want = 0;
                    break;
                }
            }
        }

        if (want) {
            llr_req_set_want(rq, ngx_http_llm_route_want, &ws);
        }
    }

    err = LLR_REQ_OK;
    rbuf = NULL;

    for (cl = r->request_body->bufs; cl && err == LLR_REQ_OK; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            /* the body's buffers live as long as the request */
            err = llr_req_feed_stable(rq, b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file || b->file == NULL) {
            continue;
        }

        /* spilled to the temporary file: read it back in pieces */

        if (rbuf == NULL) {
            rbuf = ngx_palloc(r->pool, NGX_HTTP_LLM_ROUTE_READ_CHUNK);
            if (rbuf == NULL) {
                llr_req_destroy(rq);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        offset = b->file_pos;
        end = b->file_last;

        while (offset < end && err == LLR_REQ_OK) {
            n = (size_t) ngx_min(end - offset, NGX_HTTP_LLM_ROUTE_READ_CHUNK);

            got = ngx_read_file(b->file, rbuf, n, offset);

            if (got != (ssize_t) n) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "llm route: cannot read the request body "
                              "from \"%V\"", &b->file->name);
                llr_req_destroy(rq);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            err = llr_req_feed(rq, rbuf, n);
            offset += n;
        }
    }

    if (rbuf) {
        (void) ngx_pfree(r->pool, rbuf);
    }

    if (err == LLR_REQ_OK) {
        err = llr_req_finish(rq);
    }

    if (err != LLR_REQ_OK) {
        rc = ngx_http_llm_route_scan_error(r, rq, err);
        llr_req_destroy(rq);
        return rc;
    }

    ctx->view = *llr_req_view(rq);

    /* the model name lives in the scanner's memory: keep a copy */

    if (ctx->view.model) {
        model = ngx_pnalloc(r->pool, ctx->view.model_len + 1);
        if (model == NULL) {
            /* no pointer into the scratch may outlive the scan */
            ctx->view.model = NULL;
            ctx->view.model_len = 0;
            llr_req_destroy(rq);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(model, ctx->view.model, ctx->view.model_len);
        model[ctx->view.model_len] = '\0';
        ctx->view.model = (char *) model;
    }

    llr_req_destroy(rq);

    if (want && !ws.wanted) {
        /* an explicit model: not classified ("unclassified" task) */
        cls = NULL;
    }

    if (cls) {
        llr_cls_finish(cls, &ctx->view, &res);

        ctx->classified = 1;
        ctx->task_index = (ngx_uint_t) res.task;
        ctx->task.data = (u_char *) res.task_name;
        ctx->task.len = ngx_strlen(res.task_name);
        ctx->difficulty = res.difficulty;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm route: task \"%V\" difficulty %.3f",
                       &ctx->task, ctx->difficulty);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_scan_error(ngx_http_request_t *r, llr_req_t *rq,
    llr_req_err_e rc)
{
    const char  *code;
    ngx_str_t    msg;

    switch (rc) {

    case LLR_REQ_ERR_JSON:
        code = "invalid_json";
        break;

    case LLR_REQ_ERR_TYPE:
        code = "invalid_type";
        break;

    case LLR_REQ_ERR_MISSING:
        code = "missing_required_parameter";
        break;

    case LLR_REQ_ERR_DEPTH:
        code = "nesting_too_deep";
        break;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg.data = (u_char *) llr_req_error_message(rq);
    msg.len = msg.data ? ngx_strlen(msg.data) : 0;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm route: rejected (%s): %V", code, &msg);

    return ngx_http_llm_route_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_request_error",
                                         llr_req_error_param(rq), code, &msg);
}


/*
 * Smooth weighted round-robin among a model's deployments (per worker),
 * skipping deployments already tried for this request and providers in
 * cooldown.  NULL when none is left.
 */

/* already tried for this request */

static ngx_uint_t
ngx_http_llm_route_tried(ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_deployment_t *d)
{
    ngx_uint_t  j;

    for (j = 0; j < ctx->ntried; j++) {
        if (ctx->tried[j] == d) {
            return 1;
        }
    }

    return 0;
}


/* not tried yet for this request, and its provider is not cooling down */

static ngx_uint_t
ngx_http_llm_route_deployment_usable(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_deployment_t *d)
{
    return !ngx_http_llm_route_tried(ctx, d)
           && ngx_http_llm_route_provider_cooldown(r, d->provider) == 0;
}


/*
 * When no deployment is usable: the one of m not tried yet whose
 * cooldown ends first.  nginx never marks the last server of an upstream
 * down either: one failure must not turn every client away until the
 * cooldown ends (docs/failover.md).  A provider under the Retry-After of
 * its 429 is not taken: it asked to be left alone that long.  *ms is the
 * cooldown left of the one returned; NULL if none can be taken.
 */

static ngx_http_llm_route_deployment_t *
ngx_http_llm_route_soonest(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_model_t *m,
    ngx_msec_t *ms)
{
    ngx_msec_t                         left, best_ms;
    ngx_uint_t                         i;
    ngx_http_llm_route_deployment_t  **d, *best;

    d = m->deployments.elts;
    best = NULL;
    best_ms = 0;

    for (i = 0; i < m->deployments.nelts; i++) {

        if (ngx_http_llm_route_tried(ctx, d[i])
            || ngx_http_llm_route_provider_retry_after(r, d[i]->provider))
        {
            continue;
        }

        left = ngx_http_llm_route_provider_cooldown(r, d[i]->provider);

        if (best == NULL || left < best_ms) {
            best = d[i];
            best_ms = left;
        }
    }

    *ms = best_ms;

    if (best) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "llm route: every deployment of \"%V\" left is "
                      "cooling down, trying provider \"%V\" whose "
                      "cooldown ends first (in %M ms)",
                      &m->name, &best->provider->name, *ms);
    }

    return best;
}


/*
 * Smooth weighted round-robin among a model's usable deployments (per
 * worker), or the lowest recent latency with llm_route_balance latency.
 * NULL when none is left.
 */

static ngx_http_llm_route_deployment_t *
ngx_http_llm_route_pick_deployment(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_model_t *m)
{
    ngx_int_t                          total;
    ngx_uint_t                         i, n;
    ngx_http_llm_route_loc_conf_t     *lcf;
    ngx_http_llm_route_deployment_t  **d, *best, *usable[64];

    d = m->deployments.elts;
    n = 0;

    for (i = 0; i < m->deployments.nelts && n < 64; i++) {
        if (ngx_http_llm_route_deployment_usable(r, ctx, d[i])) {
            usable[n++] = d[i];
        }
    }

    if (n == 0) {
        return NULL;
    }

    if (n == 1) {
        return usable[0];
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    if (lcf->balance == NGX_HTTP_LLM_ROUTE_BALANCE_LATENCY) {
        best = ngx_http_llm_route_least_latency(r, usable, n);

        if (best) {
            return best;
        }

        /* some have no recent latency yet: round-robin to learn it */
    }

    best = NULL;
    total = 0;

    for (i = 0; i < n; i++) {
        usable[i]->current_weight += usable[i]->weight;
        total += usable[i]->weight;

        if (best == NULL || usable[i]->current_weight > best->current_weight)
        {
            best = usable[i];
        }
    }

    best->current_weight -= total;

    return best;
}


/* the model's context window (its first deployment's) holds the request */

static ngx_uint_t
ngx_http_llm_route_fits(ngx_http_llm_route_ctx_t *ctx,
    ngx_http_llm_route_model_t *m)
{
    uint64_t                           need;
    ngx_http_llm_route_deployment_t  **d;

    d = m->deployments.elts;

    need = llr_add_sat(llr_estimate_tokens(ctx->view.text_bytes),
                       ctx->view.max_tokens > 0
                       ? (uint64_t) ctx->view.max_tokens : 0);

    return d[0]->context == 0 || d[0]->context >= need;
}


/* can the model still be tried: one of its deployments is usable */

static ngx_uint_t
ngx_http_llm_route_model_usable(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_model_t *m)
{
    ngx_uint_t                         i;
    ngx_http_llm_route_deployment_t  **d;

    d = m->deployments.elts;

    for (i = 0; i < m->deployments.nelts; i++) {
        if (ngx_http_llm_route_deployment_usable(r, ctx, d[i])) {
            return 1;
        }
    }

    return 0;
}


/*
 * Every deployment that could serve is under the Retry-After of a 429
 * (the others would have been tried, see ngx_http_llm_route_soonest()):
 * 429, with the Retry-After that ends first, as the providers said.
 */

static ngx_int_t
ngx_http_llm_route_all_down(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_str_t *what)
{
    ngx_int_t                          rc;
    ngx_str_t                          msg;
    ngx_msec_t                         ms, min;
    ngx_uint_t                         i, j;
    ngx_http_llm_route_model_t       **cand, *m;
    ngx_http_llm_route_deployment_t  **d;

    /* the earliest end of a Retry-After */

    min = 0;

    for (i = 0; ; i++) {
        if (ctx->policy) {
            if (i == ctx->policy->candidates.nelts) {
                break;
            }

            cand = ctx->policy->candidates.elts;
            m = cand[i];

        } else {
            if (i == 1) {
                break;
            }

            m = ctx->model;
        }

        d = m->deployments.elts;

        for (j = 0; j < m->deployments.nelts; j++) {
            ms = ngx_http_llm_route_provider_retry_after(r, d[j]->provider);

            if (ms && (min == 0 || ms < min)) {
                min = ms;
            }
        }
    }

    if (min
        && ngx_http_llm_route_retry_header(r, (time_t) ((min + 999) / 1000))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg.len = sizeof("Every provider of \"\" asked to be retried later "
                     "(429 with Retry-After).") - 1 + ngx_min(what->len, 128);
    msg.data = ngx_pnalloc(r->pool, msg.len);
    if (msg.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg.len = ngx_sprintf(msg.data, "Every provider of \"%*s\" asked to be "
                          "retried later (429 with Retry-After).",
                          ngx_min(what->len, 128), what->data)
              - msg.data;

    rc = ngx_http_llm_route_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                       "requests", NULL,
                                       "rate_limit_exceeded", &msg);

    /* not one of the module's own limits: the providers are unavailable */
    ctx->rejected = LLR_REJECT_UNAVAILABLE;

    return rc;
}


/* Retry-After: seconds */

static ngx_int_t
ngx_http_llm_route_retry_header(ngx_http_request_t *r, time_t sec)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "%T", sec) - p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_choose(ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx)
{
    size_t                            len;
    u_char                           *p;
    ngx_str_t                         msg;
    ngx_msec_t                        ms;
    ngx_http_llm_route_model_t       *m;
    ngx_http_llm_route_main_conf_t   *mcf;
    ngx_http_llm_route_deployment_t  *d;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    if (ctx->target.len == 0) {
        ngx_str_set(&msg, "you must provide a model parameter");
        return ngx_http_llm_route_send_error(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request_error", "model",
                                             "missing_required_parameter",
                                             &msg);
    }

    m = ngx_http_llm_route_find_model(mcf, ctx->target.data,
                                      ctx->target.len);

    if (m == NULL) {
        ctx->policy = ngx_http_llm_route_find_policy(mcf, ctx->target.data,
                                                     ctx->target.len);
        if (ctx->policy == NULL) {
            return ngx_http_llm_route_not_found(r, ctx);
        }

        return ngx_http_llm_route_select(r, ctx);
    }

    ctx->model = m;

    d = ngx_http_llm_route_pick_deployment(r, ctx, m);

    if (d == NULL) {
        d = ngx_http_llm_route_soonest(r, ctx, m, &ms);

        if (d == NULL) {
            return ngx_http_llm_route_all_down(r, ctx, &m->name);
        }
    }

    ctx->deployment = d;
    ctx->routed = 1;

    /* the receipt: why this deployment */

    len = sizeof("explicit model ; deployment / (weight  of )") - 1
          + m->name.len + d->provider->name.len + d->upstream_model.len
          + 2 * NGX_INT_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->reason.data = p;

    /* "explicit model M; deployment P/U", then the weight if several */

    p = ngx_cpymem(p, "explicit model ", sizeof("explicit model ") - 1);
    p = ngx_cpymem(p, m->name.data, m->name.len);
    p = ngx_cpymem(p, "; deployment ", sizeof("; deployment ") - 1);
    p = ngx_cpymem(p, d->provider->name.data, d->provider->name.len);
    *p++ = '/';
    p = ngx_cpymem(p, d->upstream_model.data, d->upstream_model.len);

    if (m->deployments.nelts > 1) {
        p = ngx_sprintf(p, " (weight %ui of %ui)", d->weight,
                        m->total_weight);
    }

    ctx->reason.len = p - ctx->reason.data;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm route: \"%V\" -> \"%V\" at provider \"%V\"",
                   &ctx->requested_model, &d->upstream_model,
                   &d->provider->name);

    return NGX_OK;
}


/*
 * Rules before the classifier.  Precedence: llm_route_override (when its
 * value is not empty), then the first matching model= or policy= rule,
 * then what the client asked for; the first matching task= rule replaces
 * the classified task (the difficulty stays the classifier's).
 */

static ngx_int_t
ngx_http_llm_route_rules(ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx)
{
    ngx_int_t                        rc;
    ngx_str_t                        val;
    ngx_uint_t                       i, task_done, target_done, n;
    ngx_http_llm_route_rule_t       *rule;
    ngx_http_llm_route_loc_conf_t   *lcf;
    ngx_http_llm_route_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    ctx->target = ctx->requested_model;
    target_done = 0;
    task_done = 0;

    if (lcf->override) {
        if (ngx_http_complex_value(r, lcf->override, &val) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (val.len) {
            ctx->target = val;
            ctx->forced = 1;
            target_done = 1;
        }
    }

    if (lcf->rules == NULL) {
        return NGX_OK;
    }

    rule = lcf->rules->elts;
    n = 0;

    for (i = 0; i < lcf->rules->nelts; i++) {

        if (rule[i].action == NGX_HTTP_LLM_ROUTE_RULE_TASK
            ? task_done : target_done)
        {
            if (rule[i].value == NULL) {
                n++;
            }

            continue;
        }

        if (rule[i].value == NULL) {
            /* text rules: matched while the body was scanned */
            if (!(ctx->text_matched & ((uint64_t) 1 << n++))) {
                continue;
            }

        } else {
            if (ngx_http_complex_value(r, rule[i].value, &val) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rule[i].regex) {
                rc = llr_pattern_match(rule[i].pattern, val.data, val.len);

                if (rc != 1) {
                    continue;
                }

            } else if (val.len != rule[i].string.len
                       || ngx_strncmp(val.data, rule[i].string.data, val.len)
                          != 0)
            {
                continue;
            }
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm route: rule \"%V\" matched", &rule[i].text);

        if (rule[i].action == NGX_HTTP_LLM_ROUTE_RULE_TASK) {
            ctx->task_index = (ngx_uint_t) rule[i].task;
            ctx->task.data = (u_char *) llr_cls_task_name(mcf->classifier,
                                                          (int) rule[i].task);
            ctx->task.len = ngx_strlen(ctx->task.data);
            task_done = 1;
            continue;
        }

        ctx->target = rule[i].target;
        ctx->forced = 2 + i;
        target_done = 1;
    }

    return NGX_OK;
}


static int
ngx_http_llm_route_want(void *data, const unsigned char *model, size_t len)
{
    ngx_http_llm_route_sink_t *ws = data;

    ws->wanted = ngx_http_llm_route_find_policy(ws->mcf, (u_char *) model,
                                                len)
                 != NULL;

    return (int) ws->wanted;
}


static void
ngx_http_llm_route_sink_begin(void *data, const char *role, size_t turn)
{
    ngx_http_llm_route_sink_t *ws = data;

    if (ws->cls.message_begin) {
        ws->cls.message_begin(ws->cls.ctx, role, turn);
    }
}


static void
ngx_http_llm_route_sink_text(void *data, const unsigned char *text,
    size_t len)
{
    ngx_http_llm_route_sink_t *ws = data;

    uint64_t                    bit;
    ngx_uint_t                  i;
    ngx_http_llm_route_rule_t  *rule;

    if (ws->cls.text) {
        ws->cls.text(ws->cls.ctx, text, len);
    }

    rule = ws->lcf->rules->elts;
    bit = 1;

    for (i = 0; i < ws->lcf->rules->nelts; i++) {
        if (rule[i].value != NULL) {
            continue;
        }

        if (!(ws->ctx->text_matched & bit)
            && (rule[i].regex
                ? llr_pattern_match(rule[i].pattern, text, len) == 1
                : (len == rule[i].string.len
                   && ngx_strncmp(text, rule[i].string.data, len) == 0)))
        {
            ws->ctx->text_matched |= bit;
        }

        bit <<= 1;
    }
}


static void
ngx_http_llm_route_sink_end(void *data)
{
    ngx_http_llm_route_sink_t *ws = data;

    if (ws->cls.message_end) {
        ws->cls.message_end(ws->cls.ctx);
    }
}


/*
 * A policy: the cheapest candidate whose quality for the classified task
 * meets the floor for this difficulty (core/llr_select.c, documented in
 * docs/selection.md).
 */

static ngx_int_t
ngx_http_llm_route_select(ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx)
{
    char                              reason[512];
    int                               rc;
    size_t                            len;
    ngx_uint_t                        i, k;
    ngx_str_t                         msg;
    ngx_msec_t                        ms, soon_ms;
    llr_cand_t                       *c;
    llr_select_in_t                   in;
    llr_select_out_t                  out;
    ngx_http_llm_route_model_t      **cand, *m;
    ngx_http_llm_route_policy_t      *p;
    ngx_http_llm_route_deployment_t  *d, **dd, *soon;

    p = ctx->policy;
    cand = p->candidates.elts;

    c = ngx_palloc(r->pool, p->candidates.nelts * sizeof(llr_cand_t));
    if (c == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a candidate model is described by its first deployment */

    for (i = 0; i < p->candidates.nelts; i++) {
        dd = cand[i]->deployments.elts;
        d = dd[0];

        c[i].name = (char *) cand[i]->name.data;
        c[i].quality = d->quality;
        c[i].task_quality = d->quality_task;
        c[i].input = d->input;
        c[i].output = d->output;
        c[i].context = d->context ? d->context : (uint64_t) -1;
        c[i].usable = ngx_http_llm_route_model_usable(r, ctx, cand[i]);
    }

    ngx_memzero(&in, sizeof(llr_select_in_t));

    in.policy = (char *) p->name.data;
    in.task = ctx->classified ? ctx->task_index : 0;
    in.ntasks = NGX_HTTP_LLM_ROUTE_MAX_TASKS;
    in.task_name = ctx->task.len ? (char *) ctx->task.data : NULL;
    in.difficulty = ctx->difficulty < 0 ? 0 : ctx->difficulty;
    in.floor = p->floor;
    in.floor_hard = p->floor_hard;
    in.task_floor = p->floor_task;
    in.task_floor_hard = p->floor_hard_task;
    in.prompt_tokens = llr_estimate_tokens(ctx->view.text_bytes);
    in.max_tokens = ctx->view.max_tokens;
    in.expected = 0;
    in.cands = c;
    in.ncands = p->candidates.nelts;

    rc = llr_select(&in, &out, reason, sizeof(reason));

    if (rc != 0) {
        /*
         * every candidate that fits is cooling down: the one whose
         * cooldown ends first, as for a model's deployments
         */

        soon = NULL;
        soon_ms = 0;
        k = 0;

        for (i = 0; i < p->candidates.nelts; i++) {
            if (!ngx_http_llm_route_fits(ctx, cand[i])) {
                continue;
            }

            d = ngx_http_llm_route_soonest(r, ctx, cand[i], &ms);

            if (d && (soon == NULL || ms < soon_ms)) {
                soon = d;
                soon_ms = ms;
                k = i;
            }
        }

        if (soon) {
            for (i = 0; i < p->candidates.nelts; i++) {
                c[i].usable = (i == k);
            }

            rc = llr_select(&in, &out, reason, sizeof(reason));
        }
    }

    if (rc != 0) {

        for (i = 0; i < p->candidates.nelts; i++) {
            if (c[i].context >= in.prompt_tokens
                                + (in.max_tokens > 0 ? in.max_tokens : 0)
                && !c[i].usable)
            {
                /* one would fit, but it asked to wait (Retry-After) */
                return ngx_http_llm_route_all_down(r, ctx, &p->name);
            }
        }

        ngx_str_set(&msg, "This model's maximum context length is smaller "
                          "than the request: no candidate of the policy "
                          "fits it.");
        return ngx_http_llm_route_send_error(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_request_error",
                                             "messages",
                                             "context_length_exceeded", &msg);
    }

    m = cand[out.chosen];
    d = ngx_http_llm_route_pick_deployment(r, ctx, m);

    if (d == NULL) {
        d = ngx_http_llm_route_soonest(r, ctx, m, &ms);

        if (d == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->model = m;
    ctx->deployment = d;
    ctx->routed = 1;

    ctx->nfallback = 0;
    ctx->fallback_next = 0;

    for (i = 0; i < out.nfallback; i++) {
        ctx->fallback[ctx->nfallback++] = (u_char) out.fallback[i];
    }

    len = out.reason_len;

    ctx->reason.data = ngx_pnalloc(r->pool, len);
    if (ctx->reason.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->reason.data, reason, len);
    ctx->reason.len = len;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm route: policy \"%V\" chose \"%V\": %V",
                   &p->name, &m->name, &ctx->reason);

    return NGX_OK;
}


/* the holes the rewriter left, then the body replaces the client's */

static ngx_int_t
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
        && (ctx->endpoint == NGX_HTTP_LLM_ROUTE_EP_CHAT
            || ctx->endpoint == NGX_HTTP_LLM_ROUTE_EP_COMPLETIONS)
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

static ngx_int_t
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

static ngx_int_t
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
                   "llm route: url \"%V\", body %O bytes", &ctx->url, len);

    return NGX_OK;
}


/*
 * Failover, nginx's way: proxy_intercept_errors and error_page ... =
 * @fallback bring the request to a location where llm_route runs again.
 * The context survived the internal redirect; the failed attempt is
 * recorded and the next choice is made: another deployment of the same
 * model (by weight), then the policy's next candidates in the selection
 * order.  When nothing is left: 502 (503 if every failure was an
 * overload), OpenAI-shaped, naming what was tried.
 */

static ngx_int_t
ngx_http_llm_route_failover(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    u_char                           *p, *last;
    time_t                            retry_after;
    ngx_int_t                         rc;
    ngx_str_t                         msg;
    ngx_uint_t                        i, j, status, overload;
    ngx_msec_t                        ms, next_ms;
    ngx_list_part_t                  *part;
    ngx_table_elt_t                  *h;
    ngx_http_llm_route_model_t      **cand, *m;
    ngx_http_llm_route_loc_conf_t    *lcf;
    ngx_http_llm_route_deployment_t  *d, *failed, *next;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    /*
     * the failed attempt's status: "error_page ... = @fallback" clears
     * r->err_status, the upstream's state keeps it (502 or 504 for a
     * connection error or a timeout)
     */

    status = 0;

    if (r->upstream && r->upstream->state) {
        status = r->upstream->state->status;
    }

    if (status == 0) {
        status = r->err_status ? (ngx_uint_t) r->err_status
                               : r->headers_out.status;
    }

    if (status == 0) {
        status = NGX_HTTP_BAD_GATEWAY;
    }

    failed = ctx->deployment;

    /* Retry-After of a 429, from the provider's response */

    retry_after = 0;

    if (r->upstream && status == NGX_HTTP_TOO_MANY_REQUESTS) {
        part = &r->upstream->headers_in.headers.part;
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

            if (h[i].key.len == sizeof("Retry-After") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Retry-After",
                                   sizeof("Retry-After") - 1) == 0)
            {
                /* seconds, or an HTTP-date; a day at most */

                retry_after = ngx_atotm(h[i].value.data, h[i].value.len);

                if (retry_after == NGX_ERROR) {
                    retry_after = ngx_parse_http_time(h[i].value.data,
                                                      h[i].value.len);

                    retry_after = (retry_after != NGX_ERROR
                                   && retry_after > ngx_time())
                                  ? retry_after - ngx_time() : 0;
                }

                if (retry_after > 86400) {
                    retry_after = 86400;
                }

                break;
            }
        }
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm route: attempt %ui at \"%V\" of provider \"%V\" "
                  "failed with %ui", ctx->attempt, &failed->upstream_model,
                  &failed->provider->name, status);

    ngx_http_llm_route_provider_failed(r, failed->provider, status,
                                       retry_after);
    ngx_http_llm_route_attempt_failed(r, ctx, status);

    if (ctx->ntried < NGX_HTTP_LLM_ROUTE_MAX_ATTEMPTS) {
        ctx->tried[ctx->ntried] = failed;
        ctx->tried_status[ctx->ntried] = status;
        ctx->ntried++;
    }

    /* the next choice */

    d = NULL;
    m = NULL;

    /*
     * another attempt only if its failure could still come back here:
     * other redirects (rewrite, try_files) count against nginx's limit too
     */

    if (ctx->attempt < lcf->max_attempts && r->uri_changes > 1) {

        m = ctx->model;
        d = ngx_http_llm_route_pick_deployment(r, ctx, m);

        if (d == NULL && ctx->policy) {
            cand = ctx->policy->candidates.elts;

            while (d == NULL && ctx->fallback_next < ctx->nfallback) {
                m = cand[ctx->fallback[ctx->fallback_next++]];

                if (m == ctx->model) {
                    continue;
                }

                d = ngx_http_llm_route_pick_deployment(r, ctx, m);
            }
        }

        if (d == NULL) {
            /* all left are cooling down: the one that ends first */

            m = ctx->model;
            d = ngx_http_llm_route_soonest(r, ctx, m, &ms);

            /* every candidate that fits, usable at selection or not */

            for (i = 0; ctx->policy && i < ctx->policy->candidates.nelts;
                 i++)
            {
                cand = ctx->policy->candidates.elts;

                if (!ngx_http_llm_route_fits(ctx, cand[i])) {
                    continue;
                }

                next = ngx_http_llm_route_soonest(r, ctx, cand[i], &next_ms);

                if (next && (d == NULL || next_ms < ms)) {
                    d = next;
                    m = cand[i];
                    ms = next_ms;
                }
            }
        }
    }

    if (d == NULL) {
        ctx->routed = 0;
        ctx->exhausted = 1;

        overload = 1;

        for (i = 0; i < ctx->ntried; i++) {
            if (ctx->tried_status[i] != NGX_HTTP_TOO_MANY_REQUESTS
                && ctx->tried_status[i] != NGX_HTTP_SERVICE_UNAVAILABLE)
            {
                overload = 0;
            }
        }

        msg.len = 128 + ctx->ntried * (2 * NGX_HTTP_LLM_ROUTE_NAME_MAX + 16);
        msg.data = ngx_pnalloc(r->pool, msg.len);
        if (msg.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = msg.data;
        last = msg.data + msg.len;

        p = ngx_slprintf(p, last, "Every attempt failed (%ui of at most "
                         "%ui): ", ctx->ntried, lcf->max_attempts);

        for (j = 0; j < ctx->ntried; j++) {
            p = ngx_slprintf(p, last, "%s%*s at %*s (%ui)",
                             j ? ", " : "",
                             ngx_min(ctx->tried[j]->upstream_model.len,
                                     NGX_HTTP_LLM_ROUTE_NAME_MAX),
                             ctx->tried[j]->upstream_model.data,
                             ngx_min(ctx->tried[j]->provider->name.len,
                                     NGX_HTTP_LLM_ROUTE_NAME_MAX),
                             ctx->tried[j]->provider->name.data,
                             ctx->tried_status[j]);
        }

        p = ngx_slprintf(p, last, ".");
        msg.len = p - msg.data;

        r->err_status = 0;

        if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
            /*
             * the last provider asked to slow down: so does the client,
             * with its Retry-After, as a RateLimitError that SDKs back
             * off from (a 5xx would be an InternalServerError)
             */

            if (retry_after > 0
                && ngx_http_llm_route_retry_header(r, retry_after) != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            rc = ngx_http_llm_route_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                               "requests", NULL,
                                               "rate_limit_exceeded", &msg);

        } else {
            rc = ngx_http_llm_route_send_error(r,
                                     overload ? NGX_HTTP_SERVICE_UNAVAILABLE
                                              : NGX_HTTP_BAD_GATEWAY,
                                     "server_error", NULL, "upstream_failed",
                                     &msg);
        }

        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    ctx->attempt++;
    ctx->model = m;
    ctx->deployment = d;

    /* a fresh response to watch */

    ctx->watch = NULL;
    ctx->resp_mode = 0;
    ctx->resp_done = 0;
    ctx->accounted = 0;
    ctx->failed = 0;
    ctx->estimated = 0;
    ctx->ttft_ms = -1;
    ctx->error_page = 0;
    r->err_status = 0;

    msg.len = ctx->reason.len + 64 + failed->upstream_model.len
              + failed->provider->name.len + m->name.len
              + d->provider->name.len;
    msg.data = ngx_pnalloc(r->pool, msg.len);
    if (msg.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_slprintf(msg.data, msg.data + msg.len,
                     "failover %ui: %V at %V failed (%ui), now %V at %V; %V",
                     ctx->attempt, &failed->upstream_model,
                     &failed->provider->name, status, &m->name,
                     &d->provider->name, &ctx->reason);
    ctx->reason.data = msg.data;
    ctx->reason.len = p - msg.data;

    if (ngx_http_llm_route_fill_model(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_llm_route_set_url(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_llm_route_strip_credentials(r, d->provider) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->routed = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm route: failover attempt %ui to \"%V\"",
                   ctx->attempt, &ctx->url);

    return NGX_DECLINED;
}


/* output memory for the rewriter: a chain of pool buffers */

static ngx_int_t
ngx_http_llm_route_out_buf(ngx_http_llm_route_out_t *o, size_t size)
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
    ngx_http_llm_route_out_t  *o = (ngx_http_llm_route_out_t *) out;

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
    ngx_http_llm_route_out_t  *o = (ngx_http_llm_route_out_t *) out;

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
    ngx_http_llm_route_out_t  *o = (ngx_http_llm_route_out_t *) out;

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
ngx_http_llm_route_out_link(ngx_http_llm_route_out_t *o, ngx_buf_t *b)
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
ngx_http_llm_route_out_rest(ngx_http_llm_route_out_t *o)
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
    ngx_http_llm_route_out_t  *o = (ngx_http_llm_route_out_t *) out;

    o->buf->last = out->pos;

    return 0;
}


/*
 * The id of GET .../models/{id}: what follows the first "/models/" of
 * the (decoded) path, so that an id may hold '/' ("org/model", which
 * the SDKs send as "org%2Fmodel"); NGX_DECLINED if there is none
 */

static ngx_int_t
ngx_http_llm_route_model_id(ngx_http_request_t *r, ngx_str_t *id)
{
    u_char  *p, *last;

    last = r->uri.data + r->uri.len;

    for (p = r->uri.data; p + sizeof("/models/") - 1 <= last; p++) {
        if (ngx_strncmp(p, "/models/", sizeof("/models/") - 1) == 0) {
            id->data = p + sizeof("/models/") - 1;
            id->len = last - id->data;

            return id->len ? NGX_OK : NGX_DECLINED;
        }
    }

    return NGX_DECLINED;
}


/* a model object: {"id":...,"object":"model","created":0,"owned_by":...} */

static u_char *
ngx_http_llm_route_model_object(u_char *p, ngx_str_t *id, ngx_str_t *owner)
{
    p = ngx_cpymem(p, "{\"id\":\"", sizeof("{\"id\":\"") - 1);
    p += llr_json_escape(p, id->data, id->len);
    p = ngx_cpymem(p, "\",\"object\":\"model\",\"created\":0,"
                      "\"owned_by\":\"",
                   sizeof("\",\"object\":\"model\",\"created\":0,"
                          "\"owned_by\":\"") - 1);
    p += llr_json_escape(p, owner->data, owner->len);

    return ngx_cpymem(p, "\"}", 2);
}


#define NGX_HTTP_LLM_ROUTE_MODEL_OBJECT                                       \
    (sizeof(",{\"id\":\"\",\"object\":\"model\",\"created\":0,"                 \
            "\"owned_by\":\"\"}") - 1)


/*
 * GET /v1/models: the configured models and policies, OpenAI-shaped;
 * GET /v1/models/{id} (ctx->requested_model): that one, or 404
 */

static ngx_int_t
ngx_http_llm_route_models(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    size_t                           len;
    u_char                          *p;
    ngx_int_t                        rc;
    ngx_buf_t                       *b;
    ngx_str_t                       *id, owner;
    ngx_uint_t                       i;
    ngx_chain_t                      out;
    ngx_http_llm_route_model_t     **m, *one;
    ngx_http_llm_route_policy_t    **pol;
    ngx_http_llm_route_main_conf_t  *mcf;

    static const char  head[] = "{\"object\":\"list\",\"data\":[";
    static const char  tail[] = "]}\n";

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);
    m = mcf->models.elts;
    pol = mcf->policies.elts;
    id = &ctx->requested_model;

    ngx_str_set(&owner, "llm_route");

    if (id->len) {
        one = ngx_http_llm_route_find_model(mcf, id->data, id->len);

        if (one) {
            owner = one->provider->name;

        } else if (ngx_http_llm_route_find_policy(mcf, id->data, id->len)
                   == NULL)
        {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llm route: no model \"%V\"", id);

            return ngx_http_llm_route_not_found(r, ctx);
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm route: model \"%V\" of \"%V\"", id, &owner);

        len = NGX_HTTP_LLM_ROUTE_MODEL_OBJECT + 1
              + llr_json_escape_len(id->data, id->len)
              + llr_json_escape_len(owner.data, owner.len);

        b = ngx_create_temp_buf(r->pool, len);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_http_llm_route_model_object(b->last, id, &owner);
        *p++ = '\n';

        goto send;
    }

    len = sizeof(head) - 1 + sizeof(tail) - 1;

    for (i = 0; i < mcf->models.nelts; i++) {
        len += NGX_HTTP_LLM_ROUTE_MODEL_OBJECT
               + llr_json_escape_len(m[i]->name.data, m[i]->name.len)
               + llr_json_escape_len(m[i]->provider->name.data,
                                     m[i]->provider->name.len);
    }

    for (i = 0; i < mcf->policies.nelts; i++) {
        len += NGX_HTTP_LLM_ROUTE_MODEL_OBJECT + owner.len
               + llr_json_escape_len(pol[i]->name.data, pol[i]->name.len);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, head, sizeof(head) - 1);

    for (i = 0; i < mcf->models.nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_http_llm_route_model_object(p, &m[i]->name,
                                            &m[i]->provider->name);
    }

    /* policies are virtual models: clients may ask for them */

    for (i = 0; i < mcf->policies.nelts; i++) {
        if (i || mcf->models.nelts) {
            *p++ = ',';
        }

        p = ngx_http_llm_route_model_object(p, &pol[i]->name, &owner);
    }

    p = ngx_cpymem(p, tail, sizeof(tail) - 1);

send:

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_llm_route_not_found(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    size_t                           len, n;
    u_char                          *p;
    ngx_str_t                        msg, *name;
    ngx_uint_t                       i;
    ngx_http_llm_route_model_t     **m;
    ngx_http_llm_route_policy_t    **pol;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (ctx->endpoint == NGX_HTTP_LLM_ROUTE_EP_UNKNOWN) {
        len = sizeof("Unknown request URL: . Please check the URL "
                     "for typos.") - 1 + r->method_name.len + 1 + 256;

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        n = ngx_min(r->uri.len, 256);

        msg.data = p;
        msg.len = ngx_snprintf(p, len, "Unknown request URL: %V %*s. Please "
                               "check the URL for typos.",
                               &r->method_name, n, r->uri.data) - p;

        ctx->done = 1;

        return ngx_http_llm_route_send_error(r, NGX_HTTP_NOT_FOUND,
                                             "invalid_request_error", NULL,
                                             "unknown_url", &msg);
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);
    m = mcf->models.elts;

    name = ctx->target.data ? &ctx->target : &ctx->requested_model;
    n = ngx_min(name->len, 128);

    len = sizeof("The model `` does not exist or you do not have access to "
                 "it. Available models: .") - 1 + n;

    pol = mcf->policies.elts;

    for (i = 0; i < mcf->models.nelts; i++) {
        len += m[i]->name.len + 2;
    }

    for (i = 0; i < mcf->policies.nelts; i++) {
        len += pol[i]->name.len + 2;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    msg.data = p;

    p = ngx_sprintf(p, "The model `%*s` does not exist or you do not have "
                    "access to it. Available models: ",
                    n, name->data);

    for (i = 0; i < mcf->models.nelts; i++) {
        if (i) {
            *p++ = ',';
            *p++ = ' ';
        }

        p = ngx_cpymem(p, m[i]->name.data, m[i]->name.len);
    }

    for (i = 0; i < mcf->policies.nelts; i++) {
        if (i || mcf->models.nelts) {
            *p++ = ',';
            *p++ = ' ';
        }

        p = ngx_cpymem(p, pol[i]->name.data, pol[i]->name.len);
    }

    *p++ = '.';

    msg.len = p - msg.data;

    return ngx_http_llm_route_send_error(r, NGX_HTTP_NOT_FOUND,
                                         "invalid_request_error", "model",
                                         "model_not_found", &msg);
}


/*
 * Every error the module returns is OpenAI-shaped JSON:
 * {"error":{"message":"...","type":"...","param":...,"code":...}}
 */

ngx_buf_t *
ngx_http_llm_route_error_json(ngx_http_request_t *r, const char *type,
    const char *param, const char *code, ngx_str_t *message)
{
    size_t      len;
    u_char     *p;
    ngx_buf_t  *b;

    len = sizeof("{\"error\":{\"message\":\"\",\"type\":\"\",\"param\":,"
                 "\"code\":}}\n") - 1
          + llr_json_escape_len(message->data, message->len)
          + ngx_strlen(type)
          + (param ? 2 + llr_json_escape_len((u_char *) param,
                                             ngx_strlen(param))
                   : 4)
          + (code ? 2 + ngx_strlen(code) : 4);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NULL;
    }

    p = ngx_cpymem(b->last, "{\"error\":{\"message\":\"",
                   sizeof("{\"error\":{\"message\":\"") - 1);
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

    p = ngx_cpymem(p, "}}\n", 3);

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    return b;
}


ngx_int_t
ngx_http_llm_route_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *param, const char *code, ngx_str_t *message)
{
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_str_t                  msg;
    ngx_chain_t                out;
    ngx_table_elt_t           *h;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_route_module);

    if (ctx) {
        ctx->responded = 1;

        /* counted in the log phase, unless every attempt failed */
        ctx->rejected = llr_reject_reason(status, code);
    }

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

    b = ngx_http_llm_route_error_json(r, type, param, code, message);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");

        if (ctx && ctx->endpoint == NGX_HTTP_LLM_ROUTE_EP_MODELS) {
            ngx_str_set(&h->value, "GET, HEAD");

        } else {
            ngx_str_set(&h->value, "POST");
        }
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
