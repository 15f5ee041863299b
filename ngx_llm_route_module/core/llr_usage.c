/*
 * ngx_llm_route_module: usage, model, finish reasons and errors from a
 * provider's JSON response, fed in pieces.
 */

#include <string.h>

#include "llr_cost.h"
#include "llr_usage.h"


/* scanner states */
enum {
    S_VAL = 0,          /* a value is expected */
    S_VAL_OR_END,       /* after '[' */
    S_KEY_OR_END,       /* after '{' */
    S_KEY,              /* after ',' in an object */
    S_COLON,
    S_AFTER,            /* after a value inside a container */
    S_STR,
    S_ESC,
    S_UHEX,
    S_NUM,
    S_LIT,
    S_END,              /* the top-level value ended */
    S_ERR
};


/* keys we care about */
enum {
    K_UNKNOWN = 0,
    K_ELEM,             /* an array element */
    K_MODEL,
    K_USAGE,
    K_CHOICES,
    K_FINISH_REASON,
    K_DELTA,
    K_MESSAGE,
    K_CONTENT,
    K_REASONING_CONTENT,
    K_REFUSAL,
    K_TOOL_CALLS,
    K_FUNCTION_CALL,
    K_FUNCTION,
    K_ARGUMENTS,
    K_TEXT,
    K_ERROR,
    K_TYPE,
    K_CODE,
    K_PROMPT_TOKENS,
    K_COMPLETION_TOKENS,
    K_TOTAL_TOKENS,
    K_INPUT_TOKENS,
    K_OUTPUT_TOKENS,
    K_PROMPT_DETAILS,
    K_COMPLETION_DETAILS,
    K_INPUT_DETAILS,
    K_OUTPUT_DETAILS,
    K_CACHED_TOKENS,
    K_REASONING_TOKENS,
    K_RESPONSE,
    K_STATUS,
    K_INCOMPLETE_DETAILS,
    K_REASON,
    K_OUTPUT
};


/* what the current string or number is for */
enum {
    R_NONE = 0,
    R_KEY,
    R_MODEL,
    R_FINISH,
    R_ERR,              /* "error" itself is a string */
    R_ERR_TYPE,
    R_ERR_CODE,
    R_ERR_MSG,
    R_TYPE,
    R_STATUS,
    R_REASON,
    R_COUNT,            /* generated text: count its bytes */
    R_N_PROMPT,
    R_N_COMPLETION,
    R_N_TOTAL,
    R_N_CACHED,
    R_N_REASONING
};


typedef struct {
    const char  *name;
    size_t       len;
    uint8_t      id;
} llr_key_t;

#define llr_key(s, id)  { s, sizeof(s) - 1, id }

static const llr_key_t  llr_keys[] = {
    llr_key("model", K_MODEL),
    llr_key("usage", K_USAGE),
    llr_key("choices", K_CHOICES),
    llr_key("finish_reason", K_FINISH_REASON),
    llr_key("delta", K_DELTA),
    llr_key("message", K_MESSAGE),
    llr_key("content", K_CONTENT),
    llr_key("reasoning_content", K_REASONING_CONTENT),
    llr_key("refusal", K_REFUSAL),
    llr_key("tool_calls", K_TOOL_CALLS),
    llr_key("function_call", K_FUNCTION_CALL),
    llr_key("function", K_FUNCTION),
    llr_key("arguments", K_ARGUMENTS),
    llr_key("text", K_TEXT),
    llr_key("error", K_ERROR),
    llr_key("type", K_TYPE),
    llr_key("code", K_CODE),
    llr_key("prompt_tokens", K_PROMPT_TOKENS),
    llr_key("completion_tokens", K_COMPLETION_TOKENS),
    llr_key("total_tokens", K_TOTAL_TOKENS),
    llr_key("input_tokens", K_INPUT_TOKENS),
    llr_key("output_tokens", K_OUTPUT_TOKENS),
    llr_key("prompt_tokens_details", K_PROMPT_DETAILS),
    llr_key("completion_tokens_details", K_COMPLETION_DETAILS),
    llr_key("input_tokens_details", K_INPUT_DETAILS),
    llr_key("output_tokens_details", K_OUTPUT_DETAILS),
    llr_key("cached_tokens", K_CACHED_TOKENS),
    llr_key("reasoning_tokens", K_REASONING_TOKENS),
    llr_key("response", K_RESPONSE),
    llr_key("status", K_STATUS),
    llr_key("incomplete_details", K_INCOMPLETE_DETAILS),
    llr_key("reason", K_REASON),
    llr_key("output", K_OUTPUT),
    { NULL, 0, 0 }
};


