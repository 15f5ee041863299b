
/*
 * ngx_llm_route_module: the quality signals of routed answers.
 *
 *     llm_route_refusal_pattern REGEX;    (http, any number)
 *
 * The response scanners (core/llr_usage, llr_sse) feed the text of an
 * answer to core/llr_signal as its bytes pass (llr_json_t.tap): nothing
 * is buffered, no text is kept but the first LLR_SIG_PREFIX bytes of a
 * choice (for the refusal patterns), in the request pool.  The log phase
 * takes the answer's signals (truncated, content_filter, empty,
 * bad_tool_json, bad_json, refusal) into the zone's counters of its
 * model, task and model x task (account.c, shm.c).
 *
 * The refusal patterns are the default list (core/llr_signal.c,
 * docs/quality.md) and then every llm_route_refusal_pattern, compiled
 * once at configuration time.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_signal.h"
#include "ngx_http_llm_route_signal.h"
#include "ngx_http_llm_route_shm.h"


/* an answer being watched */
struct ngx_http_llm_route_signal_s {
    llr_sig_t           sig;
    llr_resp_t         *res;          /* its scanner's: finish reasons,
                                         the response's id */
    ngx_str_t           id;
    unsigned            ended:1;      /* llr_sig_end() was called */
};


static void ngx_http_llm_route_cleanup_refusals(void *data);
static void ngx_http_llm_route_cleanup_default(void *data);


char *
ngx_http_llm_route_refusal_pattern(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    char                 err[256];
    ngx_str_t           *value;
    llr_pattern_t       *p;
    ngx_pool_cleanup_t  *cln;

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "takes an empty pattern";
    }

    if (mcf->refusals == NULL) {
        mcf->refusals = ngx_array_create(cf->pool, 4, sizeof(llr_pattern_t));
        if (mcf->refusals == NULL) {
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_llm_route_cleanup_refusals;
        cln->data = mcf->refusals;
    }

    p = ngx_array_push(mcf->refusals);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    /* compiled here, for the error's line; copied into one list later */

    if (llr_pattern_compile(p, (char *) value[1].data, value[1].len, 0,
                            err, sizeof(err))
        != 0)
    {
        mcf->refusals->nelts--;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid regex \"%V\" in "
                           "llm_route_refusal_pattern: %s", &value[1], err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_llm_route_signal_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    char                 err[256];
    ngx_uint_t           n;
    llr_pattern_t       *p;
    ngx_pool_cleanup_t  *cln;

    n = mcf->refusals ? mcf->refusals->nelts : 0;

    p = ngx_pcalloc(cf->pool, (n + 1) * sizeof(llr_pattern_t));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    if (n) {
        ngx_memcpy(&p[1], mcf->refusals->elts, n * sizeof(llr_pattern_t));
    }

    mcf->signal_conf.patterns = p;
    mcf->signal_conf.npatterns = n + 1;

    if (llr_sig_refusal_default(&p[0], err, sizeof(err)) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the default refusal patterns do not compile: %s",
                           err);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_llm_route_cleanup_default;
    cln->data = &p[0];

    return NGX_CONF_OK;
}


static void
ngx_http_llm_route_cleanup_refusals(void *data)
{
    ngx_array_t  *a = data;

    ngx_uint_t      i;
    llr_pattern_t  *p;

    p = a->elts;

    for (i = 0; i < a->nelts; i++) {
        llr_pattern_free(&p[i]);
    }
}


static void
ngx_http_llm_route_cleanup_default(void *data)
{
    llr_pattern_free(data);
}


size_t
ngx_http_llm_route_signal_size(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    if (ngx_http_llm_route_shm(r) == NULL
        || (ctx->endpoint != LLR_API_CHAT
            && ctx->endpoint != LLR_API_COMPLETIONS
            && ctx->endpoint != LLR_API_RESPONSES
            && ctx->endpoint != LLR_API_MESSAGES))
    {
        return 0;
    }

    return sizeof(ngx_http_llm_route_signal_t);
}


ngx_int_t
ngx_http_llm_route_signal_watch(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, llr_json_t *j, void *mem)
{
    ngx_http_llm_route_signal_t     *s;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (ngx_http_llm_route_signal_size(r, ctx) == 0) {
        return NGX_DECLINED;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    s = mem ? mem : ngx_palloc(r->pool, sizeof(ngx_http_llm_route_signal_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    ctx->signal = s;

    llr_sig_init(&s->sig, &mcf->signal_conf, ctx->view.json_mode);
    s->res = j->res;
    s->ended = 0;
    ngx_str_null(&s->id);

    j->tap = llr_sig_tap;
    j->tap_ctx = &s->sig;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: quality signals of the answer read, "
                   "json mode %ui", (ngx_uint_t) ctx->view.json_mode);

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route_signal_end(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, uint32_t *signals)
{
    ngx_http_llm_route_signal_t  *s;

    s = ctx->signal;

    if (s == NULL || s->ended || ctx->acc.failed || s->res->error
        || r->headers_out.status != NGX_HTTP_OK
        || ngx_http_llm_route_client_gone(r))
    {
        return NGX_DECLINED;
    }

    *signals = llr_sig_end(&s->sig, s->res->finish);
    s->ended = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: quality signals of the answer: 0x%xD",
                   *signals);

    return NGX_OK;
}


ngx_str_t *
ngx_http_llm_route_signal_answer_id(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    ngx_http_llm_route_signal_t  *s;

    s = ctx->signal;

    if (s == NULL || s->res->id_len == 0) {
        return NULL;
    }

    if (s->id.len == 0) {
        /* the scanner's copy lives as long as the request's pool */
        s->id.data = (u_char *) s->res->id;
        s->id.len = s->res->id_len;
    }

    return &s->id;
}
