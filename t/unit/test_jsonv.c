/*
 * core/llr_jsonv: the incremental JSON validator.
 *
 *   - a table of texts, valid and not, fed whole and a byte at a time;
 *   - property test against yajl: random texts (JSON values built at
 *     random, then some of them mutated: a byte replaced, inserted,
 *     deleted or cut off), each fed in random pieces; the validator
 *     says what yajl says, except where yajl is known to differ
 *     (llr_jsonv.h: \v and \f as white space, UTF-8 it does not check,
 *     an unfinished string after the value), where the validator must
 *     be the stricter one;
 *   - nesting past LLR_JSONV_MAX_DEPTH is "not known", not invalid.
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "sim.h"
#include "llr_jsonv.h"
#include "llr_req.h"
#include "../../fuzz/quality_checks.h"


#define GEN_MAX  4096


typedef struct {
    unsigned char   buf[GEN_MAX];
    size_t          len;
    int             depth;
} gen_t;


static void
gen_put(gen_t *g, const char *s)
{
    size_t  n;

    n = strlen(s);

    if (g->len + n < GEN_MAX) {
        memcpy(g->buf + g->len, s, n);
        g->len += n;
    }
}


static void
gen_ws(gen_t *g, sim_rng_t *r)
{
    static const char  *ws[] = { "", "", "", " ", "\n", "\t", "\r\n  " };

    gen_put(g, ws[sim_next(r) % 7]);
}


static void
gen_string(gen_t *g, sim_rng_t *r)
{
    int   i, n;
    char  c[8];

    static const char  *pieces[] = {
        "a", "Z", " ", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r",
        "\\t", "\\u0041", "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\\uDC00",
        "\xc3\xa9", "\xe2\x80\x99", "\xf0\x9f\x98\x80", "{", "}", "[", ":",
        ",", "0", "'"
    };

    gen_put(g, "\"");
    n = (int) (sim_next(r) % 8);

    for (i = 0; i < n; i++) {
        if (sim_next(r) % 6 == 0) {
            c[0] = (char) ('a' + sim_next(r) % 26);
            c[1] = '\0';
            gen_put(g, c);

        } else {
            gen_put(g, pieces[sim_next(r)
                              % (sizeof(pieces) / sizeof(pieces[0]))]);
        }
    }

    gen_put(g, "\"");
}


static void
gen_value(gen_t *g, sim_rng_t *r)
{
    int  i, n;

    static const char  *scalars[] = {
        "0", "-0", "1", "-12", "3.25", "1e5", "-2.5E-3", "6e+2", "0.0",
        "123456789012345678901234567890", "true", "false", "null"
    };

    gen_ws(g, r);

    switch (g->depth < 12 ? sim_next(r) % 5 : 3 + sim_next(r) % 2) {

    case 0:
        g->depth++;
        gen_put(g, "{");
        n = (int) (sim_next(r) % 4);

        for (i = 0; i < n; i++) {
            if (i) {
                gen_put(g, ",");
            }

            gen_ws(g, r);
            gen_string(g, r);
            gen_ws(g, r);
            gen_put(g, ":");
            gen_value(g, r);
        }

        gen_ws(g, r);
        gen_put(g, "}");
        g->depth--;
        break;

    case 1:
        g->depth++;
        gen_put(g, "[");
        n = (int) (sim_next(r) % 4);

        for (i = 0; i < n; i++) {
            if (i) {
                gen_put(g, ",");
            }

            gen_value(g, r);
        }

        gen_ws(g, r);
        gen_put(g, "]");
        g->depth--;
        break;

    case 2:
    case 3:
        gen_string(g, r);
        break;

    default:
        gen_put(g, scalars[sim_next(r) % (sizeof(scalars) / sizeof(*scalars))]);
        break;
    }

    gen_ws(g, r);
}


/* a byte replaced, inserted or deleted, or the end cut off */
static void
gen_mutate(gen_t *g, sim_rng_t *r)
{
    size_t  at;

    static const unsigned char  bytes[] = {
        '{', '}', '[', ']', '"', '\\', ',', ':', ' ', '0', '1', '-', '.',
        'e', 't', 'n', 'u', 'x', 0x00, 0x01, 0x0b, 0x0c, 0x1f, 0x7f, 0x80,
        0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff
    };

    if (g->len == 0) {
        return;
    }

    at = sim_next(r) % g->len;

    switch (sim_next(r) % 4) {

    case 0:
        g->buf[at] = bytes[sim_next(r) % sizeof(bytes)];
        break;

    case 1:
        if (g->len + 1 < GEN_MAX) {
            memmove(g->buf + at + 1, g->buf + at, g->len - at);
            g->buf[at] = bytes[sim_next(r) % sizeof(bytes)];
            g->len++;
        }
        break;

    case 2:
        memmove(g->buf + at, g->buf + at + 1, g->len - at - 1);
        g->len--;
        break;

    default:
        g->len = at;
        break;
    }
}


static int
yajl_ok(const unsigned char *p, size_t len)
{
    int           ok;
    yajl_handle   h;

    h = yajl_alloc(NULL, NULL, NULL);
    ok = (yajl_parse(h, p, len) == yajl_status_ok
          && yajl_complete_parse(h) == yajl_status_ok);
    yajl_free(h);

    return ok;
}


