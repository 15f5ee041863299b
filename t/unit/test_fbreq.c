/*
 * core/llr_fbreq: the body of a feedback request: ids with escapes,
 * scores at the bounds and out of them, members ignored, what is
 * refused and why; every prefix of a good body is refused.
 */

#include <string.h>

#include "tap.h"
#include "llr_fbreq.h"


static int
parse(const char *body, llr_fb_req_t *r, const char **err)
{
    *err = NULL;
    return llr_fb_parse((const unsigned char *) body, strlen(body), r, err);
}


int
main(void)
{
    size_t         i, n, bad;
    const char    *err;
    llr_fb_req_t   r;

    static const struct {
        const char  *body;
        const char  *id;
        int          score;
    } good[] = {
        { "{\"id\":\"abc\",\"score\":1}", "abc", 1000 },
        { " {\"score\" : -1 , \"id\" : \"chatcmpl-9x\"} ", "chatcmpl-9x",
          -1000 },
        { "{\"id\":\"a\\/b\\u0041\",\"score\":0.25,\"comment\":\"meh "
          "\\\"really\\\" {\"}", "a/bA", 250 },
        { "{\"comment\":{\"x\":[1,{\"y\":\"}\"}]},\"id\":\"z\","
          "\"score\":-0.0005}", "z", -1 },
        { "{\"id\":\"old\",\"score\":0.5,\"id\":\"new\",\"score\":0}",
          "new", 0 },
        { "{\"id\":\"e\",\"score\":5e-1}", "e", 500 },
        { "{\"id\":\"k\",\"\\u0073core\":3,\"score\":0.1}", "k", 100 }
    };

    static const struct {
        const char  *body;
        const char  *err;
    } bad_bodies[] = {
        { "", "the body is not JSON" },
        { "{\"id\":\"a\",\"score\":1", "the body is not JSON" },
        { "[1]", "the body is not a JSON object" },
        { "{\"score\":1}", "\"id\" is required" },
        { "{\"id\":\"a\"}", "\"score\" is required" },
        { "{\"id\":1,\"score\":1}", "\"id\" must be a string" },
        { "{\"id\":\"\",\"score\":1}", "\"id\" is empty" },
        { "{\"id\":\"a b\",\"score\":1}", "\"id\" must be printable ASCII" },
        { "{\"id\":\"\\u00e9\",\"score\":1}",
          "\"id\" must be printable ASCII" },
        { "{\"id\":\"a\",\"score\":1.001}",
          "\"score\" must be a number from -1 to 1" },
        { "{\"id\":\"a\",\"score\":\"1\"}",
          "\"score\" must be a number from -1 to 1" },
        { "{\"id\":\"a\",\"score\":null}",
          "\"score\" must be a number from -1 to 1" },
        { "{\"id\":\"a\",\"score\":-2e0}",
          "\"score\" must be a number from -1 to 1" },
        { "{\"id\":\"a\",\"score\":0.0000000000000000000000000000000000000"
          "00000000000000000000000000001e99}",
          "\"score\" must be a number from -1 to 1" }
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(parse(good[i].body, &r, &err) == 0, "parsed: %s", good[i].body);
        is_int(r.id_len, strlen(good[i].id), "id length: %s", good[i].id);
        ok(memcmp(r.id, good[i].id, r.id_len) == 0, "id: %s", good[i].id);
        is_int(r.score, good[i].score, "score: %d", good[i].score);

        /* each proper prefix is refused, without reading past it */
        n = strlen(good[i].body);
        bad = 0;

        for (n = n - 1; n > 0; n--) {
            char  cut[256];

            memcpy(cut, good[i].body, n);

            if (llr_fb_parse((const unsigned char *) cut, n, &r, &err) == 0
                && good[i].body[n] != ' ')
            {
                bad++;
            }
        }

        is_int(bad, 0, "every prefix refused: %s", good[i].body);
    }

    for (i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
        ok(parse(bad_bodies[i].body, &r, &err) == -1, "refused: %s",
           bad_bodies[i].body);
        is_str(err ? err : "(none)", bad_bodies[i].err, "why: %s",
               bad_bodies[i].err);
    }

    /* an id of the largest size, and one byte more */
    {
        char  body[LLR_FB_REQ_ID_MAX + 64];

        n = (size_t) sprintf(body, "{\"score\":0,\"id\":\"");
        memset(body + n, 'x', LLR_FB_REQ_ID_MAX);
        strcpy(body + n + LLR_FB_REQ_ID_MAX, "\"}");
        ok(parse(body, &r, &err) == 0 && r.id_len == LLR_FB_REQ_ID_MAX,
           "an id of %d bytes", LLR_FB_REQ_ID_MAX);

        memset(body + n, 'x', LLR_FB_REQ_ID_MAX + 1);
        strcpy(body + n + LLR_FB_REQ_ID_MAX + 1, "\"}");
        ok(parse(body, &r, &err) == -1, "one byte more: refused");
        is_str(err ? err : "(none)", "\"id\" is too long", "... too long");
    }

    done_testing();
}
