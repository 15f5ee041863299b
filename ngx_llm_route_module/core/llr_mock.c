/*
 * ngx_llm_route_module: what the mock provider answers, computed: a JSON
 * tree parser, the parts of a request that shape the answer, and
 * instances of JSON schemas.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llr_mock.h"
#include "llr_usage.h"


#define LLR_JV_BLOCK       4096
#define LLR_JV_ALIGN       sizeof(double)
#define LLR_SCHEMA_REFS    16          /* $ref hops for one value */
#define LLR_SCHEMA_BRANCH  16          /* allOf branches merged */
#define LLR_SCHEMA_SHALLOW 6           /* arrays get an element above */


struct llr_jv_block_s {
    llr_jv_block_t  *next;
    size_t           size;
    size_t           used;
};


typedef struct {
    const unsigned char  *p;
    const unsigned char  *end;
    llr_jv_doc_t         *doc;
    unsigned              depth;
    int                 (*want)(const char *key, size_t len);
    const char           *err;
} llr_jv_parser_t;


/* an instance being written */
typedef struct {
    char            *buf;
    size_t           size;
    size_t           len;
    unsigned         values;
    unsigned         over:1;
    const llr_jv_t  *root;
} llr_sw_t;


static void *llr_jv_palloc(llr_jv_doc_t *doc, size_t size);
static int llr_jv_value(llr_jv_parser_t *ps, llr_jv_t **out);
static int llr_jv_string(llr_jv_parser_t *ps, char **out, size_t *len);
static int llr_jv_number(llr_jv_parser_t *ps);
static void llr_jv_ws(llr_jv_parser_t *ps);
static void llr_jv_fail(llr_jv_parser_t *ps, const char *err);

static const llr_jv_t *llr_mock_function(const llr_jv_t *tool,
    int responses, const llr_jv_t **params);

static void llr_sw_value(llr_sw_t *w, const llr_jv_t *s, unsigned depth);
static void llr_sw_object(llr_sw_t *w, const llr_jv_t **s, size_t n,
    unsigned depth);
static const llr_jv_t *llr_sw_member(llr_sw_t *w, const llr_jv_t *s,
    const char *key, llr_jv_type_e type);
static int llr_sw_described(const llr_jv_t **s, size_t n, const char *name);
static void llr_sw_key(llr_sw_t *w, int *first, const char *key,
    size_t len);
static void llr_sw_array(llr_sw_t *w, const llr_jv_t *s, unsigned depth);
static void llr_sw_string(llr_sw_t *w, const llr_jv_t *s);
static void llr_sw_number(llr_sw_t *w, const llr_jv_t *s, int integer);
static void llr_sw_json(llr_sw_t *w, const llr_jv_t *v);
static void llr_sw_str(llr_sw_t *w, const char *s, size_t n);
static void llr_sw_put(llr_sw_t *w, const char *s, size_t n);
static const llr_jv_t *llr_sw_resolve(llr_sw_t *w, const llr_jv_t *s);
static const char *llr_sw_type(const llr_jv_t *s);


/* ---- the tree ------------------------------------------------------- */

llr_jv_doc_t *
llr_jv_parse(const llr_alloc_t *alloc, const unsigned char *data,
    size_t len, int (*want)(const char *key, size_t len), const char **err)
{
    llr_jv_doc_t     *doc;
    llr_jv_parser_t   ps;

    doc = alloc->malloc(alloc->ctx, sizeof(llr_jv_doc_t));
    if (doc == NULL) {
        if (err) {
            *err = "out of memory";
        }

        return NULL;
    }

    doc->root = NULL;
    doc->blocks = NULL;
    doc->alloc = *alloc;

    ps.p = data;
    ps.end = data + len;
    ps.doc = doc;
    ps.depth = 0;
    ps.want = want;
    ps.err = NULL;

    llr_jv_ws(&ps);

    if (llr_jv_value(&ps, &doc->root) == 0) {
        llr_jv_ws(&ps);

        if (ps.p != ps.end) {
            llr_jv_fail(&ps, "unexpected bytes after the JSON value");
        }
    }

    if (ps.err) {
        if (err) {
            *err = ps.err;
        }

        llr_jv_free(doc);
        return NULL;
    }

    return doc;
}


void
llr_jv_free(llr_jv_doc_t *doc)
{
    llr_jv_block_t  *b, *next;

    if (doc == NULL) {
        return;
    }

    for (b = doc->blocks; b; b = next) {
        next = b->next;

        if (doc->alloc.free) {
            doc->alloc.free(doc->alloc.ctx, b);
        }
    }

    if (doc->alloc.free) {
        doc->alloc.free(doc->alloc.ctx, doc);
    }
}


const llr_jv_t *
llr_jv_get(const llr_jv_t *obj, const char *key)
{
    size_t           n;
    const llr_jv_t  *m, *found;

    if (obj == NULL || obj->type != LLR_JV_OBJECT) {
        return NULL;
    }

    n = strlen(key);
    found = NULL;

    for (m = obj->child; m; m = m->next) {
        if (m->key_len == n && memcmp(m->key, key, n) == 0) {
            found = m;
        }
    }

    return found;
}


