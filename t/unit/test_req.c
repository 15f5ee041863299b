/*
 * Unit tests of core/llr_req.c: the request scanner and rewriter.
 *
 * The output memory is handed out in small fixed chunks so that next()
 * is exercised; marks are collected and the output reassembled with
 * chosen insertions, then compared with the expected JSON text.
 */

#include <stdlib.h>
#include <stdint.h>

#include "tap.h"
#include "llr_req.h"


#define CHUNK  64


/* a growable string */

typedef struct {
    char    *s;
    size_t   len;
    size_t   cap;
} sb_t;


static void
sb_add(sb_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL) {
            abort();
        }
    }

    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}


static void
sb_str(sb_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}


/* the allocator: counts live blocks, may fail */

typedef struct {
    long     live;
    long     fail_at;       /* fail the n-th allocation (from 1), 0: never */
    long     count;
} alloc_ctx_t;


static void *
t_malloc(void *ctx, size_t size)
{
    alloc_ctx_t  *a = ctx;

    a->count++;

    if (a->fail_at && a->count == a->fail_at) {
        return NULL;
    }

    a->live++;
    return malloc(size);
}


static void *
t_realloc(void *ctx, void *ptr, size_t size)
{
    alloc_ctx_t  *a = ctx;
    void         *p;

    a->count++;

    if (a->fail_at && a->count == a->fail_at) {
        return NULL;
    }

    p = realloc(ptr, size);

    if (ptr == NULL && p != NULL) {
        a->live++;
    }

    return p;
}


static void
t_free(void *ctx, void *ptr)
{
    alloc_ctx_t  *a = ctx;

    if (ptr != NULL) {
        a->live--;
        free(ptr);
    }
}


/* the output collector */

#define MAX_MARKS  16

typedef struct {
    llr_out_t       out;
    unsigned char  *chunk;
    sb_t            acc;            /* all output, marks removed */
    int             nmarks;
    int             mark_type[MAX_MARKS];
    int             mark_comma[MAX_MARKS];
    size_t          mark_at[MAX_MARKS];
    int             flushed;
    int             refs;           /* ref() calls that linked */
    int             ref_copies;     /* and that had the bytes copied */
    const unsigned char *ref_last;  /* where the last one pointed */
    int             bad_next;       /* next() called with room left */
    int             fail_next;      /* make next() fail */
} coll_t;


static void
coll_take(coll_t *c)
{
    if (c->chunk) {
        sb_add(&c->acc, c->chunk, (size_t) (c->out.pos - c->chunk));
        free(c->chunk);
    }

    c->chunk = malloc(CHUNK);
    c->out.pos = c->chunk;
    c->out.end = c->chunk + CHUNK;
}


static int
coll_next(llr_out_t *out)
{
    coll_t  *c = out->data;

    if (c->fail_next) {
        return -1;
    }

    if (out->pos != out->end) {
        c->bad_next++;
    }

    coll_take(c);
    return 0;
}


static int
coll_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    coll_t  *c = out->data;

    coll_take(c);

    if (c->nmarks < MAX_MARKS) {
        c->mark_type[c->nmarks] = mark;
        c->mark_comma[c->nmarks] = comma;
        c->mark_at[c->nmarks] = c->acc.len;
    }

    c->nmarks++;
    return 0;
}


/*
 * bytes by reference: copied here, as the module links them; a single
 * byte is left to the rewriter to copy (as the module leaves short runs)
 */

static int
coll_ref(llr_out_t *out, const unsigned char *p, size_t len)
{
    coll_t  *c = out->data;

    if (len == 1) {
        c->ref_copies++;
        return 1;
    }

    coll_take(c);
    sb_add(&c->acc, p, len);
    c->refs++;
    c->ref_last = p;
    return 0;
}


static int
coll_flush(llr_out_t *out)
{
    coll_t  *c = out->data;

    coll_take(c);
    c->flushed++;
    return 0;
}


/* the text sink: a trace like "[user:0]Hello|[/]" */

static void
sink_begin(void *ctx, const char *role, size_t turn)
{
    char  buf[64];

    snprintf(buf, sizeof(buf), "[%s:%zu]", role, turn);
    sb_str(ctx, buf);
}


static void
sink_text(void *ctx, const unsigned char *data, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (data[i] == '\0') {
            sb_str(ctx, "\\0");

        } else {
            sb_add(ctx, &data[i], 1);
        }
    }

    sb_str(ctx, "|");
}


static void
sink_end(void *ctx)
{
    sb_str(ctx, "[/]");
}


/* one run */

typedef struct {
    llr_req_err_e    err;
    char             msg[256];
    char             param[64];
    int              has_param;
    llr_req_view_t   view;
    char             model[256];
    coll_t           coll;
    sb_t             trace;
    char             marks[64];     /* "M0S1T1" */
    long             live;
} res_t;


enum { WHOLE = -1, BYTEWISE = -2 };


/* llr_req_set_want(): when want_model is set, only it is wanted */
static const char  *want_model;
static int          want_calls;
static int          feed_stable;    /* run_ex() feeds llr_req_feed_stable() */


static int
want_fn(void *ctx, const unsigned char *model, size_t len)
{
    want_calls++;

    return strlen(want_model) == len && memcmp(model, want_model, len) == 0;
}


static void
res_free(res_t *r)
{
    free(r->coll.acc.s);
    free(r->trace.s);
    memset(r, 0, sizeof(res_t));
}


/* the counting allocator, and a sink tracing into r->trace */
static void
run_setup(res_t *r, alloc_ctx_t *actx, llr_alloc_t *alloc,
    llr_text_sink_t *sink)
{
    memset(r, 0, sizeof(res_t));
    memset(actx, 0, sizeof(alloc_ctx_t));

    alloc->malloc = t_malloc;
    alloc->realloc = t_realloc;
    alloc->free = t_free;
    alloc->ctx = actx;

    sink->message_begin = sink_begin;
    sink->text = sink_text;
    sink->message_end = sink_end;
    sink->ctx = &r->trace;

    sb_str(&r->trace, "");
}


static llr_req_err_e
feed(llr_req_t *rq, const unsigned char *data, size_t len)
{
    return feed_stable ? llr_req_feed_stable(rq, data, len)
                       : llr_req_feed(rq, data, len);
}


/*
 * split >= 0: two pieces split there; WHOLE: one piece; BYTEWISE: one
 * byte at a time.  scan: no output memory.
 */
static llr_req_err_e
run_ex(llr_endpoint_e ep, const char *body, size_t len, long split, int scan,
    res_t *r)
{
    size_t            i, n;
    llr_req_t        *rq;
    alloc_ctx_t       actx;
    llr_alloc_t       alloc;
    llr_text_sink_t   sink;
    llr_req_err_e     err;
    const char       *p;

    run_setup(r, &actx, &alloc, &sink);
    sb_str(&r->coll.acc, "");

    r->coll.out.next = coll_next;
    r->coll.out.mark = coll_mark;
    r->coll.out.flush = coll_flush;
    r->coll.out.ref = feed_stable ? coll_ref : NULL;
    r->coll.out.data = &r->coll;
    r->coll.out.pos = NULL;
    r->coll.out.end = NULL;

    rq = llr_req_create(&alloc, ep, scan ? NULL : &r->coll.out, &sink);
    if (rq == NULL) {
        r->err = LLR_REQ_ERR_NOMEM;
        return r->err;
    }

    if (want_model != NULL) {
        llr_req_set_want(rq, want_fn, NULL);
    }

    err = LLR_REQ_OK;

    if (split == WHOLE) {
        err = feed(rq, (const unsigned char *) body, len);

    } else if (split == BYTEWISE) {
        for (i = 0; i < len && err == LLR_REQ_OK; i++) {
            err = feed(rq, (const unsigned char *) body + i, 1);
        }

    } else {
        err = feed(rq, (const unsigned char *) body, (size_t) split);
        if (err == LLR_REQ_OK) {
            err = feed(rq, (const unsigned char *) body + split,
                               len - (size_t) split);
        }
    }

    if (err == LLR_REQ_OK) {
        err = llr_req_finish(rq);
    }

    r->err = err;
    snprintf(r->msg, sizeof(r->msg), "%s", llr_req_error_message(rq));
    p = llr_req_error_param(rq);
    r->has_param = p != NULL;
    snprintf(r->param, sizeof(r->param), "%s", p ? p : "(null)");

    r->view = *llr_req_view(rq);
    snprintf(r->model, sizeof(r->model), "%s",
             r->view.model ? r->view.model : "(null)");
    r->view.model = NULL;

    llr_req_destroy(rq);
    r->live = actx.live;

    /* the last piece (unflushed when an error stopped the output) */
    if (r->coll.chunk) {
        sb_add(&r->coll.acc, r->coll.chunk,
               (size_t) (r->coll.out.pos - r->coll.chunk));
        free(r->coll.chunk);
        r->coll.chunk = NULL;
    }

    n = 0;
    for (i = 0; i < (size_t) r->coll.nmarks && i < MAX_MARKS; i++) {
        n += snprintf(r->marks + n, sizeof(r->marks) - n, "%c%d",
                      "MST"[r->coll.mark_type[i]], r->coll.mark_comma[i]);
    }

    return err;
}


static llr_req_err_e
run(llr_endpoint_e ep, const char *body, res_t *r)
{
    return run_ex(ep, body, strlen(body), WHOLE, 0, r);
}


/* the output with the insertions a caller would make; caller frees */

static char *
render(res_t *r, const char *model, const char *usage, const char *tail)
{
    int      i;
    sb_t     b;
    size_t   at;
    coll_t  *c;

    memset(&b, 0, sizeof(b));
    sb_str(&b, "");

    c = &r->coll;
    at = 0;

    for (i = 0; i < c->nmarks && i < MAX_MARKS; i++) {
        sb_add(&b, c->acc.s + at, c->mark_at[i] - at);
        at = c->mark_at[i];

        switch (c->mark_type[i]) {

        case LLR_MARK_MODEL:
            sb_str(&b, "\"model\":\"");
            sb_str(&b, model);
            sb_str(&b, "\"");
            if (c->mark_comma[i]) {
                sb_str(&b, ",");
            }
            break;

        case LLR_MARK_STREAM_OPTIONS:
            if (c->mark_comma[i]) {
                sb_str(&b, ",");
            }
            sb_str(&b, "\"include_usage\":");
            sb_str(&b, usage);
            break;

        default:
            sb_str(&b, tail);
            break;
        }
    }

    sb_add(&b, c->acc.s + at, c->acc.len - at);

    return b.s;
}


