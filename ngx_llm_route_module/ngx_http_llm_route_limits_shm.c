
/*
 * ngx_llm_route_module: the budgets and rate limits in the zone.
 *
 * An rbtree of nodes keyed by (identity of the directive, evaluated key)
 * and an LRU queue, in the zone's slab pool, as limit_req keeps its
 * states; the holds of the requests in flight.  Every access to a node
 * is made with the slab mutex held, briefly (no I/O, no allocation but
 * the node's own).
 *
 * A full zone.  When a node cannot be allocated, idle nodes are evicted
 * from the least recently used end: a budget node with nothing spent in
 * its current period and nothing reserved, a rate node whose windows are
 * empty, as many as it takes.  Never one that still counts.
 *
 * Dead workers.  A request's hold records what it reserved; a worker
 * that starts releases the holds of workers that are gone, and counts
 * the reservations again.
 *
 * The state file.  The budgets' spend is written to it (state.c) and
 * loaded from it; the rate windows (a minute long) and the reservations
 * (nothing is in flight after a restart) are not.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_limits_shm.h"
#include "llr.h"
#include "llr_cost.h"


#define NGX_HTTP_LLM_ROUTE_LIMITS_MAGIC   0x4c4c524c494d4954ULL


/* the state file's limits section: one record per budget node */

typedef struct {
    uint64_t                          ident;
    int64_t                           period_start;
    uint64_t                          spent;
    uint64_t                          limit;
    uint32_t                          kind;
    uint32_t                          period;
    uint32_t                          len;
    uint32_t                          reserved0;
    /* u_char                         key[len], padded to 8 */
} ngx_http_llm_route_limit_record_t;


static void ngx_http_llm_route_limit_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_http_llm_route_limit_idle(
    ngx_http_llm_route_limit_node_t *ln, int64_t now_ms);
static void ngx_http_llm_route_limits_recount(
    ngx_http_llm_route_limits_sh_t *lsh);


/* zone.c, when the zone is created (the master, nothing runs yet) */

ngx_int_t
ngx_http_llm_route_limits_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh)
{
    ngx_slab_pool_t                 *shpool;
    ngx_http_llm_route_limits_sh_t  *lsh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    lsh = ngx_slab_calloc(shpool, sizeof(ngx_http_llm_route_limits_sh_t));
    if (lsh == NULL) {
        return NGX_ERROR;
    }

    lsh->magic = NGX_HTTP_LLM_ROUTE_LIMITS_MAGIC;

    ngx_rbtree_init(&lsh->rbtree, &lsh->sentinel,
                    ngx_http_llm_route_limit_rbtree_insert);
    ngx_queue_init(&lsh->queue);
    ngx_queue_init(&lsh->holds);

    sh->limits = lsh;

    return NGX_OK;
}


static void
ngx_http_llm_route_limit_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t                **p;
    ngx_http_llm_route_limit_node_t   *ln, *lnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            ln = (ngx_http_llm_route_limit_node_t *) node;
            lnt = (ngx_http_llm_route_limit_node_t *) temp;

            if (ln->ident != lnt->ident) {
                p = ln->ident < lnt->ident ? &temp->left : &temp->right;

            } else {
                p = ngx_memn2cmp(ln->key, lnt->key, ln->len, lnt->len) < 0
                    ? &temp->left : &temp->right;
            }
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* with the mutex held */

ngx_http_llm_route_limit_node_t *
ngx_http_llm_route_limit_lookup(ngx_http_llm_route_limits_sh_t *lsh,
    uint64_t ident, ngx_str_t *key)
{
    ngx_int_t                         rc;
    ngx_rbtree_key_t                  hash;
    ngx_rbtree_node_t                *node, *sentinel;
    ngx_http_llm_route_limit_node_t  *ln;

    hash = (ngx_rbtree_key_t) llr_fnv1a64(ident, key->data, key->len);

    node = lsh->rbtree.root;
    sentinel = lsh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        ln = (ngx_http_llm_route_limit_node_t *) node;

        if (ident != ln->ident) {
            node = ident < ln->ident ? node->left : node->right;
            continue;
        }

        rc = ngx_memn2cmp(key->data, ln->key, key->len, ln->len);

        if (rc == 0) {
            return ln;
        }

        node = rc < 0 ? node->left : node->right;
    }

    return NULL;
}


