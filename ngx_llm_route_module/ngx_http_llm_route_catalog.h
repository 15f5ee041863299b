
/*
 * ngx_llm_route_module: the catalog of models (llm_route_model,
 * llm_route_classifier).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_CATALOG_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_CATALOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_balance.h"
#include "llr_cost.h"
#include "llr_select.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_provider.h"


typedef struct {
    ngx_str_t                       task;
    uint32_t                        quality;
} ngx_http_llm_route_task_quality_t;


/* one deployment: a model name served by one provider */
typedef struct {
    ngx_str_t                       name;        /* what clients ask for */
    ngx_str_t                       upstream_model; /* what is sent */
    ngx_str_t                       provider_name;
    ngx_http_llm_route_provider_t  *provider;
    ngx_uint_t                      index;       /* in mcf->deployments */
    ngx_array_t                    *task_quality; /* quality_TASK= until
                                                    the classifier is known */
    ngx_str_t                       file;        /* where it was defined */
    ngx_uint_t                      line;

    llr_price_t                     price;       /* pUSD per token */
    ngx_uint_t                      context;     /* tokens, 0: unknown */
    uint32_t                        quality;     /* 1e-4, LLR_Q_ONE = 1.0 */
    uint32_t                        quality_task[NGX_HTTP_LLM_ROUTE_MAX_TASKS];
                                                 /* LLR_Q_UNSET: quality */
    llr_swrr_peer_t                 rr;          /* weight=, and the smooth
                                                    round-robin's current
                                                    weight in this worker */
    ngx_int_t                       slot;        /* in the zone, -1: none */
} ngx_http_llm_route_deployment_t;


/* all deployments of one model name */
typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      index;       /* in mcf->models */
    ngx_array_t                     deployments; /* of deployment pointers */
    ngx_http_llm_route_provider_t  *provider;    /* of the first one */
    ngx_uint_t                      total_weight;
    ngx_int_t                       slot;        /* in the zone, -1: none */
} ngx_http_llm_route_model_t;


char *ngx_http_llm_route_model_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_classifier(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* init main conf: deployments into models, the tasks */
char *ngx_http_llm_route_catalog_init(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);

ngx_http_llm_route_model_t *ngx_http_llm_route_find_model(
    ngx_http_llm_route_main_conf_t *mcf, u_char *name, size_t len);

/* a quality_TASK= (or floor_TASK) into *a, created if NULL */
ngx_http_llm_route_task_quality_t *ngx_http_llm_route_task_quality_add(
    ngx_conf_t *cf, ngx_array_t **a, ngx_http_llm_route_task_quality_t *tq);


#endif /* _NGX_HTTP_LLM_ROUTE_CATALOG_H_INCLUDED_ */
