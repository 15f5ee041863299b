/*
 * ngx_llm_route_module: what every part of core/ shares.
 *
 * Plain C, no nginx headers, no global state: the one allocator
 * interface callers hand to core/, the one hash, the UTF-8 helpers.
 */

#ifndef _LLR_H_INCLUDED_
#define _LLR_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


/*
 * Memory, from whoever calls: the module passes a request pool (whose
 * free returns what it can and leaves the rest to the pool), the tools
 * and the tests malloc(3).  malloc is always needed; realloc and free
 * as each user says (the request scanner needs all three, the SSE
 * parser's hold buffer takes a NULL free, the mock's JSON parser a NULL
 * realloc).
 */
typedef struct {
    void   *(*malloc)(void *ctx, size_t size);
    void   *(*realloc)(void *ctx, void *ptr, size_t size);
    void    (*free)(void *ctx, void *ptr);
    void    *ctx;
} llr_alloc_t;


/*
 * FNV-1a: the hash of everything core/ and the module key by (state
 * file checksums, limit identities, embeddings of the mock).  Pass the
 * INIT value, or the hash so far to go on with more bytes.
 */
#define LLR_FNV1A64_INIT  0xcbf29ce484222325ULL
#define LLR_FNV1A32_INIT  2166136261u


static inline uint64_t
llr_fnv1a64(uint64_t h, const void *data, size_t len)
{
    const unsigned char  *p = data;

    while (len--) {
        h ^= *p++;
        h *= 0x100000001b3ULL;
    }

    return h;
}


static inline uint32_t
llr_fnv1a32(uint32_t h, const void *data, size_t len)
{
    const unsigned char  *p = data;

    while (len--) {
        h = (h ^ *p++) * 16777619u;
    }

    return h;
}


/*
 * The length (1 to 4) of the well-formed UTF-8 character (Unicode Table
 * 3-7) that starts at p, or 0 if the bytes at p, at most len, are not
 * one (len 0 included).
 */
size_t llr_utf8_char(const unsigned char *p, size_t len);


/* code point cp (at most 0x10ffff) as UTF-8 at d: returns 1 to 4 bytes */
static inline size_t
llr_utf8_put(unsigned char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (unsigned char) cp;
        return 1;
    }

    if (cp < 0x800) {
        d[0] = (unsigned char) (0xc0 | (cp >> 6));
        d[1] = (unsigned char) (0x80 | (cp & 0x3f));
        return 2;
    }

    if (cp < 0x10000) {
        d[0] = (unsigned char) (0xe0 | (cp >> 12));
        d[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        d[2] = (unsigned char) (0x80 | (cp & 0x3f));
        return 3;
    }

    d[0] = (unsigned char) (0xf0 | (cp >> 18));
    d[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
    d[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
    d[3] = (unsigned char) (0x80 | (cp & 0x3f));
    return 4;
}


/*
 * How many of the len bytes at p to keep to cut them to at most n
 * without cutting a character short: len if len <= n; else n, less the
 * bytes before p[n] of a character that p[n] continues (its lead byte
 * and the continuation bytes between).
 */
size_t llr_utf8_cut(const unsigned char *p, size_t len, size_t n);

/*
 * A NUL-terminated copy of src into dst (size > 0 bytes) that is valid
 * UTF-8: a byte that is not part of a well-formed character becomes
 * '?', a character that does not fit is left out whole.  Returns the
 * bytes written before the NUL.
 */
size_t llr_utf8_copy(unsigned char *dst, size_t size,
    const unsigned char *src, size_t len);


#endif /* _LLR_H_INCLUDED_ */
