
/*
 * ngx_llm_route_module: the shared memory zone and its state file.
 *
 * llm_route_zone NAME:SIZE [state=PATH] [state_interval=TIME];
 *
 * One slab zone shared by all workers (layout in the zone header file).
 *
 * Slots.  Every configured model, provider and task gets a slot, found by
 * (kind, name), and so does every reason the router refuses requests for
 * (core/llr_stats.h).  Slots are assigned by the master in init_zone, before the
 * workers of that configuration start; a zone with the same name and size
 * is adopted on reload (as limit_req does), names already known keep their
 * slot and counters, new names get new slots.  Slots are never freed:
 * workers of the previous configuration may still be counting into them.
 * A slot is published by writing its name first and incrementing
 * sh->nused after a memory barrier, so readers in other processes only
 * see complete slots.
 *
 * Counting.  Only atomic operations on ngx_atomic_t counters: no lock is
 * held per request, so a worker killed at any point leaves no lock
 * behind and no counter half-updated (each counter is one atomic
 * compare-and-set).  Counters saturate at their largest value, they
 * never wrap (ngx_http_llm_route_counter_add()).
 *
 * The per-second counts are one compare-and-set each: a word holds the
 * second and its count (core/llr_stats.h).
 *
 * The recent ring.  A writer claims an entry by taking the next request
 * number with ngx_atomic_fetch_add() and compare-and-setting the entry's
 * seq from even to odd; it fills the entry and makes seq even again.
 * Readers copy the entry and use the copy only if seq was even and did
 * not change; an entry left odd by a killed worker is taken over by the
 * next writer that finds its writer's pid gone.
 *
 * The state file.  With state=PATH, workers write the counters (totals
 * and every slot, by kind and name; not the recent ring) to PATH.tmp,
 * fsync it and rename it over PATH every state_interval (default 10s)
 * and when they exit.  One worker at a time: a pid lock in the zone,
 * taken with compare-and-set and taken over when its holder is gone, so
 * a killed writer cannot block the others.  The file is small (a few
 * hundred bytes per slot) and written synchronously.  A freshly created
 * zone (first start, restart, or a new size on reload) loads the file;
 * a missing file is a notice, a bad one an error, neither is fatal.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_module.h"
#include "ngx_http_llm_route_zone.h"


#define NGX_HTTP_LLM_ROUTE_ZONE_MAGIC    0x4c4c52005a4f4e45ULL
#define NGX_HTTP_LLM_ROUTE_ZONE_VERSION  7

#define NGX_HTTP_LLM_ROUTE_STATE_MAGIC   "LLRSTATE"
/* 2: a limits section (budgets) follows the slots; 1 is still read */
#define NGX_HTTP_LLM_ROUTE_STATE_VERSION 2
#define NGX_HTTP_LLM_ROUTE_STATE_MAX     (64 * 1024 * 1024)

#define NGX_HTTP_LLM_ROUTE_NCOUNTERS                                          \
    (sizeof(ngx_http_llm_route_counters_t) / sizeof(ngx_atomic_t))


/* the state file: a header, the totals, then one record per slot */

typedef struct {
    u_char                   magic[8];
    uint32_t                 version;
    uint32_t                 ncounters;   /* 64-bit counters per record */
    uint32_t                 nrecords;
    uint32_t                 name_len;    /* NGX_HTTP_LLM_ROUTE_NAME_LEN */
    uint64_t                 started;
    uint64_t                 written;
    uint64_t                 checksum;    /* FNV-1a 64 of what follows */
} ngx_http_llm_route_state_header_t;

