/*
 * Unit tests of core/llr_sse: the SSE parser, split at every byte, in
 * strip mode and not.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "llr_cost.h"
#include "llr_sse.h"


#define USAGE_EVENT                                                         \
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","           \
    "\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[],"               \
    "\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":10,"             \
    "\"total_tokens\":29,\"prompt_tokens_details\":{\"cached_tokens\":3},"  \
    "\"completion_tokens_details\":{\"reasoning_tokens\":2}}}\n\n"

#define CONTENT_EVENT                                                       \
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","           \
    "\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"    \
    "\"delta\":{\"content\":\"H\xc3\xa9\\ud83d\\ude00\"},"                  \
    "\"finish_reason\":null}],\"usage\":null}\n\n"

/* LF template; variants replace "\n" by "\r\n" or "\r" */
static const char  stream_head[] =
    ": keep-alive\n\n"
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"finish_reason\":null}],\"usage\":null}\n\n"
    CONTENT_EVENT
    "event: chunk\nid: 7\n"
    "data: {\"id\":\"c1\",\"model\":\"gpt-4o-mini\",\n"
    "data:\"choices\":[{\"index\":0,\"delta\":{\"content\":\"abc\"},\n"
    "data: \"finish_reason\":\"stop\"}]}\n\n";

static const char  stream_usage[] = USAGE_EVENT;

static const char  stream_tail[] = "\n: bye\n\ndata: [DONE]\n\n";


typedef struct {
    unsigned char  *buf;
    size_t          len;
    size_t          size;
    const unsigned char  *in_lo, *in_hi;   /* the piece being fed */
    size_t          outside;               /* emits not inside it */
    size_t          calls;
} sink_t;


static int
sink_emit(void *ctx, const unsigned char *p, size_t n)
{
    sink_t  *s = ctx;

    if (s->len + n > s->size) {
        s->size = (s->len + n) * 2 + 64;
        s->buf = realloc(s->buf, s->size);
        if (s->buf == NULL) {
            return -1;
        }
    }

    if (p < s->in_lo || p + n > s->in_hi) {
        s->outside++;
    }

    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->calls++;

    return 0;
}


static void *
mem_alloc(void *ctx, size_t size)
{
    size_t  *max = ctx;

    if (max && size > *max) {
        *max = size;
    }

    return malloc(size);
}


static void
mem_free(void *ctx, void *p)
{
    free(p);
}


static llr_alloc_t  mem = { mem_alloc, NULL, mem_free, NULL };


/* replace "\n" by eol */
static char *
with_eol(const char *s, const char *eol, size_t *len)
{
    size_t  i, n, el;
    char   *r;

    el = strlen(eol);
    r = malloc(strlen(s) * el + 1);
    n = 0;

    for (i = 0; s[i]; i++) {
        if (s[i] == '\n') {
            memcpy(r + n, eol, el);
            n += el;

        } else {
            r[n++] = s[i];
        }
    }

    r[n] = '\0';
    *len = n;

    return r;
}


typedef struct {
    llr_sse_t   sse;
    llr_sse_cache_t  cache;
    sink_t      out;
    size_t      first_at;   /* absolute offset of first_content, or 0 */
    int         first_n;    /* how often first_content was set */
} run_t;


static unsigned  seed;
static llr_sse_cache_t  *shared;     /* run(): templates of other runs */

static unsigned
rnd(void)
{
    seed = seed * 1103515245 + 12345;
    return (seed >> 16) & 0x7fff;
}


/*
 * mode 0: one piece; 1: two pieces split at k; 2: pieces of k bytes;
 * 3: random pieces of 1..k bytes
 */
static void
run(run_t *r, const char *s, size_t len, unsigned flags, size_t max_event,
    int mode, size_t k)
{
    size_t  i, n;

    memset(&r->out, 0, sizeof(sink_t));
    r->first_at = 0;
    r->first_n = 0;
    llr_sse_init(&r->sse, flags, max_event, &mem);

    /* a cache of its own, or one shared with earlier runs */
    if (shared == NULL) {
        llr_sse_cache_init(&r->cache);
    }

    llr_sse_use_cache(&r->sse, shared ? shared : &r->cache);

    for (i = 0; i < len; i += n) {
        switch (mode) {
        case 0: n = len; break;
        case 1: n = (i == 0) ? k : len - i; break;
        case 2: n = k; break;
        default: n = 1 + rnd() % k; break;
        }

        if (n > len - i) {
            n = len - i;
        }

        /* feed from a private copy, so pointers can be checked */
        {
            unsigned char  *piece = malloc(n ? n : 1);

            memcpy(piece, s + i, n);
            r->out.in_lo = piece;
            r->out.in_hi = piece + n;

            if (llr_sse_feed(&r->sse, piece, n, sink_emit, &r->out) != 0) {
                printf("# feed failed\n");
            }

            if (r->sse.first_content) {
                r->first_n++;
                r->first_at = i + r->sse.first_content_offset;
            }

            free(piece);
        }
    }

    r->out.in_lo = NULL;
    r->out.in_hi = NULL;
    llr_sse_finish(&r->sse, sink_emit, &r->out);

    if (r->sse.first_content) {
        r->first_n++;
        r->first_at = len;
    }
}


static void
done(run_t *r)
{
    free(r->out.buf);
    llr_sse_free(&r->sse);
}


static int
same(run_t *a, run_t *b, const char *exp, size_t exp_len)
{
    if (memcmp(&a->sse.res, &b->sse.res, sizeof(llr_resp_t)) != 0
        || a->sse.events != b->sse.events
        || a->sse.json_events != b->sse.json_events
        || a->sse.bad_events != b->sse.bad_events
        || a->sse.stripped != b->sse.stripped
        || a->sse.oversized_events != b->sse.oversized_events
        || a->sse.content_seen != b->sse.content_seen
        || a->sse.done != b->sse.done
        || a->sse.ended != b->sse.ended
        || a->first_at != b->first_at || a->first_n != b->first_n)
    {
        printf("# results differ\n");
        return 0;
    }

    if (b->out.len != exp_len || memcmp(b->out.buf, exp, exp_len) != 0) {
        printf("# output differs (%zu vs %zu bytes)\n", b->out.len, exp_len);
        return 0;
    }

    return 1;
}