static void
is_out(res_t *r, const char *expected, const char *name)
{
    char  *s;

    s = render(r, "routed", "true", "");
    is_str(s, expected, "%s: output", name);
    free(s);
}


static int
has(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}


#define MSG1  "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]"


/*
 * the repeated shape: a body, its endpoint, the error it gives (LLR_REQ_OK
 * for none) and the error's param (NULL: not checked); named "NAME" or
 * "NAME: WHAT", the param "NAME: param"
 */

typedef struct {
    llr_endpoint_e   ep;
    const char      *body;
    llr_req_err_e    err;
    const char      *param;
    const char      *name;
    const char      *what;
} req_case_t;


static void
run_cases(const req_case_t *c, size_t n)
{
    size_t  i;
    res_t   r;

    for (i = 0; i < n; i++) {
        is_int(run(c[i].ep, c[i].body, &r), c[i].err, "%s%s%s", c[i].name,
               c[i].what ? ": " : "", c[i].what ? c[i].what : "");

        if (c[i].param != NULL) {
            is_str(r.param, c[i].param, "%s: param", c[i].name);
        }

        res_free(&r);
    }
}


#define RUN_CASES(cases)  run_cases(cases, sizeof(cases) / sizeof(cases[0]))


static void
test_simple(void)
{
    res_t        r;
    const char  *body;

    body = "{\"model\":\"gpt-4o\"," MSG1 "}";

    is_int(run(LLR_EP_CHAT, body, &r), LLR_REQ_OK, "simple: ok");
    is_out(&r, "{\"model\":\"routed\"," MSG1 "}", "simple");
    is_str(r.marks, "M0T1", "simple: marks");
    is_str(r.coll.acc.s, "{," MSG1 "}", "simple: raw output");
    is_str(r.model, "gpt-4o", "simple: model");
    is_int(r.view.model_len, 6, "simple: model_len");
    is_int(r.view.model_count, 1, "simple: model_count");
    is_int(r.view.messages, 1, "simple: messages");
    is_int(r.view.user_turns, 1, "simple: user_turns");
    is_int(r.view.has_system, 0, "simple: has_system");
    is_int(r.view.stream, -1, "simple: stream absent");
    is_int(r.view.include_usage, -1, "simple: include_usage absent");
    is_int(r.view.max_tokens, -1, "simple: max_tokens absent");
    is_int(r.view.has_stream_options, 0, "simple: no stream_options");
    is_int(r.view.has_tools, 0, "simple: no tools");
    is_int(r.view.text_bytes, 5, "simple: text_bytes");
    is_int(r.view.body_bytes, strlen(body), "simple: body_bytes");
    is_str(r.trace.s, "[user:0]Hello|[/]", "simple: sink");
    is_int(r.coll.flushed, 1, "simple: flushed once");
    is_int(r.coll.bad_next, 0, "simple: next() only when full");
    is_int(r.live, 0, "simple: everything freed");
    res_free(&r);

    /* only the model */
    is_int(run(LLR_EP_ANY, "{\"model\":\"m\"}", &r), LLR_REQ_OK,
           "model only: ok");
    is_out(&r, "{\"model\":\"routed\"}", "model only");
    res_free(&r);

    /*
     * whitespace between top-level members is dropped; an object or
     * array value goes on as written, whitespace included
     */
    body = " {\n\t\"model\" : \"m\" , \"messages\" : [ { \"role\" : \"user\" ,"
           " \"content\" : \"Hello\" } ] , \"x_n\" : [ 1 , { } , [ ] ] ,"
           " \"t\" : 1 , \"so\" : { \"include_usage\" : true , \"x\" : [ 1 ] } }"
           "\r\n ";
    is_int(run(LLR_EP_CHAT, body, &r), LLR_REQ_OK, "whitespace: ok");
    is_out(&r, "{\"model\":\"routed\",\"messages\":[ { \"role\" : \"user\" ,"
           " \"content\" : \"Hello\" } ],\"x_n\":[ 1 , { } , [ ] ],\"t\":1,"
           "\"so\":{ \"include_usage\" : true , \"x\" : [ 1 ] }}",
           "whitespace");
    res_free(&r);
}


static void
test_model(void)
{
    res_t  r;

    /* a body and the error it gives (and the error's param) */
    static const req_case_t  cases[] = {
        { LLR_EP_CHAT, "{\"model\":null," MSG1 "}",
          LLR_REQ_ERR_TYPE, "model", "model null", "type error" },
        { LLR_EP_CHAT, "{\"model\":{\"a\":1}," MSG1 "}",
          LLR_REQ_ERR_TYPE, NULL, "model object: type error", NULL },
        { LLR_EP_CHAT, "{" MSG1 "}",
          LLR_REQ_ERR_MISSING, "model", "missing model", NULL },
        { LLR_EP_ANY, "{\"prompt\":\"hi\"}",
          LLR_REQ_ERR_MISSING, "model", "missing model (any)", NULL },
    };

    is_int(run(LLR_EP_CHAT, "{\"model\":\"a\"," MSG1 ",\"model\":\"b\"}", &r),
           LLR_REQ_OK, "duplicate model: ok");
    is_out(&r, "{\"model\":\"routed\"," MSG1 "}", "duplicate model");
    is_str(r.model, "b", "duplicate model: last one wins");
    is_int(r.view.model_count, 2, "duplicate model: counted");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{" MSG1 ",\"temperature\":0.5,\"model\":\"m\"}",
               &r),
           LLR_REQ_OK, "model last: ok");
    is_out(&r, "{\"model\":\"routed\"," MSG1 ",\"temperature\":0.5}",
           "model last");
    res_free(&r);

    is_int(run(LLR_EP_CHAT,
               "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"x\",\"model\":\"inner\"}],"
               "\"metadata\":{\"model\":\"meta\"}}", &r),
           LLR_REQ_OK, "nested model: ok");
    is_out(&r, "{\"model\":\"routed\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"x\",\"model\":\"inner\"}],"
               "\"metadata\":{\"model\":\"meta\"}}", "nested model");
    is_str(r.model, "m", "nested model: top-level one recorded");
    is_int(r.view.model_count, 1, "nested model: counted once");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"\"," MSG1 "}", &r), LLR_REQ_OK,
           "empty model: allowed");
    is_int(r.view.model_len, 0, "empty model: length 0");
    is_int(r.view.model_count, 1, "empty model: counted");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":5," MSG1 "}", &r), LLR_REQ_ERR_TYPE,
           "model number: type error");
    is_str(r.param, "model", "model number: param");
    is_str(r.msg, "Invalid type for 'model': expected a string, but got an "
           "integer instead.", "model number: message");
    res_free(&r);

    RUN_CASES(cases);

    is_int(run(LLR_EP_EMBEDDINGS, "{\"input\":\"hi\"}", &r),
           LLR_REQ_ERR_MISSING, "missing model (embeddings)");
    res_free(&r);
}


