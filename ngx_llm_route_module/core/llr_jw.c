/*
 * ngx_llm_route_module: a compact JSON writer.
 */

#include <string.h>

#include "llr_jw.h"


#if defined(__GNUC__)
#define llr_jw_likely(c)   __builtin_expect(!!(c), 1)
#else
#define llr_jw_likely(c)   (c)
#endif

#define llr_jw_bit(d)      ((uint64_t) 1 << ((d) % 64))


/* the bytes a JSON string takes as they are: printable ASCII but " and \ */
static const uint8_t  llr_jw_plain[256] = {
    [' '] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1,
    ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1, [','] = 1,
    ['-'] = 1, ['.'] = 1, ['/'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, [':'] = 1, [';'] = 1, ['<'] = 1, ['='] = 1, ['>'] = 1,
    ['?'] = 1, ['@'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
    ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
    ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['['] = 1, [']'] = 1,
    ['^'] = 1, ['_'] = 1, ['`'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,
    ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['{'] = 1,
    ['|'] = 1, ['}'] = 1, ['~'] = 1
};


static unsigned char *llr_jw_grow(llr_jw_t *w, size_t n);

#define llr_jw_has(w, d)   ((w)->some[(d) / 64] & llr_jw_bit(d))
#define llr_jw_set(w, d)   ((w)->some[(d) / 64] |= llr_jw_bit(d))
#define llr_jw_clear(w, d) ((w)->some[(d) / 64] &= ~llr_jw_bit(d))


void
llr_jw_init(llr_jw_t *w, const llr_alloc_t *alloc)
{
    memset(w, 0, sizeof(llr_jw_t));
    w->alloc = *alloc;
}


void
llr_jw_reset(llr_jw_t *w)
{
    w->len = 0;
    w->failed = 0;
    llr_jw_top(w);
}


void
llr_jw_top(llr_jw_t *w)
{
    w->depth = 0;
    w->after_key = 0;
    memset(w->some, 0, sizeof(w->some));
}


void
llr_jw_resume(llr_jw_t *w, unsigned depth)
{
    unsigned  d;

    llr_jw_top(w);

    if (depth > LLR_JW_MAX_DEPTH) {
        w->failed = 1;
        return;
    }

    for (d = 0; d + 1 < depth; d++) {
        llr_jw_set(w, d);
    }

    w->depth = depth;
}


void
llr_jw_free(llr_jw_t *w)
{
    if (w->data && w->alloc.free) {
        w->alloc.free(w->alloc.ctx, w->data);
    }

    w->data = NULL;
    w->cap = 0;
    llr_jw_reset(w);
}


/* room for n more bytes: the place to write them, or NULL */

static inline unsigned char *
llr_jw_room(llr_jw_t *w, size_t n)
{
    if (llr_jw_likely(n <= w->cap - w->len && w->data != NULL
                      && !w->failed))
    {
        return w->data + w->len;
    }

    return llr_jw_grow(w, n);
}


static unsigned char *
llr_jw_grow(llr_jw_t *w, size_t n)
{
    size_t          cap;
    unsigned char  *p;

    if (w->failed || n > SIZE_MAX / 2 - w->len) {
        w->failed = 1;
        return NULL;
    }

    cap = w->cap ? w->cap : 256;

    while (cap - w->len < n) {
        cap *= 2;
    }

    p = w->alloc.realloc(w->alloc.ctx, w->data, cap);
    if (p == NULL) {
        w->failed = 1;
        return NULL;
    }

    w->data = p;
    w->cap = cap;

    return w->data + w->len;
}


void
llr_jw_raw(llr_jw_t *w, const void *s, size_t len)
{
    unsigned char  *p;

    p = llr_jw_room(w, len);

    if (p && len) {
        memcpy(p, s, len);
        w->len += len;
    }
}


/* before a value: the comma after the previous one in its container */

static void
llr_jw_sep(llr_jw_t *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }

    if (w->depth == 0) {
        return;
    }

    if (llr_jw_has(w, w->depth - 1)) {
        llr_jw_raw(w, ",", 1);

    } else {
        llr_jw_set(w, w->depth - 1);
    }
}


void
llr_jw_open(llr_jw_t *w, int object)
{
    llr_jw_sep(w);

    if (w->depth == LLR_JW_MAX_DEPTH) {
        w->failed = 1;
        return;
    }

    llr_jw_raw(w, object ? "{" : "[", 1);
    llr_jw_clear(w, w->depth);
    w->depth++;
}


void
llr_jw_close(llr_jw_t *w, int object)
{
    if (w->depth == 0) {
        w->failed = 1;
        return;
    }

    llr_jw_raw(w, object ? "}" : "]", 1);
    w->depth--;
    w->after_key = 0;
}


static void
llr_jw_string(llr_jw_t *w, const void *s, size_t len)
{
    size_t                n;
    unsigned char        *p;
    const unsigned char  *b;

    /* most strings need no escape: copied as they are */

    b = s;

    for (n = 0; n < len && llr_jw_plain[b[n]]; n++) {
        /* void */
    }

    if (n == len) {
        p = llr_jw_room(w, len + 2);
        if (p == NULL) {
            return;
        }

        *p++ = '"';
        memcpy(p, s, len);
        p[len] = '"';
        w->len += len + 2;
        return;
    }

    n = llr_json_escape_len(s, len);

    p = llr_jw_room(w, n + 2);
    if (p == NULL) {
        return;
    }

    *p++ = '"';
    p += llr_json_escape(p, s, len);
    *p = '"';
    w->len += n + 2;
}


void
llr_jw_keyn(llr_jw_t *w, const char *key, size_t len)
{
    if (w->depth == 0) {
        w->failed = 1;
        return;
    }

    if (llr_jw_has(w, w->depth - 1)) {
        llr_jw_raw(w, ",", 1);

    } else {
        llr_jw_set(w, w->depth - 1);
    }

    llr_jw_string(w, key, len);
    llr_jw_raw(w, ":", 1);
    w->after_key = 1;
}


void
llr_jw_key(llr_jw_t *w, const char *key)
{
    llr_jw_keyn(w, key, strlen(key));
}


void
llr_jw_str(llr_jw_t *w, const void *s, size_t len)
{
    llr_jw_sep(w);
    llr_jw_string(w, s, len);
}


void
llr_jw_cstr(llr_jw_t *w, const char *s)
{
    llr_jw_str(w, s, strlen(s));
}


void
llr_jw_num(llr_jw_t *w, const char *s, size_t len)
{
    llr_jw_sep(w);
    llr_jw_raw(w, s, len);
}


void
llr_jw_uint(llr_jw_t *w, uint64_t v)
{
    char  buf[24], *p;

    p = buf + sizeof(buf);

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    llr_jw_num(w, p, (size_t) (buf + sizeof(buf) - p));
}


void
llr_jw_int(llr_jw_t *w, int64_t v)
{
    char      buf[24], *p;
    uint64_t  u;

    u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
    p = buf + sizeof(buf);

    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (v < 0) {
        *--p = '-';
    }

    llr_jw_num(w, p, (size_t) (buf + sizeof(buf) - p));
}


void
llr_jw_bool(llr_jw_t *w, int b)
{
    llr_jw_num(w, b ? "true" : "false", b ? 4 : 5);
}


void
llr_jw_null(llr_jw_t *w)
{
    llr_jw_num(w, "null", 4);
}


void
llr_jw_value(llr_jw_t *w, const llr_jv_t *v)
{
    const llr_jv_t  *m;

    switch (v->type) {

    case LLR_JV_NULL:
        llr_jw_null(w);
        break;

    case LLR_JV_FALSE:
    case LLR_JV_TRUE:
        llr_jw_bool(w, v->type == LLR_JV_TRUE);
        break;

    case LLR_JV_NUMBER:
        llr_jw_num(w, v->str, v->len);
        break;

    case LLR_JV_STRING:
        llr_jw_str(w, v->str, v->len);
        break;

    case LLR_JV_ARRAY:
        llr_jw_arr(w);

        for (m = v->child; m; m = m->next) {
            llr_jw_value(w, m);
        }

        llr_jw_arr_end(w);
        break;

    default: /* LLR_JV_OBJECT */
        llr_jw_obj(w);

        for (m = v->child; m; m = m->next) {
            llr_jw_keyn(w, m->key, m->key_len);
            llr_jw_value(w, m);
        }

        llr_jw_obj_end(w);
        break;
    }
}


void
llr_jw_member_str(llr_jw_t *w, const char *key, const llr_jv_t *v)
{
    llr_jw_key(w, key);

    if (v && v->type == LLR_JV_STRING) {
        llr_jw_str(w, v->str, v->len);

    } else {
        llr_jw_str(w, "", 0);
    }
}


void
llr_jw_value_str(llr_jw_t *w, llr_jw_t *scratch, const llr_jv_t *v)
{
    llr_jw_reset(scratch);
    llr_jw_value(scratch, v);

    if (scratch->failed) {
        w->failed = 1;
        return;
    }

    llr_jw_str(w, scratch->data, scratch->len);
}
