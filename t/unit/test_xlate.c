/*
 * Unit tests of core/llr_xlate.c and llr_xsse.c: requests, JSON answers,
 * errors and streams translated between the OpenAI and the Anthropic
 * formats.
 *
 * The realistic fixtures are files in t/unit/xlate/ (an OpenAI SDK chat
 * request with images, parallel tool calls and tool results; a Claude
 * Code turn; both formats' answers and streams), each with the exact
 * translation expected; the streams are also fed in pieces of every
 * size and cut at every byte.
 *
 *   LLR_XLATE_DIR   the fixtures (default: t/unit/xlate, run from the top)
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "llr_xlate.h"
#include "llr_xsse.h"
#include "llr_mock.h"


/* a counting allocator: nothing may be left when a test is done */

static long  t_live;


static void *
t_malloc(void *ctx, size_t size)
{
    void  *p;

    p = malloc(size);
    t_live += (p != NULL);
    return p;
}


static void *
t_realloc(void *ctx, void *p, size_t size)
{
    void  *n;

    n = realloc(p, size);
    t_live += (p == NULL && n != NULL);
    return n;
}


static void
t_free(void *ctx, void *p)
{
    t_live -= (p != NULL);
    free(p);
}


static const llr_alloc_t  t_alloc = { t_malloc, t_realloc, t_free, NULL };


typedef struct {
    char    *s;
    size_t   len;
} t_buf_t;


static void
t_add(t_buf_t *b, const void *p, size_t n)
{
    b->s = realloc(b->s, b->len + n + 1);
    if (b->s == NULL) {
        abort();
    }

    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}


static int
t_emit(void *ctx, const unsigned char *p, size_t n)
{
    t_add(ctx, p, n);
    return 0;
}


static char *
t_file(const char *name, size_t *len)
{
    char        path[512];
    long        n;
    FILE       *f;
    char       *s;
    const char *dir;

    dir = getenv("LLR_XLATE_DIR");
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "t/unit/xlate", name);

    f = fopen(path, "rb");
    if (f == NULL) {
        printf("# cannot open %s\n", path);
        abort();
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    s = malloc((size_t) n + 1);
    if (s == NULL || fread(s, 1, (size_t) n, f) != (size_t) n) {
        abort();
    }

    s[n] = '\0';
    fclose(f);
    *len = (size_t) n;

    return s;
}


static int
t_same(const char *got, size_t got_len, const char *exp, size_t exp_len)
{
    size_t  i;

    if (got_len == exp_len && memcmp(got, exp, exp_len) == 0) {
        return 1;
    }

    for (i = 0; i < got_len && i < exp_len && got[i] == exp[i]; i++) {
        /* void */
    }

    printf("# differs at byte %zu\n#   got      '%.60s'\n"
           "#   expected '%.60s'\n", i, got + (i > 20 ? i - 20 : 0),
           exp + (i > 20 ? i - 20 : 0));

    return 0;
}


static const llr_xlate_opts_t  t_opts = { "claude-x", 8, 4096, 0 };


static llr_xlate_rc_e
t_req(llr_xlate_e x, const char *body, const llr_xlate_opts_t *o,
    llr_xlate_out_t *out)
{
    return llr_xlate_request(x, &t_alloc, o ? o : &t_opts,
                             (const unsigned char *) body, strlen(body), out);
}


/* a request translated as the fixture says */

static void
test_request_fixture(llr_xlate_e x, const char *in, const char *exp)
{
    char             *body, *want;
    size_t            blen, wlen;
    llr_xlate_out_t   out;

    body = t_file(in, &blen);
    want = t_file(exp, &wlen);

    is_int(llr_xlate_request(x, &t_alloc, &t_opts,
                             (unsigned char *) body, blen, &out),
           LLR_XLATE_OK, "%s: translated", in);
    ok(t_same((char *) out.data, out.len, want, wlen), "%s: as %s", in, exp);
    is_int(out.stream, 1, "%s: a stream", in);

    t_free(NULL, out.data);
    free(body);
    free(want);
    is_int(t_live, 0, "%s: no memory left", in);
}


