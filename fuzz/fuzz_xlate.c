/*
 * libFuzzer target for core/llr_xlate: requests, JSON answers and error
 * bodies translated between the OpenAI and the Anthropic formats.
 *
 * The first byte: bits 0-2 the translation (0 a chat request to
 * Anthropic, 1 an Anthropic request to chat, 2 an Anthropic answer to a
 * chat client, 3 a chat answer to an Anthropic client, 4 and 5 error
 * bodies both ways, 6 and 7 a Responses API request: refused); bit 3
 * max_completion_tokens; bit 4 no default max_tokens; bits 5-7: the
 * allocation that fails (1 to 7; 0 none).
 *
 * Checks: no crash, no leak (every allocation given back); a result is
 * one of the documented ones, with a message when refused; what is
 * translated is strict JSON (llr_jv) ending in a NUL.  A request the
 * module's scanner accepts (llr_req, as the module checks it before
 * translating) becomes one it accepts in the other format; a chat
 * request that reaches Anthropic comes back to chat (the way back
 * refuses nothing the way there writes).  An answer's usage, read by
 * the usage scanner in the provider's format before and in the
 * client's after, has the same prompt, cached and completion tokens
 * (the client's own arithmetic agrees with the module's), when the
 * answer has one usage object where the scanner reads it.  An error
 * body is the client's error shape.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_mock.h"
#include "llr_req.h"
#include "llr_usage.h"
#include "llr_xlate.h"


static long  fz_live;
static long  fz_count;
static long  fz_fail_at;


static void *
fz_malloc(void *ctx, size_t size)
{
    void  *p;

    if (fz_fail_at && ++fz_count == fz_fail_at) {
        return NULL;
    }

    p = malloc(size ? size : 1);
    fz_live += (p != NULL);
    return p;
}


static void *
fz_realloc(void *ctx, void *p, size_t size)
{
    void  *n;

    if (fz_fail_at && ++fz_count == fz_fail_at) {
        return NULL;
    }

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


static int
fz_out(llr_out_t *out)
{
    static unsigned char  chunk[256];

    out->pos = chunk;
    out->end = chunk + sizeof(chunk);
    return 0;
}


static int
fz_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    return fz_out(out);
}


/* what the module's scanner says of a body (rewriting it, as it does) */
static llr_req_err_e
fz_scan(llr_endpoint_e ep, const unsigned char *d, size_t len)
{
    llr_out_t       out;
    llr_req_t      *rq;
    llr_req_err_e   rc;

    memset(&out, 0, sizeof(out));
    fz_out(&out);
    out.next = fz_out;
    out.mark = fz_mark;
    out.flush = fz_out;

    rq = llr_req_create(&fz_alloc, ep, &out, NULL);
    if (rq == NULL) {
        return LLR_REQ_ERR_NOMEM;
    }

    rc = llr_req_feed(rq, d, len);
    if (rc == LLR_REQ_OK) {
        rc = llr_req_finish(rq);
    }

    llr_req_destroy(rq);

    return rc;
}


/* strict JSON, a NUL after it; the object's member key, or the object */
static const llr_jv_t *
fz_json(const llr_xlate_out_t *out, llr_jv_doc_t **doc)
{
    const char  *err;

    if (out->data == NULL || out->data[out->len] != '\0') {
        abort();
    }

    *doc = llr_jv_parse(&fz_alloc, out->data, out->len, NULL, &err);

    if (*doc == NULL || (*doc)->root->type != LLR_JV_OBJECT) {
        abort();
    }

    return (*doc)->root;
}


/* how many members of obj are named key */
static size_t
fz_members(const llr_jv_t *obj, const char *key)
{
    size_t           n;
    const llr_jv_t  *m;

    n = 0;

    for (m = obj->child; m; m = m->next) {
        n += (m->key_len == strlen(key) && memcmp(m->key, key, m->key_len)
                                           == 0);
    }

    return n;
}


/*
 * The usage the scanner reads from the provider's answer and from the
 * client's: the same, when the answer has exactly one usage object
 * where the scanner looks (no "response" wrapper for OpenAI, no
 * "message" for Anthropic)
 */
