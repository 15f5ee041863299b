
/*
 * ngx_llm_route_module: the shared memory zone's slots, and counting.
 *
 * Slots.  Every configured model, provider and task gets a slot, found
 * by (kind, name), and so does every reason the router refuses requests
 * for (core/llr_stats.h).  Slots are assigned by the master when the
 * zone is created or adopted (zone.c); they are never freed: workers of
 * the previous configuration may still be counting into them.  A slot
 * is published by writing its name first and incrementing sh->nused
 * after a memory barrier, so readers in other processes only see
 * complete slots.
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
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_shm.h"


/*
 * Every counter of the zone saturates at its largest value instead of
 * wrapping (a provider may report any token count; Prometheus would read
 * a wrapped counter as a reset): a compare-and-set, as cheap as an add
 * when uncontended, and still no lock.  Inline: a routed request makes
 * about fifty of them in the log phase.
 */

static ngx_inline void
ngx_http_llm_route_counter_cas(ngx_atomic_t *counter, uint64_t v)
{
    ngx_atomic_uint_t  old, sum, max;

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


/*
 * What a record adds to each set of counters it counts in (the totals,
 * its deployment, model, provider, task, model x task): the same
 * counters and values for every set, so they are found once, and only
 * those that grow (most tokens, flags and signals are 0)
 */

#define NGX_HTTP_LLM_ROUTE_ADDS  (18 + NGX_HTTP_LLM_ROUTE_SIGNALS)

typedef struct {
    ngx_uint_t            n;
    size_t                off[NGX_HTTP_LLM_ROUTE_ADDS];
    uint64_t              v[NGX_HTTP_LLM_ROUTE_ADDS];
} ngx_http_llm_route_adds_t;


static void ngx_http_llm_route_adds_of(ngx_http_llm_route_adds_t *a,
    ngx_http_llm_route_record_t *rec);
static void ngx_http_llm_route_counters_add(
    ngx_http_llm_route_counters_t *c, ngx_http_llm_route_adds_t *a);
static void ngx_http_llm_route_recent_add(ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_record_t *rec);
static void ngx_http_llm_route_second_add(ngx_atomic_t *series, time_t sec);
static void ngx_http_llm_route_hist_copy(ngx_atomic_t *buckets, uint64_t *b);


/* the cached time in milliseconds since the epoch */

uint64_t
ngx_http_llm_route_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
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


ngx_int_t
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


ngx_int_t
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


/* a counter of the zone, by v (ngx_http_llm_route_counter_cas()) */

void
ngx_http_llm_route_counter_add(ngx_atomic_t *counter, uint64_t v)
{
    if (v) {
        ngx_http_llm_route_counter_cas(counter, v);
    }
}


/* a counter at offset off of a set of counters, by v, if v is not 0 */

static ngx_inline void
ngx_http_llm_route_adds_push(ngx_http_llm_route_adds_t *a, size_t off,
    uint64_t v)
{
    if (v) {
        a->off[a->n] = off;
        a->v[a->n++] = v;
    }
}


#define ngx_http_llm_route_offset(field)                                     \
    offsetof(ngx_http_llm_route_counters_t, field)

#define ngx_http_llm_route_offset_at(field, i)                               \
    (offsetof(ngx_http_llm_route_counters_t, field)                           \
     + (i) * sizeof(ngx_atomic_t))


static void
ngx_http_llm_route_adds_of(ngx_http_llm_route_adds_t *a,
    ngx_http_llm_route_record_t *rec)
{
    ngx_uint_t  k;

    a->n = 0;

    ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(requests), 1);
    ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(errors),
                                 rec->error);
    ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(prompt_tokens),
                                 rec->prompt_tokens);
    ngx_http_llm_route_adds_push(a,
                                 ngx_http_llm_route_offset(completion_tokens),
                                 rec->completion_tokens);
    ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(cached_tokens),
                                 rec->cached_tokens);
    ngx_http_llm_route_adds_push(a,
                                 ngx_http_llm_route_offset(cache_write_tokens),
                                 rec->cache_write_tokens);
    ngx_http_llm_route_adds_push(a,
                                 ngx_http_llm_route_offset(reasoning_tokens),
                                 rec->reasoning_tokens);
    ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(cost_pusd),
                                 rec->cost_pusd);
    ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(saved_pusd),
                                 rec->saved_pusd);
    ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(estimated),
                                 rec->estimated);

    ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset_at(latency,
                                     llr_hist_bucket(rec->latency_ms)), 1);
    ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(latency_sum_ms),
                                 rec->latency_ms);

    if (rec->ttft_ms >= 0) {
        ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset_at(ttft,
                                     llr_hist_bucket((uint64_t) rec->ttft_ms)),
                                     1);
        ngx_http_llm_route_adds_push(a,
                                     ngx_http_llm_route_offset(ttft_sum_ms),
                                     (uint64_t) rec->ttft_ms);
        ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(ttft_count),
                                     1);
    }

    if (rec->tpot_us >= 0) {
        ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset_at(tpot,
                                     llr_hist_bucket_us(
                                         (uint64_t) rec->tpot_us)), 1);
        ngx_http_llm_route_adds_push(a,
                                     ngx_http_llm_route_offset(tpot_sum_us),
                                     (uint64_t) rec->tpot_us);
    }

    if (rec->answered) {
        ngx_http_llm_route_adds_push(a, ngx_http_llm_route_offset(answers), 1);

        for (k = 0; k < NGX_HTTP_LLM_ROUTE_SIGNALS; k++) {
            ngx_http_llm_route_adds_push(a,
                                         ngx_http_llm_route_offset_at(signals,
                                                                      k),
                                         (rec->signals >> k) & 1);
        }
    }
}


