
/*
 * ngx_llm_route_module: requests in flight.
 *
 * One pair of words per process slot (ngx_process_slot) in the zone:
 * the pid of the worker that counts there and its count.  A worker
 * counts only in its own slot, with atomic operations; finding another
 * pid there (a worker that was killed, or that exited, in the slot
 * before), it starts the slot afresh.  The status adds the counts of
 * the slots whose process is alive, so the requests of a killed worker
 * stop counting with it, and a reload (new workers, new slots, the old
 * ones finishing their requests) counts both generations.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_metrics.h"


ngx_int_t
ngx_http_llm_route_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh)
{
    size_t            len;
    ngx_slab_pool_t  *shpool;

    if (sh->inflight) {
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    len = NGX_MAX_PROCESSES * sizeof(ngx_http_llm_route_inflight_t);

    sh->inflight = ngx_slab_calloc(shpool, len);

    if (sh->inflight == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_route_zone \"%V\" has no room for the requests "
                      "in flight (%uz bytes): give it %uzk more",
                      &shm_zone->shm.name, len, 2 * len / 1024 + 1);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_llm_route_inflight_start(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    ngx_http_llm_route_shm_t       *sh;
    ngx_http_llm_route_inflight_t  *f;

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL || sh->inflight == NULL || ctx->in_flight
        || ngx_process_slot < 0 || ngx_process_slot >= NGX_MAX_PROCESSES)
    {
        return;
    }

    f = &sh->inflight[ngx_process_slot];

    if (f->pid != (ngx_atomic_uint_t) ngx_pid) {
        f->n = 0;
        ngx_memory_barrier();
        f->pid = (ngx_atomic_uint_t) ngx_pid;
    }

    (void) ngx_atomic_fetch_add(&f->n, 1);

    ctx->in_flight = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: in flight, %uA in this worker", f->n);
}


void
ngx_http_llm_route_inflight_end(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    ngx_http_llm_route_shm_t       *sh;
    ngx_http_llm_route_inflight_t  *f;

    if (!ctx->in_flight) {
        return;
    }

    ctx->in_flight = 0;

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL || sh->inflight == NULL) {
        return;
    }

    f = &sh->inflight[ngx_process_slot];

    if (f->pid == (ngx_atomic_uint_t) ngx_pid && f->n > 0) {
        (void) ngx_atomic_fetch_add(&f->n, (ngx_atomic_int_t) -1);
    }
}


uint64_t
ngx_http_llm_route_inflight(ngx_http_llm_route_shm_t *sh)
{
    uint64_t            sum;
    ngx_uint_t          i;
    ngx_atomic_uint_t   n, pid;

    sum = 0;

    if (sh->inflight == NULL) {
        return 0;
    }

    for (i = 0; i < NGX_MAX_PROCESSES; i++) {
        pid = sh->inflight[i].pid;
        n = sh->inflight[i].n;

        if (pid == 0 || n == 0
            || ngx_http_llm_route_pid_gone((ngx_pid_t) pid))
        {
            continue;
        }

        sum += n;
    }

    return sum;
}
