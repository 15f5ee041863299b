/*
 * core/llr_signal: the quality signals of answers.
 *
 *   - each signal's definition on small answers (finish reasons, empty,
 *     tool arguments, JSON mode, refusal text);
 *   - the default refusal patterns: refusals they must catch, answers
 *     they must not;
 *   - the scanners' hook: JSON string bodies with escapes of every kind,
 *     split at every byte, decode to the text itself;
 *   - the scanners feeding it (llr_json_t.tap): answers and streams
 *     split at every byte, the kinds, choices and tool call indices
 *     they give (parallel tool calls streamed interleaved).
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "sim.h"
#include "llr_signal.h"
#include "llr_req.h"
#include "llr_sse.h"


static llr_pattern_t   refusals;
static llr_sig_conf_t  conf;
static llr_sse_cache_t  sse_cache;     /* scan(): shared by its streams */


/* a chat answer: content pieces (NULL-terminated), finish reason */
static uint32_t
answer(int json_mode, const char *const *content, llr_finish_e fin)
{
    llr_sig_t  s;
    uint32_t   finish[LLR_FINISH_N];

    llr_sig_init(&s, &conf, json_mode);

    for ( /* void */ ; content && *content; content++) {
        llr_sig_text(&s, LLR_TEXT_CONTENT, 0, 0,
                     (const unsigned char *) *content, strlen(*content));
    }

    memset(finish, 0, sizeof(finish));
    finish[fin]++;

    return llr_sig_end(&s, finish);
}


static uint32_t
text1(const char *text)
{
    const char  *c[2] = { text, NULL };

    return answer(0, c, LLR_FINISH_STOP);
}


