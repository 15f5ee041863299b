/*
 * ngx_llm_route_module: the fleet's Redis connection (see the header):
 * the llm_route_redis directive, the instance's shared sync state, the
 * worker's start and exit, the status and $llm_route_redis_status.  The
 * connection is in redis_conn.c, the sync in redis_sync.c.
 *
 * Nothing blocks: the address is resolved when the configuration is
 * read (hiredis then gets a numeric address, and getaddrinfo() of a
 * numeric address does not use the network), the password file is read
 * then too.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_redis.h"
#include "ngx_http_llm_route_redis_conn.h"
#include "ngx_http_llm_route_redis_sync.h"


#define NGX_HTTP_LLM_ROUTE_REDIS_MAGIC       0x6c6c72666c656574ULL
/* the layout of the zone's state (redis_conn.h): a change bumps it */
#ifndef NGX_HTTP_LLM_ROUTE_REDIS_VERSION
#define NGX_HTTP_LLM_ROUTE_REDIS_VERSION     1
#endif
#define NGX_HTTP_LLM_ROUTE_REDIS_PORT        6379
#define NGX_HTTP_LLM_ROUTE_REDIS_ENTRIES     512     /* per batch */
#define NGX_HTTP_LLM_ROUTE_REDIS_PASSWORD_MAX 4096


static ngx_int_t ngx_http_llm_route_redis_add_variables(ngx_conf_t *cf);
static void *ngx_http_llm_route_redis_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_llm_route_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_route_redis_address(ngx_conf_t *cf,
    ngx_http_llm_route_redis_main_conf_t *rmcf, ngx_str_t *addr);
static char *ngx_http_llm_route_redis_password(ngx_conf_t *cf,
    ngx_http_llm_route_redis_main_conf_t *rmcf, ngx_str_t *file);
static ngx_int_t ngx_http_llm_route_redis_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_llm_route_redis_init_process(ngx_cycle_t *cycle);
static void ngx_http_llm_route_redis_exit_process(ngx_cycle_t *cycle);


static ngx_http_llm_route_redis_worker_t  *ngx_http_llm_route_redis_w;


