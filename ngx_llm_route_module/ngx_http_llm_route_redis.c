/*
 * ngx_llm_route_module: the fleet's Redis connection (see the header).
 *
 * The adapter.  hiredis's async context asks for read and write interest
 * through five hooks (addRead, delRead, addWrite, delWrite, cleanup);
 * here they register the context's socket, wrapped in an
 * ngx_connection_t, with nginx's event module.  Events are level
 * triggered (NGX_LEVEL_EVENT): hiredis reads at most 16 KB per call and
 * expects to be called again while data is left.  nginx's timers do the
 * rest: the connect and command timeouts, the reconnection backoff, and
 * the sync interval.  hiredis 0.14 (Debian 12) has no timer hook, and
 * none is needed.
 *
 * Nothing blocks: the address is resolved when the configuration is
 * read (hiredis then gets a numeric address, and getaddrinfo() of a
 * numeric address does not use the network), the password file is read
 * then too, and redisAsyncConnect() connects a non-blocking socket.
 *
 * One connection per worker.  The instance syncs once per interval: the
 * worker whose timer finds the interval over claims the sync in the
 * shared zone (a compare-and-set of the owner's pid), sends one batch,
 * and releases the claim with the answer.  A batch not answered (Redis
 * down, a timeout, the worker killed) is resent as it was by whichever
 * worker syncs next: core/llr_fleet.h explains why that counts nothing
 * twice.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_llm_route_redis.h"
#include "llr_fleet_hiredis.h"


#define NGX_HTTP_LLM_ROUTE_REDIS_MAGIC       0x6c6c72666c656574ULL
#define NGX_HTTP_LLM_ROUTE_REDIS_PORT        6379
#define NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF     100     /* ms, the first */
#define NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF_MAX 3000    /* ms */
#define NGX_HTTP_LLM_ROUTE_REDIS_ENTRIES     512     /* per batch */
#define NGX_HTTP_LLM_ROUTE_REDIS_PASSWORD_MAX 4096

#define NGX_HTTP_LLM_ROUTE_REDIS_DOWN        0
#define NGX_HTTP_LLM_ROUTE_REDIS_CONNECTING  1       /* and handshake */
#define NGX_HTTP_LLM_ROUTE_REDIS_READY       2


typedef struct {
    ngx_str_t                        addr;        /* as written */
    char                            *host;        /* numeric, or NULL */
    int                              port;
    char                            *path;        /* unix socket */
    ngx_str_t                        password;    /* never logged */
    ngx_uint_t                       db;
    ngx_str_t                        prefix;
    ngx_msec_t                       timeout;
    ngx_msec_t                       sync;
    ngx_uint_t                       fail;
    ngx_shm_zone_t                  *shm_zone;
    ngx_array_t                      hooks;       /* of hook */
} ngx_http_llm_route_redis_main_conf_t;


/* the instance's sync state, shared by its workers and kept on reload */
typedef struct {
    uint64_t                         magic;
    uint64_t                         instance;    /* random, per start */
    ngx_atomic_t                     last_sync;   /* epoch ms */
    ngx_atomic_t                     last_mono;   /* ngx_current_msec */
    ngx_atomic_t                     lag_ms;
    ngx_atomic_t                     errors;
    ngx_atomic_t                     connects;
    ngx_atomic_t                     syncs;
    /*
     * the sync's times are ngx_current_msec: the monotonic clock, the
     * same in every worker, and a wall clock set back stops nothing
     */
    ngx_atomic_t                     sync_next;
    ngx_atomic_t                     owner;       /* pid of the worker whose
                                                     batch is on the way */
    ngx_atomic_t                     attempt;     /* of that batch */
    ngx_atomic_t                     since;       /* when it was sent */
    ngx_atomic_t                     attempts;
    llr_fleet_seq_t                  seq;         /* changed by the owner */
} ngx_http_llm_route_redis_shm_t;


