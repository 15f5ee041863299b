
/*
 * ngx_llm_route_module: the state file.
 *
 *     llm_route_zone NAME:SIZE state=PATH [state_interval=TIME];
 *
 * Workers write the counters (totals and every slot, by kind and name;
 * not the recent ring) and the budgets' spend (limits_shm.c) to
 * PATH.tmp, fsync it and rename it over PATH every state_interval
 * (default 10s) and when they exit.  One worker at a time: a pid lock in
 * the zone, taken with compare-and-set and taken over when its holder is
 * gone, so a killed writer cannot block the others.  The file is small
 * (a few hundred bytes per slot) and written synchronously.  A freshly
 * created zone (first start, restart, or a new size on reload) loads the
 * file; a missing file is a notice, a bad one an error, neither is
 * fatal.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_state.h"
#include "ngx_http_llm_route_limits_shm.h"
#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_drift.h"
#include "ngx_http_llm_route_feedback.h"


#define NGX_HTTP_LLM_ROUTE_STATE_MAGIC   "LLRSTATE"
/*
 * 2: a limits section (budgets) follows the slots; 3: more counters per
 * record (zone version 8: time per output token, failovers, cooldowns);
 * 4: one more (zone version 9: cache write tokens), then the quality
 * counters (answers, signals, feedback), and the experiments' arms,
 * the drift series and the feedback ring's decisions between the slots
 * and the limits.  1, 2 and 3 are still read, into the counters they
 * have.
 */
#define NGX_HTTP_LLM_ROUTE_STATE_VERSION 4
#define NGX_HTTP_LLM_ROUTE_STATE_MAX     (64 * 1024 * 1024)

#define NGX_HTTP_LLM_ROUTE_NCOUNTERS                                          \
    (sizeof(ngx_http_llm_route_counters_t) / sizeof(ngx_atomic_t))

/* the counters of a version 1 or 2 file: the first ones */
#define NGX_HTTP_LLM_ROUTE_NCOUNTERS_V2                                       \
    (offsetof(ngx_http_llm_route_counters_t, tpot) / sizeof(ngx_atomic_t))

/* ... of a version 3 file */
#define NGX_HTTP_LLM_ROUTE_NCOUNTERS_V3                                       \
    (offsetof(ngx_http_llm_route_counters_t, cache_write_tokens)              \
     / sizeof(ngx_atomic_t))


/* the state file: a header, the totals, then one record per slot */

typedef struct {
    u_char                   magic[8];
    uint32_t                 version;
    uint32_t                 ncounters;   /* 64-bit counters per record */
    uint32_t                 nrecords;
    uint32_t                 name_len;    /* NGX_HTTP_LLM_ROUTE_NAME_LEN */
    uint64_t                 started;
    uint64_t                 written;
    uint64_t                 checksum;    /* FNV-1a 64 of what follows */
} ngx_http_llm_route_state_header_t;

