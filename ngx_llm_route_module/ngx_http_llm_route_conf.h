
/*
 * ngx_llm_route_module: the configuration every part of the glue reads.
 *
 * The main and location configuration of ngx_http_llm_route_module, the
 * helpers of directive handlers, and core/'s allocator over a pool.
 * What the directives fill in is described where they are handled (the
 * catalog of providers, models and policies, the rules, the limits, the
 * zone); the module itself is registered in ngx_http_llm_route_module.c,
 * the top of the glue, which nothing calls into (docs/architecture.md).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_CONF_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr.h"
#include "llr_classify.h"
#include "llr_stats.h"
#include "llr_signal.h"
#include "llr_drift.h"


#define NGX_HTTP_LLM_ROUTE_MAX_TASKS     16
/*
 * each failover is an internal redirect (error_page), and nginx allows a
 * request NGX_HTTP_MAX_URI_CHANGES (10): the last one brings the final
 * error back to the module
 */
#define NGX_HTTP_LLM_ROUTE_MAX_ATTEMPTS  NGX_HTTP_MAX_URI_CHANGES
#define NGX_HTTP_LLM_ROUTE_NAME_MAX      64

#define NGX_HTTP_LLM_ROUTE_BALANCE_WEIGHTED  0
#define NGX_HTTP_LLM_ROUTE_BALANCE_LATENCY   1

#define NGX_HTTP_LLM_ROUTE_CLASSIFY_POLICY  0
#define NGX_HTTP_LLM_ROUTE_CLASSIFY_ALL     1


typedef struct {
    /* the catalog (provider.c, catalog.c, policy.c) */
    ngx_array_t                     providers;   /* of provider pointers */
    ngx_array_t                     deployments; /* of deployment pointers */
    ngx_array_t                     models;      /* of model pointers */
    ngx_array_t                     policies;    /* of policy pointers */

    const llr_cls_model_t          *classifier;
    ngx_str_t                       classifier_path;

    /*
     * task names and their zone slots: tasks[i] for the classifier's
     * task i, the last one is "unclassified"
     */
    ngx_array_t                     tasks;       /* of ngx_str_t */
    ngx_int_t                       task_slots[NGX_HTTP_LLM_ROUTE_MAX_TASKS
                                               + 1];
    ngx_int_t                       rejected_slots[LLR_REJECT_N];

    /*
     * the quality loop: the zone slot of each model x task (quality.c),
     * pair_slots[model index * tasks + task index], -1: none; the
     * refusal patterns (signal.c): llm_route_refusal_pattern's, and all
     * of them after the default list
     */
    ngx_int_t                      *pair_slots;
    ngx_array_t                    *refusals;    /* of llr_pattern_t */
    llr_sig_conf_t                  signal_conf;

    /* feedback (feedback.c): the ring's size, 0: no ring; $request_id */
    ngx_uint_t                      feedback_capacity;
    ngx_msec_t                      feedback_ttl;
    ngx_str_t                       feedback_file;  /* first use */
    ngx_uint_t                      feedback_line;
    ngx_int_t                       request_id_index;

    /* experiments (experiment.c), NULL: none */
    ngx_array_t                    *experiments; /* of pointers */

    /* drift alarms (drift.c) */
    ngx_flag_t                      drift;
    llr_drift_conf_t                drift_conf;

    /* the zone (zone.c) and its state file (state.c) */
    ngx_shm_zone_t                 *shm_zone;
    ngx_str_t                       state_path;
    ngx_msec_t                      state_interval;

    /* llm_route_spend_key (series.c): off without one */
    ngx_http_complex_value_t       *spend_key;
    ngx_uint_t                      spend_keys;  /* max= */

    ngx_flag_t                      variables_added;

    /* $http_... variables of client credentials in use (headers.c) */
    ngx_array_t                     credential_vars; /* of ngx_uint_t */

    /* the first routed location whose error log writes debug lines */
    ngx_http_core_loc_conf_t       *debug_location;

    /* where llm_route_status was first used (status.c), 0: nowhere */
    ngx_str_t                       status_file;
    ngx_uint_t                      status_line;
} ngx_http_llm_route_main_conf_t;


typedef struct {
    ngx_flag_t                      enable;
    ngx_flag_t                      trace;
    ngx_flag_t                      answers;     /* llm_route_status or
                                                    llm_route_mock answer
                                                    here: nothing is routed */
    ngx_uint_t                      classify;    /* policy | all */
    ngx_array_t                    *rules;       /* of rule (rules.c) */
    ngx_uint_t                      text_rules;  /* how many match text */
    ngx_http_complex_value_t       *override;
    ngx_uint_t                      max_attempts;
    ngx_uint_t                      balance;     /* weighted | latency */
    ngx_array_t                    *budgets;     /* limits.c, NULL: unset */
    ngx_array_t                    *rates;       /* limits.c, NULL: unset */
} ngx_http_llm_route_loc_conf_t;


extern ngx_module_t  ngx_http_llm_route_module;


void *ngx_http_llm_route_create_main_conf(ngx_conf_t *cf);
void *ngx_http_llm_route_create_loc_conf(ngx_conf_t *cf);

/*
 * Names, hosts, paths and keys end up in URLs and request headers: only
 * visible ASCII, and none of the characters in extra
 */
ngx_int_t ngx_http_llm_route_check_token(ngx_str_t *s, const char *extra);

/*
 * The whole of an open file of at most max bytes, into memory from pool
 * (ngx_alloc()ed if pool is NULL), one byte more allocated than read:
 * NGX_OK and *out; NGX_DECLINED if it cannot be stat'ed or is larger; or
 * NGX_ERROR if memory or reading failed or the read came short
 * (ngx_errno says why).
 */
ngx_int_t ngx_http_llm_route_read_file(ngx_file_t *file, size_t max,
    ngx_pool_t *pool, ngx_str_t *out);

/*
 * core/'s allocator (llr.h) over a pool: pieces carry their size (for
 * realloc), free returns large ones (ngx_pfree())
 */
void ngx_http_llm_route_pool_alloc(ngx_pool_t *pool, llr_alloc_t *alloc);


#endif /* _NGX_HTTP_LLM_ROUTE_CONF_H_INCLUDED_ */
