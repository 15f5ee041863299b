
/*
 * ngx_llm_route_module: the status as JSON (?format=json, the default).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <math.h>

#include "ngx_http_llm_route_status_json.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_limits_list.h"
#include "ngx_http_llm_route_redis.h"
#include "ngx_http_llm_route_metrics.h"
#include "ngx_http_llm_route_series.h"
#include "ngx_http_llm_route_quality.h"
#include "ngx_http_llm_route_status_quality.h"
#include "llr_limits.h"


typedef void (*ngx_http_llm_route_json_item_pt)(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_item_t *it, uint64_t now_ms);


static void ngx_http_llm_route_json_zone(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh, time_t now,
    uint64_t now_ms);
static void ngx_http_llm_route_json_totals(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_list(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh,
    ngx_uint_t kind, const char *name, ngx_http_llm_route_json_item_pt item,
    uint64_t now_ms);
static void ngx_http_llm_route_json_model(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_item_t *it, uint64_t now_ms);
static void ngx_http_llm_route_json_provider(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_item_t *it, uint64_t now_ms);
static void ngx_http_llm_route_json_task(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_item_t *it, uint64_t now_ms);
static void ngx_http_llm_route_json_counters(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_counters_t *c);
static void ngx_http_llm_route_json_signals(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_counters_t *c);
static void ngx_http_llm_route_json_quality(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_percentiles(ngx_http_llm_route_out_t *o,
    const char *name, ngx_atomic_t *buckets, uint64_t sum, uint64_t count);
static void ngx_http_llm_route_json_buckets(ngx_http_llm_route_out_t *o,
    const char *name, ngx_atomic_t *buckets);
static void ngx_http_llm_route_json_percentiles_us(
    ngx_http_llm_route_out_t *o, const char *name, ngx_atomic_t *buckets,
    uint64_t sum_us, uint64_t unit);
static void ngx_http_llm_route_json_deployments(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_series(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_series_t *t, ngx_uint_t keys);
static void ngx_http_llm_route_json_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_seconds(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_shm_t *sh, time_t now);
static void ngx_http_llm_route_json_recent(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_budgets(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_rates(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_redis(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o);


/*
 * The zone's counters as JSON (docs/status.md): the zone and its state
 * file, the totals and their histograms, per model, provider and task,
 * the refusals, the last seconds, budgets and rate limits, the recent
 * requests
 */

void
ngx_http_llm_route_status_json(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    time_t                           now;
    uint64_t                         now_ms;
    ngx_time_t                      *tp;
    ngx_http_llm_route_main_conf_t  *mcf;

    tp = ngx_timeofday();
    now = tp->sec;
    now_ms = (uint64_t) tp->sec * 1000 + tp->msec;

    ngx_http_llm_route_json_zone(r, o, sh, now, now_ms);
    ngx_http_llm_route_json_totals(r, o, sh);
    ngx_http_llm_route_json_list(r, o, sh, NGX_HTTP_LLM_ROUTE_SLOT_MODEL,
                                 "models", ngx_http_llm_route_json_model,
                                 now_ms);
    ngx_http_llm_route_json_list(r, o, sh, NGX_HTTP_LLM_ROUTE_SLOT_PROVIDER,
                                 "providers",
                                 ngx_http_llm_route_json_provider, now_ms);
    ngx_http_llm_route_json_list(r, o, sh, NGX_HTTP_LLM_ROUTE_SLOT_TASK,
                                 "tasks", ngx_http_llm_route_json_task,
                                 now_ms);
    ngx_http_llm_route_json_deployments(r, o, sh);
    ngx_http_llm_route_json_series(o, sh->routes, 0);

    /* a table left by a configuration that had llm_route_spend_key */
    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);
    ngx_http_llm_route_json_series(o, mcf->spend_key ? sh->keys : NULL, 1);
    ngx_http_llm_route_json_quality(r, o, sh);
    ngx_http_llm_route_json_experiments(r, o, sh);
    ngx_http_llm_route_json_drift(r, o, sh);
    ngx_http_llm_route_json_rejected(r, o, sh);
    ngx_http_llm_route_json_seconds(o, sh, now);
    ngx_http_llm_route_json_budgets(r, o, sh);
    ngx_http_llm_route_json_rates(r, o, sh);
    ngx_http_llm_route_json_redis(r, o);
    ngx_http_llm_route_json_recent(o, sh);

    ngx_http_llm_route_out_printf(o, "}\n");
}


