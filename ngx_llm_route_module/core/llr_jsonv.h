/*
 * ngx_llm_route_module: an incremental JSON validator.
 *
 * Plain C, no nginx headers, no allocation, no global state.
 *
 * Says whether a text is exactly one JSON value (RFC 8259) with
 * optional white space around it, fed in pieces split at any byte
 * (inside a token, an escape or a UTF-8 character): the quality
 * signals check tool-call arguments and JSON-mode answers with it as
 * their decoded text arrives, without keeping the text.
 *
 * Strict, as RFC 8259 and Unicode say:
 *   - white space is space, tab, line feed and carriage return only;
 *   - a string holds no byte below 0x20, its escapes are \" \\ \/ \b
 *     \f \n \r \t \uXXXX (a \u escape of a lone surrogate is valid
 *     JSON text, as the grammar says), and its bytes are well-formed
 *     UTF-8 (Unicode Table 3-7: no overlong form, no surrogate, nothing
 *     above U+10FFFF);
 *   - numbers are -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?;
 *   - nothing but white space after the value; an empty text is not
 *     JSON.
 * yajl differs in four places, which t/unit/test_jsonv.c allows for
 * when it compares the two on random texts: it takes \v and \f for
 * white space, accepts any lead and continuation bytes of the right
 * shape (overlong forms, surrogates, up to 0x7fffffff), and accepts an
 * unfinished string after the value ("{} \"").
 *
 * Nesting deeper than LLR_JSONV_MAX_DEPTH gives LLR_JSONV_DEEP (not
 * known): the state is fixed, LLR_JSONV_MAX_DEPTH / 8 bytes of it the
 * stack of open containers.
 */

#ifndef _LLR_JSONV_H_INCLUDED_
#define _LLR_JSONV_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


#define LLR_JSONV_MAX_DEPTH  256


/* results */
#define LLR_JSONV_MORE       0     /* no verdict yet: feed more, or finish */
#define LLR_JSONV_VALID      1
#define LLR_JSONV_INVALID    2
#define LLR_JSONV_DEEP       3     /* nested too deep: not known */


typedef struct {
    uint8_t     state;
    uint8_t     sub;         /* inside a token: literal position, hex
                                digits read, UTF-8 bytes still due */
    uint8_t     lit;         /* which literal */
    uint8_t     lo;          /* the range of the next UTF-8 byte */
    uint8_t     hi;
    unsigned    key:1;       /* the string is an object's key */
    uint16_t    depth;
    uint64_t    offset;      /* bytes taken; where it failed, if it did */
    uint8_t     stack[LLR_JSONV_MAX_DEPTH / 8];  /* 1: an array */
} llr_jsonv_t;


void llr_jsonv_init(llr_jsonv_t *v);

/*
 * The next piece.  Returns LLR_JSONV_INVALID or LLR_JSONV_DEEP once
 * that is known (the same on every later call: the rest is not read;
 * v->offset is the offset of the byte that decided it), otherwise
 * LLR_JSONV_MORE.
 */
int llr_jsonv_feed(llr_jsonv_t *v, const unsigned char *data, size_t len);

/* the end of the text: LLR_JSONV_VALID, _INVALID or _DEEP */
int llr_jsonv_finish(llr_jsonv_t *v);

/* the verdict so far: LLR_JSONV_MORE while nothing is decided */
int llr_jsonv_result(const llr_jsonv_t *v);


#endif /* _LLR_JSONV_H_INCLUDED_ */
