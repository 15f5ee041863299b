
/*
 * ngx_llm_route_module: what the status formats share: a growing chain
 * of buffers to print into, and the configured names it lists.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_STATUS_OUT_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_STATUS_OUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_shm.h"


#define NGX_HTTP_LLM_ROUTE_OUT_CHUNK  16384
#define NGX_HTTP_LLM_ROUTE_OUT_LINE   512


/* an output being printed: a failed allocation sets failed and stops it */

typedef struct {
    ngx_pool_t                      *pool;
    ngx_chain_t                     *first;
    ngx_chain_t                    **last;
    ngx_buf_t                       *b;
    size_t                           len;
    ngx_uint_t                       failed;
} ngx_http_llm_route_out_t;


/* a configured model, provider or task and its slot in the zone */

typedef struct {
    ngx_str_t                        name;
    ngx_str_t                        provider;
    ngx_http_llm_route_slot_t       *slot;
} ngx_http_llm_route_item_t;


u_char *ngx_http_llm_route_out_reserve(ngx_http_llm_route_out_t *o,
    size_t n);
void ngx_http_llm_route_out_advance(ngx_http_llm_route_out_t *o, u_char *p);
void ngx_http_llm_route_out_printf(ngx_http_llm_route_out_t *o,
    const char *fmt, ...);
void ngx_http_llm_route_out_json(ngx_http_llm_route_out_t *o,
    u_char *data, size_t len);
void ngx_http_llm_route_out_label(ngx_http_llm_route_out_t *o,
    u_char *data, size_t len);
void ngx_http_llm_route_out_usd(ngx_http_llm_route_out_t *o, uint64_t pusd);
void ngx_http_llm_route_out_seconds(ngx_http_llm_route_out_t *o,
    uint64_t ms);

ngx_array_t *ngx_http_llm_route_items(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t kind);
uint64_t ngx_http_llm_route_rejected(ngx_http_request_t *r,
    ngx_http_llm_route_shm_t *sh, ngx_uint_t reason);
uint64_t ngx_http_llm_route_hist_count(ngx_atomic_t *buckets);


#endif /* _NGX_HTTP_LLM_ROUTE_STATUS_OUT_H_INCLUDED_ */
