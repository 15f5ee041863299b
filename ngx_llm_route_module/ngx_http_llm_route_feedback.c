
/*
 * ngx_llm_route_module: feedback on routed answers.
 *
 *     llm_route_feedback_ring number [ttl=time];    (http)
 *     location = /v1/feedback { llm_route_feedback; }
 *
 * Every routed answer carries an id, X-LLM-Route-Id (and
 * $llm_route_id): nginx's $request_id.  Its decision (the zone slots of
 * its model and task) goes into a ring of the last `number` decisions in
 * the zone (core/llr_fbring) in the log phase.  POST {"id": "...",
 * "score": -1..1} to a llm_route_feedback location finds the decision
 * (404 if unknown or older than ttl) and adds the score to the feedback
 * counters of its model, task, model x task and the totals; a second
 * score for the same id replaces the first.  The ring is used under the
 * zone's slab mutex (O(1) per call); the counters are atomics, so
 * concurrent scores from several workers add up exactly.  The request's
 * text is never kept: the ring holds ids, slot numbers and times.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_fbreq.h"
#include "llr_fbring.h"
#include "llr_qstat.h"
#include "ngx_http_llm_route_feedback.h"
#include "ngx_http_llm_route_body.h"
#include "ngx_http_llm_route_reply.h"
#include "ngx_http_llm_route_signal.h"
#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_drift.h"


#define NGX_HTTP_LLM_ROUTE_FB_DEFAULT   1024
#define NGX_HTTP_LLM_ROUTE_FB_TTL       3600000    /* ms */
#define NGX_HTTP_LLM_ROUTE_FB_MAX       1048576

/* the newest decisions in the state file: 27 MB, under its 64 MB */
#define NGX_HTTP_LLM_ROUTE_FB_STATE_MAX 65536


static ngx_int_t ngx_http_llm_route_feedback_handler(ngx_http_request_t *r);
static void ngx_http_llm_route_feedback_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route_feedback_score(ngx_http_request_t *r,
    llr_fb_req_t *req);
static void ngx_http_llm_route_feedback_count(ngx_http_llm_route_shm_t *sh,
    ngx_int_t slot, int32_t old, int32_t score);
static ngx_int_t ngx_http_llm_route_feedback_pair(
    ngx_http_llm_route_shm_t *sh, llr_fb_decision_t *d);
static ngx_slab_pool_t *ngx_http_llm_route_feedback_pool(
    ngx_http_request_t *r);
#if (NGX_OPENSSL)
static ngx_int_t ngx_http_llm_route_request_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v);
#endif


#if (NGX_OPENSSL)

/*
 * The random bytes of $request_id, drawn from OpenSSL for 64 ids at a
 * time: one RAND_bytes() costs about 7,000 instructions, for 16 bytes
 * as for a kilobyte.  Per process: the pid that drew them is checked
 * (a worker never uses bytes drawn before a fork).
 */

#define NGX_HTTP_LLM_ROUTE_IDS         64

static u_char      ngx_http_llm_route_ids[16 * NGX_HTTP_LLM_ROUTE_IDS];
static ngx_uint_t  ngx_http_llm_route_ids_next = NGX_HTTP_LLM_ROUTE_IDS;
static ngx_pid_t   ngx_http_llm_route_ids_pid = -1;

#endif


/* a slot's or an arm's name in the state file; name_len 0: none */
typedef struct {
    uint32_t                        kind;
    uint32_t                        name_len;
    u_char                          name[NGX_HTTP_LLM_ROUTE_NAME_LEN];
} ngx_http_llm_route_fb_name_t;

/* a decision in the state file: its entry, its indices by name */
typedef struct {
    llr_fb_entry_t                  e;
    ngx_http_llm_route_fb_name_t    model;
    ngx_http_llm_route_fb_name_t    task;
    ngx_http_llm_route_fb_name_t    arm;
} ngx_http_llm_route_fb_rec_t;


static void ngx_http_llm_route_feedback_name(ngx_http_llm_route_shm_t *sh,
    uint32_t slot, ngx_http_llm_route_fb_name_t *n);
static uint32_t ngx_http_llm_route_feedback_slot(
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_fb_name_t *n);


