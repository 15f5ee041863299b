
/*
 * ngx_llm_route_module: the $llm_route_* variables.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_VARIABLES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* from preconfiguration */
ngx_int_t ngx_http_llm_route_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_LLM_ROUTE_VARIABLES_H_INCLUDED_ */