/* nothing counts in it any more: it may be evicted */

static ngx_int_t
ngx_http_llm_route_limit_idle(ngx_http_llm_route_limit_node_t *ln,
    int64_t now_ms)
{
    time_t  now;

    if (ln->inflight || ln->reserved) {
        return 0;
    }

    if (ln->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
        now = (time_t) (now_ms / 1000);

        if (ln->spent == 0) {
            return 1;
        }

        return ln->period != LLR_PERIOD_TOTAL
               && llr_period_next((llr_period_e) ln->period, ln->period_start)
                  <= now;
    }

    llr_window_advance(&ln->req, now_ms);
    llr_window_advance(&ln->tok, now_ms);

    return ln->req.cur == 0 && ln->req.prev == 0
           && ln->tok.cur == 0 && ln->tok.prev == 0;
}


/*
 * Memory for a node or a hold, with the mutex held: when the zone is
 * full, idle nodes are evicted, least recently used first, until it
 * fits (the slab frees a page only when all of its chunks are free, so
 * it may take many small nodes to make room for a larger one).
 */

void *
ngx_http_llm_route_limit_alloc(ngx_slab_pool_t *shpool,
    ngx_http_llm_route_limits_sh_t *lsh, size_t size, int64_t now_ms)
{
    void                             *p;
    ngx_queue_t                      *q, *prev;
    ngx_http_llm_route_limit_node_t  *old;

    p = ngx_slab_alloc_locked(shpool, size);

    q = ngx_queue_last(&lsh->queue);

    while (p == NULL && q != ngx_queue_sentinel(&lsh->queue)) {
        prev = ngx_queue_prev(q);
        old = ngx_queue_data(q, ngx_http_llm_route_limit_node_t, queue);

        if (ngx_http_llm_route_limit_idle(old, now_ms)) {
            ngx_queue_remove(q);
            ngx_rbtree_delete(&lsh->rbtree, &old->node);
            ngx_slab_free_locked(shpool, old);
            lsh->nodes--;
            lsh->evicted++;

            p = ngx_slab_alloc_locked(shpool, size);
        }

        q = prev;
    }

    return p;
}


ngx_http_llm_route_limit_node_t *
ngx_http_llm_route_limit_create(ngx_slab_pool_t *shpool,
    ngx_http_llm_route_limits_sh_t *lsh, ngx_uint_t kind, uint64_t ident,
    ngx_str_t *key, int64_t now_ms)
{
    size_t                            size;
    ngx_http_llm_route_limit_node_t  *ln;

    size = offsetof(ngx_http_llm_route_limit_node_t, key) + key->len;

    ln = ngx_http_llm_route_limit_alloc(shpool, lsh, size, now_ms);

    if (ln == NULL) {
        return NULL;
    }

    ngx_memzero(ln, size);

    ln->node.key = (ngx_rbtree_key_t)
                   llr_fnv1a64(ident, key->data, key->len);
    ln->ident = ident;
    ln->kind = (uint32_t) kind;
    ln->len = key->len;
    ngx_memcpy(ln->key, key->data, key->len);

    ngx_rbtree_insert(&lsh->rbtree, &ln->node);
    ngx_queue_insert_head(&lsh->queue, &ln->queue);
    lsh->nodes++;

    return ln;
}


/*
 * a budget node in the period of now: a new period starts from zero; a
 * clock stepped back keeps the period it had (and what was spent in it)
 */

void
ngx_http_llm_route_limit_period(ngx_http_llm_route_limit_node_t *ln,
    time_t now)
{
    int64_t  start;

    start = llr_period_start((llr_period_e) ln->period, now);

    if (start > ln->period_start) {
        ln->period_start = start;
        ln->spent = 0;
    }
}


/*
 * A worker starts (module.c): the holds of workers that are gone are
 * released.  A dead worker's admitted requests may have reached the
 * provider, so each is charged its estimated cost (what it reserved),
 * except for what its settlement had charged already; its estimated
 * tokens stay in the rate windows.  A request whose admission was cut
 * short never left: nothing is charged.  A hold with this worker's own
 * pid is a dead predecessor's whose pid was reused: this worker has no
 * request yet.  Workers of the previous generation still shutting down
 * after a reload are alive: theirs are left to them.
 *
 * Then the reservations and in-flight counts are counted again from the
 * holds that remain: a worker killed while holding the mutex may have
 * left them half updated (the master releases the mutex it held).
 */