/* this worker's connection */
typedef struct {
    redisAsyncContext               *ac;
    ngx_connection_t                *conn;
    ngx_event_t                      timer;
    ngx_uint_t                       state;
    ngx_uint_t                       failures;    /* in a row */
    ngx_uint_t                       outstanding; /* commands sent */
    ngx_msec_t                       busy_since;  /* the oldest of them */
    ngx_msec_t                       connect_start;
    ngx_msec_t                       retry_at;
    char                             sha[LLR_FLEET_SHA_LEN + 1];
    ngx_http_llm_route_redis_main_conf_t  *rmcf;
    ngx_http_llm_route_redis_shm_t  *sh;
    ngx_log_t                       *log;
} ngx_http_llm_route_redis_worker_t;


/* one sync on the way */
typedef struct {
    ngx_pool_t                      *pool;
    llr_fleet_batch_t                batch;
    ngx_uint_t                       attempt;
    ngx_msec_t                       sent;
    ngx_uint_t                       eval;        /* resent with EVAL */
    size_t                          *first;       /* per hook */
    size_t                          *n;
} ngx_http_llm_route_redis_sync_t;


static ngx_int_t ngx_http_llm_route_redis_add_variables(ngx_conf_t *cf);
static void *ngx_http_llm_route_redis_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_llm_route_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_llm_route_redis_password(ngx_conf_t *cf,
    ngx_http_llm_route_redis_main_conf_t *rmcf, ngx_str_t *file);
static ngx_int_t ngx_http_llm_route_redis_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_llm_route_redis_init_process(ngx_cycle_t *cycle);
static void ngx_http_llm_route_redis_exit_process(ngx_cycle_t *cycle);

static void ngx_http_llm_route_redis_connect(
    ngx_http_llm_route_redis_worker_t *w);
static void ngx_http_llm_route_redis_arm(
    ngx_http_llm_route_redis_worker_t *w);
static void ngx_http_llm_route_redis_tick(ngx_event_t *ev);
static void ngx_http_llm_route_redis_drop(
    ngx_http_llm_route_redis_worker_t *w, const char *why);
static void ngx_http_llm_route_redis_sync(
    ngx_http_llm_route_redis_worker_t *w);
static ngx_int_t ngx_http_llm_route_redis_send(
    ngx_http_llm_route_redis_worker_t *w, redisCallbackFn *fn, void *data,
    int argc, const char **argv, const size_t *argvlen);
static void ngx_http_llm_route_redis_release(
    ngx_http_llm_route_redis_worker_t *w, ngx_uint_t attempt);
static uint64_t ngx_http_llm_route_redis_now(void);

/* the adapter */
static void ngx_http_llm_route_redis_add_read(void *data);
static void ngx_http_llm_route_redis_del_read(void *data);
static void ngx_http_llm_route_redis_add_write(void *data);
static void ngx_http_llm_route_redis_del_write(void *data);
static void ngx_http_llm_route_redis_cleanup(void *data);
static void ngx_http_llm_route_redis_read_handler(ngx_event_t *ev);
static void ngx_http_llm_route_redis_write_handler(ngx_event_t *ev);

/*
 * llr_alloc_t over a pool (request.c; declared here rather than through
 * the module's header, which this file does not otherwise need)
 */
void ngx_http_llm_route_pool_alloc(ngx_pool_t *pool, llr_alloc_t *alloc);


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

    u_char      *p;
    size_t       len;
    ngx_int_t    n;
    ngx_str_t   *value, s, file;
    ngx_url_t    u;
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

    if (value[1].len > 5 && ngx_strncmp(value[1].data, "unix:", 5) == 0) {
        rmcf->path = (char *) ngx_pnalloc(cf->pool, value[1].len - 5 + 1);
        if (rmcf->path == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn((u_char *) rmcf->path, value[1].data + 5,
                    value[1].len - 5 + 1);

    } else {
        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[1];
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
                               &value[1]);
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
        shm_zone->data = osh;
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


/* --- the worker's connection -------------------------------------------- */

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
    w->state = NGX_HTTP_LLM_ROUTE_REDIS_DOWN;

    w->timer.handler = ngx_http_llm_route_redis_tick;
    w->timer.data = w;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;   /* a worker shutting down does not wait */

    ngx_http_llm_route_redis_w = w;

    /* connect at once */
    w->retry_at = ngx_current_msec;
    ngx_http_llm_route_redis_arm(w);

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

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (w->ac) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, w->log, 0,
                       "llm_route redis: closing on exit");

        /* its callbacks get NULL replies; the socket is closed */
        redisAsyncFree(w->ac);
    }

    ngx_http_llm_route_redis_w = NULL;
}