/* the validator fed in random pieces */
static int
jv_pieces(const unsigned char *p, size_t len, sim_rng_t *r,
    llr_jsonv_t *v)
{
    size_t  n;

    llr_jsonv_init(v);

    while (len) {
        n = 1 + sim_next(r) % 7;
        n = n < len ? n : len;

        if (llr_jsonv_feed(v, p, n) != LLR_JSONV_MORE) {
            break;
        }

        p += n;
        len -= n;
    }

    return llr_jsonv_finish(v);
}


static int
jv_whole(const char *s, size_t len)
{
    llr_jsonv_t  v;

    llr_jsonv_init(&v);
    llr_jsonv_feed(&v, (const unsigned char *) s, len);

    return llr_jsonv_finish(&v);
}


static int
jv_bytes(const char *s, size_t len)
{
    size_t       i;
    llr_jsonv_t  v;

    llr_jsonv_init(&v);

    for (i = 0; i < len; i++) {
        llr_jsonv_feed(&v, (const unsigned char *) s + i, 1);
    }

    return llr_jsonv_finish(&v);
}


static void
test_table(void)
{
    size_t       i;
    int          want, w, b;
    char         deep[LLR_JSONV_MAX_DEPTH * 2 + 4];

    static const struct {
        const char  *text;
        int          valid;
    } t[] = {
        { "{}", 1 }, { " [ ] ", 1 }, { "0", 1 }, { "-0.5e-7", 1 },
        { "\"\"", 1 }, { "true", 1 }, { "null ", 1 },
        { "{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\\n\"}", 1 },
        { "\"\xc3\xa9\xe2\x80\x99\xf0\x9f\x98\x80\"", 1 },
        { "\"\\ud800\"", 1 },
        { "", 0 }, { "  ", 0 }, { "{", 0 }, { "[1,]", 0 }, { "{\"a\"}", 0 },
        { "{\"a\":1,}", 0 }, { "01", 0 }, { "1.", 0 }, { ".5", 0 },
        { "-", 0 }, { "1e", 0 }, { "+1", 0 }, { "tru", 0 }, { "nulll", 0 },
        { "{} {}", 0 }, { "[1] ]", 0 }, { "'a'", 0 }, { "\"a", 0 },
        { "\"\t\"", 0 }, { "\"\\x\"", 0 }, { "\"\\u12g4\"", 0 },
        { "\"\xc0\x80\"", 0 }, { "\"\xed\xa0\x80\"", 0 },
        { "\"\xf4\x90\x80\x80\"", 0 }, { "\"\xc3\"", 0 }, { "\v1", 0 },
        { "{1:2}", 0 }, { "[\"a\" \"b\"]", 0 }, { "1 2", 0 }
    };

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        want = t[i].valid ? LLR_JSONV_VALID : LLR_JSONV_INVALID;
        w = jv_whole(t[i].text, strlen(t[i].text));
        b = jv_bytes(t[i].text, strlen(t[i].text));
        ok(w == want && b == want, "%s: '%s'",
           t[i].valid ? "valid" : "invalid", t[i].text);
    }

    is_int(jv_whole("\"a\0\"", 4), LLR_JSONV_INVALID, "a NUL in a string");

    /* nesting: as deep as allowed, one more */
    memset(deep, '[', LLR_JSONV_MAX_DEPTH);
    memset(deep + LLR_JSONV_MAX_DEPTH, ']', LLR_JSONV_MAX_DEPTH);
    is_int(jv_bytes(deep, LLR_JSONV_MAX_DEPTH * 2), LLR_JSONV_VALID,
           "%d levels deep: valid", LLR_JSONV_MAX_DEPTH);

    memset(deep, '[', LLR_JSONV_MAX_DEPTH + 1);
    memset(deep + LLR_JSONV_MAX_DEPTH + 1, ']', LLR_JSONV_MAX_DEPTH + 1);
    is_int(jv_whole(deep, LLR_JSONV_MAX_DEPTH * 2 + 2), LLR_JSONV_DEEP,
           "one level more: not known");
}


static void
test_yajl(void)
{
    int          i, mine, theirs, same, differ, valid, stricter;
    gen_t        g;
    sim_rng_t    r;
    llr_jsonv_t  v;

    sim_seed(&r, 2024);
    same = 0;
    differ = 0;
    valid = 0;
    stricter = 0;

    for (i = 0; i < 30000; i++) {
        g.len = 0;
        g.depth = 0;
        gen_value(&g, &r);

        if (i % 2) {
            gen_mutate(&g, &r);

            if (i % 3 == 0) {
                gen_mutate(&g, &r);
            }
        }

        mine = jv_pieces(g.buf, g.len, &r, &v);
        theirs = yajl_ok(g.buf, g.len);
        valid += (mine == LLR_JSONV_VALID);

        if ((mine == LLR_JSONV_VALID) == theirs) {
            same++;
            continue;
        }

        if (mine == LLR_JSONV_INVALID && theirs
            && qc_yajl_lax(g.buf, g.len, &v))
        {
            stricter++;
            continue;
        }

        if (differ++ < 5) {
            printf("# differs from yajl (mine %d, yajl %d): '%.*s'\n", mine,
                   theirs, (int) g.len, g.buf);
        }
    }

    printf("# 30000 random texts: %d valid, %d as yajl, %d stricter where "
           "yajl is known to be lax\n", valid, same, stricter);

    is_int(differ, 0, "the validator agrees with yajl on random texts");
    ok(valid > 12000 && valid < 20000, "a mix of valid and invalid texts");
}


int
main(void)
{
    test_table();
    test_yajl();

    done_testing();
}