char *
ngx_http_llm_route_feedback(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_llm_route_loc_conf_t  *lcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_llm_route_feedback_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_llm_route_feedback_handler;

    lcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_llm_route_module);
    lcf->answers = 1;

    if (mcf->feedback_line == 0) {
        mcf->feedback_file = cf->conf_file->file.name;
        mcf->feedback_line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_llm_route_feedback_ring(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_msec_t   ttl;

    if (mcf->feedback_capacity) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1 || n > NGX_HTTP_LLM_ROUTE_FB_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of decisions \"%V\" in "
                           "llm_route_feedback_ring (1 to %d)", &value[1],
                           NGX_HTTP_LLM_ROUTE_FB_MAX);
        return NGX_CONF_ERROR;
    }

    mcf->feedback_capacity = (ngx_uint_t) n;

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "ttl=", 4) != 0) {
            goto invalid;
        }

        s.data = value[2].data + 4;
        s.len = value[2].len - 4;

        ttl = ngx_parse_time(&s, 0);

        if (ttl == (ngx_msec_t) NGX_ERROR || ttl == 0) {
            goto invalid;
        }

        mcf->feedback_ttl = ttl;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in llm_route_feedback_ring",
                       &value[2]);
    return NGX_CONF_ERROR;
}


char *
ngx_http_llm_route_feedback_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    static ngx_str_t  request_id = ngx_string("request_id");

    mcf->request_id_index = ngx_http_get_variable_index(cf, &request_id);

    if (mcf->request_id_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (mcf->feedback_ttl == 0) {
        mcf->feedback_ttl = NGX_HTTP_LLM_ROUTE_FB_TTL;
    }

    if (mcf->feedback_line == 0) {
        /* no llm_route_feedback: no ring, whatever its size */
        mcf->feedback_capacity = 0;
        return NGX_CONF_OK;
    }

    if (mcf->feedback_capacity == 0) {
        mcf->feedback_capacity = NGX_HTTP_LLM_ROUTE_FB_DEFAULT;
    }

    if (mcf->shm_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"llm_route_feedback\" in %V:%ui needs "
                      "\"llm_route_zone\" in the http{} block",
                      &mcf->feedback_file, mcf->feedback_line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llm_route_feedback_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf)
{
    size_t            size;
    uint32_t          cap;
    llr_fb_ring_t    *ring, *old;
    ngx_slab_pool_t  *shpool;

    cap = (uint32_t) mcf->feedback_capacity;

    if (cap == 0) {
        /* kept as it is for a configuration that brings feedback back */
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    old = sh->feedback;

    if (old && old->capacity == cap) {
        old->ttl_ms = mcf->feedback_ttl;
        ngx_shmtx_unlock(&shpool->mutex);
        return NGX_OK;
    }

    size = llr_fb_size(cap);
    ring = ngx_slab_alloc_locked(shpool, size);

    if (ring == NULL) {
        ngx_shmtx_unlock(&shpool->mutex);

        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_route_zone \"%V\" has no room for the feedback "
                      "ring of %ui decisions: it needs %uzk more (or make "
                      "llm_route_feedback_ring smaller)",
                      &shm_zone->shm.name, mcf->feedback_capacity,
                      size / 1024 + 1);
        return NGX_ERROR;
    }

    (void) llr_fb_init(ring, size, cap, mcf->feedback_ttl);

    if (old) {
        /* a new size: the newest decisions that fit are kept */
        llr_fb_copy(ring, old);
        ngx_slab_free_locked(shpool, old);
    }

    sh->feedback = ring;

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


size_t
ngx_http_llm_route_feedback_size(ngx_http_llm_route_main_conf_t *mcf)
{
    if (mcf->feedback_capacity == 0) {
        return 0;
    }

    /* the slab rounds an allocation above a page up to whole pages */
    return ngx_align(llr_fb_size((uint32_t) mcf->feedback_capacity),
                     ngx_pagesize);
}


ngx_str_t *
ngx_http_llm_route_feedback_id(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    ngx_http_variable_value_t       *v;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (ctx->id.len) {
        return &ctx->id;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    v = &r->main->variables[mcf->request_id_index];

#if (NGX_OPENSSL)
    if (!v->valid && !v->not_found
        && ngx_http_llm_route_request_id(r->main, v) != NGX_OK)
#endif
    {
        v = ngx_http_get_indexed_variable(r->main, mcf->request_id_index);
    }

    if (v == NULL || v->not_found || v->len == 0) {
        return NULL;
    }

    ctx->id.data = v->data;
    ctx->id.len = v->len;

    return &ctx->id;
}


#if (NGX_OPENSSL)

/*
 * $request_id as nginx makes it (16 random bytes from OpenSSL, in 32
 * lower-case hex digits), set in the request's variables, where
 * $request_id then finds it
 */

static ngx_int_t
ngx_http_llm_route_request_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v)
{
    u_char  *id, *p;

    if (ngx_http_llm_route_ids_pid != ngx_pid
        || ngx_http_llm_route_ids_next == NGX_HTTP_LLM_ROUTE_IDS)
    {
        if (RAND_bytes(ngx_http_llm_route_ids,
                       sizeof(ngx_http_llm_route_ids))
            != 1)
        {
            /* nginx's own $request_id, with its own fallback */
            ERR_clear_error();
            return NGX_DECLINED;
        }

        ngx_http_llm_route_ids_pid = ngx_pid;
        ngx_http_llm_route_ids_next = 0;
    }

    p = ngx_pnalloc(r->pool, 32);
    if (p == NULL) {
        return NGX_ERROR;
    }

    id = &ngx_http_llm_route_ids[16 * ngx_http_llm_route_ids_next++];

    ngx_hex_dump(p, id, 16);

    /* an id given out is not kept */
    ngx_memzero(id, 16);

    v->len = 32;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: request id \"%v\"", v);

    return NGX_OK;
}

#endif


ngx_int_t
ngx_http_llm_route_feedback_header(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    ngx_str_t  *id;

    id = ngx_http_llm_route_feedback_id(r, ctx);

    if (id == NULL) {
        return NGX_OK;
    }

    return ngx_http_llm_route_add_header(r, "X-LLM-Route-Id", id);
}


void
ngx_http_llm_route_feedback_record(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_record_t *rec)
{
    ngx_int_t                  arm;
    ngx_str_t                 *id, *rid, none;
    ngx_slab_pool_t           *shpool;
    llr_fb_decision_t          d;
    ngx_http_llm_route_shm_t  *sh;

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL || sh->feedback == NULL) {
        return;
    }

    id = ngx_http_llm_route_feedback_id(r, ctx);

    if (id == NULL) {
        return;
    }

    d.model = (uint32_t) rec->model_slot;
    d.task = rec->task_slot >= 0 ? (uint32_t) rec->task_slot : LLR_FB_NONE;
    d.policy = LLR_FB_NONE;
    d.experiment = LLR_FB_NONE;
    d.arm = LLR_FB_NONE;

    arm = ngx_http_llm_route_experiment_slot(ctx);

    if (arm >= 0) {
        /* the arm's entry in the zone names the experiment too */
        d.arm = (uint32_t) arm;
    }

    /* the provider's id too, if the answer was read ("chatcmpl-...") */

    rid = ngx_http_llm_route_signal_answer_id(r, ctx);

    if (rid == NULL) {
        ngx_str_null(&none);
        rid = &none;
    }

    shpool = ngx_http_llm_route_feedback_pool(r);

    ngx_shmtx_lock(&shpool->mutex);
    (void) llr_fb_insert(sh->feedback, id->data, id->len, rid->data,
                         rid->len, &d, ngx_http_llm_route_now_ms());
    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: decision \"%V\" (\"%V\") kept for feedback",
                   id, rid);
}


