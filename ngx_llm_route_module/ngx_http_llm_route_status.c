
/*
 * ngx_llm_route_module: the status endpoint.
 *
 *     location = /llm/status { llm_route_status; allow 127.0.0.1; deny all; }
 *
 * GET or HEAD; ?format=json (the default), ?format=prometheus (text
 * exposition format 0.0.4) or ?format=html (the dashboard, a page that
 * polls the JSON).  Only configured models, providers and tasks are
 * listed; counters come from the zone, read without a lock.  Budgets and
 * rate limits are copied by limits.c under the slab mutex (briefly, into
 * the request's pool), then formatted without it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_module.h"
#include "ngx_http_llm_route_shm.h"
#include "ngx_http_llm_route_limits_list.h"
#include "ngx_http_llm_route_reply.h"
#include "llr_cost.h"
#include "llr_req.h"
#include "llr_limits.h"


/* the page, generated from dashboard.html by tools/gen-dashboard.sh */
extern const unsigned char  ngx_http_llm_route_dashboard[];
extern const size_t         ngx_http_llm_route_dashboard_len;


#define NGX_HTTP_LLM_ROUTE_OUT_CHUNK  16384
#define NGX_HTTP_LLM_ROUTE_OUT_LINE   512


typedef struct {
    ngx_pool_t                      *pool;
    ngx_chain_t                     *first;
    ngx_chain_t                    **last;
    ngx_buf_t                       *b;
    size_t                           len;
    ngx_uint_t                       failed;
} ngx_http_llm_route_out_t;


typedef struct {
    ngx_str_t                        name;
    ngx_str_t                        provider;
    ngx_http_llm_route_slot_t       *slot;
} ngx_http_llm_route_item_t;


static ngx_int_t ngx_http_llm_route_status_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);

static u_char *ngx_http_llm_route_out_reserve(ngx_http_llm_route_out_t *o,
    size_t n);
static void ngx_http_llm_route_out_printf(ngx_http_llm_route_out_t *o,
    const char *fmt, ...);
static void ngx_http_llm_route_out_json(ngx_http_llm_route_out_t *o,
    u_char *data, size_t len);
static void ngx_http_llm_route_out_label(ngx_http_llm_route_out_t *o,
    u_char *data, size_t len);
static void ngx_http_llm_route_out_usd(ngx_http_llm_route_out_t *o,
    uint64_t pusd);
static void ngx_http_llm_route_out_seconds(ngx_http_llm_route_out_t *o,
    uint64_t ms);

static ngx_array_t *ngx_http_llm_route_items(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t kind);

static void ngx_http_llm_route_json(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_counters(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_counters_t *c);
static void ngx_http_llm_route_json_percentiles(ngx_http_llm_route_out_t *o,
    const char *name, ngx_atomic_t *buckets, uint64_t sum, uint64_t count);
static void ngx_http_llm_route_json_buckets(ngx_http_llm_route_out_t *o,
    const char *name, ngx_atomic_t *buckets);
static void ngx_http_llm_route_json_recent(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_shm_t *sh);
static uint64_t ngx_http_llm_route_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t reason);
static void ngx_http_llm_route_json_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_seconds(ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_shm_t *sh, time_t now);
static void ngx_http_llm_route_json_budgets(ngx_http_llm_route_out_t *o,
    ngx_array_t *a);