typedef struct {
    uint32_t                 kind;
    uint32_t                 name_len;
    u_char                   name[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    uint64_t                 failures;
    /* uint64_t              counters[ncounters]; */
} ngx_http_llm_route_state_record_t;

#define NGX_HTTP_LLM_ROUTE_STATE_RECORD                                       \
    (sizeof(ngx_http_llm_route_state_record_t)                                \
     + NGX_HTTP_LLM_ROUTE_NCOUNTERS * sizeof(uint64_t))


typedef struct {
    ngx_http_llm_route_main_conf_t  *mcf;
    ngx_http_llm_route_shm_t        *sh;
    ngx_str_t                        tmp;     /* PATH.tmp */
    ngx_event_t                      timer;
    ngx_msec_t                       interval;
    time_t                           logged;  /* last error logged */
    unsigned                         start:1; /* the write at start */
} ngx_http_llm_route_state_ctx_t;


static ngx_int_t ngx_http_llm_route_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_llm_route_assign_slots(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf);
static ngx_int_t ngx_http_llm_route_get_slot(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t kind, ngx_str_t *name);
static ngx_int_t ngx_http_llm_route_find_slot(ngx_http_llm_route_shm_t *sh,
    ngx_uint_t kind, u_char *name, size_t len);
static void ngx_http_llm_route_counters_add(
    ngx_http_llm_route_counters_t *c, ngx_http_llm_route_record_t *rec,
    ngx_uint_t lb, ngx_uint_t tb);
static void ngx_http_llm_route_recent_add(ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_record_t *rec);
static void ngx_http_llm_route_second_add(ngx_atomic_t *series, time_t sec);

static void ngx_http_llm_route_state_load(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_str_t *path);
static ngx_int_t ngx_http_llm_route_state_lock(ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_state_unlock(ngx_http_llm_route_shm_t *sh);
static ngx_int_t ngx_http_llm_route_state_write(
    ngx_http_llm_route_state_ctx_t *ctx, ngx_log_t *log);
static void ngx_http_llm_route_state_timer(ngx_event_t *ev);


/* one per process: the state writer of the current configuration */
static ngx_http_llm_route_state_ctx_t  *ngx_http_llm_route_state_ctx;


/* ---- the zone ----------------------------------------------------------- */


static ngx_int_t
ngx_http_llm_route_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_route_shm_t  *osh = data;

    size_t                           len, fixed, budget, need;
    ngx_uint_t                       nslots, names;
    ngx_slab_pool_t                 *shpool;
    ngx_http_llm_route_shm_t        *sh;
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (osh) {
        /* reload: the zone kept its name and size, adopt what it holds */

        if (osh->magic != NGX_HTTP_LLM_ROUTE_ZONE_MAGIC
            || osh->version != NGX_HTTP_LLM_ROUTE_ZONE_VERSION)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "llm_route_zone \"%V\" was created by another "
                          "version of the module: give it another name "
                          "or size", &shm_zone->shm.name);
            return NGX_ERROR;
        }

        shm_zone->data = osh;

        if (ngx_http_llm_route_assign_slots(shm_zone, osh, mcf) != NGX_OK) {
            return NGX_ERROR;
        }

        (void) ngx_atomic_fetch_add(&osh->generation, 1);

        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        sh = shpool->data;
        shm_zone->data = sh;
        return ngx_http_llm_route_assign_slots(shm_zone, sh, mcf);
    }

    /*
     * the header, the recent ring and the slots take at most half of the
     * free pages; the rest is left to what the zone may hold later
     * (budgets), and to the log context
     */

    names = mcf->models.nelts + mcf->providers.nelts
            + mcf->deployments.nelts + mcf->tasks.nelts + LLR_REJECT_N - 1;

    fixed = offsetof(ngx_http_llm_route_shm_t, slots);
    budget = shpool->pfree > 2 ? (shpool->pfree - 2) * ngx_pagesize / 2 : 0;

    nslots = budget > fixed
             ? (budget - fixed) / sizeof(ngx_http_llm_route_slot_t) : 0;

    if (nslots > NGX_HTTP_LLM_ROUTE_MAX_SLOTS) {
        nslots = NGX_HTTP_LLM_ROUTE_MAX_SLOTS;
    }

    if (nslots < names || nslots == 0) {
        need = fixed + (names + 16) * sizeof(ngx_http_llm_route_slot_t);
        need = (2 * need + 8 * ngx_pagesize) / 1024 * 102 / 100 + 1;

        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_route_zone \"%V\" is too small for %ui models, "
                      "providers, deployments and tasks: it needs at least "
                      "%uzk",
                      &shm_zone->shm.name, names, need);
        return NGX_ERROR;
    }

    len = fixed + nslots * sizeof(ngx_http_llm_route_slot_t);

    sh = ngx_slab_calloc(shpool, len);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->magic = NGX_HTTP_LLM_ROUTE_ZONE_MAGIC;
    sh->version = NGX_HTTP_LLM_ROUTE_ZONE_VERSION;
    sh->generation = 1;
    sh->started = ngx_time();
    sh->nslots = nslots;

    shpool->data = sh;
    shm_zone->data = sh;

    len = sizeof(" in llm_route_zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in llm_route_zone \"%V\"%Z",
                &shm_zone->shm.name);

    shpool->log_nomem = 0;

    if (ngx_http_llm_route_limits_init_zone(shm_zone, sh) != NGX_OK) {
        return NGX_ERROR;
    }

    /* configured names first: they must have a slot */

    if (ngx_http_llm_route_assign_slots(shm_zone, sh, mcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (mcf->state_path.len) {
        ngx_http_llm_route_state_load(shm_zone, sh, &mcf->state_path);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_assign_slots(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf)
{
    u_char                             full[4 * NGX_HTTP_LLM_ROUTE_NAME_LEN];
    uint32_t                           crc;
    ngx_int_t                          slot;
    ngx_str_t                         *task, name;
    ngx_uint_t                         i;
    const char                        *reason;
    ngx_http_llm_route_model_t       **m;
    ngx_http_llm_route_provider_t    **p;
    ngx_http_llm_route_deployment_t  **d;

    m = mcf->models.elts;

    for (i = 0; i < mcf->models.nelts; i++) {
        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_MODEL,
                                           &m[i]->name);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        m[i]->slot = slot;
    }

    p = mcf->providers.elts;

    for (i = 0; i < mcf->providers.nelts; i++) {
        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_PROVIDER,
                                           &p[i]->name);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        p[i]->slot = slot;
    }

    d = mcf->deployments.elts;

    for (i = 0; i < mcf->deployments.nelts; i++) {
        /*
         * "model@provider", and "/upstream_model" when it differs (a
         * model may have several deployments at one provider); a name
         * longer than a slot's is cut and ends in "~" and a hash of all
         * of it, so that two long ones do not share a slot
         */

        name.data = full;
        name.len = ngx_snprintf(full, sizeof(full), "%V@%V",
                                &d[i]->name, &d[i]->provider->name)
                   - full;

        if (d[i]->upstream_model.len != d[i]->name.len
            || ngx_strncmp(d[i]->upstream_model.data, d[i]->name.data,
                           d[i]->name.len)
               != 0)
        {
            name.len = ngx_snprintf(full + name.len,
                                    sizeof(full) - name.len, "/%V",
                                    &d[i]->upstream_model)
                       - full;
        }

        if (name.len > NGX_HTTP_LLM_ROUTE_NAME_LEN - 1) {
            crc = ngx_crc32_long(full, name.len);
            name.len = NGX_HTTP_LLM_ROUTE_NAME_LEN - 1 - 9;
            name.len = ngx_sprintf(full + name.len, "~%08xD", crc) - full;
        }

        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_DEPLOYMENT,
                                           &name);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        d[i]->slot = slot;
    }

    task = mcf->tasks.elts;

    for (i = 0; i < mcf->tasks.nelts && i <= NGX_HTTP_LLM_ROUTE_MAX_TASKS;
         i++)
    {
        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_TASK,
                                           &task[i]);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        mcf->task_slots[i] = slot;
    }

    mcf->rejected_slots[LLR_REJECT_NONE] = -1;

    for (i = 1; i < LLR_REJECT_N; i++) {
        reason = llr_reject_name((llr_reject_e) i);

        name.data = (u_char *) reason;
        name.len = ngx_strlen(reason);

        slot = ngx_http_llm_route_get_slot(shm_zone, sh,
                                           NGX_HTTP_LLM_ROUTE_SLOT_REJECTED,
                                           &name);
        if (slot == NGX_ERROR) {
            return NGX_ERROR;
        }

        mcf->rejected_slots[i] = slot;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_find_slot(ngx_http_llm_route_shm_t *sh, ngx_uint_t kind,
    u_char *name, size_t len)
{
    ngx_uint_t                  i, n;
    ngx_http_llm_route_slot_t  *s;

    n = sh->nused;

    for (i = 0; i < n; i++) {
        s = &sh->slots[i];

        if (s->kind == kind && s->name_len == len
            && ngx_memcmp(s->name, name, len) == 0)
        {
            return (ngx_int_t) i;
        }
    }

    return NGX_DECLINED;
}


/* called by the master only: no other process allocates slots */

static ngx_int_t
ngx_http_llm_route_get_slot(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t kind, ngx_str_t *name)
{
    ngx_int_t                   slot;
    ngx_http_llm_route_slot_t  *s;

    if (name->len == 0 || name->len >= NGX_HTTP_LLM_ROUTE_NAME_LEN) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_route_zone \"%V\": the name \"%V\" is longer "
                      "than %d bytes", &shm_zone->shm.name, name,
                      NGX_HTTP_LLM_ROUTE_NAME_LEN - 1);
        return NGX_ERROR;
    }

    slot = ngx_http_llm_route_find_slot(sh, kind, name->data, name->len);

    if (slot != NGX_DECLINED) {
        return slot;
    }

    if (sh->nused >= sh->nslots) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "llm_route_zone \"%V\" has no room left for \"%V\" "
                      "(%ui names were counted in it): restart with a "
                      "larger size", &shm_zone->shm.name, name, sh->nslots);
        return NGX_ERROR;
    }

    slot = (ngx_int_t) sh->nused;
    s = &sh->slots[slot];

    ngx_memzero(s, sizeof(ngx_http_llm_route_slot_t));
    s->kind = kind;
    s->name_len = name->len;
    ngx_memcpy(s->name, name->data, name->len);

    ngx_memory_barrier();

    (void) ngx_atomic_fetch_add(&sh->nused, 1);

    return slot;
}


