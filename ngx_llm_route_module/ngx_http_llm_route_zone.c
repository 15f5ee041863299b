
/*
 * ngx_llm_route_module: the shared memory zone.
 *
 *     llm_route_zone NAME:SIZE [state=PATH] [state_interval=TIME];
 *
 * One slab zone shared by all workers (its layout in shm.h).  It is
 * created, or on reload adopted when it kept its name and size (as
 * limit_req does), by the master in init_zone, before the workers of
 * that configuration start: every configured name gets its slot there
 * (names already known keep theirs, and their counters), and a zone
 * created afresh loads the state file (state.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_zone.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_limits_shm.h"
#include "ngx_http_llm_route_metrics.h"
#include "ngx_http_llm_route_series.h"
#include "ngx_http_llm_route_shm.h"
#include "ngx_http_llm_route_state.h"
#include "ngx_http_llm_route_quality.h"
#include "ngx_http_llm_route_feedback.h"
#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_drift.h"


#define NGX_HTTP_LLM_ROUTE_ZONE_MAGIC    0x4c4c52005a4f4e45ULL
#ifndef NGX_HTTP_LLM_ROUTE_ZONE_VERSION
#define NGX_HTTP_LLM_ROUTE_ZONE_VERSION  9
#endif


static ngx_int_t ngx_http_llm_route_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_llm_route_adopt_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *osh, ngx_http_llm_route_main_conf_t *mcf);
static ngx_int_t ngx_http_llm_route_assign_slots(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf);


/* ---- the zone ----------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_route_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_route_shm_t  *osh = data;

    size_t                           len, fixed, budget, need;
    ngx_uint_t                       nslots, names;
    ngx_slab_pool_t                 *shpool;
    ngx_http_llm_route_shm_t        *sh;
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (osh) {
        /* reload: the zone kept its name and size, adopt what it holds */
        return ngx_http_llm_route_adopt_zone(shm_zone, osh, mcf);
    }

    if (shm_zone->shm.exists) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, shm_zone->shm.log, 0,
                       "llm_route: llm_route_zone \"%V\" exists, adopted",
                       &shm_zone->shm.name);

        sh = shpool->data;
        shm_zone->data = sh;

        if (ngx_http_llm_route_series_init(shm_zone, sh, mcf) != NGX_OK
            || ngx_http_llm_route_metrics_init_zone(shm_zone, sh) != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_llm_route_assign_slots(shm_zone, sh, mcf);
    }

    /*
     * the header, the recent ring and the slots take at most half of the
     * free pages; the rest is left to what the zone may hold later
     * (budgets), and to the log context
     */

    names = mcf->models.nelts + mcf->providers.nelts
            + mcf->deployments.nelts + mcf->tasks.nelts + LLR_REJECT_N - 1;

    fixed = offsetof(ngx_http_llm_route_shm_t, slots);
    budget = shpool->pfree > 2 ? (shpool->pfree - 2) * ngx_pagesize / 2 : 0;

    nslots = budget > fixed
             ? (budget - fixed) / sizeof(ngx_http_llm_route_slot_t) : 0;

    if (nslots > NGX_HTTP_LLM_ROUTE_MAX_SLOTS) {
        nslots = NGX_HTTP_LLM_ROUTE_MAX_SLOTS;
    }

    if (nslots < names || nslots == 0) {
        need = fixed + (names + 16) * sizeof(ngx_http_llm_route_slot_t);
        need = 2 * need + ngx_http_llm_route_series_size(mcf)
               + NGX_MAX_PROCESSES * sizeof(ngx_http_llm_route_inflight_t)
               + ngx_http_llm_route_feedback_size(mcf)
               + ngx_http_llm_route_experiment_size(mcf)
               + ngx_http_llm_route_drift_size(mcf);
        need = (need + 8 * ngx_pagesize) / 1024 * 102 / 100 + 1;

        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_route_zone \"%V\" is too small for %ui models, "
                      "providers, deployments and tasks: it needs at least "
                      "%uzk",
                      &shm_zone->shm.name, names, need);
        return NGX_ERROR;
    }

    len = fixed + nslots * sizeof(ngx_http_llm_route_slot_t);

    sh = ngx_slab_calloc(shpool, len);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->magic = NGX_HTTP_LLM_ROUTE_ZONE_MAGIC;
    sh->version = NGX_HTTP_LLM_ROUTE_ZONE_VERSION;
    sh->generation = 1;
    sh->started = ngx_time();
    sh->nslots = nslots;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, shm_zone->shm.log, 0,
                   "llm_route: llm_route_zone \"%V\" created, %ui slots "
                   "for %ui names", &shm_zone->shm.name, nslots, names);

    shpool->data = sh;
    shm_zone->data = sh;

    len = sizeof(" in llm_route_zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in llm_route_zone \"%V\"%Z",
                &shm_zone->shm.name);

    shpool->log_nomem = 0;

    if (ngx_http_llm_route_limits_init_zone(shm_zone, sh) != NGX_OK
        || ngx_http_llm_route_series_init(shm_zone, sh, mcf) != NGX_OK
        || ngx_http_llm_route_metrics_init_zone(shm_zone, sh) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* configured names first: they must have a slot */

    if (ngx_http_llm_route_assign_slots(shm_zone, sh, mcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (mcf->state_path.len) {
        ngx_http_llm_route_state_load(shm_zone, sh, &mcf->state_path);
    }

    return NGX_OK;
}


/* a reload: the zone kept its name, size and tag; adopt what it holds */

static ngx_int_t
ngx_http_llm_route_adopt_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *osh, ngx_http_llm_route_main_conf_t *mcf)
{
    if (osh->magic != NGX_HTTP_LLM_ROUTE_ZONE_MAGIC
        || osh->version != NGX_HTTP_LLM_ROUTE_ZONE_VERSION)
    {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_route_zone \"%V\" was created by another "
                      "version of the module (layout %ui, this one "
                      "%ui): give it another name or size, or restart "
                      "nginx", &shm_zone->shm.name,
                      osh->magic == NGX_HTTP_LLM_ROUTE_ZONE_MAGIC
                      ? osh->version : 0,
                      (ngx_uint_t) NGX_HTTP_LLM_ROUTE_ZONE_VERSION);
        return NGX_ERROR;
    }

    if (ngx_http_llm_route_limits_adopt(shm_zone, osh) != NGX_OK) {
        return NGX_ERROR;
    }

    shm_zone->data = osh;

    if (ngx_http_llm_route_assign_slots(shm_zone, osh, mcf) != NGX_OK
        || ngx_http_llm_route_series_init(shm_zone, osh, mcf) != NGX_OK
        || ngx_http_llm_route_metrics_init_zone(shm_zone, osh)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    (void) ngx_atomic_fetch_add(&osh->generation, 1);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, shm_zone->shm.log, 0,
                   "llm_route: llm_route_zone \"%V\" adopted on reload, "
                   "generation %uA", &shm_zone->shm.name,
                   osh->generation);

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_assign_slots(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf)
{
    u_char                             full[4 * NGX_HTTP_LLM_ROUTE_NAME_LEN];
    uint32_t                           crc;
    ngx_int_t                          slot;
    ngx_str_t                         *task, name;
    ngx_uint_t                         i;
    const char                        *reason;
    ngx_http_llm_route_model_t       **m;
    ngx_http_llm_route_provider_t    **p;
    ngx_http_llm_route_deployment_t  **d;

    m = mcf->models.elts;

    for (i = 0; i < mcf->models.nelts; i++) {
        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_MODEL,
                                           &m[i]->name);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        m[i]->slot = slot;
    }

    p = mcf->providers.elts;

    for (i = 0; i < mcf->providers.nelts; i++) {
        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_PROVIDER,
                                           &p[i]->name);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        p[i]->slot = slot;
    }

    d = mcf->deployments.elts;

    for (i = 0; i < mcf->deployments.nelts; i++) {
        /*
         * "model@provider", and "/upstream_model" when it differs (a
         * model may have several deployments at one provider); a name
         * longer than a slot's is cut and ends in "~" and a hash of all
         * of it, so that two long ones do not share a slot
         */

        name.data = full;
        name.len = ngx_snprintf(full, sizeof(full), "%V@%V",
                                &d[i]->name, &d[i]->provider->name)
                   - full;

        if (d[i]->upstream_model.len != d[i]->name.len
            || ngx_strncmp(d[i]->upstream_model.data, d[i]->name.data,
                           d[i]->name.len)
               != 0)
        {
            name.len = ngx_snprintf(full + name.len,
                                    sizeof(full) - name.len, "/%V",
                                    &d[i]->upstream_model)
                       - full;
        }

        if (name.len > NGX_HTTP_LLM_ROUTE_NAME_LEN - 1) {
            crc = ngx_crc32_long(full, name.len);
            name.len = NGX_HTTP_LLM_ROUTE_NAME_LEN - 1 - 9;
            name.len = ngx_sprintf(full + name.len, "~%08xD", crc) - full;
        }

        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_DEPLOYMENT,
                                           &name);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        d[i]->slot = slot;
    }

    task = mcf->tasks.elts;

    for (i = 0; i < mcf->tasks.nelts && i <= NGX_HTTP_LLM_ROUTE_MAX_TASKS;
         i++)
    {
        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_TASK,
                                           &task[i]);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        mcf->task_slots[i] = slot;
    }

    mcf->rejected_slots[LLR_REJECT_NONE] = -1;

    for (i = 1; i < LLR_REJECT_N; i++) {
        reason = llr_reject_name((llr_reject_e) i);

        name.data = (u_char *) reason;
        name.len = ngx_strlen(reason);

        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_REJECTED,
                                           &name);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        mcf->rejected_slots[i] = slot;
    }

    ngx_http_llm_route_quality_slots(shm_zone, sh, mcf);

    if (ngx_http_llm_route_feedback_init_zone(shm_zone, sh, mcf) != NGX_OK
        || ngx_http_llm_route_drift_init_zone(shm_zone, sh, mcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_llm_route_experiment_init_zone(shm_zone, sh, mcf);
}


/* ---- the directive ------------------------------------------------------ */


/* the directive */

char *
ngx_http_llm_route_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    u_char           *p;
    ssize_t           size;
    ngx_str_t        *value, name, s;
    ngx_int_t         ms;
    ngx_uint_t        i;
    ngx_file_info_t   fi;

    if (mcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", it must be NAME:SIZE",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return NGX_CONF_ERROR;
    }

    mcf->state_interval = 10000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "state=", 6) == 0) {

            mcf->state_path.data = value[i].data + 6;
            mcf->state_path.len = value[i].len - 6;

            if (mcf->state_path.len == 0
                || ngx_conf_full_name(cf->cycle, &mcf->state_path, 0)
                   != NGX_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            /* a FIFO, a device or a directory there is refused */

            if (ngx_file_info(mcf->state_path.data, &fi) != NGX_FILE_ERROR
                && !ngx_is_file(&fi))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "state file \"%V\" is not a regular "
                                   "file", &mcf->state_path);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "state_interval=", 15) == 0) {

            s.data = value[i].data + 15;
            s.len = value[i].len - 15;

            ms = ngx_parse_time(&s, 0);

            if (ms == NGX_ERROR || ms < 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\", it must be "
                                   "a time of at least 100ms", &value[i]);
                return NGX_CONF_ERROR;
            }

            mcf->state_interval = (ngx_msec_t) ms;

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    mcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                          &ngx_http_llm_route_module);
    if (mcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    mcf->shm_zone->init = ngx_http_llm_route_init_zone;
    mcf->shm_zone->data = mcf;

    return NGX_CONF_OK;
}
