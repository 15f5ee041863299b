/*
 * ngx_llm_route_module: the fleet's sync.
 *
 * One connection per worker.  The instance syncs once per interval: the
 * worker whose timer finds the interval over claims the sync in the
 * shared zone (a compare-and-set of the owner's pid), sends one batch,
 * and releases the claim with the answer.  A batch not answered (Redis
 * down, a timeout, the worker killed) is resent as it was by whichever
 * worker syncs next: core/llr_fleet.h explains why that counts nothing
 * twice.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_redis_sync.h"
#include "ngx_http_llm_route_conf.h"
#include "llr_fleet_hiredis.h"


#define NGX_HTTP_LLM_ROUTE_REDIS_ENTRIES     512     /* per batch */


/* one sync on the way */
typedef struct {
    ngx_pool_t                      *pool;
    llr_fleet_batch_t                batch;
    ngx_uint_t                       attempt;
    ngx_msec_t                       sent;
    ngx_uint_t                       eval;        /* resent with EVAL */
    size_t                          *first;       /* per hook */
    size_t                          *n;
} ngx_http_llm_route_redis_sync_t;


static ngx_uint_t ngx_http_llm_route_redis_claim(
    ngx_http_llm_route_redis_worker_t *w);
static void ngx_http_llm_route_redis_release(
    ngx_http_llm_route_redis_worker_t *w, ngx_uint_t attempt);
static void ngx_http_llm_route_redis_sync_reply(redisAsyncContext *ac,
    void *reply, void *data);


static ngx_int_t
ngx_http_llm_route_redis_pid_gone(ngx_pid_t pid)
{
    return kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH;
}


/* claim the instance's sync: 1 if this worker may send a batch now */
static ngx_uint_t
ngx_http_llm_route_redis_claim(ngx_http_llm_route_redis_worker_t *w)
{
    ngx_msec_t                       now;
    ngx_atomic_uint_t                owner;
    ngx_http_llm_route_redis_shm_t  *sh;

    sh = w->sh;
    now = ngx_current_msec;

    if ((ngx_msec_int_t) (now - sh->sync_next) < 0) {
        return 0;
    }

    owner = sh->owner;

    if (owner && (ngx_pid_t) owner != ngx_pid) {
        /*
         * another worker's batch: wait for it, unless it died with it
         * (its ngx_current_msec may be a little ahead of ours: signed)
         */
        if ((ngx_msec_int_t) (now - sh->since)
               < (ngx_msec_int_t) (2 * w->rmcf->timeout + w->rmcf->sync)
            && !ngx_http_llm_route_redis_pid_gone((ngx_pid_t) owner))
        {
            return 0;
        }

        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "llm_route_redis: taking over the sync of worker %P",
                      (ngx_pid_t) owner);

    } else if (owner) {
        return 0;               /* ours is on the way */
    }

    if (!ngx_atomic_cmp_set(&sh->owner, owner, (ngx_atomic_uint_t) ngx_pid))
    {
        return 0;
    }

    sh->sync_next = now + w->rmcf->sync;
    sh->since = now;

    return 1;
}


static void
ngx_http_llm_route_redis_release(ngx_http_llm_route_redis_worker_t *w,
    ngx_uint_t attempt)
{
    if (w->sh->attempt == attempt) {
        (void) ngx_atomic_cmp_set(&w->sh->owner,
                                  (ngx_atomic_uint_t) ngx_pid, 0);
    }
}


static void
ngx_http_llm_route_redis_sync_reply(redisAsyncContext *ac, void *reply,
    void *data)
{
    ngx_http_llm_route_redis_sync_t *s = data;

    size_t                                 len;
    uint64_t                               now;
    ngx_uint_t                             i, mine;
    const char                            *err;
    llr_alloc_t                            alloc;
    llr_fleet_reply_t                     *fr;
    llr_fleet_rc_e                         rc;
    ngx_http_llm_route_redis_hook_t       *h;
    ngx_http_llm_route_redis_worker_t     *w;
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    w = ac->data;
    rmcf = w->rmcf;

    ngx_http_llm_route_redis_answered(w);

    mine = (ngx_pid_t) w->sh->owner == ngx_pid
           && w->sh->attempt == s->attempt;

    if (reply == NULL) {
        /* the connection went: the batch is resent by the next sync */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                       "llm_route redis: sync %ui lost", s->attempt);
        goto done;
    }

    ngx_http_llm_route_pool_alloc(s->pool, &alloc);
    fr = llr_fleet_from_hiredis(reply, &alloc, 0);

    err = "";
    len = 0;

    rc = llr_fleet_batch_reply(&s->batch, fr, &err, &len);

    if (rc == LLR_FLEET_NOSCRIPT && !s->eval && mine) {
        /* a restart or a failover lost the script: EVAL loads it */
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "llm_route_redis %V: the script is gone, EVAL",
                      &rmcf->addr);

        s->eval = 1;

        if (llr_fleet_batch_command(&s->batch, NULL) == 0
            && ngx_http_llm_route_redis_send(w,
                                        ngx_http_llm_route_redis_sync_reply,
                                        s, (int) s->batch.argc,
                                        s->batch.argv, s->batch.argvlen)
               == NGX_OK)
        {
            return;
        }
    }

    if (rc != LLR_FLEET_OK) {
        (void) ngx_atomic_fetch_add(&w->sh->errors, 1);

        if (rc == LLR_FLEET_EBAD) {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "llm_route_redis %V: sync: a malformed answer",
                          &rmcf->addr);

        } else {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "llm_route_redis %V: sync: \"%*s\"",
                          &rmcf->addr, len, err);
        }

        goto done;
    }

    if (!mine) {
        /* another worker took the sync over: its answer counts */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                       "llm_route redis: sync %ui answered late",
                       s->attempt);
        goto done;
    }

    h = rmcf->hooks.elts;

    for (i = 0; i < rmcf->hooks.nelts; i++) {
        if (h[i].done) {
            h[i].done(h[i].data, &s->batch, s->batch.entries + s->first[i],
                      s->n[i]);
        }
    }

    llr_fleet_batch_done(&s->batch, &w->sh->seq, 1);

    now = ngx_http_llm_route_redis_now();

    w->sh->last_sync = now;
    w->sh->last_mono = ngx_current_msec;
    w->sh->lag_ms = ngx_current_msec - s->sent;
    (void) ngx_atomic_fetch_add(&w->sh->syncs, 1);

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "llm_route redis: sync %ui answered in %M ms, "
                   "seq %uL applied %ui, %uz entries",
                   s->attempt, w->sh->lag_ms, s->batch.seq,
                   (ngx_uint_t) s->batch.applied, s->batch.nentries);

