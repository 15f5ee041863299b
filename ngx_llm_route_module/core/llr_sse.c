/*
 * ngx_llm_route_module: incremental Server-Sent Events parser.
 */

#include <stddef.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "llr_cost.h"
#include "llr_find.h"
#include "llr_sse.h"


/* line states */
enum {
    L_START = 0,        /* at the first byte of a line */
    L_FIELD,            /* reading the field name */
    L_VALUE_FIRST,      /* right after "data:" */
    L_VALUE,            /* in the value of a data line */
    L_IGNORE            /* comment or other field: skip to line end */
};

/* what the event's data looks like so far */
enum {
    D_NONE = 0,         /* only whitespace yet */
    D_JSON,
    D_OTHER
};


static const unsigned char *llr_sse_eol(const unsigned char *p,
    const unsigned char *end);
static int llr_sse_emit(llr_sse_t *sse, const unsigned char *p, size_t n,
    llr_sse_emit_pt emit, void *ctx);
static void llr_sse_data(llr_sse_t *sse, const unsigned char *p, size_t n);
static void llr_sse_event_start(llr_sse_t *sse, size_t off);
static int llr_sse_dispatch(llr_sse_t *sse, const unsigned char *data,
    size_t end, size_t *out_start, int cr, llr_sse_emit_pt emit, void *ctx);
static int llr_sse_release(llr_sse_t *sse, llr_sse_emit_pt emit,
    void *ctx);
static int llr_sse_hold(llr_sse_t *sse, const unsigned char *p, size_t n);
static const unsigned char *llr_sse_json_first(llr_sse_t *sse,
    const unsigned char *p, const unsigned char *end);
static size_t llr_sse_common(const unsigned char *a, const unsigned char *b,
    size_t k);
static void llr_sse_set_model(llr_resp_t *res, const char *model,
    size_t len);
static void llr_sse_set_id(llr_resp_t *res, const char *id, size_t len);
static void llr_sse_learn_start(llr_sse_t *sse, llr_resp_t *scr,
    const llr_resp_t *base);
static void llr_sse_pfx_tap(void *ctx, unsigned kind, uint32_t choice,
    uint32_t index, const unsigned char *raw, size_t len, unsigned flags);
static size_t llr_sse_learn(llr_sse_t *sse, const unsigned char *p,
    size_t n);
static int llr_sse_changed(llr_resp_t *base, const llr_resp_t *scr);
static size_t llr_sse_replay(llr_sse_t *sse, const unsigned char *data,
    size_t i, size_t len);
static llr_inline size_t llr_sse_took(llr_sse_t *sse, const llr_sse_tpl_t *t,
    const unsigned char *data, const unsigned char *p, uint64_t count);
static llr_inline const unsigned char *llr_sse_match(const llr_sse_tpl_t *t,
    const unsigned char *p, const unsigned char *end, uint64_t *count,
    const unsigned char *(*span)[2]);
static llr_inline const unsigned char *llr_sse_string(
    const unsigned char *p, const unsigned char *end, uint64_t *count);
static void llr_sse_own(llr_sse_t *sse, unsigned k,
    const unsigned char *(*span)[2]);
static void llr_sse_follows(llr_sse_t *sse, int can,
    const unsigned char *data, size_t end);
static int llr_sse_template(llr_sse_t *sse, const unsigned char *data,
    size_t end);
static size_t llr_sse_replay_tapped(llr_sse_t *sse, const unsigned char *data,
    size_t i, size_t len);
static void llr_sse_own_tapped(llr_sse_t *sse, const unsigned char *data,
    size_t end);
static int llr_sse_rescan(llr_sse_t *sse, const unsigned char *data,
    size_t end, int tapped);
static int llr_sse_fits(const llr_json_t *j, const unsigned char *p,
    const unsigned char *last, uint32_t fold);
static void llr_sse_fill(llr_sse_t *sse, llr_sse_tpl_t *t,
    const unsigned char *data, size_t end, uint32_t fold);
static int llr_sse_plain_key(const unsigned char *p,
    const unsigned char *start);
static void llr_sse_rec(void *ctx, unsigned kind, uint32_t choice,
    uint32_t index, const unsigned char *raw, size_t len, unsigned flags);


#define llr_sse_format(sse)                                                  \
    (((sse)->flags & LLR_SSE_ANTHROPIC) ? LLR_FMT_ANTHROPIC : LLR_FMT_OPENAI)


void
llr_sse_init(llr_sse_t *sse, unsigned flags, size_t max_event,
    const llr_alloc_t *mem)
{
    memset(sse, 0, offsetof(llr_sse_t, json));

    sse->flags = flags;
    sse->max_event = max_event ? max_event : LLR_SSE_MAX_EVENT;

    if (mem) {
        sse->mem = *mem;
    }

    sse->tpl_budget = LLR_SSE_LEARNS;
    sse->tpl_prev = LLR_SSE_TEMPLATES + 1;      /* the start of a stream */

    llr_json_init_format(&sse->json, &sse->res, llr_sse_format(sse));
}


void
llr_sse_cache_init(llr_sse_cache_t *cache)
{
    memset(cache, 0, sizeof(llr_sse_cache_t));
}


void
llr_sse_use_cache(llr_sse_t *sse, llr_sse_cache_t *cache)
{
    if (!(sse->flags & (LLR_SSE_NO_CACHE | LLR_SSE_NO_TEMPLATE))) {
        sse->cache = cache;
    }
}


void
llr_sse_free(llr_sse_t *sse)
{
    if (sse->held && sse->mem.free) {
        sse->mem.free(sse->mem.ctx, sse->held);
    }

    sse->held = NULL;
    sse->held_len = 0;
    sse->held_size = 0;
}