/* the zone, and its state file */

static void
ngx_http_llm_route_json_zone(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh, time_t now,
    uint64_t now_ms)
{
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    ngx_http_llm_route_out_printf(o, "{\"version\":1,\"zone\":");
    ngx_http_llm_route_out_json(o, mcf->shm_zone->shm.name.data,
                                mcf->shm_zone->shm.name.len);
    ngx_http_llm_route_out_printf(o,
        ",\"generation\":%uA,\"started\":%T,\"uptime\":%T,"
        "\"now_ms\":%uL,\"slots\":{\"used\":%uA,\"capacity\":%ui}",
        sh->generation, sh->started, now - sh->started, now_ms, sh->nused,
        sh->nslots);

    if (mcf->state_path.len == 0) {
        return;
    }

    ngx_http_llm_route_out_printf(o, ",\"state\":{\"file\":");
    ngx_http_llm_route_out_json(o, mcf->state_path.data, mcf->state_path.len);
    ngx_http_llm_route_out_printf(o,
        ",\"interval_ms\":%M,\"writes\":%uA,\"errors\":%uA,"
        "\"last_written\":%T,\"loaded\":%T}",
        mcf->state_interval, sh->state_writes, sh->state_errors,
        sh->state_last, sh->loaded);
}


/* the totals, and the raw histograms (for windowed percentiles) */

static void
ngx_http_llm_route_json_totals(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    uint64_t                        n;
    ngx_uint_t                      i;
    ngx_http_llm_route_counters_t  *c;

    c = &sh->totals;

    for (n = 0, i = 1; i < LLR_REJECT_N; i++) {
        n += ngx_http_llm_route_rejected(r, sh, i);
    }

    ngx_http_llm_route_out_printf(o, ",\"totals\":{");
    ngx_http_llm_route_json_counters(o, c);
    ngx_http_llm_route_out_printf(o, ",\"rejected\":%uL", n);
    ngx_http_llm_route_out_printf(o,
        ",\"in_flight\":%uL,\"failovers\":%uA,"
        "\"failover_requests\":{\"recovered\":%uA,\"failed\":%uA}",
        ngx_http_llm_route_inflight(sh), c->failovers, c->failover_ok,
        c->failover_failed);
    ngx_http_llm_route_json_percentiles_us(o, "overhead_us", sh->overhead,
                                           sh->overhead_sum_us, 1);
    ngx_http_llm_route_json_percentiles(o, "latency_ms", c->latency,
                                        c->latency_sum_ms,
                                        ngx_http_llm_route_hist_count(
                                            c->latency));
    ngx_http_llm_route_json_percentiles(o, "ttft_ms", c->ttft,
                                        c->ttft_sum_ms, c->ttft_count);
    ngx_http_llm_route_out_printf(o, "}");

    ngx_http_llm_route_out_printf(o, ",\"histograms\":{\"bounds_ms\":[");

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_BUCKETS - 1; i++) {
        ngx_http_llm_route_out_printf(o, "%s%uL", i ? "," : "",
                                      llr_hist_bounds_ms[i]);
    }

    ngx_http_llm_route_out_printf(o, "]");
    ngx_http_llm_route_json_buckets(o, "latency", c->latency);
    ngx_http_llm_route_json_buckets(o, "ttft", c->ttft);
    ngx_http_llm_route_out_printf(o,
        ",\"latency_sum_ms\":%uA,\"ttft_sum_ms\":%uA,\"ttft_count\":%uA}",
        c->latency_sum_ms, c->ttft_sum_ms, c->ttft_count);
}