static ngx_uint_t
ngx_http_llm_route_redis_stopping(void)
{
    return ngx_exiting || ngx_quit || ngx_terminate;
}


static void
ngx_http_llm_route_redis_arm(ngx_http_llm_route_redis_worker_t *w)
{
    ngx_msec_t      at, end;
    ngx_msec_int_t  d;

    if (ngx_http_llm_route_redis_stopping()) {
        return;
    }

    switch (w->state) {

    case NGX_HTTP_LLM_ROUTE_REDIS_DOWN:
        at = w->retry_at;
        break;

    case NGX_HTTP_LLM_ROUTE_REDIS_CONNECTING:
        at = w->connect_start + w->rmcf->timeout;
        break;

    default: /* READY */
        at = ngx_current_msec + w->rmcf->sync;

        if (w->outstanding) {
            end = w->busy_since + w->rmcf->timeout;
            if ((ngx_msec_int_t) (end - at) < 0) {
                at = end;
            }
        }
    }

    d = (ngx_msec_int_t) (at - ngx_current_msec);

    /* ngx_add_timer() keeps a timer set less than 300 ms apart */
    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    ngx_add_timer(&w->timer, d > 0 ? (ngx_msec_t) d : 1);
}


static void
ngx_http_llm_route_redis_tick(ngx_event_t *ev)
{
    ngx_http_llm_route_redis_worker_t *w = ev->data;

    if (ngx_http_llm_route_redis_stopping()) {
        return;
    }

    switch (w->state) {

    case NGX_HTTP_LLM_ROUTE_REDIS_DOWN:
        ngx_http_llm_route_redis_connect(w);
        break;

    case NGX_HTTP_LLM_ROUTE_REDIS_CONNECTING:
        if (ngx_current_msec - w->connect_start >= w->rmcf->timeout) {
            ngx_http_llm_route_redis_drop(w, "timed out connecting");
        }

        break;

    default: /* READY */

        if (w->outstanding
            && ngx_current_msec - w->busy_since >= w->rmcf->timeout)
        {
            ngx_http_llm_route_redis_drop(w, "timed out");
            break;
        }

        if (w->outstanding == 0) {
            ngx_http_llm_route_redis_sync(w);
        }
    }

    ngx_http_llm_route_redis_arm(w);
}


/* close the connection: the cleanup hook schedules the next attempt */
static void
ngx_http_llm_route_redis_drop(ngx_http_llm_route_redis_worker_t *w,
    const char *why)
{
    if (w->ac == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "llm_route_redis %V: %s, reconnecting", &w->rmcf->addr,
                  why);

    /* in a callback hiredis frees it when the callback returns */
    redisAsyncFree(w->ac);
}


static ngx_int_t
ngx_http_llm_route_redis_send(ngx_http_llm_route_redis_worker_t *w,
    redisCallbackFn *fn, void *data, int argc, const char **argv,
    const size_t *argvlen)
{
    if (w->ac == NULL
        || redisAsyncCommandArgv(w->ac, fn, data, argc, argv, argvlen)
           != REDIS_OK)
    {
        return NGX_ERROR;
    }

    if (w->outstanding++ == 0) {
        w->busy_since = ngx_current_msec;
    }

    return NGX_OK;
}


static void
ngx_http_llm_route_redis_answered(ngx_http_llm_route_redis_worker_t *w)
{
    if (w->outstanding) {
        w->outstanding--;
    }

    /* the next one is timed from now */
    w->busy_since = ngx_current_msec;
}


