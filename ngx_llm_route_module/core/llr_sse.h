/*
 * ngx_llm_route_module: incremental Server-Sent Events parser for
 * OpenAI-compatible streams (chat/completions, completions, responses).
 *
 * Plain C, no nginx headers, no global state.
 *
 * The response body is fed in pieces split at any byte (inside "\r\n",
 * inside "data:", inside UTF-8, inside the JSON).  Lines end with
 * "\r\n", "\n" or "\r"; "data:" lines of an event are joined with "\n"
 * (one leading space after the colon is dropped), ":" comment lines and
 * other fields are ignored, a blank line dispatches the event.  Each
 * event's data is scanned in place by llr_json_t (llr_usage.h) as it
 * arrives; nothing of the stream is copied to parse it.  Results are
 * merged into sse->res (usage: the last non-null usage object wins;
 * finish reasons are counted; content bytes are summed).
 *
 * Forwarding.  llr_sse_feed() calls emit(ctx, ptr, len) for the bytes
 * to forward, in order:
 *
 *   - without LLR_SSE_STRIP_USAGE: once, with the whole piece
 *     (zero-copy, the bytes pass unchanged);
 *
 *   - with LLR_SSE_STRIP_USAGE: the usage-only event (a JSON chunk
 *     whose "choices" is [] and that has a non-null "usage", and no
 *     "error") is removed, every other byte passes unchanged.  Spans
 *     point into the piece (zero-copy) except for the part of an event
 *     that started in an earlier piece and could not yet be decided:
 *     such bytes are held in a small buffer and emitted from there.
 *     An event is released (held bytes emitted, the rest passed
 *     through) as soon as it cannot be a usage-only chunk: its
 *     "choices" has an element, its data is not JSON, or it grows
 *     beyond max_event bytes (counted in oversized_events; such an
 *     event is never stripped).  So the hold buffer keeps at most
 *     max_event bytes, in practice the first ~150 bytes of an event
 *     that straddles two pieces.  Latency: a held event is forwarded
 *     when its bytes up to the deciding point have arrived, never
 *     later than the end of the event, which the client cannot use
 *     before it is complete anyway.
 *
 * Memory: parsing needs no buffer at all (the JSON scanner has a fixed
 * state, so an event of any size is parsed); max_event only bounds the
 * hold buffer of strip mode.  "[DONE]" is recognized with whitespace
 * (and empty data lines) around it.  Data that is neither a JSON object
 * nor "[DONE]" is counted in bad_events.
 *
 * Prefix cache.  The events of a stream repeat most of their JSON: in
 * a chat.completion.chunk everything up to the delta's text ("id",
 * "object", "created", "model", "choices":[{"index":0,"delta":{
 * "content":) is the same in every content event.  So the first data
 * line of an event whose JSON does not start with the cached bytes is
 * scanned in parts along its common start with the previous such line
 * (each part ending after a ':' ',' '{' or '['); the scanner's state
 * after the last part that ends between two tokens, before anything in
 * res but the model has changed, is kept with those bytes.  An event
 * whose first data line begins with the kept bytes (all in the piece)
 * resumes from the kept state (and sets the model the bytes set, if
 * any) and scans only the rest.  The result is the same as scanning the
 * whole line, byte for byte (fuzz/fuzz_sse.c compares both); a content
 * event costs its last ~60 bytes instead of its whole JSON.  A line
 * that a piece cuts short is scanned as usual and teaches nothing.
 * LLR_SSE_NO_CACHE turns the cache off.
 *
 * Event templates.  Most events of a stream are the same bytes but for
 * a few values: the text, and ids, times or sequence numbers nothing
 * reads; and the next stream through the same worker has the same
 * events again.  Templates are kept in an llr_sse_cache_t that the
 * caller owns and shares between streams (llr_sse_use_cache(); nginx
 * keeps one per worker); without one there are none.  An event that
 * arrived whole in one piece, with one data line, and that neither
 * carries a non-null "usage" nor an "error", is scanned once more from
 * its first '{' by the cache's own scanner, from an empty res: that
 * gives what scanning it does (the text it adds, the finish reasons it
 * counts, the model it sets, whether it carries content) and its
 * holes: the values the scanner took whose bytes do not matter
 * (llr_json_t's holes: strings and numbers on no wanted path, strings
 * of generated text).  If the bytes between the holes are at most
 * LLR_SSE_TEMPLATE, the event becomes a template (replacing the oldest
 * of LLR_SSE_TEMPLATES): its bytes from the event's first byte to the
 * end of its blank line, with the holes cut out.  An event that starts
 * with a template's first byte and is all in the piece is compared
 * with the templates (the one this stream matched last first): the
 * same bytes between the holes, a string body (escapes checked as the
 * scanner checks them) or a number in each hole.  If one matches, the
 * event has what the template's event had (the same finish reasons and
 * model, no stripping, content_bytes grows by the template's fixed text
 * plus what its holes count); it is not scanned.  A template whose
 * event added text matches only events whose holes add some too
 * (whether the text was all that made it carry content is not known).
 * Scanning such an event would give the same result: the scanner
 * starts each event afresh, the bytes between the holes take it
 * through the same states, and a hole's bytes only add to
 * content_bytes (fuzz/fuzz_sse.c compares streams with a cache warmed
 * by other streams with LLR_SSE_NO_CACHE, which turns templates off
 * too; LLR_SSE_NO_TEMPLATE turns off only the templates).  A stream
 * learns at most LLR_SSE_LEARNS templates more than it matches, so
 * events that never repeat cost one extra scan a few times per stream
 * at most.  Once a stream has matched a template its prefix cache
 * learns no more (the events it would help are the templates').
 *
 * A stream's own template.  A template of the cache has holes for ids
 * and times too, which differ between streams but not inside one.  So
 * when an event with text matches a template of the cache, the stream
 * makes its own copy of it in which only the text holes stay holes and
 * the others hold that event's bytes; the stream's next events are
 * compared with its own template first, with fewer holes to check.
 * An event that matches it matches the cache's template too, with the
 * same values in the holes, so it has what that template's event had.
 * If an event does not match the stream's template but matches the
 * cache's template it came from, the holes whose bytes differ from the
 * copy (a sequence number, OpenAI's "obfuscation") stay holes in the
 * stream's next copy.
 *
 * A tapped stream (llr_json_t.tap set: the quality signals read its
 * text) does not use the cache's templates: they have holes for the
 * response's id (which the tap's scanner reads) and for numbers that
 * may be the "index" of a choice or tool call (which tell the tap whose
 * text it is).  It keeps a template of its own instead, made from an
 * event with text that it scanned (one that can be a template, as
 * above): the event is scanned again by the cache's scanner (the cache
 * serves as its scratch space) with a tap that notes the calls; if
 * each call is one whole string in a text hole (at most LLR_JSON_HOLES
 * of them, one call each), the event becomes the stream's template:
 * the id is in its bytes, and so is every number but those that are
 * the value of a member with a plain key other than "index"; the kind,
 * choice and tool call index of each text hole are kept.  An event
 * that matches it is not scanned: the tap is called once per text hole
 * with its bytes (LLR_TEXT_BEGIN | LLR_TEXT_END, what the scanner does
 * for a string all in one piece), and the event has what the template's
 * had, the response's id included.  An event with text that does not
 * match it makes the next one (as long as the stream may learn, see
 * LLR_SSE_LEARNS).  fuzz/fuzz_sse.c and t/unit/test_sse_tap.c compare
 * the tap's calls and the results with LLR_SSE_NO_TEMPLATE.
 *
 * Responses API streams end without "[DONE]": their last event is
 * response.completed, response.incomplete or response.failed (or an
 * error event).  Such an event (a JSON event whose top-level "type" is
 * one of these) sets ended; it never becomes a template.
 *
 * Anthropic Messages streams (LLR_SSE_ANTHROPIC): each event's data is
 * scanned as llr_json_init_format() with LLR_FMT_ANTHROPIC does
 * (llr_usage.h: message_start's usage, then message_delta's totals);
 * the "event:" lines are not read, the data's "type" says the same.
 * message_stop (or an error event) sets ended.  Templates learnt from
 * such a stream are matched by such streams only, and the other way
 * round, so one cache may serve both.
 *
 * End of stream: llr_sse_finish() dispatches an event that lacks its
 * final blank line (lenient, unlike browsers: "data: [DONE]" without a
 * trailing newline still counts) and emits or drops held bytes.
 *
 * Estimate: when no usage arrives, the caller may estimate completion
 * tokens as llr_estimate_tokens(res.content_bytes) = ceil(bytes / 4)
 * of the decoded generated text (content, reasoning_content, refusal,
 * tool call arguments, completions text, Responses deltas).
 */

