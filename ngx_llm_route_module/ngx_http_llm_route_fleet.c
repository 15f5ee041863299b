
/*
 * ngx_llm_route_module: what the limits and provider health share with
 * a fleet of instances through Redis (issue 26, docs/fleet.md).
 *
 * redis.c holds the connection and runs one sync per interval; it calls
 * the two hooks registered here, build() to add entries to the batch and
 * done() with the answered entries:
 *
 *   limits   every budget and rate node of the zone, under the zone's
 *            mutex: its fleet counter's deltas go out (limits.c adds
 *            them at admission and settlement), Redis' totals come back
 *            as the counter's view, which the next admissions read;
 *   health   every provider's cooldown end: the latest of the fleet's
 *            comes back and cools the provider down here too.
 *
 * A batch holds at most NGX_HTTP_LLM_ROUTE_REDIS_ENTRIES entries: the
 * nodes whose deltas are on the way go first (a resent batch must carry
 * them again), then those with new deltas, then the rest, most recently
 * used first.  The entries point at their nodes: a node in the batch on
 * the way, or with deltas not yet in Redis, is not evicted
 * (limits_shm.c), and an answer is applied only if it is that of the
 * last batch built.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_fleet.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_health.h"
#include "ngx_http_llm_route_limits_shm.h"
#include "ngx_http_llm_route_redis.h"


/* a node's name in Redis: its directive's identity and its key */
#define NGX_HTTP_LLM_ROUTE_FLEET_NAME_LEN                                     \
    (NGX_INT64_LEN + 1 + NGX_HTTP_LLM_ROUTE_LIMIT_KEY_MAX)


static ngx_http_llm_route_limits_sh_t *ngx_http_llm_route_fleet_limits(
    ngx_http_llm_route_main_conf_t *mcf, ngx_slab_pool_t **shpool);
static ngx_int_t ngx_http_llm_route_fleet_limits_build(void *data,
    llr_fleet_batch_t *b);
static ngx_uint_t ngx_http_llm_route_fleet_pass(
    ngx_http_llm_route_limit_node_t *ln);
static size_t ngx_http_llm_route_fleet_node(llr_fleet_batch_t *b,
    ngx_http_llm_route_limit_node_t *ln);
static void ngx_http_llm_route_fleet_limits_done(void *data,
    llr_fleet_batch_t *b, llr_fleet_entry_t *e, size_t n);
static ngx_int_t ngx_http_llm_route_fleet_health_build(void *data,
    llr_fleet_batch_t *b);
static void ngx_http_llm_route_fleet_health_done(void *data,
    llr_fleet_batch_t *b, llr_fleet_entry_t *e, size_t n);


ngx_int_t
ngx_http_llm_route_fleet_init(ngx_conf_t *cf)
{
    ngx_http_llm_route_main_conf_t   *mcf;
    ngx_http_llm_route_redis_hook_t   hook;

    if (!ngx_http_llm_route_redis_configured(cf)) {
        return NGX_OK;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module);

    if (mcf->shm_zone == NULL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"llm_route_redis\" shares nothing without "
                           "\"llm_route_zone\": budgets, rate limits and "
                           "provider health stay per instance");
        return NGX_OK;
    }

    hook.build = ngx_http_llm_route_fleet_limits_build;
    hook.done = ngx_http_llm_route_fleet_limits_done;
    hook.data = mcf;

    if (ngx_http_llm_route_redis_add_hook(cf, &hook) != NGX_OK) {
        return NGX_ERROR;
    }

    hook.build = ngx_http_llm_route_fleet_health_build;
    hook.done = ngx_http_llm_route_fleet_health_done;

    return ngx_http_llm_route_redis_add_hook(cf, &hook);
}


/* ---- limits ------------------------------------------------------------ */


/* the limits in the zone, and the zone's slab pool; NULL if none */

static ngx_http_llm_route_limits_sh_t *
ngx_http_llm_route_fleet_limits(ngx_http_llm_route_main_conf_t *mcf,
    ngx_slab_pool_t **shpool)
{
    ngx_http_llm_route_shm_t  *sh;

    sh = mcf->shm_zone->data;

    if (sh == NULL) {
        return NULL;
    }

    *shpool = (ngx_slab_pool_t *) mcf->shm_zone->shm.addr;

    return sh->limits;
}


