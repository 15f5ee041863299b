/*
 * ngx_llm_route_module: an incremental JSON validator (see llr_jsonv.h).
 */

#include <string.h>

#include "llr_jsonv.h"


enum {
    J_VAL = 0,          /* a value is expected */
    J_VAL_OR_CLOSE,     /* after '[' */
    J_KEY_OR_CLOSE,     /* after '{' */
    J_KEY,              /* after ',' in an object */
    J_COLON,
    J_AFTER,            /* after a value in a container */
    J_END,              /* after the top-level value */
    J_STR,
    J_ESC,              /* after '\\' */
    J_HEX,              /* in \uXXXX, sub digits read */
    J_UTF8,             /* sub continuation bytes due, next in lo..hi */
    J_MINUS,            /* "-" */
    J_ZERO,             /* "0" or "-0" */
    J_INT,              /* [1-9][0-9]* */
    J_DOT,              /* "1." */
    J_FRAC,             /* "1.5" */
    J_E,                /* "1e" */
    J_ESIGN,            /* "1e+" */
    J_EXP,              /* "1e5" */
    J_LIT,              /* in true, false or null */
    J_BAD,
    J_DEEP
};


static const char  *llr_jsonv_lits[] = { "true", "false", "null" };


/* bytes that may follow '\\' */
static const uint8_t  llr_jsonv_esc[256] = {
    ['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1, ['f'] = 1, ['n'] = 1,
    ['r'] = 1, ['t'] = 1, ['u'] = 1
};


#define llr_jsonv_ws(c)  ((c) == ' ' || (c) == '\t' || (c) == '\n'           \
                          || (c) == '\r')
#define llr_jsonv_digit(c)  ((c) >= '0' && (c) <= '9')
#define llr_jsonv_hex(c)  (llr_jsonv_digit(c)                                \
                           || (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'f'))


void
llr_jsonv_init(llr_jsonv_t *v)
{
    memset(v, 0, offsetof(llr_jsonv_t, stack));
    v->state = J_VAL;
}


int
llr_jsonv_result(const llr_jsonv_t *v)
{
    switch (v->state) {
    case J_BAD:
        return LLR_JSONV_INVALID;
    case J_DEEP:
        return LLR_JSONV_DEEP;
    default:
        return LLR_JSONV_MORE;
    }
}


/*
 * The lead byte of a UTF-8 character: the continuation bytes it needs
 * and the range of the first of them; 0 if it leads none.
 */
static unsigned
llr_jsonv_lead(llr_jsonv_t *v, unsigned c)
{
    v->lo = 0x80;
    v->hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        return 1;
    }

    if (c >= 0xe0 && c <= 0xef) {
        if (c == 0xe0) {
            v->lo = 0xa0;             /* no overlong form */

        } else if (c == 0xed) {
            v->hi = 0x9f;             /* no surrogate */
        }

        return 2;
    }

    if (c >= 0xf0 && c <= 0xf4) {
        if (c == 0xf0) {
            v->lo = 0x90;

        } else if (c == 0xf4) {
            v->hi = 0x8f;             /* nothing above U+10FFFF */
        }

        return 3;
    }

    return 0;
}


