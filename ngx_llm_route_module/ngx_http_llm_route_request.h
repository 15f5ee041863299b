
/*
 * ngx_llm_route_module: a request's way to its deployment, in the
 * precontent phase.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_REQUEST_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_REQUEST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_llm_route_precontent_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LLM_ROUTE_REQUEST_H_INCLUDED_ */
