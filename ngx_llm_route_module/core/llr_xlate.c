/*
 * ngx_llm_route_module: translation between the OpenAI and the Anthropic
 * wire formats (requests, JSON answers, errors).
 *
 * Each translation parses the body whole (llr_jv), looks at every
 * top-level member (a member it does not know is refused: it cannot say
 * what the other API would make of it), and writes the other format's
 * body with llr_jw, members in a fixed order.  docs/formats.md is the
 * field-by-field account of what follows.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "llr_cost.h"
#include "llr_jw.h"
#include "llr_mock.h"
#include "llr_xlate.h"


#define LLR_X_PATH  96


typedef struct {
    const llr_alloc_t  *alloc;
    llr_xlate_out_t    *out;
    llr_jw_t            w;              /* the new body */
    llr_jw_t            tmp;            /* texts joined, arguments */
    int                 open_role;      /* the message being written */
    int                 want_role;      /* the next block's message */
} llr_x_t;


/* roles of the messages written (Anthropic merges turns of one role) */
#define LLR_X_NONE       0
#define LLR_X_USER       1
#define LLR_X_ASSISTANT  2


static llr_xlate_rc_e llr_x_refuse(llr_x_t *x, const char *param,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void llr_x_at(char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;


/* ---- small things ------------------------------------------------- */

llr_format_e
llr_xlate_client(llr_xlate_e x)
{
    return x == LLR_XLATE_ANTHROPIC_CHAT ? LLR_FMT_ANTHROPIC
                                         : LLR_FMT_OPENAI;
}


llr_format_e
llr_xlate_provider(llr_xlate_e x)
{
    return (x == LLR_XLATE_CHAT_ANTHROPIC
            || x == LLR_XLATE_RESPONSES_ANTHROPIC) ? LLR_FMT_ANTHROPIC
                                                   : LLR_FMT_OPENAI;
}


static llr_xlate_rc_e
llr_x_refuse(llr_x_t *x, const char *param, const char *fmt, ...)
{
    va_list  args;

    snprintf(x->out->param, sizeof(x->out->param), "%s", param);

    va_start(args, fmt);
    vsnprintf(x->out->message, sizeof(x->out->message), fmt, args);
    va_end(args);

    x->out->status = 400;

    return LLR_XLATE_REFUSED;
}


/* a field's name into path (LLR_X_PATH bytes), cut if need be */
static void
llr_x_at(char *path, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(path, LLR_X_PATH, fmt, args);
    va_end(args);
}


static llr_xlate_rc_e
llr_x_bad(llr_x_t *x, const char *what)
{
    x->out->param[0] = '\0';
    snprintf(x->out->message, sizeof(x->out->message),
             "The provider's answer could not be translated: %s.", what);
    x->out->status = 502;

    return LLR_XLATE_BAD_ANSWER;
}


#define llr_x_key_is(m, s)                                                  \
    ((m)->key_len == sizeof(s) - 1 && memcmp((m)->key, s, sizeof(s) - 1) == 0)

#define llr_x_null(v)  ((v) == NULL || (v)->type == LLR_JV_NULL)


/* a JSON type's name, for messages */
static const char *
llr_x_type(const llr_jv_t *v)
{
    static const char  *names[] = {
        "null", "a boolean", "a boolean", "a number", "a string",
        "an array", "an object"
    };

    return names[v->type];
}


/* a non-negative integer number (up to 2^64 - 1) */
static int
llr_x_uint(const llr_jv_t *v, uint64_t *n)
{
    return v != NULL && v->type == LLR_JV_NUMBER
           && llr_parse_uint(v->str, v->len, UINT64_MAX, n, NULL) == 0;
}


void
llr_xlate_count(const llr_jv_t *obj, const char *key, uint64_t *n)
{
    size_t           len;
    const llr_jv_t  *m;

    if (obj == NULL || obj->type != LLR_JV_OBJECT) {
        return;
    }

    len = strlen(key);

    for (m = obj->child; m; m = m->next) {
        if (m->key_len == len && memcmp(m->key, key, len) == 0) {
            (void) llr_x_uint(m, n);
        }
    }
}


/* a count of an object, 0 when it has none */
static uint64_t
llr_x_count(const llr_jv_t *obj, const char *key)
{
    uint64_t  n;

    n = 0;
    llr_xlate_count(obj, key, &n);

    return n;
}


/* a number that is absent, null or zero */
static int
llr_x_zero(const llr_jv_t *v)
{
    return llr_x_null(v) || (v->type == LLR_JV_NUMBER && v->num == 0);
}


static void
llr_x_str_member(llr_jw_t *w, const char *key, const llr_jv_t *v)
{
    llr_jw_key(w, key);
    llr_jw_str(w, v->str, v->len);
}


/* what a translation makes of a top-level member (its slot, or these) */
#define LLR_X_UNKNOWN  0            /* refused: what would it mean? */
#define LLR_X_IGNORE   1            /* dropped */
#define LLR_X_REFUSE   2            /* refused unless null */

typedef struct {
    const char  *name;
    int          what;
} llr_x_key_t;


static int
llr_x_key(const llr_x_key_t *keys, size_t n, const llr_jv_t *m)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strlen(keys[i].name) == m->key_len
            && memcmp(keys[i].name, m->key, m->key_len) == 0)
        {
            return keys[i].what;
        }
    }

    return LLR_X_UNKNOWN;
}


/*
 * The members of a request body into v[slot] (the last of a repeated
 * one): one that is unknown, or refused and not null, is refused
 */
static llr_xlate_rc_e
llr_x_members(llr_x_t *x, const llr_jv_t *root, const llr_x_key_t *keys,
    size_t n, const llr_jv_t **v, size_t slots, const char *provider)
{
    int              k;
    const llr_jv_t  *m;

    memset(v, 0, slots * sizeof(llr_jv_t *));

    for (m = root->child; m; m = m->next) {
        k = llr_x_key(keys, n, m);

        if (k == LLR_X_UNKNOWN || (k == LLR_X_REFUSE && !llr_x_null(m))) {
            return llr_x_refuse(x, m->key, "'%.*s' cannot be sent to an "
                                "%s-format provider.",
                                (int) (m->key_len > 40 ? 40 : m->key_len),
                                m->key, provider);
        }

        v[k] = m;
    }

    return LLR_XLATE_OK;
}


/* {"type":"tool_use","id":...,"name":...,"input": (the caller ends it) */
static void
llr_x_tool_use(llr_jw_t *w, const llr_jv_t *id, const llr_jv_t *name)
{
    llr_jw_obj(w);
    llr_jw_key(w, "type");
    llr_jw_cstr(w, "tool_use");
    llr_x_str_member(w, "id", id);
    llr_x_str_member(w, "name", name);
    llr_jw_key(w, "input");
}


/* an OpenAI tool call with an Anthropic input as its arguments */
static void
llr_x_tool_call(llr_x_t *x, const llr_jv_t *id, const llr_jv_t *name,
    const llr_jv_t *input)
{
    llr_jw_obj(&x->w);
    llr_x_str_member(&x->w, "id", id);
    llr_jw_key(&x->w, "type");
    llr_jw_cstr(&x->w, "function");
    llr_jw_key(&x->w, "function");
    llr_jw_obj(&x->w);
    llr_x_str_member(&x->w, "name", name);
    llr_jw_key(&x->w, "arguments");

    if (input) {
        llr_jw_value_str(&x->w, &x->tmp, input);

    } else {
        llr_jw_cstr(&x->w, "{}");
    }

    llr_jw_obj_end(&x->w);
    llr_jw_obj_end(&x->w);
}


/* a member named a or b */
#define llr_x_either(m, a, b)  (llr_x_key_is(m, a) || llr_x_key_is(m, b))


void
llr_xlate_chat_counts(const llr_jv_t *usage, uint64_t *prompt,
    uint64_t *cached, uint64_t *completion)
{
    uint64_t         n;
    const llr_jv_t  *m, *c;

    for (m = usage->child; m; m = m->next) {
        if (llr_x_either(m, "prompt_tokens", "input_tokens")) {
            if (llr_x_uint(m, &n)) {
                *prompt = n;
            }

        } else if (llr_x_either(m, "completion_tokens", "output_tokens")) {
            if (llr_x_uint(m, &n)) {
                *completion = n;
            }

        } else if (llr_x_either(m, "prompt_tokens_details",
                                "input_tokens_details"))
        {
            c = llr_jv_get(m, "cached_tokens");

            if (llr_x_uint(c, &n)) {
                *cached = n;
            }
        }
    }
}


void
llr_xlate_usage_chat(llr_jw_t *w, uint64_t prompt, uint64_t cached,
    uint64_t completion, uint64_t reasoning)
{
    llr_jw_key(w, "usage");
    llr_jw_obj(w);
    llr_jw_key(w, "prompt_tokens");
    llr_jw_uint(w, prompt);
    llr_jw_key(w, "completion_tokens");
    llr_jw_uint(w, completion);
    llr_jw_key(w, "total_tokens");
    llr_jw_uint(w, llr_add_sat(prompt, completion));
    llr_jw_key(w, "prompt_tokens_details");
    llr_jw_obj(w);
    llr_jw_key(w, "cached_tokens");
    llr_jw_uint(w, cached);
    llr_jw_obj_end(w);
    llr_jw_key(w, "completion_tokens_details");
    llr_jw_obj(w);
    llr_jw_key(w, "reasoning_tokens");
    llr_jw_uint(w, reasoning);
    llr_jw_obj_end(w);
    llr_jw_obj_end(w);
}


void
llr_xlate_usage_anthropic(llr_jw_t *w, uint64_t prompt, uint64_t cached,
    uint64_t completion)
{
    cached = cached < prompt ? cached : prompt;

    /* Anthropic's input_tokens are those not read from the cache */
    llr_jw_key(w, "usage");
    llr_jw_obj(w);
    llr_jw_key(w, "input_tokens");
    llr_jw_uint(w, prompt - cached);
    llr_jw_key(w, "cache_creation_input_tokens");
    llr_jw_uint(w, 0);
    llr_jw_key(w, "cache_read_input_tokens");
    llr_jw_uint(w, cached);
    llr_jw_key(w, "output_tokens");
    llr_jw_uint(w, completion);
    llr_jw_obj_end(w);
}


/* ---- finish reasons ------------------------------------------------ */

const char *
llr_xlate_finish_reason(const char *stop, size_t len)
{
    llr_finish_e  f;

    f = llr_stop_reason(stop, len);

    /* pause_turn and unknown ones: the turn ended */
    return f == LLR_FINISH_OTHER ? "stop" : llr_finish_name(f);
}


const char *
llr_xlate_stop_reason(const char *finish, size_t len)
{
    switch (llr_finish_reason(finish, len)) {
    case LLR_FINISH_LENGTH:
        return "max_tokens";
    case LLR_FINISH_TOOL_CALLS:
    case LLR_FINISH_FUNCTION_CALL:
        return "tool_use";
    case LLR_FINISH_CONTENT_FILTER:
        return "refusal";
    default:
        return "end_turn";
    }
}


/* ---- OpenAI Chat Completions -> Anthropic Messages ----------------- */

