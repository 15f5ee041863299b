/*
 * Unit tests of core/llr_arena: pieces cut from the block, the fallback
 * for what does not fit, the last piece growing, shrinking and freed in
 * place, reset, and a random run of malloc / realloc / free checked
 * against a model (no two live pieces may overlap, contents survive).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "llr_arena.h"


typedef struct {
    unsigned  mallocs;
    unsigned  reallocs;
    unsigned  frees;
} fb_count_t;


static void *
fb_malloc(void *ctx, size_t size)
{
    ((fb_count_t *) ctx)->mallocs++;
    return malloc(size ? size : 1);
}


static void *
fb_realloc(void *ctx, void *ptr, size_t size)
{
    ((fb_count_t *) ctx)->reallocs++;
    return realloc(ptr, size ? size : 1);
}


static void
fb_free(void *ctx, void *ptr)
{
    ((fb_count_t *) ctx)->frees++;
    free(ptr);
}


#define BLOCK  4096
#define LIVE   24


typedef struct {
    unsigned char  *p;
    size_t          len;
    unsigned char   fill;
} piece_t;


static uint64_t  rnd = 88172645463325252ULL;

static unsigned
next(unsigned n)
{
    rnd ^= rnd << 13;
    rnd ^= rnd >> 7;
    rnd ^= rnd << 17;
    return (unsigned) (rnd % n);
}


static int
intact(const piece_t *pc)
{
    size_t  i;

    for (i = 0; i < pc->len; i++) {
        if (pc->p[i] != pc->fill) {
            return 0;
        }
    }

    return 1;
}


static int
disjoint(const piece_t *pcs, int n)
{
    int  i, j;

    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            if (pcs[i].p == NULL || pcs[j].p == NULL) {
                continue;
            }

            if (pcs[i].p < pcs[j].p + pcs[j].len
                && pcs[j].p < pcs[i].p + pcs[i].len)
            {
                return 0;
            }
        }
    }

    return 1;
}


static void
random_run(llr_arena_t *a, llr_alloc_t *al, fb_count_t *cnt)
{
    int       step, i, bad_fill, bad_overlap, in_block, fell_back;
    size_t    len;
    piece_t   pcs[LIVE];
    unsigned  op;

    memset(pcs, 0, sizeof(pcs));
    bad_fill = 0;
    bad_overlap = 0;
    in_block = 0;
    fell_back = 0;

    for (step = 0; step < 20000; step++) {
        i = (int) next(LIVE);
        op = next(10);
        len = next(4) == 0 ? next(3000) : next(200);

        if (pcs[i].p == NULL || op < 3) {
            if (pcs[i].p) {
                al->free(al->ctx, pcs[i].p);
            }

            pcs[i].p = al->malloc(al->ctx, len);
            pcs[i].len = len;

        } else if (op < 7) {
            pcs[i].p = al->realloc(al->ctx, pcs[i].p, len);

            /* what was kept still holds the old fill */
            if (len < pcs[i].len) {
                pcs[i].len = len;
            }

            if (!intact(&pcs[i])) {
                bad_fill++;
            }

            pcs[i].len = len;

        } else {
            al->free(al->ctx, pcs[i].p);
            pcs[i].p = NULL;
            pcs[i].len = 0;
            continue;
        }

        if (pcs[i].p == NULL) {
            bad_fill++;
            continue;
        }

        if (llr_arena_owns(a, pcs[i].p)) {
            in_block++;

            if ((uintptr_t) pcs[i].p % LLR_ARENA_ALIGN
                || pcs[i].p + pcs[i].len > a->end)
            {
                bad_overlap++;
            }

        } else {
            fell_back++;
        }

        pcs[i].fill = (unsigned char) (step * 7 + 1);
        memset(pcs[i].p, pcs[i].fill, pcs[i].len);

        if (step % 16 == 0) {
            int  j;

            for (j = 0; j < LIVE; j++) {
                if (pcs[j].p && !intact(&pcs[j])) {
                    bad_fill++;
                }
            }

            if (!disjoint(pcs, LIVE)) {
                bad_overlap++;
            }
        }

        if (step % 100 == 99) {
            /* everything goes: the fallback pieces freed, then a reset */
            for (i = 0; i < LIVE; i++) {
                if (pcs[i].p) {
                    al->free(al->ctx, pcs[i].p);
                }

                pcs[i].p = NULL;
                pcs[i].len = 0;
            }

            llr_arena_reset(a);
        }
    }

    for (i = 0; i < LIVE; i++) {
        if (pcs[i].p) {
            al->free(al->ctx, pcs[i].p);
        }
    }

    is_int(bad_fill, 0, "random run: every piece keeps its contents");
    is_int(bad_overlap, 0, "random run: live pieces never overlap, all "
           "aligned and inside the block");
    ok(in_block > 1000 && fell_back > 1000, "random run: %d pieces in the "
       "block, %d from the fallback", in_block, fell_back);
    is_int(cnt->mallocs + cnt->reallocs >= (unsigned) fell_back, 1,
           "random run: the fallback served what did not fit");
}


