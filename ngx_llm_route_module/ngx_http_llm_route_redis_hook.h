/*
 * ngx_llm_route_module: what the fleet's Redis connection shares with
 * the parts that sync through it (issue 26): the fail modes, a sync hook
 * and the instance's view of Redis.  A header of its own so that the
 * connection (redis_conn) and the sync (redis_sync) need nothing of the
 * module's directive file (redis.c), which uses them.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_REDIS_HOOK_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_REDIS_HOOK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "llr_fleet.h"


#define NGX_HTTP_LLM_ROUTE_REDIS_FAIL_OPEN    0
#define NGX_HTTP_LLM_ROUTE_REDIS_FAIL_CLOSED  1


/*
 * What one part of the module syncs.  build() adds entries to the batch
 * (llr_fleet_batch_budget() ...) under its own lock; done() gets the
 * entries it added, answered (llr_fleet_counter_synced() ...).  done()
 * is only called for an answered batch: otherwise the batch is resent as
 * it was, and nothing needs undoing.
 */
typedef struct {
    ngx_int_t   (*build)(void *data, llr_fleet_batch_t *b);
    void        (*done)(void *data, llr_fleet_batch_t *b,
                        llr_fleet_entry_t *e, size_t n);
    void         *data;
} ngx_http_llm_route_redis_hook_t;


/* the instance's view of Redis, for the status */
typedef struct {
    ngx_uint_t    up;          /* answered within the freshness window */
    uint64_t      last_sync;   /* epoch ms of the last answered sync, 0 */
    ngx_msec_t    lag_ms;      /* its round trip */
    uint64_t      errors;      /* failed connects, timeouts, errors */
    uint64_t      connects;    /* handshakes completed */
    uint64_t      syncs;       /* syncs answered */
    uint64_t      seq;         /* the last batch of deltas */
    u_char        instance[LLR_FLEET_INSTANCE_LEN + 1];
} ngx_http_llm_route_redis_status_t;


#endif /* _NGX_HTTP_LLM_ROUTE_REDIS_HOOK_H_INCLUDED_ */
