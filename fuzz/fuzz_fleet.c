/*
 * libFuzzer target for the reply parsers of core/llr_fleet: RESP bytes
 * (what Redis, a proxy or anything listening on its address can send)
 * are read by hiredis's own reader, limited as in the module
 * (llr_fleet_hiredis_limit()), converted by
 * core/llr_fleet_hiredis.h, and given to llr_fleet_batch_reply() for a
 * batch of the shape the first byte says, to llr_fleet_reply_ok(),
 * llr_fleet_reply_sha() and llr_fleet_reply_int().
 *
 * Checks: an answer taken is in range (applied 0 or 1, amounts >= 0), a
 * sha is 40 lowercase hex digits, and the fleet's view after it never
 * counts less than this instance's own deltas (no overflow to a small
 * number that would admit everything).
 *
 * First byte: bits 0-1 budgets (0..3), bits 2-3 windows (0..3), bits 4-5
 * cooldowns (0..3), bit 6: the counters have pending deltas (near
 * INT64_MAX when bit 7 is set too).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "llr_fleet.h"
#include "llr_fleet_hiredis.h"


static void *f_malloc(void *ctx, size_t size) { return malloc(size); }
static void *f_realloc(void *ctx, void *p, size_t size)
{ return realloc(p, size); }
static void f_free(void *ctx, void *p) { free(p); }

static llr_alloc_t  alloc = { f_malloc, f_realloc, f_free, NULL };


/* the batch's memory: cut from one block, taken back per reply */
static unsigned char  block[1 << 18];
static size_t         used;


static void *
b_malloc(void *ctx, size_t size)
{
    void  *p;

    size = (size + 15) & ~(size_t) 15;

    if (size > sizeof(block) - used) {
        return NULL;
    }

    p = block + used;
    used += size;

    return p;
}


static llr_alloc_t  batch_alloc = { b_malloc, NULL, NULL, NULL };


static void
check_ints(const llr_fleet_reply_t *r, unsigned depth)
{
    size_t   i;
    int64_t  v;

    if (r == NULL || depth > 8) {
        return;
    }

    (void) llr_fleet_reply_int(r, &v);

    for (i = 0; i < r->elements; i++) {
        check_ints(r->element[i], depth + 1);
    }
}


static void
one_reply(uint8_t shape, const llr_fleet_reply_t *fr)
{
    size_t               i, k, nb, nw, nc, n;
    int64_t              now, start, big, w0;
    uint64_t             spent;
    const char          *err;
    size_t               len;
    char                 sha[LLR_FLEET_SHA_LEN + 1];
    llr_fleet_seq_t      seq = { 7, 0 };
    llr_fleet_batch_t    b;
    llr_fleet_counter_t  c[9];
    llr_window_t         w;
    size_t               first[9], cnt[9];

    now = 1767229200000LL;
    start = 1767225600LL;
    w0 = now - now % LLR_RATE_WINDOW_MS;
    big = (shape & 0x80) ? INT64_MAX - 3 : 1000;

    nb = shape & 3;
    nw = (shape >> 2) & 3;
    nc = (shape >> 4) & 3;

    used = 0;

    if (llr_fleet_batch_init(&b, &batch_alloc, "p:", 2, "0123456789abcdef", &seq,
                             now, 1000, 64) != 0)
    {
        return;
    }

    n = 0;

    for (i = 0; i < nb + nw; i++) {
        llr_fleet_counter_init(&c[n]);

        if (shape & 0x40) {
            if (i < nb) {
                llr_fleet_counter_add(&c[n], start, big, 0);
                llr_fleet_counter_add(&c[n], start - 86400, 5, 0);

            } else {
                llr_fleet_counter_add(&c[n], w0, big, big);
            }
        }

        first[n] = b.nentries;
        cnt[n] = i < nb
                 ? llr_fleet_batch_budget(&b, "k", 1, &c[n], LLR_PERIOD_DAY,
                                          start, (uint64_t) big, NULL)
                 : llr_fleet_batch_window(&b, "w", 1, &c[n], NULL);
        n++;
    }

    for (i = 0; i < nc; i++) {
        (void) llr_fleet_batch_cooldown(&b, "x", 1, now + 1000, NULL);
    }

    if (llr_fleet_batch_command(&b, NULL) == 0
        && llr_fleet_batch_reply(&b, fr, &err, &len) == LLR_FLEET_OK)
    {
        if (b.applied > 1) {
            abort();
        }

        for (k = 0; k < b.nentries; k++) {
            if (b.entries[k].out[0] < 0 || b.entries[k].out[1] < 0) {
                abort();
            }
        }

        for (i = 0; i < n; i++) {
            llr_fleet_counter_synced(&c[i], b.entries + first[i], cnt[i]);

            if (i < nb) {
                spent = llr_fleet_budget_spent(&c[i], start);
                (void) llr_fleet_budget_others(&c[i], start);

            } else {
                llr_fleet_window(&c[i], 0, now, &w);
                spent = w.cur;
                llr_fleet_window(&c[i], 1, now + LLR_RATE_WINDOW_MS, &w);
            }

            /* more spent locally never makes the fleet's total smaller */
            llr_fleet_counter_add(&c[i], i < nb ? start : w0, big, big);

            if (i < nb && llr_fleet_budget_spent(&c[i], start) < spent) {
                abort();
            }

            if (i >= nb) {
                llr_fleet_window(&c[i], 0, now, &w);

                if (w.cur < spent) {
                    abort();
                }
            }
        }
    }

    (void) llr_fleet_reply_ok(fr, &err, &len);

    if (llr_fleet_reply_sha(fr, sha, &err, &len) == LLR_FLEET_OK) {
        for (i = 0; i < LLR_FLEET_SHA_LEN; i++) {
            if (!((sha[i] >= '0' && sha[i] <= '9')
                  || (sha[i] >= 'a' && sha[i] <= 'f')))
            {
                abort();
            }
        }

        if (sha[LLR_FLEET_SHA_LEN] != '\0') {
            abort();
        }
    }

    check_ints(fr, 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 replies;
    void               *reply;
    redisReader        *rd;
    llr_fleet_reply_t  *fr;

    if (size < 1) {
        return 0;
    }

    rd = redisReaderCreate();
    if (rd == NULL) {
        return 0;
    }

    llr_fleet_hiredis_limit(rd);

    if (redisReaderFeed(rd, (const char *) data + 1, size - 1) != REDIS_OK) {
        redisReaderFree(rd);
        return 0;
    }

    /* every complete reply in the bytes, as the module would get them */
    for (replies = 0; replies < 16; replies++) {
        reply = NULL;

        if (redisReaderGetReply(rd, &reply) != REDIS_OK || reply == NULL) {
            break;
        }

        fr = llr_fleet_from_hiredis(reply, &alloc, 0);
        one_reply(data[0], fr);
        llr_fleet_hiredis_free(fr, &alloc);
        freeReplyObject(reply);
    }

    redisReaderFree(rd);

    return 0;
}
