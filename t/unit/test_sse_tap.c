/*
 * core/llr_sse with the text tap (the quality signals): a tapped
 * stream's own templates tell the tap what scanning tells it.
 *
 * The differential check: every SSE stream of the fuzz corpus
 * (fuzz/seeds/sse, fuzz/regressions/sse-*) and the mock's streams
 * (t/unit/sse-tap/: chat, tool calls, completions, Responses API,
 * Anthropic Messages, as llm_route_mock sends them) is fed with a tap
 * that logs every call, with the templates (the cache warmed by the
 * streams before it, as in an nginx worker) and with
 * LLR_SSE_NO_TEMPLATE, whole and in pieces: the same calls (kind,
 * choice, tool call index, bytes), the same results (usage, finish
 * reasons, model, the response's id, text bytes, events, first
 * content) and the same signals (llr_sig_end() and the whole llr_sig_t
 * state); and the same with LLR_SSE_NO_CACHE (the prefix cache tells
 * the tap every string and sets the id as scanning does).  Then the
 * cases the templates must refuse or keep apart: choices and parallel
 * tool calls interleaved (their "index" is part of the template), an
 * id that changes.
 *
 *   LLR_SEEDS_DIR, LLR_REGR_DIR, LLR_SSE_TAP_DIR: the directories
 *   (default: run from the top of the tree)
 */

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "llr_signal.h"
#include "llr_sse.h"


static llr_pattern_t   refusals;
static llr_sig_conf_t  conf;


typedef struct {
    unsigned char  *buf;
    size_t          len;
    size_t          size;
    size_t          calls;
} tap_log_t;


typedef struct {
    llr_sse_t   sse;
    llr_sig_t   sig;
    tap_log_t   log;
    uint32_t    signals;
} tapped_t;


/* every call: its kind, choice, index, flags and bytes; then llr_sig */
typedef struct {
    tap_log_t  *log;
    llr_sig_t  *sig;
} both_t;


static void
log_put(tap_log_t *l, const void *p, size_t n)
{
    if (l->len + n > l->size) {
        l->size = (l->len + n) * 2 + 256;
        l->buf = realloc(l->buf, l->size);
        if (l->buf == NULL) {
            abort();
        }
    }

    memcpy(l->buf + l->len, p, n);
    l->len += n;
}


static void
log_tap(void *ctx, unsigned kind, uint32_t choice, uint32_t index,
    const unsigned char *raw, size_t len, unsigned flags)
{
    both_t    *b = ctx;
    uint64_t   h[5];

    h[0] = kind;
    h[1] = choice;
    h[2] = index;
    h[3] = flags;
    h[4] = len;
    log_put(b->log, h, sizeof(h));
    log_put(b->log, raw, len);
    b->log->calls++;

    llr_sig_tap(b->sig, kind, choice, index, raw, len, flags);
}


/* the stream s fed in pieces of step bytes (0: whole), tapped */
static void
feed(tapped_t *t, const unsigned char *s, size_t len, unsigned flags,
    size_t step, llr_sse_cache_t *cache, int json_mode)
{
    size_t           i, n;
    both_t           b;
    unsigned char   *piece;

    memset(&t->log, 0, sizeof(tap_log_t));
    memset(&t->sig, 0, sizeof(llr_sig_t));
    llr_sig_init(&t->sig, &conf, json_mode);
    llr_sse_init(&t->sse, flags, 0, NULL);

    b.log = &t->log;
    b.sig = &t->sig;
    t->sse.json.tap = log_tap;
    t->sse.json.tap_ctx = &b;
    llr_sse_use_cache(&t->sse, cache);

    for (i = 0; i < len; i += n) {
        n = step ? step : len;
        n = (n > len - i) ? len - i : n;

        /* a private copy: a template keeps no pointer into the piece */
        piece = malloc(n);
        memcpy(piece, s + i, n);
        (void) llr_sse_feed(&t->sse, piece, n, NULL, NULL);
        free(piece);
    }

    (void) llr_sse_finish(&t->sse, NULL, NULL);

    t->signals = llr_sig_end(&t->sig, t->sse.res.finish);
}


