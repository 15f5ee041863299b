
/*
 * ngx_llm_route_module: the status in the Prometheus text exposition
 * format 0.0.4 (?format=prometheus; the names in docs/status.md).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_status_prometheus.h"
#include "ngx_http_llm_route_redis.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_limits_list.h"
#include "ngx_http_llm_route_prom.h"
#include "ngx_http_llm_route_prom_ops.h"
#include "ngx_http_llm_route_quality.h"
#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_drift.h"
#include "llr_limits.h"
#include "llr_stats.h"


static void ngx_http_llm_route_prom_models(ngx_http_llm_route_out_t *o,
    ngx_array_t *models);
static void ngx_http_llm_route_prom_providers(ngx_http_llm_route_out_t *o,
    ngx_array_t *providers, uint64_t now_ms);
static void ngx_http_llm_route_prom_tasks(ngx_http_llm_route_out_t *o,
    ngx_array_t *tasks);
static void ngx_http_llm_route_prom_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_prom_quality(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_prom_experiments(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_prom_drift(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_prom_budgets(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_prom_rates(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_prom_redis(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o);
static void ngx_http_llm_route_prom_zone(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);


void
ngx_http_llm_route_status_prometheus(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    uint64_t      now_ms;
    ngx_array_t  *models, *providers, *tasks;
    ngx_time_t   *tp;

    models = ngx_http_llm_route_items(r, sh, NGX_HTTP_LLM_ROUTE_SLOT_MODEL);
    providers = ngx_http_llm_route_items(r, sh,
                                         NGX_HTTP_LLM_ROUTE_SLOT_PROVIDER);
    tasks = ngx_http_llm_route_items(r, sh, NGX_HTTP_LLM_ROUTE_SLOT_TASK);

    if (models == NULL || providers == NULL || tasks == NULL) {
        o->failed = 1;
        return;
    }

    tp = ngx_timeofday();
    now_ms = (uint64_t) tp->sec * 1000 + tp->msec;

    ngx_http_llm_route_prom_models(o, models);
    ngx_http_llm_route_prom_providers(o, providers, now_ms);
    ngx_http_llm_route_prom_deployments(r, o, sh);
    ngx_http_llm_route_prom_tasks(o, tasks);
    ngx_http_llm_route_prom_operations(r, o, sh);
    ngx_http_llm_route_prom_quality(r, o, sh);
    ngx_http_llm_route_prom_experiments(r, o, sh);
    ngx_http_llm_route_prom_rejected(r, o, sh);
    ngx_http_llm_route_prom_budgets(r, o, sh);
    ngx_http_llm_route_prom_rates(r, o, sh);
    ngx_http_llm_route_prom_zone(r, o, sh);
    ngx_http_llm_route_prom_redis(r, o);
}


/* per model: counters, tokens by type, costs, the two histograms */

