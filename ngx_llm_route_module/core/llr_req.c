/*
 * ngx_llm_route_module: request scanner and rewriter.
 *
 * One streaming pass of our own JSON lexer (llr_lex(), strict RFC 8259,
 * UTF-8 checked where the string skip stops, on the token layer of
 * llr_jtok.h): the handlers below track where
 * they are in the document with a small stack of frames (one per open
 * container), each frame knowing what its container means (the
 * top-level object, "stream_options", the messages array, a message,
 * its content parts, ...).  Map keys decide what the next value means;
 * arrays decide it for their elements.  Every value is written back
 * compact into the caller's output memory, except the dropped ones
 * ("model" at the top level, "include_usage" in "stream_options").
 * Strings and numbers are written as the client wrote them (escapes
 * included): only whitespace between tokens goes.
 *
 * Why not yajl: it decodes every string and calls back with the decoded
 * copy, so forwarding a string meant escaping it again; and it lexes a
 * byte at a time.  Here string bodies are skipped 16 or 32 bytes at a
 * time (llr_jtok_stop()) and copied once, and only the strings the router reads (keys, model,
 * roles, message text when it is wanted) are decoded.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "llr_jtok.h"
#include "llr_req.h"


#if defined(__GNUC__)
#define llr_inline  inline __attribute__((always_inline))
#else
#define llr_inline  inline
#endif


/* JSON value types, as bits of an "accepted types" mask */
#define LLR_T_STRING  0x01
#define LLR_T_NUMBER  0x02
#define LLR_T_BOOL    0x04
#define LLR_T_NULL    0x08
#define LLR_T_MAP     0x10
#define LLR_T_ARRAY   0x20
#define LLR_T_ANY     0x3f


/* what a container is */
typedef enum {
    LLR_C_OTHER = 0,
    LLR_C_TOP,              /* the top-level object */
    LLR_C_STREAM_OPTIONS,   /* top-level "stream_options" */
    LLR_C_MESSAGES,         /* "messages", or the responses "input" */
    LLR_C_MESSAGE,          /* one message (or input item) */
    LLR_C_PARTS,            /* a message's "content" array */
    LLR_C_PART,             /* one content part */
    LLR_C_TOOL_CALLS,       /* a message's "tool_calls" */
    LLR_C_TOOL_CALL,
    LLR_C_FUNCTION,         /* tool_calls[].function, "function_call" */
    LLR_C_PROMPT,           /* "prompt" / embeddings "input" array */
    LLR_C_A_SYSTEM,         /* Anthropic: the "system" blocks */
    LLR_C_A_RESULT,         /* a tool_result's "content" blocks */
    LLR_C_A_RESULT_PART,    /* one of them */
    LLR_C_A_INPUT,          /* a tool_use's "input", at any depth */
    LLR_C_RESPONSE_FORMAT   /* top-level "response_format" object */
} llr_ctx_e;


/* what a value means */
typedef enum {
    LLR_V_NONE = 0,
    LLR_V_ROOT,
    LLR_V_MODEL,
    LLR_V_STREAM,
    LLR_V_STREAM_OPTIONS,
    LLR_V_INCLUDE_USAGE,
    LLR_V_MAX_TOKENS,
    LLR_V_N,                /* "n", completions "best_of" */
    LLR_V_FLAG,             /* "tools", "functions", "response_format" */
    LLR_V_MESSAGES,
    LLR_V_PROMPT,           /* completions "prompt", embeddings "input" */
    LLR_V_INPUT,            /* responses "input" */
    LLR_V_INSTRUCTIONS,
    LLR_V_MESSAGE,
    LLR_V_ROLE,
    LLR_V_CONTENT,
    LLR_V_PART,
    LLR_V_PART_TEXT,
    LLR_V_TOOL_CALLS,
    LLR_V_TOOL_CALL,
    LLR_V_FUNCTION,
    LLR_V_ARGUMENTS,        /* function arguments, responses "output" */
    LLR_V_ITEM_TYPE,        /* responses input item "type" */
    LLR_V_PROMPT_ITEM,
    LLR_V_A_SYSTEM,         /* Anthropic top-level "system" */
    LLR_V_A_RESULT,         /* a block's "content": tool result text */
    LLR_V_A_RESULT_PART,
    LLR_V_A_RESULT_TEXT,
    LLR_V_A_INPUT,          /* a tool_use's "input" and what is in it */
    LLR_V_RF_TYPE,          /* response_format "type" */
    LLR_V_LAST
} llr_val_e;


static const unsigned char  llr_accept[LLR_V_LAST] = {
    LLR_T_ANY,                                  /* NONE */
    LLR_T_MAP,                                  /* ROOT */
    LLR_T_STRING,                               /* MODEL */
    LLR_T_BOOL | LLR_T_NULL,                    /* STREAM */
    LLR_T_MAP | LLR_T_NULL,                     /* STREAM_OPTIONS */
    LLR_T_BOOL,                                 /* INCLUDE_USAGE */
    LLR_T_NUMBER | LLR_T_NULL,                  /* MAX_TOKENS */
    LLR_T_NUMBER | LLR_T_NULL,                  /* N */
    LLR_T_ANY,                                  /* FLAG */
    LLR_T_ARRAY,                                /* MESSAGES */
    LLR_T_STRING | LLR_T_ARRAY,                 /* PROMPT */
    LLR_T_STRING | LLR_T_ARRAY,                 /* INPUT */
    LLR_T_STRING | LLR_T_NULL,                  /* INSTRUCTIONS */
    LLR_T_MAP,                                  /* MESSAGE */
    LLR_T_STRING,                               /* ROLE */
    LLR_T_STRING | LLR_T_NULL | LLR_T_ARRAY,    /* CONTENT */
    LLR_T_MAP | LLR_T_STRING,                   /* PART */
    LLR_T_ANY,                                  /* PART_TEXT */
    LLR_T_ANY,                                  /* TOOL_CALLS */
    LLR_T_ANY,                                  /* TOOL_CALL */
    LLR_T_ANY,                                  /* FUNCTION */
    LLR_T_ANY,                                  /* ARGUMENTS */
    LLR_T_ANY,                                  /* ITEM_TYPE */
    LLR_T_STRING | LLR_T_NUMBER | LLR_T_ARRAY,  /* PROMPT_ITEM */
    LLR_T_STRING | LLR_T_ARRAY,                 /* A_SYSTEM */
    LLR_T_ANY,                                  /* A_RESULT */
    LLR_T_ANY,                                  /* A_RESULT_PART */
    LLR_T_ANY,                                  /* A_RESULT_TEXT */
    LLR_T_ANY,                                  /* A_INPUT */
    LLR_T_ANY                                   /* RF_TYPE */
};


#define llr_ep_anthropic(ep)                                                 \
    ((ep) == LLR_EP_MESSAGES || (ep) == LLR_EP_COUNT_TOKENS)


/* responses input items without a "role": what their "type" implies */
#define LLR_KIND_NONE     0
#define LLR_KIND_MESSAGE  1
#define LLR_KIND_CALL     2     /* function_call, ...: "assistant" */
#define LLR_KIND_OUTPUT   3     /* function_call_output, ...: "tool" */

/* what the lexer expects next (llr_lex()) */
#define LLR_G_VALUE         0   /* a value: the root, after ':' or ',' */
#define LLR_G_VALUE_OR_END  1   /* after '[' */
#define LLR_G_KEY_OR_END    2   /* after '{' */
#define LLR_G_KEY           3   /* after ',' in an object */
#define LLR_G_COLON         4   /* after a key */
#define LLR_G_NEXT          5   /* after a value in a container */
#define LLR_G_DONE          6   /* after the root value */

/* a token cut by the end of a piece */
#define LLR_TOK_NONE        0
#define LLR_TOK_STRING      1
#define LLR_TOK_NUMBER      2
#define LLR_TOK_LITERAL     3

/* in a string */
#define LLR_S_TEXT          0
#define LLR_S_BS            1   /* after '\\' */
#define LLR_S_HEX           2   /* in the hex digits of \\u */
#define LLR_S_UTF8          3   /* in a multi-byte UTF-8 sequence */
#define LLR_S_WANT_BS       4   /* after a high surrogate: '\\' must come */


/* where message text goes: see llr_req_set_want() */
#define LLR_TEXT_LIVE       0   /* to the sink as it comes */
#define LLR_TEXT_PENDING    1   /* kept until the model is known */
#define LLR_TEXT_OFF        2   /* not wanted */

#define LLR_LOG_BLOCK       2048

#define LLR_ROLE_MAX      32
#define LLR_ECHO_MAX      40
#define LLR_MAX_SAFE_INT  9007199254740992ULL   /* 2^53 */


typedef struct {
    size_t              n;      /* members or elements seen */
    unsigned char       ctx;    /* llr_ctx_e */
    unsigned char       map;
} llr_frame_t;


/*
 * What was wrong with the UTF-8 of a string or its surrogate escapes
 * (the lexer checks both as it reads the string, see llr_str_scan()),
 * for llr_check_fail().
 */
typedef struct {
    size_t              u8_at;          /* offset of the sequence's lead */
    size_t              esc_bad_at;     /* ... of the lone surrogate */
    unsigned            esc_bad;        /* the lone surrogate */
    unsigned char       u8_byte;        /* the offending byte */
    unsigned char       bad;            /* LLR_U8_*: what was wrong */
} llr_check_t;


/* text kept until the model is known: records in a list of blocks */
typedef struct llr_log_s  llr_log_t;

struct llr_log_s {
    llr_log_t          *next;
    size_t              used;
    size_t              size;
    /* records follow */
};


struct llr_req_s {
    llr_alloc_t         alloc;
    llr_out_t          *out;
    llr_text_sink_t     sink;
    llr_endpoint_e      ep;

    /* the lexer: see llr_lex() */
    unsigned char       g;              /* LLR_G_* */
    unsigned char       tok;            /* LLR_TOK_* */
    unsigned char       str_state;      /* LLR_S_* */
    unsigned char       str_hex;        /* hex digits of \\u read */
    unsigned char       str_esc;        /* the string has escapes */
    unsigned            str_cp;         /* the \\u escape being read */
    unsigned            str_high;       /* a high surrogate awaiting its
                                           low half, or 0 */
    size_t              str_esc_at;     /* offset of the escape's '\\' */
    size_t              str_high_at;    /* ... of the pending high one */
    size_t              str_u8_at;      /* offset of a sequence's lead */
    llr_jtok_u8_t       str_u8;         /* the sequence being read */
    size_t              str_less;       /* raw bytes beyond the decoded */
    unsigned char       str_key;        /* the string is a key */
    unsigned char       num_state;      /* LLR_JTOK_N_* */
    unsigned char       lit;            /* which literal: 0 true, ... */
    unsigned char       lit_pos;        /* its bytes matched */

    unsigned char      *tbuf;           /* a token cut by a piece end */
    size_t              tbuf_len;
    size_t              tbuf_cap;
    unsigned char      *dbuf;           /* a decoded string */
    size_t              dbuf_cap;

    /* is the text wanted: see llr_req_set_want() */
    int               (*want)(void *ctx, const unsigned char *model,
                                size_t len);
    void               *want_ctx;
    unsigned char       text_mode;      /* LLR_TEXT_* */
    llr_log_t          *log;
    llr_log_t          *log_last;

    llr_req_view_t      view;
    size_t              model_cap;

    llr_req_err_e       err;
    const char         *param;

    /* flags read at every token: bytes, not bit-fields */
    unsigned char       finished;
    unsigned char       drop;           /* the next value is not written */
    unsigned char       verb;           /* in a value passed on as is */
    unsigned char       seen_required;
    unsigned char       seen_stream_options;

    /* current message */
    unsigned char       msg_begun;
    unsigned char       msg_has_role;
    unsigned char       msg_kind;       /* LLR_KIND_* */
    unsigned char       msg_tool;       /* Anthropic: in a tool result */
    unsigned char       msg_split;      /* ... after one */
    char                msg_role[LLR_ROLE_MAX];
    unsigned char       msg_role_len;
    size_t              msg_index;
    size_t              turn;

