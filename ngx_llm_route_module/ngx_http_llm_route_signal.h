
/*
 * ngx_llm_route_module: the quality signals of routed answers, read as
 * the response filters pass their bytes (core/llr_signal.h).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_SIGNAL_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_SIGNAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_usage.h"
#include "ngx_http_llm_route_ctx.h"


/* llm_route_refusal_pattern REGEX; */
char *ngx_http_llm_route_refusal_pattern(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* init main conf: the default refusal patterns and the configured ones */
char *ngx_http_llm_route_signal_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);

/*
 * The memory ngx_http_llm_route_signal_watch() needs for an answer of
 * this request (0 if its signals are not counted), so that a caller
 * may allocate it with its own.
 */
size_t ngx_http_llm_route_signal_size(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/*
 * The response filters start watching an answer with scanner j: its
 * text is tapped if its signals are counted (an answer of a chat,
 * completions or Responses request, with a zone), in mem (the size
 * above, from the request pool) or, if mem is NULL, in memory of its
 * own.  NGX_OK if it is, NGX_DECLINED if not, NGX_ERROR.
 */
ngx_int_t ngx_http_llm_route_signal_watch(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, llr_json_t *j, void *mem);

/*
 * The log phase: the signals of a complete answer into *signals; NGX_OK,
 * or NGX_DECLINED if the answer was not watched or is not one (an
 * error, cut short)
 */
ngx_int_t ngx_http_llm_route_signal_end(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, uint32_t *signals);


/* the provider's id of the watched answer ("chatcmpl-..."), or NULL */
ngx_str_t *ngx_http_llm_route_signal_answer_id(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_ROUTE_SIGNAL_H_INCLUDED_ */
