
/*
 * ngx_llm_route_module: the client's credentials stay with the router.
 *
 * proxy_pass sends the provider every header of r->headers_in.headers
 * but those named by proxy_set_header (ngx_http_proxy_create_request()
 * skips a client header whose name is in the proxy's header hash, and
 * nothing else: not even one whose hash is 0).  So a client's api-key,
 * x-api-key, OpenAI-Organization, OpenAI-Project, Cookie or
 * Proxy-Authorization reached a provider next to the operator's key, and
 * the client chose which organization or project was billed.
 *
 * Once a request is routed to a provider that has a key, the request's
 * header list is replaced by a copy without those headers (and without
 * the client's Authorization, which the documented proxy_set_header
 * replaces anyway).  The copy holds the same elements, so what points
 * into the list (r->headers_in.host, .cookies, ...) stays valid; and the
 * $http_... variables of the removed headers that the configuration
 * uses are evaluated, so cached, before: budget and rate keys, maps and
 * log formats still see the client's values, and
 * "proxy_set_header OpenAI-Project $http_openai_project;" passes one on
 * deliberately.  The replaced list is the request's: a failover
 * location's proxy_pass sends the copy too.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_headers.h"


/* lower case, as in ngx_table_elt_t's lowcase_key */

static ngx_str_t  ngx_http_llm_route_credentials[] = {
    ngx_string("authorization"),
    ngx_string("proxy-authorization"),
    ngx_string("cookie"),
    ngx_string("api-key"),
    ngx_string("x-api-key"),
    ngx_string("x-goog-api-key"),
    ngx_string("openai-organization"),
    ngx_string("openai-project"),
    ngx_null_string
};


static ngx_uint_t
ngx_http_llm_route_is_credential(ngx_table_elt_t *h)
{
    ngx_str_t  *c;

    for (c = ngx_http_llm_route_credentials; c->len; c++) {
        if (h->key.len == c->len
            && ngx_strncmp(h->lowcase_key, c->data, c->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * postconfiguration: the indexes of the $http_... variables of those
 * headers that the configuration uses (only used ones are indexed)
 */

ngx_int_t
ngx_http_llm_route_headers_init(ngx_conf_t *cf)
{
    u_char                          *p;
    ngx_str_t                       *c;
    ngx_uint_t                       i, k, *idx;
    ngx_http_variable_t             *v;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_llm_route_main_conf_t  *mcf;

    u_char                           name[NGX_HTTP_LLM_ROUTE_NAME_MAX];

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module);

    if (ngx_array_init(&mcf->credential_vars, cf->pool, 2,
                       sizeof(ngx_uint_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = cmcf->variables.elts;

    for (c = ngx_http_llm_route_credentials; c->len; c++) {

        /* "x-api-key" is $http_x_api_key */

        p = ngx_cpymem(name, "http_", sizeof("http_") - 1);

        for (k = 0; k < c->len; k++) {
            *p++ = c->data[k] == '-' ? '_' : c->data[k];
        }

        for (i = 0; i < cmcf->variables.nelts; i++) {
            if (v[i].name.len != (size_t) (p - name)
                || ngx_strncmp(v[i].name.data, name, p - name) != 0)
            {
                continue;
            }

            idx = ngx_array_push(&mcf->credential_vars);
            if (idx == NULL) {
                return NGX_ERROR;
            }

            *idx = i;
        }
    }

    return NGX_OK;
}


/* after the route to a provider with a key: the client's credentials go */

ngx_int_t
ngx_http_llm_route_strip_credentials(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr)
{
    ngx_uint_t                       i, found, *idx;
    ngx_list_t                       old;
    ngx_list_part_t                 *part;
    ngx_table_elt_t                 *h, *copy;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (pr->authorization.len == 0) {
        /* no key of the operator's to protect: the client's pass */
        return NGX_OK;
    }

    /* the variables of those headers, while the headers are there */

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    idx = mcf->credential_vars.elts;

    for (i = 0; i < mcf->credential_vars.nelts; i++) {
        (void) ngx_http_get_indexed_variable(r, idx[i]);
    }

    /*
     * a new list of the other headers; the old parts stay where they are
     * (old.part is a copy of the first), so restoring old is exact
     */

    old = r->headers_in.headers;

    if (ngx_list_init(&r->headers_in.headers, r->pool, old.nalloc,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        r->headers_in.headers = old;
        return NGX_ERROR;
    }

    found = 0;

    part = &old.part;
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

        if (ngx_http_llm_route_is_credential(&h[i])) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llm_route: client header \"%V\" not passed on",
                           &h[i].key);
            found++;
            continue;
        }

        copy = ngx_list_push(&r->headers_in.headers);
        if (copy == NULL) {
            r->headers_in.headers = old;
            return NGX_ERROR;
        }

        *copy = h[i];
    }

    if (found == 0) {
        r->headers_in.headers = old;
        return NGX_OK;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: %ui client credential headers kept from "
                   "provider \"%V\"", found, &pr->name);

    return NGX_OK;
}