static void
ngx_http_llm_route_prom_models(ngx_http_llm_route_out_t *o,
    ngx_array_t *models)
{
    uint64_t                        v;
    ngx_uint_t                      i, k;
    ngx_http_llm_route_item_t      *it;
    ngx_http_llm_route_counters_t  *c;

    static const char  *token_types[] = {
        "prompt", "completion", "cached", "reasoning", "cache_write"
    };

    it = models->elts;

#define ngx_llr_model_counter(fname, type, help, field)                       \
    ngx_http_llm_route_prom_family(o, fname, type, help);                     \
    for (i = 0; i < models->nelts; i++) {                                     \
        c = &it[i].slot->c;                                                   \
        ngx_http_llm_route_prom_labels(o, fname, &it[i], "model");            \
        ngx_http_llm_route_out_printf(o, "} %uA\n", c->field);                \
    }

    ngx_llr_model_counter("llm_route_requests_total", "counter",
                          "Routed requests, by model.", requests)

    ngx_llr_model_counter("llm_route_errors_total", "counter",
                          "Routed requests that failed (upstream error, "
                          "failed connection, cut stream), by model.",
                          errors)

    ngx_llr_model_counter("llm_route_estimated_total", "counter",
                          "Streams without usage whose tokens were "
                          "estimated, by model.", estimated)

    ngx_http_llm_route_prom_family(o, "llm_route_tokens_total", "counter",
                                   "Tokens, by model and type (cached "
                                   "and cache_write tokens are part of "
                                   "prompt tokens, reasoning tokens of "
                                   "completion tokens).");

    for (i = 0; i < models->nelts; i++) {
        c = &it[i].slot->c;

        for (k = 0; k < 5; k++) {
            v = k == 0 ? c->prompt_tokens
                : k == 1 ? c->completion_tokens
                : k == 2 ? c->cached_tokens
                : k == 3 ? c->reasoning_tokens : c->cache_write_tokens;

            ngx_http_llm_route_prom_labels(o, "llm_route_tokens_total",
                                           &it[i], "model");
            ngx_http_llm_route_out_printf(o, ",type=\"%s\"} %uL\n",
                                          token_types[k], v);
        }
    }

    ngx_http_llm_route_prom_family(o, "llm_route_cost_usd_total", "counter",
                                   "Cost in USD from the configured prices, "
                                   "by model.");

    for (i = 0; i < models->nelts; i++) {
        ngx_http_llm_route_prom_labels(o, "llm_route_cost_usd_total", &it[i],
                                       "model");
        ngx_http_llm_route_out_printf(o, "} ");
        ngx_http_llm_route_out_usd(o, it[i].slot->c.cost_pusd);
        ngx_http_llm_route_out_printf(o, "\n");
    }

    ngx_http_llm_route_prom_family(o, "llm_route_saved_usd_total", "counter",
                                   "USD saved by policies against their most "
                                   "expensive candidate, by model.");

    for (i = 0; i < models->nelts; i++) {
        ngx_http_llm_route_prom_labels(o, "llm_route_saved_usd_total",
                                       &it[i], "model");
        ngx_http_llm_route_out_printf(o, "} ");
        ngx_http_llm_route_out_usd(o, it[i].slot->c.saved_pusd);
        ngx_http_llm_route_out_printf(o, "\n");
    }

    ngx_http_llm_route_prom_family(o, "llm_route_request_duration_seconds",
                                   "histogram",
                                   "Time from the request to the last byte "
                                   "of the response, by model.");

    for (i = 0; i < models->nelts; i++) {
        c = &it[i].slot->c;
        ngx_http_llm_route_prom_histogram(o,
                                          "llm_route_request_duration_seconds",
                                          &it[i], "model", c->latency,
                                          c->latency_sum_ms, 0);
    }

    ngx_http_llm_route_prom_family(o, "llm_route_ttft_seconds", "histogram",
                                   "Time to the first content token of "
                                   "streamed responses, by model.");

    for (i = 0; i < models->nelts; i++) {
        c = &it[i].slot->c;
        ngx_http_llm_route_prom_histogram(o, "llm_route_ttft_seconds",
                                          &it[i], "model", c->ttft,
                                          c->ttft_sum_ms, 0);
    }

    ngx_http_llm_route_prom_family(o,
                                   "llm_route_time_per_output_token_seconds",
                                   "histogram",
                                   "Time per output token of answered "
                                   "requests (streams: after the first "
                                   "token, over the tokens after it), by "
                                   "model.");

    for (i = 0; i < models->nelts; i++) {
        c = &it[i].slot->c;
        ngx_http_llm_route_prom_histogram(o,
                                     "llm_route_time_per_output_token_seconds",
                                     &it[i], "model", c->tpot,
                                     c->tpot_sum_us, 1);
    }

#undef ngx_llr_model_counter
}


/* per provider: traffic, health failures and whether it is up */