static ngx_command_t  ngx_http_llm_route_redis_commands[] = {

    { ngx_string("llm_route_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_llm_route_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_llm_route_redis_module_ctx = {
    ngx_http_llm_route_redis_add_variables, /* preconfiguration */
    NULL,                                   /* postconfiguration */

    ngx_http_llm_route_redis_create_main_conf, /* create main configuration */
    NULL,                                   /* init main configuration */

    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */

    NULL,                                   /* create location configuration */
    NULL                                    /* merge location configuration */
};


ngx_module_t  ngx_http_llm_route_redis_module = {
    NGX_MODULE_V1,
    &ngx_http_llm_route_redis_module_ctx,   /* module context */
    ngx_http_llm_route_redis_commands,      /* module directives */
    NGX_HTTP_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    ngx_http_llm_route_redis_init_process,  /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    ngx_http_llm_route_redis_exit_process,  /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_llm_route_redis_zone_name =
    ngx_string("llm_route_redis");


/* --- configuration ------------------------------------------------------ */

static void *
ngx_http_llm_route_redis_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_llm_route_redis_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rmcf->addr = { 0, NULL };
     *     rmcf->host = NULL;
     *     rmcf->path = NULL;
     *     rmcf->password = { 0, NULL };
     *     rmcf->db = 0;
     *     rmcf->shm_zone = NULL;
     */

    if (ngx_array_init(&rmcf->hooks, cf->pool, 2,
                       sizeof(ngx_http_llm_route_redis_hook_t))
        != NGX_OK)
    {
        return NULL;
    }

    return rmcf;
}


/*
 * llm_route_redis ADDRESS [password_file=PATH] [db=N] [prefix=STRING]
 *                 [timeout=TIME] [sync=TIME] [fail=open|closed];
 */

static char *
ngx_http_llm_route_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_redis_main_conf_t *rmcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, s, file;
    ngx_uint_t   i;

    if (rmcf->addr.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rmcf->addr = value[1];
    rmcf->timeout = 200;
    rmcf->sync = 100;
    rmcf->fail = NGX_HTTP_LLM_ROUTE_REDIS_FAIL_OPEN;
    ngx_str_set(&rmcf->prefix, "llm_route:");
    ngx_str_null(&file);

    if (ngx_http_llm_route_redis_address(cf, rmcf, &value[1])
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            file.data = value[i].data + 14;
            file.len = value[i].len - 14;
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            n = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (n == NGX_ERROR) {
                goto invalid;
            }

            rmcf->db = (ngx_uint_t) n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            rmcf->prefix.data = value[i].data + 7;
            rmcf->prefix.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rmcf->timeout = ngx_parse_time(&s, 0);
            if (rmcf->timeout == (ngx_msec_t) NGX_ERROR
                || rmcf->timeout == 0)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "sync=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            rmcf->sync = ngx_parse_time(&s, 0);
            if (rmcf->sync == (ngx_msec_t) NGX_ERROR || rmcf->sync == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "fail=open") == 0) {
            rmcf->fail = NGX_HTTP_LLM_ROUTE_REDIS_FAIL_OPEN;
            continue;
        }

        if (ngx_strcmp(value[i].data, "fail=closed") == 0) {
            rmcf->fail = NGX_HTTP_LLM_ROUTE_REDIS_FAIL_CLOSED;
            continue;
        }

        goto invalid;
    }

    if (file.len
        && ngx_http_llm_route_redis_password(cf, rmcf, &file)
           != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    rmcf->shm_zone = ngx_shared_memory_add(cf,
                                        &ngx_http_llm_route_redis_zone_name,
                                        8 * ngx_pagesize,
                                        &ngx_http_llm_route_redis_module);
    if (rmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    rmcf->shm_zone->init = ngx_http_llm_route_redis_init_zone;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" of llm_route_redis",
                       &value[i]);

    return NGX_CONF_ERROR;
}


/*
 * the address: a unix socket path, or host[:port] resolved now, in the
 * master (workers never resolve), as a numeric host for hiredis
 */

static char *
ngx_http_llm_route_redis_address(ngx_conf_t *cf,
    ngx_http_llm_route_redis_main_conf_t *rmcf, ngx_str_t *addr)
{
    u_char     *p;
    size_t      len;
    ngx_url_t   u;

    if (addr->len > 5 && ngx_strncmp(addr->data, "unix:", 5) == 0) {
        rmcf->path = (char *) ngx_pnalloc(cf->pool, addr->len - 5 + 1);
        if (rmcf->path == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn((u_char *) rmcf->path, addr->data + 5,
                    addr->len - 5 + 1);

    } else {
        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = *addr;
        u.default_port = NGX_HTTP_LLM_ROUTE_REDIS_PORT;

        /* resolved now, in the master: workers never resolve */
        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            if (u.err) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "%s in \"%V\" of llm_route_redis",
                                   u.err, &u.url);
            }

            return NGX_CONF_ERROR;
        }

        if (u.naddrs == 0 || u.uri.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid address \"%V\" of llm_route_redis",
                               addr);
            return NGX_CONF_ERROR;
        }

        p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                            NGX_SOCKADDR_STRLEN, 0);

        /* "[::1]" is ngx_sock_ntop()'s, hiredis wants "::1" */
        if (len > 2 && p[0] == '[') {
            ngx_memmove(p, p + 1, len - 2);
            len -= 2;
        }

        p[len] = '\0';

        rmcf->host = (char *) p;
        rmcf->port = (int) ngx_inet_get_port(u.addrs[0].sockaddr);
    }

    return NGX_CONF_OK;
}


/* the password, read once at configuration time (by the master) */

