
/*
 * ngx_llm_route_module: the budgets and rate limits, as the status lists
 * them.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_LIMITS_LIST_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_LIMITS_LIST_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_shm.h"


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


/* a copy of the budgets, sorted by name */
ngx_array_t *ngx_http_llm_route_limits_budgets(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh);

/* a copy of the rate limits, sorted by name */
ngx_array_t *ngx_http_llm_route_limits_rates(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh);


#endif /* _NGX_HTTP_LLM_ROUTE_LIMITS_LIST_H_INCLUDED_ */