/* AUTH and SELECT */
static void
ngx_http_llm_route_redis_ok_reply(redisAsyncContext *ac, void *reply,
    void *data)
{
    ngx_http_llm_route_redis_worker_t *w = ac->data;

    char               *what = data;
    size_t              len;
    ngx_pool_t         *pool;
    llr_alloc_t         alloc;
    const char         *err;
    llr_fleet_reply_t  *fr;

    ngx_http_llm_route_redis_answered(w);

    if (reply == NULL) {
        return;                 /* the connection is going */
    }

    pool = ngx_create_pool(1024, w->log);
    if (pool == NULL) {
        ngx_http_llm_route_redis_drop(w, "out of memory");
        return;
    }

    ngx_http_llm_route_pool_alloc(pool, &alloc);
    fr = llr_fleet_from_hiredis(reply, &alloc, 0);

    err = "";
    len = 0;

    if (llr_fleet_reply_ok(fr, &err, &len) != LLR_FLEET_OK) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "llm_route_redis %V: %s failed: \"%*s\"",
                      &w->rmcf->addr, what, len, err);
        (void) ngx_atomic_fetch_add(&w->sh->errors, 1);
        ngx_http_llm_route_redis_drop(w, "handshake failed");

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                       "llm_route redis: %s ok", what);
    }

    ngx_destroy_pool(pool);
}


static void
ngx_http_llm_route_redis_script_reply(redisAsyncContext *ac, void *reply,
    void *data)
{
    ngx_http_llm_route_redis_worker_t *w = ac->data;

    size_t              len;
    ngx_pool_t         *pool;
    llr_alloc_t         alloc;
    const char         *err;
    llr_fleet_reply_t  *fr;

    ngx_http_llm_route_redis_answered(w);

    if (reply == NULL || w->state != NGX_HTTP_LLM_ROUTE_REDIS_CONNECTING) {
        return;
    }

    pool = ngx_create_pool(1024, w->log);
    if (pool == NULL) {
        ngx_http_llm_route_redis_drop(w, "out of memory");
        return;
    }

    ngx_http_llm_route_pool_alloc(pool, &alloc);
    fr = llr_fleet_from_hiredis(reply, &alloc, 0);

    err = "";
    len = 0;

    if (llr_fleet_reply_sha(fr, w->sha, &err, &len) != LLR_FLEET_OK) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "llm_route_redis %V: SCRIPT LOAD failed: \"%*s\"",
                      &w->rmcf->addr, len, err);
        (void) ngx_atomic_fetch_add(&w->sh->errors, 1);
        ngx_http_llm_route_redis_drop(w, "handshake failed");
        ngx_destroy_pool(pool);
        return;
    }

    ngx_destroy_pool(pool);

    w->state = NGX_HTTP_LLM_ROUTE_REDIS_READY;
    w->failures = 0;
    (void) ngx_atomic_fetch_add(&w->sh->connects, 1);

    ngx_log_error(NGX_LOG_INFO, w->log, 0,
                  "llm_route_redis %V: connected, script %s",
                  &w->rmcf->addr, w->sha);

    /* a first sync right away */
    ngx_http_llm_route_redis_sync(w);
    ngx_http_llm_route_redis_arm(w);
}


static void
ngx_http_llm_route_redis_on_connect(const redisAsyncContext *ac,
    int status)
{
    ngx_http_llm_route_redis_worker_t *w = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context after this: see the cleanup hook */
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "llm_route_redis %V: connect failed: %s",
                      &w->rmcf->addr, ac->errstr);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "llm_route redis: connected");
}


static void
ngx_http_llm_route_redis_on_disconnect(const redisAsyncContext *ac,
    int status)
{
    ngx_http_llm_route_redis_worker_t *w = ac->data;

    if (status != REDIS_OK && !ngx_http_llm_route_redis_stopping()) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "llm_route_redis %V: connection lost: %s",
                      &w->rmcf->addr, ac->errstr);
    }
}