ngx_http_llm_route_shm_t *
ngx_http_llm_route_shm(ngx_http_request_t *r)
{
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    if (mcf == NULL || mcf->shm_zone == NULL) {
        return NULL;
    }

    return mcf->shm_zone->data;
}


ngx_http_llm_route_slot_t *
ngx_http_llm_route_zone_slot(ngx_http_llm_route_shm_t *sh, ngx_int_t slot)
{
    if (sh == NULL || slot < 0 || (ngx_uint_t) slot >= sh->nused) {
        return NULL;
    }

    return &sh->slots[slot];
}


/* ---- counting ----------------------------------------------------------- */


/*
 * Every counter of the zone saturates at its largest value instead of
 * wrapping (a provider may report any token count; Prometheus would read
 * a wrapped counter as a reset): a compare-and-set, as cheap as an add
 * when uncontended, and still no lock.
 */

void
ngx_http_llm_route_counter_add(ngx_atomic_t *counter, uint64_t v)
{
    ngx_atomic_uint_t  old, sum, max;

    if (v == 0) {
        return;
    }

    max = (ngx_atomic_uint_t) -1;

    do {
        old = *counter;

        if (old == max) {
            return;
        }

        sum = (v > (uint64_t) (max - old)) ? max
                                            : old + (ngx_atomic_uint_t) v;

    } while (!ngx_atomic_cmp_set(counter, old, sum));
}