static void
test_strings(void)
{
    res_t        r;
    char        *s;
    const char  *body;

    /* raw UTF-8, \u escapes, a surrogate pair, \u0000, short escapes */
    body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"h\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \\u00e9\\u65e5"
           "\\ud83d\\ude00 \\u0000 \\\" \\\\ \\/ \\b\\f\\n\\r\\t"
           "\\u001f\\u007f\x7f\"}]}";

    is_int(run(LLR_EP_CHAT, body, &r), LLR_REQ_OK, "unicode: ok");
    /* strings are forwarded as written: escapes stay escapes */
    is_out(&r, "{\"model\":\"routed\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"h\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 "
           "\\u00e9\\u65e5\\ud83d\\ude00 \\u0000 \\\" \\\\ \\/ \\b\\f\\n\\r\\t"
           "\\u001f\\u007f\x7f\"}]}", "unicode");
    is_str(r.trace.s, "[user:0]h\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 "
           "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80 \\0 \" \\ / \b\f\n\r\t"
           "\x1f\x7f\x7f|[/]", "unicode: sink gets decoded text");
    is_int(r.view.text_bytes, 39, "unicode: text_bytes decoded");
    res_free(&r);

    /* escaped keys and a model with characters to escape */
    is_int(run(LLR_EP_ANY, "{\"model\":\"a\\\"b\",\"k\\ney\":\"\\u0001\"}",
               &r),
           LLR_REQ_OK, "escaped key: ok");
    is_out(&r, "{\"model\":\"routed\",\"k\\ney\":\"\\u0001\"}", "escaped key");
    is_str(r.model, "a\"b", "escaped model decoded");
    res_free(&r);

    /* numbers verbatim */
    is_int(run(LLR_EP_ANY, "{\"model\":\"m\",\"t\":1.50,\"x\":1e400,"
               "\"y\":-0,\"z\":[1E+2,0.0001,-12,123456789012345678901234]}",
               &r),
           LLR_REQ_OK, "numbers: ok");
    is_out(&r, "{\"model\":\"routed\",\"t\":1.50,\"x\":1e400,\"y\":-0,"
           "\"z\":[1E+2,0.0001,-12,123456789012345678901234]}", "numbers");
    res_free(&r);

    /* a model name the caller inserts, through llr_json_escape */
    {
        const unsigned char  src[] = "a\"b\\c\n\x01\x7f\xc3\xa9/";
        unsigned char        dst[64];
        size_t               n;

        n = llr_json_escape_len(src, sizeof(src) - 1);
        is_int(n, 19, "json_escape_len");
        is_int(llr_json_escape(dst, src, sizeof(src) - 1), n,
               "json_escape: length matches");
        dst[n] = '\0';
        is_str((char *) dst, "a\\\"b\\\\c\\n\\u0001\x7f\xc3\xa9/",
               "json_escape: content");
        is_int(llr_json_escape_len(src, 0), 0, "json_escape_len empty");
    }

    /*
     * bytes that are not UTF-8 (a header value used as a limit key, say)
     * become \ufffd, one per byte; well-formed characters pass as they are
     */
    {
        static const struct {
            const char  *src;
            const char  *exp;
        } u8[] = {
            { "caf\xff", "caf\\ufffd" },
            { "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
              "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" },
            { "a\xc3", "a\\ufffd" },                 /* cut short */
            { "\xe2\x82", "\\ufffd\\ufffd" },
            { "\xc0\xaf", "\\ufffd\\ufffd" },           /* overlong */
            { "\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd" },
            { "\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd" }, /* surrogate */
            { "\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd" },
            { "\xf5\x80", "\\ufffd\\ufffd" },
            { "\x80\"x", "\\ufffd\\\"x" },
            { "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },   /* U+10FFFF */
            { "\xed\x9f\xbf", "\xed\x9f\xbf" },           /* U+D7FF */
        };
        unsigned char  dst[64];
        size_t         i, n, len;

        for (i = 0; i < sizeof(u8) / sizeof(u8[0]); i++) {
            len = strlen(u8[i].src);
            n = llr_json_escape_len((const unsigned char *) u8[i].src, len);
            is_int(llr_json_escape(dst, (const unsigned char *) u8[i].src,
                                   len),
                   n, "json_escape %zu: length matches", i);
            dst[n] = '\0';
            is_str((char *) dst, u8[i].exp, "json_escape %zu: not UTF-8", i);
        }

        is_int(llr_utf8_char((const unsigned char *) "\xc3\xa9", 1), 0,
               "utf8_char: the length given bounds it");
        is_int(llr_utf8_char((const unsigned char *) "\xc3\xa9", 2), 2,
               "utf8_char: 2 bytes");
        is_int(llr_utf8_char((const unsigned char *) "", 0), 0,
               "utf8_char: empty");
    }

    /* long strings cross many output chunks */
    {
        sb_t  b;
        sb_t  e;
        int   i;

        memset(&b, 0, sizeof(b));
        memset(&e, 0, sizeof(e));
        sb_str(&b, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"");
        sb_str(&e, "{\"model\":\"routed\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"");

        for (i = 0; i < 500; i++) {
            sb_str(&b, "abc\\n\\u0002xyz ");
            sb_str(&e, "abc\\n\\u0002xyz ");
        }

        sb_str(&b, "\"}]}");
        sb_str(&e, "\"}]}");

        is_int(run(LLR_EP_CHAT, b.s, &r), LLR_REQ_OK, "long string: ok");
        s = render(&r, "routed", "true", "");
        ok(strcmp(s, e.s) == 0, "long string: output");
        is_int(r.view.text_bytes, 500 * 9, "long string: text_bytes");
        is_int(r.coll.bad_next, 0, "long string: next() only when full");
        free(s);
        res_free(&r);
        free(b.s);
        free(e.s);
    }
}


static void
test_json_errors(void)
{
    res_t   r;
    size_t  i;
    sb_t    b;
    int     bad;

    /* a body and the error it gives (and the error's param) */
    static const req_case_t  cases[] = {
        { LLR_EP_CHAT, "",
          LLR_REQ_ERR_JSON, NULL, "empty body", NULL },
        { LLR_EP_CHAT, "  \n",
          LLR_REQ_ERR_JSON, NULL, "blank body", NULL },
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 "}{}",
          LLR_REQ_ERR_JSON, NULL, "two values", NULL },
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 "} \r\n\t ",
          LLR_REQ_OK, NULL, "trailing whitespace is fine", NULL },
        /* RFC 8259 white space is these four only (yajl also took \v, \f) */
        { LLR_EP_CHAT, "{\"model\":\"m\",\v" MSG1 "}",
          LLR_REQ_ERR_JSON, NULL, "vertical tab is not white space", NULL },
        { LLR_EP_CHAT, "\f{\"model\":\"m\"," MSG1 "}",
          LLR_REQ_ERR_JSON, NULL, "form feed is not white space", NULL },
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 "}tru",
          LLR_REQ_ERR_JSON, NULL, "a literal's start after the value", NULL },
        { LLR_EP_ANY, "{\"model\":\"m\",\"n\":1.}",
          LLR_REQ_ERR_JSON, NULL, "no digit after the point", NULL },
        { LLR_EP_ANY, "{\"model\":\"m\",\"n\":1e+}",
          LLR_REQ_ERR_JSON, NULL, "no digit in the exponent", NULL },
        { LLR_EP_ANY, "{\"model\":\"m\",\"n\":01}",
          LLR_REQ_ERR_JSON, NULL, "a leading zero", NULL },
        { LLR_EP_ANY, "1e",
          LLR_REQ_ERR_JSON, NULL, "the body ends inside a number", NULL },
        { LLR_EP_ANY, "12",
          LLR_REQ_ERR_TYPE, NULL,
          "a number as the whole body: not an object", NULL },
        { LLR_EP_CHAT, "{/* c */\"model\":\"m\"," MSG1 "}",
          LLR_REQ_ERR_JSON, NULL, "comments refused", NULL },
        { LLR_EP_CHAT, "{\"model\":\"m\xff\"," MSG1 "}",
          LLR_REQ_ERR_JSON, NULL, "invalid UTF-8", NULL },
        { LLR_EP_CHAT, "{\"model\":\"m\xc3\"," MSG1 "}",
          LLR_REQ_ERR_JSON, NULL, "truncated UTF-8 sequence", NULL },
        { LLR_EP_CHAT, "{\"model\":\"a\tb\"," MSG1 "}",
          LLR_REQ_ERR_JSON, NULL, "raw control character in a string", NULL },
        { LLR_EP_CHAT, "{\"model\":'m'}",
          LLR_REQ_ERR_JSON, NULL, "single quotes", NULL },
    };

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\",", &r), LLR_REQ_ERR_JSON,
           "premature end: json error");
    ok(r.has_param == 0, "premature end: no param");
    ok(has(r.msg, "We could not parse the JSON body of your request."),
       "premature end: message (%s)", r.msg);
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\" \"m\"}", &r), LLR_REQ_ERR_JSON,
           "missing colon: json error");
    ok(has(r.msg, "at byte "), "missing colon: position (%s)", r.msg);
    res_free(&r);

    RUN_CASES(cases);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 "} x", &r),
           LLR_REQ_ERR_JSON, "trailing garbage");
    ok(has(r.msg, "trailing garbage"), "trailing garbage: message (%s)",
       r.msg);
    res_free(&r);

    /* an unfinished token after the value (yajl let it pass) */
    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 "} \"", &r),
           LLR_REQ_ERR_JSON, "an open string after the value");
    ok(has(r.msg, "trailing garbage"), "open string after the value: "
       "message (%s)", r.msg);
    res_free(&r);

    /* numbers the grammar refuses, also when the body ends in them */
    is_int(run(LLR_EP_ANY, "{\"model\":\"m\",\"n\":-}", &r),
           LLR_REQ_ERR_JSON, "minus without digits");
    ok(has(r.msg, "after the minus sign"), "minus: message (%s)", r.msg);
    res_free(&r);

    /* the echoed fragment is short and printable */
    memset(&b, 0, sizeof(b));
    sb_str(&b, "{\"model\":\"m\",\"x\":");
    for (i = 0; i < 2000; i++) {
        sb_str(&b, "\x01zzzzzzzz");
    }
    sb_str(&b, "}");

    is_int(run(LLR_EP_CHAT, b.s, &r), LLR_REQ_ERR_JSON, "garbage: json");
    bad = 0;
    for (i = 0; r.msg[i]; i++) {
        if ((unsigned char) r.msg[i] < 0x20 || (unsigned char) r.msg[i] > 0x7e)
        {
            bad++;
        }
    }
    ok(strlen(r.msg) < 200 && bad == 0, "garbage: short printable message "
       "(%s)", r.msg);
    res_free(&r);
    free(b.s);
}


static void
test_type_errors(void)
{
    res_t        r;
    size_t       i;
    const char  *tops[] = { "[]", "\"x\"", "1", "null", "true", "[{}]" };

    /* a body and the error it gives (and the error's param) */
    static const req_case_t  cases[] = {
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream\":1}",
          LLR_REQ_ERR_TYPE, NULL, "stream number: type error", NULL },
        { LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":{}}",
          LLR_REQ_ERR_TYPE, "messages", "messages object", "type error" },
        { LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":null}",
          LLR_REQ_ERR_TYPE, NULL, "messages null: type error", NULL },
        { LLR_EP_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\""
          ",\"content\":5}]}",
          LLR_REQ_ERR_TYPE, NULL, "content number", NULL },
        { LLR_EP_CHAT,
          "{\"model\":\"m\",\"messages\":[{\"role\":\"user\""
          ",\"content\":[1]}]}",
          LLR_REQ_ERR_TYPE, NULL, "content part number", NULL },
    };

    for (i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
        run(LLR_EP_CHAT, tops[i], &r);
        ok(r.err == LLR_REQ_ERR_TYPE && r.has_param == 0
           && has(r.msg, "must be a JSON object"),
           "top level %s: type error (%d, %s)", tops[i], r.err, r.msg);
        res_free(&r);
    }

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream\":\"yes\"}",
               &r),
           LLR_REQ_ERR_TYPE, "stream string: type error");
    is_str(r.param, "stream", "stream string: param");
    is_str(r.msg, "Invalid type for 'stream': expected a boolean, but got "
           "a string instead.", "stream string: message");
    res_free(&r);

    RUN_CASES(cases);

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream\":true}", &r);
    is_int(r.view.stream, 1, "stream true");
    res_free(&r);

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream\":false}", &r);
    is_int(r.view.stream, 0, "stream false");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream\":null}", &r),
           LLR_REQ_OK, "stream null: ok");
    is_int(r.view.stream, -1, "stream null: absent");
    is_out(&r, "{\"model\":\"routed\"," MSG1 ",\"stream\":null}",
           "stream null copied");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"}", &r), LLR_REQ_ERR_MISSING,
           "missing messages");
    is_str(r.param, "messages", "missing messages: param");
    is_str(r.msg, "'messages' is a required property",
           "missing messages: message");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":[]}", &r),
           LLR_REQ_ERR_TYPE, "messages empty: error");
    is_str(r.param, "messages", "messages empty: param");
    is_str(r.msg, "[] is too short - 'messages'", "messages empty: message");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\""
               ",\"content\":\"a\"},\"b\"]}", &r),
           LLR_REQ_ERR_TYPE, "message not an object");
    is_str(r.param, "messages", "message not an object: param");
    ok(has(r.msg, "'messages[1]'"), "message not an object: index (%s)",
       r.msg);
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\""
               "},{\"content\":\"x\"}]}", &r),
           LLR_REQ_ERR_MISSING, "role missing");
    is_str(r.param, "messages", "role missing: param");
    is_str(r.msg, "Missing required parameter: 'messages[1].role'.",
           "role missing: message");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":7}]}",
               &r),
           LLR_REQ_ERR_TYPE, "role number");
    is_str(r.param, "messages", "role number: param");
    ok(has(r.msg, "'messages[0].role'"), "role number: name (%s)", r.msg);
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\""
               ",\"content\":null}]}", &r),
           LLR_REQ_OK, "content null: ok");
    is_str(r.trace.s, "[user:0][/]", "content null: empty message");
    res_free(&r);
}


