/*
 * ngx_llm_route_module: what a provider's response says about itself.
 *
 * Plain C, no nginx headers, no allocation, no global state.
 *
 * llr_json_t is a small streaming JSON scanner (fixed size, about
 * 1 KB) that is fed a response body in pieces split at any byte and
 * extracts, into an llr_resp_t:
 *
 *   - usage: prompt_tokens, completion_tokens, total_tokens,
 *     prompt_tokens_details.cached_tokens,
 *     completion_tokens_details.reasoning_tokens (chat, completions,
 *     embeddings), and the Responses API names input_tokens,
 *     output_tokens, input_tokens_details.cached_tokens,
 *     output_tokens_details.reasoning_tokens;
 *   - the provider's "model";
 *   - the response's top-level "id" ("chatcmpl-...", "resp_..."), only
 *     while the text tap is set (llr_json_t.tap: the quality loop's
 *     scanners; otherwise "id" is skipped as before, an event
 *     template's hole);
 *   - finish_reason of every choice (Responses API: "status" and
 *     incomplete_details.reason);
 *   - an "error" object (or string) and its type, code and message;
 *   - the number of decoded bytes of generated text (content,
 *     reasoning_content, refusal, tool call arguments, completions
 *     "text", Responses output text and "delta"), for an estimate
 *     when no usage is reported.
 *
 * Values wrapped in a top-level "response" object (Responses API
 * stream events such as response.completed) are seen as top-level.
 *
 * Anthropic Messages (llr_json_init_format() with LLR_FMT_ANTHROPIC):
 * the JSON answer and the stream events (message_start's "message",
 * content_block_start, content_block_delta, message_delta, message_stop,
 * error) give
 *
 *   - usage: input_tokens, output_tokens, cache_creation_input_tokens,
 *     cache_read_input_tokens, cache_creation.ephemeral_1h_input_tokens,
 *     output_tokens_details.thinking_tokens.  Each usage object
 *     updates only the counts it carries (a null one changes nothing):
 *     message_delta's counts are totals for the whole message that
 *     replace message_start's, never add to them.  prompt_tokens is
 *     kept as OpenAI counts it, every input token: input_tokens +
 *     cache_creation_input_tokens + cache_read_input_tokens;
 *     cached_tokens is cache_read_input_tokens, cache_write_tokens
 *     cache_creation_input_tokens, input_tokens what was reported;
 *   - "model" (of the answer, of message_start's message);
 *   - stop_reason (top-level, or message_delta's delta) as a finish
 *     reason: end_turn, stop_sequence: stop; max_tokens,
 *     model_context_window_exceeded: length; tool_use: tool_calls;
 *     refusal: content_filter; any other (pause_turn): other;
 *   - the error object of an error answer or event;
 *   - generated text: "text", "thinking" and "partial_json" of content
 *     blocks and deltas; for the text tap: text as content, thinking as
 *     reasoning, partial_json as tool call arguments (index: the
 *     event's content block "index"; in a JSON answer a tool_use block,
 *     whose input is an object, is tapped as the arguments "{}", its
 *     index the block's position), choice 0; the top-level "id" (and
 *     message_start's message's);
 *   - the events that end a stream: message_stop, and error.
 *
 * Why not yajl: yajl's lexer buffers every string token that spans two
 * feeds until it is complete, so one large "content" string of a
 * non-streamed response would be held whole.  This scanner never holds
 * more than its fixed state: strings it does not need are skipped,
 * strings it keeps (model, error fields) are truncated to their
 * buffers, nesting deeper than LLR_JSON_MAX_DEPTH stops the scan.
 */

#ifndef _LLR_USAGE_H_INCLUDED_
#define _LLR_USAGE_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_cost.h"


#define LLR_JSON_MAX_DEPTH    64
#define LLR_RESP_MODEL_LEN    128
#define LLR_RESP_ID_LEN       128
#define LLR_RESP_ERR_LEN      64
#define LLR_RESP_ERRMSG_LEN   256
#define LLR_JSON_HOLES        8

/* llr_resp_t.usage_valid */
#define LLR_USAGE_PROMPT      0x01
#define LLR_USAGE_COMPLETION  0x02

/* llr_json_t.tap flags: LLR_TEXT_BEGIN, LLR_TEXT_END of llr_signal.h */
#define LLR_JSON_TAP_BEGIN    0x01
#define LLR_JSON_TAP_END      0x02

/* the kinds of holes (llr_json_t) */
#define LLR_HOLE_SKIP         0       /* a string, skipped */
#define LLR_HOLE_COUNT        1       /* a string, counted */
#define LLR_HOLE_NUM          2       /* a number, skipped */


/* a wire format */
typedef enum {
    LLR_FMT_OPENAI = 0,             /* chat completions, completions,
                                       embeddings, Responses API */
    LLR_FMT_ANTHROPIC               /* Anthropic Messages */
} llr_format_e;


typedef enum {
    LLR_FINISH_STOP = 0,
    LLR_FINISH_LENGTH,
    LLR_FINISH_TOOL_CALLS,
    LLR_FINISH_CONTENT_FILTER,
    LLR_FINISH_FUNCTION_CALL,
    LLR_FINISH_OTHER,
    LLR_FINISH_N
} llr_finish_e;


