/*
 * ngx_llm_route_module: the JSON token layer (llr_jtok.h).
 *
 * The string skip comes in three builds: AVX2 (32 bytes a step, compiled
 * for that target alone, so the rest of core/ stays SSE2), SSE2 (16) and
 * a byte loop; llr_jtok_stop points at the best the CPU runs, chosen the
 * first time it is called (the pointer is written once, always with the
 * same value: no lock needed).
 */

#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LLR_JTOK_AVX2  1
#endif

#include "llr_jtok.h"


const unsigned char  llr_jtok_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
    /* 0x80..0xff: 0, UTF-8 sequences are checked */
};

const char *const  llr_jtok_lits[3] = { "true", "false", "null" };


static const unsigned char *llr_jtok_stop_first(const unsigned char *p,
    const unsigned char *end);

const unsigned char *(*llr_jtok_stop)(const unsigned char *p,
    const unsigned char *end) = llr_jtok_stop_first;

static const char  *llr_jtok_simd_name = "bytes";


static const unsigned char *
llr_jtok_stop_bytes(const unsigned char *p, const unsigned char *end)
{
    while (p < end && llr_jtok_plain[*p]) {
        p++;
    }

    return p;
}


#if defined(__SSE2__)

/*
 * A byte stops the skip if it is '"' or '\\', or below 0x20 as a signed
 * byte: the control bytes and every byte from 0x80 up
 */

const unsigned char *
llr_jtok_stop_sse2(const unsigned char *p, const unsigned char *end)
{
    unsigned  m;
    __m128i   v, quote, bs, sp;

    quote = _mm_set1_epi8('"');
    bs = _mm_set1_epi8('\\');
    sp = _mm_set1_epi8(0x20);

    while (end - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);
        m = (unsigned) _mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                          _mm_cmpeq_epi8(v, bs)),
                             _mm_cmplt_epi8(v, sp)));

        if (m) {
            return p + __builtin_ctz(m);
        }

        p += 16;
    }

    return llr_jtok_stop_bytes(p, end);
}

#else

const unsigned char *
llr_jtok_stop_sse2(const unsigned char *p, const unsigned char *end)
{
    return llr_jtok_stop_bytes(p, end);
}

#endif


#if defined(LLR_JTOK_AVX2)

__attribute__((target("avx2")))
static const unsigned char *
llr_jtok_stop_avx2(const unsigned char *p, const unsigned char *end)
{
    unsigned  m;
    __m256i   v, quote, bs, sp;

    quote = _mm256_set1_epi8('"');
    bs = _mm256_set1_epi8('\\');
    sp = _mm256_set1_epi8(0x20);

    while (end - p >= 32) {
        v = _mm256_loadu_si256((const __m256i *) p);
        m = (unsigned) _mm256_movemask_epi8(
                _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, quote),
                                                _mm256_cmpeq_epi8(v, bs)),
                                _mm256_cmpgt_epi8(sp, v)));

        if (m) {
            return p + __builtin_ctz(m);
        }

        p += 32;
    }

    return llr_jtok_stop_sse2(p, end);
}

#endif


static const unsigned char *
llr_jtok_stop_first(const unsigned char *p, const unsigned char *end)
{
#if defined(LLR_JTOK_AVX2)
    __builtin_cpu_init();

    if (__builtin_cpu_supports("avx2")) {
        llr_jtok_simd_name = "avx2";
        llr_jtok_stop = llr_jtok_stop_avx2;
        return llr_jtok_stop(p, end);
    }
#endif

#if defined(__SSE2__)
    llr_jtok_simd_name = "sse2";
    llr_jtok_stop = llr_jtok_stop_sse2;
#else
    llr_jtok_stop = llr_jtok_stop_bytes;
#endif

    return llr_jtok_stop(p, end);
}


const char *
llr_jtok_simd(void)
{
    static const unsigned char  none[1] = { '"' };

    if (llr_jtok_stop == llr_jtok_stop_first) {
        (void) llr_jtok_stop(none, none + 1);
    }

    return llr_jtok_simd_name;
}


const char *
llr_jtok_u8_error(unsigned err)
{
    switch (err) {

    case LLR_JTOK_U8_OVERLONG:
        return "overlong encoding";

    case LLR_JTOK_U8_SURROGATE:
        return "encoded surrogate";

    case LLR_JTOK_U8_TOO_LARGE:
        return "code point above U+10FFFF";

    default:
        return "incomplete sequence";
    }
}


int
llr_jtok_num_step(unsigned char *st, unsigned c)
{
    int  digit;

    digit = (c >= '0' && c <= '9');

    switch (*st) {

    case LLR_JTOK_N_MINUS:
        if (!digit) {
            return -1;
        }

        *st = c == '0' ? LLR_JTOK_N_ZERO : LLR_JTOK_N_INT;
        return 1;

    case LLR_JTOK_N_ZERO:
    case LLR_JTOK_N_INT:
        if (digit && *st == LLR_JTOK_N_INT) {
            return 1;
        }

        if (c == '.') {
            *st = LLR_JTOK_N_DOT;
            return 1;
        }

        if (c == 'e' || c == 'E') {
            *st = LLR_JTOK_N_E;
            return 1;
        }

        return 0;

    case LLR_JTOK_N_DOT:
        if (!digit) {
            return -1;
        }

        *st = LLR_JTOK_N_FRAC;
        return 1;

    case LLR_JTOK_N_FRAC:
        if (digit) {
            return 1;
        }

        if (c == 'e' || c == 'E') {
            *st = LLR_JTOK_N_E;
            return 1;
        }

        return 0;

    case LLR_JTOK_N_E:
        if (c == '+' || c == '-') {
            *st = LLR_JTOK_N_ESIGN;
            return 1;
        }

        /* fall through */

    case LLR_JTOK_N_ESIGN:
        if (!digit) {
            return -1;
        }

        *st = LLR_JTOK_N_EXP;
        return 1;

    default: /* LLR_JTOK_N_EXP */
        return digit ? 1 : 0;
    }
}


const char *
llr_jtok_num_error(unsigned st)
{
    switch (st) {

    case LLR_JTOK_N_MINUS:
        return "malformed number, a digit is required after the minus sign";

    case LLR_JTOK_N_DOT:
        return "malformed number, a digit is required after the decimal "
               "point";

    default:
        return "malformed number, a digit is required after the exponent";
    }
}
