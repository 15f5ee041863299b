/*
 * Unit tests of core/llr_usage: usage, model, finish reasons and errors
 * from non-streamed JSON responses fed in pieces.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "llr_usage.h"
#include "llr_sse.h"


static const char  chat[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
    "\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Hello \\\"w\\u00f6rld\\\" \\ud83d\\ude00!\","
    "\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"},"
    "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":null,"
    "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
    "{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]},"
    "\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":1234,\"completion_tokens\":56,"
    "\"total_tokens\":1290,\"prompt_tokens_details\":{\"cached_tokens\":"
    "1024,\"audio_tokens\":0},\"completion_tokens_details\":"
    "{\"reasoning_tokens\":7,\"audio_tokens\":0}},"
    "\"system_fingerprint\":\"fp_1\"}\n";

static const char  responses[] =
    "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"incomplete\","
    "\"incomplete_details\":{\"reason\":\"max_output_tokens\"},"
    "\"error\":null,\"model\":\"o3-mini\",\"output\":[{\"type\":"
    "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":"
    "\"abcdefgh\"}]}],\"usage\":{\"input_tokens\":328,"
    "\"input_tokens_details\":{\"cached_tokens\":128},"
    "\"output_tokens\":52,\"output_tokens_details\":"
    "{\"reasoning_tokens\":40},\"total_tokens\":380}}";

static const char  embeddings[] =
    "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
    "\"embedding\":[0.0023,-0.0093,1e-5,[1,2,{\"usage\":{\"prompt_tokens\":"
    "999}}]]}],\"model\":\"text-embedding-3-small\","
    "\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}";

static const char  nousage[] =
    "{\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"message\":{\"content\":"
    "\"four\"},\"finish_reason\":\"length\"}],\"usage\":null}";

static const char  errbody[] =
    "{\"error\":{\"message\":\"Rate limit reached for gpt-4o\","
    "\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";

static const char  errnum[] =
    "{\"error\":{\"message\":\"bad\",\"code\":429,\"type\":\"x\"}}";


static int
run(llr_usage_t *u, const char *s, size_t len, size_t split)
{
    size_t  i, n;
    int     rc;

    llr_usage_init(u);
    rc = 0;

    for (i = 0; i < len; i += n) {
        n = split ? split : len;
        if (n > len - i) {
            n = len - i;
        }

        if (llr_usage_feed(u, (const unsigned char *) s + i, n) != 0) {
            rc = -1;
        }
    }

    if (llr_usage_finish(u) != 0) {
        rc = -1;
    }

    return rc;
}


/* every split point into two pieces, and every piece size */
static int
same_everywhere(const char *s)
{
    size_t       len, k;
    llr_usage_t  whole, u;

    len = strlen(s);
    run(&whole, s, len, 0);

    for (k = 1; k < len; k++) {
        llr_usage_init(&u);
        llr_usage_feed(&u, (const unsigned char *) s, k);
        llr_usage_feed(&u, (const unsigned char *) s + k, len - k);
        llr_usage_finish(&u);

        if (memcmp(&u.res, &whole.res, sizeof(llr_resp_t)) != 0) {
            printf("# differs when split at %zu\n", k);
            return 0;
        }

        run(&u, s, len, k);

        if (memcmp(&u.res, &whole.res, sizeof(llr_resp_t)) != 0) {
            printf("# differs with pieces of %zu\n", k);
            return 0;
        }
    }

    return 1;
}


/*
 * "usage" whose token counts are missing or not non-negative integers:
 * has_usage is set (the object was there) but it is not usable, at
 * every split of the body (the fast paths and the byte states agree).
 */