/* the top-level members of a chat request */
enum {
    LLR_XC_UNKNOWN = LLR_X_UNKNOWN,
    LLR_XC_IGNORE = LLR_X_IGNORE,   /* model (replaced), seed, store... */
    LLR_XC_REFUSE = LLR_X_REFUSE,   /* known, never translated */
    LLR_XC_MESSAGES,
    LLR_XC_MAX_TOKENS,
    LLR_XC_MAX_COMPLETION_TOKENS,
    LLR_XC_TEMPERATURE,
    LLR_XC_TOP_P,
    LLR_XC_STOP,
    LLR_XC_STREAM,
    LLR_XC_STREAM_OPTIONS,
    LLR_XC_N,
    LLR_XC_LOGPROBS,
    LLR_XC_TOP_LOGPROBS,
    LLR_XC_LOGIT_BIAS,
    LLR_XC_PENALTY,
    LLR_XC_USER,
    LLR_XC_SAFETY_ID,
    LLR_XC_TOOLS,
    LLR_XC_TOOL_CHOICE,
    LLR_XC_PARALLEL,
    LLR_XC_RESPONSE_FORMAT,
    LLR_XC_REASONING_EFFORT,
    LLR_XC_MODALITIES,
    LLR_XC_N_KEYS
};


static const llr_x_key_t  llr_xc_keys[] = {
    { "model", LLR_XC_IGNORE },
    { "messages", LLR_XC_MESSAGES },
    { "max_tokens", LLR_XC_MAX_TOKENS },
    { "max_completion_tokens", LLR_XC_MAX_COMPLETION_TOKENS },
    { "temperature", LLR_XC_TEMPERATURE },
    { "top_p", LLR_XC_TOP_P },
    { "stop", LLR_XC_STOP },
    { "stream", LLR_XC_STREAM },
    { "stream_options", LLR_XC_STREAM_OPTIONS },
    { "n", LLR_XC_N },
    { "logprobs", LLR_XC_LOGPROBS },
    { "top_logprobs", LLR_XC_TOP_LOGPROBS },
    { "logit_bias", LLR_XC_LOGIT_BIAS },
    { "presence_penalty", LLR_XC_PENALTY },
    { "frequency_penalty", LLR_XC_PENALTY },
    { "user", LLR_XC_USER },
    { "safety_identifier", LLR_XC_SAFETY_ID },
    { "tools", LLR_XC_TOOLS },
    { "tool_choice", LLR_XC_TOOL_CHOICE },
    { "parallel_tool_calls", LLR_XC_PARALLEL },
    { "response_format", LLR_XC_RESPONSE_FORMAT },
    { "reasoning_effort", LLR_XC_REASONING_EFFORT },
    { "modalities", LLR_XC_MODALITIES },
    /* no meaning for the answer: dropped (docs/formats.md) */
    { "seed", LLR_XC_IGNORE },
    { "store", LLR_XC_IGNORE },
    { "metadata", LLR_XC_IGNORE },
    { "service_tier", LLR_XC_IGNORE },
    { "prompt_cache_key", LLR_XC_IGNORE },
    { "prompt_cache_retention", LLR_XC_IGNORE },
    /* what Anthropic cannot do */
    { "functions", LLR_XC_REFUSE },
    { "function_call", LLR_XC_REFUSE },
    { "audio", LLR_XC_REFUSE },
    { "prediction", LLR_XC_REFUSE },
    { "web_search_options", LLR_XC_REFUSE },
    { "verbosity", LLR_XC_REFUSE }
};


#define llr_xc_n  (sizeof(llr_xc_keys) / sizeof(llr_xc_keys[0]))


/*
 * The blocks that follow belong to a turn of role; the turn is written
 * with its first block (a message without one is not written: Anthropic
 * refuses empty turns).  A turn of the role of the one being written
 * goes on in it.
 */

static void
llr_x_turn(llr_x_t *x, int role)
{
    x->want_role = role;
}


/* before a block: its turn */
static void
llr_x_open(llr_x_t *x)
{
    if (x->open_role == x->want_role) {
        return;
    }

    if (x->open_role != LLR_X_NONE) {
        llr_jw_arr_end(&x->w);
        llr_jw_obj_end(&x->w);
    }

    x->open_role = x->want_role;

    if (x->open_role == LLR_X_NONE) {
        return;
    }

    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "role");
    llr_jw_cstr(&x->w, x->open_role == LLR_X_USER ? "user" : "assistant");
    llr_jw_key(&x->w, "content");
    llr_jw_arr(&x->w);
}


static void
llr_x_text_block(llr_jw_t *w, const char *s, size_t len)
{
    llr_jw_obj(w);
    llr_jw_key(w, "type");
    llr_jw_cstr(w, "text");
    llr_jw_key(w, "text");
    llr_jw_str(w, s, len);
    llr_jw_obj_end(w);
}


/*
 * A data URL "data:<media type>;base64,<data>": the media type and the
 * data, or -1.
 */
static int
llr_x_data_url(const llr_jv_t *url, const char **type, size_t *type_len,
    const char **data, size_t *data_len)
{
    const char  *p, *end, *semi;

    p = url->str;
    end = url->str + url->len;

    if (url->len < 5 || strncmp(p, "data:", 5) != 0) {
        return -1;
    }

    p += 5;
    semi = memchr(p, ';', (size_t) (end - p));

    if (semi == NULL || end - semi < 8 || memcmp(semi, ";base64,", 8) != 0) {
        return -1;
    }

    *type = p;
    *type_len = (size_t) (semi - p);
    *data = semi + 8;
    *data_len = (size_t) (end - semi - 8);

    return 0;
}


static int
llr_x_image_type(const char *t, size_t len)
{
    static const char  *types[] = {
        "image/jpeg", "image/png", "image/gif", "image/webp"
    };

    size_t  i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strlen(types[i]) == len && memcmp(types[i], t, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* an OpenAI user content part as an Anthropic block */

static llr_xlate_rc_e
llr_xc_part(llr_x_t *x, const llr_jv_t *part, const char *path)
{
    size_t           tlen, dlen;
    const char      *t, *d;
    const llr_jv_t  *type, *text, *img, *url, *file, *fd;

    llr_x_open(x);

    if (part->type == LLR_JV_STRING) {
        llr_x_text_block(&x->w, part->str, part->len);
        return LLR_XLATE_OK;
    }

    if (part->type != LLR_JV_OBJECT) {
        return llr_x_refuse(x, path, "Invalid content part '%s': expected "
                            "an object, but got %s.", path,
                            llr_x_type(part));
    }

    type = llr_jv_get(part, "type");

    if (llr_jv_is(type, "text")) {
        text = llr_jv_get(part, "text");

        if (text == NULL || text->type != LLR_JV_STRING) {
            return llr_x_refuse(x, path, "The text part '%s' has no "
                                "string 'text'.", path);
        }

        llr_x_text_block(&x->w, text->str, text->len);
        return LLR_XLATE_OK;
    }

    if (llr_jv_is(type, "image_url")) {
        img = llr_jv_get(part, "image_url");
        url = (img && img->type == LLR_JV_OBJECT) ? llr_jv_get(img, "url")
                                                   : img;

        if (url == NULL || url->type != LLR_JV_STRING) {
            return llr_x_refuse(x, path, "The image part '%s' has no "
                                "string 'image_url.url'.", path);
        }

        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "type");
        llr_jw_cstr(&x->w, "image");
        llr_jw_key(&x->w, "source");
        llr_jw_obj(&x->w);

        if (llr_x_data_url(url, &t, &tlen, &d, &dlen) == 0) {
            if (!llr_x_image_type(t, tlen)) {
                return llr_x_refuse(x, path, "The image of '%s' is "
                                    "%.*s: an Anthropic-format provider "
                                    "takes image/jpeg, image/png, image/gif "
                                    "and image/webp.", path,
                                    (int) (tlen > 40 ? 40 : tlen), t);
            }

            llr_jw_key(&x->w, "type");
            llr_jw_cstr(&x->w, "base64");
            llr_jw_key(&x->w, "media_type");
            llr_jw_str(&x->w, t, tlen);
            llr_jw_key(&x->w, "data");
            llr_jw_str(&x->w, d, dlen);

        } else if ((url->len > 8 && strncmp(url->str, "https://", 8) == 0)
                   || (url->len > 7 && strncmp(url->str, "http://", 7) == 0))
        {
            llr_jw_key(&x->w, "type");
            llr_jw_cstr(&x->w, "url");
            llr_x_str_member(&x->w, "url", url);

        } else {
            return llr_x_refuse(x, path, "The image of '%s' is neither a "
                                "base64 data URL nor an http(s) URL.", path);
        }

        llr_jw_obj_end(&x->w);
        llr_jw_obj_end(&x->w);
        return LLR_XLATE_OK;
    }

    if (llr_jv_is(type, "file")) {
        file = llr_jv_get(part, "file");
        fd = llr_jv_get(file, "file_data");

        if (fd == NULL || fd->type != LLR_JV_STRING
            || llr_x_data_url(fd, &t, &tlen, &d, &dlen) != 0
            || tlen != 15 || memcmp(t, "application/pdf", 15) != 0)
        {
            return llr_x_refuse(x, path, "The file part '%s' is not a PDF "
                                "in 'file.file_data' (a base64 data URL): "
                                "file ids and other files cannot be sent "
                                "to an Anthropic-format provider.", path);
        }

        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "type");
        llr_jw_cstr(&x->w, "document");
        llr_jw_key(&x->w, "source");
        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "type");
        llr_jw_cstr(&x->w, "base64");
        llr_jw_key(&x->w, "media_type");
        llr_jw_cstr(&x->w, "application/pdf");
        llr_jw_key(&x->w, "data");
        llr_jw_str(&x->w, d, dlen);
        llr_jw_obj_end(&x->w);
        llr_jw_obj_end(&x->w);
        return LLR_XLATE_OK;
    }

    return llr_x_refuse(x, path, "The content part '%s' of type '%.*s' "
                        "cannot be sent to an Anthropic-format provider.",
                        path, type && type->type == LLR_JV_STRING
                              ? (int) (type->len > 40 ? 40 : type->len) : 1,
                        type && type->type == LLR_JV_STRING ? type->str
                                                            : "?");
}


/*
 * A message's content as text blocks (system and developer messages,
 * tool results): a string, or an array of text parts.  Empty texts are
 * left out (Anthropic refuses empty text blocks).  With key, the member
 * key and its array are opened before the first block (*n == 0); *n
 * counts the blocks.
 */

#define llr_xc_block(x, key, n)                                             \
    do {                                                                     \
        if ((key) && *(n) == 0) {                                            \
            llr_jw_key(&(x)->w, key);                                        \
            llr_jw_arr(&(x)->w);                                             \
        }                                                                    \
        (*(n))++;                                                            \
    } while (0)

static llr_xlate_rc_e
llr_xc_texts(llr_x_t *x, const llr_jv_t *content, const char *path,
    const char *key, unsigned *n)
{
    size_t           j;
    char             p[LLR_X_PATH];
    const llr_jv_t  *part, *text;

    if (llr_x_null(content)) {
        return LLR_XLATE_OK;
    }

    if (content->type == LLR_JV_STRING) {
        if (content->len) {
            llr_xc_block(x, key, n);
            llr_x_text_block(&x->w, content->str, content->len);
        }

        return LLR_XLATE_OK;
    }

    if (content->type != LLR_JV_ARRAY) {
        return llr_x_refuse(x, path, "Invalid type for '%s': expected a "
                            "string or an array, but got %s.", path,
                            llr_x_type(content));
    }

    for (part = content->child, j = 0; part; part = part->next, j++) {
        llr_x_at(p, "%s[%zu]", path, j);

        text = llr_jv_get(part, "text");

        if (!llr_jv_is(llr_jv_get(part, "type"), "text") || text == NULL
            || text->type != LLR_JV_STRING)
        {
            return llr_x_refuse(x, p, "Only text parts can be in '%s' for "
                                "an Anthropic-format provider.", p);
        }

        if (text->len) {
            llr_xc_block(x, key, n);
            llr_x_text_block(&x->w, text->str, text->len);
        }
    }

    return LLR_XLATE_OK;
}


