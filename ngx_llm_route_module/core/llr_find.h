/*
 * ngx_llm_route_module: the searches of the JSON scanners' fast paths,
 * inlined where they are used (llr_usage.c, llr_sse.c).
 */

#ifndef _LLR_FIND_H_INCLUDED_
#define _LLR_FIND_H_INCLUDED_

#include <stddef.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif


#ifndef llr_inline
#if defined(__GNUC__)
#define llr_inline  inline __attribute__((always_inline))
#else
#define llr_inline  inline
#endif
#endif


/* the first '"', '\\', '\r' or '\n' in [p, end), or end */
static llr_inline const unsigned char *
llr_json_find_l(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    int      m;
    __m128i  v, quote, bslash, cr, lf;

    quote = _mm_set1_epi8('"');
    bslash = _mm_set1_epi8('\\');
    cr = _mm_set1_epi8('\r');
    lf = _mm_set1_epi8('\n');

    while (end - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);
        m = _mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                          _mm_cmpeq_epi8(v, bslash)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, cr),
                                          _mm_cmpeq_epi8(v, lf))));
        if (m) {
            return p + __builtin_ctz((unsigned) m);
        }

        p += 16;
    }
#endif

    while (p < end && *p != '"' && *p != '\\' && *p != '\r' && *p != '\n') {
        p++;
    }

    return p;
}


/* the first '"' or '\\' in [p, end), or end */
static llr_inline const unsigned char *
llr_json_find(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    int      m;
    __m128i  v, quote, bslash;

    quote = _mm_set1_epi8('"');
    bslash = _mm_set1_epi8('\\');

    while (end - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);
        m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                           _mm_cmpeq_epi8(v, bslash)));
        if (m) {
            return p + __builtin_ctz((unsigned) m);
        }

        p += 16;
    }
#endif

    while (p < end && *p != '"' && *p != '\\') {
        p++;
    }

    return p;
}


#endif /* _LLR_FIND_H_INCLUDED_ */
