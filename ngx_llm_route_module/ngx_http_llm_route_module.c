
/*
 * ngx_llm_route_module: directives, configuration and phase wiring.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_module.h"
#include "llr_cost.h"


static ngx_int_t ngx_http_llm_route_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_llm_route_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_llm_route_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_llm_route_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_llm_route_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_llm_route_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_http_llm_route_provider_block(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llm_route_provider_cmd(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_llm_route_api_key(ngx_conf_t *cf,
    ngx_http_llm_route_provider_t *p, ngx_str_t *value);
static char *ngx_http_llm_route_model_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_llm_route_check_token(ngx_str_t *s,
    const char *extra);
static char *ngx_http_llm_route_classifier(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llm_route_policy_block(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_llm_route_policy_cmd(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_llm_route_init_tasks(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);
static char *ngx_http_llm_route_init_policies(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);
static void ngx_http_llm_route_cleanup_classifier(void *data);
static char *ngx_http_llm_route_rule(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_llm_route_cleanup_pattern(void *data);
#if (NGX_DEBUG)
static void ngx_http_llm_route_debug_location(ngx_conf_t *cf);
static void ngx_http_llm_route_debug_log_check(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);
#endif


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

    { ngx_string("llm_route_mock"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_llm_route_mock,
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
    NULL,                                  /* init module */
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

#if (NGX_DEBUG)
    ngx_http_llm_route_debug_log_check(cf,
        ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module));
#endif

    return ngx_http_llm_route_filter_init(cf);
}


static void *
ngx_http_llm_route_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->shm_zone = NULL;
     *     mcf->state_path = { 0, NULL };
     */

    if (ngx_array_init(&mcf->providers, cf->pool, 4, sizeof(void *))
        != NGX_OK
        || ngx_array_init(&mcf->deployments, cf->pool, 8, sizeof(void *))
           != NGX_OK
        || ngx_array_init(&mcf->models, cf->pool, 8, sizeof(void *))
           != NGX_OK
        || ngx_array_init(&mcf->policies, cf->pool, 2, sizeof(void *))
           != NGX_OK)
    {
        return NULL;
    }

    return mcf;
}


ngx_http_llm_route_model_t *
ngx_http_llm_route_find_model(ngx_http_llm_route_main_conf_t *mcf,
    u_char *name, size_t len)
{
    ngx_uint_t                   i;
    ngx_http_llm_route_model_t  **m;

    m = mcf->models.elts;

    for (i = 0; i < mcf->models.nelts; i++) {
        if (m[i]->name.len == len
            && ngx_strncmp(m[i]->name.data, name, len) == 0)
        {
            return m[i];
        }
    }

    return NULL;
}


ngx_http_llm_route_policy_t *
ngx_http_llm_route_find_policy(ngx_http_llm_route_main_conf_t *mcf,
    u_char *name, size_t len)
{
    ngx_uint_t                     i;
    ngx_http_llm_route_policy_t  **p;

    p = mcf->policies.elts;

    for (i = 0; i < mcf->policies.nelts; i++) {
        if (p[i]->name.len == len
            && ngx_strncmp(p[i]->name.data, name, len) == 0)
        {
            return p[i];
        }
    }

    return NULL;
}


static ngx_http_llm_route_provider_t *
ngx_http_llm_route_find_provider(ngx_http_llm_route_main_conf_t *mcf,
    ngx_str_t *name)
{
    ngx_uint_t                       i;
    ngx_http_llm_route_provider_t  **p;

    p = mcf->providers.elts;

    for (i = 0; i < mcf->providers.nelts; i++) {
        if (p[i]->name.len == name->len
            && ngx_strncmp(p[i]->name.data, name->data, name->len) == 0)
        {
            return p[i];
        }
    }

    return NULL;
}