static void
test_definitions(void)
{
    int          i;
    char         buf[64];
    uint32_t     sig, finish[LLR_FINISH_N];
    llr_sig_t    s;
    const char  *hello[] = { "Hel", "lo", NULL };
    const char  *ws[] = { " \n", "\t", NULL };
    const char  *json_ok[] = { "{\"a\": [1, ", "2]}", NULL };
    const char  *json_bad[] = { "Sure! {\"a\": 1}", NULL };
    const char  *json_cut[] = { "{\"a\": [1, ", NULL };

    is_int(text1("Hello"), 0, "a plain answer: no signal");
    is_int(answer(0, hello, LLR_FINISH_LENGTH),
           LLR_SIG_BIT(LLR_SIG_TRUNCATED), "finish length: truncated");
    is_int(answer(0, hello, LLR_FINISH_CONTENT_FILTER),
           LLR_SIG_BIT(LLR_SIG_CONTENT_FILTER), "content_filter");
    is_int(answer(0, NULL, LLR_FINISH_STOP), LLR_SIG_BIT(LLR_SIG_EMPTY),
           "no text: empty");
    is_int(answer(0, ws, LLR_FINISH_STOP), LLR_SIG_BIT(LLR_SIG_EMPTY),
           "white space only: empty");
    is_int(answer(1, json_ok, LLR_FINISH_STOP), 0, "JSON mode, JSON: fine");
    is_int(answer(0, json_bad, LLR_FINISH_STOP), 0,
           "not JSON mode: text is fine");
    is_int(answer(1, json_bad, LLR_FINISH_STOP), LLR_SIG_BIT(LLR_SIG_BAD_JSON),
           "JSON mode, text around the JSON: bad_json");
    is_int(answer(1, json_cut, LLR_FINISH_LENGTH),
           LLR_SIG_BIT(LLR_SIG_BAD_JSON) | LLR_SIG_BIT(LLR_SIG_TRUNCATED),
           "JSON mode, cut short: truncated and bad_json");
    is_int(answer(1, NULL, LLR_FINISH_STOP), LLR_SIG_BIT(LLR_SIG_EMPTY),
           "JSON mode, no text: empty, not bad_json");

    memset(finish, 0, sizeof(finish));
    finish[LLR_FINISH_TOOL_CALLS] = 1;

    /* reasoning only */
    llr_sig_init(&s, &conf, 0);
    llr_sig_text(&s, LLR_TEXT_REASONING, 0, 0, (const unsigned char *) "hm", 2);
    is_int(llr_sig_end(&s, finish), LLR_SIG_BIT(LLR_SIG_EMPTY),
           "reasoning alone: empty");

    /* tool calls, arguments streamed in pieces, two calls interleaved */
    llr_sig_init(&s, &conf, 0);
    llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, 0, (const unsigned char *) "", 0);
    llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, 0,
                 (const unsigned char *) "{\"city\":", 8);
    llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, 1, (const unsigned char *) "{}", 2);
    llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, 0,
                 (const unsigned char *) "\"Paris\"}", 8);
    is_int(llr_sig_end(&s, finish), 0, "tool calls with JSON arguments: fine");

    llr_sig_init(&s, &conf, 0);
    llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, 0,
                 (const unsigned char *) "{\"city\": Paris}", 15);
    is_int(llr_sig_end(&s, finish), LLR_SIG_BIT(LLR_SIG_BAD_TOOL_JSON),
           "arguments that are not JSON: bad_tool_json");

    llr_sig_init(&s, &conf, 0);
    llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, 0, (const unsigned char *) "", 0);
    is_int(llr_sig_end(&s, finish), LLR_SIG_BIT(LLR_SIG_BAD_TOOL_JSON),
           "empty arguments: bad_tool_json, not empty");

    llr_sig_init(&s, &conf, 0);
    llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, 0,
                 (const unsigned char *) "{\"a\":", 5);
    is_int(llr_sig_end(&s, finish), LLR_SIG_BIT(LLR_SIG_BAD_TOOL_JSON),
           "arguments cut short: bad_tool_json");

    /* ten calls one after the other: more than LLR_SIG_TOOLS at once */
    llr_sig_init(&s, &conf, 0);

    for (i = 0; i < 10; i++) {
        snprintf(buf, sizeof(buf), "{\"n\":%d}", i);
        llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, (uint32_t) i,
                     (const unsigned char *) buf, 4);
        llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, (uint32_t) i,
                     (const unsigned char *) buf + 4, strlen(buf) - 4);
    }

    sig = llr_sig_end(&s, finish);
    ok(sig == 0 && s.tools == 10 && s.tools_early == 10 - LLR_SIG_TOOLS,
       "ten calls in a row: each checked (%u early)", s.tools_early);

    llr_sig_init(&s, &conf, 0);
    llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, 0, (const unsigned char *) "{", 1);

    for (i = 1; i < 10; i++) {
        llr_sig_text(&s, LLR_TEXT_TOOL_ARGS, 0, (uint32_t) i,
                     (const unsigned char *) "{}", 2);
    }

    is_int(llr_sig_end(&s, finish), LLR_SIG_BIT(LLR_SIG_BAD_TOOL_JSON),
           "a bad call among ten: found");

    /* the refusal field */
    llr_sig_init(&s, &conf, 0);
    llr_sig_text(&s, LLR_TEXT_REFUSAL, 0, 0,
                 (const unsigned char *) "No.", 3);
    is_int(llr_sig_end(&s, finish), LLR_SIG_BIT(LLR_SIG_REFUSAL),
           "refusal text: refusal, not empty");

    /* a second choice with text: not empty; its refusal is seen */
    llr_sig_init(&s, &conf, 0);
    llr_sig_text(&s, LLR_TEXT_CONTENT, 1, 0,
                 (const unsigned char *) "I can't help with that.", 23);
    is_int(llr_sig_end(&s, finish), LLR_SIG_BIT(LLR_SIG_REFUSAL),
           "choice 1 refusing: refusal");

    llr_sig_init(&s, &conf, 0);
    llr_sig_text(&s, LLR_TEXT_CONTENT, 9, 0, (const unsigned char *) "x", 1);
    is_int(llr_sig_end(&s, finish), 0, "a choice beyond those examined has "
           "text: not empty");

    /* the patterns see the first LLR_SIG_PREFIX bytes only */
    llr_sig_init(&s, &conf, 0);

    for (i = 0; i < LLR_SIG_PREFIX; i++) {
        llr_sig_text(&s, LLR_TEXT_CONTENT, 0, 0, (const unsigned char *) " ",
                     1);
    }

    llr_sig_text(&s, LLR_TEXT_CONTENT, 0, 0,
                 (const unsigned char *) "I can't help with that.", 23);
    is_int(llr_sig_end(&s, finish), 0, "a refusal after the first %d bytes: "
           "not seen", LLR_SIG_PREFIX);

    is_str(llr_sig_name(LLR_SIG_BAD_TOOL_JSON), "bad_tool_json", "names");
    is_int(llr_sig_by_name("refusal", 7), LLR_SIG_REFUSAL, "and back");
    is_int(llr_sig_by_name("refusals", 8), -1, "an unknown name");
}