static void
ngx_http_llm_route_counters_add(ngx_http_llm_route_counters_t *c,
    ngx_http_llm_route_record_t *rec, ngx_uint_t lb, ngx_uint_t tb)
{
    ngx_http_llm_route_counter_add(&c->requests, 1);
    ngx_http_llm_route_counter_add(&c->errors, rec->error);
    ngx_http_llm_route_counter_add(&c->prompt_tokens, rec->prompt_tokens);
    ngx_http_llm_route_counter_add(&c->completion_tokens,
                                   rec->completion_tokens);
    ngx_http_llm_route_counter_add(&c->cached_tokens, rec->cached_tokens);
    ngx_http_llm_route_counter_add(&c->reasoning_tokens,
                                   rec->reasoning_tokens);
    ngx_http_llm_route_counter_add(&c->cost_pusd, rec->cost_pusd);
    ngx_http_llm_route_counter_add(&c->saved_pusd, rec->saved_pusd);
    ngx_http_llm_route_counter_add(&c->estimated, rec->estimated);

    ngx_http_llm_route_counter_add(&c->latency[lb], 1);
    ngx_http_llm_route_counter_add(&c->latency_sum_ms, rec->latency_ms);

    if (rec->ttft_ms >= 0) {
        ngx_http_llm_route_counter_add(&c->ttft[tb], 1);
        ngx_http_llm_route_counter_add(&c->ttft_sum_ms,
                                       (uint64_t) rec->ttft_ms);
        ngx_http_llm_route_counter_add(&c->ttft_count, 1);
    }
}


void
ngx_http_llm_route_zone_record(ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_record_t *rec)
{
    time_t                      now;
    ngx_uint_t                  lb, tb;
    ngx_http_llm_route_slot_t  *s;

    if (sh == NULL) {
        return;
    }

    now = ngx_time();

    if (rec->rejected) {
        s = ngx_http_llm_route_zone_slot(sh, rec->rejected_slot);
        if (s) {
            ngx_http_llm_route_counter_add(&s->c.requests, 1);
        }

        ngx_http_llm_route_second_add(sh->seconds.rejected, now);
        ngx_http_llm_route_recent_add(sh, rec);

        return;
    }

    ngx_http_llm_route_second_add(sh->seconds.requests, now);

    if (rec->error) {
        ngx_http_llm_route_second_add(sh->seconds.errors, now);
    }

    lb = llr_hist_bucket(rec->latency_ms);
    tb = rec->ttft_ms >= 0 ? llr_hist_bucket((uint64_t) rec->ttft_ms) : 0;

    ngx_http_llm_route_counters_add(&sh->totals, rec, lb, tb);

    s = ngx_http_llm_route_zone_slot(sh, rec->model_slot);
    if (s) {
        ngx_http_llm_route_counters_add(&s->c, rec, lb, tb);
    }

    s = ngx_http_llm_route_zone_slot(sh, rec->provider_slot);
    if (s) {
        ngx_http_llm_route_counters_add(&s->c, rec, lb, tb);
    }

    s = ngx_http_llm_route_zone_slot(sh, rec->task_slot);
    if (s) {
        ngx_http_llm_route_counters_add(&s->c, rec, lb, tb);
    }

    ngx_http_llm_route_recent_add(sh, rec);
}


ngx_int_t
ngx_http_llm_route_pid_gone(ngx_pid_t pid)
{
    if (pid <= 0) {
        return 1;
    }

    return kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH;
}


static void
ngx_http_llm_route_recent_add(ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_record_t *rec)
{
    ngx_uint_t                    n;
    ngx_time_t                   *tp;
    ngx_atomic_uint_t             seq, odd;
    ngx_http_llm_route_recent_t  *e;

    n = ngx_atomic_fetch_add(&sh->recent_next, 1);
    e = &sh->recent[n % NGX_HTTP_LLM_ROUTE_RECENT];

    seq = e->seq;

    if (seq & 1) {
        /* another writer is on it, unless that one was killed */

        if (!ngx_http_llm_route_pid_gone(e->writer)) {
            return;
        }

        odd = seq + 2;

    } else {
        odd = seq + 1;
    }

    if (!ngx_atomic_cmp_set(&e->seq, seq, odd)) {
        return;
    }

    e->writer = ngx_pid;

    ngx_memory_barrier();

    tp = ngx_timeofday();

    e->n = n;
    e->time = tp->sec;
    e->time_msec = tp->msec;
    e->latency_ms = rec->latency_ms;
    e->ttft_ms = rec->ttft_ms;
    e->status = rec->status;
    e->rejected = rec->rejected;
    e->prompt_tokens = rec->prompt_tokens;
    e->completion_tokens = rec->completion_tokens;
    e->cached_tokens = rec->cached_tokens;
    e->reasoning_tokens = rec->reasoning_tokens;
    e->cost_pusd = rec->cost_pusd;
    e->saved_pusd = rec->saved_pusd;
    e->difficulty = rec->difficulty;
    e->error = rec->error;
    e->estimated = rec->estimated;
    e->stream = rec->stream;

    /* valid UTF-8 (the requested model comes from the client) */

    (void) llr_utf8_copy(e->requested, sizeof(e->requested),
                         rec->requested.data, rec->requested.len);
    (void) llr_utf8_copy(e->model, sizeof(e->model), rec->model.data,
                         rec->model.len);
    (void) llr_utf8_copy(e->provider, sizeof(e->provider),
                         rec->provider.data, rec->provider.len);
    (void) llr_utf8_copy(e->task, sizeof(e->task), rec->task.data,
                         rec->task.len);
    (void) llr_utf8_copy(e->reason, sizeof(e->reason), rec->reason.data,
                         rec->reason.len);

    ngx_memory_barrier();

    e->seq = odd + 1;
}


/* one more in this second: a compare-and-set, retried if it raced */

static void
ngx_http_llm_route_second_add(ngx_atomic_t *series, time_t sec)
{
    ngx_atomic_t       *a;
    ngx_atomic_uint_t   old, new;

    a = &series[(ngx_uint_t) sec % NGX_HTTP_LLM_ROUTE_SECONDS];

    do {
        old = *a;
        new = llr_second_add(old, (uint64_t) sec);

    } while (new != old && !ngx_atomic_cmp_set(a, old, new));
}


