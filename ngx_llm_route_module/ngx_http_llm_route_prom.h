
/*
 * ngx_llm_route_module: writing the Prometheus text exposition format.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_PROM_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_PROM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_status_out.h"


/* "# HELP" and "# TYPE" of a family */
void ngx_http_llm_route_prom_family(ngx_http_llm_route_out_t *o,
    const char *name, const char *type, const char *help);

/*
 * name{ and the labels of a configured name: label "model" (model and
 * provider), "provider", "task", "deployment" (model, provider and
 * upstream_model), or none when it is NULL; the caller closes the brace
 */
void ngx_http_llm_route_prom_labels(ngx_http_llm_route_out_t *o,
    const char *name, ngx_http_llm_route_item_t *it, const char *label);

/*
 * the _bucket, _sum and _count series of a histogram of it (none: NULL):
 * buckets in llr_hist_bounds_ms and a sum in ms, or with us in
 * llr_hist_bounds_us and a sum in us
 */
void ngx_http_llm_route_prom_histogram(ngx_http_llm_route_out_t *o,
    const char *name, ngx_http_llm_route_item_t *it, const char *label,
    ngx_atomic_t *buckets, uint64_t sum, ngx_uint_t us);


#endif /* _NGX_HTTP_LLM_ROUTE_PROM_H_INCLUDED_ */