static void ngx_http_llm_route_prom_budgets(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_json_rates(ngx_http_llm_route_out_t *o,
    ngx_array_t *a);
static void ngx_http_llm_route_prom_rates(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);

static void ngx_http_llm_route_prometheus(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh);


char *
ngx_http_llm_route_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_llm_route_loc_conf_t  *lcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_llm_route_status_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_llm_route_status_handler;

    lcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_llm_route_module);
    lcf->answers = 1;

    if (mcf->status_line == 0) {
        mcf->status_file = cf->conf_file->file.name;
        mcf->status_line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


/* from init main conf: the status needs the zone */

char *
ngx_http_llm_route_status_check(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    if (mcf->status_line && mcf->shm_zone == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"llm_route_status\" in %V:%ui needs "
                      "\"llm_route_zone\" in the http{} block",
                      &mcf->status_file, mcf->status_line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llm_route_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  format, type;
    ngx_uint_t                 which;
    ngx_buf_t                 *b;
    ngx_chain_t                one;
    ngx_http_llm_route_out_t   o;
    ngx_http_llm_route_shm_t  *sh;

    static ngx_str_t  no_store = ngx_string("no-store");
    static ngx_str_t  csp = ngx_string("default-src 'none'; "
                                       "connect-src 'self'; "
                                       "script-src 'unsafe-inline'; "
                                       "style-src 'unsafe-inline'; "
                                       "img-src data:");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_llm_route_status_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed",
                   "The status endpoint answers GET and HEAD only.");
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    which = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {

        if (format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0) {
            which = 0;

        } else if (format.len == 10
                   && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            which = 1;

        } else if (format.len == 4
                   && ngx_strncmp(format.data, "html", 4) == 0)
        {
            which = 2;

        } else {
            return ngx_http_llm_route_status_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_format",
                       "Unknown format: use json, prometheus or html.");
        }
    }

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL && which != 2) {
        return ngx_http_llm_route_status_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "no_zone",
                   "No llm_route_zone is configured.");
    }

    ngx_memzero(&o, sizeof(ngx_http_llm_route_out_t));
    o.pool = r->pool;
    o.last = &o.first;

    switch (which) {

    case 1:
        ngx_str_set(&type, "text/plain; version=0.0.4; charset=utf-8");
        ngx_http_llm_route_prometheus(r, &o, sh);
        break;

    case 2:
        ngx_str_set(&type, "text/html; charset=utf-8");

        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->pos = (u_char *) ngx_http_llm_route_dashboard;
        b->last = b->pos + ngx_http_llm_route_dashboard_len;
        b->memory = 1;

        one.buf = b;
        one.next = NULL;
        o.first = &one;
        o.b = b;
        o.len = ngx_http_llm_route_dashboard_len;

        /* the page loads nothing from anywhere: say so */

        if (ngx_http_llm_route_add_header(r, "Content-Security-Policy", &csp)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        break;

    default:
        ngx_str_set(&type, "application/json");
        ngx_http_llm_route_json(r, &o, sh);
    }

    if (o.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_llm_route_add_header(r, "Cache-Control", &no_store)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_llm_route_send(r, NGX_HTTP_OK, &type, o.first);
}


static ngx_int_t
ngx_http_llm_route_status_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    ngx_str_t  msg, allow;

    if (status == NGX_HTTP_NOT_ALLOWED) {
        ngx_str_set(&allow, "GET, HEAD");

        if (ngx_http_llm_route_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    msg.data = (u_char *) message;
    msg.len = ngx_strlen(message);

    return ngx_http_llm_route_send_error(r, status, "invalid_request_error",
                                         NULL, code, &msg);
}


/* ---- output ------------------------------------------------------------- */


static u_char *
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


static void
ngx_http_llm_route_out_advance(ngx_http_llm_route_out_t *o, u_char *p)
{
    o->len += p - o->b->last;
    o->b->last = p;
}


static void
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

static void
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

static void
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


static void
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

static void
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


static ngx_array_t *
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


/* ---- JSON --------------------------------------------------------------- */


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


static uint64_t
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


static void
ngx_http_llm_route_json(ngx_http_request_t *r, ngx_http_llm_route_out_t *o,
    ngx_http_llm_route_shm_t *sh)
{
    time_t                           now, until;
    uint64_t                         now_ms, n;
    ngx_uint_t                       i, k;
    ngx_array_t                     *a;
    ngx_time_t                      *tp;
    ngx_http_llm_route_item_t       *it;
    ngx_http_llm_route_counters_t   *c;
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    tp = ngx_timeofday();
    now = tp->sec;
    now_ms = (uint64_t) tp->sec * 1000 + tp->msec;

    ngx_http_llm_route_out_printf(o, "{\"version\":1,\"zone\":");
    ngx_http_llm_route_out_json(o, mcf->shm_zone->shm.name.data,
                                mcf->shm_zone->shm.name.len);
    ngx_http_llm_route_out_printf(o,
        ",\"generation\":%uA,\"started\":%T,\"uptime\":%T,"
        "\"now_ms\":%uL,\"slots\":{\"used\":%uA,\"capacity\":%ui}",
        sh->generation, sh->started, now - sh->started, now_ms, sh->nused,
        sh->nslots);

    if (mcf->state_path.len) {
        ngx_http_llm_route_out_printf(o, ",\"state\":{\"file\":");
        ngx_http_llm_route_out_json(o, mcf->state_path.data,
                                    mcf->state_path.len);
        ngx_http_llm_route_out_printf(o,
            ",\"interval_ms\":%M,\"writes\":%uA,\"errors\":%uA,"
            "\"last_written\":%T,\"loaded\":%T}",
            mcf->state_interval, sh->state_writes, sh->state_errors,
            sh->state_last, sh->loaded);
    }

    /* totals */

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

    /* the raw histograms, for windowed percentiles from deltas */

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

    /* models */

    ngx_http_llm_route_out_printf(o, ",\"models\":{");

    a = ngx_http_llm_route_items(r, sh, NGX_HTTP_LLM_ROUTE_SLOT_MODEL);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    it = a->elts;

    for (i = 0; i < a->nelts; i++) {
        c = &it[i].slot->c;

        ngx_http_llm_route_out_printf(o, "%s", i ? "," : "");
        ngx_http_llm_route_out_json(o, it[i].name.data, it[i].name.len);
        ngx_http_llm_route_out_printf(o, ":{\"provider\":");
        ngx_http_llm_route_out_json(o, it[i].provider.data,
                                    it[i].provider.len);
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
        ngx_http_llm_route_out_printf(o, "}");
    }

    /* providers */

    ngx_http_llm_route_out_printf(o, "},\"providers\":{");

    a = ngx_http_llm_route_items(r, sh, NGX_HTTP_LLM_ROUTE_SLOT_PROVIDER);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    it = a->elts;

    for (i = 0; i < a->nelts; i++) {
        c = &it[i].slot->c;
        until = (time_t) (it[i].slot->cooldown_until / 1000);

        ngx_http_llm_route_out_printf(o, "%s", i ? "," : "");
        ngx_http_llm_route_out_json(o, it[i].name.data, it[i].name.len);
        ngx_http_llm_route_out_printf(o,
            ":{\"requests\":%uA,\"errors\":%uA,\"failures\":%uA,"
            "\"state\":\"%s\",\"cooldown_until\":%T,\"cost_usd\":",
            c->requests, c->errors, it[i].slot->failures,
            it[i].slot->cooldown_until > now_ms ? "cooldown" : "up",
            it[i].slot->cooldown_until > now_ms ? until : 0);
        ngx_http_llm_route_out_usd(o, c->cost_pusd);
        ngx_http_llm_route_json_percentiles(o, "latency_ms", c->latency,
                                            c->latency_sum_ms,
                                            ngx_http_llm_route_hist_count(
                                                c->latency));
        ngx_http_llm_route_out_printf(o, "}");
    }

    /* tasks */

    ngx_http_llm_route_out_printf(o, "},\"tasks\":{");

    a = ngx_http_llm_route_items(r, sh, NGX_HTTP_LLM_ROUTE_SLOT_TASK);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    it = a->elts;

    for (k = 0, i = 0; i < a->nelts; i++) {
        c = &it[i].slot->c;

        ngx_http_llm_route_out_printf(o, "%s", k++ ? "," : "");
        ngx_http_llm_route_out_json(o, it[i].name.data, it[i].name.len);
        ngx_http_llm_route_out_printf(o,
            ":{\"requests\":%uA,\"errors\":%uA,\"prompt_tokens\":%uA,"
            "\"completion_tokens\":%uA,\"cost_usd\":",
            c->requests, c->errors, c->prompt_tokens, c->completion_tokens);
        ngx_http_llm_route_out_usd(o, c->cost_pusd);
        ngx_http_llm_route_out_printf(o, ",\"saved_usd\":");
        ngx_http_llm_route_out_usd(o, c->saved_pusd);
        ngx_http_llm_route_out_printf(o, "}");
    }

    ngx_http_llm_route_out_printf(o, "}");

    ngx_http_llm_route_json_rejected(r, o, sh);
    ngx_http_llm_route_json_seconds(o, sh, now);

    /* budgets (limits.c) */

    ngx_http_llm_route_out_printf(o, ",\"budgets\":{");

    a = ngx_http_llm_route_limits_budgets(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    ngx_http_llm_route_json_budgets(o, a);

    /* rate limits (limits.c) */

    ngx_http_llm_route_out_printf(o, "},\"rates\":{");

    a = ngx_http_llm_route_limits_rates(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    ngx_http_llm_route_json_rates(o, a);

    ngx_http_llm_route_out_printf(o, "}");

    ngx_http_llm_route_json_recent(o, sh);

    ngx_http_llm_route_out_printf(o, "}\n");
}


/* the refusals of a reason (core/llr_stats.h), from its slot */

static uint64_t
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


static void
ngx_http_llm_route_json_budgets(ngx_http_llm_route_out_t *o, ngx_array_t *a)
{
    u_char                            *p;
    size_t                             n;
    ngx_uint_t                         i;
    ngx_http_llm_route_budget_info_t  *b;

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
}


/* a limit that is not set, and the count it would have had, are null */

static void
ngx_http_llm_route_json_rates(ngx_http_llm_route_out_t *o, ngx_array_t *a)
{
    uint64_t                         v[4];
    ngx_uint_t                       i, k;
    ngx_http_llm_route_rate_info_t  *ri;

    static const char  *fields[] = {
        "rpm_limit", "tpm_limit", "requests", "tokens"
    };

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
}


/* ---- Prometheus --------------------------------------------------------- */


static void
ngx_http_llm_route_prom_family(ngx_http_llm_route_out_t *o, const char *name,
    const char *type, const char *help)
{
    ngx_http_llm_route_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n",
                                  name, help, name, type);
}


/* name{model="..",provider=".."[,extra] */

static void
ngx_http_llm_route_prom_labels(ngx_http_llm_route_out_t *o, const char *name,
    ngx_http_llm_route_item_t *it, const char *label)
{
    ngx_http_llm_route_out_printf(o, "%s{%s=", name, label);
    ngx_http_llm_route_out_label(o, it->name.data, it->name.len);

    if (label[0] == 'm') {
        ngx_http_llm_route_out_printf(o, ",provider=");
        ngx_http_llm_route_out_label(o, it->provider.data, it->provider.len);
    }
}


static void
ngx_http_llm_route_prom_histogram(ngx_http_llm_route_out_t *o,
    const char *name, ngx_http_llm_route_item_t *it, ngx_atomic_t *buckets,
    uint64_t sum_ms)
{
    uint64_t    cum;
    ngx_uint_t  i;

    cum = 0;

    for (i = 0; i < NGX_HTTP_LLM_ROUTE_BUCKETS; i++) {
        cum += buckets[i];

        ngx_http_llm_route_out_printf(o, "%s_bucket{model=", name);
        ngx_http_llm_route_out_label(o, it->name.data, it->name.len);
        ngx_http_llm_route_out_printf(o, ",provider=");
        ngx_http_llm_route_out_label(o, it->provider.data, it->provider.len);
        ngx_http_llm_route_out_printf(o, ",le=\"");

        if (i == NGX_HTTP_LLM_ROUTE_BUCKETS - 1) {
            ngx_http_llm_route_out_printf(o, "+Inf");

        } else {
            ngx_http_llm_route_out_seconds(o, llr_hist_bounds_ms[i]);
        }

        ngx_http_llm_route_out_printf(o, "\"} %uL\n", cum);
    }

    /* the count is the +Inf bucket, as read above */

    ngx_http_llm_route_out_printf(o, "%s_sum{model=", name);
    ngx_http_llm_route_out_label(o, it->name.data, it->name.len);
    ngx_http_llm_route_out_printf(o, ",provider=");
    ngx_http_llm_route_out_label(o, it->provider.data, it->provider.len);
    ngx_http_llm_route_out_printf(o, "} ");
    ngx_http_llm_route_out_seconds(o, sum_ms);

    ngx_http_llm_route_out_printf(o, "\n%s_count{model=", name);
    ngx_http_llm_route_out_label(o, it->name.data, it->name.len);
    ngx_http_llm_route_out_printf(o, ",provider=");
    ngx_http_llm_route_out_label(o, it->provider.data, it->provider.len);
    ngx_http_llm_route_out_printf(o, "} %uL\n", cum);
}


static void
ngx_http_llm_route_prometheus(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o, ngx_http_llm_route_shm_t *sh)
{
    uint64_t                         now_ms, v;
    ngx_uint_t                       i, k;
    ngx_array_t                     *models, *providers, *tasks;
    ngx_time_t                      *tp;
    ngx_http_llm_route_item_t       *it;
    ngx_http_llm_route_counters_t   *c;
    ngx_http_llm_route_main_conf_t  *mcf;

    static const char  *token_types[] = {
        "prompt", "completion", "cached", "reasoning"
    };

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

    /* per model */

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
                                   "tokens are part of prompt tokens, "
                                   "reasoning tokens of completion tokens).");

    for (i = 0; i < models->nelts; i++) {
        c = &it[i].slot->c;

        for (k = 0; k < 4; k++) {
            v = k == 0 ? c->prompt_tokens
                : k == 1 ? c->completion_tokens
                : k == 2 ? c->cached_tokens : c->reasoning_tokens;

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
                                          &it[i], c->latency,
                                          c->latency_sum_ms);
    }

    ngx_http_llm_route_prom_family(o, "llm_route_ttft_seconds", "histogram",
                                   "Time to the first content token of "
                                   "streamed responses, by model.");

    for (i = 0; i < models->nelts; i++) {
        c = &it[i].slot->c;
        ngx_http_llm_route_prom_histogram(o, "llm_route_ttft_seconds",
                                          &it[i], c->ttft, c->ttft_sum_ms);
    }

#undef ngx_llr_model_counter

    /* per provider */

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

    ngx_llr_provider_value("llm_route_provider_up", "gauge",
                           "1 if the provider is usable, 0 while it is in "
                           "cooldown.",
                           it[i].slot->cooldown_until > now_ms ? 0 : 1)

#undef ngx_llr_provider_value

    /* per task */

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

    ngx_http_llm_route_prom_family(o, "llm_route_rejected_total", "counter",
                                   "Requests the router answered itself "
                                   "instead of routing them, by reason.");

    for (i = 1; i < LLR_REJECT_N; i++) {
        ngx_http_llm_route_out_printf(o,
                                   "llm_route_rejected_total{reason=\"%s\"} "
                                   "%uL\n", llr_reject_name((llr_reject_e) i),
                                   ngx_http_llm_route_rejected(r, sh, i));
    }

    ngx_http_llm_route_prom_budgets(r, o, sh);
    ngx_http_llm_route_prom_rates(r, o, sh);

    /* the zone */

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
        "llm_route_budget_resets_at_seconds"
    };

    static const char  *helps[] = {
        "The limit of a budget in USD per period, by key and period.",
        "USD spent in the budget's current period, by key and period.",
        "USD reserved by requests in flight, by key and period.",
        "When the budget's period resets (Unix time, 0: never)."
    };

    a = ngx_http_llm_route_limits_budgets(r, sh);
    if (a == NULL) {
        o->failed = 1;
        return;
    }

    b = a->elts;

    for (k = 0; k < 4; k++) {
        name = names[k];
        help = helps[k];

        ngx_http_llm_route_prom_family(o, name, "gauge", help);

        for (i = 0; i < a->nelts; i++) {
            ngx_http_llm_route_out_printf(o, "%s{key=", name);
            ngx_http_llm_route_out_label(o, b[i].name.data, b[i].name.len);
            ngx_http_llm_route_out_printf(o, ",period=\"%s\"} ",
                llr_period_name((llr_period_e) b[i].period));

            if (k == 3) {
                ngx_http_llm_route_out_printf(o, "%T\n", b[i].resets_at);
                continue;
            }

            v = k == 0 ? b[i].limit : (k == 1 ? b[i].spent : b[i].reserved);

            ngx_http_llm_route_out_usd(o, v);
            ngx_http_llm_route_out_printf(o, "\n");
        }
    }
}


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