static const char  *llr_finish_names[] = {
    "stop", "length", "tool_calls", "content_filter", "function_call",
    "other"
};


static const char  *llr_lits[] = { "true", "false", "null" };


#define llr_is_ws(c)  ((c) == ' ' || (c) == '\t' || (c) == '\n'             \
                       || (c) == '\r')

#define llr_path(j, ...)                                                     \
    llr_json_path_is(j, (const uint8_t[]) { __VA_ARGS__ },                    \
                     sizeof((const uint8_t[]) { __VA_ARGS__ }))


static int llr_json_path_is(llr_json_t *j, const uint8_t *want, size_t n);
static void llr_json_value_start(llr_json_t *j, int c);
static void llr_json_string_end(llr_json_t *j);
static void llr_json_number_end(llr_json_t *j);
static void llr_json_after_value(llr_json_t *j);
static void llr_json_cap(llr_json_t *j, const unsigned char *p, size_t n);
static void llr_json_cap_cp(llr_json_t *j, uint32_t cp);
static void llr_copy(char *dst, size_t size, const char *src, size_t len);


llr_finish_e
llr_finish_reason(const char *s, size_t len)
{
    int  i;

    for (i = 0; i < LLR_FINISH_OTHER; i++) {
        if (strlen(llr_finish_names[i]) == len
            && memcmp(llr_finish_names[i], s, len) == 0)
        {
            return (llr_finish_e) i;
        }
    }

    return LLR_FINISH_OTHER;
}


const char *
llr_finish_name(llr_finish_e f)
{
    return (f < LLR_FINISH_N) ? llr_finish_names[f] : "other";
}


void
llr_json_init(llr_json_t *j, llr_resp_t *res)
{
    memset(j, 0, offsetof(llr_json_t, frames));
    j->res = res;
    j->state = S_VAL;
}


void
llr_json_reset(llr_json_t *j)
{
    llr_json_init(j, j->res);
}


static int
llr_json_error(llr_json_t *j)
{
    j->state = S_ERR;
    j->v_bad = 1;
    j->res->json_error = 1;
    return -1;
}


static int
llr_json_push(llr_json_t *j, int arr)
{
    if (j->depth >= LLR_JSON_MAX_DEPTH) {
        return -1;
    }

    j->frames[j->depth].arr = (uint8_t) arr;
    j->frames[j->depth].key = arr ? K_ELEM : K_UNKNOWN;
    j->depth++;

    return 0;
}


