/*
 * Unit tests of core/llr_mock: the JSON tree parser, the request plan of
 * the mock provider and instances of JSON schemas.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "llr_mock.h"


static size_t  live;                  /* blocks not yet freed */
static size_t  fail_after = (size_t) -1;


static void *
t_malloc(void *ctx, size_t size)
{
    if (fail_after == 0) {
        return NULL;
    }

    fail_after--;
    live++;

    return malloc(size);
}


static void
t_free(void *ctx, void *p)
{
    if (p) {
        live--;
    }

    free(p);
}


static llr_alloc_t  alloc = { t_malloc, NULL, t_free, NULL };


static llr_jv_doc_t *
parse(const char *s, int (*want)(const char *, size_t), const char **err)
{
    return llr_jv_parse(&alloc, (const unsigned char *) s, strlen(s), want,
                        err);
}


/* the instance of the schema in text s, NUL-terminated in out */
static size_t
instance(const char *s, char *out, size_t size)
{
    size_t         n;
    const char    *err;
    llr_jv_doc_t  *doc;

    out[0] = '\0';
    doc = parse(s, NULL, &err);

    if (doc == NULL) {
        printf("# schema does not parse: %s\n", err);
        return 0;
    }

    n = llr_schema_instance(doc->root, out, size - 1);
    out[n < size - 1 ? n : size - 1] = '\0';

    llr_jv_free(doc);

    return n;
}


/* 1 if s parses as JSON */
static int
valid(const char *s)
{
    llr_jv_doc_t  *doc;

    doc = parse(s, NULL, NULL);
    llr_jv_free(doc);

    return doc != NULL;
}


static void
test_parse(void)
{
    size_t           i;
    const char      *err;
    llr_jv_doc_t    *doc;
    const llr_jv_t  *v;
    char             deep[300];

    static const char  *good[] = {
        "{}", "[]", " 0 ", "-0.5e+3", "\"\"", "true", "false", "null",
        "{\"a\":[1,{\"b\":null}],\"a\":2}", "\"\\u00e9\\ud83d\\ude00\\/\"",
        "[\"caf\xc3\xa9\"]", "{\"\":\"\\u0000\"}", NULL
    };

    static const char  *bad[] = {
        "", " ", "{", "[1,]", "{\"a\"}", "{\"a\":}", "{a:1}", "01", "1.",
        "-", "1e", "+1", ".5", "tru", "nul", "\"\\x\"", "\"\\u12\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"",
        "\"\xc3\"", "\"\xff\"", "[1] 2", "{\"a\":1,}", "\"abc", "\"abc\\",
        "[1 2]", "{\"a\":1 \"b\":2}", NULL
    };

    for (i = 0; good[i]; i++) {
        doc = parse(good[i], NULL, &err);
        ok(doc != NULL, "parses: %s", good[i]);
        llr_jv_free(doc);
    }

    for (i = 0; bad[i]; i++) {
        err = NULL;
        doc = parse(bad[i], NULL, &err);
        ok(doc == NULL && err != NULL, "rejected: '%s' (%s)", bad[i],
           err ? err : "-");
        llr_jv_free(doc);
    }

    /* nesting */

    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    ok(valid(deep), "64 levels parse");

    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    ok(!valid(deep), "65 levels are too deep");

    /* values */

    doc = parse("{\"a\":1,\"s\":\"x\\ny\\u00e9\",\"a\":[true,null],"
                "\"n\":-2.5e1}", NULL, &err);
    v = llr_jv_get(doc->root, "a");
    ok(v && v->type == LLR_JV_ARRAY && v->n == 2, "the last duplicate wins");
    ok(v && v->child->type == LLR_JV_TRUE
       && v->child->next->type == LLR_JV_NULL, "array elements in order");
    v = llr_jv_get(doc->root, "s");
    ok(v && v->len == 5 && memcmp(v->str, "x\ny\xc3\xa9", 6) == 0,
       "a string decoded");
    v = llr_jv_get(doc->root, "n");
    ok(v && v->num == -25 && strcmp(v->str, "-2.5e1") == 0,
       "a number: value and text");
    ok(llr_jv_get(doc->root, "missing") == NULL, "a missing member");
    ok(llr_jv_get(v, "a") == NULL, "get on a number");
    is_int(doc->root->n, 4, "members counted");
    llr_jv_free(doc);

    /* the filter: only wanted top-level members are kept */

    doc = parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\""
                ":\"hi\"}],\"n\":3,\"tools\":[{\"type\":\"function\"}]}",
                llr_mock_wanted, &err);
    ok(doc != NULL, "filtered: parses");
    is_int(doc->root->n, 2, "filtered: two members kept");
    ok(llr_jv_get(doc->root, "messages") == NULL
       && llr_jv_get(doc->root, "model") == NULL, "filtered: others dropped");
    v = llr_jv_get(doc->root, "tools");
    ok(v && v->n == 1 && llr_jv_get(v->child, "type"),
       "filtered: nested members are all kept");
    llr_jv_free(doc);

    ok(parse("{\"messages\":[1,]}", llr_mock_wanted, &err) == NULL,
       "filtered: a dropped value is still checked");

    /* memory: everything freed, an allocation failure is an error */

    is_int(live, 0, "every block freed");

    for (i = 0; i < 4; i++) {
        fail_after = i;
        err = NULL;
        doc = parse("{\"tools\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}",
                    NULL, &err);
        ok(doc == NULL || i >= 2, "allocation %zu fails: %s", i,
           doc ? "parsed (fewer allocations)" : err);
        llr_jv_free(doc);
    }

    fail_after = (size_t) -1;
    is_int(live, 0, "every block freed after failures");
}


