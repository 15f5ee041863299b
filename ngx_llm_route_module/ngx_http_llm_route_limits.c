
/*
 * ngx_llm_route_module: budgets and rate limits.
 *
 *     llm_route_budget KEY LIMIT_USD [period=minute|hour|day|week|month|total];
 *     llm_route_rate   KEY [rpm=N] [tpm=N];
 *
 * The counts live in the zone (llm_route_zone): an rbtree of nodes keyed
 * by (identity of the directive, evaluated key) and an LRU queue, in the
 * zone's slab pool, as limit_req keeps its states.  Every access to a
 * node is made with the slab mutex held, briefly (no I/O, no allocation
 * but the node's own): admission checks and reserves in one step, so
 * concurrent requests of every worker see each other's reservations.
 *
 * Identity.  A budget node belongs to the directive's key expression (its
 * text, e.g. "$http_x_team") and period; a rate node to its key
 * expression and its rpm and tpm values.  Both survive a reload (the zone
 * is adopted): changing a budget's limit keeps what was spent in the
 * period, changing its key or period starts a new count.
 *
 * Budgets.  Admission: refused with 429 when spent + reserved >= limit,
 * otherwise the request's estimated cost is reserved.  Settlement (log
 * phase): the reservation is released and the actual cost charged to the
 * period in progress at that time.  The spent amounts are written to the
 * state file (the reservations are not: nothing is in flight after a
 * restart).
 *
 * Rate limits.  A sliding window (core/llr_limits.h): one request and
 * the estimated tokens are counted at admission, the tokens corrected to
 * the actual usage at settlement.
 *
 * A full zone.  When a node cannot be allocated, idle nodes are evicted
 * from the least recently used end: a budget node with nothing spent in
 * its current period and nothing reserved, a rate node whose windows are
 * empty, as many as it takes.  Never one that still counts.  If the node
 * still does not fit, the request is refused with 503 ("limits_zone_full")
 * and an error is logged: a key that cannot be tracked is not let through
 * unlimited.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_module.h"
#include "ngx_http_llm_route_reply.h"
#include "ngx_http_llm_route_limits.h"
#include "llr_cost.h"
#include "llr_limits.h"


#define NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET   1
#define NGX_HTTP_LLM_ROUTE_LIMIT_RATE     2

#define NGX_HTTP_LLM_ROUTE_LIMIT_KEY_MAX  1024

#define NGX_HTTP_LLM_ROUTE_LIMITS_MAGIC   0x4c4c524c494d4954ULL


/* one llm_route_budget or llm_route_rate directive */
typedef struct {
    ngx_http_complex_value_t          key;
    ngx_uint_t                        kind;
    uint64_t                          ident;
    uint64_t                          limit;      /* budgets: pUSD */
    llr_period_e                      period;
    uint64_t                          rpm;        /* 0: not limited */
    uint64_t                          tpm;
    ngx_str_t                         file;
    ngx_uint_t                        line;
} ngx_http_llm_route_limit_t;


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


struct ngx_http_llm_route_limits_req_s {
    ngx_slab_pool_t                  *shpool;
    ngx_http_llm_route_limits_sh_t   *lsh;
    ngx_http_llm_route_limit_hold_t  *hold;
    unsigned                          settled:1;
};


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


static ngx_http_llm_route_limit_node_t *ngx_http_llm_route_limit_lookup(
    ngx_http_llm_route_limits_sh_t *lsh, uint64_t ident, ngx_str_t *key);
static ngx_http_llm_route_limit_node_t *ngx_http_llm_route_limit_create(
    ngx_slab_pool_t *shpool, ngx_http_llm_route_limits_sh_t *lsh,
    ngx_uint_t kind, uint64_t ident, ngx_str_t *key, int64_t now_ms);
static void *ngx_http_llm_route_limit_alloc(ngx_slab_pool_t *shpool,
    ngx_http_llm_route_limits_sh_t *lsh, size_t size, int64_t now_ms);
static ngx_int_t ngx_http_llm_route_limit_idle(
    ngx_http_llm_route_limit_node_t *ln, int64_t now_ms);
static void ngx_http_llm_route_limits_recount(
    ngx_http_llm_route_limits_sh_t *lsh);
static void ngx_http_llm_route_limit_period(
    ngx_http_llm_route_limit_node_t *ln, time_t now);
static void ngx_http_llm_route_limits_release(
    ngx_http_llm_route_limits_req_t *st, uint64_t cost, uint64_t tokens);
static void ngx_http_llm_route_limits_cleanup(void *data);
static ngx_int_t ngx_http_llm_route_limits_unique(ngx_http_request_t *r,
    ngx_array_t *a, size_t size);
static int ngx_libc_cdecl ngx_http_llm_route_name_cmp(const void *a,
    const void *b);
static ngx_int_t ngx_http_llm_route_limits_names(ngx_http_request_t *r,
    ngx_array_t *a, ngx_uint_t kind);
static ngx_int_t ngx_http_llm_route_ratelimit_headers(ngx_http_request_t *r,
    llr_ratelimit_t *h, ngx_uint_t kind);