/* assistant tool calls as tool_use blocks */

static llr_xlate_rc_e
llr_xc_tool_calls(llr_x_t *x, const llr_jv_t *calls, const char *path)
{
    size_t           j;
    char             p[LLR_X_PATH];
    const char      *err;
    llr_jv_doc_t    *doc;
    const llr_jv_t  *c, *id, *fn, *name, *args;

    if (calls->type != LLR_JV_ARRAY) {
        return llr_x_refuse(x, path, "Invalid type for '%s': expected an "
                            "array, but got %s.", path, llr_x_type(calls));
    }

    for (c = calls->child, j = 0; c; c = c->next, j++) {
        llr_x_at(p, "%s[%zu]", path, j);

        id = llr_jv_get(c, "id");
        fn = llr_jv_get(c, "function");
        name = llr_jv_get(fn, "name");
        args = llr_jv_get(fn, "arguments");

        if (!llr_jv_is(llr_jv_get(c, "type"), "function") || id == NULL
            || id->type != LLR_JV_STRING || name == NULL
            || name->type != LLR_JV_STRING)
        {
            return llr_x_refuse(x, p, "The tool call '%s' is not a "
                                "function call with a string 'id' and "
                                "'function.name'.", p);
        }

        llr_x_open(x);
        llr_x_tool_use(&x->w, id, name);

        if (llr_x_null(args)
            || (args->type == LLR_JV_STRING && args->len == 0))
        {
            llr_jw_obj(&x->w);
            llr_jw_obj_end(&x->w);

        } else {
            doc = NULL;

            if (args->type == LLR_JV_STRING) {
                doc = llr_jv_parse(x->alloc, (const unsigned char *) args->str,
                                   args->len, NULL, &err);
            }

            if (doc == NULL || doc->root->type != LLR_JV_OBJECT) {
                llr_jv_free(doc);
                return llr_x_refuse(x, p, "The arguments of the tool call "
                                    "'%s' are not a JSON object: an "
                                    "Anthropic-format provider takes an "
                                    "object as a tool's input.", p);
            }

            llr_jw_value(&x->w, doc->root);
            llr_jv_free(doc);
        }

        llr_jw_obj_end(&x->w);
    }

    return LLR_XLATE_OK;
}


static llr_xlate_rc_e
llr_xc_message(llr_x_t *x, const llr_jv_t *msg, size_t i)
{
    size_t           j;
    char             path[LLR_X_PATH], p[LLR_X_PATH];
    unsigned         n;
    llr_xlate_rc_e   rc;
    const llr_jv_t  *role, *content, *part, *calls, *id, *t;

    llr_x_at(path, "messages[%zu]", i);

    if (msg->type != LLR_JV_OBJECT) {
        return llr_x_refuse(x, path, "Invalid type for '%s': expected an "
                            "object, but got %s.", path, llr_x_type(msg));
    }

    role = llr_jv_get(msg, "role");
    content = llr_jv_get(msg, "content");
    llr_x_at(p, "%s.content", path);

    if (llr_jv_is(role, "system") || llr_jv_is(role, "developer")) {
        /* written before the messages (llr_xc_system()) */
        return LLR_XLATE_OK;
    }

    if (llr_jv_is(role, "user")) {
        llr_x_turn(x, LLR_X_USER);

        if (llr_x_null(content)) {
            return llr_x_refuse(x, p, "'%s' is missing.", p);
        }

        if (content->type == LLR_JV_STRING) {
            llr_x_open(x);
            llr_x_text_block(&x->w, content->str, content->len);
            return LLR_XLATE_OK;
        }

        if (content->type != LLR_JV_ARRAY) {
            return llr_x_refuse(x, p, "Invalid type for '%s': expected a "
                                "string or an array, but got %s.", p,
                                llr_x_type(content));
        }

        for (part = content->child, j = 0; part; part = part->next, j++) {
            llr_x_at(p, "%s.content[%zu]", path, j);

            rc = llr_xc_part(x, part, p);
            if (rc != LLR_XLATE_OK) {
                return rc;
            }
        }

        return LLR_XLATE_OK;
    }

    if (llr_jv_is(role, "assistant")) {
        t = llr_jv_get(msg, "function_call");

        if (!llr_x_null(t)) {
            llr_x_at(p, "%s.function_call", path);
            return llr_x_refuse(x, p, "'%s' (deprecated) cannot be sent to "
                                "an Anthropic-format provider: use "
                                "tool_calls.", p);
        }

        t = llr_jv_get(msg, "audio");

        if (!llr_x_null(t)) {
            llr_x_at(p, "%s.audio", path);
            return llr_x_refuse(x, p, "'%s' cannot be sent to an "
                                "Anthropic-format provider.", p);
        }

        llr_x_turn(x, LLR_X_ASSISTANT);

        if (!llr_x_null(content) && content->type == LLR_JV_STRING) {
            if (content->len) {
                llr_x_open(x);
                llr_x_text_block(&x->w, content->str, content->len);
            }

        } else if (!llr_x_null(content)) {
            if (content->type != LLR_JV_ARRAY) {
                return llr_x_refuse(x, p, "Invalid type for '%s': expected "
                                    "a string or an array, but got %s.", p,
                                    llr_x_type(content));
            }

            for (part = content->child, j = 0; part;
                 part = part->next, j++)
            {
                llr_x_at(p, "%s.content[%zu]", path, j);

                t = llr_jv_get(part, "type");
                t = llr_jv_is(t, "text") ? llr_jv_get(part, "text")
                    : llr_jv_is(t, "refusal") ? llr_jv_get(part, "refusal")
                    : NULL;

                if (t == NULL || t->type != LLR_JV_STRING) {
                    return llr_x_refuse(x, p, "Only text and refusal parts "
                                        "can be in '%s' for an "
                                        "Anthropic-format provider.", p);
                }

                if (t->len) {
                    llr_x_open(x);
                    llr_x_text_block(&x->w, t->str, t->len);
                }
            }
        }

        calls = llr_jv_get(msg, "tool_calls");

        if (!llr_x_null(calls)) {
            llr_x_at(p, "%s.tool_calls", path);
            return llr_xc_tool_calls(x, calls, p);
        }

        return LLR_XLATE_OK;
    }

    if (llr_jv_is(role, "tool")) {
        id = llr_jv_get(msg, "tool_call_id");

        if (id == NULL || id->type != LLR_JV_STRING) {
            llr_x_at(p, "%s.tool_call_id", path);
            return llr_x_refuse(x, p, "'%s' is missing.", p);
        }

        /* a tool result is a block of the user's next turn */
        llr_x_turn(x, LLR_X_USER);
        llr_x_open(x);

        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "type");
        llr_jw_cstr(&x->w, "tool_result");
        llr_x_str_member(&x->w, "tool_use_id", id);

        if (!llr_x_null(content)) {
            llr_jw_key(&x->w, "content");

            if (content->type == LLR_JV_STRING) {
                llr_jw_str(&x->w, content->str, content->len);

            } else {
                llr_jw_arr(&x->w);
                n = 0;

                rc = llr_xc_texts(x, content, p, NULL, &n);
                if (rc != LLR_XLATE_OK) {
                    return rc;
                }

                llr_jw_arr_end(&x->w);
            }
        }

        llr_jw_obj_end(&x->w);

        return LLR_XLATE_OK;
    }

    llr_x_at(p, "%s.role", path);

    if (role == NULL || role->type != LLR_JV_STRING) {
        return llr_x_refuse(x, p, "'%s' is missing.", p);
    }

    return llr_x_refuse(x, p, "The role '%.*s' of '%s' cannot be sent to "
                        "an Anthropic-format provider.",
                        (int) (role->len > 40 ? 40 : role->len), role->str,
                        path);
}


/* the system and developer messages, in order, as "system" blocks */

static llr_xlate_rc_e
llr_xc_system(llr_x_t *x, const llr_jv_t *messages)
{
    size_t           i;
    char             p[LLR_X_PATH];
    unsigned         n;
    llr_xlate_rc_e   rc;
    const llr_jv_t  *msg, *role;

    n = 0;

    for (msg = messages->child, i = 0; msg; msg = msg->next, i++) {
        role = llr_jv_get(msg, "role");

        if (!llr_jv_is(role, "system") && !llr_jv_is(role, "developer")) {
            continue;
        }

        llr_x_at(p, "messages[%zu].content", i);

        rc = llr_xc_texts(x, llr_jv_get(msg, "content"), p, "system", &n);
        if (rc != LLR_XLATE_OK) {
            return rc;
        }
    }

    if (n) {
        llr_jw_arr_end(&x->w);
    }

    return LLR_XLATE_OK;
}


static llr_xlate_rc_e
llr_xc_tools(llr_x_t *x, const llr_jv_t *tools)
{
    size_t           i;
    char             p[LLR_X_PATH];
    const llr_jv_t  *t, *fn, *name, *desc, *params;

    if (tools->type != LLR_JV_ARRAY) {
        return llr_x_refuse(x, "tools", "Invalid type for 'tools': expected "
                            "an array, but got %s.", llr_x_type(tools));
    }

    llr_jw_key(&x->w, "tools");
    llr_jw_arr(&x->w);

    for (t = tools->child, i = 0; t; t = t->next, i++) {
        llr_x_at(p, "tools[%zu]", i);

        fn = llr_jv_get(t, "function");
        name = llr_jv_get(fn, "name");

        if (!llr_jv_is(llr_jv_get(t, "type"), "function") || name == NULL
            || name->type != LLR_JV_STRING)
        {
            return llr_x_refuse(x, p, "The tool '%s' is not a function "
                                "with a string 'function.name': only "
                                "function tools can be sent to an "
                                "Anthropic-format provider.", p);
        }

        desc = llr_jv_get(fn, "description");
        params = llr_jv_get(fn, "parameters");

        llr_jw_obj(&x->w);
        llr_x_str_member(&x->w, "name", name);

        if (desc && desc->type == LLR_JV_STRING) {
            llr_x_str_member(&x->w, "description", desc);
        }

        llr_jw_key(&x->w, "input_schema");

        if (params && params->type == LLR_JV_OBJECT) {
            llr_jw_value(&x->w, params);

        } else {
            llr_jw_raw(&x->w, "{\"type\":\"object\",\"properties\":{}}", 33);
        }

        llr_jw_obj_end(&x->w);
    }

    llr_jw_arr_end(&x->w);

    return LLR_XLATE_OK;
}