    /* the piece fed by llr_req_feed_stable(), or NULL */
    const unsigned char *in_start;
    const unsigned char *in_end;

    /* where the part of a verbatim value in this piece starts */
    const unsigned char *span;

    /* text records of a message seen before its role (as in the log) */
    unsigned char      *pend;
    size_t              pend_len;
    size_t              pend_cap;

    llr_val_e           key;            /* meaning of the next map value */
    const char         *key_name;       /* its name for messages */
    const char         *msgs_name;      /* "messages" or "input" */

    size_t              depth;
    llr_frame_t         frames[LLR_REQ_MAX_DEPTH];

    /* the piece being lexed and its offset in the body */
    const unsigned char *lex_data;
    size_t              lex_base;

    /* what was wrong with a string's UTF-8 or surrogates */
    llr_check_t         chk;

    char                errmsg[256];
};


/*
 * The escape of each byte in a JSON string: 0 = as is, 'u' = \u00XX,
 * else the character after the backslash.
 */
static const unsigned char  llr_esc[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x80..0xff: a UTF-8 character, or \ufffd */
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8', '8',
    '8', '8'
};

static const char  llr_hex[] = "0123456789abcdef";


static const unsigned char *llr_decode(llr_req_t *rq, const unsigned char *s,
    size_t len, size_t *out);
static int llr_grow_more(llr_req_t *rq, unsigned char **buf, size_t *cap,
    size_t need);
static int llr_key_out(llr_req_t *rq, llr_frame_t *f, const unsigned char *k,
    size_t len)
#if defined(__GNUC__)
    __attribute__((noinline))
#endif
    ;
static int llr_fail(llr_req_t *rq, llr_req_err_e err, const char *param,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;


/* errors */

static int
llr_fail(llr_req_t *rq, llr_req_err_e err, const char *param,
    const char *fmt, ...)
{
    va_list  args;

    if (rq->err == LLR_REQ_OK) {
        rq->err = err;
        rq->param = param;

        va_start(args, fmt);
        vsnprintf(rq->errmsg, sizeof(rq->errmsg), fmt, args);
        va_end(args);
    }

    /* the handlers return this: stop lexing */
    return 0;
}


static int
llr_nomem(llr_req_t *rq)
{
    return llr_fail(rq, LLR_REQ_ERR_NOMEM, NULL, "Out of memory.");
}


static const char *
llr_type_name(int type, const char *num, size_t len)
{
    size_t  i;

    switch (type) {

    case LLR_T_STRING:
        return "a string";

    case LLR_T_NUMBER:
        for (i = 0; i < len; i++) {
            if (num[i] == '.' || num[i] == 'e' || num[i] == 'E') {
                return "a decimal";
            }
        }
        return "an integer";

    case LLR_T_BOOL:
        return "a boolean";

    case LLR_T_NULL:
        return "null";

    case LLR_T_MAP:
        return "an object";

    default:
        return "an array";
    }
}


static int
llr_type_error(llr_req_t *rq, llr_val_e m, int type, const char *num,
    size_t len)
{
    char          name[64];
    size_t        idx;
    const char   *got, *expect, *param;
    llr_frame_t  *f;

    got = llr_type_name(type, num, len);
    param = rq->msgs_name;
    expect = "a string";

    switch (m) {

    case LLR_V_ROOT:
        return llr_fail(rq, LLR_REQ_ERR_TYPE, NULL,
                        "Invalid request body: the request body must be "
                        "a JSON object, but got %s instead.", got);

    case LLR_V_MODEL:
        param = "model";
        snprintf(name, sizeof(name), "model");
        break;

    case LLR_V_STREAM:
        param = "stream";
        snprintf(name, sizeof(name), "stream");
        expect = "a boolean";
        break;

    case LLR_V_STREAM_OPTIONS:
        param = "stream_options";
        snprintf(name, sizeof(name), "stream_options");
        expect = "an object";
        break;

    case LLR_V_INCLUDE_USAGE:
        param = "stream_options.include_usage";
        snprintf(name, sizeof(name), "stream_options.include_usage");
        expect = "a boolean";
        break;

    case LLR_V_MAX_TOKENS:
    case LLR_V_N:
        param = rq->key_name;
        snprintf(name, sizeof(name), "%s", param);
        expect = "an integer";
        break;

    case LLR_V_MESSAGES:
        param = "messages";
        snprintf(name, sizeof(name), "messages");
        expect = "an array";
        break;

    case LLR_V_PROMPT:
    case LLR_V_INPUT:
        param = rq->key_name;
        snprintf(name, sizeof(name), "%s", param);
        expect = "a string or an array";
        break;

    case LLR_V_INSTRUCTIONS:
        param = "instructions";
        snprintf(name, sizeof(name), "instructions");
        break;

    case LLR_V_A_SYSTEM:
        param = "system";
        snprintf(name, sizeof(name), "system");
        expect = "a string or an array";
        break;

    case LLR_V_MESSAGE:
        f = &rq->frames[rq->depth - 1];
        snprintf(name, sizeof(name), "%s[%zu]", param, f->n);
        expect = "an object";
        break;

    case LLR_V_ROLE:
        snprintf(name, sizeof(name), "%s[%zu].role", param, rq->msg_index);
        break;

    case LLR_V_CONTENT:
        snprintf(name, sizeof(name), "%s[%zu].content", param,
                 rq->msg_index);
        expect = "a string or an array of objects";
        break;

    case LLR_V_PART:
        f = &rq->frames[rq->depth - 1];
        snprintf(name, sizeof(name), "%s[%zu].content[%zu]", param,
                 rq->msg_index, f->n);
        expect = "an object";
        break;

    case LLR_V_PROMPT_ITEM:
        f = &rq->frames[rq->depth - 1];
        param = rq->key_name;
        idx = f->n;
        snprintf(name, sizeof(name), "%s[%zu]", param, idx);
        expect = "a string or an array of integers";
        break;

    default:
        param = NULL;
        snprintf(name, sizeof(name), "value");
        break;
    }

    return llr_fail(rq, LLR_REQ_ERR_TYPE, param,
                    "Invalid type for '%s': expected %s, but got %s "
                    "instead.", name, expect, got);
}


/*
 * A JSON syntax error: what, where (at: the offset in the body that is
 * reported), and a short printable piece of the input around off, the
 * place in this piece (never more than LLR_ECHO_MAX bytes).
 */
static void
llr_syntax_error(llr_req_t *rq, const char *what, const unsigned char *data,
    size_t len, size_t off, size_t at)
{
    char    echo[LLR_ECHO_MAX + 1];
    size_t  i, n, from, elen;

    elen = 0;

    if (data != NULL && len > 0) {
        if (off > len) {
            off = len;
        }

        from = off > LLR_ECHO_MAX / 2 ? off - LLR_ECHO_MAX / 2 : 0;
        n = len - from;

        if (n > LLR_ECHO_MAX) {
            n = LLR_ECHO_MAX;
        }

        for (i = 0; i < n; i++) {
            echo[i] = (data[from + i] >= 0x20 && data[from + i] < 0x7f)
                      ? (char) data[from + i] : '?';
        }

        elen = n;
    }

    echo[elen] = '\0';

    if (elen) {
        llr_fail(rq, LLR_REQ_ERR_JSON, NULL,
                 "We could not parse the JSON body of your request. "
                 "(at byte %zu: %s, near '%s')", at, what, echo);

    } else {
        llr_fail(rq, LLR_REQ_ERR_JSON, NULL,
                 "We could not parse the JSON body of your request. "
                 "(at byte %zu: %s)", at, what);
    }
}


/* output */

static int
llr_out_more(llr_req_t *rq)
{
    llr_out_t  *out;

    out = rq->out;

    if (out->next(out) != 0 || out->pos == NULL || out->pos >= out->end) {
        return llr_fail(rq, LLR_REQ_ERR_OUTPUT, NULL,
                        "Could not allocate memory for the request body.")
               - 1;
    }

    return 0;
}


static int
llr_out_copy(llr_req_t *rq, const unsigned char *p, size_t len)
{
    size_t      room;
    llr_out_t  *out;

    out = rq->out;

    for ( ;; ) {
        room = (size_t) (out->end - out->pos);

        if (len <= room) {
            if (len) {
                memcpy(out->pos, p, len);
                out->pos += len;
            }
            return 0;
        }

        if (room) {
            memcpy(out->pos, p, room);
            out->pos += room;
            p += room;
            len -= room;
        }

        if (llr_out_more(rq) != 0) {
            return -1;
        }
    }
}


/*
 * A token: not written inside a value passed on as the client wrote it.
 * The writers are inlined: most tokens are in such values, and then a
 * call costs more than the test.
 */

static llr_inline int
llr_write(llr_req_t *rq, const unsigned char *p, size_t len)
{
    if (rq->verb) {
        return 0;
    }

    return llr_out_copy(rq, p, len);
}


static llr_inline int
llr_write_char(llr_req_t *rq, unsigned char c)
{
    llr_out_t  *out;

    if (rq->verb) {
        return 0;
    }

    out = rq->out;

    if (out->pos >= out->end && llr_out_more(rq) != 0) {
        return -1;
    }

    *out->pos++ = c;

    return 0;
}


static size_t
llr_escape_char(unsigned char *dst, unsigned char c)
{
    unsigned char  e;

    e = llr_esc[c];

    dst[0] = '\\';

    if (e != 'u') {
        dst[1] = e;
        return 2;
    }

    dst[1] = 'u';
    dst[2] = '0';
    dst[3] = '0';
    dst[4] = (unsigned char) llr_hex[c >> 4];
    dst[5] = (unsigned char) llr_hex[c & 0xf];

    return 6;
}


/* a string as the client wrote it: quotes around the raw bytes */

static int
llr_raw_string_out(llr_req_t *rq, const unsigned char *s, size_t len)
{
    llr_out_t  *out;

    out = rq->out;

    if ((size_t) (out->end - out->pos) >= len + 2) {
        *out->pos++ = '"';

        if (len) {
            memcpy(out->pos, s, len);
            out->pos += len;
        }

        *out->pos++ = '"';
        return 0;
    }

    if (llr_write_char(rq, '"') != 0 || llr_write(rq, s, len) != 0) {
        return -1;
    }

    return llr_write_char(rq, '"');
}


static llr_inline int
llr_write_raw_string(llr_req_t *rq, const unsigned char *s, size_t len)
{
    if (rq->verb) {
        return 0;
    }

    return llr_raw_string_out(rq, s, len);
}


static int
llr_mark(llr_req_t *rq, llr_mark_e mark, int comma)
{
    if (rq->out->mark(rq->out, mark, comma) != 0) {
        return llr_fail(rq, LLR_REQ_ERR_OUTPUT, NULL,
                        "Could not allocate memory for the request body.")
               - 1;
    }

    return 0;
}


/*
 * Before a value: count it in its array and write the ',' it needs.
 * Values in maps had theirs written with the key.
 */
static llr_inline int
llr_prefix(llr_req_t *rq)
{
    llr_frame_t  *f;

    if (rq->depth == 0) {
        return 0;
    }

    f = &rq->frames[rq->depth - 1];

    if (f->map) {
        return 0;
    }

    if (f->n++ && rq->out != NULL) {
        return llr_write_char(rq, ',');
    }

    return 0;
}


/*
 * Grows *buf (capacity *cap) to hold at least need bytes, doubling from
 * 256; returns 0, or -1 with the error set.
 */
static int
llr_grow_more(llr_req_t *rq, unsigned char **buf, size_t *cap, size_t need)
{
    size_t          n;
    unsigned char  *p;

    n = *cap ? *cap * 2 : 256;

    while (n < need) {
        n *= 2;
    }

    p = rq->alloc.realloc(rq->alloc.ctx, *buf, n);
    if (p == NULL) {
        return llr_nomem(rq) - 1;
    }

    *buf = p;
    *cap = n;

    return 0;
}


static llr_inline int
llr_grow(llr_req_t *rq, unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return 0;
    }

    return llr_grow_more(rq, buf, cap, need);
}