int
main(void)
{
    void           *mem;
    fb_count_t      cnt;
    llr_alloc_t     fb, al;
    llr_arena_t     a;
    unsigned char  *p, *q, *r, *s;

    mem = malloc(BLOCK + 3);

    memset(&cnt, 0, sizeof(cnt));
    fb.malloc = fb_malloc;
    fb.realloc = fb_realloc;
    fb.free = fb_free;
    fb.ctx = &cnt;

    /* an unaligned size: the end is rounded down */
    llr_arena_init(&a, mem, BLOCK + 3, &fb);
    llr_arena_alloc(&a, &al);

    is_int(a.end - a.start, BLOCK, "the block ends aligned");
    ok(al.ctx == &a, "the callbacks' ctx is the arena");

    /* pieces in order, aligned, each with its size in front */

    p = al.malloc(al.ctx, 10);
    q = al.malloc(al.ctx, 1);
    r = al.malloc(al.ctx, 0);

    ok(p == a.start + sizeof(size_t), "the first piece follows its size");
    ok(q == p + 16 + sizeof(size_t), "the next one is aligned after it");
    ok(r == q + 8 + sizeof(size_t), "a zero-size piece is a piece");
    ok((uintptr_t) p % LLR_ARENA_ALIGN == 0
       && (uintptr_t) q % LLR_ARENA_ALIGN == 0
       && (uintptr_t) r % LLR_ARENA_ALIGN == 0, "pieces are aligned");
    is_int(cnt.mallocs, 0, "nothing from the fallback yet");

    /* the last piece is freed in place, an earlier one is not */

    al.free(al.ctx, r);
    ok(a.pos == r - sizeof(size_t), "freeing the last piece gives its "
       "room back");

    al.free(al.ctx, p);
    ok(a.pos == r - sizeof(size_t), "freeing an earlier piece does not");

    s = al.malloc(al.ctx, 4);
    ok(s == r, "the room is cut again");

    /* the last piece grows and shrinks in place */

    memset(s, 'x', 4);
    q = al.realloc(al.ctx, s, 100);
    ok(q == s, "the last piece grows where it is");
    ok(memcmp(q, "xxxx", 4) == 0, "and keeps its bytes");
    ok(a.pos == q + 100, "the room left follows it");

    q = al.realloc(al.ctx, q, 50);
    ok(q == s && a.pos == q + 50, "and shrinks where it is");

    /* an earlier piece moves */

    r = al.malloc(al.ctx, 8);
    memset(q, 'y', 50);
    p = al.realloc(al.ctx, q, 60);
    ok(p != q && p > r, "an earlier piece grows by moving");
    ok(p[0] == 'y' && p[49] == 'y', "and keeps its bytes");

    /* what does not fit */

    p = al.malloc(al.ctx, BLOCK);
    ok(p && !llr_arena_owns(&a, p), "a piece too large comes from the "
       "fallback");
    is_int(cnt.mallocs, 1, "one fallback malloc");

    q = al.realloc(al.ctx, p, BLOCK * 2);
    ok(q && !llr_arena_owns(&a, q), "a fallback piece grows there");
    is_int(cnt.reallocs, 1, "with the fallback's realloc");

    al.free(al.ctx, q);
    is_int(cnt.frees, 1, "and is freed there");

    r = al.malloc(al.ctx, 200);
    memset(r, 'z', 200);
    p = al.realloc(al.ctx, r, BLOCK);
    ok(p && !llr_arena_owns(&a, p) && p[0] == 'z' && p[199] == 'z',
       "the last piece too large to grow moves to the fallback, bytes "
       "kept");
    ok(a.pos == r - sizeof(size_t), "and its room is given back");
    al.free(al.ctx, p);

    /* the room runs out exactly */

    llr_arena_reset(&a);
    ok(a.pos == a.start, "reset: the whole block is free");

    p = al.malloc(al.ctx, BLOCK - sizeof(size_t));
    ok(p && llr_arena_owns(&a, p), "a piece filling the block exactly "
       "fits");
    ok(a.pos == a.end, "no room left");

    q = al.malloc(al.ctx, 0);
    ok(q && !llr_arena_owns(&a, q), "then even an empty piece falls back");
    al.free(al.ctx, q);

    al.free(al.ctx, NULL);
    q = al.realloc(al.ctx, NULL, 0);
    ok(q && !llr_arena_owns(&a, q), "realloc(NULL) is malloc");
    al.free(al.ctx, q);

    llr_arena_reset(&a);
    memset(&cnt, 0, sizeof(cnt));

    random_run(&a, &al, &cnt);

    free(mem);

    done_testing();
}