static void
test_depth(void)
{
    res_t   r;
    sb_t    b;
    int     i, depth;

    for (depth = 63; depth <= 64; depth++) {
        memset(&b, 0, sizeof(b));
        sb_str(&b, "{\"model\":\"m\",\"a\":");
        for (i = 0; i < depth; i++) {
            sb_str(&b, "[");
        }
        for (i = 0; i < depth; i++) {
            sb_str(&b, "]");
        }
        sb_str(&b, "}");

        run(LLR_EP_ANY, b.s, &r);

        if (depth == 63) {
            is_int(r.err, LLR_REQ_OK, "depth %d: ok", depth + 1);

        } else {
            is_int(r.err, LLR_REQ_ERR_DEPTH, "depth %d: error", depth + 1);
            ok(r.has_param == 0 && has(r.msg, "nested too deeply"),
               "depth: message (%s)", r.msg);
        }

        res_free(&r);
        free(b.s);
    }

    /* deep nesting of maps too, and much deeper input */
    memset(&b, 0, sizeof(b));
    sb_str(&b, "{\"model\":\"m\",\"a\":");
    for (i = 0; i < 100000; i++) {
        sb_str(&b, "{\"a\":");
    }
    is_int(run(LLR_EP_ANY, b.s, &r), LLR_REQ_ERR_DEPTH, "very deep: error");
    res_free(&r);
    free(b.s);
}


static void
test_stream_options(void)
{
    res_t  r;
    char  *s;

    /* a body and the error it gives (and the error's param) */
    static const req_case_t  cases[] = {
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream_options\":" "true}",
          LLR_REQ_ERR_TYPE, "stream_options",
          "stream_options bool", "type error" },
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream_options\":" "[]}",
          LLR_REQ_ERR_TYPE, NULL, "stream_options array: type error", NULL },
        { LLR_EP_CHAT,
          "{\"model\":\"m\"," MSG1 ",\"stream_options\":"
          "{},\"stream_options\":{}}",
          LLR_REQ_ERR_TYPE, "stream_options",
          "stream_options twice", "type error" },
        { LLR_EP_CHAT,
          "{\"model\":\"m\"," MSG1 ",\"stream_options\":"
          "{\"include_usage\":\"yes\"}}",
          LLR_REQ_ERR_TYPE, "stream_options.include_usage",
          "include_usage string", "type error" },
    };

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream\":true}", &r);
    is_str(r.marks, "M0T1", "no stream_options: marks");
    is_int(r.view.has_stream_options, 0, "no stream_options: flag");
    s = render(&r, "x", "true", ",\"stream_options\":{\"include_usage\":true}");
    is_str(s, "{\"model\":\"x\"," MSG1 ",\"stream\":true,\"stream_options\":"
           "{\"include_usage\":true}}", "no stream_options: tail insertion");
    free(s);
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream_options\":"
               "{\"include_usage\":false}}", &r),
           LLR_REQ_OK, "include_usage only: ok");
    is_str(r.marks, "M0S0T1", "include_usage only: marks");
    is_int(r.view.include_usage, 0, "include_usage false");
    is_int(r.view.has_stream_options, 1, "include_usage only: flag");
    is_out(&r, "{\"model\":\"routed\"," MSG1 ",\"stream_options\":"
           "{\"include_usage\":true}}", "include_usage only");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"stream_options\":{\"x\":1,\"include_usage\":"
               "true,\"y\":[2]},\"model\":\"m\"," MSG1 "}", &r),
           LLR_REQ_OK, "stream_options members: ok");
    is_str(r.marks, "M0S1T1", "stream_options members: marks");
    is_int(r.view.include_usage, 1, "include_usage true");
    is_out(&r, "{\"model\":\"routed\",\"stream_options\":{\"x\":1,\"y\":[2],"
           "\"include_usage\":true}," MSG1 "}", "stream_options members");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream_options\":"
               "{\"include_usage\":true,\"z\":{\"include_usage\":1}}}", &r),
           LLR_REQ_OK, "include_usage first: ok");
    is_out(&r, "{\"model\":\"routed\"," MSG1 ",\"stream_options\":"
           "{\"z\":{\"include_usage\":1},\"include_usage\":true}}",
           "include_usage first; nested one kept");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream_options\":{}}",
               &r),
           LLR_REQ_OK, "empty stream_options: ok");
    is_str(r.marks, "M0S0T1", "empty stream_options: marks");
    is_int(r.view.include_usage, -1, "empty stream_options: absent");
    is_int(r.view.has_stream_options, 1, "empty stream_options: flag");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream_options\":"
               "null}", &r),
           LLR_REQ_OK, "stream_options null: ok");
    is_int(r.view.has_stream_options, 0, "stream_options null: flag");
    is_str(r.marks, "M0T1", "stream_options null: marks");
    is_out(&r, "{\"model\":\"routed\"," MSG1 ",\"stream_options\":null}",
           "stream_options null: copied");
    res_free(&r);

    RUN_CASES(cases);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"stream_options\":"
               "{\"include_usage\":null}}", &r),
           LLR_REQ_ERR_TYPE, "include_usage null: type error");
    res_free(&r);
}


static void
test_max_tokens(void)
{
    res_t  r;

    /* a body and the error it gives (and the error's param) */
    static const req_case_t  cases[] = {
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"max_tokens\":\"5\"}",
          LLR_REQ_ERR_TYPE, "max_tokens", "max_tokens string", NULL },
        { LLR_EP_CHAT,
          "{\"model\":\"m\"," MSG1 ",\"max_completion_tokens\":-1}",
          LLR_REQ_ERR_TYPE, "max_completion_tokens",
          "max_completion_tokens negative", NULL },
        { LLR_EP_CHAT,
          "{\"model\":\"m\"," MSG1 ",\"max_tokens\":9007199254740993}",
          LLR_REQ_ERR_TYPE, NULL, "max_tokens above 2^53", NULL },
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"max_tokens\":1e3}",
          LLR_REQ_ERR_TYPE, NULL, "max_tokens exponent", NULL },
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"n\":\"50\"}",
          LLR_REQ_ERR_TYPE, "n", "n string", NULL },
        { LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"n\":-2}",
          LLR_REQ_ERR_TYPE, NULL, "n negative", NULL },
    };

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"max_tokens\":100}", &r);
    is_int(r.view.max_tokens, 100, "max_tokens");
    res_free(&r);

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"max_tokens\":100,"
        "\"max_completion_tokens\":50}", &r);
    is_int(r.view.max_tokens, 50, "max_completion_tokens: last wins");
    res_free(&r);

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"max_tokens\":null}", &r);
    is_int(r.err, LLR_REQ_OK, "max_tokens null: ok");
    is_int(r.view.max_tokens, -1, "max_tokens null: absent");
    res_free(&r);

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"max_tokens\":0}", &r);
    is_int(r.view.max_tokens, 0, "max_tokens 0");
    res_free(&r);

    run(LLR_EP_RESPONSES, "{\"model\":\"m\",\"input\":\"x\","
        "\"max_output_tokens\":9007199254740992}", &r);
    is_int(r.view.max_tokens, 9007199254740992LL, "max_output_tokens 2^53");
    res_free(&r);

    RUN_CASES(cases);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"max_tokens\":1.5}",
               &r),
           LLR_REQ_ERR_TYPE, "max_tokens decimal");
    ok(has(r.msg, "expected an integer, but got a decimal"),
       "max_tokens decimal: message (%s)", r.msg);
    res_free(&r);

    /* n: how many choices are generated (and paid for) */

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 "}", &r);
    is_int(r.view.n, 1, "n absent: 1");
    res_free(&r);

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"n\":50}", &r);
    is_int(r.view.n, 50, "n 50");
    res_free(&r);

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"n\":null}", &r);
    is_int(r.err, LLR_REQ_OK, "n null: ok");
    is_int(r.view.n, 1, "n null: 1");
    res_free(&r);

    run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"n\":0}", &r);
    is_int(r.view.n, 1, "n 0: counted as 1");
    res_free(&r);

    run(LLR_EP_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"x\","
        "\"n\":2,\"best_of\":5}", &r);
    is_int(r.view.n, 5, "completions: best_of generates more than n");
    res_free(&r);

    run(LLR_EP_EMBEDDINGS, "{\"model\":\"m\",\"input\":\"x\",\"n\":\"a\"}",
        &r);
    is_int(r.err, LLR_REQ_OK, "embeddings: n is no parameter of theirs");
    is_int(r.view.n, 1, "embeddings: 1");
    res_free(&r);

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"n\":2.5}", &r),
           LLR_REQ_ERR_TYPE, "n decimal");
    res_free(&r);
}