/* what was found; all strings NUL-terminated, truncated to fit */
typedef struct {
    uint64_t    prompt_tokens;      /* includes cached_tokens */
    uint64_t    completion_tokens;  /* includes reasoning_tokens */
    uint64_t    total_tokens;
    uint64_t    cached_tokens;
    uint64_t    reasoning_tokens;

    /* Anthropic only (0 otherwise): see above */
    uint64_t    cache_write_tokens;     /* included in prompt_tokens */
    uint64_t    cache_write_1h_tokens;  /* of cache_write_tokens */
    uint64_t    input_tokens;           /* input_tokens as reported */

    /*
     * which of prompt_tokens (input_tokens) and completion_tokens
     * (output_tokens) the last "usage" gave as non-negative integers
     * (LLR_USAGE_PROMPT, LLR_USAGE_COMPLETION): a count that is
     * missing, or a negative or fractional number, a string, null, an
     * object..., leaves its bit clear; see llr_usage_usable()
     */
    uint32_t    usage_valid;

    uint64_t    content_bytes;      /* decoded bytes of generated text */

    uint32_t    finish[LLR_FINISH_N];  /* count of each finish reason */

    /*
     * a non-null "usage" object was seen; when several are seen the
     * last one wins (its fields replace all earlier ones)
     */
    unsigned    has_usage:1;
    unsigned    has_model:1;
    unsigned    error:1;            /* an "error" object or string */
    unsigned    json_error:1;       /* not JSON (or nested too deep):
                                       scanning stopped there */

    char        model[LLR_RESP_MODEL_LEN];
    uint32_t    model_len;          /* before the final NUL (the model
                                       may hold a \u0000 of its own) */
    char        id[LLR_RESP_ID_LEN];  /* the response's "id" (tap set) */
    uint32_t    id_len;
    char        error_type[LLR_RESP_ERR_LEN];
    char        error_code[LLR_RESP_ERR_LEN];     /* string or number */
    char        error_message[LLR_RESP_ERRMSG_LEN];
} llr_resp_t;


/* the text tap of llr_json_t (the same as llr_signal.h's llr_text_tap_pt) */
typedef void (*llr_json_tap_pt)(void *ctx, unsigned kind, uint32_t choice,
    uint32_t index, const unsigned char *raw, size_t len, unsigned flags);


/* a container being scanned (private) */
typedef struct {
    uint8_t         node;           /* where it is on the wanted paths */
    uint8_t         vnode;          /* where its current member is */
    uint8_t         arr;
} llr_json_frame_t;


/* the streaming scanner; fields are private except the v_* ones */
typedef struct {
    llr_resp_t     *res;

    uint8_t         state;
    uint8_t         root;           /* the node of the top-level value:
                                       which format's paths */
    uint8_t         role;
    uint8_t         lit;
    uint8_t         lit_pos;
    uint8_t         uhex;           /* \u hex digits read */
    uint16_t        depth;
    uint32_t        ucp;            /* \u code point being read */
    uint32_t        uhi;            /* pending high surrogate */
    uint64_t        str_count;      /* decoded bytes of current string */
    size_t          cap_len;
    unsigned        cap_trunc:1;

    /* about the current top-level value (used by the SSE parser) */
    unsigned        v_complete:1;   /* the top-level value ended */
    unsigned        v_choices:1;    /* it has a "choices" array */
    unsigned        v_usage:1;      /* it has a non-null "usage" object */
    unsigned        v_content:1;    /* it carries generated text (or a
                                       tool call) */
    unsigned        v_error:1;      /* it has an "error" */
    unsigned        v_bad:1;        /* it is not JSON: scanning stopped */
    unsigned        v_model:1;      /* it set res->model */
    unsigned        v_finish:1;     /* it counted a finish reason */
    unsigned        v_end:1;        /* a Responses API event that ends
                                       a stream: its top-level "type"
                                       is response.completed,
                                       response.incomplete,
                                       response.failed or error */
    uint32_t        v_choice_elems; /* elements of its "choices" */

    /* the text tap (below): where the current string is */
    unsigned        tap_on:1;       /* inside a string it is fed */
    unsigned        tap_begin:1;    /* its first piece not fed yet */
    uint8_t         tap_kind;
    uint32_t        tap_choice;     /* "index" of choices[], or position */
    uint32_t        tap_index;      /* "index" of tool_calls[], or position */
    uint32_t        tap_tools;      /* tool_calls[] elements of the choice */

    llr_json_frame_t  frames[LLR_JSON_MAX_DEPTH];

    char            cap[LLR_RESP_ERRMSG_LEN];  /* captured string */
    char            num[32];
    uint8_t         num_len;

    /*
     * The holes of the current value (llr_sse's event template): in
     * llr_json_feed_line() only, the values whose bytes change nothing
     * but the count of generated text, each taken whole by the common
     * path: strings on no wanted path and numbers on none (skipped),
     * strings of generated text (counted).  hole[k] is [start, end):
     * a string's body without its quotes, a number's bytes.  At most
     * LLR_JSON_HOLES, in the order of the input; later ones are not
     * noted.  hole_count sums the decoded bytes of the counted ones.
     * Pointers into the fed data: valid while that data is.
     */
    uint8_t         nholes;
    uint8_t         hole_kind[LLR_JSON_HOLES];
    uint64_t        hole_count;
    const unsigned char  *hole[LLR_JSON_HOLES][2];

    /*
     * The text tap (core/llr_signal.h, llr_text_tap_pt): if set, called
     * with the raw body of every string of generated text as it passes,
     * with its kind (0 content, 1 refusal, 2 reasoning, 3 tool call
     * arguments), choice and tool call index.  llr_json_init() clears
     * it, llr_json_reset() keeps it; set it after llr_json_init().
     * llr_sse's event templates do not scan the events they match: a
     * tapped stream uses only templates of its own, which tell the tap
     * of their text holes (llr_sse.h).
     */
    llr_json_tap_pt tap;
    void           *tap_ctx;
    const unsigned char  *tap_start;  /* of the string in this piece */
} llr_json_t;


