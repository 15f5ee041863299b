
/*
 * ngx_llm_route_module: the policies, virtual models clients may ask for.
 *
 *     llm_route_policy NAME {
 *         candidates MODEL ...;
 *         floor Q;  floor_hard Q;  [floor_TASK Q;]  [floor_hard_TASK Q;]
 *     }
 *
 * At init main conf the candidates are resolved to models (priced by
 * their first deployment) and the task floors to the classifier's tasks.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_policy.h"


static char *ngx_http_llm_route_policy_cmd(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);


/*
 * llm_route_policy NAME {
 *     candidates MODEL ...;
 *     floor Q;  floor_hard Q;  [floor_TASK Q;]  [floor_hard_TASK Q;]
 * }
 */

char *
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
    ngx_http_llm_route_task_quality_t  *tf, floor;

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

    tf = p->task_floors ? p->task_floors->elts : NULL;

    for (i = 0; p->task_floors && i < p->task_floors->nelts; i++) {
        if ((tf[i].quality & 0x80000000) == (hard ? 0x80000000 : 0)
            && tf[i].task.len == task.len
            && ngx_strncmp(tf[i].task.data, task.data, task.len) == 0)
        {
            goto duplicate;
        }
    }

    floor.task = task;
    floor.quality = (uint32_t) v | (hard ? 0x80000000 : 0);

    if (ngx_http_llm_route_task_quality_add(cf, &p->task_floors, &floor)
        == NULL)
    {
        return NGX_CONF_ERROR;
    }

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


char *
ngx_http_llm_route_policy_init(ngx_conf_t *cf,
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