static char *
ngx_http_llm_route_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    ngx_uint_t                         i;
    ngx_http_llm_route_model_t        *m, **pm;
    ngx_http_llm_route_deployment_t  **d, **pd;

    if (ngx_http_llm_route_status_check(cf, mcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* deployments: resolve providers, group by model name */

    d = mcf->deployments.elts;

    for (i = 0; i < mcf->deployments.nelts; i++) {

        d[i]->provider = ngx_http_llm_route_find_provider(mcf,
                                                     &d[i]->provider_name);
        if (d[i]->provider == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown provider \"%V\" in "
                          "\"llm_route_model %V\" in %V:%ui",
                          &d[i]->provider_name, &d[i]->name,
                          &d[i]->file, d[i]->line);
            return NGX_CONF_ERROR;
        }

        if (d[i]->upstream_model.len == 0) {
            d[i]->upstream_model = d[i]->name;
        }

        m = ngx_http_llm_route_find_model(mcf, d[i]->name.data,
                                          d[i]->name.len);
        if (m == NULL) {
            m = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_model_t));
            if (m == NULL) {
                return NGX_CONF_ERROR;
            }

            m->name = d[i]->name;
            m->index = mcf->models.nelts;
            m->provider = d[i]->provider;
            m->slot = -1;

            if (ngx_array_init(&m->deployments, cf->pool, 1, sizeof(void *))
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            pm = ngx_array_push(&mcf->models);
            if (pm == NULL) {
                return NGX_CONF_ERROR;
            }

            *pm = m;
        }

        pd = ngx_array_push(&m->deployments);
        if (pd == NULL) {
            return NGX_CONF_ERROR;
        }

        *pd = d[i];
        m->total_weight += d[i]->rr.weight;
    }

    if (ngx_http_llm_route_init_tasks(cf, mcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_llm_route_init_policies(cf, mcf);
}


/*
 * The classifier's task names (and "unclassified", last) name the
 * quality_TASK= and floor_TASK= parameters and the zone's task counters.
 */

static char *
ngx_http_llm_route_init_tasks(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    int                                  t;
    size_t                               n;
    ngx_str_t                           *name;
    ngx_uint_t                           i, j;
    const char                          *task;
    ngx_http_llm_route_deployment_t    **d;
    ngx_http_llm_route_task_quality_t   *tq;

    if (mcf->classifier == NULL) {
        mcf->classifier = llr_cls_default_model();

        if (mcf->classifier == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "the built-in classifier model cannot be loaded");
            return NGX_CONF_ERROR;
        }
    }

    n = llr_cls_ntasks(mcf->classifier);

    if (n > NGX_HTTP_LLM_ROUTE_MAX_TASKS) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "the classifier has %uz tasks, at most %d are "
                      "supported", n, NGX_HTTP_LLM_ROUTE_MAX_TASKS);
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&mcf->tasks, cf->pool, n + 1, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i <= n; i++) {
        name = ngx_array_push(&mcf->tasks);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        task = (i < n) ? llr_cls_task_name(mcf->classifier, (int) i)
                       : "unclassified";

        name->data = (u_char *) task;
        name->len = ngx_strlen(task);
    }

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_MAX_TASKS + 1; i++) {
        mcf->task_slots[i] = -1;
    }

    d = mcf->deployments.elts;

    for (i = 0; i < mcf->deployments.nelts; i++) {

        if (d[i]->task_quality == NULL) {
            continue;
        }

        tq = d[i]->task_quality->elts;

        for (j = 0; j < d[i]->task_quality->nelts; j++) {
            t = llr_cls_task_index(mcf->classifier, (char *) tq[j].task.data,
                                   tq[j].task.len);
            if (t < 0) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "unknown task \"%V\" in \"quality_%V=\" of "
                              "\"llm_route_model %V\" in %V:%ui",
                              &tq[j].task, &tq[j].task, &d[i]->name,
                              &d[i]->file, d[i]->line);
                return NGX_CONF_ERROR;
            }

            d[i]->quality_task[t] = tq[j].quality;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_route_init_policies(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    int                                  t;
    ngx_str_t                           *name;
    ngx_uint_t                           i, j;
    ngx_http_llm_route_model_t          *m, **pm;
    ngx_http_llm_route_policy_t        **p;
    ngx_http_llm_route_deployment_t    **d;
    ngx_http_llm_route_task_quality_t   *tf;

    p = mcf->policies.elts;

    for (i = 0; i < mcf->policies.nelts; i++) {

        if (ngx_http_llm_route_find_model(mcf, p[i]->name.data,
                                          p[i]->name.len)
            != NULL)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "llm_route_policy \"%V\" has the name of a model "
                          "in %V:%ui", &p[i]->name, &p[i]->file, p[i]->line);
            return NGX_CONF_ERROR;
        }

        if (ngx_array_init(&p[i]->candidates, cf->pool, p[i]->names.nelts,
                           sizeof(void *))
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        p[i]->prices = ngx_palloc(cf->pool,
                                  p[i]->names.nelts * sizeof(llr_price_t));
        if (p[i]->prices == NULL) {
            return NGX_CONF_ERROR;
        }

        name = p[i]->names.elts;

        for (j = 0; j < p[i]->names.nelts; j++) {
            m = ngx_http_llm_route_find_model(mcf, name[j].data, name[j].len);

            if (m == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "unknown model \"%V\" in \"candidates\" of "
                              "llm_route_policy \"%V\" in %V:%ui",
                              &name[j], &p[i]->name, &p[i]->file,
                              p[i]->line);
                return NGX_CONF_ERROR;
            }

            pm = ngx_array_push(&p[i]->candidates);
            if (pm == NULL) {
                return NGX_CONF_ERROR;
            }

            *pm = m;

            /* a candidate is priced by its first deployment */
            d = m->deployments.elts;
            p[i]->prices[j] = d[0]->price;
        }

        if (p[i]->task_floors == NULL) {
            continue;
        }

        /* floor_TASK (quality) and floor_hard_TASK (quality | 0x80000000) */

        tf = p[i]->task_floors->elts;

        for (j = 0; j < p[i]->task_floors->nelts; j++) {
            t = llr_cls_task_index(mcf->classifier, (char *) tf[j].task.data,
                                   tf[j].task.len);
            if (t < 0) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "unknown task \"%V\" in llm_route_policy "
                              "\"%V\" in %V:%ui", &tf[j].task, &p[i]->name,
                              &p[i]->file, p[i]->line);
                return NGX_CONF_ERROR;
            }

            if (tf[j].quality & 0x80000000) {
                p[i]->floor_hard_task[t] = tf[j].quality & 0x7fffffff;

            } else {
                p[i]->floor_task[t] = tf[j].quality;
            }
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_llm_route_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llm_route_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->mock = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->trace = NGX_CONF_UNSET;
    conf->rules = NGX_CONF_UNSET_PTR;
    conf->override = NGX_CONF_UNSET_PTR;
    conf->max_attempts = NGX_CONF_UNSET_UINT;
    conf->balance = NGX_CONF_UNSET_UINT;
    conf->classify = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_llm_route_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_llm_route_loc_conf_t *prev = parent;
    ngx_http_llm_route_loc_conf_t *conf = child;

    ngx_uint_t                       i;
    ngx_http_llm_route_rule_t       *rule;
    ngx_http_llm_route_main_conf_t  *mcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->trace, prev->trace, 0);