/*
 * The text sink, through the text mode: live, kept in the log until the
 * model is known (then replayed or dropped), or off.  Log records: a
 * kind byte, then BEGIN: the turn (size_t), the role's length (a byte)
 * and the role; TEXT: the length (size_t) and the bytes as written in
 * the body (escapes decoded when replayed); REF: where those bytes are
 * in a stable piece (a pointer) and their length; END: nothing.  The
 * text of a message seen before its role is kept in pend as the same
 * TEXT or REF records.
 */

#define LLR_REC_BEGIN  1
#define LLR_REC_TEXT   2
#define LLR_REC_END    3
#define LLR_REC_REF    4
#define LLR_REC_ESC    8        /* or'ed into TEXT and REF: has escapes */


static unsigned char *
llr_log_block(llr_req_t *rq, size_t need)
{
    size_t      size;
    llr_log_t  *b;

    /* a new block for the log: the last one has no room for need */

    size = need > LLR_LOG_BLOCK ? need : LLR_LOG_BLOCK;

    b = rq->alloc.malloc(rq->alloc.ctx, sizeof(llr_log_t) + size);
    if (b == NULL) {
        llr_nomem(rq);
        return NULL;
    }

    b->next = NULL;
    b->used = need;
    b->size = size;

    if (rq->log_last) {
        rq->log_last->next = b;

    } else {
        rq->log = b;
    }

    rq->log_last = b;

    return (unsigned char *) (b + 1);
}


/* room for need bytes at the end of the log */

static llr_inline unsigned char *
llr_log_room(llr_req_t *rq, size_t need)
{
    llr_log_t      *b;
    unsigned char  *p;

    b = rq->log_last;

    if (b == NULL || b->size - b->used < need) {
        return llr_log_block(rq, need);
    }

    p = (unsigned char *) (b + 1) + b->used;
    b->used += need;

    return p;
}


static void
llr_log_free(llr_req_t *rq)
{
    llr_log_t  *b, *next;

    for (b = rq->log; b; b = next) {
        next = b->next;
        rq->alloc.free(rq->alloc.ctx, b);
    }

    rq->log = NULL;
    rq->log_last = NULL;
}


/* whether the len bytes at s are in the stable piece being fed */
#define llr_in_stable(rq, s, len)                                            \
    ((rq)->in_start != NULL && (s) >= (rq)->in_start                         \
     && (s) <= (rq)->in_end && (size_t) ((rq)->in_end - (s)) >= (len))


/*
 * The bytes of a verbatim value from rq->span to e (in the current
 * piece): by reference when the piece is stable and the caller takes
 * references, else copied.
 */
static int
llr_span_put(llr_req_t *rq, const unsigned char *e)
{
    int                   rc;
    size_t                len;
    const unsigned char  *s;

    s = rq->span;
    len = (size_t) (e - s);
    rq->span = e;

    if (len == 0) {
        return 0;
    }

    rc = 1;

    if (rq->out->ref != NULL && llr_in_stable(rq, s, len)) {
        rc = rq->out->ref(rq->out, s, len);
    }

    if (rc > 0) {
        return llr_out_copy(rq, s, len);
    }

    if (rc < 0) {
        return llr_fail(rq, LLR_REQ_ERR_OUTPUT, NULL,
                        "Could not allocate memory for the request body.")
               - 1;
    }

    return 0;
}


/* after a value: a top-level one passed on as written ends at e */

static llr_inline int
llr_span_end(llr_req_t *rq, const unsigned char *e)
{
    if (!rq->verb || rq->depth != 1) {
        return 0;
    }

    rq->verb = 0;

    return llr_span_put(rq, e);
}


/* the size of the TEXT (ref 0) or REF record for len bytes */
#define llr_rec_size(ref, len)                                               \
    ((ref) ? 1 + sizeof(const unsigned char *) + sizeof(size_t)             \
           : 1 + sizeof(size_t) + (len))


static void
llr_rec_put(unsigned char *p, int ref, const unsigned char *s, size_t len,
    int esc)
{
    unsigned char  kind;

    kind = esc ? LLR_REC_ESC : 0;

    if (ref) {
        *p++ = kind | LLR_REC_REF;
        memcpy(p, &s, sizeof(const unsigned char *));
        memcpy(p + sizeof(const unsigned char *), &len, sizeof(size_t));
        return;
    }

    *p++ = kind | LLR_REC_TEXT;
    memcpy(p, &len, sizeof(size_t));

    if (len) {
        memcpy(p + sizeof(size_t), s, len);
    }
}


/* the records in [p, end) into the sink; 0, or -1 (out of memory) */
static int
llr_rec_replay(llr_req_t *rq, const unsigned char *p,
    const unsigned char *end)
{
    char                  role[LLR_ROLE_MAX];
    size_t                n;
    unsigned              kind;
    const unsigned char  *s;

    while (p < end) {
        kind = *p++;

        switch (kind & ~LLR_REC_ESC) {

        case LLR_REC_BEGIN:
            memcpy(&n, p, sizeof(size_t));
            p += sizeof(size_t);
            memcpy(role, p + 1, *p);
            role[*p] = '\0';

            if (rq->sink.message_begin) {
                rq->sink.message_begin(rq->sink.ctx, role, n);
            }

            p += 1 + *p;
            break;

        case LLR_REC_TEXT:
        case LLR_REC_REF:
            if ((kind & ~LLR_REC_ESC) == LLR_REC_REF) {
                memcpy(&s, p, sizeof(const unsigned char *));
                p += sizeof(const unsigned char *);
                memcpy(&n, p, sizeof(size_t));
                p += sizeof(size_t);

            } else {
                memcpy(&n, p, sizeof(size_t));
                s = p + sizeof(size_t);
                p = s + n;
            }

            if (kind & LLR_REC_ESC) {
                s = llr_decode(rq, s, n, &n);
                if (s == NULL) {
                    return -1;
                }
            }

            rq->sink.text(rq->sink.ctx, s, n);
            break;

        default: /* LLR_REC_END */
            if (rq->sink.message_end) {
                rq->sink.message_end(rq->sink.ctx);
            }
            break;
        }
    }

    return 0;
}


/* the size of the BEGIN record of a role of n bytes */
#define llr_rec_begin_size(n)  (2 + sizeof(size_t) + (n))


/* a BEGIN record at p: returns its end */
static llr_inline unsigned char *
llr_rec_begin(unsigned char *p, const char *role, size_t n, size_t turn)
{
    *p++ = LLR_REC_BEGIN;
    memcpy(p, &turn, sizeof(size_t));
    p += sizeof(size_t);
    *p++ = (unsigned char) n;
    memcpy(p, role, n);

    return p + n;
}


static int
llr_sink_begin(llr_req_t *rq, const char *role, size_t turn)
{
    size_t          n;
    unsigned char  *p;

    switch (rq->text_mode) {

    case LLR_TEXT_LIVE:
        if (rq->sink.message_begin) {
            rq->sink.message_begin(rq->sink.ctx, role, turn);
        }
        return 0;

    case LLR_TEXT_PENDING:
        n = strlen(role);

        p = llr_log_room(rq, llr_rec_begin_size(n));
        if (p == NULL) {
            return -1;
        }

        (void) llr_rec_begin(p, role, n, turn);
        return 0;

    default:
        return 0;
    }
}


static int
llr_sink_end(llr_req_t *rq)
{
    unsigned char  *p;

    switch (rq->text_mode) {

    case LLR_TEXT_LIVE:
        if (rq->sink.message_end) {
            rq->sink.message_end(rq->sink.ctx);
        }
        return 0;

    case LLR_TEXT_PENDING:
        p = llr_log_room(rq, 1);
        if (p == NULL) {
            return -1;
        }

        *p = LLR_REC_END;
        return 0;

    default:
        return 0;
    }
}


/*
 * A top-level "model" was read: is the text wanted?  While pending, the
 * log is replayed into the sink or dropped.  A later (duplicate) model
 * may turn the text on again: the sink then gets the text after it.
 * Returns 0, or -1 (out of memory).
 */
static int
llr_text_decide(llr_req_t *rq)
{
    int         w, rc;
    llr_log_t  *b;

    if (rq->want == NULL || rq->text_mode == LLR_TEXT_LIVE) {
        return 0;
    }

    w = rq->want(rq->want_ctx, (const unsigned char *) rq->view.model,
                 rq->view.model_len);

    rc = 0;

    if (rq->text_mode == LLR_TEXT_PENDING) {
        if (w) {
            for (b = rq->log; b && rc == 0; b = b->next) {
                rc = llr_rec_replay(rq, (const unsigned char *) (b + 1),
                                    (const unsigned char *) (b + 1)
                                    + b->used);
            }
        }

        llr_log_free(rq);
    }

    rq->text_mode = w ? LLR_TEXT_LIVE : LLR_TEXT_OFF;

    return rc;
}


/* strings: decoding */

/*
 * Decodes a string the lexer accepted into rq->dbuf (never longer than
 * the raw form); returns it, or NULL when out of memory.
 */
static const unsigned char *
llr_decode(llr_req_t *rq, const unsigned char *s, size_t len, size_t *out)
{
    unsigned              cp, lo;
    unsigned char        *d;
    const unsigned char  *end, *q;

    if (llr_grow(rq, &rq->dbuf, &rq->dbuf_cap, len) != 0) {
        return NULL;
    }

    d = rq->dbuf;
    end = s + len;

    for ( ;; ) {
        q = memchr(s, '\\', (size_t) (end - s));

        if (q == NULL) {
            if (end > s) {
                memcpy(d, s, (size_t) (end - s));
                d += end - s;
            }
            break;
        }

        if (q > s) {
            memcpy(d, s, (size_t) (q - s));
            d += q - s;
        }

        switch (q[1]) {
        case 'b': *d++ = '\b'; s = q + 2; continue;
        case 'f': *d++ = '\f'; s = q + 2; continue;
        case 'n': *d++ = '\n'; s = q + 2; continue;
        case 'r': *d++ = '\r'; s = q + 2; continue;
        case 't': *d++ = '\t'; s = q + 2; continue;
        case 'u': break;
        default: *d++ = q[1]; s = q + 2; continue;    /* " \\ / */
        }

        cp = llr_jtok_hex4(q + 2);
        s = q + 6;

        if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 6 && s[0] == '\\'
            && s[1] == 'u')
        {
            lo = llr_jtok_hex4(s + 2);

            if (lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                s += 6;
            }
        }

        d += llr_utf8_put(d, cp);
    }

    *out = (size_t) (d - rq->dbuf);

    return rq->dbuf;
}


/* messages */

static int
llr_msg_begin(llr_req_t *rq)
{
    size_t          len;
    unsigned char  *p;

    rq->msg_begun = 1;
    rq->view.messages++;

    /*
     * msg_role is NUL-terminated in LLR_ROLE_MAX bytes: comparing the
     * terminator too is strcmp(), inlined
     */
    if (memcmp(rq->msg_role, "user", sizeof("user")) == 0) {
        rq->view.user_turns++;

    } else if (memcmp(rq->msg_role, "system", sizeof("system")) == 0
               || memcmp(rq->msg_role, "developer", sizeof("developer"))
                  == 0)
    {
        rq->view.has_system = 1;
    }

    /* kept until the model is known: the record and the text at once */
    if (rq->text_mode == LLR_TEXT_PENDING) {
        len = rq->pend_len;

        p = llr_log_room(rq, llr_rec_begin_size(rq->msg_role_len) + len);
        if (p == NULL) {
            return -1;
        }

        p = llr_rec_begin(p, rq->msg_role, rq->msg_role_len, rq->turn);

        if (len) {
            memcpy(p, rq->pend, len);
            rq->pend_len = 0;
        }

        rq->turn++;
        return 0;
    }

    if (llr_sink_begin(rq, rq->msg_role, rq->turn) != 0) {
        return -1;
    }

    rq->turn++;

    /* the text seen before the role */

    len = rq->pend_len;

    if (len == 0) {
        return 0;
    }

    rq->pend_len = 0;

    switch (rq->text_mode) {

    case LLR_TEXT_LIVE:
        return llr_rec_replay(rq, rq->pend, rq->pend + len);

    case LLR_TEXT_PENDING:
        p = llr_log_room(rq, len);
        if (p == NULL) {
            return -1;
        }

        memcpy(p, rq->pend, len);
        return 0;

    default:
        return 0;
    }
}


