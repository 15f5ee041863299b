/*
 * bench/cg_xlate.c: the translation between the OpenAI and the Anthropic
 * wire formats, next to the pass-through scans, for callgrind
 * (bench/callgrind.sh).
 *
 *   cg_xlate MODE ARG N
 *
 * Requests (ARG: an OpenAI chat body, e.g. bench/gen-bodies.pl's 2 KB
 * one; its Anthropic form is made from it once, before measuring):
 *
 *   scan-chat          llr_req scan + rewrite of the chat body (the
 *                      pass-through of an explicit model)
 *   scan-messages      the same for its Anthropic form (LLR_EP_MESSAGES)
 *   chat2anthropic     llr_xlate_request(): the chat body for an
 *                      Anthropic provider
 *   anthropic2chat     the Anthropic form for an OpenAI provider
 *
 * Streams (ARG: the number of events, text deltas of a word each
 * between the start and the end events):
 *
 *   sse-chat           llr_sse over an OpenAI stream (pass-through)
 *   sse-anthropic      llr_sse over an Anthropic stream (pass-through)
 *   xsse-anthropic     llr_xsse: the Anthropic stream for a chat client
 *   xsse-chat          llr_xsse: the OpenAI stream for an Anthropic
 *                      client
 *
 * JSON answers (ARG: about that many bytes of text):
 *
 *   usage-anthropic    llr_usage over an Anthropic answer
 *   json-anthropic     llr_xlate_response(): it for a chat client
 *   json-chat          a chat.completion for an Anthropic client
 *
 * Streams and answers are fed in 8 KB pieces (a proxy buffer).  Each of
 * the N is one call of bench_xlate() (callgrind toggles on it).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llr_req.h"
#include "llr_sse.h"
#include "llr_usage.h"
#include "llr_xlate.h"
#include "llr_xsse.h"


#define PIECE  8192


enum {
    M_SCAN_CHAT = 0,
    M_SCAN_MESSAGES,
    M_CHAT2ANTHROPIC,
    M_ANTHROPIC2CHAT,
    M_SSE_CHAT,
    M_SSE_ANTHROPIC,
    M_XSSE_ANTHROPIC,
    M_XSSE_CHAT,
    M_USAGE_ANTHROPIC,
    M_JSON_ANTHROPIC,
    M_JSON_CHAT
};


static const char  *modes[] = {
    "scan-chat", "scan-messages", "chat2anthropic", "anthropic2chat",
    "sse-chat", "sse-anthropic", "xsse-anthropic", "xsse-chat",
    "usage-anthropic", "json-anthropic", "json-chat", NULL
};


static void *
b_malloc(void *ctx, size_t size)
{
    return malloc(size);
}


static void *
b_realloc(void *ctx, void *p, size_t size)
{
    return realloc(p, size);
}


static void
b_free(void *ctx, void *p)
{
    free(p);
}


static const llr_alloc_t  alloc = { b_malloc, b_realloc, b_free, NULL };


typedef struct {
    llr_out_t       out;
    unsigned char   buf[65536];
} bench_out_t;


static int
b_next(llr_out_t *out)
{
    bench_out_t  *bo = out->data;

    /* start again at the top: the bytes are not kept */
    out->pos = bo->buf;
    out->end = bo->buf + sizeof(bo->buf);
    return 0;
}


static int
b_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    return 0;
}


static int
b_ref(llr_out_t *out, const unsigned char *p, size_t len)
{
    /* the module links the bytes: nothing to copy */
    return 0;
}


static int
b_emit(void *ctx, const unsigned char *p, size_t len)
{
    *(size_t *) ctx += len;
    return 0;
}


int bench_xlate(int mode, const unsigned char *data, size_t len,
    size_t *out);

