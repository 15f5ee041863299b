/*
 * libFuzzer target for core/llr_sse: the first 4 bytes choose the mode,
 * max_event and the piece sizes; the rest is the stream.  Checks that
 * the stream fed whole and fed in pieces gives the same results and
 * the same forwarded bytes, that without strip mode the bytes pass
 * unchanged, and that the hold buffer never exceeds max_event; and
 * that the prefix cache and the event templates change nothing: the
 * whole stream fed again with LLR_SSE_NO_CACHE gives the same results,
 * bytes and moment of the first content as fed with an empty template
 * cache and fed once more with the templates the first two runs left
 * (as the next stream of an nginx worker).  Bit 1 of the first byte
 * reads an Anthropic stream (LLR_SSE_ANTHROPIC); the stream is then fed
 * once more in the other format with the same cache, which must give
 * what it gives without one (one cache serves both formats).
 *
 * Tapped streams (the quality signals' tap, llr_json_t.tap): the
 * stream is fed with a tap that logs every call (kind, choice, index,
 * flags, the bytes) with the cache warmed by the runs above, and with
 * LLR_SSE_NO_TEMPLATE, whole and in the same pieces: the same calls
 * and the same results (the response's id included) with and without
 * the stream's own templates, and with LLR_SSE_NO_CACHE (whole).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_sse.h"


typedef struct {
    unsigned char  *buf;
    size_t          len;
    size_t          first_at;       /* offset of first_content + 1, or 0 */
} out_t;

/* the calls of the tap, logged */
typedef struct {
    unsigned char  *buf;
    size_t          len;
    size_t          size;
    unsigned        begun:1;        /* BEGIN seen, END not yet */
    uint32_t        kind, choice, index;
} tap_log_t;

static size_t  max_alloc;


/*
 * one record per string: its kind, choice, index and bytes, whatever
 * the pieces the scanner saw it in (a string the template tells whole
 * may be told in pieces by a scanner fed in pieces)
 */
static void
log_tap(void *ctx, unsigned kind, uint32_t choice, uint32_t index,
    const unsigned char *raw, size_t len, unsigned flags)
{
    tap_log_t  *l = ctx;
    uint32_t    h[4];

    if (l->len + len + 2 * sizeof(h) > l->size) {
        l->size = (l->len + len + 2 * sizeof(h)) * 2;
        l->buf = realloc(l->buf, l->size);
        if (l->buf == NULL) {
            abort();
        }
    }

    if (!(flags & LLR_JSON_TAP_BEGIN)
        && (!l->begun || kind != l->kind || choice != l->choice
            || index != l->index))
    {
        /* a piece of no string begun (or of another): noted as one */
        flags |= LLR_JSON_TAP_BEGIN;
        h[0] = 0xfffffffc;
        memcpy(l->buf + l->len, h, sizeof(uint32_t));
        l->len += sizeof(uint32_t);
    }

    if (flags & LLR_JSON_TAP_BEGIN) {
        /* one begun and not ended (its event was cut) is noted so */
        h[0] = l->begun ? 0xfffffffd : 0xfffffffe;
        l->begun = 1;
        l->kind = kind;
        l->choice = choice;
        l->index = index;
        h[1] = kind;
        h[2] = choice;
        h[3] = index;
        memcpy(l->buf + l->len, h, sizeof(h));
        l->len += sizeof(h);
    }

    memcpy(l->buf + l->len, raw, len);
    l->len += len;

    if (flags & LLR_JSON_TAP_END) {
        l->begun = 0;
        h[0] = 0xffffffff;
        memcpy(l->buf + l->len, h, sizeof(uint32_t));
        l->len += sizeof(uint32_t);
    }
}


static int
same_log(const tap_log_t *a, const tap_log_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}


static int
emit(void *ctx, const unsigned char *p, size_t n)
{
    out_t  *o = ctx;

    memcpy(o->buf + o->len, p, n);      /* buf has room for the input */
    o->len += n;
    return 0;
}


static void *
mem_alloc(void *ctx, size_t size)
{
    if (size > max_alloc) {
        max_alloc = size;
    }

    return malloc(size);
}


static void
mem_free(void *ctx, void *p)
{
    free(p);
}