int
llr_sse_feed(llr_sse_t *sse, const unsigned char *data, size_t len,
    llr_sse_emit_pt emit, void *ctx)
{
    int                   c;
    size_t                i, j, n, out_start, from;

    sse->first_content = 0;
    sse->first_content_offset = 0;
    sse->ev_here = 0;

    if (sse->failed) {
        return -1;
    }

    out_start = 0;
    i = 0;

    while (i < len) {
        c = data[i];

        if (sse->after_cr) {
            sse->after_cr = 0;

            if (c == '\n') {
                if (sse->skip_lf) {
                    /* the LF of a stripped event's final CRLF */
                    out_start = i + 1;
                    sse->skip_lf = 0;
                }

                i++;
                continue;
            }
        }

        sse->skip_lf = 0;

        if (c == '\r' || c == '\n') {
            sse->after_cr = (c == '\r');

            if (sse->line_state == L_START) {
                if (sse->ev_active
                    && llr_sse_dispatch(sse, data, i + 1, &out_start,
                                        c == '\r', emit, ctx) != 0)
                {
                    return -1;
                }

            } else if (sse->line_state == L_FIELD && sse->field_len == 4
                       && memcmp(sse->field, "data", 4) == 0)
            {
                /* "data" without a colon: an empty data line */
                if (sse->ev_data_lines++) {
                    llr_sse_data(sse, (const unsigned char *) "\n", 1);
                }
            }

            sse->line_state = L_START;
            i++;
            continue;
        }

        switch (sse->line_state) {

        case L_START:
            if (!sse->ev_active) {
                if (sse->cache && (sse->cache->n || sse->own_ok)) {
                    n = llr_sse_replay(sse, data, i, len);

                    if (n) {
                        /* a whole event like the template's */
                        i = n;
                        continue;
                    }
                }

                llr_sse_event_start(sse, i);
            }

            if (c == ':') {
                sse->line_state = L_IGNORE;
                i++;
                continue;
            }

            if (c == 'd' && len - i >= 5 && memcmp(data + i, "data:", 5) == 0)
            {
                /* the whole "data:" is here */
                i += 5;
                memcpy(sse->field, "data", 4);
                sse->field_len = 4;

                if (sse->ev_data_lines++) {
                    llr_sse_data(sse, (const unsigned char *) "\n", 1);
                }

                sse->line_state = L_VALUE_FIRST;
                continue;
            }

            sse->line_state = L_FIELD;
            sse->field_len = 0;
            /* fall through */

        case L_FIELD:
            i++;

            if (c != ':') {
                if (sse->field_len < sizeof(sse->field)) {
                    sse->field[sse->field_len++] = (char) c;

                } else {
                    /* too long for any field we know */
                    sse->field[0] = '\0';
                }

                continue;
            }

            if (sse->field_len != 4 || memcmp(sse->field, "data", 4) != 0) {
                sse->line_state = L_IGNORE;
                continue;
            }

            if (sse->ev_data_lines++) {
                llr_sse_data(sse, (const unsigned char *) "\n", 1);
            }

            sse->line_state = L_VALUE_FIRST;
            continue;

        case L_VALUE_FIRST:
            sse->line_state = L_VALUE;

            if (c == ' ') {
                i++;
                continue;
            }

            /* fall through */

        case L_VALUE:
            if (sse->ev_mode == D_JSON) {
                /* JSON data: the scanner finds the line end itself */
                i = (size_t) (llr_json_feed_line(&sse->json, data + i,
                                                 data + len)
                              - data);

            } else if (sse->ev_mode == D_NONE && c == '{') {
                /* the event's JSON begins: the prefix cache */
                sse->ev_mode = D_JSON;

                if (sse->ev_here && sse->ev_data_lines == 1) {
                    sse->ev_json = i;
                }

                i = (size_t) (llr_sse_json_first(sse, data + i, data + len)
                              - data);

            } else {
                j = (size_t) (llr_sse_eol(data + i, data + len) - data);

                llr_sse_data(sse, data + i, j - i);
                i = j;
            }

            if (sse->holding
                && (sse->json.v_choice_elems || sse->ev_mode == D_OTHER
                    || sse->json.v_bad))
            {
                /* cannot be a usage-only chunk: stop holding it */
                if (llr_sse_release(sse, emit, ctx) != 0) {
                    return -1;
                }
            }

            continue;

        default: /* L_IGNORE */
            j = (size_t) (llr_sse_eol(data + i, data + len) - data);

            i = j;
            continue;
        }
    }

    /* the end of the piece */

    if (sse->ev_active && sse->holding) {
        from = sse->ev_here ? sse->ev_start : 0;

        if (llr_sse_emit(sse, data + out_start, from - out_start, emit, ctx)
            != 0)
        {
            return -1;
        }

        n = len - from;

        if (sse->held_len + n <= sse->max_event
            && llr_sse_hold(sse, data + from, n) == 0)
        {
            return 0;
        }

        /* too big (or no memory): forward it unchanged */

        if (sse->held_len + n > sse->max_event) {
            sse->oversized_events++;
        }

        if (llr_sse_release(sse, emit, ctx) != 0) {
            return -1;
        }

        return llr_sse_emit(sse, data + from, n, emit, ctx);
    }

    return llr_sse_emit(sse, data + out_start, len - out_start, emit, ctx);
}


int
llr_sse_finish(llr_sse_t *sse, llr_sse_emit_pt emit, void *ctx)
{
    size_t  out_start;

    sse->first_content = 0;
    sse->first_content_offset = 0;
    sse->ev_here = 0;

    if (sse->failed) {
        return -1;
    }

    if (sse->line_state == L_FIELD && sse->field_len == 4
        && memcmp(sse->field, "data", 4) == 0)
    {
        if (sse->ev_data_lines++) {
            llr_sse_data(sse, (const unsigned char *) "\n", 1);
        }
    }

    sse->line_state = L_START;
    out_start = 0;

    if (sse->ev_active) {
        /* an event without its final blank line */
        if (llr_sse_dispatch(sse, NULL, 0, &out_start, 0, emit, ctx) != 0) {
            return -1;
        }
    }

    sse->held_len = 0;

    return 0;
}


