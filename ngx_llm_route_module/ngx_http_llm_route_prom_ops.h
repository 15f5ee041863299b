
/*
 * ngx_llm_route_module: the Prometheus families of routing operations.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_PROM_OPS_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_PROM_OPS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_status_out.h"


/* llm_route_deployment_*: what each deployment (model at provider) did */
void ngx_http_llm_route_prom_deployments(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);

/*
 * requests in flight, failovers and their outcomes, the router's own
 * time, the requested -> routed model series, the series per key
 */
void ngx_http_llm_route_prom_operations(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);


#endif /* _NGX_HTTP_LLM_ROUTE_PROM_OPS_H_INCLUDED_ */
