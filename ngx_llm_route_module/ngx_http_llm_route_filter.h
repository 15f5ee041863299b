
/*
 * ngx_llm_route_module: the header and body filters of routed requests.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_FILTER_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_FILTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* postconfiguration: the filters in nginx's chains */
ngx_int_t ngx_http_llm_route_filter_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_LLM_ROUTE_FILTER_H_INCLUDED_ */
