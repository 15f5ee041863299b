/*
 * ngx_llm_route_module: translation between the OpenAI and the Anthropic
 * wire formats: request bodies, JSON answers, error bodies, and the
 * count_tokens estimate.  The streamed answers are llr_xsse.h's.
 *
 * Plain C, no nginx headers, no global state.
 *
 * A translation is named by who speaks what (llr_xlate_e): the client's
 * format, then the provider's.  The request goes from the first to the
 * second; the answer, its errors and its stream come back the other
 * way, under the same name.  Same-format traffic is not translated (it
 * keeps the pass-through path: llr_req, llr_usage, llr_sse).
 *
 * Bodies are bounded (the request by client_max_body_size, the JSON
 * answer by what the caller buffers), so each is parsed whole into a
 * tree (llr_jv, llr_mock.h: the strict parser the mock uses, RFC 8259
 * with UTF-8 and surrogates checked, nesting at most 64) and the new
 * body is written with llr_jw (llr_jw.h).  All memory comes from the
 * caller's allocator: the tree is freed before returning, the new body
 * is the caller's (out->data, freed with alloc->free if that is set).
 *
 * What is translated, field by field, and what is refused: see
 * docs/formats.md.  In short, a request that cannot be carried over
 * faithfully is refused with a 400 naming the field (out->param): n > 1,
 * logprobs, logit_bias, penalties, audio, a temperature above 1 and
 * json_object to an Anthropic provider; top_k, server tools and image
 * tool results to an OpenAI provider; any member either API does not
 * have.
 *
 * Where the glue calls what (a sketch):
 *
 *   request phase, after llr_req scanned the body and the route is
 *     chosen, when the provider's format is not the client's:
 *     llr_xlate_request(); its 400 goes through llr_error_body() in the
 *     client's format; stream and include_usage say how the answer will
 *     be translated (llr_xsse_create()).
 *   header filter: the upstream status; >= 400: the body is an error,
 *     buffered and given to llr_xlate_error() at its end; else
 *     Content-Type says JSON (buffer it, llr_xlate_response() at the
 *     end) or SSE (llr_xsse_feed() for every buffer, llr_xsse_finish()
 *     at the last).  The usage scanners keep reading the provider's
 *     bytes in the provider's format (llr_usage_init_format(),
 *     LLR_SSE_ANTHROPIC), so accounting is the same as pass-through.
 *   the module's own errors (the single error writer): llr_error_body()
 *     with the client's format.
 *   /v1/messages/count_tokens to an OpenAI-format provider:
 *     llr_count_tokens_estimate() of the scanned view, answered with
 *     llr_count_tokens_body().
 */

#ifndef _LLR_XLATE_H_INCLUDED_
#define _LLR_XLATE_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_jw.h"
#include "llr_req.h"
#include "llr_usage.h"


/* who speaks what: the client's format, then the provider's */
typedef enum {
    LLR_XLATE_NONE = 0,
    LLR_XLATE_CHAT_ANTHROPIC,       /* OpenAI Chat Completions client,
                                       Anthropic Messages provider */
    LLR_XLATE_ANTHROPIC_CHAT,       /* Anthropic Messages client, OpenAI
                                       Chat Completions provider */
    LLR_XLATE_RESPONSES_ANTHROPIC   /* OpenAI Responses API client,
                                       Anthropic Messages provider: not
                                       translated (every request is
                                       refused, docs/formats.md says
                                       why); the glue may rather leave
                                       such deployments out of routing */
} llr_xlate_e;


typedef enum {
    LLR_XLATE_OK = 0,
    LLR_XLATE_REFUSED,              /* the client's request cannot be
                                       translated: a 400, out->param
                                       and out->message say why */
    LLR_XLATE_BAD_ANSWER,           /* the provider's answer is not what
                                       its format says: a 502 */
    LLR_XLATE_NOMEM
} llr_xlate_rc_e;


/* the format a translation's client speaks, and its provider */
llr_format_e llr_xlate_client(llr_xlate_e x);
llr_format_e llr_xlate_provider(llr_xlate_e x);


typedef struct {
    /*
     * the model to send, as the provider names it (the routed
     * deployment's upstream model)
     */
    const char     *model;
    size_t          model_len;

    /*
     * to an Anthropic provider, which requires max_tokens: the limit
     * when the client set none (the model's max_output=, or the
     * module's default); 0: such a request is refused
     */
    uint64_t        max_tokens;

    /*
     * to an OpenAI provider: the limit is sent as max_completion_tokens
     * (OpenAI's current name, the only one its reasoning models take)
     * rather than max_tokens (which more OpenAI-compatible servers know)
     */
    unsigned        max_completion_tokens:1;
} llr_xlate_opts_t;


typedef struct {
    /*
     * the translated body (LLR_XLATE_OK), from the allocator, followed
     * by a NUL that len does not count
     */
    unsigned char  *data;
    size_t          len;

    /* what the client asked for (requests) */
    int             stream;          /* 1: a stream */
    int             include_usage;   /* chat client: its
                                        stream_options.include_usage (1, 0,
                                        -1 absent); the usage chunk it
                                        wants at the end of a stream */

    /* the answer's status (llr_xlate_error() may change it) */
    unsigned        status;

    /* LLR_XLATE_REFUSED, LLR_XLATE_BAD_ANSWER */
    char            param[96];       /* the field, "" for none */
    char            message[320];
} llr_xlate_out_t;


/*
 * The client's request body (len bytes at body, already checked by
 * llr_req) as the provider's.  Returns LLR_XLATE_OK (out->data,
 * out->stream, out->include_usage), LLR_XLATE_REFUSED (a 400 for the
 * client: out->param, out->message) or LLR_XLATE_NOMEM.
 */
