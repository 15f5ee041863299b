
/*
 * ngx_llm_route_module: the shared memory zone's layout, and counting
 * into it.
 *
 * One slab zone (llm_route_zone NAME:SIZE [state=PATH]) holds:
 *
 *   - a header (magic, version, the number of slots, start time),
 *   - totals,
 *   - a fixed table of named slots: one per model, provider and task,
 *     one per model x task pair (the quality signals' series, when the
 *     zone has room for them: quality.c), and one per reason the router
 *     refuses requests for, found by
 *     (kind, name), so a reload that adds or removes models keeps the
 *     counters of the others; slots are never freed,
 *   - per-second counts of the last NGX_HTTP_LLM_ROUTE_SECONDS seconds
 *     (requests, errors, refusals), for the dashboard's rates,
 *   - a ring of the last NGX_HTTP_LLM_ROUTE_RECENT requests, routed or
 *     refused,
 *   - the router's own time per request (a histogram, not saved),
 *   - the budgets and rate limits (limits_shm.c), the requests in flight
 *     per process (metrics.c), the tables of run-time labels (series.c),
 *     each allocated from the slab.
 *
 * Hot counters are ngx_atomic_t updated with a saturating atomic add
 * (ngx_http_llm_route_counter_add()): no lock is taken per request for
 * counting.  The slab mutex is only taken at configuration time (slot
 * allocation) and by the state file writer (state.c) and the limits.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_SHM_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_stats.h"
#include "llr_signal.h"
#include "llr_fbring.h"


/* the budgets and rate limits of the zone (limits_shm.c) */
typedef struct ngx_http_llm_route_limits_sh_s
    ngx_http_llm_route_limits_sh_t;

/* series with labels known only at run time (series.c) */
typedef struct ngx_http_llm_route_series_s  ngx_http_llm_route_series_t;

/* the experiments' arms in the zone (experiment.c) */
typedef struct ngx_http_llm_route_arms_sh_s  ngx_http_llm_route_arms_sh_t;

/* the drift series in the zone (drift.c) */
typedef struct ngx_http_llm_route_drift_sh_s  ngx_http_llm_route_drift_sh_t;


#define NGX_HTTP_LLM_ROUTE_NAME_LEN     64
#define NGX_HTTP_LLM_ROUTE_REASON_LEN   160
#define NGX_HTTP_LLM_ROUTE_RECENT       128
#define NGX_HTTP_LLM_ROUTE_MAX_SLOTS    4096
#define NGX_HTTP_LLM_ROUTE_SECONDS      64
/* the status shows the last 60 complete ones: never the slot being reused */
#define NGX_HTTP_LLM_ROUTE_SECONDS_SHOWN  60

/*
 * Histograms of latency and time to first token, in the buckets of
 * core/llr_stats.h (llr_hist_bounds_ms); Prometheus "le" labels are
 * their bounds in seconds.
 */
#define NGX_HTTP_LLM_ROUTE_BUCKETS      LLR_HIST_BUCKETS


typedef enum {
    NGX_HTTP_LLM_ROUTE_SLOT_FREE = 0,
    NGX_HTTP_LLM_ROUTE_SLOT_MODEL,
    NGX_HTTP_LLM_ROUTE_SLOT_PROVIDER,
    NGX_HTTP_LLM_ROUTE_SLOT_TASK,
    NGX_HTTP_LLM_ROUTE_SLOT_DEPLOYMENT,  /* "model@provider": latency EWMA */
    NGX_HTTP_LLM_ROUTE_SLOT_REJECTED,    /* a refusal reason: requests */
    NGX_HTTP_LLM_ROUTE_SLOT_PAIR         /* "model task": a model x task */
} ngx_http_llm_route_slot_kind_e;

/* the quality signals counted (core/llr_signal.h) */
#define NGX_HTTP_LLM_ROUTE_SIGNALS      LLR_SIG_N


