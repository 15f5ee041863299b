
/*
 * ngx_llm_route_module: the state file (llm_route_zone ... state=PATH).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_STATE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_STATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_shm.h"


/* the master, when the zone is created: the counters and budgets back */
void ngx_http_llm_route_state_load(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_str_t *path);

/* a worker starts: its writer, every state_interval */
ngx_int_t ngx_http_llm_route_state_init_process(ngx_cycle_t *cycle);

/* a worker exits: the last write */
void ngx_http_llm_route_state_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_LLM_ROUTE_STATE_H_INCLUDED_ */
