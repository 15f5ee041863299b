
/*
 * ngx_llm_route_module: series whose labels are known only at run time.
 *
 *     llm_route_spend_key $http_x_team [max=64];
 *
 * Two tables in the zone, each of a fixed number of entries: the routes
 * (the model the client asked for, "auto" or a model, and the model it
 * was routed to) and, with llm_route_spend_key, the keys (requests,
 * tokens and USD per value of the key).  An entry holds its labels and
 * atomic counters.  Entries are found without a lock (a hash, then the
 * labels) among the published ones; a new one is added under the slab
 * mutex, published by a memory barrier before nused grows, and never
 * freed.  When a table is full, what would need a new entry is counted
 * in entry 0, labelled "_other": the series stay bounded whatever the
 * clients send.  A requested model that is no configured model or policy
 * (a rule or an override routed it) is "_other" too.  (Below policy.c:
 * policies are looked up in the configuration's list, not called.)
 *
 * The tables are not in the state file: they start empty with the zone.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_series.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_policy.h"
#include "llr.h"


static ngx_http_llm_route_series_t *ngx_http_llm_route_series_alloc(
    ngx_shm_zone_t *shm_zone, ngx_uint_t capacity, const char *what);
static void ngx_http_llm_route_series_requested(
    ngx_http_llm_route_main_conf_t *mcf, ngx_http_llm_route_ctx_t *ctx,
    ngx_str_t *requested);
static ngx_http_llm_route_series_entry_t *ngx_http_llm_route_series_get(
    ngx_slab_pool_t *shpool, ngx_http_llm_route_series_t *t,
    ngx_str_t *l1, ngx_str_t *l2);
static void ngx_http_llm_route_series_add(
    ngx_http_llm_route_series_entry_t *e, ngx_http_llm_route_record_t *rec);


char *
ngx_http_llm_route_spend_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    ngx_int_t                          n;
    ngx_str_t                         *value;
    ngx_http_compile_complex_value_t   ccv;

    if (mcf->spend_key) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mcf->spend_keys = NGX_HTTP_LLM_ROUTE_KEYS;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "max=", 4) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in "
                               "\"llm_route_spend_key\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        n = ngx_atoi(value[2].data + 4, value[2].len - 4);

        if (n < 1 || n > NGX_HTTP_LLM_ROUTE_KEYS_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in "
                               "\"llm_route_spend_key\": max= must be "
                               "1 .. %d", &value[2],
                               NGX_HTTP_LLM_ROUTE_KEYS_MAX);
            return NGX_CONF_ERROR;
        }

        mcf->spend_keys = (ngx_uint_t) n;
    }

    mcf->spend_key = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (mcf->spend_key == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = mcf->spend_key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llm_route_series_init(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf)
{
    if (sh->routes == NULL) {
        sh->routes = ngx_http_llm_route_series_alloc(shm_zone,
                                                     NGX_HTTP_LLM_ROUTE_ROUTES,
                                                     "routes");
        if (sh->routes == NULL) {
            return NGX_ERROR;
        }
    }

    if (mcf->spend_keys == 0) {
        return NGX_OK;
    }

    if (sh->keys == NULL) {
        sh->keys = ngx_http_llm_route_series_alloc(shm_zone,
                                                   mcf->spend_keys + 1,
                                                   "llm_route_spend_key");
        return sh->keys ? NGX_OK : NGX_ERROR;
    }

    if (sh->keys->capacity != mcf->spend_keys + 1) {
        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "llm_route: llm_route_zone \"%V\" keeps room for %ui "
                      "llm_route_spend_key values until a restart",
                      &shm_zone->shm.name, sh->keys->capacity - 1);
    }

    return NGX_OK;
}


size_t
ngx_http_llm_route_series_size(ngx_http_llm_route_main_conf_t *mcf)
{
    return 2 * offsetof(ngx_http_llm_route_series_t, e)
           + (NGX_HTTP_LLM_ROUTE_ROUTES + mcf->spend_keys + 1)
             * sizeof(ngx_http_llm_route_series_entry_t);
}


static ngx_http_llm_route_series_t *
ngx_http_llm_route_series_alloc(ngx_shm_zone_t *shm_zone,
    ngx_uint_t capacity, const char *what)
{
    size_t                              len;
    ngx_slab_pool_t                    *shpool;
    ngx_http_llm_route_series_t        *t;
    ngx_http_llm_route_series_entry_t  *e;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    len = offsetof(ngx_http_llm_route_series_t, e)
          + capacity * sizeof(ngx_http_llm_route_series_entry_t);

    t = ngx_slab_calloc(shpool, len);

    if (t == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_route_zone \"%V\" has no room for the %s "
                      "series (%uz bytes): give it %uzk more",
                      &shm_zone->shm.name, what, len, 2 * len / 1024 + 1);
        return NULL;
    }

    t->capacity = capacity;

    e = &t->e[0];
    e->len1 = sizeof(NGX_HTTP_LLM_ROUTE_OTHER) - 1;
    e->len2 = e->len1;
    ngx_memcpy(e->label, NGX_HTTP_LLM_ROUTE_OTHER, e->len1);
    ngx_memcpy(e->label + e->len1, NGX_HTTP_LLM_ROUTE_OTHER, e->len2);

    t->nused = 1;

    return t;
}


void
ngx_http_llm_route_series_record(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_record_t *rec)
{
    ngx_str_t                           requested, key, none;
    ngx_slab_pool_t                    *shpool;
    ngx_http_llm_route_series_entry_t  *e;
    ngx_http_llm_route_main_conf_t     *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);
    shpool = (ngx_slab_pool_t *) mcf->shm_zone->shm.addr;

    ngx_str_null(&none);

    /* the route: requested model or policy -> model */

    if (sh->routes && ctx->model) {
        ngx_http_llm_route_series_requested(mcf, ctx, &requested);

        e = ngx_http_llm_route_series_get(shpool, sh->routes, &requested,
                                          &ctx->model->name);
        ngx_http_llm_route_series_add(e, rec);
    }

    /* the key, with llm_route_spend_key */

    if (sh->keys == NULL || mcf->spend_key == NULL) {
        return;
    }

    if (ngx_http_complex_value(r, mcf->spend_key, &key) != NGX_OK) {
        return;
    }

    if (key.len == 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: spend key empty, not counted");
        return;
    }

    e = ngx_http_llm_route_series_get(shpool, sh->keys, &key, &none);
    ngx_http_llm_route_series_add(e, rec);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: spend key \"%V\" counted", &key);
}