typedef struct {
    uint32_t                 kind;
    uint32_t                 name_len;
    u_char                   name[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    uint64_t                 failures;
    /* uint64_t              counters[ncounters]; */
} ngx_http_llm_route_state_record_t;

#define NGX_HTTP_LLM_ROUTE_STATE_RECORD(ncounters)                            \
    (sizeof(ngx_http_llm_route_state_record_t)                                \
     + (ncounters) * sizeof(uint64_t))


/* a worker's writer */
typedef struct {
    ngx_http_llm_route_main_conf_t  *mcf;
    ngx_http_llm_route_shm_t        *sh;
    ngx_str_t                        tmp;     /* PATH.tmp */
    ngx_event_t                      timer;
    ngx_msec_t                       interval;
    time_t                           logged;  /* last error logged */
    unsigned                         start:1; /* the write at start */
} ngx_http_llm_route_state_ctx_t;


static ngx_int_t ngx_http_llm_route_state_read(ngx_shm_zone_t *shm_zone,
    ngx_str_t *path, ngx_str_t *data);
static void ngx_http_llm_route_state_parse(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_str_t *path, u_char *buf, size_t size);
static ngx_uint_t ngx_http_llm_route_state_slot(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, u_char *p, ngx_uint_t ncounters);
static void ngx_http_llm_route_state_invalid(ngx_shm_zone_t *shm_zone,
    ngx_str_t *path);
static ngx_int_t ngx_http_llm_route_state_lock(ngx_http_llm_route_shm_t *sh);
static void ngx_http_llm_route_state_unlock(ngx_http_llm_route_shm_t *sh);
static ngx_int_t ngx_http_llm_route_state_write(
    ngx_http_llm_route_state_ctx_t *ctx, ngx_log_t *log);
static u_char *ngx_http_llm_route_state_image(
    ngx_http_llm_route_state_ctx_t *ctx, ngx_log_t *log, size_t *size);
static ngx_int_t ngx_http_llm_route_state_save(
    ngx_http_llm_route_state_ctx_t *ctx, ngx_log_t *log, u_char *buf,
    size_t size);
static void ngx_http_llm_route_state_timer(ngx_event_t *ev);


/* one per process: the state writer of the current configuration */
static ngx_http_llm_route_state_ctx_t  *ngx_http_llm_route_state_ctx;


/* ---- loading: the master, at zone creation ------------------------------ */


void
ngx_http_llm_route_state_load(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_str_t *path)
{
    ngx_str_t  data;

    if (ngx_http_llm_route_state_read(shm_zone, path, &data) != NGX_OK) {
        return;
    }

    ngx_http_llm_route_state_parse(shm_zone, sh, path, data.data, data.len);

    ngx_free(data.data);
}


/* the file, whole; NGX_DECLINED (logged) if there is none to load */

static ngx_int_t
ngx_http_llm_route_state_read(ngx_shm_zone_t *shm_zone, ngx_str_t *path,
    ngx_str_t *data)
{
    ngx_int_t         rc;
    ngx_err_t         err;
    ngx_log_t        *log;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    log = shm_zone->shm.log;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *path;
    file.log = log;

    /*
     * non-blocking: a FIFO (or a device) at the path would otherwise
     * block the master here, before any worker starts
     */

    file.fd = ngx_open_file(path->data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                            NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "llm_route: llm_route_zone \"%V\": no state file "
                          "\"%V\" yet, counters start at zero",
                          &shm_zone->shm.name, path);
        } else {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "llm_route: llm_route_zone \"%V\": cannot open state "
                          "file \"%V\", counters start at zero",
                          &shm_zone->shm.name, path);
        }

        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "llm_route: llm_route_zone \"%V\": cannot stat state "
                      "file \"%V\"",
                      &shm_zone->shm.name, path);

    } else if (!ngx_is_file(&fi)) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "llm_route: llm_route_zone \"%V\": state file \"%V\" is "
                      "not a regular file, ignored: counters start at zero",
                      &shm_zone->shm.name, path);

    } else if (ngx_file_size(&fi)
               < (off_t) sizeof(ngx_http_llm_route_state_header_t))
    {
        ngx_http_llm_route_state_invalid(shm_zone, path);

    } else {
        rc = ngx_http_llm_route_read_file(&file, NGX_HTTP_LLM_ROUTE_STATE_MAX,
                                          NULL, data);
        err = ngx_errno;

        if (rc == NGX_DECLINED) {
            ngx_http_llm_route_state_invalid(shm_zone, path);

        } else if (rc != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, log, err,
                          "llm_route: llm_route_zone \"%V\": cannot read state "
                          "file \"%V\"", &shm_zone->shm.name, path);
            rc = NGX_DECLINED;
        }
    }

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }

    return rc;
}