static void
ngx_http_llm_route_counters_add(ngx_http_llm_route_counters_t *c,
    ngx_http_llm_route_adds_t *a)
{
    ngx_uint_t  i;

    for (i = 0; i < a->n; i++) {
        ngx_http_llm_route_counter_cas(
            (ngx_atomic_t *) ((u_char *) c + a->off[i]), a->v[i]);
    }
}


void
ngx_http_llm_route_zone_record(ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_record_t *rec)
{
    time_t                      now;
    ngx_uint_t                  b;
    ngx_http_llm_route_slot_t  *s;
    ngx_http_llm_route_adds_t   a;

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

    ngx_http_llm_route_adds_of(&a, rec);

    ngx_http_llm_route_counters_add(&sh->totals, &a);

    /* the router's own time and failover outcomes: totals only */

    b = llr_hist_bucket_us(rec->overhead_us);
    ngx_http_llm_route_counter_add(&sh->overhead[b], 1);
    ngx_http_llm_route_counter_add(&sh->overhead_sum_us, rec->overhead_us);

    if (rec->failover) {
        ngx_http_llm_route_counter_add(rec->failover == 1
                                       ? &sh->totals.failover_ok
                                       : &sh->totals.failover_failed, 1);
    }

    s = ngx_http_llm_route_zone_slot(sh, rec->deployment_slot);
    if (s) {
        ngx_http_llm_route_counters_add(&s->c, &a);
    }

    s = ngx_http_llm_route_zone_slot(sh, rec->model_slot);
    if (s) {
        ngx_http_llm_route_counters_add(&s->c, &a);
    }

    s = ngx_http_llm_route_zone_slot(sh, rec->provider_slot);
    if (s) {
        ngx_http_llm_route_counters_add(&s->c, &a);
    }

    s = ngx_http_llm_route_zone_slot(sh, rec->task_slot);
    if (s) {
        ngx_http_llm_route_counters_add(&s->c, &a);
    }

    s = ngx_http_llm_route_zone_slot(sh, rec->pair_slot);
    if (s) {
        ngx_http_llm_route_counters_add(&s->c, &a);
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
    e->cache_write_tokens = rec->cache_write_tokens;
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


/* a copy of a histogram of the zone, for core/llr_stats.h */

static void
ngx_http_llm_route_hist_copy(ngx_atomic_t *buckets, uint64_t *b)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_BUCKETS; i++) {
        b[i] = buckets[i];
    }
}


double
ngx_http_llm_route_percentile(ngx_atomic_t *buckets, double q)
{
    uint64_t  b[NGX_HTTP_LLM_ROUTE_BUCKETS];

    ngx_http_llm_route_hist_copy(buckets, b);

    return llr_hist_percentile(b, q);
}


double
ngx_http_llm_route_percentile_us(ngx_atomic_t *buckets, double q)
{
    uint64_t  b[NGX_HTTP_LLM_ROUTE_BUCKETS];

    ngx_http_llm_route_hist_copy(buckets, b);

    return llr_hist_percentile_us(b, q);
}