static void
plan(const char *body, int responses, llr_mock_plan_t *p, const char **msg,
    const char **param)
{
    llr_jv_doc_t  *doc;
    static llr_jv_doc_t  *keep;

    llr_jv_free(keep);

    *param = NULL;
    doc = parse(body, llr_mock_wanted, NULL);
    *msg = llr_mock_plan(p, doc ? doc->root : NULL, responses, param);
    keep = doc;
}


static void
test_plan(void)
{
    const char       *msg, *param;
    llr_mock_plan_t   p;

#define FN(name, params)                                                      \
    "{\"type\":\"function\",\"function\":{\"name\":\"" name "\","             \
    "\"parameters\":" params "}}"

    plan("{\"messages\":[]}", 0, &p, &msg, &param);
    ok(msg == NULL && p.n == 1 && !p.base64 && !p.json && p.tool == NULL,
       "nothing asked: one plain choice");

    plan("{\"n\":3}", 0, &p, &msg, &param);
    is_int(p.n, 3, "n 3");
    plan("{\"n\":null}", 0, &p, &msg, &param);
    is_int(p.n, 1, "n null");
    plan("{\"n\":128}", 0, &p, &msg, &param);
    is_int(p.n, 128, "n 128");

    plan("{\"n\":0}", 0, &p, &msg, &param);
    ok(msg && strcmp(param, "n") == 0, "n 0: an error for n");
    plan("{\"n\":129}", 0, &p, &msg, &param);
    ok(msg != NULL, "n 129: an error");
    plan("{\"n\":1.5}", 0, &p, &msg, &param);
    ok(msg != NULL, "n 1.5: an error");
    plan("{\"n\":\"2\"}", 0, &p, &msg, &param);
    ok(msg != NULL, "n \"2\": an error");

    plan("{\"encoding_format\":\"base64\"}", 0, &p, &msg, &param);
    ok(msg == NULL && p.base64, "base64");
    plan("{\"encoding_format\":\"float\"}", 0, &p, &msg, &param);
    ok(msg == NULL && !p.base64, "float");
    plan("{\"encoding_format\":\"hex\"}", 0, &p, &msg, &param);
    ok(msg && strcmp(param, "encoding_format") == 0, "hex: an error");

    /* tools */

    plan("{\"tools\":[" FN("f", "{\"type\":\"object\"}") "]}", 0, &p, &msg,
         &param);
    ok(msg == NULL && p.tool == NULL, "tools, no tool_choice: no call");

    plan("{\"tools\":[" FN("f", "{}") "],\"tool_choice\":\"auto\"}", 0, &p,
         &msg, &param);
    ok(msg == NULL && p.tool == NULL, "tool_choice auto: no call");

    plan("{\"tool_choice\":\"required\",\"tools\":[{\"type\":\"web_search\"},"
         FN("first", "{\"type\":\"object\"}") "," FN("second", "{}") "]}", 0,
         &p, &msg, &param);
    ok(msg == NULL && llr_jv_is(p.tool, "first"),
       "required: the first function");
    ok(p.tool_params && llr_jv_get(p.tool_params, "type"),
       "required: its parameters");

    plan("{\"tools\":[" FN("a", "{}") "," FN("b", "{\"type\":\"object\"}")
         "],\"tool_choice\":{\"type\":\"function\",\"function\":"
         "{\"name\":\"b\"}}}", 0, &p, &msg, &param);
    ok(msg == NULL && llr_jv_is(p.tool, "b"), "named: that function");

    plan("{\"tools\":[" FN("a", "{}") "],\"tool_choice\":{\"type\":"
         "\"function\",\"function\":{\"name\":\"zz\"}}}", 0, &p, &msg,
         &param);
    ok(msg && strcmp(param, "tool_choice") == 0, "named, not in tools");

    plan("{\"tool_choice\":\"required\"}", 0, &p, &msg, &param);
    ok(msg && strcmp(param, "tool_choice") == 0, "required without tools");

    plan("{\"tools\":[{\"type\":\"function\",\"name\":\"flat\","
         "\"parameters\":{}}],\"tool_choice\":\"required\"}", 1, &p, &msg,
         &param);
    ok(msg == NULL && llr_jv_is(p.tool, "flat"), "responses: flat tools");

    plan("{\"tools\":[{\"type\":\"function\",\"name\":\"flat\"}],"
         "\"tool_choice\":{\"type\":\"function\",\"name\":\"flat\"}}", 1, &p,
         &msg, &param);
    ok(msg == NULL && llr_jv_is(p.tool, "flat") && p.tool_params == NULL,
       "responses: named, no parameters");

    /* JSON answers */

    plan("{\"response_format\":{\"type\":\"json_object\"}}", 0, &p, &msg,
         &param);
    ok(p.json && p.schema == NULL, "json_object");

    plan("{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":"
         "{\"name\":\"x\",\"schema\":{\"type\":\"object\"}}}}", 0, &p, &msg,
         &param);
    ok(p.json && p.schema && llr_jv_get(p.schema, "type"), "json_schema");

    plan("{\"response_format\":{\"type\":\"text\"}}", 0, &p, &msg, &param);
    ok(!p.json, "text");

    plan("{\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"x\","
         "\"schema\":{\"type\":\"object\"},\"strict\":true}}}", 1, &p, &msg,
         &param);
    ok(p.json && p.schema, "responses: text.format json_schema");

    plan("{\"text\":{\"format\":{\"type\":\"json_object\"}}}", 1, &p, &msg,
         &param);
    ok(p.json && p.schema == NULL, "responses: text.format json_object");

    plan("{\"response_format\":{\"type\":\"json_object\"}}", 1, &p, &msg,
         &param);
    ok(!p.json, "responses: response_format is not its name");

    plan("{\"response_format\":{\"type\":\"json_object\"},\"tools\":["
         FN("t", "{}") "],\"tool_choice\":\"required\"}", 0, &p, &msg,
         &param);
    ok(p.tool && !p.json, "a required tool call comes first");

    plan("[1]", 0, &p, &msg, &param);
    ok(msg == NULL && p.n == 1, "not an object: defaults");

    plan("{\"tools\":[" FN("f", "{}") "]", 0, &p, &msg, &param);
    ok(msg == NULL && p.n == 1, "not JSON: defaults");

    llr_jv_free(NULL);

#undef FN
}


