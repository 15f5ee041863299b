/*
 * core/llr: the hash and the UTF-8 helpers every part of core/ shares.
 */

#include <stdint.h>

#include "tap.h"
#include "llr.h"


/* one UTF-8 case: the bytes, and the length llr_utf8_char() finds */
typedef struct {
    const char  *bytes;
    size_t       len;
    size_t       want;
    const char  *name;
} u8_case_t;


/* one cut: the bytes, the most to keep, the bytes kept */
typedef struct {
    const char  *bytes;
    size_t       n;
    size_t       want;
    const char  *name;
} cut_case_t;


/* one copy: the source, the room (NUL included), the copy */
typedef struct {
    const char  *src;
    size_t       size;
    const char  *want;
    const char  *name;
} copy_case_t;


static const u8_case_t  u8_cases[] = {
    { "a", 1, 1, "ASCII" },
    { "", 0, 0, "nothing" },
    { "\xc3\xa9", 2, 2, "2 bytes" },
    { "\xe2\x82\xac", 3, 3, "3 bytes" },
    { "\xf0\x9f\x98\x80", 4, 4, "4 bytes" },
    { "\xc3", 1, 0, "cut short" },
    { "\x80", 1, 0, "a continuation byte alone" },
    { "\xc0\xaf", 2, 0, "overlong, 2 bytes" },
    { "\xe0\x80\xaf", 3, 0, "overlong, 3 bytes" },
    { "\xf0\x80\x80\xaf", 4, 0, "overlong, 4 bytes" },
    { "\xed\xa0\x80", 3, 0, "a surrogate" },
    { "\xf4\x90\x80\x80", 4, 0, "above U+10FFFF" },
    { "\xf5\x80\x80\x80", 4, 0, "no such lead byte" },
    { "\xe2\x28\xa1", 3, 0, "a bad continuation byte" }
};


static const cut_case_t  cut_cases[] = {
    { "abcdef", 10, 6, "shorter than n: whole" },
    { "abcdef", 6, 6, "n bytes: whole" },
    { "abcdef", 4, 4, "ASCII: n" },
    { "ab\xc3\xa9z", 3, 2, "inside a 2-byte character: before it" },
    { "ab\xc3\xa9z", 4, 4, "after it: n" },
    { "a\xe2\x82\xac", 2, 1, "after the lead of 3 bytes" },
    { "a\xe2\x82\xac", 3, 1, "after 2 of 3 bytes" },
    { "\xf0\x9f\x98\x80x", 3, 0, "after 3 of 4 bytes" },
    { "a\x80\x80\x80\x80z", 3, 3, "continuation bytes without a lead" },
    { "\x80\x80z", 1, 1, "from the start, no lead" }
};


static const copy_case_t  copy_cases[] = {
    { "gpt-4o-mini", 64, "gpt-4o-mini", "ASCII" },
    { "0123456789abcdefghij", 9, "01234567", "ASCII cut to the room" },
    { "caf\xc3\xa9", 64, "caf\xc3\xa9", "UTF-8 kept" },
    { "caf\xc3\xa9", 5, "caf", "a character that does not fit: out" },
    { "a\xffz", 64, "a?z", "a bad byte: '?'" },
    { "a\xc3", 64, "a?", "a character cut short: '?'" },
    { "\xed\xa0\x80", 64, "???", "a surrogate: one '?' a byte" },
    { "", 8, "", "nothing" }
};


int
main(void)
{
    size_t          i, n;
    uint32_t        cp;
    unsigned char   buf[64];

    /* FNV-1a, the published test vectors */

    is_int(llr_fnv1a64(LLR_FNV1A64_INIT, "", 0), 0xcbf29ce484222325ULL,
           "fnv1a64 of nothing is the offset basis");
    is_int(llr_fnv1a64(LLR_FNV1A64_INIT, "a", 1), 0xaf63dc4c8601ec8cULL,
           "fnv1a64 of \"a\"");
    is_int(llr_fnv1a64(LLR_FNV1A64_INIT, "foobar", 6),
           0x85944171f73967e8ULL, "fnv1a64 of \"foobar\"");
    is_int(llr_fnv1a64(llr_fnv1a64(LLR_FNV1A64_INIT, "foo", 3), "bar", 3),
           llr_fnv1a64(LLR_FNV1A64_INIT, "foobar", 6),
           "fnv1a64 goes on from a hash so far");
    is_int(llr_fnv1a32(LLR_FNV1A32_INIT, "a", 1), 0xe40c292cU,
           "fnv1a32 of \"a\"");
    is_int(llr_fnv1a32(LLR_FNV1A32_INIT, "foobar", 6), 0xbf9cf968U,
           "fnv1a32 of \"foobar\"");

    for (i = 0; i < sizeof(u8_cases) / sizeof(u8_cases[0]); i++) {
        is_int(llr_utf8_char((const unsigned char *) u8_cases[i].bytes,
                             u8_cases[i].len),
               u8_cases[i].want, "utf8_char: %s", u8_cases[i].name);
    }

    /* put, then read back, at each length's edges */

    {
        static const uint32_t  cps[] = {
            0, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0x10000, 0x10ffff
        };

        for (i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
            cp = cps[i];
            n = llr_utf8_put(buf, cp);

            is_int(n, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4,
                   "utf8_put U+%04X: its length", (unsigned) cp);
            is_int(llr_utf8_char(buf, n), n,
                   "utf8_put U+%04X: well-formed", (unsigned) cp);
        }
    }

    for (i = 0; i < sizeof(cut_cases) / sizeof(cut_cases[0]); i++) {
        is_int(llr_utf8_cut((const unsigned char *) cut_cases[i].bytes,
                            strlen(cut_cases[i].bytes), cut_cases[i].n),
               cut_cases[i].want, "utf8_cut: %s", cut_cases[i].name);
    }

    for (i = 0; i < sizeof(copy_cases) / sizeof(copy_cases[0]); i++) {
        memset(buf, 'X', sizeof(buf));

        n = llr_utf8_copy(buf, copy_cases[i].size,
                          (const unsigned char *) copy_cases[i].src,
                          strlen(copy_cases[i].src));

        is_str((char *) buf, copy_cases[i].want, "utf8_copy: %s",
               copy_cases[i].name);
        is_int(n, strlen(copy_cases[i].want), "utf8_copy: %s, its length",
               copy_cases[i].name);
    }

    done_testing();
}
