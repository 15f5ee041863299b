/*
 * ngx_llm_route_module: a scratch arena behind the llr_alloc_t
 * callbacks.
 *
 * Plain C, no nginx headers.
 *
 * Memory that lives only while one piece of work runs without waiting
 * (the request scanner and the classifier state, while a body is
 * scanned) is cut from one fixed block, front to back, and the whole
 * block is taken back at once by llr_arena_reset().  What does not fit
 * comes from the fallback allocator (the request pool in the module),
 * so the block never grows and a large body costs what it did before.
 *
 * Every piece carries its size in front (realloc needs it).  The last
 * piece cut can grow, shrink or be freed in place; freeing any other
 * piece of the block does nothing until the reset.  Pieces are aligned
 * to LLR_ARENA_ALIGN.
 *
 * Under AddressSanitizer the room not handed out, and the whole block
 * after a reset, is poisoned: a use of a piece after its reset (or past
 * its end, inside the block) is reported.
 */

#ifndef _LLR_ARENA_H_INCLUDED_
#define _LLR_ARENA_H_INCLUDED_

#include <stddef.h>

#include "llr.h"


#define LLR_ARENA_ALIGN  sizeof(size_t)


typedef struct {
    unsigned char  *start;
    unsigned char  *pos;             /* the room left: [pos, end) */
    unsigned char  *end;
    llr_alloc_t     fallback;
} llr_arena_t;


/*
 * mem: the block (aligned to LLR_ARENA_ALIGN), size bytes; fallback:
 * for what does not fit (its free may be NULL)
 */
void llr_arena_init(llr_arena_t *a, void *mem, size_t size,
    const llr_alloc_t *fallback);

/* the callbacks that cut from the arena; a is their ctx */
void llr_arena_alloc(llr_arena_t *a, llr_alloc_t *alloc);

/* every piece of the block is free again */
void llr_arena_reset(llr_arena_t *a);

/* 1 if p is a piece of the block (not of the fallback) */
int llr_arena_owns(const llr_arena_t *a, const void *p);


#endif /* _LLR_ARENA_H_INCLUDED_ */