/*
 * the same results; the model is a string of model_len bytes: what a
 * longer model set earlier left after its end is not compared (an
 * event matched to a template sets only the string)
 */
static int
same_res(const llr_resp_t *a, const llr_resp_t *b)
{
    llr_resp_t  x, y;

    x = *a;
    y = *b;

    if (x.model_len < sizeof(x.model)) {
        memset(x.model + x.model_len, 0, sizeof(x.model) - x.model_len);
    }

    if (y.model_len < sizeof(y.model)) {
        memset(y.model + y.model_len, 0, sizeof(y.model) - y.model_len);
    }

    /* the same for the id (a tapped stream's own template sets it) */
    if (x.id_len < sizeof(x.id)) {
        memset(x.id + x.id_len, 0, sizeof(x.id) - x.id_len);
    }

    if (y.id_len < sizeof(y.id)) {
        memset(y.id + y.id_len, 0, sizeof(y.id) - y.id_len);
    }

    return memcmp(&x, &y, sizeof(llr_resp_t)) == 0;
}


/* two whole-piece runs: the same results, bytes and first content */
static int
same_sse(const llr_sse_t *a, const out_t *oa, const llr_sse_t *c,
    const out_t *oc)
{
    return same_res(&a->res, &c->res) && oa->len == oc->len
           && memcmp(oa->buf, oc->buf, oa->len) == 0
           && a->stripped == c->stripped && a->events == c->events
           && a->json_events == c->json_events
           && a->bad_events == c->bad_events
           && a->oversized_events == c->oversized_events
           && a->content_seen == c->content_seen && a->done == c->done
           && a->ended == c->ended
           && oa->first_at == oc->first_at;
}


static tap_log_t  *tap_log;         /* run(): the tap's log, or NULL */


static void
run(llr_sse_t *s, out_t *o, const uint8_t *d, size_t len, unsigned flags,
    size_t max_event, unsigned step, llr_sse_cache_t *cache)
{
    size_t         i, n;
    llr_alloc_t    mem = { mem_alloc, NULL, mem_free, NULL };

    llr_sse_init(s, flags, max_event, &mem);

    if (tap_log) {
        tap_log->len = 0;
        tap_log->begun = 0;
        s->json.tap = log_tap;
        s->json.tap_ctx = tap_log;
    }

    llr_sse_use_cache(s, cache);
    o->len = 0;
    o->first_at = 0;

    for (i = 0; i < len; i += n) {
        n = step ? 1 + (d[i] + step) % (step * 2) : len;
        if (n > len - i) {
            n = len - i;
        }

        if (llr_sse_feed(s, d + i, n, emit, o) != 0) {
            abort();
        }

        if (s->first_content) {
            o->first_at = i + s->first_content_offset + 1;
        }
    }

    if (llr_sse_finish(s, emit, o) != 0) {
        abort();
    }

    if (s->first_content) {
        o->first_at = len + 1;
    }
}


/*
 * Tapped: with the stream's own templates (the cache warm, whole and
 * in pieces) as with LLR_SSE_NO_TEMPLATE, the same tap calls and
 * results
 */
