/*
 * Replays every file in fuzz/regressions/ (inputs of crashes the
 * fuzzers found, and tricky inputs) and every seed in fuzz/seeds/<target>/
 * through every parser in core/: the request scanner (each endpoint,
 * scan only and rewriting, fed whole and in pieces), the response
 * usage scanner and the SSE parser (both modes, both wire formats), the
 * value parsers, the classifier model loader, the pattern compiler, the
 * translators between the wire formats (requests, answers and errors
 * both ways; streams both ways, whole and in pieces), the JSON validator
 * and the quality signals (fuzz/quality_checks.h, as their fuzzers
 * check).  Each file is given as is and without its first byte (the
 * fuzzers' control byte).
 *
 * Checks per parser: no crash (run it under valgrind or the
 * sanitizers), the same result fed whole and in pieces, an error
 * message on every error, and a successful rewrite scans again.
 *
 *   LLR_FUZZ_DIR   the fuzz/ directory (default: fuzz, run from the top)
 */

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "llr_fbreq.h"
#include "llr_req.h"
#include "llr_sse.h"
#include "llr_usage.h"
#include "llr_cost.h"
#include "llr_classify.h"
#include "llr_pattern.h"
#include "llr_mock.h"
#include "llr_xlate.h"
#include "llr_xsse.h"
#include "../../fuzz/quality_checks.h"


#define RG_MAX_FILE  (4 * 1024 * 1024)
#define RG_MAX_ALLOC 32


typedef struct {
    unsigned char  *s;
    size_t          len;
    size_t          cap;
} rg_buf_t;


typedef struct {
    llr_out_t       out;
    unsigned char   chunk[48];
    rg_buf_t        acc;
    rg_buf_t        text;
} rg_coll_t;


static void
rg_add(rg_buf_t *b, const void *p, size_t n)
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
rg_take(rg_coll_t *c)
{
    rg_add(&c->acc, c->chunk, (size_t) (c->out.pos - c->chunk));
    c->out.pos = c->chunk;
    c->out.end = c->chunk + sizeof(c->chunk);
}


static int
rg_next(llr_out_t *out)
{
    rg_take(out->data);
    return 0;
}


static int
rg_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    rg_coll_t  *c = out->data;

    rg_take(c);

    if (mark == LLR_MARK_MODEL) {
        rg_add(&c->acc, "\"model\":\"r\"", 11);
        if (comma) {
            rg_add(&c->acc, ",", 1);
        }

    } else if (mark == LLR_MARK_STREAM_OPTIONS) {
        if (comma) {
            rg_add(&c->acc, ",", 1);
        }
        rg_add(&c->acc, "\"include_usage\":true", 20);
    }

    return 0;
}


static int
rg_flush(llr_out_t *out)
{
    rg_take(out->data);
    return 0;
}


static void
rg_begin(void *ctx, const char *role, size_t turn)
{
    rg_add(ctx, "<", 1);
    rg_add(ctx, role, strlen(role));
    rg_add(ctx, ">", 1);
}


static void
rg_text(void *ctx, const unsigned char *data, size_t len)
{
    rg_add(ctx, data, len);
}


static void
rg_end(void *ctx)
{
    rg_add(ctx, "</>", 3);
}


static void *
rg_malloc(void *ctx, size_t size)
{
    return malloc(size);
}


static void *
rg_realloc(void *ctx, void *ptr, size_t size)
{
    return realloc(ptr, size);
}


static void
rg_free(void *ctx, void *ptr)
{
    free(ptr);
}


static const llr_alloc_t  rg_alloc = { rg_malloc, rg_realloc, rg_free, NULL };

/* the default refusal patterns, for the signals */
static llr_sig_conf_t     rg_sig_conf;


/* one scan; returns 0 if the run itself was consistent */

