
/*
 * ngx_llm_route_module: writing the Prometheus text exposition format
 * 0.0.4: families, labels of a configured name, histograms.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_prom.h"
#include "llr_stats.h"


/* "# HELP" and "# TYPE" of a family */

void
ngx_http_llm_route_prom_family(ngx_http_llm_route_out_t *o, const char *name,
    const char *type, const char *help)
{
    ngx_http_llm_route_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n",
                                  name, help, name, type);
}


/*
 * name{model="..",provider=".." (label "model"), name{provider=".." or
 * name{task="..", name{model="..",provider="..",upstream_model=".."
 * (label "deployment"), or name{ without an item
 */

void
ngx_http_llm_route_prom_labels(ngx_http_llm_route_out_t *o, const char *name,
    ngx_http_llm_route_item_t *it, const char *label)
{
    ngx_uint_t  deployment;

    if (it == NULL) {
        ngx_http_llm_route_out_printf(o, "%s{", name);
        return;
    }

    deployment = (label[0] == 'd');

    ngx_http_llm_route_out_printf(o, "%s{%s=", name,
                                  deployment ? "model" : label);
    ngx_http_llm_route_out_label(o, it->name.data, it->name.len);

    if (label[0] == 'm' || deployment) {
        ngx_http_llm_route_out_printf(o, ",provider=");
        ngx_http_llm_route_out_label(o, it->provider.data, it->provider.len);
    }

    if (deployment) {
        ngx_http_llm_route_out_printf(o, ",upstream_model=");
        ngx_http_llm_route_out_label(o, it->upstream.data, it->upstream.len);
    }
}


/*
 * A histogram of an item (none: NULL), in the buckets of
 * llr_hist_bounds_ms and a sum in ms, or with us in llr_hist_bounds_us
 * and a sum in us
 */

void
ngx_http_llm_route_prom_histogram(ngx_http_llm_route_out_t *o,
    const char *name, ngx_http_llm_route_item_t *it, const char *label,
    ngx_atomic_t *buckets, uint64_t sum, ngx_uint_t us)
{
    u_char       full[128];
    uint64_t     cum;
    ngx_uint_t   i;
    const char  *sep;

    cum = 0;
    sep = it ? "," : "";

    (void) ngx_snprintf(full, sizeof(full), "%s_bucket%Z", name);

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_BUCKETS; i++) {
        cum += buckets[i];

        ngx_http_llm_route_prom_labels(o, (char *) full, it, label);
        ngx_http_llm_route_out_printf(o, "%sle=\"", sep);

        if (i == NGX_HTTP_LLM_ROUTE_BUCKETS - 1) {
            ngx_http_llm_route_out_printf(o, "+Inf");

        } else if (us) {
            ngx_http_llm_route_out_us(o, llr_hist_bounds_us[i]);

        } else {
            ngx_http_llm_route_out_seconds(o, llr_hist_bounds_ms[i]);
        }

        ngx_http_llm_route_out_printf(o, "\"} %uL\n", cum);
    }

    /* the count is the +Inf bucket, as read above */

    for (i = 0; i < 2; i++) {
        (void) ngx_snprintf(full, sizeof(full), "%s_%s%Z", name,
                            i ? "count" : "sum");

        if (it) {
            ngx_http_llm_route_prom_labels(o, (char *) full, it, label);
            ngx_http_llm_route_out_printf(o, "} ");

        } else {
            ngx_http_llm_route_out_printf(o, "%s ", full);
        }

        if (i) {
            ngx_http_llm_route_out_printf(o, "%uL\n", cum);

        } else if (us) {
            ngx_http_llm_route_out_us(o, sum);
            ngx_http_llm_route_out_printf(o, "\n");

        } else {
            ngx_http_llm_route_out_seconds(o, sum);
            ngx_http_llm_route_out_printf(o, "\n");
        }
    }
}
