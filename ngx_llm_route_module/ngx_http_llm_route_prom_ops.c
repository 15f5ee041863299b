
/*
 * ngx_llm_route_module: the Prometheus families of routing operations:
 * per deployment, requests in flight, failovers and their outcomes, the
 * router's own time, the requested -> routed model series and the
 * series per key (series.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_prom_ops.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_metrics.h"
#include "ngx_http_llm_route_prom.h"
#include "ngx_http_llm_route_series.h"


static void ngx_http_llm_route_prom_series(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_series_t *t, const char *prefix, const char *what,
    const char *label1, const char *label2);


/* per deployment (a model at a provider): what each one served */

void
ngx_http_llm_route_prom_deployments(ngx_http_request_t *r,
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

#define ngx_llr_deployment_value(fname, help, value)                          \
    ngx_http_llm_route_prom_family(o, fname, "counter", help);                \
    for (i = 0; i < a->nelts; i++) {                                          \
        c = &it[i].slot->c;                                                   \
        ngx_http_llm_route_prom_labels(o, fname, &it[i], "deployment");       \
        ngx_http_llm_route_out_printf(o, "} %uA\n", value);                   \
    }

    ngx_llr_deployment_value("llm_route_deployment_requests_total",
                             "Attempts sent to a deployment (a model at a "
                             "provider).", c->requests)

    ngx_llr_deployment_value("llm_route_deployment_errors_total",
                             "Attempts at a deployment that failed.",
                             c->errors)

    ngx_llr_deployment_value("llm_route_deployment_failovers_total",
                             "Failed attempts at a deployment that were "
                             "retried at another one.", c->failovers)

    ngx_llr_deployment_value("llm_route_deployment_prompt_tokens_total",
                             "Prompt tokens a deployment was sent.",
                             c->prompt_tokens)

    ngx_llr_deployment_value("llm_route_deployment_completion_tokens_total",
                             "Completion tokens a deployment answered.",
                             c->completion_tokens)

    ngx_llr_deployment_value("llm_route_deployment_cached_tokens_total",
                             "Prompt tokens a deployment read from its "
                             "prompt cache.", c->cached_tokens)

    ngx_llr_deployment_value("llm_route_deployment_cache_write_tokens_total",
                             "Prompt tokens a deployment wrote to its "
                             "prompt cache.", c->cache_write_tokens)

#undef ngx_llr_deployment_value

    ngx_http_llm_route_prom_family(o, "llm_route_deployment_cost_usd_total",
                                   "counter", "Cost in USD of a "
                                   "deployment's answers.");

    for (i = 0; i < a->nelts; i++) {
        ngx_http_llm_route_prom_labels(o,
                                       "llm_route_deployment_cost_usd_total",
                                       &it[i], "deployment");
        ngx_http_llm_route_out_printf(o, "} ");
        ngx_http_llm_route_out_usd(o, it[i].slot->c.cost_pusd);
        ngx_http_llm_route_out_printf(o, "\n");
    }

    ngx_http_llm_route_prom_family(o,
                              "llm_route_deployment_request_duration_seconds",
                              "histogram", "Time from the request to the "
                              "last byte of the answer, by deployment.");

    for (i = 0; i < a->nelts; i++) {
        c = &it[i].slot->c;
        ngx_http_llm_route_prom_histogram(o,
                              "llm_route_deployment_request_duration_seconds",
                              &it[i], "deployment", c->latency,
                              c->latency_sum_ms, 0);
    }
}


/* in flight, failovers and their outcomes, the router's own time */