int
llr_json_feed(llr_json_t *j, const unsigned char *data, size_t len)
{
    int                   c, v;
    const unsigned char  *p, *end, *q;

    p = data;
    end = data + len;

    while (p < end) {
        c = *p;

        switch (j->state) {

        case S_VAL_OR_END:
            if (llr_is_ws(c)) {
                p++;
                break;
            }

            if (c == ']') {
                j->depth--;
                p++;
                llr_json_after_value(j);
                break;
            }

            j->state = S_VAL;
            /* fall through */

        case S_VAL:
            if (llr_is_ws(c)) {
                p++;
                break;
            }

            if (c == '{' || c == '[') {
                llr_json_value_start(j, c);

                if (llr_json_push(j, c == '[') != 0) {
                    return llr_json_error(j);
                }

                j->state = (c == '{') ? S_KEY_OR_END : S_VAL_OR_END;
                p++;
                break;
            }

            if (c == '"') {
                llr_json_value_start(j, c);
                j->state = S_STR;
                p++;
                break;
            }

            if (c == '-' || (c >= '0' && c <= '9')) {
                llr_json_value_start(j, c);
                j->num_len = 0;
                j->state = S_NUM;
                break;
            }

            if (c == 't' || c == 'f' || c == 'n') {
                j->lit = (c == 't') ? 0 : (c == 'f') ? 1 : 2;
                j->lit_pos = 0;
                j->role = R_NONE;
                j->state = S_LIT;
                break;
            }

            return llr_json_error(j);

        case S_KEY_OR_END:
        case S_KEY:
            if (llr_is_ws(c)) {
                p++;
                break;
            }

            if (c == '}' && j->state == S_KEY_OR_END) {
                j->depth--;
                p++;
                llr_json_after_value(j);
                break;
            }

            if (c != '"') {
                return llr_json_error(j);
            }

            j->role = R_KEY;
            j->cap_len = 0;
            j->cap_trunc = 0;
            j->str_count = 0;
            j->uhi = 0;
            j->state = S_STR;
            p++;
            break;

        case S_COLON:
            if (llr_is_ws(c)) {
                p++;
                break;
            }

            if (c != ':') {
                return llr_json_error(j);
            }

            j->state = S_VAL;
            p++;
            break;

        case S_AFTER:
            if (llr_is_ws(c)) {
                p++;
                break;
            }

            v = j->frames[j->depth - 1].arr;

            if (c == ',') {
                j->state = v ? S_VAL : S_KEY;
                p++;
                break;
            }

            if ((c == ']' && v) || (c == '}' && !v)) {
                j->depth--;
                p++;
                llr_json_after_value(j);
                break;
            }

            return llr_json_error(j);

        case S_STR:
            q = p;

            while (q < end && *q != '"' && *q != '\\') {
                q++;
            }

            if (q > p) {
                j->str_count += (uint64_t) (q - p);

                if (j->role != R_COUNT && j->role != R_NONE) {
                    llr_json_cap(j, p, (size_t) (q - p));
                }

                j->uhi = 0;
                p = q;

                if (p == end) {
                    break;
                }
            }

            p++;

            if (*q == '\\') {
                j->state = S_ESC;
                break;
            }

            llr_json_string_end(j);
            break;

        case S_ESC:
            p++;
            j->state = S_STR;

            switch (c) {
            case 'u':
                j->state = S_UHEX;
                j->uhex = 0;
                j->ucp = 0;
                continue;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case '"': case '\\': case '/': break;
            default:
                return llr_json_error(j);
            }

            j->str_count++;
            j->uhi = 0;
            llr_json_cap_cp(j, (uint32_t) c);
            break;

        case S_UHEX:
            if (c >= '0' && c <= '9') {
                v = c - '0';

            } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
                v = (c | 0x20) - 'a' + 10;

            } else {
                return llr_json_error(j);
            }

            p++;
            j->ucp = (j->ucp << 4) | (uint32_t) v;

            if (++j->uhex < 4) {
                break;
            }

            j->state = S_STR;

            if (j->ucp >= 0xd800 && j->ucp <= 0xdbff) {
                /* a pair is 4 bytes of UTF-8: count them here */
                j->str_count += 4;
                j->uhi = j->ucp;
                break;
            }

            if (j->ucp >= 0xdc00 && j->ucp <= 0xdfff) {
                if (j->uhi) {
                    llr_json_cap_cp(j, 0x10000 + ((j->uhi - 0xd800) << 10)
                                       + (j->ucp - 0xdc00));
                } else {
                    j->str_count += 3;
                    llr_json_cap_cp(j, 0xfffd);
                }

                j->uhi = 0;
                break;
            }

            if (j->uhi) {
                /* a lone high surrogate */
                llr_json_cap_cp(j, 0xfffd);
                j->uhi = 0;
            }

            j->str_count += (j->ucp < 0x80) ? 1 : (j->ucp < 0x800) ? 2 : 3;
            llr_json_cap_cp(j, j->ucp);
            break;

        case S_NUM:
            if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.'
                || c == 'e' || c == 'E')
            {
                if (j->num_len < sizeof(j->num) - 1) {
                    j->num[j->num_len] = (char) c;
                }

                if (j->num_len < 255) {
                    j->num_len++;
                }

                p++;
                break;
            }

            llr_json_number_end(j);
            llr_json_after_value(j);
            break;

        case S_LIT:
            if (c != llr_lits[j->lit][j->lit_pos]) {
                return llr_json_error(j);
            }

            p++;

            if (llr_lits[j->lit][++j->lit_pos] == '\0') {
                llr_json_after_value(j);
            }

            break;

        case S_END:
            if (llr_is_ws(c)) {
                p++;
                break;
            }

            return llr_json_error(j);

        default: /* S_ERR */
            return -1;
        }
    }

    return 0;
}


