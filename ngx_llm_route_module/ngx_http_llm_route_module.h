
/*
 * ngx_llm_route_module: an OpenAI-compatible LLM router inside nginx.
 *
 * Shared declarations of the nginx glue.  Everything that parses,
 * classifies or computes lives in core/ (no nginx headers there).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MODULE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_req.h"
#include "llr_api.h"
#include "llr_account.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_provider.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_policy.h"
#include "ngx_http_llm_route_rules.h"
#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_health.h"
#include "ngx_http_llm_route_headers.h"
#include "ngx_http_llm_route_account.h"
#include "ngx_http_llm_route_filter.h"




/* request.c */
ngx_int_t ngx_http_llm_route_precontent_handler(ngx_http_request_t *r);

/* status.c */
ngx_int_t ngx_http_llm_route_status_handler(ngx_http_request_t *r);

/* limits.c: budgets and rate limits */
ngx_int_t ngx_http_llm_route_limits_admit(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
void ngx_http_llm_route_limits_settle(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
char *ngx_http_llm_route_budget(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_limits_merge(ngx_conf_t *cf,
    ngx_http_llm_route_loc_conf_t *prev, ngx_http_llm_route_loc_conf_t *conf);

/* variables.c */
ngx_int_t ngx_http_llm_route_add_variables(ngx_conf_t *cf);


/* zone.c */
char *ngx_http_llm_route_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* status.c */
char *ngx_http_llm_route_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_status_check(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);

/* zone.c: init/exit process hooks of the module */
ngx_int_t ngx_http_llm_route_init_process(ngx_cycle_t *cycle);
void ngx_http_llm_route_exit_process(ngx_cycle_t *cycle);



#endif /* _NGX_HTTP_LLM_ROUTE_MODULE_H_INCLUDED_ */
