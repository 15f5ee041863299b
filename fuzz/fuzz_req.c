/*
 * libFuzzer target for core/llr_req.c.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Ingx_llm_route_module/core fuzz/fuzz_req.c \
 *       ngx_llm_route_module/core/llr*.c -lpcre2-8 -lm -o build/fuzz_req
 *
 * The first input byte picks the endpoint and the piece size, the rest
 * is the body.  Checks beyond "does not crash":
 *   - fed whole or in pieces, the result and the output are the same;
 *   - scan only (no output) gives the same result and view;
 *   - with a text filter (llr_req_set_want()) the sink gets the same,
 *     the text kept as copies or as references (llr_req_feed_stable());
 *   - stable pieces with ref() (some runs linked, some left to copy)
 *     give the same output as pieces copied;
 *   - a successful rewrite, with the caller's insertions made, is
 *     scanned again and must succeed, give the same text to the sink,
 *     and rewrite to the very same bytes when nothing is inserted at
 *     the tail this time (the output is valid JSON and the rewrite is
 *     stable).
 *   - llr_json_escape() of the input, any bytes: the length it said,
 *     and a valid JSON string body (escapes well formed, no raw quote,
 *     backslash or control byte, and UTF-8 throughout).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_req.h"
#include "llr_arena.h"


typedef struct {
    unsigned char  *s;
    size_t          len;
    size_t          cap;
} fz_buf_t;


typedef struct {
    llr_out_t       out;
    unsigned char   chunk[64];
    fz_buf_t        acc;        /* the output with the insertions made */
    fz_buf_t        trace;      /* what the sink saw */
    int             flushed;
    int             tail;       /* insert a member at the tail mark */
} fz_coll_t;


static void
fz_add(fz_buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL) {
            abort();
        }
    }

    if (n) {
        memcpy(b->s + b->len, p, n);
    }

    b->len += n;
}


static void
fz_take(fz_coll_t *c)
{
    fz_add(&c->acc, c->chunk, (size_t) (c->out.pos - c->chunk));
    c->out.pos = c->chunk;
    c->out.end = c->chunk + sizeof(c->chunk);
}


static int
fz_next(llr_out_t *out)
{
    fz_coll_t  *c = out->data;

    if (out->pos != out->end) {
        abort();                /* next() only when the memory is full */
    }

    fz_take(c);
    return 0;
}


static int
fz_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    fz_coll_t  *c = out->data;

    fz_take(c);

    switch (mark) {

    case LLR_MARK_MODEL:
        fz_add(&c->acc, "\"model\":\"routed\\\"\\n\"", 20);
        if (comma) {
            fz_add(&c->acc, ",", 1);
        }
        break;

    case LLR_MARK_STREAM_OPTIONS:
        if (comma) {
            fz_add(&c->acc, ",", 1);
        }
        fz_add(&c->acc, "\"include_usage\":true", 20);
        break;

    default:
        if (c->tail) {
            fz_add(&c->acc, ",\"x_tail\":1", 11);
        }
        break;
    }

    return 0;
}


/* runs by reference (the even ones; the odd ones are left to copy) */

static int
fz_ref(llr_out_t *out, const unsigned char *p, size_t len)
{
    fz_coll_t  *c = out->data;

    if (len & 1) {
        return 1;
    }

    fz_take(c);
    fz_add(&c->acc, p, len);
    return 0;
}


static int
fz_flush(llr_out_t *out)
{
    fz_coll_t  *c = out->data;

    fz_take(c);
    c->flushed++;
    return 0;
}


static void
fz_begin(void *ctx, const char *role, size_t turn)
{
    fz_add(ctx, "<", 1);
    fz_add(ctx, role, strlen(role));
    fz_add(ctx, ">", 1);
}


static void
fz_text(void *ctx, const unsigned char *data, size_t len)
{
    fz_add(ctx, data, len);
    fz_add(ctx, "|", 1);
}


static void
fz_end(void *ctx)
{
    fz_add(ctx, "</>", 3);
}


static void *
fz_malloc(void *ctx, size_t size)
{
    return malloc(size);
}


static void *
fz_realloc(void *ctx, void *ptr, size_t size)
{
    return realloc(ptr, size);
}


static void
fz_free(void *ctx, void *ptr)
{
    free(ptr);
}