static int
rg_req(llr_endpoint_e ep, const unsigned char *d, size_t len, size_t piece,
    int rewrite, rg_coll_t *c, llr_req_err_e *err, size_t *messages)
{
    int               bad;
    size_t            n;
    llr_req_t        *rq;
    llr_text_sink_t   sink;
    const char       *msg;

    memset(c, 0, sizeof(rg_coll_t));
    c->out.pos = c->chunk;
    c->out.end = c->chunk + sizeof(c->chunk);
    c->out.next = rg_next;
    c->out.mark = rg_mark;
    c->out.flush = rg_flush;
    c->out.data = c;

    sink.message_begin = rg_begin;
    sink.text = rg_text;
    sink.message_end = rg_end;
    sink.ctx = &c->text;

    rq = llr_req_create(&rg_alloc, ep, rewrite ? &c->out : NULL, &sink);
    if (rq == NULL) {
        return -1;
    }

    *err = LLR_REQ_OK;
    while (len && *err == LLR_REQ_OK) {
        n = len < piece ? len : piece;
        *err = llr_req_feed(rq, d, n);
        d += n;
        len -= n;
    }

    if (*err == LLR_REQ_OK) {
        *err = llr_req_finish(rq);
    }

    *messages = llr_req_view(rq)->messages;
    msg = llr_req_error_message(rq);
    bad = *err != LLR_REQ_OK && (msg == NULL || msg[0] == '\0');

    llr_req_destroy(rq);

    return bad ? -1 : 0;
}


static void
rg_coll_free(rg_coll_t *c)
{
    free(c->acc.s);
    free(c->text.s);
}


static int
rg_check_req(const unsigned char *d, size_t len, size_t piece)
{
    int             ep, bad;
    size_t          m1, m2, m3;
    rg_coll_t       c1, c2, c3;
    llr_req_err_e   e1, e2, e3;

    bad = 0;

    for (ep = LLR_EP_CHAT; ep <= LLR_EP_COUNT_TOKENS; ep++) {
        bad |= rg_req(ep, d, len, len ? len : 1, 0, &c1, &e1, &m1);
        bad |= rg_req(ep, d, len, piece, 1, &c2, &e2, &m2);

        if (e1 != e2 || m1 != m2 || c1.text.len != c2.text.len
            || (c1.text.len
                && memcmp(c1.text.s, c2.text.s, c1.text.len) != 0))
        {
            bad = 1;
        }

        /* a rewritten body is a valid request again */
        if (e2 == LLR_REQ_OK) {
            bad |= rg_req(ep, c2.acc.s, c2.acc.len, 7, 0, &c3, &e3, &m3);
            if (e3 != LLR_REQ_OK || m3 != m2) {
                bad = 1;
            }
            rg_coll_free(&c3);
        }

        rg_coll_free(&c1);
        rg_coll_free(&c2);
    }

    return bad;
}


static int
rg_check_usage(const unsigned char *d, size_t len, size_t piece)
{
    int           ra, rb, bad;
    size_t        i, n;
    llr_sig_t     sa, sb;
    llr_usage_t   a, b;
    llr_format_e  fmt;

    bad = 0;

    for (fmt = LLR_FMT_OPENAI; fmt <= LLR_FMT_ANTHROPIC; fmt++) {
        llr_usage_init_format(&a, fmt);
        ra = llr_usage_feed(&a, d, len);
        ra |= llr_usage_finish(&a);

        llr_usage_init_format(&b, fmt);
        rb = 0;
        for (i = 0; i < len; i += n) {
            n = len - i < piece ? len - i : piece;
            rb |= llr_usage_feed(&b, d + i, n);
        }
        rb |= llr_usage_finish(&b);

        bad |= ra != rb || memcmp(&a.res, &b.res, sizeof(llr_resp_t)) != 0;
    }

    /* the quality signals through the text tap: the same in pieces */

    for (fmt = LLR_FMT_OPENAI; fmt <= LLR_FMT_ANTHROPIC; fmt++) {
        llr_sig_init(&sa, &rg_sig_conf, 1);
        llr_usage_init_format(&a, fmt);
        a.json.tap = llr_sig_tap;
        a.json.tap_ctx = &sa;
        (void) llr_usage_feed(&a, d, len);
        (void) llr_usage_finish(&a);

        llr_sig_init(&sb, &rg_sig_conf, 1);
        llr_usage_init_format(&b, fmt);
        b.json.tap = llr_sig_tap;
        b.json.tap_ctx = &sb;
        for (i = 0; i < len; i += n) {
            n = len - i < piece ? len - i : piece;
            (void) llr_usage_feed(&b, d + i, n);
        }
        (void) llr_usage_finish(&b);

        bad |= llr_sig_end(&sa, a.res.finish)
               != llr_sig_end(&sb, b.res.finish)
               || sa.tools != sb.tools;
    }

    return bad;
}


static int
rg_emit(void *ctx, const unsigned char *p, size_t n)
{
    rg_add(ctx, p, n);
    return 0;
}


