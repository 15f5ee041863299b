
/*
 * ngx_llm_route_module: the status page (?format=html), generated from
 * dashboard.html into ngx_http_llm_route_dashboard.c by
 * tools/gen-dashboard.sh.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_DASHBOARD_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_DASHBOARD_H_INCLUDED_


#include <stddef.h>


extern const unsigned char  ngx_http_llm_route_dashboard[];
extern const size_t         ngx_http_llm_route_dashboard_len;


#endif /* _NGX_HTTP_LLM_ROUTE_DASHBOARD_H_INCLUDED_ */
