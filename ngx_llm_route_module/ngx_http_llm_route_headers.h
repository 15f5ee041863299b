
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

/* routed to pr: the client's credential headers are not passed on */
ngx_int_t ngx_http_llm_route_strip_credentials(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr);


#endif /* _NGX_HTTP_LLM_ROUTE_HEADERS_H_INCLUDED_ */
