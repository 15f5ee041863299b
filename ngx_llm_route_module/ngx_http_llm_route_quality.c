
/*
 * ngx_llm_route_module: the zone's part of the quality loop.
 *
 * Each model x task has a slot of the zone (kind PAIR, named "MODEL
 * TASK": names hold no space), so its requests, tokens, latency,
 * errors, quality signals and feedback are counted as a model's are,
 * kept across reloads by name and in the state file.  The slots are
 * assigned by the master at init zone, after every configured name
 * has its own, and only while as many slots stay free as there are
 * configured names (a reload that adds models must still find room for
 * them): a zone too small for all pairs counts the pairs that fit and
 * warns, for the status and Prometheus show what there is.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_quality.h"


static ngx_uint_t ngx_http_llm_route_ntasks(
    ngx_http_llm_route_main_conf_t *mcf);


char *
ngx_http_llm_route_quality_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    ngx_uint_t  i, n;

    n = mcf->models.nelts * ngx_http_llm_route_ntasks(mcf);

    if (n == 0) {
        return NGX_CONF_OK;
    }

    mcf->pair_slots = ngx_palloc(cf->pool, n * sizeof(ngx_int_t));
    if (mcf->pair_slots == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < n; i++) {
        mcf->pair_slots[i] = -1;
    }

    return NGX_CONF_OK;
}


void
ngx_http_llm_route_quality_slots(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf)
{
    u_char                        buf[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    ngx_int_t                     slot;
    ngx_str_t                     name, *task;
    ngx_uint_t                    i, t, ntasks, missing, reserve;
    ngx_http_llm_route_model_t  **m;

    if (mcf->pair_slots == NULL) {
        return;
    }

    reserve = mcf->models.nelts + mcf->providers.nelts
              + mcf->deployments.nelts + mcf->tasks.nelts + LLR_REJECT_N;

    m = mcf->models.elts;
    task = mcf->tasks.elts;
    ntasks = ngx_http_llm_route_ntasks(mcf);
    missing = 0;

    for (i = 0; i < mcf->models.nelts; i++) {
        for (t = 0; t < ntasks; t++) {

            if (m[i]->name.len + 1 + task[t].len
                >= NGX_HTTP_LLM_ROUTE_NAME_LEN)
            {
                /* a model name this long has its own series only */
                continue;
            }

            name.data = buf;
            name.len = ngx_sprintf(buf, "%V %V", &m[i]->name, &task[t])
                       - buf;

            slot = ngx_http_llm_route_find_slot(sh,
                                                NGX_HTTP_LLM_ROUTE_SLOT_PAIR,
                                                name.data, name.len);

            if (slot == NGX_DECLINED) {
                if (sh->nused + reserve >= sh->nslots) {
                    missing++;
                    continue;
                }

                slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                                NGX_HTTP_LLM_ROUTE_SLOT_PAIR,
                                                &name);
                if (slot == NGX_ERROR) {
                    missing++;
                    continue;
                }
            }

            mcf->pair_slots[i * ntasks + t] = slot;
        }
    }

    if (missing) {
        ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
                      "llm_route_zone \"%V\" has no room for the series of "
                      "%ui model x task pairs (of %ui): give it %uzk more "
                      "to count their quality apart",
                      &shm_zone->shm.name, missing,
                      mcf->models.nelts * ntasks,
                      (2 * missing * sizeof(ngx_http_llm_route_slot_t))
                      / 1024 + 1);
    }
}


ngx_int_t
ngx_http_llm_route_pair_slot(ngx_http_llm_route_main_conf_t *mcf,
    ngx_http_llm_route_model_t *model, ngx_uint_t task_index)
{
    ngx_uint_t  ntasks;

    ntasks = ngx_http_llm_route_ntasks(mcf);

    if (mcf->pair_slots == NULL || model == NULL || task_index >= ntasks
        || model->index >= mcf->models.nelts)
    {
        return -1;
    }

    return mcf->pair_slots[model->index * ntasks + task_index];
}


ngx_array_t *
ngx_http_llm_route_pairs(ngx_http_request_t *r, ngx_http_llm_route_shm_t *sh)
{
    ngx_int_t                        slot;
    ngx_str_t                       *task;
    ngx_uint_t                       i, t, ntasks;
    ngx_array_t                     *a;
    ngx_http_llm_route_pair_t       *p;
    ngx_http_llm_route_slot_t       *s;
    ngx_http_llm_route_model_t     **m;
    ngx_http_llm_route_main_conf_t  *mcf;

    a = ngx_array_create(r->pool, 8, sizeof(ngx_http_llm_route_pair_t));
    if (a == NULL) {
        return NULL;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    if (mcf->pair_slots == NULL) {
        return a;
    }

    m = mcf->models.elts;
    task = mcf->tasks.elts;
    ntasks = ngx_http_llm_route_ntasks(mcf);

    for (i = 0; i < mcf->models.nelts; i++) {
        for (t = 0; t < ntasks; t++) {
            slot = mcf->pair_slots[i * ntasks + t];
            s = ngx_http_llm_route_zone_slot(sh, slot);

            if (s == NULL || s->c.requests == 0) {
                continue;
            }

            p = ngx_array_push(a);
            if (p == NULL) {
                return NULL;
            }

            p->model = m[i]->name;
            p->task = task[t];
            p->slot = s;
        }
    }

    return a;
}


void
ngx_http_llm_route_quality_obs(ngx_http_llm_route_record_t *rec,
    llr_q_obs_t *obs)
{
    obs->signals = rec->signals;
    obs->error = rec->error;
    obs->latency_bucket = llr_hist_bucket(rec->latency_ms);
    obs->cost_usd = (double) rec->cost_pusd / 1e12;
}


double
ngx_http_llm_route_feedback_mean(ngx_http_llm_route_counters_t *c)
{
    uint64_t  n;

    n = c->feedback;

    if (n == 0) {
        return 0;
    }

    return ((double) c->feedback_up - (double) c->feedback_down)
           / 1000.0 / (double) n;
}


static ngx_uint_t
ngx_http_llm_route_ntasks(ngx_http_llm_route_main_conf_t *mcf)
{
    return ngx_min(mcf->tasks.nelts, NGX_HTTP_LLM_ROUTE_MAX_TASKS + 1);
}