static void
test_stream(const char *name, const char *eol)
{
    size_t   len, hl, ul, tl, k, explen;
    char    *full, *exp, *h, *u, *t, *body;
    run_t    ref, r;
    int      good, strip;
    unsigned flags;

    h = with_eol(stream_head, eol, &hl);
    u = with_eol(stream_usage, eol, &ul);
    t = with_eol(stream_tail, eol, &tl);

    full = malloc(hl + ul + tl + 1);
    memcpy(full, h, hl);
    memcpy(full + hl, u, ul);
    memcpy(full + hl + ul, t, tl);
    len = hl + ul + tl;

    exp = malloc(hl + tl + 1);
    memcpy(exp, h, hl);
    memcpy(exp + hl, t, tl);

    for (strip = 0; strip < 2; strip++) {
        flags = strip ? LLR_SSE_STRIP_USAGE : 0;
        body = strip ? exp : full;
        explen = strip ? hl + tl : len;

        run(&ref, full, len, flags, 0, 0, 0);

        if (strip == 0) {
            is_int(ref.out.calls, 1, "%s: one emit without strip", name);
            is_int(ref.out.outside, 0, "%s: it is the piece itself", name);
            is_int(ref.sse.events, 5, "%s: 5 events with data", name);
            is_int(ref.sse.json_events, 4, "%s: 4 JSON events", name);
            is_int(ref.sse.bad_events, 0, "%s: no bad event", name);
            ok(ref.sse.done, "%s: [DONE] seen", name);
            ok(ref.sse.res.has_usage, "%s: usage seen", name);
            is_int(ref.sse.res.prompt_tokens, 19, "%s: prompt", name);
            is_int(ref.sse.res.completion_tokens, 10, "%s: completion",
                   name);
            is_int(ref.sse.res.total_tokens, 29, "%s: total", name);
            is_int(ref.sse.res.cached_tokens, 3, "%s: cached", name);
            is_int(ref.sse.res.reasoning_tokens, 2, "%s: reasoning", name);
            is_str(ref.sse.res.model, "gpt-4o-mini", "%s: model", name);
            is_int(ref.sse.res.finish[LLR_FINISH_STOP], 1, "%s: stop", name);
            /* "Hé😀" = 1 + 2 + 4, "abc" = 3 */
            is_int(ref.sse.res.content_bytes, 10, "%s: content bytes",
                   name);
            is_int(ref.first_n, 1, "%s: first content once", name);
            {
                char   *ce;
                size_t  cl;
                char   *at;

                ce = with_eol(CONTENT_EVENT, eol, &cl);
                at = strstr(full, ce);
                /* just after the line end that completed the event */
                is_int(ref.first_at, (size_t) (at - full) + cl
                                     - (strcmp(eol, "\r\n") == 0),
                       "%s: first content at the end of its event", name);
                free(ce);
            }

        } else {
            is_int(ref.sse.stripped, 1, "%s: one event stripped", name);
            is_int(ref.out.outside, 0,
                   "%s: strip mode, one piece: zero-copy", name);
            ok(ref.out.len == explen
               && memcmp(ref.out.buf, body, explen) == 0,
               "%s: strip output is the input minus the usage event",
               name);
            ok(ref.sse.res.has_usage
               && ref.sse.res.completion_tokens == 10,
               "%s: stripped usage is still counted", name);
        }

        good = 1;
        for (k = 1; k < len && good; k++) {
            run(&r, full, len, flags, 0, 1, k);
            good = same(&ref, &r, body, explen);
            if (!good) {
                printf("# split at %zu\n", k);
            }
            done(&r);
        }
        ok(good, "%s%s: identical when split in two at every byte", name,
           strip ? " strip" : "");

        good = 1;
        for (k = 1; k < 40 && good; k++) {
            run(&r, full, len, flags, 0, 2, k);
            good = same(&ref, &r, body, explen);
            if (!good) {
                printf("# pieces of %zu\n", k);
            }
            done(&r);
        }
        ok(good, "%s%s: identical in pieces of 1..39 bytes", name,
           strip ? " strip" : "");

        seed = 42;
        good = 1;
        for (k = 0; k < 500 && good; k++) {
            run(&r, full, len, flags, 0, 3, 1 + k % 64);
            good = same(&ref, &r, body, explen);
            done(&r);
        }
        ok(good, "%s%s: identical in 500 random splits (seed 42)", name,
           strip ? " strip" : "");

        done(&ref);
    }

    free(full);
    free(exp);
    free(h);
    free(u);
    free(t);
}


static void
feed_str(run_t *r, const char *s, unsigned flags, size_t max_event,
    int mode, size_t k)
{
    run(r, s, strlen(s), flags, max_event, mode, k);
}


/*
 * Line ends found 16 and 32 bytes at a time: data lines of every length
 * around those boundaries, with every line end, split at every byte
 * (two pieces) and fed byte by byte, stripped and not.
 */
static void
test_line_lengths(void)
{
    int          pad, e, bad;
    char         s[1024], exp[1024];
    size_t       n, en, k;
    run_t        ref, r;
    const char  *eols[] = { "\n", "\r\n", "\r" }, *eol;

    bad = 0;

    for (e = 0; e < 3; e++) {
        eol = eols[e];

        for (pad = 0; pad <= 70; pad += (pad < 40) ? 1 : 7) {
            n = (size_t) sprintf(s, "data: {\"choices\":[{\"delta\":"
                                 "{\"content\":\"%.*s\"}}]}%s%s"
                                 ": c%.*s%s%s",
                                 pad, "0123456789abcdef0123456789abcdef"
                                 "0123456789abcdef0123456789abcdef0123456",
                                 eol, eol, pad % 33, "0123456789abcdef"
                                 "0123456789abcdef0", eol, eol);
            en = n;
            n += (size_t) sprintf(s + n, "data:{\"choices\":[],"
                                  "\"usage\":{\"prompt_tokens\":%d}}%s%s",
                                  pad, eol, eol);
            memcpy(exp, s, en);
            en += (size_t) sprintf(exp + en, "data: [DONE]%s%s", eol, eol);
            n += (size_t) sprintf(s + n, "data: [DONE]%s%s", eol, eol);

            run(&ref, s, n, LLR_SSE_STRIP_USAGE, 0, 0, 0);

            if (ref.sse.res.content_bytes != (uint64_t) pad
                || ref.sse.res.prompt_tokens != (uint64_t) pad
                || ref.sse.events != 3 || ref.sse.json_events != 2
                || ref.sse.stripped != 1 || !ref.sse.done
                || ref.out.len != en || memcmp(ref.out.buf, exp, en) != 0)
            {
                printf("# eol %d pad %d: wrong results\n", e, pad);
                bad++;
            }

            for (k = 1; k < n; k++) {
                run(&r, s, n, LLR_SSE_STRIP_USAGE, 0, 1, k);

                if (!same(&ref, &r, exp, en)) {
                    printf("# eol %d pad %d split at %zu\n", e, pad, k);
                    bad++;
                }

                done(&r);
            }

            run(&r, s, n, LLR_SSE_STRIP_USAGE, 0, 2, 1);

            if (!same(&ref, &r, exp, en)) {
                printf("# eol %d pad %d byte by byte\n", e, pad);
                bad++;
            }

            done(&r);

            /* not stripping: every byte passes, the same results */
            run(&r, s, n, 0, 0, 3, 17);

            if (r.out.len != n || memcmp(r.out.buf, s, n) != 0
                || memcmp(&r.sse.res, &ref.sse.res, sizeof(llr_resp_t)) != 0
                || r.sse.events != 3 || r.sse.stripped != 0)
            {
                printf("# eol %d pad %d not stripping\n", e, pad);
                bad++;
            }

            done(&r);
            done(&ref);
        }
    }

    is_int(bad, 0, "data lines of every length near 16/32 bytes, every eol,"
           " split at every byte");

    /* "data:" itself split, and fields that only start like it */
    n = (size_t) sprintf(s, "dat: x\ndata\ndatum: {}\ndata:{\"choices\":"
                         "[{\"text\":\"abc\"}]}\n\ndata\n\n");
    run(&ref, s, n, 0, 0, 0, 0);
    is_int(ref.sse.events, 2, "\"data\" without colon is an empty line");
    is_int(ref.sse.json_events, 1, "one JSON event");
    is_int(ref.sse.res.content_bytes, 3, "its text");
    bad = 0;

    for (k = 1; k < n; k++) {
        run(&r, s, n, 0, 0, 1, k);
        bad += !same(&ref, &r, s, n);
        done(&r);
    }

    is_int(bad, 0, "odd field names: same at every split");
    done(&ref);
}


/*
 * JSON data lines scanned up to their line end by the JSON scanner
 * itself (llr_json_feed_line): a line end in every kind of token (the
 * data is joined with "\n" and goes on), each line end, every split.
 */