int
llr_jv_is(const llr_jv_t *v, const char *s)
{
    size_t  n;

    if (v == NULL || v->type != LLR_JV_STRING) {
        return 0;
    }

    n = strlen(s);

    return v->len == n && memcmp(v->str, s, n) == 0;
}


static void *
llr_jv_palloc(llr_jv_doc_t *doc, size_t size)
{
    size_t           bsize, off;
    llr_jv_block_t  *b;

    size = (size + LLR_JV_ALIGN - 1) & ~(LLR_JV_ALIGN - 1);
    off = (sizeof(llr_jv_block_t) + LLR_JV_ALIGN - 1) & ~(LLR_JV_ALIGN - 1);

    b = doc->blocks;

    if (b == NULL || b->size - b->used < size) {
        bsize = off + (size > LLR_JV_BLOCK ? size : LLR_JV_BLOCK);

        b = doc->alloc.malloc(doc->alloc.ctx, bsize);
        if (b == NULL) {
            return NULL;
        }

        b->size = bsize;
        b->used = off;

        /* a large piece does not take the room of the current block */

        if (size > LLR_JV_BLOCK && doc->blocks) {
            b->next = doc->blocks->next;
            doc->blocks->next = b;

        } else {
            b->next = doc->blocks;
            doc->blocks = b;
        }
    }

    b->used += size;

    return (unsigned char *) b + b->used - size;
}


static void
llr_jv_fail(llr_jv_parser_t *ps, const char *err)
{
    if (ps->err == NULL) {
        ps->err = err;
    }
}


static void
llr_jv_ws(llr_jv_parser_t *ps)
{
    while (ps->p < ps->end
           && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n'
               || *ps->p == '\r'))
    {
        ps->p++;
    }
}


/*
 * The value at ps->p into *out, or (out NULL) only checked.  Returns 0,
 * or -1 on an error (ps->err).
 */

static int
llr_jv_value(llr_jv_parser_t *ps, llr_jv_t **out)
{
    char        *s, **sp;
    size_t       len;
    llr_jv_t    *v, *item, **last, **ip;
    const char  *lit;

    if (ps->p == ps->end) {
        llr_jv_fail(ps, "unexpected end of the JSON text");
        return -1;
    }

    v = NULL;

    if (out) {
        v = llr_jv_palloc(ps->doc, sizeof(llr_jv_t));
        if (v == NULL) {
            llr_jv_fail(ps, "out of memory");
            return -1;
        }

        memset(v, 0, sizeof(llr_jv_t));
        *out = v;
    }

    switch (*ps->p) {

    case '{':
    case '[':
        if (++ps->depth > LLR_JV_MAX_DEPTH) {
            llr_jv_fail(ps, "the JSON text is nested too deep");
            return -1;
        }

        lit = (*ps->p == '{') ? "}" : "]";

        if (v) {
            v->type = (*lit == '}') ? LLR_JV_OBJECT : LLR_JV_ARRAY;
        }

        ps->p++;
        llr_jv_ws(ps);

        last = v ? &v->child : NULL;

        if (ps->p < ps->end && *ps->p == *lit) {
            ps->p++;
            ps->depth--;
            return 0;
        }

        for ( ;; ) {
            s = NULL;
            len = 0;
            ip = v ? &item : NULL;

            if (*lit == '}') {
                if (ps->p == ps->end || *ps->p != '"') {
                    llr_jv_fail(ps, "a member name was expected");
                    return -1;
                }

                sp = v ? &s : NULL;

                if (llr_jv_string(ps, sp, &len) != 0) {
                    return -1;
                }

                /* at the top level, only the wanted members are kept */

                if (v && ps->depth == 1 && ps->want && !ps->want(s, len)) {
                    ip = NULL;
                }

                llr_jv_ws(ps);

                if (ps->p == ps->end || *ps->p != ':') {
                    llr_jv_fail(ps, "':' was expected");
                    return -1;
                }

                ps->p++;
                llr_jv_ws(ps);
            }

            if (llr_jv_value(ps, ip) != 0) {
                return -1;
            }

            if (ip) {
                item->key = s;
                item->key_len = len;
                *last = item;
                last = &item->next;
                v->n++;
            }

            llr_jv_ws(ps);

            if (ps->p == ps->end) {
                llr_jv_fail(ps, "unexpected end of the JSON text");
                return -1;
            }

            if (*ps->p == ',') {
                ps->p++;
                llr_jv_ws(ps);
                continue;
            }

            if (*ps->p == *lit) {
                ps->p++;
                ps->depth--;
                return 0;
            }

            llr_jv_fail(ps, "',' or the end of a container was "
                        "expected");
            return -1;
        }

    case '"':
        if (llr_jv_string(ps, v ? &s : NULL, &len) != 0) {
            return -1;
        }

        if (v) {
            v->type = LLR_JV_STRING;
            v->str = s;
            v->len = len;
        }

        return 0;

    case 't':
        lit = "true";
        break;

    case 'f':
        lit = "false";
        break;

    case 'n':
        lit = "null";
        break;

    default:
        s = (char *) ps->p;

        if (llr_jv_number(ps) != 0) {
            return -1;
        }

        if (v) {
            len = (size_t) ((char *) ps->p - s);

            v->type = LLR_JV_NUMBER;
            v->len = len;
            v->str = llr_jv_palloc(ps->doc, len + 1);

            if (v->str == NULL) {
                llr_jv_fail(ps, "out of memory");
                return -1;
            }

            memcpy((char *) v->str, s, len);
            ((char *) v->str)[len] = '\0';
            v->num = strtod(v->str, NULL);
        }

        return 0;
    }

    len = strlen(lit);

    if ((size_t) (ps->end - ps->p) < len || memcmp(ps->p, lit, len) != 0) {
        llr_jv_fail(ps, "an unknown literal");
        return -1;
    }

    ps->p += len;

    if (v) {
        v->type = (*lit == 't') ? LLR_JV_TRUE
                  : (*lit == 'f') ? LLR_JV_FALSE : LLR_JV_NULL;
    }

    return 0;
}


