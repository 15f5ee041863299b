
/*
 * ngx_llm_route_module: what the metrics measure per request besides
 * the counters of account.c: requests in flight, the router's own time.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_METRICS_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_shm.h"


/* a monotonic clock in nanoseconds, for the router's own time */

static ngx_inline uint64_t
ngx_http_llm_route_clock_ns(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}


/* the time since start (a clock_ns) is the router's own, for ctx */

static ngx_inline void
ngx_http_llm_route_own_time(ngx_http_llm_route_ctx_t *ctx, uint64_t start)
{
    ctx->own_ns += ngx_http_llm_route_clock_ns() - start;
}


/* the zone's table of requests in flight (the master, init_zone) */
ngx_int_t ngx_http_llm_route_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh);

/* a routed request goes to its provider: one more in flight */
void ngx_http_llm_route_inflight_start(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* and it is over (the log phase): one less */
void ngx_http_llm_route_inflight_end(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* the requests in flight in the processes that are alive */
uint64_t ngx_http_llm_route_inflight(ngx_http_llm_route_shm_t *sh);


#endif /* _NGX_HTTP_LLM_ROUTE_METRICS_H_INCLUDED_ */
