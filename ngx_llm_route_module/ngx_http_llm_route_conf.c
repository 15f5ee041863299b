
/*
 * ngx_llm_route_module: the configuration structures, the helpers of
 * directive handlers, and the memory core/ takes from a pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_conf.h"


static void *ngx_http_llm_route_palloc(void *ctx, size_t size);
static void *ngx_http_llm_route_prealloc(void *ctx, void *ptr, size_t size);
static void ngx_http_llm_route_pfree(void *ctx, void *ptr);


void *
ngx_http_llm_route_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llm_route_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->shm_zone = NULL;
     *     mcf->state_path = { 0, NULL };
     */

    if (ngx_array_init(&mcf->providers, cf->pool, 4, sizeof(void *))
        != NGX_OK
        || ngx_array_init(&mcf->deployments, cf->pool, 8, sizeof(void *))
           != NGX_OK
        || ngx_array_init(&mcf->models, cf->pool, 8, sizeof(void *))
           != NGX_OK
        || ngx_array_init(&mcf->policies, cf->pool, 2, sizeof(void *))
           != NGX_OK)
    {
        return NULL;
    }

    return mcf;
}


void *
ngx_http_llm_route_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_llm_route_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->answers = 0;
     *     conf->budgets = NULL;
     *     conf->rates = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->trace = NGX_CONF_UNSET;
    conf->rules = NGX_CONF_UNSET_PTR;
    conf->override = NGX_CONF_UNSET_PTR;
    conf->max_attempts = NGX_CONF_UNSET_UINT;
    conf->balance = NGX_CONF_UNSET_UINT;
    conf->classify = NGX_CONF_UNSET_UINT;

    return conf;
}


ngx_int_t
ngx_http_llm_route_check_token(ngx_str_t *s, const char *extra)
{
    u_char      c;
    ngx_uint_t  i;

    if (s->len == 0) {
        return NGX_ERROR;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (c <= 0x20 || c >= 0x7f) {
            return NGX_ERROR;
        }

        if (extra && ngx_strchr(extra, c) != NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route_read_file(ngx_file_t *file, size_t max, ngx_pool_t *pool,
    ngx_str_t *out)
{
    u_char           *buf;
    size_t            len;
    ssize_t           n;
    ngx_err_t         err;
    ngx_file_info_t   fi;

    if (ngx_fd_info(file->fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > (off_t) max)
    {
        return NGX_DECLINED;
    }

    len = (size_t) ngx_file_size(&fi);

    buf = pool ? ngx_pnalloc(pool, len + 1) : ngx_alloc(len + 1, file->log);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    n = ngx_read_file(file, buf, len, 0);

    if (n != (ssize_t) len) {
        err = ngx_errno;

        if (pool == NULL) {
            ngx_free(buf);
        }

        ngx_set_errno(err);
        return NGX_ERROR;
    }

    out->data = buf;
    out->len = len;

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, file->log, 0,
                   "llm_route: read \"%V\", %uz bytes", &file->name, len);

    return NGX_OK;
}


static void *
ngx_http_llm_route_palloc(void *ctx, size_t size)
{
    size_t  *p;

    p = ngx_palloc(ctx, size + sizeof(size_t));
    if (p == NULL) {
        return NULL;
    }

    *p = size;

    return p + 1;
}


static void
ngx_http_llm_route_pfree(void *ctx, void *ptr)
{
    if (ptr) {
        /* returns large allocations only; the rest goes with the pool */
        (void) ngx_pfree(ctx, (size_t *) ptr - 1);
    }
}


static void *
ngx_http_llm_route_prealloc(void *ctx, void *ptr, size_t size)
{
    size_t  old;
    void   *p;

    p = ngx_http_llm_route_palloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    if (ptr) {
        old = ((size_t *) ptr)[-1];
        ngx_memcpy(p, ptr, ngx_min(old, size));
        ngx_http_llm_route_pfree(ctx, ptr);
    }

    return p;
}


void
ngx_http_llm_route_pool_alloc(ngx_pool_t *pool, llr_alloc_t *alloc)
{
    alloc->malloc = ngx_http_llm_route_palloc;
    alloc->realloc = ngx_http_llm_route_prealloc;
    alloc->free = ngx_http_llm_route_pfree;
    alloc->ctx = pool;
}
