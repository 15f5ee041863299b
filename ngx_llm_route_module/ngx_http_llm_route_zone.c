
/*
 * ngx_llm_route_module: the shared memory zone.
 *
 * llm_route_zone NAME:SIZE [state=PATH];
 *
 * One slab zone shared by all workers.  Like limit_req's zones, a zone
 * with the same name and size is adopted on reload, so what it holds
 * survives "nginx -s reload".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_module.h"


#define NGX_HTTP_LLM_ROUTE_ZONE_MAGIC    0x4c4c52005a4f4e45ULL
#define NGX_HTTP_LLM_ROUTE_ZONE_VERSION  1


typedef struct {
    uint64_t                 magic;
    ngx_uint_t               version;
    ngx_atomic_t             generation;   /* configurations seen */
} ngx_http_llm_route_shm_t;


static ngx_int_t ngx_http_llm_route_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


static ngx_int_t
ngx_http_llm_route_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_route_shm_t  *osh = data;

    size_t                      len;
    ngx_slab_pool_t            *shpool;
    ngx_http_llm_route_shm_t   *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (osh) {
        /* reload: the zone kept its name and size, adopt what it holds */
        osh->generation++;
        shm_zone->data = osh;
        return NGX_OK;
    }

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_llm_route_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->magic = NGX_HTTP_LLM_ROUTE_ZONE_MAGIC;
    sh->version = NGX_HTTP_LLM_ROUTE_ZONE_VERSION;
    sh->generation = 1;

    shpool->data = sh;
    shm_zone->data = sh;

    len = sizeof(" in llm_route_zone \"\"") + shm_zone->shm.name.len;

    shpool->log_ctx = ngx_slab_alloc(shpool, len);
    if (shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(shpool->log_ctx, " in llm_route_zone \"%V\"%Z",
                &shm_zone->shm.name);

    shpool->log_nomem = 0;

    return NGX_OK;
}


char *
ngx_http_llm_route_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    u_char     *p;
    ssize_t     size;
    ngx_str_t  *value, name, s;
    ngx_uint_t  i;

    if (mcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = (u_char *) ngx_strchr(value[1].data, ':');

    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\", it must be NAME:SIZE",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data;
    name.len = p - value[1].data;

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "state=", 6) == 0) {

            mcf->state_path.data = value[i].data + 6;
            mcf->state_path.len = value[i].len - 6;

            if (mcf->state_path.len == 0
                || ngx_conf_full_name(cf->cycle, &mcf->state_path, 0)
                   != NGX_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    mcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                          &ngx_http_llm_route_module);
    if (mcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    mcf->shm_zone->init = ngx_http_llm_route_init_zone;
    mcf->shm_zone->data = mcf;

    return NGX_CONF_OK;
}