static const llr_alloc_t  fz_alloc = {
    fz_malloc, fz_realloc, fz_free, NULL
};

/*
 * the runs with stable pieces take the scanner's memory from an arena
 * (as the module does), a small one: most bodies outgrow it, so pieces
 * in the block and from the fallback mix; their output is compared
 * with the runs on plain malloc
 */
static size_t         fz_arena_mem[3001 / sizeof(size_t)];
static llr_arena_t    fz_arena;


/* the text filter: 0 none, 1 every model wanted, 2 odd lengths wanted */
static int  fz_want;
static int  fz_stable;      /* feed with llr_req_feed_stable() */


static int
fz_want_fn(void *ctx, const unsigned char *model, size_t len)
{
    return fz_want == 1 || (len & 1);
}


static llr_req_err_e
fz_run(llr_endpoint_e ep, const uint8_t *data, size_t size, size_t piece,
    int scan, int tail, fz_coll_t *c, llr_req_view_t *view)
{
    size_t            n;
    llr_req_t        *rq;
    llr_alloc_t       alloc;
    llr_req_err_e     err;
    llr_text_sink_t   sink;
    const char       *msg;

    memset(c, 0, sizeof(fz_coll_t));
    c->out.pos = c->chunk;
    c->out.end = c->chunk + sizeof(c->chunk);
    c->out.next = fz_next;
    c->out.mark = fz_mark;
    c->out.flush = fz_flush;
    c->out.ref = fz_stable ? fz_ref : NULL;
    c->out.data = c;
    c->tail = tail;

    sink.message_begin = fz_begin;
    sink.text = fz_text;
    sink.message_end = fz_end;
    sink.ctx = &c->trace;

    if (fz_stable) {
        llr_arena_init(&fz_arena, fz_arena_mem, sizeof(fz_arena_mem),
                       &fz_alloc);
        llr_arena_alloc(&fz_arena, &alloc);

    } else {
        alloc = fz_alloc;
    }

    rq = llr_req_create(&alloc, ep, scan ? NULL : &c->out, &sink);
    if (rq == NULL) {
        abort();
    }

    if (fz_want) {
        llr_req_set_want(rq, fz_want_fn, NULL);
    }

    err = LLR_REQ_OK;

    while (size && err == LLR_REQ_OK) {
        n = size < piece ? size : piece;
        err = fz_stable ? llr_req_feed_stable(rq, data, n)
                        : llr_req_feed(rq, data, n);
        data += n;
        size -= n;
    }

    if (err == LLR_REQ_OK) {
        err = llr_req_finish(rq);
    }

    msg = llr_req_error_message(rq);

    if (err != LLR_REQ_OK && (msg == NULL || msg[0] == '\0'
                              || strlen(msg) > 250))
    {
        abort();
    }

    if (err == LLR_REQ_OK && !scan && c->flushed != 1) {
        abort();
    }

    *view = *llr_req_view(rq);
    view->model = NULL;

    llr_req_destroy(rq);

    if (fz_stable) {
        llr_arena_reset(&fz_arena);
    }

    return err;
}


static int
fz_view_eq(const llr_req_view_t *a, const llr_req_view_t *b)
{
    return a->model_len == b->model_len
           && a->model_count == b->model_count
           && a->stream == b->stream
           && a->include_usage == b->include_usage
           && a->max_tokens == b->max_tokens
           && a->has_tools == b->has_tools
           && a->has_response_format == b->has_response_format
           && a->has_system == b->has_system
           && a->has_stream_options == b->has_stream_options
           && a->messages == b->messages
           && a->user_turns == b->user_turns
           && a->text_bytes == b->text_bytes
           && a->body_bytes == b->body_bytes;
}


static int
fz_buf_eq(const fz_buf_t *a, const fz_buf_t *b)
{
    return a->len == b->len && (a->len == 0
                                || memcmp(a->s, b->s, a->len) == 0);
}


static void
fz_free_coll(fz_coll_t *c)
{
    free(c->acc.s);
    free(c->trace.s);
}


/* llr_json_escape() of any bytes is the body of a valid JSON string */