typedef struct {
    ngx_atomic_t          requests;
    ngx_atomic_t          errors;
    ngx_atomic_t          prompt_tokens;
    ngx_atomic_t          completion_tokens;
    ngx_atomic_t          cached_tokens;
    ngx_atomic_t          reasoning_tokens;
    ngx_atomic_t          cost_pusd;          /* pico-USD */
    ngx_atomic_t          saved_pusd;
    ngx_atomic_t          estimated;          /* streams without usage */
    ngx_atomic_t          latency[NGX_HTTP_LLM_ROUTE_BUCKETS];
    ngx_atomic_t          latency_sum_ms;
    ngx_atomic_t          ttft[NGX_HTTP_LLM_ROUTE_BUCKETS];
    ngx_atomic_t          ttft_sum_ms;
    ngx_atomic_t          ttft_count;

    /*
     * zone version 8 (appended: a state file of fewer counters loads
     * into the first ones); the histograms in llr_hist_bounds_us
     */
    ngx_atomic_t          tpot[NGX_HTTP_LLM_ROUTE_BUCKETS];
    ngx_atomic_t          tpot_sum_us;       /* time per output token */
    ngx_atomic_t          failovers;         /* failed attempts retried
                                                elsewhere */
    ngx_atomic_t          failover_ok;       /* requests that failed over:
                                                answered in the end */
    ngx_atomic_t          failover_failed;   /* ... or not */
    ngx_atomic_t          cooldowns;         /* providers: cooldowns */

    /*
     * zone version 9 (appended): prompt tokens written to the provider's
     * prompt cache (Anthropic's cache_creation_input_tokens); part of
     * prompt_tokens, as cached_tokens (read from it) are
     */
    ngx_atomic_t          cache_write_tokens;

    /*
     * the quality loop (appended: a state file without them loads with
     * them at zero): answers whose signals were read (routed answers
     * that are not errors), each signal's count among them, and the
     * feedback scores (llm_route_feedback), their sum in thousandths as
     * two counters, the positive and the negative part
     */
    ngx_atomic_t          answers;
    ngx_atomic_t          signals[NGX_HTTP_LLM_ROUTE_SIGNALS];
    ngx_atomic_t          feedback;
    ngx_atomic_t          feedback_up;
    ngx_atomic_t          feedback_down;
} ngx_http_llm_route_counters_t;


