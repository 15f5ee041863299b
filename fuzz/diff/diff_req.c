/*
 * Differential libFuzzer target: the request scanner (llr_req) of the old
 * tree against the new one (fuzz/diff.sh builds it; fuzz/README.md).
 *
 * Input: as fuzz/fuzz_req.c's, so its seeds serve: the first byte picks
 * the endpoint (low 3 bits, modulo 7) and the piece size (high 5 bits),
 * the rest is the body.  Every body is scanned in three ways, each by
 * both sides with the same pieces:
 *   1. stable pieces (llr_req_feed_stable(), an arena, ref() taking the
 *      even lengths), the text of the models of odd length wanted,
 *      pieces of 1..2s bytes (s from the first byte), a member inserted
 *      at the tail mark;
 *   2. copied pieces (llr_req_feed()), no text filter, pieces of 1..2s+2
 *      bytes, nothing inserted at the tail;
 *   3. scan only (no output), every model wanted, the body whole.
 * Required the same: the result (error class), the error's param, and
 * on success every field of the view, the text sink's calls (role,
 * turn, text), the number of flushes, and the output with the marks
 * filled the same way: byte for byte with DIFF_BYTES=1, otherwise the
 * same JSON once both are re-serialised by yajl (same members in the
 * same order, same values; white space and escapes may differ).
 * And once per input: llr_json_escape() of the whole input, the same
 * bytes (and length).
 * Information only (diff_info(), DIFF_INFO): a different error message,
 * and outputs that differ only in bytes.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "diff.h"


/* --- canonical JSON: yajl parses, yajl_gen writes it compact --------- */

static int
canon_null(void *g)
{
    return yajl_gen_null(g) == yajl_gen_status_ok;
}


static int
canon_bool(void *g, int v)
{
    return yajl_gen_bool(g, v) == yajl_gen_status_ok;
}


static int
canon_number(void *g, const char *s, size_t len)
{
    return yajl_gen_number(g, s, len) == yajl_gen_status_ok;
}


static int
canon_string(void *g, const unsigned char *s, size_t len)
{
    return yajl_gen_string(g, s, len) == yajl_gen_status_ok;
}


static int
canon_map_open(void *g)
{
    return yajl_gen_map_open(g) == yajl_gen_status_ok;
}


static int
canon_map_close(void *g)
{
    return yajl_gen_map_close(g) == yajl_gen_status_ok;
}


static int
canon_array_open(void *g)
{
    return yajl_gen_array_open(g) == yajl_gen_status_ok;
}


static int
canon_array_close(void *g)
{
    return yajl_gen_array_close(g) == yajl_gen_status_ok;
}


static const yajl_callbacks  canon_cb = {
    canon_null, canon_bool, NULL, NULL, canon_number, canon_string,
    canon_map_open, canon_string, canon_map_close, canon_array_open,
    canon_array_close
};