static llr_xlate_rc_e
llr_xc_tool_choice(llr_x_t *x, const llr_jv_t *choice, int parallel)
{
    const char      *type;
    const llr_jv_t  *name;

    name = NULL;

    if (llr_x_null(choice) || llr_jv_is(choice, "auto")) {
        type = "auto";

    } else if (llr_jv_is(choice, "none")) {
        type = "none";

    } else if (llr_jv_is(choice, "required")) {
        type = "any";

    } else if (llr_jv_is(llr_jv_get(choice, "type"), "function")
               && (name = llr_jv_get(llr_jv_get(choice, "function"), "name"))
               && name->type == LLR_JV_STRING)
    {
        type = "tool";

    } else {
        return llr_x_refuse(x, "tool_choice", "This 'tool_choice' cannot be "
                            "sent to an Anthropic-format provider: it takes "
                            "\"none\", \"auto\", \"required\" or one "
                            "function.");
    }

    if (llr_x_null(choice) && parallel) {
        return LLR_XLATE_OK;
    }

    llr_jw_key(&x->w, "tool_choice");
    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "type");
    llr_jw_cstr(&x->w, type);

    if (name) {
        llr_x_str_member(&x->w, "name", name);
    }

    if (!parallel && strcmp(type, "none") != 0) {
        llr_jw_key(&x->w, "disable_parallel_tool_use");
        llr_jw_bool(&x->w, 1);
    }

    llr_jw_obj_end(&x->w);

    return LLR_XLATE_OK;
}


static llr_xlate_rc_e
llr_x_chat_to_anthropic(llr_x_t *x, const llr_jv_t *root,
    const llr_xlate_opts_t *o)
{
    size_t           i;
    double           t;
    uint64_t         max;
    llr_xlate_rc_e   rc;
    const llr_jv_t  *m, *v[LLR_XC_N_KEYS], *msg, *s, *rf, *js, *schema;

    rc = llr_x_members(x, root, llr_xc_keys, llr_xc_n, v, LLR_XC_N_KEYS,
                       "Anthropic");
    if (rc != LLR_XLATE_OK) {
        return rc;
    }

    m = v[LLR_XC_MESSAGES];

    if (m == NULL || m->type != LLR_JV_ARRAY) {
        return llr_x_refuse(x, "messages", "'messages' is a required "
                            "array.");
    }

    /* what Anthropic cannot generate */

    m = v[LLR_XC_N];

    if (!llr_x_null(m) && !(m->type == LLR_JV_NUMBER && m->num == 1)) {
        return llr_x_refuse(x, "n", "'n' is not 1: an Anthropic-format "
                            "provider generates one choice.");
    }

    if ((v[LLR_XC_LOGPROBS] && v[LLR_XC_LOGPROBS]->type == LLR_JV_TRUE)
        || !llr_x_null(v[LLR_XC_TOP_LOGPROBS]))
    {
        m = v[LLR_XC_LOGPROBS] ? v[LLR_XC_LOGPROBS] : v[LLR_XC_TOP_LOGPROBS];
        return llr_x_refuse(x, m->key, "'%s': an Anthropic-format provider "
                            "gives no log probabilities.", m->key);
    }

    m = v[LLR_XC_LOGIT_BIAS];

    if (!llr_x_null(m) && !(m->type == LLR_JV_OBJECT && m->n == 0)) {
        return llr_x_refuse(x, "logit_bias", "'logit_bias' cannot be sent "
                            "to an Anthropic-format provider.");
    }

    for (m = root->child; m; m = m->next) {
        if (llr_x_key(llr_xc_keys, llr_xc_n, m) == LLR_XC_PENALTY
            && !llr_x_zero(m))
        {
            return llr_x_refuse(x, m->key, "'%s' cannot be sent to an "
                                "Anthropic-format provider (it has no "
                                "penalties).", m->key);
        }
    }

    m = v[LLR_XC_MODALITIES];

    if (!llr_x_null(m)
        && !(m->type == LLR_JV_ARRAY && m->n == 1
             && llr_jv_is(m->child, "text")))
    {
        return llr_x_refuse(x, "modalities", "An Anthropic-format provider "
                            "answers with text only.");
    }

    m = v[LLR_XC_TEMPERATURE];
    t = 0;

    if (!llr_x_null(m)) {
        if (m->type != LLR_JV_NUMBER) {
            return llr_x_refuse(x, "temperature", "Invalid type for "
                                "'temperature': expected a number.");
        }

        t = m->num;

        if (t > 1) {
            return llr_x_refuse(x, "temperature", "'temperature' is %.*s: "
                                "an Anthropic-format provider takes 0 to 1.",
                                (int) (m->len > 24 ? 24 : m->len), m->str);
        }
    }

    /* the answer's limit */

    m = !llr_x_null(v[LLR_XC_MAX_COMPLETION_TOKENS])
        ? v[LLR_XC_MAX_COMPLETION_TOKENS] : v[LLR_XC_MAX_TOKENS];
    max = o->max_tokens;

    if (!llr_x_null(m) && !llr_x_uint(m, &max)) {
        return llr_x_refuse(x, m->key, "Invalid value for '%s': expected a "
                            "non-negative integer.", m->key);
    }

    if (max == 0 && llr_x_null(m)) {
        return llr_x_refuse(x, "max_tokens", "'max_tokens' is required by "
                            "the Anthropic-format provider of this model.");
    }

    /* the body */

    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "model");
    llr_jw_str(&x->w, o->model, o->model_len);
    llr_jw_key(&x->w, "max_tokens");
    llr_jw_uint(&x->w, max);

    rc = llr_xc_system(x, v[LLR_XC_MESSAGES]);
    if (rc != LLR_XLATE_OK) {
        return rc;
    }

    llr_jw_key(&x->w, "messages");
    llr_jw_arr(&x->w);

    for (msg = v[LLR_XC_MESSAGES]->child, i = 0; msg; msg = msg->next, i++) {
        rc = llr_xc_message(x, msg, i);
        if (rc != LLR_XLATE_OK) {
            return rc;
        }
    }

    if (x->open_role == LLR_X_NONE) {
        return llr_x_refuse(x, "messages", "'messages' has no user, "
                            "assistant or tool message with content: an "
                            "Anthropic-format provider needs one.");
    }

    llr_x_turn(x, LLR_X_NONE);
    llr_x_open(x);
    llr_jw_arr_end(&x->w);

    m = v[LLR_XC_STOP];

    if (!llr_x_null(m)) {
        if (m->type == LLR_JV_STRING) {
            llr_jw_key(&x->w, "stop_sequences");
            llr_jw_arr(&x->w);
            llr_jw_str(&x->w, m->str, m->len);
            llr_jw_arr_end(&x->w);

        } else if (m->type == LLR_JV_ARRAY) {
            for (s = m->child; s; s = s->next) {
                if (s->type != LLR_JV_STRING) {
                    return llr_x_refuse(x, "stop", "Invalid type for "
                                        "'stop': expected strings.");
                }
            }

            llr_jw_key(&x->w, "stop_sequences");
            llr_jw_value(&x->w, m);

        } else {
            return llr_x_refuse(x, "stop", "Invalid type for 'stop': "
                                "expected a string or an array.");
        }
    }

    if (!llr_x_null(v[LLR_XC_TEMPERATURE])) {
        llr_jw_key(&x->w, "temperature");
        llr_jw_value(&x->w, v[LLR_XC_TEMPERATURE]);
    }

    m = v[LLR_XC_TOP_P];

    if (!llr_x_null(m)) {
        if (m->type != LLR_JV_NUMBER) {
            return llr_x_refuse(x, "top_p", "Invalid type for 'top_p': "
                                "expected a number.");
        }

        llr_jw_key(&x->w, "top_p");
        llr_jw_value(&x->w, m);
    }

    m = v[LLR_XC_STREAM];
    x->out->stream = (m && m->type == LLR_JV_TRUE);

    if (x->out->stream) {
        llr_jw_key(&x->w, "stream");
        llr_jw_bool(&x->w, 1);
    }

    m = llr_jv_get(v[LLR_XC_STREAM_OPTIONS], "include_usage");
    x->out->include_usage = m == NULL ? -1 : m->type == LLR_JV_TRUE;

    m = v[LLR_XC_USER];

    if (llr_x_null(m) || m->type != LLR_JV_STRING) {
        m = v[LLR_XC_SAFETY_ID];
    }

    if (!llr_x_null(m) && m->type == LLR_JV_STRING) {
        llr_jw_key(&x->w, "metadata");
        llr_jw_obj(&x->w);
        llr_x_str_member(&x->w, "user_id", m);
        llr_jw_obj_end(&x->w);
    }

    m = v[LLR_XC_TOOLS];

    if (!llr_x_null(m) && !(m->type == LLR_JV_ARRAY && m->n == 0)) {
        rc = llr_xc_tools(x, m);
        if (rc != LLR_XLATE_OK) {
            return rc;
        }

        m = v[LLR_XC_PARALLEL];

        rc = llr_xc_tool_choice(x, v[LLR_XC_TOOL_CHOICE],
                                m == NULL || m->type != LLR_JV_FALSE);
        if (rc != LLR_XLATE_OK) {
            return rc;
        }

    } else if (llr_jv_is(v[LLR_XC_TOOL_CHOICE], "required")
               || llr_jv_get(v[LLR_XC_TOOL_CHOICE], "function"))
    {
        return llr_x_refuse(x, "tool_choice", "'tool_choice' requires a "
                            "tool, but 'tools' is empty.");
    }

    /* structured outputs and the effort: output_config */

    rf = v[LLR_XC_RESPONSE_FORMAT];
    schema = NULL;

    if (!llr_x_null(rf) && !llr_jv_is(llr_jv_get(rf, "type"), "text")) {
        js = llr_jv_get(rf, "json_schema");
        schema = llr_jv_get(js, "schema");

        if (!llr_jv_is(llr_jv_get(rf, "type"), "json_schema")
            || schema == NULL || schema->type != LLR_JV_OBJECT)
        {
            return llr_x_refuse(x, "response_format", "An Anthropic-format "
                                "provider takes a 'response_format' of type "
                                "json_schema with a schema (structured "
                                "outputs); json_object has no equivalent.");
        }
    }

    m = v[LLR_XC_REASONING_EFFORT];

    if (!llr_x_null(m) && !llr_jv_is(m, "low") && !llr_jv_is(m, "medium")
        && !llr_jv_is(m, "high"))
    {
        return llr_x_refuse(x, "reasoning_effort", "An Anthropic-format "
                            "provider takes a 'reasoning_effort' of low, "
                            "medium or high.");
    }

    if (schema || !llr_x_null(m)) {
        llr_jw_key(&x->w, "output_config");
        llr_jw_obj(&x->w);

        if (!llr_x_null(m)) {
            llr_x_str_member(&x->w, "effort", m);
        }

        if (schema) {
            llr_jw_key(&x->w, "format");
            llr_jw_obj(&x->w);
            llr_jw_key(&x->w, "type");
            llr_jw_cstr(&x->w, "json_schema");
            llr_jw_key(&x->w, "schema");
            llr_jw_value(&x->w, schema);
            llr_jw_obj_end(&x->w);
        }

        llr_jw_obj_end(&x->w);
    }

    llr_jw_obj_end(&x->w);

    return LLR_XLATE_OK;
}


/* ---- Anthropic Messages -> OpenAI Chat Completions ----------------- */

enum {
    LLR_XA_UNKNOWN = LLR_X_UNKNOWN,
    LLR_XA_IGNORE = LLR_X_IGNORE,
    LLR_XA_REFUSE = LLR_X_REFUSE,
    LLR_XA_MESSAGES,
    LLR_XA_SYSTEM,
    LLR_XA_MAX_TOKENS,
    LLR_XA_STOP,
    LLR_XA_TEMPERATURE,
    LLR_XA_TOP_P,
    LLR_XA_STREAM,
    LLR_XA_METADATA,
    LLR_XA_TOOLS,
    LLR_XA_TOOL_CHOICE,
    LLR_XA_OUTPUT_CONFIG,
    LLR_XA_N_KEYS
};