/* the first '\r' or '\n' in [p, end), or end */
static const unsigned char *
llr_sse_eol(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    int       m;
    unsigned  b;
    __m128i   v, w, cr, lf;

    cr = _mm_set1_epi8('\r');
    lf = _mm_set1_epi8('\n');

    while (end - p >= 32) {
        v = _mm_loadu_si128((const __m128i *) p);
        w = _mm_loadu_si128((const __m128i *) (p + 16));
        v = _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf));
        w = _mm_or_si128(_mm_cmpeq_epi8(w, cr), _mm_cmpeq_epi8(w, lf));
        m = _mm_movemask_epi8(_mm_or_si128(v, w));

        if (m) {
            b = (unsigned) _mm_movemask_epi8(v)
                | ((unsigned) _mm_movemask_epi8(w) << 16);
            return p + __builtin_ctz(b);
        }

        p += 32;
    }

    while (end - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);
        m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr),
                                           _mm_cmpeq_epi8(v, lf)));
        if (m) {
            return p + __builtin_ctz((unsigned) m);
        }

        p += 16;
    }
#endif

    while (p < end && *p != '\r' && *p != '\n') {
        p++;
    }

    return p;
}


static int
llr_sse_emit(llr_sse_t *sse, const unsigned char *p, size_t n,
    llr_sse_emit_pt emit, void *ctx)
{
    if (n == 0 || emit == NULL) {
        return 0;
    }

    if (emit(ctx, p, n) != 0) {
        sse->failed = 1;
        return -1;
    }

    return 0;
}


/*
 * The first data line of an event, its JSON starting at p (the scanner
 * fresh): resumed from the prefix cache if it begins with the cached
 * bytes; otherwise scanned whole, and the cache learnt from it and the
 * previous such line.  Returns the line end (or end), as
 * llr_json_feed_line().
 */

static const unsigned char *
llr_sse_json_first(llr_sse_t *sse, const unsigned char *p,
    const unsigned char *end)
{
    size_t  n, avail, k;

    if (sse->flags & LLR_SSE_NO_CACHE) {
        return llr_json_feed_line(&sse->json, p, end);
    }

    n = sse->pfx_len;
    avail = (size_t) (end - p);

    if (n && avail >= n && memcmp(p, sse->prev, n) == 0) {
        llr_json_copy_state(&sse->json, &sse->pfx_json);

        if (sse->pfx_model) {
            llr_sse_set_model(&sse->res, sse->pfx_model_str,
                              sse->pfx_model_len);
        }

        if (sse->pfx_id) {
            llr_sse_set_id(&sse->res, sse->pfx_id_str, sse->pfx_id_len);
        }

        sse->prefix_hits++;

        return llr_json_feed_line(&sse->json, p + n, end);
    }

    if (avail < n || sse->template_hits) {
        /*
         * the piece ends before the cached bytes could be compared; or
         * the events that repeat are matched to templates, and this is
         * one of the few others
         */
        return llr_json_feed_line(&sse->json, p, end);
    }

    k = avail < sse->prev_len ? avail : sse->prev_len;
    n = llr_sse_common(p, sse->prev, k);

    if (n == avail && avail < sse->prev_len) {
        /* the piece ends inside the common start: learn another time */
        return llr_json_feed_line(&sse->json, p, end);
    }

    n = llr_sse_learn(sse, p, n);

    /* this line is the previous one for the next event */

    k = avail < LLR_SSE_PREFIX ? avail : LLR_SSE_PREFIX;
    memcpy(sse->prev, p, k);
    sse->prev_len = k;

    return llr_json_feed_line(&sse->json, p + n, end);
}


/* the length of the common start of a and b (k bytes), up to a line end */

static size_t
llr_sse_common(const unsigned char *a, const unsigned char *b, size_t k)
{
    size_t    n;
#if defined(__SSE2__)
    unsigned  m;
    __m128i   x, cr, lf;

    cr = _mm_set1_epi8('\r');
    lf = _mm_set1_epi8('\n');

    for (n = 0; n + 16 <= k; n += 16) {
        x = _mm_loadu_si128((const __m128i *) (a + n));
        m = (unsigned) _mm_movemask_epi8(
                _mm_cmpeq_epi8(x, _mm_loadu_si128((const __m128i *) (b + n))));
        m &= ~(unsigned) _mm_movemask_epi8(
                 _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf)));

        if (m != 0xffff) {
            return n + (size_t) __builtin_ctz(~m);
        }
    }
#else
    n = 0;
#endif

    for ( /* void */ ; n < k && a[n] == b[n]; n++) {
        if (a[n] == '\r' || a[n] == '\n') {
            break;
        }
    }

    return n;
}


static void
llr_sse_set_model(llr_resp_t *res, const char *model, size_t len)
{
    memcpy(res->model, model, len);
    res->model[len] = '\0';
    res->model_len = (uint32_t) len;
    res->has_model = 1;
}


static void
llr_sse_set_id(llr_resp_t *res, const char *id, size_t len)
{
    memcpy(res->id, id, len);
    res->id[len] = '\0';
    res->id_len = (uint32_t) len;
}


/* a token may begin after these */
#define llr_sse_cut(c)  ((c) == ':' || (c) == ',' || (c) == '{' || (c) == '[')


/*
 * Learn the cache from the n bytes at p, the common start of this line
 * and the previous one (no line end among them): the longest part of
 * it that ends between two tokens and, scanned, changes nothing in res
 * but the model (which a resumed event sets again).  It is scanned into
 * the cache's own scanner with a copy of res, first up to the last
 * ':' ',' '{' or '['; if that changes res (the text of two equal
 * events), piece by piece to find the last place before the change,
 * then again up to there.  The event's scanner then takes the state,
 * and res the model.  Returns the bytes taken (0: none, the line is
 * scanned whole).
 */

