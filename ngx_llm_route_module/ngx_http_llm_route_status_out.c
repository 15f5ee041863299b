
/*
 * ngx_llm_route_module: the output of the status formats (a chain of
 * buffers from the request's pool, printed into) and the configured
 * names they list, each with its slot.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_status_out.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_provider.h"
#include "ngx_http_llm_route_catalog.h"
#include "llr.h"
#include "llr_cost.h"
#include "llr_req.h"


/* ---- output ------------------------------------------------------------- */


u_char *
ngx_http_llm_route_out_reserve(ngx_http_llm_route_out_t *o, size_t n)
{
    size_t        size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (o->failed) {
        return NULL;
    }

    if (o->b && (size_t) (o->b->end - o->b->last) >= n) {
        return o->b->last;
    }

    size = ngx_max(n, NGX_HTTP_LLM_ROUTE_OUT_CHUNK);

    b = ngx_create_temp_buf(o->pool, size);
    if (b == NULL) {
        o->failed = 1;
        return NULL;
    }

    cl = ngx_alloc_chain_link(o->pool);
    if (cl == NULL) {
        o->failed = 1;
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;
    *o->last = cl;
    o->last = &cl->next;
    o->b = b;

    return b->last;
}


void
ngx_http_llm_route_out_advance(ngx_http_llm_route_out_t *o, u_char *p)
{
    o->len += p - o->b->last;
    o->b->last = p;
}


void
ngx_http_llm_route_out_printf(ngx_http_llm_route_out_t *o, const char *fmt,
    ...)
{
    u_char   *p;
    va_list   args;

    p = ngx_http_llm_route_out_reserve(o, NGX_HTTP_LLM_ROUTE_OUT_LINE);
    if (p == NULL) {
        return;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(p, p + NGX_HTTP_LLM_ROUTE_OUT_LINE, fmt, args);
    va_end(args);

    ngx_http_llm_route_out_advance(o, p);
}


/* a JSON string with its quotes */

void
ngx_http_llm_route_out_json(ngx_http_llm_route_out_t *o, u_char *data,
    size_t len)
{
    u_char  *p;

    p = ngx_http_llm_route_out_reserve(o, llr_json_escape_len(data, len) + 2);
    if (p == NULL) {
        return;
    }

    *p++ = '"';
    p += llr_json_escape(p, data, len);
    *p++ = '"';

    ngx_http_llm_route_out_advance(o, p);
}


/*
 * a Prometheus label value with its quotes: \\ \" \n escaped, and each
 * byte that is not part of a well-formed UTF-8 character replaced with
 * U+FFFD (the text format is UTF-8)
 */

void
ngx_http_llm_route_out_label(ngx_http_llm_route_out_t *o, u_char *data,
    size_t len)
{
    u_char  *p;
    size_t   i, k;

    p = ngx_http_llm_route_out_reserve(o, 3 * len + 2);
    if (p == NULL) {
        return;
    }

    *p++ = '"';

    for (i = 0; i < len; i++) {
        switch (data[i]) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = data[i];
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            if (data[i] < 0x80) {
                *p++ = data[i];
                break;
            }

            k = llr_utf8_char(&data[i], len - i);

            if (k == 0) {
                p = ngx_cpymem(p, "\xef\xbf\xbd", 3);
                break;
            }

            p = ngx_cpymem(p, &data[i], k);
            i += k - 1;
        }
    }

    *p++ = '"';

    ngx_http_llm_route_out_advance(o, p);
}


void
ngx_http_llm_route_out_usd(ngx_http_llm_route_out_t *o, uint64_t pusd)
{
    u_char  *p;
    size_t   n;

    p = ngx_http_llm_route_out_reserve(o, 32);
    if (p == NULL) {
        return;
    }

    n = llr_format_usd((char *) p, 32, pusd, 9);

    ngx_http_llm_route_out_advance(o, p + n);
}


/* milliseconds as seconds: "0.005", "2.5", "600" */

void
ngx_http_llm_route_out_seconds(ngx_http_llm_route_out_t *o, uint64_t ms)
{
    u_char  *p;
    u_char   frac[4];
    size_t   n;

    p = ngx_http_llm_route_out_reserve(o, 32);
    if (p == NULL) {
        return;
    }

    p = ngx_sprintf(p, "%uL", ms / 1000);

    if (ms % 1000) {
        (void) ngx_sprintf(frac, "%03uL", ms % 1000);

        n = 3;
        while (frac[n - 1] == '0') {
            n--;
        }

        *p++ = '.';
        p = ngx_cpymem(p, frac, n);
    }

    ngx_http_llm_route_out_advance(o, p);
}


/* ---- what is listed: configured names with a slot ----------------------- */


ngx_array_t *
ngx_http_llm_route_items(ngx_http_request_t *r, ngx_http_llm_route_shm_t *sh,
    ngx_uint_t kind)
{
    ngx_str_t                        *task;
    ngx_uint_t                        i;
    ngx_array_t                      *a;
    ngx_http_llm_route_item_t        *it;
    ngx_http_llm_route_model_t      **m;
    ngx_http_llm_route_provider_t   **p;
    ngx_http_llm_route_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    a = ngx_array_create(r->pool, 8, sizeof(ngx_http_llm_route_item_t));
    if (a == NULL) {
        return NULL;
    }

    switch (kind) {

    case NGX_HTTP_LLM_ROUTE_SLOT_MODEL:
        m = mcf->models.elts;

        for (i = 0; i < mcf->models.nelts; i++) {
            it = ngx_array_push(a);
            if (it == NULL) {
                return NULL;
            }

            it->name = m[i]->name;
            it->slot = ngx_http_llm_route_zone_slot(sh, m[i]->slot);

            if (m[i]->provider) {
                it->provider = m[i]->provider->name;

            } else {
                ngx_str_null(&it->provider);
            }
        }

        break;

    case NGX_HTTP_LLM_ROUTE_SLOT_PROVIDER:
        p = mcf->providers.elts;

        for (i = 0; i < mcf->providers.nelts; i++) {
            it = ngx_array_push(a);
            if (it == NULL) {
                return NULL;
            }

            it->name = p[i]->name;
            it->provider = p[i]->name;
            it->slot = ngx_http_llm_route_zone_slot(sh, p[i]->slot);
        }

        break;

    default:
        task = mcf->tasks.elts;

        for (i = 0; i < mcf->tasks.nelts && i <= NGX_HTTP_LLM_ROUTE_MAX_TASKS;
             i++)
        {
            it = ngx_array_push(a);
            if (it == NULL) {
                return NULL;
            }

            it->name = task[i];
            ngx_str_null(&it->provider);
            it->slot = ngx_http_llm_route_zone_slot(sh, mcf->task_slots[i]);
        }
    }

    /* a name without a slot of its kind (no zone at startup): not shown */

    it = a->elts;

    for (i = 0; i < a->nelts; /* void */) {
        if (it[i].slot && it[i].slot->kind == kind
            && it[i].slot->name_len == it[i].name.len
            && ngx_memcmp(it[i].slot->name, it[i].name.data, it[i].name.len)
               == 0)
        {
            i++;
            continue;
        }

        it[i] = it[a->nelts - 1];
        a->nelts--;
    }

    return a;
}


/* the refusals of a reason (core/llr_stats.h), from its slot */

uint64_t
ngx_http_llm_route_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t reason)
{
    ngx_http_llm_route_slot_t       *s;
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    s = ngx_http_llm_route_zone_slot(sh, mcf->rejected_slots[reason]);

    if (s == NULL || s->kind != NGX_HTTP_LLM_ROUTE_SLOT_REJECTED) {
        return 0;
    }

    return s->c.requests;
}


uint64_t
ngx_http_llm_route_hist_count(ngx_atomic_t *buckets)
{
    uint64_t    n;
    ngx_uint_t  i;

    n = 0;

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_BUCKETS; i++) {
        n += buckets[i];
    }

    return n;
}
