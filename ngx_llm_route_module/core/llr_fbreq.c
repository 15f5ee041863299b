/*
 * ngx_llm_route_module: the body of a feedback request.
 *
 * The body is validated whole first (llr_jsonv), so the walk below
 * reads well-formed JSON; it still checks every bound.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llr_fbreq.h"
#include "llr_jsonv.h"


static const unsigned char *llr_fb_ws(const unsigned char *p,
    const unsigned char *end);
static const unsigned char *llr_fb_skip(const unsigned char *p,
    const unsigned char *end);
static const unsigned char *llr_fb_string_end(const unsigned char *p,
    const unsigned char *end);
static const unsigned char *llr_fb_id(const unsigned char *p,
    const unsigned char *end, llr_fb_req_t *req, const char **err);
static const unsigned char *llr_fb_score(const unsigned char *p,
    const unsigned char *end, llr_fb_req_t *req, const char **err);


int
llr_fb_parse(const unsigned char *p, size_t len, llr_fb_req_t *req,
    const char **err)
{
    int                   have_id, have_score;
    size_t                klen;
    llr_jsonv_t           v;
    const unsigned char  *end, *k;

    llr_jsonv_init(&v);
    (void) llr_jsonv_feed(&v, p, len);

    if (llr_jsonv_finish(&v) != LLR_JSONV_VALID) {
        *err = "the body is not JSON";
        return -1;
    }

    end = p + len;
    p = llr_fb_ws(p, end);

    if (p == end || *p != '{') {
        *err = "the body is not a JSON object";
        return -1;
    }

    have_id = 0;
    have_score = 0;
    req->id_len = 0;
    req->score = 0;

    p = llr_fb_ws(p + 1, end);

    while (p < end && *p == '"') {
        k = p + 1;
        p = llr_fb_string_end(k, end);
        klen = (size_t) (p - k);
        p = llr_fb_ws(p + 1, end);      /* the closing quote */
        p = llr_fb_ws(p + 1, end);      /* the colon */

        if (p >= end) {
            break;
        }

        if (klen == 2 && memcmp(k, "id", 2) == 0) {
            p = llr_fb_id(p, end, req, err);
            have_id = 1;

        } else if (klen == 5 && memcmp(k, "score", 5) == 0) {
            p = llr_fb_score(p, end, req, err);
            have_score = 1;

        } else {
            p = llr_fb_skip(p, end);
        }

        if (p == NULL) {
            return -1;
        }

        p = llr_fb_ws(p, end);

        if (p < end && *p == ',') {
            p = llr_fb_ws(p + 1, end);
        }
    }

    if (!have_id) {
        *err = "\"id\" is required";
        return -1;
    }

    if (!have_score) {
        *err = "\"score\" is required";
        return -1;
    }

    return 0;
}


static const unsigned char *
llr_fb_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/* the closing quote of a string whose body starts at p (or end) */

static const unsigned char *
llr_fb_string_end(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p != '"') {
        p += (*p == '\\') ? 2 : 1;
    }

    return p < end ? p : end;
}


/* past the value at p */

static const unsigned char *
llr_fb_skip(const unsigned char *p, const unsigned char *end)
{
    size_t  depth;

    if (*p == '"') {
        p = llr_fb_string_end(p + 1, end);
        return p < end ? p + 1 : end;
    }

    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']'
               && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
        {
            p++;
        }

        return p;
    }

    depth = 0;

    while (p < end) {
        if (*p == '"') {
            p = llr_fb_string_end(p + 1, end);
            p = p < end ? p + 1 : end;
            continue;
        }

        if (*p == '{' || *p == '[') {
            depth++;

        } else if (*p == '}' || *p == ']') {
            if (--depth == 0) {
                return p + 1;
            }
        }

        p++;
    }

    return end;
}


static const unsigned char *
llr_fb_id(const unsigned char *p, const unsigned char *end,
    llr_fb_req_t *req, const char **err)
{
    unsigned       c, i, cp;
    size_t         n;

    if (*p != '"') {
        *err = "\"id\" must be a string";
        return NULL;
    }

    p++;
    n = 0;

    while (p < end && *p != '"') {
        c = *p++;

        if (c == '\\' && p < end) {
            c = *p++;

            switch (c) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u':
                cp = 0;

                for (i = 0; i < 4 && p < end; i++, p++) {
                    cp = cp * 16 + (unsigned) (*p <= '9' ? *p - '0'
                                               : (*p | 0x20) - 'a' + 10);
                }

                c = cp;
                break;
            }
        }

        if (c < 0x21 || c > 0x7e) {
            *err = "\"id\" must be printable ASCII";
            return NULL;
        }

        if (n == LLR_FB_REQ_ID_MAX) {
            *err = "\"id\" is too long";
            return NULL;
        }

        req->id[n++] = (unsigned char) c;
    }

    if (n == 0) {
        *err = "\"id\" is empty";
        return NULL;
    }

    req->id_len = n;

    return p < end ? p + 1 : end;
}


static const unsigned char *
llr_fb_score(const unsigned char *p, const unsigned char *end,
    llr_fb_req_t *req, const char **err)
{
    char                  num[64];
    double                d;
    size_t                n;
    const unsigned char  *q;

    q = llr_fb_skip(p, end);
    n = (size_t) (q - p);

    /* a number of 64 characters or more is refused, not cut */

    if (!(*p == '-' || (*p >= '0' && *p <= '9')) || n >= sizeof(num)) {
        *err = "\"score\" must be a number from -1 to 1";
        return NULL;
    }

    memcpy(num, p, n);
    num[n] = '\0';

    d = strtod(num, NULL);

    if (!(d >= -1.0 && d <= 1.0)) {
        *err = "\"score\" must be a number from -1 to 1";
        return NULL;
    }

    req->score = (int32_t) lround(d * 1000.0);

    return q;
}