static size_t
llr_sse_learn(llr_sse_t *sse, const unsigned char *p, size_t n)
{
    size_t       b, off, good;
    llr_json_t  *s;
    llr_resp_t   base, scr;

    sse->pfx_len = 0;

    while (n && !llr_sse_cut(p[n - 1])) {
        n--;
    }

    if (n < 16) {
        return 0;
    }

    /* res as the line starts, with what a part may set cleared */

    memcpy(&base, &sse->res, sizeof(llr_resp_t));
    base.has_model = 0;
    base.has_usage = 0;
    base.error = 0;

    s = &sse->pfx_json;

    llr_sse_learn_start(sse, &scr, &base);
    (void) llr_json_feed(s, p, n);

    if (!llr_json_at_boundary(s) || llr_sse_changed(&base, &scr)
        || sse->pfx_taps)
    {
        /* piece by piece: the last place before a change */

        llr_sse_learn_start(sse, &scr, &base);
        good = 0;
        off = 0;

        for (b = 0; b < n; b++) {
            if (!llr_sse_cut(p[b])) {
                continue;
            }

            (void) llr_json_feed(s, p + off, b + 1 - off);
            off = b + 1;

            if (llr_sse_changed(&base, &scr) || sse->pfx_taps) {
                break;
            }

            if (llr_json_at_boundary(s)) {
                good = off;
            }
        }

        if (good < 16) {
            return 0;
        }

        n = good;
        llr_sse_learn_start(sse, &scr, &base);
        (void) llr_json_feed(s, p, n);
    }

    /* the event's scanner and res as if they had scanned the n bytes */

    s->res = &sse->res;
    llr_json_copy_state(&sse->json, s);

    sse->pfx_model = scr.has_model;

    if (scr.has_model) {
        memcpy(sse->pfx_model_str, scr.model, scr.model_len);
        sse->pfx_model_len = scr.model_len;
        llr_sse_set_model(&sse->res, scr.model, scr.model_len);
    }

    /* a tapped stream's scanner reads the id: so does the prefix */

    sse->pfx_id = (s->tap && scr.id_len != UINT32_MAX);

    if (sse->pfx_id) {
        memcpy(sse->pfx_id_str, scr.id, scr.id_len);
        sse->pfx_id_len = scr.id_len;
        llr_sse_set_id(&sse->res, scr.id, scr.id_len);
    }

    sse->pfx_len = n;

    return n;
}


/*
 * The prefix scanner and scr afresh, from base; for a tapped stream
 * with a tap that counts its calls (a string of text, even an empty
 * one, is not in a prefix: the tap would not be told it) and with the
 * id unset (to tell whether the prefix sets it)
 */

static void
llr_sse_learn_start(llr_sse_t *sse, llr_resp_t *scr, const llr_resp_t *base)
{
    llr_json_t  *s;

    s = &sse->pfx_json;

    memcpy(scr, base, sizeof(llr_resp_t));
    llr_json_init_format(s, scr, llr_sse_format(sse));

    sse->pfx_taps = 0;

    if (sse->json.tap) {
        s->tap = llr_sse_pfx_tap;
        s->tap_ctx = sse;
        scr->id_len = UINT32_MAX;
    }
}


static void
llr_sse_pfx_tap(void *ctx, unsigned kind, uint32_t choice, uint32_t index,
    const unsigned char *raw, size_t len, unsigned flags)
{
    llr_sse_t *sse = ctx;

    sse->pfx_taps++;
}


/* whether scanning changed anything in scr but the model */

static int
llr_sse_changed(llr_resp_t *base, const llr_resp_t *scr)
{
    int     changed;
    size_t  tail;

    if (scr->has_usage || scr->error) {
        return 1;
    }

    /* base stays as it is: the next attempt starts from it again */

    base->has_model = scr->has_model;
    tail = offsetof(llr_resp_t, error_type);

    changed = memcmp(base, scr, offsetof(llr_resp_t, model)) != 0
              || memcmp((const char *) base + tail, (const char *) scr + tail,
                        sizeof(llr_resp_t) - tail) != 0;

    base->has_model = 0;

    return changed;
}


static void
llr_sse_event_start(llr_sse_t *sse, size_t off)
{
    sse->ev_active = 1;
    sse->ev_here = 1;
    sse->ev_start = off;
    sse->ev_mode = D_NONE;
    sse->ev_data_lines = 0;
    sse->other_len = 0;
    sse->holding = (sse->flags & LLR_SSE_STRIP_USAGE) ? 1 : 0;
    sse->held_len = 0;
    sse->ev_json = LLR_SSE_NO_JSON;
    sse->model_by = NULL;

    llr_json_reset(&sse->json);
}


static void
llr_sse_data(llr_sse_t *sse, const unsigned char *p, size_t n)
{
    size_t  k;

    while (n && sse->ev_mode == D_NONE) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
            n--;
            continue;
        }

        sse->ev_mode = (*p == '{') ? D_JSON : D_OTHER;
    }

    if (n == 0) {
        return;
    }

    if (sse->ev_mode == D_JSON) {
        (void) llr_json_feed(&sse->json, p, n);
        return;
    }

    /* D_OTHER: keep the start, for "[DONE]" */

    if (sse->other_len < sizeof(sse->other)) {
        k = sizeof(sse->other) - sse->other_len;
        k = (n < k) ? n : k;
        memcpy(sse->other + sse->other_len, p, k);
    }

    sse->other_len += n;
}


static int
llr_sse_dispatch(llr_sse_t *sse, const unsigned char *data, size_t end,
    size_t *out_start, int cr, llr_sse_emit_pt emit, void *ctx)
{
    int          strip;
    size_t       n;
    llr_json_t  *j;

    j = &sse->json;
    strip = 0;

    if (sse->ev_data_lines) {
        sse->events++;

        if (sse->ev_mode == D_JSON) {

            if (j->v_complete && !j->v_bad) {
                sse->json_events++;

                if (j->v_content && !sse->content_seen) {
                    sse->content_seen = 1;
                    sse->first_content = 1;
                    sse->first_content_offset = end;
                }

                if (j->v_end) {
                    sse->ended = 1;
                }

                strip = j->v_choices && j->v_choice_elems == 0
                        && j->v_usage && !j->v_error;

                llr_sse_follows(sse, data && sse->ev_here
                                     && sse->ev_data_lines == 1
                                     && sse->ev_json != LLR_SSE_NO_JSON
                                     && !j->v_usage && !j->v_error
                                     && !j->v_end,
                                data, end);

            } else {
                sse->bad_events++;
            }

        } else if (sse->ev_mode == D_OTHER) {
            n = sse->other_len;

            while (n && n <= sizeof(sse->other)
                   && (sse->other[n - 1] == ' ' || sse->other[n - 1] == '\t'
                       || sse->other[n - 1] == '\n'))
            {
                n--;
            }

            if (n == 6 && memcmp(sse->other, "[DONE]", 6) == 0) {
                sse->done = 1;

            } else {
                sse->bad_events++;
            }
        }
    }

    if (sse->holding) {
        if (strip) {
            /* drop the event: forward what precedes it in this piece */
            n = sse->ev_here ? sse->ev_start : 0;

            if (n > *out_start
                && llr_sse_emit(sse, data + *out_start, n - *out_start,
                                emit, ctx) != 0)
            {
                return -1;
            }

            *out_start = end;
            sse->held_len = 0;
            sse->stripped++;
            sse->skip_lf = cr;

        } else if (llr_sse_release(sse, emit, ctx) != 0) {
            return -1;
        }
    }

    sse->ev_active = 0;
    sse->holding = 0;

    return 0;
}