/*
 * A string at ps->p (its opening quote), checked; decoded into memory of
 * the document when out is not NULL (NUL-terminated, *len bytes).
 */

static int
llr_jv_string(llr_jv_parser_t *ps, char **out, size_t *len)
{
    size_t                n;
    uint32_t              cp, lo;
    unsigned char        *d, u8[4];
    const unsigned char  *p, *q;

    p = ps->p + 1;

    /* the closing quote, for the size: decoded is never longer */

    for (q = p; q < ps->end && *q != '"'; q++) {
        if (*q == '\\' && ++q == ps->end) {
            break;
        }
    }

    if (q == ps->end) {
        llr_jv_fail(ps, "a string is not terminated");
        return -1;
    }

    d = NULL;

    if (out) {
        d = llr_jv_palloc(ps->doc, (size_t) (q - p) + 1);
        if (d == NULL) {
            llr_jv_fail(ps, "out of memory");
            return -1;
        }

        *out = (char *) d;
    }

    n = 0;

    while (p < q) {
        if (*p < 0x20) {
            llr_jv_fail(ps, "a control character in a string");
            return -1;
        }

        if (*p >= 0x80) {
            cp = (unsigned) llr_utf8_char(p, (size_t) (q - p));

            if (cp == 0) {
                llr_jv_fail(ps, "a string is not UTF-8");
                return -1;
            }

            if (d) {
                memcpy(d + n, p, cp);
            }

            n += cp;
            p += cp;
            continue;
        }

        if (*p != '\\') {
            if (d) {
                d[n] = *p;
            }

            n++;
            p++;
            continue;
        }

        /* an escape: the closing quote was found after it, so p + 1 < q */

        p++;

        switch (*p) {
        case '"': case '\\': case '/':
            cp = *p;
            break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;

        case 'u':
            if (q - p < 5 || llr_json_hex4(p + 1, &cp) != 0) {
                llr_jv_fail(ps, "a bad \\u escape");
                return -1;
            }

            p += 4;

            if (cp >= 0xdc00 && cp <= 0xdfff) {
                llr_jv_fail(ps, "a lone low surrogate");
                return -1;
            }

            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (q - p < 7 || p[1] != '\\' || p[2] != 'u'
                    || llr_json_hex4(p + 3, &lo) != 0
                    || lo < 0xdc00 || lo > 0xdfff)
                {
                    llr_jv_fail(ps, "a lone high surrogate");
                    return -1;
                }

                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }

            break;

        default:
            llr_jv_fail(ps, "a bad escape in a string");
            return -1;
        }

        p++;

        /* UTF-8 of cp (an escape never takes more bytes than it had) */

        n += llr_utf8_put(d ? d + n : u8, cp);
    }

    if (d) {
        d[n] = '\0';
    }

    *len = n;
    ps->p = q + 1;

    return 0;
}


/* a number as RFC 8259 writes it */

static int
llr_jv_number(llr_jv_parser_t *ps)
{
    const unsigned char  *p, *end;

    p = ps->p;
    end = ps->end;

#define llr_jv_digit(c)  ((c) >= '0' && (c) <= '9')

    if (p < end && *p == '-') {
        p++;
    }

    if (p == end || !llr_jv_digit(*p)) {
        llr_jv_fail(ps, "an unexpected character");
        return -1;
    }

    if (*p == '0') {
        p++;

    } else {
        while (p < end && llr_jv_digit(*p)) {
            p++;
        }
    }

    if (p < end && *p == '.') {
        p++;

        if (p == end || !llr_jv_digit(*p)) {
            llr_jv_fail(ps, "a bad number");
            return -1;
        }

        while (p < end && llr_jv_digit(*p)) {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }

        if (p == end || !llr_jv_digit(*p)) {
            llr_jv_fail(ps, "a bad number");
            return -1;
        }

        while (p < end && llr_jv_digit(*p)) {
            p++;
        }
    }

#undef llr_jv_digit

    ps->p = p;

    return 0;
}


/* ---- the request ---------------------------------------------------- */

