/*
 * ngx_llm_route_module: what every part of core/ shares (llr.h).
 */

#include <string.h>

#include "llr.h"


size_t
llr_utf8_char(const unsigned char *p, size_t len)
{
    size_t         n, i;
    unsigned char  c, lo, hi;

    if (len == 0) {
        return 0;
    }

    c = p[0];
    lo = 0x80;
    hi = 0xbf;

    if (c < 0x80) {
        return 1;

    } else if (c < 0xc2) {
        return 0;

    } else if (c < 0xe0) {
        n = 2;

    } else if (c < 0xf0) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;
        hi = (c == 0xed) ? 0x9f : 0xbf;

    } else if (c < 0xf5) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;

    } else {
        return 0;
    }

    if (len < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


size_t
llr_utf8_cut(const unsigned char *p, size_t len, size_t n)
{
    size_t  k;

    if (len <= n) {
        return len;
    }

    for (k = 0; k < 3 && n > 0 && (p[n] & 0xc0) == 0x80; k++) {
        n--;
    }

    if (k && p[n] >= 0xc0) {
        /* the lead byte of the character cut */
        return n;
    }

    return n + k;
}


size_t
llr_utf8_copy(unsigned char *dst, size_t size, const unsigned char *src,
    size_t len)
{
    size_t          i, n;
    uint64_t        w;
    unsigned char  *d, *end;

    d = dst;
    end = dst + size - 1;

    /* the common case: ASCII that fits, copied as it is */

    n = (len < size - 1) ? len : size - 1;

    for (i = 0; n - i >= 8; i += 8) {
        memcpy(&w, &src[i], 8);

        if (w & 0x8080808080808080ULL) {
            break;
        }
    }

    for ( /* void */ ; i < n; i++) {
        if (src[i] >= 0x80) {
            break;
        }
    }

    if (i) {
        memcpy(d, src, i);
        d += i;
    }

    while (i < len && d < end) {
        n = llr_utf8_char(&src[i], len - i);

        if (n == 0) {
            *d++ = '?';
            i++;
            continue;
        }

        if ((size_t) (end - d) < n) {
            break;
        }

        memcpy(d, &src[i], n);
        d += n;
        i += n;
    }

    *d = '\0';

    return (size_t) (d - dst);
}