static void *
rg_sse_alloc(void *ctx, size_t size)
{
    return malloc(size);
}


static void
rg_sse_free(void *ctx, void *p)
{
    free(p);
}


static int
rg_check_sse(const unsigned char *d, size_t len, size_t piece)
{
    int             bad;
    size_t          i, n, max, f;
    unsigned        flags;
    rg_buf_t        oa, ob;
    llr_sse_t       a, b;
    llr_alloc_t     mem = { rg_sse_alloc, NULL, rg_sse_free, NULL };
    static llr_sse_cache_t  cache;
    static const unsigned   modes[] = {
        0, LLR_SSE_STRIP_USAGE, LLR_SSE_ANTHROPIC
    };

    bad = 0;

    for (f = 0; f < sizeof(modes) / sizeof(modes[0]); f++) {
        flags = modes[f];
        max = (flags & LLR_SSE_STRIP_USAGE) ? 64 + piece * 8
                                            : LLR_SSE_MAX_EVENT;

        memset(&oa, 0, sizeof(oa));
        memset(&ob, 0, sizeof(ob));

        /* b takes the templates a leaves (one cache, as in a worker) */
        llr_sse_cache_init(&cache);

        llr_sse_init(&a, flags, max, &mem);
        llr_sse_use_cache(&a, &cache);
        bad |= llr_sse_feed(&a, d, len, rg_emit, &oa) != 0;
        bad |= llr_sse_finish(&a, rg_emit, &oa) != 0;

        llr_sse_init(&b, flags, max, &mem);
        llr_sse_use_cache(&b, &cache);
        for (i = 0; i < len; i += n) {
            n = len - i < piece ? len - i : piece;
            bad |= llr_sse_feed(&b, d + i, n, rg_emit, &ob) != 0;
        }
        bad |= llr_sse_finish(&b, rg_emit, &ob) != 0;

        /* the whole-piece run never holds; the split run may release */
        if (b.oversized_events == 0
            && (oa.len != ob.len
                || (oa.len && memcmp(oa.s, ob.s, oa.len) != 0)))
        {
            bad = 1;
        }

        if (oa.len > len
            || memcmp(&a.res, &b.res, sizeof(llr_resp_t)) != 0
            || a.events != b.events || a.json_events != b.json_events
            || a.bad_events != b.bad_events || a.done != b.done)
        {
            bad = 1;
        }

        /* without strip mode the bytes pass unchanged */
        if (!(flags & LLR_SSE_STRIP_USAGE)
            && (oa.len != len || (len && memcmp(oa.s, d, len) != 0)))
        {
            bad = 1;
        }

        /* the caches change nothing: whole again without them */
        {
            rg_buf_t   oc;
            llr_sse_t  c;

            memset(&oc, 0, sizeof(oc));
            llr_sse_init(&c, flags | LLR_SSE_NO_CACHE, max, &mem);
            bad |= llr_sse_feed(&c, d, len, rg_emit, &oc) != 0;
            bad |= llr_sse_finish(&c, rg_emit, &oc) != 0;

            if (oa.len != oc.len
                || (oa.len && memcmp(oa.s, oc.s, oa.len) != 0)
                || memcmp(&a.res, &c.res, sizeof(llr_resp_t)) != 0
                || a.events != c.events || a.json_events != c.json_events
                || a.bad_events != c.bad_events || a.stripped != c.stripped)
            {
                bad = 1;
            }

            llr_sse_free(&c);
            free(oc.s);
        }

        llr_sse_free(&a);
        llr_sse_free(&b);
        free(oa.s);
        free(ob.s);
    }

    return bad;
}


static int
rg_check_values(const unsigned char *d, size_t len)
{
    char         buf[40];
    size_t       n;
    uint64_t     v, w;
    const char  *err, *s = (const char *) d;

    err = NULL;
    (void) llr_parse_uint(s, len, UINT64_MAX, &v, &err);

    if ((llr_parse_price(s, len, &v, &err) == 0)
        != (llr_parse_decimal(s, len, 6, 1000000000000ULL, &w, NULL) == 0))
    {
        return 1;
    }

    if (llr_parse_decimal(s, len, 12, UINT64_MAX, &v, NULL) == 0) {
        n = llr_format_usd(buf, sizeof(buf), v, 12);
        if (n == 0 || llr_parse_decimal(buf, n, 12, UINT64_MAX, &w, NULL)
                      != 0 || w != v)
        {
            return 1;
        }
    }

    return 0;
}


