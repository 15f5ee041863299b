
/*
 * ngx_llm_route_module: failover.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_FAILOVER_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_FAILOVER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"


/*
 * error_page brought a failed attempt back: the next attempt is routed
 * (NGX_DECLINED: the phases go on to proxy_pass), or every attempt
 * failed and the request is answered (NGX_DONE), or an HTTP status
 */
ngx_int_t ngx_http_llm_route_failover(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_ROUTE_FAILOVER_H_INCLUDED_ */