static void
fz_check_escape(const uint8_t *data, size_t size)
{
    size_t          n, i, k;
    unsigned char  *d;

    n = llr_json_escape_len(data, size);

    d = malloc(n + 1);
    if (d == NULL) {
        abort();
    }

    if (llr_json_escape(d, data, size) != n) {
        abort();
    }

    for (i = 0; i < n; /* void */) {
        if (d[i] == '\\') {
            if (i + 1 >= n) {
                abort();
            }

            if (d[i + 1] == 'u') {
                if (i + 6 > n) {
                    abort();
                }

                for (k = 2; k < 6; k++) {
                    if (strchr("0123456789abcdef", d[i + k]) == NULL
                        || d[i + k] == '\0')
                    {
                        abort();
                    }
                }

                i += 6;
                continue;
            }

            if (strchr("\"\\/bfnrt", d[i + 1]) == NULL || d[i + 1] == '\0') {
                abort();
            }

            i += 2;
            continue;
        }

        if (d[i] < 0x20 || d[i] == '"') {
            abort();
        }

        k = llr_utf8_char(d + i, n - i);
        if (k == 0) {
            abort();
        }

        i += k;
    }

    free(d);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t            piece;
    llr_endpoint_e    ep;
    llr_req_err_e     e1, e2, e3, e4;
    llr_req_view_t    v1, v2, v3, v4;
    fz_coll_t         c1, c2, c3, c4;

    if (size < 1) {
        return 0;
    }

    fz_check_escape(data, size);

    ep = (llr_endpoint_e) ((data[0] & 0x7) % 5);
    piece = (size_t) (data[0] >> 3) + 1;
    data++;
    size--;

    /*
     * text kept for the model, copied or referenced: with every model
     * wanted the sink gets what it gets live; with some wanted, the
     * same whether the pieces are stable or not
     */
    fz_want = 1;
    fz_stable = 1;
    e1 = fz_run(ep, data, size, piece, 0, 1, &c1, &v1);
    fz_want = 2;
    e2 = fz_run(ep, data, size, piece, 0, 1, &c2, &v2);
    fz_stable = 0;
    e3 = fz_run(ep, data, size, piece, 0, 1, &c3, &v3);
    fz_want = 0;
    e4 = fz_run(ep, data, size, size ? size : 1, 0, 1, &c4, &v4);

    if (e1 != e4 || e2 != e3 || e2 != e4
        || (e4 == LLR_REQ_OK
            && (!fz_buf_eq(&c1.trace, &c4.trace)
                || !fz_buf_eq(&c2.trace, &c3.trace)
                || !fz_buf_eq(&c1.acc, &c4.acc)
                || !fz_buf_eq(&c2.acc, &c3.acc)
                || !fz_view_eq(&v1, &v4) || !fz_view_eq(&v2, &v4)
                || !fz_view_eq(&v3, &v4))))
    {
        abort();
    }

    fz_free_coll(&c1);
    fz_free_coll(&c2);
    fz_free_coll(&c3);
    fz_free_coll(&c4);

    e1 = fz_run(ep, data, size, size ? size : 1, 0, 1, &c1, &v1);
    e2 = fz_run(ep, data, size, piece, 0, 1, &c2, &v2);
    e3 = fz_run(ep, data, size, size ? size : 1, 1, 1, &c3, &v3);

    if (e1 != e2 || e1 != e3) {
        abort();
    }

    if (e1 == LLR_REQ_OK) {
        if (!fz_view_eq(&v1, &v2) || !fz_view_eq(&v1, &v3)
            || !fz_buf_eq(&c1.acc, &c2.acc)
            || !fz_buf_eq(&c1.trace, &c2.trace)
            || !fz_buf_eq(&c1.trace, &c3.trace)
            || c3.acc.len != 0)
        {
            abort();
        }

        /* the rewritten body scans again and rewrites to itself */

        e4 = fz_run(ep, c1.acc.s, c1.acc.len, 7, 0, 0, &c4, &v4);

        if (e4 != LLR_REQ_OK
            || !fz_buf_eq(&c1.trace, &c4.trace)
            || v4.model_count != 1
            || v4.messages != v1.messages
            || v4.text_bytes != v1.text_bytes
            || v4.max_tokens != v1.max_tokens
            || v4.stream != v1.stream
            || v4.has_stream_options != v1.has_stream_options
            || !fz_buf_eq(&c1.acc, &c4.acc))
        {
            abort();
        }

        fz_free_coll(&c4);
    }

    fz_free_coll(&c1);
    fz_free_coll(&c2);
    fz_free_coll(&c3);

    return 0;
}