static void
test_json_lines(void)
{
    int          i, e, bad;
    char         s[1024];
    size_t       n, k;
    run_t        ref, r;

    static const char  *eols[] = { "\n", "\r\n", "\r" };

    static const struct {
        const char  *data;
        uint64_t     content;    /* content bytes */
        uint64_t     prompt;
        int          json;       /* a JSON event */
    } cases[] = {
        /* a line end inside a counted string: "a\nb" */
        { "{\"choices\":[{\"delta\":{\"content\":\"a@data: b\"}}]}",
          3, 0, 1 },
        /* inside a skipped string, a key, between tokens */
        { "{\"id\":\"x@data:y\",\"us@data:age\":{\"prompt_tokens\":2}}",
          0, 0, 1 },
        { "{\"usage\":@data:{\"prompt_tokens\"@data: :3}}", 0, 3, 1 },
        /* inside a number, a literal */
        { "{\"usage\":{\"prompt_tokens\":1@data:2}}", 0, 1, 0 },
        { "{\"usage\":nu@data:ll}", 0, 0, 0 },
        { "{\"usage\":{\"prompt_tokens\":12}@data:}", 0, 12, 1 },
        /* escapes and \u near the line end, a captured string */
        { "{\"model\":\"m\\u00e9\",\"choices\":[{\"delta\":{\"content\":"
          "\"\\ud83d\\ude00\\n\"}}],\"x\":\"\\u0041\"}", 5, 0, 1 },
        { "{\"choices\":[{\"delta\":{\"content\":\"\\u00@data:41\"}}]}",
          0, 0, 0 },
        /* junk after the value, and a line with only the value's end */
        { "{\"usage\":{\"prompt_tokens\":5}} x", 0, 5, 0 },
        { "{\"usage\":{\"prompt_tokens\":6}@data:}  ", 0, 6, 1 },
        /* data:{ without the space, deep and empty containers */
        { "{\"a\":[[[{}]],[]],\"choices\":[{\"text\":\"abc\"}]}", 3, 0, 1 }
    };

    bad = 0;

    for (e = 0; e < 3; e++) {
        for (i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++) {
            const char  *d;

            n = (size_t) sprintf(s, "data: ");

            for (d = cases[i].data; *d; d++) {
                if (*d == '@') {
                    n += (size_t) sprintf(s + n, "%s", eols[e]);

                } else {
                    s[n++] = *d;
                }
            }

            n += (size_t) sprintf(s + n, "%s%sdata: [DONE]%s%s", eols[e],
                                  eols[e], eols[e], eols[e]);

            run(&ref, s, n, 0, 0, 0, 0);

            if (ref.sse.res.content_bytes != cases[i].content
                || ref.sse.res.prompt_tokens != cases[i].prompt
                || ref.sse.json_events != (uint64_t) cases[i].json
                || ref.sse.events != 2 || !ref.sse.done)
            {
                printf("# case %d eol %d: content %llu prompt %llu "
                       "json %llu\n", i, e,
                       (unsigned long long) ref.sse.res.content_bytes,
                       (unsigned long long) ref.sse.res.prompt_tokens,
                       (unsigned long long) ref.sse.json_events);
                bad++;
            }

            for (k = 1; k < n; k++) {
                run(&r, s, n, 0, 0, 1, k);

                if (!same(&ref, &r, s, n)) {
                    printf("# case %d eol %d split at %zu\n", i, e, k);
                    bad++;
                }

                done(&r);
            }

            run(&r, s, n, LLR_SSE_STRIP_USAGE, 0, 2, 1);

            if (r.sse.stripped != 0 || r.out.len != n) {
                printf("# case %d eol %d: stripped\n", i, e);
                bad++;
            }

            done(&r);
            done(&ref);
        }
    }

    is_int(bad, 0, "line ends inside JSON tokens: results, every split");
}



/*
 * The prefix cache: a stream of chunk events resumes from the cached
 * state, and every stream gives what it gives without the cache, fed
 * whole and in pieces, in both modes; with the event template too.
 * hits: events resumed with the prefix cache alone (the template off).
 */

#define CHUNK(model, text)                                                    \
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","      \
    "\"created\":1700000000,\"model\":\"" model "\",\"choices\":[{"          \
    "\"index\":0,\"delta\":{\"content\":\"" text "\"},"                      \
    "\"finish_reason\":null}]}\n\n"

static void
cache_case(const char *name, const char *s, uint64_t hits)
{
    int       mode, ok1;
    size_t    len, k;
    unsigned  flags, f;
    run_t     ref, r;

    len = strlen(s);

    for (f = 0; f <= 2 * LLR_SSE_STRIP_USAGE + 1; f++) {
        flags = (f & LLR_SSE_STRIP_USAGE) | ((f & 2) ? LLR_SSE_NO_TEMPLATE
                                                     : 0);
        run(&ref, s, len, flags | LLR_SSE_NO_CACHE, 0, 0, 0);
        run(&r, s, len, flags, 0, 0, 0);

        if (flags == LLR_SSE_NO_TEMPLATE && hits != (uint64_t) -1) {
            is_int(r.sse.prefix_hits, hits, "%s: events resumed", name);
        }

        is_int(ref.sse.prefix_hits + ref.sse.template_hits, 0,
               "%s: none without the cache", name);
        ok(same(&ref, &r, (const char *) ref.out.buf, ref.out.len),
           "%s (flags %u): same as without the cache, whole", name, flags);
        done(&r);

        ok1 = 1;

        for (mode = 1; mode <= 3 && ok1; mode++) {
            for (k = 1; k < len && ok1; k += (mode == 1) ? 7 : 13) {
                run(&r, s, len, flags, 0, mode, k);
                ok1 = same(&ref, &r, (const char *) ref.out.buf,
                           ref.out.len);
                if (!ok1) {
                    printf("# mode %d, k %zu\n", mode, k);
                }
                done(&r);
            }
        }

        ok(ok1, "%s (flags %u): same in pieces", name, flags);
        done(&ref);
    }
}


static void
test_prefix_cache(void)
{
    run_t  r;

    cache_case("content events", CHUNK("gpt-4o", "Hello") CHUNK("gpt-4o",
               " there") CHUNK("gpt-4o", ",") CHUNK("gpt-4o", " how")
               CHUNK("gpt-4o", " are you?")
               "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion."
               "chunk\",\"created\":1700000000,\"model\":\"gpt-4o\","
               "\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
               "\"completion_tokens\":5,\"total_tokens\":14}}\n\n"
               "data: [DONE]\n\n", 3);

    /*
     * pieces of 997 bytes: an event cut by a piece is scanned whole
     * and does not replace the cached start with a shorter one
     */
    {
        char    *big;
        size_t   i, len, ev, pieces;
        run_t    ref;

        ev = strlen(CHUNK("gpt-4o", "word"));
        big = malloc(60 * ev + 1);
        for (i = 0; i < 60; i++) {
            memcpy(big + i * ev, CHUNK("gpt-4o", "word"), ev);
        }
        len = 60 * ev;
        big[len] = '\0';
        pieces = len / 997;

        run(&r, big, len, LLR_SSE_NO_TEMPLATE, 0, 2, 997);
        run(&ref, big, len, LLR_SSE_NO_CACHE, 0, 2, 997);
        ok(r.sse.prefix_hits + 2 + pieces >= 60, "997-byte pieces: %llu "
           "of 60 events resumed (%zu pieces)",
           (unsigned long long) r.sse.prefix_hits, pieces + 1);
        ok(same(&ref, &r, (const char *) ref.out.buf, ref.out.len),
           "997-byte pieces: same as without the cache");
        done(&r);
        done(&ref);
        free(big);
    }

    /* the content events after the second resume, the model set again */
    feed_str(&r, CHUNK("gpt-4o", "a") CHUNK("gpt-4o", "b")
             CHUNK("gpt-4o", "c"), LLR_SSE_NO_TEMPLATE, 0, 0, 0);
    is_int(r.sse.prefix_hits, 1, "the third event resumes");
    is_str(r.sse.res.model, "gpt-4o", "the model");
    is_int(r.sse.res.content_bytes, 3, "content of all three counted");
    done(&r);

    /* a model in between: the resumed events set theirs again */
    cache_case("model changes", CHUNK("m1", "a") CHUNK("m1", "b")
               CHUNK("m2-longer-name", "c") CHUNK("m1", "d")
               CHUNK("m1", "e"), (uint64_t) -1);
    feed_str(&r, CHUNK("m1", "a") CHUNK("m1", "b")
             CHUNK("m2-longer-name", "c") CHUNK("m1", "d"), 0, 0, 0, 0);
    is_str(r.sse.res.model, "m1", "the last event's model");
    done(&r);

    /* usage before the text: never cached (it is set, not added) */
    cache_case("usage in every event",
               "data: {\"usage\":{\"prompt_tokens\":1},\"choices\":[{"
               "\"delta\":{\"content\":\"x\"}}]}\n\n"
               "data: {\"usage\":{\"prompt_tokens\":2},\"choices\":[{"
               "\"delta\":{\"content\":\"y\"}}]}\n\n"
               "data: {\"usage\":{\"prompt_tokens\":1},\"choices\":[{"
               "\"delta\":{\"content\":\"z\"}}]}\n\n", 0);

    /* text before the common part ends: cached up to the text */
    cache_case("text in the prefix",
               "data: {\"choices\":[{\"delta\":{\"content\":\"same\"},"
               "\"finish_reason\":null,\"index\":0}]}\n\n"
               "data: {\"choices\":[{\"delta\":{\"content\":\"same\"},"
               "\"finish_reason\":null,\"index\":1}]}\n\n"
               "data: {\"choices\":[{\"delta\":{\"content\":\"same\"},"
               "\"finish_reason\":null,\"index\":2}]}\n\n", 1);

    /* a finish reason in the common part: cached up to it */
    cache_case("finish in the prefix",
               "data: {\"choices\":[{\"finish_reason\":\"stop\","
               "\"delta\":{\"content\":\"a\"}}]}\n\n"
               "data: {\"choices\":[{\"finish_reason\":\"stop\","
               "\"delta\":{\"content\":\"b\"}}]}\n\n"
               "data: {\"choices\":[{\"finish_reason\":\"stop\","
               "\"delta\":{\"content\":\"c\"}}]}\n\n", 1);

    /* escapes, a \u0000 in the model, multi-line data, bad JSON */
    cache_case("odd streams",
               CHUNK("a\\u0000b", "x\\n") CHUNK("a\\u0000b", "y\\\"")
               CHUNK("a\\u0000b", "z") CHUNK("a\\u0000b", "w")
               "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion."
               "chunk\",\n"
               "data: \"created\":1,\"choices\":[]}\n\n"
               "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion."
               "chunk\",\"created\":1700000000,\"model\":\"a\\u0000b\","
               "\"choices\":[{\"index\":0,\"delta\":{\"content\":}}]}\n\n"
               CHUNK("a\\u0000b", "v"), (uint64_t) -1);
}



