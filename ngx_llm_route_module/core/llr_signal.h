/*
 * ngx_llm_route_module: quality signals of an answer, computed as its
 * bytes pass.
 *
 * Plain C, no nginx headers, no allocation, no global state.
 *
 * An answer (a chat completion, a completion, a Responses API response,
 * streamed or not) gets a bitmask of signals (docs/quality.md gives
 * each definition and the default refusal list):
 *
 *   truncated       a choice finished with "length" (Responses API:
 *                   incomplete, max_output_tokens)
 *   content_filter  a choice finished with "content_filter"
 *   empty           no choice has text other than white space, refusal
 *                   text or a tool call (reasoning alone is empty)
 *   bad_tool_json   the arguments of a tool call (or function_call) are
 *                   not one JSON value (an empty string included)
 *   bad_json        in JSON mode (response_format json_object or
 *                   json_schema), a choice's text is not empty and not
 *                   one JSON value (the schema is not checked)
 *   refusal         a choice has "refusal" text, or the first
 *                   LLR_SIG_PREFIX bytes of its text match a refusal
 *                   pattern
 *
 * The accumulator (llr_sig_t) is fed the answer's text as the response
 * scanners find it, in order, and the finish reasons at the end; it
 * keeps no text but the first LLR_SIG_PREFIX bytes of each choice (for
 * the refusal patterns): JSON is checked by llr_jsonv as it arrives.
 *
 * Two ways to feed it, to be mixed freely:
 *
 *   - llr_sig_text(): decoded text (UTF-8), any pieces;
 *
 *   - llr_sig_tap(): the raw body of a JSON string of the response as
 *     written between its quotes, escapes undone here (a piece may end
 *     inside an escape).  This is the hook for the response scanners
 *     (core/llr_usage.c, llr_sse.c), which skip string bodies without
 *     decoding them: an llr_text_tap_t they call, for each string of
 *     generated text, with its bytes as they pass (see below).
 *
 * Text kinds and where they are in OpenAI's formats (choice: the
 * "index" of choices[], or its position; index: the "index" of a
 * tool_calls[] element, or its position; 0 for function_call):
 *
 *   LLR_TEXT_CONTENT    choices[].message.content, choices[].delta.content,
 *                       choices[].text (completions), Responses output
 *                       text and response.output_text.delta "delta"
 *   LLR_TEXT_REFUSAL    choices[].message.refusal, .delta.refusal
 *   LLR_TEXT_REASONING  reasoning_content (not part of the answer)
 *   LLR_TEXT_TOOL_ARGS  tool_calls[].function.arguments,
 *                       function_call.arguments (streamed: the string
 *                       deltas of one call, concatenated)
 *
 * Anthropic's Messages format maps the same way: text_delta and text
 * blocks to CONTENT (choice 0), input_json_delta "partial_json" and a
 * tool_use block's input to TOOL_ARGS (index: the content block's
 * index), thinking to REASONING.
 *
 * Limits (fixed state, 1.6 KB): the text of choices 0 ..
 * LLR_SIG_CHOICES - 1 is examined (later choices only count as not
 * empty); LLR_SIG_TOOLS tool calls are checked at the same time: a
 * call beyond that finishes the one fed least recently (providers
 * stream one call after another, so it is complete), counted in
 * tools_early.
 *
 * For the glue: an llr_sig_t in the request context, llr_sig_init() when
 * the response filters start (json_mode from the request scanner:
 * llr_req_view_t.json_mode, response_format json_object or
 * json_schema), the scanners' tap (llr_json_t.tap) set to
 * llr_sig_tap, llr_sig_end() in the
 * log phase for an answer that is not an error: its bits are the
 * llr_q_obs_t's signals.
 */

#ifndef _LLR_SIGNAL_H_INCLUDED_
#define _LLR_SIGNAL_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_jsonv.h"
#include "llr_pattern.h"
#include "llr_usage.h"


typedef enum {
    LLR_SIG_TRUNCATED = 0,
    LLR_SIG_CONTENT_FILTER,
    LLR_SIG_EMPTY,
    LLR_SIG_BAD_TOOL_JSON,
    LLR_SIG_BAD_JSON,
    LLR_SIG_REFUSAL,
    LLR_SIG_N
} llr_sig_e;

#define LLR_SIG_BIT(s)     (1u << (s))
#define LLR_SIG_ALL        ((1u << LLR_SIG_N) - 1)


typedef enum {
    LLR_TEXT_CONTENT = 0,
    LLR_TEXT_REFUSAL,
    LLR_TEXT_REASONING,
    LLR_TEXT_TOOL_ARGS,
    LLR_TEXT_N
} llr_text_kind_e;


#define LLR_SIG_PREFIX     256     /* text bytes the patterns see */
#define LLR_SIG_CHOICES    4
#define LLR_SIG_TOOLS      4


