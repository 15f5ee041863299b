
/*
 * ngx_llm_route_module: the module, ngx_http_llm_route_module: its
 * directives (handled in the files of their concern), its configuration
 * hooks, its phase handlers and filters, its process hooks.  The files
 * and their layering: docs/architecture.md.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_binary.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_provider.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_policy.h"
#include "ngx_http_llm_route_rules.h"
#include "ngx_http_llm_route_limits_conf.h"
#include "ngx_http_llm_route_limits_shm.h"
#include "ngx_http_llm_route_zone.h"
#include "ngx_http_llm_route_series.h"
#include "ngx_http_llm_route_state.h"
#include "ngx_http_llm_route_status.h"
#include "ngx_http_llm_route_variables.h"
#include "ngx_http_llm_route_headers.h"
#include "ngx_http_llm_route_request.h"
#include "ngx_http_llm_route_filter.h"
#include "ngx_http_llm_route_account.h"
#include "ngx_http_llm_route_fleet.h"
#include "ngx_http_llm_route_signal.h"
#include "ngx_http_llm_route_quality.h"
#include "ngx_http_llm_route_feedback.h"
#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_drift.h"


static ngx_int_t ngx_http_llm_route_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_llm_route_init_process(ngx_cycle_t *cycle);
static void ngx_http_llm_route_exit_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_llm_route_postconfiguration(ngx_conf_t *cf);
static char *ngx_http_llm_route_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_llm_route_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);



static ngx_conf_num_bounds_t  ngx_http_llm_route_max_attempts_bounds = {
    ngx_conf_check_num_bounds, 1, NGX_HTTP_LLM_ROUTE_MAX_ATTEMPTS
};


static ngx_conf_enum_t  ngx_http_llm_route_classify_modes[] = {
    { ngx_string("policy"), NGX_HTTP_LLM_ROUTE_CLASSIFY_POLICY },
    { ngx_string("all"), NGX_HTTP_LLM_ROUTE_CLASSIFY_ALL },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_llm_route_balance_modes[] = {
    { ngx_string("weighted"), NGX_HTTP_LLM_ROUTE_BALANCE_WEIGHTED },
    { ngx_string("latency"), NGX_HTTP_LLM_ROUTE_BALANCE_LATENCY },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_llm_route_commands[] = {

    { ngx_string("llm_route"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_route_loc_conf_t, enable),
      NULL },

    { ngx_string("llm_route_trace"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_route_loc_conf_t, trace),
      NULL },

    { ngx_string("llm_route_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_llm_route_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_spend_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_llm_route_spend_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_experiment"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_llm_route_experiment,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_drift"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_ANY,
      ngx_http_llm_route_drift,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_feedback"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_llm_route_feedback,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_feedback_ring"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_llm_route_feedback_ring,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_refusal_pattern"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_route_refusal_pattern,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_llm_route_provider_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_model"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_llm_route_model_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_policy"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_llm_route_policy_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_classifier"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_llm_route_classifier,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_llm_route_status,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_rule"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE3,
      ngx_http_llm_route_rule,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_override"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_route_loc_conf_t, override),
      NULL },

    { ngx_string("llm_route_classify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_route_loc_conf_t, classify),
      &ngx_http_llm_route_classify_modes },

    { ngx_string("llm_route_balance"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_route_loc_conf_t, balance),
      &ngx_http_llm_route_balance_modes },

    { ngx_string("llm_route_max_attempts"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_llm_route_loc_conf_t, max_attempts),
      &ngx_http_llm_route_max_attempts_bounds },

    { ngx_string("llm_route_budget"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_llm_route_budget,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("llm_route_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_llm_route_rate,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llm_route_module_ctx = {
    ngx_http_llm_route_preconfiguration,   /* preconfiguration */
    ngx_http_llm_route_postconfiguration,  /* postconfiguration */

    ngx_http_llm_route_create_main_conf,   /* create main configuration */
    ngx_http_llm_route_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_llm_route_create_loc_conf,    /* create location configuration */
    ngx_http_llm_route_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_llm_route_module = {
    NGX_MODULE_V1,
    &ngx_http_llm_route_module_ctx,        /* module context */
    ngx_http_llm_route_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_llm_route_binary_init_module, /* init module */
    ngx_http_llm_route_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_llm_route_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_llm_route_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_llm_route_add_variables(cf);
}


static ngx_int_t
ngx_http_llm_route_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                  n;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_llm_route_precontent_handler;

    /*
     * the log handler goes first, before access_log's (the log phase
     * runs its handlers in order): a request is accounted before its
     * access log line is written, also one whose response did not
     * complete, so the token and cost variables are known there
     */

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    n = cmcf->phases[NGX_HTTP_LOG_PHASE].handlers.nelts;
    h = cmcf->phases[NGX_HTTP_LOG_PHASE].handlers.elts;

    ngx_memmove(&h[1], &h[0], (n - 1) * sizeof(ngx_http_handler_pt));
    h[0] = ngx_http_llm_route_log_handler;

    if (ngx_http_llm_route_headers_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_llm_route_fleet_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

#if (NGX_DEBUG)
    ngx_http_llm_route_debug_log_check(cf,
        ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module));
#endif

    return ngx_http_llm_route_filter_init(cf);
}


static char *
ngx_http_llm_route_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    if (ngx_http_llm_route_status_check(cf, mcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_route_catalog_init(cf, mcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_route_quality_init_conf(cf, mcf) != NGX_CONF_OK
        || ngx_http_llm_route_signal_init_conf(cf, mcf) != NGX_CONF_OK
        || ngx_http_llm_route_feedback_init_conf(cf, mcf) != NGX_CONF_OK
        || ngx_http_llm_route_drift_init_conf(cf, mcf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_route_policy_init(cf, mcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_llm_route_experiment_init_conf(cf, mcf);
}


static char *
ngx_http_llm_route_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_llm_route_loc_conf_t *prev = parent;
    ngx_http_llm_route_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->trace, prev->trace, 0);

#if (NGX_DEBUG)
    if (conf->enable) {
        ngx_http_llm_route_debug_location(cf, conf);
    }
#endif

    ngx_conf_merge_ptr_value(conf->override, prev->override, NULL);
    ngx_conf_merge_uint_value(conf->max_attempts, prev->max_attempts, 3);
    ngx_conf_merge_uint_value(conf->balance, prev->balance,
                              NGX_HTTP_LLM_ROUTE_BALANCE_WEIGHTED);
    ngx_conf_merge_uint_value(conf->classify, prev->classify,
                              NGX_HTTP_LLM_ROUTE_CLASSIFY_POLICY);

    if (ngx_http_llm_route_limits_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_llm_route_rules_merge(cf, prev, conf);
}


static ngx_int_t
ngx_http_llm_route_init_process(ngx_cycle_t *cycle)
{
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_llm_route_module);

    if ((ngx_process == NGX_PROCESS_WORKER
         || ngx_process == NGX_PROCESS_SINGLE)
        && mcf && mcf->shm_zone && mcf->shm_zone->data)
    {
        /* what workers that died left reserved */

        ngx_http_llm_route_limits_recover(cycle, mcf->shm_zone->data,
                                  (ngx_slab_pool_t *) mcf->shm_zone->shm.addr);
    }

    return ngx_http_llm_route_state_init_process(cycle);
}


static void
ngx_http_llm_route_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_llm_route_state_exit_process(cycle);
}
