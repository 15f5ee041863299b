
/*
 * ngx_llm_route_module: the health of providers and the latency of
 * deployments, shared by the workers.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_HEALTH_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_HEALTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_catalog.h"


/* milliseconds of cooldown left, 0 when the provider is up */
ngx_msec_t ngx_http_llm_route_provider_cooldown(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr);

/* milliseconds left of the Retry-After of its last 429, 0 if none */
ngx_msec_t ngx_http_llm_route_provider_retry_after(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr);

/* a failed attempt (status); retry_after: seconds, 0 if none given */
void ngx_http_llm_route_provider_failed(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr, ngx_uint_t status, time_t retry_after);

/* the lowest recent latency per weight; NULL if one has no sample */
ngx_http_llm_route_deployment_t *ngx_http_llm_route_least_latency(
    ngx_http_request_t *r, ngx_http_llm_route_deployment_t **d,
    ngx_uint_t n);

/* a successful request's latency */
void ngx_http_llm_route_latency_sample(ngx_http_request_t *r,
    ngx_http_llm_route_deployment_t *d, ngx_msec_t ms);


#endif /* _NGX_HTTP_LLM_ROUTE_HEALTH_H_INCLUDED_ */