uint64_t
ngx_http_llm_route_second(ngx_atomic_t *series, time_t sec)
{
    return llr_second_count(
               series[(ngx_uint_t) sec % NGX_HTTP_LLM_ROUTE_SECONDS],
               (uint64_t) sec);
}


ngx_int_t
ngx_http_llm_route_recent_get(ngx_http_llm_route_shm_t *sh, ngx_uint_t i,
    ngx_http_llm_route_recent_t *copy)
{
    ngx_uint_t                    n, next, try;
    ngx_atomic_uint_t             s1, s2;
    ngx_http_llm_route_recent_t  *e;

    next = sh->recent_next;

    if (i >= next || i >= NGX_HTTP_LLM_ROUTE_RECENT) {
        return NGX_DECLINED;
    }

    n = next - 1 - i;
    e = &sh->recent[n % NGX_HTTP_LLM_ROUTE_RECENT];

    for (try = 0; try < 3; try++) {
        s1 = e->seq;

        if (s1 & 1) {
            continue;
        }

        ngx_memory_barrier();

        ngx_memcpy(copy, (void *) e, sizeof(ngx_http_llm_route_recent_t));

        ngx_memory_barrier();

        s2 = e->seq;

        if (s1 != s2 || s1 == 0) {
            continue;
        }

        /* the entry of request n, not an older or a newer one */

        if (copy->n != n) {
            return NGX_DECLINED;
        }

        copy->requested[NGX_HTTP_LLM_ROUTE_NAME_LEN - 1] = '\0';
        copy->model[NGX_HTTP_LLM_ROUTE_NAME_LEN - 1] = '\0';
        copy->provider[NGX_HTTP_LLM_ROUTE_NAME_LEN - 1] = '\0';
        copy->task[NGX_HTTP_LLM_ROUTE_NAME_LEN - 1] = '\0';
        copy->reason[NGX_HTTP_LLM_ROUTE_REASON_LEN - 1] = '\0';

        return NGX_OK;
    }

    return NGX_DECLINED;
}


double
ngx_http_llm_route_percentile(ngx_atomic_t *buckets, double q)
{
    uint64_t    b[NGX_HTTP_LLM_ROUTE_BUCKETS];
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_BUCKETS; i++) {
        b[i] = buckets[i];
    }

    return llr_hist_percentile(b, q);
}


/* ---- the state file ----------------------------------------------------- */


/* the cached time in milliseconds since the epoch */

uint64_t
ngx_http_llm_route_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/* master, at zone creation: nothing else uses the zone yet */

