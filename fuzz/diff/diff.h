/*
 * Differential fuzzing of core/'s scanners (fuzz/diff.sh, fuzz/README.md):
 * what the two sides share.
 *
 * The old scanners (main at a pinned commit) and the new ones (any tree)
 * are linked into one libFuzzer binary.  Their headers define the same
 * types, possibly with different layouts, so no file sees both: each
 * side's adapter (side_req.c, side_resp.c) is compiled against its own
 * tree's headers and turns what the scanner did into the plain structs
 * below; fuzz/diff.sh then prefixes every global symbol of a side's
 * objects with "old_" or "new_" (llvm-objcopy --redefine-syms), so
 * diff_req.c calls old_side_req_run() and new_side_req_run().
 *
 * This header includes no core/ header.
 */

#ifndef _DIFF_H_INCLUDED_
#define _DIFF_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


typedef struct {
    unsigned char  *s;
    size_t          len;
    size_t          cap;
} diff_buf_t;


void diff_add(diff_buf_t *b, const void *p, size_t n);
void diff_addf(diff_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diff_buf_free(diff_buf_t *b);
int diff_buf_eq(const diff_buf_t *a, const diff_buf_t *b);


/*
 * Piece sizes derived from the input: piece k of a body starting at
 * offset i is 1 + (seed[i % seed_len] + step) % (2 * step) bytes; step 0
 * feeds the body whole.  Both sides get the same pieces.
 */
size_t diff_piece(const unsigned char *data, size_t size, size_t i,
    unsigned step);


/* --- the request scanner (llr_req) ------------------------------------ */

typedef struct {
    int             endpoint;       /* llr_endpoint_e */
    unsigned        step;           /* pieces (diff_piece()) */
    int             stable;         /* llr_req_feed_stable(), an arena,
                                       ref() taking even lengths */
    int             want;           /* 0 no filter, 1 every model wanted,
                                       2 the models of odd length */
    int             scan;           /* no output (out NULL) */
    int             tail;           /* insert a member at the tail mark */
} diff_req_cfg_t;


typedef struct {
    int             err;            /* llr_req_err_e */
    char            param[64];      /* "" when NULL */
    int             has_param;
    char            msg[256];
    int             flushed;

    /* the view (llr_req_view_t), every field */
    unsigned char   model[256];     /* its first bytes */
    uint64_t        model_len;
    uint64_t        model_count;
    int64_t         stream;
    int64_t         include_usage;
    int64_t         max_tokens;
    uint64_t        n;
    unsigned        has_tools, has_response_format, json_mode,
                    has_system, has_stream_options, stream_options_key;
    uint64_t        messages;
    uint64_t        user_turns;
    uint64_t        text_bytes;
    uint64_t        body_bytes;

    diff_buf_t      trace;          /* the text sink's calls */
    diff_buf_t      out;            /* the output, marks filled */
} diff_req_res_t;


/* llr_json_escape() of any bytes, with the length llr_json_escape_len() said
   first ("<len>:") */
void old_side_req_escape(const unsigned char *data, size_t size,
    diff_buf_t *out);
void new_side_req_escape(const unsigned char *data, size_t size,
    diff_buf_t *out);

void old_side_req_run(const diff_req_cfg_t *cfg, const unsigned char *data,
    size_t size, diff_req_res_t *res);
void new_side_req_run(const diff_req_cfg_t *cfg, const unsigned char *data,
    size_t size, diff_req_res_t *res);


/* --- the answer scanners (llr_usage, llr_sse) ------------------------- */

#define DIFF_FINISH_N  16

/* llr_resp_t, field by field */
typedef struct {
    uint64_t        prompt_tokens, completion_tokens, total_tokens,
                    cached_tokens, reasoning_tokens, cache_write_tokens,
                    cache_write_1h_tokens, input_tokens;
    uint64_t        usage_valid;
    uint64_t        content_bytes;
    uint64_t        finish[DIFF_FINISH_N];
    unsigned        has_usage, has_model, error, json_error;
    uint64_t        model_len;
    unsigned char   model[160];
    uint64_t        id_len;
    unsigned char   id[160];
    char            error_type[80];
    char            error_code[80];
    char            error_message[300];
} diff_resp_t;


typedef struct {
    int             anthropic;
    unsigned        step;           /* pieces (diff_piece()) */
    int             tap;            /* the text tap set */
} diff_usage_cfg_t;


typedef struct {
    int             feed_rc;        /* llr_usage_feed()s, or-ed */
    int             finish_rc;
    diff_resp_t     res;
    diff_buf_t      tap;            /* the tap's strings */
} diff_usage_res_t;


void old_side_usage_run(const diff_usage_cfg_t *cfg,
    const unsigned char *data, size_t size, diff_usage_res_t *res);
void new_side_usage_run(const diff_usage_cfg_t *cfg,
    const unsigned char *data, size_t size, diff_usage_res_t *res);


typedef struct {
    int             strip;
    int             anthropic;
    size_t          max_event;
    unsigned        step;           /* pieces (diff_piece()) */
    int             cache;          /* 0 LLR_SSE_NO_CACHE, 1 the prefix
                                       cache only (no template cache),
                                       2 the side's template cache too */
    int             fresh;          /* empty the side's template cache
                                       first */
    int             tap;            /* the text tap set */
} diff_sse_cfg_t;


typedef struct {
    int             feed_rc;
    int             finish_rc;
    diff_resp_t     res;
    uint64_t        events, json_events, bad_events, oversized_events,
                    stripped;
    uint64_t        prefix_hits, template_hits;  /* information only */
    unsigned        done, ended, content_seen;
    int             in_event;       /* llr_sse_in_event() before finish */
    diff_buf_t      out;            /* the bytes emitted */
    diff_buf_t      first;          /* "piece@offset" of first_content */
    diff_buf_t      tap;
} diff_sse_res_t;


void old_side_sse_run(const diff_sse_cfg_t *cfg, const unsigned char *data,
    size_t size, diff_sse_res_t *res);
void new_side_sse_run(const diff_sse_cfg_t *cfg, const unsigned char *data,
    size_t size, diff_sse_res_t *res);


/* --- reporting (diff_common.c) ---------------------------------------- */

/*
 * A difference: described on stderr with the input; then, without
 * DIFF_OUT in the environment, abort() (libFuzzer saves the input); with
 * DIFF_OUT=DIR, the first input of each kind (target and what differed)
 * is written to DIR/<kind>-<hash> with DIR/<kind>-<hash>.txt saying what
 * differed, and fuzzing goes on.
 */
void diff_mismatch(const char *target, const char *kind,
    const unsigned char *input, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Information, not a failure (a different error message): the first
 * of each kind goes to DIFF_INFO (a file, appended) or stderr.
 */
void diff_info(const char *target, const char *kind,
    const unsigned char *input, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* a printable excerpt of bytes, for the descriptions (static buffer) */
const char *diff_show(const unsigned char *p, size_t len);

/* where two buffers first differ */
size_t diff_first(const diff_buf_t *a, const diff_buf_t *b);

/* the two diff_resp_t differ: the name of the first field, or NULL */
const char *diff_resp_cmp(const diff_resp_t *a, const diff_resp_t *b);

/*
 * The two answers' llr_resp_t differ: reported (diff_mismatch(), kind
 * "<field>-run<run>") and 1; or 0
 */
int diff_resp_check(const char *target, int run, const unsigned char *input,
    size_t size, const diff_resp_t *o, const diff_resp_t *n);

/* malloc(3) as an llr_alloc_t's members, for both sides */
void *diff_malloc(void *ctx, size_t size);
void *diff_realloc(void *ctx, void *ptr, size_t size);
void diff_free(void *ctx, void *ptr);

/* the text tap of both answer scanners: records into a diff_buf_t */
void diff_tap(void *ctx, unsigned kind, uint32_t choice, uint32_t index,
    const unsigned char *raw, size_t len, unsigned flags);

#endif /* _DIFF_H_INCLUDED_ */