static void
fz_usage(llr_format_e from, const unsigned char *in, size_t in_len,
    const llr_xlate_out_t *out)
{
    const char    *err;
    uint64_t       cached;
    llr_usage_t    a, b;
    llr_jv_doc_t  *doc;

    doc = llr_jv_parse(&fz_alloc, in, in_len, NULL, &err);

    if (doc == NULL) {
        return;
    }

    if (doc->root->type != LLR_JV_OBJECT
        || fz_members(doc->root, "usage") != 1
        || fz_members(doc->root, from == LLR_FMT_OPENAI ? "response"
                                                        : "message"))
    {
        llr_jv_free(doc);
        return;
    }

    llr_jv_free(doc);

    llr_usage_init_format(&a, from);
    (void) llr_usage_feed(&a, in, in_len);
    (void) llr_usage_finish(&a);

    if (!llr_usage_usable(&a.res, 0)) {
        return;
    }

    llr_usage_init_format(&b, from == LLR_FMT_OPENAI ? LLR_FMT_ANTHROPIC
                                                     : LLR_FMT_OPENAI);
    (void) llr_usage_feed(&b, out->data, out->len);

    if (llr_usage_finish(&b) != 0 || !llr_usage_usable(&b.res, 0)) {
        abort();
    }

    cached = a.res.cached_tokens < a.res.prompt_tokens
             ? a.res.cached_tokens : a.res.prompt_tokens;

    if (a.res.prompt_tokens != b.res.prompt_tokens
        || a.res.completion_tokens != b.res.completion_tokens
        || cached != (b.res.cached_tokens < b.res.prompt_tokens
                      ? b.res.cached_tokens : b.res.prompt_tokens))
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               mode, scanned;
    long              fail;
    llr_xlate_e       x;
    llr_xlate_rc_e    rc, rc2;
    llr_xlate_out_t   out, back;
    llr_xlate_opts_t  opts;
    llr_jv_doc_t     *doc;
    const llr_jv_t   *root, *e;

    static const llr_xlate_e  dirs[] = {
        LLR_XLATE_CHAT_ANTHROPIC, LLR_XLATE_ANTHROPIC_CHAT,
        LLR_XLATE_CHAT_ANTHROPIC, LLR_XLATE_ANTHROPIC_CHAT,
        LLR_XLATE_CHAT_ANTHROPIC, LLR_XLATE_ANTHROPIC_CHAT,
        LLR_XLATE_RESPONSES_ANTHROPIC, LLR_XLATE_RESPONSES_ANTHROPIC
    };

    if (size < 1) {
        return 0;
    }

    mode = data[0] & 7;
    x = dirs[mode];

    opts.model = "the-model \"\xc3\xa9\"";
    opts.model_len = strlen(opts.model);
    opts.max_tokens = (data[0] & 0x10) ? 0 : 4096;
    opts.max_completion_tokens = (data[0] & 0x08) ? 1 : 0;

    fz_live = 0;
    fz_count = 0;
    fz_fail_at = data[0] >> 5;

    data++;
    size--;

    /* what the module checks first, as it checks it (memory not failed) */
    scanned = 0;

    if (mode < 2) {
        fail = fz_fail_at;
        fz_fail_at = 0;
        scanned = fz_scan(mode == 0 ? LLR_EP_CHAT : LLR_EP_MESSAGES, data,
                          size) == LLR_REQ_OK;
        fz_fail_at = fail;
    }

    switch (mode) {

    case 2:
    case 3:
        rc = llr_xlate_response(x, &fz_alloc, 1700000000, data, size, &out);
        break;

    case 4:
    case 5:
        rc = llr_xlate_error(x, &fz_alloc, 400 + size % 200, data, size,
                             &out);
        break;

    default:
        rc = llr_xlate_request(x, &fz_alloc, &opts, data, size, &out);
        break;
    }

    if (rc == LLR_XLATE_NOMEM) {
        if (fz_fail_at == 0 || out.data != NULL) {
            abort();
        }

        goto done;
    }

    if (mode >= 6 && rc != LLR_XLATE_REFUSED) {
        abort();
    }

    if (rc == LLR_XLATE_REFUSED || rc == LLR_XLATE_BAD_ANSWER) {
        if (out.data != NULL || out.message[0] == '\0'
            || (rc == LLR_XLATE_REFUSED
                && (out.status != 400 || (mode >= 2 && mode < 6)))
            || (rc == LLR_XLATE_BAD_ANSWER && (out.status != 502
                                               || (mode != 2 && mode != 3))))
        {
            abort();
        }

        goto done;
    }

    if (rc != LLR_XLATE_OK) {
        abort();
    }

    fz_fail_at = 0;
    root = fz_json(&out, &doc);

    switch (mode) {

    case 0:
        /* the round trip, and what the module's scanner says */
        opts.max_tokens = 4096;

        if (!llr_jv_get(root, "messages") || !llr_jv_get(root, "max_tokens"))
        {
            abort();
        }

        rc2 = llr_xlate_request(LLR_XLATE_ANTHROPIC_CHAT, &fz_alloc, &opts,
                                out.data, out.len, &back);

        if (rc2 != LLR_XLATE_OK) {
            abort();
        }

        if (scanned
            && (fz_scan(LLR_EP_MESSAGES, out.data, out.len) != LLR_REQ_OK
                || fz_scan(LLR_EP_CHAT, back.data, back.len) != LLR_REQ_OK))
        {
            abort();
        }

        fz_free(NULL, back.data);
        break;

    case 1:
        if (scanned && fz_scan(LLR_EP_CHAT, out.data, out.len) != LLR_REQ_OK)
        {
            abort();
        }

        break;

    case 2:
    case 3:
        fz_usage(mode == 2 ? LLR_FMT_ANTHROPIC : LLR_FMT_OPENAI, data, size,
                 &out);
        break;

    default: /* 4, 5: the client's error shape */
        e = llr_jv_get(root, "error");

        if (e == NULL || e->type != LLR_JV_OBJECT
            || !llr_jv_get(e, "message") || !llr_jv_get(e, "type")
            || (mode == 5 && !llr_jv_is(llr_jv_get(root, "type"), "error")))
        {
            abort();
        }

        break;
    }

    llr_jv_free(doc);
    fz_free(NULL, out.data);

done:

    if (fz_live != 0) {
        abort();
    }

    return 0;
}