static void
ngx_http_llm_route_redis_connect(ngx_http_llm_route_redis_worker_t *w)
{
    int                                    argc;
    char                                   db[NGX_INT_T_LEN + 1];
    const char                            *argv[2];
    size_t                                 argvlen[2];
    ngx_connection_t                      *c;
    redisAsyncContext                     *ac;
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    rmcf = w->rmcf;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "llm_route redis: connecting to %V", &rmcf->addr);

    w->state = NGX_HTTP_LLM_ROUTE_REDIS_CONNECTING;
    w->connect_start = ngx_current_msec;
    w->outstanding = 0;
    w->sha[0] = '\0';

    /* a non-blocking connect() of a numeric address or a unix socket */
    ac = rmcf->path ? redisAsyncConnectUnix(rmcf->path)
                    : redisAsyncConnect(rmcf->host, rmcf->port);

    if (ac == NULL || ac->err) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "llm_route_redis %V: connect failed: %s",
                      &rmcf->addr, ac ? ac->errstr : "out of memory");

        if (ac) {
            redisAsyncFree(ac);
        }

        goto failed;
    }

    /* no array longer than an answer can be: see llr_fleet_hiredis.h */
    llr_fleet_hiredis_limit(ac->c.reader);

    c = ngx_get_connection(ac->c.fd, w->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        goto failed;
    }

    c->data = w;
    c->read->handler = ngx_http_llm_route_redis_read_handler;
    c->write->handler = ngx_http_llm_route_redis_write_handler;
    c->read->log = w->log;
    c->write->log = w->log;

    ac->data = w;
    ac->ev.data = c;
    ac->ev.addRead = ngx_http_llm_route_redis_add_read;
    ac->ev.delRead = ngx_http_llm_route_redis_del_read;
    ac->ev.addWrite = ngx_http_llm_route_redis_add_write;
    ac->ev.delWrite = ngx_http_llm_route_redis_del_write;
    ac->ev.cleanup = ngx_http_llm_route_redis_cleanup;

    w->ac = ac;
    w->conn = c;

    redisAsyncSetConnectCallback(ac, ngx_http_llm_route_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac,
                                    ngx_http_llm_route_redis_on_disconnect);

    /*
     * the handshake, queued now: hiredis writes it when the socket is
     * connected (the first write event, which also reports the connect)
     */

    if (rmcf->password.len) {
        argv[0] = "AUTH";
        argv[1] = (const char *) rmcf->password.data;
        argvlen[0] = 4;
        argvlen[1] = rmcf->password.len;

        if (ngx_http_llm_route_redis_send(w,
                                          ngx_http_llm_route_redis_ok_reply,
                                          (void *) "AUTH", 2, argv, argvlen)
            != NGX_OK)
        {
            goto drop;
        }
    }

    if (rmcf->db) {
        argc = 2;
        argv[0] = "SELECT";
        argv[1] = db;
        argvlen[0] = 6;
        argvlen[1] = ngx_sprintf((u_char *) db, "%ui", rmcf->db)
                     - (u_char *) db;

        if (ngx_http_llm_route_redis_send(w,
                                          ngx_http_llm_route_redis_ok_reply,
                                          (void *) "SELECT", argc, argv,
                                          argvlen)
            != NGX_OK)
        {
            goto drop;
        }
    }

    {
        const char  *av[3] = { "SCRIPT", "LOAD", llr_fleet_script };
        size_t       al[3] = { 6, 4, 0 };

        al[2] = ngx_strlen(llr_fleet_script);

        if (ngx_http_llm_route_redis_send(w,
                                        ngx_http_llm_route_redis_script_reply,
                                        NULL, 3, av, al)
            != NGX_OK)
        {
            goto drop;
        }
    }

    return;

drop:

    ngx_http_llm_route_redis_drop(w, "cannot queue the handshake");
    return;

failed:

    (void) ngx_atomic_fetch_add(&w->sh->errors, 1);

    w->state = NGX_HTTP_LLM_ROUTE_REDIS_DOWN;
    w->failures++;
    w->retry_at = ngx_current_msec
                  + (ngx_msec_t) llr_fleet_backoff(w->failures,
                                    NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF,
                                    NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF_MAX,
                                    (uint32_t) ngx_random());
}


/* --- the sync ------------------------------------------------------------ */

static ngx_int_t
ngx_http_llm_route_redis_pid_gone(ngx_pid_t pid)
{
    return kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH;
}