static void
ngx_http_llm_route_state_parse(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_str_t *path, u_char *buf, size_t size)
{
    u_char                             *p;
    size_t                              rec_size, base;
    uint64_t                            v;
    ssize_t                             section;
    ngx_int_t                           budgets;
    ngx_log_t                          *log;
    ngx_uint_t                          i, k, loaded, ncounters;
    ngx_atomic_t                       *c;
    ngx_http_llm_route_state_header_t   h;

    static ssize_t (*loads[])(ngx_http_llm_route_shm_t *sh, u_char *p,
                              size_t size) =
    {
        ngx_http_llm_route_experiment_load,
        ngx_http_llm_route_drift_load,
        ngx_http_llm_route_feedback_load
    };

    log = shm_zone->shm.log;

    ngx_memcpy(&h, buf, sizeof(h));

    ncounters = (h.version == NGX_HTTP_LLM_ROUTE_STATE_VERSION)
                ? NGX_HTTP_LLM_ROUTE_NCOUNTERS
                : (h.version == 3) ? NGX_HTTP_LLM_ROUTE_NCOUNTERS_V3
                                   : NGX_HTTP_LLM_ROUTE_NCOUNTERS_V2;

    rec_size = NGX_HTTP_LLM_ROUTE_STATE_RECORD(ncounters);

    base = sizeof(h) + ncounters * sizeof(uint64_t)
           + (size_t) h.nrecords * rec_size;

    if (ngx_memcmp(h.magic, NGX_HTTP_LLM_ROUTE_STATE_MAGIC, 8) != 0
        || h.version < 1 || h.version > NGX_HTTP_LLM_ROUTE_STATE_VERSION
        || h.ncounters != ncounters
        || h.name_len != NGX_HTTP_LLM_ROUTE_NAME_LEN
        || h.nrecords > NGX_HTTP_LLM_ROUTE_STATE_MAX / rec_size
        || (h.version == 1 && size != base)
        || (h.version != 1 && size < base + sizeof(uint64_t))
        || llr_fnv1a64(LLR_FNV1A64_INIT, buf + sizeof(h), size - sizeof(h))
           != h.checksum)
    {
        ngx_http_llm_route_state_invalid(shm_zone, path);
        return;
    }

    /* the totals */

    p = buf + sizeof(h);
    c = (ngx_atomic_t *) &sh->totals;

    for (k = 0; k < ncounters; k++) {
        ngx_memcpy(&v, p + k * sizeof(uint64_t), sizeof(uint64_t));
        c[k] = (ngx_atomic_uint_t) v;
    }

    p += ncounters * sizeof(uint64_t);

    loaded = 0;

    for (i = 0; i < h.nrecords; i++, p += rec_size) {
        loaded += ngx_http_llm_route_state_slot(shm_zone, sh, p, ncounters);
    }

    if (h.version < NGX_HTTP_LLM_ROUTE_STATE_VERSION) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "llm_route: llm_route_zone \"%V\": state file \"%V\" is "
                      "of version %uD: the counters it has are loaded, the "
                      "newer ones start at zero",
                      &shm_zone->shm.name, path, h.version);
    }

    /* budgets (limits_shm.c); a version 1 file has none */

    budgets = 0;

    if (h.version == 1) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "llm_route: llm_route_zone \"%V\": state file \"%V\" is "
                      "of version 1: counters loaded, it has no budgets",
                      &shm_zone->shm.name, path);

    } else {
        /* the arms, the drift series, the decisions (after the arms) */

        for (k = 0; h.version >= 4 && k < 3; k++) {
            section = loads[k](sh, buf + base, size - base);

            if (section == NGX_ERROR) {
                ngx_http_llm_route_state_invalid(shm_zone, path);
                return;
            }

            base += (size_t) section;
        }

        budgets = ngx_http_llm_route_limits_load(shm_zone, sh, buf + base,
                                                 size - base);
        if (budgets == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "llm_route: llm_route_zone \"%V\": the budgets of "
                          "state file \"%V\" are malformed, ignored",
                          &shm_zone->shm.name, path);
            budgets = 0;
        }
    }

    if (h.started && (time_t) h.started <= ngx_time()) {
        sh->started = (time_t) h.started;
    }

    sh->loaded = ngx_time();

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "llm_route: llm_route_zone \"%V\": state file \"%V\" loaded: "
                  "%uA requests, %ui records, %i budgets%s",
                  &shm_zone->shm.name, path, sh->totals.requests, loaded,
                  budgets, loaded < h.nrecords ? " (some dropped: no room)"
                                               : "");
}