/*
 * The event template: an event like the last one scanned whole (the
 * same bytes but for the holes) is matched instead of scanned.  Each
 * case: the template hits in one piece (or -1: not checked), and the
 * same results as without the cache in every mode and split
 * (cache_case() also runs the template on its streams).
 */

#define TEV(id, seq, model, text, fin)                                        \
    "data: {\"id\":\"" id "\",\"object\":\"chat.completion.chunk\","          \
    "\"sequence_number\":" seq ",\"model\":\"" model "\",\"choices\":[{"      \
    "\"index\":0,\"delta\":{\"content\":\"" text "\"},\"finish_reason\":"     \
    fin "}],\"usage\":null}\n\n"

static void
template_case(const char *name, const char *s, int64_t hits)
{
    run_t   r, ref;
    size_t  len;

    len = strlen(s);

    run(&ref, s, len, LLR_SSE_NO_CACHE, 0, 0, 0);
    run(&r, s, len, 0, 0, 0, 0);

    if (hits >= 0) {
        is_int(r.sse.template_hits, hits, "%s: events matched", name);
    }

    ok(same(&ref, &r, (const char *) ref.out.buf, ref.out.len),
       "%s: the template changes nothing", name);
    done(&r);
    done(&ref);

    cache_case(name, s, (uint64_t) -1);
}