/* claim the instance's sync: 1 if this worker may send a batch now */
static ngx_uint_t
ngx_http_llm_route_redis_claim(ngx_http_llm_route_redis_worker_t *w)
{
    ngx_msec_t                       now;
    ngx_atomic_uint_t                owner;
    ngx_http_llm_route_redis_shm_t  *sh;

    sh = w->sh;
    now = ngx_current_msec;

    if ((ngx_msec_int_t) (now - sh->sync_next) < 0) {
        return 0;
    }

    owner = sh->owner;

    if (owner && (ngx_pid_t) owner != ngx_pid) {
        /*
         * another worker's batch: wait for it, unless it died with it
         * (its ngx_current_msec may be a little ahead of ours: signed)
         */
        if ((ngx_msec_int_t) (now - sh->since)
               < (ngx_msec_int_t) (2 * w->rmcf->timeout + w->rmcf->sync)
            && !ngx_http_llm_route_redis_pid_gone((ngx_pid_t) owner))
        {
            return 0;
        }

        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "llm_route_redis: taking over the sync of worker %P",
                      (ngx_pid_t) owner);

    } else if (owner) {
        return 0;               /* ours is on the way */
    }

    if (!ngx_atomic_cmp_set(&sh->owner, owner, (ngx_atomic_uint_t) ngx_pid))
    {
        return 0;
    }

    sh->sync_next = now + w->rmcf->sync;
    sh->since = now;

    return 1;
}


static void
ngx_http_llm_route_redis_release(ngx_http_llm_route_redis_worker_t *w,
    ngx_uint_t attempt)
{
    if (w->sh->attempt == attempt) {
        (void) ngx_atomic_cmp_set(&w->sh->owner,
                                  (ngx_atomic_uint_t) ngx_pid, 0);
    }
}


static void
ngx_http_llm_route_redis_sync_reply(redisAsyncContext *ac, void *reply,
    void *data)
{
    ngx_http_llm_route_redis_sync_t *s = data;

    size_t                                 len;
    uint64_t                               now;
    ngx_uint_t                             i, mine;
    const char                            *err;
    llr_alloc_t                            alloc;
    llr_fleet_reply_t                     *fr;
    llr_fleet_rc_e                         rc;
    ngx_http_llm_route_redis_hook_t       *h;
    ngx_http_llm_route_redis_worker_t     *w;
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    w = ac->data;
    rmcf = w->rmcf;

    ngx_http_llm_route_redis_answered(w);

    mine = (ngx_pid_t) w->sh->owner == ngx_pid
           && w->sh->attempt == s->attempt;

    if (reply == NULL) {
        /* the connection went: the batch is resent by the next sync */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                       "llm_route redis: sync %ui lost", s->attempt);
        goto done;
    }

    ngx_http_llm_route_pool_alloc(s->pool, &alloc);
    fr = llr_fleet_from_hiredis(reply, &alloc, 0);

    err = "";
    len = 0;

    rc = llr_fleet_batch_reply(&s->batch, fr, &err, &len);

    if (rc == LLR_FLEET_NOSCRIPT && !s->eval && mine) {
        /* a restart or a failover lost the script: EVAL loads it */
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "llm_route_redis %V: the script is gone, EVAL",
                      &rmcf->addr);

        s->eval = 1;

        if (llr_fleet_batch_command(&s->batch, NULL) == 0
            && ngx_http_llm_route_redis_send(w,
                                        ngx_http_llm_route_redis_sync_reply,
                                        s, (int) s->batch.argc,
                                        s->batch.argv, s->batch.argvlen)
               == NGX_OK)
        {
            return;
        }
    }

    if (rc != LLR_FLEET_OK) {
        (void) ngx_atomic_fetch_add(&w->sh->errors, 1);

        if (rc == LLR_FLEET_EBAD) {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "llm_route_redis %V: sync: a malformed answer",
                          &rmcf->addr);

        } else {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "llm_route_redis %V: sync: \"%*s\"",
                          &rmcf->addr, len, err);
        }

        goto done;
    }

    if (!mine) {
        /* another worker took the sync over: its answer counts */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, w->log, 0,
                       "llm_route redis: sync %ui answered late",
                       s->attempt);
        goto done;
    }

    h = rmcf->hooks.elts;

    for (i = 0; i < rmcf->hooks.nelts; i++) {
        if (h[i].done) {
            h[i].done(h[i].data, &s->batch, s->batch.entries + s->first[i],
                      s->n[i]);
        }
    }

    llr_fleet_batch_done(&s->batch, &w->sh->seq, 1);

    now = ngx_http_llm_route_redis_now();

    w->sh->last_sync = now;
    w->sh->last_mono = ngx_current_msec;
    w->sh->lag_ms = ngx_current_msec - s->sent;
    (void) ngx_atomic_fetch_add(&w->sh->syncs, 1);

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "llm_route redis: sync %ui answered in %M ms, "
                   "seq %uL applied %ui, %uz entries",
                   s->attempt, w->sh->lag_ms, s->batch.seq,
                   (ngx_uint_t) s->batch.applied, s->batch.nentries);