static char *
ngx_http_llm_route_redis_password(ngx_conf_t *cf,
    ngx_http_llm_route_redis_main_conf_t *rmcf, ngx_str_t *file)
{
    u_char           *buf;
    size_t            len;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         name;
    ngx_file_info_t   fi;

    name = *file;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "llm_route_redis: cannot open password_file "
                           "\"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    buf = NULL;
    n = -1;

    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR
        && ngx_file_size(&fi) <= NGX_HTTP_LLM_ROUTE_REDIS_PASSWORD_MAX)
    {
        len = (size_t) ngx_file_size(&fi);

        buf = ngx_pnalloc(cf->pool, len + 1);
        if (buf) {
            n = ngx_read_fd(fd, buf, len);
            n = (n == (ssize_t) len) ? n : -1;
        }
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &name);
    }

    /* one line: what follows the first CR or LF is not the password */
    len = 0;

    while (n > 0 && len < (size_t) n && buf[len] != CR && buf[len] != LF) {
        len++;
    }

    if (n <= 0 || len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_route_redis: password_file \"%V\" is empty, "
                           "unreadable or larger than %d bytes", &name,
                           NGX_HTTP_LLM_ROUTE_REDIS_PASSWORD_MAX);
        return NGX_CONF_ERROR;
    }

    rmcf->password.data = buf;
    rmcf->password.len = len;

    return NGX_CONF_OK;
}


/*
 * 64 random bits from the kernel, read when the zone is created (in the
 * master): two instances started at once in two containers have the
 * same pid and the same clock, and must not share an id (their batches
 * would be taken for each other's)
 */
static uint64_t
ngx_http_llm_route_redis_instance(ngx_log_t *log)
{
    ssize_t    n;
    uint64_t   id;
    ngx_fd_t   fd;

    id = 0;

    fd = ngx_open_file("/dev/urandom", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd != NGX_INVALID_FILE) {
        n = ngx_read_fd(fd, &id, sizeof(uint64_t));

        if (n != (ssize_t) sizeof(uint64_t)) {
            id = 0;
        }

        if (ngx_close_file(fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                          ngx_close_file_n " \"/dev/urandom\" failed");
        }
    }

    if (id == 0) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "llm_route_redis: no /dev/urandom, the instance id "
                      "is made of the time and the pid");

        id = ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random()
             ^ ((uint64_t) ngx_time() << 20) ^ (uint64_t) ngx_pid;
    }

    return id;
}


static ngx_int_t
ngx_http_llm_route_redis_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_llm_route_redis_shm_t  *osh = data;

    ngx_slab_pool_t                 *shpool;
    ngx_http_llm_route_redis_shm_t  *sh;

    if (osh) {
        /* a reload: the same instance, its sequence goes on */

        if (osh->magic != NGX_HTTP_LLM_ROUTE_REDIS_MAGIC
            || osh->version != NGX_HTTP_LLM_ROUTE_REDIS_VERSION)
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "llm_route_redis: the zone \"%V\" was laid out "
                          "by another version of the module: restart nginx",
                          &shm_zone->shm.name);
            return NGX_ERROR;
        }

        shm_zone->data = osh;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, shm_zone->shm.log, 0,
                       "llm_route: llm_route_redis zone \"%V\" adopted",
                       &shm_zone->shm.name);

        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_llm_route_redis_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->magic = NGX_HTTP_LLM_ROUTE_REDIS_MAGIC;
    sh->version = NGX_HTTP_LLM_ROUTE_REDIS_VERSION;

    /* an instance is a start of nginx: its batches are numbered from 1 */
    sh->instance = ngx_http_llm_route_redis_instance(shm_zone->shm.log);

    shpool->data = sh;
    shm_zone->data = sh;

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route_redis_add_hook(ngx_conf_t *cf,
    ngx_http_llm_route_redis_hook_t *hook)
{
    ngx_http_llm_route_redis_hook_t       *h;
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                            ngx_http_llm_route_redis_module);

    h = ngx_array_push(&rmcf->hooks);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = *hook;

    return NGX_OK;
}


ngx_uint_t
ngx_http_llm_route_redis_configured(ngx_conf_t *cf)
{
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                            ngx_http_llm_route_redis_module);

    return rmcf->shm_zone != NULL;
}


/* --- the worker --------------------------------------------------------- */

static ngx_int_t
ngx_http_llm_route_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_http_llm_route_redis_worker_t     *w;
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    rmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                            ngx_http_llm_route_redis_module);

    if (rmcf == NULL || rmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_http_llm_route_redis_worker_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->rmcf = rmcf;
    w->sh = rmcf->shm_zone->data;
    w->log = cycle->log;
    w->ready = ngx_http_llm_route_redis_sync;

    ngx_http_llm_route_redis_w = w;

    ngx_http_llm_route_redis_conn_init(w, cycle);

    return NGX_OK;
}