int
bench_xlate(int mode, const unsigned char *data, size_t len, size_t *out)
{
    int                rc;
    size_t             off, n;
    llr_req_t         *rq;
    llr_sse_t          sse;
    llr_xsse_t        *xs;
    llr_usage_t        u;
    llr_xlate_out_t    xo;
    llr_xsse_opts_t    so = { 1732245600, 1, 0 };
    llr_xlate_opts_t   o = { "claude-haiku-4-5", 16, 4096, 0 };

    static bench_out_t      bo;
    static llr_sse_cache_t  cache;

    switch (mode) {

    case M_SCAN_CHAT:
    case M_SCAN_MESSAGES:
        bo.out.pos = bo.buf;
        bo.out.end = bo.buf + sizeof(bo.buf);
        bo.out.next = b_next;
        bo.out.mark = b_mark;
        bo.out.ref = b_ref;
        bo.out.flush = b_next;
        bo.out.data = &bo;

        rq = llr_req_create(&alloc, mode == M_SCAN_CHAT ? LLR_EP_CHAT
                                                        : LLR_EP_MESSAGES,
                            &bo.out, NULL);
        if (rq == NULL) {
            return -1;
        }

        rc = llr_req_feed_stable(rq, data, len) == LLR_REQ_OK
             && llr_req_finish(rq) == LLR_REQ_OK ? 0 : -1;
        llr_req_destroy(rq);
        return rc;

    case M_CHAT2ANTHROPIC:
    case M_ANTHROPIC2CHAT:
        rc = llr_xlate_request(mode == M_CHAT2ANTHROPIC
                               ? LLR_XLATE_CHAT_ANTHROPIC
                               : LLR_XLATE_ANTHROPIC_CHAT,
                               &alloc, &o, data, len, &xo);
        *out += xo.len;
        free(xo.data);
        return rc == LLR_XLATE_OK ? 0 : -1;

    case M_SSE_CHAT:
    case M_SSE_ANTHROPIC:
        /* the templates are shared by the streams, as in a worker */
        llr_sse_init(&sse, mode == M_SSE_ANTHROPIC ? LLR_SSE_ANTHROPIC : 0,
                     0, NULL);
        llr_sse_use_cache(&sse, &cache);

        for (off = 0; off < len; off += n) {
            n = len - off < PIECE ? len - off : PIECE;
            llr_sse_feed(&sse, data + off, n, NULL, NULL);
        }

        llr_sse_finish(&sse, NULL, NULL);

        return (sse.done || sse.ended) && sse.res.has_usage ? 0 : -1;

    case M_XSSE_ANTHROPIC:
    case M_XSSE_CHAT:
        xs = llr_xsse_create(mode == M_XSSE_ANTHROPIC
                             ? LLR_XLATE_CHAT_ANTHROPIC
                             : LLR_XLATE_ANTHROPIC_CHAT, &alloc, &so);
        if (xs == NULL) {
            return -1;
        }

        for (off = 0; off < len; off += n) {
            n = len - off < PIECE ? len - off : PIECE;
            llr_xsse_feed(xs, data + off, n, b_emit, out);
        }

        llr_xsse_finish(xs, b_emit, out);
        rc = llr_xsse_ended(xs) && !llr_xsse_cut(xs) ? 0 : -1;
        llr_xsse_destroy(xs);
        return rc;

    case M_USAGE_ANTHROPIC:
        llr_usage_init_format(&u, LLR_FMT_ANTHROPIC);

        for (off = 0; off < len; off += n) {
            n = len - off < PIECE ? len - off : PIECE;
            llr_usage_feed(&u, data + off, n);
        }

        return llr_usage_finish(&u) == 0 && u.res.has_usage ? 0 : -1;

    default: /* M_JSON_ANTHROPIC, M_JSON_CHAT */
        rc = llr_xlate_response(mode == M_JSON_ANTHROPIC
                                ? LLR_XLATE_CHAT_ANTHROPIC
                                : LLR_XLATE_ANTHROPIC_CHAT,
                                &alloc, 1732245600, data, len, &xo);
        *out += xo.len;
        free(xo.data);
        return rc == LLR_XLATE_OK ? 0 : -1;
    }
}


/* a stream of the format, events in all, a word of text in each delta */

static size_t
make_stream(char *p, size_t events, int anthropic)
{
    size_t       i;
    char        *s = p;
    const char  *head = "data: {\"id\":\"chatcmpl-1\",\"object\":"
                        "\"chat.completion.chunk\",\"created\":1732245600,"
                        "\"model\":\"gpt-4.1-mini\",";

    if (!anthropic) {
        s += sprintf(s, "%s\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                     "\"assistant\",\"content\":\"\"},\"logprobs\":null,"
                     "\"finish_reason\":null}],\"usage\":null}\n\n", head);
        for (i = 0; i + 4 < events; i++) {
            s += sprintf(s, "%s\"choices\":[{\"index\":0,\"delta\":{"
                         "\"content\":\" lorem\"},\"logprobs\":null,"
                         "\"finish_reason\":null}],\"usage\":null}\n\n",
                         head);
        }
        s += sprintf(s, "%s\"choices\":[{\"index\":0,\"delta\":{},"
                     "\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                     "\"usage\":null}\n\n", head);
        s += sprintf(s, "%s\"choices\":[],\"usage\":{\"prompt_tokens\":11,"
                     "\"completion_tokens\":%zu,\"total_tokens\":%zu}}\n\n",
                     head, events - 4, events + 7);
        s += sprintf(s, "data: [DONE]\n\n");
        return (size_t) (s - p);
    }

    s += sprintf(s, "event: message_start\ndata: {\"type\":\"message_start\","
                 "\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\","
                 "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],"
                 "\"model\":\"claude-haiku-4-5-20251001\",\"stop_reason\":"
                 "null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":11,"
                 "\"cache_creation_input_tokens\":0,"
                 "\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n\n");
    s += sprintf(s, "event: content_block_start\ndata: {\"type\":"
                 "\"content_block_start\",\"index\":0,\"content_block\":{"
                 "\"type\":\"text\",\"text\":\"\"}}\n\n");
    for (i = 0; i + 5 < events; i++) {
        s += sprintf(s, "event: content_block_delta\ndata: {\"type\":"
                     "\"content_block_delta\",\"index\":0,\"delta\":{"
                     "\"type\":\"text_delta\",\"text\":\" lorem\"}}\n\n");
    }
    s += sprintf(s, "event: content_block_stop\ndata: {\"type\":"
                 "\"content_block_stop\",\"index\":0}\n\n");
    s += sprintf(s, "event: message_delta\ndata: {\"type\":\"message_delta\","
                 "\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":"
                 "null},\"usage\":{\"output_tokens\":%zu}}\n\n", events - 5);
    s += sprintf(s, "event: message_stop\ndata: {\"type\":\"message_stop\"}"
                 "\n\n");
    return (size_t) (s - p);
}