done:

    if (mine) {
        ngx_http_llm_route_redis_release(w, s->attempt);
    }

    ngx_destroy_pool(s->pool);
}


static void
ngx_http_llm_route_redis_sync(ngx_http_llm_route_redis_worker_t *w)
{
    char                                   id[LLR_FLEET_INSTANCE_LEN + 1];
    uint64_t                               now;
    ngx_uint_t                             i;
    ngx_pool_t                            *pool;
    llr_alloc_t                            alloc;
    ngx_http_llm_route_redis_shm_t        *sh;
    ngx_http_llm_route_redis_hook_t       *h;
    ngx_http_llm_route_redis_sync_t       *s;
    ngx_http_llm_route_redis_main_conf_t  *rmcf;

    if (w->state != NGX_HTTP_LLM_ROUTE_REDIS_READY
        || ngx_http_llm_route_redis_stopping())
    {
        return;
    }

    rmcf = w->rmcf;
    sh = w->sh;
    now = ngx_http_llm_route_redis_now();

    if (!ngx_http_llm_route_redis_claim(w)) {
        return;
    }

    sh->attempt = ngx_atomic_fetch_add(&sh->attempts, 1) + 1;

    pool = ngx_create_pool(8192, w->log);
    if (pool == NULL) {
        goto failed;
    }

    s = ngx_pcalloc(pool, sizeof(ngx_http_llm_route_redis_sync_t));
    if (s == NULL) {
        goto failed;
    }

    s->pool = pool;
    s->attempt = sh->attempt;
    s->sent = ngx_current_msec;

    s->first = ngx_pcalloc(pool, (rmcf->hooks.nelts + 1) * sizeof(size_t));
    s->n = ngx_pcalloc(pool, (rmcf->hooks.nelts + 1) * sizeof(size_t));
    if (s->first == NULL || s->n == NULL) {
        goto failed;
    }

    ngx_http_llm_route_pool_alloc(pool, &alloc);

    llr_fleet_instance(id, sh->instance);

    /*
     * reservations count three sync periods (and timeouts) after they
     * were last refreshed: an instance gone stops holding the budget
     */
    if (llr_fleet_batch_init(&s->batch, &alloc, (char *) rmcf->prefix.data,
                             rmcf->prefix.len, id, &sh->seq, (int64_t) now,
                             (int64_t) ngx_max(1000, 3 * (rmcf->sync
                                                        + rmcf->timeout)),
                             NGX_HTTP_LLM_ROUTE_REDIS_ENTRIES)
        != 0)
    {
        goto failed;
    }

    h = rmcf->hooks.elts;

    for (i = 0; i < rmcf->hooks.nelts; i++) {
        s->first[i] = s->batch.nentries;

        if (h[i].build && h[i].build(h[i].data, &s->batch) != NGX_OK) {
            goto failed;
        }

        s->n[i] = s->batch.nentries - s->first[i];
    }

    if (llr_fleet_batch_command(&s->batch, w->sha[0] ? w->sha : NULL) != 0) {
        goto failed;
    }

    /* from now on the batch is resent as it is until it is answered */
    llr_fleet_batch_done(&s->batch, &sh->seq, 0);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "llm_route redis: sync %ui, seq %uL%s, %uz entries",
                   s->attempt, s->batch.seq,
                   s->batch.deltas ? "" : " (no deltas)",
                   s->batch.nentries);

    if (ngx_http_llm_route_redis_send(w, ngx_http_llm_route_redis_sync_reply,
                                      s, (int) s->batch.argc,
                                      s->batch.argv, s->batch.argvlen)
        != NGX_OK)
    {
        goto failed;
    }

    return;