/* the event cannot be stripped: forward what is held, hold no more */
static int
llr_sse_release(llr_sse_t *sse, llr_sse_emit_pt emit, void *ctx)
{
    size_t  n;

    n = sse->held_len;
    sse->held_len = 0;
    sse->holding = 0;

    return llr_sse_emit(sse, sse->held, n, emit, ctx);
}


static int
llr_sse_hold(llr_sse_t *sse, const unsigned char *p, size_t n)
{
    size_t          size;
    unsigned char  *nb;

    if (sse->held_len + n > sse->held_size) {
        if (sse->mem.malloc == NULL) {
            return -1;
        }

        size = sse->held_size ? sse->held_size : 256;

        while (size < sse->held_len + n) {
            size *= 2;
        }

        if (size > sse->max_event) {
            /* the caller checked that held_len + n <= max_event */
            size = sse->max_event;
        }

        nb = sse->mem.malloc(sse->mem.ctx, size);
        if (nb == NULL) {
            return -1;
        }

        if (sse->held_len) {
            memcpy(nb, sse->held, sse->held_len);
        }

        if (sse->held && sse->mem.free) {
            sse->mem.free(sse->mem.ctx, sse->held);
        }

        sse->held = nb;
        sse->held_size = size;
    }

    memcpy(sse->held + sse->held_len, p, n);
    sse->held_len += n;

    return 0;
}


int
llr_sse_in_event(const llr_sse_t *sse)
{
    return (sse->ev_active || sse->line_state != L_START) ? 1 : 0;
}


/*
 * The event at data + i compared with the stream's own template, then
 * with the cache's: returns the offset just after it if one matches
 * (its results taken), or 0.
 */

static size_t
llr_sse_replay(llr_sse_t *sse, const unsigned char *data, size_t i,
    size_t len)
{
    unsigned              k, n, h, f, tries;
    uint64_t              count;
    llr_sse_cache_t      *cache;
    const llr_sse_tpl_t  *t;
    const unsigned char  *p, *end;
    const unsigned char  *span[LLR_JSON_HOLES][2];

    if (sse->json.tap) {
        return llr_sse_replay_tapped(sse, data, i, len);
    }

    end = data + len;
    t = &sse->own;

    if (sse->own_ok && t->bytes[0] == data[i]) {
        p = llr_sse_match(t, data + i, end, &count, NULL);

        if (p && (count || !t->text)) {
            /* the hint stays: the one after the stream's template */
            sse->tpl_prev = (uint8_t) (sse->own_src + 1);
            sse->tpl_skipped = 0;
            sse->tpl_missed = 0;
            return llr_sse_took(sse, t, data, p, count);
        }
    }

    /*
     * the cache's: first the one that followed the template the last
     * event matched (or the start of a stream) when that happened last
     */

    cache = sse->cache;
    n = cache->n;
    k = sse->tpl_last < n ? sse->tpl_last : 0;
    h = sse->tpl_prev;
    sse->tpl_prev = 0;
    sse->tpl_skipped = 0;
    sse->tpl_missed = 0;

    if (h) {
        f = cache->succ[h - 1];

        if (f == LLR_SSE_TEMPLATES + 1) {
            /* none did: this one is likely scanned too */
            sse->tpl_skipped = (uint8_t) h;
            return 0;
        }

        if (f && f - 1 < n) {
            k = f - 1;
        }
    }

    for (tries = n; /* void */ ; tries--) {
        if (tries == 0) {
            /* dispatching it tells what follows h (llr_sse_follows()) */
            sse->tpl_missed = (uint8_t) h;
            return 0;
        }

        t = &cache->tpl[k];

        if (t->bytes[0] == data[i]
            && t->anthropic == ((sse->flags & LLR_SSE_ANTHROPIC) != 0))
        {
            p = llr_sse_match(t, data + i, end, &count, span);

            if (p && (count || !t->text)) {
                break;
            }
        }

        k = (k + 1 < n) ? k + 1 : 0;
    }

    sse->tpl_last = (uint8_t) k;
    sse->tpl_prev = (uint8_t) (k + 1);

    if (h) {
        cache->succ[h - 1] = (uint8_t) (k + 1);
    }

    if (count) {
        /* an event with text: the next ones are likely the same */
        llr_sse_own(sse, k, span);
    }

    return llr_sse_took(sse, t, data, p, count);
}


/*
 * A tapped stream's event compared with its own template only: if it
 * matches, the tap is told the text of each of its text holes, as the
 * scanner would tell it (llr_sse_own_tapped()).
 */

static size_t
llr_sse_replay_tapped(llr_sse_t *sse, const unsigned char *data, size_t i,
    size_t len)
{
    unsigned              h, c;
    uint64_t              count;
    const llr_sse_tpl_t  *t;
    const unsigned char  *p;
    const unsigned char  *span[LLR_JSON_HOLES][2];

    t = &sse->own;

    if (!sse->own_ok || t->bytes[0] != data[i]) {
        return 0;
    }

    p = llr_sse_match(t, data + i, data + len, &count, span);

    if (p == NULL || (count == 0 && t->text)) {
        return 0;
    }

    c = 0;

    for (h = 0; h < t->nholes; h++) {
        if (t->kind[h] == LLR_HOLE_COUNT) {
            sse->json.tap(sse->json.tap_ctx, t->tap_kind[c],
                          t->tap_choice[c], t->tap_index[c], span[h][0],
                          (size_t) (span[h][1] - span[h][0]),
                          LLR_JSON_TAP_BEGIN | LLR_JSON_TAP_END);
            c++;
        }
    }

    return llr_sse_took(sse, t, data, p, count);
}