/*
 * "models", "providers" or "tasks": an object of the configured names of
 * the kind, each with what item() writes of it
 */

static void
ngx_http_llm_route_json_list(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh,
    ngx_uint_t kind, const char *name, ngx_http_llm_route_json_item_pt item,
    uint64_t now_ms)
{
    ngx_uint_t                  i;
    ngx_array_t                *a;
    ngx_http_llm_route_item_t  *it;

    ngx_http_llm_route_out_printf(o, ",\"%s\":{", name);

    a = ngx_http_llm_route_items(r, sh, kind);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    it = a->elts;

    for (i = 0; i < a->nelts; i++) {
        ngx_http_llm_route_out_printf(o, "%s", i ? "," : "");
        ngx_http_llm_route_out_json(o, it[i].name.data, it[i].name.len);
        ngx_http_llm_route_out_printf(o, ":{");
        item(o, &it[i], now_ms);
        ngx_http_llm_route_out_printf(o, "}");
    }

    ngx_http_llm_route_out_printf(o, "}");
}


static void
ngx_http_llm_route_json_model(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_item_t *it, uint64_t now_ms)
{
    ngx_http_llm_route_counters_t  *c;

    c = &it->slot->c;

    ngx_http_llm_route_out_printf(o, "\"provider\":");
    ngx_http_llm_route_out_json(o, it->provider.data, it->provider.len);
    ngx_http_llm_route_out_printf(o, ",");
    ngx_http_llm_route_json_counters(o, c);
    ngx_http_llm_route_json_percentiles(o, "latency_ms", c->latency,
                                        c->latency_sum_ms,
                                        ngx_http_llm_route_hist_count(
                                            c->latency));
    ngx_http_llm_route_json_percentiles(o, "ttft_ms", c->ttft,
                                        c->ttft_sum_ms, c->ttft_count);
    ngx_http_llm_route_json_percentiles_us(o, "tpot_ms", c->tpot,
                                           c->tpot_sum_us, 1000);
    ngx_http_llm_route_json_buckets(o, "latency_buckets", c->latency);
    ngx_http_llm_route_json_buckets(o, "ttft_buckets", c->ttft);
}


static void
ngx_http_llm_route_json_provider(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_item_t *it, uint64_t now_ms)
{
    ngx_uint_t                      up;
    ngx_http_llm_route_counters_t  *c;

    c = &it->slot->c;
    up = it->slot->cooldown_until <= now_ms;

    ngx_http_llm_route_out_printf(o,
        "\"requests\":%uA,\"errors\":%uA,\"failures\":%uA,"
        "\"cooldowns\":%uA,"
        "\"state\":\"%s\",\"cooldown_until\":%T,\"cost_usd\":",
        c->requests, c->errors, it->slot->failures, c->cooldowns,
        up ? "up" : "cooldown",
        up ? 0 : (time_t) (it->slot->cooldown_until / 1000));
    ngx_http_llm_route_out_usd(o, c->cost_pusd);
    ngx_http_llm_route_json_percentiles(o, "latency_ms", c->latency,
                                        c->latency_sum_ms,
                                        ngx_http_llm_route_hist_count(
                                            c->latency));
}


static void
ngx_http_llm_route_json_task(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_item_t *it, uint64_t now_ms)
{
    ngx_http_llm_route_counters_t  *c;

    c = &it->slot->c;

    ngx_http_llm_route_out_printf(o,
        "\"requests\":%uA,\"errors\":%uA,\"prompt_tokens\":%uA,"
        "\"completion_tokens\":%uA,\"cost_usd\":",
        c->requests, c->errors, c->prompt_tokens, c->completion_tokens);
    ngx_http_llm_route_out_usd(o, c->cost_pusd);
    ngx_http_llm_route_out_printf(o, ",\"saved_usd\":");
    ngx_http_llm_route_out_usd(o, c->saved_pusd);
    ngx_http_llm_route_json_signals(o, c);
}


