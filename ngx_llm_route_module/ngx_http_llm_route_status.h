
/*
 * ngx_llm_route_module: the status endpoint, llm_route_status.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_STATUS_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_STATUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"


char *ngx_http_llm_route_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_status_check(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);


#endif /* _NGX_HTTP_LLM_ROUTE_STATUS_H_INCLUDED_ */