static void
test_requests(void)
{
    llr_xlate_out_t   out;
    llr_xlate_opts_t  o;

    test_request_fixture(LLR_XLATE_CHAT_ANTHROPIC, "chat-request.json",
                         "anthropic-request-from-chat.json");
    test_request_fixture(LLR_XLATE_ANTHROPIC_CHAT, "anthropic-request.json",
                         "chat-request-from-anthropic.json");

    /* to Anthropic: the limit the caller gives when the client has none */
    is_int(t_req(LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{"
                 "\"role\":\"user\",\"content\":\"hi\"}]}", NULL, &out),
           LLR_XLATE_OK, "default max_tokens: ok");
    is_str((char *) out.data, "{\"model\":\"claude-x\",\"max_tokens\":4096,"
           "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
           "\"text\":\"hi\"}]}]}", "default max_tokens: the model's");
    is_int(out.stream, 0, "default max_tokens: no stream");
    is_int(out.include_usage, -1, "default max_tokens: no include_usage");
    t_free(NULL, out.data);

    o = t_opts;
    o.max_tokens = 0;
    is_int(t_req(LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{"
                 "\"role\":\"user\",\"content\":\"hi\"}]}", &o, &out),
           LLR_XLATE_REFUSED, "no max_tokens, no default: refused");
    is_str(out.param, "max_tokens", "no max_tokens: param");
    is_int(out.status, 400, "no max_tokens: 400");

    /* max_tokens wins over the default, max_completion_tokens over it */
    t_req(LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"max_tokens\":10,"
          "\"max_completion_tokens\":20,\"messages\":[{\"role\":\"user\","
          "\"content\":\"hi\"}],\"stream\":false,\"stream_options\":null}",
          NULL, &out);
    ok(out.data && strstr((char *) out.data, "\"max_tokens\":20,") != NULL,
       "max_completion_tokens wins");
    t_free(NULL, out.data);

    /* to OpenAI: the limit's name */
    o = t_opts;
    o.max_completion_tokens = 1;
    t_req(LLR_XLATE_ANTHROPIC_CHAT, "{\"model\":\"a\",\"max_tokens\":10,"
          "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &o, &out);
    is_str((char *) out.data, "{\"model\":\"claude-x\",\"messages\":[{"
           "\"role\":\"user\",\"content\":\"hi\"}],\"max_completion_tokens\":"
           "10}", "max_completion_tokens for OpenAI");
    t_free(NULL, out.data);

    /* a system message of the new API, the only system */
    t_req(LLR_XLATE_ANTHROPIC_CHAT, "{\"model\":\"a\",\"max_tokens\":1,"
          "\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"text\","
          "\"text\":\"S\"}]},{\"role\":\"user\",\"content\":\"hi\"}],"
          "\"tool_choice\":{\"type\":\"auto\"},\"output_config\":{\"effort\":"
          "\"low\",\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":"
          "\"object\"}}}}", NULL, &out);
    is_str((char *) out.data, "{\"model\":\"claude-x\",\"messages\":[{"
           "\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\","
           "\"content\":\"hi\"}],\"max_tokens\":1,\"response_format\":{"
           "\"type\":\"json_schema\",\"json_schema\":{\"name\":\"output\","
           "\"schema\":{\"type\":\"object\"},\"strict\":true}},"
           "\"reasoning_effort\":\"low\"}",
           "system message, structured output, effort for OpenAI");
    t_free(NULL, out.data);

    /* structured outputs and effort for Anthropic, tool_choice by name */
    t_req(LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{"
          "\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\","
          "\"content\":[{\"type\":\"text\",\"text\":\"A\"},{\"type\":"
          "\"refusal\",\"refusal\":\"R\"}]}],\"response_format\":{\"type\":"
          "\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{"
          "\"type\":\"object\"},\"strict\":true}},\"reasoning_effort\":"
          "\"high\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
          "\"f\"}}],\"tool_choice\":{\"type\":\"function\",\"function\":{"
          "\"name\":\"f\"}},\"safety_identifier\":\"s1\"}", NULL, &out);
    is_str((char *) out.data, "{\"model\":\"claude-x\",\"max_tokens\":4096,"
           "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
           "\"text\":\"hi\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":"
           "\"text\",\"text\":\"A\"},{\"type\":\"text\",\"text\":\"R\"}]}],"
           "\"metadata\":{\"user_id\":\"s1\"},\"tools\":[{\"name\":\"f\","
           "\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],"
           "\"tool_choice\":{\"type\":\"tool\",\"name\":\"f\"},"
           "\"output_config\":{\"effort\":\"high\",\"format\":{\"type\":"
           "\"json_schema\",\"schema\":{\"type\":\"object\"}}}}",
           "structured output, effort, one tool for Anthropic");
    t_free(NULL, out.data);

    /* a PDF both ways, a document of text to OpenAI */
    t_req(LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{"
          "\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{"
          "\"filename\":\"a.pdf\",\"file_data\":\"data:application/pdf;"
          "base64,JVBE\"}}]}]}", NULL, &out);
    ok(out.data && strstr((char *) out.data, "{\"type\":\"document\","
                          "\"source\":{\"type\":\"base64\",\"media_type\":"
                          "\"application/pdf\",\"data\":\"JVBE\"}}") != NULL,
       "a PDF file part for Anthropic");
    t_free(NULL, out.data);

    t_req(LLR_XLATE_ANTHROPIC_CHAT, "{\"model\":\"a\",\"max_tokens\":1,"
          "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
          "\"document\",\"source\":{\"type\":\"base64\",\"media_type\":"
          "\"application/pdf\",\"data\":\"JVBE\"}},{\"type\":\"document\","
          "\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\","
          "\"data\":\"T\"}},{\"type\":\"image\",\"source\":{\"type\":\"url\","
          "\"url\":\"https://x/y.png\"}}]}]}", NULL, &out);
    is_str((char *) out.data, "{\"model\":\"claude-x\",\"messages\":[{"
           "\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{"
           "\"filename\":\"document.pdf\",\"file_data\":\"data:application/"
           "pdf;base64,JVBE\"}},{\"type\":\"text\",\"text\":\"T\"},{\"type\":"
           "\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}]}],"
           "\"max_tokens\":1}", "documents and a URL image for OpenAI");
    t_free(NULL, out.data);

    /* an empty assistant turn is not written: the user turns join */
    t_req(LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{"
          "\"role\":\"user\",\"content\":\"A\"},{\"role\":\"assistant\","
          "\"content\":\"\"},{\"role\":\"user\",\"content\":\"B\"}]}",
          NULL, &out);
    is_str((char *) out.data, "{\"model\":\"claude-x\",\"max_tokens\":4096,"
           "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
           "\"text\":\"A\"},{\"type\":\"text\",\"text\":\"B\"}]}]}",
           "an empty assistant turn: left out");
    t_free(NULL, out.data);

    /* strings keep every byte: \u0000, escapes, non-ASCII */
    t_req(LLR_XLATE_ANTHROPIC_CHAT, "{\"model\":\"a\",\"max_tokens\":1,"
          "\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\\\"\\n"
          "\\u00e9\\ud83d\\ude00\"}]}", NULL, &out);
    ok(out.data && strstr((char *) out.data, "\"content\":\"a\\u0000b\\\"\\n"
                          "\xc3\xa9\xf0\x9f\x98\x80\"") != NULL,
       "a NUL, escapes and UTF-8 pass");
    t_free(NULL, out.data);

    is_int(t_live, 0, "requests: no memory left");
}


/* what cannot be translated: a 400 naming the field */

static const struct {
    llr_xlate_e   x;
    const char   *body;
    const char   *param;
} t_refusals[] = {
#define M  "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]"
#define A  "\"model\":\"a\",\"max_tokens\":9,"
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M ",\"n\":2}", "n" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M ",\"logprobs\":true}",
      "logprobs" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M ",\"top_logprobs\":2}",
      "top_logprobs" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M ",\"logit_bias\":"
      "{\"1\":2}}", "logit_bias" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M
      ",\"frequency_penalty\":0.5}", "frequency_penalty" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M
      ",\"temperature\":1.5}", "temperature" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M
      ",\"response_format\":{\"type\":\"json_object\"}}", "response_format" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M
      ",\"reasoning_effort\":\"minimal\"}", "reasoning_effort" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M
      ",\"modalities\":[\"text\",\"audio\"]}", "modalities" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M ",\"functions\":[]}",
      "functions" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M ",\"frob\":1}",
      "frob" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{\"role\":"
      "\"user\",\"content\":[{\"type\":\"input_audio\",\"input_audio\":{}}]}"
      "]}", "messages[0].content[0]" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{\"role\":"
      "\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"data:image/tiff;base64,AA\"}}]}]}", "messages[0].content[0]" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{\"role\":"
      "\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":"
      "\"ftp://x\"}}]}]}", "messages[0].content[0]" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{\"role\":"
      "\"user\",\"content\":[{\"type\":\"file\",\"file\":{\"file_id\":"
      "\"f\"}}]}]}", "messages[0].content[0]" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{\"role\":"
      "\"function\",\"name\":\"f\",\"content\":\"x\"}]}",
      "messages[0].role" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{\"role\":"
      "\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
      "messages[0].tool_calls[0]" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{\"role\":"
      "\"tool\",\"content\":\"x\"}]}", "messages[0].tool_call_id" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{\"role\":"
      "\"system\",\"content\":[{\"type\":\"image_url\"}]}]}",
      "messages[0].content[0]" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M ",\"tools\":[{\"type\":"
      "\"custom\",\"custom\":{\"name\":\"x\"}}]}", "tools[0]" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M ",\"tools\":[{\"type\":"
      "\"function\",\"function\":{\"name\":\"f\"}}],\"tool_choice\":{\"type\":"
      "\"allowed_tools\"}}", "tool_choice" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"," M
      ",\"tool_choice\":\"required\"}", "tool_choice" },
    { LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\"}", "messages" },
    { LLR_XLATE_CHAT_ANTHROPIC, "[1]", "" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A M ",\"top_k\":5}", "top_k" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A M ",\"mcp_servers\":[]}",
      "mcp_servers" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A M ",\"frob\":1}", "frob" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A M ",\"metadata\":{\"user_id\":\"u\","
      "\"x\":1}}", "metadata" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A M ",\"tools\":[{\"type\":"
      "\"web_search_20250305\",\"name\":\"web_search\"}]}", "tools[0]" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A M ",\"tools\":[{\"name\":\"n\"}]}",
      "tools[0]" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A M ",\"tool_choice\":{\"type\":"
      "\"any\"}}", "tool_choice" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A M ",\"output_config\":{\"effort\":"
      "\"max\"}}", "output_config.effort" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A M ",\"output_config\":{\"x\":1}}",
      "output_config" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A "\"messages\":[{\"role\":\"user\","
      "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\","
      "\"content\":[{\"type\":\"image\",\"source\":{}}]}]}]}",
      "messages[0].content[0]" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A "\"messages\":[{\"role\":\"user\","
      "\"content\":[{\"type\":\"document\",\"source\":{\"type\":\"url\","
      "\"url\":\"https://x\"}}]}]}", "messages[0].content[0]" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A "\"messages\":[{\"role\":"
      "\"assistant\",\"content\":[{\"type\":\"server_tool_use\"}]}]}",
      "messages[0].content[0]" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A "\"messages\":[{\"role\":\"bot\","
      "\"content\":\"x\"}]}", "messages[0].role" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A "\"system\":[{\"type\":\"image\"}],"
      M "}", "system[0]" },
    { LLR_XLATE_ANTHROPIC_CHAT, "{" A "\"max_tokens\":-1," M "}",
      "max_tokens" },
    { LLR_XLATE_RESPONSES_ANTHROPIC, "{\"model\":\"a\",\"input\":\"x\"}", "" }
#undef M
#undef A
};


static void
test_refusals(void)
{
    size_t           i;
    llr_xlate_rc_e   rc;
    llr_xlate_out_t  out;

    for (i = 0; i < sizeof(t_refusals) / sizeof(t_refusals[0]); i++) {
        rc = t_req(t_refusals[i].x, t_refusals[i].body, NULL, &out);

        ok(rc == LLR_XLATE_REFUSED && out.status == 400
           && strcmp(out.param, t_refusals[i].param) == 0
           && out.message[0] != '\0' && out.data == NULL,
           "refused: %s", t_refusals[i].body);

        if (rc != LLR_XLATE_REFUSED || strcmp(out.param, t_refusals[i].param))
        {
            printf("#   rc %d, param '%s' (expected '%s'), '%s'\n", rc,
                   out.param, t_refusals[i].param, out.message);
        }

        t_free(NULL, out.data);
    }

    t_req(LLR_XLATE_CHAT_ANTHROPIC, "{\"model\":\"a\",\"messages\":[{"
          "\"role\":\"user\",\"content\":\"x\"}],\"n\":3}", NULL, &out);
    is_str(out.message, "'n' is not 1: an Anthropic-format provider "
           "generates one choice.", "refusal: the message says why");

    /* Claude Code's context_management: dropped, not refused */

    is_int(t_req(LLR_XLATE_ANTHROPIC_CHAT, "{\"model\":\"a\",\"max_tokens\":"
                 "5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                 "\"context_management\":{\"edits\":[{\"type\":"
                 "\"clear_thinking_20251015\"}]}}", NULL, &out),
           LLR_XLATE_OK, "context_management: translated");
    ok(out.data && strstr((char *) out.data, "context_management") == NULL,
       "context_management: dropped");
    t_free(NULL, out.data);

    is_int(t_live, 0, "refusals: no memory left");
}


/*
 * Chat -> Anthropic -> chat keeps what both formats have: the result of
 * the round trip is the request with its text turned into strings
 */

static void
test_round_trip(void)
{
    llr_xlate_out_t   a, b;
    llr_xlate_opts_t  o;

    static const char  chat[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":"
        "\"S\"},{\"role\":\"user\",\"content\":\"Q\"},{\"role\":"
        "\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\","
        "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
        "\"{\\\"a\\\":[1,2.50,\\\"\\u00e9\\\"]}\"}}]},{\"role\":\"tool\","
        "\"tool_call_id\":\"c1\",\"content\":\"R\"},{\"role\":\"user\","
        "\"content\":\"Q2\"}],\"max_tokens\":100,\"stop\":[\"X\"],"
        "\"temperature\":0.5,\"top_p\":1,\"user\":\"u\",\"tools\":[{\"type\":"
        "\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\","
        "\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":\"auto\","
        "\"parallel_tool_calls\":false}";

    is_int(t_req(LLR_XLATE_CHAT_ANTHROPIC, chat, NULL, &a), LLR_XLATE_OK,
           "round trip: to Anthropic");

    o = t_opts;
    o.model = "m";
    o.model_len = 1;

    is_int(llr_xlate_request(LLR_XLATE_ANTHROPIC_CHAT, &t_alloc, &o, a.data,
                             a.len, &b), LLR_XLATE_OK,
           "round trip: and back");
    is_str((char *) b.data, "{\"model\":\"m\",\"messages\":[{\"role\":"
           "\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":"
           "\"Q\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
           "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
           "\"f\",\"arguments\":\"{\\\"a\\\":[1,2.50,\\\"\xc3\xa9\\\"]}\"}}]},"
           "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"R\"},"
           "{\"role\":\"user\",\"content\":\"Q2\"}],\"max_tokens\":100,"
           "\"stop\":[\"X\"],\"temperature\":0.5,\"top_p\":1,\"user\":\"u\","
           "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
           "\"description\":\"d\",\"parameters\":{\"type\":\"object\"}}}],"
           "\"tool_choice\":\"auto\",\"parallel_tool_calls\":false}",
           "round trip: the same request (numbers digit for digit)");

    t_free(NULL, a.data);
    t_free(NULL, b.data);
    is_int(t_live, 0, "round trip: no memory left");
}


static llr_xlate_rc_e
t_resp(llr_xlate_e x, int64_t created, const char *body,
    llr_xlate_out_t *out)
{
    return llr_xlate_response(x, &t_alloc, created,
                              (const unsigned char *) body, strlen(body),
                              out);
}


static void
test_answer_fixture(llr_xlate_e x, const char *in, const char *exp)
{
    char             *body, *want;
    size_t            blen, wlen;
    llr_xlate_out_t   out;

    body = t_file(in, &blen);
    want = t_file(exp, &wlen);

    is_int(llr_xlate_response(x, &t_alloc, 1700000000,
                              (unsigned char *) body, blen, &out),
           LLR_XLATE_OK, "%s: translated", in);
    ok(t_same((char *) out.data, out.len, want, wlen), "%s: as %s", in, exp);

    t_free(NULL, out.data);
    free(body);
    free(want);
}


static void
test_answers(void)
{
    llr_xlate_out_t  out;

    test_answer_fixture(LLR_XLATE_CHAT_ANTHROPIC, "anthropic-answer.json",
                        "chat-answer-from-anthropic.json");
    test_answer_fixture(LLR_XLATE_ANTHROPIC_CHAT, "chat-answer.json",
                        "anthropic-answer-from-chat.json");

    /* a refusal, no usage, a length stop */
    is_int(t_resp(LLR_XLATE_ANTHROPIC_CHAT, 0, "{\"id\":\"i\",\"model\":\"m\","
                              "\"choices\":[{\"message\":{\"content\":null,"
                              "\"refusal\":\"No.\"},\"finish_reason\":"
                              "\"stop\"}]}", &out), LLR_XLATE_OK,
           "refusal answer: ok");
    is_str((char *) out.data, "{\"id\":\"msg_i\",\"type\":\"message\",\"role\":"
           "\"assistant\",\"model\":\"m\",\"content\":[{\"type\":\"text\","
           "\"text\":\"No.\"}],\"stop_reason\":\"refusal\","
           "\"stop_sequence\":null}", "refusal answer: stop_reason refusal");
    t_free(NULL, out.data);

    is_int(t_resp(LLR_XLATE_CHAT_ANTHROPIC, 5, "{\"content\":[],"
                              "\"stop_reason\":\"max_tokens\"}", &out),
           LLR_XLATE_OK, "empty answer: ok");
    is_str((char *) out.data, "{\"id\":\"\",\"object\":\"chat.completion\","
           "\"created\":5,\"model\":\"\",\"choices\":[{\"index\":0,\"message\":"
           "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
           "\"logprobs\":null,\"finish_reason\":\"length\"}]}",
           "empty answer: length, no usage");
    t_free(NULL, out.data);

    /* an answer whose content is text parts */
    is_int(t_resp(LLR_XLATE_ANTHROPIC_CHAT, 0, "{\"choices\":[{\"message\":"
                  "{\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                  "{\"type\":\"x\"},{\"type\":\"text\",\"text\":\"b\"}]}}]}",
                  &out),
           LLR_XLATE_OK, "text parts answer: ok");
    ok(out.data && strstr((char *) out.data, "\"content\":[{\"type\":\"text\","
                          "\"text\":\"a\"},{\"type\":\"text\",\"text\":"
                          "\"b\"}]") != NULL, "text parts answer: text blocks");
    t_free(NULL, out.data);

    /*
     * the usage as the scanner reads it (what is charged): the Responses
     * API's names, the last valid count of a name
     */
    t_resp(LLR_XLATE_ANTHROPIC_CHAT, 0, "{\"choices\":[{\"message\":{"
           "\"content\":\"a\"}}],\"usage\":{\"input_tokens\":1163,"
           "\"input_tokens_details\":{\"cached_tokens\":100},"
           "\"output_tokens\":46}}", &out);
    ok(out.data && strstr((char *) out.data, "\"usage\":{\"input_tokens\":"
                          "1063,\"cache_creation_input_tokens\":0,"
                          "\"cache_read_input_tokens\":100,"
                          "\"output_tokens\":46}") != NULL,
       "usage named as in the Responses API: read");
    t_free(NULL, out.data);

    t_resp(LLR_XLATE_CHAT_ANTHROPIC, 0, "{\"content\":[],\"usage\":{"
           "\"input_tokens\":5,\"cache_read_input_tokens\":7,"
           "\"cache_read_input_tokens\":-1,\"output_tokens\":2}}", &out);
    ok(out.data && strstr((char *) out.data, "\"prompt_tokens\":12,") != NULL
       && strstr((char *) out.data, "\"cached_tokens\":7}") != NULL,
       "a count given twice, the last not a count: the first");
    t_free(NULL, out.data);

    /* not the provider's format: a 502 */
    is_int(t_resp(LLR_XLATE_CHAT_ANTHROPIC, 0, "{\"choices\":[]}", &out),
           LLR_XLATE_BAD_ANSWER, "a chat answer from Anthropic: bad");
    is_int(out.status, 502, "bad answer: 502");
    ok(out.message[0] != '\0', "bad answer: a message");
    is_int(t_resp(LLR_XLATE_ANTHROPIC_CHAT, 0, "{\"choices\":[]}", &out),
           LLR_XLATE_BAD_ANSWER, "no choice: bad");
    is_int(t_resp(LLR_XLATE_ANTHROPIC_CHAT, 0, "not json", &out),
           LLR_XLATE_BAD_ANSWER, "not JSON: bad");
    is_int(t_resp(LLR_XLATE_CHAT_ANTHROPIC, 0, "{\"content\":[{\"type\":"
                              "\"tool_use\"}]}", &out),
           LLR_XLATE_BAD_ANSWER, "a tool_use without id: bad");

    is_int(t_live, 0, "answers: no memory left");
}


static void
test_errors(void)
{
    char             buf[256];
    size_t           n;
    llr_xlate_out_t  out;

    static const char  overloaded[] =
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"},\"request_id\":\"req_1\"}";

    static const char  limited[] =
        "{\"error\":{\"message\":\"Rate limit reached\",\"type\":"
        "\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}";

    llr_xlate_error(LLR_XLATE_CHAT_ANTHROPIC, &t_alloc, 529,
                    (const unsigned char *) overloaded, sizeof(overloaded) - 1,
                    &out);
    is_int(out.status, 503, "529 for an OpenAI client: 503");
    is_str((char *) out.data, "{\"error\":{\"message\":\"Overloaded\","
           "\"type\":\"server_error\",\"param\":null,\"code\":"
           "\"overloaded_error\"}}", "Anthropic error as OpenAI's");
    t_free(NULL, out.data);

    llr_xlate_error(LLR_XLATE_ANTHROPIC_CHAT, &t_alloc, 429,
                    (const unsigned char *) limited, sizeof(limited) - 1,
                    &out);
    is_int(out.status, 429, "429 stays");
    is_str((char *) out.data, "{\"type\":\"error\",\"error\":{\"type\":"
           "\"rate_limit_error\",\"message\":\"Rate limit reached\"}}",
           "OpenAI error as Anthropic's");
    t_free(NULL, out.data);

    llr_xlate_error(LLR_XLATE_ANTHROPIC_CHAT, &t_alloc, 502,
                    (const unsigned char *) "<html>bad gateway</html>", 24,
                    &out);
    is_str((char *) out.data, "{\"type\":\"error\",\"error\":{\"type\":"
           "\"api_error\",\"message\":\"The provider answered with status "
           "502.\"}}", "an HTML error page: the status only");
    t_free(NULL, out.data);

    llr_xlate_error(LLR_XLATE_CHAT_ANTHROPIC, &t_alloc, 401,
                    (const unsigned char *) "{\"error\":\"bad key\"}", 19,
                    &out);
    is_str((char *) out.data, "{\"error\":{\"message\":\"bad key\",\"type\":"
           "\"invalid_request_error\",\"param\":null,\"code\":null}}",
           "an error string");
    t_free(NULL, out.data);

    n = llr_error_body(LLR_FMT_OPENAI, 404, "invalid_request_error",
                       "model_not_found", "model",
                       (const unsigned char *) "No \"x\"", 6, NULL, 0);
    is_int(n, 104, "error body: its length without a buffer");
    is_int(llr_error_body(LLR_FMT_OPENAI, 404, "invalid_request_error",
                          "model_not_found", "model",
                          (const unsigned char *) "No \"x\"", 6,
                          (unsigned char *) buf, n), n,
           "error body: written");
    buf[n] = '\0';
    is_str(buf, "{\"error\":{\"message\":\"No \\\"x\\\"\",\"type\":"
           "\"invalid_request_error\",\"param\":\"model\",\"code\":"
           "\"model_not_found\"}}", "error body: OpenAI's");

    n = llr_error_body(LLR_FMT_ANTHROPIC, 404, NULL, "model_not_found",
                       "model", (const unsigned char *) "No\xff", 3,
                       (unsigned char *) buf, sizeof(buf));
    buf[n] = '\0';
    is_str(buf, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
           "\"message\":\"No\\ufffd\"}}", "error body: Anthropic's, UTF-8");

    memset(buf, 'z', sizeof(buf));
    is_int(llr_error_body(LLR_FMT_ANTHROPIC, 400, NULL, NULL, NULL,
                          (const unsigned char *) "m", 1,
                          (unsigned char *) buf, 10), 71,
           "error body: too small, the length");
    is_int(buf[0], 'z', "error body: too small, nothing written");

    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 400), "invalid_request_error",
           "400");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 401), "authentication_error",
           "401");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 402), "billing_error", "402");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 403), "permission_error",
           "403");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 404), "not_found_error", "404");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 405), "invalid_request_error",
           "405");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 413), "request_too_large",
           "413");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 429), "rate_limit_error",
           "429");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 500), "api_error", "500");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 502), "api_error", "502");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 503), "overloaded_error",
           "503");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 504), "timeout_error", "504");
    is_str(llr_error_type(LLR_FMT_ANTHROPIC, 529), "overloaded_error",
           "529");
    is_str(llr_error_type(LLR_FMT_OPENAI, 429), "requests", "openai 429");
    is_str(llr_error_type(LLR_FMT_OPENAI, 503), "server_error",
           "openai 503");
    is_str(llr_error_type(LLR_FMT_OPENAI, 404), "invalid_request_error",
           "openai 404");

    is_int(t_live, 0, "errors: no memory left");
}


