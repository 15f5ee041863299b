
/*
 * ngx_llm_route_module: an OpenAI-compatible LLM router inside nginx.
 *
 * Shared declarations of the nginx glue.  Everything that parses,
 * classifies or computes lives in core/ (no nginx headers there).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MODULE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_req.h"
#include "llr_api.h"
#include "llr_account.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_provider.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_policy.h"
#include "ngx_http_llm_route_rules.h"


/* per request, kept across internal redirects (see the request file) */
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
    void                           *limits;      /* limits.c's state */

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
    unsigned                        accounted:1;
    unsigned                        estimated:1;
    unsigned                        failed:1;    /* counted as an error */
    unsigned                        stream_error_sent:1;
    unsigned                        stream_cut:1;   /* ended inside an event */
    void                           *watch;      /* llr_usage_t, llr_sse_t */
    ngx_msec_t                      start_msec;
    ngx_msec_int_t                  ttft_ms;     /* -1: none yet */
    uint64_t                        prompt_tokens;
    uint64_t                        completion_tokens;
    uint64_t                        cached_tokens;
    uint64_t                        reasoning_tokens;
    uint64_t                        cost_pusd;
    uint64_t                        saved_pusd;

    /* an error page of nginx's own, replaced by JSON */
    u_char                         *error_code;
    ngx_str_t                       error_message;
    ngx_buf_t                      *error_body;
} ngx_http_llm_route_ctx_t;


/* request.c */
ngx_int_t ngx_http_llm_route_precontent_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_llm_route_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_llm_route_mock_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_llm_route_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, const char *param,
    const char *code, ngx_str_t *message);
ngx_buf_t *ngx_http_llm_route_error_json(ngx_http_request_t *r,
    const char *type, const char *param, const char *code,
    ngx_str_t *message);
ngx_http_llm_route_ctx_t *ngx_http_llm_route_get_ctx(ngx_http_request_t *r);

/* health.c */
ngx_http_llm_route_deployment_t *ngx_http_llm_route_least_latency(
    ngx_http_request_t *r, ngx_http_llm_route_deployment_t **d,
    ngx_uint_t n);
void ngx_http_llm_route_latency_sample(ngx_http_request_t *r,
    ngx_http_llm_route_deployment_t *d, ngx_msec_t ms);
ngx_msec_t ngx_http_llm_route_provider_cooldown(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr);
ngx_msec_t ngx_http_llm_route_provider_retry_after(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr);
void ngx_http_llm_route_provider_failed(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr, ngx_uint_t status, time_t retry_after);

/* limits.c: budgets and rate limits */
ngx_int_t ngx_http_llm_route_limits_admit(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
void ngx_http_llm_route_limits_settle(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
char *ngx_http_llm_route_budget(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_rate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_limits_merge(ngx_conf_t *cf,
    ngx_http_llm_route_loc_conf_t *prev, ngx_http_llm_route_loc_conf_t *conf);

/* variables.c */
ngx_int_t ngx_http_llm_route_add_variables(ngx_conf_t *cf);

/* response.c */
ngx_int_t ngx_http_llm_route_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_llm_route_log_handler(ngx_http_request_t *r);
void ngx_http_llm_route_account(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);
void ngx_http_llm_route_attempt_failed(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_uint_t status);

/* zone.c */
char *ngx_http_llm_route_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_llm_route_zone_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_msec_t latency_ms);

/* status.c */
char *ngx_http_llm_route_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_status_check(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);

/* zone.c: init/exit process hooks of the module */
ngx_int_t ngx_http_llm_route_init_process(ngx_cycle_t *cycle);
void ngx_http_llm_route_exit_process(ngx_cycle_t *cycle);

/* headers.c: what a routed request carries to its provider */
ngx_int_t ngx_http_llm_route_headers_init(ngx_conf_t *cf);
ngx_int_t ngx_http_llm_route_strip_credentials(ngx_http_request_t *r,
    ngx_http_llm_route_provider_t *pr);

/* mock.c */
char *ngx_http_llm_route_mock(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* llr_alloc_t over a pool (request.c) */
void ngx_http_llm_route_pool_alloc(ngx_pool_t *pool, llr_alloc_t *alloc);


#endif /* _NGX_HTTP_LLM_ROUTE_MODULE_H_INCLUDED_ */
