
/*
 * ngx_llm_route_module: provider health, shared by the workers.
 *
 * With nginx's meaning: max_fails failures within fail_timeout put the
 * provider in cooldown for fail_timeout; a 429 with Retry-After cools it
 * down for that long.  The state is in the zone (atomics, no lock), so
 * every worker skips a cooled-down provider at once.  Without a zone
 * every provider is always up.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_health.h"
#include "ngx_http_llm_route_shm.h"


static ngx_http_llm_route_slot_t *ngx_http_llm_route_health_slot(
    ngx_http_request_t *r, ngx_http_llm_route_provider_t *pr);
static void ngx_http_llm_route_until(ngx_atomic_t *when,
    ngx_atomic_uint_t until);
static ngx_msec_t ngx_http_llm_route_left(ngx_atomic_t *when);


static ngx_http_llm_route_slot_t *
ngx_http_llm_route_health_slot(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr)
{
    ngx_http_llm_route_shm_t  *sh;

    if (pr->slot < 0) {
        return NULL;
    }

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL) {
        return NULL;
    }

    return ngx_http_llm_route_zone_slot(sh, pr->slot);
}


/* milliseconds of cooldown left, 0 when the provider is up */

ngx_msec_t
ngx_http_llm_route_provider_cooldown(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr)
{
    ngx_http_llm_route_slot_t  *s;

    s = ngx_http_llm_route_health_slot(r, pr);

    return s ? ngx_http_llm_route_left(&s->cooldown_until) : 0;
}


/*
 * milliseconds left of the Retry-After of the provider's last 429, 0 if
 * none applies: such a provider is not tried before it ends, even when
 * every other one is cooling down too
 */

ngx_msec_t
ngx_http_llm_route_provider_retry_after(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr)
{
    ngx_http_llm_route_slot_t  *s;

    s = ngx_http_llm_route_health_slot(r, pr);

    return s ? ngx_http_llm_route_left(&s->retry_until) : 0;
}


static ngx_msec_t
ngx_http_llm_route_left(ngx_atomic_t *when)
{
    ngx_atomic_uint_t  now, until;

    until = *when;
    now = (ngx_atomic_uint_t) ngx_http_llm_route_now_ms();

    return until > now ? (ngx_msec_t) (until - now) : 0;
}


/* *when = max(*when, until), atomically */

static void
ngx_http_llm_route_until(ngx_atomic_t *when, ngx_atomic_uint_t until)
{
    ngx_atomic_uint_t  old;

    for ( ;; ) {
        old = *when;

        if (old >= until || ngx_atomic_cmp_set(when, old, until)) {
            return;
        }
    }
}


/*
 * A failed attempt: a connection error or timeout (502, 504), a 5xx, or
 * a 429.  retry_after is in seconds, 0 if the provider gave none.
 */

void
ngx_http_llm_route_provider_failed(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr, ngx_uint_t status, time_t retry_after)
{
    ngx_atomic_uint_t           now, start, fails, timeout, until;
    ngx_http_llm_route_slot_t  *s;

    s = ngx_http_llm_route_health_slot(r, pr);

    if (s == NULL) {
        return;
    }

    now = (ngx_atomic_uint_t) ngx_http_llm_route_now_ms();
    timeout = (ngx_atomic_uint_t) pr->fail_timeout;

    ngx_http_llm_route_counter_add(&s->failures, 1);

    if (status == NGX_HTTP_TOO_MANY_REQUESTS && retry_after > 0) {
        until = now + (ngx_atomic_uint_t) retry_after * 1000;

        ngx_http_llm_route_until(&s->cooldown_until, until);
        ngx_http_llm_route_until(&s->retry_until, until);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "llm_route: provider \"%V\" answered 429, cooling "
                      "down for %T s (Retry-After)", &pr->name, retry_after);
        return;
    }

    if (pr->max_fails == 0) {
        return;
    }

    /* a new window when the last one is older than fail_timeout */

    start = s->window_start;

    if (now - start >= timeout
        && ngx_atomic_cmp_set(&s->window_start, start, now))
    {
        s->window_fails = 0;
    }

    fails = ngx_atomic_fetch_add(&s->window_fails, 1) + 1;

    if (fails < pr->max_fails) {
        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: provider \"%V\" failed with %ui, "
                       "%uA of max_fails %ui: no cooldown yet",
                       &pr->name, status, fails, pr->max_fails);
        return;
    }

    ngx_http_llm_route_until(&s->cooldown_until, now + timeout);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "llm_route: provider \"%V\" failed %uA times within "
                  "%M ms, cooling down for %M ms", &pr->name, fails,
                  pr->fail_timeout, pr->fail_timeout);
}


/*
 * llm_route_balance latency: the deployment with the lowest recent
 * latency per unit of weight (EWMA of successful requests, kept in the
 * zone).  NULL when one of them has no recent sample (none, or older
 * than NGX_HTTP_LLM_ROUTE_EWMA_STALE): the caller round-robins so that
 * every deployment keeps being measured.
 */

#define NGX_HTTP_LLM_ROUTE_EWMA_STALE  60000


ngx_http_llm_route_deployment_t *
ngx_http_llm_route_least_latency(ngx_http_request_t *r,
    ngx_http_llm_route_deployment_t **d, ngx_uint_t n)
{
    double                            score, best_score;
    ngx_uint_t                        i;
    ngx_atomic_uint_t                 now, ewma, updated;
    ngx_http_llm_route_shm_t         *sh;
    ngx_http_llm_route_slot_t        *s;
    ngx_http_llm_route_deployment_t  *best;

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL) {
        return NULL;
    }

    now = (ngx_atomic_uint_t) ngx_http_llm_route_now_ms();
    best = NULL;
    best_score = 0;

    for (i = 0; i < n; i++) {
        s = ngx_http_llm_route_zone_slot(sh, d[i]->slot);

        if (s == NULL) {
            return NULL;
        }

        ewma = s->ewma_ms16;
        updated = s->ewma_updated;

        if (updated == 0 || now - updated > NGX_HTTP_LLM_ROUTE_EWMA_STALE) {
            return NULL;
        }

        score = (double) (ewma + 1) / (double) d[i]->rr.weight;

        if (best == NULL || score < best_score) {
            best = d[i];
            best_score = score;
        }
    }

    return best;
}


/*
 * A successful request's latency into the average (core/llr_balance.h).
 * Concurrent updates may lose one sample; no lock.
 */

void
ngx_http_llm_route_latency_sample(ngx_http_request_t *r,
    ngx_http_llm_route_deployment_t *d, ngx_msec_t ms)
{
    ngx_http_llm_route_slot_t  *s;

    s = ngx_http_llm_route_zone_slot(ngx_http_llm_route_shm(r), d->slot);

    if (s == NULL) {
        return;
    }

    s->ewma_ms16 = (ngx_atomic_uint_t) llr_ewma_ms16(s->ewma_ms16, ms,
                                                     s->ewma_updated == 0);

    s->ewma_updated = (ngx_atomic_uint_t) ngx_http_llm_route_now_ms();
}