llr_xlate_rc_e llr_xlate_request(llr_xlate_e x, const llr_alloc_t *alloc,
    const llr_xlate_opts_t *opts, const unsigned char *body, size_t len,
    llr_xlate_out_t *out);


/*
 * The provider's JSON answer (status < 400) as the client's.  created:
 * the "created" time an OpenAI client sees (Unix seconds).  Returns
 * LLR_XLATE_OK, LLR_XLATE_BAD_ANSWER (not a JSON answer of the
 * provider's format: the glue answers 502 in the client's format) or
 * LLR_XLATE_NOMEM.
 */
llr_xlate_rc_e llr_xlate_response(llr_xlate_e x, const llr_alloc_t *alloc,
    int64_t created, const unsigned char *body, size_t len,
    llr_xlate_out_t *out);


/*
 * The provider's error answer (status >= 400, whatever its body: JSON of
 * its format, or anything else such as an HTML page of a proxy) as the
 * client's error body; out->status is the status to send (an Anthropic
 * 529 becomes 503 for an OpenAI client, which knows no 529).  The
 * provider's message is kept; a body that is not its format's error
 * gets a message naming the status only.  Returns LLR_XLATE_OK or
 * LLR_XLATE_NOMEM.
 */
llr_xlate_rc_e llr_xlate_error(llr_xlate_e x, const llr_alloc_t *alloc,
    unsigned status, const unsigned char *body, size_t len,
    llr_xlate_out_t *out);


/*
 * An error body in a format, for the module's own answers (the single
 * error writer):
 *
 *   OpenAI:    {"error":{"message":"...","type":"...","param":"..."|null,
 *               "code":"..."|null}}
 *   Anthropic: {"type":"error","error":{"type":"...","message":"..."}}
 *
 * type: the OpenAI type ("invalid_request_error", "server_error", ...);
 * for Anthropic, NULL takes llr_error_type() of the status.  code and
 * param may be NULL (OpenAI only; Anthropic errors have neither).  msg
 * is any bytes (escaped, made UTF-8).  Writes at most size bytes at buf
 * (buf may be NULL with size 0) and returns the whole length, as
 * snprintf() does, without a NUL.
 */
size_t llr_error_body(llr_format_e fmt, unsigned status, const char *type,
    const char *code, const char *param, const unsigned char *msg,
    size_t msg_len, unsigned char *buf, size_t size);

/*
 * The error "type" of a status in a format.  Anthropic: 400
 * invalid_request_error, 401 authentication_error, 402 billing_error,
 * 403 permission_error, 404 not_found_error, 413 request_too_large, 429
 * rate_limit_error, 503 and 529 overloaded_error, 504 timeout_error,
 * other 4xx invalid_request_error, other 5xx api_error.  OpenAI (as
 * OpenAI and the module write them): 429 requests, 5xx server_error,
 * any other invalid_request_error.
 */
const char *llr_error_type(llr_format_e fmt, unsigned status);


/*
 * count_tokens when the provider cannot count (not Anthropic-format):
 * an estimate from what llr_req scanned of the body (LLR_EP_COUNT_TOKENS
 * or LLR_EP_MESSAGES): ceil(text bytes / 4) + 4 per message, the same
 * 4 bytes per token the module estimates prompts with; tool definitions
 * and images are not counted.  The body is {"input_tokens":N}.
 */
uint64_t llr_count_tokens_estimate(const llr_req_view_t *view);

/*
 * An Anthropic message id for an answer translated from OpenAI's: the
 * provider's id after "msg_" (as Anthropic's ids start; at most
 * LLR_XLATE_ID_MAX bytes of it), or as it is if it starts so already
 */
#define LLR_XLATE_ID_MAX  128
void llr_xlate_msg_id(llr_jw_t *w, const unsigned char *id, size_t len);

/* writes {"input_tokens":n} (at most 40 bytes) at buf, returns its length */
size_t llr_count_tokens_body(uint64_t n, char *buf, size_t size);


/*
 * A "usage" member (its key and object) of an OpenAI answer or chunk,
 * and of an Anthropic answer or message_delta, from the counts as the
 * module keeps them (llr_usage.h: prompt counts every input token,
 * cached those read from the cache); shared with llr_xsse.
 */
void llr_xlate_usage_chat(llr_jw_t *w, uint64_t prompt, uint64_t cached,
    uint64_t completion, uint64_t reasoning);

/*
 * The counts of an OpenAI usage object as the usage scanner reads them
 * (chat and Responses API names, the last one of either winning); a
 * count that is not a non-negative integer leaves its variable as it
 * is.
 */
void llr_xlate_chat_counts(const llr_jv_t *usage, uint64_t *prompt,
    uint64_t *cached, uint64_t *completion);

/*
 * *n takes the value of the last member key of obj that is a
 * non-negative integer (an Anthropic count, as the usage scanner reads
 * it); unchanged if there is none
 */
void llr_xlate_count(const llr_jv_t *obj, const char *key, uint64_t *n);
void llr_xlate_usage_anthropic(llr_jw_t *w, uint64_t prompt,
    uint64_t cached, uint64_t completion);

/*
 * Finish reasons across formats (JSON answers and streams): an
 * Anthropic stop_reason for an OpenAI finish_reason, and back.
 */
const char *llr_xlate_stop_reason(const char *finish, size_t len);
const char *llr_xlate_finish_reason(const char *stop, size_t len);


#endif /* _LLR_XLATE_H_INCLUDED_ */