static void
llr_msg_set_role(llr_req_t *rq, const unsigned char *role, size_t len)
{
    if (len >= LLR_ROLE_MAX) {
        len = LLR_ROLE_MAX - 1;
    }

    memcpy(rq->msg_role, role, len);
    rq->msg_role[len] = '\0';
    rq->msg_role_len = (unsigned char) len;
    rq->msg_has_role = 1;
}


static void
llr_msg_start(llr_req_t *rq, const char *role)
{
    rq->msg_begun = 0;
    rq->msg_has_role = 0;
    rq->msg_kind = LLR_KIND_NONE;
    rq->msg_tool = 0;
    rq->msg_split = 0;
    rq->pend_len = 0;

    if (role != NULL) {
        llr_msg_set_role(rq, (const unsigned char *) role, strlen(role));
        llr_msg_begin(rq);
    }
}


static int
llr_msg_text(llr_req_t *rq, const unsigned char *s, size_t len, int esc)
{
    int             ref;
    size_t          n;
    unsigned char  *p;

    if (rq->text_mode == LLR_TEXT_LIVE && rq->msg_begun) {
        if (esc) {
            s = llr_decode(rq, s, len, &len);
            if (s == NULL) {
                return -1;
            }
        }

        rq->view.text_bytes += len;
        rq->sink.text(rq->sink.ctx, s, len);

        return 0;
    }

    /* the lexer counted what the escapes of this string take */
    rq->view.text_bytes += len - rq->str_less;

    if (rq->text_mode == LLR_TEXT_OFF) {
        return 0;
    }

    /* kept as written: until the model (the log) or the role (pend) */

    ref = llr_in_stable(rq, s, len);
    n = llr_rec_size(ref, len);

    if (rq->msg_begun) {
        p = llr_log_room(rq, n);
        if (p == NULL) {
            return -1;
        }

    } else {
        if (llr_grow(rq, &rq->pend, &rq->pend_cap, rq->pend_len + n) != 0) {
            return -1;
        }

        p = rq->pend + rq->pend_len;
        rq->pend_len += n;
    }

    llr_rec_put(p, ref, s, len, esc);

    return 0;
}


static int
llr_msg_end(llr_req_t *rq)
{
    const char  *role;

    if (!rq->msg_begun) {

        if (!rq->msg_has_role) {
            switch (rq->msg_kind) {

            case LLR_KIND_CALL:
                role = "assistant";
                break;

            case LLR_KIND_OUTPUT:
                role = "tool";
                break;

            default:
                return llr_fail(rq, LLR_REQ_ERR_MISSING, rq->msgs_name,
                                "Missing required parameter: "
                                "'%s[%zu].role'.",
                                rq->msgs_name, rq->msg_index) - 1;
            }

            llr_msg_set_role(rq, (const unsigned char *) role, strlen(role));
        }

        if (rq->msg_split && rq->pend_len == 0) {
            /* Anthropic: nothing of its own after its tool results */
            return 0;
        }

        if (llr_msg_begin(rq) != 0) {
            return -1;
        }
    }

    return llr_sink_end(rq);
}


/*
 * Anthropic messages.  A message begins (in the sink) with its first
 * text of its own, or at its end, not with its role: the text of a
 * tool_result block is a "tool" message of its own, which must not be
 * nested in it.  A tool result ends the message's own text so far; its
 * own text after it begins the message again.
 */

static int
llr_a_text(llr_req_t *rq, const unsigned char *s, size_t len, int esc)
{
    if (!rq->msg_begun && rq->msg_has_role && llr_msg_begin(rq) != 0) {
        return -1;
    }

    return llr_msg_text(rq, s, len, esc);
}


static int
llr_a_tool_begin(llr_req_t *rq)
{
    if (rq->msg_begun && llr_sink_end(rq) != 0) {
        return -1;
    }

    rq->msg_begun = 1;
    rq->msg_tool = 1;
    rq->msg_split = 1;
    rq->view.messages++;

    if (llr_sink_begin(rq, "tool", rq->turn) != 0) {
        return -1;
    }

    rq->turn++;

    return 0;
}


static int
llr_a_tool_end(llr_req_t *rq)
{
    rq->msg_begun = 0;
    rq->msg_tool = 0;

    return llr_sink_end(rq);
}


/* the view */

static int
llr_set_model(llr_req_t *rq, const unsigned char *s, size_t len)
{
    size_t  cap;
    char   *p;

    if (len + 1 > rq->model_cap) {
        cap = len + 1 < 64 ? 64 : len + 1;

        p = rq->alloc.realloc(rq->alloc.ctx, rq->view.model, cap);
        if (p == NULL) {
            return llr_nomem(rq) - 1;
        }

        rq->view.model = p;
        rq->model_cap = cap;
    }

    if (len) {
        memcpy(rq->view.model, s, len);
    }

    rq->view.model[len] = '\0';
    rq->view.model_len = len;
    rq->view.model_count++;

    return 0;
}


/* a non-negative integer up to 2^53 (max_tokens, n), or a 400 */

static int
llr_count(llr_req_t *rq, llr_val_e m, const char *s, size_t len,
    uint64_t *out)
{
    int        neg, big;
    size_t     i;
    uint64_t   v;

    neg = 0;
    big = 0;
    v = 0;
    i = 0;

    if (len && s[0] == '-') {
        neg = 1;
        i = 1;
    }

    for ( /* void */ ; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return llr_type_error(rq, m, LLR_T_NUMBER, s, len) - 1;
        }

        if (!big) {
            v = v * 10 + (uint64_t) (s[i] - '0');

            if (v > LLR_MAX_SAFE_INT) {
                big = 1;
            }
        }
    }

    if (big || (neg && v != 0)) {
        return llr_fail(rq, LLR_REQ_ERR_TYPE, rq->key_name,
                        "Invalid value for '%s': expected a non-negative "
                        "integer not above 2^53, but got %.*s%s instead.",
                        rq->key_name,
                        (int) (len > LLR_ECHO_MAX ? LLR_ECHO_MAX : len), s,
                        len > LLR_ECHO_MAX ? "..." : "") - 1;
    }

    *out = v;

    return 0;
}


/* what the next value means */

static llr_val_e
llr_slot(llr_req_t *rq)
{
    llr_frame_t  *f;

    if (rq->depth == 0) {
        return LLR_V_ROOT;
    }

    f = &rq->frames[rq->depth - 1];

    if (f->map) {
        return rq->key;
    }

    switch (f->ctx) {

    case LLR_C_MESSAGES:
        return LLR_V_MESSAGE;

    case LLR_C_PARTS:
        return LLR_V_PART;

    case LLR_C_TOOL_CALLS:
        return LLR_V_TOOL_CALL;

    case LLR_C_PROMPT:
        return LLR_V_PROMPT_ITEM;

    case LLR_C_A_SYSTEM:
        return LLR_V_PART;

    case LLR_C_A_RESULT:
        return LLR_V_A_RESULT_PART;

    case LLR_C_A_INPUT:
        return LLR_V_A_INPUT;

    default:
        return LLR_V_NONE;
    }
}


#define llr_key_is(k, len, s)                                                 \
    ((len) == sizeof(s) - 1 && memcmp(k, s, sizeof(s) - 1) == 0)


static llr_val_e
llr_top_key_anthropic(llr_req_t *rq, const unsigned char *k, size_t len)
{
    if (llr_key_is(k, len, "model")) {
        rq->drop = 1;
        return LLR_V_MODEL;
    }

    if (llr_key_is(k, len, "stream")) {
        return LLR_V_STREAM;
    }

    if (llr_key_is(k, len, "max_tokens")) {
        rq->key_name = "max_tokens";
        return LLR_V_MAX_TOKENS;
    }

    if (llr_key_is(k, len, "tools")) {
        rq->key_name = "tools";
        return LLR_V_FLAG;
    }

    if (llr_key_is(k, len, "messages")) {
        rq->seen_required = 1;
        rq->msgs_name = "messages";
        return LLR_V_MESSAGES;
    }

    if (llr_key_is(k, len, "system")) {
        return LLR_V_A_SYSTEM;
    }

    return LLR_V_NONE;
}


static llr_val_e
llr_top_key(llr_req_t *rq, const unsigned char *k, size_t len)
{
    llr_endpoint_e  ep;

    ep = rq->ep;

    if (llr_ep_anthropic(ep)) {
        return llr_top_key_anthropic(rq, k, len);
    }

    if (llr_key_is(k, len, "model")) {
        rq->drop = 1;
        return LLR_V_MODEL;
    }

    if (llr_key_is(k, len, "stream")) {
        return LLR_V_STREAM;
    }

    if (llr_key_is(k, len, "stream_options")) {
        if (rq->seen_stream_options) {
            llr_fail(rq, LLR_REQ_ERR_TYPE, "stream_options",
                     "Duplicate 'stream_options' in the request body.");
            return LLR_V_NONE;
        }

        rq->seen_stream_options = 1;
        rq->view.stream_options_key = 1;
        return LLR_V_STREAM_OPTIONS;
    }

    if (llr_key_is(k, len, "max_tokens")) {
        rq->key_name = "max_tokens";
        return LLR_V_MAX_TOKENS;
    }

    if (llr_key_is(k, len, "max_completion_tokens")) {
        rq->key_name = "max_completion_tokens";
        return LLR_V_MAX_TOKENS;
    }

    if (llr_key_is(k, len, "max_output_tokens")) {
        rq->key_name = "max_output_tokens";
        return LLR_V_MAX_TOKENS;
    }

    if ((llr_key_is(k, len, "n")
         && (ep == LLR_EP_CHAT || ep == LLR_EP_COMPLETIONS))
        || (llr_key_is(k, len, "best_of") && ep == LLR_EP_COMPLETIONS))
    {
        rq->key_name = (len == 1) ? "n" : "best_of";
        return LLR_V_N;
    }

    if (llr_key_is(k, len, "tools") || llr_key_is(k, len, "functions")) {
        rq->key_name = "tools";
        return LLR_V_FLAG;
    }

    if (llr_key_is(k, len, "response_format")) {
        rq->key_name = "response_format";
        return LLR_V_FLAG;
    }

    if (llr_key_is(k, len, "messages")
        && (ep == LLR_EP_CHAT || ep == LLR_EP_ANY))
    {
        if (ep == LLR_EP_CHAT) {
            rq->seen_required = 1;
        }

        rq->msgs_name = "messages";
        return LLR_V_MESSAGES;
    }

    if (llr_key_is(k, len, "prompt")
        && (ep == LLR_EP_COMPLETIONS || ep == LLR_EP_ANY))
    {
        if (ep == LLR_EP_COMPLETIONS) {
            rq->seen_required = 1;
        }

        rq->key_name = "prompt";
        return LLR_V_PROMPT;
    }

    if (llr_key_is(k, len, "input")) {
        if (ep == LLR_EP_EMBEDDINGS) {
            rq->seen_required = 1;
            rq->key_name = "input";
            return LLR_V_PROMPT;
        }

        if (ep == LLR_EP_RESPONSES) {
            rq->seen_required = 1;
            rq->key_name = "input";
            rq->msgs_name = "input";
            return LLR_V_INPUT;
        }
    }

    if (llr_key_is(k, len, "instructions") && ep == LLR_EP_RESPONSES) {
        return LLR_V_INSTRUCTIONS;
    }

    return LLR_V_NONE;
}