static int
llr_json_path_is(llr_json_t *j, const uint8_t *want, size_t n)
{
    size_t  base, i;

    base = (j->depth >= 2 && j->frames[0].key == K_RESPONSE) ? 1 : 0;

    if ((size_t) j->depth - base != n) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (j->frames[base + i].key != want[i]) {
            return 0;
        }
    }

    return 1;
}


/* c is '{', '[', '"' or the first character of a number */
static void
llr_json_value_start(llr_json_t *j, int c)
{
    llr_resp_t  *res;

    res = j->res;
    j->role = R_NONE;
    j->cap_len = 0;
    j->cap_trunc = 0;
    j->str_count = 0;
    j->uhi = 0;

    if (j->depth == 0) {
        return;
    }

    if (llr_path(j, K_CHOICES, K_ELEM)) {
        j->v_choice_elems++;
        return;
    }

    switch (c) {

    case '{':
        if (llr_path(j, K_USAGE)) {
            memset(res, 0, offsetof(llr_resp_t, content_bytes));
            res->has_usage = 1;
            j->v_usage = 1;

        } else if (llr_path(j, K_ERROR)) {
            res->error = 1;
            j->v_error = 1;

        } else if (llr_path(j, K_CHOICES, K_ELEM, K_DELTA, K_FUNCTION_CALL)
                   || llr_path(j, K_CHOICES, K_ELEM, K_DELTA, K_TOOL_CALLS,
                               K_ELEM))
        {
            j->v_content = 1;
        }

        return;

    case '[':
        if (llr_path(j, K_CHOICES)) {
            j->v_choices = 1;
        }

        return;

    case '"':
        if (llr_path(j, K_MODEL)) {
            j->role = R_MODEL;

        } else if (llr_path(j, K_CHOICES, K_ELEM, K_FINISH_REASON)) {
            j->role = R_FINISH;

        } else if (llr_path(j, K_ERROR)) {
            j->role = R_ERR;
            res->error = 1;
            j->v_error = 1;

        } else if (llr_path(j, K_ERROR, K_TYPE)) {
            j->role = R_ERR_TYPE;

        } else if (llr_path(j, K_ERROR, K_CODE)) {
            j->role = R_ERR_CODE;

        } else if (llr_path(j, K_ERROR, K_MESSAGE)) {
            j->role = R_ERR_MSG;

        } else if (llr_path(j, K_TYPE)) {
            j->role = R_TYPE;

        } else if (llr_path(j, K_STATUS)) {
            j->role = R_STATUS;

        } else if (llr_path(j, K_INCOMPLETE_DETAILS, K_REASON)) {
            j->role = R_REASON;

        } else if (llr_path(j, K_CHOICES, K_ELEM, K_DELTA, K_CONTENT)
                   || llr_path(j, K_CHOICES, K_ELEM, K_DELTA,
                               K_REASONING_CONTENT)
                   || llr_path(j, K_CHOICES, K_ELEM, K_DELTA, K_REFUSAL)
                   || llr_path(j, K_CHOICES, K_ELEM, K_DELTA, K_TOOL_CALLS,
                               K_ELEM, K_FUNCTION, K_ARGUMENTS)
                   || llr_path(j, K_CHOICES, K_ELEM, K_DELTA,
                               K_FUNCTION_CALL, K_ARGUMENTS)
                   || llr_path(j, K_CHOICES, K_ELEM, K_MESSAGE, K_CONTENT)
                   || llr_path(j, K_CHOICES, K_ELEM, K_MESSAGE,
                               K_REASONING_CONTENT)
                   || llr_path(j, K_CHOICES, K_ELEM, K_MESSAGE, K_REFUSAL)
                   || llr_path(j, K_CHOICES, K_ELEM, K_MESSAGE, K_TOOL_CALLS,
                               K_ELEM, K_FUNCTION, K_ARGUMENTS)
                   || llr_path(j, K_CHOICES, K_ELEM, K_TEXT)
                   || llr_path(j, K_OUTPUT, K_ELEM, K_CONTENT, K_ELEM, K_TEXT)
                   || (j->depth == 1 && j->frames[0].key == K_DELTA))
        {
            j->role = R_COUNT;
        }

        return;

    default: /* a number */
        if (llr_path(j, K_USAGE, K_PROMPT_TOKENS)
            || llr_path(j, K_USAGE, K_INPUT_TOKENS))
        {
            j->role = R_N_PROMPT;

        } else if (llr_path(j, K_USAGE, K_COMPLETION_TOKENS)
                   || llr_path(j, K_USAGE, K_OUTPUT_TOKENS))
        {
            j->role = R_N_COMPLETION;

        } else if (llr_path(j, K_USAGE, K_TOTAL_TOKENS)) {
            j->role = R_N_TOTAL;

        } else if (llr_path(j, K_USAGE, K_PROMPT_DETAILS, K_CACHED_TOKENS)
                   || llr_path(j, K_USAGE, K_INPUT_DETAILS, K_CACHED_TOKENS))
        {
            j->role = R_N_CACHED;

        } else if (llr_path(j, K_USAGE, K_COMPLETION_DETAILS,
                            K_REASONING_TOKENS)
                   || llr_path(j, K_USAGE, K_OUTPUT_DETAILS,
                               K_REASONING_TOKENS))
        {
            j->role = R_N_REASONING;

        } else if (llr_path(j, K_ERROR, K_CODE)) {
            j->role = R_ERR_CODE;
        }

        return;
    }
}