static void
test_instance(void)
{
    size_t  n, i;
    char    out[8192], big[200000];

    static const struct {
        const char  *schema;
        const char  *expect;
    } cases[] = {
        { "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
          "\"days\":{\"type\":\"integer\",\"minimum\":3},\"metric\":{\"type\":"
          "\"boolean\"},\"t\":{\"type\":\"number\",\"exclusiveMinimum\":0,"
          "\"exclusiveMaximum\":1}},\"required\":[\"city\",\"days\",\"metric\","
          "\"t\"],\"additionalProperties\":false}",
          "{\"city\":\"lorem\",\"days\":3,\"metric\":true,\"t\":0.5}" },
        { "{\"type\":\"string\",\"enum\":[\"caf\xc3\xa9\",\"b\"]}",
          "\"caf\\u00e9\"" },
        { "{\"const\":{\"a\":[1,2.50,\"\\ud83d\\ude00\"]}}",
          "{\"a\":[1,2.50,\"\\ud83d\\ude00\"]}" },
        { "{\"type\":[\"null\",\"string\"],\"minLength\":12,\"maxLength\":14}",
          "\"lorem ipsums\"" },
        { "{\"type\":\"string\",\"maxLength\":3}", "\"lor\"" },
        { "{\"type\":\"string\",\"format\":\"date-time\"}",
          "\"2024-01-01T00:00:00Z\"" },
        { "{\"type\":\"string\",\"format\":\"email\"}",
          "\"mock@example.com\"" },
        { "{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"maximum\":"
          "-5}}", "[-5]" },
        { "{\"type\":\"array\",\"items\":{\"type\":\"number\"},\"minItems\":3,"
          "\"maxItems\":3}", "[1,1,1]" },
        { "{\"type\":\"array\",\"maxItems\":0}", "[]" },
        { "{\"type\":\"array\",\"prefixItems\":[{\"type\":\"string\"},"
          "{\"type\":\"null\"}],\"items\":false}", "[\"lorem\",null]" },
        { "{\"anyOf\":[{\"type\":\"null\"},{\"type\":\"integer\","
          "\"multipleOf\":5,\"minimum\":7}]}", "10" },
        { "{\"oneOf\":[{\"type\":\"null\"}]}", "null" },
        { "{\"allOf\":[{\"properties\":{\"a\":{\"type\":\"string\"}}},"
          "{\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":"
          "\"boolean\"}},\"required\":[\"c\",\"a\",\"c\"]}]}",
          "{\"a\":\"lorem\",\"b\":true,\"c\":\"lorem\"}" },
        { "{\"$defs\":{\"P\":{\"type\":\"object\",\"properties\":{\"n\":"
          "{\"type\":\"string\"}}}},\"type\":\"object\",\"properties\":"
          "{\"p\":{\"$ref\":\"#/$defs/P\"},\"q\":{\"$ref\":\"#/$defs/none\"}}}",
          "{\"p\":{\"n\":\"lorem\"},\"q\":null}" },
        { "{\"definitions\":{\"a~b/c\":{\"type\":\"boolean\"}},\"$ref\":"
          "\"#/definitions/a~0b~1c\"}", "true" },
        { "{\"type\":\"number\",\"minimum\":2.5}", "2.5" },
        { "{\"type\":\"number\",\"maximum\":-0.25}", "-0.25" },
        { "{\"type\":\"integer\",\"minimum\":10,\"exclusiveMinimum\":true}",
          "11" },
        { "{}", "null" },
        { "true", "null" },
        { "{\"properties\":{\"x\":{}}}", "{\"x\":null}" },
        { "{\"type\":\"object\",\"properties\":{\"q\\\"\":{\"type\":"
          "\"string\",\"enum\":[\"a\\\\b\"]}}}", "{\"q\\\"\":\"a\\\\b\"}" },
        { NULL, NULL }
    };

    for (i = 0; cases[i].schema; i++) {
        n = instance(cases[i].schema, out, sizeof(out));
        is_str(out, cases[i].expect, "instance of %s", cases[i].schema);
        ok(n == strlen(cases[i].expect) && valid(out),
           "instance %zu: its length, valid JSON", i);
    }

    /* NULL: an object */
    n = llr_schema_instance(NULL, out, sizeof(out));
    ok(n == 2 && memcmp(out, "{}", 2) == 0, "no schema: {}");

    /* a short buffer: the whole length, nothing written beyond */
    memset(out, 'x', sizeof(out));
    n = instance("{\"type\":\"string\",\"minLength\":100}", out, 11);
    ok(n == 102 && out[11] == 'x', "short buffer: length %zu, bounded", n);

    /* recursion: "#", bounded by the depth, still valid */
    n = instance("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":"
                 "\"string\"},\"children\":{\"type\":\"array\",\"items\":"
                 "{\"$ref\":\"#\"}}},\"required\":[\"name\",\"children\"]}",
                 big, sizeof(big));
    ok(n > 0 && n < sizeof(big) && valid(big),
       "a recursive schema: %zu bytes, valid", n);

    n = instance("{\"$ref\":\"#\"}", out, sizeof(out));
    is_str(out, "null", "a schema that is only a reference to itself");

    /* too many values */
    n = instance("{\"type\":\"array\",\"minItems\":64,\"items\":{\"type\":"
                 "\"array\",\"minItems\":64,\"items\":{\"type\":\"array\","
                 "\"minItems\":64}}}", big, sizeof(big));
    ok(n == (size_t) -1, "too many values: (size_t) -1");

    n = instance("{\"type\":\"string\",\"minLength\":1000000}", big,
                 sizeof(big));
    is_int(n, LLR_SCHEMA_MAX_STRING + 2, "minLength capped");

    n = instance("{\"type\":\"array\",\"minItems\":1000}", big, sizeof(big));
    ok(valid(big) && n == 1 + 64 * 5, "minItems capped at %d",
       LLR_SCHEMA_MAX_ITEMS);
}


