
/*
 * ngx_llm_route_module: the status JSON of the quality loop's
 * experiments and drift alarms (status_json.c writes the rest).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_STATUS_QUALITY_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_STATUS_QUALITY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_status_out.h"


/*
 * ,"experiments":{...}: each configured experiment's arms side by side,
 * each arm against the control on every metric, the verdict
 */
void ngx_http_llm_route_json_experiments(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);

/* ,"drift":[...]: the drift alarms raised now */
void ngx_http_llm_route_json_drift(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);


#endif /* _NGX_HTTP_LLM_ROUTE_STATUS_QUALITY_H_INCLUDED_ */
