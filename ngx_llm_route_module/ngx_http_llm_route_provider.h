
/*
 * ngx_llm_route_module: the providers (llm_route_provider), and where
 * their keys must not leak to.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"


typedef struct {
    ngx_str_t                       name;
    ngx_uint_t                      index;

    ngx_str_t                       upstream;    /* upstream{} or host:port */
    ngx_str_t                       scheme;      /* "http" or "https" */
    ngx_str_t                       host;        /* Host header and SNI */
    ngx_str_t                       base_path;   /* "/v1", no trailing / */
    ngx_str_t                       authorization; /* "Bearer <key>" or "" */
    ngx_uint_t                      format;

    ngx_uint_t                      max_fails;
    ngx_msec_t                      fail_timeout;

    ngx_int_t                       slot;        /* in the zone, -1: none */
} ngx_http_llm_route_provider_t;


/* llm_route_provider NAME { ... } */
char *ngx_http_llm_route_provider_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_http_llm_route_provider_t *ngx_http_llm_route_find_provider(
    ngx_http_llm_route_main_conf_t *mcf, ngx_str_t *name);

#if (NGX_DEBUG)
/* from merge_loc_conf: a routed location whose error log writes debug */
void ngx_http_llm_route_debug_location(ngx_conf_t *cf,
    ngx_http_llm_route_loc_conf_t *lcf);
/* from postconfiguration: warn that keys would be written to a log */
void ngx_http_llm_route_debug_log_check(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);
#endif


#endif /* _NGX_HTTP_LLM_ROUTE_PROVIDER_H_INCLUDED_ */
