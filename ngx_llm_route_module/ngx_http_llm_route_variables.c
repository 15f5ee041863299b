
/*
 * ngx_llm_route_module: the $llm_route_* variables (docs/variables.md),
 * one getter per variable or family.  All of them read the request's
 * context; a request the module did not route has none of them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_variables.h"
#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_provider.h"
#include "ngx_http_llm_route_account.h"
#include "ngx_http_llm_route_feedback.h"
#include "ngx_http_llm_route_experiment.h"
#include "llr_cost.h"


/* the longest $llm_route_requested_model */
#define NGX_HTTP_LLM_ROUTE_VAR_MAX  256


static ngx_int_t ngx_http_llm_route_var_url(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_provider(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_model(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_requested_model(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_policy(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_string(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_difficulty(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_attempt(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_format(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_tokens(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_cost(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_ttft(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_llm_route_var_experiment(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_http_llm_route_ctx_t *ngx_http_llm_route_var_done(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route_var_set(ngx_http_variable_value_t *v,
    u_char *data, size_t len);


static ngx_http_variable_t  ngx_http_llm_route_vars[] = {

    /* where the request goes (proxy_pass, proxy_set_header) */

    { ngx_string("llm_route_url"), NULL, ngx_http_llm_route_var_url,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_upstream"), NULL,
      ngx_http_llm_route_var_provider,
      offsetof(ngx_http_llm_route_provider_t, upstream),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_host"), NULL, ngx_http_llm_route_var_provider,
      offsetof(ngx_http_llm_route_provider_t, host),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    /* empty without a key: the client's own is never passed on */

    { ngx_string("llm_route_authorization"), NULL,
      ngx_http_llm_route_var_provider,
      offsetof(ngx_http_llm_route_provider_t, authorization),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    /* the decision */

    { ngx_string("llm_route_provider"), NULL,
      ngx_http_llm_route_var_provider,
      offsetof(ngx_http_llm_route_provider_t, name),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_model"), NULL, ngx_http_llm_route_var_model,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_requested_model"), NULL,
      ngx_http_llm_route_var_requested_model,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_policy"), NULL, ngx_http_llm_route_var_policy,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_task"), NULL, ngx_http_llm_route_var_string,
      offsetof(ngx_http_llm_route_ctx_t, task),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_difficulty"), NULL,
      ngx_http_llm_route_var_difficulty,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_reason"), NULL, ngx_http_llm_route_var_string,
      offsetof(ngx_http_llm_route_ctx_t, reason),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_attempt"), NULL, ngx_http_llm_route_var_attempt,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_format"), NULL, ngx_http_llm_route_var_format,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    /* known once the response is complete: in the log phase */

    { ngx_string("llm_route_prompt_tokens"), NULL,
      ngx_http_llm_route_var_tokens,
      offsetof(llr_account_t, prompt_tokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_completion_tokens"), NULL,
      ngx_http_llm_route_var_tokens,
      offsetof(llr_account_t, completion_tokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_cached_tokens"), NULL,
      ngx_http_llm_route_var_tokens,
      offsetof(llr_account_t, cached_tokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_cache_write_tokens"), NULL,
      ngx_http_llm_route_var_tokens,
      offsetof(llr_account_t, cache_write_tokens),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_cost"), NULL, ngx_http_llm_route_var_cost,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_ttft"), NULL, ngx_http_llm_route_var_ttft,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_id"), NULL, ngx_http_llm_route_var_id,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_experiment"), NULL,
      ngx_http_llm_route_var_experiment, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_arm"), NULL,
      ngx_http_llm_route_var_experiment, 1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_llm_route_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_llm_route_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_var_url(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL || !ctx->routed) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_route_var_set(v, ctx->url.data, ctx->url.len);
}


/* a string of the chosen deployment's provider, at offset data */

static ngx_int_t
ngx_http_llm_route_var_provider(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *s;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL || ctx->deployment == NULL
        || ctx->deployment->provider == NULL)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) ctx->deployment->provider + data);

    return ngx_http_llm_route_var_set(v, s->data, s->len);
}


static ngx_int_t
ngx_http_llm_route_var_model(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL || ctx->deployment == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_route_var_set(v, ctx->deployment->upstream_model.data,
                                      ctx->deployment->upstream_model.len);
}


/*
 * What the client sent may hold any character: it may end up in a header
 * (proxy_set_header, add_header) or a log line, so control characters
 * become '?' and the length is capped
 */

static ngx_int_t
ngx_http_llm_route_var_requested_model(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p, c;
    size_t                     len, i;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL || ctx->view.model == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    len = ngx_min(ctx->requested_model.len, NGX_HTTP_LLM_ROUTE_VAR_MAX);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < len; i++) {
        c = ctx->requested_model.data[i];
        p[i] = (c < 0x20 || c == 0x7f) ? '?' : c;
    }

    return ngx_http_llm_route_var_set(v, p, len);
}


/* the policy's name; empty for a request routed without one */

static ngx_int_t
ngx_http_llm_route_var_policy(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ctx->policy) {
        return ngx_http_llm_route_var_set(v, ctx->policy->name.data,
                                          ctx->policy->name.len);
    }

    if (ctx->routed) {
        return ngx_http_llm_route_var_set(v, (u_char *) "", 0);
    }

    v->not_found = 1;
    return NGX_OK;
}


/* a string of the context at offset data, not found while empty */

static ngx_int_t
ngx_http_llm_route_var_string(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *s;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) ctx + data);

    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_route_var_set(v, s->data, s->len);
}


static ngx_int_t
ngx_http_llm_route_var_difficulty(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL || ctx->difficulty < 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, sizeof("0.00") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llm_route_var_set(v, p,
                                      ngx_sprintf(p, "%.2f", ctx->difficulty)
                                      - p);
}


/* the attempt that answers; nothing was chosen: no attempt */

static ngx_int_t
ngx_http_llm_route_var_attempt(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL || ctx->deployment == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llm_route_var_set(v, p,
                                      ngx_sprintf(p, "%ui", ctx->attempt) - p);
}


/* the client's wire format: "openai" or "anthropic" */

static ngx_int_t
ngx_http_llm_route_var_format(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ctx->anthropic) {
        return ngx_http_llm_route_var_set(v, (u_char *) "anthropic",
                                          sizeof("anthropic") - 1);
    }

    return ngx_http_llm_route_var_set(v, (u_char *) "openai",
                                      sizeof("openai") - 1);
}


/* a token count of the finished request, at offset data of its account */

static ngx_int_t
ngx_http_llm_route_var_tokens(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p;
    uint64_t                   n;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_var_done(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = *(uint64_t *) ((u_char *) &ctx->acc + data);

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llm_route_var_set(v, p, ngx_sprintf(p, "%uL", n) - p);
}


static ngx_int_t
ngx_http_llm_route_var_cost(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p;
    size_t                     len;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_var_done(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 16);
    if (p == NULL) {
        return NGX_ERROR;
    }

    len = llr_format_usd((char *) p, NGX_INT64_LEN + 16, ctx->acc.cost, 9);

    return ngx_http_llm_route_var_set(v, p, len);
}


/* seconds to the first content token of a stream, "0.250" */

/* the request's experiment (data 0) or arm (data 1) */

static ngx_int_t
ngx_http_llm_route_var_experiment(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *s;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL || ctx->experiment == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = data ? &ctx->experiment->arms[ctx->arm].name
             : &ctx->experiment->name;

    return ngx_http_llm_route_var_set(v, s->data, s->len);
}


/* the id of a routed request (X-LLM-Route-Id), for feedback */

static ngx_int_t
ngx_http_llm_route_var_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *id;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    id = (ctx && ctx->routed) ? ngx_http_llm_route_feedback_id(r, ctx)
                              : NULL;

    if (id == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_llm_route_var_set(v, id->data, id->len);
}


static ngx_int_t
ngx_http_llm_route_var_ttft(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p;
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_var_done(r);

    if (ctx == NULL || ctx->ttft_ms < 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_llm_route_var_set(v, p,
                                      ngx_sprintf(p, "%T.%03M",
                                          (time_t) ctx->ttft_ms / 1000,
                                          (ngx_msec_t) ctx->ttft_ms % 1000)
                                      - p);
}


/*
 * The context of a routed request whose response is complete, accounted
 * (account.c does it once); NULL before
 */

static ngx_http_llm_route_ctx_t *
ngx_http_llm_route_var_done(ngx_http_request_t *r)
{
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL || !ctx->routed || (!ctx->resp_done && !ctx->accounted)) {
        return NULL;
    }

    ngx_http_llm_route_account(r->main, ctx);

    return ctx;
}


static ngx_int_t
ngx_http_llm_route_var_set(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->len = len;
    v->data = data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
