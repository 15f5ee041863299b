
/*
 * ngx_llm_route_module: drift alarms per model x task (llm_route_drift).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_DRIFT_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_DRIFT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_drift.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_shm.h"


/* the zone's series: by model x task slot, NULL where none */
struct ngx_http_llm_route_drift_sh_s {
    ngx_uint_t                      nslots;
    llr_drift_series_t             *series[1];   /* nslots */
};


/* a drift alarm raised, for the status */
typedef struct {
    ngx_str_t                       model;
    ngx_str_t                       task;
    const char                     *metric;
    llr_drift_state_t               st;
} ngx_http_llm_route_drift_alarm_t;


/* llm_route_drift [bucket=] [recent=] [baseline=] [alpha=] ...; (http) */
char *ngx_http_llm_route_drift(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* init main conf: the number of tests (series x metrics) */
char *ngx_http_llm_route_drift_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);

/* the bytes of the zone the series take (0 without llm_route_drift) */
size_t ngx_http_llm_route_drift_size(ngx_http_llm_route_main_conf_t *mcf);

/* init zone (the master), after the model x task slots: the series */
ngx_int_t ngx_http_llm_route_drift_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf);

/*
 * The state file's section of the series (state.c): a count, then each
 * series with the name of its model x task slot, its size and its words.
 * The bytes to write, ngx_alloc()ed, *size set; NULL on error.
 */
u_char *ngx_http_llm_route_drift_state(ngx_http_llm_route_shm_t *sh,
    ngx_log_t *log, size_t *size);

/*
 * Load a section into the series of the same model x task and windows
 * (others are skipped): the bytes it took, or NGX_ERROR if malformed
 */
ssize_t ngx_http_llm_route_drift_load(ngx_http_llm_route_shm_t *sh,
    u_char *p, size_t size);

/* the log phase: a request into its model x task's series */
void ngx_http_llm_route_drift_record(ngx_http_request_t *r,
    ngx_http_llm_route_record_t *rec);

/* a feedback score into the series of a model x task slot */
void ngx_http_llm_route_drift_feedback(ngx_http_llm_route_shm_t *sh,
    ngx_int_t pair, int32_t score, int32_t old, uint64_t old_ms);

/*
 * The status: each series evaluated (once per closed bucket, whoever
 * asks), then every metric of the pairs that have requests, into an
 * array of ngx_http_llm_route_drift_alarm_t (raised or not); NULL on
 * error, an empty array without llm_route_drift
 */
ngx_array_t *ngx_http_llm_route_drift_states(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh);


#endif /* _NGX_HTTP_LLM_ROUTE_DRIFT_H_INCLUDED_ */
