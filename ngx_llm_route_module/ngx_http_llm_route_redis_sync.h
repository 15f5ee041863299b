
/*
 * ngx_llm_route_module: the fleet's sync: once per interval one worker
 * of the instance sends one batch to Redis and applies the answer.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_REDIS_SYNC_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_REDIS_SYNC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_redis_conn.h"


/* the connection is ready: a batch, if the instance's sync is due */
void ngx_http_llm_route_redis_sync(ngx_http_llm_route_redis_worker_t *w);


#endif /* _NGX_HTTP_LLM_ROUTE_REDIS_SYNC_H_INCLUDED_ */