#if (NGX_DEBUG)
    if (conf->enable) {
        ngx_http_llm_route_debug_location(cf);
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

    if (conf->rules == NGX_CONF_UNSET_PTR) {
        conf->rules = prev->rules;
        conf->text_rules = prev->text_rules;
    }

    if (conf->rules == NGX_CONF_UNSET_PTR) {
        conf->rules = NULL;
    }

    if (conf->rules == NULL) {
        return NGX_CONF_OK;
    }

    /*
     * the main configuration is complete here: check what rules name,
     * once, where they are first merged (the http level's rules are only
     * ever merged as inherited ones)
     */

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module);
    rule = conf->rules->elts;

    for (i = 0; i < conf->rules->nelts; i++) {

        if (rule[i].resolved) {
            continue;
        }

        rule[i].resolved = 1;

        switch (rule[i].action) {

        case NGX_HTTP_LLM_ROUTE_RULE_TASK:
            rule[i].task = llr_cls_task_index(mcf->classifier,
                                              (char *) rule[i].target.data,
                                              rule[i].target.len);
            if (rule[i].task < 0) {
                goto unknown;
            }

            break;

        case NGX_HTTP_LLM_ROUTE_RULE_MODEL:
            if (ngx_http_llm_route_find_model(mcf, rule[i].target.data,
                                              rule[i].target.len)
                == NULL)
            {
                goto unknown;
            }

            break;

        default: /* NGX_HTTP_LLM_ROUTE_RULE_POLICY */
            if (ngx_http_llm_route_find_policy(mcf, rule[i].target.data,
                                               rule[i].target.len)
                == NULL)
            {
                goto unknown;
            }
        }
    }

    return NGX_CONF_OK;

unknown:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown %s \"%V\" in \"llm_route_rule %V\"",
                       rule[i].action == NGX_HTTP_LLM_ROUTE_RULE_TASK
                       ? "task" : (rule[i].action
                                   == NGX_HTTP_LLM_ROUTE_RULE_MODEL
                                   ? "model" : "policy"),
                       &rule[i].target, &rule[i].text);
    return NGX_CONF_ERROR;
}


/*
 * Names, hosts, paths and keys end up in URLs and request headers:
 * only visible ASCII without separators that would change their meaning.
 */

static ngx_int_t
ngx_http_llm_route_check_token(ngx_str_t *s, const char *extra)
{
    u_char      c;
    ngx_uint_t  i;

    if (s->len == 0) {
        return NGX_ERROR;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (c <= 0x20 || c >= 0x7f) {
            return NGX_ERROR;
        }

        if (extra && ngx_strchr(extra, c) != NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


#if (NGX_DEBUG)

/*
 * nginx's debug lines print the request it sends upstream, headers and
 * all ("http proxy header:"), and the values of variables ("http script
 * var:"): at debug level the error log gets the provider's key.  Said at
 * start (nginx -t too), where it can be known: a routed location whose
 * error log writes debug_http, and debug_connection (which turns debug
 * on for its clients whatever the level).
 */

/* from merge_loc_conf, core's merge done: a routed location's error log */

static void
ngx_http_llm_route_debug_location(ngx_conf_t *cf)
{
    ngx_log_t                       *log;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_llm_route_main_conf_t  *mcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module);

    if (mcf->debug_location
        || clcf->handler == ngx_http_llm_route_status_handler
        || clcf->handler == ngx_http_llm_route_mock_handler)
    {
        return;
    }

    for (log = clcf->error_log; log; log = log->next) {
        if (log->log_level & NGX_LOG_DEBUG_HTTP) {
            mcf->debug_location = clcf;
            return;
        }
    }
}


static void
ngx_http_llm_route_debug_log_check(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    ngx_str_t                        where;
    ngx_uint_t                       i;
    ngx_event_conf_t                *ecf;
    ngx_http_llm_route_provider_t  **p, *keyed;

    keyed = NULL;
    p = mcf->providers.elts;

    for (i = 0; i < mcf->providers.nelts; i++) {
        if (p[i]->authorization.len) {
            keyed = p[i];
            break;
        }
    }

    if (keyed == NULL) {
        return;
    }

    if (mcf->debug_location) {
        where = mcf->debug_location->name;

        if (where.len == 0) {
            ngx_str_set(&where, "server{}");
        }

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the error log of \"%V\" is at debug level with "
                           "llm_route on: nginx's debug lines show the "
                           "headers sent to providers, so the key of "
                           "provider \"%V\" will be written to it",
                           &where, &keyed->name);
    }

    /* the events{} block, if it came before http{} */

    if (cf->cycle->conf_ctx[ngx_events_module.index] == NULL) {
        return;
    }

    ecf = ngx_event_get_conf(cf->cycle->conf_ctx, ngx_event_core_module);

    if (ecf->debug_connection.nelts) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"debug_connection\" is set: nginx's debug "
                           "lines show the headers sent to providers, so "
                           "the key of provider \"%V\" will be written to "
                           "the error log for those clients", &keyed->name);
    }
}

