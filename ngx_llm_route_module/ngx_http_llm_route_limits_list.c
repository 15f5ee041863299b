
/*
 * ngx_llm_route_module: the budgets and rate limits, as the status lists
 * them.
 *
 * A copy of the nodes of one kind, taken under the slab mutex (briefly,
 * into the request's pool), sorted, then named: the key, or the key and
 * its limits when several counts share a key, every name unique.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_limits_list.h"
#include "ngx_http_llm_route_limits_shm.h"


/* what an entry shows of a node, filled in under the slab mutex */
typedef void (*ngx_http_llm_route_limit_fill_pt)(void *info,
    ngx_http_llm_route_limit_node_t *ln);


static ngx_array_t *ngx_http_llm_route_limits_copy(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t kind, size_t size,
    ngx_http_llm_route_limit_fill_pt fill,
    int (ngx_libc_cdecl *cmp)(const void *, const void *));
static ngx_int_t ngx_http_llm_route_limits_names(ngx_http_request_t *r,
    ngx_array_t *a, ngx_uint_t kind);
static ngx_int_t ngx_http_llm_route_limits_unique(ngx_http_request_t *r,
    ngx_array_t *a, size_t size);
static int ngx_libc_cdecl ngx_http_llm_route_name_cmp(const void *a,
    const void *b);
static int ngx_libc_cdecl ngx_http_llm_route_limit_cmp(const void *a,
    const void *b);
static void ngx_http_llm_route_budget_fill(void *info,
    ngx_http_llm_route_limit_node_t *ln);
static int ngx_libc_cdecl ngx_http_llm_route_rate_cmp(const void *a,
    const void *b);
static void ngx_http_llm_route_rate_fill(void *info,
    ngx_http_llm_route_limit_node_t *ln);


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