int
llr_jsonv_feed(llr_jsonv_t *v, const unsigned char *data, size_t len)
{
    unsigned              c, n;
    const unsigned char  *p, *end;

    p = data;
    end = data + len;

    while (p < end) {
        c = *p;

        switch (v->state) {

        case J_VAL_OR_CLOSE:
            if (c == ']') {
                v->depth--;
                p++;
                goto value_end;
            }

            /* fall through */

        case J_VAL:
            if (llr_jsonv_ws(c)) {
                p++;
                break;
            }

            p++;

            switch (c) {
            case '"':
                v->key = 0;
                v->state = J_STR;
                break;

            case '{':
            case '[':
                if (v->depth == LLR_JSONV_MAX_DEPTH) {
                    v->state = J_DEEP;
                    p--;
                    goto stop;
                }

                n = v->depth++;

                if (c == '[') {
                    v->stack[n >> 3] |= (uint8_t) (1u << (n & 7));
                    v->state = J_VAL_OR_CLOSE;

                } else {
                    v->stack[n >> 3] &= (uint8_t) ~(1u << (n & 7));
                    v->state = J_KEY_OR_CLOSE;
                }

                break;

            case '-':
                v->state = J_MINUS;
                break;

            case '0':
                v->state = J_ZERO;
                break;

            case 't':
            case 'f':
            case 'n':
                v->lit = (c == 't') ? 0 : (c == 'f') ? 1 : 2;
                v->sub = 1;
                v->state = J_LIT;
                break;

            default:
                if (c >= '1' && c <= '9') {
                    v->state = J_INT;
                    break;
                }

                p--;
                goto bad;
            }

            break;

        case J_KEY_OR_CLOSE:
        case J_KEY:
            if (llr_jsonv_ws(c)) {
                p++;
                break;
            }

            if (c == '}' && v->state == J_KEY_OR_CLOSE) {
                v->depth--;
                p++;
                goto value_end;
            }

            if (c != '"') {
                goto bad;
            }

            p++;
            v->key = 1;
            v->state = J_STR;
            break;

        case J_COLON:
            if (llr_jsonv_ws(c)) {
                p++;
                break;
            }

            if (c != ':') {
                goto bad;
            }

            p++;
            v->state = J_VAL;
            break;

        case J_AFTER:
            if (llr_jsonv_ws(c)) {
                p++;
                break;
            }

            n = v->depth - 1;
            n = (v->stack[n >> 3] >> (n & 7)) & 1;

            if (c == ',') {
                p++;
                v->state = n ? J_VAL : J_KEY;
                break;
            }

            if (c == (n ? ']' : '}')) {
                v->depth--;
                p++;
                goto value_end;
            }

            goto bad;

        case J_END:
            if (!llr_jsonv_ws(c)) {
                goto bad;
            }

            p++;
            break;

        case J_STR:
            /* the common bytes at once */
            while (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                if (++p == end) {
                    goto done;
                }

                c = *p;
            }

            p++;

            if (c == '"') {
                if (v->key) {
                    v->state = J_COLON;
                    break;
                }

                goto value_end;
            }

            if (c == '\\') {
                v->state = J_ESC;
                break;
            }

            if (c < 0x20) {
                p--;
                goto bad;
            }

            n = llr_jsonv_lead(v, c);

            if (n == 0) {
                p--;
                goto bad;
            }

            v->sub = (uint8_t) n;
            v->state = J_UTF8;
            break;

        case J_UTF8:
            if (c < v->lo || c > v->hi) {
                goto bad;
            }

            p++;
            v->lo = 0x80;
            v->hi = 0xbf;

            if (--v->sub == 0) {
                v->state = J_STR;
            }

            break;

        case J_ESC:
            if (!llr_jsonv_esc[c]) {
                goto bad;
            }

            p++;

            if (c == 'u') {
                v->sub = 0;
                v->state = J_HEX;
                break;
            }

            v->state = J_STR;
            break;

        case J_HEX:
            if (!llr_jsonv_hex(c)) {
                goto bad;
            }

            p++;

            if (++v->sub == 4) {
                v->state = J_STR;
            }

            break;

        case J_MINUS:
            if (c == '0') {
                p++;
                v->state = J_ZERO;
                break;
            }

            if (c >= '1' && c <= '9') {
                p++;
                v->state = J_INT;
                break;
            }

            goto bad;

        case J_INT:
            while (llr_jsonv_digit(c)) {
                if (++p == end) {
                    goto done;
                }

                c = *p;
            }

            /* fall through */

        case J_ZERO:
            if (c == '.') {
                p++;
                v->state = J_DOT;
                break;
            }

            /* fall through */

        case J_FRAC:
            if (v->state == J_FRAC) {
                while (llr_jsonv_digit(c)) {
                    if (++p == end) {
                        goto done;
                    }

                    c = *p;
                }
            }

            if (c == 'e' || c == 'E') {
                p++;
                v->state = J_E;
                break;
            }

            /* the number ended before this byte */
            goto value_end;

        case J_DOT:
            if (!llr_jsonv_digit(c)) {
                goto bad;
            }

            p++;
            v->state = J_FRAC;
            break;

        case J_E:
            if (c == '+' || c == '-') {
                p++;
                v->state = J_ESIGN;
                break;
            }

            /* fall through */

        case J_ESIGN:
            if (!llr_jsonv_digit(c)) {
                goto bad;
            }

            p++;
            v->state = J_EXP;
            break;

        case J_EXP:
            while (llr_jsonv_digit(c)) {
                if (++p == end) {
                    goto done;
                }

                c = *p;
            }

            goto value_end;

        case J_LIT:
            if (c != (unsigned char) llr_jsonv_lits[v->lit][v->sub]) {
                goto bad;
            }

            p++;

            if (llr_jsonv_lits[v->lit][++v->sub] != '\0') {
                break;
            }

            goto value_end;

        default: /* J_BAD, J_DEEP */
            return llr_jsonv_result(v);
        }

        continue;

    value_end:

        v->state = v->depth ? J_AFTER : J_END;
    }

done:

    v->offset += len;

    return LLR_JSONV_MORE;

bad:

    v->state = J_BAD;

stop:

    v->offset += (uint64_t) (p - data);

    return llr_jsonv_result(v);
}


int
llr_jsonv_finish(llr_jsonv_t *v)
{
    switch (v->state) {

    case J_END:
        return LLR_JSONV_VALID;

    case J_ZERO:
    case J_INT:
    case J_FRAC:
    case J_EXP:
        /* a number at the top level ends with the text */
        if (v->depth == 0) {
            v->state = J_END;
            return LLR_JSONV_VALID;
        }

        break;

    case J_DEEP:
        return LLR_JSONV_DEEP;
    }

    v->state = J_BAD;

    return LLR_JSONV_INVALID;
}
