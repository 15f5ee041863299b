
/*
 * ngx_llm_route_module: the client's credentials stay with the router.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_HEADERS_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_HEADERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_provider.h"


/* postconfiguration: the $http_... variables of credentials in use */
ngx_int_t ngx_http_llm_route_headers_init(ngx_conf_t *cf);

/*
 * Routed to pr: the request's headers made again from the client's
 * (*client: zeroed before the first call, which saves them there),
 * without the client's credentials when pr has a key, without its
 * anthropic-* headers unless the client (anthropic) and pr both speak
 * Anthropic Messages, with pr's format's key and version headers
 */
ngx_int_t ngx_http_llm_route_provider_headers(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr, ngx_list_t *client,
    ngx_uint_t anthropic);


#endif /* _NGX_HTTP_LLM_ROUTE_HEADERS_H_INCLUDED_ */
