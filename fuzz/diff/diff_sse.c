/*
 * Differential libFuzzer target: the SSE parser (llr_sse) of the old
 * tree against the new one (fuzz/diff.sh).
 *
 * Input: as fuzz/fuzz_sse.c's, so its seeds serve: byte 0 bit 0 strips
 * usage-only events, bit 1 reads an Anthropic stream; byte 1 gives
 * max_event (16 + 8 * byte), byte 2 the piece size; the rest is the
 * stream.  Each side has a template cache of its own, emptied at the
 * start of each input.  The stream is fed five times, by both sides
 * with the same pieces:
 *   1. without any cache (LLR_SSE_NO_CACHE), in pieces;
 *   2. with the (empty) template cache, whole;
 *   3. with the templates run 2 left, in pieces;
 *   4. with the text tap set, in other pieces: the old side without a
 *      cache (what scanning every byte gives), the new side with the
 *      prefix cache (as main's module runs a tapped stream);
 *   5. in the other format, with the templates of both;
 *   6. only with DIFF_TAP_TEMPLATES=1 (a new tree whose tapped streams
 *      use the templates, i27-answer): run 4 again with the new side
 *      using its template cache too.
 * Required the same: what feed and finish return, the bytes emitted,
 * every llr_resp_t field, the counters (events, json_events,
 * bad_events, oversized_events, stripped), done, ended, content_seen,
 * llr_sse_in_event() before the finish, the piece and offset at which
 * first_content was set, and the strings the tap saw.  prefix_hits and
 * template_hits may differ (how much work was saved): their sums per run
 * are written at exit (DIFF_INFO), to see what the runs exercised.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"


static const unsigned char  *in_data;
static size_t                in_size;

/* per run: events resumed from the prefix cache and matched to a
   template, old and new side (what the runs exercised) */
static uint64_t              hits[7][4];


static void
sse_buf_fail(int run, const char *what, const diff_buf_t *o,
    const diff_buf_t *n)
{
    size_t  at;
    char    k[64], a[800];

    at = diff_first(o, n);
    snprintf(a, sizeof(a), "%s", diff_show(o->s + at,
             o->len - at < 120 ? o->len - at : 120));
    snprintf(k, sizeof(k), "%s-run%d", what, run);
    diff_mismatch("sse", k, in_data, in_size, "run %d: %s differ at byte "
                  "%zu (lengths %zu, %zu): old ...%s new ...%s", run, what,
                  at, o->len, n->len, a,
                  diff_show(n->s + at, n->len - at < 120 ? n->len - at
                                                         : 120));
}


#define SSE_CMP(f)                                                           \
    if (o->f != n->f) {                                                      \
        snprintf(k, sizeof(k), #f "-run%d", run);                            \
        diff_mismatch("sse", k, in_data, in_size,                            \
                      "run %d: " #f " old %llu new %llu", run,               \
                      (unsigned long long) o->f, (unsigned long long) n->f); \
        return;                                                              \
    }


static void
sse_cmp(int run, const diff_sse_res_t *o, const diff_sse_res_t *n)
{
    char  k[64];

    SSE_CMP(feed_rc);
    SSE_CMP(finish_rc);
    SSE_CMP(events);
    SSE_CMP(json_events);
    SSE_CMP(bad_events);
    SSE_CMP(oversized_events);
    SSE_CMP(stripped);
    SSE_CMP(done);
    SSE_CMP(ended);
    SSE_CMP(content_seen);
    SSE_CMP(in_event);

    if (diff_resp_check("sse", run, in_data, in_size, &o->res, &n->res)) {
        return;
    }

    if (!diff_buf_eq(&o->out, &n->out)) {
        sse_buf_fail(run, "emitted-bytes", &o->out, &n->out);
        return;
    }

    if (!diff_buf_eq(&o->first, &n->first)) {
        sse_buf_fail(run, "first-content", &o->first, &n->first);
        return;
    }

    if (!diff_buf_eq(&o->tap, &n->tap)) {
        sse_buf_fail(run, "tap-strings", &o->tap, &n->tap);
    }
}


static void
sse_hits(void)
{
    int          run;
    FILE        *f;
    const char  *path;

    path = getenv("DIFF_INFO");
    f = path != NULL && path[0] != '\0' ? fopen(path, "a") : NULL;

    for (run = 1; run <= 6; run++) {
        fprintf(f ? f : stderr, "hits run %d: prefix old %llu new %llu, "
                "template old %llu new %llu\n", run,
                (unsigned long long) hits[run][0],
                (unsigned long long) hits[run][1],
                (unsigned long long) hits[run][2],
                (unsigned long long) hits[run][3]);
    }

    if (f != NULL) {
        fclose(f);
    }
}


static void
sse_free(diff_sse_res_t *r)
{
    diff_buf_free(&r->out);
    diff_buf_free(&r->first);
    diff_buf_free(&r->tap);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              run, tap_tpl;
    unsigned         step;
    diff_sse_cfg_t   cfg, ncfg;
    diff_sse_res_t   o, n;

    static int  once;

    if (!once) {
        once = 1;
        atexit(sse_hits);
    }

    if (size < 3) {
        return 0;
    }

    in_data = data;
    in_size = size;
    tap_tpl = getenv("DIFF_TAP_TEMPLATES") != NULL;

    step = 1 + data[2] % 32;

    for (run = 1; run <= (tap_tpl ? 6 : 5); run++) {
        memset(&cfg, 0, sizeof(diff_sse_cfg_t));

        cfg.strip = data[0] & 1;
        cfg.anthropic = (data[0] & 2) != 0;
        cfg.max_event = 16 + (size_t) data[1] * 8;

        switch (run) {
        case 1:
            cfg.cache = 0;
            cfg.step = step;
            break;
        case 2:
            cfg.cache = 2;
            cfg.fresh = 1;
            cfg.step = 0;
            break;
        case 3:
            cfg.cache = 2;
            cfg.step = step;
            break;
        case 4:
        case 6:
            cfg.cache = 0;
            cfg.tap = 1;
            cfg.step = step + 5;
            break;
        default:
            cfg.cache = 2;
            cfg.anthropic = !cfg.anthropic;
            cfg.step = step + 2;
            break;
        }

        ncfg = cfg;

        if (run == 4) {
            ncfg.cache = 1;

        } else if (run == 6) {
            ncfg.cache = 2;
        }

        old_side_sse_run(&cfg, data + 3, size - 3, &o);
        new_side_sse_run(&ncfg, data + 3, size - 3, &n);

        sse_cmp(run, &o, &n);

        hits[run][0] += o.prefix_hits;
        hits[run][1] += n.prefix_hits;
        hits[run][2] += o.template_hits;
        hits[run][3] += n.template_hits;

        sse_free(&o);
        sse_free(&n);
    }

    return 0;
}
