
/*
 * ngx_llm_route_module: what the limits and provider health share with
 * a fleet of instances through Redis (llm_route_redis).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_FLEET_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_FLEET_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * postconfiguration: with llm_route_redis and llm_route_zone, the
 * budgets, rate windows and provider cooldowns join every sync
 */
ngx_int_t ngx_http_llm_route_fleet_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_LLM_ROUTE_FLEET_H_INCLUDED_ */