done:

    if (mine) {
        ngx_http_llm_route_redis_release(w, s->attempt);
    }

    ngx_destroy_pool(s->pool);
}


void
ngx_http_llm_route_redis_sync(ngx_http_llm_route_redis_worker_t *w)
{
    char                                   id[LLR_FLEET_INSTANCE_LEN + 1];
    uint64_t                               now;
    ngx_uint_t                             i;
    ngx_pool_t                            *pool;
    llr_alloc_t                            alloc;
    ngx_http_llm_route_redis_shm_t        *sh;
    ngx_http_llm_route_redis_hook_t       *h;
    ngx_http_llm_route_redis_sync_t       *s;
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    if (w->state != NGX_HTTP_LLM_ROUTE_REDIS_READY
        || ngx_http_llm_route_redis_stopping())
    {
        return;
    }

    rmcf = w->rmcf;
    sh = w->sh;
    now = ngx_http_llm_route_redis_now();

    if (!ngx_http_llm_route_redis_claim(w)) {
        return;
    }

    sh->attempt = ngx_atomic_fetch_add(&sh->attempts, 1) + 1;

    pool = ngx_create_pool(8192, w->log);
    if (pool == NULL) {
        goto failed;
    }

    s = ngx_pcalloc(pool, sizeof(ngx_http_llm_route_redis_sync_t));
    if (s == NULL) {
        goto failed;
    }

    s->pool = pool;
    s->attempt = sh->attempt;
    s->sent = ngx_current_msec;

    s->first = ngx_pcalloc(pool, (rmcf->hooks.nelts + 1) * sizeof(size_t));
    s->n = ngx_pcalloc(pool, (rmcf->hooks.nelts + 1) * sizeof(size_t));
    if (s->first == NULL || s->n == NULL) {
        goto failed;
    }

    ngx_http_llm_route_pool_alloc(pool, &alloc);

    llr_fleet_instance(id, sh->instance);

    /*
     * reservations count three sync periods (and timeouts) after they
     * were last refreshed: an instance gone stops holding the budget
     */
    if (llr_fleet_batch_init(&s->batch, &alloc, (char *) rmcf->prefix.data,
                             rmcf->prefix.len, id, &sh->seq, (int64_t) now,
                             (int64_t) ngx_max(1000, 3 * (rmcf->sync
                                                        + rmcf->timeout)),
                             NGX_HTTP_LLM_ROUTE_REDIS_ENTRIES)
        != 0)
    {
        goto failed;
    }

    h = rmcf->hooks.elts;

    for (i = 0; i < rmcf->hooks.nelts; i++) {
        s->first[i] = s->batch.nentries;

        if (h[i].build && h[i].build(h[i].data, &s->batch) != NGX_OK) {
            goto failed;
        }

        s->n[i] = s->batch.nentries - s->first[i];
    }

    if (llr_fleet_batch_command(&s->batch, w->sha[0] ? w->sha : NULL) != 0) {
        goto failed;
    }

    /* from now on the batch is resent as it is until it is answered */
    llr_fleet_batch_done(&s->batch, &sh->seq, 0);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "llm_route redis: sync %ui, seq %uL%s, %uz entries",
                   s->attempt, s->batch.seq,
                   s->batch.deltas ? "" : " (no deltas)",
                   s->batch.nentries);

    if (ngx_http_llm_route_redis_send(w, ngx_http_llm_route_redis_sync_reply,
                                      s, (int) s->batch.argc,
                                      s->batch.argv, s->batch.argvlen)
        != NGX_OK)
    {
        goto failed;
    }

    return;

failed:

    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "llm_route_redis %V: cannot send a sync", &rmcf->addr);

    (void) ngx_atomic_fetch_add(&sh->errors, 1);
    ngx_http_llm_route_redis_release(w, sh->attempt);

    if (pool) {
        ngx_destroy_pool(pool);
    }
}