static void
test_small(void)
{
    char            buf[48];
    llr_req_view_t  view;

    memset(&view, 0, sizeof(view));
    view.text_bytes = 401;
    view.messages = 3;
    is_int(llr_count_tokens_estimate(&view), 101 + 12,
           "count_tokens: ceil(401 / 4) + 4 per message");
    is_int(llr_count_tokens_body(113, buf, sizeof(buf)), 20,
           "count_tokens body: length");
    is_str(buf, "{\"input_tokens\":113}", "count_tokens body");

    is_str(llr_xlate_finish_reason("end_turn", 8), "stop", "end_turn");
    is_str(llr_xlate_finish_reason("stop_sequence", 13), "stop",
           "stop_sequence");
    is_str(llr_xlate_finish_reason("max_tokens", 10), "length",
           "max_tokens");
    is_str(llr_xlate_finish_reason("tool_use", 8), "tool_calls", "tool_use");
    is_str(llr_xlate_finish_reason("refusal", 7), "content_filter",
           "refusal");
    is_str(llr_xlate_finish_reason("pause_turn", 10), "stop", "pause_turn");
    is_str(llr_xlate_stop_reason("stop", 4), "end_turn", "stop");
    is_str(llr_xlate_stop_reason("length", 6), "max_tokens", "length");
    is_str(llr_xlate_stop_reason("tool_calls", 10), "tool_use",
           "tool_calls");
    is_str(llr_xlate_stop_reason("function_call", 13), "tool_use",
           "function_call");
    is_str(llr_xlate_stop_reason("content_filter", 14), "refusal",
           "content_filter");

    is_int(llr_xlate_client(LLR_XLATE_ANTHROPIC_CHAT), LLR_FMT_ANTHROPIC,
           "client of ANTHROPIC_CHAT");
    is_int(llr_xlate_provider(LLR_XLATE_ANTHROPIC_CHAT), LLR_FMT_OPENAI,
           "provider of ANTHROPIC_CHAT");
    is_int(llr_xlate_provider(LLR_XLATE_RESPONSES_ANTHROPIC),
           LLR_FMT_ANTHROPIC, "provider of RESPONSES_ANTHROPIC");
}