int
llr_mock_wanted(const char *key, size_t len)
{
    static const char  *keys[] = {
        "n", "encoding_format", "tools", "tool_choice", "response_format",
        "text", NULL
    };

    size_t  i;

    for (i = 0; keys[i]; i++) {
        if (strlen(keys[i]) == len && memcmp(keys[i], key, len) == 0) {
            return 1;
        }
    }

    return 0;
}


const char *
llr_mock_plan(llr_mock_plan_t *plan, const llr_jv_t *body, int responses,
    const char **param)
{
    const llr_jv_t  *v, *tools, *choice, *name, *t, *f, *params, *fmt;

    params = NULL;
    memset(plan, 0, sizeof(llr_mock_plan_t));
    plan->n = 1;

    if (body == NULL || body->type != LLR_JV_OBJECT) {
        return NULL;
    }

    /* n */

    v = llr_jv_get(body, "n");

    if (v && v->type != LLR_JV_NULL) {
        if (v->type != LLR_JV_NUMBER || v->num < 1
            || v->num > LLR_MOCK_MAX_N || v->num != floor(v->num))
        {
            *param = "n";
            return "'n' must be an integer from 1 to 128";
        }

        plan->n = (unsigned) v->num;
    }

    /* encoding_format */

    v = llr_jv_get(body, "encoding_format");

    if (v && v->type != LLR_JV_NULL) {
        if (llr_jv_is(v, "base64")) {
            plan->base64 = 1;

        } else if (!llr_jv_is(v, "float")) {
            *param = "encoding_format";
            return "'encoding_format' must be 'float' or 'base64'";
        }
    }

    /* the function tool_choice requires */

    tools = llr_jv_get(body, "tools");
    choice = llr_jv_get(body, "tool_choice");
    name = NULL;

    if (tools && tools->type != LLR_JV_ARRAY) {
        tools = NULL;
    }

    if (llr_jv_is(choice, "required")) {
        for (t = tools ? tools->child : NULL; t; t = t->next) {
            name = llr_mock_function(t, responses, &params);

            if (name) {
                break;
            }
        }

        if (name == NULL) {
            *param = "tool_choice";
            return "'tool_choice' is 'required' but 'tools' has no "
                   "function";
        }

    } else if (choice && choice->type == LLR_JV_OBJECT
               && llr_jv_is(llr_jv_get(choice, "type"), "function"))
    {
        v = responses ? llr_jv_get(choice, "name")
                      : llr_jv_get(llr_jv_get(choice, "function"), "name");

        for (t = tools ? tools->child : NULL; v && t; t = t->next) {
            f = llr_mock_function(t, responses, &params);

            if (f && f->len == v->len && memcmp(f->str, v->str, v->len) == 0)
            {
                name = f;
                break;
            }
        }

        if (name == NULL) {
            *param = "tool_choice";
            return "'tool_choice' names a function that is not in 'tools'";
        }
    }

    if (name) {
        plan->tool = name;
        plan->tool_params = params;
        return NULL;
    }

    /* a JSON answer */

    if (responses) {
        fmt = llr_jv_get(llr_jv_get(body, "text"), "format");
        v = fmt;

    } else {
        fmt = llr_jv_get(body, "response_format");
        v = llr_jv_get(fmt, "json_schema");
    }

    t = llr_jv_get(fmt, "type");

    if (llr_jv_is(t, "json_object")) {
        plan->json = 1;

    } else if (llr_jv_is(t, "json_schema")) {
        plan->json = 1;
        plan->schema = llr_jv_get(v, "schema");

        if (plan->schema && plan->schema->type != LLR_JV_OBJECT) {
            plan->schema = NULL;
        }
    }

    return NULL;
}


/* a function tool's name (a string) and parameters, or NULL */

static const llr_jv_t *
llr_mock_function(const llr_jv_t *tool, int responses,
    const llr_jv_t **params)
{
    const llr_jv_t  *f, *name;

    if (!llr_jv_is(llr_jv_get(tool, "type"), "function")) {
        return NULL;
    }

    f = responses ? tool : llr_jv_get(tool, "function");
    name = llr_jv_get(f, "name");

    if (name == NULL || name->type != LLR_JV_STRING) {
        return NULL;
    }

    *params = llr_jv_get(f, "parameters");

    return name;
}


/* ---- instances of schemas ------------------------------------------- */

size_t
llr_schema_instance(const llr_jv_t *schema, char *buf, size_t size)
{
    llr_sw_t  w;

    w.buf = buf;
    w.size = size;
    w.len = 0;
    w.values = 0;
    w.over = 0;
    w.root = schema;

    if (schema == NULL) {
        llr_sw_put(&w, "{}", 2);
        return w.len;
    }

    llr_sw_value(&w, schema, 0);

    return w.over ? (size_t) -1 : w.len;
}


static void
llr_sw_put(llr_sw_t *w, const char *s, size_t n)
{
    size_t  room;

    if (w->len < w->size) {
        room = w->size - w->len;
        memcpy(w->buf + w->len, s, n < room ? n : room);
    }

    w->len += n;
}


/* a JSON string of the UTF-8 bytes at s, ASCII only */