#endif


static char *
ngx_http_llm_route_provider_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    char                            *rv;
    u_char                          *p;
    ngx_str_t                       *value;
    ngx_conf_t                       save;
    ngx_http_llm_route_provider_t   *pr, **ppr;

    value = cf->args->elts;

    if (ngx_http_llm_route_check_token(&value[1], "\"'{};/:?#@\\") != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid provider name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_route_find_provider(mcf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate llm_route_provider \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    pr = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_provider_t));
    if (pr == NULL) {
        return NGX_CONF_ERROR;
    }

    pr->name = value[1];
    pr->index = mcf->providers.nelts;
    pr->slot = -1;
    pr->max_fails = NGX_CONF_UNSET_UINT;
    pr->fail_timeout = NGX_CONF_UNSET_MSEC;

    save = *cf;
    cf->handler = ngx_http_llm_route_provider_cmd;
    cf->handler_conf = (char *) pr;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (pr->upstream.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"upstream\" in llm_route_provider \"%V\"",
                           &pr->name);
        return NGX_CONF_ERROR;
    }

    if (pr->scheme.len == 0) {
        ngx_str_set(&pr->scheme, "https");
    }

    if (pr->host.len == 0) {
        /* the upstream's name without the port */
        pr->host = pr->upstream;

        p = ngx_strlchr(pr->host.data, pr->host.data + pr->host.len, ':');
        if (p && pr->host.data[0] != '[') {
            pr->host.len = p - pr->host.data;
        }
    }

    if (pr->base_path.data == NULL) {
        ngx_str_set(&pr->base_path, "/v1");
    }

    ngx_conf_init_uint_value(pr->max_fails, 1);
    ngx_conf_init_msec_value(pr->fail_timeout, 10000);

    ppr = ngx_array_push(&mcf->providers);
    if (ppr == NULL) {
        return NGX_CONF_ERROR;
    }

    *ppr = pr;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_route_provider_cmd(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_llm_route_provider_t *pr = conf;

    ngx_int_t   n;
    ngx_str_t  *value, *name, *arg;

    value = cf->args->elts;
    name = &value[0];

    if (cf->args->nelts != 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"%V\" "
                           "of llm_route_provider \"%V\"", name, &pr->name);
        return NGX_CONF_ERROR;
    }

    arg = &value[1];

    if (ngx_strcmp(name->data, "upstream") == 0) {

        if (pr->upstream.len) {
            goto duplicate;
        }

        if (ngx_http_llm_route_check_token(arg, "\"'{};/?#@\\") != NGX_OK) {
            goto invalid;
        }

        pr->upstream = *arg;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "scheme") == 0) {

        if (pr->scheme.len) {
            goto duplicate;
        }

        if (ngx_strcmp(arg->data, "http") != 0
            && ngx_strcmp(arg->data, "https") != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"scheme\" value \"%V\" "
                               "in llm_route_provider \"%V\", "
                               "it must be \"http\" or \"https\"",
                               arg, &pr->name);
            return NGX_CONF_ERROR;
        }

        pr->scheme = *arg;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "host") == 0) {

        if (pr->host.len) {
            goto duplicate;
        }

        if (ngx_http_llm_route_check_token(arg, "\"'{};/?#@\\,") != NGX_OK) {
            goto invalid;
        }

        pr->host = *arg;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "base_path") == 0) {

        if (pr->base_path.data) {
            goto duplicate;
        }

        if (arg->data[0] != '/'
            || ngx_http_llm_route_check_token(arg, "\"'{};?#\\%") != NGX_OK)
        {
            goto invalid;
        }

        pr->base_path = *arg;

        /* "/" and "/v1/" become "" and "/v1": endpoints start with "/" */
        while (pr->base_path.len && pr->base_path.data[pr->base_path.len - 1]
                                    == '/')
        {
            pr->base_path.len--;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "api_key") == 0) {

        if (pr->authorization.len) {
            goto duplicate;
        }

        return ngx_http_llm_route_api_key(cf, pr, arg);
    }

    if (ngx_strcmp(name->data, "max_fails") == 0) {

        if (pr->max_fails != NGX_CONF_UNSET_UINT) {
            goto duplicate;
        }

        n = ngx_atoi(arg->data, arg->len);
        if (n == NGX_ERROR || n > 1000) {
            goto invalid;
        }

        pr->max_fails = (ngx_uint_t) n;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "fail_timeout") == 0) {

        if (pr->fail_timeout != NGX_CONF_UNSET_MSEC) {
            goto duplicate;
        }

        pr->fail_timeout = ngx_parse_time(arg, 0);
        if (pr->fail_timeout == (ngx_msec_t) NGX_ERROR
            || pr->fail_timeout == 0)
        {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in llm_route_provider \"%V\"",
                       name, &pr->name);
    return NGX_CONF_ERROR;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" is duplicate in llm_route_provider \"%V\"",
                       name, &pr->name);
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%V\" value \"%V\" in llm_route_provider "
                       "\"%V\"", name, arg, &pr->name);
    return NGX_CONF_ERROR;
}


