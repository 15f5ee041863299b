
/*
 * ngx_llm_route_module: drift alarms per model x task.
 *
 *     llm_route_drift [bucket=5m] [recent=3] [baseline=72] [alpha=0.05]
 *                     [min_requests=50];
 *
 * Each model x task (quality.c's slots) gets a series of time buckets
 * in the zone (core/llr_drift: about 17 KB with the defaults), fed by
 * the log phase and the feedback handler with atomics.  The status
 * evaluates each series once per closed bucket (whoever asks first;
 * looking more often tests nothing more), recent window against
 * baseline window on the error rate, each signal's rate, the feedback
 * mean and the latency p99, with the false alarms of a day over all the
 * series held to alpha (docs/quality.md).  A series is found by its
 * pair's slot, which keeps its number across reloads by name; a reload
 * with other windows starts the series again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_drift.h"
#include "ngx_http_llm_route_quality.h"


static llr_drift_series_t *ngx_http_llm_route_drift_series(
    ngx_http_llm_route_shm_t *sh, ngx_int_t pair);


/* the bytes of a series, from its own ring */
#define ngx_http_llm_route_drift_bytes(s)                                     \
    (sizeof(llr_drift_series_t)                                               \
     + (size_t) (s)->ring * LLR_DRIFT_WORDS * sizeof(uint64_t))


char *
ngx_http_llm_route_drift(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    ngx_int_t          n;
    ngx_str_t         *value, s;
    ngx_uint_t         i;
    ngx_msec_t         ms;
    const char        *err;
    llr_drift_conf_t  *dc;

    if (mcf->drift) {
        return "is duplicate";
    }

    mcf->drift = 1;
    dc = &mcf->drift_conf;
    llr_drift_conf_default(dc);

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "bucket=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;
            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms < 1000) {
                goto invalid;
            }

            dc->bucket_sec = (uint32_t) (ms / 1000);
            continue;
        }

        if (ngx_strncmp(value[i].data, "alpha=", 6) == 0) {
            dc->alpha = strtod((char *) value[i].data + 6, NULL);
            continue;
        }

        if (ngx_strncmp(value[i].data, "recent=", 7) == 0) {
            n = ngx_atoi(value[i].data + 7, value[i].len - 7);
            dc->recent = (uint32_t) n;

        } else if (ngx_strncmp(value[i].data, "baseline=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);
            dc->baseline = (uint32_t) n;

        } else if (ngx_strncmp(value[i].data, "min_requests=", 13) == 0) {
            n = ngx_atoi(value[i].data + 13, value[i].len - 13);
            dc->min_requests = (uint32_t) n;

        } else {
            goto invalid;
        }

        if (n == NGX_ERROR || n > 100000) {
            goto invalid;
        }
    }

    if (llr_drift_conf_check(dc, &err) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "llm_route_drift: %s", err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in llm_route_drift",
                       &value[i]);
    return NGX_CONF_ERROR;
}


char *
ngx_http_llm_route_drift_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    ngx_uint_t  n;

    if (!mcf->drift) {
        return NGX_CONF_OK;
    }

    if (mcf->shm_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"llm_route_drift\" needs \"llm_route_zone\" in the "
                      "http{} block");
        return NGX_CONF_ERROR;
    }

    /* every model x task is watched: the Bonferroni count */
    n = mcf->models.nelts * mcf->tasks.nelts * LLR_DRIFT_METRICS;
    mcf->drift_conf.tests = (uint32_t) ngx_max(n, 1);

    return NGX_CONF_OK;
}


size_t
ngx_http_llm_route_drift_size(ngx_http_llm_route_main_conf_t *mcf)
{
    size_t  n;

    if (!mcf->drift) {
        return 0;
    }

    n = mcf->models.nelts
        * ngx_min(mcf->tasks.nelts, NGX_HTTP_LLM_ROUTE_MAX_TASKS + 1);

    /* each series its own slab allocation: pages above 2 KB */
    return n * ngx_align(llr_drift_size(&mcf->drift_conf), ngx_pagesize)
           + n * sizeof(void *);
}