/*
 * "quality": each model x task that has requests, with its requests,
 * errors, output tokens, latency, signals and feedback
 */

static void
ngx_http_llm_route_json_quality(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_uint_t                      i;
    ngx_array_t                    *a;
    ngx_http_llm_route_pair_t      *p;
    ngx_http_llm_route_counters_t  *c;

    a = ngx_http_llm_route_pairs(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    ngx_http_llm_route_out_printf(o, ",\"quality\":[");

    p = a->elts;

    for (i = 0; i < a->nelts; i++) {
        c = &p[i].slot->c;

        ngx_http_llm_route_out_printf(o, "%s{\"model\":", i ? "," : "");
        ngx_http_llm_route_out_json(o, p[i].model.data, p[i].model.len);
        ngx_http_llm_route_out_printf(o, ",\"task\":");
        ngx_http_llm_route_out_json(o, p[i].task.data, p[i].task.len);
        ngx_http_llm_route_out_printf(o,
            ",\"requests\":%uA,\"errors\":%uA,\"completion_tokens\":%uA,"
            "\"cost_usd\":",
            c->requests, c->errors, c->completion_tokens);
        ngx_http_llm_route_out_usd(o, c->cost_pusd);
        ngx_http_llm_route_json_percentiles(o, "latency_ms", c->latency,
                                            c->latency_sum_ms,
                                            ngx_http_llm_route_hist_count(
                                                c->latency));
        ngx_http_llm_route_json_signals(o, c);
        ngx_http_llm_route_out_printf(o, "}");
    }

    ngx_http_llm_route_out_printf(o, "]");
}


/* ---- JSON --------------------------------------------------------------- */


/*
 * ,"answers":N,"signals":{...},"feedback":{"count":N,"mean":X}: the
 * answers whose signals were read, each signal's count among them, the
 * feedback scores (mean null while there is none)
 */

static void
ngx_http_llm_route_json_signals(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_counters_t *c)
{
    ngx_uint_t  k;

    ngx_http_llm_route_out_printf(o, ",\"answers\":%uA,\"signals\":{",
                                  c->answers);

    for (k = 0; k < NGX_HTTP_LLM_ROUTE_SIGNALS; k++) {
        ngx_http_llm_route_out_printf(o, "%s\"%s\":%uA", k ? "," : "",
                                      llr_sig_name(k), c->signals[k]);
    }

    ngx_http_llm_route_out_printf(o, "},\"feedback\":{\"count\":%uA,"
                                  "\"mean\":", c->feedback);

    if (c->feedback) {
        ngx_http_llm_route_out_printf(o, "%.3f}",
                                   ngx_http_llm_route_feedback_mean(c));

    } else {
        ngx_http_llm_route_out_printf(o, "null}");
    }
}


static void
ngx_http_llm_route_json_counters(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_counters_t *c)
{
    ngx_http_llm_route_out_printf(o,
        "\"requests\":%uA,\"errors\":%uA,\"prompt_tokens\":%uA,"
        "\"completion_tokens\":%uA,\"cached_tokens\":%uA,"
        "\"cache_write_tokens\":%uA,"
        "\"reasoning_tokens\":%uA,\"estimated\":%uA,\"cost_usd\":",
        c->requests, c->errors, c->prompt_tokens, c->completion_tokens,
        c->cached_tokens, c->cache_write_tokens, c->reasoning_tokens,
        c->estimated);
    ngx_http_llm_route_out_usd(o, c->cost_pusd);
    ngx_http_llm_route_out_printf(o, ",\"saved_usd\":");
    ngx_http_llm_route_out_usd(o, c->saved_pusd);
    ngx_http_llm_route_json_signals(o, c);
}


static void
ngx_http_llm_route_json_percentiles(ngx_http_llm_route_out_t *o,
    const char *name, ngx_atomic_t *buckets, uint64_t sum, uint64_t count)
{
    ngx_http_llm_route_out_printf(o,
        ",\"%s\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"avg\":%.1f}",
        name,
        ngx_http_llm_route_percentile(buckets, 0.50),
        ngx_http_llm_route_percentile(buckets, 0.90),
        ngx_http_llm_route_percentile(buckets, 0.99),
        count ? (double) sum / (double) count : 0.0);
}


static void
ngx_http_llm_route_json_buckets(ngx_http_llm_route_out_t *o,
    const char *name, ngx_atomic_t *buckets)
{
    ngx_uint_t  i;

    ngx_http_llm_route_out_printf(o, ",\"%s\":[", name);

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_BUCKETS; i++) {
        ngx_http_llm_route_out_printf(o, "%s%uA", i ? "," : "", buckets[i]);
    }

    ngx_http_llm_route_out_printf(o, "]");
}


