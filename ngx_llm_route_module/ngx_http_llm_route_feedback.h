
/*
 * ngx_llm_route_module: feedback on routed answers (llm_route_feedback)
 * and the ring of recent decisions it is attributed to.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_FEEDBACK_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_FEEDBACK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_shm.h"


/* llm_route_feedback; (location) */
char *ngx_http_llm_route_feedback(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* llm_route_feedback_ring number [ttl=time]; (http) */
char *ngx_http_llm_route_feedback_ring(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* init main conf: $request_id's index, the ring's defaults, the zone */
char *ngx_http_llm_route_feedback_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);

/*
 * init zone (the master): the ring, made or adopted (a new size keeps
 * the newest decisions that fit); NGX_ERROR if the zone has no room
 */
ngx_int_t ngx_http_llm_route_feedback_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf);

/* the bytes of the zone the ring takes (0 without llm_route_feedback) */
size_t ngx_http_llm_route_feedback_size(ngx_http_llm_route_main_conf_t *mcf);

/*
 * The state file's section of the ring (state.c): a count, then each
 * decision that has not expired, oldest first, with the names of its
 * model, task and arm.  The bytes to write, ngx_alloc()ed, *size set;
 * NULL on error.
 */
u_char *ngx_http_llm_route_feedback_state(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_log_t *log, size_t *size);

/*
 * Load a section into the ring (the master, at zone creation, after the
 * slots and the arms): its decisions with the indices of the slots and
 * arms of their names; the bytes it took, or NGX_ERROR if malformed
 */
ssize_t ngx_http_llm_route_feedback_load(ngx_http_llm_route_shm_t *sh,
    u_char *p, size_t size);

/* a routed request's id (X-LLM-Route-Id, $llm_route_id); NULL if none */
ngx_str_t *ngx_http_llm_route_feedback_id(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* the header filter: X-LLM-Route-Id */
ngx_int_t ngx_http_llm_route_feedback_header(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* the log phase: the decision of a routed request into the ring */
void ngx_http_llm_route_feedback_record(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_record_t *rec);


#endif /* _NGX_HTTP_LLM_ROUTE_FEEDBACK_H_INCLUDED_ */
