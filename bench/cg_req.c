/*
 * bench/cg_req.c: the module's own work on a request body, for
 * callgrind (bench/callgrind.sh) and wall time.
 *
 *   cg_req MODE FILE N
 *
 * MODE: "rewrite"   scan + rewrite (what an explicit model costs),
 *       "route"     scan + rewrite + classifier sink + classify
 *                   (what "auto" costs),
 *       "classify"  scan + classify, no output (llm-route-classify).
 * Each of the N requests is one call of bench_req() (callgrind toggles
 * on it); the body is fed with llr_req_feed_stable() in 64 KB pieces
 * (or whole when smaller), as the module feeds a body held in memory:
 * the top-level values are linked, not copied (ref()).  Prints the wall
 * time per request (median of N) in microseconds.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llr_req.h"
#include "llr_classify.h"


typedef struct {
    llr_out_t        out;
    unsigned char   *buf;
    size_t           size;
} bench_out_t;


static void *
b_malloc(void *ctx, size_t size)
{
    return malloc(size);
}


static void *
b_realloc(void *ctx, void *p, size_t size)
{
    return realloc(p, size);
}


static void
b_free(void *ctx, void *p)
{
    free(p);
}


static int
b_next(llr_out_t *out)
{
    bench_out_t  *bo = out->data;

    /* start again at the top: the bytes are not kept */
    out->pos = bo->buf;
    out->end = bo->buf + bo->size;
    return 0;
}


static int
b_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    return 0;
}


static int
b_ref(llr_out_t *out, const unsigned char *p, size_t len)
{
    /* the module links the bytes: nothing to copy */
    return 0;
}


static int
b_flush(llr_out_t *out)
{
    return 0;
}


int bench_req(int mode, const llr_cls_model_t *m, void *state,
    bench_out_t *bo, const unsigned char *body, size_t len);

int
bench_req(int mode, const llr_cls_model_t *m, void *state,
    bench_out_t *bo, const unsigned char *body, size_t len)
{
    size_t              off, n;
    llr_req_t          *rq;
    llr_alloc_t         alloc;
    llr_req_err_e       rc;
    llr_text_sink_t     sink, *sp;
    llr_cls_result_t    res;

    alloc.malloc = b_malloc;
    alloc.realloc = b_realloc;
    alloc.free = b_free;
    alloc.ctx = NULL;

    sp = NULL;
    if (mode != 0) {
        llr_cls_state_init(state, m);
        llr_cls_sink(state, &sink);
        sp = &sink;
    }

    bo->out.pos = bo->buf;
    bo->out.end = bo->buf + bo->size;

    rq = llr_req_create(&alloc, LLR_EP_CHAT, mode == 2 ? NULL : &bo->out,
                        sp);
    if (rq == NULL) {
        return -1;
    }

    rc = LLR_REQ_OK;
    for (off = 0; off < len && rc == LLR_REQ_OK; off += n) {
        n = len - off < 65536 ? len - off : 65536;
        rc = llr_req_feed_stable(rq, body + off, n);
    }
    if (rc == LLR_REQ_OK) {
        rc = llr_req_finish(rq);
    }

    if (rc == LLR_REQ_OK && mode != 0) {
        llr_cls_finish(state, llr_req_view(rq), &res);
    }

    llr_req_destroy(rq);

    return rc == LLR_REQ_OK ? 0 : -1;
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}


int
main(int argc, char **argv)
{
    int                     mode, i, n;
    long                    len;
    FILE                   *f;
    void                   *state;
    double                 *t;
    unsigned char          *body;
    bench_out_t             bo;
    struct timespec         a, b;
    const llr_cls_model_t  *m;

    if (argc != 4) {
        fprintf(stderr, "usage: cg_req rewrite|route|classify FILE N\n");
        return 2;
    }

    mode = strcmp(argv[1], "rewrite") == 0 ? 0
           : strcmp(argv[1], "route") == 0 ? 1 : 2;
    n = atoi(argv[3]);
    if (n < 1) {
        n = 1;
    }

    f = fopen(argv[2], "rb");
    if (f == NULL) {
        perror(argv[2]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    body = malloc(len + 1);
    if (body == NULL || fread(body, 1, len, f) != (size_t) len) {
        return 1;
    }
    fclose(f);

    m = llr_cls_default_model();
    if (m == NULL) {
        fprintf(stderr, "cg_req: no default model\n");
        return 1;
    }
    state = malloc(llr_cls_state_size(m));

    bo.size = 64 * 1024;
    bo.buf = malloc(bo.size);
    bo.out.next = b_next;
    bo.out.mark = b_mark;
    bo.out.ref = b_ref;
    bo.out.flush = b_flush;
    bo.out.data = &bo;

    t = malloc(n * sizeof(double));
    if (state == NULL || bo.buf == NULL || t == NULL) {
        return 1;
    }

    for (i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (bench_req(mode, m, state, &bo, body, (size_t) len) != 0) {
            fprintf(stderr, "cg_req: %s: the scanner refused the body\n",
                    argv[2]);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    }

    qsort(t, n, sizeof(double), cmp_double);
    printf("bytes=%ld n=%d median_us=%.1f min_us=%.1f\n", len, n, t[n / 2],
           t[0]);

    free(t);
    free(bo.buf);
    free(state);
    free(body);

    return 0;
}