typedef struct {
    void    *p[RG_MAX_ALLOC];
    size_t   n;
} rg_arena_t;


static void *
rg_arena_alloc(void *ctx, size_t n)
{
    rg_arena_t  *a = ctx;

    if (a->n == RG_MAX_ALLOC) {
        return NULL;
    }

    a->p[a->n] = malloc(n ? n : 1);
    return a->p[a->n++];
}


static int
rg_load_model(const unsigned char *d, size_t len)
{
    int                 bad;
    char                err[256];
    void               *st;
    size_t              nt;
    rg_arena_t          a;
    llr_alloc_t         mem;
    llr_text_sink_t     sink;
    llr_req_view_t      view;
    llr_cls_model_t    *m;
    llr_cls_result_t    res;

    a.n = 0;
    err[0] = '\0';
    bad = 0;

    mem.malloc = rg_arena_alloc;
    mem.realloc = NULL;
    mem.free = NULL;
    mem.ctx = &a;

    m = llr_cls_model_load(d, len, &mem, err, sizeof(err));

    if (m == NULL) {
        bad = err[0] == '\0';

    } else {
        nt = llr_cls_ntasks(m);
        st = malloc(llr_cls_state_size(m));
        if (st == NULL) {
            abort();
        }
        llr_cls_state_init(st, m);
        llr_cls_sink(st, &sink);
        sink.message_begin(sink.ctx, "user", 0);
        sink.text(sink.ctx, d, len < 4096 ? len : 4096);
        sink.message_end(sink.ctx);
        memset(&view, 0, sizeof(view));
        view.max_tokens = -1;
        view.messages = 1;
        view.user_turns = 1;
        llr_cls_finish(st, &view, &res);
        free(st);

        bad = nt < 2 || nt > LLR_CLS_MAX_TASKS || res.task < 0
              || (size_t) res.task >= nt || res.task_name == NULL;

        llr_cls_model_cleanup(m);
    }

    while (a.n) {
        free(a.p[--a.n]);
    }

    return bad;
}


static int
rg_check_model(const unsigned char *d, size_t len)
{
    int             bad;
    size_t          i;
    uint64_t        h;
    unsigned char  *img;

    bad = rg_load_model(d, len);

    /* again with the trailing checksum made right */
    if (len >= 8) {
        img = malloc(len);
        if (img == NULL) {
            abort();
        }
        memcpy(img, d, len);

        h = llr_fnv1a64(LLR_FNV1A64_INIT, img, len - 8);
        for (i = 0; i < 8; i++) {
            img[len - 8 + i] = (unsigned char) (h >> (8 * i));
        }

        bad |= rg_load_model(img, len);
        free(img);
    }

    return bad;
}


static int
rg_check_pattern(const unsigned char *d, size_t len)
{
    int             bad, caseless, r1, r2;
    char            err[256];
    size_t          rlen;
    llr_pattern_t   p;
    const unsigned char  *nul;

    bad = 0;
    nul = memchr(d, '\0', len);
    rlen = nul ? (size_t) (nul - d) : len;

    for (caseless = 0; caseless <= 1; caseless++) {
        err[0] = '\0';

        if (llr_pattern_compile(&p, (const char *) d, rlen, caseless, err,
                                sizeof(err))
            != 0)
        {
            bad |= err[0] == '\0' || llr_pattern_match(&p, d, len) != -1;
            continue;
        }

        r1 = llr_pattern_match(&p, d, len);
        r2 = llr_pattern_match(&p, d, len);
        bad |= r1 != r2 || r1 < -1 || r1 > 1;
        llr_pattern_free(&p);
    }

    return bad;
}


/* the body of a feedback request (fuzz/fuzz_fbreq.c) */

static int
rg_check_fbreq(const unsigned char *d, size_t len)
{
    size_t         i;
    const char    *err;
    llr_fb_req_t   req;

    err = NULL;

    if (llr_fb_parse(d, len, &req, &err) != 0) {
        return err == NULL;
    }

    if (req.id_len == 0 || req.id_len > LLR_FB_REQ_ID_MAX
        || req.score < -1000 || req.score > 1000)
    {
        return 1;
    }

    for (i = 0; i < req.id_len; i++) {
        if (req.id[i] < 0x21 || req.id[i] > 0x7e) {
            return 1;
        }
    }

    return 0;
}


