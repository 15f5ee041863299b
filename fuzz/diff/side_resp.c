/*
 * One side of the answer scanners' differential targets (fuzz/diff/):
 * llr_usage on JSON answers and llr_sse on streams, compiled against
 * one tree's core/ headers, its global symbols then prefixed with old_
 * or new_ by fuzz/diff.sh.  Keeps what can be seen from outside: every
 * llr_resp_t field, the stream's counters, the bytes emitted, the moment
 * of the first content and the text tap's strings.
 */

#include <stdlib.h>
#include <string.h>

#include "llr_usage.h"
#include "llr_sse.h"

#include "diff.h"


static void
side_str(unsigned char *dst, size_t size, const char *src, size_t len)
{
    if (len > size) {
        len = size;
    }

    memcpy(dst, src, len);
}


static void
side_resp(diff_resp_t *d, const llr_resp_t *r)
{
    size_t  i;

    memset(d, 0, sizeof(diff_resp_t));

    d->prompt_tokens = r->prompt_tokens;
    d->completion_tokens = r->completion_tokens;
    d->total_tokens = r->total_tokens;
    d->cached_tokens = r->cached_tokens;
    d->reasoning_tokens = r->reasoning_tokens;
    d->cache_write_tokens = r->cache_write_tokens;
    d->cache_write_1h_tokens = r->cache_write_1h_tokens;
    d->input_tokens = r->input_tokens;
    d->usage_valid = r->usage_valid;
    d->content_bytes = r->content_bytes;

    for (i = 0; i < LLR_FINISH_N && i < DIFF_FINISH_N; i++) {
        d->finish[i] = r->finish[i];
    }

    d->has_usage = r->has_usage;
    d->has_model = r->has_model;
    d->error = r->error;
    d->json_error = r->json_error;

    /* the strings as far as their lengths (or NULs) say */
    d->model_len = r->model_len;
    side_str(d->model, sizeof(d->model), r->model,
             r->model_len < sizeof(r->model) ? r->model_len
                                             : sizeof(r->model));
    d->id_len = r->id_len;
    side_str(d->id, sizeof(d->id), r->id,
             r->id_len < sizeof(r->id) ? r->id_len : sizeof(r->id));
    strncpy(d->error_type, r->error_type, sizeof(d->error_type) - 1);
    strncpy(d->error_code, r->error_code, sizeof(d->error_code) - 1);
    strncpy(d->error_message, r->error_message,
            sizeof(d->error_message) - 1);
}


void
side_usage_run(const diff_usage_cfg_t *cfg, const unsigned char *data,
    size_t size, diff_usage_res_t *res)
{
    size_t        i, n;
    llr_usage_t   u;

    memset(res, 0, sizeof(diff_usage_res_t));

    llr_usage_init_format(&u, cfg->anthropic ? LLR_FMT_ANTHROPIC
                                             : LLR_FMT_OPENAI);

    if (cfg->tap) {
        u.json.tap = diff_tap;
        u.json.tap_ctx = &res->tap;
    }

    for (i = 0; i < size; i += n) {
        n = diff_piece(data, size, i, cfg->step);
        res->feed_rc |= llr_usage_feed(&u, data + i, n);
    }

    res->finish_rc = llr_usage_finish(&u);

    side_resp(&res->res, &u.res);
}


static int
side_emit(void *ctx, const unsigned char *p, size_t n)
{
    diff_add(ctx, p, n);
    return 0;
}


static llr_sse_cache_t  side_cache;


void
side_sse_run(const diff_sse_cfg_t *cfg, const unsigned char *data,
    size_t size, diff_sse_res_t *res)
{
    size_t        i, n;
    unsigned      flags;
    llr_sse_t    *s;
    llr_alloc_t   mem = { diff_malloc, NULL, diff_free, NULL };

    memset(res, 0, sizeof(diff_sse_res_t));

    /* not on the stack: ASan's frames would be large */
    s = malloc(sizeof(llr_sse_t));
    if (s == NULL) {
        abort();
    }

    /* the same bytes before init on both sides (not all are zeroed) */
    memset(s, 0xbe, sizeof(llr_sse_t));

    flags = (cfg->strip ? LLR_SSE_STRIP_USAGE : 0)
            | (cfg->anthropic ? LLR_SSE_ANTHROPIC : 0)
            | (cfg->cache == 0 ? LLR_SSE_NO_CACHE : 0);

    if (cfg->fresh) {
        llr_sse_cache_init(&side_cache);
    }

    llr_sse_init(s, flags, cfg->max_event, &mem);

    if (cfg->tap) {
        s->json.tap = diff_tap;
        s->json.tap_ctx = &res->tap;
    }

    if (cfg->cache == 2) {
        llr_sse_use_cache(s, &side_cache);
    }

    for (i = 0; i < size; i += n) {
        n = diff_piece(data, size, i, cfg->step);
        res->feed_rc |= llr_sse_feed(s, data + i, n, side_emit, &res->out);

        if (s->first_content) {
            diff_addf(&res->first, "%zu@%zu ", i, s->first_content_offset);
        }
    }

    res->in_event = llr_sse_in_event(s);
    res->finish_rc = llr_sse_finish(s, side_emit, &res->out);

    if (s->first_content) {
        diff_addf(&res->first, "end@%zu ", s->first_content_offset);
    }

    side_resp(&res->res, &s->res);
    res->events = s->events;
    res->json_events = s->json_events;
    res->bad_events = s->bad_events;
    res->oversized_events = s->oversized_events;
    res->stripped = s->stripped;
    res->prefix_hits = s->prefix_hits;
    res->template_hits = s->template_hits;
    res->done = s->done;
    res->ended = s->ended;
    res->content_seen = s->content_seen;

    llr_sse_free(s);
    free(s);
}