/* the type of the tool's input_schema of the last msgs(), or -1 */
static int  tool_schema_type = -1;


/* llr_mock_msgs() on body s: the message (NULL: accepted) */
static const char *
msgs(const char *s, int count, int auto_tools, llr_mock_msgs_t *m,
    char *tool, size_t size)
{
    const char    *err;
    llr_jv_doc_t  *doc;

    tool[0] = '\0';
    doc = parse(s, NULL, &err);

    if (doc == NULL) {
        return "does not parse";
    }

    err = llr_mock_msgs(m, doc->root, count, auto_tools);

    if (err == NULL && m->tool) {
        snprintf(tool, size, "%s", m->tool->str);
    }

    /* what points into the document is read before it is freed */
    tool_schema_type = (err == NULL && m->tool_schema)
                       ? (int) m->tool_schema->type : -1;

    llr_jv_free(doc);

    return err;
}


static void
test_msgs(void)
{
    size_t            i;
    char              tool[64];
    const char       *err;
    llr_mock_msgs_t   m;

    static const struct {
        const char  *body;
        const char  *err;
    }  bad[] = {
        { "[]", "the request body must be a JSON object" },
        { "{\"max_tokens\":5,\"messages\":[]}", "model: Field required" },
        { "{\"model\":1,\"max_tokens\":5}",
          "model: Input should be a valid string" },
        { "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
          "\"content\":\"hi\"}]}", "max_tokens: Field required" },
        { "{\"model\":\"m\",\"max_tokens\":1.5}",
          "max_tokens: Input should be a valid integer" },
        { "{\"model\":\"m\",\"max_tokens\":\"5\"}",
          "max_tokens: Input should be a valid integer" },
        { "{\"model\":\"m\",\"max_tokens\":0}",
          "max_tokens: Input should be greater than or equal to 1" },
        { "{\"model\":\"m\",\"max_tokens\":5}", "messages: Field required" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"messages\":{}}",
          "messages: Input should be a valid list" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[]}",
          "messages: at least one message is required" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
          "\"tool\",\"content\":\"x\"}]}",
          "messages: each role must be 'user', 'assistant' or 'system'" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
          "\"user\"}]}", "messages: each message needs 'content'" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
          "\"user\",\"content\":[\"x\"]}]}",
          "messages: each content block must be an object with a 'type'" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"stream\":1,\"messages\":"
          "[{\"role\":\"user\",\"content\":\"x\"}]}",
          "stream: Input should be a valid boolean" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"system\":5,\"messages\":"
          "[{\"role\":\"user\",\"content\":\"x\"}]}",
          "system: Input should be a valid string or list" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
          "\"user\",\"content\":\"x\"}],\"tool_choice\":{\"type\":\"any\"}}",
          "tool_choice: the tool to use is not one of 'tools'" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
          "\"user\",\"content\":\"x\"}],\"tool_choice\":{\"type\":\"tool\"}}",
          "tool_choice.name: Field required" },
        { "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
          "\"user\",\"content\":\"x\"}],\"tool_choice\":{\"type\":\"x\"}}",
          "tool_choice: 'type' must be 'auto', 'any', 'tool' or 'none'" },
        { NULL, NULL }
    };

    for (i = 0; bad[i].body; i++) {
        err = msgs(bad[i].body, 0, 1, &m, tool, sizeof(tool));
        ok(err && strcmp(err, bad[i].err) == 0, "messages refused: %s (%s)",
           bad[i].body, err ? err : "accepted");
    }

    /* count_tokens needs no max_tokens, and never calls a tool */

    err = msgs("{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
               "\"content\":\"a b c\"}],\"tools\":[{\"name\":\"f\","
               "\"input_schema\":{}}]}", 1, 1, &m, tool, sizeof(tool));
    ok(err == NULL && m.input == 6 && m.max_tokens == -1 && m.tool == NULL
       && !m.stream, "count_tokens: 3 + 3 words, no tool");

    /*
     * tokens: the system prompt is a message; text blocks, tool results
     * (string or blocks) count their words; images, tool_use do not; the
     * cached part ends with the last block with cache_control
     */

    err = msgs("{\"model\":\"m\",\"max_tokens\":7,\"stream\":true,"
               "\"system\":[{\"type\":\"text\",\"text\":\"Be brief.\","
               "\"cache_control\":{\"type\":\"ephemeral\"}}],"
               "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"one two three\",\"cache_control\":"
               "{\"type\":\"ephemeral\"}},{\"type\":\"image\",\"source\":"
               "{\"type\":\"url\",\"url\":\"http://x/y z\"}}]},"
               "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
               "\"id\":\"t\",\"name\":\"f\",\"input\":{\"a\":\"b c\"}}]},"
               "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
               "\"tool_use_id\":\"t\",\"content\":\"x y\"},{\"type\":"
               "\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"z\"}]}]}],"
               "\"tools\":[{\"name\":\"f\",\"input_schema\":{}}]}",
               0, 1, &m, tool, sizeof(tool));
    ok(err == NULL && m.input == 3 + 2 + 3 + 3 + 3 + 3 + 2 + 1
       && m.cached == 3 + 2 + 3 + 3 && m.max_tokens == 7 && m.stream,
       "tokens %zu (20), cached %zu (11)", m.input, m.cached);
    ok(err == NULL && m.tool == NULL,
       "auto: no tool call after a tool result");

    /*
     * a "system" message inside messages, as Claude Code 2.1 sends it:
     * accepted (it was refused as a bad role), and counted as a message
     */

    err = msgs("{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"
               "\"user\",\"content\":\"a\"},{\"role\":\"system\",\"content\":"
               "[{\"type\":\"text\",\"text\":\"b c\"}]}]}", 0, 1, &m, tool,
               sizeof(tool));
    ok(err == NULL && m.input == 3 + 1 + 3 + 2,
       "a system message in messages: accepted, %zu tokens (9): %s",
       m.input, err ? err : "-");

    /* tools: auto calls the first custom tool, unless auto_tools is off */