static const llr_x_key_t  llr_xa_keys[] = {
    { "model", LLR_XA_IGNORE },
    { "messages", LLR_XA_MESSAGES },
    { "system", LLR_XA_SYSTEM },
    { "max_tokens", LLR_XA_MAX_TOKENS },
    { "stop_sequences", LLR_XA_STOP },
    { "temperature", LLR_XA_TEMPERATURE },
    { "top_p", LLR_XA_TOP_P },
    { "stream", LLR_XA_STREAM },
    { "metadata", LLR_XA_METADATA },
    { "tools", LLR_XA_TOOLS },
    { "tool_choice", LLR_XA_TOOL_CHOICE },
    { "output_config", LLR_XA_OUTPUT_CONFIG },
    /* no meaning for an OpenAI answer: dropped (docs/formats.md) */
    { "thinking", LLR_XA_IGNORE },
    { "cache_control", LLR_XA_IGNORE },
    { "service_tier", LLR_XA_IGNORE },
    { "inference_geo", LLR_XA_IGNORE },
    { "speed", LLR_XA_IGNORE },
    /* what an OpenAI provider cannot do */
    { "top_k", LLR_XA_REFUSE },
    { "container", LLR_XA_REFUSE },
    { "mcp_servers", LLR_XA_REFUSE },
    /*
     * server-side trimming of a long context (Claude Code sends it on
     * every request): an OpenAI provider keeps the whole context, which
     * answers the same until the window is full; dropped
     */
    { "context_management", LLR_XA_IGNORE }
};


#define llr_xa_n  (sizeof(llr_xa_keys) / sizeof(llr_xa_keys[0]))


/*
 * The text blocks of a content array joined into x->tmp with sep
 * between them (system prompts, tool results): 0, or -1 if a block is
 * not text (the caller refuses).
 */
static int
llr_xa_join(llr_x_t *x, const llr_jv_t *content, const char *sep,
    size_t *bad)
{
    size_t           j;
    const llr_jv_t  *b, *text;

    llr_jw_reset(&x->tmp);

    if (content->type == LLR_JV_STRING) {
        llr_jw_raw(&x->tmp, content->str, content->len);
        return 0;
    }

    for (b = content->child, j = 0; b; b = b->next, j++) {
        text = llr_jv_get(b, "text");

        if (!llr_jv_is(llr_jv_get(b, "type"), "text") || text == NULL
            || text->type != LLR_JV_STRING)
        {
            *bad = j;
            return -1;
        }

        if (j) {
            llr_jw_raw(&x->tmp, sep, strlen(sep));
        }

        llr_jw_raw(&x->tmp, text->str, text->len);
    }

    return 0;
}


/* a message of role with the text joined in x->tmp */
static void
llr_xa_text_message(llr_x_t *x, const char *role)
{
    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "role");
    llr_jw_cstr(&x->w, role);
    llr_jw_key(&x->w, "content");
    llr_jw_str(&x->w, x->tmp.data ? (const char *) x->tmp.data : "",
               x->tmp.len);
    llr_jw_obj_end(&x->w);
}


static llr_xlate_rc_e
llr_xa_system(llr_x_t *x, const llr_jv_t *system)
{
    size_t  bad;
    char    p[LLR_X_PATH];

    if (llr_x_null(system)) {
        return LLR_XLATE_OK;
    }

    if ((system->type != LLR_JV_STRING && system->type != LLR_JV_ARRAY)
        || llr_xa_join(x, system, "\n\n", &bad) != 0)
    {
        llr_x_at(p, "system[%zu]", system->type == LLR_JV_ARRAY
                                              ? bad : (size_t) 0);
        return llr_x_refuse(x, system->type == LLR_JV_ARRAY ? p : "system",
                            "Only text can be in 'system' for an "
                            "OpenAI-format provider.");
    }

    llr_xa_text_message(x, "system");

    return LLR_XLATE_OK;
}


/* an Anthropic image or document block as an OpenAI content part */

static llr_xlate_rc_e
llr_xa_media(llr_x_t *x, const llr_jv_t *b, int image, const char *path)
{
    const llr_jv_t  *src, *type, *mt, *data, *url;

    src = llr_jv_get(b, "source");
    type = llr_jv_get(src, "type");
    mt = llr_jv_get(src, "media_type");
    data = llr_jv_get(src, "data");
    url = llr_jv_get(src, "url");

    if (llr_jv_is(type, "base64") && mt && mt->type == LLR_JV_STRING
        && data && data->type == LLR_JV_STRING
        && (image || llr_jv_is(mt, "application/pdf")))
    {
        /* a data URL */
        llr_jw_reset(&x->tmp);
        llr_jw_raw(&x->tmp, "data:", 5);
        llr_jw_raw(&x->tmp, mt->str, mt->len);
        llr_jw_raw(&x->tmp, ";base64,", 8);
        llr_jw_raw(&x->tmp, data->str, data->len);

        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "type");

        if (image) {
            llr_jw_cstr(&x->w, "image_url");
            llr_jw_key(&x->w, "image_url");
            llr_jw_obj(&x->w);
            llr_jw_key(&x->w, "url");
            llr_jw_str(&x->w, x->tmp.data, x->tmp.len);

        } else {
            llr_jw_cstr(&x->w, "file");
            llr_jw_key(&x->w, "file");
            llr_jw_obj(&x->w);
            llr_jw_key(&x->w, "filename");
            llr_jw_cstr(&x->w, "document.pdf");
            llr_jw_key(&x->w, "file_data");
            llr_jw_str(&x->w, x->tmp.data, x->tmp.len);
        }

        llr_jw_obj_end(&x->w);
        llr_jw_obj_end(&x->w);
        return LLR_XLATE_OK;
    }

    if (image && llr_jv_is(type, "url") && url && url->type == LLR_JV_STRING)
    {
        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "type");
        llr_jw_cstr(&x->w, "image_url");
        llr_jw_key(&x->w, "image_url");
        llr_jw_obj(&x->w);
        llr_x_str_member(&x->w, "url", url);
        llr_jw_obj_end(&x->w);
        llr_jw_obj_end(&x->w);
        return LLR_XLATE_OK;
    }

    if (!image && llr_jv_is(type, "text") && data
        && data->type == LLR_JV_STRING)
    {
        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "type");
        llr_jw_cstr(&x->w, "text");
        llr_x_str_member(&x->w, "text", data);
        llr_jw_obj_end(&x->w);
        return LLR_XLATE_OK;
    }

    return llr_x_refuse(x, path, "The %s of '%s' cannot be sent to an "
                        "OpenAI-format provider: it takes base64 and URL "
                        "images, base64 PDF and plain text documents.",
                        image ? "image" : "document", path);
}


/* the user's tool results, as tool messages (before its other content) */

static llr_xlate_rc_e
llr_xa_tool_results(llr_x_t *x, const llr_jv_t *content, const char *path,
    unsigned *others)
{
    size_t           j, bad;
    char             p[LLR_X_PATH];
    const llr_jv_t  *b, *id, *c;

    *others = 0;

    for (b = content->child, j = 0; b; b = b->next, j++) {
        if (!llr_jv_is(llr_jv_get(b, "type"), "tool_result")) {
            (*others)++;
            continue;
        }

        llr_x_at(p, "%s.content[%zu]", path, j);

        id = llr_jv_get(b, "tool_use_id");

        if (id == NULL || id->type != LLR_JV_STRING) {
            return llr_x_refuse(x, p, "The tool result '%s' has no string "
                                "'tool_use_id'.", p);
        }

        c = llr_jv_get(b, "content");
        llr_jw_reset(&x->tmp);

        if (!llr_x_null(c)
            && ((c->type != LLR_JV_STRING && c->type != LLR_JV_ARRAY)
                || llr_xa_join(x, c, "\n\n", &bad) != 0))
        {
            return llr_x_refuse(x, p, "Only text can be in the tool result "
                                "'%s' for an OpenAI-format provider.", p);
        }

        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "role");
        llr_jw_cstr(&x->w, "tool");
        llr_x_str_member(&x->w, "tool_call_id", id);
        llr_jw_key(&x->w, "content");
        llr_jw_str(&x->w, x->tmp.data ? (const char *) x->tmp.data : "",
                   x->tmp.len);
        llr_jw_obj_end(&x->w);
    }

    return LLR_XLATE_OK;
}


static llr_xlate_rc_e
llr_xa_user(llr_x_t *x, const llr_jv_t *content, const char *path)
{
    int              text_only;
    size_t           j;
    char             p[LLR_X_PATH];
    unsigned         others;
    llr_xlate_rc_e   rc;
    const llr_jv_t  *b, *type, *text;

    rc = llr_xa_tool_results(x, content, path, &others);
    if (rc != LLR_XLATE_OK || (others == 0 && content->n)) {
        return rc;
    }

    text_only = 1;

    for (b = content->child; b; b = b->next) {
        type = llr_jv_get(b, "type");

        if (!llr_jv_is(type, "text") && !llr_jv_is(type, "tool_result")) {
            text_only = 0;
        }
    }

    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "role");
    llr_jw_cstr(&x->w, "user");
    llr_jw_key(&x->w, "content");

    if (text_only) {
        /* one string, as every OpenAI-compatible server takes */
        llr_jw_reset(&x->tmp);
        j = 0;

        for (b = content->child; b; b = b->next) {
            text = llr_jv_get(b, "text");

            if (!llr_jv_is(llr_jv_get(b, "type"), "text")) {
                continue;
            }

            if (text == NULL || text->type != LLR_JV_STRING) {
                llr_x_at(p, "%s.content[%zu]", path, j);
                return llr_x_refuse(x, p, "The text block '%s' has no "
                                    "string 'text'.", p);
            }

            if (j++) {
                llr_jw_raw(&x->tmp, "\n\n", 2);
            }

            llr_jw_raw(&x->tmp, text->str, text->len);
        }

        llr_jw_str(&x->w, x->tmp.data ? (const char *) x->tmp.data : "",
                   x->tmp.len);
        llr_jw_obj_end(&x->w);

        return LLR_XLATE_OK;
    }

    llr_jw_arr(&x->w);

    for (b = content->child, j = 0; b; b = b->next, j++) {
        llr_x_at(p, "%s.content[%zu]", path, j);
        type = llr_jv_get(b, "type");

        if (llr_jv_is(type, "tool_result")) {
            continue;
        }

        if (llr_jv_is(type, "text")) {
            text = llr_jv_get(b, "text");

            if (text == NULL || text->type != LLR_JV_STRING) {
                return llr_x_refuse(x, p, "The text block '%s' has no "
                                    "string 'text'.", p);
            }

            llr_jw_obj(&x->w);
            llr_jw_key(&x->w, "type");
            llr_jw_cstr(&x->w, "text");
            llr_x_str_member(&x->w, "text", text);
            llr_jw_obj_end(&x->w);
            continue;
        }

        if (llr_jv_is(type, "image") || llr_jv_is(type, "document")) {
            rc = llr_xa_media(x, b, llr_jv_is(type, "image"), p);
            if (rc != LLR_XLATE_OK) {
                return rc;
            }

            continue;
        }

        return llr_x_refuse(x, p, "The block '%s' cannot be sent to an "
                            "OpenAI-format provider.", p);
    }

    llr_jw_arr_end(&x->w);
    llr_jw_obj_end(&x->w);

    return LLR_XLATE_OK;
}