static void
test_refusals(void)
{
    size_t  i;

    static const char  *yes[] = {
        "I'm sorry, but I can't help with that.",
        "I’m sorry, but I cannot assist with that request.",
        "Sorry, I can't do that.",
        "I apologize, but I am unable to provide that information.",
        "I can't help with creating malware.",
        "I cannot provide instructions for that.",
        "I won't write that.",
        "I'm unable to assist with this request.",
        "I am not able to help with that.",
        "As an AI language model, I cannot browse the internet.",
        "As an AI, I don't have personal opinions.",
        "I must decline this request.",
        "I'm going to have to decline.",
        "I don't feel comfortable writing that.",
        "  \n\nI’m sorry, but I can’t comply with that.",
        "My apologies, but I will not generate that content."
    };

    static const char  *no[] = {
        "Sure! Here is the code.",
        "I can help with that. First, ...",
        "I'm sorry to hear that. Here are some ideas: ...",
        "Sorry for the confusion earlier; the answer is 42.",
        "The function can't be called twice. I cannot stress this enough.",
        "Here is why I can't agree with the premise: ...",
        "It depends. I can't say for sure, but probably yes.",
        "You asked whether I can't help with that. I can.",
        "As an AI enthusiast, I can tell you ...",
        "I decline to speculate on the weather, but it looks sunny."
    };

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        is_int(text1(yes[i]), LLR_SIG_BIT(LLR_SIG_REFUSAL), "refusal: '%s'",
               yes[i] + strspn(yes[i], " \n"));
    }

    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        is_int(text1(no[i]), 0, "not a refusal: '%s'", no[i]);
    }
}


