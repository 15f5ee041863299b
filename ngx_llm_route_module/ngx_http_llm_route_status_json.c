
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
#include "ngx_http_llm_route_quality.h"
#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_drift.h"
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
static void ngx_http_llm_route_json_experiments(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_arm(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_arm_t *a, llr_ab_arm_t *st);
static void ngx_http_llm_route_json_cmp(ngx_http_llm_route_out_t *o,
    llr_ab_cmp_t *c);
static void ngx_http_llm_route_json_double(ngx_http_llm_route_out_t *o,
    double v);
static void ngx_http_llm_route_json_drift(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_percentiles(ngx_http_llm_route_out_t *o,
    const char *name, ngx_atomic_t *buckets, uint64_t sum, uint64_t count);
static void ngx_http_llm_route_json_buckets(ngx_http_llm_route_out_t *o,
    const char *name, ngx_atomic_t *buckets);
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
    time_t       now;
    uint64_t     now_ms;
    ngx_time_t  *tp;

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
    ngx_http_llm_route_json_quality(r, o, sh);
    ngx_http_llm_route_json_experiments(r, o, sh);
    ngx_http_llm_route_json_drift(r, o, sh);
    ngx_http_llm_route_json_rejected(r, o, sh);
    ngx_http_llm_route_json_seconds(o, sh, now);
    ngx_http_llm_route_json_budgets(r, o, sh);
    ngx_http_llm_route_json_rates(r, o, sh);
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
        "\"state\":\"%s\",\"cooldown_until\":%T,\"cost_usd\":",
        c->requests, c->errors, it->slot->failures,
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


/*
 * "experiments": each configured experiment's arms side by side, each
 * arm against the control on every metric (core/llr_abtest), the verdict
 */

static void
ngx_http_llm_route_json_experiments(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    u_char                            *v;
    size_t                             len;
    ngx_uint_t                         i, k, m;
    llr_ab_cmp_t                       cmp[LLR_AB_METRICS];
    llr_ab_arm_t                      *st;
    ngx_http_llm_route_arm_t          *a;
    ngx_http_llm_route_experiment_t  **ep, *e;
    ngx_http_llm_route_main_conf_t    *mcf;

    ngx_http_llm_route_out_printf(o, ",\"experiments\":{");

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    if (mcf->experiments == NULL || sh->arms == NULL) {
        ngx_http_llm_route_out_printf(o, "}");
        return;
    }

    ep = mcf->experiments->elts;

    for (i = 0; i < mcf->experiments->nelts; i++) {
        e = ep[i];

        st = ngx_palloc(r->pool, e->narms * sizeof(llr_ab_arm_t));
        v = ngx_pnalloc(r->pool, 1024 * e->narms);
        if (st == NULL || v == NULL) {
            o->failed = 1;
            return;
        }

        ngx_http_llm_route_out_printf(o, "%s", i ? "," : "");
        ngx_http_llm_route_out_json(o, e->name.data, e->name.len);
        ngx_http_llm_route_out_printf(o, ":{\"arms\":{");

        for (k = 0; k < e->narms; k++) {
            a = &e->arms[k];
            llr_ab_snapshot(&st[k], &sh->arms->arm[a->slot].st);

            ngx_http_llm_route_out_printf(o, "%s", k ? "," : "");
            ngx_http_llm_route_out_json(o, a->name.data, a->name.len);
            ngx_http_llm_route_json_arm(o, a, &st[k]);
        }

        ngx_http_llm_route_out_printf(o, "},\"comparison\":{");
        len = 0;

        for (k = 1; k < e->narms; k++) {
            ngx_http_llm_route_out_printf(o, "%s", k > 1 ? "," : "");
            ngx_http_llm_route_out_json(o, e->arms[k].name.data,
                                        e->arms[k].name.len);
            ngx_http_llm_route_out_printf(o, ":{");

            for (m = 0; m < LLR_AB_METRICS; m++) {
                llr_ab_compare(&st[0], &st[k], (unsigned) m,
                               llr_hist_bounds_ms, &cmp[m]);
                ngx_http_llm_route_out_printf(o, "%s\"%s\":", m ? "," : "",
                                              llr_ab_metric_name(m));
                ngx_http_llm_route_json_cmp(o, &cmp[m]);
            }

            ngx_http_llm_route_out_printf(o, "}");

            /* "ARM: verdict; ..." */
            len += ngx_sprintf(v + len, "%s%V: ", len ? "; " : "",
                               &e->arms[k].name) - (v + len);
            len += llr_ab_verdict((char *) v + len, 1024 * e->narms - len,
                                  cmp);
        }

        ngx_http_llm_route_out_printf(o, "},\"verdict\":");
        ngx_http_llm_route_out_json(o, v, len);
        ngx_http_llm_route_out_printf(o, "}");
    }

    ngx_http_llm_route_out_printf(o, "}");
}


static void
ngx_http_llm_route_json_arm(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_arm_t *a, llr_ab_arm_t *st)
{
    ngx_uint_t  k;

    ngx_http_llm_route_out_printf(o, ":{\"weight\":%ui,\"target\":",
                                  a->weight);

    if (a->target.len) {
        ngx_http_llm_route_out_json(o, a->target.data, a->target.len);

    } else {
        ngx_http_llm_route_out_printf(o, "null");
    }

    ngx_http_llm_route_out_printf(o, ",\"requests\":%uL,\"errors\":%uL,"
                                  "\"cost_usd\":", st->requests, st->errors);
    ngx_http_llm_route_json_double(o, llr_q_double(st->cost[0]));
    ngx_http_llm_route_out_printf(o, ",\"signals\":{");

    for (k = 0; k < LLR_SIG_N; k++) {
        ngx_http_llm_route_out_printf(o, "%s\"%s\":%uL", k ? "," : "",
                                      llr_sig_name(k), st->signals[k]);
    }

    ngx_http_llm_route_out_printf(o, "},\"feedback\":{\"count\":%uL,"
                                  "\"mean\":", st->feedback);
    ngx_http_llm_route_json_double(o, st->feedback
                                   ? (double) (int64_t) st->score[0]
                                     / 1000.0 / (double) st->feedback
                                   : NAN);
    ngx_http_llm_route_out_printf(o, "},\"latency_ms\":{\"p50\":%.1f,"
        "\"p99\":%.1f}}",
        llr_q_hist_quantile(st->latency, llr_hist_bounds_ms,
                            LLR_Q_LAT_BUCKETS, 0.50),
        llr_q_hist_quantile(st->latency, llr_hist_bounds_ms,
                            LLR_Q_LAT_BUCKETS, 0.99));
}


/* {"control", "arm", "diff", "ci95", "p", "significant", "need"} */

static void
ngx_http_llm_route_json_cmp(ngx_http_llm_route_out_t *o, llr_ab_cmp_t *c)
{
    static const char  *state[] = { "no_data", "few", "skewed", "ok" };

    ngx_http_llm_route_out_printf(o, "{\"control\":");
    ngx_http_llm_route_json_double(o, c->control);
    ngx_http_llm_route_out_printf(o, ",\"arm\":");
    ngx_http_llm_route_json_double(o, c->arm);
    ngx_http_llm_route_out_printf(o, ",\"diff\":");
    ngx_http_llm_route_json_double(o, c->diff);
    ngx_http_llm_route_out_printf(o, ",\"ci95\":[");
    ngx_http_llm_route_json_double(o, c->lo);
    ngx_http_llm_route_out_printf(o, ",");
    ngx_http_llm_route_json_double(o, c->hi);
    ngx_http_llm_route_out_printf(o, "],\"p\":");
    ngx_http_llm_route_json_double(o, c->p);
    ngx_http_llm_route_out_printf(o, ",\"significant\":%s,\"need\":",
                                  c->significant ? "true" : "false");
    ngx_http_llm_route_json_double(o, c->need);
    ngx_http_llm_route_out_printf(o, ",\"state\":\"%s\"}",
                                  c->state < 4 ? state[c->state] : "?");
}


/* "drift": the alarms raised, each model x task x metric */

static void
ngx_http_llm_route_json_drift(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_uint_t                         i, n;
    ngx_array_t                       *a;
    ngx_http_llm_route_drift_alarm_t  *al;

    a = ngx_http_llm_route_drift_states(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    ngx_http_llm_route_out_printf(o, ",\"drift\":[");

    al = a->elts;
    n = 0;

    for (i = 0; i < a->nelts; i++) {
        if (!al[i].st.raised) {
            continue;
        }

        ngx_http_llm_route_out_printf(o, "%s{\"model\":", n++ ? "," : "");
        ngx_http_llm_route_out_json(o, al[i].model.data, al[i].model.len);
        ngx_http_llm_route_out_printf(o, ",\"task\":");
        ngx_http_llm_route_out_json(o, al[i].task.data, al[i].task.len);
        ngx_http_llm_route_out_printf(o, ",\"signal\":\"%s\",\"baseline\":",
                                      al[i].metric);
        ngx_http_llm_route_json_double(o, al[i].st.baseline);
        ngx_http_llm_route_out_printf(o, ",\"now\":");
        ngx_http_llm_route_json_double(o, al[i].st.now);
        ngx_http_llm_route_out_printf(o, ",\"p\":");
        ngx_http_llm_route_json_double(o, al[i].st.p);
        ngx_http_llm_route_out_printf(o, ",\"since\":%uL}", al[i].st.since);
    }

    ngx_http_llm_route_out_printf(o, "]");
}


/* a number, null for NaN and the infinities (JSON has neither) */

static void
ngx_http_llm_route_json_double(ngx_http_llm_route_out_t *o, double v)
{
    if (isnan(v) || isinf(v)) {
        ngx_http_llm_route_out_printf(o, "null");
        return;
    }

    if (v < 0) {
        ngx_http_llm_route_out_printf(o, "-%.9f", -v);
        return;
    }

    ngx_http_llm_route_out_printf(o, "%.9f", v);
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
        "\"reasoning_tokens\":%uA,\"estimated\":%uA,\"cost_usd\":",
        c->requests, c->errors, c->prompt_tokens, c->completion_tokens,
        c->cached_tokens, c->reasoning_tokens, c->estimated);
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
            "\"cached_tokens\":%uL,\"reasoning_tokens\":%uL,"
            "\"latency_ms\":%M,",
            e.prompt_tokens, e.completion_tokens, e.cached_tokens,
            e.reasoning_tokens, e.latency_ms);

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