static void
test_template(void)
{
    int       i, k, e, hits, shits;
    char     *s, *t;
    size_t    len, n;
    run_t     r, ref;
    unsigned  flags;
    static llr_sse_cache_t  rcache;
    static const char  *eols[] = { "\n", "\r\n", "\r" };

    /*
     * the mock's stream: learnt from the role's event (no text, so it
     * matches events with or without text), then matched; the finish
     * is learnt, the usage never
     */
    template_case("a chat stream",
        TEV("c1", "1", "m", "", "null")
        TEV("c1", "2", "m", "Hello", "null")
        TEV("c1", "3", "m", " wor\\\"ld\\n", "null")
        TEV("c1", "4", "m", "\\u00e9\\ud83d\\ude00", "null")
        TEV("c1", "5", "m", "caf\xc3\xa9", "null")
        TEV("c1", "6", "m", "\\/\\\\", "null")
        TEV("c1", "7", "m", "", "\"stop\"")
        "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
        "\"completion_tokens\":5,\"total_tokens\":8}}\n\n"
        "data: [DONE]\n\n", 5);

    /* holes: a string nobody reads, a number, the text */
    template_case("every kind of hole",
        TEV("a", "1", "m", "x", "null")
        TEV("bb", "22", "m", "yy", "null")
        TEV("c\\u0041\\\"", "-3.5e+2", "m", "zzz", "null")
        TEV("", "0", "m", "w", "null"), 3);

    /*
     * not matched: no text (the template has text), bad escape, a line
     * end, a string for a number, another finish reason, another model;
     * the last but one is not learnt: the stream has learnt three
     * templates ("", "6" and "length") it did not match since
     */
    template_case("events the template refuses",
        TEV("a", "1", "m", "x", "null")
        TEV("a", "2", "m", "", "null")
        TEV("a", "3", "m", "bad\\x", "null")
        TEV("a", "4", "m", "x", "null")
        "data: {\"id\":\"a\",\"object\":\"chat.completion.chunk\","
        "\"sequence_number\":5,\"model\":\"m\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"content\":\"line\nend\"},\"finish_reason\":null}],"
        "\"usage\":null}\n\n"
        TEV("a", "\"6\"", "m", "x", "null")
        TEV("a", "+6", "m", "x", "null")
        TEV("a", "e6", "m", "x", "null")
        TEV("a", "7", "m", "x", "\"length\"")
        TEV("a", "8", "m2", "x", "null")
        TEV("a", "9", "m2", "x", "null"), 1);

    /* a model set by another event, then the template's again */
    template_case("the template sets its model",
        TEV("a", "1", "m1", "x", "null")
        TEV("a", "2", "m2", "x", "\"stop\"")
        TEV("a", "3", "m1", "y", "null"), 1);
    /* (after the escape the line is scanned byte by byte: no holes) */
    template_case("the template sets its escaped model",
        TEV("a", "1", "m\\u00e9", "x", "null")
        TEV("a", "2", "m2", "x", "\"stop\"")
        TEV("a", "1", "m\\u00e9", "x", "null"), 1);
    feed_str(&r, TEV("a", "1", "m1", "x", "null")
             TEV("a", "2", "m2", "x", "\"stop\"")
             TEV("a", "3", "m1", "y", "null"), 0, 0, 0, 0);
    is_str(r.sse.res.model, "m1", "the matched event's model");
    done(&r);

    /* Responses API deltas: a sequence number and an item id change */
#define RDELTA(n, text)                                                       \
    "event: response.output_text.delta\n"                                     \
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":"   \
    n ",\"item_id\":\"msg_" n "\",\"output_index\":0,\"content_index\":0,"  \
    "\"delta\":\"" text "\"}\n\n"

    template_case("Responses API deltas",
        RDELTA("1", "Hi") RDELTA("2", " there") RDELTA("3", "!")
        RDELTA("14", " How") RDELTA("15", " are you?")
        "event: response.completed\n"
        "data: {\"type\":\"response.completed\",\"response\":{"
        "\"status\":\"completed\",\"usage\":{\"input_tokens\":3,"
        "\"output_tokens\":5}}}\n\n", 4);

    /* other fields and a comment in the event; two data lines: none */
    template_case("fields in the event",
        ": c\nevent: chunk\nid: 1\ndata: {\"choices\":[{\"delta\":{"
        "\"content\":\"a\"}}]}\n\n"
        ": c\nevent: chunk\nid: 1\ndata: {\"choices\":[{\"delta\":{"
        "\"content\":\"bcd\"}}]}\n\n", 1);
    template_case("two data lines",
        "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"a\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"b\"}}]}\n\n",
        0);

    /* text outside the holes (after 8 of them): counted as fixed */
    template_case("text beyond the holes",
        "data: {\"a\":\"1\",\"b\":\"2\",\"c\":3,\"d\":4,\"e\":\"5\",\"f\":6,"
        "\"g\":\"7\",\"h\":8,\"choices\":[{\"delta\":{\"content\":\"abc\"}}]}"
        "\n\n"
        "data: {\"a\":\"x\",\"b\":\"yy\",\"c\":33,\"d\":4,\"e\":\"5\","
        "\"f\":6,\"g\":\"7\",\"h\":9,\"choices\":[{\"delta\":{\"content\":"
        "\"abc\"}}]}\n\n", 1);
    feed_str(&r, "data: {\"a\":\"1\",\"b\":\"2\",\"c\":3,\"d\":4,\"e\":\"5\","
             "\"f\":6,\"g\":\"7\",\"h\":8,\"choices\":[{\"delta\":{"
             "\"content\":\"abc\"}}]}\n\n"
             "data: {\"a\":\"x\",\"b\":\"yy\",\"c\":33,\"d\":4,\"e\":\"5\","
             "\"f\":6,\"g\":\"7\",\"h\":9,\"choices\":[{\"delta\":{"
             "\"content\":\"abc\"}}]}\n\n", 0, 0, 0, 0);
    is_int(r.sse.res.content_bytes, 6, "fixed text counted again");
    done(&r);

    /* a text longer than the template: only the bytes around it count */
    {
        char  *text, *ev;

        text = malloc(1001);
        memset(text, 'q', 1000);
        text[1000] = '\0';
        ev = malloc(4096);
        n = (size_t) sprintf(ev, TEV("a", "1", "m", "%s", "null")
                             TEV("a", "2", "m", "%s", "null"), text, text);
        run(&ref, ev, n, LLR_SSE_NO_CACHE, 0, 0, 0);
        run(&r, ev, n, 0, 0, 0, 0);
        is_int(r.sse.template_hits, 1, "a 1,000-byte text: matched");
        ok(same(&ref, &r, (const char *) ref.out.buf, ref.out.len),
           "a 1,000-byte text: the template changes nothing");
        done(&r);
        done(&ref);
        free(text);
        free(ev);
    }

    /* line ends: CRLF, CR */
    for (e = 1; e < 3; e++) {
        s = with_eol(TEV("a", "1", "m", "x", "null")
                     TEV("a", "2", "m", "yy", "null")
                     TEV("a", "3", "m", "zzz", "null")
                     "data: [DONE]\n\n", eols[e], &len);
        run(&ref, s, len, LLR_SSE_NO_CACHE, 0, 0, 0);
        run(&r, s, len, 0, 0, 0, 0);
        is_int(r.sse.template_hits, 2, "eol %d: events matched", e);
        ok(same(&ref, &r, (const char *) ref.out.buf, ref.out.len),
           "eol %d: the template changes nothing", e);
        done(&r);
        done(&ref);
        cache_case(e == 1 ? "CRLF" : "CR", s, (uint64_t) -1);
        free(s);
    }

    /*
     * random streams of events that differ in their holes, text with
     * every escape, finish reasons, models, usage; every mode and
     * split, stripped and not
     */
    static const char  *texts[] = { "", "a", "hello world", "\\n", "\\\"",
        "\\u00e9", "\\ud83d\\ude00", "\\ud83d", "\\x", "\\u12", "x\ny",
        "\xc3\xa9", "\\\\", "\\/" };
    static const char  *ids[] = { "c1", "c22", "", "\\u0041", "\\\"" };
    static const char  *seqs[] = { "1", "22", "-7", "1e5", "\"1\"",
        "null", "+1", "e" };
    static const char  *fins[] = { "null", "null", "null", "\"stop\"" };
    static const char  *models[] = { "m", "m", "m", "m2" };

    hits = 0;
    shits = 0;
    seed = 7;
    t = malloc(65536);
    llr_sse_cache_init(&rcache);

    for (i = 0; i < 300; i++) {
        n = 0;

        for (k = 0; k < 12; k++) {
            if (rnd() % 10 == 0) {
                n += (size_t) sprintf(t + n, "data: {\"choices\":[],"
                    "\"usage\":{\"prompt_tokens\":%u}}\n\n", rnd() % 9);
                continue;
            }

            n += (size_t) sprintf(t + n, "data: {\"id\":\"%s\",\"object\":"
                "\"chat.completion.chunk\",\"sequence_number\":%s,"
                "\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":{"
                "\"content\":\"%s\"},\"finish_reason\":%s}],"
                "\"usage\":null}\n\n",
                ids[rnd() % 5], seqs[rnd() % 8], models[rnd() % 4],
                texts[rnd() % 14], fins[rnd() % 4]);
        }

        flags = rnd() % 2 ? LLR_SSE_STRIP_USAGE : 0;
        run(&ref, t, n, flags | LLR_SSE_NO_CACHE, 0, 0, 0);

        for (k = 0; k < 5; k++) {
            /* the last run: with the templates of all earlier streams */
            shared = (k == 4) ? &rcache : NULL;
            run(&r, t, n, flags, 0, k % 4,
                k % 4 == 1 ? rnd() % n : 1 + rnd() % 200);
            shared = NULL;
            hits += (int) r.sse.template_hits;
            shits += (k == 4) ? (int) r.sse.template_hits : 0;

            if (!same(&ref, &r, (const char *) ref.out.buf, ref.out.len)) {
                printf("# stream %d mode %d:\n%.*s\n", i, k, (int) n, t);
                done(&r);
                break;
            }

            done(&r);
        }

        done(&ref);

        if (k < 5) {
            break;
        }
    }

    free(t);
    ok(i == 300, "300 random streams: the template changes nothing");
    ok(hits > 600, "and matched %d events", hits);
    ok(shits > 600, "%d of them with the templates of earlier streams",
       shits);
}

/*
 * Templates shared between streams (one cache per nginx worker): the
 * stream s after the stream warm, with the templates warm left; each
 * case: the hits (or -1: not checked) in one piece, and the same
 * results as without the cache in every mode, stripped and not.
 */

static void
shared_case(const char *name, const char *warm, const char *s,
    int64_t hits)
{
    int       k, m, good;
    size_t    len;
    run_t     w, r, ref;
    unsigned  flags;
    static llr_sse_cache_t  cache;

    len = strlen(s);
    good = 1;

    for (k = 0; k < 2; k++) {
        flags = k ? LLR_SSE_STRIP_USAGE : 0;
        run(&ref, s, len, flags | LLR_SSE_NO_CACHE, 0, 0, 0);

        for (m = 0; m < 4; m++) {
            llr_sse_cache_init(&cache);
            shared = &cache;
            run(&w, warm, strlen(warm), 0, 0, 0, 0);
            done(&w);
            run(&r, s, len, flags, 0, m,
                m == 1 ? len / 2 : (size_t) (1 + m * 5));
            shared = NULL;

            if (k == 0 && m == 0 && hits >= 0) {
                is_int(r.sse.template_hits, hits, "%s: events matched",
                       name);
            }

            if (!same(&ref, &r, (const char *) ref.out.buf, ref.out.len)) {
                printf("# %s: flags %u mode %d\n", name, flags, m);
                good = 0;
            }

            done(&r);
        }

        done(&ref);
    }

    ok(good, "%s: the templates of another stream change nothing", name);
}


#define USAGE_EV(id)                                                          \
    "data: {\"id\":\"" id "\",\"choices\":[],\"usage\":{"                     \
    "\"prompt_tokens\":3,\"completion_tokens\":5,\"total_tokens\":8}}\n\n"

#define TOOL_EV(id, call, args)                                               \
    "data: {\"id\":\"" id "\",\"choices\":[{\"index\":0,\"delta\":{"          \
    "\"tool_calls\":[{\"index\":0,\"id\":\"" call "\",\"type\":"             \
    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"" args       \
    "\"}}]}}]}\n\n"

#define KEY_EV(key, text)                                                     \
    "data: {\"" key "\":null,\"choices\":[{\"delta\":{\"content\":\""       \
    text "\"}}]}\n\n"

static void
test_shared_cache(void)
{
    int              k;
    run_t            r;
    static llr_sse_cache_t  cache;

    /* the next stream: every event but the usage matched */
    shared_case("the next stream",
        TEV("c1", "1", "m", "", "null") TEV("c1", "2", "m", "Hi", "null")
        TEV("c1", "3", "m", " there", "null")
        TEV("c1", "4", "m", "", "\"stop\"") USAGE_EV("c1")
        "data: [DONE]\n\n",
        TEV("chatcmpl-22", "17", "m", "", "null")
        TEV("chatcmpl-22", "18", "m", "Hello", "null")
        TEV("chatcmpl-22", "19", "m", ",\\n w\\u00f6rld", "null")
        TEV("chatcmpl-22", "20", "m", "!", "null")
        TEV("chatcmpl-22", "21", "m", "", "\"stop\"") USAGE_EV("chatcmpl-22")
        "data: [DONE]\n\n", 5);

    /* first content in an event matched: the offset of its end */
    shared_case("the first text matched",
        TEV("c1", "2", "m", "Hi", "null") TEV("c1", "3", "m", "", "null"),
        "data: [DONE]\n\n"
        TEV("c2", "5", "m", "", "null") TEV("c2", "6", "m", "", "null")
        TEV("c2", "7", "m", "a", "null") TEV("c2", "8", "m", "b", "null"),
        4);

    /* learnt with text: refuses an event without, another learns it */
    shared_case("a template with text",
        TEV("c1", "2", "m", "Hi", "null") TEV("c1", "3", "m", "yo", "null"),
        TEV("c2", "5", "m", "", "null") TEV("c2", "6", "m", "x", "null")
        TEV("c2", "7", "m", "", "null"), 2);

    /* a tool call without arguments carries content, without text */
    shared_case("tool calls",
        TOOL_EV("c1", "call_1", "") TOOL_EV("c1", "call_1", "{\\\"a\\\"")
        TOOL_EV("c1", "call_1", ":1}"),
        TOOL_EV("c2", "call_xyz", "") TOOL_EV("c2", "call_xyz", "{")
        TOOL_EV("c2", "call_xyz", "}") TOOL_EV("c2", "call_xyz", ""), 4);

    /* finish reasons counted by matched events */
    shared_case("finish reasons",
        TEV("c1", "1", "m", "", "\"stop\"") TEV("c1", "2", "m", "",
                                               "\"length\""),
        TEV("c2", "1", "m", "", "\"length\"") TEV("c2", "2", "m", "",
                                                 "\"stop\"")
        TEV("c3", "1", "m", "", "\"stop\""), 3);

    /* another model: learnt again */
    shared_case("another model",
        TEV("c1", "1", "m", "", "null") TEV("c1", "2", "m", "x", "null"),
        TEV("c2", "1", "m2", "", "null") TEV("c2", "2", "m2", "x", "null")
        TEV("c2", "3", "m2", "y", "null"), 2);

    /* CRLF templates do not match LF events, and the other way */
    shared_case("line ends",
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\r\n\r\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"d\"}}]}\r\r", 1);

    /*
     * four templates: the oldest makes room; a stream learns at most
     * three it does not match (LLR_SSE_LEARNS)
     */
    llr_sse_cache_init(&cache);
    shared = &cache;

    for (k = 0; k < 5; k++) {
        char  ev[128];

        snprintf(ev, sizeof(ev), KEY_EV("k%d", "x") KEY_EV("k%d", "y"), k,
                 k);
        feed_str(&r, ev, 0, 0, 0, 0);
        is_int(r.sse.template_hits, 1, "shape %d: learnt, matched", k);
        done(&r);
    }

    is_int(cache.n, 4, "four templates kept");
    feed_str(&r, KEY_EV("k0", "x") KEY_EV("k0", "y"), 0, 0, 0, 0);
    is_int(r.sse.template_hits, 1, "the oldest was replaced: learnt again");
    done(&r);
    feed_str(&r, KEY_EV("k2", "x") KEY_EV("k3", "y") KEY_EV("k4", "z"), 0,
             0, 0, 0);
    is_int(r.sse.template_hits, 3, "the newer ones kept");
    done(&r);
    feed_str(&r, KEY_EV("k1", "x"), 0, 0, 0, 0);
    is_int(r.sse.template_hits, 0, "the second oldest replaced");
    done(&r);

    llr_sse_cache_init(&cache);
    feed_str(&r, KEY_EV("a", "1") KEY_EV("b", "2") KEY_EV("c", "3")
             KEY_EV("d", "4") KEY_EV("e", "5") KEY_EV("a", "6")
             KEY_EV("b", "7") KEY_EV("d", "8") KEY_EV("e", "9")
             KEY_EV("d", "0"), 0, 0, 0, 0);
    is_int(r.sse.template_hits, 3, "three learnt, then learning again "
           "after two matched");
    done(&r);
    shared = NULL;
}


/*
 * The stream's own template: made from the cache's template that an
 * event with text matched, with only the text holes (and the holes
 * whose bytes changed between the stream's events) left.
 */

static void
test_own_template(void)
{
    int              i, good;
    run_t            a, b, ref;
    size_t           len;
    const char      *s;
    static llr_sse_cache_t  cache;

#define WARM                                                                  \
    TEV("w1", "1", "m", "", "null") TEV("w1", "1", "m", "Hi", "null")        \
    TEV("w1", "1", "m", "yo", "null") TEV("w1", "1", "m", "", "\"stop\"")    \
    USAGE_EV("w1") "data: [DONE]\n\n"

    /* the same id and sequence number in every event: one hole left */
    shared_case("own template, fixed ids", WARM,
        TEV("c2", "7", "m", "", "null") TEV("c2", "7", "m", "a", "null")
        TEV("c2", "7", "m", "b\\n", "null") TEV("c2", "7", "m", "c", "null")
        TEV("c2", "7", "m", "", "\"stop\"") USAGE_EV("c2")
        "data: [DONE]\n\n", 5);

    llr_sse_cache_init(&cache);
    shared = &cache;
    feed_str(&a, WARM, 0, 0, 0, 0);
    done(&a);
    feed_str(&a, TEV("c2", "7", "m", "a", "null")
             TEV("c2", "7", "m", "b", "null"), 0, 0, 0, 0);
    is_int(a.sse.template_hits, 2, "own template: both matched");
    ok(a.sse.own_ok && a.sse.own.nholes == 1,
       "own template: only the text is a hole (%u)", a.sse.own.nholes);
    done(&a);

    /* a sequence number that changes: it stays a hole, the id does not */
    s = TEV("c3", "1", "m", "a", "null") TEV("c3", "2", "m", "b", "null")
        TEV("c3", "3", "m", "c", "null") TEV("c3", "4", "m", "d", "null");
    feed_str(&a, s, 0, 0, 0, 0);
    is_int(a.sse.template_hits, 4, "own template, changing number: all "
           "matched");
    ok(a.sse.own_ok && a.sse.own.nholes == 2,
       "own template, changing number: two holes (%u)", a.sse.own.nholes);
    done(&a);
    shared = NULL;

    shared_case("own template, changing number", WARM,
        TEV("c3", "1", "m", "a", "null") TEV("c3", "2", "m", "b", "null")
        TEV("c3", "3", "m", "c", "null") TEV("c3", "4", "m", "d", "null")
        TEV("c3", "5", "m", "e", "null"), 5);

    /*
     * an event scanned in between sets another model: the next event
     * matched by the stream's template sets the model again
     */
    shared_case("own template, model set again", WARM,
        TEV("c4", "1", "m", "a", "null") TEV("c4", "1", "m", "b", "null")
        "data: {\"model\":\"other\",\"choices\":[{\"delta\":{\"content\":"
        "\"x\"}}]}\n\n"
        TEV("c4", "1", "m", "c", "null"), 3);

    /*
     * the cache's template replaced by other streams while a stream
     * still uses its own copy of it: the copy stays right, and the
     * stream does not compare it with the new one's holes
     */
    good = 1;

    for (i = 0; i < 2; i++) {
        const char  *s1, *s2;

        s1 = TEV("c5", "1", "m", "a", "null") TEV("c5", "1", "m", "b", "null");
        s2 = TEV("c5", "2", "m", "c", "null") TEV("c5", "3", "m", "d", "null")
             TEV("c5", "3", "m", "e", "null");

        llr_sse_cache_init(&cache);
        shared = &cache;
        feed_str(&a, WARM, 0, 0, 0, 0);
        done(&a);

        llr_sse_init(&b.sse, 0, 0, &mem);
        llr_sse_use_cache(&b.sse, &cache);
        memset(&b.out, 0, sizeof(sink_t));
        llr_sse_feed(&b.sse, (const unsigned char *) s1, strlen(s1),
                     sink_emit, &b.out);

        /* four other shapes learnt by two streams: every slot replaced */
        feed_str(&a, KEY_EV("k1", "x") KEY_EV("k2", "x")
                 KEY_EV("k3", "x"), 0, 0, 0, 0);
        done(&a);
        feed_str(&a, i ? KEY_EV("k4", "x") KEY_EV("k5", "x")
                         KEY_EV("k6", "x")
                       : KEY_EV("k4", "x") KEY_EV("k5", "x")
                         KEY_EV("k1", "x"), 0, 0, 0, 0);
        done(&a);

        llr_sse_feed(&b.sse, (const unsigned char *) s2, strlen(s2),
                     sink_emit, &b.out);
        llr_sse_finish(&b.sse, sink_emit, &b.out);
        shared = NULL;

        len = strlen(s1) + strlen(s2);
        {
            char  *all = malloc(len + 1);

            strcpy(all, s1);
            strcat(all, s2);
            run(&ref, all, len, LLR_SSE_NO_CACHE, 0, 0, 0);
            free(all);
        }

        if (memcmp(&ref.sse.res, &b.sse.res, sizeof(llr_resp_t)) != 0
            || ref.sse.events != b.sse.events || cache.gen[0] < 2)
        {
            good = 0;
        }

        done(&ref);
        free(b.out.buf);
        llr_sse_free(&b.sse);
    }

    ok(good, "own template: its source replaced meanwhile");

    /*
     * what follows a template: after the finish the usage is not
     * compared; an event that could be learnt is not learnt when it was
     * not compared, but the next stream compares and learns it
     */
    llr_sse_cache_init(&cache);
    shared = &cache;

    for (i = 0; i < 5; i++) {
        static const int64_t  want[5] = { 2, 4, 4, 4, 5 };
        const char  *x;

        x = i < 2 ? WARM
            : TEV("w1", "1", "m", "", "null") TEV("w1", "1", "m", "Hi", "null")
              TEV("w1", "1", "m", "yo", "null")
              TEV("w1", "1", "m", "", "\"stop\"")
              KEY_EV("k", "after") "data: [DONE]\n\n";

        feed_str(&a, x, 0, 0, 0, 0);
        is_int(a.sse.template_hits, want[i], "successor hints, stream %d",
               i + 1);
        done(&a);
    }

    shared = NULL;

    /* the same streams, compared with no cache in every mode */
    shared_case("successor hints", WARM WARM,
        TEV("w1", "1", "m", "", "null") TEV("w1", "1", "m", "Hi", "null")
        TEV("w1", "1", "m", "", "\"stop\"") KEY_EV("k", "after")
        USAGE_EV("w1") KEY_EV("k", "again") "data: [DONE]\n\n", -1);

#undef WARM
}


/*
 * The events that end a Responses API stream (it has no [DONE]): only
 * a top-level "type", in a complete JSON event, whether scanned, resumed
 * from the prefix cache or matched to a template, split anywhere.
 */
static void
test_responses_end(void)
{
    int                 i, mode;
    run_t               w, b;
    llr_sse_cache_t     warm;
    const char         *s;

#define RCREATED                                                              \
    "event: response.created\n"                                               \
    "data: {\"type\":\"response.created\",\"sequence_number\":0,"            \
    "\"response\":{\"id\":\"resp_1\",\"object\":\"response\","               \
    "\"status\":\"in_progress\",\"error\":null,\"usage\":null}}\n\n"
#define RTEXT(n, t)                                                           \
    "event: response.output_text.delta\n"                                     \
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":"   \
    n ",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"       \
    "\"delta\":\"" t "\",\"logprobs\":[]}\n\n"

    static const struct {
        const char  *stream;
        int          ended;
        const char  *name;
    } cases[] = {
        { RCREATED RTEXT("1", "Hi") RTEXT("2", " there")
          "event: response.completed\n"
          "data: {\"type\":\"response.completed\",\"sequence_number\":3,"
          "\"response\":{\"status\":\"completed\",\"usage\":{"
          "\"input_tokens\":5,\"output_tokens\":2}}}\n\n", 1,
          "response.completed" },
        { RCREATED RTEXT("1", "Hi")
          "data: {\"type\":\"response.incomplete\",\"response\":{"
          "\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
          "\"max_output_tokens\"},\"usage\":null}}\n\n", 1,
          "response.incomplete, usage null" },
        { RCREATED
          "data: {\"type\":\"response.failed\",\"response\":{"
          "\"status\":\"failed\",\"error\":{\"code\":\"server_error\","
          "\"message\":\"x\"},\"usage\":null}}", 1,
          "response.failed without its blank line" },
        { RCREATED
          "event: error\ndata: {\"type\":\"error\",\"sequence_number\":1,"
          "\"error\":{\"type\":\"server_error\",\"code\":\"x\","
          "\"message\":\"m\",\"param\":null}}\n\n", 1, "an error event" },
        { RCREATED RTEXT("1", "Hi") RTEXT("2", " there"), 0,
          "cut after a delta" },
        { RCREATED RTEXT("1", "Hi")
          "data: {\"type\":\"response.completed\",\"response\":{", 0,
          "cut inside response.completed" },
        { RCREATED
          "event: response.completed\ndata: {\"type\":\"response.output_item"
          ".done\",\"item\":{\"type\":\"response.completed\"},"
          "\"response\":{\"type\":\"response.failed\"}}\n\n", 0,
          "only a top-level type counts (not the event: field)" },
        { "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{"
          "\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\n"
          "data: [DONE]\n\n", 0, "a chat stream" },
        { "data: response.completed\n\n", 0, "not JSON" },
        { "data: {\"type\":\"response.completed\",\"x\":[}\n\n", 0,
          "bad JSON" },
        { NULL, 0, NULL }
    };

    for (i = 0; cases[i].stream; i++) {
        s = cases[i].stream;

        run(&w, s, strlen(s), 0, 0, 0, 0);
        is_int(w.sse.ended, cases[i].ended, "%s: ended %d", cases[i].name,
               cases[i].ended);

        for (mode = 1; mode <= 3; mode++) {
            run(&b, s, strlen(s), LLR_SSE_STRIP_USAGE, 0, mode,
                mode == 1 ? strlen(s) / 2 : 3);
            is_int(b.sse.ended, cases[i].ended, "%s: ended %d, split (%d)",
                   cases[i].name, cases[i].ended, mode);
            done(&b);
        }

        done(&w);
    }

    /*
     * templates: a cache warmed by a stream of deltas; the next stream's
     * deltas match templates, its response.failed (no usage, no error
     * object) is scanned and ends it, and never becomes a template
     */

    s = RCREATED RTEXT("1", "a") RTEXT("2", "b") RTEXT("3", "c")
        "data: {\"type\":\"response.failed\",\"sequence_number\":4,"
        "\"response\":{\"status\":\"failed\",\"usage\":null}}\n\n";

    llr_sse_cache_init(&warm);
    shared = &warm;

    for (i = 0; i < 3; i++) {
        run(&w, s, strlen(s), 0, 0, 0, 0);
        is_int(w.sse.ended, 1, "warm cache, stream %d: ended", i);
        done(&w);
    }

    ok(w.sse.template_hits > 0, "warm cache: the deltas matched templates");

    for (i = 0; i < (int) warm.n; i++) {
        ok(strstr((const char *) warm.tpl[i].bytes, "response.failed")
           == NULL, "template %d is not the final event", i);
    }

    run(&w, RCREATED RTEXT("1", "a") RTEXT("2", "b"),
        strlen(RCREATED RTEXT("1", "a") RTEXT("2", "b")), 0, 0, 0, 0);
    is_int(w.sse.ended, 0, "warm cache: a cut stream has not ended");
    done(&w);

    shared = NULL;

#undef RCREATED
#undef RTEXT
}


int
main(void)
{
    run_t   r;
    char    big[4096];
    size_t  n, maxalloc;

    test_stream("LF", "\n");
    test_stream("CRLF", "\r\n");
    test_stream("CR", "\r");
    test_line_lengths();
    test_json_lines();
    test_prefix_cache();
    test_template();
    test_shared_cache();
    test_own_template();

    /* no trailing blank line at EOF */
    feed_str(&r, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"
             "data: [DONE]", 0, 0, 0, 0);
    ok(r.sse.done, "[DONE] without a final newline counts");
    is_int(r.sse.events, 2, "both events");
    done(&r);

    feed_str(&r, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5}}",
             LLR_SSE_STRIP_USAGE, 0, 2, 7);
    is_int(r.sse.res.prompt_tokens, 5, "usage event at EOF without newline");
    is_int(r.sse.stripped, 1, "and stripped");
    is_int(r.out.len, 0, "nothing forwarded");
    done(&r);

    /* missing [DONE] */
    feed_str(&r, CONTENT_EVENT, 0, 0, 0, 0);
    ok(!r.sse.done, "missing [DONE] is seen");
    ok(r.sse.content_seen, "content seen");
    ok(!r.sse.res.has_usage, "no usage");
    is_int(llr_estimate_tokens(r.sse.res.content_bytes), 2,
           "estimate: ceil(7 / 4)");
    done(&r);

    /* an error event */
    n = strlen("data: {\"error\":{\"message\":\"overloaded\",\"type\":"
               "\"server_error\",\"code\":null}}\n\n");
    feed_str(&r, "data: {\"error\":{\"message\":\"overloaded\",\"type\":"
             "\"server_error\",\"code\":null}}\n\n", LLR_SSE_STRIP_USAGE,
             0, 2, 3);
    ok(r.sse.res.error, "error event");
    is_str(r.sse.res.error_type, "server_error", "error type");
    is_str(r.sse.res.error_message, "overloaded", "error message");
    is_int(r.sse.stripped, 0, "error event not stripped");
    is_int(r.out.len, n, "error event forwarded");
    done(&r);

    /* a usage chunk that also has choices: not stripped */
    feed_str(&r, "data: {\"choices\":[{\"delta\":{},\"finish_reason\":"
             "\"length\"}],\"usage\":{\"completion_tokens\":9}}\n\n",
             LLR_SSE_STRIP_USAGE, 0, 2, 5);
    is_int(r.sse.stripped, 0, "usage with choices is not stripped");
    is_int(r.sse.res.completion_tokens, 9, "its usage counted");
    is_int(r.sse.res.finish[LLR_FINISH_LENGTH], 1, "finish length");
    done(&r);

    /* tool call and reasoning deltas are content */
    feed_str(&r, "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\""
             ":0,\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n",
             0, 0, 2, 1);
    is_int(r.first_n, 1, "tool_calls delta is first content");
    done(&r);
    feed_str(&r, "data: {\"choices\":[{\"delta\":{\"reasoning_content\":"
             "\"hm\"}}]}\n\n", 0, 0, 2, 1);
    is_int(r.first_n, 1, "reasoning_content delta is first content");
    done(&r);
    feed_str(&r, "data: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n",
             0, 0, 0, 0);
    is_int(r.first_n, 0, "empty content is not content");
    done(&r);

    /* comments, unknown fields, data without space, "data" alone */
    feed_str(&r, ":c\nretry: 5\nfoo\ndata\ndata:[DONE]\n\n", 0, 0, 2, 1);
    is_int(r.sse.events, 1, "one event");
    is_int(r.sse.bad_events, 0, "no bad event");
    ok(r.sse.done, "whitespace around [DONE] is ignored");
    done(&r);
    feed_str(&r, "data:[DONE]\r\n\r\n", 0, 0, 2, 1);
    ok(r.sse.done, "data:[DONE] without space");
    done(&r);
    feed_str(&r, "data: hello\n\ndata: {\"a\":\n\n", 0, 0, 0, 0);
    is_int(r.sse.bad_events, 2, "text and truncated JSON are bad events");
    done(&r);

    /* oversized events in strip mode: passed through, bounded memory */
    n = (size_t) sprintf(big, "data: {\"id\":\"");
    memset(big + n, 'a', 3000);
    n += 3000;
    n += (size_t) sprintf(big + n, "\",\"choices\":[],\"usage\":"
                          "{\"prompt_tokens\":1}}\n\ndata: [DONE]\n\n");
    maxalloc = 0;
    mem.ctx = &maxalloc;
    run(&r, big, n, LLR_SSE_STRIP_USAGE, 1024, 2, 100);
    is_int(r.sse.oversized_events, 1, "oversized event flagged");
    is_int(r.sse.stripped, 0, "oversized usage event not stripped");
    ok(r.out.len == n && memcmp(r.out.buf, big, n) == 0,
       "oversized event forwarded unchanged");
    ok(maxalloc <= 1024, "hold buffer stayed within max_event (%zu)",
       maxalloc);
    ok(r.sse.res.has_usage, "its usage still parsed");
    ok(r.sse.done, "stream continues after it");
    done(&r);

    /* same event in one piece: not held at all, so still stripped */
    maxalloc = 0;
    run(&r, big, n, LLR_SSE_STRIP_USAGE, 1024, 0, 0);
    is_int(r.sse.stripped, 1, "in one piece it is stripped");
    is_int(maxalloc, 0, "without holding anything");
    done(&r);
    mem.ctx = NULL;

    /* content events straddling pieces are released early */
    maxalloc = 0;
    mem.ctx = &maxalloc;
    n = (size_t) sprintf(big, "data: {\"choices\":[{\"delta\":{\"content\""
                         ":\"");
    memset(big + n, 'b', 3000);
    n += 3000;
    n += (size_t) sprintf(big + n, "\"}}]}\n\n");
    run(&r, big, n, LLR_SSE_STRIP_USAGE, 0, 2, 10);
    ok(r.out.len == n && memcmp(r.out.buf, big, n) == 0,
       "content event forwarded unchanged");
    ok(maxalloc <= 256, "held only until choices had an element (%zu)",
       maxalloc);
    is_int(r.sse.oversized_events, 0, "not oversized");
    done(&r);
    mem.ctx = NULL;

    /* no allocator in strip mode: events pass unchanged */
    {
        llr_sse_t  s;
        sink_t     out;
        const char *ev = USAGE_EVENT;

        memset(&out, 0, sizeof(out));
        llr_sse_init(&s, LLR_SSE_STRIP_USAGE, 0, NULL);
        llr_sse_feed(&s, (const unsigned char *) ev, 20, sink_emit, &out);
        llr_sse_feed(&s, (const unsigned char *) ev + 20, strlen(ev) - 20,
                     sink_emit, &out);
        llr_sse_finish(&s, sink_emit, &out);
        is_int(out.len, strlen(ev), "no allocator: passed unchanged");
        free(out.buf);
    }

    /* Responses API stream */
    feed_str(&r, "event: response.output_text.delta\n"
             "data: {\"type\":\"response.output_text.delta\",\"delta\":"
             "\"Hi\"}\n\n"
             "event: response.completed\n"
             "data: {\"type\":\"response.completed\",\"response\":{"
             "\"model\":\"gpt-4.1\",\"status\":\"completed\",\"usage\":{"
             "\"input_tokens\":11,\"output_tokens\":2,\"input_tokens_details\""
             ":{\"cached_tokens\":0},\"output_tokens_details\":"
             "{\"reasoning_tokens\":0},\"total_tokens\":13}}}\n\n",
             LLR_SSE_STRIP_USAGE, 0, 2, 3);
    is_int(r.first_n, 1, "responses delta is content");
    is_int(r.sse.res.prompt_tokens, 11, "responses input_tokens");
    is_int(r.sse.res.completion_tokens, 2, "responses output_tokens");
    is_str(r.sse.res.model, "gpt-4.1", "responses model");
    is_int(r.sse.res.finish[LLR_FINISH_STOP], 1, "responses completed");
    is_int(r.sse.stripped, 0, "responses events are never stripped");
    is_int(r.sse.ended, 1, "responses: response.completed ends the stream");
    is_int(r.sse.done, 0, "responses: no [DONE]");
    done(&r);

    test_responses_end();

    /*
     * a JSON value across data lines (joined with "\n"): an array or
     * object opened at a line's end may be closed on the next line.
     * Found by fuzz_sse: fed whole, the fast path left the state "a
     * value" instead of "a value or ]", so the "]" became a JSON error
     * that byte-at-a-time feeding did not see.
     */
    {
        static const char *multi[] = {
            "data:{\"a\":[\ndata:]}\n\n",
            "data: {\"usage\":{\"prompt_tokens\":3,\"x\":[\r\n"
                "data: ],\"completion_tokens\":4}}\n\n",
            "data:{\"a\":{\ndata:}}\n\n",
            "data:{\"a\":[\ndata:\ndata:]}\n\n",
            NULL
        };
        run_t  w, b;
        int    m;

        for (m = 0; multi[m]; m++) {
            run(&w, multi[m], strlen(multi[m]), 0, 0, 0, 0);
            run(&b, multi[m], strlen(multi[m]), 0, 0, 2, 1);
            is_int(w.sse.json_events, 1, "multi-line value %d: JSON "
                   "fed whole", m);
            is_int(w.sse.res.json_error, 0, "multi-line value %d: no JSON "
                   "error fed whole", m);
            ok(same(&w, &b, multi[m], strlen(multi[m])), "multi-line value "
               "%d: whole and byte by byte agree", m);
            done(&w);
            done(&b);
        }

        run(&w, "data:{\"\":[\ndata:]", 17, 0, 0, 0, 0);
        run(&b, "data:{\"\":[\ndata:]", 17, 0, 0, 2, 1);
        ok(same(&w, &b, "data:{\"\":[\ndata:]", 17), "the fuzzer's "
           "input: whole and byte by byte agree");
        is_int(w.sse.res.json_error, 0, "the fuzzer's input: unfinished, "
               "not an error");
        done(&w);
        done(&b);
    }

    done_testing();
}