/* the results, the strings' bytes beyond their ends not compared */
static int
same_res(const llr_resp_t *a, const llr_resp_t *b)
{
    llr_resp_t  x, y;

    x = *a;
    y = *b;

    memset(x.model + x.model_len, 0, sizeof(x.model) - x.model_len);
    memset(y.model + y.model_len, 0, sizeof(y.model) - y.model_len);
    memset(x.id + x.id_len, 0, sizeof(x.id) - x.id_len);
    memset(y.id + y.id_len, 0, sizeof(y.id) - y.id_len);

    return memcmp(&x, &y, sizeof(llr_resp_t)) == 0;
}


static int
same(const tapped_t *a, const tapped_t *b, int calls)
{
    return same_res(&a->sse.res, &b->sse.res)
           && a->sse.events == b->sse.events
           && a->sse.json_events == b->sse.json_events
           && a->sse.bad_events == b->sse.bad_events
           && a->sse.content_seen == b->sse.content_seen
           && a->sse.done == b->sse.done && a->sse.ended == b->sse.ended
           && a->signals == b->signals
           && (!calls || (memcmp(&a->sig, &b->sig, sizeof(llr_sig_t)) == 0
                          && a->log.len == b->log.len
                          && (a->log.len == 0
                              || memcmp(a->log.buf, b->log.buf, a->log.len)
                                 == 0)));
}


static llr_sse_cache_t  warm;       /* templates of the streams before */

static uint64_t  total_hits, total_events, total_streams;


/*
 * One stream: with templates as without, whole (the same calls) and in
 * pieces (the same text: a string cut by a piece is told in two calls
 * by the scanner, so the signals are compared, not the calls).
 * Returns the template hits of the whole run.
 */
static uint64_t
check(const char *name, const unsigned char *s, size_t len, unsigned flags)
{
    int        good;
    size_t     step;
    uint64_t   hits;
    tapped_t   ref, t;

    feed(&ref, s, len, flags | LLR_SSE_NO_TEMPLATE, 0, &warm, 0);
    feed(&t, s, len, flags, 0, &warm, 0);

    good = same(&ref, &t, 1) && ref.sse.template_hits == 0;
    hits = t.sse.template_hits;
    free(t.log.buf);

    /* the prefix cache too: as if every line were scanned whole */
    if (good) {
        feed(&t, s, len, flags | LLR_SSE_NO_CACHE, 0, &warm, 0);
        good = same(&ref, &t, 1);
        free(t.log.buf);
    }

    for (step = 1; good && step <= 64; step = step * 2 + 1) {
        feed(&t, s, len, flags, step, &warm, 0);
        good = same(&ref, &t, 0);
        free(t.log.buf);
    }

    /* JSON mode reads the text further: the same again */
    if (good) {
        free(ref.log.buf);
        feed(&ref, s, len, flags | LLR_SSE_NO_TEMPLATE, 0, &warm, 1);
        feed(&t, s, len, flags, 0, &warm, 1);
        good = same(&ref, &t, 1);
        free(t.log.buf);
    }

    ok(good, "%s: the tap and the results the same with templates "
       "(%llu of %llu events matched)", name, (unsigned long long) hits,
       (unsigned long long) ref.sse.events);

    total_hits += hits;
    total_events += ref.sse.events;
    total_streams++;
    free(ref.log.buf);

    return hits;
}


static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE           *f;
    long            n;
    unsigned char  *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t) n : 1);

    if (n > 0 && fread(buf, 1, (size_t) n, f) != (size_t) n) {
        n = 0;
    }

    fclose(f);
    *len = (size_t) (n > 0 ? n : 0);

    return buf;
}


static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/*
 * The files of dir whose names begin with prefix and end with suffix,
 * in name order; fuzz
 * inputs (fuzz: 3 bytes of mode first, bit 1 of the first an Anthropic
 * stream) or streams (their name says anthropic).  The number checked.
 */