/*
 * One record into its slot, a new one for a name not configured now
 * (kept, in case it comes back): 1, or 0 if it was dropped
 */

static ngx_uint_t
ngx_http_llm_route_state_slot(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, u_char *p, ngx_uint_t ncounters)
{
    uint64_t                            v;
    ngx_int_t                           slot;
    ngx_str_t                           name;
    ngx_uint_t                          k;
    ngx_atomic_t                       *c;
    ngx_http_llm_route_slot_t          *s;
    ngx_http_llm_route_state_record_t   r;

    ngx_memcpy(&r, p, sizeof(r));

    if (r.kind < NGX_HTTP_LLM_ROUTE_SLOT_MODEL
        || r.kind > NGX_HTTP_LLM_ROUTE_SLOT_PAIR
        || r.name_len == 0 || r.name_len >= NGX_HTTP_LLM_ROUTE_NAME_LEN)
    {
        return 0;
    }

    name.data = r.name;
    name.len = r.name_len;

    slot = ngx_http_llm_route_find_slot(sh, r.kind, name.data, name.len);

    if (slot == NGX_DECLINED) {
        if (sh->nused >= sh->nslots) {
            return 0;
        }

        slot = ngx_http_llm_route_get_slot(shm_zone, sh, r.kind, &name);
        if (slot == NGX_ERROR) {
            return 0;
        }
    }

    s = &sh->slots[slot];
    s->failures = (ngx_atomic_uint_t) r.failures;

    c = (ngx_atomic_t *) &s->c;

    for (k = 0; k < ncounters; k++) {
        ngx_memcpy(&v, p + sizeof(r) + k * sizeof(uint64_t),
                   sizeof(uint64_t));
        c[k] = (ngx_atomic_uint_t) v;
    }

    return 1;
}


static void
ngx_http_llm_route_state_invalid(ngx_shm_zone_t *shm_zone, ngx_str_t *path)
{
    ngx_log_error(NGX_LOG_ERR, shm_zone->shm.log, 0,
                  "llm_route: llm_route_zone \"%V\": state file \"%V\" is "
                  "corrupt or of another version, ignored: counters start at "
                  "zero",
                  &shm_zone->shm.name, path);
}


/* ---- writing: the workers ----------------------------------------------- */


static ngx_int_t
ngx_http_llm_route_state_lock(ngx_http_llm_route_shm_t *sh)
{
    ngx_atomic_uint_t  holder;

    holder = sh->state_lock;

    if (holder == 0) {
        if (!ngx_atomic_cmp_set(&sh->state_lock, 0, ngx_pid)) {
            return NGX_BUSY;
        }

    } else if (ngx_http_llm_route_pid_gone((ngx_pid_t) holder)
               || ngx_time() - (time_t) sh->state_lock_time > 60)
    {
        /* the holder was killed while writing (or is stuck) */

        if (!ngx_atomic_cmp_set(&sh->state_lock, holder, ngx_pid)) {
            return NGX_BUSY;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "llm_route: state lock of process %P taken over: "
                       "gone or stuck", (ngx_pid_t) holder);

    } else {
        return NGX_BUSY;
    }

    sh->state_lock_time = ngx_time();

    return NGX_OK;
}


static void
ngx_http_llm_route_state_unlock(ngx_http_llm_route_shm_t *sh)
{
    (void) ngx_atomic_cmp_set(&sh->state_lock, ngx_pid, 0);
}


/* with the state lock held */