/* what dispatching the template's event did; the offset after it */

static llr_inline size_t
llr_sse_took(llr_sse_t *sse, const llr_sse_tpl_t *t,
    const unsigned char *data, const unsigned char *p, uint64_t count)
{
    unsigned  f;

    if (count) {
        sse->res.content_bytes = llr_add_sat(sse->res.content_bytes, count);
    }

    if (t->finish) {
        for (f = 0; f < LLR_FINISH_N; f++) {
            sse->res.finish[f] += t->finishes[f];
        }
    }

    if ((t->model || t->id) && sse->model_by != t) {
        if (t->model) {
            llr_sse_set_model(&sse->res, t->model_str, t->model_len);
        }

        if (t->id) {
            llr_sse_set_id(&sse->res, t->id_str, t->id_len);
        }

        /*
         * the stream's own template sets it again only if an event was
         * scanned since, or the template was made again (one of the
         * cache's may be replaced meanwhile by another stream's)
         */
        sse->model_by = (t == &sse->own) ? t : NULL;
    }

    if ((count || t->content) && !sse->content_seen) {
        sse->content_seen = 1;
        sse->first_content = 1;
        sse->first_content_offset = (size_t) (p - data);
    }

    sse->events++;
    sse->json_events++;
    sse->template_hits++;
    sse->after_cr = t->cr;

    if (sse->tpl_budget < LLR_SSE_LEARNS) {
        sse->tpl_budget++;
    }

    return (size_t) (p - data);
}


/*
 * The bytes at p compared with the template t: the end of the event if
 * they match, with *count the text its holes and fixed bytes add, and
 * span[k] (if not NULL) the bytes in its hole k; or NULL.
 */

static llr_inline const unsigned char *
llr_sse_match(const llr_sse_tpl_t *t, const unsigned char *p,
    const unsigned char *end, uint64_t *count,
    const unsigned char *(*span)[2])
{
    size_t                n;
    unsigned              k, kind;
    uint64_t              c, sum;
    const unsigned char  *b, *q;

    b = t->bytes;
    sum = t->fixed;

    for (k = 0; /* void */ ; k++) {
        n = t->seg[k];

        if ((size_t) (end - p) < n || memcmp(p, b, n) != 0) {
            return NULL;
        }

        p += n;
        b += n;

        if (k == t->nholes) {
            *count = sum;
            return p;
        }

        kind = t->kind[k];

        if (kind == LLR_HOLE_NUM) {
            /* what the scanner skips as a number: '-' or a digit first */
            if (p == end || (*p != '-' && (*p < '0' || *p > '9'))) {
                return NULL;
            }

            q = p;

            do {
                q++;
            } while (q < end && llr_json_numch[*q]);

        } else {
            q = llr_sse_string(p, end, &c);

            if (q == NULL) {
                return NULL;
            }

            if (kind == LLR_HOLE_COUNT) {
                sum = llr_add_sat(sum, c);
            }
        }

        if (span) {
            span[k][0] = p;
            span[k][1] = q;
        }

        p = q;
    }
}


/*
 * A string body at p, as llr_json_string_body() takes it: a string
 * without escapes is found here, inlined; any other is left to it.
 */

static llr_inline const unsigned char *
llr_sse_string(const unsigned char *p, const unsigned char *end,
    uint64_t *count)
{
    const unsigned char  *q;

    q = llr_json_find_l(p, end);

    if (q < end && *q == '"') {
        *count = (uint64_t) (q - p);
        return q;
    }

    return llr_json_string_body(p, end, count);
}


/*
 * The stream's own template, made from the cache's template k and the
 * event that just matched it (its holes' bytes in span): the text
 * holes stay holes, the others take the event's bytes, so that the
 * stream's next events are compared with fewer holes.  If the stream's
 * own template came from the same template already (and the event did
 * not match it), the holes whose bytes differ from it stay holes from
 * now on: they change from event to event (a sequence number, an
 * obfuscation string).  An event that matches the stream's template
 * matches template k too, with the same bytes between the holes and
 * the same values in them, so it has what template k's event had.
 */

static void
llr_sse_own(llr_sse_t *sse, unsigned k, const unsigned char *(*span)[2])
{
    size_t                n, seg, used;
    unsigned              h, nh;
    uint32_t              keep;
    llr_sse_tpl_t        *o;
    const llr_sse_tpl_t  *t;
    const unsigned char  *s;

    t = &sse->cache->tpl[k];
    o = &sse->own;
    keep = 0;

    if (sse->own_ok && sse->own_src == k
        && sse->own_gen == sse->cache->gen[k])
    {
        keep = sse->own_keep;

        for (h = 0; h < t->nholes; h++) {
            n = (size_t) (span[h][1] - span[h][0]);

            if (!(keep & (1u << h))
                && (n != sse->own_fill[h][1]
                    || memcmp(span[h][0], o->bytes + sse->own_fill[h][0], n)
                       != 0))
            {
                keep |= 1u << h;
            }
        }
    }

    /* what the event does, as template k's */

    memcpy(o, t, offsetof(llr_sse_tpl_t, bytes));

    s = t->bytes;
    used = 0;
    seg = 0;
    nh = 0;

    for (h = 0; /* void */ ; h++) {
        n = t->seg[h];
        memcpy(o->bytes + used, s, n);
        s += n;
        used += n;
        seg += n;

        if (h == t->nholes) {
            break;
        }

        n = (size_t) (span[h][1] - span[h][0]);

        /* what is left of template k must fit too */

        if (t->kind[h] == LLR_HOLE_COUNT || (keep & (1u << h))
            || used + n + (size_t) (t->len - (s - t->bytes))
               > LLR_SSE_TEMPLATE)
        {
            keep |= 1u << h;
            o->kind[nh] = t->kind[h];
            o->seg[nh++] = (uint16_t) seg;
            seg = 0;
            continue;
        }

        memcpy(o->bytes + used, span[h][0], n);
        sse->own_fill[h][0] = (uint16_t) used;
        sse->own_fill[h][1] = (uint16_t) n;
        used += n;
        seg += n;
    }

    o->seg[nh] = (uint16_t) seg;
    o->nholes = (uint8_t) nh;
    o->len = (uint16_t) used;

    sse->own_ok = 1;
    sse->model_by = NULL;
    sse->own_src = (uint8_t) k;
    sse->own_gen = sse->cache->gen[k];
    sse->own_keep = keep;
}