static void
llr_sw_str(llr_sw_t *w, const char *s, size_t n)
{
    char                  e[16];
    size_t                k, c;
    unsigned              cp;
    const unsigned char  *p, *end;

    p = (const unsigned char *) s;
    end = p + n;

    llr_sw_put(w, "\"", 1);

    while (p < end) {
        if (*p == '"' || *p == '\\') {
            e[0] = '\\';
            e[1] = (char) *p++;
            llr_sw_put(w, e, 2);
            continue;
        }

        if (*p >= 0x20 && *p < 0x7f) {
            for (k = 1; p + k < end && p[k] >= 0x20 && p[k] < 0x7f
                        && p[k] != '"' && p[k] != '\\'; k++)
            {
                /* void */
            }

            llr_sw_put(w, (const char *) p, k);
            p += k;
            continue;
        }

        c = llr_utf8_char(p, (size_t) (end - p));

        if (c == 0) {
            /* not UTF-8 (not from the parser): a replacement character */
            cp = 0xfffd;
            c = 1;

        } else if (c == 1) {
            cp = *p;

        } else if (c == 2) {
            cp = ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu);

        } else if (c == 3) {
            cp = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6)
                 | (p[2] & 0x3fu);

        } else {
            cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12)
                 | ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
        }

        p += c;

        if (cp >= 0x10000) {
            cp -= 0x10000;
            snprintf(e, sizeof(e), "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
                     0xdc00 + (cp & 0x3ff));
            llr_sw_put(w, e, 12);

        } else {
            snprintf(e, sizeof(e), "\\u%04x", cp);
            llr_sw_put(w, e, 6);
        }
    }

    llr_sw_put(w, "\"", 1);
}


/* a value of the parsed tree, again as JSON (const, enum) */

static void
llr_sw_json(llr_sw_t *w, const llr_jv_t *v)
{
    const llr_jv_t  *c;

    switch (v->type) {

    case LLR_JV_NULL:
        llr_sw_put(w, "null", 4);
        break;

    case LLR_JV_FALSE:
        llr_sw_put(w, "false", 5);
        break;

    case LLR_JV_TRUE:
        llr_sw_put(w, "true", 4);
        break;

    case LLR_JV_NUMBER:
        llr_sw_put(w, v->str, v->len);
        break;

    case LLR_JV_STRING:
        llr_sw_str(w, v->str, v->len);
        break;

    case LLR_JV_ARRAY:
    case LLR_JV_OBJECT:
        llr_sw_put(w, v->type == LLR_JV_ARRAY ? "[" : "{", 1);

        for (c = v->child; c; c = c->next) {
            if (c != v->child) {
                llr_sw_put(w, ",", 1);
            }

            if (v->type == LLR_JV_OBJECT) {
                llr_sw_str(w, c->key, c->key_len);
                llr_sw_put(w, ":", 1);
            }

            llr_sw_json(w, c);
        }

        llr_sw_put(w, v->type == LLR_JV_ARRAY ? "]" : "}", 1);
        break;
    }
}


/* follow "$ref" (a JSON pointer into the root: "#", "#/$defs/x") */

static const llr_jv_t *
llr_sw_resolve(llr_sw_t *w, const llr_jv_t *s)
{
    char             tok[256];
    size_t           i, k, idx;
    unsigned         hops;
    const char      *p, *end;
    const llr_jv_t  *ref, *node, *c;

    for (hops = 0; hops < LLR_SCHEMA_REFS; hops++) {
        ref = llr_jv_get(s, "$ref");

        if (ref == NULL || ref->type != LLR_JV_STRING || ref->len == 0
            || ref->str[0] != '#')
        {
            return s;
        }

        node = w->root;
        p = ref->str + 1;
        end = ref->str + ref->len;

        while (node && p < end) {
            if (*p != '/') {
                return s;
            }

            p++;

            /* one reference token, ~1 is '/' and ~0 is '~' */

            for (k = 0; p < end && *p != '/'; p++) {
                if (k == sizeof(tok) - 1) {
                    return s;
                }

                if (*p == '~' && p + 1 < end && (p[1] == '0' || p[1] == '1'))
                {
                    tok[k++] = (p[1] == '0') ? '~' : '/';
                    p++;
                    continue;
                }

                tok[k++] = *p;
            }

            tok[k] = '\0';

            if (node->type == LLR_JV_ARRAY) {
                idx = (size_t) strtoul(tok, NULL, 10);

                for (c = node->child, i = 0; c && i < idx; c = c->next, i++)
                {
                    /* void */
                }

                node = c;
                continue;
            }

            if (k != strlen(tok)) {
                return s;
            }

            node = llr_jv_get(node, tok);
        }

        if (node == NULL || node->type != LLR_JV_OBJECT || node == s) {
            return s;
        }

        s = node;
    }

    return s;
}


/* the type an instance takes: the first of "type" other than null */

