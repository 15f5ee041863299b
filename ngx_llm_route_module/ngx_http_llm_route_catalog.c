
/*
 * ngx_llm_route_module: the catalog of models.
 *
 *     llm_route_model NAME provider=P input=X output=Y [context=N]
 *         [quality=Q] [quality_TASK=Q] [cached_input=X]
 *         [upstream_model=M] [weight=W];
 *     llm_route_classifier PATH;
 *
 * Each llm_route_model is a deployment: a model name served by one
 * provider.  At init main conf the deployments are grouped by name into
 * models, and the classifier (the built-in one unless a file is given)
 * names the tasks that quality_TASK= and the policies' floor_TASK refer
 * to, and that the zone counts.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_catalog.h"


static char *ngx_http_llm_route_model_param(ngx_conf_t *cf,
    ngx_http_llm_route_deployment_t *d, ngx_str_t *value, ngx_uint_t i);
static void *ngx_http_llm_route_conf_alloc(void *pool, size_t size);
static void ngx_http_llm_route_cleanup_classifier(void *data);
static char *ngx_http_llm_route_init_tasks(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);


/*
 * llm_route_model NAME provider=P input=X output=Y context=N quality=Q
 *     [cached_input=X] [quality_TASK=Q] [upstream_model=M] [weight=W];
 */

char *
ngx_http_llm_route_model_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    char                             *rv;
    ngx_str_t                        *value;
    ngx_uint_t                        i;
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

    /*
     * set by ngx_pcalloc():
     *
     *     d->context = 0;       unknown: never too small
     *     d->quality = 0;
     */

    d->name = value[1];
    d->index = mcf->deployments.nelts;
    d->rr.weight = 1;
    d->price.input = LLR_PRICE_UNSET;
    d->price.output = LLR_PRICE_UNSET;
    d->price.cached_input = LLR_PRICE_UNSET;
    d->slot = -1;
    d->file = cf->conf_file->file.name;
    d->line = cf->conf_file->line;

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_MAX_TASKS; i++) {
        d->quality_task[i] = LLR_Q_UNSET;
    }

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_http_llm_route_model_param(cf, d, value, i);

        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (d->provider_name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"provider=\" in \"llm_route_model %V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (d->price.input == LLR_PRICE_UNSET
        || d->price.output == LLR_PRICE_UNSET)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"%s\" price in \"llm_route_model %V\"",
                           d->price.input != LLR_PRICE_UNSET
                           ? "output=" : "input=", &value[1]);
        return NGX_CONF_ERROR;
    }

    pd = ngx_array_push(&mcf->deployments);
    if (pd == NULL) {
        return NGX_CONF_ERROR;
    }

    *pd = d;

    return NGX_CONF_OK;
}


/* one NAME=VALUE parameter of llm_route_model, value[i] */

static char *
ngx_http_llm_route_model_param(ngx_conf_t *cf,
    ngx_http_llm_route_deployment_t *d, ngx_str_t *value, ngx_uint_t i)
{
    size_t                              n;
    uint64_t                            v, *price;
    ngx_str_t                           arg, what;
    ngx_uint_t                          k;
    const char                         *err;
    ngx_http_llm_route_task_quality_t   tq;

    err = NULL;

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

    } else if (ngx_llr_param("input") || ngx_llr_param("output")
               || ngx_llr_param("cached_input"))
    {
        price = (n == 5) ? &d->price.input
                : (n == 6) ? &d->price.output : &d->price.cached_input;

        if (llr_parse_price((char *) arg.data, arg.len, price, &err) != 0) {
            goto bad;
        }

    } else if (ngx_llr_param("context") || ngx_llr_param("weight")) {
        if (llr_parse_uint((char *) arg.data, arg.len,
                           (n == 7) ? 1000000000 : 1000000, &v, &err)
            != 0 || v == 0)
        {
            goto bad;
        }

        if (n == 7) {
            d->context = (ngx_uint_t) v;

        } else {
            d->rr.weight = v;
        }

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

        tq.task.data = what.data + 8;
        tq.task.len = n - 8;
        tq.quality = (uint32_t) v;

        if (ngx_http_llm_route_task_quality_add(cf, &d->task_quality, &tq)
            == NULL)
        {
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown parameter \"%V\" in "
                           "\"llm_route_model %V\"", &value[i],
                           &value[1]);
        return NGX_CONF_ERROR;
    }

#undef ngx_llr_param

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


/* quality_TASK=Q (and floor_TASK Q): its task is checked in init_tasks */

ngx_http_llm_route_task_quality_t *
ngx_http_llm_route_task_quality_add(ngx_conf_t *cf, ngx_array_t **a,
    ngx_http_llm_route_task_quality_t *tq)
{
    ngx_http_llm_route_task_quality_t  *p;

    if (*a == NULL) {
        *a = ngx_array_create(cf->pool, 4,
                              sizeof(ngx_http_llm_route_task_quality_t));
        if (*a == NULL) {
            return NULL;
        }
    }

    p = ngx_array_push(*a);
    if (p == NULL) {
        return NULL;
    }

    *p = *tq;

    return p;
}


/* llm_route_classifier PATH: a model file made by llm-route-train */

char *
ngx_http_llm_route_classifier(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    char                 err[256];
    ngx_err_t            ferr;
    ngx_int_t            rc;
    ngx_str_t           *value, path, data;
    ngx_file_t           file;
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

    rc = ngx_http_llm_route_read_file(&file, 256 * 1024 * 1024, NULL, &data);

    ferr = ngx_errno;
    (void) ngx_close_file(file.fd);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "classifier model \"%V\" is not a regular file "
                           "of at most 256M", &path);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ferr,
                           "cannot read classifier model \"%V\"", &path);
        return NGX_CONF_ERROR;
    }

    err[0] = '\0';

    m = llr_cls_model_load(data.data, data.len, ngx_http_llm_route_conf_alloc,
                           cf->pool, err, sizeof(err));

    ngx_free(data.data);

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


/* memory for the classifier's model, from the configuration's pool */

static void *
ngx_http_llm_route_conf_alloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


static void
ngx_http_llm_route_cleanup_classifier(void *data)
{
    llr_cls_model_cleanup(data);
}


/*
 * init main conf: each deployment's provider, the deployments grouped by
 * model name, and the tasks
 */

char *
ngx_http_llm_route_catalog_init(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    ngx_uint_t                         i;
    ngx_http_llm_route_model_t        *m, **pm;
    ngx_http_llm_route_deployment_t  **d, **pd;

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

    return ngx_http_llm_route_init_tasks(cf, mcf);
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