static void
test_sink(void)
{
    res_t  r;

    /* a body and the error it gives (and the error's param) */
    static const req_case_t  cases[] = {
        { LLR_EP_COMPLETIONS, "{\"model\":\"m\"}",
          LLR_REQ_ERR_MISSING, "prompt", "completions without prompt", NULL },
        { LLR_EP_COMPLETIONS, "{\"model\":\"m\",\"prompt\":[{}]}",
          LLR_REQ_ERR_TYPE, "prompt", "completions prompt of objects", NULL },
        { LLR_EP_EMBEDDINGS, "{\"model\":\"e\",\"input\":5}",
          LLR_REQ_ERR_TYPE, "input", "embeddings input number", NULL },
        { LLR_EP_EMBEDDINGS, "{\"model\":\"e\"}",
          LLR_REQ_ERR_MISSING, "input", "embeddings without input", NULL },
        { LLR_EP_RESPONSES,
          "{\"model\":\"m\",\"input\":[{\"type\":"
          "\"message\",\"content\":\"x\"}]}",
          LLR_REQ_ERR_MISSING, "input", "responses item without role", NULL },
        { LLR_EP_RESPONSES, "{\"model\":\"m\"}",
          LLR_REQ_ERR_MISSING, NULL, "responses without input", NULL },
        { LLR_EP_ANY, "{\"model\":\"m\",\"messages\":[{}]}",
          LLR_REQ_ERR_MISSING, NULL, "any messages without role", NULL },
    };

    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":["
               "{\"role\":\"system\",\"content\":\"Be brief.\"},"
               "{\"content\":\"Hi\",\"role\":\"user\"},"
               "{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
               "{\"type\":\"image_url\",\"image_url\":{\"url\":\"u\"}},"
               "{\"text\":\"b\",\"type\":\"text\"}],\"role\":\"assistant\","
               "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
               "\"function\":{\"name\":\"f\","
               "\"arguments\":\"{\\\"q\\\":1}\"}}]},"
               "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"},"
               "{\"role\":\"developer\",\"content\":\"dev\"},"
               "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
               "\"text\":\"again\"}]}],\"tools\":[{\"type\":\"function\"}],"
               "\"response_format\":{\"type\":\"json_object\"}}", &r),
           LLR_REQ_OK, "sink: ok");
    is_str(r.trace.s,
           "[system:0]Be brief.|[/]"
           "[user:1]Hi|[/]"
           "[assistant:2]a|b|{\"q\":1}|[/]"
           "[tool:3]42|[/]"
           "[developer:4]dev|[/]"
           "[user:5]again|[/]", "sink: roles, order, parts, tool calls");
    is_int(r.view.messages, 6, "sink: messages");
    is_int(r.view.user_turns, 2, "sink: user_turns");
    is_int(r.view.has_system, 1, "sink: has_system");
    is_int(r.view.has_tools, 1, "sink: has_tools");
    is_int(r.view.has_response_format, 1, "sink: has_response_format");
    is_int(r.view.text_bytes, 9 + 2 + 1 + 1 + 7 + 2 + 3 + 5,
           "sink: text_bytes");
    res_free(&r);

    run(LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"x\"}],\"tools\":null,\"response_format\":null}", &r);
    ok(r.view.has_tools == 0 && r.view.has_response_format == 0,
       "null tools and response_format: absent");
    res_free(&r);

    run(LLR_EP_CHAT, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"x\"}],\"functions\":[{}]}", &r);
    is_int(r.view.has_tools, 1, "functions: has_tools");
    res_free(&r);

    /* JSON mode (the quality signals' bad_json): response_format's type */
    {
        size_t  i;

        static const struct {
            const char  *rf;
            int          json_mode;
        } rf[] = {
            { "{\"type\":\"json_object\"}", 1 },
            { "{\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":"
              "\"object\"}},\"type\":\"json_schema\"}", 1 },
            { "{\"type\":\"json\\u005fobject\"}", 1 },
            { "{\"type\":\"text\"}", 0 },
            { "{\"json_schema\":{\"type\":\"json_object\"}}", 0 },
            { "{\"type\":[\"json_object\"]}", 0 },
            { "\"json_object\"", 0 }
        };

        for (i = 0; i < sizeof(rf) / sizeof(rf[0]); i++) {
            char  body[512];

            snprintf(body, sizeof(body), "{\"model\":\"m\",\"messages\":"
                     "[{\"role\":\"user\",\"content\":\"x\"}],"
                     "\"response_format\":%s}", rf[i].rf);
            is_int(run(LLR_EP_CHAT, body, &r), LLR_REQ_OK,
                   "response_format %s: ok", rf[i].rf);
            is_int(r.view.json_mode, rf[i].json_mode,
                   "response_format %s: json_mode %d", rf[i].rf,
                   rf[i].json_mode);
            res_free(&r);
        }
    }

    /* completions */
    is_int(run(LLR_EP_COMPLETIONS, "{\"model\":\"m\",\"prompt\":\"Once\"}",
               &r),
           LLR_REQ_OK, "completions string: ok");
    is_str(r.trace.s, "[user:0]Once|[/]", "completions string: sink");
    res_free(&r);

    is_int(run(LLR_EP_COMPLETIONS, "{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}",
               &r),
           LLR_REQ_OK, "completions array: ok");
    is_str(r.trace.s, "[user:0]a|b|[/]", "completions array: one message");
    is_int(r.view.messages, 1, "completions array: messages");
    is_int(r.view.user_turns, 1, "completions array: user_turns");
    res_free(&r);

    RUN_CASES(cases);

    /* embeddings */
    is_int(run(LLR_EP_EMBEDDINGS, "{\"input\":[\"x\",\"yz\"],\"model\":\"e\"}",
               &r),
           LLR_REQ_OK, "embeddings: ok");
    is_str(r.trace.s, "[user:0]x|yz|[/]", "embeddings: sink");
    res_free(&r);

    is_int(run(LLR_EP_EMBEDDINGS, "{\"input\":[[1,2],[3]],\"model\":\"e\"}",
               &r),
           LLR_REQ_OK, "embeddings tokens: ok");
    is_int(r.view.text_bytes, 0, "embeddings tokens: no text");
    res_free(&r);

    /* responses */
    is_int(run(LLR_EP_RESPONSES, "{\"model\":\"m\",\"input\":\"Tell me\","
               "\"instructions\":\"Be nice\"}", &r),
           LLR_REQ_OK, "responses string: ok");
    is_str(r.trace.s, "[user:0]Tell me|[/][system:1]Be nice|[/]",
           "responses string: sink");
    is_int(r.view.has_system, 1, "responses instructions: has_system");
    res_free(&r);

    is_int(run(LLR_EP_RESPONSES, "{\"model\":\"m\",\"input\":["
               "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
               "\"text\":\"q\"}]},"
               "{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\","
               "\"arguments\":\"{}\"},"
               "{\"type\":\"function_call_output\",\"call_id\":\"c\","
               "\"output\":\"res\"},"
               "{\"content\":[{\"type\":\"output_text\",\"text\":\"ans\"}],"
               "\"type\":\"message\",\"role\":\"assistant\"},"
               "{\"role\":\"user\",\"content\":\"more\"}]}", &r),
           LLR_REQ_OK, "responses items: ok");
    is_str(r.trace.s, "[user:0]q|[/][assistant:1]{}|[/][tool:2]res|[/]"
           "[assistant:3]ans|[/][user:4]more|[/]", "responses items: sink");
    is_int(r.view.messages, 5, "responses items: messages");
    res_free(&r);

    /* any: prompt lines and request bodies */
    is_int(run(LLR_EP_ANY, "{\"prompt\":\"What is 2+2?\",\"model\":\"\"}",
               &r),
           LLR_REQ_OK, "any prompt: ok");
    is_str(r.trace.s, "[user:0]What is 2+2?|[/]", "any prompt: sink");
    res_free(&r);

    is_int(run(LLR_EP_ANY, "{\"model\":\"m\",\"messages\":[{\"content\":"
               "\"c\",\"role\":\"user\"}]}", &r),
           LLR_REQ_OK, "any messages: ok");
    is_str(r.trace.s, "[user:0]c|[/]", "any messages: sink");
    res_free(&r);

    /* chat ignores prompt/input, completions ignores messages */
    is_int(run(LLR_EP_CHAT, "{\"model\":\"m\"," MSG1 ",\"prompt\":5,"
               "\"input\":{}}", &r),
           LLR_REQ_OK, "chat: prompt and input not checked");
    is_str(r.trace.s, "[user:0]Hello|[/]", "chat: only messages fed");
    res_free(&r);
}


static int
view_eq(const llr_req_view_t *a, const llr_req_view_t *b)
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


static size_t
msg_stable_len(const char *msg)
{
    const char  *p;

    p = strstr(msg, ", near '");

    return p ? (size_t) (p - msg) : strlen(msg) + 1;
}


static void
test_splits(llr_endpoint_e ep, const char *body, const char *name)
{
    res_t    ref, r;
    size_t   i, len;
    int      bad_out, bad_view, bad_trace, bad_err;

    len = strlen(body);
    run_ex(ep, body, len, WHOLE, 0, &ref);

    bad_out = bad_view = bad_trace = bad_err = 0;

    for (i = 0; i <= len + 1; i++) {
        run_ex(ep, body, len, i <= len ? (long) i : BYTEWISE, 0, &r);

        /* the echoed fragment depends on the pieces, the rest not */
        bad_err += r.err != ref.err
                   || strncmp(r.msg, ref.msg, msg_stable_len(ref.msg)) != 0;
        bad_out += strcmp(r.coll.acc.s, ref.coll.acc.s) != 0
                   || strcmp(r.marks, ref.marks) != 0;
        bad_view += !view_eq(&r.view, &ref.view)
                    || strcmp(r.model, ref.model) != 0;
        bad_trace += strcmp(r.trace.s, ref.trace.s) != 0;

        res_free(&r);
    }

    if (ref.err == LLR_REQ_OK) {
        ok(bad_out == 0, "%s: same output at every split (%d differ)", name,
           bad_out);
        ok(bad_view == 0, "%s: same view at every split (%d differ)", name,
           bad_view);
        ok(bad_trace == 0, "%s: same sink at every split (%d differ)", name,
           bad_trace);

        /* scan only gives the same view and sink, nothing written */
        run_ex(ep, body, len, WHOLE, 1, &r);
        ok(view_eq(&r.view, &ref.view) && strcmp(r.trace.s, ref.trace.s) == 0
           && r.coll.acc.len == 0 && r.coll.nmarks == 0 && r.err == 0,
           "%s: scan only", name);
        res_free(&r);
    }

    ok(bad_err == 0, "%s: same result at every split (%d differ, %s)", name,
       bad_err, ref.msg);

    res_free(&ref);
}


