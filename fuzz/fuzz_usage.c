/*
 * libFuzzer target for core/llr_usage: the body fed whole and fed in
 * pieces (sizes from the low 4 bits of the first byte; bit 4: read as an
 * Anthropic answer) must give identical results.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_usage.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    llr_usage_t   a, b;
    size_t        i, n;
    unsigned      step;
    int           ra, rb;
    llr_format_e  fmt;

    if (size < 1) {
        return 0;
    }

    step = 1 + data[0] % 16;
    fmt = (data[0] & 0x10) ? LLR_FMT_ANTHROPIC : LLR_FMT_OPENAI;
    data++;
    size--;

    llr_usage_init_format(&a, fmt);
    ra = llr_usage_feed(&a, data, size);
    ra |= llr_usage_finish(&a);

    llr_usage_init_format(&b, fmt);
    rb = 0;

    for (i = 0; i < size; i += n) {
        n = 1 + (data[i] + step) % (step * 3);
        if (n > size - i) {
            n = size - i;
        }

        rb |= llr_usage_feed(&b, data + i, n);
    }

    rb |= llr_usage_finish(&b);

    if (ra != rb || memcmp(&a.res, &b.res, sizeof(llr_resp_t)) != 0) {
        abort();
    }

    return 0;
}