/*
 * percentiles of a histogram in llr_hist_bounds_us, in us / unit (1:
 * microseconds, 1000: milliseconds)
 */

static void
ngx_http_llm_route_json_percentiles_us(ngx_http_llm_route_out_t *o,
    const char *name, ngx_atomic_t *buckets, uint64_t sum_us, uint64_t unit)
{
    double    u;
    uint64_t  count;

    u = (double) unit;
    count = ngx_http_llm_route_hist_count(buckets);

    ngx_http_llm_route_out_printf(o,
        ",\"%s\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"avg\":%.3f,"
        "\"count\":%uL}",
        name,
        ngx_http_llm_route_percentile_us(buckets, 0.50) / u,
        ngx_http_llm_route_percentile_us(buckets, 0.90) / u,
        ngx_http_llm_route_percentile_us(buckets, 0.99) / u,
        count ? (double) sum_us / (double) count / u : 0.0, count);
}


/* "deployments": by the deployment's slot name, model@provider[/upstream] */

static void
ngx_http_llm_route_json_deployments(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_uint_t                      i;
    ngx_array_t                    *a;
    ngx_http_llm_route_item_t      *it;
    ngx_http_llm_route_counters_t  *c;

    a = ngx_http_llm_route_items(r, sh, NGX_HTTP_LLM_ROUTE_SLOT_DEPLOYMENT);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    it = a->elts;

    ngx_http_llm_route_out_printf(o, ",\"deployments\":{");

    for (i = 0; i < a->nelts; i++) {
        c = &it[i].slot->c;

        ngx_http_llm_route_out_printf(o, "%s", i ? "," : "");
        ngx_http_llm_route_out_json(o, it[i].slot->name,
                                    it[i].slot->name_len);
        ngx_http_llm_route_out_printf(o, ":{\"model\":");
        ngx_http_llm_route_out_json(o, it[i].name.data, it[i].name.len);
        ngx_http_llm_route_out_printf(o, ",\"provider\":");
        ngx_http_llm_route_out_json(o, it[i].provider.data,
                                    it[i].provider.len);
        ngx_http_llm_route_out_printf(o, ",\"upstream_model\":");
        ngx_http_llm_route_out_json(o, it[i].upstream.data,
                                    it[i].upstream.len);
        ngx_http_llm_route_out_printf(o,
            ",\"requests\":%uA,\"errors\":%uA,\"failovers\":%uA,"
            "\"prompt_tokens\":%uA,\"completion_tokens\":%uA,"
            "\"cached_tokens\":%uA,\"cache_write_tokens\":%uA,"
            "\"cost_usd\":",
            c->requests, c->errors, c->failovers, c->prompt_tokens,
            c->completion_tokens, c->cached_tokens, c->cache_write_tokens);
        ngx_http_llm_route_out_usd(o, c->cost_pusd);
        ngx_http_llm_route_json_percentiles(o, "latency_ms", c->latency,
                                            c->latency_sum_ms,
                                            ngx_http_llm_route_hist_count(
                                                c->latency));
        ngx_http_llm_route_out_printf(o, "}");
    }

    ngx_http_llm_route_out_printf(o, "}");
}


/*
 * "routes": [{"requested_model", "model", counts}], or "keys": {"<key>":
 * {counts}} (series.c); entry 0, "_other", once something is in it
 */