static void
ngx_http_llm_route_prom_providers(ngx_http_llm_route_out_t *o,
    ngx_array_t *providers, uint64_t now_ms)
{
    ngx_uint_t                  i;
    ngx_http_llm_route_item_t  *it;

    it = providers->elts;

#define ngx_llr_provider_value(fname, type, help, value)                      \
    ngx_http_llm_route_prom_family(o, fname, type, help);                     \
    for (i = 0; i < providers->nelts; i++) {                                  \
        ngx_http_llm_route_prom_labels(o, fname, &it[i], "provider");         \
        ngx_http_llm_route_out_printf(o, "} %uA\n",                           \
                                      (ngx_atomic_uint_t) (value));           \
    }

    ngx_llr_provider_value("llm_route_provider_requests_total", "counter",
                           "Requests sent to a provider.",
                           it[i].slot->c.requests)

    ngx_llr_provider_value("llm_route_provider_errors_total", "counter",
                           "Requests to a provider that failed.",
                           it[i].slot->c.errors)

    ngx_llr_provider_value("llm_route_provider_failures_total", "counter",
                           "Failures counted by the provider health "
                           "check.", it[i].slot->failures)

    ngx_llr_provider_value("llm_route_provider_cooldowns_total", "counter",
                           "Cooldowns a provider entered (max_fails "
                           "failures within fail_timeout, or a 429 with "
                           "Retry-After).", it[i].slot->c.cooldowns)

    ngx_llr_provider_value("llm_route_provider_up", "gauge",
                           "1 if the provider is usable, 0 while it is in "
                           "cooldown.",
                           it[i].slot->cooldown_until > now_ms ? 0 : 1)

#undef ngx_llr_provider_value
}


/* per task */

static void
ngx_http_llm_route_prom_tasks(ngx_http_llm_route_out_t *o,
    ngx_array_t *tasks)
{
    ngx_uint_t                  i;
    ngx_http_llm_route_item_t  *it;

    it = tasks->elts;

    ngx_http_llm_route_prom_family(o, "llm_route_task_requests_total",
                                   "counter", "Routed requests, by task.");

    for (i = 0; i < tasks->nelts; i++) {
        ngx_http_llm_route_prom_labels(o, "llm_route_task_requests_total",
                                       &it[i], "task");
        ngx_http_llm_route_out_printf(o, "} %uA\n", it[i].slot->c.requests);
    }

    ngx_http_llm_route_prom_family(o, "llm_route_task_cost_usd_total",
                                   "counter", "Cost in USD, by task.");

    for (i = 0; i < tasks->nelts; i++) {
        ngx_http_llm_route_prom_labels(o, "llm_route_task_cost_usd_total",
                                       &it[i], "task");
        ngx_http_llm_route_out_printf(o, "} ");
        ngx_http_llm_route_out_usd(o, it[i].slot->c.cost_pusd);
        ngx_http_llm_route_out_printf(o, "\n");
    }
}


/* the refusals, by reason in their fixed order */

static void
ngx_http_llm_route_prom_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_uint_t  i;

    ngx_http_llm_route_prom_family(o, "llm_route_rejected_total", "counter",
                                   "Requests the router answered itself "
                                   "instead of routing them, by reason.");

    for (i = 1; i < LLR_REJECT_N; i++) {
        ngx_http_llm_route_out_printf(o,
                                   "llm_route_rejected_total{reason=\"%s\"} "
                                   "%uL\n", llr_reject_name((llr_reject_e) i),
                                   ngx_http_llm_route_rejected(r, sh, i));
    }
}


/* budgets (limits_list.c copies them) */