static void
ngx_http_llm_route_state_load(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_str_t *path)
{
    u_char                             *buf, *p;
    size_t                              size, rec_size, base;
    ssize_t                             n;
    uint64_t                            v;
    ngx_fd_t                            fd;
    ngx_str_t                           name;
    ngx_int_t                           slot, budgets;
    ngx_log_t                          *log;
    ngx_uint_t                          i, k, loaded, dropped;
    ngx_file_info_t                     fi;
    ngx_atomic_t                       *c;
    ngx_http_llm_route_slot_t          *s;
    ngx_http_llm_route_state_header_t   h;
    ngx_http_llm_route_state_record_t   r;

    log = shm_zone->shm.log;
    buf = NULL;

    /*
     * non-blocking: a FIFO (or a device) at the path would otherwise
     * block the master here, before any worker starts
     */

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                       NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "llm_route_zone \"%V\": no state file \"%V\" yet, "
                          "counters start at zero",
                          &shm_zone->shm.name, path);
        } else {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "llm_route_zone \"%V\": cannot open state file "
                          "\"%V\", counters start at zero",
                          &shm_zone->shm.name, path);
        }

        return;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "llm_route_zone \"%V\": cannot stat state file \"%V\"",
                      &shm_zone->shm.name, path);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "llm_route_zone \"%V\": state file \"%V\" is not a "
                      "regular file, ignored: counters start at zero",
                      &shm_zone->shm.name, path);
        goto done;
    }

    size = (size_t) ngx_file_size(&fi);

    if (ngx_file_size(&fi) < (off_t) sizeof(h)
        || ngx_file_size(&fi) > NGX_HTTP_LLM_ROUTE_STATE_MAX)
    {
        goto invalid;
    }

    buf = ngx_alloc(size, log);
    if (buf == NULL) {
        goto done;
    }

    n = read(fd, buf, size);

    if (n != (ssize_t) size) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "llm_route_zone \"%V\": cannot read state file \"%V\"",
                      &shm_zone->shm.name, path);
        goto done;
    }

    ngx_memcpy(&h, buf, sizeof(h));

    rec_size = NGX_HTTP_LLM_ROUTE_STATE_RECORD;

    base = sizeof(h) + (size_t) h.ncounters * sizeof(uint64_t)
           + (size_t) h.nrecords * rec_size;

    if (ngx_memcmp(h.magic, NGX_HTTP_LLM_ROUTE_STATE_MAGIC, 8) != 0
        || (h.version != NGX_HTTP_LLM_ROUTE_STATE_VERSION && h.version != 1)
        || h.ncounters != NGX_HTTP_LLM_ROUTE_NCOUNTERS
        || h.name_len != NGX_HTTP_LLM_ROUTE_NAME_LEN
        || h.nrecords > NGX_HTTP_LLM_ROUTE_STATE_MAX / rec_size
        || (h.version == 1 && size != base)
        || (h.version != 1 && size < base + sizeof(uint64_t))
        || llr_fnv1a64(LLR_FNV1A64_INIT, buf + sizeof(h), size - sizeof(h))
           != h.checksum)
    {
        goto invalid;
    }

    /* the totals */

    p = buf + sizeof(h);
    c = (ngx_atomic_t *) &sh->totals;

    for (k = 0; k < NGX_HTTP_LLM_ROUTE_NCOUNTERS; k++) {
        ngx_memcpy(&v, p + k * sizeof(uint64_t), sizeof(uint64_t));
        c[k] = (ngx_atomic_uint_t) v;
    }

    p += NGX_HTTP_LLM_ROUTE_NCOUNTERS * sizeof(uint64_t);

    loaded = 0;
    dropped = 0;

    for (i = 0; i < h.nrecords; i++, p += rec_size) {
        ngx_memcpy(&r, p, sizeof(r));

        if (r.kind < NGX_HTTP_LLM_ROUTE_SLOT_MODEL
            || r.kind > NGX_HTTP_LLM_ROUTE_SLOT_REJECTED
            || r.name_len == 0 || r.name_len >= NGX_HTTP_LLM_ROUTE_NAME_LEN)
        {
            dropped++;
            continue;
        }

        name.data = r.name;
        name.len = r.name_len;

        slot = ngx_http_llm_route_find_slot(sh, r.kind, name.data, name.len);

        if (slot == NGX_DECLINED) {
            if (sh->nused >= sh->nslots) {
                dropped++;
                continue;
            }

            /* not configured now: kept, in case it comes back */

            slot = ngx_http_llm_route_get_slot(shm_zone, sh, r.kind, &name);
            if (slot == NGX_ERROR) {
                dropped++;
                continue;
            }
        }

        s = &sh->slots[slot];
        s->failures = (ngx_atomic_uint_t) r.failures;

        c = (ngx_atomic_t *) &s->c;

        for (k = 0; k < NGX_HTTP_LLM_ROUTE_NCOUNTERS; k++) {
            ngx_memcpy(&v, p + sizeof(r) + k * sizeof(uint64_t),
                       sizeof(uint64_t));
            c[k] = (ngx_atomic_uint_t) v;
        }

        loaded++;
    }

    /* budgets (limits.c); a version 1 file has none */

    budgets = 0;

    if (h.version == 1) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "llm_route_zone \"%V\": state file \"%V\" is of "
                      "version 1: counters loaded, it has no budgets",
                      &shm_zone->shm.name, path);

    } else {
        budgets = ngx_http_llm_route_limits_load(shm_zone, sh, buf + base,
                                                 size - base);
        if (budgets == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "llm_route_zone \"%V\": the budgets of state "
                          "file \"%V\" are malformed, ignored",
                          &shm_zone->shm.name, path);
            budgets = 0;
        }
    }

    if (h.started && (time_t) h.started <= ngx_time()) {
        sh->started = (time_t) h.started;
    }

    sh->loaded = ngx_time();

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "llm_route_zone \"%V\": state file \"%V\" loaded: "
                  "%uA requests, %ui records, %i budgets%s",
                  &shm_zone->shm.name, path, sh->totals.requests, loaded,
                  budgets, dropped ? " (some dropped: no room)" : "");

    goto done;

invalid:

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "llm_route_zone \"%V\": state file \"%V\" is corrupt or "
                  "of another version, ignored: counters start at zero",
                  &shm_zone->shm.name, path);

done:

    if (buf) {
        ngx_free(buf);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }
}


static ngx_int_t
ngx_http_llm_route_state_lock(ngx_http_llm_route_shm_t *sh)
{
    ngx_atomic_uint_t  holder;

    holder = sh->state_lock;

    if (holder == 0) {
        if (!ngx_atomic_cmp_set(&sh->state_lock, 0, ngx_pid)) {
            return NGX_BUSY;
        }

    } else if (ngx_http_llm_route_pid_gone((ngx_pid_t) holder)
               || ngx_time() - (time_t) sh->state_lock_time > 60)
    {
        /* the holder was killed while writing (or is stuck) */

        if (!ngx_atomic_cmp_set(&sh->state_lock, holder, ngx_pid)) {
            return NGX_BUSY;
        }

    } else {
        return NGX_BUSY;
    }

    sh->state_lock_time = ngx_time();

    return NGX_OK;
}


static void
ngx_http_llm_route_state_unlock(ngx_http_llm_route_shm_t *sh)
{
    (void) ngx_atomic_cmp_set(&sh->state_lock, ngx_pid, 0);
}


/* with the state lock held */