static const char *
llr_sw_type(const llr_jv_t *s)
{
    const llr_jv_t  *t, *c;

    static const char  *types[] = {
        "object", "array", "string", "integer", "number", "boolean", "null",
        NULL
    };

    unsigned  i;

    t = llr_jv_get(s, "type");

    if (t && t->type == LLR_JV_ARRAY) {
        for (c = t->child; c; c = c->next) {
            if (c->type == LLR_JV_STRING && !llr_jv_is(c, "null")) {
                t = c;
                break;
            }
        }

        if (c == NULL) {
            t = t->child;
        }
    }

    if (t && t->type == LLR_JV_STRING) {
        for (i = 0; types[i]; i++) {
            if (llr_jv_is(t, types[i])) {
                return types[i];
            }
        }

        return "null";
    }

    /* no type: what the keywords are for */

    if (llr_jv_get(s, "properties") || llr_jv_get(s, "required")
        || llr_jv_get(s, "additionalProperties"))
    {
        return "object";
    }

    if (llr_jv_get(s, "items") || llr_jv_get(s, "prefixItems")
        || llr_jv_get(s, "minItems"))
    {
        return "array";
    }

    if (llr_jv_get(s, "minLength") || llr_jv_get(s, "maxLength")
        || llr_jv_get(s, "format") || llr_jv_get(s, "pattern"))
    {
        return "string";
    }

    if (llr_jv_get(s, "minimum") || llr_jv_get(s, "maximum")
        || llr_jv_get(s, "exclusiveMinimum")
        || llr_jv_get(s, "exclusiveMaximum"))
    {
        return "number";
    }

    return "null";
}


static void
llr_sw_value(llr_sw_t *w, const llr_jv_t *s, unsigned depth)
{
    size_t           n;
    const char      *type;
    const llr_jv_t  *v, *c, *b[LLR_SCHEMA_BRANCH];

    if (++w->values > LLR_SCHEMA_MAX_VALUES) {
        w->over = 1;
        llr_sw_put(w, "null", 4);
        return;
    }

    if (s == NULL || s->type != LLR_JV_OBJECT) {
        /* true, false or a bad schema: anything will do */
        llr_sw_put(w, "null", 4);
        return;
    }

    s = llr_sw_resolve(w, s);

    v = llr_jv_get(s, "const");

    if (v) {
        llr_sw_json(w, v);
        return;
    }

    v = llr_jv_get(s, "enum");

    if (v && v->type == LLR_JV_ARRAY && v->child) {
        llr_sw_json(w, v->child);
        return;
    }

    if (depth >= LLR_SCHEMA_MAX_DEPTH) {
        /* as small as the type allows */
        type = llr_sw_type(s);

        switch (type[0]) {
        case 'o': llr_sw_put(w, "{}", 2); break;
        case 'a': llr_sw_put(w, "[]", 2); break;
        case 's': llr_sw_put(w, "\"\"", 2); break;
        case 'i': llr_sw_put(w, "0", 1); break;
        case 'b': llr_sw_put(w, "false", 5); break;
        default:
            if (type[1] == 'u' && type[2] == 'm') {
                llr_sw_put(w, "0", 1);

            } else {
                llr_sw_put(w, "null", 4);
            }
        }

        return;
    }

    /* anyOf, oneOf: the first branch that is not only null */

    v = llr_jv_get(s, "anyOf");

    if (v == NULL || v->type != LLR_JV_ARRAY || v->child == NULL) {
        v = llr_jv_get(s, "oneOf");
    }

    if (v && v->type == LLR_JV_ARRAY && v->child) {
        for (c = v->child; c; c = c->next) {
            if (!llr_jv_is(llr_jv_get(llr_sw_resolve(w, c), "type"), "null"))
            {
                break;
            }
        }

        llr_sw_value(w, c ? c : v->child, depth + 1);
        return;
    }

    /* allOf: the branches' objects merged, or the first branch */

    v = llr_jv_get(s, "allOf");

    if (v && v->type == LLR_JV_ARRAY && v->child) {
        n = 0;
        b[n++] = s;

        for (c = v->child; c && n < LLR_SCHEMA_BRANCH; c = c->next) {
            b[n++] = llr_sw_resolve(w, c);
        }

        if (llr_jv_get(s, "properties") == NULL
            && strcmp(llr_sw_type(b[1]), "object") != 0)
        {
            llr_sw_value(w, b[1], depth + 1);
            return;
        }

        llr_sw_object(w, b, n, depth);
        return;
    }

    type = llr_sw_type(s);

    switch (type[0]) {

    case 'o':
        llr_sw_object(w, &s, 1, depth);
        break;

    case 'a':
        llr_sw_array(w, s, depth);
        break;

    case 's':
        llr_sw_string(w, s);
        break;

    case 'i':
        llr_sw_number(w, s, 1);
        break;

    case 'b':
        llr_sw_put(w, "true", 4);
        break;

    default:
        if (type[1] == 'u' && type[2] == 'm') {
            llr_sw_number(w, s, 0);

        } else {
            llr_sw_put(w, "null", 4);
        }
    }
}


/*
 * The member key of schema s if it is of that type (a container), or
 * NULL; one too large for an instance ends it
 */

static const llr_jv_t *
llr_sw_member(llr_sw_t *w, const llr_jv_t *s, const char *key,
    llr_jv_type_e type)
{
    const llr_jv_t  *v;

    v = llr_jv_get(s, key);

    if (v == NULL || v->type != type) {
        return NULL;
    }

    if (v->n > LLR_SCHEMA_MAX_VALUES) {
        w->over = 1;
        return NULL;
    }

    return v;
}


