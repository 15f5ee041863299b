/*
 * core/llr_jtok: the JSON token layer under the scanners.
 *
 *   - the string skip (the build the CPU runs, SSE2, and a byte loop as
 *     the reference) stops at the same byte for every byte value at
 *     every place of buffers of every length up to 80, and on random
 *     buffers;
 *   - the UTF-8 checks accept exactly the well-formed sequences of
 *     Unicode Table 3-7 (every 1- and 2-byte sequence, every 3- and
 *     4-byte one with its lead, checked against a decoder written from
 *     the table) and name what is wrong;
 *   - the number grammar against the JSON grammar, on every string of
 *     up to 4 bytes over its alphabet.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "llr_jtok.h"


static const unsigned char *
ref_stop(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
        p++;
    }

    return p;
}


static void
test_stop(void)
{
    int             bad;
    size_t          len, at, i;
    unsigned        c;
    unsigned char   buf[96];
    unsigned long   x;

    printf("# llr_jtok_stop: %s\n", llr_jtok_simd());

    bad = 0;

    for (len = 0; len <= 80; len++) {
        for (at = 0; at <= len; at++) {
            for (c = 0; c < 256; c++) {
                memset(buf, 'a', sizeof(buf));

                if (at < len) {
                    buf[at] = (unsigned char) c;
                }

                /* a stop byte beyond the end must not be seen */
                buf[len] = '"';

                if (llr_jtok_stop(buf, buf + len) != ref_stop(buf, buf + len)
                    || llr_jtok_stop_sse2(buf, buf + len)
                       != ref_stop(buf, buf + len)
                    || llr_jtok_stop_near(buf, buf + len)
                       != ref_stop(buf, buf + len))
                {
                    bad++;
                }

                if (at == len) {
                    break;
                }
            }
        }
    }

    is_int(bad, 0, "every byte at every place: the reference's stop");

    x = 12345;
    bad = 0;

    for (i = 0; i < 200000; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        len = (x >> 33) % 90;

        for (at = 0; at < len; at++) {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            /* mostly plain ASCII, sometimes anything */
            buf[at] = (x >> 40) % 16 ? 0x20 + (x >> 48) % 0x60
                                     : (unsigned char) (x >> 32);
        }

        at = (x >> 20) % (len + 1);

        if (llr_jtok_stop(buf + at, buf + len) != ref_stop(buf + at, buf + len)
            || llr_jtok_stop_near(buf + at, buf + len)
               != ref_stop(buf + at, buf + len))
        {
            bad++;
        }
    }

    is_int(bad, 0, "random buffers: the reference's stop");
}


/*
 * The reference: decode by the table, 0 if well formed, else 1; *n the
 * bytes it takes
 */
static int
ref_u8(const unsigned char *p, size_t len)
{
    size_t    n, i;
    uint32_t  cp, min;

    if (p[0] < 0x80) {
        return len == 1 ? 0 : 1;
    }

    if (p[0] >= 0xc0 && p[0] < 0xe0) {
        n = 2; cp = p[0] & 0x1f; min = 0x80;

    } else if (p[0] >= 0xe0 && p[0] < 0xf0) {
        n = 3; cp = p[0] & 0x0f; min = 0x800;

    } else if (p[0] >= 0xf0 && p[0] < 0xf8) {
        n = 4; cp = p[0] & 0x07; min = 0x10000;

    } else {
        return 1;
    }

    if (len != n) {
        return 1;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 1;
        }

        cp = (cp << 6) | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 1;
    }

    return 0;
}


/* the layer: 0 if the len bytes are exactly one well-formed sequence */
static int
jtok_u8(const unsigned char *p, size_t len, unsigned *err)
{
    size_t         i;
    llr_jtok_u8_t  u;

    *err = llr_jtok_u8_lead(&u, p[0]);

    if (*err) {
        return 1;
    }

    for (i = 1; i < len; i++) {
        if (u.need == 0) {
            return 1;
        }

        *err = llr_jtok_u8_next(&u, p[i]);

        if (*err) {
            return 1;
        }
    }

    return u.need != 0;
}


