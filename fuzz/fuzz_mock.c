/*
 * libFuzzer target for core/llr_mock: the JSON tree parser, the mock's
 * request plan and instances of JSON schemas.  The first byte: bit 0
 * the Responses API's names in the plan.  Checks: the text parses whole
 * exactly when it parses with the top-level filter, both give the same
 * plan; the instance of the text taken as a schema, and of the plan's
 * schemas, is ASCII, valid JSON, the same when written twice, and its
 * length is what a short buffer was told.  The text as an Anthropic
 * Messages body (llr_mock_msgs): accepted or not, the cached tokens are
 * some of the input tokens, a tool to call has an object schema.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_mock.h"


static void *
fz_malloc(void *ctx, size_t size)
{
    return malloc(size);
}


static void
fz_free(void *ctx, void *p)
{
    free(p);
}


static llr_alloc_t  fz_alloc = { fz_malloc, NULL, fz_free, NULL };


static void
fz_instance(const llr_jv_t *schema)
{
    char          *a, *b, small[8];
    size_t         n, i;
    llr_jv_doc_t  *doc;

    n = llr_schema_instance(schema, small, sizeof(small));

    if (n == (size_t) -1) {
        return;
    }

    a = malloc(n + 1);
    b = malloc(n + 1);

    if (a == NULL || b == NULL
        || llr_schema_instance(schema, a, n) != n
        || llr_schema_instance(schema, b, n + 1) != n
        || memcmp(a, b, n) != 0
        || memcmp(a, small, n < sizeof(small) ? n : sizeof(small)) != 0)
    {
        abort();
    }

    for (i = 0; i < n; i++) {
        if ((unsigned char) a[i] < 0x20 || (unsigned char) a[i] > 0x7e) {
            abort();
        }
    }

    doc = llr_jv_parse(&fz_alloc, (unsigned char *) a, n, NULL, NULL);

    if (doc == NULL) {
        abort();
    }

    llr_jv_free(doc);
    free(a);
    free(b);
}


static void
fz_msgs(const llr_jv_t *body, int count)
{
    const char       *err;
    llr_mock_msgs_t   m;

    err = llr_mock_msgs(&m, body, count, !count);

    if (err == NULL
        && (m.cached > m.input || m.model == NULL
            || m.model->type != LLR_JV_STRING
            || (!count && m.max_tokens < 1)
            || (m.tool && (m.tool->type != LLR_JV_STRING
                           || m.tool_schema == NULL
                           || m.tool_schema->type != LLR_JV_OBJECT))))
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               responses;
    const char       *ea, *eb, *pa, *pb;
    llr_jv_doc_t     *whole, *some;
    llr_mock_plan_t   a, b;

    if (size < 1) {
        return 0;
    }

    responses = data[0] & 1;
    data++;
    size--;

    whole = llr_jv_parse(&fz_alloc, data, size, NULL, NULL);
    some = llr_jv_parse(&fz_alloc, data, size, llr_mock_wanted, NULL);

    if ((whole == NULL) != (some == NULL)) {
        abort();
    }

    if (whole == NULL) {
        return 0;
    }

    pa = NULL;
    pb = NULL;
    ea = llr_mock_plan(&a, whole->root, responses, &pa);
    eb = llr_mock_plan(&b, some->root, responses, &pb);

    if ((ea == NULL) != (eb == NULL) || (ea && strcmp(ea, eb) != 0)
        || a.n != b.n || a.n < 1 || a.n > LLR_MOCK_MAX_N
        || a.base64 != b.base64 || a.json != b.json
        || (a.schema == NULL) != (b.schema == NULL)
        || (a.tool == NULL) != (b.tool == NULL)
        || (a.tool && (a.tool->len != b.tool->len
                       || memcmp(a.tool->str, b.tool->str, a.tool->len)
                          != 0)))
    {
        abort();
    }

    fz_instance(whole->root);
    fz_instance(a.schema);
    fz_instance(a.tool_params);

    fz_msgs(whole->root, responses);

    llr_jv_free(whole);
    llr_jv_free(some);

    return 0;
}
