/*
 * ngx_llm_route_module: request scanner and rewriter.
 *
 * Plain C, no nginx headers.  One streaming pass of a strict JSON lexer
 * of its own over the request body (fed in arbitrary pieces) that
 *   - extracts the request view (model, stream, max_tokens, tools, ...),
 *   - feeds message text to a text sink (the classifier's features),
 *   - writes the rewritten body into caller-provided output memory,
 *     leaving "marks" where the caller inserts content decided after
 *     the whole body was seen (the routed model, stream_options).
 */

#ifndef _LLR_REQ_H_INCLUDED_
#define _LLR_REQ_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr.h"


/* what endpoint the body is for: decides which fields are required */
typedef enum {
    LLR_EP_CHAT = 0,        /* /chat/completions: "messages" required */
    LLR_EP_COMPLETIONS,     /* /completions: "prompt" required */
    LLR_EP_EMBEDDINGS,      /* /embeddings: "input" required */
    LLR_EP_RESPONSES,       /* /responses: "input" required */
    LLR_EP_ANY,             /* only "model" required (mock, tools) */
    LLR_EP_MESSAGES,        /* Anthropic /messages: "messages" required */
    LLR_EP_COUNT_TOKENS     /* Anthropic /messages/count_tokens: the
                               same */
} llr_endpoint_e;

/*
 * Anthropic Messages bodies (LLR_EP_MESSAGES, LLR_EP_COUNT_TOKENS) are
 * scanned and rewritten as chat bodies are (the model mark, every other
 * member passed on), with Anthropic's names:
 *
 *   - view: "model", "stream", "max_tokens" (the only name of the
 *     limit; max_tokens is -1 when absent: the caller may add it at
 *     LLR_MARK_TAIL), "tools", "messages"; "stream_options" means
 *     nothing there (no mark, nothing dropped);
 *   - the text sink gets, in order: the top-level "system" (a string,
 *     or the "text" of each of its blocks) as a "system" message; each
 *     message's own text ("content" as a string, the "text" of its
 *     blocks, the strings of a tool_use block's "input") under its
 *     role; and the text of each tool_result block ("content" as a
 *     string, or the "text" of its blocks) as a message of its own
 *     with the role "tool", as a chat body carries tool results.  A
 *     user message that holds only tool results is not a user turn.
 */


/*
 * Where message text goes, as the scanner reads it.  Every callback may
 * be NULL.  role: "system", "developer", "user", "assistant", "tool", ...
 * (NUL-terminated, lives only during the call).  Text pieces are
 * complete decoded JSON strings (UTF-8, may contain NUL bytes).
 */
typedef struct {
    void    (*message_begin)(void *ctx, const char *role, size_t turn);
    void    (*text)(void *ctx, const unsigned char *data, size_t len);
    void    (*message_end)(void *ctx);
    void     *ctx;
} llr_text_sink_t;


/* marks: places in the output where the caller inserts content later */
typedef enum {
    /*
     * right after the top-level '{': the caller inserts
     * "model":"<routed>" and, if mark->comma is set, a trailing ','.
     * The scanner cannot know at that point whether more members
     * follow, so it always calls this mark with comma == 0 and writes
     * a leading ',' before every top-level member it outputs: the
     * model member inserted here is always the first one.
     */
    LLR_MARK_MODEL = 0,
    /*
     * right before the closing '}' of the top-level "stream_options"
     * object (any "include_usage" key inside it was dropped): the caller
     * inserts "include_usage":true (or false), preceded by ',' if
     * mark->comma is set
     */
    LLR_MARK_STREAM_OPTIONS,
    /*
     * right before the top-level closing '}': the caller may insert
     * members (e.g. "stream_options":{...} when the client sent none),
     * each preceded by ',' (mark->comma is always set: the model member
     * is always there)
     */
    LLR_MARK_TAIL
} llr_mark_e;


/*
 * Output memory provided by the caller.  The rewriter writes at pos and
 * never beyond end.  When it needs more room it calls next() with
 * pos advanced to where it stopped; next() must set pos/end to fresh
 * memory (at least 64 bytes).  mark() is called with pos advanced;
 * the caller ends the current piece there, remembers the place, and
 * sets pos/end to fresh memory.  flush() is called once at the end.
 * Each returns 0 or -1 (allocation failure: scanning stops).
 *
 * The value of a top-level member that is an object or an array (other
 * than "stream_options") is passed on as the client wrote it,
 * whitespace included; the rest of the output is compact.  ref() (may
 * be NULL) is offered such bytes when they lie in a piece fed with
 * llr_req_feed_stable(), with pos advanced, like mark().  It returns 1
 * to have them copied at pos as usual (linking a few bytes costs more
 * than copying them), or takes them and returns 0: the caller ends the
 * current piece at pos, appends the len bytes at p by reference (they
 * stay valid as long as the piece does), and sets pos/end to where
 * writing goes on.  Without ref(), or for a piece fed with
 * llr_req_feed(), the bytes are copied.
 */
typedef struct llr_out_s  llr_out_t;

