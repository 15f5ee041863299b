/*
 * ngx_llm_route_module: the fleet's Redis connection of a worker.
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
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_redis_conn.h"
#include "ngx_http_llm_route_conf.h"
#include "llr_fleet_hiredis.h"


static void ngx_http_llm_route_redis_connect(
    ngx_http_llm_route_redis_worker_t *w);
static void ngx_http_llm_route_redis_arm(
    ngx_http_llm_route_redis_worker_t *w);
static void ngx_http_llm_route_redis_tick(ngx_event_t *ev);
static void ngx_http_llm_route_redis_drop(
    ngx_http_llm_route_redis_worker_t *w, const char *why);
static void ngx_http_llm_route_redis_failed(
    ngx_http_llm_route_redis_worker_t *w);

/* the adapter */
static void ngx_http_llm_route_redis_add_read(void *data);
static void ngx_http_llm_route_redis_del_read(void *data);
static void ngx_http_llm_route_redis_add_write(void *data);
static void ngx_http_llm_route_redis_del_write(void *data);
static void ngx_http_llm_route_redis_cleanup(void *data);
static void ngx_http_llm_route_redis_read_handler(ngx_event_t *ev);
static void ngx_http_llm_route_redis_write_handler(ngx_event_t *ev);


/* --- the worker's connection -------------------------------------------- */

void
ngx_http_llm_route_redis_conn_init(ngx_http_llm_route_redis_worker_t *w,
    ngx_cycle_t *cycle)
{
    w->state = NGX_HTTP_LLM_ROUTE_REDIS_DOWN;

    w->timer.handler = ngx_http_llm_route_redis_tick;
    w->timer.data = w;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;   /* a worker shutting down does not wait */

    /* connect at once */
    w->retry_at = ngx_current_msec;
    ngx_http_llm_route_redis_arm(w);
}


void
ngx_http_llm_route_redis_conn_close(ngx_http_llm_route_redis_worker_t *w)
{
    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (w->ac) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, w->log, 0,
                       "llm_route redis: closing on exit");

        /* its callbacks get NULL replies; the socket is closed */
        redisAsyncFree(w->ac);
    }
}


ngx_uint_t
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
            w->ready(w);
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


ngx_int_t
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


void
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
    w->ready(w);
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

    ngx_http_llm_route_redis_failed(w);
}

/* a connection failed, or went: the next attempt after a backoff */
static void
ngx_http_llm_route_redis_failed(ngx_http_llm_route_redis_worker_t *w)
{
    (void) ngx_atomic_fetch_add(&w->sh->errors, 1);

    w->state = NGX_HTTP_LLM_ROUTE_REDIS_DOWN;
    w->failures++;
    w->retry_at = ngx_current_msec
                  + (ngx_msec_t) llr_fleet_backoff(w->failures,
                                    NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF,
                                    NGX_HTTP_LLM_ROUTE_REDIS_BACKOFF_MAX,
                                    (uint32_t) ngx_random());
}


uint64_t
ngx_http_llm_route_redis_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


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

    ngx_http_llm_route_redis_failed(w);

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