static void
test_split_bodies(void)
{
    test_splits(LLR_EP_CHAT,
        "{\"stream\":true,\"messages\":[{\"content\":\"caf\xc3\xa9 "
        "\\ud83d\\ude00 \\u0000 \\\"q\\\" \xf0\x9f\x98\x80\",\"role\":"
        "\"user\"},{\"role\":\"assistant\",\"content\":[{\"text\":\"t\","
        "\"type\":\"text\"}]}],\"model\":\"gpt-4o-mini\",\"temperature\":"
        "0.70,\"n\":1e400,\"stream_options\":{\"include_usage\":false,"
        "\"x\":null},\"max_tokens\":123,\"model\":\"auto\",\"tools\":[]} ",
        "complex chat");

    test_splits(LLR_EP_RESPONSES,
        "{\"model\":\"m\",\"instructions\":\"sys\",\"input\":[{\"type\":"
        "\"function_call_output\",\"output\":\"o\"},{\"content\":\"u\","
        "\"role\":\"user\"}]}", "responses");

    test_splits(LLR_EP_CHAT,
        "{\"model\":\"m\"," MSG1 "}  x", "trailing garbage");

    test_splits(LLR_EP_CHAT,
        "{\"model\":\"m\xe6\x97\"," MSG1 "}", "invalid UTF-8");

    test_splits(LLR_EP_CHAT,
        "{\"model\":\"m\"," MSG1 ",\"max_tokens\":-12}", "negative number");
}


/*
 * Strict UTF-8 and \u escapes: a body with content "x" C is refused with
 * a message naming what and where (at: the offset of the bad escape or
 * sequence in "x" C), and nothing of the bad string reaches the output
 * or the sink.
 */

#define CONTENT_PRE  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"," \
                     "\"content\":\"x"


static void
bad_content(const char *c, const char *what, size_t at, const char *name)
{
    res_t   r;
    sb_t    b;
    char    want[128];

    memset(&b, 0, sizeof(b));
    sb_str(&b, CONTENT_PRE);
    sb_str(&b, c);
    sb_str(&b, "\"}]}");

    snprintf(want, sizeof(want), "(%s in a string at byte %zu", what,
             sizeof(CONTENT_PRE) - 2 + at);

    is_int(run(LLR_EP_CHAT, b.s, &r), LLR_REQ_ERR_JSON, "%s: json error",
           name);
    ok(has(r.msg, want), "%s: message (%s)", name, r.msg);
    ok(!has(r.coll.acc.s, "\"x") && !has(r.trace.s, "x"),
       "%s: the string is neither written nor sent to the sink", name);
    ok(r.has_param == 0 && r.live == 0, "%s: no param, all freed", name);
    res_free(&r);
    free(b.s);
}


/* content C is fine: written as OUT and sent to the sink as TEXT */

static void
good_content(const char *c, const char *out, const char *text,
    const char *name)
{
    res_t   r;
    sb_t    b, e, t;

    memset(&b, 0, sizeof(b));
    memset(&e, 0, sizeof(e));
    memset(&t, 0, sizeof(t));
    sb_str(&b, CONTENT_PRE);
    sb_str(&b, c);
    sb_str(&b, "\"}]}");
    sb_str(&e, "{\"model\":\"routed\",\"messages\":[{\"role\":\"user\","
           "\"content\":\"x");
    sb_str(&e, out);
    sb_str(&e, "\"}]}");
    sb_str(&t, "[user:0]x");
    sb_str(&t, text);
    sb_str(&t, "|[/]");

    is_int(run(LLR_EP_CHAT, b.s, &r), LLR_REQ_OK, "%s: ok (%s)", name,
           r.msg);
    is_out(&r, e.s, name);
    is_str(r.trace.s, t.s, "%s: sink", name);
    res_free(&r);
    free(b.s);
    free(e.s);
    free(t.s);
}


static void
test_strict_unicode(void)
{
    size_t       i;
    res_t        r;
    const char  *body;

    /* content that passes: as it is written and as the sink gets it */
    static const struct {
        const char  *content;
        const char  *out;
        const char  *text;
        const char  *name;
    }  good[] = {
        /* surrogate pairs are fine, in either case */
        { "\\ud83d\\ude00", "\\ud83d\\ude00", "\xf0\x9f\x98\x80", "pair" },
        { "\\uD83D\\uDE00\\uDBFF\\uDFFF\\uD800\\uDC00",
          "\\uD83D\\uDE00\\uDBFF\\uDFFF\\uD800\\uDC00",
          "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xf0\x90\x80\x80",
          "pairs, upper case, the extremes" },
        /* escaped backslashes: what follows is text, not an escape */
        { "\\\\ud800", "\\\\ud800", "\\ud800", "escaped backslash and ud800" },
        { "\\\\\\\\ud800\\\\",
          "\\\\\\\\ud800\\\\", "\\\\ud800\\",
          "two escaped backslashes and ud800" },
        { "\\\\\\ud83d\\ude00",
          "\\\\\\ud83d\\ude00", "\\\xf0\x9f\x98\x80",
          "escaped backslash, then a pair" },
        /* BMP escapes next to the surrogate range, \u0000 */
        { "\\ud7ff\\ue000\\uffff\\u0000",
          "\\ud7ff\\ue000\\uffff\\u0000",
          "\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\\0", "around D800-DFFF" },
        /* the bounds of Unicode Table 3-7, raw */
        { "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
          "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
          "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
          "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
          "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
          "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
          "raw UTF-8 at the bounds" },
    };

    /* content that is refused: what the message names, and where */
    static const struct {
        const char  *content;
        const char  *what;
        size_t       at;
        const char  *name;
    }  bad[] = {
        /* lone surrogate escapes */
        { "\\ud800", "lone surrogate \\ud800", 1, "lone high" },
        { "\\uDBFF", "lone surrogate \\udbff", 1, "lone high, upper" },
        { "\\udc00", "lone surrogate \\udc00", 1, "lone low" },
        { "ab\\udfff\\ud800",
          "lone surrogate \\udfff", 3, "lone low, then high" },
        { "\\udc00\\ud800", "lone surrogate \\udc00", 1, "reversed" },
        { "\\ud800\\ud800", "lone surrogate \\ud800", 1, "high then high" },
        { "\\ud83d\\ude00\\ud800\\ud800",
          "lone surrogate \\ud800", 13, "a pair, then high then high" },
        { "\\ud800\\u0041", "lone surrogate \\ud800", 1, "high then \\u0041" },
        { "\\ud800A", "lone surrogate \\ud800", 1, "high then A" },
        { "\\ud800\\n", "lone surrogate \\ud800", 1, "high then \\n" },
        { "\\ud800\\\\udc00",
          "lone surrogate \\ud800", 1,
          "high then escaped backslash and udc00" },
        { "\\\\\\ud800",
          "lone surrogate \\ud800", 3,
          "escaped backslash, then a lone high" },
        { "\\ud800\xc3\xa9",
          "lone surrogate \\ud800", 1, "high then a raw character" },
        /* invalid UTF-8 of the kinds yajl's lexer used to take */
        { "\xc0\xaf", "invalid UTF-8", 1, "overlong C0 AF" },
        { "a\xc0\x80", "invalid UTF-8", 2, "overlong C0 80" },
        { "\xc1\xbf", "invalid UTF-8", 1, "overlong C1 BF" },
        { "\xe0\x80\xaf", "invalid UTF-8", 1, "overlong E0 80 AF" },
        { "\xe0\x9f\xbf", "invalid UTF-8", 1, "overlong E0 9F BF" },
        { "\xf0\x80\x80\xaf", "invalid UTF-8", 1, "overlong F0 80 80 AF" },
        { "\xf0\x8f\xbf\xbf", "invalid UTF-8", 1, "overlong F0 8F BF BF" },
        { "\xed\xa0\x80", "invalid UTF-8", 1, "encoded surrogate" },
        { "\xed\xbf\xbf", "invalid UTF-8", 1, "encoded surrogate 2" },
        { "\xf4\x90\x80\x80", "invalid UTF-8", 1, "above U+10FFFF" },
        { "\xf5\x80\x80\x80", "invalid UTF-8", 1, "lead byte F5" },
        { "\xf7\xbf\xbf\xbf", "invalid UTF-8", 1, "lead byte F7" },
        { "\xe6\x97\xa5\xe2\x82",
          "invalid UTF-8", 4, "truncated before the quote" },
        { "\xe2\x82\\n", "invalid UTF-8", 1, "truncated before an escape" },
    };

    /* a body and the error it gives (and the error's param) */
    static const req_case_t  cases[] = {
        /* the body ends inside an escape pair or a sequence */
        { LLR_EP_ANY, "{\"model\":\"m\\ud800",
          LLR_REQ_ERR_JSON, NULL, "ends after a high surrogate", NULL },
        { LLR_EP_ANY, "{\"model\":\"m\\ud800\\u",
          LLR_REQ_ERR_JSON, NULL, "ends inside the low escape", NULL },
        { LLR_EP_ANY, "{\"model\":\"m\xf0\x9f",
          LLR_REQ_ERR_JSON, NULL, "ends inside a sequence", NULL },
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        good_content(good[i].content, good[i].out, good[i].text,
                     good[i].name);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bad_content(bad[i].content, bad[i].what, bad[i].at, bad[i].name);
    }

    /* what the message says */
    run(LLR_EP_CHAT, CONTENT_PRE "\xe0\x80\xaf\"}]}", &r);
    ok(has(r.msg, "overlong encoding"), "overlong: named (%s)", r.msg);
    res_free(&r);
    run(LLR_EP_CHAT, CONTENT_PRE "\xed\xa0\x80\"}]}", &r);
    ok(has(r.msg, "encoded surrogate"), "surrogate: named (%s)", r.msg);
    res_free(&r);
    run(LLR_EP_CHAT, CONTENT_PRE "\xf4\x90\x80\x80\"}]}", &r);
    ok(has(r.msg, "above U+10FFFF"), "too large: named (%s)", r.msg);
    res_free(&r);
    run(LLR_EP_CHAT, CONTENT_PRE "\xe2\x82\"}]}", &r);
    ok(has(r.msg, "incomplete sequence"), "truncated: named (%s)", r.msg);
    res_free(&r);

    /* bytes yajl itself refuses in a string stay JSON errors */
    run(LLR_EP_CHAT, CONTENT_PRE "\x80\"}]}", &r);
    is_int(r.err, LLR_REQ_ERR_JSON, "lone continuation byte: json error");
    res_free(&r);
    run(LLR_EP_CHAT, CONTENT_PRE "\xff\"}]}", &r);
    is_int(r.err, LLR_REQ_ERR_JSON, "byte FF: json error");
    res_free(&r);

    /* keys, the model, other values */
    body = "{\"model\":\"m\",\"k\\ud800\":1}";
    is_int(run(LLR_EP_ANY, body, &r), LLR_REQ_ERR_JSON, "lone high in a key");
    ok(has(r.msg, "lone surrogate \\ud800 in a string at byte 15"),
       "lone high in a key: message (%s)", r.msg);
    ok(!has(r.coll.acc.s, "\"k"), "lone high in a key: not written");
    res_free(&r);

    body = "{\"model\":\"m\",\"k\xc0\xaf\":1}";
    is_int(run(LLR_EP_ANY, body, &r), LLR_REQ_ERR_JSON, "overlong in a key");
    ok(has(r.msg, "invalid UTF-8 in a string at byte 15: overlong"),
       "overlong in a key: message (%s)", r.msg);
    res_free(&r);

    body = "{\"model\":\"m\\udc00\"}";
    is_int(run(LLR_EP_ANY, body, &r), LLR_REQ_ERR_JSON,
           "lone low in the model");
    is_int(r.view.model_count, 0, "lone low in the model: not taken");
    res_free(&r);

    body = "{\"model\":\"m\",\"x\":[1,{\"y\":\"\xed\xa0\x80\"}]}";
    is_int(run(LLR_EP_ANY, body, &r), LLR_REQ_ERR_JSON,
           "encoded surrogate in a nested value");
    res_free(&r);

    /* a JSON error before the bad string is reported as such */
    body = "{\"model\":\"m\",,\"x\":\"\\ud800\"}";
    is_int(run(LLR_EP_ANY, body, &r), LLR_REQ_ERR_JSON,
           "syntax error first: json error");
    ok(!has(r.msg, "surrogate") && has(r.msg, "at byte 14"),
       "syntax error first: yajl's error (%s)", r.msg);
    res_free(&r);

    /* outside strings a backslash or a non-ASCII byte is yajl's error */
    body = "{\"model\":\"m\",\\ud800:1}";
    is_int(run(LLR_EP_ANY, body, &r), LLR_REQ_ERR_JSON,
           "escape outside a string");
    ok(!has(r.msg, "in a string"), "escape outside a string: message (%s)",
       r.msg);
    res_free(&r);

    body = "{\"model\":\"m\",\"a\":1\xc0\xaf}";
    is_int(run(LLR_EP_ANY, body, &r), LLR_REQ_ERR_JSON,
           "overlong outside a string");
    ok(!has(r.msg, "in a string"), "overlong outside a string: message (%s)",
       r.msg);
    res_free(&r);

    body = "{\"model\":\"m\"}\xe0\x80\xaf";
    is_int(run(LLR_EP_ANY, body, &r), LLR_REQ_ERR_JSON,
           "overlong after the value");
    ok(!has(r.msg, "in a string"), "overlong after the value: message (%s)",
       r.msg);
    res_free(&r);

    RUN_CASES(cases);

    /* a bad hex digit after a high surrogate: yajl's error */
    is_int(run(LLR_EP_ANY, "{\"model\":\"m\\ud800\\u00zz\"}", &r),
           LLR_REQ_ERR_JSON, "bad hex digit in the low escape");
    ok(has(r.msg, "at byte 21"), "bad hex digit: yajl's position (%s)",
       r.msg);
    res_free(&r);

    /* the same result however the body is split */
    test_splits(LLR_EP_CHAT, CONTENT_PRE "\\ud800\"}]}", "split lone high");
    test_splits(LLR_EP_CHAT, CONTENT_PRE "\\ud800\\u0041\"}]}",
                "split high then \\u0041");
    test_splits(LLR_EP_CHAT, CONTENT_PRE "a\\udc00\"}]}", "split lone low");
    test_splits(LLR_EP_CHAT, CONTENT_PRE "\xe0\x80\xaf\"}]}",
                "split overlong E0 80 AF");
    test_splits(LLR_EP_CHAT, CONTENT_PRE "\xf4\x90\x80\x80\"}]}",
                "split above U+10FFFF");
    test_splits(LLR_EP_CHAT, CONTENT_PRE "\\\\ud800 \\ud83d\\ude00 "
                "\\\\\\ud83d\\ude00 \xf0\x9f\x98\x80 \xed\x9f\xbf\"}]}",
                "split valid escapes and characters");
}