/* the hook: escaped bodies, split anywhere, decode to the text */
static void
test_tap(void)
{
    int             k, bad, run;
    size_t          len, elen, at, j;
    sim_rng_t       r;
    llr_sig_t       s;
    unsigned char   text[200], esc[2000], *e;
    uint32_t        finish[LLR_FINISH_N];

    static const char  *chars[] = {
        "a", "\xc3\xa9", "\xe2\x80\x99", "\xf0\x9f\x98\x80", "\"", "\\",
        "\n", "\t", "/", "\x01", " "
    };

    sim_seed(&r, 77);
    bad = 0;
    memset(finish, 0, sizeof(finish));

    for (run = 0; run < 2000; run++) {

        /* the text, and its JSON body with escapes of every kind */
        len = 0;
        elen = 0;

        while (len < 150) {
            k = (int) (sim_next(&r) % (sizeof(chars) / sizeof(chars[0])));
            memcpy(text + len, chars[k], strlen(chars[k]));
            e = esc + elen;

            switch (sim_next(&r) % 3) {
            case 0:
                /* \u escapes: a pair for what is above the BMP */
                if (k == 3) {
                    elen += (size_t) sprintf((char *) e, "\\ud83d\\ude00");

                } else if (k == 1) {
                    elen += (size_t) sprintf((char *) e, "\\u00E9");

                } else if (k == 2) {
                    elen += (size_t) sprintf((char *) e, "\\u2019");

                } else {
                    elen += (size_t) sprintf((char *) e, "\\u%04x",
                                             (unsigned) text[len]);
                }

                break;

            default:
                elen += llr_json_escape(e, text + len, strlen(chars[k]));
                break;
            }

            len += strlen(chars[k]);
        }

        /* fed in random pieces */
        llr_sig_init(&s, &conf, 0);

        for (j = 0; j < elen; j = at) {
            at = j + 1 + sim_next(&r) % 9;
            at = at < elen ? at : elen;
            llr_sig_tap(&s, LLR_TEXT_CONTENT, 0, 0, esc + j, at - j,
                        (j == 0 ? LLR_TEXT_BEGIN : 0)
                        | (at == elen ? LLR_TEXT_END : 0));
        }

        if (s.choice[0].plen != len || memcmp(s.choice[0].prefix, text, len))
        {
            if (bad++ == 0) {
                printf("# decoded %u bytes for %zu: '%.*s'\n",
                       s.choice[0].plen, len, (int) elen, esc);
            }
        }

        (void) llr_sig_end(&s, finish);
    }

    is_int(bad, 0, "2000 escaped bodies split at random: decoded exactly");

    /* lone surrogates become U+FFFD, as the scanners count them */
    llr_sig_init(&s, &conf, 0);
    llr_sig_tap(&s, LLR_TEXT_CONTENT, 0, 0,
                (const unsigned char *) "\\ud800x\\udc00\\ud83d", 19,
                LLR_TEXT_BEGIN | LLR_TEXT_END);
    ok(s.choice[0].plen == 10
       && memcmp(s.choice[0].prefix,
                 "\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd", 10) == 0,
       "lone surrogates: U+FFFD");

    /* a tool call whose arguments are an empty string, then escapes */
    llr_sig_init(&s, &conf, 0);
    llr_sig_tap(&s, LLR_TEXT_TOOL_ARGS, 0, 0, NULL, 0,
                LLR_TEXT_BEGIN | LLR_TEXT_END);
    llr_sig_tap(&s, LLR_TEXT_TOOL_ARGS, 0, 0,
                (const unsigned char *) "{\\\"a\\\":\\u0031}", 14,
                LLR_TEXT_BEGIN | LLR_TEXT_END);
    finish[LLR_FINISH_TOOL_CALLS] = 1;
    is_int(llr_sig_end(&s, finish), 0,
           "escaped arguments streamed after an empty delta: valid JSON");
}


#define SC_SSE        1      /* scan()'s kind: a stream */
#define SC_ANTHROPIC  2      /* Anthropic Messages */

/* an answer (JSON, or SSE if sse & SC_SSE; Anthropic's if sse &
 * SC_ANTHROPIC) fed in pieces of at most step bytes, the first cut at
 * `cut`; its signals */
static uint32_t
scan(const char *body, int sse, int json_mode, size_t cut, size_t step)
{
    size_t        len, off, k;
    llr_sig_t     s;
    llr_sse_t     st;
    llr_usage_t   u;

    llr_sig_init(&s, &conf, json_mode);
    len = strlen(body);

    if (sse & SC_SSE) {
        llr_sse_init(&st, (sse & SC_ANTHROPIC) ? LLR_SSE_ANTHROPIC : 0, 0,
                     NULL);
        st.json.tap = llr_sig_tap;
        st.json.tap_ctx = &s;

        /* a tapped stream's own templates (test_sse_tap.c) */
        llr_sse_use_cache(&st, &sse_cache);

    } else {
        llr_usage_init_format(&u, (sse & SC_ANTHROPIC) ? LLR_FMT_ANTHROPIC
                                                       : LLR_FMT_OPENAI);
        u.json.tap = llr_sig_tap;
        u.json.tap_ctx = &s;
    }

    for (off = 0; off < len; off += k) {
        k = (off == 0 && cut) ? cut : step;
        k = (k > len - off) ? len - off : k;

        if (sse & SC_SSE) {
            (void) llr_sse_feed(&st, (const unsigned char *) body + off, k,
                                NULL, NULL);
        } else {
            (void) llr_usage_feed(&u, (const unsigned char *) body + off, k);
        }
    }

    if (sse & SC_SSE) {
        (void) llr_sse_finish(&st, NULL, NULL);
        return llr_sig_end(&s, st.res.finish);
    }

    (void) llr_usage_finish(&u);
    return llr_sig_end(&s, u.res.finish);
}