static ngx_int_t
ngx_http_llm_route_fleet_limits_build(void *data, llr_fleet_batch_t *b)
{
    ngx_http_llm_route_main_conf_t *mcf = data;

    ngx_uint_t                        pass, room, n;
    ngx_queue_t                      *q;
    ngx_slab_pool_t                  *shpool;
    ngx_http_llm_route_limits_sh_t   *lsh;
    ngx_http_llm_route_limit_node_t  *ln;

    lsh = ngx_http_llm_route_fleet_limits(mcf, &shpool);

    if (lsh == NULL) {
        return NGX_OK;
    }

    room = 1;
    n = 0;

    ngx_shmtx_lock(&shpool->mutex);

    lsh->fleet_gen++;

    for (pass = 0; pass < 3 && room; pass++) {

        for (q = ngx_queue_head(&lsh->queue);
             q != ngx_queue_sentinel(&lsh->queue);
             q = ngx_queue_next(q))
        {
            ln = ngx_queue_data(q, ngx_http_llm_route_limit_node_t, queue);

            if (ngx_http_llm_route_fleet_pass(ln) != pass
                || ln->fleet_gen == lsh->fleet_gen)
            {
                continue;
            }

            if (ngx_http_llm_route_fleet_node(b, ln) == 0) {
                room = 0;
                break;
            }

            ln->fleet_gen = lsh->fleet_gen;
            n++;
        }
    }

    /* the answer applies if it is that of this batch */
    lsh->fleet_built = b->now_ms;
    lsh->fleet_seq = b->seq;

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "llm_route: fleet: %ui limit(s) in sync %uL%s", n, b->seq,
                   room ? "" : ", the batch is full");

    return NGX_OK;
}


/* 0: deltas on the way, 1: new deltas, 2: only the fleet's view to read */

static ngx_uint_t
ngx_http_llm_route_fleet_pass(ngx_http_llm_route_limit_node_t *ln)
{
    if (ln->fleet.pending[0].start != LLR_FLEET_NONE
        || ln->fleet.pending[1].start != LLR_FLEET_NONE)
    {
        return 0;
    }

    return llr_fleet_counter_dirty(&ln->fleet) ? 1 : 2;
}


/* with the mutex held: a node's entries, 0 if the batch is full */

static size_t
ngx_http_llm_route_fleet_node(llr_fleet_batch_t *b,
    ngx_http_llm_route_limit_node_t *ln)
{
    u_char  *p, name[NGX_HTTP_LLM_ROUTE_FLEET_NAME_LEN];

    p = ngx_sprintf(name, "%016xL:", ln->ident);
    p = ngx_cpymem(p, ln->key, ngx_min(ln->len,
                                       NGX_HTTP_LLM_ROUTE_LIMIT_KEY_MAX));

    if (ln->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
        /* the period of now: a budget idle since the last one moves on */
        ngx_http_llm_route_limit_period(ln, (time_t) (b->now_ms / 1000));

        return llr_fleet_batch_budget(b, (char *) name, p - name, &ln->fleet,
                                      (llr_period_e) ln->period,
                                      ln->period_start, ln->reserved, ln);
    }

    return llr_fleet_batch_window(b, (char *) name, p - name, &ln->fleet, ln);
}


static void
ngx_http_llm_route_fleet_limits_done(void *data, llr_fleet_batch_t *b,
    llr_fleet_entry_t *e, size_t n)
{
    ngx_http_llm_route_main_conf_t *mcf = data;

    size_t                            i, j;
    ngx_slab_pool_t                  *shpool;
    ngx_http_llm_route_limits_sh_t   *lsh;
    ngx_http_llm_route_limit_node_t  *ln;

    lsh = ngx_http_llm_route_fleet_limits(mcf, &shpool);

    if (lsh == NULL) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    if (lsh->fleet_built != b->now_ms || lsh->fleet_seq != b->seq) {
        /* a later batch was built: its nodes are those that stay */
        ngx_shmtx_unlock(&shpool->mutex);

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "llm_route: fleet: the answer to sync %uL is old",
                       b->seq);
        return;
    }

    /* a node's entries are next to each other */

    for (i = 0; i < n; i = j) {
        ln = e[i].data;

        for (j = i + 1; j < n && e[j].data == ln; j++) {
            /* void */
        }

        llr_fleet_counter_synced(&ln->fleet, &e[i], j - i);
    }

    /* no node is in a batch on the way now: they may be evicted */
    lsh->fleet_gen++;

    ngx_shmtx_unlock(&shpool->mutex);
}


/* ---- provider health --------------------------------------------------- */


static ngx_int_t
ngx_http_llm_route_fleet_health_build(void *data, llr_fleet_batch_t *b)
{
    ngx_http_llm_route_main_conf_t *mcf = data;

    int64_t                     until;
    ngx_uint_t                  i;
    ngx_http_llm_route_shm_t   *sh;
    ngx_http_llm_route_slot_t  *s;

    sh = mcf->shm_zone->data;

    if (sh == NULL) {
        return NGX_OK;
    }

    for (i = 0; i < sh->nused; i++) {
        s = &sh->slots[i];

        if (s->kind != NGX_HTTP_LLM_ROUTE_SLOT_PROVIDER) {
            continue;
        }

        until = (int64_t) s->cooldown_until;

        if (until <= b->now_ms) {
            until = 0;
        }

        if (llr_fleet_batch_cooldown(b, (char *) s->name, s->name_len, until,
                                     s)
            == 0)
        {
            break;
        }
    }

    return NGX_OK;
}


static void
ngx_http_llm_route_fleet_health_done(void *data, llr_fleet_batch_t *b,
    llr_fleet_entry_t *e, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (e[i].out[0] > b->now_ms && e[i].out[0] > e[i].sent) {
            ngx_http_llm_route_provider_cooled(e[i].data,
                                               (uint64_t) e[i].out[0]);
        }
    }
}