#ifndef _LLR_SSE_H_INCLUDED_
#define _LLR_SSE_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr.h"
#include "llr_usage.h"


#define LLR_SSE_MAX_EVENT    65536

#define LLR_SSE_NO_JSON      ((size_t) -1)

#define LLR_SSE_PREFIX       256       /* bytes the prefix cache keeps */
#define LLR_SSE_TEMPLATE     512       /* an event template's bytes */
#define LLR_SSE_TEMPLATES    4         /* templates in a cache */
#define LLR_SSE_LEARNS       3         /* learnt and not yet matched */

/* flags */
#define LLR_SSE_STRIP_USAGE  0x01
#define LLR_SSE_NO_CACHE     0x02      /* no prefix cache, no template
                                          (tests, bench) */
#define LLR_SSE_NO_TEMPLATE  0x04      /* no template (tests, bench) */
#define LLR_SSE_ANTHROPIC    0x08      /* an Anthropic Messages stream */


/* forward len bytes at data; return 0, or -1 to fail the feed */
typedef int (*llr_sse_emit_pt)(void *ctx, const unsigned char *data,
    size_t len);

/*
 * Memory for the hold buffer (strip mode only; grows by doubling from
 * 256 bytes up to max_event) comes from an llr_alloc_t: its malloc, and
 * its free if not NULL (pool memory); realloc is not used.  Without an
 * allocator, or if it fails, the event is released instead of held
 * (forwarded unchanged, so never stripped).
 */