/* ---- the state file ---------------------------------------------------- */


u_char *
ngx_http_llm_route_feedback_state(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_log_t *log, size_t *size)
{
    u_char                       *buf, *p;
    uint64_t                      n, max, pos, now;
    llr_fb_entry_t                e;
    llr_fb_ring_t                *ring;
    ngx_slab_pool_t              *shpool;
    ngx_http_llm_route_fb_rec_t   rec;

    /* room for a whole ring; only the master makes another, at reload */
    max = sh->feedback ? sh->feedback->capacity : 0;
    max = ngx_min(max, NGX_HTTP_LLM_ROUTE_FB_STATE_MAX);

    buf = ngx_alloc(sizeof(uint64_t) + max * sizeof(rec), log);
    if (buf == NULL) {
        return NULL;
    }

    n = 0;
    p = buf + sizeof(uint64_t);
    now = ngx_http_llm_route_now_ms();
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    ring = sh->feedback;
    pos = (ring && ring->inserted > max) ? ring->inserted - max : 0;

    while (ring && n < max && llr_fb_next(ring, &pos, &e) == LLR_FB_OK) {

        if (now > e.time && now - e.time > ring->ttl_ms) {
            /* expired: unknown after the restart as it is before it */
            continue;
        }

        ngx_memzero(&rec, sizeof(rec));
        rec.e = e;

        ngx_http_llm_route_feedback_name(sh, e.d.model, &rec.model);
        ngx_http_llm_route_feedback_name(sh, e.d.task, &rec.task);

        if (e.d.arm != LLR_FB_NONE && sh->arms && e.d.arm < sh->arms->n) {
            rec.arm.name_len = sh->arms->arm[e.d.arm].name_len;
            ngx_memcpy(rec.arm.name, sh->arms->arm[e.d.arm].name,
                       sizeof(rec.arm.name));
        }

        p = ngx_cpymem(p, &rec, sizeof(rec));
        n++;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_memcpy(buf, &n, sizeof(uint64_t));
    *size = sizeof(uint64_t) + n * sizeof(rec);

    return buf;
}


ssize_t
ngx_http_llm_route_feedback_load(ngx_http_llm_route_shm_t *sh, u_char *p,
    size_t size)
{
    uint64_t                      n, i;
    ngx_uint_t                    arm;
    ngx_http_llm_route_fb_rec_t   rec;

    if (size < sizeof(uint64_t)) {
        return NGX_ERROR;
    }

    ngx_memcpy(&n, p, sizeof(uint64_t));

    if (n > (size - sizeof(uint64_t)) / sizeof(rec)) {
        return NGX_ERROR;
    }

    p += sizeof(uint64_t);

    for (i = 0; i < n; i++, p += sizeof(rec)) {
        ngx_memcpy(&rec, p, sizeof(rec));

        if (rec.model.name_len > NGX_HTTP_LLM_ROUTE_NAME_LEN
            || rec.task.name_len > NGX_HTTP_LLM_ROUTE_NAME_LEN
            || rec.arm.name_len > NGX_HTTP_LLM_ROUTE_NAME_LEN)
        {
            return NGX_ERROR;
        }

        if (sh->feedback == NULL) {
            /* no llm_route_feedback now: the decisions are not kept */
            continue;
        }

        /* the indices of this zone: the slots and arms of the same names */

        rec.e.d.model = ngx_http_llm_route_feedback_slot(sh, &rec.model);
        rec.e.d.task = ngx_http_llm_route_feedback_slot(sh, &rec.task);
        rec.e.d.arm = LLR_FB_NONE;

        if (rec.arm.name_len && sh->arms) {
            arm = ngx_http_llm_route_experiment_find(sh->arms, rec.arm.name,
                                                     rec.arm.name_len);
            if (arm < sh->arms->n) {
                rec.e.d.arm = (uint32_t) arm;
            }
        }

        (void) llr_fb_restore(sh->feedback, &rec.e);
    }

    return (ssize_t) (sizeof(uint64_t) + n * sizeof(rec));
}


static void
ngx_http_llm_route_feedback_name(ngx_http_llm_route_shm_t *sh, uint32_t slot,
    ngx_http_llm_route_fb_name_t *n)
{
    ngx_http_llm_route_slot_t  *s;

    s = (slot == LLR_FB_NONE) ? NULL
                              : ngx_http_llm_route_zone_slot(sh,
                                                             (ngx_int_t) slot);
    if (s == NULL) {
        return;
    }

    n->kind = (uint32_t) s->kind;
    n->name_len = (uint32_t) s->name_len;
    ngx_memcpy(n->name, s->name, sizeof(n->name));
}


static uint32_t
ngx_http_llm_route_feedback_slot(ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_fb_name_t *n)
{
    ngx_int_t  slot;

    if (n->name_len == 0) {
        return LLR_FB_NONE;
    }

    slot = ngx_http_llm_route_find_slot(sh, n->kind, n->name, n->name_len);

    return (slot >= 0) ? (uint32_t) slot : LLR_FB_NONE;
}


/* ---- the handler -------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_route_feedback_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    static ngx_str_t  msg = ngx_string("llm_route_feedback takes POST");

    if (r->method != NGX_HTTP_POST) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_llm_route_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                             "invalid_request_error", NULL,
                                             "method_not_allowed", &msg);
    }

    rc = ngx_http_read_client_request_body(r,
                                         ngx_http_llm_route_feedback_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_llm_route_feedback_body(ngx_http_request_t *r)
{
    ngx_int_t     rc;
    ngx_str_t     body, msg;
    const char   *err;
    llr_fb_req_t  req;

    if (ngx_http_llm_route_body_flat(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (llr_fb_parse(body.data, body.len, &req, &err) != 0) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: feedback refused: %s", err);

        msg.data = (u_char *) err;
        msg.len = ngx_strlen(err);

        rc = ngx_http_llm_route_send_error(r, NGX_HTTP_BAD_REQUEST,
                                           "invalid_request_error", NULL,
                                           "invalid_feedback", &msg);
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_llm_route_feedback_score(r, &req));
}


static ngx_int_t
ngx_http_llm_route_feedback_score(ngx_http_request_t *r, llr_fb_req_t *req)
{
    int                        rc;
    u_char                    *p;
    ngx_int_t                  pair;
    ngx_buf_t                 *b;
    ngx_str_t                  msg, model, task;
    ngx_chain_t                out;
    llr_fb_entry_t             e;
    ngx_slab_pool_t           *shpool;
    ngx_http_llm_route_slot_t *s;
    ngx_http_llm_route_shm_t  *sh;

    static ngx_str_t  json = ngx_string("application/json");

    sh = ngx_http_llm_route_shm(r);
    rc = LLR_FB_NOT_FOUND;

    if (sh && sh->feedback) {
        shpool = ngx_http_llm_route_feedback_pool(r);

        ngx_shmtx_lock(&shpool->mutex);
        rc = llr_fb_score(sh->feedback, req->id, req->id_len, req->score,
                          ngx_http_llm_route_now_ms(), &e);
        ngx_shmtx_unlock(&shpool->mutex);
    }

    if (rc != LLR_FB_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: feedback for \"%*s\": no decision",
                       req->id_len, req->id);

        ngx_str_set(&msg, "no routed answer with this id (unknown, or "
                          "older than the feedback ring keeps)");

        return ngx_http_llm_route_send_error(r, NGX_HTTP_NOT_FOUND,
                                             "invalid_request_error", "id",
                                             rc == LLR_FB_EXPIRED
                                             ? "feedback_id_expired"
                                             : "feedback_id_not_found",
                                             &msg);
    }

    /* the score into the counters, the one it replaces out of them */

    pair = ngx_http_llm_route_feedback_pair(sh, &e.d);

    ngx_http_llm_route_feedback_count(sh, -1, e.score, req->score);
    ngx_http_llm_route_feedback_count(sh, (ngx_int_t) e.d.model, e.score,
                                      req->score);
    ngx_http_llm_route_feedback_count(sh, e.d.task == LLR_FB_NONE
                                          ? -1 : (ngx_int_t) e.d.task,
                                      e.score, req->score);
    if (pair >= 0) {
        ngx_http_llm_route_feedback_count(sh, pair, e.score, req->score);
        ngx_http_llm_route_drift_feedback(sh, pair, req->score, e.score,
                                          e.score_time);
    }

    if (e.d.arm != LLR_FB_NONE) {
        ngx_http_llm_route_experiment_feedback(sh, e.d.arm, req->score,
                                               e.score);
    }

    ngx_str_null(&model);
    ngx_str_null(&task);

    s = ngx_http_llm_route_zone_slot(sh, (ngx_int_t) e.d.model);
    if (s) {
        model.data = s->name;
        model.len = s->name_len;
    }

    s = ngx_http_llm_route_zone_slot(sh, (ngx_int_t) e.d.task);
    if (s) {
        task.data = s->name;
        task.len = s->name_len;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: feedback %D for \"%*s\", replaced: %d",
                   req->score, req->id_len, req->id,
                   e.score != LLR_Q_NO_SCORE);

    b = ngx_create_temp_buf(r->pool, sizeof("{\"id\":,\"score\":-1.000,"
                                            "\"replaced\":false,"
                                            "\"model\":,\"task\":}\n")
                                     + 6 * (LLR_FB_REQ_ID_MAX
                                            + 2 * NGX_HTTP_LLM_ROUTE_NAME_LEN)
                                     + 8);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"id\":\"");
    p = (u_char *) ngx_escape_json(p, req->id, req->id_len);
    p = ngx_sprintf(p, "\",\"score\":%s%d.%03d,\"replaced\":%s,"
                    "\"model\":\"",
                    req->score < 0 ? "-" : "",
                    ngx_abs(req->score) / 1000, ngx_abs(req->score) % 1000,
                    e.score != LLR_Q_NO_SCORE ? "true" : "false");
    p = (u_char *) ngx_escape_json(p, model.data, model.len);
    p = ngx_sprintf(p, "\",\"task\":\"");
    p = (u_char *) ngx_escape_json(p, task.data, task.len);
    b->last = ngx_sprintf(p, "\"}\n");

    out.buf = b;
    out.next = NULL;

    return ngx_http_llm_route_send(r, NGX_HTTP_OK, &json, &out);
}