/* 1 if one of the n schemas has a property of that name */

static int
llr_sw_described(const llr_jv_t **s, size_t n, const char *name)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (llr_jv_get(llr_jv_get(s[i], "properties"), name)) {
            return 1;
        }
    }

    return 0;
}


/* a member's name and ':', after a ',' unless it is the first */

static void
llr_sw_key(llr_sw_t *w, int *first, const char *key, size_t len)
{
    if (!*first) {
        llr_sw_put(w, ",", 1);
    }

    *first = 0;
    llr_sw_str(w, key, len);
    llr_sw_put(w, ":", 1);
}


/*
 * An object with every property of the n schemas (allOf merges them), in
 * their order, each once; then the required names that none describes.
 */

static void
llr_sw_object(llr_sw_t *w, const llr_jv_t **s, size_t n, unsigned depth)
{
    int              first;
    size_t           i, j;
    const llr_jv_t  *props, *req, *m, *r, *o;

    llr_sw_put(w, "{", 1);
    first = 1;

    for (i = 0; i < n && !w->over; i++) {
        props = llr_sw_member(w, s[i], "properties", LLR_JV_OBJECT);

        if (props == NULL) {
            continue;
        }

        for (m = props->child; m && !w->over; m = m->next) {

            /* the last member of that name, in no earlier schema */

            if (llr_jv_get(props, m->key) != m || strlen(m->key) != m->key_len)
            {
                continue;
            }

            if (llr_sw_described(s, i, m->key)) {
                continue;
            }

            llr_sw_key(w, &first, m->key, m->key_len);
            llr_sw_value(w, m, depth + 1);
        }
    }

    for (i = 0; i < n && !w->over; i++) {
        req = llr_sw_member(w, s[i], "required", LLR_JV_ARRAY);

        if (req == NULL) {
            continue;
        }

        for (r = req->child; r && !w->over; r = r->next) {
            if (r->type != LLR_JV_STRING || strlen(r->str) != r->len) {
                continue;
            }

            /* described, or named before */

            if (llr_sw_described(s, n, r->str)) {
                continue;
            }

            for (j = 0; j <= i; j++) {
                o = llr_jv_get(s[j], "required");

                for (m = (o && o->type == LLR_JV_ARRAY) ? o->child : NULL;
                     m && m != r; m = m->next)
                {
                    if (llr_jv_is(m, r->str)) {
                        break;
                    }
                }

                if (m && m != r) {
                    break;
                }
            }

            if (j <= i) {
                continue;
            }

            if (++w->values > LLR_SCHEMA_MAX_VALUES) {
                w->over = 1;
                break;
            }

            llr_sw_key(w, &first, r->str, r->len);
            llr_sw_put(w, "\"lorem\"", 7);
        }
    }

    llr_sw_put(w, "}", 1);
}


/* a non-negative integer keyword, or def */

static size_t
llr_sw_count(const llr_jv_t *s, const char *key, size_t def)
{
    const llr_jv_t  *v;

    v = llr_jv_get(s, key);

    if (v == NULL || v->type != LLR_JV_NUMBER || v->num < 0) {
        return def;
    }

    return v->num > 1e9 ? (size_t) 1e9 : (size_t) v->num;
}


static void
llr_sw_array(llr_sw_t *w, const llr_jv_t *s, unsigned depth)
{
    size_t           i, count, min, max, nprefix;
    const llr_jv_t  *prefix, *items, *p;

    prefix = llr_jv_get(s, "prefixItems");
    items = llr_jv_get(s, "items");

    if (prefix == NULL && items && items->type == LLR_JV_ARRAY) {
        /* draft 4 tuples */
        prefix = items;
        items = llr_jv_get(s, "additionalItems");
    }

    if (prefix && prefix->type != LLR_JV_ARRAY) {
        prefix = NULL;
    }

    nprefix = prefix ? prefix->n : 0;
    min = llr_sw_count(s, "minItems", 0);
    max = llr_sw_count(s, "maxItems", (size_t) -1);

    /* one element, as an example, unless deep or asked for none */

    count = min ? min : (depth < LLR_SCHEMA_SHALLOW ? 1 : 0);

    if (count < nprefix) {
        count = nprefix;
    }

    if (items && items->type == LLR_JV_FALSE && count > nprefix) {
        count = nprefix;
    }

    if (llr_jv_get(s, "uniqueItems") && llr_jv_get(s, "uniqueItems")->type
        == LLR_JV_TRUE && count > 1 && min <= 1)
    {
        count = 1;
    }

    if (count > max) {
        count = max;
    }

    if (count > LLR_SCHEMA_MAX_ITEMS) {
        count = LLR_SCHEMA_MAX_ITEMS;
    }

    llr_sw_put(w, "[", 1);

    p = prefix ? prefix->child : NULL;

    for (i = 0; i < count && !w->over; i++) {
        if (i) {
            llr_sw_put(w, ",", 1);
        }

        if (p) {
            llr_sw_value(w, p, depth + 1);
            p = p->next;

        } else {
            llr_sw_value(w, (items && items->type == LLR_JV_OBJECT) ? items
                                                                    : NULL,
                         depth + 1);
        }
    }

    llr_sw_put(w, "]", 1);
}