static ngx_int_t
ngx_http_llm_route_state_write(ngx_http_llm_route_state_ctx_t *ctx,
    ngx_log_t *log)
{
    u_char     *buf;
    size_t      size;
    ngx_int_t   rc;

    buf = ngx_http_llm_route_state_image(ctx, log, &size);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_llm_route_state_save(ctx, log, buf, size);

    ngx_free(buf);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, log, 0,
                   "llm_route: state file \"%V\" written, %uz bytes: %i",
                   &ctx->mcf->state_path, size, rc);

    return rc;
}


/* the file's bytes: the header, the totals, the slots, the budgets */

static u_char *
ngx_http_llm_route_state_image(ngx_http_llm_route_state_ctx_t *ctx,
    ngx_log_t *log, size_t *size)
{
    u_char                             *buf, *p, *lbuf, *abuf, *dbuf, *fbuf;
    size_t                              lsize, asize, dsize, fsize;
    uint64_t                            v;
    ngx_uint_t                          i, k, nused;
    ngx_atomic_t                       *c;
    ngx_http_llm_route_shm_t           *sh;
    ngx_http_llm_route_slot_t          *s;
    ngx_http_llm_route_state_header_t   h;
    ngx_http_llm_route_state_record_t   r;

    sh = ctx->sh;

    nused = sh->nused;
    ngx_memory_barrier();

    lbuf = ngx_http_llm_route_limits_state(ctx->mcf->shm_zone, sh, log,
                                           &lsize);
    if (lbuf == NULL) {
        return NULL;
    }

    abuf = ngx_http_llm_route_experiment_state(sh, log, &asize);
    dbuf = ngx_http_llm_route_drift_state(sh, log, &dsize);
    fbuf = ngx_http_llm_route_feedback_state(ctx->mcf->shm_zone, sh, log,
                                             &fsize);

    *size = sizeof(h) + NGX_HTTP_LLM_ROUTE_NCOUNTERS * sizeof(uint64_t)
            + nused * NGX_HTTP_LLM_ROUTE_STATE_RECORD(
                          NGX_HTTP_LLM_ROUTE_NCOUNTERS)
            + asize + dsize + fsize + lsize;

    buf = (abuf && dbuf && fbuf) ? ngx_alloc(*size, log) : NULL;

    if (buf == NULL) {
        ngx_free(lbuf);
        if (abuf) {
            ngx_free(abuf);
        }
        if (dbuf) {
            ngx_free(dbuf);
        }
        if (fbuf) {
            ngx_free(fbuf);
        }
        return NULL;
    }

    p = buf + sizeof(h);
    c = (ngx_atomic_t *) &sh->totals;

    for (k = 0; k < NGX_HTTP_LLM_ROUTE_NCOUNTERS; k++) {
        v = c[k];
        p = ngx_cpymem(p, &v, sizeof(uint64_t));
    }

    for (i = 0; i < nused; i++) {
        s = &sh->slots[i];

        ngx_memzero(&r, sizeof(r));
        r.kind = (uint32_t) s->kind;
        r.name_len = (uint32_t) s->name_len;
        ngx_memcpy(r.name, s->name, NGX_HTTP_LLM_ROUTE_NAME_LEN);
        r.failures = s->failures;

        p = ngx_cpymem(p, &r, sizeof(r));

        c = (ngx_atomic_t *) &s->c;

        for (k = 0; k < NGX_HTTP_LLM_ROUTE_NCOUNTERS; k++) {
            v = c[k];
            p = ngx_cpymem(p, &v, sizeof(uint64_t));
        }
    }

    p = ngx_cpymem(p, abuf, asize);
    ngx_free(abuf);
    p = ngx_cpymem(p, dbuf, dsize);
    ngx_free(dbuf);
    p = ngx_cpymem(p, fbuf, fsize);
    ngx_free(fbuf);

    ngx_memcpy(p, lbuf, lsize);
    ngx_free(lbuf);

    ngx_memzero(&h, sizeof(h));
    ngx_memcpy(h.magic, NGX_HTTP_LLM_ROUTE_STATE_MAGIC, 8);
    h.version = NGX_HTTP_LLM_ROUTE_STATE_VERSION;
    h.ncounters = NGX_HTTP_LLM_ROUTE_NCOUNTERS;
    h.nrecords = (uint32_t) nused;
    h.name_len = NGX_HTTP_LLM_ROUTE_NAME_LEN;
    h.started = (uint64_t) sh->started;
    h.written = (uint64_t) ngx_time();
    h.checksum = llr_fnv1a64(LLR_FNV1A64_INIT, buf + sizeof(h),
                             *size - sizeof(h));

    ngx_memcpy(buf, &h, sizeof(h));

    return buf;
}


