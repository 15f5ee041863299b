
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

#include "ngx_http_llm_route_request.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_policy.h"
#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_rules.h"
#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_format.h"
#include "ngx_http_llm_route_headers.h"
#include "ngx_http_llm_route_limits.h"
#include "ngx_http_llm_route_metrics.h"
#include "ngx_http_llm_route_account.h"
#include "ngx_http_llm_route_reply.h"
#include "ngx_http_llm_route_body.h"
#include "ngx_http_llm_route_failover.h"
#include "ngx_http_llm_route_models.h"
#include "ngx_http_llm_route_rewrite.h"
#include "ngx_http_llm_route_select.h"
#include "llr_req.h"
#include "llr_arena.h"
#include "llr_cost.h"


/* see ngx_http_llm_route_scratch_begin() */

#define NGX_HTTP_LLM_ROUTE_SCRATCH     16384

static u_char       *ngx_http_llm_route_scratch_mem;
static llr_arena_t   ngx_http_llm_route_scratch;


static ngx_int_t ngx_http_llm_route_again(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static void ngx_http_llm_route_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route_process(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_scan(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
static ngx_int_t ngx_http_llm_route_view(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, llr_req_t *rq);
static void ngx_http_llm_route_classify(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, void *cls);
static ngx_int_t ngx_http_llm_route_feed(void *data, u_char *p, size_t len,
    ngx_uint_t stable);
static ngx_int_t ngx_http_llm_route_scratch_begin(ngx_http_request_t *r,
    llr_alloc_t *alloc);
static void ngx_http_llm_route_scratch_end(void);
static ngx_int_t ngx_http_llm_route_scan_error(ngx_http_request_t *r,
    llr_req_t *rq, llr_req_err_e rc);
static void ngx_http_llm_route_sink_begin(void *data, const char *role,
    size_t turn);
static void ngx_http_llm_route_sink_text(void *data,
    const unsigned char *text, size_t len);
static void ngx_http_llm_route_sink_end(void *data);
static int ngx_http_llm_route_want(void *data, const unsigned char *model,
    size_t len);


/* the scanner, fed by ngx_http_llm_route_body_read() */
typedef struct {
    llr_req_t                      *rq;
    llr_req_err_e                   err;
} ngx_http_llm_route_feed_t;


/* message text goes to the classifier and to the text rules */
typedef struct {
    llr_text_sink_t                 cls;
    ngx_http_llm_route_ctx_t       *ctx;
    ngx_http_llm_route_loc_conf_t  *lcf;
    ngx_http_llm_route_main_conf_t *mcf;
    ngx_uint_t                      wanted;  /* the last want() answer */
} ngx_http_llm_route_sink_t;


ngx_int_t
ngx_http_llm_route_precontent_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    const char                     *suffix;
    ngx_http_llm_route_ctx_t       *ctx;
    ngx_http_llm_route_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    /* llm_route on inherited by the status or the mock location: no */

    if (!lcf->enable || lcf->answers || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_llm_route_get_ctx(r);

    if (ctx) {
        return ngx_http_llm_route_again(r, ctx);
    }

    ctx = ngx_http_llm_route_create_ctx(r, 1);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the endpoint is the known OpenAI suffix of the path */

    ctx->endpoint = llr_api_of_path(r->uri.data, r->uri.len);

    suffix = llr_api_suffix(ctx->endpoint, &ctx->endpoint_path.len);
    ctx->endpoint_path.data = (u_char *) suffix;

    ctx->anthropic = (ctx->endpoint == LLR_API_MESSAGES
                      || ctx->endpoint == LLR_API_COUNT_TOKENS);

    /* GET /v1/models/{id}: one model */

    if (ctx->endpoint == LLR_API_UNKNOWN
        && llr_api_model_id(r->uri.data, r->uri.len,
                            (const u_char **) &ctx->requested_model.data,
                            &ctx->requested_model.len)
           == 0)
    {
        ctx->endpoint = LLR_API_MODELS;
        ngx_str_set(&ctx->endpoint_path, "/models/");
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: endpoint %ui \"%V\"",
                   ctx->endpoint, &ctx->endpoint_path);

    if (ctx->endpoint == LLR_API_MODELS) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            goto not_allowed;
        }

        ctx->done = 1;
        ngx_http_finalize_request(r, ngx_http_llm_route_models(r, ctx));
        return NGX_DONE;
    }

    if (ctx->endpoint == LLR_API_UNKNOWN) {
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

            rc = ngx_http_llm_route_refuse(r, rc, "invalid_request_error",
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

    rc = ngx_http_llm_route_refuse(r, NGX_HTTP_NOT_ALLOWED,
                                       "invalid_request_error", NULL,
                                       "method_not_allowed", NULL);
    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}


/*
 * The phase again, for a request that has a context: its body is being
 * read, or it was redirected
 */

static ngx_int_t
ngx_http_llm_route_again(ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx)
{
    uint64_t   start;
    ngx_int_t  rc;

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

            start = ngx_http_llm_route_clock_ns();
            rc = ngx_http_llm_route_failover(r, ctx);

            /* NGX_DONE: it finalized the request, which may be gone */

            if (rc != NGX_DONE) {
                ngx_http_llm_route_own_time(ctx, start);
            }

            return rc;
        }

        /*
         * redirected before the provider was asked (try_files,
         * rewrite ... last): the route stands
         */

        ctx->uri_changes = r->uri_changes;
    }

    return NGX_DECLINED;
}


static void
ngx_http_llm_route_body_handler(ngx_http_request_t *r)
{
    uint64_t                   start;
    ngx_int_t                  rc;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r);

    ctx->reading = 0;
    ctx->done = 1;

    start = ngx_http_llm_route_clock_ns();

    rc = ngx_http_llm_route_process(r, ctx);

    if (rc == NGX_OK && !ctx->responded
        && ngx_http_llm_route_provider_headers(r, ctx->deployment->provider,
                                               &ctx->client_headers,
                                               ctx->anthropic)
           != NGX_OK)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_llm_route_own_time(ctx, start);

    if (rc != NGX_OK || ctx->responded) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_http_llm_route_inflight_start(r, ctx);

    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
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

    rc = ngx_http_llm_route_rules_apply(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_llm_route_experiment_apply(r, ctx);
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

    /* the client's format against the provider's */

    rc = ngx_http_llm_route_format_check(r, ctx);
    if (rc != NGX_OK || ctx->responded) {
        return rc;
    }

    rc = ngx_http_llm_route_experiment_receipt(r, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    /* budgets and rate limits (limits.c): admitted by estimate */

    llr_estimate(&ctx->est, ctx->view.text_bytes, ctx->view.max_tokens,
                 ctx->view.n, &ctx->deployment->price);

    rc = ngx_http_llm_route_limits_admit(r, ctx);
    if (rc != NGX_OK || ctx->responded) {
        return rc;
    }

    rc = ngx_http_llm_route_finish_body(r, ctx);

    if (rc == NGX_DECLINED) {
        return ngx_http_llm_route_format_untranslated(r, ctx);
    }

    return rc;
}


static ngx_int_t
ngx_http_llm_route_scan(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    off_t                      size;
    ngx_uint_t                 in_file;
    ngx_int_t                  rc;
    void                      *cls;
    llr_req_t                 *rq;
    llr_alloc_t                alloc;
    llr_req_err_e              err;
    ngx_http_llm_route_feed_t  feed;
    llr_text_sink_t            sink, *psink;
    llr_out_t                 *out;
    ngx_uint_t                 want;
    ngx_http_llm_route_sink_t  ws;
    ngx_http_llm_route_loc_conf_t   *lcf;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (r->request_body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    size = ngx_http_llm_route_body_size(r, &in_file);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: body %O bytes", size);

    out = ngx_http_llm_route_rewrite_out(r, ctx, size, in_file);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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
        && ctx->endpoint != LLR_API_EMBEDDINGS)
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

    rq = llr_req_create(&alloc, llr_api_body(ctx->endpoint), out, psink);
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

    want = (cls && lcf->classify == NGX_HTTP_LLM_ROUTE_CLASSIFY_POLICY
            && !ngx_http_llm_route_rules_need_text(lcf));

    if (want) {
        llr_req_set_want(rq, ngx_http_llm_route_want, &ws);
    }

    feed.rq = rq;
    feed.err = LLR_REQ_OK;

    if (ngx_http_llm_route_body_read(r, ngx_http_llm_route_feed, &feed)
        == NGX_ERROR)
    {
        llr_req_destroy(rq);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = feed.err;

    if (err == LLR_REQ_OK) {
        err = llr_req_finish(rq);
    }

    if (err != LLR_REQ_OK) {
        rc = ngx_http_llm_route_scan_error(r, rq, err);
        llr_req_destroy(rq);
        return rc;
    }

    rc = ngx_http_llm_route_view(r, ctx, rq);

    llr_req_destroy(rq);

    if (rc != NGX_OK) {
        return rc;
    }

    if (cls && (!want || ws.wanted)) {
        ngx_http_llm_route_classify(r, ctx, cls);

    } else {
        /* an explicit model: not classified ("unclassified" task) */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: not classified");
    }

    return NGX_OK;
}


/*
 * What the scanner found; its model name lives in the scanner's memory
 * (the scratch): a copy is kept
 */

static ngx_int_t
ngx_http_llm_route_view(ngx_http_request_t *r, ngx_http_llm_route_ctx_t *ctx,
    llr_req_t *rq)
{
    u_char  *model;

    ctx->view = *llr_req_view(rq);

    if (ctx->view.model == NULL) {
        return NGX_OK;
    }

    model = ngx_pnalloc(r->pool, ctx->view.model_len + 1);
    if (model == NULL) {
        /* no pointer into the scratch may outlive the scan */
        ctx->view.model = NULL;
        ctx->view.model_len = 0;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(model, ctx->view.model, ctx->view.model_len);
    model[ctx->view.model_len] = '\0';
    ctx->view.model = (char *) model;

    return NGX_OK;
}


/* the classifier's task and difficulty, from the text it was fed */

static void
ngx_http_llm_route_classify(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, void *cls)
{
    llr_cls_result_t  res;

    llr_cls_finish(cls, &ctx->view, &res);

    ctx->classified = 1;
    ctx->task_index = (ngx_uint_t) res.task;
    ctx->task.data = (u_char *) res.task_name;
    ctx->task.len = ngx_strlen(res.task_name);
    ctx->difficulty = res.difficulty;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: task \"%V\" difficulty %.3f",
                   &ctx->task, ctx->difficulty);
}


/* a piece of the body to the scanner */

static ngx_int_t
ngx_http_llm_route_feed(void *data, u_char *p, size_t len, ngx_uint_t stable)
{
    ngx_http_llm_route_feed_t *feed = data;

    feed->err = stable ? llr_req_feed_stable(feed->rq, p, len)
                       : llr_req_feed(feed->rq, p, len);

    return feed->err == LLR_REQ_OK ? NGX_OK : NGX_DECLINED;
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
                   "llm_route: rejected (%s): %V", code, &msg);

    return ngx_http_llm_route_refuse(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_request_error",
                                         llr_req_error_param(rq), code, &msg);
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

    if (ws->cls.text) {
        ws->cls.text(ws->cls.ctx, text, len);
    }

    ngx_http_llm_route_rules_text(ws->lcf, ws->ctx, text, len);
}


static void
ngx_http_llm_route_sink_end(void *data)
{
    ngx_http_llm_route_sink_t *ws = data;

    if (ws->cls.message_end) {
        ws->cls.message_end(ws->cls.ctx);
    }
}