struct llr_out_s {
    unsigned char  *pos;
    unsigned char  *end;
    int           (*next)(llr_out_t *out);
    int           (*mark)(llr_out_t *out, llr_mark_e mark, int comma);
    int           (*ref)(llr_out_t *out, const unsigned char *p,
                         size_t len);
    int           (*flush)(llr_out_t *out);
    void           *data;
};


/* the request view: what routing needs to know */
typedef struct {
    /* top-level "model" (the last one when duplicated), copied */
    char           *model;
    size_t          model_len;
    unsigned        model_count;   /* how many "model" keys were seen */

    int             stream;        /* -1 absent or null, 0 false, 1 true */
    int             include_usage; /* stream_options.include_usage:
                                      -1 absent, 0 false, 1 true */
    int64_t         max_tokens;    /* max_tokens, max_completion_tokens or
                                      max_output_tokens; -1 if absent */
    uint64_t        n;             /* choices generated: "n" (chat,
                                      completions) or "best_of"
                                      (completions), the larger; at
                                      least 1 */

    unsigned        has_tools:1;
    unsigned        has_response_format:1;
    unsigned        json_mode:1;        /* response_format's "type" is
                                           json_object or json_schema */
    unsigned        has_system:1;  /* a system or developer message */
    unsigned        has_stream_options:1;  /* an object */
    unsigned        stream_options_key:1;  /* the key, even with null */

    size_t          messages;      /* number of messages (or input items) */
    size_t          user_turns;
    size_t          text_bytes;    /* decoded text bytes fed to the sink */
    size_t          body_bytes;    /* input bytes consumed */
} llr_req_view_t;


/* error classes, decide the HTTP status and the OpenAI error fields */
typedef enum {
    LLR_REQ_OK = 0,
    LLR_REQ_ERR_JSON,       /* malformed JSON, trailing garbage, bad UTF-8 */
    LLR_REQ_ERR_TYPE,       /* wrong top-level type or field type */
    LLR_REQ_ERR_MISSING,    /* a required field is missing */
    LLR_REQ_ERR_DEPTH,      /* nesting deeper than the limit */
    LLR_REQ_ERR_NOMEM,
    LLR_REQ_ERR_OUTPUT      /* an out callback failed */
} llr_req_err_e;


#define LLR_REQ_MAX_DEPTH  64


typedef struct llr_req_s  llr_req_t;


/*
 * Create a scanner.  out may be NULL (scan only, nothing written);
 * sink may be NULL.  Returns NULL on allocation failure.
 */
llr_req_t *llr_req_create(const llr_alloc_t *alloc, llr_endpoint_e ep,
    llr_out_t *out, const llr_text_sink_t *sink);

/*
 * Optional, before the first llr_req_feed(): want(ctx, model, len) says
 * whether the text sink is wanted for this top-level "model" (decoded,
 * not NUL-terminated).  Until the model has been read the text is kept
 * as it was written (copied into memory from the allocator, or a
 * reference, llr_req_feed_stable()); then it goes to the sink or
 * is dropped, and so is the text after it.  Without it (or without a
 * text callback) the text is always sent (never kept or decoded).  With
 * duplicate top-level "model" keys the first one decides; a later one
 * that is wanted turns the sink on for the text after it.
 */
void llr_req_set_want(llr_req_t *rq,
    int (*want)(void *ctx, const unsigned char *model, size_t len),
    void *ctx);

/* feed the next piece of the body; returns LLR_REQ_OK or an error */
llr_req_err_e llr_req_feed(llr_req_t *rq, const unsigned char *data,
    size_t len);

/*
 * The same, for a piece that stays in memory, unchanged, until
 * llr_req_destroy(): text kept until the model (or a message's role) is
 * known is then kept as a reference into the piece, not copied.
 */
llr_req_err_e llr_req_feed_stable(llr_req_t *rq, const unsigned char *data,
    size_t len);

/* the body is complete; checks required fields, flushes the output */
llr_req_err_e llr_req_finish(llr_req_t *rq);

/* the view, valid after finish (partially filled before) */
const llr_req_view_t *llr_req_view(llr_req_t *rq);

/*
 * After an error: a message for the client (NUL-terminated, static or
 * owned by the scanner) and the offending field ("model", "messages",
 * ...) or NULL.
 */
const char *llr_req_error_message(llr_req_t *rq);
const char *llr_req_error_param(llr_req_t *rq);

void llr_req_destroy(llr_req_t *rq);


/*
 * JSON string escaping for the pieces the caller inserts at marks and
 * for OpenAI-shaped error bodies: writes the escaped form (without
 * quotes) of src into dst, returns bytes written; dst must hold
 * llr_json_escape_len(src, len) bytes.  src may be any bytes (a header
 * value, say): each byte that does not belong to a well-formed UTF-8
 * character becomes \ufffd, so the output is always valid JSON text.
 */
size_t llr_json_escape_len(const unsigned char *src, size_t len);
size_t llr_json_escape(unsigned char *dst, const unsigned char *src,
    size_t len);

#endif /* _LLR_REQ_H_INCLUDED_ */