/*
 * api_key env=NAME | file=/path | literal.  The key itself is never
 * written to a log: messages name the source, never the value.
 */

static char *
ngx_http_llm_route_api_key(ngx_conf_t *cf, ngx_http_llm_route_provider_t *pr,
    ngx_str_t *value)
{
    char         *env;
    u_char       *p, *buf;
    size_t        len;
    ssize_t       n;
    ngx_str_t     key, path;
    ngx_file_t    file;
    ngx_uint_t    i;
    ngx_file_info_t  fi;

    if (ngx_process == NGX_PROCESS_SIGNALLER) {
        /* "nginx -s reload" reads the configuration for the pid file only */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                       "llm route: api_key of \"%V\" not read by a signaller",
                       &pr->name);
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "env=", 4) == 0) {

        if (value->len == 4) {
            goto empty;
        }

        env = getenv((char *) value->data + 4);

        if (env == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "environment variable \"%s\" for \"api_key\" "
                               "of llm_route_provider \"%V\" is not set: "
                               "the nginx master reads it when it starts; "
                               "for the systemd service set it with "
                               "EnvironmentFile= in a drop-in, for "
                               "\"sudo nginx -t\" keep it with "
                               "\"sudo --preserve-env=%s\", or use "
                               "\"api_key file=PATH\" (see docs/install.md)",
                               value->data + 4, &pr->name, value->data + 4);
            return NGX_CONF_ERROR;
        }

        key.data = (u_char *) env;
        key.len = ngx_strlen(env);

    } else if (ngx_strncmp(value->data, "file=", 5) == 0) {

        path.data = value->data + 5;
        path.len = value->len - 5;

        if (path.len == 0) {
            goto empty;
        }

        if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&file, sizeof(ngx_file_t));
        file.name = path;
        file.log = cf->log;

        file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

        if (file.fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "cannot read \"api_key\" file \"%V\" "
                               "of llm_route_provider \"%V\"",
                               &path, &pr->name);
            return NGX_CONF_ERROR;
        }

        if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
            || ngx_file_size(&fi) > 65536)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"api_key\" file \"%V\" of llm_route_provider "
                               "\"%V\" is not a small regular file",
                               &path, &pr->name);
            (void) ngx_close_file(file.fd);
            return NGX_CONF_ERROR;
        }

        len = (size_t) ngx_file_size(&fi);

        buf = ngx_pnalloc(cf->pool, len + 1);
        if (buf == NULL) {
            (void) ngx_close_file(file.fd);
            return NGX_CONF_ERROR;
        }

        n = ngx_read_file(&file, buf, len, 0);

        (void) ngx_close_file(file.fd);

        if (n != (ssize_t) len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "cannot read \"api_key\" file \"%V\" "
                               "of llm_route_provider \"%V\"",
                               &path, &pr->name);
            return NGX_CONF_ERROR;
        }

        /* surrounding white space, a trailing newline in particular */

        key.data = buf;
        key.len = len;

        while (key.len && (key.data[0] == ' ' || key.data[0] == '\t'
                           || key.data[0] == '\r' || key.data[0] == '\n'))
        {
            key.data++;
            key.len--;
        }

        while (key.len && (key.data[key.len - 1] == ' '
                           || key.data[key.len - 1] == '\t'
                           || key.data[key.len - 1] == '\r'
                           || key.data[key.len - 1] == '\n'))
        {
            key.len--;
        }

    } else {
        key = *value;
    }

    if (key.len == 0) {
        goto empty;
    }

    for (i = 0; i < key.len; i++) {
        if (key.data[i] <= 0x20 || key.data[i] >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"api_key\" of llm_route_provider \"%V\" "
                               "contains a character not allowed in a "
                               "header", &pr->name);
            return NGX_CONF_ERROR;
        }
    }

    len = sizeof("Bearer ") - 1 + key.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    pr->authorization.data = p;
    pr->authorization.len = len;

    p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p, key.data, key.len);

    return NGX_CONF_OK;

empty:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "empty \"api_key\" in llm_route_provider \"%V\"",
                       &pr->name);
    return NGX_CONF_ERROR;
}


/*
 * llm_route_model NAME provider=P input=X output=Y context=N quality=Q
 *     [cached_input=X] [quality_TASK=Q] [upstream_model=M] [weight=W];
 */