/* the mock's JSON parser, plan and schema instances (fuzz/fuzz_mock.c) */

static int
rg_check_mock(const unsigned char *d, size_t len)
{
    int               bad;
    char             *buf;
    size_t            n;
    const char       *param;
    llr_jv_doc_t     *doc, *out;
    llr_mock_msgs_t   msgs;
    llr_mock_plan_t   plan;

    doc = llr_jv_parse(&rg_alloc, d, len, NULL, NULL);

    if (doc == NULL) {
        return 0;
    }

    (void) llr_mock_plan(&plan, doc->root, len & 1, &param);
    bad = plan.n < 1 || plan.n > LLR_MOCK_MAX_N;

    if (llr_mock_msgs(&msgs, doc->root, len & 1, 1) == NULL) {
        bad |= msgs.cached > msgs.input || msgs.model == NULL
               || (msgs.tool && msgs.tool_schema == NULL);
    }

    n = llr_schema_instance(doc->root, NULL, 0);

    if (n != (size_t) -1) {
        buf = malloc(n + 1);
        if (buf == NULL) {
            abort();
        }

        bad |= llr_schema_instance(doc->root, buf, n) != n;
        out = llr_jv_parse(&rg_alloc, (unsigned char *) buf, n, NULL, NULL);
        bad |= out == NULL;
        llr_jv_free(out);
        free(buf);
    }

    llr_jv_free(doc);

    return bad;
}


/* the translators between the wire formats (fuzz/fuzz_xlate.c) */

static int
rg_xlate_out(llr_xlate_rc_e rc, llr_xlate_out_t *out)
{
    int            bad;
    llr_jv_doc_t  *doc;

    if (rc != LLR_XLATE_OK) {
        return out->data != NULL || out->message[0] == '\0';
    }

    doc = llr_jv_parse(&rg_alloc, out->data, out->len, NULL, NULL);
    bad = doc == NULL || out->data[out->len] != '\0';
    llr_jv_free(doc);
    free(out->data);

    return bad;
}


static int
rg_check_xlate(const unsigned char *d, size_t len)
{
    int               bad;
    llr_xlate_e       x;
    llr_xlate_out_t   out;
    llr_xlate_opts_t  opts = { "m", 1, 4096, 0 };

    bad = 0;

    for (x = LLR_XLATE_CHAT_ANTHROPIC; x <= LLR_XLATE_RESPONSES_ANTHROPIC;
         x++)
    {
        bad |= rg_xlate_out(llr_xlate_request(x, &rg_alloc, &opts, d, len,
                                              &out), &out);
        bad |= rg_xlate_out(llr_xlate_response(x, &rg_alloc, 1, d, len,
                                               &out), &out);
        bad |= rg_xlate_out(llr_xlate_error(x, &rg_alloc, 500, d, len,
                                            &out), &out);
    }

    return bad;
}


/* a stream translated whole and in pieces: the same bytes, ended */

static int
rg_xsse(llr_xlate_e x, const unsigned char *d, size_t len, size_t piece,
    rg_buf_t *b)
{
    int               end;
    size_t            i, n;
    llr_xsse_t       *xs;
    llr_xsse_opts_t   o = { 1, 1, 0 };

    xs = llr_xsse_create(x, &rg_alloc, &o);
    if (xs == NULL) {
        abort();
    }

    for (i = 0; i < len; i += n) {
        n = len - i < piece ? len - i : piece;
        (void) llr_xsse_feed(xs, d + i, n, rg_emit, b);
    }

    (void) llr_xsse_finish(xs, rg_emit, b);
    end = llr_xsse_ended(xs);
    llr_xsse_destroy(xs);

    return end;
}


static int
rg_check_xsse(const unsigned char *d, size_t len, size_t piece)
{
    int          bad;
    rg_buf_t     a, b;
    llr_xlate_e  x;

    bad = 0;

    for (x = LLR_XLATE_CHAT_ANTHROPIC; x <= LLR_XLATE_ANTHROPIC_CHAT; x++) {
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));

        bad |= !rg_xsse(x, d, len, len ? len : 1, &a);
        bad |= !rg_xsse(x, d, len, piece, &b);
        bad |= a.len != b.len || (a.len && memcmp(a.s, b.s, a.len) != 0);

        free(a.s);
        free(b.s);
    }

    return bad;
}