static int
fail_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    return -1;
}


static void
test_memory(void)
{
    res_t             r;
    llr_req_t        *rq;
    alloc_ctx_t       actx;
    llr_alloc_t       alloc;
    llr_req_err_e     err;
    const char       *body;
    coll_t            c;

    memset(&actx, 0, sizeof(actx));
    actx.fail_at = 1;
    alloc.malloc = t_malloc;
    alloc.realloc = t_realloc;
    alloc.free = t_free;
    alloc.ctx = &actx;

    rq = llr_req_create(&alloc, LLR_EP_CHAT, NULL, NULL);
    ok(rq == NULL && actx.live == 0, "create: allocation failure");

    /* next() fails */
    body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
           "\"0123456789012345678901234567890123456789012345678901234567"
           "8901234567890123456789\"}]}";

    memset(&actx, 0, sizeof(actx));
    memset(&c, 0, sizeof(c));
    sb_str(&c.acc, "");
    c.out.next = coll_next;
    c.out.mark = coll_mark;
    c.out.flush = coll_flush;
    c.out.data = &c;
    c.fail_next = 1;

    rq = llr_req_create(&alloc, LLR_EP_CHAT, &c.out, NULL);
    err = llr_req_feed(rq, (const unsigned char *) body, strlen(body));
    is_int(err, LLR_REQ_ERR_OUTPUT, "next() failure: output error");
    is_int(llr_req_finish(rq), LLR_REQ_ERR_OUTPUT,
           "finish after an error: the same error");
    llr_req_destroy(rq);
    is_int(actx.live, 0, "next() failure: everything freed");
    free(c.chunk);
    free(c.acc.s);

    /* mark() fails */
    memset(&c, 0, sizeof(c));
    sb_str(&c.acc, "");
    c.out.next = coll_next;
    c.out.mark = fail_mark;
    c.out.flush = coll_flush;
    c.out.data = &c;

    rq = llr_req_create(&alloc, LLR_EP_CHAT, &c.out, NULL);
    err = llr_req_feed(rq, (const unsigned char *) body, strlen(body));
    is_int(err, LLR_REQ_ERR_OUTPUT, "mark() failure: output error");
    llr_req_destroy(rq);
    free(c.chunk);
    free(c.acc.s);

    /* content before role without a sink is not buffered, still counted */
    memset(&actx, 0, sizeof(actx));
    rq = llr_req_create(&alloc, LLR_EP_CHAT, NULL, NULL);
    body = "{\"model\":\"m\",\"messages\":[{\"content\":\"abc\",\"role\":"
           "\"user\"}]}";
    err = llr_req_feed(rq, (const unsigned char *) body, strlen(body));
    if (err == LLR_REQ_OK) {
        err = llr_req_finish(rq);
    }
    is_int(err, LLR_REQ_OK, "no sink: ok");
    is_int(llr_req_view(rq)->text_bytes, 3, "no sink: text_bytes");
    is_int(llr_req_view(rq)->user_turns, 1, "no sink: user_turns");
    llr_req_destroy(rq);
    is_int(actx.live, 0, "no sink: everything freed");

    /* feed after finish */
    memset(&actx, 0, sizeof(actx));
    rq = llr_req_create(&alloc, LLR_EP_ANY, NULL, NULL);
    llr_req_feed(rq, (const unsigned char *) "{\"model\":\"m\"}", 13);
    is_int(llr_req_finish(rq), LLR_REQ_OK, "finish: ok");
    is_int(llr_req_feed(rq, (const unsigned char *) " ", 1),
           LLR_REQ_ERR_JSON, "feed after finish: error");
    llr_req_destroy(rq);

    /* a long model name, content before role buffered */
    run(LLR_EP_CHAT, "{\"model\":\"0123456789012345678901234567890123456789"
        "012345678901234567890123456789\",\"model\":\"x\",\"messages\":"
        "[{\"content\":[{\"text\":\"p1\"},{\"text\":\"p2\"}],\"role\":\"u\"}]}",
        &r);
    is_str(r.model, "x", "shorter model after a long one");
    is_str(r.trace.s, "[u:0]p1|p2|[/]", "buffered parts delivered in order");
    is_int(r.live, 0, "buffers freed");
    res_free(&r);
}


/* llr_req_set_want(): the text waits for the model, then goes or not */