static llr_xlate_rc_e
llr_xa_assistant(llr_x_t *x, const llr_jv_t *content, const char *path)
{
    size_t           j;
    char             p[LLR_X_PATH];
    unsigned         calls;
    const llr_jv_t  *b, *type, *text, *id, *name, *input;

    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "role");
    llr_jw_cstr(&x->w, "assistant");

    /* the text blocks, joined as the answer's text blocks are */

    llr_jw_reset(&x->tmp);
    calls = 0;

    for (b = content->child, j = 0; b; b = b->next, j++) {
        llr_x_at(p, "%s.content[%zu]", path, j);
        type = llr_jv_get(b, "type");

        if (llr_jv_is(type, "text")) {
            text = llr_jv_get(b, "text");

            if (text == NULL || text->type != LLR_JV_STRING) {
                return llr_x_refuse(x, p, "The text block '%s' has no "
                                    "string 'text'.", p);
            }

            llr_jw_raw(&x->tmp, text->str, text->len);
            continue;
        }

        if (llr_jv_is(type, "tool_use")) {
            calls++;
            continue;
        }

        if (llr_jv_is(type, "thinking")
            || llr_jv_is(type, "redacted_thinking"))
        {
            /* the provider's own reasoning: nothing OpenAI takes back */
            continue;
        }

        return llr_x_refuse(x, p, "The block '%s' cannot be sent to an "
                            "OpenAI-format provider.", p);
    }

    llr_jw_key(&x->w, "content");

    if (x->tmp.len || calls == 0) {
        llr_jw_str(&x->w, x->tmp.data ? (const char *) x->tmp.data : "",
                   x->tmp.len);

    } else {
        llr_jw_null(&x->w);
    }

    if (calls == 0) {
        llr_jw_obj_end(&x->w);
        return LLR_XLATE_OK;
    }

    llr_jw_key(&x->w, "tool_calls");
    llr_jw_arr(&x->w);

    for (b = content->child, j = 0; b; b = b->next, j++) {
        if (!llr_jv_is(llr_jv_get(b, "type"), "tool_use")) {
            continue;
        }

        llr_x_at(p, "%s.content[%zu]", path, j);

        id = llr_jv_get(b, "id");
        name = llr_jv_get(b, "name");
        input = llr_jv_get(b, "input");

        if (id == NULL || id->type != LLR_JV_STRING || name == NULL
            || name->type != LLR_JV_STRING)
        {
            return llr_x_refuse(x, p, "The tool use '%s' has no string "
                                "'id' and 'name'.", p);
        }

        llr_x_tool_call(x, id, name, input);
    }

    llr_jw_arr_end(&x->w);
    llr_jw_obj_end(&x->w);

    return LLR_XLATE_OK;
}


static llr_xlate_rc_e
llr_xa_message(llr_x_t *x, const llr_jv_t *msg, size_t i)
{
    char             path[LLR_X_PATH], p[LLR_X_PATH];
    const char      *r;
    const llr_jv_t  *role, *content;

    llr_x_at(path, "messages[%zu]", i);

    role = llr_jv_get(msg, "role");
    content = llr_jv_get(msg, "content");
    llr_x_at(p, "%s.content", path);

    if (llr_jv_is(role, "user")) {
        r = "user";

    } else if (llr_jv_is(role, "assistant")) {
        r = "assistant";

    } else if (llr_jv_is(role, "system")) {
        r = "system";

    } else {
        llr_x_at(p, "%s.role", path);
        return llr_x_refuse(x, p, "'%s' must be user or assistant.", p);
    }

    if (content == NULL
        || (content->type != LLR_JV_STRING && content->type != LLR_JV_ARRAY))
    {
        return llr_x_refuse(x, p, "Invalid type for '%s': expected a "
                            "string or an array.", p);
    }

    if (content->type == LLR_JV_STRING) {
        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "role");
        llr_jw_cstr(&x->w, r);
        llr_x_str_member(&x->w, "content", content);
        llr_jw_obj_end(&x->w);
        return LLR_XLATE_OK;
    }

    if (r[0] == 's') {
        return llr_xa_system(x, content);
    }

    if (r[0] == 'u') {
        return llr_xa_user(x, content, path);
    }

    return llr_xa_assistant(x, content, path);
}


static llr_xlate_rc_e
llr_xa_tools(llr_x_t *x, const llr_jv_t *tools)
{
    size_t           i;
    char             p[LLR_X_PATH];
    const llr_jv_t  *t, *type, *name, *desc, *schema;

    if (tools->type != LLR_JV_ARRAY) {
        return llr_x_refuse(x, "tools", "Invalid type for 'tools': expected "
                            "an array.");
    }

    llr_jw_key(&x->w, "tools");
    llr_jw_arr(&x->w);

    for (t = tools->child, i = 0; t; t = t->next, i++) {
        llr_x_at(p, "tools[%zu]", i);

        type = llr_jv_get(t, "type");
        name = llr_jv_get(t, "name");
        schema = llr_jv_get(t, "input_schema");

        if ((!llr_x_null(type) && !llr_jv_is(type, "custom"))
            || name == NULL || name->type != LLR_JV_STRING
            || schema == NULL || schema->type != LLR_JV_OBJECT)
        {
            return llr_x_refuse(x, p, "The tool '%s' is not a client tool "
                                "with a name and an input_schema: "
                                "Anthropic's server and built-in tools "
                                "cannot be sent to an OpenAI-format "
                                "provider.", p);
        }

        desc = llr_jv_get(t, "description");

        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "type");
        llr_jw_cstr(&x->w, "function");
        llr_jw_key(&x->w, "function");
        llr_jw_obj(&x->w);
        llr_x_str_member(&x->w, "name", name);

        if (desc && desc->type == LLR_JV_STRING) {
            llr_x_str_member(&x->w, "description", desc);
        }

        llr_jw_key(&x->w, "parameters");
        llr_jw_value(&x->w, schema);
        llr_jw_obj_end(&x->w);
        llr_jw_obj_end(&x->w);
    }

    llr_jw_arr_end(&x->w);

    return LLR_XLATE_OK;
}


static llr_xlate_rc_e
llr_xa_tool_choice(llr_x_t *x, const llr_jv_t *choice, int tools)
{
    const llr_jv_t  *type, *name, *dp;

    if (llr_x_null(choice)) {
        return LLR_XLATE_OK;
    }

    type = llr_jv_get(choice, "type");
    name = llr_jv_get(choice, "name");
    dp = llr_jv_get(choice, "disable_parallel_tool_use");

    if (!tools) {
        if (llr_jv_is(type, "none") || llr_jv_is(type, "auto")) {
            return LLR_XLATE_OK;
        }

        return llr_x_refuse(x, "tool_choice", "'tool_choice' requires a "
                            "tool, but 'tools' is empty.");
    }

    llr_jw_key(&x->w, "tool_choice");

    if (llr_jv_is(type, "auto")) {
        llr_jw_cstr(&x->w, "auto");

    } else if (llr_jv_is(type, "any")) {
        llr_jw_cstr(&x->w, "required");

    } else if (llr_jv_is(type, "none")) {
        llr_jw_cstr(&x->w, "none");

    } else if (llr_jv_is(type, "tool") && name
               && name->type == LLR_JV_STRING)
    {
        llr_jw_obj(&x->w);
        llr_jw_key(&x->w, "type");
        llr_jw_cstr(&x->w, "function");
        llr_jw_key(&x->w, "function");
        llr_jw_obj(&x->w);
        llr_x_str_member(&x->w, "name", name);
        llr_jw_obj_end(&x->w);
        llr_jw_obj_end(&x->w);

    } else {
        return llr_x_refuse(x, "tool_choice", "This 'tool_choice' cannot be "
                            "sent to an OpenAI-format provider: it takes "
                            "auto, any, tool and none.");
    }

    if (dp && dp->type == LLR_JV_TRUE) {
        llr_jw_key(&x->w, "parallel_tool_calls");
        llr_jw_bool(&x->w, 0);
    }

    return LLR_XLATE_OK;
}


static llr_xlate_rc_e
llr_x_anthropic_to_chat(llr_x_t *x, const llr_jv_t *root,
    const llr_xlate_opts_t *o)
{
    size_t           i;
    uint64_t         max;
    llr_xlate_rc_e   rc;
    const llr_jv_t  *m, *v[LLR_XA_N_KEYS], *msg, *s, *fmt, *effort, *uid;

    rc = llr_x_members(x, root, llr_xa_keys, llr_xa_n, v, LLR_XA_N_KEYS,
                       "OpenAI");
    if (rc != LLR_XLATE_OK) {
        return rc;
    }

    m = v[LLR_XA_MESSAGES];

    if (m == NULL || m->type != LLR_JV_ARRAY) {
        return llr_x_refuse(x, "messages", "messages: Field required");
    }

    m = v[LLR_XA_METADATA];

    if (!llr_x_null(m)) {
        for (s = m->child; m->type == LLR_JV_OBJECT && s; s = s->next) {
            if (!llr_x_key_is(s, "user_id")) {
                return llr_x_refuse(x, "metadata", "Only 'user_id' of "
                                    "'metadata' can be sent to an "
                                    "OpenAI-format provider.");
            }
        }
    }

    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "model");
    llr_jw_str(&x->w, o->model, o->model_len);

    llr_jw_key(&x->w, "messages");
    llr_jw_arr(&x->w);

    rc = llr_xa_system(x, v[LLR_XA_SYSTEM]);
    if (rc != LLR_XLATE_OK) {
        return rc;
    }

    for (msg = v[LLR_XA_MESSAGES]->child, i = 0; msg; msg = msg->next, i++) {
        rc = llr_xa_message(x, msg, i);
        if (rc != LLR_XLATE_OK) {
            return rc;
        }
    }

    llr_jw_arr_end(&x->w);

    m = v[LLR_XA_MAX_TOKENS];

    if (!llr_x_null(m)) {
        if (!llr_x_uint(m, &max)) {
            return llr_x_refuse(x, "max_tokens", "Invalid value for "
                                "'max_tokens': expected a non-negative "
                                "integer.");
        }

        llr_jw_key(&x->w, o->max_completion_tokens ? "max_completion_tokens"
                                                   : "max_tokens");
        llr_jw_uint(&x->w, max);
    }

    m = v[LLR_XA_STOP];

    if (!llr_x_null(m)) {
        if (m->type != LLR_JV_ARRAY) {
            return llr_x_refuse(x, "stop_sequences", "Invalid type for "
                                "'stop_sequences': expected an array.");
        }

        llr_jw_key(&x->w, "stop");
        llr_jw_value(&x->w, m);
    }

    for (i = LLR_XA_TEMPERATURE; i <= LLR_XA_TOP_P; i++) {
        m = v[i];

        if (!llr_x_null(m)) {
            if (m->type != LLR_JV_NUMBER) {
                return llr_x_refuse(x, m->key, "Invalid type for '%s': "
                                    "expected a number.", m->key);
            }

            llr_jw_keyn(&x->w, m->key, m->key_len);
            llr_jw_value(&x->w, m);
        }
    }

    m = v[LLR_XA_STREAM];
    x->out->stream = (m && m->type == LLR_JV_TRUE);
    x->out->include_usage = -1;

    if (x->out->stream) {
        /* the usage comes last in an OpenAI stream: message_delta's */
        llr_jw_key(&x->w, "stream");
        llr_jw_bool(&x->w, 1);
        llr_jw_key(&x->w, "stream_options");
        llr_jw_raw(&x->w, "{\"include_usage\":true}", 22);
    }

    uid = llr_jv_get(v[LLR_XA_METADATA], "user_id");

    if (uid && uid->type == LLR_JV_STRING) {
        llr_x_str_member(&x->w, "user", uid);
    }

    m = v[LLR_XA_TOOLS];

    if (!llr_x_null(m)) {
        rc = llr_xa_tools(x, m);
        if (rc != LLR_XLATE_OK) {
            return rc;
        }
    }

    rc = llr_xa_tool_choice(x, v[LLR_XA_TOOL_CHOICE],
                            !llr_x_null(m) && m->n > 0);
    if (rc != LLR_XLATE_OK) {
        return rc;
    }

    m = v[LLR_XA_OUTPUT_CONFIG];

    if (!llr_x_null(m)) {
        fmt = llr_jv_get(m, "format");
        effort = llr_jv_get(m, "effort");

        for (s = m->child; m->type == LLR_JV_OBJECT && s; s = s->next) {
            if (!llr_x_key_is(s, "format") && !llr_x_key_is(s, "effort")) {
                return llr_x_refuse(x, "output_config", "Only 'format' and "
                                    "'effort' of 'output_config' can be "
                                    "sent to an OpenAI-format provider.");
            }
        }

        if (!llr_x_null(fmt)) {
            s = llr_jv_get(fmt, "schema");

            if (!llr_jv_is(llr_jv_get(fmt, "type"), "json_schema")
                || s == NULL || s->type != LLR_JV_OBJECT)
            {
                return llr_x_refuse(x, "output_config.format", "Only a "
                                    "json_schema with a schema can be sent "
                                    "to an OpenAI-format provider.");
            }

            llr_jw_key(&x->w, "response_format");
            llr_jw_obj(&x->w);
            llr_jw_key(&x->w, "type");
            llr_jw_cstr(&x->w, "json_schema");
            llr_jw_key(&x->w, "json_schema");
            llr_jw_obj(&x->w);
            llr_jw_key(&x->w, "name");
            llr_jw_cstr(&x->w, "output");
            llr_jw_key(&x->w, "schema");
            llr_jw_value(&x->w, s);
            llr_jw_key(&x->w, "strict");
            llr_jw_bool(&x->w, 1);
            llr_jw_obj_end(&x->w);
            llr_jw_obj_end(&x->w);
        }

        if (!llr_x_null(effort)) {
            if (!llr_jv_is(effort, "low") && !llr_jv_is(effort, "medium")
                && !llr_jv_is(effort, "high"))
            {
                return llr_x_refuse(x, "output_config.effort", "An "
                                    "OpenAI-format provider takes an effort "
                                    "of low, medium or high.");
            }

            llr_x_str_member(&x->w, "reasoning_effort", effort);
        }
    }

    llr_jw_obj_end(&x->w);

    return LLR_XLATE_OK;
}