#define TOOLS  "{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":"  \
               "\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"           \
               "\"web_search_20250305\",\"name\":\"web_search\"},{\"name\":"  \
               "\"f\",\"input_schema\":{\"type\":\"object\"}},{\"name\":"     \
               "\"g\",\"input_schema\":{\"type\":\"object\"}}]"

    err = msgs(TOOLS "}", 0, 1, &m, tool, sizeof(tool));
    ok(err == NULL && strcmp(tool, "f") == 0
       && tool_schema_type == LLR_JV_OBJECT,
       "auto calls the first custom tool (%s)", tool);

    err = msgs(TOOLS "}", 0, 0, &m, tool, sizeof(tool));
    ok(err == NULL && m.tool == NULL, "auto_tools off: no call");

    err = msgs(TOOLS ",\"tool_choice\":{\"type\":\"any\"}}", 0, 0, &m, tool,
               sizeof(tool));
    ok(err == NULL && strcmp(tool, "f") == 0, "any: the first custom tool");

    err = msgs(TOOLS ",\"tool_choice\":{\"type\":\"tool\",\"name\":\"g\"}}",
               0, 1, &m, tool, sizeof(tool));
    ok(err == NULL && strcmp(tool, "g") == 0, "tool: the one named");

    err = msgs(TOOLS ",\"tool_choice\":{\"type\":\"tool\",\"name\":"
               "\"web_search\"}}", 0, 1, &m, tool, sizeof(tool));
    ok(err != NULL, "tool: a server tool cannot be called by the mock");

    err = msgs(TOOLS ",\"tool_choice\":{\"type\":\"none\"}}", 0, 1, &m, tool,
               sizeof(tool));
    ok(err == NULL && m.tool == NULL, "none: no call");

#undef TOOLS

    /* paths */

    ok(llr_mock_msgs_path((const unsigned char *) "/v1/messages", 12)
       == LLR_MOCK_MSGS, "/v1/messages");
    ok(llr_mock_msgs_path((const unsigned char *)
                          "/v1/messages/count_tokens", 25)
       == LLR_MOCK_COUNT, "/v1/messages/count_tokens");
    ok(llr_mock_msgs_path((const unsigned char *) "/v1/chat/completions",
                          20) == 0, "chat is not messages");
    ok(llr_mock_words((const unsigned char *) " a\tb\n\nc ", 8) == 3,
       "words");
}


int
main(void)
{
    test_parse();
    test_plan();
    test_instance();
    test_msgs();

    ok(live == 0, "no block left");

    done_testing();
}
