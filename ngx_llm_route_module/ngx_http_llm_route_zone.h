
/*
 * ngx_llm_route_module: the shared memory zone (llm_route_zone).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_ZONE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


char *ngx_http_llm_route_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_LLM_ROUTE_ZONE_H_INCLUDED_ */
