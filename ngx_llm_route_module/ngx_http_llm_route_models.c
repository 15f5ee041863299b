
/*
 * ngx_llm_route_module: what the router answers itself about models.
 *
 * GET /v1/models lists the configured models and policies, OpenAI-
 * shaped; GET /v1/models/{id} one of them.  A request for a model that
 * is neither gets 404, with the list of what is available.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_models.h"
#include "ngx_http_llm_route_reply.h"


static u_char *ngx_http_llm_route_model_object(u_char *p, ngx_str_t *id,
    ngx_str_t *owner);


#define NGX_HTTP_LLM_ROUTE_MODEL_OBJECT                                       \
    (sizeof(",{\"id\":\"\",\"object\":\"model\",\"created\":0,"                \
            "\"owned_by\":\"\"}") - 1)


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


/*
 * GET /v1/models: the configured models and policies, OpenAI-shaped;
 * GET /v1/models/{id} (ctx->requested_model): that one, or 404
 */

ngx_int_t
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
    static ngx_str_t   json = ngx_string("application/json");

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
                           "llm_route: no model \"%V\"", id);

            return ngx_http_llm_route_not_found(r, ctx);
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: model \"%V\" of \"%V\"", id, &owner);

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

    out.buf = b;
    out.next = NULL;

    return ngx_http_llm_route_send(r, NGX_HTTP_OK, &json, &out);
}


ngx_int_t
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

    if (ctx->endpoint == LLR_API_UNKNOWN) {
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

        return ngx_http_llm_route_refuse(r, NGX_HTTP_NOT_FOUND,
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

    return ngx_http_llm_route_refuse(r, NGX_HTTP_NOT_FOUND,
                                         "invalid_request_error", "model",
                                         "model_not_found", &msg);
}