static ngx_int_t ngx_http_llm_route_limit_header(ngx_http_request_t *r,
    const char *name, u_char *value, size_t len);
static void ngx_http_llm_route_limit_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);


/* ---- directives --------------------------------------------------------- */


static char *
ngx_http_llm_route_limit_key(ngx_conf_t *cf, ngx_http_llm_route_limit_t *l,
    ngx_str_t *value)
{
    ngx_http_compile_complex_value_t   ccv;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = &l->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    l->file = cf->conf_file->file.name;
    l->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


char *
ngx_http_llm_route_budget(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_loc_conf_t *lcf = conf;

    u_char                      kind;
    ngx_str_t                  *value, s;
    ngx_uint_t                  i;
    const char                 *err;
    ngx_http_llm_route_limit_t *l;

    value = cf->args->elts;

    if (lcf->budgets == NULL) {
        lcf->budgets = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_llm_route_limit_t));
        if (lcf->budgets == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    l = ngx_array_push(lcf->budgets);
    if (l == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(l, sizeof(ngx_http_llm_route_limit_t));

    l->kind = NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET;
    l->period = LLR_PERIOD_DAY;

    if (ngx_http_llm_route_limit_key(cf, l, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    s = value[2];

    if (s.len && s.data[0] == '$') {
        /* "$5" reads naturally but nginx would take it as a variable */
        s.data++;
        s.len--;
    }

    if (llr_parse_decimal((char *) s.data, s.len, 12, UINT64_MAX, &l->limit,
                          &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid limit \"%V\" in \"%V\": %s (a USD "
                           "amount such as 5 or 0.25, at most 12 decimals)",
                           &value[2], &cmd->name, err);
        return NGX_CONF_ERROR;
    }

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "period=", 7) == 0
            && llr_period_parse((char *) value[i].data + 7, value[i].len - 7,
                                &l->period)
               == 0)
        {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\", expected "
                           "period=minute|hour|day|week|month|total",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    kind = NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET;
    l->ident = llr_fnv1a64(LLR_FNV1A64_INIT, &kind, 1);
    l->ident = llr_fnv1a64(l->ident, value[1].data, value[1].len);
    l->ident = llr_fnv1a64(l->ident, &l->period, sizeof(l->period));

    return NGX_CONF_OK;
}


char *
ngx_http_llm_route_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_loc_conf_t *lcf = conf;

    u_char                      kind;
    uint64_t                   *n;
    ngx_str_t                  *value;
    ngx_uint_t                  i, skip;
    const char                 *err;
    ngx_http_llm_route_limit_t *l;

    value = cf->args->elts;

    if (lcf->rates == NULL) {
        lcf->rates = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_llm_route_limit_t));
        if (lcf->rates == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    l = ngx_array_push(lcf->rates);
    if (l == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(l, sizeof(ngx_http_llm_route_limit_t));

    l->kind = NGX_HTTP_LLM_ROUTE_LIMIT_RATE;

    if (ngx_http_llm_route_limit_key(cf, l, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "rpm=", 4) == 0) {
            n = &l->rpm;
            skip = 4;

        } else if (ngx_strncmp(value[i].data, "tpm=", 4) == 0) {
            n = &l->tpm;
            skip = 4;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\", "
                               "expected rpm=N or tpm=N",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (*n) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate parameter \"%V\" in \"%V\"",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        err = NULL;

        if (llr_parse_uint((char *) value[i].data + skip, value[i].len - skip,
                           (uint64_t) 1 << 40, n, &err)
            != 0
            || *n == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\": %s",
                               &value[i], &cmd->name,
                               *n == 0 && err == NULL ? "must be positive"
                                                      : err);
            return NGX_CONF_ERROR;
        }
    }

    if (l->rpm == 0 && l->tpm == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs rpm=N, tpm=N or both", &cmd->name);
        return NGX_CONF_ERROR;
    }

    kind = NGX_HTTP_LLM_ROUTE_LIMIT_RATE;
    l->ident = llr_fnv1a64(LLR_FNV1A64_INIT, &kind, 1);
    l->ident = llr_fnv1a64(l->ident, value[1].data, value[1].len);
    l->ident = llr_fnv1a64(l->ident, &l->rpm, sizeof(uint64_t));
    l->ident = llr_fnv1a64(l->ident, &l->tpm, sizeof(uint64_t));

    return NGX_CONF_OK;
}


/* from merge_loc_conf: a level's lists replace its parent's */

char *
ngx_http_llm_route_limits_merge(ngx_conf_t *cf,
    ngx_http_llm_route_loc_conf_t *prev, ngx_http_llm_route_loc_conf_t *conf)
{
    ngx_array_t                     *a;
    ngx_uint_t                       k;
    ngx_http_llm_route_limit_t      *l;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (conf->budgets == NULL) {
        conf->budgets = prev->budgets;
    }

    if (conf->rates == NULL) {
        conf->rates = prev->rates;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module);

    if (mcf->shm_zone) {
        return NGX_CONF_OK;
    }

    for (k = 0; k < 2; k++) {
        a = k ? conf->rates : conf->budgets;

        if (a == NULL || a->nelts == 0) {
            continue;
        }

        l = a->elts;

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" in %V:%ui needs \"llm_route_zone\" in the "
                      "http{} block",
                      k ? "llm_route_rate" : "llm_route_budget",
                      &l[0].file, l[0].line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* ---- the zone ----------------------------------------------------------- */


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

static ngx_http_llm_route_limit_node_t *
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

static void *
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


static ngx_http_llm_route_limit_node_t *
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

static void
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


/* ---- admission ---------------------------------------------------------- */


typedef struct {
    ngx_http_llm_route_limit_t       *limit;
    ngx_str_t                         key;
    ngx_http_llm_route_limit_node_t  *node;
} ngx_http_llm_route_limit_match_t;


ngx_int_t
ngx_http_llm_route_limits_admit(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    u_char                            *p, buf[64];
    size_t                             len;
    time_t                             now, reset;
    int64_t                            now_ms, wait, wait_ms;
    uint64_t                           reserved;
    ngx_str_t                          msg, value;
    ngx_uint_t                         i, j, k, n, status, refused;
    const char                        *type, *code;
    ngx_slab_pool_t                   *shpool;
    ngx_pool_cleanup_t                *cln;
    ngx_http_llm_route_shm_t          *sh;
    ngx_http_llm_route_limit_t        *budgets, *rates;
    ngx_http_llm_route_limits_sh_t    *lsh;
    ngx_http_llm_route_loc_conf_t     *lcf;
    ngx_http_llm_route_main_conf_t    *mcf;
    ngx_http_llm_route_limit_node_t   *ln;
    ngx_http_llm_route_limits_req_t   *st;
    ngx_http_llm_route_limit_match_t  *m;
    ngx_http_llm_route_limit_entry_t  *e;
    ngx_http_llm_route_limit_hold_t   *hold;
    llr_ratelimit_t                    hdr_req, hdr_tok;

    if (ctx->limits) {
        /* admitted once for the whole request, failovers included */
        return NGX_OK;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);

    n = (lcf->budgets ? lcf->budgets->nelts : 0)
        + (lcf->rates ? lcf->rates->nelts : 0);

    if (n == 0) {
        return NGX_OK;
    }

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL || sh->limits == NULL) {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    lsh = sh->limits;
    shpool = (ngx_slab_pool_t *) mcf->shm_zone->shm.addr;

    /* the keys, evaluated before the lock is taken */

    m = ngx_pcalloc(r->pool, n * sizeof(ngx_http_llm_route_limit_match_t));
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    budgets = lcf->budgets ? lcf->budgets->elts : NULL;
    rates = lcf->rates ? lcf->rates->elts : NULL;

    k = n;

    for (i = 0; i < n; i++) {
        m[i].limit = budgets && i < lcf->budgets->nelts
                     ? &budgets[i]
                     : &rates[i - (budgets ? lcf->budgets->nelts : 0)];

        if (ngx_http_complex_value(r, &m[i].limit->key, &m[i].key)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (m[i].key.len > NGX_HTTP_LLM_ROUTE_LIMIT_KEY_MAX) {
            m[i].key.len = llr_utf8_cut(m[i].key.data, m[i].key.len,
                                        NGX_HTTP_LLM_ROUTE_LIMIT_KEY_MAX);
        }

        if (m[i].key.len && k == n) {
            k = i;
        }
    }

    if (k == n) {
        /* every key is empty: nothing limits this request */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm route: limits: every key empty");
        return NGX_OK;
    }

    st = ngx_pcalloc(r->pool, sizeof(ngx_http_llm_route_limits_req_t));
    if (st == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->shpool = shpool;
    st->lsh = lsh;

    now_ms = (int64_t) ngx_http_llm_route_now_ms();
    now = (time_t) (now_ms / 1000);

    refused = 0;
    status = 0;
    wait_ms = -1;
    type = NULL;
    code = NULL;
    ln = NULL;

    ngx_memzero(&hdr_req, sizeof(llr_ratelimit_t));
    ngx_memzero(&hdr_tok, sizeof(llr_ratelimit_t));

    ngx_shmtx_lock(&shpool->mutex);

    /*
     * The hold first: whatever is reserved from here on is written in
     * it, so that what a worker killed at any point of the admission has
     * reserved can be recounted (ngx_http_llm_route_limits_recover()).
     * A request whose reservations could not be recovered is not
     * admitted: no room for the hold is a full zone, as for a new key.
     */

    hold = ngx_http_llm_route_limit_alloc(shpool, lsh,
                          offsetof(ngx_http_llm_route_limit_hold_t, entries)
                          + n * sizeof(ngx_http_llm_route_limit_entry_t),
                          now_ms);

    if (hold == NULL) {
        refused = 1;
        status = NGX_HTTP_SERVICE_UNAVAILABLE;
        lsh->full++;
        i = k;
        goto locked_done;
    }

    hold->pid = ngx_pid;
    hold->n = 0;
    hold->settled = 0;
    hold->admitted = 0;
    ngx_queue_insert_head(&lsh->holds, &hold->queue);

    st->hold = hold;

    for (i = 0; i < n; i++) {

        if (m[i].key.len == 0) {
            /* an empty key is not limited */
            continue;
        }

        ln = ngx_http_llm_route_limit_lookup(lsh, m[i].limit->ident,
                                             &m[i].key);

        if (ln == NULL) {
            ln = ngx_http_llm_route_limit_create(shpool, lsh,
                                                 m[i].limit->kind,
                                                 m[i].limit->ident,
                                                 &m[i].key, now_ms);
            if (ln == NULL) {
                refused = 1;
                status = NGX_HTTP_SERVICE_UNAVAILABLE;
                lsh->full++;
                break;
            }

        } else {
            ngx_queue_remove(&ln->queue);
            ngx_queue_insert_head(&lsh->queue, &ln->queue);
        }

        m[i].node = ln;
        ln->last = now;

        /* the same node twice in one request: reserved once */

        for (j = 0; j < i; j++) {
            if (m[j].node == ln) {
                break;
            }
        }

        if (m[i].limit->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
            ln->period = (uint32_t) m[i].limit->period;
            ln->limit = m[i].limit->limit;

            ngx_http_llm_route_limit_period(ln, now);

            reserved = ln->reserved;

            if (j < i) {
                reserved -= ngx_min(reserved, ctx->est.cost);
            }

            if (!llr_budget_admit(ln->spent, reserved, ln->limit)) {
                refused = 1;
                status = NGX_HTTP_TOO_MANY_REQUESTS;
                type = "insufficient_quota";
                code = "budget_exceeded";
                ln->rejected++;

                reset = (time_t) llr_period_next(
                                     (llr_period_e) ln->period,
                                     ln->period_start);
                wait_ms = reset ? (int64_t) (reset - now) * 1000 : -1;
                break;
            }

            if (j < i) {
                continue;
            }

            e = &hold->entries[hold->n++];
            e->node = ln;
            e->est = ctx->est.cost;
            e->tpm = 0;

            ln->reserved = llr_add_sat(ln->reserved, ctx->est.cost);
            ln->inflight++;

            continue;
        }

        /* a rate limit */

        if (j < i) {
            /* the same directive again: counted once */
            continue;
        }

        ln->rpm = m[i].limit->rpm;
        ln->tpm = m[i].limit->tpm;

        if (ln->rpm) {
            wait = llr_window_admit(&ln->req, now_ms, ln->rpm, 1);

            if (wait != 0) {
                refused = 1;
                status = NGX_HTTP_TOO_MANY_REQUESTS;
                type = "requests";
                code = "rate_limit_exceeded";
                wait_ms = wait;
            }
        }

        if (!refused && ln->tpm) {
            wait = llr_window_admit(&ln->tok, now_ms, ln->tpm,
                                    ctx->est.tokens);

            if (wait != 0) {
                if (ln->rpm) {
                    /* undo the request just counted */
                    ln->req.cur--;
                }

                refused = 1;
                status = NGX_HTTP_TOO_MANY_REQUESTS;
                type = "tokens";
                code = "rate_limit_exceeded";
                wait_ms = wait;
            }
        }

        /* the headers: the tightest of the limits that apply */

        if (ln->rpm) {
            llr_ratelimit_note(&hdr_req, ln->rpm, &ln->req, now_ms);
        }

        if (ln->tpm) {
            llr_ratelimit_note(&hdr_tok, ln->tpm, &ln->tok, now_ms);
        }

        if (refused) {
            ln->rejected++;
            break;
        }

        e = &hold->entries[hold->n++];
        e->node = ln;
        e->tpm = 0;
        e->est = 0;

        if (ln->tpm) {
            e->tpm = 1;
            e->est = ctx->est.tokens;
            e->tok_start = ln->tok.start;
        }

        ln->inflight++;
    }

    if (refused) {
        /*
         * nothing of this request is kept (m[i] is the limit that
         * refused it, for the message)
         */

        for (j = 0; j < hold->n; j++) {
            e = &hold->entries[j];
            ln = e->node;

            ln->inflight--;

            if (ln->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
                ln->reserved -= ngx_min(ln->reserved, e->est);
                continue;
            }

            if (ln->rpm && ln->req.cur) {
                ln->req.cur--;
            }

            if (e->tpm && ln->tok.start == e->tok_start) {
                ln->tok.cur -= ngx_min(ln->tok.cur, e->est);
            }
        }

        ngx_queue_remove(&hold->queue);
        ngx_slab_free_locked(shpool, hold);
        st->hold = NULL;

    } else {
        /* complete: a dead worker's successor charges it (recover) */
        ngx_memory_barrier();
        hold->admitted = 1;
    }

locked_done:

    ngx_shmtx_unlock(&shpool->mutex);

    /* OpenAI's headers, on admitted requests and on 429s alike */

    if (ngx_http_llm_route_ratelimit_headers(r, &hdr_req, 0) != NGX_OK
        || ngx_http_llm_route_ratelimit_headers(r, &hdr_tok, 1) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!refused) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            ngx_http_llm_route_limits_release(st, 0, 0);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_llm_route_limits_cleanup;
        cln->data = st;

        ctx->limits = st;

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm route: limits: admitted on %ui count(s), "
                       "est %uL pUSD, %uL tokens",
                       hold->n, ctx->est.cost, ctx->est.tokens);

        return NGX_OK;
    }

    /* refused: not routed, so nothing is accounted for it */

    ctx->routed = 0;

    msg.len = 256 + m[i].key.len;
    msg.data = ngx_pnalloc(r->pool, msg.len);
    if (msg.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value = m[i].key;

    value.len = llr_utf8_cut(value.data, value.len, 64);

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "llm_route_zone \"%V\" is too full to track the "
                      "key \"%V\" of \"%s\" in %V:%ui, request refused: "
                      "make the zone larger",
                      &mcf->shm_zone->shm.name,
                      &value,
                      m[i].limit->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET
                      ? "llm_route_budget" : "llm_route_rate",
                      &m[i].limit->file, m[i].limit->line);

        p = ngx_slprintf(msg.data, msg.data + msg.len,
                         "The router cannot track more budget or rate "
                         "limit keys right now; retry later.");
        type = "server_error";
        code = "limits_zone_full";
        wait_ms = 1000;

    } else if (m[i].limit->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
        p = ngx_slprintf(msg.data, msg.data + msg.len,
                         "You exceeded your current quota: the %s budget "
                         "of ", llr_period_name(m[i].limit->period));
        len = llr_format_usd_exact((char *) buf, sizeof(buf),
                                   m[i].limit->limit, 2);
        p = ngx_slprintf(p, msg.data + msg.len, "$%*s for \"%V\" is spent",
                         len, buf, &value);

        if (wait_ms >= 0) {
            len = llr_format_iso8601((char *) buf, sizeof(buf),
                                     (int64_t) (now + wait_ms / 1000));
            p = ngx_slprintf(p, msg.data + msg.len, "; it resets at %*s.",
                             len, buf);

        } else {
            p = ngx_slprintf(p, msg.data + msg.len, " (it never resets).");
        }

    } else if (wait_ms < 0) {
        p = ngx_slprintf(msg.data, msg.data + msg.len,
                         "Request too large for \"%V\" on tokens per min "
                         "(TPM): Limit %uL, Requested %uL.",
                         &value, m[i].limit->tpm, ctx->est.tokens);

    } else {
        p = ngx_slprintf(msg.data, msg.data + msg.len,
                         "Rate limit reached for \"%V\" on %s per min "
                         "(%s): Limit %uL. Please try again in %uLms.",
                         &value, type,
                         type[0] == 'r' ? "RPM" : "TPM",
                         type[0] == 'r' ? m[i].limit->rpm : m[i].limit->tpm,
                         (uint64_t) wait_ms);
    }

    msg.len = p - msg.data;

    if (status == NGX_HTTP_TOO_MANY_REQUESTS
        && (m[i].limit->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET
            || wait_ms < 0))
    {
        /*
         * a spent budget, or a request larger than its tpm: retrying
         * soon cannot help.  SDKs that read this header (openai-node,
         * openai-python) raise at once instead of sleeping until the
         * Retry-After, which may be hours away (docs/budgets.md).
         */

        if (ngx_http_llm_route_limit_header(r, "x-should-retry",
                                            (u_char *) "false", 5)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (wait_ms >= 0) {
        /* whole seconds, rounded up */
        p = ngx_sprintf(buf, "%L", (wait_ms + 999) / 1000);

        if (ngx_http_llm_route_limit_header(r, "Retry-After", buf, p - buf)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "llm route: %V", &msg);

    return ngx_http_llm_route_refuse(r, status, type, NULL, code, &msg);
}


/* x-ratelimit-{limit,remaining,reset}-{requests,tokens} (kind 0, 1) */

static ngx_int_t
ngx_http_llm_route_ratelimit_headers(ngx_http_request_t *r,
    llr_ratelimit_t *h, ngx_uint_t kind)
{
    u_char      *p, buf[64];
    size_t       len;
    ngx_int_t    rc;

    static const char  *names[2][3] = {
        { "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
          "x-ratelimit-reset-requests" },
        { "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
          "x-ratelimit-reset-tokens" }
    };

    if (!h->set) {
        return NGX_OK;
    }

    p = ngx_sprintf(buf, "%uL", h->limit);
    rc = ngx_http_llm_route_limit_header(r, names[kind][0], buf, p - buf);

    p = ngx_sprintf(buf, "%uL", h->remaining);
    rc |= ngx_http_llm_route_limit_header(r, names[kind][1], buf, p - buf);

    len = llr_format_duration((char *) buf, sizeof(buf), h->reset_ms);
    rc |= ngx_http_llm_route_limit_header(r, names[kind][2], buf, len);

    return rc == NGX_OK ? NGX_OK : NGX_ERROR;
}


/* a header whose value is copied into the request's pool */

static ngx_int_t
ngx_http_llm_route_limit_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_str_t  v;

    v.data = ngx_pnalloc(r->pool, len);
    if (v.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(v.data, value, len);
    v.len = len;

    return ngx_http_llm_route_add_header(r, name, &v);
}


/* ---- settlement --------------------------------------------------------- */


void
ngx_http_llm_route_limits_settle(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    uint64_t                          cost, tokens;
    ngx_http_llm_route_limits_req_t  *st;

    st = ctx->limits;

    if (st == NULL || st->settled) {
        return;
    }

    if (ctx->exhausted || !ctx->accounted) {
        /* every attempt failed, or nothing was answered: nothing to pay */
        cost = 0;
        tokens = 0;

    } else {
        cost = ctx->acc.cost;
        tokens = llr_add_sat(ctx->acc.prompt_tokens,
                             ctx->acc.completion_tokens);
    }

    ngx_http_llm_route_limits_release(st, cost, tokens);
}


/* a request that ended without its log phase: its reservations go */

static void
ngx_http_llm_route_limits_cleanup(void *data)
{
    ngx_http_llm_route_limits_req_t  *st = data;

    if (!st->settled) {
        ngx_http_llm_route_limits_release(st, 0, 0);
    }
}


static void
ngx_http_llm_route_limits_release(ngx_http_llm_route_limits_req_t *st,
    uint64_t cost, uint64_t tokens)
{
    int64_t                            now_ms;
    ngx_uint_t                         i;
    ngx_http_llm_route_limit_node_t   *ln;
    ngx_http_llm_route_limit_hold_t   *hold;
    ngx_http_llm_route_limit_entry_t  *e;

    st->settled = 1;
    hold = st->hold;

    if (hold == NULL) {
        return;
    }

    now_ms = (int64_t) ngx_http_llm_route_now_ms();

    ngx_shmtx_lock(&st->shpool->mutex);

    for (i = 0; i < hold->n; i++) {
        e = &hold->entries[i];
        ln = e->node;

        if (ln->inflight) {
            ln->inflight--;
        }

        if (ln->kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
            ln->reserved -= ngx_min(ln->reserved, e->est);

            /* charged to the period in progress now */
            ngx_http_llm_route_limit_period(ln, (time_t) (now_ms / 1000));
            ln->spent = llr_add_sat(ln->spent, cost);

        } else if (e->tpm) {
            llr_window_correct(&ln->tok, now_ms, e->tok_start, e->est,
                               tokens);
        }

        /* charged: not again by recover() if this worker dies now */
        ngx_memory_barrier();
        hold->settled = i + 1;
    }

    ngx_queue_remove(&hold->queue);
    ngx_slab_free_locked(st->shpool, hold);
    st->hold = NULL;

    ngx_shmtx_unlock(&st->shpool->mutex);
}


/*
 * A worker starts (zone.c): the holds of workers that are gone are
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
                      "llm route: released the budget and rate "
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


/* ---- status ------------------------------------------------------------- */


/*
 * The names status shows, for a copy sorted by key: the key, or
 * "key/LIMITS" when several counts share the key (LIMITS: the period of
 * a budget; "rpm=N", "tpm=N" or "rpm=N,tpm=N" of a rate limit), and
 * "key/LIMITS/N" when even that is ambiguous.
 */

static ngx_int_t
ngx_http_llm_route_limits_names(ngx_http_request_t *r, ngx_array_t *a,
    ngx_uint_t kind)
{
    u_char                            *p;
    ngx_str_t                         *key, *other, *name;
    ngx_uint_t                         i, k, n, dup;
    ngx_http_llm_route_rate_info_t    *ri;
    ngx_http_llm_route_budget_info_t  *bi;

    bi = a->elts;
    ri = a->elts;

#define ngx_http_llm_route_info_key(n)                                       \
    (kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET ? &bi[n].key : &ri[n].key)

    for (i = 0; i < a->nelts; i = k) {

        key = ngx_http_llm_route_info_key(i);
        dup = 0;

        for (k = i + 1; k < a->nelts; k++) {
            other = ngx_http_llm_route_info_key(k);

            if (other->len != key->len
                || ngx_memcmp(other->data, key->data, key->len) != 0)
            {
                break;
            }

            if (kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET
                ? bi[k].period == bi[k - 1].period
                : ri[k].rpm == ri[k - 1].rpm && ri[k].tpm == ri[k - 1].tpm)
            {
                dup = 1;
            }
        }

        if (k == i + 1) {
            continue;
        }

        for (n = i; n < k; n++) {
            key = ngx_http_llm_route_info_key(n);
            name = (kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) ? &bi[n].name
                                                             : &ri[n].name;

            p = ngx_pnalloc(r->pool, key->len + 80);
            if (p == NULL) {
                return NGX_ERROR;
            }

            name->data = p;
            p = ngx_sprintf(p, "%V/", key);

            if (kind == NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET) {
                p = ngx_sprintf(p, "%s",
                                llr_period_name((llr_period_e) bi[n].period));

            } else {
                if (ri[n].rpm) {
                    p = ngx_sprintf(p, "rpm=%uL%s", ri[n].rpm,
                                    ri[n].tpm ? "," : "");
                }

                if (ri[n].tpm) {
                    p = ngx_sprintf(p, "tpm=%uL", ri[n].tpm);
                }
            }

            if (dup) {
                p = ngx_sprintf(p, "/%ui", n - i + 1);
            }

            name->len = p - name->data;
        }
    }

#undef ngx_http_llm_route_info_key

    return NGX_OK;
}


/*
 * A copy of the nodes of one kind (budget or rate), taken under the slab
 * mutex: each entry's key, its name (set by ngx_http_llm_route_limits_
 * names() after sorting with cmp), and the rest filled in by fill.  The
 * entries (budget_info_t, rate_info_t) begin with key and name.
 */

typedef void (*ngx_http_llm_route_limit_fill_pt)(void *info,
    ngx_http_llm_route_limit_node_t *ln);


static ngx_array_t *
ngx_http_llm_route_limits_copy(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t kind, size_t size,
    ngx_http_llm_route_limit_fill_pt fill,
    int (ngx_libc_cdecl *cmp)(const void *, const void *))
{
    u_char                           *p;
    ngx_str_t                        *key;
    ngx_array_t                      *a;
    ngx_queue_t                      *q;
    ngx_slab_pool_t                  *shpool;
    ngx_http_llm_route_limits_sh_t   *lsh;
    ngx_http_llm_route_limit_node_t  *ln;
    ngx_http_llm_route_main_conf_t   *mcf;

    a = ngx_array_create(r->pool, 8, size);
    if (a == NULL) {
        return NULL;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    if (sh == NULL || sh->limits == NULL || mcf->shm_zone == NULL) {
        return a;
    }

    lsh = sh->limits;
    shpool = (ngx_slab_pool_t *) mcf->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&lsh->queue);
         q != ngx_queue_sentinel(&lsh->queue);
         q = ngx_queue_next(q))
    {
        ln = ngx_queue_data(q, ngx_http_llm_route_limit_node_t, queue);

        if (ln->kind != kind) {
            continue;
        }

        key = ngx_array_push(a);
        if (key == NULL) {
            break;
        }

        p = ngx_pnalloc(r->pool, ln->len + 1);
        if (p == NULL) {
            a->nelts--;
            break;
        }

        ngx_memcpy(p, ln->key, ln->len);

        key[0].data = p;
        key[0].len = ln->len;
        key[1] = key[0];            /* the name, until names() */

        fill(key, ln);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (a->nelts == 0) {
        return a;
    }

    ngx_qsort(a->elts, a->nelts, size, cmp);

    if (ngx_http_llm_route_limits_names(r, a, kind) != NGX_OK
        || ngx_http_llm_route_limits_unique(r, a, size) != NGX_OK)
    {
        return NULL;
    }

    return a;
}


static int ngx_libc_cdecl
ngx_http_llm_route_name_cmp(const void *a, const void *b)
{
    ngx_str_t  *x = *(ngx_str_t **) a, *y = *(ngx_str_t **) b;
    ngx_int_t   rc;

    rc = ngx_memn2cmp(x->data, y->data, x->len, y->len);

    if (rc) {
        return (int) rc;
    }

    /* equal names: in the order of the entries, which is a fixed one */
    return (x < y) ? -1 : (x > y);
}


/*
 * The names unique across keys too: a client's key may be another key's
 * "key/LIMITS" name, or even "key/LIMITS/#2".  In name order, the second
 * and later of equal names get "/#2", "/#3"..., skipping any number that
 * would make a name some other entry has or was given: every name given
 * is checked against all of them, so they are unique whatever the keys.
 */

static ngx_int_t
ngx_http_llm_route_limits_unique(ngx_http_request_t *r, ngx_array_t *a,
    size_t size)
{
    u_char            *p;
    uint32_t           hash;
    ngx_str_t        **v, *first, name;
    ngx_uint_t         i, k;
    ngx_rbtree_t       taken;
    ngx_str_node_t    *sn;
    ngx_rbtree_node_t  sentinel;

    if (a->nelts < 2) {
        return NGX_OK;
    }

    v = ngx_palloc(r->pool, a->nelts * sizeof(ngx_str_t *));
    sn = ngx_palloc(r->pool, 2 * a->nelts * sizeof(ngx_str_node_t));

    if (v == NULL || sn == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < a->nelts; i++) {
        /* an entry begins with its key, then its name */
        v[i] = (ngx_str_t *) ((u_char *) a->elts + i * size) + 1;
    }

    ngx_qsort(v, a->nelts, sizeof(ngx_str_t *), ngx_http_llm_route_name_cmp);

    /* every name as it is */

    ngx_rbtree_init(&taken, &sentinel, ngx_str_rbtree_insert_value);

    for (i = 0; i < a->nelts; i++) {
        sn->str = *v[i];
        sn->node.key = ngx_crc32_long(v[i]->data, v[i]->len);

        if (ngx_str_rbtree_lookup(&taken, &sn->str, sn->node.key) == NULL) {
            ngx_rbtree_insert(&taken, &sn->node);
            sn++;
        }
    }

    /* the later ones of equal names: the first free "/#k" */

    first = v[0];
    k = 1;

    for (i = 1; i < a->nelts; i++) {

        if (v[i]->len != first->len
            || ngx_memcmp(v[i]->data, first->data, first->len) != 0)
        {
            first = v[i];
            k = 1;
            continue;
        }

        p = ngx_pnalloc(r->pool, first->len + 2 + NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        name.data = p;

        do {
            name.len = ngx_sprintf(p, "%V/#%ui", first, ++k) - p;
            hash = ngx_crc32_long(name.data, name.len);

        } while (ngx_str_rbtree_lookup(&taken, &name, hash) != NULL);

        *v[i] = name;

        sn->str = name;
        sn->node.key = hash;
        ngx_rbtree_insert(&taken, &sn->node);
        sn++;
    }

    return NGX_OK;
}


/*
 * A copy of the budget nodes, sorted by key, period, limit, then the
 * directive (so that the order holds from one read to the next), with
 * the name status shows: the key, or "key/period" when several budgets
 * share the key, or "key/period/N" when even that is ambiguous.
 */

static int ngx_libc_cdecl
ngx_http_llm_route_limit_cmp(const void *a, const void *b)
{
    const ngx_http_llm_route_budget_info_t  *x = a, *y = b;
    ngx_int_t                                rc;

    rc = ngx_memn2cmp(x->key.data, y->key.data, x->key.len, y->key.len);

    if (rc) {
        return (int) rc;
    }

    if (x->period != y->period) {
        return (int) x->period - (int) y->period;
    }

    if (x->limit != y->limit) {
        return x->limit < y->limit ? -1 : 1;
    }

    if (x->ident != y->ident) {
        return x->ident < y->ident ? -1 : 1;
    }

    return 0;
}


/* what a budget node shows, copied under the slab mutex */

static void
ngx_http_llm_route_budget_fill(void *info,
    ngx_http_llm_route_limit_node_t *ln)
{
    ngx_http_llm_route_budget_info_t  *bi = info;

    ngx_http_llm_route_limit_period(ln, ngx_time());

    bi->ident = ln->ident;
    bi->period = ln->period;
    bi->limit = ln->limit;
    bi->spent = ln->spent;
    bi->reserved = ln->reserved;
    bi->rejected = ln->rejected;
    bi->inflight = ln->inflight;
    bi->resets_at = (time_t) llr_period_next((llr_period_e) ln->period,
                                             ln->period_start);
}


ngx_array_t *
ngx_http_llm_route_limits_budgets(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh)
{
    return ngx_http_llm_route_limits_copy(r, sh,
               NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET,
               sizeof(ngx_http_llm_route_budget_info_t),
               ngx_http_llm_route_budget_fill, ngx_http_llm_route_limit_cmp);
}


/*
 * A copy of the rate nodes, sorted by key, rpm, tpm, then the directive,
 * with the name status shows: the key, or "key/rpm=N", "key/tpm=N",
 * "key/rpm=N,tpm=N" when several rate limits share the key, and ".../N"
 * when even that is ambiguous (two key expressions with the same limits).
 * requests and tokens are the windows' usage now, as admission sees it.
 */

static int ngx_libc_cdecl
ngx_http_llm_route_rate_cmp(const void *a, const void *b)
{
    const ngx_http_llm_route_rate_info_t  *x = a, *y = b;
    ngx_int_t                              rc;

    rc = ngx_memn2cmp(x->key.data, y->key.data, x->key.len, y->key.len);

    if (rc) {
        return (int) rc;
    }

    if (x->rpm != y->rpm) {
        return x->rpm < y->rpm ? -1 : 1;
    }

    if (x->tpm != y->tpm) {
        return x->tpm < y->tpm ? -1 : 1;
    }

    if (x->ident != y->ident) {
        return x->ident < y->ident ? -1 : 1;
    }

    return 0;
}


/* what a rate node shows: the windows as admission would see them now */

static void
ngx_http_llm_route_rate_fill(void *info, ngx_http_llm_route_limit_node_t *ln)
{
    int64_t                          now_ms;
    llr_window_t                     req, tok;
    ngx_http_llm_route_rate_info_t  *ri = info;

    /* on copies: a listing does not advance the shared windows */

    now_ms = (int64_t) ngx_http_llm_route_now_ms();
    req = ln->req;
    tok = ln->tok;
    llr_window_advance(&req, now_ms);
    llr_window_advance(&tok, now_ms);

    ri->ident = ln->ident;
    ri->rpm = ln->rpm;
    ri->tpm = ln->tpm;
    ri->requests = llr_window_usage(&req, now_ms);
    ri->tokens = llr_window_usage(&tok, now_ms);
    ri->rejected = ln->rejected;
}


ngx_array_t *
ngx_http_llm_route_limits_rates(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh)
{
    return ngx_http_llm_route_limits_copy(r, sh,
               NGX_HTTP_LLM_ROUTE_LIMIT_RATE,
               sizeof(ngx_http_llm_route_rate_info_t),
               ngx_http_llm_route_rate_fill, ngx_http_llm_route_rate_cmp);
}


/* ---- the state file ----------------------------------------------------- */


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
                          "llm_route_zone \"%V\": no room for the budget of "
                          "\"%V\" from the state file: its spend is lost",
                          &shm_zone->shm.name, &key);
        }
    }

    if (p != end) {
        return NGX_ERROR;
    }

    return loaded;
}
