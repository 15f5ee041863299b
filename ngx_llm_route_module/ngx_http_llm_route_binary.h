
/*
 * ngx_llm_route_module: is the module that runs the one on disk?
 */


#ifndef _NGX_HTTP_LLM_ROUTE_BINARY_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_BINARY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_int_t ngx_http_llm_route_binary_init_module(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_LLM_ROUTE_BINARY_H_INCLUDED_ */