static void
test_utf8(void)
{
    int             bad, good;
    unsigned        a, b, c, d, err;
    unsigned char   s[4];

    bad = 0;
    good = 0;

    for (a = 0x80; a < 0x100; a++) {
        s[0] = (unsigned char) a;
        bad += jtok_u8(s, 1, &err) != 1;

        for (b = 0; b < 0x100; b++) {
            s[1] = (unsigned char) b;
            bad += jtok_u8(s, 2, &err) != ref_u8(s, 2);
            good += ref_u8(s, 2) == 0;

            if (a < 0xe0 || a > 0xf4) {
                continue;
            }

            for (c = 0x70; c < 0xd0; c++) {
                s[2] = (unsigned char) c;
                bad += jtok_u8(s, 3, &err) != ref_u8(s, 3);
                good += ref_u8(s, 3) == 0;

                if (a < 0xf0) {
                    continue;
                }

                for (d = 0x70; d < 0xd0; d += 7) {
                    s[3] = (unsigned char) d;
                    bad += jtok_u8(s, 4, &err) != ref_u8(s, 4);
                    good += ref_u8(s, 4) == 0;
                }
            }
        }
    }

    is_int(bad, 0, "UTF-8: the verdicts of the table (%d good ones)", good);

    /* what is wrong, in words */
    jtok_u8((const unsigned char *) "\xe0\x80\xaf", 3, &err);
    is_str(llr_jtok_u8_error(err), "overlong encoding", "E0 80: overlong");
    jtok_u8((const unsigned char *) "\xed\xa0\x80", 3, &err);
    is_str(llr_jtok_u8_error(err), "encoded surrogate", "ED A0: surrogate");
    jtok_u8((const unsigned char *) "\xf4\x90\x80\x80", 4, &err);
    is_str(llr_jtok_u8_error(err), "code point above U+10FFFF",
           "F4 90: too large");
    jtok_u8((const unsigned char *) "\xe2\x82\x41", 3, &err);
    is_str(llr_jtok_u8_error(err), "incomplete sequence", "E2 82 41: short");
    jtok_u8((const unsigned char *) "\x80", 1, &err);
    is_int(err, LLR_JTOK_U8_CONT, "80: a continuation byte without a lead");
    jtok_u8((const unsigned char *) "\xf8", 1, &err);
    is_int(err, LLR_JTOK_U8_BYTE, "F8: not in UTF-8");
    jtok_u8((const unsigned char *) "\xc1\xbf", 2, &err);
    is_int(err, LLR_JTOK_U8_OVERLONG, "C1: overlong lead");
    jtok_u8((const unsigned char *) "\xf5\x80", 2, &err);
    is_int(err, LLR_JTOK_U8_TOO_LARGE, "F5: too large lead");
}


/* the JSON number grammar, directly */
static int
ref_number(const char *s, size_t len)
{
    size_t  i;

    i = 0;

    if (i < len && s[i] == '-') {
        i++;
    }

    if (i < len && s[i] == '0') {
        i++;

    } else if (i < len && s[i] >= '1' && s[i] <= '9') {
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }

    } else {
        return 0;
    }

    if (i < len && s[i] == '.') {
        i++;

        if (!(i < len && s[i] >= '0' && s[i] <= '9')) {
            return 0;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }

    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;

        if (i < len && (s[i] == '+' || s[i] == '-')) {
            i++;
        }

        if (!(i < len && s[i] >= '0' && s[i] <= '9')) {
            return 0;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
    }

    return i == len;
}


/* the layer: 1 if all len bytes make one complete number */
static int
jtok_number(const char *s, size_t len)
{
    size_t         i;
    unsigned char  st;

    if (len == 0 || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9'))) {
        return 0;
    }

    st = (unsigned char) llr_jtok_num_first((unsigned char) s[0]);

    for (i = 1; i < len; i++) {
        if (llr_jtok_num_step(&st, (unsigned char) s[i]) != 1) {
            return 0;
        }
    }

    return llr_jtok_num_complete(st);
}


static void
test_numbers(void)
{
    int          bad, n;
    size_t       len, i, k;
    char         s[8];
    const char   alpha[] = "-0159.eE+";
    size_t       idx[8];

    bad = 0;
    n = 0;

    for (len = 1; len <= 5; len++) {
        memset(idx, 0, sizeof(idx));

        for ( ;; ) {
            for (i = 0; i < len; i++) {
                s[i] = alpha[idx[i]];
            }

            bad += jtok_number(s, len) != ref_number(s, len);
            n += ref_number(s, len);

            for (k = 0; k < len && ++idx[k] == sizeof(alpha) - 1; k++) {
                idx[k] = 0;
            }

            if (k == len) {
                break;
            }
        }
    }

    is_int(bad, 0, "numbers: the grammar's verdicts (%d numbers)", n);
    is_str(llr_jtok_num_error(LLR_JTOK_N_MINUS),
           "malformed number, a digit is required after the minus sign",
           "after '-'");
    is_str(llr_jtok_lits[2], "null", "literals");
    is_int(llr_jtok_hex4((const unsigned char *) "Dc0f"), 0xdc0f, "hex4");
    is_int(llr_jtok_hex('g'), -1, "not a hex digit");
}


int
main(void)
{
    test_stop();
    test_utf8();
    test_numbers();

    done_testing();
}