static unsigned char *
rg_read(const char *path, size_t *len)
{
    FILE           *f;
    unsigned char  *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    buf = calloc(1, RG_MAX_FILE);      /* pcre2 JIT reads ahead */
    if (buf == NULL) {
        abort();
    }

    *len = fread(buf, 1, RG_MAX_FILE, f);
    fclose(f);

    return buf;
}


static int
rg_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* replay every regular file of dir; returns the number of files */

static size_t
rg_replay_dir(const char *dir)
{
    int             k;
    DIR            *dh;
    char            path[1024], *names[512];
    size_t          i, n, len, dlen, piece;
    unsigned char  *buf;
    const char     *msg;
    const unsigned char  *d;
    struct dirent  *de;

    dh = opendir(dir);
    if (dh == NULL) {
        return 0;
    }

    n = 0;
    while ((de = readdir(dh)) != NULL && n < 512) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "README.md") == 0) {
            continue;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(dh);

    qsort(names, n, sizeof(char *), rg_name_cmp);

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        buf = rg_read(path, &len);

        if (buf == NULL) {
            ok(0, "%s: readable", path);
            free(names[i]);
            continue;
        }

        /* as is, and without the fuzzers' control byte */
        for (k = 0; k < 2 && (size_t) k <= len; k++) {
            d = buf + k;
            dlen = len - k;
            piece = 1 + (len ? buf[0] % 13 : 0);

            ok(!rg_check_req(d, dlen, piece), "%s%s: request scanner",
               path, k ? " [1:]" : "");
            ok(!rg_check_usage(d, dlen, piece), "%s%s: usage scanner",
               path, k ? " [1:]" : "");
            ok(!rg_check_sse(d, dlen, piece), "%s%s: sse parser",
               path, k ? " [1:]" : "");
            ok(!rg_check_values(d, dlen), "%s%s: value parsers",
               path, k ? " [1:]" : "");
            ok(!rg_check_model(d, dlen), "%s%s: model loader",
               path, k ? " [1:]" : "");
            ok(!rg_check_pattern(d, dlen), "%s%s: pattern",
               path, k ? " [1:]" : "");
            ok(!rg_check_mock(d, dlen), "%s%s: mock", path,
               k ? " [1:]" : "");
            ok(!rg_check_xlate(d, dlen), "%s%s: translators", path,
               k ? " [1:]" : "");
            ok(!rg_check_xsse(d, dlen, piece), "%s%s: stream translators",
               path, k ? " [1:]" : "");
            msg = qc_jsonv(d, dlen);
            ok(msg == NULL, "%s%s: JSON validator%s%s", path,
               k ? " [1:]" : "", msg ? ": " : "", msg ? msg : "");
            msg = qc_signal(&rg_sig_conf, d, dlen);
            ok(msg == NULL, "%s%s: signals%s%s", path,
               k ? " [1:]" : "", msg ? ": " : "", msg ? msg : "");
            ok(!rg_check_fbreq(d, dlen), "%s%s: feedback body", path,
               k ? " [1:]" : "");
        }

        free(buf);
        free(names[i]);
    }

    return n;
}


int
main(void)
{
    char           dir[1024], err[128];
    size_t         n;
    const char    *top;
    llr_pattern_t  refusals;
    static const char  *targets[] = {
        "req", "sse", "usage", "values", "model", "pattern", "mock",
        "xlate", "xsse", "jsonv", "signal", "fbreq"
    };

    if (llr_sig_refusal_default(&refusals, err, sizeof(err)) != 0) {
        printf("# %s\n", err);
        return 1;
    }

    rg_sig_conf.patterns = &refusals;
    rg_sig_conf.npatterns = 1;

    top = getenv("LLR_FUZZ_DIR");
    if (top == NULL) {
        top = "fuzz";
    }

    snprintf(dir, sizeof(dir), "%s/regressions", top);
    n = rg_replay_dir(dir);
    ok(n > 0, "%s has inputs (%zu)", dir, n);

    for (n = 0; n < sizeof(targets) / sizeof(targets[0]); n++) {
        snprintf(dir, sizeof(dir), "%s/seeds/%s", top, targets[n]);
        ok(rg_replay_dir(dir) > 0, "%s has seeds", dir);
    }

    llr_pattern_free(&refusals);

    done_testing();
}