static void
llr_sw_string(llr_sw_t *w, const llr_jv_t *s)
{
    char             buf[LLR_SCHEMA_MAX_STRING];
    size_t           i, len, min, max, k;
    const llr_jv_t  *f;

    static const char  *formats[][2] = {
        { "date-time", "2024-01-01T00:00:00Z" },
        { "date", "2024-01-01" },
        { "time", "00:00:00Z" },
        { "duration", "P1D" },
        { "email", "mock@example.com" },
        { "idn-email", "mock@example.com" },
        { "hostname", "example.com" },
        { "idn-hostname", "example.com" },
        { "ipv4", "192.0.2.1" },
        { "ipv6", "2001:db8::1" },
        { "uri", "https://example.com/" },
        { "iri", "https://example.com/" },
        { "url", "https://example.com/" },
        { "uri-reference", "https://example.com/" },
        { "uuid", "00000000-0000-4000-8000-000000000000" },
        { "cuid", "cjld2cjxh0000qzrmn831i7rn" },
        { "cuid2", "tz4a98xxat96iws9zmbrgj3a" },
        { "ulid", "01ARZ3NDEKTSV4RRFFQ69G5FAV" },
        { "regex", ".*" },
        { NULL, NULL }
    };

    static const char  words[] = "lorem ipsum dolor sit amet consectetur "
                                 "adipiscing elit sed do eiusmod tempor "
                                 "incididunt ut labore et ";

    f = llr_jv_get(s, "format");

    for (i = 0; f && formats[i][0]; i++) {
        if (llr_jv_is(f, formats[i][0])) {
            llr_sw_str(w, formats[i][1], strlen(formats[i][1]));
            return;
        }
    }

    min = llr_sw_count(s, "minLength", 0);
    max = llr_sw_count(s, "maxLength", (size_t) -1);

    /* "lorem", or as many words as minLength asks, cut at maxLength */

    len = 5;

    if (min > len) {
        len = min;
    }

    if (len > max) {
        len = max;
    }

    if (len > sizeof(buf)) {
        len = sizeof(buf);
    }

    for (i = 0; i < len; i += k) {
        k = sizeof(words) - 1;

        if (k > len - i) {
            k = len - i;
        }

        memcpy(buf + i, words, k);
    }

    /* no space at either end */

    if (len > 1 && buf[len - 1] == ' ') {
        buf[len - 1] = 's';
    }

    llr_sw_str(w, buf, len);
}


static void
llr_sw_number(llr_sw_t *w, const llr_jv_t *s, int integer)
{
    int              lo_ex, hi_ex;
    char             b[64];
    double           v, lo, hi, m;
    const llr_jv_t  *k;

    lo = -INFINITY;
    hi = INFINITY;
    lo_ex = 0;
    hi_ex = 0;

    k = llr_jv_get(s, "minimum");

    if (k && k->type == LLR_JV_NUMBER) {
        lo = k->num;
    }

    k = llr_jv_get(s, "maximum");

    if (k && k->type == LLR_JV_NUMBER) {
        hi = k->num;
    }

    k = llr_jv_get(s, "exclusiveMinimum");

    if (k && k->type == LLR_JV_NUMBER && k->num >= lo) {
        lo = k->num;
        lo_ex = 1;

    } else if (k && k->type == LLR_JV_TRUE) {
        lo_ex = 1;              /* draft 4: minimum is exclusive */
    }

    k = llr_jv_get(s, "exclusiveMaximum");

    if (k && k->type == LLR_JV_NUMBER && k->num <= hi) {
        hi = k->num;
        hi_ex = 1;

    } else if (k && k->type == LLR_JV_TRUE) {
        hi_ex = 1;
    }

    v = 1;

    if (v < lo || (lo_ex && v <= lo)) {
        if (integer) {
            v = lo_ex ? floor(lo) + 1 : ceil(lo);

        } else if (!lo_ex) {
            v = lo;

        } else {
            v = isfinite(hi) ? lo + (hi - lo) / 2 : lo + 1;
        }
    }

    if (v > hi || (hi_ex && v >= hi)) {
        if (integer) {
            v = hi_ex ? ceil(hi) - 1 : floor(hi);

        } else if (!hi_ex) {
            v = hi;

        } else {
            v = isfinite(lo) ? lo + (hi - lo) / 2 : hi - 1;
        }
    }

    k = llr_jv_get(s, "multipleOf");

    if (k && k->type == LLR_JV_NUMBER && k->num > 0 && isfinite(k->num)) {
        m = ceil(v / k->num) * k->num;

        if (m > hi || (hi_ex && m >= hi)) {
            m = floor(v / k->num) * k->num;
        }

        v = m;
    }

    if (!isfinite(v) || fabs(v) > 1e15) {
        v = 0;
    }

    if (integer || v == floor(v)) {
        snprintf(b, sizeof(b), "%.0f", v == 0 ? 0 : v);

    } else {
        snprintf(b, sizeof(b), "%.17g", v);
    }

    llr_sw_put(w, b, strlen(b));
}