static void
llr_json_string_end(llr_json_t *j)
{
    const llr_key_t  *k;
    llr_resp_t       *res;
    llr_finish_e      f;

    res = j->res;

    switch (j->role) {

    case R_KEY:
        j->frames[j->depth - 1].key = K_UNKNOWN;

        if (!j->cap_trunc) {
            for (k = llr_keys; k->name; k++) {
                if (k->len == j->cap_len
                    && memcmp(k->name, j->cap, k->len) == 0)
                {
                    j->frames[j->depth - 1].key = k->id;
                    break;
                }
            }
        }

        j->state = S_COLON;
        return;

    case R_MODEL:
        llr_copy(res->model, sizeof(res->model), j->cap, j->cap_len);
        res->has_model = 1;
        break;

    case R_FINISH:
        res->finish[llr_finish_reason(j->cap, j->cap_len)]++;
        break;

    case R_ERR:
    case R_ERR_MSG:
        llr_copy(res->error_message, sizeof(res->error_message), j->cap,
                 j->cap_len);
        break;

    case R_ERR_TYPE:
        llr_copy(res->error_type, sizeof(res->error_type), j->cap,
                 j->cap_len);
        break;

    case R_ERR_CODE:
        llr_copy(res->error_code, sizeof(res->error_code), j->cap,
                 j->cap_len);
        break;

    case R_TYPE:
        /* a Responses API stream event {"type":"error", ...} */
        if (j->depth == 1 && j->cap_len == 5
            && memcmp(j->cap, "error", 5) == 0)
        {
            res->error = 1;
            j->v_error = 1;
        }

        break;

    case R_STATUS:
        if (j->cap_len == 9 && memcmp(j->cap, "completed", 9) == 0) {
            res->finish[LLR_FINISH_STOP]++;
        }

        break;

    case R_REASON:
        f = (j->cap_len == 17 && memcmp(j->cap, "max_output_tokens", 17) == 0)
            ? LLR_FINISH_LENGTH : llr_finish_reason(j->cap, j->cap_len);
        res->finish[f]++;
        break;

    case R_COUNT:
        res->content_bytes = llr_add_sat(res->content_bytes, j->str_count);

        if (j->str_count) {
            j->v_content = 1;
        }

        break;
    }

    llr_json_after_value(j);
}


