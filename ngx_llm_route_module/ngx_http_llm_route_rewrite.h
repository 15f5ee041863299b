
/*
 * ngx_llm_route_module: the rewritten body.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_REWRITE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_REWRITE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_req.h"
#include "ngx_http_llm_route_ctx.h"


/* the rewriter's output for a body of size bytes; NULL: no memory */
llr_out_t *ngx_http_llm_route_rewrite_out(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, off_t size, ngx_uint_t in_file);

/*
 * The route is chosen: the holes filled, the body in the request's
 * place, the URL made; NGX_OK or an HTTP status
 */
ngx_int_t ngx_http_llm_route_finish_body(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* "model":"<upstream model>" of ctx->deployment, in its hole */
ngx_int_t ngx_http_llm_route_fill_model(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* the body's length, and the URL for ctx->deployment (ctx->url) */
ngx_int_t ngx_http_llm_route_set_url(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);


#endif /* _NGX_HTTP_LLM_ROUTE_REWRITE_H_INCLUDED_ */
