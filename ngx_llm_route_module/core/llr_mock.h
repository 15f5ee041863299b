/*
 * ngx_llm_route_module: what the mock provider (llm_route_mock) answers,
 * computed.
 *
 * Plain C, no nginx headers, no global state.
 *
 *   - llr_jv_*: a strict JSON parser (RFC 8259, UTF-8 checked) into a
 *     small tree, all of it in blocks from the caller's allocator, freed
 *     at once; with a filter, only the wanted members of the top-level
 *     object are kept (the others are checked and skipped), so a large
 *     "messages" costs a scan and no memory;
 *   - llr_mock_plan(): what of a request shapes the answer: "n",
 *     "encoding_format", the function a "tool_choice" requires, and a
 *     JSON answer asked by "response_format" (Chat Completions) or
 *     "text.format" (Responses API), with its schema;
 *   - llr_schema_instance(): a JSON value that a JSON schema accepts,
 *     the same one every time (tool call arguments, structured
 *     outputs).  The keywords used are listed in docs/mock.md.
 */

#ifndef _LLR_MOCK_H_INCLUDED_
#define _LLR_MOCK_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr.h"
#include "llr_req.h"


#define LLR_JV_MAX_DEPTH      64      /* nesting the parser accepts */
#define LLR_MOCK_MAX_N        128     /* "n", as OpenAI's limit */
#define LLR_SCHEMA_MAX_DEPTH  24      /* nesting of an instance */
#define LLR_SCHEMA_MAX_VALUES 4096    /* values in an instance */
#define LLR_SCHEMA_MAX_ITEMS  64      /* elements of one array */
#define LLR_SCHEMA_MAX_STRING 4096    /* bytes of one string */


typedef enum {
    LLR_JV_NULL = 0,
    LLR_JV_FALSE,
    LLR_JV_TRUE,
    LLR_JV_NUMBER,
    LLR_JV_STRING,
    LLR_JV_ARRAY,
    LLR_JV_OBJECT
} llr_jv_type_e;


typedef struct llr_jv_s  llr_jv_t;

struct llr_jv_s {
    llr_jv_type_e   type;
    const char     *key;          /* a member of an object: its name */
    size_t          key_len;      /* (decoded, NUL-terminated) */
    const char     *str;          /* a string, decoded; a number, as */
    size_t          len;          /* written (both NUL-terminated) */
    double          num;          /* a number's value */
    llr_jv_t       *child;        /* the first element or member */
    size_t          n;            /* elements or members */
    llr_jv_t       *next;         /* the next one of the parent's */
};


typedef struct llr_jv_block_s  llr_jv_block_t;

typedef struct {
    llr_jv_t        *root;
    llr_jv_block_t  *blocks;
    llr_alloc_t      alloc;
} llr_jv_doc_t;


/*
 * Parse len bytes at data, one JSON value and whitespace around it.
 * want (may be NULL: all) says which members of a top-level object are
 * kept; the others are checked and dropped.  Returns the document (free
 * it with llr_jv_free()), or NULL: *err (if err is not NULL) is a static
 * message ("out of memory" when the allocator failed).
 */
llr_jv_doc_t *llr_jv_parse(const llr_alloc_t *alloc,
    const unsigned char *data, size_t len,
    int (*want)(const char *key, size_t len), const char **err);

void llr_jv_free(llr_jv_doc_t *doc);

/* the member of an object named key (the last if repeated), or NULL */
const llr_jv_t *llr_jv_get(const llr_jv_t *obj, const char *key);

/* 1 if v is a string equal to s */
int llr_jv_is(const llr_jv_t *v, const char *s);


/* what of the request shapes the mock's answer */
typedef struct {
    unsigned         n;           /* choices, 1 to LLR_MOCK_MAX_N */
    unsigned         base64:1;    /* embeddings as base64 */
    unsigned         json:1;      /* answer with a JSON object */
    const llr_jv_t  *schema;      /* ... that this schema accepts, or
                                     NULL (json_object) */
    const llr_jv_t  *tool;        /* the function to call: its name (a
                                     string), or NULL */
    const llr_jv_t  *tool_params; /* its parameters schema, or NULL */
} llr_mock_plan_t;


/* the top-level members llr_mock_plan() reads (a filter for parse) */
int llr_mock_wanted(const char *key, size_t len);

/*
 * body: the request's JSON (parsed with llr_mock_wanted or whole);
 * responses: the Responses API's names (text.format, flat function
 * tools) instead of Chat Completions'.  Returns NULL, or a message for
 * a 400 answer with *param the offending field.
 */
const char *llr_mock_plan(llr_mock_plan_t *plan, const llr_jv_t *body,
    int responses, const char **param);


/*
 * A compact JSON value that schema accepts (NULL: an empty object),
 * ASCII only (other characters as \u escapes).  It is written into buf
 * up to size bytes; the return value is its whole length (call again
 * with a larger buf if it is more than size), or (size_t) -1 if it would
 * have more than LLR_SCHEMA_MAX_VALUES values.  Deterministic.
 */
size_t llr_schema_instance(const llr_jv_t *schema, char *buf, size_t size);


#endif /* _LLR_MOCK_H_INCLUDED_ */
