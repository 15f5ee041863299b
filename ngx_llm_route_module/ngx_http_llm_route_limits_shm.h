
/*
 * ngx_llm_route_module: the budgets and rate limits in the zone.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_LIMITS_SHM_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_LIMITS_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_limits.h"
#include "ngx_http_llm_route_shm.h"


#define NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET   1
#define NGX_HTTP_LLM_ROUTE_LIMIT_RATE     2

#define NGX_HTTP_LLM_ROUTE_LIMIT_KEY_MAX  1024


/* in the zone */

struct ngx_http_llm_route_limits_sh_s {
    uint64_t                          magic;
    ngx_rbtree_t                      rbtree;
    ngx_rbtree_node_t                 sentinel;
    ngx_queue_t                       queue;      /* LRU: the newest first */
    ngx_queue_t                       holds;      /* requests in flight */
    ngx_uint_t                        nodes;
    ngx_uint_t                        evicted;
    ngx_uint_t                        full;       /* refused: no room */
    time_t                            full_logged;
};


typedef struct {
    ngx_rbtree_node_t                 node;       /* key: hash */
    ngx_queue_t                       queue;
    uint64_t                          ident;
    uint32_t                          kind;
    uint32_t                          period;
    uint64_t                          limit;      /* as last applied */
    int64_t                           period_start;
    uint64_t                          spent;
    uint64_t                          reserved;
    llr_window_t                      req;
    llr_window_t                      tok;
    uint64_t                          rpm;
    uint64_t                          tpm;
    uint64_t                          rejected;
    ngx_uint_t                        inflight;
    time_t                            last;
    size_t                            len;
    u_char                            key[1];
} ngx_http_llm_route_limit_node_t;


/* per request: what was reserved, for the settlement */

typedef struct {
    ngx_http_llm_route_limit_node_t  *node;
    uint64_t                          est;        /* pUSD or tokens */
    int64_t                           tok_start;  /* the tokens' window */
    unsigned                          tpm:1;
} ngx_http_llm_route_limit_entry_t;


/*
 * In the zone: the reservations of one request, with the pid of its
 * worker, from the start of its admission until it is settled.  It is
 * allocated and queued before anything is reserved, so a worker that
 * dies (SIGKILL, a crash) anywhere, even holding the mutex in the middle
 * of an admission or a settlement, leaves a hold behind; the next worker
 * to start releases it (ngx_http_llm_route_limits_recover()).
 */

typedef struct {
    ngx_queue_t                       queue;      /* lsh->holds */
    ngx_pid_t                         pid;
    ngx_uint_t                        n;          /* entries reserved */
    ngx_uint_t                        settled;    /* entries charged */
    ngx_uint_t                        admitted;   /* admission completed */
    ngx_http_llm_route_limit_entry_t  entries[1];
} ngx_http_llm_route_limit_hold_t;


/* when the zone is created, before the state file is loaded */
ngx_int_t ngx_http_llm_route_limits_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh);

/* with the mutex held: the node of a directive's key, NULL if none */
ngx_http_llm_route_limit_node_t *ngx_http_llm_route_limit_lookup(
    ngx_http_llm_route_limits_sh_t *lsh, uint64_t ident, ngx_str_t *key);

/* with the mutex held: a new node, NULL if the zone is full */
ngx_http_llm_route_limit_node_t *ngx_http_llm_route_limit_create(
    ngx_slab_pool_t *shpool, ngx_http_llm_route_limits_sh_t *lsh,
    ngx_uint_t kind, uint64_t ident, ngx_str_t *key, int64_t now_ms);

/* with the mutex held: memory, idle nodes evicted to make room */
void *ngx_http_llm_route_limit_alloc(ngx_slab_pool_t *shpool,
    ngx_http_llm_route_limits_sh_t *lsh, size_t size, int64_t now_ms);

/* a budget node in the period of now (a new period starts from zero) */
void ngx_http_llm_route_limit_period(ngx_http_llm_route_limit_node_t *ln,
    time_t now);

/* a worker starts: what workers that are gone left reserved */
void ngx_http_llm_route_limits_recover(ngx_cycle_t *cycle,
    ngx_http_llm_route_shm_t *sh, ngx_slab_pool_t *shpool);

/* the state file's limits section: ngx_alloc()ed, *size bytes */
u_char *ngx_http_llm_route_limits_state(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_log_t *log, size_t *size);

/* load it: NGX_ERROR if malformed, or the number of budgets loaded */
ngx_int_t ngx_http_llm_route_limits_load(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, u_char *p, size_t size);


#endif /* _NGX_HTTP_LLM_ROUTE_LIMITS_SHM_H_INCLUDED_ */