/* streams */

static const llr_xsse_opts_t  t_sopts = { 1700000000, 1, 0 };


/* the stream fed in pieces of `piece` bytes (0: whole), stopped at cut */

static t_buf_t
t_stream(llr_xlate_e x, const llr_xsse_opts_t *o, const char *s,
    size_t len, size_t piece, size_t cut, int finish, int *ended)
{
    size_t       i, n;
    t_buf_t      b;
    llr_xsse_t  *xs;

    memset(&b, 0, sizeof(b));
    t_add(&b, "", 0);

    xs = llr_xsse_create(x, &t_alloc, o ? o : &t_sopts);
    if (xs == NULL) {
        abort();
    }

    if (cut < len) {
        len = cut;
    }

    for (i = 0; i < len; i += n) {
        n = piece ? piece : len;
        if (n > len - i) {
            n = len - i;
        }

        (void) llr_xsse_feed(xs, (const unsigned char *) s + i, n, t_emit,
                             &b);
    }

    if (finish) {
        (void) llr_xsse_finish(xs, t_emit, &b);
    }

    if (ended) {
        *ended = llr_xsse_ended(xs) + 2 * llr_xsse_cut(xs);
    }

    llr_xsse_destroy(xs);

    return b;
}


static t_buf_t
t_whole(llr_xlate_e x, const llr_xsse_opts_t *o, const char *s, int *ended)
{
    return t_stream(x, o, s, strlen(s), 0, strlen(s), 1, ended);
}