static void
llr_json_number_end(llr_json_t *j)
{
    uint64_t     v;
    llr_resp_t  *res;

    res = j->res;

    if (j->role == R_ERR_CODE) {
        llr_copy(res->error_code, sizeof(res->error_code), j->num,
                 j->num_len < sizeof(j->num) ? j->num_len
                                             : sizeof(j->num) - 1);
        return;
    }

    if (j->role == R_NONE || j->num_len >= sizeof(j->num)
        || llr_parse_uint(j->num, j->num_len, UINT64_MAX, &v, NULL) != 0)
    {
        return;
    }

    switch (j->role) {
    case R_N_PROMPT:
        res->prompt_tokens = v;
        break;
    case R_N_COMPLETION:
        res->completion_tokens = v;
        break;
    case R_N_TOTAL:
        res->total_tokens = v;
        break;
    case R_N_CACHED:
        res->cached_tokens = v;
        break;
    case R_N_REASONING:
        res->reasoning_tokens = v;
        break;
    }
}


static void
llr_json_after_value(llr_json_t *j)
{
    if (j->depth == 0) {
        j->state = S_END;
        j->v_complete = 1;

    } else {
        j->state = S_AFTER;
    }
}


static void
llr_json_cap(llr_json_t *j, const unsigned char *p, size_t n)
{
    size_t  room;

    room = sizeof(j->cap) - 1 - j->cap_len;

    if (n > room) {
        n = room;
        j->cap_trunc = 1;
    }

    memcpy(j->cap + j->cap_len, p, n);
    j->cap_len += n;
}


static void
llr_json_cap_cp(llr_json_t *j, uint32_t cp)
{
    unsigned char  b[4];
    size_t         n;

    if (j->role == R_COUNT || j->role == R_NONE) {
        return;
    }

    if (cp < 0x80) {
        b[0] = (unsigned char) cp;
        n = 1;

    } else if (cp < 0x800) {
        b[0] = (unsigned char) (0xc0 | (cp >> 6));
        b[1] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 2;

    } else if (cp < 0x10000) {
        b[0] = (unsigned char) (0xe0 | (cp >> 12));
        b[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 3;

    } else {
        b[0] = (unsigned char) (0xf0 | (cp >> 18));
        b[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 4;
    }

    llr_json_cap(j, b, n);
}


static void
llr_copy(char *dst, size_t size, const char *src, size_t len)
{
    if (len > size - 1) {
        len = size - 1;
    }

    memcpy(dst, src, len);
    dst[len] = '\0';
}


void
llr_usage_init(llr_usage_t *u)
{
    memset(&u->res, 0, sizeof(llr_resp_t));
    llr_json_init(&u->json, &u->res);
}


int
llr_usage_feed(llr_usage_t *u, const unsigned char *data, size_t len)
{
    return llr_json_feed(&u->json, data, len);
}


int
llr_usage_finish(llr_usage_t *u)
{
    if (u->json.state == S_NUM && u->json.depth == 0) {
        llr_json_number_end(&u->json);
        llr_json_after_value(&u->json);
    }

    if (u->json.state != S_END) {
        u->res.json_error = 1;
        return -1;
    }

    return 0;
}