static void
want_case(const char *body, const char *wanted, const char *trace,
    int calls, const char *name)
{
    int      i;
    res_t    r, all;
    size_t   len;
    long     splits[] = { WHOLE, BYTEWISE, 7, 33 };

    len = strlen(body);

    /* what the sink gets without the filter: the text bytes agree */
    want_model = NULL;
    is_int(run_ex(LLR_EP_CHAT, body, len, WHOLE, 0, &all), LLR_REQ_OK,
           "%s: ok without want", name);

    for (i = 0; i < 8; i++) {
        want_model = wanted;
        want_calls = 0;
        feed_stable = i >= 4;

        is_int(run_ex(LLR_EP_CHAT, body, len, splits[i % 4], 0, &r),
               LLR_REQ_OK, "%s [%ld%s]: ok", name, splits[i % 4],
               feed_stable ? ", stable" : "");
        is_str(r.trace.s, trace, "%s [%ld]: sink", name, splits[i % 4]);
        is_int(want_calls, calls, "%s [%ld]: want() calls", name,
               splits[i % 4]);
        is_int(r.view.text_bytes, all.view.text_bytes,
               "%s [%ld]: text_bytes counted all the same", name, splits[i % 4]);
        is_str(r.coll.acc.s, all.coll.acc.s, "%s [%ld]: same output", name,
               splits[i % 4]);
        ok(r.live == 0, "%s [%ld]: all freed", name, splits[i % 4]);
        res_free(&r);
    }

    want_model = NULL;
    feed_stable = 0;
    res_free(&all);
}


/*
 * An object or array value of a top-level member goes on as written: by
 * reference into a stable piece, in one ref() per piece it spans, and
 * copied otherwise; nothing of it is written twice.
 */
static void
test_verbatim(void)
{
    int          i;
    res_t        r;
    const char  *body, *out;

    body = "{\"messages\": [ {\"role\":\"user\", \"content\":\"Hi\"} ],"
           "\"tools\":[],\"n\":2,\"stream_options\":{\"x\":[ 1 ]},"
           "\"model\":\"m\",\"user\":\"a\\\"b\"}";
    out = "{\"model\":\"routed\",\"messages\":[ {\"role\":\"user\","
          " \"content\":\"Hi\"} ],\"tools\":[],\"n\":2,"
          "\"stream_options\":{\"x\":[1],\"include_usage\":true},"
          "\"user\":\"a\\\"b\"}";

    for (i = 0; i < 2; i++) {
        feed_stable = i;

        is_int(run(LLR_EP_CHAT, body, &r), LLR_REQ_OK, "verbatim %d: ok", i);
        is_out(&r, out, "verbatim");
        is_int(r.coll.refs, i ? 3 : 0, "verbatim %d: messages, tools and "
               "user by reference when stable", i);
        res_free(&r);

        is_int(run_ex(LLR_EP_CHAT, body, strlen(body), 20, 0, &r),
               LLR_REQ_OK, "verbatim %d, split: ok", i);
        is_out(&r, out, "verbatim, split");
        /* the messages array in two pieces, then tools and user */
        is_int(r.coll.refs, i ? 4 : 0, "verbatim %d, split: refs", i);
        res_free(&r);
    }

    /* one-byte pieces: every run is left to the rewriter to copy */
    feed_stable = 1;
    is_int(run_ex(LLR_EP_CHAT, body, strlen(body), BYTEWISE, 0, &r),
           LLR_REQ_OK, "verbatim, bytewise: ok");
    is_out(&r, out, "verbatim, bytewise");
    ok(r.coll.refs == 0 && r.coll.ref_copies > 0,
       "verbatim, bytewise: ref() declined, the bytes copied");
    res_free(&r);

    /* the reference points into the body itself */
    run(LLR_EP_CHAT, body, &r);
    ok(r.coll.refs == 3
       && r.coll.ref_last == (const unsigned char *) strstr(body, "\"a\\"),
       "verbatim: the last reference is the user string in the body");
    res_free(&r);
    feed_stable = 0;
}


static void
test_want(void)
{
    const char  *full;

    full = "[system:0]Be \"brief\"\n|[/][user:1]Hi \xc3\xa9|[/]"
           "[assistant:2]x|y|[/]";

#define WANT_MSGS                                                             \
    "\"messages\":[{\"role\":\"system\","                                    \
    "\"content\":\"Be \\\"brief\\\"\\n\"},"                                   \
    "{\"content\":\"Hi \\u00e9\",\"role\":\"user\"},"                         \
    "{\"role\":\"assistant\","                                               \
    "\"content\":[{\"type\":\"text\",\"text\":\"x\"},{\"text\":\"y\"}]}]"

    want_case("{" WANT_MSGS ",\"model\":\"auto\"}", "auto", full, 1,
              "model last, wanted: replayed");
    want_case("{" WANT_MSGS ",\"model\":\"gpt\"}", "auto", "", 1,
              "model last, not wanted: dropped");
    want_case("{\"model\":\"auto\"," WANT_MSGS "}", "auto", full, 1,
              "model first, wanted: live");
    want_case("{\"model\":\"gpt\"," WANT_MSGS "}", "auto", "", 1,
              "model first, not wanted: off");
    want_case("{\"mod\\u0065l\":\"au\\u0074o\"," WANT_MSGS "}", "auto", full,
              1, "escaped key and value: decoded for want()");
    want_case("{" WANT_MSGS ",\"model\":\"auto\",\"model\":\"gpt\"}", "auto",
              full, 1, "duplicate model: the first one decides");
    want_case("{\"model\":\"gpt\"," WANT_MSGS ",\"model\":\"auto\"}", "auto",
              "", 2, "duplicate model: wanted later, the text before is gone");
    want_case("{\"model\":\"gpt\",\"model\":\"auto\"," WANT_MSGS "}", "auto",
              full, 2, "duplicate model: wanted before the text");
    want_case("{\"metadata\":{\"model\":\"auto\"}," WANT_MSGS
              ",\"model\":\"gpt\"}", "auto", "", 1,
              "a nested model does not decide");

    /* text dropped unread: its decoded length counted by the lexer */
    want_case("{\"messages\":[{\"role\":\"user\",\"content\":\"\\u00e9"
              "\\u65e5\\ud83d\\ude00\\uD83D\\uDE00 \\u0000 \\u007f \\\" "
              "\\\\ \\/ \\b\\f\\n\\r\\t\\u001f \\\\u00e9 x\"},{\"role\":"
              "\"user\",\"content\":[{\"text\":\"\\u20ac\\n\"}]}],"
              "\"model\":\"gpt\"}", "auto", "", 1,
              "escapes of every length, not wanted: counted");

#undef WANT_MSGS

    /*
     * text kept in more than one log block (LLR_LOG_BLOCK 2048): texts
     * shorter and longer than a block, before and after the role; fed
     * as copies the log holds the bytes, so the blocks fill
     */
    {
        int     k;
        char   *body, *p;
        res_t   all;

        body = malloc(16384);
        p = body;
        p += sprintf(p, "{\"messages\":[");

        for (k = 0; k < 5; k++) {
            p += sprintf(p, "%s{%s\"content\":\"", k ? "," : "",
                         k % 2 ? "" : "\"role\":\"user\",");
            memset(p, 'a' + k, k == 2 ? 2500 : 900);
            p += k == 2 ? 2500 : 900;
            p += sprintf(p, "\"%s}", k % 2 ? ",\"role\":\"assistant\"" : "");
        }

        sprintf(p, "],\"model\":\"auto\"}");

        want_model = NULL;
        is_int(run_ex(LLR_EP_CHAT, body, strlen(body), WHOLE, 0, &all),
               LLR_REQ_OK, "log blocks: ok live");
        want_case(body, "auto", all.trace.s, 1, "log blocks: replayed");
        res_free(&all);
        free(body);
    }
}


/*
 * llr_req_feed_stable(): text kept for the model is a reference into
 * the piece (what the piece holds when the model comes is what the
 * sink gets), text cut by a piece end or fed by llr_req_feed() a copy
 */
static void
test_stable(void)
{
    int           stable;
    res_t         r;
    char          body[128], *model;
    size_t        n;
    llr_req_t    *rq;
    alloc_ctx_t   actx;
    llr_alloc_t   alloc;
    llr_text_sink_t  sink;

    for (stable = 0; stable <= 1; stable++) {
        run_setup(&r, &actx, &alloc, &sink);

        snprintf(body, sizeof(body), "%s",
                 "{\"messages\":[{\"content\":\"abc\\n\",\"role\":"
                 "\"user\"},{\"role\":\"user\",\"content\":\"defg\"}],"
                 "\"model\":\"auto\"}");
        model = strstr(body, "],");
        n = (size_t) (model - body);

        want_model = "auto";
        rq = llr_req_create(&alloc, LLR_EP_CHAT, NULL, &sink);
        llr_req_set_want(rq, want_fn, NULL);

        /* "defg" cut by the piece end: kept in a copy either way */
        n -= 4;

        if (stable) {
            llr_req_feed_stable(rq, (unsigned char *) body, n);
        } else {
            llr_req_feed(rq, (unsigned char *) body, n);
        }

        memset(strstr(body, "abc"), 'Z', 3);
        memset(body + n - 2, 'X', 2);       /* "de" */

        is_int(llr_req_feed(rq, (unsigned char *) body + n,
                            strlen(body) - n), LLR_REQ_OK,
               "stable %d: fed", stable);
        is_int(llr_req_finish(rq), LLR_REQ_OK, "stable %d: finished",
               stable);
        is_str(r.trace.s, stable ? "[user:0]ZZZ\n|[/][user:1]defg|[/]"
                                 : "[user:0]abc\n|[/][user:1]defg|[/]",
               stable ? "stable piece: the text is a reference"
                      : "other piece: the text is a copy");
        is_int(llr_req_view(rq)->text_bytes, 8, "stable %d: text_bytes",
               stable);

        llr_req_destroy(rq);
        is_int(actx.live, 0, "stable %d: all freed", stable);
        want_model = NULL;
        res_free(&r);
    }
}


int
main(void)
{
    /*
     * the output tests twice: pieces fed with llr_req_feed(), then with
     * llr_req_feed_stable() and a ref() callback (objects and arrays of
     * top-level members by reference)
     */
    for (feed_stable = 0; feed_stable < 2; feed_stable++) {
        printf("# pieces fed %s\n", feed_stable ? "stable, with ref()"
                                                 : "as copies");
        test_simple();
        test_model();
        test_strings();
        test_json_errors();
        test_type_errors();
        test_depth();
        test_stream_options();
        test_max_tokens();
        test_sink();
        test_split_bodies();
        test_strict_unicode();
    }

    feed_stable = 0;

    test_want();
    test_stable();
    test_verbatim();
    test_memory();

    done_testing();
}