static void
test_scanners(void)
{
    size_t      i, cut, len, bad;
    uint32_t    got;

    static const struct {
        const char  *name;
        int          sse;
        int          json_mode;
        const char  *body;
        uint32_t     signals;
    } c[] = {
        { "a refusal in a message", 0, 0,
          "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
          "\"assistant\",\"content\":\"I\\u2019m sorry, but I can't help "
          "with that.\"},\"finish_reason\":\"stop\"}]}",
          LLR_SIG_BIT(LLR_SIG_REFUSAL) },
        { "two tool calls, valid arguments", 0, 0,
          "{\"choices\":[{\"index\":0,\"message\":{\"content\":null,"
          "\"tool_calls\":[{\"id\":\"a\",\"type\":\"function\",\"function\":"
          "{\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}},{\"id\":\"b\","
          "\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":"
          "\"[2, {\\\"y\\\": \\\"\\\\u00e9\\\"}]\"}}]},"
          "\"finish_reason\":\"tool_calls\"}]}",
          0 },
        { "the second tool call's arguments cut", 0, 0,
          "{\"choices\":[{\"index\":0,\"message\":{\"content\":null,"
          "\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\","
          "\"arguments\":\"{}\"}},{\"id\":\"b\",\"function\":{\"name\":\"g\","
          "\"arguments\":\"{\\\"y\\\":\"}}]},\"finish_reason\":\"stop\"}]}",
          LLR_SIG_BIT(LLR_SIG_BAD_TOOL_JSON) },
        { "empty and truncated", 0, 0,
          "{\"choices\":[{\"index\":0,\"message\":{\"content\":\"  \","
          "\"reasoning_content\":\"long thought\"},"
          "\"finish_reason\":\"length\"}]}",
          LLR_SIG_BIT(LLR_SIG_EMPTY) | LLR_SIG_BIT(LLR_SIG_TRUNCATED) },
        { "refusal text of its own", 0, 0,
          "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":"
          "\"No.\"},\"finish_reason\":\"stop\"}]}",
          LLR_SIG_BIT(LLR_SIG_REFUSAL) },
        { "JSON mode, an answer that is JSON", 0, 1,
          "{\"choices\":[{\"message\":{\"content\":\"{\\\"a\\\": [1, 2]}\"},"
          "\"finish_reason\":\"stop\"}]}",
          0 },
        { "JSON mode, an answer that is not", 0, 1,
          "{\"choices\":[{\"message\":{\"content\":\"Here: {\\\"a\\\": 1}\"},"
          "\"finish_reason\":\"stop\"}]}",
          LLR_SIG_BIT(LLR_SIG_BAD_JSON) },
        { "a stream, parallel tool calls interleaved by index", 1, 0,
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
          "\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\","
          "\"arguments\":\"\"}}]}}]}\n\n"
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
          "\"index\":1,\"id\":\"b\",\"function\":{\"name\":\"g\","
          "\"arguments\":\"{\\\"y\\\"\"}}]}}]}\n\n"
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
          "\"index\":0,\"function\":{\"arguments\":\"{\\\"x\\\":\"}}]}}]}\n\n"
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
          "\"index\":1,\"function\":{\"arguments\":\":2}\"}}]}}]}\n\n"
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
          "\"index\":0,\"function\":{\"arguments\":\"1}\"}}]}}]}\n\n"
          "data: {\"choices\":[{\"index\":0,\"delta\":{},"
          "\"finish_reason\":\"tool_calls\"}]}\n\n"
          "data: [DONE]\n\n",
          0 },
        { "a stream, a refusal across deltas", 1, 0,
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"I \"}}]}"
          "\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":"
          "\"cannot\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{"
          "\"content\":\" help with that\"}}]}\n\n"
          "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
          "\"stop\"}]}\n\ndata: [DONE]\n\n",
          LLR_SIG_BIT(LLR_SIG_REFUSAL) },
        { "a stream, two choices: the second's text is an answer", 1, 0,
          "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":"
          "\"Paris.\"}}]}\n\n"
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},"
          "\"finish_reason\":\"content_filter\"}]}\n\n"
          "data: {\"choices\":[{\"index\":1,\"delta\":{},\"finish_reason\":"
          "\"stop\"}]}\n\ndata: [DONE]\n\n",
          LLR_SIG_BIT(LLR_SIG_CONTENT_FILTER) },
        { "a Responses API stream, truncated", 1, 0,
          "event: response.output_text.delta\ndata: {\"type\":"
          "\"response.output_text.delta\",\"delta\":\"Paris is\"}\n\n"
          "event: response.incomplete\ndata: {\"type\":"
          "\"response.incomplete\",\"response\":{\"status\":\"incomplete\","
          "\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n",
          LLR_SIG_BIT(LLR_SIG_TRUNCATED) },
        { "Anthropic JSON, a tool_use block and no text", 2, 0,
          "{\"id\":\"msg_1\",\"type\":\"message\",\"content\":[{\"type\":"
          "\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{\"x\":"
          "\"y\"}}],\"stop_reason\":\"tool_use\"}",
          0 },
        { "Anthropic JSON, a refusal cut at max_tokens", 2, 0,
          "{\"type\":\"message\",\"content\":[{\"type\":\"thinking\","
          "\"thinking\":\"Paris.\"},{\"type\":\"text\",\"text\":"
          "\"I cannot help with that\"}],\"stop_reason\":\"max_tokens\"}",
          LLR_SIG_BIT(LLR_SIG_REFUSAL) | LLR_SIG_BIT(LLR_SIG_TRUNCATED) },
        { "Anthropic JSON, thinking only, stop_reason refusal", 2, 0,
          "{\"type\":\"message\",\"content\":[{\"type\":\"thinking\","
          "\"thinking\":\"Paris.\"}],\"stop_reason\":\"refusal\"}",
          LLR_SIG_BIT(LLR_SIG_EMPTY) | LLR_SIG_BIT(LLR_SIG_CONTENT_FILTER) },
        { "Anthropic stream, text and two tool calls, the second cut", 3, 0,
          "event: message_start\ndata: {\"type\":\"message_start\","
          "\"message\":{\"id\":\"msg_1\",\"content\":[],"
          "\"stop_reason\":null}}\n\n"
          "event: content_block_start\ndata: {\"type\":"
          "\"content_block_start\",\"index\":0,\"content_block\":{"
          "\"type\":\"text\",\"text\":\"\"}}\n\n"
          "event: content_block_delta\ndata: {\"type\":"
          "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
          "\"text_delta\",\"text\":\"Sure.\"}}\n\n"
          "event: content_block_start\ndata: {\"type\":"
          "\"content_block_start\",\"index\":1,\"content_block\":{"
          "\"type\":\"tool_use\",\"id\":\"a\",\"name\":\"f\","
          "\"input\":{}}}\n\n"
          "event: content_block_delta\ndata: {\"type\":"
          "\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
          "\"input_json_delta\",\"partial_json\":\"{\\\"x\\\":\"}}\n\n"
          "event: content_block_delta\ndata: {\"type\":"
          "\"content_block_delta\",\"index\":1,\"delta\":{\"type\":"
          "\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
          "event: content_block_start\ndata: {\"type\":"
          "\"content_block_start\",\"index\":2,\"content_block\":{"
          "\"type\":\"tool_use\",\"id\":\"b\",\"name\":\"g\","
          "\"input\":{}}}\n\n"
          "event: content_block_delta\ndata: {\"type\":"
          "\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
          "\"input_json_delta\",\"partial_json\":\"{\\\"y\\\"\"}}\n\n"
          "event: message_delta\ndata: {\"type\":\"message_delta\","
          "\"delta\":{\"stop_reason\":\"tool_use\"}}\n\n"
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
          LLR_SIG_BIT(LLR_SIG_BAD_TOOL_JSON) },
        { "Anthropic stream, a refusal across text deltas", 3, 0,
          "event: content_block_delta\ndata: {\"type\":"
          "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
          "\"text_delta\",\"text\":\"I \"}}\n\n"
          "event: content_block_delta\ndata: {\"type\":"
          "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
          "\"text_delta\",\"text\":\"cannot help with that\"}}\n\n"
          "event: message_delta\ndata: {\"type\":\"message_delta\","
          "\"delta\":{\"stop_reason\":\"end_turn\"}}\n\n"
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
          LLR_SIG_BIT(LLR_SIG_REFUSAL) },
        { "Anthropic stream, thinking only", 3, 0,
          "event: content_block_delta\ndata: {\"type\":"
          "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
          "\"thinking_delta\",\"thinking\":\"Hmm.\"}}\n\n"
          "event: message_delta\ndata: {\"type\":\"message_delta\","
          "\"delta\":{\"stop_reason\":\"end_turn\"}}\n\n"
          "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
          LLR_SIG_BIT(LLR_SIG_EMPTY) }
    };

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        len = strlen(c[i].body);
        bad = 0;

        got = scan(c[i].body, c[i].sse, c[i].json_mode, 0, len);
        is_int(got, c[i].signals, "scanned whole: %s", c[i].name);

        for (cut = 1; cut < len; cut++) {
            got = scan(c[i].body, c[i].sse, c[i].json_mode, cut, len);

            if (got != c[i].signals && bad++ == 0) {
                printf("# cut at %zu: 0x%x\n", cut, got);
            }
        }

        is_int(bad, 0, "cut at every byte: %s", c[i].name);

        got = scan(c[i].body, c[i].sse, c[i].json_mode, 0, 1);
        is_int(got, c[i].signals, "byte by byte: %s", c[i].name);
    }
}