static char *
ngx_http_llm_route_model_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    size_t                            n;
    uint64_t                          v;
    ngx_str_t                        *value, arg, what;
    ngx_uint_t                        i, k, have_input, have_output,
                                      have_context, have_quality;
    ngx_http_llm_route_task_quality_t  *tq;
    const char                       *err;
    ngx_http_llm_route_deployment_t  *d, **pd;

    value = cf->args->elts;

    if (ngx_http_llm_route_check_token(&value[1], "\"'{};\\,") != NGX_OK
        || value[1].len > 256)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid model name \"%V\" in llm_route_model",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    d = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_deployment_t));
    if (d == NULL) {
        return NGX_CONF_ERROR;
    }

    d->name = value[1];
    d->index = mcf->deployments.nelts;
    d->rr.weight = 1;
    d->price.cached_input = LLR_PRICE_UNSET;
    d->slot = -1;
    d->file = cf->conf_file->file.name;
    d->line = cf->conf_file->line;

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_MAX_TASKS; i++) {
        d->quality_task[i] = LLR_Q_UNSET;
    }

    have_input = 0;
    have_output = 0;
    have_context = 0;
    have_quality = 0;
    err = NULL;

    for (i = 2; i < cf->args->nelts; i++) {

        arg = value[i];

        what.data = arg.data;
        what.len = 0;

        while (what.len < arg.len && arg.data[what.len] != '=') {
            what.len++;
        }

        if (what.len == arg.len || what.len == 0) {
            goto invalid;
        }

        for (k = 2; k < i; k++) {
            if (value[k].len > what.len && value[k].data[what.len] == '='
                && ngx_strncmp(value[k].data, what.data, what.len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate parameter \"%V\" in "
                                   "\"llm_route_model %V\"",
                                   &value[i], &value[1]);
                return NGX_CONF_ERROR;
            }
        }

        arg.data += what.len + 1;
        arg.len -= what.len + 1;

        n = what.len;

#define ngx_llr_param(name)                                                   \
    (n == sizeof(name) - 1 && ngx_strncmp(what.data, name, n) == 0)

        if (ngx_llr_param("provider")) {
            if (d->provider_name.len || arg.len == 0) {
                goto invalid;
            }

            d->provider_name = arg;

        } else if (ngx_llr_param("input")) {
            if (llr_parse_price((char *) arg.data, arg.len, &d->price.input,
                                &err)
                != 0)
            {
                goto bad;
            }

            have_input = 1;

        } else if (ngx_llr_param("output")) {
            if (llr_parse_price((char *) arg.data, arg.len, &d->price.output,
                                &err)
                != 0)
            {
                goto bad;
            }

            have_output = 1;

        } else if (ngx_llr_param("cached_input")) {
            if (llr_parse_price((char *) arg.data, arg.len,
                                &d->price.cached_input, &err)
                != 0)
            {
                goto bad;
            }

        } else if (ngx_llr_param("context")) {
            if (llr_parse_uint((char *) arg.data, arg.len, 1000000000, &v,
                               &err)
                != 0 || v == 0)
            {
                goto bad;
            }

            d->context = (ngx_uint_t) v;
            have_context = 1;

        } else if (ngx_llr_param("weight")) {
            if (llr_parse_uint((char *) arg.data, arg.len, 1000000, &v, &err)
                != 0 || v == 0)
            {
                goto bad;
            }

            d->rr.weight = v;

        } else if (ngx_llr_param("upstream_model")) {
            if (d->upstream_model.len
                || ngx_http_llm_route_check_token(&arg, "\"\\") != NGX_OK)
            {
                goto invalid;
            }

            d->upstream_model = arg;

        } else if (ngx_llr_param("quality")) {
            if (llr_parse_decimal((char *) arg.data, arg.len, 4, LLR_Q_ONE,
                                  &v, &err)
                != 0)
            {
                goto bad;
            }

            d->quality = (uint32_t) v;
            have_quality = 1;

        } else if (n > sizeof("quality_") - 1
                   && ngx_strncmp(what.data, "quality_", 8) == 0)
        {
            if (llr_parse_decimal((char *) arg.data, arg.len, 4, LLR_Q_ONE,
                                  &v, &err)
                != 0)
            {
                goto bad;
            }

            /* task names are checked once the classifier is known */

            if (d->task_quality == NULL) {
                d->task_quality = ngx_array_create(cf->pool, 4,
                                     sizeof(ngx_http_llm_route_task_quality_t));
                if (d->task_quality == NULL) {
                    return NGX_CONF_ERROR;
                }
            }

            tq = ngx_array_push(d->task_quality);
            if (tq == NULL) {
                return NGX_CONF_ERROR;
            }

            tq->task.data = what.data + 8;
            tq->task.len = n - 8;
            tq->quality = (uint32_t) v;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown parameter \"%V\" in "
                               "\"llm_route_model %V\"", &value[i],
                               &value[1]);
            return NGX_CONF_ERROR;
        }

#undef ngx_llr_param
    }

    if (d->provider_name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"provider=\" in \"llm_route_model %V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (!have_input || !have_output) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"%s\" price in \"llm_route_model %V\"",
                           have_input ? "output=" : "input=", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (!have_context) {
        d->context = 0;    /* unknown: never too small */
    }

    if (!have_quality) {
        d->quality = 0;
    }

    pd = ngx_array_push(&mcf->deployments);
    if (pd == NULL) {
        return NGX_CONF_ERROR;
    }

    *pd = d;

    return NGX_CONF_OK;

bad:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"llm_route_model %V\": %s",
                       &value[i], &value[1], err ? err : "bad number");
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"llm_route_model %V\"",
                       &value[i], &value[1]);
    return NGX_CONF_ERROR;
}


/* llm_route_classifier PATH: a model file made by llm-route-train */