void
ngx_http_llm_route_prom_operations(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    ngx_http_llm_route_prom_family(o, "llm_route_requests_in_flight",
                                   "gauge", "Routed requests not finished "
                                   "yet (in the workers alive).");
    ngx_http_llm_route_out_printf(o, "llm_route_requests_in_flight %uL\n",
                                  ngx_http_llm_route_inflight(sh));

    ngx_http_llm_route_prom_family(o, "llm_route_failovers_total", "counter",
                                   "Failed attempts retried at another "
                                   "deployment.");
    ngx_http_llm_route_out_printf(o, "llm_route_failovers_total %uA\n",
                                  sh->totals.failovers);

    ngx_http_llm_route_prom_family(o, "llm_route_failover_requests_total",
                                   "counter", "Requests that failed over, "
                                   "by outcome: recovered (answered by a "
                                   "later attempt) or failed.");
    ngx_http_llm_route_out_printf(o,
                 "llm_route_failover_requests_total{outcome=\"recovered\"} "
                 "%uA\n"
                 "llm_route_failover_requests_total{outcome=\"failed\"} "
                 "%uA\n",
                 sh->totals.failover_ok, sh->totals.failover_failed);

    ngx_http_llm_route_prom_family(o, "llm_route_overhead_seconds",
                                   "histogram", "The router's own time per "
                                   "request: parsing, classifying, "
                                   "choosing, rewriting, watching the "
                                   "response (not the provider's time).");
    ngx_http_llm_route_prom_histogram(o, "llm_route_overhead_seconds", NULL,
                                      NULL, sh->overhead,
                                      sh->overhead_sum_us, 1);

    ngx_http_llm_route_prom_series(o, sh->routes,
                                   "llm_route_requested_model",
                                   "by the model the client asked for (a "
                                   "policy such as auto, or a model) and "
                                   "the model it was routed to",
                                   "requested_model", "model");

    /* a table left by a configuration that had llm_route_spend_key */

    ngx_http_llm_route_prom_series(o, mcf->spend_key ? sh->keys : NULL,
                                   "llm_route_key",
                                   "by the value of llm_route_spend_key",
                                   "key", NULL);
}


/*
 * A table of series.c: PREFIX_requests_total, PREFIX_errors_total,
 * PREFIX_tokens_total{type}, PREFIX_cost_usd_total; the routes labelled
 * requested_model and model, the keys key
 */

static void
ngx_http_llm_route_prom_series(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_series_t *t, const char *prefix, const char *what,
    const char *label1, const char *label2)
{
    uint64_t                            v;
    ngx_uint_t                          i, k, n;
    ngx_http_llm_route_series_entry_t  *e;

    static const char  *kinds[] = {
        "requests_total", "errors_total", "tokens_total", "tokens_total",
        "cost_usd_total"
    };

    static const char  *helps[] = {
        "Routed requests, ", "Routed requests that failed, ",
        "Tokens (prompt, completion), ", NULL, "Cost in USD, "
    };

    if (t == NULL) {
        return;
    }

    n = t->nused;
    ngx_memory_barrier();

    for (k = 0; k < 5; k++) {

        if (helps[k]) {
            ngx_http_llm_route_out_printf(o, "# HELP %s_%s %s%s.\n"
                                          "# TYPE %s_%s counter\n",
                                          prefix, kinds[k], helps[k], what,
                                          prefix, kinds[k]);
        }

        for (i = 0; i < n; i++) {
            e = &t->e[i];

            if (i == 0 && e->requests == 0) {
                continue;    /* "_other", while nothing is in it */
            }

            ngx_http_llm_route_out_printf(o, "%s_%s{%s=", prefix, kinds[k],
                                          label1);
            ngx_http_llm_route_out_label(o, e->label, e->len1);

            if (label2) {
                ngx_http_llm_route_out_printf(o, ",%s=", label2);
                ngx_http_llm_route_out_label(o, e->label + e->len1, e->len2);
            }

            if (k == 2 || k == 3) {
                ngx_http_llm_route_out_printf(o, ",type=\"%s\"",
                                              k == 2 ? "prompt"
                                                     : "completion");
            }

            ngx_http_llm_route_out_printf(o, "} ");

            if (k == 4) {
                ngx_http_llm_route_out_usd(o, e->cost_pusd);
                ngx_http_llm_route_out_printf(o, "\n");
                continue;
            }

            v = k == 0 ? e->requests : k == 1 ? e->errors
                : k == 2 ? e->prompt_tokens : e->completion_tokens;

            ngx_http_llm_route_out_printf(o, "%uL\n", v);
        }
    }
}
