/*
 * ngx_llm_route_module: streamed answers translated between the OpenAI
 * and the Anthropic formats, event by event.
 *
 * Plain C, no nginx headers, no global state.
 *
 * The provider's SSE bytes are fed in pieces split anywhere
 * (llr_xsse_feed()); complete events (llr_xsse_event(), for a caller
 * that frames them itself) are translated at once, nothing of the
 * answer is held: what an event becomes is written out before the next
 * one is read.  The state kept between events is bounded: the answer's
 * id and model (truncated to 128 bytes), which block is open, the tool
 * calls' indexes (at most LLR_XSSE_TOOLS), usage counts and the stop
 * reason.  Event data is joined into a buffer of at most max_event
 * bytes (an event beyond that ends the stream with an error event);
 * each event is parsed (llr_jv) in a scratch arena taken back after it.
 *
 * Anthropic -> OpenAI (LLR_XLATE_CHAT_ANTHROPIC, a chat client):
 *
 *   message_start        the first chunk: delta {"role":"assistant",
 *                        "content":""}; its id and model are every
 *                        chunk's; its usage is kept
 *   content_block_start  a tool_use block: a chunk with a new
 *                        tool_calls[] entry (index counted from 0, id,
 *                        name, arguments "", or the input's JSON text
 *                        when it came whole); text and thinking: nothing
 *   content_block_delta  text_delta: delta.content; input_json_delta:
 *                        delta.tool_calls[].function.arguments;
 *                        thinking_delta: delta.reasoning_content;
 *                        signature and citations deltas: nothing
 *   content_block_stop   a tool_use block that got no input: its
 *                        arguments "{}" (what OpenAI sends for a tool
 *                        without parameters); any other: nothing
 *   message_delta        a chunk with finish_reason (end_turn,
 *                        stop_sequence: stop; max_tokens: length;
 *                        tool_use: tool_calls; refusal: content_filter);
 *                        its usage counts replace message_start's
 *   message_stop         the usage chunk ("choices":[], "usage" with
 *                        prompt_tokens = input + cache writes + cache
 *                        reads, cached_tokens = cache reads,
 *                        reasoning_tokens = thinking tokens) when the
 *                        client asked for it (include_usage), then
 *                        "data: [DONE]"
 *   ping                 an SSE comment ": ping" (keeps proxies and
 *                        clients from timing out; clients ignore it)
 *   error                data: {"error":{"message","type","param",
 *                        "code": Anthropic's type}}; the stream ends
 *                        there, without [DONE]
 *
 * OpenAI -> Anthropic (LLR_XLATE_ANTHROPIC_CHAT, a Messages client):
 *
 *   first chunk          message_start (the chunk's id and model,
 *                        content [], usage with 0 tokens: an OpenAI
 *                        stream tells them at its end)
 *   delta.content        a text block (content_block_start when none
 *                        is open), text_delta
 *   delta.refusal        the same, and stop_reason "refusal"
 *   delta.tool_calls[]   an entry with an id: the open block stops, a
 *                        tool_use block starts (id, name, input {});
 *                        its arguments: input_json_delta to that
 *                        tool's block
 *   delta.reasoning_content, reasoning: nothing (a thinking block needs
 *                        a signature Anthropic would check when the
 *                        client sends it back)
 *   finish_reason        the open block stops; the reason is kept
 *   usage                kept (the usage chunk of include_usage,
 *                        which the request translation asks for)
 *   [DONE]               message_delta (stop_reason, usage:
 *                        input_tokens = prompt - cached,
 *                        cache_read_input_tokens = cached, output_tokens)
 *                        and message_stop
 *   an SSE comment       event: ping
 *   {"error": ...}       event: error ({"type":"error","error":{"type"
 *                        of its status class, "message"}}); the end
 *
 * The end of the provider's stream (llr_xsse_finish()): if it ended
 * (message_stop, [DONE], an error), nothing more.  If the answer was
 * complete but its terminator is missing (a stop reason arrived), the
 * client's terminator is written (the usage chunk and [DONE], or
 * message_delta and message_stop).  Otherwise the stream was cut: the
 * client gets an error event in its format, and no terminator, so that
 * no client takes a cut answer for a whole one:
 *
 *   OpenAI:    data: {"error":{"message":"The stream from the provider
 *              was interrupted before it completed.","type":
 *              "server_error","param":null,"code":"stream_interrupted"}}
 *   Anthropic: event: error
 *              data: {"type":"error","error":{"type":"api_error",
 *              "message":"The stream from the provider was interrupted
 *              before it completed."}}
 *
 * Output: emit(ctx, p, n) (llr_sse.h) gets the translated bytes once per
 * llr_xsse_feed() / llr_xsse_event() / llr_xsse_finish() call that has
 * any; the bytes are valid during the call only (the caller copies
 * them).  Where the glue calls it: the body filter, for each buffer of
 * the provider's stream (after the usage scanner saw the same bytes),
 * and llr_xsse_finish() at the last buffer or when the upstream failed.
 */

#ifndef _LLR_XSSE_H_INCLUDED_
#define _LLR_XSSE_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_req.h"
#include "llr_sse.h"
#include "llr_xlate.h"


#define LLR_XSSE_TOOLS     128          /* tool calls of one answer */
#define LLR_XSSE_ID_LEN    128
#define LLR_XSSE_SCRATCH   16384        /* parsing one event */


typedef struct llr_xsse_s  llr_xsse_t;


typedef struct {
    int64_t         created;        /* chat chunks' "created" (Unix s) */
    int             include_usage;  /* chat client: the usage chunk */
    size_t          max_event;      /* 0: LLR_SSE_MAX_EVENT */
} llr_xsse_opts_t;


/*
 * A translator for one stream (LLR_XLATE_CHAT_ANTHROPIC or
 * LLR_XLATE_ANTHROPIC_CHAT), its memory from alloc; NULL if out of
 * memory or x is not one of these.
 */
llr_xsse_t *llr_xsse_create(llr_xlate_e x, const llr_alloc_t *alloc,
    const llr_xsse_opts_t *opts);

/* the next piece of the provider's stream; 0, or -1 if emit failed */
int llr_xsse_feed(llr_xsse_t *xs, const unsigned char *data, size_t len,
    llr_sse_emit_pt emit, void *ctx);

/*
 * One complete event: its "event:" name (may be NULL) and its data (the
 * "data:" lines joined with '\n').  0, or -1 if emit failed.
 */
int llr_xsse_event(llr_xsse_t *xs, const unsigned char *name,
    size_t name_len, const unsigned char *data, size_t len,
    llr_sse_emit_pt emit, void *ctx);

/* the provider's stream ended (see above); 0, or -1 if emit failed */
int llr_xsse_finish(llr_xsse_t *xs, llr_sse_emit_pt emit, void *ctx);

/*
 * What the client was sent: 1 once its stream ended with its format's
 * terminator ([DONE], message_stop) or an error event; cut: the error
 * event was the translator's own (the provider's stream was cut or an
 * event was too big).
 */
int llr_xsse_ended(const llr_xsse_t *xs);
int llr_xsse_cut(const llr_xsse_t *xs);

void llr_xsse_destroy(llr_xsse_t *xs);

/*
 * The error event a cut stream ends with in a format (above), for the
 * pass-through path too: a client of either format gets the same bytes
 * whether its stream was translated or not.  Returns its length; *p
 * points to static bytes.
 */
size_t llr_xsse_cut_event(llr_format_e fmt, const unsigned char **p);


#endif /* _LLR_XSSE_H_INCLUDED_ */