static llr_val_e
llr_key_meaning(llr_req_t *rq, llr_ctx_e ctx, const unsigned char *k,
    size_t len)
{
    switch (ctx) {

    case LLR_C_TOP:
        return llr_top_key(rq, k, len);

    case LLR_C_STREAM_OPTIONS:
        if (llr_key_is(k, len, "include_usage")) {
            rq->drop = 1;
            return LLR_V_INCLUDE_USAGE;
        }
        break;

    case LLR_C_RESPONSE_FORMAT:
        if (llr_key_is(k, len, "type")) {
            return LLR_V_RF_TYPE;
        }
        break;

    case LLR_C_MESSAGE:
        if (llr_key_is(k, len, "role")) {
            return LLR_V_ROLE;
        }

        if (llr_key_is(k, len, "content")) {
            return LLR_V_CONTENT;
        }

        if (llr_ep_anthropic(rq->ep)) {
            break;
        }

        if (llr_key_is(k, len, "tool_calls")) {
            return LLR_V_TOOL_CALLS;
        }

        if (llr_key_is(k, len, "function_call")) {
            return LLR_V_FUNCTION;
        }

        if (rq->ep == LLR_EP_RESPONSES) {
            if (llr_key_is(k, len, "type")) {
                return LLR_V_ITEM_TYPE;
            }

            if (llr_key_is(k, len, "arguments")
                || llr_key_is(k, len, "output"))
            {
                return LLR_V_ARGUMENTS;
            }
        }
        break;

    case LLR_C_PART:
        if (llr_key_is(k, len, "text")) {
            return LLR_V_PART_TEXT;
        }

        if (llr_ep_anthropic(rq->ep)) {
            if (llr_key_is(k, len, "content")) {
                return LLR_V_A_RESULT;
            }

            if (llr_key_is(k, len, "input")) {
                return LLR_V_A_INPUT;
            }
        }
        break;

    case LLR_C_A_RESULT_PART:
        if (llr_key_is(k, len, "text")) {
            return LLR_V_A_RESULT_TEXT;
        }
        break;

    case LLR_C_A_INPUT:
        return LLR_V_A_INPUT;

    case LLR_C_TOOL_CALL:
        if (llr_key_is(k, len, "function")) {
            return LLR_V_FUNCTION;
        }
        break;

    case LLR_C_FUNCTION:
        if (llr_key_is(k, len, "arguments")) {
            return LLR_V_ARGUMENTS;
        }
        break;

    default:
        break;
    }

    return LLR_V_NONE;
}


/*
 * The handlers the lexer calls: return 1 to go on, 0 to stop (rq->err
 * is set).  Strings come raw (s, len as in the body, esc set if they
 * have escapes); they are decoded only where the router reads them.
 */

static int
llr_on_map_key(llr_req_t *rq, const unsigned char *k, size_t len, int esc)
{
    size_t                dlen;
    llr_frame_t          *f;
    const unsigned char  *d;

    f = &rq->frames[rq->depth - 1];

    d = k;
    dlen = len;

    if (esc) {
        d = llr_decode(rq, k, len, &dlen);
        if (d == NULL) {
            return 0;
        }
    }

    rq->drop = 0;
    rq->key = llr_key_meaning(rq, (llr_ctx_e) f->ctx, d, dlen);

    if (rq->err) {
        return 0;
    }

    if (rq->drop || rq->out == NULL) {
        return 1;
    }

    /* most keys are inside a value passed on as written */
    if (rq->verb) {
        f->n++;
        return 1;
    }

    return llr_key_out(rq, f, k, len);
}


static int
llr_key_out(llr_req_t *rq, llr_frame_t *f, const unsigned char *k,
    size_t len)
{
    if (f->n++ && llr_write_char(rq, ',') != 0) {
        return 0;
    }

    if (llr_write_raw_string(rq, k, len) != 0
        || llr_write_char(rq, ':') != 0)
    {
        return 0;
    }

    return 1;
}


static int
llr_on_string(llr_req_t *rq, const unsigned char *s, size_t len, int esc)
{
    size_t                dlen;
    llr_val_e             m;
    const unsigned char  *d;

    m = llr_slot(rq);

    if (!(llr_accept[m] & LLR_T_STRING)) {
        return llr_type_error(rq, m, LLR_T_STRING, NULL, 0);
    }

    d = s;
    dlen = len;

    switch (m) {

    case LLR_V_MODEL:
    case LLR_V_ROLE:
    case LLR_V_ITEM_TYPE:
    case LLR_V_RF_TYPE:
        if (esc) {
            d = llr_decode(rq, s, len, &dlen);
            if (d == NULL) {
                return 0;
            }
        }
        break;

    default:
        break;
    }

    switch (m) {

    case LLR_V_MODEL:
        if (llr_set_model(rq, d, dlen) != 0) {
            return 0;
        }

        if (rq->depth == 1 && llr_text_decide(rq) != 0) {
            return 0;
        }
        break;

    case LLR_V_FLAG:
        if (rq->key_name[0] == 't') {
            rq->view.has_tools = 1;

        } else {
            rq->view.has_response_format = 1;
        }
        break;

    case LLR_V_RF_TYPE:
        /* the quality signals check a JSON-mode answer */
        if (llr_key_is(d, dlen, "json_object")
            || llr_key_is(d, dlen, "json_schema"))
        {
            rq->view.json_mode = 1;
        }
        break;

    case LLR_V_PROMPT:
    case LLR_V_INPUT:
        llr_msg_start(rq, "user");
        if (rq->err || llr_msg_text(rq, s, len, esc) != 0
            || llr_msg_end(rq) != 0)
        {
            return 0;
        }
        break;

    case LLR_V_INSTRUCTIONS:
        llr_msg_start(rq, "system");
        if (rq->err || llr_msg_text(rq, s, len, esc) != 0
            || llr_msg_end(rq) != 0)
        {
            return 0;
        }
        break;

    case LLR_V_ROLE:
        if (!rq->msg_has_role) {
            llr_msg_set_role(rq, d, dlen);

            if (!llr_ep_anthropic(rq->ep) && llr_msg_begin(rq) != 0) {
                return 0;
            }
        }
        break;

    case LLR_V_A_SYSTEM:
        llr_msg_start(rq, "system");
        if (rq->err || llr_msg_text(rq, s, len, esc) != 0
            || llr_msg_end(rq) != 0)
        {
            return 0;
        }
        break;

    case LLR_V_A_RESULT:
        if (llr_a_tool_begin(rq) != 0 || llr_msg_text(rq, s, len, esc) != 0
            || llr_a_tool_end(rq) != 0)
        {
            return 0;
        }
        break;

    case LLR_V_A_RESULT_TEXT:
        if (llr_msg_text(rq, s, len, esc) != 0) {
            return 0;
        }
        break;

    case LLR_V_A_INPUT:
        if (llr_a_text(rq, s, len, esc) != 0) {
            return 0;
        }
        break;

    case LLR_V_ITEM_TYPE:
        if (llr_key_is(d, dlen, "message")) {
            rq->msg_kind = LLR_KIND_MESSAGE;

        } else if (dlen > 7 && memcmp(d + dlen - 7, "_output", 7) == 0) {
            rq->msg_kind = LLR_KIND_OUTPUT;

        } else {
            rq->msg_kind = LLR_KIND_CALL;
        }
        break;

    case LLR_V_CONTENT:
    case LLR_V_PART:
    case LLR_V_PART_TEXT:
        if (llr_ep_anthropic(rq->ep)) {
            if (llr_a_text(rq, s, len, esc) != 0) {
                return 0;
            }
            break;
        }

        /* fall through */

    case LLR_V_ARGUMENTS:
    case LLR_V_PROMPT_ITEM:
        if (llr_msg_text(rq, s, len, esc) != 0) {
            return 0;
        }
        break;

    default:
        break;
    }

    if (rq->drop) {
        rq->drop = 0;
        return 1;
    }

    if (rq->out == NULL) {
        return llr_prefix(rq) == 0;
    }

    return llr_prefix(rq) == 0 && llr_write_raw_string(rq, s, len) == 0;
}


static int
llr_on_number(llr_req_t *rq, const char *s, size_t len)
{
    uint64_t    v;
    llr_val_e   m;

    m = llr_slot(rq);
    v = 0;

    if (!(llr_accept[m] & LLR_T_NUMBER)) {
        return llr_type_error(rq, m, LLR_T_NUMBER, s, len);
    }

    if (m == LLR_V_MAX_TOKENS || m == LLR_V_N) {
        if (llr_count(rq, m, s, len, &v) != 0) {
            return 0;
        }

        if (m == LLR_V_MAX_TOKENS) {
            rq->view.max_tokens = (int64_t) v;

        } else if (v > rq->view.n) {
            /* n and best_of: the provider generates the larger */
            rq->view.n = v;
        }

    } else if (m == LLR_V_FLAG) {
        if (rq->key_name[0] == 't') {
            rq->view.has_tools = 1;

        } else {
            rq->view.has_response_format = 1;
        }
    }

    if (llr_prefix(rq) != 0) {
        return 0;
    }

    if (rq->out == NULL) {
        return 1;
    }

    return llr_write(rq, (const unsigned char *) s, len) == 0;
}


static int
llr_on_boolean(llr_req_t *rq, int b)
{
    llr_val_e   m;

    m = llr_slot(rq);

    if (!(llr_accept[m] & LLR_T_BOOL)) {
        return llr_type_error(rq, m, LLR_T_BOOL, NULL, 0);
    }

    switch (m) {

    case LLR_V_STREAM:
        rq->view.stream = b ? 1 : 0;
        break;

    case LLR_V_INCLUDE_USAGE:
        rq->view.include_usage = b ? 1 : 0;
        break;

    case LLR_V_FLAG:
        if (rq->key_name[0] == 't') {
            rq->view.has_tools = 1;

        } else {
            rq->view.has_response_format = 1;
        }
        break;

    default:
        break;
    }

    if (rq->drop) {
        rq->drop = 0;
        return 1;
    }

    if (llr_prefix(rq) != 0) {
        return 0;
    }

    if (rq->out == NULL) {
        return 1;
    }

    return b ? llr_write(rq, (const unsigned char *) "true", 4) == 0
             : llr_write(rq, (const unsigned char *) "false", 5) == 0;
}


static int
llr_on_null(llr_req_t *rq)
{
    llr_val_e   m;

    m = llr_slot(rq);

    if (!(llr_accept[m] & LLR_T_NULL)) {
        return llr_type_error(rq, m, LLR_T_NULL, NULL, 0);
    }

    if (m == LLR_V_STREAM) {
        rq->view.stream = -1;
    }

    if (llr_prefix(rq) != 0) {
        return 0;
    }

    if (rq->out == NULL) {
        return 1;
    }

    return llr_write(rq, (const unsigned char *) "null", 4) == 0;
}