void
ngx_http_llm_route_limits_recover(ngx_cycle_t *cycle,
    ngx_http_llm_route_shm_t *sh, ngx_slab_pool_t *shpool)
{
    time_t                             now;
    uint64_t                           charged;
    ngx_uint_t                         i, reqs, cut;
    ngx_queue_t                       *q, *next;
    ngx_http_llm_route_limits_sh_t    *lsh;
    ngx_http_llm_route_limit_node_t   *ln;
    ngx_http_llm_route_limit_hold_t   *hold;
    ngx_http_llm_route_limit_entry_t  *e;

    lsh = sh->limits;

    if (lsh == NULL) {
        return;
    }

    now = ngx_time();
    reqs = 0;
    cut = 0;
    charged = 0;

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&lsh->holds);
         q != ngx_queue_sentinel(&lsh->holds);
         q = next)
    {
        next = ngx_queue_next(q);
        hold = ngx_queue_data(q, ngx_http_llm_route_limit_hold_t, queue);

        if (hold->pid != ngx_pid
            && !ngx_http_llm_route_pid_gone(hold->pid))
        {
            continue;
        }

        if (hold->admitted) {
            for (i = hold->settled; i < hold->n; i++) {
                e = &hold->entries[i];
                ln = e->node;

                if (ln->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
                    ngx_http_llm_route_limit_period(ln, now);
                    ln->spent = llr_add_sat(ln->spent, e->est);
                    charged = llr_add_sat(charged, e->est);
                }
            }

            reqs++;

        } else {
            cut++;
        }

        ngx_queue_remove(q);
        ngx_slab_free_locked(shpool, hold);
    }

    if (reqs || cut) {
        ngx_http_llm_route_limits_recount(lsh);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (reqs || cut) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "llm_route: released the budget and rate "
                      "reservations of %ui request(s) left in flight by "
                      "exited worker processes, %uL pUSD charged at their "
                      "estimates (%ui more killed while being admitted, "
                      "not charged)", reqs, charged, cut);
    }
}


/*
 * With the mutex held: each node's reservations and requests in flight,
 * counted again from the holds in the queue (every request admitted or
 * being settled has one).
 */

static void
ngx_http_llm_route_limits_recount(ngx_http_llm_route_limits_sh_t *lsh)
{
    ngx_uint_t                         i;
    ngx_queue_t                       *q;
    ngx_http_llm_route_limit_node_t   *ln;
    ngx_http_llm_route_limit_hold_t   *hold;
    ngx_http_llm_route_limit_entry_t  *e;

    for (q = ngx_queue_head(&lsh->queue);
         q != ngx_queue_sentinel(&lsh->queue);
         q = ngx_queue_next(q))
    {
        ln = ngx_queue_data(q, ngx_http_llm_route_limit_node_t, queue);
        ln->reserved = 0;
        ln->inflight = 0;
    }

    for (q = ngx_queue_head(&lsh->holds);
         q != ngx_queue_sentinel(&lsh->holds);
         q = ngx_queue_next(q))
    {
        hold = ngx_queue_data(q, ngx_http_llm_route_limit_hold_t, queue);

        for (i = 0; i < hold->n; i++) {
            e = &hold->entries[i];
            ln = e->node;

            ln->inflight++;

            if (ln->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
                ln->reserved = llr_add_sat(ln->reserved, e->est);
            }
        }
    }
}


/*
 * The section after the slots: a uint64_t count, then per budget node a
 * record and its key padded to 8 bytes.  Only budgets: rate windows are a
 * minute long.  Called with the state lock held; takes the slab mutex.
 */