static void
ngx_http_llm_route_json_series(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_series_t *t, ngx_uint_t keys)
{
    ngx_uint_t                          i, n, first;
    ngx_http_llm_route_series_entry_t  *e;

    if (t == NULL) {
        return;
    }

    n = t->nused;
    ngx_memory_barrier();

    ngx_http_llm_route_out_printf(o, keys ? ",\"keys\":{" : ",\"routes\":[");

    first = 1;

    for (i = 0; i < n; i++) {
        e = &t->e[i];

        if (i == 0 && e->requests == 0) {
            continue;
        }

        ngx_http_llm_route_out_printf(o, "%s", first ? "" : ",");
        first = 0;

        if (keys) {
            ngx_http_llm_route_out_json(o, e->label, e->len1);
            ngx_http_llm_route_out_printf(o, ":{");

        } else {
            ngx_http_llm_route_out_printf(o, "{\"requested_model\":");
            ngx_http_llm_route_out_json(o, e->label, e->len1);
            ngx_http_llm_route_out_printf(o, ",\"model\":");
            ngx_http_llm_route_out_json(o, e->label + e->len1, e->len2);
            ngx_http_llm_route_out_printf(o, ",");
        }

        ngx_http_llm_route_out_printf(o,
            "\"requests\":%uA,\"errors\":%uA,\"prompt_tokens\":%uA,"
            "\"completion_tokens\":%uA,\"cost_usd\":",
            e->requests, e->errors, e->prompt_tokens, e->completion_tokens);
        ngx_http_llm_route_out_usd(o, e->cost_pusd);
        ngx_http_llm_route_out_printf(o, "}");
    }

    ngx_http_llm_route_out_printf(o, "%s", keys ? "}" : "]");
}


/* "rejected": every reason, in their fixed order */

static void
ngx_http_llm_route_json_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_uint_t  i;

    ngx_http_llm_route_out_printf(o, ",\"rejected\":{");

    for (i = 1; i < LLR_REJECT_N; i++) {
        ngx_http_llm_route_out_printf(o, "%s\"%s\":%uL", i > 1 ? "," : "",
                                      llr_reject_name((llr_reject_e) i),
                                      ngx_http_llm_route_rejected(r, sh, i));
    }

    ngx_http_llm_route_out_printf(o, "}");
}


/*
 * "per_second": the counts of the last complete seconds, oldest first,
 * so that a page knows the rates as soon as it loads
 */

static void
ngx_http_llm_route_json_seconds(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_shm_t *sh, time_t now)
{
    time_t         sec, first;
    ngx_uint_t     k;
    ngx_atomic_t  *series;

    static const char  *names[] = { "requests", "errors", "rejected" };

    first = now - NGX_HTTP_LLM_ROUTE_SECONDS_SHOWN;

    ngx_http_llm_route_out_printf(o,
        ",\"per_second\":{\"seconds\":%d,\"end\":%T",
        NGX_HTTP_LLM_ROUTE_SECONDS_SHOWN, now);

    for (k = 0; k < 3; k++) {
        series = k == 0 ? sh->seconds.requests
                 : k == 1 ? sh->seconds.errors : sh->seconds.rejected;

        ngx_http_llm_route_out_printf(o, ",\"%s\":[", names[k]);

        for (sec = first; sec < now; sec++) {
            ngx_http_llm_route_out_printf(o, "%s%uL", sec > first ? "," : "",
                                     ngx_http_llm_route_second(series, sec));
        }

        ngx_http_llm_route_out_printf(o, "]");
    }

    ngx_http_llm_route_out_printf(o, "}");
}