static int
check_dir(const char *dir, const char *prefix, const char *suffix, int fuzz)
{
    int             n, i, k;
    char            path[1024], *names[512];
    size_t          len;
    unsigned        flags;
    DIR            *d;
    unsigned char  *s;
    struct dirent  *e;

    d = opendir(dir);
    if (d == NULL) {
        return 0;
    }

    n = 0;

    while ((e = readdir(d)) != NULL && n < 512) {
        len = strlen(e->d_name);

        if (e->d_name[0] != '.'
            && strncmp(e->d_name, prefix, strlen(prefix)) == 0
            && len >= strlen(suffix)
            && strcmp(e->d_name + len - strlen(suffix), suffix) == 0)
        {
            names[n++] = strdup(e->d_name);
        }
    }

    closedir(d);
    qsort(names, (size_t) n, sizeof(char *), by_name);

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        s = slurp(path, &len);

        if (s == NULL) {
            ok(0, "%s: read", path);
            continue;
        }

        k = 0;
        flags = strstr(names[i], "anthropic") ? LLR_SSE_ANTHROPIC : 0;

        if (fuzz) {
            k = len < 3 ? (int) len : 3;
            flags = (len && (s[0] & 2)) ? LLR_SSE_ANTHROPIC : 0;
        }

        (void) check(path, s + k, len - (size_t) k, flags);

        free(s);
        free(names[i]);
    }

    return n;
}


/* a chat chunk with text in choice `choice` (its index written) */
#define CH(id, choice, text)                                                  \
    "data: {\"id\":\"" id "\",\"object\":\"chat.completion.chunk\","          \
    "\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":" choice ","       \
    "\"delta\":{\"content\":\"" text "\"},\"finish_reason\":null}]}\n\n"

/* a tool call's arguments delta, in call `index` */
#define TC(index, args)                                                       \
    "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,"          \
    "\"delta\":{\"tool_calls\":[{\"index\":" index ",\"function\":{"          \
    "\"arguments\":\"" args "\"}}]},\"finish_reason\":null}]}\n\n"

/* an empty text, then a number that differs */
#define PE(n)                                                                 \
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},"          \
    "\"logprobs\":" n "}]}\n\n"

/* another id, the JSON after a space: not compared with the prefix */
#define ID2                                                                   \
    "data:  {\"id\":\"x2\",\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\n\n"


