
/*
 * ngx_llm_route_module: budgets and rate limits.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_LIMITS_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_LIMITS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_shm.h"


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


typedef struct {
    ngx_str_t             key;          /* the evaluated key */
    ngx_str_t             name;         /* key, or key/period[/N] */
    ngx_uint_t            period;       /* llr_period_e */
    uint64_t              limit;        /* pUSD */
    uint64_t              spent;
    uint64_t              reserved;
    uint64_t              rejected;
    ngx_uint_t            inflight;
    time_t                resets_at;    /* 0: never */
    uint64_t              ident;        /* of the directive */
} ngx_http_llm_route_budget_info_t;

typedef struct {
    ngx_str_t             key;          /* the evaluated key */
    ngx_str_t             name;         /* key, or key/rpm=N,tpm=N[/N] */
    uint64_t              ident;        /* of the directive, for sorting */
    uint64_t              rpm;          /* 0: not limited */
    uint64_t              tpm;
    uint64_t              requests;     /* sliding-window usage, now */
    uint64_t              tokens;
    uint64_t              rejected;
} ngx_http_llm_route_rate_info_t;

/* when the zone is created, before the state file is loaded */
ngx_int_t ngx_http_llm_route_limits_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh);

/* a copy of the budgets for the status, sorted by name */
void ngx_http_llm_route_limits_recover(ngx_cycle_t *cycle,
    ngx_http_llm_route_shm_t *sh, ngx_slab_pool_t *shpool);
ngx_array_t *ngx_http_llm_route_limits_budgets(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh);

/* a copy of the rate limits for the status, sorted by name */
ngx_array_t *ngx_http_llm_route_limits_rates(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh);

/* the state file's limits section: ngx_alloc()ed, *size bytes */
u_char *ngx_http_llm_route_limits_state(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_log_t *log, size_t *size);

/* load it: NGX_ERROR if malformed, or the number of budgets loaded */
ngx_int_t ngx_http_llm_route_limits_load(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, u_char *p, size_t size);


#endif /* _NGX_HTTP_LLM_ROUTE_LIMITS_H_INCLUDED_ */