static ngx_int_t
ngx_http_llm_route_state_write(ngx_http_llm_route_state_ctx_t *ctx,
    ngx_log_t *log)
{
    u_char                             *buf, *p, *lbuf;
    size_t                              size, rec_size, lsize;
    ssize_t                             n;
    uint64_t                            v;
    ngx_fd_t                            fd;
    ngx_str_t                          *path;
    ngx_err_t                           err;
    ngx_uint_t                          i, k, nused;
    const char                         *what;
    ngx_atomic_t                       *c;
    ngx_http_llm_route_shm_t           *sh;
    ngx_http_llm_route_slot_t          *s;
    ngx_http_llm_route_state_header_t   h;
    ngx_http_llm_route_state_record_t   r;

    sh = ctx->sh;
    path = &ctx->mcf->state_path;

    nused = sh->nused;
    ngx_memory_barrier();

    lbuf = ngx_http_llm_route_limits_state(ctx->mcf->shm_zone, sh, log,
                                           &lsize);
    if (lbuf == NULL) {
        return NGX_ERROR;
    }

    rec_size = NGX_HTTP_LLM_ROUTE_STATE_RECORD;
    size = sizeof(h) + NGX_HTTP_LLM_ROUTE_NCOUNTERS * sizeof(uint64_t)
           + nused * rec_size + lsize;

    buf = ngx_alloc(size, log);
    if (buf == NULL) {
        ngx_free(lbuf);
        return NGX_ERROR;
    }

    p = buf + sizeof(h);
    c = (ngx_atomic_t *) &sh->totals;

    for (k = 0; k < NGX_HTTP_LLM_ROUTE_NCOUNTERS; k++) {
        v = c[k];
        p = ngx_cpymem(p, &v, sizeof(uint64_t));
    }

    for (i = 0; i < nused; i++) {
        s = &sh->slots[i];

        ngx_memzero(&r, sizeof(r));
        r.kind = (uint32_t) s->kind;
        r.name_len = (uint32_t) s->name_len;
        ngx_memcpy(r.name, s->name, NGX_HTTP_LLM_ROUTE_NAME_LEN);
        r.failures = s->failures;

        p = ngx_cpymem(p, &r, sizeof(r));

        c = (ngx_atomic_t *) &s->c;

        for (k = 0; k < NGX_HTTP_LLM_ROUTE_NCOUNTERS; k++) {
            v = c[k];
            p = ngx_cpymem(p, &v, sizeof(uint64_t));
        }
    }

    ngx_memcpy(p, lbuf, lsize);
    ngx_free(lbuf);

    ngx_memzero(&h, sizeof(h));
    ngx_memcpy(h.magic, NGX_HTTP_LLM_ROUTE_STATE_MAGIC, 8);
    h.version = NGX_HTTP_LLM_ROUTE_STATE_VERSION;
    h.ncounters = NGX_HTTP_LLM_ROUTE_NCOUNTERS;
    h.nrecords = (uint32_t) nused;
    h.name_len = NGX_HTTP_LLM_ROUTE_NAME_LEN;
    h.started = (uint64_t) sh->started;
    h.written = (uint64_t) ngx_time();
    h.checksum = llr_fnv1a64(LLR_FNV1A64_INIT, buf + sizeof(h),
                             size - sizeof(h));

    ngx_memcpy(buf, &h, sizeof(h));

    /*
     * a new file, never one already there: whatever is at PATH.tmp (a
     * FIFO would block the worker, a symbolic link would be followed)
     * is removed first, and O_EXCL refuses what could not be
     */

    (void) ngx_delete_file(ctx->tmp.data);

    fd = ngx_open_file(ctx->tmp.data, NGX_FILE_WRONLY,
                       NGX_FILE_CREATE_OR_OPEN|O_EXCL,
                       NGX_FILE_DEFAULT_ACCESS);

    if (fd == NGX_INVALID_FILE) {
        what = "open";
        goto failed;
    }

    for (p = buf; p < buf + size; p += n) {
        n = write(fd, p, buf + size - p);

        if (n <= 0) {
            if (n < 0 && ngx_errno == NGX_EINTR) {
                n = 0;
                continue;
            }

            what = "write";
            goto failed_close;
        }
    }

    if (fsync(fd) == -1) {
        what = "fsync";
        goto failed_close;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        what = "close";
        fd = NGX_INVALID_FILE;
        goto failed;
    }

    if (ngx_rename_file(ctx->tmp.data, path->data) == NGX_FILE_ERROR) {
        what = "rename";
        fd = NGX_INVALID_FILE;
        goto failed;
    }

    ngx_free(buf);

    sh->state_last = ngx_time();
    ngx_http_llm_route_counter_add(&sh->state_writes, 1);

    return NGX_OK;

failed_close:

    err = ngx_errno;
    (void) ngx_close_file(fd);
    ngx_set_errno(err);

failed:

    err = ngx_errno;

    ngx_free(buf);

    ngx_http_llm_route_counter_add(&sh->state_errors, 1);

    if (ctx->start) {
        ngx_log_error(NGX_LOG_WARN, log, err,
                      "llm_route_zone \"%V\": the worker processes cannot "
                      "%s state file \"%V\", the counters and budgets will "
                      "not survive a restart: give state= a directory the "
                      "workers' user can write",
                      &ctx->mcf->shm_zone->shm.name, what, &ctx->tmp);

        ctx->logged = ngx_time();

    } else if (ngx_time() - ctx->logged >= 60 || ngx_exiting || ngx_terminate)
    {
        /* at most one message a minute per process */

        ctx->logged = ngx_time();

        ngx_log_error(NGX_LOG_ERR, log, err,
                      "llm_route_zone \"%V\": cannot %s state file \"%V\"",
                      &ctx->mcf->shm_zone->shm.name, what, &ctx->tmp);
    }

    (void) ngx_delete_file(ctx->tmp.data);

    return NGX_ERROR;
}