/*
 * A JSON event just dispatched that no template matched: it may be
 * learnt (if it can be a template and was compared with the cache's
 * templates, lest it be learnt twice); what follows the template the
 * event before it matched is noted: the template it became, or none
 * (it cannot be one, so the next such event is not compared).
 */

static void
llr_sse_follows(llr_sse_t *sse, int can, const unsigned char *data,
    size_t end)
{
    llr_sse_cache_t  *cache;

    cache = sse->cache;

    if (cache == NULL) {
        return;
    }

    if (sse->json.tap) {
        /* a tapped stream learns its own template only, from text */
        if (can && sse->tpl_budget && sse->json.v_content) {
            llr_sse_own_tapped(sse, data, end);
        }

        return;
    }

    if (sse->tpl_skipped) {
        if (can) {
            /* it was not compared: the next such event is */
            cache->succ[sse->tpl_skipped - 1] = 0;
        }

        return;
    }

    if (!can) {
        if (sse->tpl_missed) {
            cache->succ[sse->tpl_missed - 1] = LLR_SSE_TEMPLATES + 1;
        }

        return;
    }

    if (sse->tpl_budget && llr_sse_template(sse, data, end)
        && sse->tpl_missed)
    {
        cache->succ[sse->tpl_missed - 1] = (uint8_t) (cache->last + 1);
    }
}


/*
 * The event [ev_start, end) of data, just dispatched, may become a
 * template: the caller checked that it is all here, has one data line
 * (its JSON from ev_json) and no usage or error.  It is scanned again
 * by the cache's scanner, from an empty res, for what it does and for
 * its holes.
 */

static int
llr_sse_template(llr_sse_t *sse, const unsigned char *data, size_t end)
{
    unsigned          slot;
    llr_sse_cache_t  *cache;

    cache = sse->cache;

    if (!llr_sse_rescan(sse, data, end, 0)
        || !llr_sse_fits(&cache->scan, data + sse->ev_start, data + end, 0))
    {
        return 0;
    }

    /* the oldest template makes room */

    if (cache->n < LLR_SSE_TEMPLATES) {
        slot = cache->n++;

    } else {
        slot = cache->next;
        cache->next = (cache->next + 1) % LLR_SSE_TEMPLATES;
    }

    /* a stream's own copy of the old one no longer names its source */
    cache->gen[slot]++;
    cache->last = slot;

    llr_sse_fill(sse, &cache->tpl[slot], data, end, 0);

    return 1;
}


/*
 * A tapped stream's own template (the stream's text goes to the tap,
 * llr_json_t.tap: the quality signals), made from an event with text
 * that was just scanned (as llr_sse_template() requires it): scanned
 * again with a tap that notes its calls, it is kept if every call is
 * one of its holes of text, whole.  Its holes are then those of the
 * scan with the tap (the response's "id" is read then: its bytes are
 * the template's), but for the numbers that may be an "index": their
 * bytes are kept too (the tap's choice and tool call come from them;
 * the first template of a stream keeps those of every hole but the
 * text's), so that an event that matches it has the same text in the
 * same choices and calls, each string told to the tap as the scanner
 * tells it (one call, LLR_TEXT_BEGIN | LLR_TEXT_END).
 */

static void
llr_sse_own_tapped(llr_sse_t *sse, const unsigned char *data, size_t end)
{
    unsigned           k, c, loose;
    uint32_t           fold;
    llr_json_t        *j;
    llr_sse_tpl_t     *o;
    llr_sse_cache_t   *cache;
    llr_sse_tapped_t  *tc;

    cache = sse->cache;
    j = &cache->scan;

    if (!llr_sse_rescan(sse, data, end, 1)
        || cache->res.content_bytes == 0
        || cache->ntapped > LLR_JSON_HOLES)
    {
        return;
    }

    /*
     * The first template keeps the bytes of every hole but the text's
     * (fewer holes to compare); once an event with text missed it, the
     * next one keeps only those of the numbers that may be an "index"
     * (a sequence number, an obfuscation string stay holes)
     */

    loose = sse->own_ok;
    fold = 0;
    c = 0;

    for (k = 0; k < j->nholes; k++) {

        if (j->hole_kind[k] != LLR_HOLE_COUNT) {
            if (!loose
                || (j->hole_kind[k] == LLR_HOLE_NUM
                    && !llr_sse_plain_key(j->hole[k][0],
                                          data + sse->ev_start)))
            {
                fold |= 1u << k;
            }

            continue;
        }

        tc = &cache->tapped[c];

        if (c == cache->ntapped || tc->raw != j->hole[k][0]
            || tc->len != (size_t) (j->hole[k][1] - j->hole[k][0])
            || tc->flags != (LLR_JSON_TAP_BEGIN | LLR_JSON_TAP_END))
        {
            return;
        }

        c++;
    }

    if (c != cache->ntapped
        || !llr_sse_fits(j, data + sse->ev_start, data + end, fold))
    {
        return;
    }

    o = &sse->own;

    llr_sse_fill(sse, o, data, end, fold);

    for (c = 0; c < cache->ntapped; c++) {
        o->tap_kind[c] = cache->tapped[c].kind;
        o->tap_choice[c] = cache->tapped[c].choice;
        o->tap_index[c] = cache->tapped[c].index;
    }

    sse->own_ok = 1;
    sse->model_by = NULL;
}


/* the tap of a tapped rescan: its calls noted, the text not read */