static int
t_ends_with(const t_buf_t *b, const char *s)
{
    size_t  n;

    n = strlen(s);

    return b->len >= n && memcmp(b->s + b->len - n, s, n) == 0;
}


static void
test_stream_fixture(llr_xlate_e x, const char *in, const char *exp,
    const char *terminator, const char *cut_event)
{
    int       e;
    char     *s, *want;
    size_t    len, wlen, k, bad_piece, bad_cut;
    t_buf_t   b;

    s = t_file(in, &len);
    want = t_file(exp, &wlen);

    b = t_stream(x, NULL, s, len, 0, len, 1, &e);
    ok(t_same(b.s, b.len, want, wlen), "%s: as %s", in, exp);
    is_int(e, 1, "%s: ended by the provider's terminator", in);
    free(b.s);

    /* any piece size: the same bytes */

    bad_piece = 0;

    for (k = 1; k <= len && !bad_piece; k++) {
        b = t_stream(x, NULL, s, len, k, len, 1, NULL);

        if (b.len != wlen || memcmp(b.s, want, wlen) != 0) {
            bad_piece = k;
        }

        free(b.s);
    }

    is_int(bad_piece, 0, "%s: the same in pieces of any size", in);

    /*
     * cut at every byte: what was sent is a start of the whole answer
     * (nothing held back), and the end is either the answer's own
     * terminator or the error event
     */

    bad_cut = 0;

    for (k = 0; k < len && !bad_cut; k++) {
        b = t_stream(x, NULL, s, len, 7, k, 0, NULL);

        if (b.len > wlen || memcmp(b.s, want, b.len) != 0) {
            bad_cut = k + 1;
        }

        free(b.s);

        b = t_stream(x, NULL, s, len, 7, k, 1, &e);

        if (!(e == 3 && t_ends_with(&b, cut_event))
            && !(e == 1 && t_ends_with(&b, terminator)))
        {
            bad_cut = k + 1;
        }

        free(b.s);
    }

    is_int(bad_cut, 0, "%s: cut anywhere: sent so far is a start of the "
           "answer; the end a terminator or an error event", in);

    free(s);
    free(want);
}


