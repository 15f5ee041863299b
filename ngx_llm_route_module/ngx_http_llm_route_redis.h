/*
 * ngx_llm_route_module: the fleet's Redis connection (issue 26).
 *
 * ngx_http_llm_route_redis_module is a small HTTP module of its own in
 * the same .so: the llm_route_redis directive, one non-blocking hiredis
 * connection per worker on nginx's event loop, a small shared zone with
 * the instance's sync state, and the sync timer.  What is synced comes
 * from hooks (limits: budgets and rate windows; health: cooldowns) that
 * add entries to each batch and read the answer; core/llr_fleet.[ch]
 * holds the protocol.  No blocking call is made in a worker.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_REDIS_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_redis_hook.h"


extern ngx_module_t  ngx_http_llm_route_redis_module;


/* at configuration time (postconfiguration): a hook for every sync */
ngx_int_t ngx_http_llm_route_redis_add_hook(ngx_conf_t *cf,
    ngx_http_llm_route_redis_hook_t *hook);

/* 1 if llm_route_redis is configured (at configuration time) */
ngx_uint_t ngx_http_llm_route_redis_configured(ngx_conf_t *cf);

/*
 * Admission: NGX_DECLINED without llm_route_redis; NGX_OK while the
 * fleet's view is fresh; otherwise NGX_AGAIN with fail=open (admit on
 * local state, reconciled later) or NGX_ERROR with fail=closed (refuse
 * with 503).
 */
ngx_int_t ngx_http_llm_route_redis_check(ngx_http_request_t *r);

/* the status: NGX_DECLINED without llm_route_redis */
ngx_int_t ngx_http_llm_route_redis_status(ngx_http_request_t *r,
    ngx_http_llm_route_redis_status_t *st);

/*
 * The status JSON's "redis" object ({"state": ...}) into p (at least
 * NGX_HTTP_LLM_ROUTE_REDIS_JSON_LEN bytes); returns the end.
 */
#define NGX_HTTP_LLM_ROUTE_REDIS_JSON_LEN  256
u_char *ngx_http_llm_route_redis_json(u_char *p,
    ngx_http_llm_route_redis_status_t *st);


#endif /* _NGX_HTTP_LLM_ROUTE_REDIS_H_INCLUDED_ */
