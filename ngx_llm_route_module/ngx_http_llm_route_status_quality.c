
/*
 * ngx_llm_route_module: the status JSON of the quality loop's
 * experiments (their arms compared) and drift alarms.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <math.h>

#include "ngx_http_llm_route_status_quality.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_drift.h"


static void ngx_http_llm_route_json_arm(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_arm_t *a, llr_ab_arm_t *st);
static void ngx_http_llm_route_json_cmp(ngx_http_llm_route_out_t *o,
    llr_ab_cmp_t *c);
static void ngx_http_llm_route_json_double(ngx_http_llm_route_out_t *o,
    double v);


/*
 * "experiments": each configured experiment's arms side by side, each
 * arm against the control on every metric (core/llr_abtest), the verdict
 */

void
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

void
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