/* a score into a slot's feedback counters (slot -1: the totals) */

static void
ngx_http_llm_route_feedback_count(ngx_http_llm_route_shm_t *sh,
    ngx_int_t slot, int32_t old, int32_t score)
{
    ngx_http_llm_route_slot_t      *s;
    ngx_http_llm_route_counters_t  *c;

    if (slot < 0) {
        c = &sh->totals;

    } else {
        s = ngx_http_llm_route_zone_slot(sh, slot);
        if (s == NULL) {
            return;
        }

        c = &s->c;
    }

    if (old == LLR_Q_NO_SCORE) {
        ngx_http_llm_route_counter_add(&c->feedback, 1);

    } else if (old > 0) {
        (void) ngx_atomic_fetch_add(&c->feedback_up, -(ngx_atomic_int_t) old);

    } else if (old < 0) {
        (void) ngx_atomic_fetch_add(&c->feedback_down,
                                    (ngx_atomic_int_t) old);
    }

    if (score > 0) {
        ngx_http_llm_route_counter_add(&c->feedback_up, (uint64_t) score);

    } else if (score < 0) {
        ngx_http_llm_route_counter_add(&c->feedback_down,
                                       (uint64_t) -score);
    }
}


/* the model x task slot of a decision, by the names of its slots */

static ngx_int_t
ngx_http_llm_route_feedback_pair(ngx_http_llm_route_shm_t *sh,
    llr_fb_decision_t *d)
{
    u_char                      buf[2 * NGX_HTTP_LLM_ROUTE_NAME_LEN];
    u_char                     *p;
    ngx_http_llm_route_slot_t  *m, *t;

    m = ngx_http_llm_route_zone_slot(sh, (ngx_int_t) d->model);
    t = ngx_http_llm_route_zone_slot(sh, (ngx_int_t) d->task);

    if (m == NULL || t == NULL) {
        return -1;
    }

    p = ngx_sprintf(buf, "%*s %*s", m->name_len, m->name, t->name_len,
                    t->name);

    if ((size_t) (p - buf) >= NGX_HTTP_LLM_ROUTE_NAME_LEN) {
        return -1;
    }

    return ngx_http_llm_route_find_slot(sh, NGX_HTTP_LLM_ROUTE_SLOT_PAIR,
                                        buf, p - buf);
}


static ngx_slab_pool_t *
ngx_http_llm_route_feedback_pool(ngx_http_request_t *r)
{
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    return (ngx_slab_pool_t *) mcf->shm_zone->shm.addr;
}