static void
tapped(const uint8_t *data, size_t size, unsigned flags, size_t max_event,
    unsigned step, llr_sse_cache_t *cache, llr_sse_t *a, out_t *oa,
    llr_sse_t *b, out_t *ob, llr_sse_t *c, out_t *oc)
{
    llr_sse_t          n;
    out_t              on;
    static tap_log_t   la, lb, lc, ln;

    llr_sse_free(a);
    llr_sse_free(b);
    llr_sse_free(c);

    /* the prefix cache: the same as every line scanned whole */
    on.buf = malloc(size + 1);
    tap_log = &ln;
    run(&n, &on, data, size, flags | LLR_SSE_NO_CACHE, max_event, 0, cache);
    tap_log = &lc;
    run(c, oc, data, size, flags | LLR_SSE_NO_TEMPLATE, max_event, 0, cache);

    if (!same_sse(&n, &on, c, oc)
        || !same_log(&ln, &lc))
    {
        abort();
    }

    llr_sse_free(&n);
    free(on.buf);

    tap_log = &la;
    run(a, oa, data, size, flags, max_event, 0, cache);
    tap_log = &lb;
    run(b, ob, data, size, flags, max_event, step, cache);
    tap_log = NULL;

    if (!same_sse(a, oa, c, oc) || c->template_hits != 0
        || !same_log(&la, &lc))
    {
        abort();
    }

    /*
     * in pieces: the same as in the same pieces without templates (the
     * scanner may tell a string of a value it then finds bad in pieces
     * when fed in pieces, not when fed whole: so not compared with a)
     */
    on.buf = malloc(size + 1);
    tap_log = &ln;
    run(&n, &on, data, size, flags | LLR_SSE_NO_TEMPLATE, max_event, step,
        cache);
    tap_log = NULL;

    if (!same_res(&n.res, &b->res) || n.events != b->events
        || n.json_events != b->json_events || on.first_at != ob->first_at
        || !same_log(&ln, &lb))
    {
        abort();
    }

    llr_sse_free(&n);
    free(on.buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llr_sse_t  a, b, c, w;
    out_t      oa, ob, oc, ow;
    unsigned   flags, step;
    size_t     max_event;

    static llr_sse_cache_t  cache;

    if (size < 3) {
        return 0;
    }

    flags = data[0] & 1 ? LLR_SSE_STRIP_USAGE : 0;
    flags |= data[0] & 2 ? LLR_SSE_ANTHROPIC : 0;
    max_event = 16 + (size_t) data[1] * 8;
    step = 1 + data[2] % 32;
    data += 3;
    size -= 3;

    oa.buf = malloc(size + 1);
    ob.buf = malloc(size + 1);
    oc.buf = malloc(size + 1);
    ow.buf = malloc(size + 1);
    max_alloc = 0;

    llr_sse_cache_init(&cache);

    run(&a, &oa, data, size, flags, max_event, 0, &cache);
    run(&b, &ob, data, size, flags, max_event, step, &cache);
    run(&c, &oc, data, size, flags | LLR_SSE_NO_CACHE, max_event, 0, &cache);
    run(&w, &ow, data, size, flags, max_event, 0, &cache);

    /* the caches: as if every line were scanned whole */
    if (!same_sse(&a, &oa, &c, &oc) || !same_sse(&w, &ow, &c, &oc)
        || c.prefix_hits != 0 || c.template_hits != 0)
    {
        abort();
    }

    /* the other format, with the templates this one left */
    llr_sse_free(&w);
    llr_sse_free(&c);
    run(&w, &ow, data, size, flags ^ LLR_SSE_ANTHROPIC, max_event, 0,
        &cache);
    run(&c, &oc, data, size, (flags ^ LLR_SSE_ANTHROPIC) | LLR_SSE_NO_CACHE,
        max_event, 0, &cache);

    if (!same_sse(&w, &ow, &c, &oc)) {
        abort();
    }

    /* and this format again, with the other's templates in the cache */
    llr_sse_free(&w);
    llr_sse_free(&c);
    run(&c, &oc, data, size, flags | LLR_SSE_NO_CACHE, max_event, 0, &cache);
    run(&w, &ow, data, size, flags, max_event, 0, &cache);

    if (!same_sse(&w, &ow, &c, &oc)) {
        abort();
    }

    if (!flags && (oa.len != size || memcmp(oa.buf, data, size) != 0)) {
        abort();
    }

    if (oa.len > size) {
        abort();
    }

    /* the whole-piece run never holds; the split run may release early */
    if (b.oversized_events == 0) {
        if (oa.len != ob.len || memcmp(oa.buf, ob.buf, oa.len) != 0
            || a.stripped != b.stripped)
        {
            abort();
        }
    }

    if (!same_res(&a.res, &b.res)
        || a.events != b.events || a.json_events != b.json_events
        || a.bad_events != b.bad_events || a.done != b.done
        || a.ended != b.ended
        || a.content_seen != b.content_seen || oa.first_at != ob.first_at)
    {
        abort();
    }

    if (max_alloc > max_event * 2) {
        abort();
    }

    tapped(data, size, flags, max_event, step, &cache, &a, &oa, &b, &ob,
           &c, &oc);

    llr_sse_free(&a);
    llr_sse_free(&b);
    llr_sse_free(&c);
    llr_sse_free(&w);
    free(oa.buf);
    free(ob.buf);
    free(oc.buf);
    free(ow.buf);

    return 0;
}
