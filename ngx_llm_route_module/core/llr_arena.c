/*
 * ngx_llm_route_module: a scratch arena behind the llr_alloc_t
 * callbacks.
 */

#include <stdint.h>
#include <string.h>

#include "llr_arena.h"


#if defined(__SANITIZE_ADDRESS__)
#define LLR_ARENA_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LLR_ARENA_ASAN  1
#endif
#endif

#if (LLR_ARENA_ASAN)
#include <sanitizer/asan_interface.h>
#define llr_poison(p, n)    ASAN_POISON_MEMORY_REGION(p, n)
#define llr_unpoison(p, n)  ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define llr_poison(p, n)
#define llr_unpoison(p, n)
#endif


#define llr_arena_size(p)  (((size_t *) (void *) (p))[-1])


static void *llr_arena_malloc(void *ctx, size_t size);
static void *llr_arena_realloc(void *ctx, void *ptr, size_t size);
static void llr_arena_free(void *ctx, void *ptr);


void
llr_arena_init(llr_arena_t *a, void *mem, size_t size,
    const llr_alloc_t *fallback)
{
    /* the end is aligned too: then so is every piece, and pos <= end */
    size -= size % LLR_ARENA_ALIGN;

    a->start = mem;
    a->end = a->start + size;
    a->fallback = *fallback;

    llr_arena_reset(a);
}


void
llr_arena_alloc(llr_arena_t *a, llr_alloc_t *alloc)
{
    alloc->malloc = llr_arena_malloc;
    alloc->realloc = llr_arena_realloc;
    alloc->free = llr_arena_free;
    alloc->ctx = a;
}


void
llr_arena_reset(llr_arena_t *a)
{
    a->pos = a->start;
    llr_poison(a->start, (size_t) (a->end - a->start));
}


int
llr_arena_owns(const llr_arena_t *a, const void *p)
{
    const unsigned char  *c = p;

    return c >= a->start && c < a->end;
}


static void *
llr_arena_malloc(void *ctx, size_t size)
{
    llr_arena_t *a = ctx;

    uintptr_t       off;
    unsigned char  *p;

    /* an empty piece takes a byte: no piece starts at the end */
    if (size == 0) {
        size = 1;
    }

    off = (uintptr_t) a->pos % LLR_ARENA_ALIGN;
    p = off ? a->pos + (LLR_ARENA_ALIGN - off) : a->pos;

    if ((size_t) (a->end - p) < sizeof(size_t)
        || size > (size_t) (a->end - p) - sizeof(size_t))
    {
        return a->fallback.malloc(a->fallback.ctx, size);
    }

    llr_unpoison(p, sizeof(size_t) + size);

    p += sizeof(size_t);
    llr_arena_size(p) = size;
    a->pos = p + size;

    return p;
}


static void
llr_arena_free(void *ctx, void *ptr)
{
    llr_arena_t *a = ctx;

    unsigned char  *p;

    p = ptr;

    if (p == NULL) {
        return;
    }

    if (!llr_arena_owns(a, p)) {
        if (a->fallback.free) {
            a->fallback.free(a->fallback.ctx, ptr);
        }

        return;
    }

    if (p + llr_arena_size(p) == a->pos) {
        /* the last piece: its room is cut again by the next one */
        a->pos = p - sizeof(size_t);
        llr_poison(a->pos, (size_t) (a->end - a->pos));
    }
}


static void *
llr_arena_realloc(void *ctx, void *ptr, size_t size)
{
    llr_arena_t *a = ctx;

    size_t          old;
    unsigned char  *p, *n;

    p = ptr;

    if (p == NULL) {
        return llr_arena_malloc(a, size);
    }

    if (!llr_arena_owns(a, p)) {
        return a->fallback.realloc(a->fallback.ctx, ptr, size);
    }

    old = llr_arena_size(p);

    if (size == 0) {
        size = 1;
    }

    if (p + old == a->pos && size <= (size_t) (a->end - p)) {
        /* the last piece grows or shrinks where it is */
        if (size > old) {
            llr_unpoison(p + old, size - old);

        } else {
            llr_poison(p + size, old - size);
        }

        llr_arena_size(p) = size;
        a->pos = p + size;

        return p;
    }

    n = llr_arena_malloc(a, size);
    if (n == NULL) {
        return NULL;
    }

    memcpy(n, p, old < size ? old : size);
    llr_arena_free(a, p);

    return n;
}
