/*
 * ngx_llm_route_module: the JSON token layer.
 *
 * Plain C, no nginx headers.  The pieces of JSON lexing the scanners
 * share: the skip over a string body (SIMD: SSE2, or AVX2 where the CPU
 * has it, chosen once, the first time it runs), the UTF-8 checks of
 * Unicode Table 3-7 made where that skip stops, the number grammar a
 * byte at a time (resumable across pieces), the literals and \u hex
 * digits.
 */

#ifndef _LLR_JTOK_H_INCLUDED_
#define _LLR_JTOK_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif


#if defined(__GNUC__)
#define llr_jtok_inline  inline __attribute__((always_inline))
#else
#define llr_jtok_inline  inline
#endif


/*
 * The first byte at or after p that a string body cannot hold as it is
 * ('"', '\\', a control byte) or that is not ASCII (the start of a UTF-8
 * sequence to check), or end.
 */
extern const unsigned char *(*llr_jtok_stop)(const unsigned char *p,
    const unsigned char *end);

/* the same, with the SSE2 code whatever the CPU (tests, benchmarks) */
const unsigned char *llr_jtok_stop_sse2(const unsigned char *p,
    const unsigned char *end);

/* which one llr_jtok_stop runs: "avx2", "sse2" or "bytes" */
const char *llr_jtok_simd(void);


/* 1 for the bytes a string body holds as they are (ASCII only) */
extern const unsigned char  llr_jtok_plain[256];


/*
 * llr_jtok_stop() with its first 16 bytes inlined: most strings of a
 * request (keys, roles, names) end there, before a call would pay off
 */
static llr_jtok_inline const unsigned char *
llr_jtok_stop_near(const unsigned char *p, const unsigned char *end)
{
#if defined(__SSE2__)
    unsigned  m;
    __m128i   v;

    if (end - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);
        m = (unsigned) _mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                 _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                             _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))));

        if (m) {
            return p + __builtin_ctz(m);
        }

        return llr_jtok_stop(p + 16, end);
    }

    while (p < end && llr_jtok_plain[*p]) {
        p++;
    }

    return p;
#else
    return llr_jtok_stop(p, end);
#endif
}


/*
 * UTF-8 (Unicode Table 3-7).  A lead byte gives how many continuation
 * bytes follow (1-3) and the range of the first one, or 0 and what is
 * wrong with it; every later continuation byte is 80..BF.
 */
#define LLR_JTOK_U8_BYTE       1     /* F8-FF */
#define LLR_JTOK_U8_CONT       2     /* a continuation byte without a lead */
#define LLR_JTOK_U8_OVERLONG   3
#define LLR_JTOK_U8_SURROGATE  4
#define LLR_JTOK_U8_TOO_LARGE  5
#define LLR_JTOK_U8_SHORT      6     /* the sequence ends too early */

typedef struct {
    unsigned char  need;        /* continuation bytes to come */
    unsigned char  lo;          /* range of the next one */
    unsigned char  hi;
    unsigned char  lead;
} llr_jtok_u8_t;


/* a lead byte: 0 with u set, or LLR_JTOK_U8_* */
static llr_jtok_inline unsigned
llr_jtok_u8_lead(llr_jtok_u8_t *u, unsigned c)
{
    if (c < 0xc2 || c > 0xf4) {
        return c < 0xc0 ? LLR_JTOK_U8_CONT
               : c < 0xc2 ? LLR_JTOK_U8_OVERLONG
               : c < 0xf8 ? LLR_JTOK_U8_TOO_LARGE : LLR_JTOK_U8_BYTE;
    }

    u->lead = (unsigned char) c;
    u->lo = 0x80;
    u->hi = 0xbf;

    if (c < 0xe0) {
        u->need = 1;

    } else if (c < 0xf0) {
        u->need = 2;

        if (c == 0xe0) {
            u->lo = 0xa0;                   /* not overlong */

        } else if (c == 0xed) {
            u->hi = 0x9f;                   /* not a surrogate */
        }

    } else {
        u->need = 3;

        if (c == 0xf0) {
            u->lo = 0x90;                   /* not overlong */

        } else if (c == 0xf4) {
            u->hi = 0x8f;                   /* not above U+10FFFF */
        }
    }

    return 0;
}


/* a continuation byte: 0 (u->need counts down), or LLR_JTOK_U8_* */
static llr_jtok_inline unsigned
llr_jtok_u8_next(llr_jtok_u8_t *u, unsigned c)
{
    if (c < u->lo || c > u->hi) {
        return (c < 0x80 || c > 0xbf) ? LLR_JTOK_U8_SHORT
               : u->lead == 0xed ? LLR_JTOK_U8_SURROGATE
               : u->lead == 0xf4 ? LLR_JTOK_U8_TOO_LARGE
               : LLR_JTOK_U8_OVERLONG;             /* after E0, F0 */
    }

    u->lo = 0x80;
    u->hi = 0xbf;
    u->need--;

    return 0;
}

/* what was wrong, in words (for error messages) */
const char *llr_jtok_u8_error(unsigned err);


/*
 * Numbers: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, a byte at a
 * time.  The state after the first byte is LLR_JTOK_N_MINUS, _ZERO or
 * _INT (llr_jtok_num_first()).
 */
#define LLR_JTOK_N_MINUS       1
#define LLR_JTOK_N_ZERO        2
#define LLR_JTOK_N_INT         3
#define LLR_JTOK_N_DOT         4
#define LLR_JTOK_N_FRAC        5
#define LLR_JTOK_N_E           6
#define LLR_JTOK_N_ESIGN       7
#define LLR_JTOK_N_EXP         8

#define llr_jtok_num_first(c)                                                \
    ((c) == '-' ? LLR_JTOK_N_MINUS : (c) == '0' ? LLR_JTOK_N_ZERO            \
                                                : LLR_JTOK_N_INT)

/* whether a number may end in this state */
#define llr_jtok_num_complete(st)                                            \
    ((st) != LLR_JTOK_N_MINUS && (st) != LLR_JTOK_N_DOT                      \
     && (st) != LLR_JTOK_N_E && (st) != LLR_JTOK_N_ESIGN)

/*
 * One byte: 1 if c continues the number, 0 if the number ended before
 * c, -1 if c cannot come here (and the number cannot end before it).
 */
int llr_jtok_num_step(unsigned char *st, unsigned c);

/* why a number cannot end in state st */
const char *llr_jtok_num_error(unsigned st);


/* the literals, by index: 0 true, 1 false, 2 null */
extern const char *const  llr_jtok_lits[3];

#define llr_jtok_lit_index(c)  ((c) == 't' ? 0 : (c) == 'f' ? 1 : 2)


/* the value of 4 hex digits the lexer accepted */
static llr_jtok_inline unsigned
llr_jtok_hex4(const unsigned char *p)
{
    unsigned  i, c, v;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];
        v = (v << 4) | (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }

    return v;
}


/* a hex digit's value, or -1 */
static llr_jtok_inline int
llr_jtok_hex(unsigned c)
{
    if (c >= '0' && c <= '9') {
        return (int) (c - '0');
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return (int) (c - 'a' + 10);
    }

    return -1;
}

#endif /* _LLR_JTOK_H_INCLUDED_ */