static void
ngx_http_llm_route_prom_budgets(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    uint64_t                           v;
    ngx_uint_t                         i, k;
    ngx_array_t                       *a;
    const char                        *name, *help;
    ngx_http_llm_route_budget_info_t  *b;

    static const char  *names[] = {
        "llm_route_budget_limit_usd",
        "llm_route_budget_spent_usd",
        "llm_route_budget_reserved_usd",
        "llm_route_budget_remaining_usd",
        "llm_route_budget_resets_at_seconds",
        "llm_route_budget_rejected_total"
    };

    static const char  *helps[] = {
        "The limit of a budget in USD per period, by key and period.",
        "USD spent in the budget's current period, by key and period.",
        "USD reserved by requests in flight, by key and period.",
        "USD left in the budget's current period: the limit less what is "
        "spent and reserved, by key and period.",
        "When the budget's period resets (Unix time, 0: never).",
        "Requests the budget refused, by key and period."
    };

    a = ngx_http_llm_route_limits_budgets(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    b = a->elts;

    for (k = 0; k < 6; k++) {
        name = names[k];
        help = helps[k];

        ngx_http_llm_route_prom_family(o, name, k == 5 ? "counter" : "gauge",
                                       help);

        for (i = 0; i < a->nelts; i++) {
            ngx_http_llm_route_out_printf(o, "%s{key=", name);
            ngx_http_llm_route_out_label(o, b[i].name.data, b[i].name.len);
            ngx_http_llm_route_out_printf(o, ",period=\"%s\"} ",
                llr_period_name((llr_period_e) b[i].period));

            if (k == 4) {
                ngx_http_llm_route_out_printf(o, "%T\n", b[i].resets_at);
                continue;
            }

            if (k == 5) {
                ngx_http_llm_route_out_printf(o, "%uL\n", b[i].rejected);
                continue;
            }

            v = k == 0 ? b[i].limit : (k == 1 ? b[i].spent : b[i].reserved);

            if (k == 3) {
                v = b[i].limit > b[i].spent + b[i].reserved
                    ? b[i].limit - b[i].spent - b[i].reserved : 0;
            }

            ngx_http_llm_route_out_usd(o, v);
            ngx_http_llm_route_out_printf(o, "\n");
        }
    }
}


/* rate limits (limits_list.c copies them) */

static void
ngx_http_llm_route_prom_rates(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    uint64_t                         v[5];
    ngx_uint_t                       i, k;
    ngx_array_t                     *a;
    ngx_http_llm_route_rate_info_t  *ri;

    static const char  *names[] = {
        "llm_route_rate_limit_rpm",
        "llm_route_rate_limit_tpm",
        "llm_route_rate_requests",
        "llm_route_rate_tokens",
        "llm_route_rate_rejected_total"
    };

    static const char  *helps[] = {
        "The requests per minute a rate limit allows, by key.",
        "The tokens per minute a rate limit allows, by key.",
        "Requests counted in the rate limit's sliding minute, by key.",
        "Tokens counted in the rate limit's sliding minute, by key.",
        "Requests refused by the rate limit, by key."
    };

    a = ngx_http_llm_route_limits_rates(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    ri = a->elts;

    for (k = 0; k < 5; k++) {
        ngx_http_llm_route_prom_family(o, names[k],
                                       k == 4 ? "counter" : "gauge",
                                       helps[k]);

        for (i = 0; i < a->nelts; i++) {
            v[0] = ri[i].rpm;
            v[1] = ri[i].tpm;
            v[2] = ri[i].requests;
            v[3] = ri[i].tokens;
            v[4] = ri[i].rejected;

            /* rpm and requests only with rpm=, tpm and tokens with tpm= */

            if (k < 4 && v[k % 2] == 0) {
                continue;
            }

            ngx_http_llm_route_out_printf(o, "%s{key=", names[k]);
            ngx_http_llm_route_out_label(o, ri[i].name.data, ri[i].name.len);
            ngx_http_llm_route_out_printf(o, "} %uL\n", v[k]);
        }
    }
}


/* the zone and, with one, the state file */

static void
ngx_http_llm_route_prom_zone(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_http_llm_route_main_conf_t  *mcf;

    ngx_http_llm_route_prom_family(o, "llm_route_uptime_seconds", "gauge",
                                   "Seconds since the zone's counters "
                                   "started (kept across reloads and, with "
                                   "a state file, restarts).");
    ngx_http_llm_route_out_printf(o, "llm_route_uptime_seconds %T\n",
                                  ngx_time() - sh->started);

    ngx_http_llm_route_prom_family(o, "llm_route_config_generation", "gauge",
                                   "Configurations the zone has seen "
                                   "(1 + reloads that kept it).");
    ngx_http_llm_route_out_printf(o, "llm_route_config_generation %uA\n",
                                  sh->generation);

    ngx_http_llm_route_prom_family(o, "llm_route_zone_slots_used", "gauge",
                                   "Counter slots in use (models, providers, "
                                   "deployments, tasks).");
    ngx_http_llm_route_out_printf(o, "llm_route_zone_slots_used %uA\n",
                                  sh->nused);

    ngx_http_llm_route_prom_family(o, "llm_route_zone_slots", "gauge",
                                   "Counter slots the zone has room for.");
    ngx_http_llm_route_out_printf(o, "llm_route_zone_slots %ui\n",
                                  sh->nslots);

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    if (mcf->state_path.len == 0) {
        return;
    }

    ngx_http_llm_route_prom_family(o, "llm_route_state_writes_total",
                                   "counter", "State file writes.");
    ngx_http_llm_route_out_printf(o, "llm_route_state_writes_total %uA\n",
                                  sh->state_writes);

    ngx_http_llm_route_prom_family(o, "llm_route_state_errors_total",
                                   "counter", "State file writes that "
                                   "failed.");
    ngx_http_llm_route_out_printf(o, "llm_route_state_errors_total %uA\n",
                                  sh->state_errors);

    ngx_http_llm_route_prom_family(o, "llm_route_state_last_write_seconds",
                                   "gauge", "Unix time of the last state "
                                   "file write (0: none since the start).");
    ngx_http_llm_route_out_printf(o,
                                  "llm_route_state_last_write_seconds %T\n",
                                  sh->state_last);
}


/* per model x task that has requests: answers, signals, feedback */

static void
ngx_http_llm_route_prom_quality(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_uint_t                      i, k;
    ngx_array_t                    *a;
    ngx_http_llm_route_pair_t      *p;
    ngx_http_llm_route_counters_t  *c;

    a = ngx_http_llm_route_pairs(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    p = a->elts;

#define ngx_llr_pair_labels(fname)                                            \
    ngx_http_llm_route_out_printf(o, "%s{model=", fname);                     \
    ngx_http_llm_route_out_label(o, p[i].model.data, p[i].model.len);         \
    ngx_http_llm_route_out_printf(o, ",task=");                               \
    ngx_http_llm_route_out_label(o, p[i].task.data, p[i].task.len)

    ngx_http_llm_route_prom_family(o, "llm_route_quality_answers_total",
                                   "counter", "Answers whose quality "
                                   "signals were read (routed answers that "
                                   "are not errors), by model and task.");

    for (i = 0; i < a->nelts; i++) {
        ngx_llr_pair_labels("llm_route_quality_answers_total");
        ngx_http_llm_route_out_printf(o, "} %uA\n", p[i].slot->c.answers);
    }

    ngx_http_llm_route_prom_family(o, "llm_route_quality_signal_total",
                                   "counter", "Answers with a quality "
                                   "signal (docs/quality.md), by model, task "
                                   "and signal.");

    for (i = 0; i < a->nelts; i++) {
        c = &p[i].slot->c;

        for (k = 0; k < NGX_HTTP_LLM_ROUTE_SIGNALS; k++) {
            ngx_llr_pair_labels("llm_route_quality_signal_total");
            ngx_http_llm_route_out_printf(o, ",signal=\"%s\"} %uA\n",
                                          llr_sig_name(k), c->signals[k]);
        }
    }

    ngx_http_llm_route_prom_drift(r, o, sh);

    ngx_http_llm_route_prom_family(o, "llm_route_feedback_total", "counter",
                                   "Feedback scores given (a second score "
                                   "for an answer replaces the first), by "
                                   "model and task.");

    for (i = 0; i < a->nelts; i++) {
        ngx_llr_pair_labels("llm_route_feedback_total");
        ngx_http_llm_route_out_printf(o, "} %uA\n", p[i].slot->c.feedback);
    }

    /*
     * a summary without quantiles: its _sum may go down (scores are -1
     * to 1, and a second score for an answer replaces the first)
     */
    ngx_http_llm_route_prom_family(o, "llm_route_feedback_score", "summary",
                                   "Feedback scores (-1 to 1), by model and "
                                   "task.");

    for (i = 0; i < a->nelts; i++) {
        c = &p[i].slot->c;

        ngx_llr_pair_labels("llm_route_feedback_score_sum");
        ngx_http_llm_route_out_printf(o, "} %.3f\n",
                                      ngx_http_llm_route_feedback_mean(c)
                                      * (double) c->feedback);
        ngx_llr_pair_labels("llm_route_feedback_score_count");
        ngx_http_llm_route_out_printf(o, "} %uA\n", c->feedback);
    }

#undef ngx_llr_pair_labels
}


/* 1 while a model x task's metric drifts (with llm_route_drift) */

static void
ngx_http_llm_route_prom_drift(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_uint_t                         i;
    ngx_array_t                       *a;
    ngx_http_llm_route_drift_alarm_t  *al;

    a = ngx_http_llm_route_drift_states(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    if (a->nelts == 0) {
        return;
    }

    ngx_http_llm_route_prom_family(o, "llm_route_quality_drift", "gauge",
                                   "1 while a metric of a model and task "
                                   "drifts from its baseline "
                                   "(llm_route_drift).");
    al = a->elts;

    for (i = 0; i < a->nelts; i++) {
        ngx_http_llm_route_out_printf(o, "llm_route_quality_drift{model=");
        ngx_http_llm_route_out_label(o, al[i].model.data, al[i].model.len);
        ngx_http_llm_route_out_printf(o, ",task=");
        ngx_http_llm_route_out_label(o, al[i].task.data, al[i].task.len);
        ngx_http_llm_route_out_printf(o, ",signal=\"%s\"} %ui\n",
                                      al[i].metric,
                                      (ngx_uint_t) al[i].st.raised);
    }
}


/* per experiment and arm: requests, errors, each signal */

static void
ngx_http_llm_route_prom_experiments(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_uint_t                         i, k, f;
    llr_ab_arm_t                      *st;
    ngx_http_llm_route_experiment_t  **ep, *e;
    ngx_http_llm_route_main_conf_t    *mcf;

    static const char  *fam[][2] = {
        { "llm_route_experiment_requests_total",
          "Requests of an experiment's arm." },
        { "llm_route_experiment_errors_total",
          "Requests of an experiment's arm that failed." }
    };

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    if (mcf->experiments == NULL || sh->arms == NULL) {
        return;
    }

    ep = mcf->experiments->elts;

    for (f = 0; f < 2; f++) {
        ngx_http_llm_route_prom_family(o, fam[f][0], "counter", fam[f][1]);

        for (i = 0; i < mcf->experiments->nelts; i++) {
            e = ep[i];

            for (k = 0; k < e->narms; k++) {
                st = &sh->arms->arm[e->arms[k].slot].st;

                ngx_http_llm_route_out_printf(o, "%s{experiment=",
                                              fam[f][0]);
                ngx_http_llm_route_out_label(o, e->name.data, e->name.len);
                ngx_http_llm_route_out_printf(o, ",arm=");
                ngx_http_llm_route_out_label(o, e->arms[k].name.data,
                                             e->arms[k].name.len);
                ngx_http_llm_route_out_printf(o, "} %uL\n",
                                              f ? st->errors : st->requests);
            }
        }
    }
}


/* the fleet's connection, with llm_route_redis (redis.c) */

static void
ngx_http_llm_route_prom_redis(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o)
{
    ngx_http_llm_route_redis_status_t  st;

    if (ngx_http_llm_route_redis_status(r, &st) != NGX_OK) {
        return;
    }

    ngx_http_llm_route_prom_family(o, "llm_route_redis_up", "gauge",
                                   "1 while the fleet's view from Redis is "
                                   "fresh (a sync answered lately).");
    ngx_http_llm_route_out_printf(o, "llm_route_redis_up %ui\n", st.up);

    ngx_http_llm_route_prom_family(o, "llm_route_redis_errors_total",
                                   "counter", "Failed connects, timeouts and "
                                   "error answers of Redis.");
    ngx_http_llm_route_out_printf(o, "llm_route_redis_errors_total %uL\n",
                                  st.errors);

    ngx_http_llm_route_prom_family(o, "llm_route_redis_syncs_total",
                                   "counter", "Syncs Redis answered.");
    ngx_http_llm_route_out_printf(o, "llm_route_redis_syncs_total %uL\n",
                                  st.syncs);

    ngx_http_llm_route_prom_family(o, "llm_route_redis_lag_seconds", "gauge",
                                   "The round trip of the last answered "
                                   "sync.");
    ngx_http_llm_route_out_printf(o, "llm_route_redis_lag_seconds ");
    ngx_http_llm_route_out_seconds(o, st.lag_ms);
    ngx_http_llm_route_out_printf(o, "\n");

    ngx_http_llm_route_prom_family(o, "llm_route_redis_last_sync_seconds",
                                   "gauge", "Unix time of the last answered "
                                   "sync (0: none yet).");
    ngx_http_llm_route_out_printf(o, "llm_route_redis_last_sync_seconds ");
    ngx_http_llm_route_out_seconds(o, st.last_sync);
    ngx_http_llm_route_out_printf(o, "\n");
}