/*
 * Into PATH.tmp, then renamed over PATH.  A new file, never one already
 * there: whatever is at PATH.tmp (a FIFO would block the worker, a
 * symbolic link would be followed) is removed first, and O_EXCL refuses
 * what could not be.
 */

static ngx_int_t
ngx_http_llm_route_state_save(ngx_http_llm_route_state_ctx_t *ctx,
    ngx_log_t *log, u_char *buf, size_t size)
{
    u_char       *p;
    ssize_t       n;
    ngx_fd_t      fd;
    ngx_err_t     err;
    const char   *what;

    (void) ngx_delete_file(ctx->tmp.data);

    fd = ngx_open_file(ctx->tmp.data, NGX_FILE_WRONLY,
                       NGX_FILE_CREATE_OR_OPEN|O_EXCL,
                       NGX_FILE_DEFAULT_ACCESS);

    if (fd == NGX_INVALID_FILE) {
        what = "open";
        goto failed;
    }

    for (p = buf; p < buf + size; p += n) {
        n = ngx_write_fd(fd, p, buf + size - p);

        if (n <= 0) {
            if (n < 0 && ngx_errno == NGX_EINTR) {
                n = 0;
                continue;
            }

            what = "write";
            goto failed_close;
        }
    }

    /* nginx has no wrapper of fsync(): its files are not made to last */

    if (fsync(fd) == -1) {
        what = "fsync";
        goto failed_close;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        what = "close";
        goto failed;
    }

    if (ngx_rename_file(ctx->tmp.data, ctx->mcf->state_path.data)
        == NGX_FILE_ERROR)
    {
        what = "rename";
        goto failed;
    }

    ctx->sh->state_last = ngx_time();
    ngx_http_llm_route_counter_add(&ctx->sh->state_writes, 1);

    return NGX_OK;

failed_close:

    err = ngx_errno;
    (void) ngx_close_file(fd);
    ngx_set_errno(err);

failed:

    err = ngx_errno;

    ngx_http_llm_route_counter_add(&ctx->sh->state_errors, 1);

    if (ctx->start) {
        ngx_log_error(NGX_LOG_WARN, log, err,
                      "llm_route: llm_route_zone \"%V\": the worker processes "
                      "cannot %s state file \"%V\", the counters and budgets "
                      "will not survive a restart: give state= a directory the "
                      "workers' user can write",
                      &ctx->mcf->shm_zone->shm.name, what, &ctx->tmp);

        ctx->logged = ngx_time();

    } else if (ngx_time() - ctx->logged >= 60 || ngx_exiting || ngx_terminate)
    {
        /* at most one message a minute per process */

        ctx->logged = ngx_time();

        ngx_log_error(NGX_LOG_ERR, log, err,
                      "llm_route: llm_route_zone \"%V\": cannot %s state file "
                      "\"%V\"",
                      &ctx->mcf->shm_zone->shm.name, what, &ctx->tmp);
    }

    (void) ngx_delete_file(ctx->tmp.data);

    return NGX_ERROR;
}


