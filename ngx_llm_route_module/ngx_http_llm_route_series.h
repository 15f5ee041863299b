
/*
 * ngx_llm_route_module: series whose labels are known only at run time
 * (what the client asked for and where it went; llm_route_spend_key),
 * in bounded tables of the zone.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_SERIES_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_SERIES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_shm.h"


/* requested model -> routed model pairs a zone counts apart */
#define NGX_HTTP_LLM_ROUTE_ROUTES      128
/* llm_route_spend_key max= */
#define NGX_HTTP_LLM_ROUTE_KEYS        64
#define NGX_HTTP_LLM_ROUTE_KEYS_MAX    4096

/* the label of what did not fit, or was not a configured name */
#define NGX_HTTP_LLM_ROUTE_OTHER       "_other"


typedef struct {
    uint32_t              hash;
    uint16_t              len1;
    uint16_t              len2;
    u_char                label[2 * NGX_HTTP_LLM_ROUTE_NAME_LEN];
    ngx_atomic_t          requests;
    ngx_atomic_t          errors;
    ngx_atomic_t          prompt_tokens;
    ngx_atomic_t          completion_tokens;
    ngx_atomic_t          cost_pusd;
} ngx_http_llm_route_series_entry_t;


struct ngx_http_llm_route_series_s {
    ngx_uint_t                          capacity;
    ngx_atomic_t                        nused;   /* e[0] is "_other" */
    ngx_http_llm_route_series_entry_t   e[1];
};


char *ngx_http_llm_route_spend_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the tables of the zone, allocated if missing (the master, init_zone) */
ngx_int_t ngx_http_llm_route_series_init(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf);

/* the bytes the tables take in the zone */
size_t ngx_http_llm_route_series_size(ngx_http_llm_route_main_conf_t *mcf);

/* a finished request into its route and key series */
void ngx_http_llm_route_series_record(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_shm_t *sh,
    ngx_http_llm_route_record_t *rec);


#endif /* _NGX_HTTP_LLM_ROUTE_SERIES_H_INCLUDED_ */