/* ---- the entry points ---------------------------------------------- */

static void
llr_x_init(llr_x_t *x, const llr_alloc_t *alloc, llr_xlate_out_t *out)
{
    memset(out, 0, sizeof(llr_xlate_out_t));
    out->include_usage = -1;
    out->status = 200;

    memset(x, 0, sizeof(llr_x_t));
    x->alloc = alloc;
    x->out = out;
    llr_jw_init(&x->w, alloc);
    llr_jw_init(&x->tmp, alloc);
}


/* the body written (rc OK), or nothing: what is left is freed */

static llr_xlate_rc_e
llr_x_done(llr_x_t *x, llr_xlate_rc_e rc)
{
    llr_jw_free(&x->tmp);

    if (rc == LLR_XLATE_OK && (x->w.failed || x->w.depth != 0)) {
        rc = LLR_XLATE_NOMEM;
    }

    if (rc != LLR_XLATE_OK) {
        llr_jw_free(&x->w);
        return rc;
    }

    /* a NUL after the body, for callers that want a C string */
    llr_jw_raw(&x->w, "", 1);

    if (x->w.failed) {
        llr_jw_free(&x->w);
        return LLR_XLATE_NOMEM;
    }

    x->out->data = x->w.data;
    x->out->len = x->w.len - 1;

    return rc;
}


llr_xlate_rc_e
llr_xlate_request(llr_xlate_e xl, const llr_alloc_t *alloc,
    const llr_xlate_opts_t *opts, const unsigned char *body, size_t len,
    llr_xlate_out_t *out)
{
    llr_x_t         x;
    const char     *err;
    llr_xlate_rc_e  rc;
    llr_jv_doc_t   *doc;

    llr_x_init(&x, alloc, out);

    doc = llr_jv_parse(alloc, body, len, NULL, &err);

    if (doc == NULL) {
        if (strcmp(err, "out of memory") == 0) {
            return LLR_XLATE_NOMEM;
        }

        return llr_x_refuse(&x, "", "We could not parse the JSON body of "
                            "your request: %s.", err);
    }

    if (doc->root->type != LLR_JV_OBJECT) {
        rc = llr_x_refuse(&x, "", "The request body must be a JSON "
                          "object.");

    } else if (xl == LLR_XLATE_CHAT_ANTHROPIC) {
        rc = llr_x_chat_to_anthropic(&x, doc->root, opts);

    } else if (xl == LLR_XLATE_ANTHROPIC_CHAT) {
        rc = llr_x_anthropic_to_chat(&x, doc->root, opts);

    } else {
        /* LLR_XLATE_RESPONSES_ANTHROPIC: see docs/formats.md */
        rc = llr_x_refuse(&x, "", "The Responses API is not translated "
                          "to the Anthropic Messages format: this model's "
                          "provider cannot serve /v1/responses.");
    }

    llr_jv_free(doc);

    return llr_x_done(&x, rc);
}


/* ---- JSON answers -------------------------------------------------- */

/* an Anthropic message as a chat.completion */

static llr_xlate_rc_e
llr_x_answer_to_chat(llr_x_t *x, const llr_jv_t *root, int64_t created)
{
    unsigned         calls, thinking;
    uint64_t         prompt, cached, output;
    const llr_jv_t  *content, *b, *type, *t, *id, *model, *stop, *usage,
                    *name, *input;

    content = llr_jv_get(root, "content");

    if (content == NULL || content->type != LLR_JV_ARRAY) {
        return llr_x_bad(x, "no content array in an Anthropic message");
    }

    id = llr_jv_get(root, "id");
    model = llr_jv_get(root, "model");
    stop = llr_jv_get(root, "stop_reason");
    usage = llr_jv_get(root, "usage");

    llr_jw_obj(&x->w);
    llr_jw_member_str(&x->w, "id", id);
    llr_jw_key(&x->w, "object");
    llr_jw_cstr(&x->w, "chat.completion");
    llr_jw_key(&x->w, "created");
    llr_jw_int(&x->w, created);
    llr_jw_member_str(&x->w, "model", model);

    llr_jw_key(&x->w, "choices");
    llr_jw_arr(&x->w);
    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "index");
    llr_jw_uint(&x->w, 0);
    llr_jw_key(&x->w, "message");
    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "role");
    llr_jw_cstr(&x->w, "assistant");

    /* the text blocks joined, the thinking apart */

    llr_jw_reset(&x->tmp);
    calls = 0;
    thinking = 0;

    for (b = content->child; b; b = b->next) {
        type = llr_jv_get(b, "type");
        t = llr_jv_get(b, "text");

        if (llr_jv_is(type, "text") && t && t->type == LLR_JV_STRING) {
            llr_jw_raw(&x->tmp, t->str, t->len);

        } else if (llr_jv_is(type, "tool_use")) {
            calls++;

        } else if (llr_jv_is(type, "thinking")) {
            thinking++;
        }
    }

    llr_jw_key(&x->w, "content");

    if (x->tmp.len || calls == 0) {
        llr_jw_str(&x->w, x->tmp.data ? (const char *) x->tmp.data : "",
                   x->tmp.len);

    } else {
        llr_jw_null(&x->w);
    }

    if (thinking) {
        /* as DeepSeek and vLLM name a model's reasoning */
        llr_jw_reset(&x->tmp);

        for (b = content->child; b; b = b->next) {
            t = llr_jv_get(b, "thinking");

            if (llr_jv_is(llr_jv_get(b, "type"), "thinking") && t
                && t->type == LLR_JV_STRING)
            {
                llr_jw_raw(&x->tmp, t->str, t->len);
            }
        }

        llr_jw_key(&x->w, "reasoning_content");
        llr_jw_str(&x->w, x->tmp.data ? (const char *) x->tmp.data : "",
                   x->tmp.len);
    }

    if (calls) {
        llr_jw_key(&x->w, "tool_calls");
        llr_jw_arr(&x->w);

        for (b = content->child; b; b = b->next) {
            if (!llr_jv_is(llr_jv_get(b, "type"), "tool_use")) {
                continue;
            }

            id = llr_jv_get(b, "id");
            name = llr_jv_get(b, "name");
            input = llr_jv_get(b, "input");

            if (id == NULL || id->type != LLR_JV_STRING || name == NULL
                || name->type != LLR_JV_STRING)
            {
                return llr_x_bad(x, "a tool_use block without an id and "
                                 "a name");
            }

            llr_x_tool_call(x, id, name, input);
        }

        llr_jw_arr_end(&x->w);
    }

    llr_jw_key(&x->w, "refusal");
    llr_jw_null(&x->w);
    llr_jw_obj_end(&x->w);

    llr_jw_key(&x->w, "logprobs");
    llr_jw_null(&x->w);
    llr_jw_key(&x->w, "finish_reason");
    llr_jw_cstr(&x->w, stop && stop->type == LLR_JV_STRING
                       ? llr_xlate_finish_reason(stop->str, stop->len)
                       : "stop");
    llr_jw_obj_end(&x->w);
    llr_jw_arr_end(&x->w);

    if (usage && usage->type == LLR_JV_OBJECT) {
        cached = llr_x_count(usage, "cache_read_input_tokens");
        prompt = llr_add_sat(llr_add_sat(llr_x_count(usage, "input_tokens"),
                                 llr_x_count(usage,
                                             "cache_creation_input_tokens")),
                             cached);
        output = llr_x_count(usage, "output_tokens");

        llr_xlate_usage_chat(&x->w, prompt, cached, output,
                             llr_x_count(llr_jv_get(usage,
                                                    "output_tokens_details"),
                                         "thinking_tokens"));
    }

    llr_jw_obj_end(&x->w);

    return LLR_XLATE_OK;
}


/*
 * A tool call's arguments (a JSON text in a string) as a tool_use
 * block's input: the object, or (the model wrote no object) the string
 * as it is, so nothing of it is lost.
 */
static void
llr_x_input(llr_x_t *x, const llr_jv_t *args)
{
    const char    *err;
    llr_jv_doc_t  *doc;

    doc = NULL;

    if (args && args->type == LLR_JV_STRING && args->len) {
        doc = llr_jv_parse(x->alloc, (const unsigned char *) args->str,
                           args->len, NULL, &err);
    }

    if (doc && doc->root->type == LLR_JV_OBJECT) {
        llr_jw_value(&x->w, doc->root);

    } else if (args && args->type == LLR_JV_STRING && args->len) {
        llr_jw_str(&x->w, args->str, args->len);

    } else {
        llr_jw_obj(&x->w);
        llr_jw_obj_end(&x->w);
    }

    llr_jv_free(doc);
}