/* an event template (see above) */
typedef struct {
    uint16_t        len;              /* bytes between the holes, 0: none */
    uint8_t         nholes;
    unsigned        model:1;          /* its event set the model */
    unsigned        cr:1;             /* it ends with a '\r' */
    unsigned        text:1;           /* its event added text */
    unsigned        content:1;        /* it carries content without text
                                         (a tool call) */
    unsigned        finish:1;         /* it counts finish reasons */
    unsigned        anthropic:1;      /* learnt from an Anthropic stream:
                                         matched by those only */
    unsigned        id:1;             /* its event set the response's
                                         id (a tapped stream's only) */
    uint8_t         kind[LLR_JSON_HOLES];
    uint16_t        seg[LLR_JSON_HOLES + 1];  /* bytes between holes */
    uint64_t        fixed;            /* text counted outside the holes */
    uint32_t        finishes[LLR_FINISH_N];
    uint32_t        model_len;
    char            model_str[LLR_RESP_MODEL_LEN];

    /*
     * a tapped stream's own template: what the tap is told of the text
     * in each LLR_HOLE_COUNT hole, in their order (see above)
     */
    uint8_t         tap_kind[LLR_JSON_HOLES];
    uint32_t        tap_choice[LLR_JSON_HOLES];
    uint32_t        tap_index[LLR_JSON_HOLES];
    uint32_t        id_len;
    char            id_str[LLR_RESP_ID_LEN];

    unsigned char   bytes[LLR_SSE_TEMPLATE];
} llr_sse_tpl_t;


/* a tap call seen while an event is learnt (private) */
typedef struct {
    const unsigned char  *raw;
    size_t                len;
    uint32_t              choice;
    uint32_t              index;
    uint8_t               kind;
    uint8_t               flags;
} llr_sse_tapped_t;


/*
 * Templates shared by the streams that use it, one at a time (one per
 * nginx worker).  All zero bytes is an empty cache.
 */
typedef struct {
    unsigned        n;                /* templates kept */
    unsigned        next;             /* the one to replace */
    unsigned        last;             /* the one learnt last */
    uint32_t        gen[LLR_SSE_TEMPLATES];  /* times each was replaced */

    /*
     * succ[k]: what the event after one that matched template k (k =
     * LLR_SSE_TEMPLATES: after the start of a stream) matched when that
     * happened last: 0 not known, j + 1 template j, LLR_SSE_TEMPLATES
     * + 1 none (the next such event is not compared, only scanned)
     */
    uint8_t         succ[LLR_SSE_TEMPLATES + 1];
    llr_json_t      scan;             /* to learn */
    llr_resp_t      res;
    unsigned        ntapped;          /* calls of the tap while learning */
    llr_sse_tapped_t  tapped[LLR_JSON_HOLES];
    llr_sse_tpl_t   tpl[LLR_SSE_TEMPLATES];
} llr_sse_cache_t;