static char *
ngx_http_llm_route_classifier(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    char                 err[256];
    u_char              *buf;
    size_t               len;
    ssize_t              n;
    ngx_str_t           *value, path;
    ngx_file_t           file;
    ngx_file_info_t      fi;
    llr_cls_model_t     *m;
    ngx_pool_cleanup_t  *cln;

    if (mcf->classifier_path.len) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open classifier model \"%V\"", &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 256 * 1024 * 1024)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "classifier model \"%V\" is not a regular file "
                           "of at most 256M", &path);
        (void) ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    len = (size_t) ngx_file_size(&fi);

    buf = ngx_alloc(len + 1, cf->log);
    if (buf == NULL) {
        (void) ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, buf, len, 0);

    (void) ngx_close_file(file.fd);

    if (n != (ssize_t) len) {
        ngx_free(buf);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read classifier model \"%V\"", &path);
        return NGX_CONF_ERROR;
    }

    err[0] = '\0';

    m = llr_cls_model_load(buf, len, (void *(*)(void *, size_t)) ngx_palloc,
                           cf->pool, err, sizeof(err));

    ngx_free(buf);

    if (m == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid classifier model \"%V\": %s",
                           &path, err);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        llr_cls_model_cleanup(m);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_llm_route_cleanup_classifier;
    cln->data = m;

    mcf->classifier = m;
    mcf->classifier_path = path;

    return NGX_CONF_OK;
}


static void
ngx_http_llm_route_cleanup_classifier(void *data)
{
    llr_cls_model_cleanup(data);
}


/*
 * llm_route_policy NAME {
 *     candidates MODEL ...;
 *     floor Q;  floor_hard Q;  [floor_TASK Q;]  [floor_hard_TASK Q;]
 * }
 */

static char *
ngx_http_llm_route_policy_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    char                          *rv;
    ngx_str_t                     *value;
    ngx_uint_t                     i;
    ngx_conf_t                     save;
    ngx_http_llm_route_policy_t   *p, **pp;

    value = cf->args->elts;

    if (ngx_http_llm_route_check_token(&value[1], "\"'{};\\,") != NGX_OK
        || value[1].len > 256)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid policy name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_route_find_policy(mcf, value[1].data, value[1].len)
        != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate llm_route_policy \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    p = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_policy_t));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    p->name = value[1];
    p->index = mcf->policies.nelts;
    p->floor = LLR_Q_UNSET;
    p->floor_hard = LLR_Q_UNSET;
    p->file = cf->conf_file->file.name;
    p->line = cf->conf_file->line;

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_MAX_TASKS; i++) {
        p->floor_task[i] = LLR_Q_UNSET;
        p->floor_hard_task[i] = LLR_Q_UNSET;
    }

    if (ngx_array_init(&p->names, cf->pool, 4, sizeof(ngx_str_t)) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    save = *cf;
    cf->handler = ngx_http_llm_route_policy_cmd;
    cf->handler_conf = (char *) p;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (p->names.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"candidates\" in llm_route_policy \"%V\"",
                           &p->name);
        return NGX_CONF_ERROR;
    }

    if (p->names.nelts > LLR_SELECT_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many \"candidates\" in llm_route_policy "
                           "\"%V\", at most %d", &p->name, LLR_SELECT_MAX);
        return NGX_CONF_ERROR;
    }

    if (p->floor == LLR_Q_UNSET) {
        p->floor = 0;
    }

    if (p->floor_hard == LLR_Q_UNSET) {
        p->floor_hard = p->floor;
    }

    pp = ngx_array_push(&mcf->policies);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = p;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_route_policy_cmd(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_llm_route_policy_t *p = conf;

    uint64_t                            v;
    ngx_str_t                          *value, *name, *cand, task;
    ngx_uint_t                          i, j, hard;
    const char                         *err;
    ngx_http_llm_route_task_quality_t  *tf;

    value = cf->args->elts;
    name = &value[0];

    if (ngx_strcmp(name->data, "candidates") == 0) {

        if (cf->args->nelts < 2) {
            goto args;
        }

        for (i = 1; i < cf->args->nelts; i++) {

            cand = p->names.elts;

            for (j = 0; j < p->names.nelts; j++) {
                if (cand[j].len == value[i].len
                    && ngx_strncmp(cand[j].data, value[i].data, value[i].len)
                       == 0)
                {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "duplicate candidate \"%V\" in "
                                       "llm_route_policy \"%V\"",
                                       &value[i], &p->name);
                    return NGX_CONF_ERROR;
                }
            }

            cand = ngx_array_push(&p->names);
            if (cand == NULL) {
                return NGX_CONF_ERROR;
            }

            *cand = value[i];
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(name->data, "floor", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown directive \"%V\" in llm_route_policy "
                           "\"%V\"", name, &p->name);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts != 2) {
        goto args;
    }

    if (llr_parse_decimal((char *) value[1].data, value[1].len, 4, LLR_Q_ONE,
                          &v, &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" value \"%V\" in llm_route_policy "
                           "\"%V\": %s", name, &value[1], &p->name, err);
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(name->data, "floor") == 0) {
        if (p->floor != LLR_Q_UNSET) {
            goto duplicate;
        }

        p->floor = (uint32_t) v;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "floor_hard") == 0) {
        if (p->floor_hard != LLR_Q_UNSET) {
            goto duplicate;
        }

        p->floor_hard = (uint32_t) v;
        return NGX_CONF_OK;
    }

    /* floor_TASK, floor_hard_TASK: checked once the classifier is known */

    hard = (ngx_strncmp(name->data, "floor_hard_", 11) == 0);

    task.data = name->data + (hard ? 11 : 6);
    task.len = name->len - (hard ? 11 : 6);

    if (name->data[5] != '_' || task.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown directive \"%V\" in llm_route_policy "
                           "\"%V\"", name, &p->name);
        return NGX_CONF_ERROR;
    }

    if (p->task_floors == NULL) {
        p->task_floors = ngx_array_create(cf->pool, 4,
                                 sizeof(ngx_http_llm_route_task_quality_t));
        if (p->task_floors == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    tf = p->task_floors->elts;

    for (i = 0; i < p->task_floors->nelts; i++) {
        if ((tf[i].quality & 0x80000000) == (hard ? 0x80000000 : 0)
            && tf[i].task.len == task.len
            && ngx_strncmp(tf[i].task.data, task.data, task.len) == 0)
        {
            goto duplicate;
        }
    }

    tf = ngx_array_push(p->task_floors);
    if (tf == NULL) {
        return NGX_CONF_ERROR;
    }

    tf->task = task;
    tf->quality = (uint32_t) v | (hard ? 0x80000000 : 0);

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" is duplicate in llm_route_policy \"%V\"",
                       name, &p->name);
    return NGX_CONF_ERROR;

args:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid number of arguments in \"%V\" of "
                       "llm_route_policy \"%V\"", name, &p->name);
    return NGX_CONF_ERROR;
}


