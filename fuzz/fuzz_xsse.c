/*
 * libFuzzer target for core/llr_xsse: a provider's stream translated
 * for a client of the other format, event by event.
 *
 * The first byte: bit 0 the translation (0 an Anthropic stream for a
 * chat client, 1 a chat stream for an Anthropic client); bit 1 the chat
 * client's include_usage; bit 2 a small max_event (300 bytes); bits 3-7
 * the piece size selector.
 *
 * Checks: no crash, no leak; fed whole and fed in pieces, the same bytes
 * and the same end; after llr_xsse_finish() the client's stream has
 * ended.  What the client gets is its format's SSE: every event's data
 * is strict JSON or [DONE], read by the client-side scanner (llr_sse in
 * the client's format) without a bad event, and it ends with exactly
 * one terminator ([DONE] or message_stop) or one error event, nothing
 * after it and neither before it.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_mock.h"
#include "llr_sse.h"
#include "llr_xsse.h"


static long  fz_live;


static void *
fz_malloc(void *ctx, size_t size)
{
    void  *p;

    p = malloc(size ? size : 1);
    fz_live += (p != NULL);
    return p;
}


static void *
fz_realloc(void *ctx, void *p, size_t size)
{
    void  *n;

    n = realloc(p, size ? size : 1);
    fz_live += (p == NULL && n != NULL);
    return n;
}


static void
fz_free(void *ctx, void *p)
{
    fz_live -= (p != NULL);
    free(p);
}


static const llr_alloc_t  fz_alloc = { fz_malloc, fz_realloc, fz_free,
                                       NULL };


typedef struct {
    unsigned char  *s;
    size_t          len;
    size_t          cap;
} fz_buf_t;


static int
fz_emit(void *ctx, const unsigned char *p, size_t n)
{
    fz_buf_t  *b = ctx;

    if (n == 0 || p == NULL) {
        abort();        /* emit is called for bytes only */
    }

    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL) {
            abort();
        }
    }

    memcpy(b->s + b->len, p, n);
    b->len += n;

    return 0;
}


static int
fz_run(llr_xlate_e x, const llr_xsse_opts_t *o, const uint8_t *d,
    size_t len, unsigned step, fz_buf_t *b)
{
    int          end;
    size_t       i, n;
    llr_xsse_t  *xs;

    xs = llr_xsse_create(x, &fz_alloc, o);
    if (xs == NULL) {
        abort();
    }

    for (i = 0; i < len; i += n) {
        n = step ? 1 + (d[i] + step) % (step * 2) : len;
        if (n > len - i) {
            n = len - i;
        }

        if (llr_xsse_feed(xs, d + i, n, fz_emit, b) != 0) {
            abort();
        }
    }

    if (llr_xsse_finish(xs, fz_emit, b) != 0) {
        abort();
    }

    end = llr_xsse_ended(xs) + 2 * llr_xsse_cut(xs);

    llr_xsse_destroy(xs);

    return end;
}


/*
 * The client's stream, event by event (blank-line separated, as written):
 * each data strict JSON or [DONE]; the last event the only terminal one
 */
static void
fz_check_events(llr_xlate_e x, const fz_buf_t *b)
{
    int                   terminal;
    size_t                n;
    const char           *err;
    llr_jv_doc_t         *doc;
    const llr_jv_t       *t;
    const unsigned char  *p, *end, *ev, *data, *q;

    p = b->s;
    end = b->s + b->len;
    terminal = 0;

    while (p < end) {
        if (terminal) {
            abort();        /* an event after the end */
        }

        /* an event: up to its blank line */
        for (ev = p; p + 1 < end && !(p[0] == '\n' && p[1] == '\n'); p++) {
            /* void */
        }

        if (p + 1 >= end) {
            abort();        /* not ended by a blank line */
        }

        q = p;
        p += 2;

        if (ev[0] == ':') {
            continue;       /* a comment */
        }

        data = NULL;

        if (q - ev > 6 && memcmp(ev, "data: ", 6) == 0) {
            data = ev + 6;

        } else if (q - ev > 7 && memcmp(ev, "event: ", 7) == 0) {
            data = memchr(ev, '\n', (size_t) (q - ev));

            if (data == NULL || q - data < 7 || memcmp(data, "\ndata: ", 7))
            {
                abort();
            }

            data += 7;

        } else {
            abort();
        }

        n = (size_t) (q - data);

        if (memchr(data, '\n', n)) {
            abort();        /* one data line per event */
        }

        if (n == 6 && memcmp(data, "[DONE]", 6) == 0) {
            if (x != LLR_XLATE_CHAT_ANTHROPIC) {
                abort();
            }

            terminal = 1;
            continue;
        }

        doc = llr_jv_parse(&fz_alloc, data, n, NULL, &err);

        if (doc == NULL || doc->root->type != LLR_JV_OBJECT) {
            abort();
        }

        t = llr_jv_get(doc->root, "type");

        if (llr_jv_get(doc->root, "error") != NULL
            || llr_jv_is(t, "message_stop"))
        {
            terminal = 1;
        }

        if (x == LLR_XLATE_ANTHROPIC_CHAT && t == NULL) {
            abort();        /* every Anthropic event has its type */
        }

        llr_jv_free(doc);
    }

    if (!terminal) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              e1, e2;
    unsigned         step;
    fz_buf_t         a, b;
    llr_sse_t        sse;
    llr_xlate_e      x;
    llr_xsse_opts_t  o;

    if (size < 1) {
        return 0;
    }

    x = (data[0] & 1) ? LLR_XLATE_ANTHROPIC_CHAT : LLR_XLATE_CHAT_ANTHROPIC;
    o.created = 1700000000;
    o.include_usage = (data[0] & 2) ? 1 : 0;
    o.max_event = (data[0] & 4) ? 300 : 0;
    step = 1 + (data[0] >> 3);
    data++;
    size--;

    fz_live = 0;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));

    e1 = fz_run(x, &o, data, size, 0, &a);
    e2 = fz_run(x, &o, data, size, step, &b);

    if (e1 != e2 || a.len != b.len
        || (a.len && memcmp(a.s, b.s, a.len) != 0) || !(e1 & 1))
    {
        abort();
    }

    fz_check_events(x, &a);

    /* what the client's own parser makes of it */
    llr_sse_init(&sse, x == LLR_XLATE_ANTHROPIC_CHAT ? LLR_SSE_ANTHROPIC : 0,
                 0, NULL);
    (void) llr_sse_feed(&sse, a.s, a.len, NULL, NULL);
    (void) llr_sse_finish(&sse, NULL, NULL);

    if (sse.bad_events != 0 || llr_sse_in_event(&sse)
        || (x == LLR_XLATE_CHAT_ANTHROPIC ? !sse.done && !sse.res.error
                                          : !sse.ended))
    {
        abort();
    }

    free(a.s);
    free(b.s);

    if (fz_live != 0) {
        abort();
    }

    return 0;
}