typedef struct {
    /* results, readable at any time */
    llr_resp_t      res;
    uint64_t        events;           /* events with data dispatched */
    uint64_t        json_events;      /* of which complete JSON values */
    uint64_t        bad_events;       /* data neither JSON nor [DONE] */
    uint64_t        oversized_events; /* strip mode: released, too big */
    uint64_t        stripped;         /* usage-only events removed */
    uint64_t        prefix_hits;      /* events resumed from the cache */
    uint64_t        template_hits;    /* events matched to the template */
    unsigned        done:1;           /* "data: [DONE]" arrived */
    unsigned        ended:1;          /* a Responses API event that ends
                                         a stream arrived (see below) */
    unsigned        content_seen:1;   /* an event carried content */

    /*
     * per feed call: set by the llr_sse_feed() (or llr_sse_finish())
     * in which the first event carrying generated text (or a tool
     * call) completed, the moment to take time to first token;
     * first_content_offset is the offset in that piece just after the
     * line-end byte that completed the event (for a "\r\n" blank line,
     * its "\r"; 0 when set by llr_sse_finish())
     */
    unsigned        first_content:1;
    size_t          first_content_offset;

    /* private */
    unsigned        flags;
    size_t          max_event;
    llr_alloc_t     mem;

    uint8_t         line_state;
    uint8_t         field_len;
    char            field[8];
    unsigned        after_cr:1;
    unsigned        skip_lf:1;
    unsigned        ev_active:1;
    unsigned        ev_here:1;        /* the event started in this piece */
    unsigned        holding:1;
    unsigned        failed:1;
    uint8_t         ev_mode;
    uint32_t        ev_data_lines;
    size_t          ev_start;
    size_t          other_len;
    char            other[16];

    unsigned char  *held;
    size_t          held_len;
    size_t          held_size;

    size_t          prev_len;         /* of prev */
    size_t          pfx_len;          /* prev[0..pfx_len): the cache */
    unsigned        pfx_model:1;      /* the prefix sets the model */
    unsigned        pfx_id:1;         /* and the id (tapped streams) */
    uint32_t        pfx_model_len;
    uint32_t        pfx_id_len;
    uint32_t        pfx_taps;         /* tap calls while learning it */

    size_t          ev_json;          /* its first '{' in the piece, or
                                         LLR_SSE_NO_JSON */
    llr_sse_cache_t *cache;           /* templates, or NULL */
    uint8_t         tpl_last;         /* the template matched last */
    uint8_t         tpl_budget;       /* templates it may still learn */
    uint8_t         tpl_prev;         /* what the last event matched:
                                         k + 1 the cache's template k,
                                         LLR_SSE_TEMPLATES + 1 none yet
                                         (a new stream), 0 not one */
    uint8_t         tpl_skipped;      /* the tpl_prev by which this
                                         event was not compared, or 0 */
    uint8_t         tpl_missed;       /* the tpl_prev of this event,
                                         compared with all in vain */
    const void     *model_by;         /* &own if it set the model last,
                                         and nothing has since */

    /* the stream's own template, made from the cache's (see above) */
    unsigned        own_ok:1;         /* there is one */
    uint8_t         own_src;          /* the cache's template it is from */
    uint32_t        own_gen;          /* that template's gen then */
    uint32_t        own_keep;         /* its holes that stay holes */
    uint16_t        own_fill[LLR_JSON_HOLES][2];  /* where the others'
                                                     bytes are in own */

    llr_json_t      json;

    /* not zeroed by llr_sse_init(): from here on */
    llr_json_t      pfx_json;         /* the scanner after the prefix */
    unsigned char   prev[LLR_SSE_PREFIX];  /* the start of a data line */
    char            pfx_model_str[LLR_RESP_MODEL_LEN];
    char            pfx_id_str[LLR_RESP_ID_LEN];
    llr_sse_tpl_t   own;
} llr_sse_t;


/*
 * flags: 0 or LLR_SSE_STRIP_USAGE (OpenAI streams only), or
 * LLR_SSE_ANTHROPIC; with LLR_SSE_NO_CACHE or LLR_SSE_NO_TEMPLATE for
 * tests.  max_event: 0 for LLR_SSE_MAX_EVENT.
 * mem may be NULL when not stripping.
 */
void llr_sse_init(llr_sse_t *sse, unsigned flags, size_t max_event,
    const llr_alloc_t *mem);

/*
 * Parse the next piece and forward it through emit (may be NULL when
 * only parsing).  Returns 0, or -1 if emit failed.
 */
int llr_sse_feed(llr_sse_t *sse, const unsigned char *data, size_t len,
    llr_sse_emit_pt emit, void *ctx);

/* end of the stream: see above; returns 0 or -1 if emit failed */
int llr_sse_finish(llr_sse_t *sse, llr_sse_emit_pt emit, void *ctx);

/*
 * 1 if the stream stopped inside an event (a line or an event not yet
 * ended by a blank line), 0 at an event boundary
 */
int llr_sse_in_event(const llr_sse_t *sse);

/* an empty cache */
void llr_sse_cache_init(llr_sse_cache_t *cache);

/*
 * Match and learn templates with cache (after llr_sse_init(), before
 * the first feed); ignored with LLR_SSE_NO_CACHE or LLR_SSE_NO_TEMPLATE
 */
void llr_sse_use_cache(llr_sse_t *sse, llr_sse_cache_t *cache);

/* release the hold buffer (only needed if mem.free is set) */
void llr_sse_free(llr_sse_t *sse);


#endif /* _LLR_SSE_H_INCLUDED_ */
