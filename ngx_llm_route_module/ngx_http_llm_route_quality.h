
/*
 * ngx_llm_route_module: the zone's part of the quality loop: the series
 * of each model x task.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_QUALITY_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_QUALITY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_qstat.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_shm.h"


/* a model x task with its slot, for the status */
typedef struct {
    ngx_str_t                       model;
    ngx_str_t                       task;
    ngx_http_llm_route_slot_t      *slot;
} ngx_http_llm_route_pair_t;


/* init main conf: the model x task slot table, none assigned */
char *ngx_http_llm_route_quality_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);

/*
 * init zone (the master): a slot for each model x task, after the
 * configured names' slots; the pairs that find no room have none (a
 * warning says how large the zone should be), which is no error
 */
void ngx_http_llm_route_quality_slots(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf);

/* the slot of a model x task, -1 if none */
ngx_int_t ngx_http_llm_route_pair_slot(ngx_http_llm_route_main_conf_t *mcf,
    ngx_http_llm_route_model_t *model, ngx_uint_t task_index);

/*
 * the configuration's model x task pairs that have requests, by model
 * then task, in an array of ngx_http_llm_route_pair_t from r's pool;
 * NULL on error
 */
ngx_array_t *ngx_http_llm_route_pairs(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh);

/* what a recorded request is to the experiments and the drift */
void ngx_http_llm_route_quality_obs(ngx_http_llm_route_record_t *rec,
    llr_q_obs_t *obs);

/* a feedback mean from the counters, in [-1, 1]; 0 if none */
double ngx_http_llm_route_feedback_mean(ngx_http_llm_route_counters_t *c);


#endif /* _NGX_HTTP_LLM_ROUTE_QUALITY_H_INCLUDED_ */
