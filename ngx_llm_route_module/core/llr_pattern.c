/*
 * ngx_llm_route_module: regular expressions for routing rules.
 */

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdio.h>
#include <string.h>
#include <pcre2.h>

#include "llr_pattern.h"


int
llr_pattern_compile(llr_pattern_t *p, const char *re, size_t len,
    int caseless, char *err, size_t errlen)
{
    int          rc;
    uint32_t     options;
    PCRE2_SIZE   off;
    pcre2_code  *code;
    PCRE2_UCHAR  msg[128];

    p->code = NULL;
    p->md = NULL;

    /*
     * Invalid UTF-8 in a subject is not an error: message text was
     * validated by the request scanner, other subjects are matched
     * byte-wise (PCRE2_MATCH_INVALID_UTF)
     */
    options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;

    if (caseless) {
        options |= PCRE2_CASELESS;
    }

    code = pcre2_compile((PCRE2_SPTR) re, len, options, &rc, &off, NULL);

    if (code == NULL) {
        pcre2_get_error_message(rc, msg, sizeof(msg));
        snprintf(err, errlen, "%s at offset %zu", (char *) msg,
                 (size_t) off);
        return -1;
    }

    (void) pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);

    p->md = pcre2_match_data_create_from_pattern(code, NULL);

    if (p->md == NULL) {
        pcre2_code_free(code);
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    p->code = code;

    return 0;
}


int
llr_pattern_match(const llr_pattern_t *p, const unsigned char *s, size_t len)
{
    int  rc;

    if (p->code == NULL) {
        return -1;
    }

    rc = pcre2_match(p->code, (PCRE2_SPTR) s, len, 0, 0, p->md, NULL);

    if (rc >= 0) {
        return 1;
    }

    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }

    return -1;
}


void
llr_pattern_free(llr_pattern_t *p)
{
    if (p->md) {
        pcre2_match_data_free(p->md);
        p->md = NULL;
    }

    if (p->code) {
        pcre2_code_free(p->code);
        p->code = NULL;
    }
}
