/*
 * libFuzzer target for core/llr_pattern (pcre2 wrapper used by routing
 * rules).  The first byte picks caseless; the rest is split at the
 * first NUL into the pattern and the subject (no NUL: the input is
 * both).  Checks: compile either succeeds or writes a message, match
 * returns -1, 0 or 1, a pattern matches the same way twice, and a
 * freed (or failed) pattern never matches.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_pattern.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             caseless, r1, r2;
    char            err[256];
    size_t          rlen, slen;
    const uint8_t  *nul, *subj;
    llr_pattern_t   p;

    if (size < 1) {
        return 0;
    }

    caseless = data[0] & 1;
    data++;
    size--;

    nul = memchr(data, '\0', size);
    if (nul != NULL) {
        rlen = (size_t) (nul - data);
        subj = nul + 1;
        slen = size - rlen - 1;

    } else {
        rlen = size;
        subj = data;
        slen = size;
    }

    err[0] = '\0';

    if (llr_pattern_compile(&p, (const char *) data, rlen, caseless, err,
                            sizeof(err))
        != 0)
    {
        if (err[0] == '\0' || p.code != NULL || p.md != NULL
            || llr_pattern_match(&p, subj, slen) != -1)
        {
            abort();
        }
        return 0;
    }

    r1 = llr_pattern_match(&p, subj, slen);
    r2 = llr_pattern_match(&p, subj, slen);

    if (r1 < -1 || r1 > 1 || r1 != r2) {
        abort();
    }

    llr_pattern_free(&p);

    if (p.code != NULL || p.md != NULL
        || llr_pattern_match(&p, subj, slen) != -1)
    {
        abort();
    }

    return 0;
}
