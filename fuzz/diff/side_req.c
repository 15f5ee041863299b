/*
 * One side of the request scanner's differential target (fuzz/diff/):
 * compiled against one tree's core/ headers, its global symbols then
 * prefixed with old_ or new_ by fuzz/diff.sh.  Runs llr_req as the
 * module does (fuzz/fuzz_req.c's harness) and keeps what can be seen
 * from outside: the result, the view, the text sink's calls and the
 * output with the marks filled the same way on both sides.
 */

#include <stdlib.h>
#include <string.h>

#include "llr_req.h"
#include "llr_arena.h"

#include "diff.h"


typedef struct {
    llr_out_t        out;
    unsigned char    chunk[64];
    diff_req_res_t  *res;
    int              tail;
} side_coll_t;


static void
side_take(side_coll_t *c)
{
    diff_add(&c->res->out, c->chunk, (size_t) (c->out.pos - c->chunk));
    c->out.pos = c->chunk;
    c->out.end = c->chunk + sizeof(c->chunk);
}


static int
side_next(llr_out_t *out)
{
    side_take(out->data);
    return 0;
}


static int
side_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    side_coll_t  *c = out->data;

    side_take(c);

    switch (mark) {

    case LLR_MARK_MODEL:
        diff_add(&c->res->out, "\"model\":\"routed\\\"\\n\"", 20);
        if (comma) {
            diff_add(&c->res->out, ",", 1);
        }
        break;

    case LLR_MARK_STREAM_OPTIONS:
        if (comma) {
            diff_add(&c->res->out, ",", 1);
        }
        diff_add(&c->res->out, "\"include_usage\":true", 20);
        break;

    default:
        if (c->tail) {
            diff_add(&c->res->out, ",\"x_tail\":1", 11);
        }
        break;
    }

    return 0;
}


/* bytes by reference: the even lengths taken, the odd ones copied */

static int
side_ref(llr_out_t *out, const unsigned char *p, size_t len)
{
    side_coll_t  *c = out->data;

    if (len & 1) {
        return 1;
    }

    side_take(c);
    diff_add(&c->res->out, p, len);
    return 0;
}


static int
side_flush(llr_out_t *out)
{
    side_coll_t  *c = out->data;

    side_take(c);
    c->res->flushed++;
    return 0;
}


static void
side_begin(void *ctx, const char *role, size_t turn)
{
    diff_addf(ctx, "<%s:%zu>", role, turn);
}


static void
side_text(void *ctx, const unsigned char *data, size_t len)
{
    diff_add(ctx, data, len);
    diff_add(ctx, "|", 1);
}


static void
side_end(void *ctx)
{
    diff_add(ctx, "</>", 3);
}


static int  side_want_mode;


static int
side_want(void *ctx, const unsigned char *model, size_t len)
{
    return side_want_mode == 1 || (len & 1);
}


static const llr_alloc_t  side_alloc = {
    diff_malloc, diff_realloc, diff_free, NULL
};

/* a small arena: most bodies outgrow it (fuzz/fuzz_req.c) */
static size_t       side_arena_mem[3001 / sizeof(size_t)];
static llr_arena_t  side_arena;


static void
side_view(diff_req_res_t *res, const llr_req_view_t *v)
{
    size_t  n;

    n = v->model_len < sizeof(res->model) ? v->model_len
                                          : sizeof(res->model);
    if (v->model != NULL && n) {
        memcpy(res->model, v->model, n);
    }

    res->model_len = v->model_len;
    res->model_count = v->model_count;
    res->stream = v->stream;
    res->include_usage = v->include_usage;
    res->max_tokens = v->max_tokens;
    res->n = v->n;
    res->has_tools = v->has_tools;
    res->has_response_format = v->has_response_format;
    res->json_mode = v->json_mode;
    res->has_system = v->has_system;
    res->has_stream_options = v->has_stream_options;
    res->stream_options_key = v->stream_options_key;
    res->messages = v->messages;
    res->user_turns = v->user_turns;
    res->text_bytes = v->text_bytes;
    res->body_bytes = v->body_bytes;
}


void
side_req_run(const diff_req_cfg_t *cfg, const unsigned char *data,
    size_t size, diff_req_res_t *res)
{
    size_t            i, n;
    llr_req_t        *rq;
    llr_alloc_t       alloc;
    llr_req_err_e     err;
    side_coll_t       c;
    llr_text_sink_t   sink;
    const char       *s;

    memset(res, 0, sizeof(diff_req_res_t));
    memset(&c, 0, sizeof(side_coll_t));
    c.out.pos = c.chunk;
    c.out.end = c.chunk + sizeof(c.chunk);
    c.out.next = side_next;
    c.out.mark = side_mark;
    c.out.flush = side_flush;
    c.out.ref = cfg->stable ? side_ref : NULL;
    c.out.data = &c;
    c.res = res;
    c.tail = cfg->tail;

    sink.message_begin = side_begin;
    sink.text = side_text;
    sink.message_end = side_end;
    sink.ctx = &res->trace;

    if (cfg->stable) {
        llr_arena_init(&side_arena, side_arena_mem, sizeof(side_arena_mem),
                       &side_alloc);
        llr_arena_alloc(&side_arena, &alloc);

    } else {
        alloc = side_alloc;
    }

    rq = llr_req_create(&alloc, (llr_endpoint_e) cfg->endpoint,
                        cfg->scan ? NULL : &c.out, &sink);
    if (rq == NULL) {
        abort();
    }

    side_want_mode = cfg->want;

    if (cfg->want) {
        llr_req_set_want(rq, side_want, NULL);
    }

    err = LLR_REQ_OK;

    for (i = 0; i < size && err == LLR_REQ_OK; i += n) {
        n = diff_piece(data, size, i, cfg->step);
        err = cfg->stable ? llr_req_feed_stable(rq, data + i, n)
                          : llr_req_feed(rq, data + i, n);
    }

    if (err == LLR_REQ_OK) {
        err = llr_req_finish(rq);
    }

    res->err = (int) err;

    if (err != LLR_REQ_OK) {
        s = llr_req_error_message(rq);
        if (s != NULL) {
            strncpy(res->msg, s, sizeof(res->msg) - 1);
        }

        s = llr_req_error_param(rq);
        if (s != NULL) {
            res->has_param = 1;
            strncpy(res->param, s, sizeof(res->param) - 1);
        }
    }

    side_view(res, llr_req_view(rq));

    llr_req_destroy(rq);

    if (cfg->stable) {
        llr_arena_reset(&side_arena);
    }
}


void
side_req_escape(const unsigned char *data, size_t size, diff_buf_t *out)
{
    size_t          n;
    unsigned char  *d;

    n = llr_json_escape_len(data, size);
    diff_addf(out, "%zu:", n);

    d = malloc(n + 1);
    if (d == NULL) {
        abort();
    }

    n = llr_json_escape(d, data, size);
    diff_add(out, d, n);
    free(d);
}
