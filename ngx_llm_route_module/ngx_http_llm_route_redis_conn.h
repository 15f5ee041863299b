
/*
 * ngx_llm_route_module: the fleet's Redis connection of a worker: the
 * hiredis adapter on nginx's event loop, the handshake, timeouts and
 * reconnection (redis_conn.c); the configuration and the instance's
 * shared sync state it works with (redis.c).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_REDIS_CONN_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_REDIS_CONN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_llm_route_redis_hook.h"


#define NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF     100     /* ms, the first */
#define NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF_MAX 3000    /* ms */

#define NGX_HTTP_LLM_ROUTE_REDIS_DOWN        0
#define NGX_HTTP_LLM_ROUTE_REDIS_CONNECTING  1       /* and handshake */
#define NGX_HTTP_LLM_ROUTE_REDIS_READY       2


typedef struct {
    ngx_str_t                        addr;        /* as written */
    char                            *host;        /* numeric, or NULL */
    int                              port;
    char                            *path;        /* unix socket */
    ngx_str_t                        password;    /* never logged */
    ngx_uint_t                       db;
    ngx_str_t                        prefix;
    ngx_msec_t                       timeout;
    ngx_msec_t                       sync;
    ngx_uint_t                       fail;
    ngx_shm_zone_t                  *shm_zone;
    ngx_array_t                      hooks;       /* of hook */
} ngx_http_llm_route_redis_main_conf_t;


/* the instance's sync state, shared by its workers and kept on reload */
typedef struct {
    uint64_t                         magic;
    ngx_uint_t                       version;     /* of this layout */
    uint64_t                         instance;    /* random, per start */
    ngx_atomic_t                     last_sync;   /* epoch ms */
    ngx_atomic_t                     last_mono;   /* ngx_current_msec */
    ngx_atomic_t                     lag_ms;
    ngx_atomic_t                     errors;
    ngx_atomic_t                     connects;
    ngx_atomic_t                     syncs;
    /*
     * the sync's times are ngx_current_msec: the monotonic clock, the
     * same in every worker, and a wall clock set back stops nothing
     */
    ngx_atomic_t                     sync_next;
    ngx_atomic_t                     owner;       /* pid of the worker whose
                                                     batch is on the way */
    ngx_atomic_t                     attempt;     /* of that batch */
    ngx_atomic_t                     since;       /* when it was sent */
    ngx_atomic_t                     attempts;
    llr_fleet_seq_t                  seq;         /* changed by the owner */
} ngx_http_llm_route_redis_shm_t;


typedef struct ngx_http_llm_route_redis_worker_s
    ngx_http_llm_route_redis_worker_t;

/* called when the connection is ready and at every tick then (redis.c) */
typedef void (*ngx_http_llm_route_redis_ready_pt)(
    ngx_http_llm_route_redis_worker_t *w);

/* this worker's connection */
struct ngx_http_llm_route_redis_worker_s {
    redisAsyncContext               *ac;
    ngx_connection_t                *conn;
    ngx_event_t                      timer;
    ngx_uint_t                       state;
    ngx_uint_t                       failures;    /* in a row */
    ngx_uint_t                       outstanding; /* commands sent */
    ngx_msec_t                       busy_since;  /* the oldest of them */
    ngx_msec_t                       connect_start;
    ngx_msec_t                       retry_at;
    char                             sha[LLR_FLEET_SHA_LEN + 1];
    ngx_http_llm_route_redis_main_conf_t  *rmcf;
    ngx_http_llm_route_redis_shm_t  *sh;
    ngx_log_t                       *log;
    ngx_http_llm_route_redis_ready_pt  ready;     /* the sync */
};


/* the worker's connection: connect at once, then keep it (exit: close) */
void ngx_http_llm_route_redis_conn_init(ngx_http_llm_route_redis_worker_t *w,
    ngx_cycle_t *cycle);
void ngx_http_llm_route_redis_conn_close(
    ngx_http_llm_route_redis_worker_t *w);

/* a command; fn gets the reply (NULL: the connection went) */
ngx_int_t ngx_http_llm_route_redis_send(ngx_http_llm_route_redis_worker_t *w,
    redisCallbackFn *fn, void *data, int argc, const char **argv,
    const size_t *argvlen);

/* in every reply callback, first: one command less outstanding */
void ngx_http_llm_route_redis_answered(ngx_http_llm_route_redis_worker_t *w);

/* the worker is exiting: nothing new is started */
ngx_uint_t ngx_http_llm_route_redis_stopping(void);

/* epoch milliseconds */
uint64_t ngx_http_llm_route_redis_now(void);


#endif /* _NGX_HTTP_LLM_ROUTE_REDIS_CONN_H_INCLUDED_ */
