
/*
 * ngx_llm_route_module: the status endpoint.
 *
 *     location = /llm/status { llm_route_status; allow 127.0.0.1; deny all; }
 *
 * GET or HEAD; ?format=json (the default), ?format=prometheus (text
 * exposition format 0.0.4) or ?format=html (the dashboard, a page that
 * polls the JSON).  Only configured models, providers and tasks are
 * listed; counters come from the zone, read without a lock.  Budgets and
 * rate limits are copied by limits_list.c under the slab mutex (briefly, into
 * the request's pool), then formatted without it.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_status.h"
#include "ngx_http_llm_route_status_json.h"
#include "ngx_http_llm_route_status_prometheus.h"
#include "ngx_http_llm_route_dashboard.h"
#include "ngx_http_llm_route_reply.h"


typedef enum {
    NGX_HTTP_LLM_ROUTE_STATUS_JSON = 0,
    NGX_HTTP_LLM_ROUTE_STATUS_PROMETHEUS,
    NGX_HTTP_LLM_ROUTE_STATUS_HTML
} ngx_http_llm_route_status_format_e;


static ngx_int_t ngx_http_llm_route_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_llm_route_status_format(ngx_http_request_t *r,
    ngx_uint_t *format);
static ngx_int_t ngx_http_llm_route_status_html(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o);
static ngx_int_t ngx_http_llm_route_status_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);


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


static ngx_int_t
ngx_http_llm_route_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  type;
    ngx_uint_t                 format;
    ngx_http_llm_route_out_t   o;
    ngx_http_llm_route_shm_t  *sh;

    static ngx_str_t  no_store = ngx_string("no-store");

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_llm_route_status_error(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed",
                   "The status endpoint answers GET and HEAD only.");
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_llm_route_status_format(r, &format) != NGX_OK) {
        return ngx_http_llm_route_status_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_format",
                   "Unknown format: use json, prometheus or html.");
    }

    sh = ngx_http_llm_route_shm(r);

    if (sh == NULL && format != NGX_HTTP_LLM_ROUTE_STATUS_HTML) {
        return ngx_http_llm_route_status_error(r,
                   NGX_HTTP_INTERNAL_SERVER_ERROR, "no_zone",
                   "No llm_route_zone is configured.");
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: status, format %ui", format);

    ngx_memzero(&o, sizeof(ngx_http_llm_route_out_t));
    o.pool = r->pool;
    o.last = &o.first;

    switch (format) {

    case NGX_HTTP_LLM_ROUTE_STATUS_PROMETHEUS:
        ngx_str_set(&type, "text/plain; version=0.0.4; charset=utf-8");
        ngx_http_llm_route_status_prometheus(r, &o, sh);
        break;

    case NGX_HTTP_LLM_ROUTE_STATUS_HTML:
        ngx_str_set(&type, "text/html; charset=utf-8");

        if (ngx_http_llm_route_status_html(r, &o) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        break;

    default:
        ngx_str_set(&type, "application/json");
        ngx_http_llm_route_status_json(r, &o, sh);
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


/* ?format=json (the default), prometheus or html */

static ngx_int_t
ngx_http_llm_route_status_format(ngx_http_request_t *r, ngx_uint_t *format)
{
    ngx_str_t  arg;

    *format = NGX_HTTP_LLM_ROUTE_STATUS_JSON;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) != NGX_OK) {
        return NGX_OK;
    }

    if (arg.len == 4 && ngx_strncmp(arg.data, "json", 4) == 0) {
        return NGX_OK;
    }

    if (arg.len == 10 && ngx_strncmp(arg.data, "prometheus", 10) == 0) {
        *format = NGX_HTTP_LLM_ROUTE_STATUS_PROMETHEUS;
        return NGX_OK;
    }

    if (arg.len == 4 && ngx_strncmp(arg.data, "html", 4) == 0) {
        *format = NGX_HTTP_LLM_ROUTE_STATUS_HTML;
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* the dashboard, one static buffer; the page loads nothing: it says so */

static ngx_int_t
ngx_http_llm_route_status_html(ngx_http_request_t *r,
    ngx_http_llm_route_out_t *o)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    static ngx_str_t  csp = ngx_string("default-src 'none'; "
                                       "connect-src 'self'; "
                                       "script-src 'unsafe-inline'; "
                                       "style-src 'unsafe-inline'; "
                                       "img-src data:");

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) ngx_http_llm_route_dashboard;
    b->last = b->pos + ngx_http_llm_route_dashboard_len;
    b->memory = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    o->first = cl;
    o->b = b;
    o->len = ngx_http_llm_route_dashboard_len;

    return ngx_http_llm_route_add_header(r, "Content-Security-Policy", &csp);
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


