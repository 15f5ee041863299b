/*
 * A tracking llr_alloc_t for unit tests of code that allocates from a
 * pool and never frees (the fleet's batches: the glue gives them a
 * request pool): every block is listed, track_free_all() frees what is
 * left, so the sanitizers' leak check stays meaningful.
 */

#ifndef _TRACK_ALLOC_H_INCLUDED_
#define _TRACK_ALLOC_H_INCLUDED_

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "llr.h"


typedef union track_blk_u  track_blk_t;

union track_blk_u {
    struct {
        track_blk_t  *prev;
        track_blk_t  *next;
        size_t        size;
    } h;
    long double       align_ld;
    long long         align_ll;
    void             *align_p;
};

static track_blk_t  track_head = { { &track_head, &track_head, 0 } };


static inline void *
track_malloc(void *ctx, size_t size)
{
    track_blk_t  *b;

    b = malloc(sizeof(track_blk_t) + size);
    if (b == NULL) {
        return NULL;
    }

    b->h.size = size;
    b->h.next = track_head.h.next;
    b->h.prev = &track_head;
    track_head.h.next->h.prev = b;
    track_head.h.next = b;

    return b + 1;
}


static inline void
track_free(void *ctx, void *p)
{
    track_blk_t  *b;

    if (p == NULL) {
        return;
    }

    b = (track_blk_t *) p - 1;
    b->h.prev->h.next = b->h.next;
    b->h.next->h.prev = b->h.prev;
    free(b);
}


static inline void *
track_realloc(void *ctx, void *p, size_t size)
{
    void         *n;
    track_blk_t  *b;

    n = track_malloc(ctx, size);

    if (n != NULL && p != NULL) {
        b = (track_blk_t *) p - 1;
        memcpy(n, p, b->h.size < size ? b->h.size : size);
        track_free(ctx, p);
    }

    return n;
}


static inline void *
track_zalloc(size_t size)
{
    void  *p;

    p = track_malloc(NULL, size);
    if (p != NULL) {
        memset(p, 0, size);
    }

    return p;
}


static inline void
track_free_all(void)
{
    while (track_head.h.next != &track_head) {
        track_free(NULL, track_head.h.next + 1);
    }
}


#endif /* _TRACK_ALLOC_H_INCLUDED_ */