ngx_int_t
ngx_http_llm_route_drift_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf)
{
    size_t                          size;
    ngx_int_t                       slot;
    ngx_uint_t                      i, n;
    ngx_slab_pool_t                *shpool;
    llr_drift_series_t             *s;
    ngx_http_llm_route_drift_sh_t  *d;

    if (!mcf->drift || mcf->pair_slots == NULL) {
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    size = llr_drift_size(&mcf->drift_conf);
    n = mcf->models.nelts
        * ngx_min(mcf->tasks.nelts, NGX_HTTP_LLM_ROUTE_MAX_TASKS + 1);

    ngx_shmtx_lock(&shpool->mutex);

    d = sh->drift;

    if (d == NULL) {
        d = ngx_slab_calloc_locked(shpool,
                                   sizeof(ngx_http_llm_route_drift_sh_t)
                                   + sh->nslots * sizeof(void *));
        if (d == NULL) {
            goto nomem;
        }

        d->nslots = sh->nslots;
        sh->drift = d;
    }

    for (i = 0; i < n; i++) {
        slot = mcf->pair_slots[i];

        if (slot < 0 || (ngx_uint_t) slot >= d->nslots) {
            continue;
        }

        s = d->series[slot];

        if (s && llr_drift_compatible(s, &mcf->drift_conf)) {
            continue;
        }

        if (s) {
            /* other windows: the series starts again */
            ngx_slab_free_locked(shpool, s);
            d->series[slot] = NULL;
        }

        s = ngx_slab_alloc_locked(shpool, size);
        if (s == NULL) {
            goto nomem;
        }

        llr_drift_init(s, &mcf->drift_conf);
        d->series[slot] = s;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "llm_route_zone \"%V\" has no room for the drift series "
                  "of %ui models x tasks (%uz bytes each): give it about "
                  "%uzk more, or make the windows of llm_route_drift "
                  "shorter", &shm_zone->shm.name, n, size,
                  n * (size + 64) / 1024 + 1);
    return NGX_ERROR;
}


static llr_drift_series_t *
ngx_http_llm_route_drift_series(ngx_http_llm_route_shm_t *sh, ngx_int_t pair)
{
    if (sh == NULL || sh->drift == NULL || pair < 0
        || (ngx_uint_t) pair >= sh->drift->nslots)
    {
        return NULL;
    }

    return sh->drift->series[pair];
}


void
ngx_http_llm_route_drift_record(ngx_http_request_t *r,
    ngx_http_llm_route_record_t *rec)
{
    llr_q_obs_t          obs;
    llr_drift_series_t  *s;

    s = ngx_http_llm_route_drift_series(ngx_http_llm_route_shm(r),
                                        rec->pair_slot);
    if (s == NULL) {
        return;
    }

    ngx_http_llm_route_quality_obs(rec, &obs);
    llr_drift_record(s, (uint64_t) ngx_time(), &obs);
}


void
ngx_http_llm_route_drift_feedback(ngx_http_llm_route_shm_t *sh,
    ngx_int_t pair, int32_t score, int32_t old, uint64_t old_ms)
{
    llr_drift_series_t  *s;

    s = ngx_http_llm_route_drift_series(sh, pair);
    if (s == NULL) {
        return;
    }

    llr_drift_feedback(s, (uint64_t) ngx_time(), score, old, old_ms / 1000);
}


ngx_array_t *
ngx_http_llm_route_drift_states(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh)
{
    ngx_uint_t                         i, m;
    ngx_array_t                       *a, *pairs;
    llr_drift_series_t                *s;
    ngx_http_llm_route_pair_t         *p;
    ngx_http_llm_route_drift_alarm_t  *al;
    ngx_http_llm_route_main_conf_t    *mcf;

    a = ngx_array_create(r->pool, 8,
                         sizeof(ngx_http_llm_route_drift_alarm_t));
    if (a == NULL) {
        return NULL;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    if (!mcf->drift || sh->drift == NULL) {
        return a;
    }

    pairs = ngx_http_llm_route_pairs(r, sh);
    if (pairs == NULL) {
        return NULL;
    }

    p = pairs->elts;

    for (i = 0; i < pairs->nelts; i++) {
        s = ngx_http_llm_route_drift_series(sh, p[i].slot - sh->slots);
        if (s == NULL) {
            continue;
        }

        (void) llr_drift_eval(s, &mcf->drift_conf, (uint64_t) ngx_time(),
                              llr_hist_bounds_ms);

        for (m = 0; m < LLR_DRIFT_METRICS; m++) {
            al = ngx_array_push(a);
            if (al == NULL) {
                return NULL;
            }

            al->model = p[i].model;
            al->task = p[i].task;
            al->metric = llr_drift_metric_name((unsigned) m);
            llr_drift_get(s, (unsigned) m, &al->st);
        }
    }

    return a;
}


/* a series entry in the state file: the pair's name, the series' size */
typedef struct {
    uint32_t                        name_len;
    u_char                          name[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    uint64_t                        size;
} ngx_http_llm_route_drift_rec_t;


u_char *
ngx_http_llm_route_drift_state(ngx_http_llm_route_shm_t *sh, ngx_log_t *log,
    size_t *size)
{
    u_char                          *buf, *p;
    size_t                           len;
    uint64_t                         n;
    ngx_uint_t                       i;
    llr_drift_series_t              *s;
    ngx_http_llm_route_drift_rec_t   rec;

    n = 0;
    len = sizeof(uint64_t);

    for (i = 0; sh->drift && i < sh->drift->nslots; i++) {
        s = sh->drift->series[i];

        if (s && i < sh->nused) {
            n++;
            len += sizeof(rec) + ngx_http_llm_route_drift_bytes(s);
        }
    }

    buf = ngx_alloc(len, log);
    if (buf == NULL) {
        return NULL;
    }

    p = ngx_cpymem(buf, &n, sizeof(uint64_t));

    for (i = 0; sh->drift && i < sh->drift->nslots; i++) {
        s = sh->drift->series[i];

        if (s == NULL || i >= sh->nused) {
            continue;
        }

        ngx_memzero(&rec, sizeof(rec));
        rec.name_len = (uint32_t) sh->slots[i].name_len;
        ngx_memcpy(rec.name, sh->slots[i].name, sizeof(rec.name));
        rec.size = ngx_http_llm_route_drift_bytes(s);

        p = ngx_cpymem(p, &rec, sizeof(rec));

        /* 64-bit words, each read whole: workers update them meanwhile */
        p = ngx_cpymem(p, s, rec.size);
    }

    *size = len;

    return buf;
}


ssize_t
ngx_http_llm_route_drift_load(ngx_http_llm_route_shm_t *sh, u_char *p,
    size_t size)
{
    u_char                          *start;
    uint64_t                         n, i;
    ngx_int_t                        slot;
    llr_drift_series_t              *s, hdr;
    ngx_http_llm_route_drift_rec_t   rec;

    start = p;

    if (size < sizeof(uint64_t)) {
        return NGX_ERROR;
    }

    ngx_memcpy(&n, p, sizeof(uint64_t));
    p += sizeof(uint64_t);
    size -= sizeof(uint64_t);

    for (i = 0; i < n; i++) {
        if (size < sizeof(rec)) {
            return NGX_ERROR;
        }

        ngx_memcpy(&rec, p, sizeof(rec));
        p += sizeof(rec);
        size -= sizeof(rec);

        if (rec.size > size || rec.size < sizeof(llr_drift_series_t)
            || rec.name_len == 0 || rec.name_len >= sizeof(rec.name))
        {
            return NGX_ERROR;
        }

        slot = ngx_http_llm_route_find_slot(sh, NGX_HTTP_LLM_ROUTE_SLOT_PAIR,
                                            rec.name, rec.name_len);
        s = (slot >= 0) ? ngx_http_llm_route_drift_series(sh, slot) : NULL;

        ngx_memcpy(&hdr, p, sizeof(llr_drift_series_t));

        /* the same windows only: the ring and the bucket length */
        if (s && rec.size == ngx_http_llm_route_drift_bytes(s)
            && hdr.ring == s->ring && hdr.bucket_sec == s->bucket_sec)
        {
            ngx_memcpy(s, p, rec.size);
        }

        p += rec.size;
        size -= rec.size;
    }

    return p - start;
}