static void
test_cases(void)
{
    uint64_t  hits;

    /* a refusal streamed: the patterns see it through the templates */
    hits = check("a refusal, streamed",
                 (const unsigned char *)
                 CH("c", "0", "I") CH("c", "0", " can") CH("c", "0", "'t")
                 CH("c", "0", " help") CH("c", "0", " with")
                 CH("c", "0", " that.") "data: [DONE]\n\n",
                 strlen(CH("c", "0", "I") CH("c", "0", " can")
                        CH("c", "0", "'t") CH("c", "0", " help")
                        CH("c", "0", " with") CH("c", "0", " that.")
                        "data: [DONE]\n\n"), 0);
    ok(hits >= 4, "a refusal, streamed: matched (%llu)",
       (unsigned long long) hits);

    /* two choices interleaved: each its own */
    (void) check("two choices interleaved",
                 (const unsigned char *)
                 CH("c", "0", "a") CH("c", "1", "I") CH("c", "0", "b")
                 CH("c", "1", " cannot") CH("c", "0", "c")
                 CH("c", "1", " help") CH("c", "0", "d")
                 CH("c", "1", " with that") "data: [DONE]\n\n",
                 strlen(CH("c", "0", "a") CH("c", "1", "I")
                        CH("c", "0", "b") CH("c", "1", " cannot")
                        CH("c", "0", "c") CH("c", "1", " help")
                        CH("c", "0", "d") CH("c", "1", " with that")
                        "data: [DONE]\n\n"), 0);

    /* one choice, then the other, with many events each */
    hits = check("choices one after the other",
                 (const unsigned char *)
                 CH("c", "0", "a") CH("c", "0", "b") CH("c", "0", "c")
                 CH("c", "1", "{") CH("c", "1", "\\\"x\\\"") CH("c", "1", ":")
                 CH("c", "1", "1}") "data: [DONE]\n\n",
                 strlen(CH("c", "0", "a") CH("c", "0", "b")
                        CH("c", "0", "c") CH("c", "1", "{")
                        CH("c", "1", "\\\"x\\\"") CH("c", "1", ":")
                        CH("c", "1", "1}") "data: [DONE]\n\n"), 0);
    ok(hits >= 3, "choices one after the other: matched (%llu)",
       (unsigned long long) hits);

    /* parallel tool calls interleaved, and one after the other */
    (void) check("parallel tool calls",
                 (const unsigned char *)
                 TC("0", "{\\\"a\\\"") TC("1", "{\\\"b\\\"") TC("0", ":1")
                 TC("1", ":2") TC("0", "}") TC("1", "}") TC("1", " ")
                 TC("1", " ") "data: [DONE]\n\n",
                 strlen(TC("0", "{\\\"a\\\"") TC("1", "{\\\"b\\\"")
                        TC("0", ":1") TC("1", ":2") TC("0", "}")
                        TC("1", "}") TC("1", " ") TC("1", " ")
                        "data: [DONE]\n\n"), 0);

    /*
     * the prefix cache: an empty text in the start two events share
     * (the tap is told it every time), an id in it (set again when an
     * event in between, whose JSON is not at the start of its data, so
     * not compared with the prefix, set another)
     */
    (void) check("an empty text in the common start",
                 (const unsigned char *) PE("1") PE("2") PE("3") PE("4")
                 "data: [DONE]\n\n",
                 strlen(PE("1") PE("2") PE("3") PE("4") "data: [DONE]\n\n"),
                 0);
    (void) check("an id in the common start",
                 (const unsigned char *)
                 CH("x1", "0", "a") CH("x1", "0", "b") ID2
                 CH("x1", "0", "d") "data: [DONE]\n\n",
                 strlen(CH("x1", "0", "a") CH("x1", "0", "b") ID2
                        CH("x1", "0", "d") "data: [DONE]\n\n"), 0);

    /* the id changes: the response's id is the last one's */
    (void) check("an id that changes",
                 (const unsigned char *)
                 CH("c1", "0", "a") CH("c1", "0", "b") CH("c1", "0", "c")
                 CH("c2", "0", "d") CH("c2", "0", "e") CH("c1", "0", "f")
                 "data: [DONE]\n\n",
                 strlen(CH("c1", "0", "a") CH("c1", "0", "b")
                        CH("c1", "0", "c") CH("c2", "0", "d")
                        CH("c2", "0", "e") CH("c1", "0", "f")
                        "data: [DONE]\n\n"), 0);
}


int
main(void)
{
    int          n;
    char         err[256];
    const char  *dir;

    if (llr_sig_refusal_default(&refusals, err, sizeof(err)) != 0) {
        printf("Bail out! %s\n", err);
        return 1;
    }

    conf.patterns = &refusals;
    conf.npatterns = 1;

    llr_sse_cache_init(&warm);

    test_cases();

    dir = getenv("LLR_SSE_TAP_DIR");
    n = check_dir(dir ? dir : "t/unit/sse-tap", "", ".sse", 0);
    ok(n > 0, "the mock's streams: %d", n);

    dir = getenv("LLR_SEEDS_DIR");
    n = check_dir(dir ? dir : "fuzz/seeds/sse", "", "", 1);
    ok(n > 0, "the fuzz seeds: %d", n);

    dir = getenv("LLR_REGR_DIR");
    (void) check_dir(dir ? dir : "fuzz/regressions", "sse", "", 1);

    printf("# %llu of %llu events of %llu streams matched\n",
           (unsigned long long) total_hits,
           (unsigned long long) total_events,
           (unsigned long long) total_streams);

    llr_pattern_free(&refusals);

    done_testing();
}
