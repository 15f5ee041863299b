/*
 * libFuzzer target for the value parsers and money formatting of
 * core/llr_cost.  Checks: a price parses like a 6-decimal number, a
 * parsed decimal formats back to the same value, formatting with 12
 * decimals parses back exactly.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_cost.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char  *s = (const char *) data;
    const char  *err;
    uint64_t     v, w, x;
    char         buf[40];
    size_t       n;
    unsigned     scale;

    err = NULL;
    (void) llr_parse_uint(s, size, UINT64_MAX, &v, &err);

    if ((llr_parse_price(s, size, &v, &err) == 0)
        != (llr_parse_decimal(s, size, 6, 1000000000000ULL, &w, NULL) == 0))
    {
        abort();
    }

    /* decimal -> format -> decimal */
    scale = size ? data[0] % 13 : 0;

    if (llr_parse_decimal(s, size, 12, UINT64_MAX, &v, NULL) == 0) {
        n = llr_format_usd(buf, sizeof(buf), v, 12);
        if (n == 0 || llr_parse_decimal(buf, n, 12, UINT64_MAX, &w, NULL)
                      != 0 || w != v)
        {
            abort();
        }
    }

    /* any uint64 -> format(12) -> parse: exact */
    if (size >= 8) {
        memcpy(&x, data, 8);
        n = llr_format_usd(buf, sizeof(buf), x, 12);
        if (n == 0 || llr_parse_decimal(buf, n, 12, UINT64_MAX, &w, NULL)
                      != 0 || w != x)
        {
            abort();
        }

        n = llr_format_usd(buf, sizeof(buf), x, scale);
        if (n == 0 || strlen(buf) != n) {
            abort();
        }

        /* the exact form: never rounded, so it parses back to x */
        n = llr_format_usd_exact(buf, sizeof(buf), x, scale);
        if (n == 0 || strlen(buf) != n
            || llr_parse_decimal(buf, n, 12, UINT64_MAX, &w, NULL) != 0
            || w != x)
        {
            abort();
        }

        (void) llr_cost(&(llr_price_t) { x, x >> 3, x >> 7 }, x, x >> 1,
                        x >> 2);
    }

    return 0;
}