static const char  t_o_cut[] =
    "data: {\"error\":{\"message\":\"The stream from the provider was "
    "interrupted before it completed.\",\"type\":\"server_error\","
    "\"param\":null,\"code\":\"stream_interrupted\"}}\n\n";

static const char  t_a_cut[] =
    "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
    "\"api_error\",\"message\":\"The stream from the provider was "
    "interrupted before it completed.\"}}\n\n";


#define T_EV(name, data)  "event: " name "\ndata: " data "\n\n"


static void
test_streams(void)
{
    int              e;
    t_buf_t          b;
    llr_xsse_opts_t  o;
    char            *big;

    test_stream_fixture(LLR_XLATE_CHAT_ANTHROPIC, "anthropic-stream.txt",
                        "chat-stream-from-anthropic.txt",
                        "data: [DONE]\n\n", t_o_cut);
    test_stream_fixture(LLR_XLATE_ANTHROPIC_CHAT, "chat-stream.txt",
                        "anthropic-stream-from-chat.txt",
                        "event: message_stop\ndata: {\"type\":"
                        "\"message_stop\"}\n\n", t_a_cut);

    /* without include_usage: no usage chunk */
    o = t_sopts;
    o.include_usage = 0;

    b = t_whole(LLR_XLATE_CHAT_ANTHROPIC, &o,
                 T_EV("message_start", "{\"type\":\"message_start\","
                      "\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{"
                      "\"input_tokens\":1,\"output_tokens\":1}}}")
                 T_EV("message_delta", "{\"type\":\"message_delta\","
                      "\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{"
                      "\"output_tokens\":2}}")
                 T_EV("message_stop", "{\"type\":\"message_stop\"}"),
                 &e);
    ok(strstr(b.s, "\"usage\"") == NULL, "no include_usage: no usage");
    ok(t_ends_with(&b, "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"),
       "no include_usage: stop, [DONE]");
    free(b.s);

    /* the terminator missing after a stop reason: written */
    b = t_whole(LLR_XLATE_CHAT_ANTHROPIC, NULL,
                 T_EV("message_start", "{\"type\":\"message_start\","
                      "\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{"
                      "\"input_tokens\":1,\"output_tokens\":1}}}")
                 T_EV("message_delta", "{\"type\":\"message_delta\","
                      "\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":"
                      "{\"output_tokens\":2}}"), &e);
    is_int(e, 1, "stop reason, no message_stop: ended, not cut");
    ok(t_ends_with(&b, "\"completion_tokens\":2,\"total_tokens\":3,"
                   "\"prompt_tokens_details\":{\"cached_tokens\":0},"
                   "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}"
                   "\n\ndata: [DONE]\n\n"),
       "stop reason, no message_stop: the usage chunk and [DONE]");
    free(b.s);

    b = t_whole(LLR_XLATE_ANTHROPIC_CHAT, NULL,
                 "data: {\"id\":\"i\",\"model\":\"m\",\"choices\":[{\"delta\":{"
                 "\"content\":\"x\"},\"finish_reason\":\"length\"}],"
                 "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n",
                 &e);
    is_int(e, 1, "finish_reason, no [DONE]: ended, not cut");
    ok(t_ends_with(&b, "{\"type\":\"message_delta\",\"delta\":{"
                   "\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},"
                   "\"usage\":{\"input_tokens\":5,"
                   "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":"
                   "0,\"output_tokens\":1}}\n\nevent: message_stop\ndata: "
                   "{\"type\":\"message_stop\"}\n\n"),
       "finish_reason, no [DONE]: message_delta, message_stop");
    free(b.s);

    /* the provider's error events */
    b = t_whole(LLR_XLATE_CHAT_ANTHROPIC, NULL,
                 T_EV("error", "{\"type\":\"error\",\"error\":{\"type\":"
                      "\"overloaded_error\",\"message\":\"Overloaded\"}}")
                 T_EV("message_stop", "{\"type\":\"message_stop\"}"),
                 &e);
    is_int(e, 1, "error event: ended, not cut");
    is_str(b.s, "data: {\"error\":{\"message\":\"Overloaded\",\"type\":"
           "\"server_error\",\"param\":null,\"code\":\"overloaded_error\"}}"
           "\n\n", "error event: OpenAI's error chunk, nothing after");
    free(b.s);

    b = t_whole(LLR_XLATE_ANTHROPIC_CHAT, NULL,
                 "data: {\"error\":{\"message\":\"Rate limited\",\"type\":"
                 "\"requests\"}}\n\ndata: [DONE]\n\n", &e);
    is_str(b.s, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
           "\"rate_limit_error\",\"message\":\"Rate limited\"}}\n\n",
           "error chunk: Anthropic's error event, nothing after");
    free(b.s);

    /* a refusal, reasoning dropped, CRLF lines, comments as pings */
    b = t_whole(LLR_XLATE_ANTHROPIC_CHAT, NULL,
                 "data: {\"id\":\"i\",\"model\":\"m\",\"choices\":[{\"delta\":{"
                 "\"reasoning_content\":\"hmm\"}}]}\r\n\r\n: wait\r\n\r\n"
                 "data: {\"choices\":[{\"delta\":{\"refusal\":\"No\"}}]}\r\n"
                 "\r\ndata: [DONE]\r\n\r\n", &e);
    is_str(b.s, "event: message_start\ndata: {\"type\":\"message_start\","
           "\"message\":{\"id\":\"msg_i\",\"type\":\"message\",\"role\":"
           "\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,"
           "\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,"
           "\"output_tokens\":0}}}\n\n"
           "event: ping\ndata: {\"type\":\"ping\"}\n\n"
           "event: content_block_start\ndata: {\"type\":"
           "\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
           "\"text\",\"text\":\"\"}}\n\n"
           "event: content_block_delta\ndata: {\"type\":"
           "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
           "\"text_delta\",\"text\":\"No\"}}\n\n"
           "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
           "\"index\":0}\n\n"
           "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
           "{\"stop_reason\":\"refusal\",\"stop_sequence\":null},\"usage\":{"
           "\"output_tokens\":0}}\n\n"
           "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
           "refusal, reasoning, CRLF, a comment");
    free(b.s);

    /* thinking as reasoning_content, a data line split in two */
    b = t_whole(LLR_XLATE_CHAT_ANTHROPIC, NULL,
                 "event: content_block_delta\ndata: {\"type\":"
                 "\"content_block_delta\",\"index\":0,\ndata: \"delta\":{"
                 "\"type\":\"thinking_delta\",\"thinking\":\"T\"}}\n\n",
                 &e);
    ok(strstr(b.s, "\"delta\":{\"reasoning_content\":\"T\"}") != NULL,
       "thinking_delta: reasoning_content (two data lines)");
    is_int(e, 3, "thinking only: cut");
    free(b.s);

    /* tools without input deltas: "{}", or the input given whole */
    b = t_whole(LLR_XLATE_CHAT_ANTHROPIC, NULL,
                T_EV("content_block_start", "{\"type\":"
                     "\"content_block_start\",\"index\":0,\"content_block\""
                     ":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"now\","
                     "\"input\":{}}}")
                T_EV("content_block_stop", "{\"type\":\"content_block_stop\","
                     "\"index\":0}")
                T_EV("content_block_start", "{\"type\":"
                     "\"content_block_start\",\"index\":1,\"content_block\""
                     ":{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"f\","
                     "\"input\":{\"a\":1}}}")
                T_EV("content_block_stop", "{\"type\":\"content_block_stop\","
                     "\"index\":1}"), &e);
    ok(strstr(b.s, "\"tool_calls\":[{\"index\":0,\"id\":\"t1\",\"type\":"
              "\"function\",\"function\":{\"name\":\"now\",\"arguments\":"
              "\"\"}}]") != NULL
       && strstr(b.s, "\"tool_calls\":[{\"index\":0,\"function\":{"
                 "\"arguments\":\"{}\"}}]") != NULL,
       "a tool without input deltas: arguments {}");
    ok(strstr(b.s, "\"tool_calls\":[{\"index\":1,\"id\":\"t2\",\"type\":"
              "\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
              "\"{\\\"a\\\":1}\"}}]") != NULL
       && strstr(b.s, "\"index\":1,\"function\"") == NULL,
       "a tool with its input whole: the arguments at once, no more");
    free(b.s);

    /* an event bigger than max_event: the error event */
    big = malloc(70000);
    if (big == NULL) {
        abort();
    }

    memset(big, 'x', 70000);
    memcpy(big, "data: ", 6);
    o = t_sopts;
    o.max_event = 1024;
    b = t_stream(LLR_XLATE_CHAT_ANTHROPIC, &o, big, 70000, 100, 70000, 1,
                 &e);
    is_int(e, 3, "a big event: cut");
    ok(strstr(b.s, "too large") != NULL, "a big event: said so");
    free(b.s);
    free(big);

    /* not JSON, not the API's: skipped */
    b = t_whole(LLR_XLATE_CHAT_ANTHROPIC, NULL,
                 "data: nonsense\n\ndata: [1,2]\n\nretry: 5\nid: 7\n\n",
                 &e);
    is_str(b.s, t_o_cut, "not JSON: skipped, then cut");
    free(b.s);

    ok(llr_xsse_create(LLR_XLATE_RESPONSES_ANTHROPIC, &t_alloc, &t_sopts)
       == NULL, "no stream translator for the Responses API");

    /* the pass-through path's cut events are the translator's */
    {
        size_t                n;
        const unsigned char  *p;

        n = llr_xsse_cut_event(LLR_FMT_OPENAI, &p);
        ok(n == sizeof(t_o_cut) - 1 && memcmp(p, t_o_cut, n) == 0,
           "cut event: OpenAI's");
        n = llr_xsse_cut_event(LLR_FMT_ANTHROPIC, &p);
        ok(n == sizeof(t_a_cut) - 1 && memcmp(p, t_a_cut, n) == 0,
           "cut event: Anthropic's");
    }

    is_int(t_live, 0, "streams: no memory left");
}


int
main(void)
{
    test_requests();
    test_refusals();
    test_round_trip();
    test_answers();
    test_errors();
    test_small();
    test_streams();

    done_testing();
}