/* 0 and the canonical form in out, or -1: not JSON */
static int
canon(const diff_buf_t *in, diff_buf_t *out)
{
    int                   rc;
    size_t                len;
    yajl_gen              g;
    yajl_handle           h;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    h = yajl_alloc(&canon_cb, NULL, g);
    if (g == NULL || h == NULL) {
        abort();
    }

    yajl_config(h, yajl_dont_validate_strings, 1);
    yajl_gen_config(g, yajl_gen_validate_utf8, 0);

    rc = -1;

    if (yajl_parse(h, in->len ? in->s : (const unsigned char *) "", in->len)
        == yajl_status_ok
        && yajl_complete_parse(h) == yajl_status_ok
        && yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
    {
        diff_add(out, buf, len);
        rc = 0;
    }

    yajl_free(h);
    yajl_gen_free(g);

    return rc;
}


/* --- comparison ------------------------------------------------------ */

static const unsigned char  *in_data;
static size_t                in_size;


static void
req_fail(const char *kind, int run, const char *fmt, const char *a,
    const char *b)
{
    char  k[64];

    snprintf(k, sizeof(k), "%s-run%d", kind, run);
    diff_mismatch("req", k, in_data, in_size, fmt, run, a, b);
}


#define REQ_VIEW(f)                                                          \
    if (o->f != n->f) {                                                      \
        snprintf(a, sizeof(a), "%lld", (long long) o->f);                   \
        snprintf(b, sizeof(b), "%lld", (long long) n->f);                   \
        req_fail("view-" #f, run, "run %d: view." #f " old %s new %s",      \
                 a, b);                                                      \
        return;                                                              \
    }


/*
 * The skeleton of a message: without the excerpt after "near '" and, if
 * digits, without the digits (the byte offset)
 */
static void
msg_skeleton(const char *s, int digits, char *d, size_t size)
{
    size_t       n;
    const char  *near;

    near = strstr(s, "near '");
    n = near ? (size_t) (near - s) : strlen(s);

    for (/* void */; n && size > 1; s++, n--) {
        if (digits || *s < '0' || *s > '9') {
            *d++ = *s;
            size--;
        }
    }

    *d = '\0';
}


/* what kind of difference between two messages */
static void
msg_kind(int err, const char *o, const char *n, char *k, size_t size)
{
    uint64_t  h;
    char      a[256], b[256], *p;

    msg_skeleton(o, 1, a, sizeof(a));
    msg_skeleton(n, 1, b, sizeof(b));

    if (strcmp(a, b) == 0) {
        snprintf(k, size, "msg-%d-near-excerpt", err);
        return;
    }

    msg_skeleton(o, 0, a, sizeof(a));
    msg_skeleton(n, 0, b, sizeof(b));

    if (strcmp(a, b) == 0) {
        snprintf(k, size, "msg-%d-offset", err);
        return;
    }

    h = 0xcbf29ce484222325ULL;

    for (p = a; *p; p++) {
        h = (h ^ (unsigned char) *p) * 0x100000001b3ULL;
    }

    for (p = b; *p; p++) {
        h = (h ^ (unsigned char) *p) * 0x100000001b3ULL;
    }

    snprintf(k, size, "msg-%d-wording-%016llx", err, (unsigned long long) h);
}


static void
req_cmp_out(int run, const diff_req_res_t *o, const diff_req_res_t *n)
{
    size_t      at;
    diff_buf_t  co, cn;
    char        a[800], b[800];

    if (diff_buf_eq(&o->out, &n->out)) {
        return;
    }

    at = diff_first(&o->out, &n->out);

    snprintf(a, sizeof(a), "%s", diff_show(o->out.s + at,
             o->out.len - at < 120 ? o->out.len - at : 120));
    snprintf(b, sizeof(b), "%s", diff_show(n->out.s + at,
             n->out.len - at < 120 ? n->out.len - at : 120));

    if (getenv("DIFF_BYTES") != NULL) {
        req_fail("output-bytes", run,
                 "run %d: the output differs: old ...%s new ...%s", a, b);
        return;
    }

    memset(&co, 0, sizeof(diff_buf_t));
    memset(&cn, 0, sizeof(diff_buf_t));

    if (canon(&o->out, &co) != 0) {
        /* the old output is JSON (fuzz/fuzz_req.c checks it) */
        req_fail("old-output-not-json", run,
                 "run %d: the old output is not JSON: %s / %s", a, b);

    } else if (canon(&n->out, &cn) != 0) {
        req_fail("output-not-json", run,
                 "run %d: the new output is not JSON: old ...%s new ...%s",
                 a, b);

    } else if (!diff_buf_eq(&co, &cn)) {
        at = diff_first(&co, &cn);
        snprintf(a, sizeof(a), "%s", diff_show(co.s + at,
                 co.len - at < 120 ? co.len - at : 120));
        snprintf(b, sizeof(b), "%s", diff_show(cn.s + at,
                 cn.len - at < 120 ? cn.len - at : 120));
        req_fail("output-json", run, "run %d: the output means something "
                 "else (canonical JSON): old ...%s new ...%s", a, b);

    } else {
        diff_info("req", "output-bytes-only", in_data, in_size,
                  "run %d: the same JSON in other bytes: old ...%s "
                  "new ...%s", run, a, b);
    }

    diff_buf_free(&co);
    diff_buf_free(&cn);
}


static void
req_cmp(int run, const diff_req_res_t *o, const diff_req_res_t *n)
{
    size_t  at;
    char    a[800], b[800], k[64];

    if (o->err != n->err) {
        snprintf(a, sizeof(a), "%d (%s)", o->err, o->msg);
        snprintf(b, sizeof(b), "%d (%s)", n->err, n->msg);
        snprintf(k, sizeof(k), "result-%d-%d", o->err, n->err);
        req_fail(k, run, "run %d: result old %s new %s", a, b);
        return;
    }

    if (o->err != 0) {
        if (o->has_param != n->has_param
            || strcmp(o->param, n->param) != 0)
        {
            snprintf(a, sizeof(a), "%s", o->has_param ? o->param : "NULL");
            snprintf(b, sizeof(b), "%s", n->has_param ? n->param : "NULL");
            req_fail("param", run, "run %d: error param old %s new %s",
                     a, b);
        }

        if (strcmp(o->msg, n->msg) != 0) {
            msg_kind(o->err, o->msg, n->msg, k, sizeof(k));
            diff_info("req", k, in_data, in_size,
                      "error %d, param %s: old \"%s\" new \"%s\"", o->err,
                      o->has_param ? o->param : "NULL", o->msg, n->msg);
        }

        return;
    }

    REQ_VIEW(model_len);
    REQ_VIEW(model_count);
    REQ_VIEW(stream);
    REQ_VIEW(include_usage);
    REQ_VIEW(max_tokens);
    REQ_VIEW(n);
    REQ_VIEW(has_tools);
    REQ_VIEW(has_response_format);
    REQ_VIEW(json_mode);
    REQ_VIEW(has_system);
    REQ_VIEW(has_stream_options);
    REQ_VIEW(stream_options_key);
    REQ_VIEW(messages);
    REQ_VIEW(user_turns);
    REQ_VIEW(text_bytes);
    REQ_VIEW(body_bytes);
    REQ_VIEW(flushed);

    if (memcmp(o->model, n->model, sizeof(o->model)) != 0) {
        snprintf(a, sizeof(a), "%s", diff_show(o->model, o->model_len));
        snprintf(b, sizeof(b), "%s", diff_show(n->model, n->model_len));
        req_fail("view-model", run, "run %d: view.model old %s new %s",
                 a, b);
        return;
    }

    if (!diff_buf_eq(&o->trace, &n->trace)) {
        at = diff_first(&o->trace, &n->trace);
        snprintf(a, sizeof(a), "%s", diff_show(o->trace.s + at,
                 o->trace.len - at < 120 ? o->trace.len - at : 120));
        snprintf(b, sizeof(b), "%s", diff_show(n->trace.s + at,
                 n->trace.len - at < 120 ? n->trace.len - at : 120));
        req_fail("sink", run, "run %d: the text sink's calls differ at "
                 "...%s / ...%s", a, b);
        return;
    }

    req_cmp_out(run, o, n);
}


static void
req_free(diff_req_res_t *r)
{
    diff_buf_free(&r->trace);
    diff_buf_free(&r->out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              run;
    unsigned         step;
    diff_req_cfg_t   cfg[3];
    diff_req_res_t   o, n;

    if (size < 1) {
        return 0;
    }

    in_data = data;
    in_size = size;

    step = (unsigned) (data[0] >> 3) + 1;

    memset(cfg, 0, sizeof(cfg));

    cfg[0].endpoint = (data[0] & 0x7) % 7;
    cfg[0].step = step;
    cfg[0].stable = 1;
    cfg[0].want = 2;
    cfg[0].tail = 1;

    cfg[1].endpoint = cfg[0].endpoint;
    cfg[1].step = step + 1;

    cfg[2].endpoint = cfg[0].endpoint;
    cfg[2].want = 1;
    cfg[2].scan = 1;

    /* the escaping of the pieces inserted at marks and of error bodies */
    memset(&o, 0, sizeof(diff_req_res_t));
    memset(&n, 0, sizeof(diff_req_res_t));
    old_side_req_escape(data, size, &o.out);
    new_side_req_escape(data, size, &n.out);

    if (!diff_buf_eq(&o.out, &n.out)) {
        req_fail("escape", 0, "run %d: llr_json_escape() differs: old %s "
                 "new %s", diff_show(o.out.s, o.out.len),
                 diff_show(n.out.s, n.out.len));
    }

    req_free(&o);
    req_free(&n);

    for (run = 0; run < 3; run++) {
        old_side_req_run(&cfg[run], data + 1, size - 1, &o);
        new_side_req_run(&cfg[run], data + 1, size - 1, &n);

        req_cmp(run + 1, &o, &n);

        req_free(&o);
        req_free(&n);
    }

    return 0;
}