static void
ngx_http_llm_route_state_timer(ngx_event_t *ev)
{
    uint64_t                         now, next;
    ngx_http_llm_route_shm_t        *sh;
    ngx_http_llm_route_state_ctx_t  *ctx;

    ctx = ev->data;
    sh = ctx->sh;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* the exit hook writes the last state */
        return;
    }

    now = ngx_http_llm_route_now_ms();
    next = sh->state_next;

    if (next > now + ctx->interval
        && ngx_atomic_cmp_set(&sh->state_next, next, now))
    {
        /* a reload shortened the interval: the next write is due now */
        next = now;
    }

    /* one write per interval, whichever worker comes first */

    if (now >= next
        && ngx_atomic_cmp_set(&sh->state_next, next,
                              now + ctx->interval - ctx->interval / 10)
        && ngx_http_llm_route_state_lock(sh) == NGX_OK)
    {
        (void) ngx_http_llm_route_state_write(ctx, ev->log);
        ngx_http_llm_route_state_unlock(sh);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "llm_route: state file not written by this worker: "
                       "due in %L ms or another one writes",
                       (int64_t) (next - now));
    }

    ngx_add_timer(ev, ctx->interval);
}


ngx_int_t
ngx_http_llm_route_state_init_process(ngx_cycle_t *cycle)
{
    ngx_http_llm_route_state_ctx_t  *ctx;
    ngx_http_llm_route_main_conf_t  *mcf;

    ngx_http_llm_route_state_ctx = NULL;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_llm_route_module);

    if (mcf == NULL || mcf->shm_zone == NULL) {
        return NGX_OK;
    }

    if (mcf->state_path.len == 0) {
        return NGX_OK;
    }

    ctx = ngx_pcalloc(cycle->pool, sizeof(ngx_http_llm_route_state_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->mcf = mcf;
    ctx->sh = mcf->shm_zone->data;
    ctx->interval = mcf->state_interval ? mcf->state_interval : 10000;

    ctx->tmp.len = mcf->state_path.len + sizeof(".tmp") - 1;
    ctx->tmp.data = ngx_pnalloc(cycle->pool, ctx->tmp.len + 1);
    if (ctx->tmp.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->tmp.data, "%V.tmp%Z", &mcf->state_path);

    ctx->timer.handler = ngx_http_llm_route_state_timer;
    ctx->timer.data = ctx;
    ctx->timer.log = cycle->log;
    ctx->timer.cancelable = 1;

    ngx_add_timer(&ctx->timer, ctx->interval);

    ngx_http_llm_route_state_ctx = ctx;

    /*
     * one worker writes the state at once: a directory the workers
     * cannot write (the master could read it) is a warning now, not
     * a count of errors nobody looks at
     */

    if ((ngx_process == NGX_PROCESS_SINGLE || ngx_worker == 0)
        && ngx_http_llm_route_state_lock(ctx->sh) == NGX_OK)
    {
        ctx->start = 1;
        (void) ngx_http_llm_route_state_write(ctx, cycle->log);
        ctx->start = 0;

        ngx_http_llm_route_state_unlock(ctx->sh);
    }

    return NGX_OK;
}


void
ngx_http_llm_route_state_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_http_llm_route_state_ctx_t  *ctx;

    ctx = ngx_http_llm_route_state_ctx;

    if (ctx == NULL) {
        return;
    }

    ngx_http_llm_route_state_ctx = NULL;

    /*
     * every exiting worker writes: the last one to exit writes last,
     * with everything counted; wait up to 2s for a writer in progress
     */

    for (i = 0; i < 200; i++) {
        if (ngx_http_llm_route_state_lock(ctx->sh) == NGX_OK) {
            (void) ngx_http_llm_route_state_write(ctx, cycle->log);
            ngx_http_llm_route_state_unlock(ctx->sh);
            return;
        }

        ngx_msleep(10);
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "llm_route: llm_route_zone \"%V\": state file \"%V\" not "
                  "written at exit: another worker kept it busy",
                  &ctx->mcf->shm_zone->shm.name, &ctx->mcf->state_path);
}