/* a chat.completion as an Anthropic message */

static llr_xlate_rc_e
llr_x_chat_to_answer(llr_x_t *x, const llr_jv_t *root)
{
    const char      *stop;
    uint64_t         prompt, cached, output;
    const llr_jv_t  *choices, *c, *msg, *content, *refusal, *calls, *tc,
                    *fn, *id, *model, *usage, *finish, *p;

    choices = llr_jv_get(root, "choices");
    c = (choices && choices->type == LLR_JV_ARRAY) ? choices->child : NULL;
    msg = llr_jv_get(c, "message");

    if (msg == NULL || msg->type != LLR_JV_OBJECT) {
        return llr_x_bad(x, "no choices[0].message in a chat completion");
    }

    id = llr_jv_get(root, "id");
    model = llr_jv_get(root, "model");
    usage = llr_jv_get(root, "usage");
    finish = llr_jv_get(c, "finish_reason");
    content = llr_jv_get(msg, "content");
    refusal = llr_jv_get(msg, "refusal");
    calls = llr_jv_get(msg, "tool_calls");

    llr_jw_obj(&x->w);
    llr_jw_key(&x->w, "id");

    if (id && id->type == LLR_JV_STRING) {
        llr_xlate_msg_id(&x->w, (const unsigned char *) id->str, id->len);

    } else {
        llr_xlate_msg_id(&x->w, (const unsigned char *) "", 0);
    }

    llr_jw_key(&x->w, "type");
    llr_jw_cstr(&x->w, "message");
    llr_jw_key(&x->w, "role");
    llr_jw_cstr(&x->w, "assistant");
    llr_jw_member_str(&x->w, "model", model);

    llr_jw_key(&x->w, "content");
    llr_jw_arr(&x->w);

    if (content && content->type == LLR_JV_STRING && content->len) {
        llr_x_text_block(&x->w, content->str, content->len);

    } else if (content && content->type == LLR_JV_ARRAY) {
        /* text parts (OpenAI-compatible servers may answer so) */
        for (tc = content->child; tc; tc = tc->next) {
            p = llr_jv_get(tc, "text");

            if (p && p->type == LLR_JV_STRING && p->len) {
                llr_x_text_block(&x->w, p->str, p->len);
            }
        }
    }

    if (refusal && refusal->type == LLR_JV_STRING && refusal->len) {
        llr_x_text_block(&x->w, refusal->str, refusal->len);
    }

    if (calls && calls->type == LLR_JV_ARRAY) {
        for (tc = calls->child; tc; tc = tc->next) {
            fn = llr_jv_get(tc, "function");
            id = llr_jv_get(tc, "id");
            p = llr_jv_get(fn, "name");

            if (id == NULL || id->type != LLR_JV_STRING || p == NULL
                || p->type != LLR_JV_STRING)
            {
                return llr_x_bad(x, "a tool call without an id and a "
                                 "function name");
            }

            llr_x_tool_use(&x->w, id, p);
            llr_x_input(x, llr_jv_get(fn, "arguments"));
            llr_jw_obj_end(&x->w);
        }
    }

    llr_jw_arr_end(&x->w);

    if (refusal && refusal->type == LLR_JV_STRING && refusal->len) {
        stop = "refusal";

    } else if (finish && finish->type == LLR_JV_STRING) {
        stop = llr_xlate_stop_reason(finish->str, finish->len);

    } else {
        stop = "end_turn";
    }

    llr_jw_key(&x->w, "stop_reason");
    llr_jw_cstr(&x->w, stop);
    llr_jw_key(&x->w, "stop_sequence");
    llr_jw_null(&x->w);

    if (usage && usage->type == LLR_JV_OBJECT) {
        prompt = 0;
        cached = 0;
        output = 0;
        llr_xlate_chat_counts(usage, &prompt, &cached, &output);
        llr_xlate_usage_anthropic(&x->w, prompt, cached, output);
    }

    llr_jw_obj_end(&x->w);

    return LLR_XLATE_OK;
}


llr_xlate_rc_e
llr_xlate_response(llr_xlate_e xl, const llr_alloc_t *alloc,
    int64_t created, const unsigned char *body, size_t len,
    llr_xlate_out_t *out)
{
    llr_x_t         x;
    const char     *err;
    llr_xlate_rc_e  rc;
    llr_jv_doc_t   *doc;

    llr_x_init(&x, alloc, out);

    doc = llr_jv_parse(alloc, body, len, NULL, &err);

    if (doc == NULL) {
        if (strcmp(err, "out of memory") == 0) {
            return LLR_XLATE_NOMEM;
        }

        return llr_x_bad(&x, "it is not JSON");
    }

    if (doc->root->type != LLR_JV_OBJECT) {
        rc = llr_x_bad(&x, "it is not a JSON object");

    } else if (xl == LLR_XLATE_CHAT_ANTHROPIC) {
        rc = llr_x_answer_to_chat(&x, doc->root, created);

    } else if (xl == LLR_XLATE_ANTHROPIC_CHAT) {
        rc = llr_x_chat_to_answer(&x, doc->root);

    } else {
        rc = llr_x_bad(&x, "no translation for this endpoint");
    }

    llr_jv_free(doc);

    return llr_x_done(&x, rc);
}


/* ---- errors -------------------------------------------------------- */

const char *
llr_error_type(llr_format_e fmt, unsigned status)
{
    if (fmt == LLR_FMT_OPENAI) {
        return status == 429 ? "requests"
               : status >= 500 ? "server_error" : "invalid_request_error";
    }

    switch (status) {
    case 401:
        return "authentication_error";
    case 402:
        return "billing_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 503:
    case 529:
        return "overloaded_error";
    case 504:
        return "timeout_error";
    default:
        return status >= 500 ? "api_error" : "invalid_request_error";
    }
}


/* a bounded writer: what fits is written, the length is always counted */
typedef struct {
    unsigned char  *buf;
    size_t          size;
    size_t          len;
} llr_x_put_t;


static void
llr_x_put(llr_x_put_t *b, const char *s)
{
    size_t  n;

    n = strlen(s);

    if (b->len + n <= b->size) {
        memcpy(b->buf + b->len, s, n);
    }

    b->len += n;
}


static void
llr_x_put_str(llr_x_put_t *b, const unsigned char *s, size_t len)
{
    size_t  n;

    n = llr_json_escape_len(s, len);

    if (b->len + n + 2 <= b->size) {
        b->buf[b->len] = '"';
        llr_json_escape(b->buf + b->len + 1, s, len);
        b->buf[b->len + n + 1] = '"';
    }

    b->len += n + 2;
}


#define llr_x_put_cstr(b, s)                                                 \
    llr_x_put_str(b, (const unsigned char *) (s), strlen(s))


size_t
llr_error_body(llr_format_e fmt, unsigned status, const char *type,
    const char *code, const char *param, const unsigned char *msg,
    size_t msg_len, unsigned char *buf, size_t size)
{
    llr_x_put_t  b;

    b.buf = buf;
    b.size = buf ? size : 0;
    b.len = 0;

    if (fmt == LLR_FMT_ANTHROPIC) {
        llr_x_put(&b, "{\"type\":\"error\",\"error\":{\"type\":");
        llr_x_put_cstr(&b, type ? type : llr_error_type(fmt, status));
        llr_x_put(&b, ",\"message\":");
        llr_x_put_str(&b, msg, msg_len);
        llr_x_put(&b, "}}");

        return b.len;
    }

    llr_x_put(&b, "{\"error\":{\"message\":");
    llr_x_put_str(&b, msg, msg_len);
    llr_x_put(&b, ",\"type\":");
    llr_x_put_cstr(&b, type ? type : llr_error_type(fmt, status));
    llr_x_put(&b, ",\"param\":");

    if (param) {
        llr_x_put_cstr(&b, param);

    } else {
        llr_x_put(&b, "null");
    }

    llr_x_put(&b, ",\"code\":");

    if (code) {
        llr_x_put_cstr(&b, code);

    } else {
        llr_x_put(&b, "null");
    }

    llr_x_put(&b, "}}");

    return b.len;
}


llr_xlate_rc_e
llr_xlate_error(llr_xlate_e xl, const llr_alloc_t *alloc, unsigned status,
    const unsigned char *body, size_t len, llr_xlate_out_t *out)
{
    char             code[64], fallback[64];
    size_t           n, mlen;
    const char      *err, *codep;
    llr_format_e     client;
    llr_jv_doc_t    *doc;
    const llr_jv_t  *e, *m, *t;
    unsigned char   *p;
    const unsigned char  *msg;

    memset(out, 0, sizeof(llr_xlate_out_t));
    out->include_usage = -1;

    client = llr_xlate_client(xl);
    out->status = (client == LLR_FMT_OPENAI && status == 529) ? 503 : status;

    doc = llr_jv_parse(alloc, body, len, NULL, &err);

    e = doc ? llr_jv_get(doc->root, "error") : NULL;
    m = e ? llr_jv_get(e, "message") : NULL;
    t = e ? llr_jv_get(e, "type") : NULL;

    if (e && e->type == LLR_JV_STRING) {
        m = e;
    }

    if (m && m->type == LLR_JV_STRING) {
        msg = (const unsigned char *) m->str;
        mlen = m->len;

    } else {
        mlen = (size_t) snprintf(fallback, sizeof(fallback),
                                 "The provider answered with status %u.",
                                 status);
        msg = (const unsigned char *) fallback;
    }

    /* the provider's own type, for an OpenAI client its "code" */
    codep = NULL;

    if (t && t->type == LLR_JV_STRING && t->len < sizeof(code)) {
        memcpy(code, t->str, t->len);
        code[t->len] = '\0';
        codep = code;
    }

    n = llr_error_body(client, out->status, NULL,
                       client == LLR_FMT_OPENAI ? codep : NULL, NULL, msg,
                       mlen, NULL, 0);

    p = alloc->malloc(alloc->ctx, n + 1);

    if (p) {
        (void) llr_error_body(client, out->status, NULL,
                              client == LLR_FMT_OPENAI ? codep : NULL, NULL,
                              msg, mlen, p, n);
        p[n] = '\0';
    }

    llr_jv_free(doc);

    if (p == NULL) {
        return LLR_XLATE_NOMEM;
    }

    out->data = p;
    out->len = n;

    return LLR_XLATE_OK;
}


/* ---- count_tokens -------------------------------------------------- */

uint64_t
llr_count_tokens_estimate(const llr_req_view_t *view)
{
    return llr_add_sat(llr_estimate_tokens(view->text_bytes),
                       llr_mul_sat(view->messages, 4));
}


void
llr_xlate_msg_id(llr_jw_t *w, const unsigned char *id, size_t len)
{
    unsigned char  buf[4 + LLR_XLATE_ID_MAX];

    if (len >= 4 && memcmp(id, "msg_", 4) == 0) {
        llr_jw_str(w, id, len);
        return;
    }

    if (len > LLR_XLATE_ID_MAX) {
        len = LLR_XLATE_ID_MAX;
    }

    memcpy(buf, "msg_", 4);
    memcpy(buf + 4, id, len);

    llr_jw_str(w, buf, 4 + len);
}


size_t
llr_count_tokens_body(uint64_t n, char *buf, size_t size)
{
    int  len;

    len = snprintf(buf, size, "{\"input_tokens\":%llu}",
                   (unsigned long long) n);

    return len < 0 ? 0 : (size_t) len;
}