static void
test_unusable(void)
{
    size_t        i;
    llr_usage_t   u;
    char          name[128];

    static const struct {
        const char  *usage;
        int          usable;
    } cases[] = {
        { "{\"prompt_tokens\":7,\"completion_tokens\":3}", 1 },
        { "{}", 0 },
        { "{\"prompt_tokens\":7}", 0 },
        { "{\"completion_tokens\":3}", 0 },
        { "{\"prompt_tokens\":-7,\"completion_tokens\":3}", 0 },
        { "{\"prompt_tokens\":7,\"completion_tokens\":-3}", 0 },
        { "{\"prompt_tokens\":7.5,\"completion_tokens\":3}", 0 },
        { "{\"prompt_tokens\":7,\"completion_tokens\":3.0}", 0 },
        { "{\"prompt_tokens\":7,\"completion_tokens\":3e2}", 0 },
        { "{\"prompt_tokens\":\"7\",\"completion_tokens\":3}", 0 },
        { "{\"prompt_tokens\":7,\"completion_tokens\":\"3\"}", 0 },
        { "{\"prompt_tokens\":null,\"completion_tokens\":3}", 0 },
        { "{\"prompt_tokens\":7,\"completion_tokens\":true}", 0 },
        { "{\"prompt_tokens\":{},\"completion_tokens\":3}", 0 },
        { "{\"prompt_tokens\":7,\"completion_tokens\":[3]}", 0 },
        { "{\"prompt_tokens\":7,\"completion_tokens\":"
          "18446744073709551616}", 0 },
        { "{\"prompt_tokens\":7,\"completion_tokens\":"
          "18446744073709551615}", 1 },
        /* the last value of a key counts, as JSON parsers read it */
        { "{\"prompt_tokens\":7,\"completion_tokens\":3,"
          "\"completion_tokens\":-1}", 0 },
        { "{\"prompt_tokens\":\"x\",\"prompt_tokens\":7,"
          "\"completion_tokens\":3}", 1 },
        /* the Responses API names */
        { "{\"input_tokens\":7,\"output_tokens\":3}", 1 },
        { "{\"input_tokens\":7,\"output_tokens\":-3}", 0 },
        /* other counts do not decide */
        { "{\"prompt_tokens\":7,\"completion_tokens\":3,"
          "\"total_tokens\":\"x\",\"prompt_tokens_details\":null}", 1 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char  body[512];

        snprintf(body, sizeof(body),
                 "{\"id\":\"x\",\"choices\":[{\"index\":0,"
                 "\"message\":{\"content\":\"hi\"}}],\"usage\":%s}",
                 cases[i].usage);

        is_int(run(&u, body, strlen(body), 0), 0, "usage case parses");
        snprintf(name, sizeof(name), "usage %s: %s", cases[i].usage,
                 cases[i].usable ? "usable" : "not usable");
        ok(u.res.has_usage && llr_usage_usable(&u.res, 0) == cases[i].usable,
           name);
        snprintf(name, sizeof(name), "usage %s: same at every split",
                 cases[i].usage);
        ok(same_everywhere(body), name);
    }

    /* a later usable "usage" replaces an unusable one, and back */

    {
        static const char  a[] = "{\"usage\":{},\"usage\":{"
                                 "\"prompt_tokens\":1,"
                                 "\"completion_tokens\":2}}";
        static const char  b[] = "{\"usage\":{\"prompt_tokens\":1,"
                                 "\"completion_tokens\":2},"
                                 "\"usage\":{}}";

        run(&u, a, strlen(a), 0);
        ok(llr_usage_usable(&u.res, 0), "the last usage counts (usable)");
        run(&u, b, strlen(b), 0);
        ok(!llr_usage_usable(&u.res, 0), "the last usage counts (empty)");
    }
}


/*
 * The same in a stream: the usage chunk of an SSE stream, fed whole and
 * in pieces of every size, with the event templates of earlier streams
 * (one cache for all, as a worker has).
 */
static void
test_unusable_sse(void)
{
    int               usable;
    char              body[1024], name[160];
    size_t            i, k, len;
    llr_sse_t         sse;
    llr_sse_cache_t   cache;

    static const char  *usages[] = {
        "{\"prompt_tokens\":9,\"completion_tokens\":2}",
        "{}",
        "{\"prompt_tokens\":9,\"completion_tokens\":-2}",
        "{\"prompt_tokens\":9.5,\"completion_tokens\":2}",
        "{\"prompt_tokens\":\"9\",\"completion_tokens\":2}",
        "{\"prompt_tokens\":9,\"completion_tokens\":null}",
    };

    llr_sse_cache_init(&cache);

    for (i = 0; i < sizeof(usages) / sizeof(usages[0]); i++) {
        len = (size_t) snprintf(body, sizeof(body),
                  "data: {\"id\":\"c\",\"choices\":[{\"index\":0,"
                  "\"delta\":{\"content\":\"one \"}}]}\n\n"
                  "data: {\"id\":\"c\",\"choices\":[{\"index\":0,"
                  "\"delta\":{\"content\":\"two\"}}]}\n\n"
                  "data: {\"id\":\"c\",\"choices\":[],\"usage\":%s}\n\n"
                  "data: [DONE]\n\n", usages[i]);

        usable = (i == 0);

        for (k = 0; k <= len; k++) {
            size_t  off, n;

            llr_sse_init(&sse, 0, 0, NULL);
            llr_sse_use_cache(&sse, &cache);

            for (off = 0; off < len; off += n) {
                n = k ? k : len;
                n = (n > len - off) ? len - off : n;
                (void) llr_sse_feed(&sse, (const unsigned char *) body + off,
                                    n, NULL, NULL);
            }

            (void) llr_sse_finish(&sse, NULL, NULL);

            if (!sse.res.has_usage || sse.res.content_bytes != 7
                || llr_usage_usable(&sse.res, 0) != usable)
            {
                break;
            }
        }

        snprintf(name, sizeof(name), "stream usage %s: %s, in pieces of "
                 "every size", usages[i], usable ? "usable" : "not usable");
        ok(k > len, name);
    }
}


/*
 * The fast paths (string bodies skipped 16 bytes at a time, keys and
 * numbers taken at once): an escape, a '"' or a '\\' at every offset
 * around the 16- and 32-byte boundaries, and split there.
 */
static void
test_fast_paths(void)
{
    int          k, e, bad;
    char         s[512], want[64];
    size_t       n;
    llr_usage_t  u;

    static const char  digits[] = "0123456789abcdef0123456789abcdef"
                                  "0123456789";

    /* an escape at every offset 0..40 of a counted string */
    bad = 0;

    for (k = 0; k <= 40; k++) {
        n = (size_t) sprintf(s, "{\"choices\":[{\"message\":{\"content\":"
                             "\"%.*s\\n%.*s\\\"\\\\x\"}}]}",
                             k, digits, 40 - k, digits);

        if (run(&u, s, n, 0) != 0 || u.res.content_bytes != 40 + 4
            || !same_everywhere(s))
        {
            printf("# escape at %d\n", k);
            bad++;
        }
    }

    is_int(bad, 0, "escapes at offsets 0..40 counted, at every split");

    /* escapes only, up to 40 in a row (a '\\' or '"' at every byte) */
    bad = 0;

    for (k = 0; k <= 40; k++) {
        n = (size_t) sprintf(s, "{\"choices\":[{\"delta\":{\"content\":\"");

        for (e = 0; e < k; e++) {
            n += (size_t) sprintf(s + n, "%s", (e % 3 == 0) ? "\\\\"
                                               : (e % 3 == 1) ? "\\\""
                                                              : "\\/");
        }

        n += (size_t) sprintf(s + n, "\"}}]}");

        if (run(&u, s, n, 0) != 0 || u.res.content_bytes != (uint64_t) k
            || !same_everywhere(s))
        {
            printf("# %d escapes\n", k);
            bad++;
        }
    }

    is_int(bad, 0, "runs of 0..40 escapes");

    /* raw control bytes and UTF-8 inside strings are content */
    n = (size_t) sprintf(s, "{\"choices\":[{\"message\":{\"content\":"
                         "\"a\x01\x1f\tb\x7f\xc3\xa9\xf0\x9f\x98\x80"
                         "0123456789abcdef\"}}]}");
    is_int(run(&u, s, n, 0), 0, "control bytes inside a string accepted");
    is_int(u.res.content_bytes, 6 + 2 + 4 + 16, "raw bytes counted");
    ok(same_everywhere(s), "control bytes and UTF-8: same at every split");

    /* \u escapes, surrogate pairs and lone surrogates around 16 bytes */
    n = (size_t) sprintf(s, "{\"choices\":[{\"message\":{\"content\":"
                         "\"0123456789abc\\u00e9\\ud83d\\ude00"
                         "\\ud83dx\\ude00\\u0041\"}}]}");
    is_int(run(&u, s, n, 0), 0, "\\u escapes");
    /* 13 + 2 + 4 + (4 + 1) + 3 + 1 */
    is_int(u.res.content_bytes, 28, "\\u escapes counted");
    ok(same_everywhere(s), "\\u escapes: same at every split");

    /* captured strings: an escape at every offset of "model" */
    bad = 0;

    for (k = 0; k <= 36; k++) {
        n = (size_t) sprintf(s, "{\"model\":\"%.*s\\u0041\\/z\","
                             "\"usage\":{\"prompt_tokens\":1}}",
                             k, "abcdefghijklmnopqrstuvwxyz0123456789");
        sprintf(want, "%.*sA/z", k, "abcdefghijklmnopqrstuvwxyz0123456789");

        if (run(&u, s, n, 0) != 0 || strcmp(u.res.model, want) != 0
            || !same_everywhere(s))
        {
            printf("# model escape at %d: %s\n", k, u.res.model);
            bad++;
        }
    }

    is_int(bad, 0, "model with an escape at offsets 0..36");

    /* keys: escaped, split, long, and near-misses */
    n = (size_t) sprintf(s, "{\"mod\\u0065l\":\"m1\",\"usag\":"
                         "{\"prompt_tokens\":9},\"usage\\u0000\":"
                         "{\"prompt_tokens\":8},"
                         "\"%0300d\":1,\"usage\":{\"prompt_tokens\":7}}", 0);
    is_int(run(&u, s, n, 0), 0, "odd keys parse");
    is_str(u.res.model, "m1", "an escaped key is decoded");
    is_int(u.res.prompt_tokens, 7, "near-miss keys are not usage");
    ok(same_everywhere(s), "odd keys: same at every split");

    /* numbers: short, 16+ bytes, 31+ bytes, at every split */
    n = (size_t) sprintf(s, "{\"usage\":{\"prompt_tokens\":12345678901234567,"
                         "\"completion_tokens\":0,\"total_tokens\":"
                         "1234567890123456789012345678901234,"
                         "\"prompt_tokens_details\":{\"cached_tokens\":1e3},"
                         "\"completion_tokens_details\":{\"reasoning_tokens\""
                         ":18446744073709551615}}}");
    is_int(run(&u, s, n, 0), 0, "numbers parse");
    ok(u.res.prompt_tokens == 12345678901234567ULL, "17-digit number");
    is_int(u.res.completion_tokens, 0, "0");
    is_int(u.res.total_tokens, 0, "34 digits: ignored");
    is_int(u.res.cached_tokens, 0, "1e3: ignored");
    ok(u.res.reasoning_tokens == UINT64_MAX, "UINT64_MAX");
    ok(same_everywhere(s), "numbers: same at every split");

    /* a number at the very end of the top level */
    is_int(run(&u, "12345678901234567890", 20, 0), 0, "top-level number");
    is_int(run(&u, "1 2", 3, 0), -1, "two top-level numbers");

    /* literals split anywhere, and wrong ones */
    n = (size_t) sprintf(s, "{\"a\":[true,false,null,true],\"usage\":null,"
                         "\"model\":\"x\"}");
    is_int(run(&u, s, n, 0), 0, "literals");
    ok(same_everywhere(s), "literals: same at every split");
    is_int(run(&u, "{\"a\":nulL}", 10, 0), -1, "nulL is not null");
    is_int(run(&u, "{\"a\":nul", 8, 0), -1, "truncated null");
    is_int(run(&u, "{\"a\":fals}", 10, 0), -1, "fals is not false");
}


/*
 * The token fast path (llr_json_fast): values nobody wants skipped
 * whole (strings with every escape, numbers, literals, containers),
 * keys by length and word compares, container depth at the limit.
 */
static void
test_token_path(void)
{
    int          k, i, bad;
    char         s[1024], key[32];
    size_t       n, kl;
    llr_usage_t  u;

    static const char  *keys[] = {
        "usage", "completion_tokens_details", "reasoning_tokens"
    };

    /* skipped strings: every escape, \u pairs, lone halves */
    n = (size_t) sprintf(s, "{\"id\":\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t"
                         "\\u00e9\\ud83d\\ude00\\udc00\\ud800x\","
                         "\"x\":[\"\\u0041\",{\"y\":\"\\\\\"}],"
                         "\"model\":\"m\\u00e9\"}");
    is_int(run(&u, s, n, 0), 0, "skipped strings with every escape");
    is_str(u.res.model, "m\xc3\xa9", "model after them");
    ok(same_everywhere(s), "skipped escapes: same at every split");

    is_int(run(&u, "{\"id\":\"\\u00g0\"}", 15, 0), -1,
           "bad \\u in a skipped string");
    is_int(run(&u, "{\"id\":\"\\x\"}", 11, 0), -1,
           "bad escape in a skipped string");
    is_int(run(&u, "{\"id\":\"\\u00", 11, 0), -1,
           "skipped string cut in its \\u");

    /* counted strings: the same escapes, counted as the byte states do */
    n = (size_t) sprintf(s, "{\"choices\":[{\"delta\":{\"content\":"
                         "\"\\ud83d\\ude00\\ud83d\\ud83d\\ude00\\udc00"
                         "\\ud800x\\u0041\\u00e9\\u20ac\\n\"}}]}");
    is_int(run(&u, s, n, 0), 0, "counted \\u escapes");
    /* 4, 4 + 4, 3, 4 + 1, 1, 2, 3, 1 */
    is_int(u.res.content_bytes, 27, "pairs, lone halves, 1-3 bytes");
    ok(same_everywhere(s), "counted \\u: same at every split");

    /* skipped numbers and literals next to everything */
    n = (size_t) sprintf(s, "{\"a\":-1.5e+3,\"b\":[0,1,2],\"c\":true,"
                         "\"d\":false,\"e\":null,\"f\":{},\"g\":[],"
                         "\"h\":[[],{}],\"usage\":{\"total_tokens\":3}}");
    is_int(run(&u, s, n, 0), 0, "numbers, literals, empty containers");
    is_int(u.res.total_tokens, 3, "usage after them");
    ok(same_everywhere(s), "skipped values: same at every split");
    is_int(run(&u, "{\"a\":1x}", 8, 0), -1, "a number then junk");
    is_int(run(&u, "{\"a\":[1}", 8, 0), -1, "'}' closes an array");
    is_int(run(&u, "{\"a\":{]}", 8, 0), -1, "']' closes an object");
    is_int(run(&u, "{\"a\" 1}", 7, 0), -1, "no colon");
    is_int(run(&u, "{\"a\":1,}", 8, 0), -1, "',' then '}'");
    is_int(run(&u, "{\"a\":nulx}", 10, 0), -1, "nulx");

    /* whitespace everywhere */
    n = (size_t) sprintf(s, " {\r\n\t\"model\" \n:\t\"w\" , \"usage\" : "
                         "{ \"prompt_tokens\" : 4 } , \"x\" : [ 1 , "
                         "\"y\" ] } \n");
    is_int(run(&u, s, n, 0), 0, "whitespace everywhere");
    is_str(u.res.model, "w", "model");
    is_int(u.res.prompt_tokens, 4, "prompt_tokens");
    ok(same_everywhere(s), "whitespace: same at every split");

    /* keys: each byte of each key changed, and one byte longer/shorter */
    bad = 0;

    for (k = 0; k < 3; k++) {
        kl = strlen(keys[k]);

        for (i = -2; i < (int) kl; i++) {
            memcpy(key, keys[k], kl + 1);

            if (i >= 0) {
                key[i] ^= 0x20;

            } else if (i == -1) {
                key[kl - 1] = '\0';

            } else {
                key[kl] = 's';
                key[kl + 1] = '\0';
            }

            n = (size_t) sprintf(s, "{\"%s\":{\"%s\":{\"%s\":7}}}",
                                 k == 0 ? key : keys[0],
                                 k == 1 ? key : keys[1],
                                 k == 2 ? key : keys[2]);

            if (run(&u, s, n, 0) != 0 || u.res.reasoning_tokens != 0) {
                printf("# key %s taken\n", key);
                bad++;
            }
        }
    }

    n = (size_t) sprintf(s, "{\"%s\":{\"%s\":{\"%s\":7}}}", keys[0], keys[1],
                         keys[2]);
    ok(run(&u, s, n, 0) == 0 && u.res.reasoning_tokens == 7,
       "the exact keys are taken");
    is_int(bad, 0, "keys with a byte changed, one byte more or less: not");

    /* the model: long ones truncated as captured */
    n = (size_t) sprintf(s, "{\"model\":\"%0300d\"}", 5);
    is_int(run(&u, s, n, 0), 0, "300-byte model");
    is_int(strlen(u.res.model), LLR_RESP_MODEL_LEN - 1, "truncated");
    ok(same_everywhere(s), "long model: same at every split");

    /* depth: LLR_JSON_MAX_DEPTH containers are fine, one more is not */
    for (k = 0; k < 2; k++) {
        n = 0;

        for (i = 0; i < LLR_JSON_MAX_DEPTH + k; i++) {
            s[n++] = (i & 1) ? '[' : '{';

            if (!(i & 1)) {
                n += (size_t) sprintf(s + n, "\"a\":");
            }
        }

        for (i = LLR_JSON_MAX_DEPTH + k - 1; i >= 0; i--) {
            s[n++] = (i & 1) ? ']' : '}';
        }

        s[n] = '\0';
        is_int(run(&u, s, n, 0), k ? -1 : 0, "depth %d",
               LLR_JSON_MAX_DEPTH + k);
        ok(same_everywhere(s), "depth %d: same at every split",
           LLR_JSON_MAX_DEPTH + k);
    }
}


int
main(void)
{
    llr_usage_t  u;
    char         deep[LLR_JSON_MAX_DEPTH * 2 + 16];
    size_t       i;

    /* chat completion */
    is_int(run(&u, chat, strlen(chat), 0), 0, "chat parses");
    ok(u.res.has_usage, "chat has usage");
    is_int(u.res.prompt_tokens, 1234, "prompt_tokens");
    is_int(u.res.completion_tokens, 56, "completion_tokens");
    is_int(u.res.total_tokens, 1290, "total_tokens");
    is_int(u.res.cached_tokens, 1024, "cached_tokens");
    is_int(u.res.reasoning_tokens, 7, "reasoning_tokens");
    is_str(u.res.model, "gpt-4o-mini-2024-07-18", "model");
    is_int(u.res.finish[LLR_FINISH_STOP], 1, "one stop");
    is_int(u.res.finish[LLR_FINISH_TOOL_CALLS], 1, "one tool_calls");
    /* Hello "wörld" 😀! = 6 + 1 + 6 + 1 + 1 + 4 + 1, arguments 7 */
    is_int(u.res.content_bytes, 20 + 7, "content bytes decoded");
    ok(!u.res.error && !u.res.json_error, "no error");
    ok(llr_usage_usable(&u.res, 0), "chat usage is usable");
    ok(same_everywhere(chat), "chat: same result split at every byte "
       "and in pieces of every size");

    /* Responses API */
    is_int(run(&u, responses, strlen(responses), 0), 0, "responses parses");
    is_int(u.res.prompt_tokens, 328, "input_tokens");
    is_int(u.res.completion_tokens, 52, "output_tokens");
    is_int(u.res.cached_tokens, 128, "input cached_tokens");
    is_int(u.res.reasoning_tokens, 40, "output reasoning_tokens");
    is_int(u.res.total_tokens, 380, "responses total");
    is_int(u.res.finish[LLR_FINISH_LENGTH], 1, "incomplete -> length");
    is_str(u.res.model, "o3-mini", "responses model");
    is_int(u.res.content_bytes, 8, "responses output text bytes");
    ok(!u.res.error, "error null is no error");
    ok(same_everywhere(responses), "responses: same at every split");

    /* embeddings, with a decoy usage nested deeper */
    is_int(run(&u, embeddings, strlen(embeddings), 0), 0, "embeddings");
    is_int(u.res.prompt_tokens, 8, "embeddings prompt_tokens (not decoy)");
    is_int(u.res.total_tokens, 8, "embeddings total");
    is_int(u.res.completion_tokens, 0, "embeddings no completion");
    ok(same_everywhere(embeddings), "embeddings: same at every split");
    ok(llr_usage_usable(&u.res, 1), "embeddings usage usable (prompt only)");
    ok(!llr_usage_usable(&u.res, 0),
       "but not where completion tokens are due");

    /* usage that cannot be charged: estimated instead (issue 20, 4) */
    test_unusable();
    test_unusable_sse();

    /* no usage */
    is_int(run(&u, nousage, strlen(nousage), 0), 0, "no usage parses");
    ok(!u.res.has_usage, "usage null is no usage");
    is_int(u.res.content_bytes, 4, "content bytes for the estimate");
    is_int(u.res.finish[LLR_FINISH_LENGTH], 1, "finish length");

    /* error bodies */
    is_int(run(&u, errbody, strlen(errbody), 0), 0, "error body parses");
    ok(u.res.error, "error seen");
    is_str(u.res.error_type, "requests", "error type");
    is_str(u.res.error_code, "rate_limit_exceeded", "error code");
    is_str(u.res.error_message, "Rate limit reached for gpt-4o",
           "error message");
    ok(same_everywhere(errbody), "error: same at every split");
    run(&u, errnum, strlen(errnum), 0);
    is_str(u.res.error_code, "429", "numeric error code");

    /* not JSON, truncated, trailing garbage, too deep */
    is_int(run(&u, "<html>502</html>", 16, 0), -1, "html is not JSON");
    ok(u.res.json_error, "json_error set");
    is_int(run(&u, chat, strlen(chat) - 5, 0), -1, "truncated body");
    ok(u.res.has_usage, "what was found before truncation is kept");
    is_int(run(&u, "{} x", 4, 0), -1, "trailing garbage");
    is_int(run(&u, "{\"a\":[1,2}", 10, 0), -1, "mismatched bracket");
    is_int(run(&u, "{\"a\":tru}", 9, 0), -1, "bad literal");
    is_int(run(&u, "{\"a\":\"\\q\"}", 10, 0), -1, "bad escape");

    for (i = 0; i < LLR_JSON_MAX_DEPTH + 1; i++) {
        deep[i] = '[';
    }

    is_int(run(&u, deep, LLR_JSON_MAX_DEPTH + 1, 0), -1, "too deep");
    is_int(run(&u, deep, LLR_JSON_MAX_DEPTH, 0), -1,
           "max depth accepted but truncated");
    ok(!u.json.v_bad, "max depth itself is not an error");

    /* a huge content string is skipped, never held */
    {
        static char  big[300000];
        size_t       n;

        n = (size_t) sprintf(big, "{\"model\":\"m\",\"choices\":[{"
                             "\"message\":{\"content\":\"");
        memset(big + n, 'x', 250000);
        n += 250000;
        n += (size_t) sprintf(big + n, "\"}}],\"usage\":{\"prompt_tokens\""
                              ":1,\"completion_tokens\":2}}");
        is_int(run(&u, big, n, 1000), 0, "250 KB content in 1 KB pieces");
        is_int(u.res.content_bytes, 250000, "its bytes counted");
        is_int(u.res.completion_tokens, 2, "usage after it");
        ok(sizeof(llr_usage_t) < 2048, "state is %zu bytes",
           sizeof(llr_usage_t));
    }

    test_fast_paths();
    test_token_path();

    /* finish reasons */
    is_int(llr_finish_reason("content_filter", 14),
           LLR_FINISH_CONTENT_FILTER, "content_filter");
    is_int(llr_finish_reason("stopp", 5), LLR_FINISH_OTHER, "other");
    is_str(llr_finish_name(LLR_FINISH_LENGTH), "length", "name");

    done_testing();
}
