
/*
 * ngx_llm_route_module: the context of a routed request.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_CTX_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_CTX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_req.h"
#include "llr_api.h"
#include "llr_account.h"
#include "llr_select.h"
#include "llr_sse.h"
#include "llr_usage.h"
#include "llr_xlate.h"
#include "llr_xsse.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_policy.h"


/* the budgets and rate limits a request holds (limits.c) */
typedef struct ngx_http_llm_route_limits_req_s
    ngx_http_llm_route_limits_req_t;

/* an experiment (experiment.c) */
typedef struct ngx_http_llm_route_experiment_s
    ngx_http_llm_route_experiment_t;

/* the quality signals of the answer being watched (signal.c) */
typedef struct ngx_http_llm_route_signal_s  ngx_http_llm_route_signal_t;


/* per request, kept across internal redirects */
typedef struct {
    ngx_http_request_t             *request;

    unsigned                        reading:1;   /* body read in progress */
    unsigned                        done:1;      /* routed, phases resumed */
    unsigned                        routed:1;    /* a deployment was chosen */
    unsigned                        error_page:1; /* nginx's page -> JSON */
    unsigned                        responded:1; /* the module answered */
    unsigned                        exhausted:1; /* every attempt failed */
    unsigned                        classified:1; /* task, difficulty set */
    unsigned                        rejected:4;  /* llr_reject_e: the module
                                                    refused the request */

    llr_api_e                       endpoint;
    ngx_str_t                       endpoint_path;  /* "/chat/completions" */
    unsigned                        anthropic:1; /* the client speaks
                                                    Anthropic Messages */

    /* the client's request headers, kept at the first route (headers.c) */
    ngx_list_t                      client_headers;

    /* the provider's format, the translation between them (xlate.c) */
    unsigned                        xlate:2;     /* llr_xlate_e */
    unsigned                        panthropic:1; /* the provider speaks
                                                    Anthropic Messages */
    unsigned                        xerror:1;    /* the provider's answer
                                                    is an error */
    ngx_str_t                       upstream_path; /* the endpoint there */
    llr_xsse_t                     *xs;         /* a stream translated */
    ngx_buf_t                      *xbuf;       /* a JSON answer held */
    ngx_uint_t                      xstatus;    /* the provider's status */
    const char                     *xparam;     /* refused: the field */
    ngx_str_t                       xmessage;   /* refused: why */

    ngx_str_t                       requested_model;
    ngx_http_llm_route_model_t     *model;
    ngx_http_llm_route_deployment_t *deployment;
    ngx_http_llm_route_policy_t    *policy;

    ngx_str_t                       url;
    ngx_str_t                       task;
    ngx_uint_t                      task_index;  /* in mcf->tasks */
    ngx_str_t                       reason;
    ngx_uint_t                      attempt;
    double                          difficulty;

    llr_req_view_t                  view;
    uint64_t                        text_matched; /* text rules matched */
    ngx_str_t                       target;      /* what is routed to */
    ngx_uint_t                      forced;      /* 0, or by rule/override */

    /* budgets and rate limits (limits.c): estimates at admission */
    llr_estimate_t                  est;
    ngx_http_llm_route_limits_req_t *limits;     /* what was reserved */

    /* failover */
    ngx_int_t                       uri_changes; /* when it was routed */
    ngx_uint_t                      upstream_tries; /* upstream states then */
    ngx_uint_t                      ntried;
    ngx_http_llm_route_deployment_t *tried[NGX_HTTP_LLM_ROUTE_MAX_ATTEMPTS];
    ngx_uint_t                      tried_status[
                                        NGX_HTTP_LLM_ROUTE_MAX_ATTEMPTS];
    unsigned                        nfallback:8;
    unsigned                        fallback_next:8;
    u_char                          fallback[LLR_SELECT_MAX];

    /* the rewritten body and its holes, filled after the decision */
    ngx_chain_t                    *body;
    ngx_chain_t                   **last;
    ngx_buf_t                      *model_hole;
    ngx_buf_t                      *stream_options_hole;
    ngx_buf_t                      *tail_hole;
    unsigned                        stream_options_comma:1;

    /* watching the response */
    unsigned                        stream:1;    /* the client asked SSE */
    unsigned                        strip_usage:1; /* usage forced on */
    unsigned                        resp_mode:2; /* none JSON SSE encoded */
    unsigned                        resp_done:1; /* the last buffer seen */
    unsigned                        accounted:1; /* acc is set */
    unsigned                        stream_error_sent:1;
    unsigned                        stream_cut:1;   /* ended inside an event */
    union {
        llr_usage_t                *json;        /* resp_mode JSON */
        llr_sse_t                  *sse;         /* resp_mode SSE */
    } watch;
    ngx_msec_int_t                  ttft_ms;     /* -1: none yet */
    llr_account_t                   acc;         /* tokens and cost */
    ngx_http_llm_route_signal_t    *signal;      /* NULL: not read */
    ngx_str_t                       id;          /* X-LLM-Route-Id */
    ngx_http_llm_route_experiment_t *experiment; /* NULL: none */
    ngx_uint_t                      arm;         /* in the experiment */

    /* an error page of nginx's own, replaced by JSON */
    u_char                         *error_code;
    ngx_str_t                       error_message;
    ngx_buf_t                      *error_body;

    /* metrics (metrics.h) */
    uint64_t                        own_ns;      /* the router's own time */
    unsigned                        in_flight:1; /* counted in flight */
} ngx_http_llm_route_ctx_t;


/*
 * A routed request's context (survives internal redirects), or the one
 * of an error page of nginx's own to be replaced by JSON (does not).
 */
ngx_http_llm_route_ctx_t *ngx_http_llm_route_create_ctx(ngx_http_request_t *r,
    ngx_uint_t keep);

/* the context, also after an internal redirect cleared r->ctx */
ngx_http_llm_route_ctx_t *ngx_http_llm_route_find_ctx(ngx_http_request_t *r);


static ngx_inline ngx_http_llm_route_ctx_t *
ngx_http_llm_route_get_ctx(ngx_http_request_t *r)
{
    ngx_http_llm_route_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_llm_route_module);

    if (ctx == NULL && (r->internal || r->filter_finalize)) {
        ctx = ngx_http_llm_route_find_ctx(r);
    }

    return ctx;
}


/*
 * The module answers the request itself, with an OpenAI-shaped error
 * (ngx_http_llm_route_send_error()): it is counted as refused, for the
 * reason the status and the code say, in the log phase
 */
ngx_int_t ngx_http_llm_route_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, const char *param, const char *code,
    ngx_str_t *message);

/*
 * the stream ended as its API says: [DONE], a Responses final event, or
 * Anthropic's message_stop (or error)
 */

static ngx_inline ngx_uint_t
ngx_http_llm_route_stream_ended(ngx_http_llm_route_ctx_t *ctx)
{
    return ctx->watch.sse->done
           || (ctx->watch.sse->ended
               && (ctx->endpoint == LLR_API_RESPONSES || ctx->panthropic));
}


/* milliseconds since the request started, as $request_time counts */
ngx_msec_int_t ngx_http_llm_route_elapsed(ngx_http_request_t *r);

/* the client went away before the answer was complete */
ngx_uint_t ngx_http_llm_route_client_gone(ngx_http_request_t *r);


#endif /* _NGX_HTTP_LLM_ROUTE_CTX_H_INCLUDED_ */