/* llr_text_tap_pt flags */
#define LLR_TEXT_BEGIN     0x01    /* the first piece of a string */
#define LLR_TEXT_END       0x02    /* its last piece */


/*
 * The response scanners' hook.  For every JSON string of generated
 * text, the scanner calls tap() with the bytes of its body (between the
 * quotes, as written: escapes not undone) in the pieces it sees them,
 * in order: the first call with LLR_TEXT_BEGIN, the last with
 * LLR_TEXT_END (one call with both for a string that is all in one
 * piece; len may be 0, so an empty "arguments" is seen).  kind is an
 * llr_text_kind_e; choice and index as above.  The bytes are valid
 * during the call only.  Strings of different choices or calls never
 * interleave within one call sequence BEGIN .. END.
 */
typedef void (*llr_text_tap_pt)(void *ctx, unsigned kind, uint32_t choice,
    uint32_t index, const unsigned char *raw, size_t len, unsigned flags);

typedef struct {
    llr_text_tap_pt     tap;
    void               *ctx;
} llr_text_tap_t;


/*
 * The refusal patterns, compiled at configuration time and shared by
 * the answers of a worker: the default list (llr_sig_refusal_default())
 * followed by the configured ones (llm_route_refusal_pattern), each
 * compiled with llr_pattern_compile().  Matched unanchored against the
 * first LLR_SIG_PREFIX bytes of a choice's text (a character cut at the
 * end is no error): patterns anchor themselves with ^.
 */
typedef struct {
    const llr_pattern_t    *patterns;
    size_t                  npatterns;
} llr_sig_conf_t;

/* the default list, NULL-terminated: each pattern is caseless */
extern const char *const  llr_sig_refusals[];

/*
 * Compile the default list into one pattern (an alternation of them,
 * caseless).  0, or -1 with a message in err.
 */
int llr_sig_refusal_default(llr_pattern_t *p, char *err, size_t errlen);

/* the signal's label ("truncated"), a static string; NULL if none */
const char *llr_sig_name(unsigned sig);

/* the signal of a label, or -1 */
int llr_sig_by_name(const char *name, size_t len);


typedef struct {
    uint64_t        bytes;         /* JSON mode: text bytes fed */
    unsigned        text:1;        /* text other than white space */
    unsigned        tool:1;        /* a tool call */
    unsigned        refusal:1;     /* refusal text, or a pattern matched */
    unsigned        checked:1;     /* the patterns have run */
    uint16_t        plen;
    llr_jsonv_t     json;          /* JSON mode: the text */
    unsigned char   prefix[LLR_SIG_PREFIX];
} llr_sig_choice_t;


typedef struct {
    uint32_t        choice;
    uint32_t        index;
    uint32_t        used;          /* when last fed, 0: free */
    llr_jsonv_t     json;
} llr_sig_tool_t;


typedef struct {
    const llr_sig_conf_t  *conf;
    unsigned        json_mode:1;
    unsigned        other_text:1;  /* a choice beyond LLR_SIG_CHOICES
                                      had text (so it is not empty) */
    uint32_t        signals;       /* decided before the end */
    uint32_t        tools_early;   /* calls finished early (see above) */
    uint32_t        tools;         /* tool calls seen */
    uint32_t        clock;

    /* llr_sig_tap(): the escape being undone, of the current string */
    uint8_t         esc;           /* 0, 1 after '\\', 2..5 hex digits */
    uint32_t        ucp;
    uint32_t        uhi;           /* a high surrogate waiting */

    llr_sig_choice_t  choice[LLR_SIG_CHOICES];
    llr_sig_tool_t    tool[LLR_SIG_TOOLS];
} llr_sig_t;


/*
 * conf: the patterns (NULL: none); json_mode: the request asked for
 * JSON (response_format json_object or json_schema)
 */
void llr_sig_init(llr_sig_t *s, const llr_sig_conf_t *conf, int json_mode);

/* decoded text of a kind, for a choice (and a tool call's index) */
void llr_sig_text(llr_sig_t *s, unsigned kind, uint32_t choice,
    uint32_t index, const unsigned char *data, size_t len);

/* the scanners' hook: an llr_text_tap_pt, ctx an llr_sig_t */
void llr_sig_tap(void *ctx, unsigned kind, uint32_t choice, uint32_t index,
    const unsigned char *raw, size_t len, unsigned flags);

/*
 * The answer is complete: its signals (LLR_SIG_BIT()s), from what was
 * fed and the finish reasons the scanner counted (llr_resp_t.finish).
 * Call it once, for an answer (not for an error).
 */
uint32_t llr_sig_end(llr_sig_t *s, const uint32_t finish[LLR_FINISH_N]);


#endif /* _LLR_SIGNAL_H_INCLUDED_ */
