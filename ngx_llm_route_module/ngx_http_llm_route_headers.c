
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
 * Once a request is routed, the request's header list is replaced by a
 * copy: without those headers when the provider has a key (and without
 * the client's Authorization, which the documented proxy_set_header
 * replaces anyway); without the client's anthropic-* headers unless
 * both the client and the provider speak Anthropic Messages; with the
 * provider's format's own headers added (x-api-key and
 * anthropic-version, api-key), so that one proxy snippet serves every
 * format.  The copy holds the same elements, so what points into the
 * list (r->headers_in.host, .cookies, ...) stays valid; and the
 * $http_... variables of the removed headers that the configuration
 * uses are evaluated, so cached, before: budget and rate keys, maps and
 * log formats still see the client's values, and
 * "proxy_set_header OpenAI-Project $http_openai_project;" passes one on
 * deliberately.  The replaced list is the request's: a failover
 * location's proxy_pass sends it too, after it is made again from the
 * client's list for the next provider.
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


static ngx_int_t ngx_http_llm_route_headers_copy(ngx_http_request_t *r,
    ngx_list_t *client, ngx_list_part_t *upto, ngx_uint_t n);
static ngx_int_t ngx_http_llm_route_header_add(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);


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


/*
 * After the route to pr: the client's credentials go (when pr has a
 * key), its anthropic-* headers go unless both it and pr speak
 * Anthropic Messages, and the module adds pr's format's own headers:
 * x-api-key and anthropic-version (if the client sent none) for
 * anthropic, api-key for azure.  The list is made again from the
 * client's (*client, saved at the first call) at each attempt, so a
 * failover to a provider of another format starts afresh; when no
 * header goes and none is added, the client's list is used as it is.
 */

ngx_int_t
ngx_http_llm_route_provider_headers(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr, ngx_list_t *client,
    ngx_uint_t anthropic)
{
    ngx_uint_t                       i, found, version, keep_anthropic,
                                     adds, *idx;
    ngx_list_t                       old;
    ngx_list_part_t                 *part;
    ngx_table_elt_t                 *h, *copy;
    ngx_http_llm_route_main_conf_t  *mcf;

    keep_anthropic = (anthropic
                      && pr->format == NGX_HTTP_LLM_ROUTE_FORMAT_ANTHROPIC);

    if (client->nalloc == 0) {

        /* the variables of those headers, while the headers are there */

        mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

        idx = mcf->credential_vars.elts;

        for (i = 0; i < mcf->credential_vars.nelts; i++) {
            (void) ngx_http_get_indexed_variable(r, idx[i]);
        }

        /*
         * the parts of the client's list stay where they are (client's
         * part is a copy of the first): it is only read from now on
         */

        *client = r->headers_in.headers;
    }

    old = *client;
    r->headers_in.headers = old;

    /* the format's headers are added to a list of the module's own */

    adds = (pr->format == NGX_HTTP_LLM_ROUTE_FORMAT_ANTHROPIC
            || (pr->format == NGX_HTTP_LLM_ROUTE_FORMAT_AZURE
                && pr->key.len));

    if (adds && ngx_http_llm_route_headers_copy(r, &old, NULL, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    found = 0;
    version = 0;

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

        if ((pr->key.len && ngx_http_llm_route_is_credential(&h[i]))
            || (!keep_anthropic && h[i].key.len > 10
                && ngx_strncmp(h[i].lowcase_key, "anthropic-", 10) == 0))
        {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "llm_route: client header \"%V\" not passed on",
                           &h[i].key);

            /* the first to go: the ones before it are copied */

            if (found++ == 0 && !adds
                && ngx_http_llm_route_headers_copy(r, &old, part, i)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            continue;
        }

        if (h[i].key.len == sizeof("anthropic-version") - 1
            && ngx_strncmp(h[i].lowcase_key, "anthropic-version",
                           sizeof("anthropic-version") - 1) == 0)
        {
            version = 1;
        }

        if (!found && !adds) {
            continue;
        }

        copy = ngx_list_push(&r->headers_in.headers);
        if (copy == NULL) {
            r->headers_in.headers = old;
            return NGX_ERROR;
        }

        *copy = h[i];
    }

    if (pr->format == NGX_HTTP_LLM_ROUTE_FORMAT_ANTHROPIC) {
        if (pr->key.len
            && ngx_http_llm_route_header_add(r, "x-api-key", &pr->key)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (!version
            && ngx_http_llm_route_header_add(r, "anthropic-version", NULL)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (pr->format == NGX_HTTP_LLM_ROUTE_FORMAT_AZURE && pr->key.len) {
        if (ngx_http_llm_route_header_add(r, "api-key", &pr->key) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: %ui client headers kept from provider "
                   "\"%V\" (format %ui)", found, &pr->name, pr->format);

    return NGX_OK;
}


/*
 * A list of the module's own for the provider's request headers, with
 * the client's headers before the n-th of its part upto (NULL: none);
 * room for the client's and the two a format may add, not for as many
 * as nginx made room for
 */

static ngx_int_t
ngx_http_llm_route_headers_copy(ngx_http_request_t *r, ngx_list_t *client,
    ngx_list_part_t *upto, ngx_uint_t n)
{
    ngx_uint_t        i, size, end;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *copy;

    size = 2;

    for (part = &client->part; part; part = part->next) {
        size += part->nelts;
    }

    if (ngx_list_init(&r->headers_in.headers, r->pool, size,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        r->headers_in.headers = *client;
        return NGX_ERROR;
    }

    for (part = upto ? &client->part : NULL; part; part = part->next) {

        h = part->elts;
        end = (part == upto) ? n : part->nelts;

        for (i = 0; i < end; i++) {
            copy = ngx_list_push(&r->headers_in.headers);
            if (copy == NULL) {
                r->headers_in.headers = *client;
                return NGX_ERROR;
            }

            *copy = h[i];
        }

        if (part == upto) {
            break;
        }
    }

    return NGX_OK;
}


/* a request header for the provider: key and value (NULL: the version) */

static ngx_int_t
ngx_http_llm_route_header_add(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->lowcase_key = (u_char *) key;

    /* the real hash: a proxy_set_header of the same name replaces it */
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);

    if (value) {
        h->value = *value;

    } else {
        ngx_str_set(&h->value, NGX_HTTP_LLM_ROUTE_ANTHROPIC_VERSION);
    }

    return NGX_OK;
}
