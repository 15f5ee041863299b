
/*
 * ngx_llm_route_module: the status as JSON.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_STATUS_JSON_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_STATUS_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_status_out.h"


void ngx_http_llm_route_status_json(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);


#endif /* _NGX_HTTP_LLM_ROUTE_STATUS_JSON_H_INCLUDED_ */
