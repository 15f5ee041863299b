
/*
 * ngx_llm_route_module: the directives of budgets and rate limits
 * (llm_route_budget, llm_route_rate).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_LIMITS_CONF_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_LIMITS_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_limits.h"
#include "ngx_http_llm_route_conf.h"


/* one llm_route_budget or llm_route_rate directive */
typedef struct {
    ngx_http_complex_value_t          key;
    ngx_uint_t                        kind;
    uint64_t                          ident;
    uint64_t                          limit;      /* budgets: pUSD */
    llr_period_e                      period;
    uint64_t                          rpm;        /* 0: not limited */
    uint64_t                          tpm;
    ngx_str_t                         file;
    ngx_uint_t                        line;
} ngx_http_llm_route_limit_t;



char *ngx_http_llm_route_budget(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* merge_loc_conf: a level's lists replace its parent's; they need a zone */
char *ngx_http_llm_route_limits_merge(ngx_conf_t *cf,
    ngx_http_llm_route_loc_conf_t *prev, ngx_http_llm_route_loc_conf_t *conf);


#endif /* _NGX_HTTP_LLM_ROUTE_LIMITS_CONF_H_INCLUDED_ */