static size_t
make_answer(char *p, size_t target, int anthropic)
{
    size_t  words;
    char   *s = p;

    s += sprintf(s, anthropic
                 ? "{\"id\":\"msg_01\",\"type\":\"message\",\"role\":"
                   "\"assistant\",\"model\":\"claude-haiku-4-5-20251001\","
                   "\"content\":[{\"type\":\"text\",\"text\":\""
                 : "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
                   "\"created\":1732245600,\"model\":\"gpt-4.1-mini\","
                   "\"choices\":[{\"index\":0,\"message\":{\"role\":"
                   "\"assistant\",\"content\":\"");
    words = 0;
    while ((size_t) (s - p) + 250 < target) {
        s += sprintf(s, "%slorem ipsum \\\"dolor\\\"\\n", words ? " " : "");
        words += 3;
    }
    s += sprintf(s, anthropic
                 ? "\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                   "\"usage\":{\"input_tokens\":11,"
                   "\"cache_creation_input_tokens\":0,"
                   "\"cache_read_input_tokens\":0,\"output_tokens\":%zu}}"
                 : "\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                   "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":"
                   "%zu}}", words);
    return (size_t) (s - p);
}


int
main(int argc, char **argv)
{
    int               mode, i, n;
    long              flen;
    FILE             *f;
    char             *buf;
    size_t            arg, len, out;
    llr_xlate_out_t   xo;
    llr_xlate_opts_t  o = { "auto", 4, 4096, 0 };

    if (argc != 4) {
        fprintf(stderr, "usage: cg_xlate MODE FILE|EVENTS|BYTES N\n");
        return 2;
    }

    for (mode = 0; modes[mode] && strcmp(modes[mode], argv[1]) != 0;
         mode++)
    {
        /* void */
    }

    if (modes[mode] == NULL) {
        fprintf(stderr, "cg_xlate: unknown mode %s\n", argv[1]);
        return 2;
    }

    n = atoi(argv[3]);

    if (mode <= M_ANTHROPIC2CHAT) {
        f = fopen(argv[2], "rb");
        if (f == NULL) {
            perror(argv[2]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        flen = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc(flen + 1);
        if (buf == NULL || fread(buf, 1, flen, f) != (size_t) flen) {
            return 1;
        }
        fclose(f);
        len = (size_t) flen;

        if (mode == M_SCAN_MESSAGES || mode == M_ANTHROPIC2CHAT) {
            /* the same request as an Anthropic client sends it */
            if (llr_xlate_request(LLR_XLATE_CHAT_ANTHROPIC, &alloc, &o,
                                  (unsigned char *) buf, len, &xo)
                != LLR_XLATE_OK)
            {
                fprintf(stderr, "cg_xlate: %s\n", xo.message);
                return 1;
            }
            free(buf);
            buf = (char *) xo.data;
            len = xo.len;
        }

    } else {
        arg = strtoul(argv[2], NULL, 10);
        if (arg < 8) {
            return 2;
        }

        buf = malloc(arg * 300 + 4096);
        if (buf == NULL) {
            return 1;
        }

        len = mode <= M_XSSE_CHAT
              ? make_stream(buf, arg, mode == M_SSE_ANTHROPIC
                                      || mode == M_XSSE_ANTHROPIC)
              : make_answer(buf, arg, mode != M_JSON_CHAT);
    }

    out = 0;
    for (i = 0; i < n; i++) {
        if (bench_xlate(mode, (unsigned char *) buf, len, &out) != 0) {
            fprintf(stderr, "cg_xlate: %s failed\n", argv[1]);
            return 1;
        }
    }

    printf("bytes=%zu out=%zu n=%d\n", len, out, n);
    free(buf);

    return 0;
}