u_char *
ngx_http_llm_route_limits_state(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_log_t *log, size_t *size)
{
    u_char                             *buf, *p;
    size_t                              len;
    uint64_t                            count;
    ngx_queue_t                        *q;
    ngx_slab_pool_t                    *shpool;
    ngx_http_llm_route_limits_sh_t     *lsh;
    ngx_http_llm_route_limit_node_t    *ln;
    ngx_http_llm_route_limit_record_t   rec;

    *size = 0;
    lsh = sh->limits;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (lsh == NULL) {
        buf = ngx_alloc(sizeof(uint64_t), log);
        if (buf) {
            ngx_memzero(buf, sizeof(uint64_t));
            *size = sizeof(uint64_t);
        }

        return buf;
    }

    ngx_shmtx_lock(&shpool->mutex);

    len = sizeof(uint64_t);

    for (q = ngx_queue_head(&lsh->queue);
         q != ngx_queue_sentinel(&lsh->queue);
         q = ngx_queue_next(q))
    {
        ln = ngx_queue_data(q, ngx_http_llm_route_limit_node_t, queue);

        if (ln->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
            len += sizeof(rec) + ngx_align(ln->len, 8);
        }
    }

    buf = ngx_alloc(len, log);
    if (buf == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);
        return NULL;
    }

    ngx_memzero(buf, len);

    p = buf + sizeof(uint64_t);
    count = 0;

    for (q = ngx_queue_head(&lsh->queue);
         q != ngx_queue_sentinel(&lsh->queue);
         q = ngx_queue_next(q))
    {
        ln = ngx_queue_data(q, ngx_http_llm_route_limit_node_t, queue);

        if (ln->kind != NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
            continue;
        }

        ngx_memzero(&rec, sizeof(rec));
        rec.ident = ln->ident;
        rec.period_start = ln->period_start;
        rec.spent = ln->spent;
        rec.limit = ln->limit;
        rec.kind = ln->kind;
        rec.period = ln->period;
        rec.len = (uint32_t) ln->len;

        p = ngx_cpymem(p, &rec, sizeof(rec));
        ngx_memcpy(p, ln->key, ln->len);
        p += ngx_align(ln->len, 8);

        count++;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_memcpy(buf, &count, sizeof(uint64_t));

    *size = len;

    return buf;
}


/*
 * Load the section (the master, at zone creation: nothing else runs).
 * Returns NGX_ERROR if it is malformed (the caller has checked the
 * checksum, so that means a bug), or the number of records loaded.
 */

ngx_int_t
ngx_http_llm_route_limits_load(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, u_char *p, size_t size)
{
    u_char                             *end;
    int64_t                             now_ms;
    uint64_t                            count, i;
    ngx_str_t                           key;
    ngx_int_t                           loaded;
    ngx_slab_pool_t                    *shpool;
    ngx_http_llm_route_limits_sh_t     *lsh;
    ngx_http_llm_route_limit_node_t    *ln;
    ngx_http_llm_route_limit_record_t   rec;

    lsh = sh->limits;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    end = p + size;

    if (size < sizeof(uint64_t)) {
        return NGX_ERROR;
    }

    ngx_memcpy(&count, p, sizeof(uint64_t));
    p += sizeof(uint64_t);

    now_ms = (int64_t) ngx_http_llm_route_now_ms();
    loaded = 0;

    for (i = 0; i < count; i++) {

        if ((size_t) (end - p) < sizeof(rec)) {
            return NGX_ERROR;
        }

        ngx_memcpy(&rec, p, sizeof(rec));
        p += sizeof(rec);

        if (rec.len > NGX_HTTP_LLM_ROUTE_LIMIT_KEY_MAX
            || (size_t) (end - p) < ngx_align(rec.len, 8)
            || rec.kind != NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET
            || rec.period >= LLR_PERIOD_N)
        {
            return NGX_ERROR;
        }

        key.data = p;
        key.len = rec.len;
        p += ngx_align(rec.len, 8);

        if (lsh == NULL || rec.len == 0) {
            continue;
        }

        ngx_shmtx_lock(&shpool->mutex);

        ln = ngx_http_llm_route_limit_lookup(lsh, rec.ident, &key);

        if (ln == NULL) {
            ln = ngx_http_llm_route_limit_create(shpool, lsh, rec.kind,
                                                 rec.ident, &key, now_ms);
        }

        if (ln) {
            ln->period = rec.period;
            ln->period_start = rec.period_start;
            ln->spent = rec.spent;
            ln->limit = rec.limit;
            ln->last = ngx_time();
            loaded++;
        }

        ngx_shmtx_unlock(&shpool->mutex);

        if (ln == NULL) {
            ngx_log_error(NGX_LOG_ERR, shm_zone->shm.log, 0,
                          "llm_route: llm_route_zone \"%V\": no room for the "
                          "budget of \"%V\" from the state file: its spend is "
                          "lost",
                          &shm_zone->shm.name, &key);
        }
    }

    if (p != end) {
        return NGX_ERROR;
    }

    return loaded;
}