static void
ngx_http_llm_route_state_timer(ngx_event_t *ev)
{
    uint64_t                         now, next;
    ngx_http_llm_route_shm_t        *sh;
    ngx_http_llm_route_state_ctx_t  *ctx;

    ctx = ev->data;
    sh = ctx->sh;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* the exit hook writes the last state */
        return;
    }

    now = ngx_http_llm_route_now_ms();
    next = sh->state_next;

    if (next > now + ctx->interval
        && ngx_atomic_cmp_set(&sh->state_next, next, now))
    {
        /* a reload shortened the interval: the next write is due now */
        next = now;
    }

    /* one write per interval, whichever worker comes first */

    if (now >= next
        && ngx_atomic_cmp_set(&sh->state_next, next,
                              now + ctx->interval - ctx->interval / 10)
        && ngx_http_llm_route_state_lock(sh) == NGX_OK)
    {
        (void) ngx_http_llm_route_state_write(ctx, ev->log);
        ngx_http_llm_route_state_unlock(sh);
    }

    ngx_add_timer(ev, ctx->interval);
}


ngx_int_t
ngx_http_llm_route_init_process(ngx_cycle_t *cycle)
{
    ngx_http_llm_route_state_ctx_t  *ctx;
    ngx_http_llm_route_main_conf_t  *mcf;

    ngx_http_llm_route_state_ctx = NULL;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_llm_route_module);

    if (mcf == NULL || mcf->shm_zone == NULL) {
        return NGX_OK;
    }

    /* what workers that died left reserved */

    if (mcf->shm_zone->data) {
        ngx_http_llm_route_limits_recover(cycle, mcf->shm_zone->data,
                                  (ngx_slab_pool_t *) mcf->shm_zone->shm.addr);
    }

    if (mcf->state_path.len == 0) {
        return NGX_OK;
    }

    ctx = ngx_pcalloc(cycle->pool, sizeof(ngx_http_llm_route_state_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->mcf = mcf;
    ctx->sh = mcf->shm_zone->data;
    ctx->interval = mcf->state_interval ? mcf->state_interval : 10000;

    ctx->tmp.len = mcf->state_path.len + sizeof(".tmp") - 1;
    ctx->tmp.data = ngx_pnalloc(cycle->pool, ctx->tmp.len + 1);
    if (ctx->tmp.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->tmp.data, "%V.tmp%Z", &mcf->state_path);

    ctx->timer.handler = ngx_http_llm_route_state_timer;
    ctx->timer.data = ctx;
    ctx->timer.log = cycle->log;
    ctx->timer.cancelable = 1;

    ngx_add_timer(&ctx->timer, ctx->interval);

    ngx_http_llm_route_state_ctx = ctx;

    /*
     * one worker writes the state at once: a directory the workers
     * cannot write (the master could read it) is a warning now, not
     * a count of errors nobody looks at
     */

    if ((ngx_process == NGX_PROCESS_SINGLE || ngx_worker == 0)
        && ngx_http_llm_route_state_lock(ctx->sh) == NGX_OK)
    {
        ctx->start = 1;
        (void) ngx_http_llm_route_state_write(ctx, cycle->log);
        ctx->start = 0;

        ngx_http_llm_route_state_unlock(ctx->sh);
    }

    return NGX_OK;
}


void
ngx_http_llm_route_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_http_llm_route_state_ctx_t  *ctx;

    ctx = ngx_http_llm_route_state_ctx;

    if (ctx == NULL) {
        return;
    }

    ngx_http_llm_route_state_ctx = NULL;

    /*
     * every exiting worker writes: the last one to exit writes last,
     * with everything counted; wait up to 2s for a writer in progress
     */

    for (i = 0; i < 200; i++) {
        if (ngx_http_llm_route_state_lock(ctx->sh) == NGX_OK) {
            (void) ngx_http_llm_route_state_write(ctx, cycle->log);
            ngx_http_llm_route_state_unlock(ctx->sh);
            return;
        }

        ngx_msleep(10);
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "llm_route_zone \"%V\": state file \"%V\" not written at "
                  "exit: another worker kept it busy",
                  &ctx->mcf->shm_zone->shm.name, &ctx->mcf->state_path);
}


/* ---- the directive ------------------------------------------------------ */


char *
ngx_http_llm_route_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    u_char           *p;
    ssize_t           size;
    ngx_str_t        *value, name, s;
    ngx_int_t         ms;
    ngx_uint_t        i;
    ngx_file_info_t   fi;

    if (mcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", it must be NAME:SIZE",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return NGX_CONF_ERROR;
    }

    mcf->state_interval = 10000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "state=", 6) == 0) {

            mcf->state_path.data = value[i].data + 6;
            mcf->state_path.len = value[i].len - 6;

            if (mcf->state_path.len == 0
                || ngx_conf_full_name(cf->cycle, &mcf->state_path, 0)
                   != NGX_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            /* a FIFO, a device or a directory there is refused */

            if (ngx_file_info(mcf->state_path.data, &fi) != NGX_FILE_ERROR
                && !ngx_is_file(&fi))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "state file \"%V\" is not a regular "
                                   "file", &mcf->state_path);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "state_interval=", 15) == 0) {

            s.data = value[i].data + 15;
            s.len = value[i].len - 15;

            ms = ngx_parse_time(&s, 0);

            if (ms == NGX_ERROR || ms < 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\", it must be "
                                   "a time of at least 100ms", &value[i]);
                return NGX_CONF_ERROR;
            }

            mcf->state_interval = (ngx_msec_t) ms;

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    mcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                          &ngx_http_llm_route_module);
    if (mcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    mcf->shm_zone->init = ngx_http_llm_route_init_zone;
    mcf->shm_zone->data = mcf;

    return NGX_CONF_OK;
}