static void
ngx_http_llm_route_json_recent(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_shm_t *sh)
{
    size_t                        len;
    ngx_uint_t                    i, k;
    ngx_http_llm_route_recent_t   e;

    ngx_http_llm_route_out_printf(o, ",\"recent\":[");

    for (k = 0, i = 0; i < NGX_HTTP_LLM_ROUTE_RECENT; i++) {

        if (ngx_http_llm_route_recent_get(sh, i, &e) != NGX_OK) {
            continue;
        }

        ngx_http_llm_route_out_printf(o,
            "%s{\"n\":%ui,\"time\":%T.%03ui,\"status\":%ui,"
            "\"error\":%s,\"stream\":%s,\"estimated\":%s,",
            k++ ? "," : "", e.n, e.time, e.time_msec, e.status,
            e.error ? "true" : "false", e.stream ? "true" : "false",
            e.estimated ? "true" : "false");

        if (e.rejected > LLR_REJECT_NONE && e.rejected < LLR_REJECT_N) {
            ngx_http_llm_route_out_printf(o, "\"rejected\":\"%s\",",
                                    llr_reject_name((llr_reject_e) e.rejected));

        } else {
            ngx_http_llm_route_out_printf(o, "\"rejected\":null,");
        }

        ngx_http_llm_route_out_printf(o, "\"requested\":");
        len = ngx_strlen(e.requested);
        ngx_http_llm_route_out_json(o, e.requested, len);
        ngx_http_llm_route_out_printf(o, ",\"model\":");
        ngx_http_llm_route_out_json(o, e.model, ngx_strlen(e.model));
        ngx_http_llm_route_out_printf(o, ",\"provider\":");
        ngx_http_llm_route_out_json(o, e.provider, ngx_strlen(e.provider));
        ngx_http_llm_route_out_printf(o, ",\"task\":");
        ngx_http_llm_route_out_json(o, e.task, ngx_strlen(e.task));

        if (e.difficulty >= 0 && e.difficulty <= 1) {
            ngx_http_llm_route_out_printf(o, ",\"difficulty\":%.2f",
                                          e.difficulty);

        } else {
            ngx_http_llm_route_out_printf(o, ",\"difficulty\":null");
        }

        ngx_http_llm_route_out_printf(o,
            ",\"prompt_tokens\":%uL,\"completion_tokens\":%uL,"
            "\"cached_tokens\":%uL,\"cache_write_tokens\":%uL,"
            "\"reasoning_tokens\":%uL,\"latency_ms\":%M,",
            e.prompt_tokens, e.completion_tokens, e.cached_tokens,
            e.cache_write_tokens, e.reasoning_tokens, e.latency_ms);

        if (e.ttft_ms >= 0) {
            ngx_http_llm_route_out_printf(o, "\"ttft_ms\":%M,",
                                          (ngx_msec_t) e.ttft_ms);

        } else {
            ngx_http_llm_route_out_printf(o, "\"ttft_ms\":null,");
        }

        ngx_http_llm_route_out_printf(o, "\"cost_usd\":");
        ngx_http_llm_route_out_usd(o, e.cost_pusd);
        ngx_http_llm_route_out_printf(o, ",\"saved_usd\":");
        ngx_http_llm_route_out_usd(o, e.saved_pusd);
        ngx_http_llm_route_out_printf(o, ",\"reason\":");
        ngx_http_llm_route_out_json(o, e.reason, ngx_strlen(e.reason));
        ngx_http_llm_route_out_printf(o, "}");
    }

    ngx_http_llm_route_out_printf(o, "]");
}


/* "budgets" (limits_list.c copies them) */