static int
llr_push(llr_req_t *rq, llr_val_e m, int map)
{
    llr_frame_t  *f;
    llr_ctx_e     c;
    size_t        index;

    if (rq->depth >= LLR_REQ_MAX_DEPTH) {
        return llr_fail(rq, LLR_REQ_ERR_DEPTH, NULL,
                        "The request body is nested too deeply (more than "
                        "%d levels).", LLR_REQ_MAX_DEPTH);
    }

    if (!(llr_accept[m] & (map ? LLR_T_MAP : LLR_T_ARRAY))) {
        return llr_type_error(rq, m, map ? LLR_T_MAP : LLR_T_ARRAY, NULL, 0);
    }

    index = rq->depth ? rq->frames[rq->depth - 1].n : 0;

    if (llr_prefix(rq) != 0) {
        return 0;
    }

    c = LLR_C_OTHER;

    switch (m) {

    case LLR_V_ROOT:
        c = LLR_C_TOP;
        break;

    case LLR_V_STREAM_OPTIONS:
        rq->view.has_stream_options = 1;
        c = LLR_C_STREAM_OPTIONS;
        break;

    case LLR_V_FLAG:
        if (rq->key_name[0] == 't') {
            rq->view.has_tools = 1;

        } else {
            rq->view.has_response_format = 1;

            if (map) {
                c = LLR_C_RESPONSE_FORMAT;
            }
        }
        break;

    case LLR_V_MESSAGES:
    case LLR_V_INPUT:
        c = LLR_C_MESSAGES;
        break;

    case LLR_V_PROMPT:
        c = LLR_C_PROMPT;
        llr_msg_start(rq, "user");

        if (rq->err) {
            return 0;
        }
        break;

    case LLR_V_MESSAGE:
        c = LLR_C_MESSAGE;
        rq->msg_index = index;
        llr_msg_start(rq, NULL);
        break;

    case LLR_V_CONTENT:
        c = map ? LLR_C_OTHER : LLR_C_PARTS;
        break;

    case LLR_V_PART:
        c = LLR_C_PART;
        break;

    case LLR_V_TOOL_CALLS:
        c = map ? LLR_C_OTHER : LLR_C_TOOL_CALLS;
        break;

    case LLR_V_TOOL_CALL:
        c = map ? LLR_C_TOOL_CALL : LLR_C_OTHER;
        break;

    case LLR_V_FUNCTION:
        c = map ? LLR_C_FUNCTION : LLR_C_OTHER;
        break;

    case LLR_V_A_SYSTEM:
        c = LLR_C_A_SYSTEM;
        llr_msg_start(rq, "system");

        if (rq->err) {
            return 0;
        }
        break;

    case LLR_V_A_RESULT:
        if (!map) {
            c = LLR_C_A_RESULT;

            if (llr_a_tool_begin(rq) != 0) {
                return 0;
            }
        }
        break;

    case LLR_V_A_RESULT_PART:
        c = map ? LLR_C_A_RESULT_PART : LLR_C_OTHER;
        break;

    case LLR_V_A_INPUT:
        c = LLR_C_A_INPUT;
        break;

    default:
        break;
    }

    f = &rq->frames[rq->depth++];
    f->n = 0;
    f->ctx = (unsigned char) c;
    f->map = (unsigned char) map;

    if (rq->out == NULL) {
        if (c == LLR_C_TOP) {
            f->n = 1;
        }

        return 1;
    }

    if (llr_write_char(rq, map ? '{' : '[') != 0) {
        return 0;
    }

    if (c == LLR_C_TOP) {
        if (llr_mark(rq, LLR_MARK_MODEL, 0) != 0) {
            return 0;
        }

        /* every top-level member is written with a leading ',' */
        f->n = 1;
    }

    return 1;
}


static int
llr_on_end_map(llr_req_t *rq)
{
    llr_frame_t  *f;

    f = &rq->frames[--rq->depth];

    switch (f->ctx) {

    case LLR_C_MESSAGE:
        if (llr_msg_end(rq) != 0) {
            return 0;
        }
        break;

    case LLR_C_STREAM_OPTIONS:
        if (rq->out && llr_mark(rq, LLR_MARK_STREAM_OPTIONS, f->n > 0) != 0)
        {
            return 0;
        }
        break;

    case LLR_C_TOP:
        if (rq->out && llr_mark(rq, LLR_MARK_TAIL, 1) != 0) {
            return 0;
        }
        break;

    default:
        break;
    }

    if (rq->out == NULL) {
        return 1;
    }

    return llr_write_char(rq, '}') == 0;
}


static int
llr_on_end_array(llr_req_t *rq)
{
    llr_frame_t  *f;

    f = &rq->frames[--rq->depth];

    switch (f->ctx) {

    case LLR_C_MESSAGES:
        if (f->n == 0) {
            return llr_fail(rq, LLR_REQ_ERR_TYPE, rq->msgs_name,
                            "[] is too short - '%s'", rq->msgs_name);
        }
        break;

    case LLR_C_PROMPT:
    case LLR_C_A_SYSTEM:
        if (llr_msg_end(rq) != 0) {
            return 0;
        }
        break;

    case LLR_C_A_RESULT:
        if (llr_a_tool_end(rq) != 0) {
            return 0;
        }
        break;

    default:
        break;
    }

    if (rq->out == NULL) {
        return 1;
    }

    return llr_write_char(rq, ']') == 0;
}


/*
 * Strict checks of the strings, made by the lexer as it reads them
 * (llr_str_scan()), where the skip over a string body stops:
 *
 *   - every string, keys included, must be UTF-8 as in Unicode Table
 *     3-7 (llr_jtok_u8_lead(), llr_jtok_u8_next()).  Outside strings
 *     JSON text is ASCII: the lexer refuses any other byte there as it
 *     refuses any byte that cannot start a token;
 *   - every \u escape of a high surrogate (D800-DBFF) must be followed
 *     at once by a \u escape of a low one (DC00-DFFF), and a low one
 *     must follow a high one.
 *
 * A problem is reported (llr_check_fail()) at the byte where it shows:
 * the bad byte of a sequence, the byte after a high surrogate's escape
 * that is not the '\\' or 'u' of another escape, the last hex digit of
 * the escape that makes the pair wrong; a JSON error before that byte
 * is the lexer's.  The message gives the offset of the sequence's lead
 * byte or of the lone surrogate's '\\'.
 */

#define LLR_U8_BYTE       LLR_JTOK_U8_BYTE
#define LLR_U8_CONT       LLR_JTOK_U8_CONT
#define LLR_U8_LONE       7     /* not UTF-8: a lone surrogate escape */


static void
llr_check_fail(llr_req_t *rq)
{
    char          what[48];
    llr_check_t  *ck;

    ck = &rq->chk;

    switch (ck->bad) {

    case LLR_U8_LONE:
        llr_fail(rq, LLR_REQ_ERR_JSON, NULL,
                 "We could not parse the JSON body of your request. "
                 "(lone surrogate \\u%04x in a string at byte %zu)",
                 ck->esc_bad, ck->esc_bad_at);
        return;

    case LLR_U8_BYTE:
        snprintf(what, sizeof(what), "invalid byte 0x%02x", ck->u8_byte);
        break;

    case LLR_U8_CONT:
        snprintf(what, sizeof(what), "continuation byte 0x%02x without "
                 "a lead byte", ck->u8_byte);
        break;

    default:
        snprintf(what, sizeof(what), "%s", llr_jtok_u8_error(ck->bad));
        break;
    }

    llr_fail(rq, LLR_REQ_ERR_JSON, NULL,
             "We could not parse the JSON body of your request. "
             "(invalid UTF-8 in a string at byte %zu: %s)", ck->u8_at, what);
}


/*
 * The lexer.  Strict JSON (RFC 8259): one value, no comments, no
 * trailing commas, numbers as in the grammar, strings without control
 * bytes, with valid escapes, UTF-8 and surrogate pairs (above).  It
 * drives the handlers above and keeps, across pieces, only its state
 * and the token a piece ended in (tbuf).
 */

/* the offset in the body of p, a place in the piece being lexed */
#define llr_lex_off(rq, p)                                                   \
    ((rq)->lex_base + (size_t) ((p) - (rq)->lex_data))


