
/*
 * ngx_llm_route_module: the policies (llm_route_policy).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_POLICY_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_POLICY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_catalog.h"


typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      index;
    ngx_array_t                     names;       /* of ngx_str_t, as given */
    ngx_array_t                     candidates;  /* of model pointers */
    llr_price_t                    *prices;      /* of each candidate's first
                                                    deployment */
    uint32_t                        floor;       /* 1e-4 */
    uint32_t                        floor_hard;
    ngx_array_t                    *task_floors; /* floor_TASK= until the
                                                    classifier is known */
    uint32_t                        floor_task[NGX_HTTP_LLM_ROUTE_MAX_TASKS];
    uint32_t                        floor_hard_task[
                                        NGX_HTTP_LLM_ROUTE_MAX_TASKS];
    ngx_str_t                       file;
    ngx_uint_t                      line;
} ngx_http_llm_route_policy_t;


char *ngx_http_llm_route_policy_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* init main conf, after the catalog: candidates and task floors */
char *ngx_http_llm_route_policy_init(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);

ngx_http_llm_route_policy_t *ngx_http_llm_route_find_policy(
    ngx_http_llm_route_main_conf_t *mcf, u_char *name, size_t len);


#endif /* _NGX_HTTP_LLM_ROUTE_POLICY_H_INCLUDED_ */