static void
llr_sse_rec(void *ctx, unsigned kind, uint32_t choice, uint32_t index,
    const unsigned char *raw, size_t len, unsigned flags)
{
    llr_sse_cache_t *cache = ctx;

    llr_sse_tapped_t  *tc;

    if (cache->ntapped < LLR_JSON_HOLES) {
        tc = &cache->tapped[cache->ntapped];
        tc->raw = raw;
        tc->len = len;
        tc->kind = (uint8_t) kind;
        tc->choice = choice;
        tc->index = index;
        tc->flags = (uint8_t) flags;
    }

    /* more than LLR_JSON_HOLES: not a template */
    cache->ntapped++;
}


/*
 * Whether the number at p is the value of a member with a key of
 * letters, digits and '_' only, other than "index" (one the scanner
 * takes for nothing, never for the tap's choice or tool call); 0 when
 * in doubt.
 */

#define llr_sse_ws(c)  ((c) == ' ' || (c) == '\t')

static int
llr_sse_plain_key(const unsigned char *p, const unsigned char *start)
{
    const unsigned char  *q;

    while (p > start && llr_sse_ws(p[-1])) {
        p--;
    }

    if (p == start || *--p != ':') {
        return 0;
    }

    while (p > start && llr_sse_ws(p[-1])) {
        p--;
    }

    if (p == start || *--p != '"') {
        return 0;
    }

    /* p: the key's closing quote */

    for (q = p; q > start; q--) {
        if (!((q[-1] >= 'a' && q[-1] <= 'z') || (q[-1] >= 'A' && q[-1] <= 'Z')
              || (q[-1] >= '0' && q[-1] <= '9') || q[-1] == '_'))
        {
            break;
        }
    }

    if (q == p || q == start || q[-1] != '"'
        || (q - 1 > start && q[-2] == '\\'))
    {
        return 0;
    }

    return !(p - q == 5 && memcmp(q, "index", 5) == 0);
}


/*
 * The event [ev_start, end) of data scanned again by the cache's
 * scanner, from an empty res (with a tap that notes its calls if
 * tapped): 1 if it can be a template (a complete JSON value without
 * usage, error or end; its holes in order).
 */

static int
llr_sse_rescan(llr_sse_t *sse, const unsigned char *data, size_t end,
    int tapped)
{
    unsigned              k, nh;
    uint64_t              added;
    llr_json_t           *j;
    llr_resp_t           *res;
    llr_sse_cache_t      *cache;
    const unsigned char  *p, *last;

    cache = sse->cache;
    j = &cache->scan;
    res = &cache->res;
    p = data + sse->ev_start;
    last = data + end;

    sse->tpl_budget--;

    memset(res, 0, sizeof(llr_resp_t));
    llr_json_init_format(j, res, llr_sse_format(sse));

    if (tapped) {
        /* whether the event sets the id: it may set it to "" */
        res->id_len = UINT32_MAX;
        cache->ntapped = 0;
        j->tap = llr_sse_rec;
        j->tap_ctx = cache;
    }

    (void) llr_json_feed_line(j, data + sse->ev_json, last);

    if (!j->v_complete || j->v_bad || j->v_usage || j->v_error || j->v_end
        || res->has_usage || res->error || res->json_error)
    {
        return 0;
    }

    added = res->content_bytes;
    nh = j->nholes;

    if (added == UINT64_MAX || added < j->hole_count) {
        return 0;
    }

    for (k = 0; k < nh; k++) {
        if (j->hole[k][0] < (k ? j->hole[k - 1][1] : p + 1)
            || j->hole[k][1] < j->hole[k][0] || j->hole[k][1] > last)
        {
            return 0;
        }
    }

    return 1;
}


/* whether the bytes of [p, last) but its holes not in fold fit */

static int
llr_sse_fits(const llr_json_t *j, const unsigned char *p,
    const unsigned char *last, uint32_t fold)
{
    size_t    n;
    unsigned  k;

    n = (size_t) (last - p);

    for (k = 0; k < j->nholes; k++) {
        if (!(fold & (1u << k))) {
            n -= (size_t) (j->hole[k][1] - j->hole[k][0]);
        }
    }

    return n <= LLR_SSE_TEMPLATE;
}


/*
 * The template t of the event [ev_start, end) of data, as the cache's
 * scanner just scanned it (llr_sse_rescan()): its bytes with the holes
 * cut out, but for those in fold, and what the event did.
 */

static void
llr_sse_fill(llr_sse_t *sse, llr_sse_tpl_t *t, const unsigned char *data,
    size_t end, uint32_t fold)
{
    size_t                n;
    unsigned              k, f, nh, th;
    llr_json_t           *j;
    llr_resp_t           *res;
    unsigned char        *b;
    const unsigned char  *p, *last;

    j = &sse->cache->scan;
    res = &sse->cache->res;
    p = data + sse->ev_start;
    last = data + end;
    nh = j->nholes;

    b = t->bytes;
    th = 0;

    for (k = 0; k <= nh; k++) {
        if (k < nh && (fold & (1u << k))) {
            /* its bytes stay: the segment goes on after it */
            continue;
        }

        n = (size_t) ((k < nh ? j->hole[k][0] : last) - p);

        memcpy(b, p, n);
        b += n;
        t->seg[th] = (uint16_t) n;

        if (k < nh) {
            t->kind[th++] = j->hole_kind[k];
            p = j->hole[k][1];
        }
    }

    t->len = (uint16_t) (b - t->bytes);
    t->nholes = (uint8_t) th;
    t->fixed = res->content_bytes - j->hole_count;
    t->cr = (data[end - 1] == '\r');
    t->text = (res->content_bytes != 0);
    t->content = (j->v_content && res->content_bytes == 0);
    t->finish = j->v_finish;
    t->model = j->v_model;
    t->anthropic = (sse->flags & LLR_SSE_ANTHROPIC) != 0;
    t->id = (j->tap && res->id_len != UINT32_MAX);

    for (f = 0; f < LLR_FINISH_N; f++) {
        t->finishes[f] = res->finish[f];
    }

    if (j->v_model) {
        t->model_len = res->model_len;
        memcpy(t->model_str, res->model, res->model_len);
    }

    if (t->id) {
        t->id_len = res->id_len;
        memcpy(t->id_str, res->id, res->id_len);
    }
}