typedef struct {
    ngx_uint_t                      kind;     /* slot_kind_e */
    size_t                          name_len;
    u_char                          name[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    ngx_http_llm_route_counters_t   c;

    /* providers (the resilience issue fills these) */
    ngx_atomic_t                    failures;
    ngx_atomic_t                    cooldown_until;  /* epoch ms */
    ngx_atomic_t                    retry_until;     /* epoch ms: a 429's
                                                        Retry-After */
    ngx_atomic_t                    window_start;    /* epoch ms */
    ngx_atomic_t                    window_fails;    /* in the window */

    /* deployments: recent latency, for llm_route_balance latency */
    ngx_atomic_t                    ewma_ms16;       /* EWMA, ms * 16 */
    ngx_atomic_t                    ewma_updated;    /* epoch ms */
} ngx_http_llm_route_slot_t;


/*
 * one word per second and series, by second modulo the size
 * (core/llr_stats.h): the counts of the last seconds
 */
typedef struct {
    ngx_atomic_t          requests[NGX_HTTP_LLM_ROUTE_SECONDS];
    ngx_atomic_t          errors[NGX_HTTP_LLM_ROUTE_SECONDS];
    ngx_atomic_t          rejected[NGX_HTTP_LLM_ROUTE_SECONDS];
} ngx_http_llm_route_seconds_t;


/* requests in flight in one process (metrics.c) */
typedef struct {
    ngx_atomic_t          pid;
    ngx_atomic_t          n;
} ngx_http_llm_route_inflight_t;


/* one request, as the dashboard's "recent" table shows it */
typedef struct {
    ngx_atomic_t          seq;         /* odd while being written */
    time_t                time;
    ngx_msec_t            latency_ms;
    ngx_msec_int_t        ttft_ms;     /* -1: none */
    ngx_uint_t            time_msec;   /* 0..999 */
    ngx_uint_t            n;           /* request number, from 0 */
    ngx_pid_t             writer;      /* who set seq odd */
    ngx_uint_t            status;
    ngx_uint_t            rejected;    /* llr_reject_e, 0: routed */
    uint64_t              prompt_tokens;
    uint64_t              completion_tokens;
    uint64_t              cached_tokens;
    uint64_t              reasoning_tokens;
    uint64_t              cost_pusd;
    uint64_t              saved_pusd;
    double                difficulty;  /* < 0: not classified */
    u_char                requested[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    u_char                model[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    u_char                provider[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    u_char                task[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    u_char                reason[NGX_HTTP_LLM_ROUTE_REASON_LEN];
    unsigned              error:1;
    unsigned              estimated:1;
    unsigned              stream:1;
    uint64_t              cache_write_tokens;
} ngx_http_llm_route_recent_t;


typedef struct {
    uint64_t                        magic;
    ngx_uint_t                      version;
    ngx_atomic_t                    generation;  /* configurations seen */
    time_t                          started;     /* first start, or state */
    time_t                          loaded;      /* state file read, or 0 */
    ngx_uint_t                      nslots;      /* capacity */
    ngx_atomic_t                    nused;       /* slots[0 .. nused-1] */

    /* the state file writer: one worker at a time, see state.c */
    ngx_atomic_t                    state_lock;  /* pid of the writer */
    ngx_atomic_t                    state_lock_time;
    ngx_atomic_t                    state_next;  /* epoch ms of the next */
    ngx_atomic_t                    state_writes;
    ngx_atomic_t                    state_errors;
    time_t                          state_last;  /* last written, epoch */

    ngx_http_llm_route_limits_sh_t *limits;      /* limits_shm.c's */
    ngx_http_llm_route_series_t    *routes;      /* requested -> model */
    ngx_http_llm_route_series_t    *keys;        /* llm_route_spend_key */

    /* by ngx_process_slot: requests routed, not yet logged (metrics.c) */
    ngx_http_llm_route_inflight_t  *inflight;

    /* the router's own time per request (not in the state file) */
    ngx_atomic_t                    overhead[NGX_HTTP_LLM_ROUTE_BUCKETS];
    ngx_atomic_t                    overhead_sum_us;
    llr_fb_ring_t                  *feedback;    /* feedback.c's, or NULL */
    ngx_http_llm_route_arms_sh_t   *arms;        /* experiment.c's, or NULL */
    ngx_http_llm_route_drift_sh_t  *drift;       /* drift.c's, or NULL */

    ngx_http_llm_route_counters_t   totals;
    ngx_http_llm_route_seconds_t    seconds;
    ngx_atomic_t                    recent_next; /* requests recorded */
    ngx_http_llm_route_recent_t     recent[NGX_HTTP_LLM_ROUTE_RECENT];
    ngx_http_llm_route_slot_t       slots[1];    /* nslots */
} ngx_http_llm_route_shm_t;


/* what the log phase records for one routed or refused request */
typedef struct {
    ngx_int_t             model_slot;     /* -1: none */
    ngx_int_t             provider_slot;
    ngx_int_t             task_slot;
    ngx_int_t             pair_slot;      /* model x task, -1: none */
    ngx_int_t             rejected_slot;  /* of the reason, if rejected */
    ngx_int_t             deployment_slot;
    ngx_uint_t            status;
    ngx_uint_t            rejected;       /* llr_reject_e, 0: routed */
    uint64_t              prompt_tokens;
    uint64_t              completion_tokens;
    uint64_t              cached_tokens;
    uint64_t              reasoning_tokens;
    uint64_t              cost_pusd;
    uint64_t              saved_pusd;
    ngx_msec_t            latency_ms;
    ngx_msec_int_t        ttft_ms;        /* -1: none */
    int64_t               tpot_us;        /* -1: none */
    uint64_t              overhead_us;    /* the router's own time */
    ngx_uint_t            failover;       /* 0, or 1 + failed in the end */
    double                difficulty;     /* < 0: not classified */
    ngx_str_t             requested;
    ngx_str_t             model;
    ngx_str_t             provider;
    ngx_str_t             task;
    ngx_str_t             reason;
    uint32_t              signals;        /* LLR_SIG_BIT()s */
    unsigned              error:1;
    unsigned              estimated:1;
    unsigned              stream:1;
    unsigned              answered:1;     /* signals were read */
    uint64_t              cache_write_tokens;  /* of prompt_tokens */
} ngx_http_llm_route_record_t;


/* the cached time in milliseconds since the epoch */
uint64_t ngx_http_llm_route_now_ms(void);

/* the zone of this configuration, NULL without llm_route_zone */
ngx_http_llm_route_shm_t *ngx_http_llm_route_shm(ngx_http_request_t *r);

/* slot n, NULL if the zone has none */
ngx_http_llm_route_slot_t *ngx_http_llm_route_zone_slot(
    ngx_http_llm_route_shm_t *sh, ngx_int_t slot);

/* the slot of a kind and name: its number, or NGX_DECLINED */
ngx_int_t ngx_http_llm_route_find_slot(ngx_http_llm_route_shm_t *sh,
    ngx_uint_t kind, u_char *name, size_t len);

/*
 * the slot of a kind and name, a new one if there is none (the master
 * only, at zone creation or reload: no other process allocates slots);
 * NGX_ERROR (logged) if there is no room
 */
ngx_int_t ngx_http_llm_route_get_slot(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t kind, ngx_str_t *name);

/* a saturating add to a zone counter (never wraps) */
void ngx_http_llm_route_counter_add(ngx_atomic_t *counter, uint64_t v);

/*
 * add one request to the totals, its slots, the per-second counts and
 * the recent ring; a refused one (rec->rejected) only to its reason's
 * slot, the per-second refusals and the ring
 */
void ngx_http_llm_route_zone_record(ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_record_t *rec);

/* the count of second sec (epoch) in a series of sh->seconds */
uint64_t ngx_http_llm_route_second(ngx_atomic_t *series, time_t sec);

/* percentile (0..1) in ms of a histogram of the zone (llr_hist_percentile) */
double ngx_http_llm_route_percentile(ngx_atomic_t *buckets, double q);

/* the same in us, of a histogram in llr_hist_bounds_us */
double ngx_http_llm_route_percentile_us(ngx_atomic_t *buckets, double q);

/*
 * a consistent copy of recent entry i (0 = newest); NGX_DECLINED if
 * there is no such entry or it is being written
 */
ngx_int_t ngx_http_llm_route_recent_get(ngx_http_llm_route_shm_t *sh,
    ngx_uint_t i, ngx_http_llm_route_recent_t *copy);

/* the process is gone (a killed worker holding a lock or an entry) */
ngx_int_t ngx_http_llm_route_pid_gone(ngx_pid_t pid);


#endif /* _NGX_HTTP_LLM_ROUTE_SHM_H_INCLUDED_ */