/* 1 for the bytes that make a short escape after '\\' */
static const unsigned char  llr_str_short[256] = {
    ['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1, ['f'] = 1, ['n'] = 1,
    ['r'] = 1, ['t'] = 1
};


/* the rest of a UTF-8 sequence from p: where it stopped, or NULL */

static llr_inline const unsigned char *
llr_str_u8(llr_req_t *rq, const unsigned char *p, const unsigned char *end)
{
    unsigned  e;

    while (rq->str_u8.need) {
        if (p == end) {
            rq->str_state = LLR_S_UTF8;
            return end;
        }

        e = llr_jtok_u8_next(&rq->str_u8, *p);

        if (e) {
            rq->chk.u8_at = rq->str_u8_at;
            rq->chk.u8_byte = *p;
            rq->chk.bad = (unsigned char) e;
            return NULL;
        }

        p++;
    }

    rq->str_state = LLR_S_TEXT;

    return p;
}


/*
 * The UTF-8 sequences of a run of non-ASCII text from p: returns the
 * next ASCII byte, end if the piece ends first, or NULL (rq->chk set)
 */
static llr_inline const unsigned char *
llr_str_u8_run(llr_req_t *rq, const unsigned char *p,
    const unsigned char *end)
{
    unsigned  c, e;

    c = *p;

    do {
        e = llr_jtok_u8_lead(&rq->str_u8, c);

        if (e) {
            rq->chk.u8_at = llr_lex_off(rq, p);
            rq->chk.u8_byte = (unsigned char) c;
            rq->chk.bad = (unsigned char) e;
            return NULL;
        }

        rq->str_u8_at = llr_lex_off(rq, p);

        p = llr_str_u8(rq, p + 1, end);

        if (p == NULL || p == end) {
            return p;
        }

        c = *p;

    } while (c >= 0x80);

    return p;
}


/* a lone high surrogate: the error is llr_check_fail()'s */

static const unsigned char *
llr_str_lone_high(llr_req_t *rq, const char **what)
{
    rq->chk.esc_bad = rq->str_high;
    rq->chk.esc_bad_at = rq->str_high_at;
    rq->chk.bad = LLR_U8_LONE;
    *what = NULL;

    return NULL;
}


/* the 4 hex digits of a \u escape were read: the surrogates' pairing */

static const unsigned char *
llr_str_escaped(llr_req_t *rq, const unsigned char *p, const char **what)
{
    unsigned  c;

    c = rq->str_cp;

    rq->str_state = LLR_S_TEXT;

    if (rq->str_high) {
        if (c < 0xdc00 || c > 0xdfff) {
            return llr_str_lone_high(rq, what);
        }

        rq->str_high = 0;

    } else if (c >= 0xd800 && c <= 0xdbff) {
        rq->str_high = c;
        rq->str_high_at = rq->str_esc_at;
        rq->str_state = LLR_S_WANT_BS;

    } else if (c >= 0xdc00 && c <= 0xdfff) {
        rq->chk.esc_bad = c;
        rq->chk.esc_bad_at = rq->str_esc_at;
        rq->chk.bad = LLR_U8_LONE;
        *what = NULL;
        return NULL;
    }

    /*
     * 6 bytes, decoded as UTF-8; a surrogate pair is 4 bytes, all
     * counted with the high half
     */
    rq->str_less += (c < 0x80) ? 5 : (c < 0x800) ? 4
                    : (c >= 0xd800 && c <= 0xdbff) ? 2
                    : (c >= 0xdc00 && c <= 0xdfff) ? 6 : 3;

    return p;
}


/*
 * Scans a string body from p in the state rq->str_*: returns the
 * closing quote, end if the piece ends first, or NULL on an error:
 * a JSON one (*what and *at set), or one of UTF-8 or surrogates (*what
 * NULL, rq->chk set).
 */
static const unsigned char *
llr_str_scan(llr_req_t *rq, const unsigned char *p, const unsigned char *end,
    const char **what, const unsigned char **at)
{
    int       d;
    unsigned  c;

    for ( ;; ) {

        switch (rq->str_state) {

        case LLR_S_TEXT:
            p = llr_jtok_stop(p, end);

            if (p == end) {
                return end;
            }

            c = *p;

            if (c == '"') {
                return p;
            }

            if (c == '\\') {
                rq->str_esc = 1;

                /* a short escape whole in this piece: no state change */
                if (end - p >= 2 && rq->str_high == 0
                    && llr_str_short[p[1]])
                {
                    rq->str_less++;             /* 2 bytes, 1 decoded */
                    p += 2;
                    break;
                }

                rq->str_esc_at = llr_lex_off(rq, p);
                rq->str_state = LLR_S_BS;
                p++;
                break;
            }

            if (c < 0x80) {
                *what = "invalid character inside string";
                *at = p;
                return NULL;
            }

            p = llr_str_u8_run(rq, p, end);

            if (p == NULL) {
                *what = NULL;
                return NULL;
            }

            if (p == end) {
                return end;
            }

            break;

        case LLR_S_UTF8:
            p = llr_str_u8(rq, p, end);

            if (p == NULL) {
                *what = NULL;
                return NULL;
            }

            if (p == end) {
                return end;
            }

            break;

        case LLR_S_WANT_BS:
            if (p == end) {
                return end;
            }

            if (*p != '\\') {
                return llr_str_lone_high(rq, what);
            }

            rq->str_esc_at = llr_lex_off(rq, p);
            rq->str_state = LLR_S_BS;
            p++;
            break;

        case LLR_S_BS:
            if (p == end) {
                return end;
            }

            if (*p != 'u' && rq->str_high) {
                return llr_str_lone_high(rq, what);
            }

            switch (*p) {

            case 'u':
                rq->str_state = LLR_S_HEX;
                rq->str_hex = 0;
                rq->str_cp = 0;
                break;

            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                rq->str_state = LLR_S_TEXT;
                rq->str_less++;             /* 2 bytes, 1 decoded */
                break;

            default:
                *what = "inside a string, '\\' occurs before a character "
                        "which it may not";
                *at = p;
                return NULL;
            }

            p++;
            break;

        default: /* LLR_S_HEX */
            if (p == end) {
                return end;
            }

            d = llr_jtok_hex(*p);

            if (d < 0) {
                *what = "invalid (non-hex) character occurs after '\\u' "
                        "inside string";
                *at = p;
                return NULL;
            }

            p++;

            rq->str_cp = (rq->str_cp << 4) | (unsigned) d;

            if (++rq->str_hex < 4) {
                break;
            }

            if (llr_str_escaped(rq, p, what) == NULL) {
                return NULL;
            }

            break;
        }
    }
}


/* keep the part of a token this piece holds */

static int
llr_tbuf_add(llr_req_t *rq, const unsigned char *p, size_t len)
{
    if (llr_grow(rq, &rq->tbuf, &rq->tbuf_cap, rq->tbuf_len + len) != 0) {
        return -1;
    }

    if (len) {
        memcpy(rq->tbuf + rq->tbuf_len, p, len);
        rq->tbuf_len += len;
    }

    return 0;
}


/* a complete string or number */

static int
llr_lex_string(llr_req_t *rq, const unsigned char *s, size_t len)
{
    if (rq->str_key) {
        if (!llr_on_map_key(rq, s, len, rq->str_esc)) {
            return -1;
        }

        rq->g = LLR_G_COLON;
        return 0;
    }

    if (!llr_on_string(rq, s, len, rq->str_esc)) {
        return -1;
    }

    rq->g = rq->depth ? LLR_G_NEXT : LLR_G_DONE;
    return 0;
}


static int
llr_lex_number(llr_req_t *rq, const unsigned char *s, size_t len)
{
    if (!llr_on_number(rq, (const char *) s, len)) {
        return -1;
    }

    rq->g = rq->depth ? LLR_G_NEXT : LLR_G_DONE;
    return 0;
}


static int
llr_lex_literal(llr_req_t *rq)
{
    int  ok;

    ok = rq->lit == 2 ? llr_on_null(rq) : llr_on_boolean(rq, rq->lit == 0);

    if (!ok) {
        return -1;
    }

    rq->g = rq->depth ? LLR_G_NEXT : LLR_G_DONE;
    return 0;
}


/*
 * A message's '{' in a value passed on as written (llr_push()'s work for
 * it, inlined): counted in the messages, its frame pushed
 */
static llr_inline void
llr_lex_message(llr_req_t *rq)
{
    llr_frame_t  *f;

    f = &rq->frames[rq->depth - 1];
    rq->msg_index = f->n++;
    llr_msg_start(rq, NULL);

    f = &rq->frames[rq->depth++];
    f->n = 0;
    f->ctx = LLR_C_MESSAGE;
    f->map = 1;

    rq->g = LLR_G_KEY_OR_END;
}


/*
 * A key from s to q (its closing quote) was read: its meaning, and the
 * colon right after it taken here (nothing passed on ends at a key).
 * Returns where lexing goes on, or NULL to stop (rq->err is set).
 */
static llr_inline const unsigned char *
llr_lex_key(llr_req_t *rq, const unsigned char *s, const unsigned char *q,
    const unsigned char *end)
{
    llr_frame_t          *f;
    const unsigned char  *p;

    p = q + 1;
    f = &rq->frames[rq->depth - 1];

    /*
     * "role" or "content" of a message passed on as written (the most
     * common keys): llr_on_map_key() inlined
     */
    if (rq->verb && f->ctx == LLR_C_MESSAGE && !rq->str_esc
        && (llr_key_is(s, (size_t) (q - s), "role")
            || llr_key_is(s, (size_t) (q - s), "content")))
    {
        rq->drop = 0;
        rq->key = (q - s == 4) ? LLR_V_ROLE : LLR_V_CONTENT;
        f->n++;

    } else if (!llr_on_map_key(rq, s, (size_t) (q - s), rq->str_esc)) {
        return NULL;
    }

    if (p < end && *p == ':') {
        rq->g = LLR_G_VALUE;
        return p + 1;
    }

    rq->g = LLR_G_COLON;

    return p;
}


/*
 * A string value from s to q (its closing quote) was read: the same,
 * with the comma right after it in a container
 */
static llr_inline const unsigned char *
llr_lex_value(llr_req_t *rq, const unsigned char *s, const unsigned char *q,
    const unsigned char *end)
{
    const unsigned char  *p;

    p = q + 1;

    /*
     * A message's "content" or "role" string inside a value passed on as
     * written (a chat body's most common values): llr_on_string()'s work
     * for them, inlined
     */
    if (rq->verb && !llr_ep_anthropic(rq->ep)
        && rq->frames[rq->depth - 1].ctx == LLR_C_MESSAGE
        && (rq->key == LLR_V_CONTENT
            || (rq->key == LLR_V_ROLE && !rq->str_esc)))
    {
        if (rq->key == LLR_V_CONTENT) {
            if (llr_msg_text(rq, s, (size_t) (q - s), rq->str_esc) != 0) {
                return NULL;
            }

        } else if (!rq->msg_has_role) {
            llr_msg_set_role(rq, s, (size_t) (q - s));

            if (llr_msg_begin(rq) != 0) {
                return NULL;
            }
        }

    } else {
        if (!llr_on_string(rq, s, (size_t) (q - s), rq->str_esc)) {
            return NULL;
        }

        if (rq->depth == 0) {
            rq->g = LLR_G_DONE;
            return p;
        }

        if (llr_span_end(rq, p) != 0) {
            return NULL;
        }
    }

    if (p < end && *p == ',') {
        rq->g = rq->frames[rq->depth - 1].map ? LLR_G_KEY : LLR_G_VALUE;
        return p + 1;
    }

    rq->g = LLR_G_NEXT;

    return p;
}


/*
 * Match literal bytes from p: returns where it stopped (end if the
 * piece ended inside the literal), or NULL if a byte does not match.
 */
static const unsigned char *
llr_lit_scan(llr_req_t *rq, const unsigned char *p, const unsigned char *end)
{
    const char  *lit;

    lit = llr_jtok_lits[rq->lit];

    while (lit[rq->lit_pos] != '\0') {
        if (p == end) {
            return end;
        }

        if (*p != (unsigned char) lit[rq->lit_pos]) {
            return NULL;
        }

        p++;
        rq->lit_pos++;
    }

    return p;
}


/*
 * Lex a piece; base is the offset of data in the body.  Errors are set in rq->err.
 */
static void
llr_lex(llr_req_t *rq, const unsigned char *data, size_t len, size_t base)
{
    int                   r;
    unsigned              c;
    llr_val_e             m;
    unsigned char         st;
    const char           *what;
    const unsigned char  *p, *end, *q, *s, *at;

    p = data;
    end = data + len;
    what = NULL;

    /* the rest of a token the previous piece ended in */

    switch (rq->tok) {

    case LLR_TOK_STRING:
        q = llr_str_scan(rq, p, end, &what, &at);

        if (q == NULL) {
            goto lex_error;
        }

        if (llr_tbuf_add(rq, p, (size_t) (q - p)) != 0) {
            return;
        }

        if (q == end) {
            return;
        }

        rq->tok = LLR_TOK_NONE;

        /* an empty string cut after its opening quote: no tbuf yet */
        if (llr_lex_string(rq, rq->tbuf ? rq->tbuf
                                        : (const unsigned char *) "",
                           rq->tbuf_len)
            != 0)
        {
            return;
        }

        if (llr_span_end(rq, q + 1) != 0) {
            return;
        }

        p = q + 1;
        break;

    case LLR_TOK_NUMBER:
        st = rq->num_state;
        r = 1;

        for (q = p; q < end && (r = llr_jtok_num_step(&st, *q)) == 1; q++) {
            /* void */
        }

        rq->num_state = st;

        if (r < 0) {
            what = llr_jtok_num_error(st);
            at = q;
            goto lex_error;
        }

        if (llr_tbuf_add(rq, p, (size_t) (q - p)) != 0) {
            return;
        }

        if (q == end) {
            return;
        }

        rq->tok = LLR_TOK_NONE;

        if (llr_lex_number(rq, rq->tbuf, rq->tbuf_len) != 0) {
            return;
        }

        p = q;
        break;

    case LLR_TOK_LITERAL:
        q = llr_lit_scan(rq, p, end);

        if (q == NULL) {
            what = "invalid string in json text";
            at = p;
            goto lex_error;
        }

        if (q == end && llr_jtok_lits[rq->lit][rq->lit_pos] != '\0') {
            return;
        }

        rq->tok = LLR_TOK_NONE;

        if (llr_lex_literal(rq) != 0) {
            return;
        }

        p = q;
        break;

    default:
        break;
    }

    for ( ;; ) {

        if (p == end) {
            return;
        }

        c = *p;

        if (c <= ' ') {
            while (p < end && (*p == ' ' || *p == '\n' || *p == '\r'
                               || *p == '\t'))
            {
                p++;
            }

            if (p == end) {
                return;
            }

            c = *p;
        }

        switch (c) {

        case '{':
        case '[':
            if (rq->g > LLR_G_VALUE_OR_END) {
                goto unexpected;
            }

            /* a message in a value passed on as written */
            if (c == '{' && rq->verb && rq->depth < LLR_REQ_MAX_DEPTH
                && rq->frames[rq->depth - 1].ctx == LLR_C_MESSAGES)
            {
                llr_lex_message(rq);
                p++;
                continue;
            }

            m = llr_slot(rq);

            /*
             * A top-level member's object or array goes on as the
             * client wrote it, whitespace included: nothing in it is
             * changed.
             */
            if (rq->depth == 1 && rq->out != NULL && !rq->drop
                && m != LLR_V_STREAM_OPTIONS)
            {
                rq->verb = 1;
                rq->span = p;
            }

            if (!llr_push(rq, m, c == '{')) {
                return;
            }

            rq->g = c == '{' ? LLR_G_KEY_OR_END : LLR_G_VALUE_OR_END;
            p++;
            continue;

        case '}':
            if (!(rq->g == LLR_G_KEY_OR_END
                  || (rq->g == LLR_G_NEXT && rq->frames[rq->depth - 1].map)))
            {
                goto unexpected;
            }

            if (!llr_on_end_map(rq)) {
                return;
            }

            if (llr_span_end(rq, p + 1) != 0) {
                return;
            }

            rq->g = rq->depth ? LLR_G_NEXT : LLR_G_DONE;
            p++;
            continue;

        case ']':
            if (!(rq->g == LLR_G_VALUE_OR_END
                  || (rq->g == LLR_G_NEXT && !rq->frames[rq->depth - 1].map)))
            {
                goto unexpected;
            }

            if (!llr_on_end_array(rq)) {
                return;
            }

            if (llr_span_end(rq, p + 1) != 0) {
                return;
            }

            rq->g = rq->depth ? LLR_G_NEXT : LLR_G_DONE;
            p++;
            continue;

        case ',':
            if (rq->g != LLR_G_NEXT) {
                goto unexpected;
            }

            rq->g = rq->frames[rq->depth - 1].map ? LLR_G_KEY : LLR_G_VALUE;
            p++;
            continue;

        case ':':
            if (rq->g != LLR_G_COLON) {
                goto unexpected;
            }

            rq->g = LLR_G_VALUE;
            p++;
            continue;

        case '"':
            if (rq->g == LLR_G_KEY_OR_END || rq->g == LLR_G_KEY) {
                rq->str_key = 1;

            } else if (rq->g <= LLR_G_VALUE_OR_END) {
                rq->str_key = 0;

                /* a top-level member's string, as written too */
                if (rq->depth == 1 && rq->out != NULL && !rq->drop) {
                    rq->verb = 1;
                    rq->span = p;
                }

            } else {
                goto unexpected;
            }

            s = p + 1;
            rq->str_state = LLR_S_TEXT;
            rq->str_esc = 0;
            rq->str_less = 0;

            /* most strings have no escape: to the quote, inlined */
            q = llr_jtok_stop_near(s, end);

            if (q == end || *q != '"') {
                q = llr_str_scan(rq, q, end, &what, &at);

                if (q == NULL) {
                    goto lex_error;
                }
            }

            if (q == end) {
                rq->tbuf_len = 0;

                if (llr_tbuf_add(rq, s, (size_t) (end - s)) == 0) {
                    rq->tok = LLR_TOK_STRING;
                }

                return;
            }

            /* a key, or a value: what it means, what comes right after */
            p = rq->str_key ? llr_lex_key(rq, s, q, end)
                            : llr_lex_value(rq, s, q, end);

            if (p == NULL) {
                return;
            }

            continue;

        case '-': case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
            if (rq->g > LLR_G_VALUE_OR_END) {
                goto unexpected;
            }

            st = llr_jtok_num_first(c);
            s = p;
            r = 1;

            for (q = p + 1;
                 q < end && (r = llr_jtok_num_step(&st, *q)) == 1;
                 q++)
            {
                /* void */
            }

            if (r < 0) {
                what = llr_jtok_num_error(st);
                at = q;
                goto lex_error;
            }

            if (q == end) {
                rq->num_state = st;
                rq->tbuf_len = 0;

                if (llr_tbuf_add(rq, s, (size_t) (end - s)) == 0) {
                    rq->tok = LLR_TOK_NUMBER;
                }

                return;
            }

            if (llr_lex_number(rq, s, (size_t) (q - s)) != 0) {
                return;
            }

            p = q;
            continue;

        case 't':
        case 'f':
        case 'n':
            if (rq->g > LLR_G_VALUE_OR_END) {
                goto unexpected;
            }

            rq->lit = c == 't' ? 0 : c == 'f' ? 1 : 2;
            rq->lit_pos = 0;

            q = llr_lit_scan(rq, p, end);

            if (q == NULL) {
                what = "invalid string in json text";
                at = p;
                goto lex_error;
            }

            if (q == end && llr_jtok_lits[rq->lit][rq->lit_pos] != '\0') {
                rq->tok = LLR_TOK_LITERAL;
                return;
            }

            if (llr_lex_literal(rq) != 0) {
                return;
            }

            p = q;
            continue;

        default:
            if (rq->g == LLR_G_DONE) {
                goto unexpected;
            }

            what = "invalid char in json text";
            at = p;
            goto lex_error;
        }
    }

unexpected:

    switch (rq->g) {

    case LLR_G_DONE:
        what = "trailing garbage";
        break;

    case LLR_G_KEY_OR_END:
    case LLR_G_KEY:
        what = "invalid object key (must be a string)";
        break;

    case LLR_G_COLON:
        what = "object key and value must be separated by a colon (':')";
        break;

    case LLR_G_NEXT:
        what = rq->frames[rq->depth - 1].map
               ? "after key and value, inside map, I expect ',' or '}'"
               : "after array element, I expect ',' or ']'";
        break;

    default:
        what = "unallowed token at this point in JSON text";
        break;
    }

    /* a parse error is reported after the token that caused it */
    llr_syntax_error(rq, what, data, len, (size_t) (p - data),
                     base + (size_t) (p - data) + 1);
    return;

lex_error:

    if (what == NULL) {
        /* UTF-8 or surrogates */
        llr_check_fail(rq);
        return;
    }

    llr_syntax_error(rq, what, data, len, (size_t) (at - data),
                     base + (size_t) (at - data));
}


/* the API */

llr_req_t *
llr_req_create(const llr_alloc_t *alloc, llr_endpoint_e ep, llr_out_t *out,
    const llr_text_sink_t *sink)
{
    llr_req_t  *rq;

    rq = alloc->malloc(alloc->ctx, sizeof(llr_req_t));
    if (rq == NULL) {
        return NULL;
    }

    /* frames are set when pushed, errmsg when written: not zeroed */

    memset(rq, 0, offsetof(llr_req_t, frames));
    memset(&rq->chk, 0, sizeof(llr_check_t));
    rq->errmsg[0] = '\0';

    rq->alloc = *alloc;
    rq->out = out;
    rq->ep = ep;
    rq->g = LLR_G_VALUE;

    if (sink != NULL) {
        rq->sink = *sink;
    }

    /* no text callback: nothing to keep or decode */
    rq->text_mode = rq->sink.text ? LLR_TEXT_LIVE : LLR_TEXT_OFF;

    rq->view.stream = -1;
    rq->view.include_usage = -1;
    rq->view.max_tokens = -1;
    rq->view.n = 1;

    rq->msgs_name = ep == LLR_EP_RESPONSES ? "input" : "messages";
    rq->key_name = "";

    return rq;
}


void
llr_req_set_want(llr_req_t *rq,
    int (*want)(void *ctx, const unsigned char *model, size_t len),
    void *ctx)
{
    rq->want = want;
    rq->want_ctx = ctx;

    if (want != NULL && rq->text_mode == LLR_TEXT_LIVE
        && rq->view.body_bytes == 0)
    {
        rq->text_mode = LLR_TEXT_PENDING;
    }
}


llr_req_err_e
llr_req_feed(llr_req_t *rq, const unsigned char *data, size_t len)
{
    size_t  before;

    if (rq->err != LLR_REQ_OK) {
        return rq->err;
    }

    if (rq->finished) {
        llr_fail(rq, LLR_REQ_ERR_JSON, NULL,
                 "We could not parse the JSON body of your request. "
                 "(data after the end of the body)");
        return rq->err;
    }

    if (len == 0) {
        return LLR_REQ_OK;
    }

    before = rq->view.body_bytes;
    rq->view.body_bytes += len;

    /* a verbatim value goes on from the start of this piece */
    rq->span = data;
    rq->lex_data = data;
    rq->lex_base = before;

    llr_lex(rq, data, len, before);

    /* nothing of a piece with an error is written */
    if (rq->verb && rq->err == LLR_REQ_OK) {
        (void) llr_span_put(rq, data + len);
    }

    return rq->err;
}


llr_req_err_e
llr_req_feed_stable(llr_req_t *rq, const unsigned char *data, size_t len)
{
    llr_req_err_e  err;

    rq->in_start = data;
    rq->in_end = data + len;

    err = llr_req_feed(rq, data, len);

    rq->in_start = NULL;
    rq->in_end = NULL;

    return err;
}


llr_req_err_e
llr_req_finish(llr_req_t *rq)
{
    if (rq->err != LLR_REQ_OK || rq->finished) {
        return rq->err;
    }

    rq->finished = 1;

    /* a number at the very end: complete if the grammar allows */

    if (rq->tok == LLR_TOK_NUMBER) {
        if (!llr_jtok_num_complete(rq->num_state)) {
            llr_syntax_error(rq, llr_jtok_num_error(rq->num_state), NULL, 0, 0,
                             rq->view.body_bytes);
            return rq->err;
        }

        rq->tok = LLR_TOK_NONE;

        if (llr_lex_number(rq, rq->tbuf, rq->tbuf_len) != 0) {
            return rq->err;
        }
    }

    if (rq->tok != LLR_TOK_NONE || rq->g != LLR_G_DONE) {
        llr_syntax_error(rq, "premature EOF", NULL, 0, 0,
                         rq->view.body_bytes);
        return rq->err;
    }

    if (rq->view.model_count == 0) {
        llr_fail(rq, LLR_REQ_ERR_MISSING, "model",
                 "You must provide a model parameter.");
        return rq->err;
    }

    if (!rq->seen_required) {
        switch (rq->ep) {

        case LLR_EP_CHAT:
            llr_fail(rq, LLR_REQ_ERR_MISSING, "messages",
                     "'messages' is a required property");
            return rq->err;

        case LLR_EP_COMPLETIONS:
            llr_fail(rq, LLR_REQ_ERR_MISSING, "prompt",
                     "'prompt' is a required property");
            return rq->err;

        case LLR_EP_EMBEDDINGS:
        case LLR_EP_RESPONSES:
            llr_fail(rq, LLR_REQ_ERR_MISSING, "input",
                     "'input' is a required property");
            return rq->err;

        case LLR_EP_MESSAGES:
        case LLR_EP_COUNT_TOKENS:
            llr_fail(rq, LLR_REQ_ERR_MISSING, "messages",
                     "messages: Field required");
            return rq->err;

        default:
            break;
        }
    }

    if (rq->out != NULL && rq->out->flush(rq->out) != 0) {
        llr_fail(rq, LLR_REQ_ERR_OUTPUT, NULL,
                 "Could not allocate memory for the request body.");
    }

    return rq->err;
}


const llr_req_view_t *
llr_req_view(llr_req_t *rq)
{
    return &rq->view;
}


const char *
llr_req_error_message(llr_req_t *rq)
{
    return rq->err != LLR_REQ_OK ? rq->errmsg : "";
}


const char *
llr_req_error_param(llr_req_t *rq)
{
    return rq->err != LLR_REQ_OK ? rq->param : NULL;
}


void
llr_req_destroy(llr_req_t *rq)
{
    if (rq == NULL) {
        return;
    }

    llr_log_free(rq);

    if (rq->tbuf != NULL) {
        rq->alloc.free(rq->alloc.ctx, rq->tbuf);
    }

    if (rq->dbuf != NULL) {
        rq->alloc.free(rq->alloc.ctx, rq->dbuf);
    }

    if (rq->pend != NULL) {
        rq->alloc.free(rq->alloc.ctx, rq->pend);
    }

    if (rq->view.model != NULL) {
        rq->alloc.free(rq->alloc.ctx, rq->view.model);
    }

    rq->alloc.free(rq->alloc.ctx, rq);
}


size_t
llr_json_escape_len(const unsigned char *src, size_t len)
{
    size_t                n, k;
    const unsigned char  *end;

    n = len;

    for (end = src + len; src < end; src++) {
        switch (llr_esc[*src]) {

        case 0:
            break;

        case 'u':
            n += 5;
            break;

        case '8':
            k = llr_utf8_char(src, (size_t) (end - src));

            if (k == 0) {
                n += 5;                     /* \ufffd for the byte */

            } else {
                src += k - 1;
            }

            break;

        default:
            n += 1;
            break;
        }
    }

    return n;
}


size_t
llr_json_escape(unsigned char *dst, const unsigned char *src, size_t len)
{
    size_t                k;
    unsigned char        *d;
    const unsigned char  *end;

    d = dst;

    for (end = src + len; src < end; src++) {
        if (llr_esc[*src] == 0) {
            *d++ = *src;

        } else if (llr_esc[*src] != '8') {
            d += llr_escape_char(d, *src);

        } else {
            k = llr_utf8_char(src, (size_t) (end - src));

            if (k == 0) {
                memcpy(d, "\\ufffd", 6);
                d += 6;

            } else {
                memcpy(d, src, k);
                d += k;
                src += k - 1;
            }
        }
    }

    return (size_t) (d - dst);
}
