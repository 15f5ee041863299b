/*
 * bench/cg_resp.c: the response filters' own work per response, for
 * callgrind (bench/callgrind.sh).
 *
 *   cg_resp usage BYTES N     a chat.completion JSON answer of about
 *                             BYTES, through llr_usage
 *   cg_resp sse EVENTS N      a stream of EVENTS chat.completion.chunk
 *                             events (role, content..., finish, usage,
 *                             [DONE]) through llr_sse, not stripping
 *   cg_resp sse-strip EVENTS N  the same with LLR_SSE_STRIP_USAGE
 *   cg_resp sse-tap EVENTS N    the stream of "sse", its text tapped by
 *                             the quality signals (core/llr_signal, the
 *                             default refusal patterns), as nginx does
 *                             with a zone
 *   cg_resp sse-tap-notpl EVENTS N  the same with LLR_SSE_NO_TEMPLATE
 *                             (the stream's own templates off)
 *
 * The answer is fed in 8 KB pieces (a proxy buffer).  Each response is
 * one call of bench_resp() (callgrind toggles on it).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llr_usage.h"
#include "llr_signal.h"
#include "llr_sse.h"


#define PIECE  8192


static int
emit(void *ctx, const unsigned char *data, size_t len)
{
    *(size_t *) ctx += len;
    return 0;
}


static void *
m_alloc(void *ctx, size_t size)
{
    return malloc(size);
}


static void
m_free(void *ctx, void *p)
{
    free(p);
}


int bench_resp(int mode, const unsigned char *data, size_t len,
    size_t *out);

int
bench_resp(int mode, const unsigned char *data, size_t len, size_t *out)
{
    size_t          off, n;
    unsigned        flags;
    llr_sse_t       sse;
    llr_sig_t       sig;
    llr_usage_t     u;
    llr_alloc_t     mem;

    static llr_sse_cache_t  cache;
    static llr_pattern_t    refusals;
    static llr_sig_conf_t   conf;
    static char             err[256];

    if (mode == 0) {
        llr_usage_init(&u);
        for (off = 0; off < len; off += n) {
            n = len - off < PIECE ? len - off : PIECE;
            llr_usage_feed(&u, data + off, n);
        }
        if (llr_usage_finish(&u) != 0 || !u.res.has_usage) {
            return -1;
        }
        *out += u.res.completion_tokens;
        return 0;
    }

    mem.malloc = m_alloc;
    mem.realloc = NULL;
    mem.free = m_free;
    mem.ctx = NULL;

    flags = mode == 2 ? LLR_SSE_STRIP_USAGE
            : mode == 4 ? LLR_SSE_NO_TEMPLATE : 0;

    /* the templates are shared by the responses, as in an nginx worker */
    llr_sse_init(&sse, flags, 0, &mem);

    if (mode >= 3) {
        if (conf.patterns == NULL) {
            if (llr_sig_refusal_default(&refusals, err, sizeof(err)) != 0) {
                return -1;
            }

            conf.patterns = &refusals;
            conf.npatterns = 1;
        }

        llr_sig_init(&sig, &conf, 0);
        sse.json.tap = llr_sig_tap;
        sse.json.tap_ctx = &sig;
    }

    llr_sse_use_cache(&sse, &cache);
    for (off = 0; off < len; off += n) {
        n = len - off < PIECE ? len - off : PIECE;
        llr_sse_feed(&sse, data + off, n, emit, out);
    }
    llr_sse_finish(&sse, emit, out);
    llr_sse_free(&sse);

    if (mode >= 3) {
        *out += llr_sig_end(&sig, sse.res.finish);
    }

    if (!sse.done || !sse.res.has_usage || (mode == 2 && sse.stripped != 1))
    {
        return -1;
    }

    return 0;
}


static size_t
make_json(char *p, size_t target)
{
    size_t  n, words;
    char   *s = p;

    s += sprintf(s, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
                 "\"created\":1732245600,\"model\":\"gpt-4.1-mini\","
                 "\"choices\":[{\"index\":0,\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"");
    words = 0;
    while ((size_t) (s - p) + 200 < target) {
        s += sprintf(s, "%slorem ipsum \\\"dolor\\\"\\n", words ? " " : "");
        words += 3;
    }
    n = sprintf(s, "\"},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":%zu,"
                "\"total_tokens\":%zu}}", words, words + 11);
    return (size_t) (s - p) + n;
}


static size_t
make_sse(char *p, size_t events)
{
    size_t  i;
    char   *s = p;
    const char *head = "data: {\"id\":\"chatcmpl-1\",\"object\":"
                       "\"chat.completion.chunk\",\"created\":1732245600,"
                       "\"model\":\"gpt-4.1-mini\",";

    s += sprintf(s, "%s\"choices\":[{\"index\":0,\"delta\":{\"role\":"
                 "\"assistant\",\"content\":\"\"},\"logprobs\":null,"
                 "\"finish_reason\":null}],\"usage\":null}\n\n", head);
    for (i = 0; i + 4 < events; i++) {
        s += sprintf(s, "%s\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                     "\" lorem\"},\"logprobs\":null,\"finish_reason\":null}],"
                     "\"usage\":null}\n\n", head);
    }
    s += sprintf(s, "%s\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":"
                 "null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
                 head);
    s += sprintf(s, "%s\"choices\":[],\"usage\":{\"prompt_tokens\":11,"
                 "\"completion_tokens\":%zu,\"total_tokens\":%zu}}\n\n",
                 head, events - 4, events + 7);
    s += sprintf(s, "data: [DONE]\n\n");
    return (size_t) (s - p);
}


int
main(int argc, char **argv)
{
    int      mode, i, n;
    char    *buf;
    size_t   arg, len, out;

    if (argc != 4) {
        fprintf(stderr, "usage: cg_resp usage|sse|sse-strip|sse-tap"
                "|sse-tap-notpl SIZE N\n");
        return 2;
    }

    mode = strcmp(argv[1], "usage") == 0 ? 0
           : strcmp(argv[1], "sse") == 0 ? 1
           : strcmp(argv[1], "sse-strip") == 0 ? 2
           : strcmp(argv[1], "sse-tap") == 0 ? 3 : 4;
    arg = strtoul(argv[2], NULL, 10);
    n = atoi(argv[3]);

    buf = malloc(mode == 0 ? arg + 1024 : arg * 300 + 1024);
    if (buf == NULL || arg < 5) {
        return 1;
    }
    len = mode == 0 ? make_json(buf, arg) : make_sse(buf, arg);

    out = 0;
    for (i = 0; i < n; i++) {
        if (bench_resp(mode, (unsigned char *) buf, len, &out) != 0) {
            fprintf(stderr, "cg_resp: %s: the filter missed the usage\n",
                    argv[1]);
            return 1;
        }
    }

    printf("bytes=%zu n=%d\n", len, n);
    free(buf);

    return 0;
}