static void
ngx_http_llm_route_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_llm_route_redis_worker_t  *w;

    w = ngx_http_llm_route_redis_w;

    if (w == NULL) {
        return;
    }

    ngx_http_llm_route_redis_conn_close(w);

    ngx_http_llm_route_redis_w = NULL;
}




/* --- status, admission, the variable -------------------------------------- */

static ngx_http_llm_route_redis_main_conf_t *
ngx_http_llm_route_redis_conf(ngx_http_request_t *r)
{
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_redis_module);

    if (rmcf == NULL || rmcf->shm_zone == NULL
        || rmcf->shm_zone->data == NULL)
    {
        return NULL;
    }

    return rmcf;
}


static ngx_uint_t
ngx_http_llm_route_redis_fresh(ngx_http_llm_route_redis_main_conf_t *rmcf)
{
    ngx_http_llm_route_redis_shm_t  *sh;

    sh = rmcf->shm_zone->data;

    /* a sync missed, and one on the way that may still come back */
    return sh->last_sync
           && (ngx_msec_int_t) (ngx_current_msec - sh->last_mono)
              <= (ngx_msec_int_t) (2 * rmcf->sync + rmcf->timeout);
}


ngx_int_t
ngx_http_llm_route_redis_check(ngx_http_request_t *r)
{
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_llm_route_redis_conf(r);

    if (rmcf == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_llm_route_redis_fresh(rmcf)) {
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route redis: the fleet's view is stale, fail=%s",
                   rmcf->fail == NGX_HTTP_LLM_ROUTE_REDIS_FAIL_OPEN
                   ? "open" : "closed");

    return rmcf->fail == NGX_HTTP_LLM_ROUTE_REDIS_FAIL_OPEN
           ? NGX_AGAIN : NGX_ERROR;
}


ngx_int_t
ngx_http_llm_route_redis_status(ngx_http_request_t *r,
    ngx_http_llm_route_redis_status_t *st)
{
    ngx_http_llm_route_redis_shm_t        *sh;
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    rmcf = ngx_http_llm_route_redis_conf(r);

    if (rmcf == NULL) {
        return NGX_DECLINED;
    }

    sh = rmcf->shm_zone->data;

    st->up = ngx_http_llm_route_redis_fresh(rmcf);
    st->last_sync = sh->last_sync;
    st->lag_ms = sh->lag_ms;
    st->errors = sh->errors;
    st->connects = sh->connects;
    st->syncs = sh->syncs;
    st->seq = sh->seq.seq;
    llr_fleet_instance((char *) st->instance, sh->instance);

    return NGX_OK;
}


u_char *
ngx_http_llm_route_redis_json(u_char *p,
    ngx_http_llm_route_redis_status_t *st)
{
    char  iso[32];

    p = ngx_sprintf(p, "{\"state\":\"%s\",\"last_sync\":",
                    st->up ? "up" : "down");

    if (st->last_sync) {
        (void) llr_format_iso8601(iso, sizeof(iso),
                                  (int64_t) (st->last_sync / 1000));
        p = ngx_sprintf(p, "\"%s\"", iso);

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    return ngx_sprintf(p, ",\"lag_ms\":%M,\"errors\":%uL,\"connects\":%uL,"
                       "\"syncs\":%uL,\"seq\":%uL,\"instance\":\"%s\"}",
                       st->lag_ms, st->errors, st->connects, st->syncs,
                       st->seq, st->instance);
}


static ngx_int_t
ngx_http_llm_route_redis_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                             *p;
    ngx_http_llm_route_redis_status_t   st;

    if (ngx_http_llm_route_redis_status(r, &st) != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_HTTP_LLM_ROUTE_REDIS_JSON_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_http_llm_route_redis_json(p, &st) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_llm_route_redis_add_variables(ngx_conf_t *cf)
{
    ngx_str_t              name = ngx_string("llm_route_redis_status");
    ngx_http_variable_t   *var;

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_llm_route_redis_variable;

    return NGX_OK;
}
