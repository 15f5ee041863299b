
/*
 * ngx_llm_route_module: $llm_route_* variables.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_module.h"
#include "llr_cost.h"


typedef enum {
    NGX_HTTP_LLM_ROUTE_VAR_URL = 0,
    NGX_HTTP_LLM_ROUTE_VAR_UPSTREAM,
    NGX_HTTP_LLM_ROUTE_VAR_HOST,
    NGX_HTTP_LLM_ROUTE_VAR_AUTHORIZATION,
    NGX_HTTP_LLM_ROUTE_VAR_PROVIDER,
    NGX_HTTP_LLM_ROUTE_VAR_MODEL,
    NGX_HTTP_LLM_ROUTE_VAR_REQUESTED_MODEL,
    NGX_HTTP_LLM_ROUTE_VAR_POLICY,
    NGX_HTTP_LLM_ROUTE_VAR_TASK,
    NGX_HTTP_LLM_ROUTE_VAR_DIFFICULTY,
    NGX_HTTP_LLM_ROUTE_VAR_REASON,
    NGX_HTTP_LLM_ROUTE_VAR_ATTEMPT,
    NGX_HTTP_LLM_ROUTE_VAR_PROMPT_TOKENS,
    NGX_HTTP_LLM_ROUTE_VAR_COMPLETION_TOKENS,
    NGX_HTTP_LLM_ROUTE_VAR_COST,
    NGX_HTTP_LLM_ROUTE_VAR_TTFT
} ngx_http_llm_route_var_e;


#define NGX_HTTP_LLM_ROUTE_VAR_MAX  256


static ngx_int_t ngx_http_llm_route_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_llm_route_vars[] = {

    { ngx_string("llm_route_url"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_URL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_upstream"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_UPSTREAM, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_host"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_HOST, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_authorization"), NULL,
      ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_AUTHORIZATION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_provider"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_PROVIDER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_model"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_MODEL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_requested_model"), NULL,
      ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_REQUESTED_MODEL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_policy"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_POLICY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_task"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_TASK, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_difficulty"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_DIFFICULTY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_reason"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_REASON, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_attempt"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_ATTEMPT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_prompt_tokens"), NULL,
      ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_PROMPT_TOKENS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_completion_tokens"), NULL,
      ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_COMPLETION_TOKENS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_cost"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_COST, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("llm_route_ttft"), NULL, ngx_http_llm_route_variable,
      NGX_HTTP_LLM_ROUTE_VAR_TTFT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

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
ngx_http_llm_route_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                           *p, c;
    ngx_str_t                        *s;
    ngx_uint_t                        i;
    ngx_http_llm_route_ctx_t         *ctx;
    ngx_http_llm_route_provider_t    *pr;
    ngx_http_llm_route_deployment_t  *d;

    ctx = ngx_http_llm_route_get_ctx(r->main);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    d = ctx->deployment;
    pr = d ? d->provider : NULL;
    s = NULL;

    switch (data) {

    case NGX_HTTP_LLM_ROUTE_VAR_URL:
        s = ctx->routed ? &ctx->url : NULL;
        break;

    case NGX_HTTP_LLM_ROUTE_VAR_UPSTREAM:
        s = pr ? &pr->upstream : NULL;
        break;

    case NGX_HTTP_LLM_ROUTE_VAR_HOST:
        s = pr ? &pr->host : NULL;
        break;

    case NGX_HTTP_LLM_ROUTE_VAR_AUTHORIZATION:
        /* empty without a key: the client's own is never passed on */
        s = pr ? &pr->authorization : NULL;
        break;

    case NGX_HTTP_LLM_ROUTE_VAR_PROVIDER:
        s = pr ? &pr->name : NULL;
        break;

    case NGX_HTTP_LLM_ROUTE_VAR_MODEL:
        s = d ? &d->upstream_model : NULL;
        break;

    case NGX_HTTP_LLM_ROUTE_VAR_REQUESTED_MODEL:
        if (ctx->view.model == NULL) {
            break;
        }

        /*
         * what the client sent may hold any character: it may end up in
         * a header (proxy_set_header, add_header) or a log line, so
         * control characters become '?' and the length is capped
         */

        v->len = ngx_min(ctx->requested_model.len,
                         NGX_HTTP_LLM_ROUTE_VAR_MAX);

        p = ngx_pnalloc(r->pool, v->len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;

        for (i = 0; i < v->len; i++) {
            c = ctx->requested_model.data[i];
            p[i] = (c < 0x20 || c == 0x7f) ? '?' : c;
        }

        goto found;

    case NGX_HTTP_LLM_ROUTE_VAR_POLICY:
        s = ctx->policy ? &ctx->policy->name : NULL;

        if (s == NULL && ctx->routed) {
            v->len = 0;
            v->valid = 1;
            v->no_cacheable = 1;
            v->not_found = 0;
            v->data = (u_char *) "";
            return NGX_OK;
        }

        break;

    case NGX_HTTP_LLM_ROUTE_VAR_TASK:
        s = ctx->task.len ? &ctx->task : NULL;
        break;

    case NGX_HTTP_LLM_ROUTE_VAR_REASON:
        s = ctx->reason.len ? &ctx->reason : NULL;
        break;

    case NGX_HTTP_LLM_ROUTE_VAR_DIFFICULTY:
        if (ctx->difficulty < 0) {
            break;
        }

        p = ngx_pnalloc(r->pool, sizeof("0.00") - 1);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_sprintf(p, "%.2f", ctx->difficulty) - p;
        v->data = p;
        goto found;

    case NGX_HTTP_LLM_ROUTE_VAR_PROMPT_TOKENS:
    case NGX_HTTP_LLM_ROUTE_VAR_COMPLETION_TOKENS:
    case NGX_HTTP_LLM_ROUTE_VAR_COST:
    case NGX_HTTP_LLM_ROUTE_VAR_TTFT:

        /* known once the response is complete: in the log phase */

        if (!ctx->routed || (!ctx->resp_done && !ctx->accounted)) {
            break;
        }

        ngx_http_llm_route_account(r->main, ctx);

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 16);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;

        if (data == NGX_HTTP_LLM_ROUTE_VAR_PROMPT_TOKENS) {
            p = ngx_sprintf(p, "%uL", ctx->acc.prompt_tokens);

        } else if (data == NGX_HTTP_LLM_ROUTE_VAR_COMPLETION_TOKENS) {
            p = ngx_sprintf(p, "%uL", ctx->acc.completion_tokens);

        } else if (data == NGX_HTTP_LLM_ROUTE_VAR_COST) {
            p += llr_format_usd((char *) p, NGX_INT64_LEN + 16,
                                ctx->acc.cost, 9);

        } else {
            if (ctx->ttft_ms < 0) {
                break;
            }

            p = ngx_sprintf(p, "%T.%03M", (time_t) ctx->ttft_ms / 1000,
                            (ngx_msec_t) ctx->ttft_ms % 1000);
        }

        v->len = p - v->data;
        goto found;

    case NGX_HTTP_LLM_ROUTE_VAR_ATTEMPT:
        if (d == NULL) {
            /* nothing was chosen: no attempt */
            break;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->len = ngx_sprintf(p, "%ui", ctx->attempt) - p;
        v->data = p;
        goto found;
    }

    if (s == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->data = s->data;

found:

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