/*
 * What the client asked for, as a label: the name it sent when that
 * named a model or a policy (always so without a rule or an override:
 * the name was routed), else "_other"
 */

static void
ngx_http_llm_route_series_requested(ngx_http_llm_route_main_conf_t *mcf,
    ngx_http_llm_route_ctx_t *ctx, ngx_str_t *requested)
{
    ngx_uint_t                     i;
    ngx_http_llm_route_policy_t  **p;

    *requested = ctx->requested_model;

    if (!ctx->forced
        || ngx_http_llm_route_find_model(mcf, requested->data,
                                         requested->len))
    {
        return;
    }

    p = mcf->policies.elts;

    for (i = 0; i < mcf->policies.nelts; i++) {
        if (p[i]->name.len == requested->len
            && ngx_strncmp(p[i]->name.data, requested->data,
                           requested->len)
               == 0)
        {
            return;
        }
    }

    ngx_str_set(requested, NGX_HTTP_LLM_ROUTE_OTHER);
}


/*
 * The entry of labels l1 and l2 (cut to valid UTF-8 of a slot's name),
 * a new one if there is room, else entry 0
 */

static ngx_http_llm_route_series_entry_t *
ngx_http_llm_route_series_get(ngx_slab_pool_t *shpool,
    ngx_http_llm_route_series_t *t, ngx_str_t *l1, ngx_str_t *l2)
{
    u_char                              buf[2 * NGX_HTTP_LLM_ROUTE_NAME_LEN];
    size_t                              n1, n2;
    uint32_t                            hash;
    ngx_uint_t                          i, n, from;
    ngx_http_llm_route_series_entry_t  *e;

    n1 = llr_utf8_copy(buf, NGX_HTTP_LLM_ROUTE_NAME_LEN, l1->data, l1->len);
    n2 = llr_utf8_copy(buf + n1, NGX_HTTP_LLM_ROUTE_NAME_LEN, l2->data,
                       l2->len);

    hash = ngx_crc32_short(buf, n1 + n2) ^ (uint32_t) n1;

    from = 1;

    for ( ;; ) {
        n = t->nused;
        ngx_memory_barrier();

        for (i = from; i < n; i++) {
            e = &t->e[i];

            if (e->hash == hash && e->len1 == n1 && e->len2 == n2
                && ngx_memcmp(e->label, buf, n1 + n2) == 0)
            {
                return e;
            }
        }

        if (n >= t->capacity) {
            return &t->e[0];
        }

        /* a new entry, unless another process added it meanwhile */

        ngx_shmtx_lock(&shpool->mutex);

        if (t->nused != n) {
            ngx_shmtx_unlock(&shpool->mutex);
            from = n;
            continue;
        }

        e = &t->e[n];
        e->hash = hash;
        e->len1 = (uint16_t) n1;
        e->len2 = (uint16_t) n2;
        ngx_memcpy(e->label, buf, n1 + n2);

        ngx_memory_barrier();

        t->nused = n + 1;

        ngx_shmtx_unlock(&shpool->mutex);

        return e;
    }
}


static void
ngx_http_llm_route_series_add(ngx_http_llm_route_series_entry_t *e,
    ngx_http_llm_route_record_t *rec)
{
    ngx_http_llm_route_counter_add(&e->requests, 1);
    ngx_http_llm_route_counter_add(&e->errors, rec->error);
    ngx_http_llm_route_counter_add(&e->prompt_tokens, rec->prompt_tokens);
    ngx_http_llm_route_counter_add(&e->completion_tokens,
                                   rec->completion_tokens);
    ngx_http_llm_route_counter_add(&e->cost_pusd, rec->cost_pusd);
}