failed:

    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "llm_route_redis %V: cannot send a sync", &rmcf->addr);

    (void) ngx_atomic_fetch_add(&sh->errors, 1);
    ngx_http_llm_route_redis_release(w, sh->attempt);

    if (pool) {
        ngx_destroy_pool(pool);
    }
}


static uint64_t
ngx_http_llm_route_redis_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


/* --- the adapter --------------------------------------------------------- */

/*
 * interest in an event on, or off: level-triggered, an error is logged by
 * the event module (the command timeout then drops the connection)
 */
static void
ngx_http_llm_route_redis_interest(ngx_event_t *ev, ngx_int_t event,
    ngx_uint_t on)
{
    if (on && !ev->active) {
        (void) ngx_add_event(ev, event, NGX_LEVEL_EVENT);

    } else if (!on && ev->active) {
        (void) ngx_del_event(ev, event, 0);
    }
}


static void
ngx_http_llm_route_redis_add_read(void *data)
{
    ngx_connection_t *c = data;

    ngx_http_llm_route_redis_interest(c->read, NGX_READ_EVENT, 1);
}


static void
ngx_http_llm_route_redis_del_read(void *data)
{
    ngx_connection_t *c = data;

    ngx_http_llm_route_redis_interest(c->read, NGX_READ_EVENT, 0);
}


static void
ngx_http_llm_route_redis_add_write(void *data)
{
    ngx_connection_t *c = data;

    ngx_http_llm_route_redis_interest(c->write, NGX_WRITE_EVENT, 1);
}


static void
ngx_http_llm_route_redis_del_write(void *data)
{
    ngx_connection_t *c = data;

    ngx_http_llm_route_redis_interest(c->write, NGX_WRITE_EVENT, 0);
}


/*
 * hiredis frees the context (an error, a close, redisAsyncFree()): the
 * socket is closed by hiredis right after this, so the events are only
 * marked inactive (NGX_CLOSE_EVENT), and the connection goes back to
 * nginx without closing its fd.  Events of this socket still in this
 * loop's list are stale then (fd -1).
 */
static void
ngx_http_llm_route_redis_cleanup(void *data)
{
    ngx_connection_t *c = data;

    ngx_http_llm_route_redis_worker_t *w = c->data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;
    c->fd = (ngx_socket_t) -1;

    ngx_free_connection(c);

    w->ac = NULL;
    w->conn = NULL;
    w->state = NGX_HTTP_LLM_ROUTE_REDIS_DOWN;
    w->outstanding = 0;

    if (ngx_http_llm_route_redis_stopping()) {
        return;
    }

    (void) ngx_atomic_fetch_add(&w->sh->errors, 1);

    w->failures++;
    w->retry_at = ngx_current_msec
                  + (ngx_msec_t) llr_fleet_backoff(w->failures,
                                    NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF,
                                    NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF_MAX,
                                    (uint32_t) ngx_random());

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, w->log, 0,
                   "llm_route redis: closed, failures %ui, retry in %M ms",
                   w->failures, w->retry_at - ngx_current_msec);

    ngx_http_llm_route_redis_arm(w);
}


static void
ngx_http_llm_route_redis_read_handler(ngx_event_t *ev)
{
    ngx_connection_t *c = ev->data;

    ngx_http_llm_route_redis_worker_t *w = c->data;

    /* the connection may be freed inside: nothing is touched after */
    redisAsyncHandleRead(w->ac);
}


static void
ngx_http_llm_route_redis_write_handler(ngx_event_t *ev)
{
    ngx_connection_t *c = ev->data;

    ngx_http_llm_route_redis_worker_t *w = c->data;

    redisAsyncHandleWrite(w->ac);
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