/* the response's id: read while the text is tapped, skipped otherwise */
static void
test_response_id(void)
{
    size_t        k;
    llr_sig_t     s;
    llr_sse_t     st;
    llr_usage_t   u;

    static const char  json[] =
        "{\"id\":\"chatcmpl-abc\",\"choices\":[{\"message\":"
        "{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}";
    static const char  sse[] =
        "data: {\"id\":\"chatcmpl-s\\u0031\",\"choices\":[{\"delta\":"
        "{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n";

    for (k = 0; k < 2; k++) {
        llr_sig_init(&s, &conf, 0);
        llr_usage_init(&u);

        if (k) {
            u.json.tap = llr_sig_tap;
            u.json.tap_ctx = &s;
        }

        (void) llr_usage_feed(&u, (const unsigned char *) json, 7);
        (void) llr_usage_feed(&u, (const unsigned char *) json + 7,
                              sizeof(json) - 8);
        (void) llr_usage_finish(&u);

        is_str(u.res.id_len ? u.res.id : "(none)",
               k ? "chatcmpl-abc" : "(none)",
               "JSON %s: the response's id", k ? "tapped" : "not tapped");
    }

    llr_sig_init(&s, &conf, 0);
    llr_sse_init(&st, 0, 0, NULL);
    st.json.tap = llr_sig_tap;
    st.json.tap_ctx = &s;
    (void) llr_sse_feed(&st, (const unsigned char *) sse, sizeof(sse) - 1,
                        NULL, NULL);
    (void) llr_sse_finish(&st, NULL, NULL);
    is_str(st.res.id_len ? st.res.id : "(none)", "chatcmpl-s1",
           "a stream, tapped: the response's id, escapes undone");
}


int
main(void)
{
    char  err[128];

    if (llr_sig_refusal_default(&refusals, err, sizeof(err)) != 0) {
        printf("# %s\n", err);
        ok(0, "the default refusal patterns compile");
        done_testing();
    }

    ok(1, "the default refusal patterns compile");

    conf.patterns = &refusals;
    conf.npatterns = 1;

    test_definitions();
    test_refusals();
    test_tap();
    test_scanners();
    test_response_id();

    llr_pattern_free(&refusals);

    done_testing();
}