/*
 * llm_route_rule text|VALUE ~REGEX|~*REGEX|=STRING task=|model=|policy=NAME;
 *
 * "text" matches each message text (as the scanner delivers it, one JSON
 * string at a time); VALUE is a complex value ($http_x_priority, ...).
 */

static char *
ngx_http_llm_route_rule(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_loc_conf_t *lcf = conf;

    char                               err[256];
    u_char                            *p;
    ngx_str_t                         *value, re;
    ngx_uint_t                         caseless;
    ngx_pool_cleanup_t                *cln;
    ngx_http_llm_route_rule_t         *rule;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (lcf->rules == NGX_CONF_UNSET_PTR) {
        lcf->rules = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_llm_route_rule_t));
        if (lcf->rules == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (lcf->rules->nelts >= 64) {
        return "is used more than 64 times at one level";
    }

    rule = ngx_array_push(lcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_llm_route_rule_t));

    /* the rule as written, for messages */

    rule->text.len = value[1].len + value[2].len + value[3].len + 2;
    rule->text.data = ngx_pnalloc(cf->pool, rule->text.len);
    if (rule->text.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(rule->text.data, "%V %V %V", &value[1], &value[2],
                    &value[3]);
    rule->text.len = p - rule->text.data;

    /* the subject */

    if (ngx_strcmp(value[1].data, "text") == 0) {
        rule->value = NULL;
        lcf->text_rules++;

    } else {
        rule->value = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (rule->value == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[1];
        ccv.complex_value = rule->value;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    /* the condition */

    if (value[2].data[0] == '~') {
        caseless = (value[2].len > 1 && value[2].data[1] == '*');

        re.data = value[2].data + 1 + caseless;
        re.len = value[2].len - 1 - caseless;

        if (re.len == 0) {
            goto invalid;
        }

        rule->pattern = ngx_palloc(cf->pool, sizeof(llr_pattern_t));
        if (rule->pattern == NULL) {
            return NGX_CONF_ERROR;
        }

        if (llr_pattern_compile(rule->pattern, (char *) re.data, re.len,
                                (int) caseless, err, sizeof(err))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid regex \"%V\" in llm_route_rule: %s",
                               &re, err);
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            llr_pattern_free(rule->pattern);
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_llm_route_cleanup_pattern;
        cln->data = rule->pattern;

        rule->regex = 1;

    } else if (value[2].data[0] == '=') {
        rule->string.data = value[2].data + 1;
        rule->string.len = value[2].len - 1;

    } else {
        goto invalid;
    }

    /* the action */

    if (ngx_strncmp(value[3].data, "task=", 5) == 0) {
        rule->action = NGX_HTTP_LLM_ROUTE_RULE_TASK;
        rule->target.data = value[3].data + 5;

    } else if (ngx_strncmp(value[3].data, "model=", 6) == 0) {
        rule->action = NGX_HTTP_LLM_ROUTE_RULE_MODEL;
        rule->target.data = value[3].data + 6;

    } else if (ngx_strncmp(value[3].data, "policy=", 7) == 0) {
        rule->action = NGX_HTTP_LLM_ROUTE_RULE_POLICY;
        rule->target.data = value[3].data + 7;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid action \"%V\" in llm_route_rule, it "
                           "must be task=, model= or policy=", &value[3]);
        return NGX_CONF_ERROR;
    }

    rule->target.len = value[3].data + value[3].len - rule->target.data;

    if (rule->target.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty \"%V\" in llm_route_rule", &value[3]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid condition \"%V\" in llm_route_rule, it "
                       "must be ~REGEX, ~*REGEX or =STRING", &value[2]);
    return NGX_CONF_ERROR;
}


static void
ngx_http_llm_route_cleanup_pattern(void *data)
{
    llr_pattern_free(data);
}
