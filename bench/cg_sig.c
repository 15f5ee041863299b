/*
 * bench/cg_sig.c: the quality signals' own work per answer, for
 * callgrind (bench/callgrind.sh): what llr_signal adds to the response
 * filters of bench/cg_resp.c, fed as the response scanners' hook feeds
 * it (llr_sig_tap(), the raw JSON string bodies of the answer's text),
 * with the default refusal patterns.
 *
 *   cg_sig json BYTES N        a non-streamed answer: one content string
 *                              of about BYTES, in 8 KB pieces
 *   cg_sig sse EVENTS N        a stream: EVENTS - 4 content deltas
 *                              (" lorem"), as cg_resp's stream
 *   cg_sig tools EVENTS N      a tool call whose arguments stream in
 *                              EVENTS deltas
 *   cg_sig json-mode EVENTS N  JSON mode: a JSON answer streamed in
 *                              EVENTS deltas
 *
 * Each answer is one call of bench_sig() (callgrind toggles on it).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llr_signal.h"


#define PIECE  8192


typedef struct {
    unsigned        kind;
    const char     *raw;        /* JSON string body, escaped */
    size_t          len;
} piece_t;


static llr_pattern_t   refusals;
static llr_sig_conf_t  conf;


int bench_sig(int json_mode, const piece_t *p, size_t n, uint32_t *out);

int
bench_sig(int json_mode, const piece_t *p, size_t n, uint32_t *out)
{
    size_t     i, off, k;
    uint32_t   finish[LLR_FINISH_N];
    llr_sig_t  s;

    llr_sig_init(&s, &conf, json_mode);

    for (i = 0; i < n; i++) {
        if (p[i].len <= PIECE) {
            llr_sig_tap(&s, p[i].kind, 0, 0, (const unsigned char *) p[i].raw,
                        p[i].len, LLR_TEXT_BEGIN | LLR_TEXT_END);
            continue;
        }

        /* a long string, in the pieces a proxy buffer cuts it into */
        for (off = 0; off < p[i].len; off += k) {
            k = p[i].len - off < PIECE ? p[i].len - off : PIECE;
            llr_sig_tap(&s, p[i].kind, 0, 0,
                        (const unsigned char *) p[i].raw + off, k,
                        (off == 0 ? LLR_TEXT_BEGIN : 0)
                        | (off + k == p[i].len ? LLR_TEXT_END : 0));
        }
    }

    memset(finish, 0, sizeof(finish));
    finish[p[0].kind == LLR_TEXT_TOOL_ARGS ? LLR_FINISH_TOOL_CALLS
                                           : LLR_FINISH_STOP] = 1;

    *out |= llr_sig_end(&s, finish);

    return 0;
}


int
main(int argc, char **argv)
{
    int       i, n, json_mode;
    char     *buf, *s, err[128];
    size_t    arg, np, k;
    piece_t  *p;
    uint32_t  out;

    if (argc != 4) {
        fprintf(stderr, "usage: cg_sig json|sse|tools|json-mode SIZE N\n");
        return 2;
    }

    if (llr_sig_refusal_default(&refusals, err, sizeof(err)) != 0) {
        fprintf(stderr, "cg_sig: %s\n", err);
        return 1;
    }

    conf.patterns = &refusals;
    conf.npatterns = 1;

    arg = strtoul(argv[2], NULL, 10);
    n = atoi(argv[3]);

    buf = malloc(arg * 64 + 1024);
    p = calloc(arg + 1, sizeof(piece_t));

    if (buf == NULL || p == NULL || arg < 5) {
        return 1;
    }

    s = buf;
    np = 0;
    json_mode = 0;

    if (strcmp(argv[1], "json") == 0) {
        /* the content of cg_resp's JSON answer */
        p[0].kind = LLR_TEXT_CONTENT;
        p[0].raw = s;

        for (k = 0; (size_t) (s - buf) + 30 < arg; k++) {
            s += sprintf(s, "%slorem ipsum \\\"dolor\\\"\\n", k ? " " : "");
        }

        p[0].len = (size_t) (s - buf);
        np = 1;

    } else if (strcmp(argv[1], "sse") == 0) {
        /* the empty first delta, then the content deltas */
        p[np].kind = LLR_TEXT_CONTENT;
        p[np].raw = "";
        np++;

        for (k = 0; k + 4 < arg; k++) {
            p[np].kind = LLR_TEXT_CONTENT;
            p[np].raw = " lorem";
            p[np].len = 6;
            np++;
        }

    } else if (strcmp(argv[1], "tools") == 0) {
        p[np].kind = LLR_TEXT_TOOL_ARGS;
        p[np].raw = "";
        np++;

        for (k = 0; k < arg; k++) {
            p[np].kind = LLR_TEXT_TOOL_ARGS;
            p[np].raw = s;
            s += sprintf(s, k == 0 ? "{\\\"items\\\": [" : k + 1 == arg
                            ? "\\\"end\\\"]}" : "{\\\"n\\\": %zu}, ", k);
            p[np].len = (size_t) (s - p[np].raw);
            np++;
        }

    } else {
        json_mode = 1;

        for (k = 0; k < arg; k++) {
            p[np].kind = LLR_TEXT_CONTENT;
            p[np].raw = s;
            s += sprintf(s, k == 0 ? "{\\\"answer\\\": [" : k + 1 == arg
                            ? "\\\"end\\\"]}" : "\\\"lorem\\\", ");
            p[np].len = (size_t) (s - p[np].raw);
            np++;
        }
    }

    out = 0;

    for (i = 0; i < n; i++) {
        bench_sig(json_mode, p, np, &out);
    }

    if (out != 0) {
        fprintf(stderr, "cg_sig: %s: signals %#x on a good answer\n",
                argv[1], out);
        return 1;
    }

    printf("pieces=%zu bytes=%zu n=%d\n", np, (size_t) (s - buf), n);

    llr_pattern_free(&refusals);
    free(buf);
    free(p);

    return 0;
}