static void
ngx_http_llm_route_json_budgets(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    u_char                            *p;
    size_t                             n;
    ngx_uint_t                         i;
    ngx_array_t                       *a;
    ngx_http_llm_route_budget_info_t  *b;

    ngx_http_llm_route_out_printf(o, ",\"budgets\":{");

    a = ngx_http_llm_route_limits_budgets(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    b = a->elts;

    for (i = 0; i < a->nelts; i++) {
        ngx_http_llm_route_out_printf(o, "%s", i ? "," : "");
        ngx_http_llm_route_out_json(o, b[i].name.data, b[i].name.len);
        ngx_http_llm_route_out_printf(o, ":{\"key\":");
        ngx_http_llm_route_out_json(o, b[i].key.data, b[i].key.len);
        ngx_http_llm_route_out_printf(o, ",\"limit_usd\":");
        ngx_http_llm_route_out_usd(o, b[i].limit);
        ngx_http_llm_route_out_printf(o, ",\"spent_usd\":");
        ngx_http_llm_route_out_usd(o, b[i].spent);
        ngx_http_llm_route_out_printf(o, ",\"reserved_usd\":");
        ngx_http_llm_route_out_usd(o, b[i].reserved);
        ngx_http_llm_route_out_printf(o, ",\"remaining_usd\":");
        ngx_http_llm_route_out_usd(o,
                                   b[i].limit > b[i].spent + b[i].reserved
                                   ? b[i].limit - b[i].spent - b[i].reserved
                                   : 0);
        ngx_http_llm_route_out_printf(o,
            ",\"period\":\"%s\",\"resets_at\":",
            llr_period_name((llr_period_e) b[i].period));

        if (b[i].resets_at) {
            p = ngx_http_llm_route_out_reserve(o, 32);
            if (p == NULL) {
                return;
            }

            *p++ = '"';
            n = llr_format_iso8601((char *) p, 30, (int64_t) b[i].resets_at);
            p += n;
            *p++ = '"';
            ngx_http_llm_route_out_advance(o, p);

        } else {
            ngx_http_llm_route_out_printf(o, "null");
        }

        ngx_http_llm_route_out_printf(o,
            ",\"in_flight\":%ui,\"rejected\":%uL}",
            b[i].inflight, b[i].rejected);
    }

    ngx_http_llm_route_out_printf(o, "}");
}


/*
 * "rates" (limits_list.c copies them): a limit that is not set, and the
 * count it would have had, are null
 */

static void
ngx_http_llm_route_json_rates(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    uint64_t                         v[4];
    ngx_uint_t                       i, k;
    ngx_array_t                     *a;
    ngx_http_llm_route_rate_info_t  *ri;

    static const char  *fields[] = {
        "rpm_limit", "tpm_limit", "requests", "tokens"
    };

    ngx_http_llm_route_out_printf(o, ",\"rates\":{");

    a = ngx_http_llm_route_limits_rates(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    ri = a->elts;

    for (i = 0; i < a->nelts; i++) {
        ngx_http_llm_route_out_printf(o, "%s", i ? "," : "");
        ngx_http_llm_route_out_json(o, ri[i].name.data, ri[i].name.len);
        ngx_http_llm_route_out_printf(o, ":{\"key\":");
        ngx_http_llm_route_out_json(o, ri[i].key.data, ri[i].key.len);

        v[0] = ri[i].rpm;
        v[1] = ri[i].tpm;
        v[2] = ri[i].requests;
        v[3] = ri[i].tokens;

        for (k = 0; k < 4; k++) {

            /* fields 0 and 2 need rpm=, 1 and 3 tpm= */

            if (v[k % 2] == 0) {
                ngx_http_llm_route_out_printf(o, ",\"%s\":null", fields[k]);

            } else {
                ngx_http_llm_route_out_printf(o, ",\"%s\":%uL", fields[k],
                                              v[k]);
            }
        }

        ngx_http_llm_route_out_printf(o, ",\"rejected\":%uL}",
                                      ri[i].rejected);
    }

    ngx_http_llm_route_out_printf(o, "}");
}


/* "redis": the fleet's connection, with llm_route_redis (redis.c) */

static void
ngx_http_llm_route_json_redis(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o)
{
    u_char                             *p;
    ngx_http_llm_route_redis_status_t   st;

    if (ngx_http_llm_route_redis_status(r, &st) != NGX_OK) {
        return;
    }

    ngx_http_llm_route_out_printf(o, ",\"redis\":");

    p = ngx_http_llm_route_out_reserve(o, NGX_HTTP_LLM_ROUTE_REDIS_JSON_LEN);
    if (p == NULL) {
        return;
    }

    ngx_http_llm_route_out_advance(o, ngx_http_llm_route_redis_json(p, &st));
}