/* start scanning one JSON value; found values go into res */
void llr_json_init(llr_json_t *j, llr_resp_t *res);

/* the same, for a value in format fmt (llr_json_init(): OpenAI's) */
void llr_json_init_format(llr_json_t *j, llr_resp_t *res, llr_format_e fmt);

/*
 * Forget the current value (res and the format are kept): the next
 * byte starts a new top-level value.
 */
void llr_json_reset(llr_json_t *j);

/*
 * Feed the next piece.  Returns 0, or -1 once the input is not JSON
 * (or is nested deeper than LLR_JSON_MAX_DEPTH, or has anything but
 * whitespace after the value): res->json_error is set and further
 * feeds return -1 until reset.
 */
int llr_json_feed(llr_json_t *j, const unsigned char *data, size_t len);

/*
 * Feed the bytes of [data, end) up to the first '\r' or '\n' (one line
 * of an SSE "data:" field) and return that line end (or end).  The
 * same as llr_json_feed() of those bytes (test res->json_error or
 * v_bad for an error), without a separate search for the line end.
 */
const unsigned char *llr_json_feed_line(llr_json_t *j,
    const unsigned char *data, const unsigned char *end);

/*
 * Resuming from a known state (llr_sse's prefix cache): whether the
 * scanner is between two tokens inside the top-level value, and a copy
 * of its state there (what a later feed depends on: the scalar fields
 * and the frames of the open containers) into dst.
 */
int llr_json_at_boundary(const llr_json_t *j);
void llr_json_copy_state(llr_json_t *dst, const llr_json_t *src);

/*
 * The body of a string at p (after its opening quote) as the scanner
 * takes it in a data line: returns its closing '"', or NULL if a '\r',
 * '\n' or end comes first or an escape is bad; *count (if count is not
 * NULL) is its decoded bytes as counted in content_bytes.
 */
const unsigned char *llr_json_string_body(const unsigned char *p,
    const unsigned char *end, uint64_t *count);

/* the value of the 4 hex digits at p (of a \u escape); 0, or -1 */
int llr_json_hex4(const unsigned char *p, uint32_t *cp);

/* non-zero for the bytes that may be in a number as the scanner skips one */
extern const uint8_t  llr_json_numch[256];


/*
 * Non-streamed response bodies: the usage extractor.  Embed it in the
 * request context (no allocation, no destructor).
 */
typedef struct {
    llr_resp_t      res;
    llr_json_t      json;
} llr_usage_t;

void llr_usage_init(llr_usage_t *u);

/* the same, for a body in format fmt (llr_usage_init(): OpenAI's) */
void llr_usage_init_format(llr_usage_t *u, llr_format_e fmt);

/* 0, or -1 when the body is not JSON (what was found is kept) */
int llr_usage_feed(llr_usage_t *u, const unsigned char *data, size_t len);

/*
 * The body is complete.  0 if it was one complete JSON value, -1
 * otherwise (truncated or not JSON; res->json_error is set).
 */
int llr_usage_finish(llr_usage_t *u);

/*
 * Whether res holds usage that can be charged: a "usage" object whose
 * prompt tokens, and completion tokens unless `prompt_only` (embeddings
 * report none), are non-negative integers.  Otherwise the tokens are to
 * be estimated.
 */
int llr_usage_usable(const llr_resp_t *res, int prompt_only);

/*
 * The tokens of res as llr_cost_tokens() charges them (llr_cost.h):
 * whatever res holds, also without usable usage (see above).
 */
void llr_usage_tokens(const llr_resp_t *res, llr_tokens_t *t);

/* classify a finish_reason string */
llr_finish_e llr_finish_reason(const char *s, size_t len);

/* classify an Anthropic stop_reason string */
llr_finish_e llr_stop_reason(const char *s, size_t len);

/* "stop", "length", ... for an llr_finish_e */
const char *llr_finish_name(llr_finish_e f);


#endif /* _LLR_USAGE_H_INCLUDED_ */
