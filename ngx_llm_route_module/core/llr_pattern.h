/*
 * ngx_llm_route_module: regular expressions for routing rules.
 *
 * Plain C over pcre2, no nginx headers.  A compiled pattern is
 * read-only except for its match-data block, used sequentially: one
 * nginx worker is one thread.  Patterns are JIT-compiled when pcre2
 * supports it.
 */

#ifndef _LLR_PATTERN_H_INCLUDED_
#define _LLR_PATTERN_H_INCLUDED_

#include <stddef.h>


typedef struct {
    void    *code;     /* pcre2_code * */
    void    *md;       /* pcre2_match_data * */
} llr_pattern_t;


/*
 * Compile re (len bytes, UTF-8 mode); caseless for ~*.  Returns 0, or
 * -1 with a message in err.
 */
int llr_pattern_compile(llr_pattern_t *p, const char *re, size_t len,
    int caseless, char *err, size_t errlen);

/* 1 if the pattern matches somewhere in s, 0 if not, -1 on error */
int llr_pattern_match(const llr_pattern_t *p, const unsigned char *s,
    size_t len);

void llr_pattern_free(llr_pattern_t *p);


#endif /* _LLR_PATTERN_H_INCLUDED_ */
