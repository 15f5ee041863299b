/*
 * ngx_llm_route_module: usage, model, finish reasons and errors from a
 * provider's JSON response, fed in pieces.
 */

#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "llr.h"
#include "llr_cost.h"
#include "llr_find.h"
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
    K_OUTPUT,
    K_STOP_REASON,          /* Anthropic */
    K_CONTENT_BLOCK,
    K_PARTIAL_JSON,
    K_THINKING,
    K_CACHE_CREATION,
    K_CACHE_CREATION_TOKENS,
    K_CACHE_READ_TOKENS,
    K_EPHEMERAL_1H,
    K_THINKING_TOKENS,
    K_INDEX,
    K_ID,
    K_N
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
    R_N_REASONING,
    R_A_STOP,           /* Anthropic stop_reason */
    R_A_BTYPE,          /* a content block's "type" */
    R_N_A_INPUT,
    R_N_A_OUTPUT,
    R_N_A_CACHE_WRITE,
    R_N_A_CACHE_READ,
    R_N_A_CACHE_1H,
    R_N_CHOICE,         /* choices[].index: the tap's choice */
    R_N_TOOL,           /* tool_calls[].index: the tap's index */
    R_ID                /* the response's "id" */
};


/* where a value is among the wanted paths (frames[].node) */
enum {
    P_NONE = 0,         /* on no wanted path */
    P_ROOT,             /* the top-level value */
    P_ROOT_R,           /* top-level "response": seen as the top level */
    P_TOP_DELTA,        /* top-level "delta" (Responses API events) */
    P_MODEL,
    P_ID,               /* top-level "id": wanted only with the tap */
    P_TYPE,
    P_STATUS,
    P_USAGE,
    P_U_PROMPT,
    P_U_COMPLETION,
    P_U_TOTAL,
    P_U_PDETAILS,       /* usage.prompt_tokens_details, input_... */
    P_U_CDETAILS,       /* usage.completion_tokens_details, output_... */
    P_U_CACHED,
    P_U_REASONING,
    P_ERROR,
    P_E_TYPE,
    P_E_CODE,
    P_E_MESSAGE,
    P_CHOICES,
    P_C_E,              /* choices[] */
    P_C_E_FINISH,
    P_C_E_D,            /* choices[].delta */
    P_C_E_M,            /* choices[].message */
    P_C_E_D_FC,         /* choices[].delta.function_call */
    P_C_E_D_TC,         /* choices[].delta.tool_calls */
    P_C_E_D_TC_E,
    P_C_E_D_TC_E_F,
    P_C_E_M_TC,         /* choices[].message.tool_calls */
    P_C_E_M_TC_E,
    P_C_E_M_TC_E_F,
    P_INCOMPLETE,
    P_I_REASON,
    P_OUTPUT,
    P_O_E,
    P_O_E_C,
    P_O_E_C_E,
    P_A_ROOT,           /* Anthropic: the top-level value */
    P_A_MSG,            /* message_start's "message" */
    P_A_CONTENT,        /* the answer's "content" */
    P_A_BLOCK,          /* a content block, content_block_start's */
    P_A_BTYPE,
    P_A_DELTA,          /* content_block_delta's, message_delta's */
    P_A_STOP,           /* stop_reason */
    P_A_USAGE,
    P_A_INPUT,
    P_A_OUTPUT,
    P_A_CACHE_WRITE,
    P_A_CACHE_READ,
    P_A_CACHE,          /* usage.cache_creation */
    P_A_CACHE_1H,
    P_A_ODETAILS,       /* usage.output_tokens_details */
    P_C_INDEX,          /* choices[].index */
    P_TC_INDEX,         /* choices[].{delta,message}.tool_calls[].index,
                           an Anthropic event's content block "index" */

    /* strings of generated text, in the order of the tap's kinds */
    P_COUNT,            /* content, text */
    P_COUNT_REFUSAL,
    P_COUNT_REASONING,
    P_COUNT_ARGS,       /* tool call (function call) arguments */
    P_N
};

#define llr_json_counted(node)  ((node) >= P_COUNT || (node) == P_TOP_DELTA)
#define llr_json_kind(node)     ((node) == P_TOP_DELTA ? 0u                  \
                                                       : (node) - P_COUNT)


/*
 * llr_json_next[node][key]: the node of a member (or of an element,
 * key K_ELEM) of a container at node; P_NONE if not on a wanted path.
 * Inside a top-level "response" the paths start again from the top.
 */
#define llr_json_top_paths                                                   \
    [K_MODEL] = P_MODEL, [K_ID] = P_ID, [K_TYPE] = P_TYPE,                   \
    [K_STATUS] = P_STATUS,                                                   \
    [K_USAGE] = P_USAGE, [K_ERROR] = P_ERROR, [K_CHOICES] = P_CHOICES,       \
    [K_INCOMPLETE_DETAILS] = P_INCOMPLETE, [K_OUTPUT] = P_OUTPUT

static const uint8_t  llr_json_next[P_N][K_N] = {
    [P_ROOT] = { llr_json_top_paths, [K_RESPONSE] = P_ROOT_R,
                 [K_DELTA] = P_TOP_DELTA },
    [P_ROOT_R] = { llr_json_top_paths },
    [P_USAGE] = {
        [K_PROMPT_TOKENS] = P_U_PROMPT, [K_INPUT_TOKENS] = P_U_PROMPT,
        [K_COMPLETION_TOKENS] = P_U_COMPLETION,
        [K_OUTPUT_TOKENS] = P_U_COMPLETION,
        [K_TOTAL_TOKENS] = P_U_TOTAL,
        [K_PROMPT_DETAILS] = P_U_PDETAILS, [K_INPUT_DETAILS] = P_U_PDETAILS,
        [K_COMPLETION_DETAILS] = P_U_CDETAILS,
        [K_OUTPUT_DETAILS] = P_U_CDETAILS },
    [P_U_PDETAILS] = { [K_CACHED_TOKENS] = P_U_CACHED },
    [P_U_CDETAILS] = { [K_REASONING_TOKENS] = P_U_REASONING },
    [P_ERROR] = { [K_TYPE] = P_E_TYPE, [K_CODE] = P_E_CODE,
                  [K_MESSAGE] = P_E_MESSAGE },
    [P_CHOICES] = { [K_ELEM] = P_C_E },
    [P_C_E] = { [K_DELTA] = P_C_E_D, [K_MESSAGE] = P_C_E_M,
                [K_FINISH_REASON] = P_C_E_FINISH, [K_TEXT] = P_COUNT,
                [K_INDEX] = P_C_INDEX },
    [P_C_E_D] = { [K_CONTENT] = P_COUNT,
                  [K_REASONING_CONTENT] = P_COUNT_REASONING,
                  [K_REFUSAL] = P_COUNT_REFUSAL, [K_TOOL_CALLS] = P_C_E_D_TC,
                  [K_FUNCTION_CALL] = P_C_E_D_FC },
    [P_C_E_M] = { [K_CONTENT] = P_COUNT,
                  [K_REASONING_CONTENT] = P_COUNT_REASONING,
                  [K_REFUSAL] = P_COUNT_REFUSAL, [K_TOOL_CALLS] = P_C_E_M_TC },
    [P_C_E_D_FC] = { [K_ARGUMENTS] = P_COUNT_ARGS },
    [P_C_E_D_TC] = { [K_ELEM] = P_C_E_D_TC_E },
    [P_C_E_D_TC_E] = { [K_FUNCTION] = P_C_E_D_TC_E_F,
                       [K_INDEX] = P_TC_INDEX },
    [P_C_E_D_TC_E_F] = { [K_ARGUMENTS] = P_COUNT_ARGS },
    [P_C_E_M_TC] = { [K_ELEM] = P_C_E_M_TC_E },
    [P_C_E_M_TC_E] = { [K_FUNCTION] = P_C_E_M_TC_E_F,
                       [K_INDEX] = P_TC_INDEX },
    [P_C_E_M_TC_E_F] = { [K_ARGUMENTS] = P_COUNT_ARGS },
    [P_INCOMPLETE] = { [K_REASON] = P_I_REASON },
    [P_OUTPUT] = { [K_ELEM] = P_O_E },
    [P_O_E] = { [K_CONTENT] = P_O_E_C },
    [P_O_E_C] = { [K_ELEM] = P_O_E_C_E },
    [P_O_E_C_E] = { [K_TEXT] = P_COUNT },

    [P_A_ROOT] = {
        [K_MODEL] = P_MODEL, [K_ID] = P_ID, [K_TYPE] = P_TYPE,
        [K_USAGE] = P_A_USAGE, [K_ERROR] = P_ERROR, [K_MESSAGE] = P_A_MSG,
        [K_CONTENT] = P_A_CONTENT, [K_CONTENT_BLOCK] = P_A_BLOCK,
        [K_DELTA] = P_A_DELTA, [K_STOP_REASON] = P_A_STOP,
        [K_INDEX] = P_TC_INDEX },
    [P_A_MSG] = {
        [K_MODEL] = P_MODEL, [K_ID] = P_ID, [K_USAGE] = P_A_USAGE,
        [K_CONTENT] = P_A_CONTENT, [K_STOP_REASON] = P_A_STOP },
    [P_A_CONTENT] = { [K_ELEM] = P_A_BLOCK },
    [P_A_BLOCK] = { [K_TYPE] = P_A_BTYPE, [K_TEXT] = P_COUNT,
                    [K_THINKING] = P_COUNT_REASONING },
    [P_A_DELTA] = { [K_TEXT] = P_COUNT, [K_PARTIAL_JSON] = P_COUNT_ARGS,
                    [K_THINKING] = P_COUNT_REASONING,
                    [K_STOP_REASON] = P_A_STOP },
    [P_A_USAGE] = {
        [K_INPUT_TOKENS] = P_A_INPUT, [K_OUTPUT_TOKENS] = P_A_OUTPUT,
        [K_CACHE_CREATION_TOKENS] = P_A_CACHE_WRITE,
        [K_CACHE_READ_TOKENS] = P_A_CACHE_READ,
        [K_CACHE_CREATION] = P_A_CACHE, [K_OUTPUT_DETAILS] = P_A_ODETAILS },
    [P_A_CACHE] = { [K_EPHEMERAL_1H] = P_A_CACHE_1H },
    [P_A_ODETAILS] = { [K_THINKING_TOKENS] = P_U_REASONING }
};

#define llr_json_step(node, key)  llr_json_next[node][key]


/* the escapes that stand for one byte: \" \\ \/ \b \f \n \r \t */
static const uint8_t  llr_json_esc1[256] = {
    ['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1, ['f'] = 1, ['n'] = 1,
    ['r'] = 1, ['t'] = 1
};

/* the bytes of a number */
const uint8_t  llr_json_numch[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['-'] = 1, ['+'] = 1,
    ['.'] = 1, ['e'] = 1, ['E'] = 1
};


static const char  *llr_finish_names[] = {
    "stop", "length", "tool_calls", "content_filter", "function_call",
    "other"
};


/* Anthropic's stop reasons, as finish reasons */
static const struct {
    const char    *name;
    llr_finish_e   finish;
} llr_stop_reasons[] = {
    { "end_turn", LLR_FINISH_STOP },
    { "stop_sequence", LLR_FINISH_STOP },
    { "max_tokens", LLR_FINISH_LENGTH },
    { "model_context_window_exceeded", LLR_FINISH_LENGTH },
    { "tool_use", LLR_FINISH_TOOL_CALLS },
    { "refusal", LLR_FINISH_CONTENT_FILTER }
};


static const char  *llr_lits[] = { "true", "false", "null" };


#define llr_is_ws(c)  ((c) == ' ' || (c) == '\t' || (c) == '\n'             \
                       || (c) == '\r')


static llr_inline const unsigned char *llr_json_fast(llr_json_t *j,
    const unsigned char *p, const unsigned char *end, int line);
static llr_inline int llr_json_hole(llr_json_t *j, unsigned kind,
    const unsigned char *start, const unsigned char *end);
static llr_inline const unsigned char *llr_json_skip(const unsigned char *p,
    const unsigned char *end, int line, uint64_t *count);
#ifdef __SSE2__
static int llr_json_num16(const unsigned char *p);
#endif
static const unsigned char *llr_json_count(llr_json_t *j,
    const unsigned char *p, const unsigned char *end);
static llr_inline unsigned llr_json_key(const unsigned char *s,
    size_t len);
static unsigned llr_json_value_start(llr_json_t *j, int c);
static void llr_json_string_end(llr_json_t *j);
static void llr_json_number_end(llr_json_t *j);
static void llr_json_after_value(llr_json_t *j);
static void llr_json_not_count(llr_json_t *j, unsigned node);
static void llr_json_tap_piece(llr_json_t *j, const unsigned char *end,
    unsigned last);
static void llr_json_tap_index(llr_json_t *j, unsigned node,
    const unsigned char *p, const unsigned char *end);
static void llr_json_cap(llr_json_t *j, const unsigned char *p, size_t n);
static void llr_json_cap_cp(llr_json_t *j, uint32_t cp);
static size_t llr_copy(char *dst, size_t size, const char *src, size_t len);


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


llr_finish_e
llr_stop_reason(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < sizeof(llr_stop_reasons) / sizeof(llr_stop_reasons[0]);
         i++)
    {
        if (strlen(llr_stop_reasons[i].name) == len
            && memcmp(llr_stop_reasons[i].name, s, len) == 0)
        {
            return llr_stop_reasons[i].finish;
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
    j->root = P_ROOT;
    j->nholes = 0;
    j->hole_count = 0;
    j->tap = NULL;
    j->tap_ctx = NULL;
}


void
llr_json_init_format(llr_json_t *j, llr_resp_t *res, llr_format_e fmt)
{
    llr_json_init(j, res);

    if (fmt == LLR_FMT_ANTHROPIC) {
        j->root = P_A_ROOT;
    }
}


void
llr_json_reset(llr_json_t *j)
{
    void             *tap_ctx;
    uint8_t           root;
    llr_json_tap_pt   tap;

    root = j->root;
    tap = j->tap;
    tap_ctx = j->tap_ctx;

    llr_json_init(j, j->res);

    j->root = root;
    j->tap = tap;
    j->tap_ctx = tap_ctx;
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
llr_json_push(llr_json_t *j, int arr, unsigned node)
{
    llr_json_frame_t  *f;

    if (j->depth >= LLR_JSON_MAX_DEPTH) {
        return -1;
    }

    f = &j->frames[j->depth];
    f->node = (uint8_t) node;
    f->vnode = arr ? (uint8_t) llr_json_step(node, K_ELEM) : P_NONE;
    f->arr = (uint8_t) arr;
    j->depth++;

    return 0;
}


/* the tap: a string of generated text starts at start (its body) */

static llr_inline void
llr_json_tap_open(llr_json_t *j, unsigned node, const unsigned char *start)
{
    j->tap_on = 1;
    j->tap_begin = 1;
    j->tap_kind = (uint8_t) llr_json_kind(node);
    j->tap_start = start;
}


/* the tap: a string of generated text all in one piece, [start, end) */

static llr_inline void
llr_json_tap_whole(llr_json_t *j, unsigned node, const unsigned char *start,
    const unsigned char *end)
{
    j->tap(j->tap_ctx, llr_json_kind(node), j->tap_choice, j->tap_index,
           start, (size_t) (end - start),
           LLR_JSON_TAP_BEGIN | LLR_JSON_TAP_END);
}


/* a choices[] element starts: the tap's choice is its position */

static llr_inline void
llr_json_choice_start(llr_json_t *j)
{
    j->v_choice_elems++;
    j->tap_choice = j->v_choice_elems - 1;
    j->tap_index = 0;
    j->tap_tools = 0;
}


int
llr_json_feed(llr_json_t *j, const unsigned char *data, size_t len)
{
    int                   c, v;
    size_t                n;
    llr_json_frame_t     *f;
    const unsigned char  *p, *end, *q;

    /*
     * At a token boundary llr_json_fast() takes the whole tokens that
     * are here; it leaves the rest to the states below.
     *
     * One state per byte, as in the old byte-at-a-time scanner, but the
     * common sequences (a key, its colon and value, a comma) jump from
     * one state to the next without going through the loop, and string
     * bodies are skipped by llr_json_count() / llr_json_find().  Every
     * "goto" happens with j->state set to the state of its label,
     * p < end and c == *p, so a piece may end anywhere.
     */

    p = data;
    end = data + len;

    if (j->tap_on) {
        j->tap_start = data;
    }

    while (p < end) {

        if (j->state <= S_AFTER) {
            /* at a token boundary: the common path first */
            p = llr_json_fast(j, p, end, 0);

            if (p == end) {
                break;
            }
        }

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
                goto value_end;
            }

            j->state = S_VAL;
            goto value;

        case S_VAL:
        value:
            if (llr_is_ws(c)) {
                p++;
                break;
            }

            if (c == '"') {
                if (j->depth && j->frames[j->depth - 1].vnode == P_NONE) {
                    /* a string nobody wants: skipped, nothing kept */
                    j->role = R_NONE;
                    j->uhi = 0;

                } else {
                    v = (int) llr_json_value_start(j, c);

                    if (j->tap && j->depth && llr_json_counted(v)) {
                        llr_json_tap_open(j, (unsigned) v, p + 1);
                    }
                }

                j->state = S_STR;
                p++;
                goto string;
            }

            if (c == '{' || c == '[') {
                v = (int) llr_json_value_start(j, c);

                if (llr_json_push(j, c == '[', (unsigned) v) != 0) {
                    return llr_json_error(j);
                }

                p++;

                if (c == '[') {
                    j->state = S_VAL_OR_END;
                    break;
                }

                j->state = S_KEY_OR_END;

                if (p == end) {
                    break;
                }

                c = *p;
                goto key;
            }

            if (c == '-' || (c >= '0' && c <= '9')) {
                if (j->depth && j->frames[j->depth - 1].vnode == P_NONE) {
                    j->role = R_NONE;

                } else {
                    llr_json_value_start(j, c);
                }

                j->num_len = 0;
                j->state = S_NUM;
                goto number;
            }

            switch (c) {
            case 't':
                j->lit = 0;
                v = (end - p >= 4 && memcmp(p, "true", 4) == 0) ? 4 : 0;
                break;
            case 'f':
                j->lit = 1;
                v = (end - p >= 5 && memcmp(p, "false", 5) == 0) ? 5 : 0;
                break;
            case 'n':
                j->lit = 2;
                v = (end - p >= 4 && memcmp(p, "null", 4) == 0) ? 4 : 0;
                break;
            default:
                return llr_json_error(j);
            }

            j->role = R_NONE;

            if (j->depth) {
                n = j->frames[j->depth - 1].vnode;

                /* an Anthropic count that is null: not given */
                if (j->lit != 2 || (n != P_A_INPUT && n != P_A_OUTPUT)) {
                    llr_json_not_count(j, (unsigned) n);
                }
            }

            if (v) {
                /* the whole literal is here */
                p += v;
                goto value_end;
            }

            j->lit_pos = 0;
            j->state = S_LIT;
            break;

        case S_KEY_OR_END:
        case S_KEY:
        key:
            if (llr_is_ws(c)) {
                p++;
                break;
            }

            if (c == '}' && j->state == S_KEY_OR_END) {
                j->depth--;
                p++;
                goto value_end;
            }

            if (c != '"') {
                return llr_json_error(j);
            }

            p++;
            q = llr_json_find(p, end);

            if (q == end || *q != '"') {
                /* split or escaped: byte by byte, into cap */
                j->role = R_KEY;
                j->cap_len = 0;
                j->cap_trunc = 0;
                j->str_count = 0;
                j->uhi = 0;
                j->state = S_STR;
                goto string;
            }

            /* the whole key is here, without escapes */
            f = &j->frames[j->depth - 1];
            f->vnode = (f->node == P_NONE)
                       ? P_NONE
                       : (uint8_t) llr_json_step(f->node,
                                           llr_json_key(p, (size_t) (q - p)));
            p = q + 1;

            if (p == end || *p != ':') {
                j->state = S_COLON;
                break;
            }

            p++;
            j->state = S_VAL;

            if (p == end) {
                break;
            }

            c = *p;
            goto value;

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

        case S_STR:
        string:
            if (j->role == R_COUNT || j->role == R_NONE) {
                /* nothing to keep: count, simple escapes included */
                p = llr_json_count(j, p, end);

                if (p == end) {
                    break;
                }

                q = p++;

            } else {
                /* p == end when entered by "goto string" */
                q = llr_json_find(p, end);

                if (q > p) {
                    j->str_count += (uint64_t) (q - p);
                    llr_json_cap(j, p, (size_t) (q - p));
                    j->uhi = 0;
                }

                if (q == end) {
                    p = q;
                    break;
                }

                p = q + 1;
            }

            if (*q == '\\') {
                j->state = S_ESC;
                break;
            }

            if (j->tap_on) {
                llr_json_tap_piece(j, q, 1);
            }

            llr_json_string_end(j);

            if (j->state != S_AFTER || p == end) {
                break;
            }

            c = *p;
            goto after;

        case S_NUM:
        number:
#ifdef __SSE2__
            if (j->num_len == 0 && end - p >= 16) {
                /* the number ends within 16 bytes: take it at once */
                v = llr_json_num16(p);

                if (v < 16) {
                    _mm_storeu_si128((__m128i *) j->num,
                                     _mm_loadu_si128((const __m128i *) p));
                    j->num_len = (uint8_t) v;
                    p += v;
                    llr_json_number_end(j);
                    goto value_end;
                }
            }
#endif

            n = j->num_len;

            while (p < end && llr_json_numch[*p]) {
                if (n < sizeof(j->num) - 1) {
                    j->num[n] = (char) *p;
                }

                if (n < 255) {
                    n++;
                }

                p++;
            }

            j->num_len = (uint8_t) n;

            if (p == end) {
                break;
            }

            llr_json_number_end(j);
            goto value_end;

        case S_LIT:
            if (c != llr_lits[j->lit][j->lit_pos]) {
                return llr_json_error(j);
            }

            p++;

            if (llr_lits[j->lit][++j->lit_pos] != '\0') {
                break;
            }

            /* fall through */

        value_end:
            llr_json_after_value(j);

            if (j->state != S_AFTER || p == end) {
                break;
            }

            c = *p;

            /* fall through */

        case S_AFTER:
        after:
            if (llr_is_ws(c)) {
                p++;
                break;
            }

            v = j->frames[j->depth - 1].arr;

            if (c == ',') {
                p++;

                if (v) {
                    j->state = S_VAL;

                    if (p == end) {
                        break;
                    }

                    c = *p;
                    goto value;
                }

                j->state = S_KEY;

                if (p == end) {
                    break;
                }

                c = *p;
                goto key;
            }

            if ((c == ']' && v) || (c == '}' && !v)) {
                j->depth--;
                p++;
                goto value_end;
            }

            return llr_json_error(j);

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

    if (j->tap_on) {
        llr_json_tap_piece(j, end, 0);
    }

    return 0;
}


/*
 * Feed one line of an SSE "data:" field: stops at the first '\r' or
 * '\n' (not fed) and returns it, or end.  Same result as
 * llr_json_feed() of the bytes up to there.
 */
const unsigned char *
llr_json_feed_line(llr_json_t *j, const unsigned char *p,
    const unsigned char *end)
{
    const unsigned char  *e;

    if (j->state <= S_AFTER) {
        p = llr_json_fast(j, p, end, 1);

        if (p == end || *p == '\r' || *p == '\n') {
            return p;
        }
    }

    /* anything else: find the line end, then byte by byte */

    e = p;

    while (e < end && *e != '\r' && *e != '\n') {
        e = llr_json_find_l(e, end);

        if (e < end && (*e == '"' || *e == '\\')) {
            e++;
        }
    }

    (void) llr_json_feed(j, p, (size_t) (e - p));

    return e;
}


int
llr_json_at_boundary(const llr_json_t *j)
{
    return j->state <= S_AFTER && j->depth > 0 && !j->v_complete
           && !j->v_bad;
}


void
llr_json_copy_state(llr_json_t *dst, const llr_json_t *src)
{
    memcpy(dst, src, offsetof(llr_json_t, frames));
    memcpy(dst->frames, src->frames, src->depth * sizeof(llr_json_frame_t));
}


const unsigned char *
llr_json_string_body(const unsigned char *p, const unsigned char *end,
    uint64_t *count)
{
    return llr_json_skip(p, end, 1, count);
}


/* note a hole; 0 if there is no room for it */
static llr_inline int
llr_json_hole(llr_json_t *j, unsigned kind, const unsigned char *start,
    const unsigned char *end)
{
    unsigned  k;

    k = j->nholes;

    if (k == LLR_JSON_HOLES) {
        return 0;
    }

    j->hole_kind[k] = (uint8_t) kind;
    j->hole[k][0] = start;
    j->hole[k][1] = end;
    j->nholes = (uint8_t) (k + 1);

    return 1;
}


#define llr_json_bail(st)                                                    \
    do { j->state = (st); goto out; } while (0)

/*
 * skip whitespace; at end (or, line mode, at '\r' or '\n') stop in
 * state st; c is the next byte
 */
#define llr_json_ws_skip(st)                                                 \
    for ( ;; ) {                                                             \
        if (p == end) {                                                      \
            llr_json_bail(st);                                               \
        }                                                                    \
        c = *p;                                                              \
        if (c > ' ' || !(c == ' ' || c == '\t'                               \
                         || (!line && (c == '\n' || c == '\r'))))            \
        {                                                                    \
            break;                                                           \
        }                                                                    \
        p++;                                                                 \
    }


/*
 * The common path, from a token boundary (states S_VAL .. S_AFTER):
 * whole tokens that lie in [p, end) with their state kept in locals;
 * values nobody wants are skipped without their per-byte states.  It
 * stops at a token that is not all here, or is unusual (an escape in a
 * key or a captured string, a wanted number, a nesting error, not JSON,
 * in line mode a '\r' or '\n'), with j->state what llr_json_feed()
 * would have at that byte, and returns that byte; the byte-at-a-time
 * states take it from there.
 */
static llr_inline const unsigned char *
llr_json_fast(llr_json_t *j, const unsigned char *p, const unsigned char *end,
    int line)
{
    int                   c, st;
    unsigned              depth, node;
    uint64_t              n;
    llr_json_frame_t     *f;
    const unsigned char  *q;

    depth = j->depth;
    f = depth ? &j->frames[depth - 1] : NULL;

    switch (j->state) {
    case S_VAL:
        goto val;
    case S_VAL_OR_END:
        goto val_or_end;
    case S_KEY_OR_END:
        goto key_or_end;
    case S_KEY:
        goto key;
    case S_COLON:
        goto colon;
    default: /* S_AFTER */
        goto after;
    }

val_or_end:

    llr_json_ws_skip(S_VAL_OR_END);

    if (c == ']') {
        depth--;
        p++;
        goto value_end;
    }

    if (line && (c == '\n' || c == '\r')) {
        /* the data line ends: the next one may still close the array */
        llr_json_bail(S_VAL_OR_END);
    }

    goto value;

val:

    llr_json_ws_skip(S_VAL);

value:

    node = depth ? f->vnode : j->root;

    if (node == P_ID && j->tap == NULL) {
        /* the id is read for the quality loop only: else a hole */
        node = P_NONE;
    }

    if (c == '"') {
        if (!line && (node == P_NONE || (depth && llr_json_counted(node))))
        {
            /*
             * a string only counted (or skipped): as the byte states do
             * it; one not all here goes on in S_STR
             */
            j->role = (node == P_NONE) ? R_NONE : R_COUNT;
            j->str_count = 0;
            j->uhi = 0;
            q = llr_json_count(j, p + 1, end);

            if (q == end || *q != '"') {
                if (j->tap && node != P_NONE) {
                    llr_json_tap_open(j, node, p + 1);
                }

                p = q;
                llr_json_bail(S_STR);
            }

            if (j->tap && node != P_NONE) {
                llr_json_tap_whole(j, node, p + 1, q);
            }

            n = j->str_count;
            p = q + 1;

            if (n && node != P_NONE) {
                j->res->content_bytes = llr_add_sat(j->res->content_bytes,
                                                    n);
                j->v_content = 1;
            }

            goto value_end;
        }

        if (node == P_NONE) {
            q = llr_json_skip(p + 1, end, line, NULL);

            if (q == NULL) {
                llr_json_bail(S_VAL);
            }

            if (line) {
                llr_json_hole(j, LLR_HOLE_SKIP, p + 1, q);
            }

            p = q + 1;
            goto value_end;
        }

        if (depth && llr_json_counted(node)) {
            q = llr_json_skip(p + 1, end, line, &n);

            if (q == NULL) {
                llr_json_bail(S_VAL);
            }

        } else {
            q = line ? llr_json_find_l(p + 1, end) : llr_json_find(p + 1, end);

            if (q == end || *q != '"') {
                llr_json_bail(S_VAL);
            }

            n = (uint64_t) (q - p - 1);
        }

        if (depth && llr_json_counted(node)) {
            /* generated text: what llr_json_string_end() does */
            if (j->tap) {
                llr_json_tap_whole(j, node, p + 1, q);
            }

            if (n) {
                j->res->content_bytes = llr_add_sat(j->res->content_bytes,
                                                    n);
                j->v_content = 1;
            }

            if (line && llr_json_hole(j, LLR_HOLE_COUNT, p + 1, q)) {
                j->hole_count += n;
            }

            p = q + 1;
            goto value_end;
        }

        if (node == P_MODEL) {
            /* as captured (truncated to cap), then copied */
            j->res->model_len = (uint32_t) llr_copy(j->res->model,
                                  sizeof(j->res->model), (const char *) p + 1,
                                  n < sizeof(j->cap) - 1 ? (size_t) n
                                                         : sizeof(j->cap) - 1);
            j->res->has_model = 1;
            j->v_model = 1;
            p = q + 1;
            goto value_end;
        }

        j->depth = (uint16_t) depth;
        (void) llr_json_value_start(j, c);
        j->str_count = n;

        if (j->role != R_COUNT && j->role != R_NONE) {
            llr_json_cap(j, p + 1, (size_t) n);
        }

        llr_json_string_end(j);
        p = q + 1;
        goto value_end;
    }

    if (c == '{' || c == '[') {
        if (depth >= LLR_JSON_MAX_DEPTH) {
            llr_json_bail(S_VAL);
        }

        /* what llr_json_value_start() does for a container */

        if (depth == 0) {
            node = j->root;

        } else if (node == P_C_E) {
            llr_json_choice_start(j);

        } else if (node != P_NONE) {
            j->depth = (uint16_t) depth;
            node = llr_json_value_start(j, c);
        }

        f = &j->frames[depth++];
        f->node = (uint8_t) node;
        p++;

        if (c == '[') {
            f->arr = 1;
            f->vnode = (uint8_t) llr_json_step(node, K_ELEM);
            goto val_or_end;
        }

        f->arr = 0;
        f->vnode = P_NONE;
        goto key_or_end;
    }

    if (c == '-' || (c >= '0' && c <= '9')) {
        if (node != P_NONE && node != P_C_INDEX && node != P_TC_INDEX) {
            llr_json_bail(S_VAL);
        }

        q = p + 1;

        while (q < end && llr_json_numch[*q]) {
            q++;
        }

        if (q == end) {
            llr_json_bail(S_VAL);
        }

        if (node != P_NONE) {
            /* an "index": the tap's choice or tool call */
            llr_json_tap_index(j, node, p, q);
        }

        if (line) {
            llr_json_hole(j, LLR_HOLE_NUM, p, q);
        }

        p = q;
        goto value_end;
    }

    if (node == P_U_PROMPT || node == P_U_COMPLETION || node == P_A_INPUT
        || node == P_A_OUTPUT)
    {
        /* a count that is not a number: as the byte states take it */
        llr_json_bail(S_VAL);
    }

    switch (c) {
    case 't':
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            p += 4;
            goto value_end;
        }
        break;
    case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            p += 5;
            goto value_end;
        }
        break;
    case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            p += 4;
            goto value_end;
        }
        break;
    }

    llr_json_bail(S_VAL);

value_end:

    if (depth == 0) {
        j->v_complete = 1;
        llr_json_bail(S_END);
    }

    f = &j->frames[depth - 1];

after:

    llr_json_ws_skip(S_AFTER);

    if (c == ',') {
        p++;

        if (f->arr) {
            goto val;
        }

        goto key;
    }

    if (c == (f->arr ? ']' : '}')) {
        depth--;
        p++;
        goto value_end;
    }

    llr_json_bail(S_AFTER);

key_or_end:

    llr_json_ws_skip(S_KEY_OR_END);

    if (c == '}') {
        depth--;
        p++;
        goto value_end;
    }

    st = S_KEY_OR_END;
    goto key_name;

key:

    llr_json_ws_skip(S_KEY);
    st = S_KEY;

key_name:

    if (c != '"') {
        llr_json_bail(st);
    }

    q = line ? llr_json_find_l(p + 1, end) : llr_json_find(p + 1, end);

    if (q == end || *q != '"') {
        llr_json_bail(st);
    }

    f->vnode = (f->node == P_NONE)
               ? P_NONE
               : (uint8_t) llr_json_step(f->node,
                                 llr_json_key(p + 1, (size_t) (q - p - 1)));
    p = q + 1;

colon:

    llr_json_ws_skip(S_COLON);

    if (c != ':') {
        llr_json_bail(S_COLON);
    }

    p++;
    goto val;

out:

    j->depth = (uint16_t) depth;

    return p;
}


/*
 * The body of a string at p, all here, escapes included: returns its
 * closing '"', or NULL if it is not all in [p, end) (in line mode:
 * before a '\r' or '\n'), or has a bad escape.  With count, *count is
 * the number of its decoded bytes as the per-byte states count them.
 */
static llr_inline const unsigned char *
llr_json_skip(const unsigned char *p, const unsigned char *end, int line,
    uint64_t *count)
{
    uint32_t              cp;
    uint64_t              less;
    const unsigned char  *start, *hi;

    start = p;
    less = 0;
    hi = NULL;

    for ( ;; ) {
        p = line ? llr_json_find_l(p, end) : llr_json_find(p, end);

        if (p == end) {
            return NULL;
        }

        if (*p == '"') {
            break;
        }

        if (*p != '\\' || end - p < 2) {
            return NULL;
        }

        if (llr_json_esc1[p[1]]) {
            p += 2;
            less++;
            continue;
        }

        if (p[1] != 'u' || end - p < 6 || llr_json_hex4(p + 2, &cp) != 0) {
            return NULL;
        }

        /* \uXXXX, 6 bytes, counted as the per-byte states count it */

        if (cp >= 0xd800 && cp <= 0xdbff) {
            less += 2;                  /* a pair is 4 bytes */
            p += 6;
            hi = p;
            continue;
        }

        if (cp >= 0xdc00 && cp <= 0xdfff) {
            less += (p == hi) ? 6 : 3;  /* counted with its high half */

        } else {
            less += (cp < 0x80) ? 5 : (cp < 0x800) ? 4 : 3;
        }

        p += 6;
    }

    if (count) {
        *count = (uint64_t) (p - start) - less;
    }

    return p;
}


int
llr_json_hex4(const unsigned char *p, uint32_t *cp)
{
    int       i, c;
    uint32_t  v;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;

        } else {
            return -1;
        }

        v = (v << 4) | (uint32_t) c;
    }

    *cp = v;

    return 0;
}


#ifdef __SSE2__

/* how many of the 16 bytes at p are bytes of a number (16: all) */
static int
llr_json_num16(const unsigned char *p)
{
    int      m;
    __m128i  v, num;

    v = _mm_loadu_si128((const __m128i *) p);

    /* '0' <= v <= '9', or one of - + . e E */
    num = _mm_and_si128(
              _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8('0')), v),
              _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8('9')), v));
    num = _mm_or_si128(num, _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
    num = _mm_or_si128(num, _mm_cmpeq_epi8(v, _mm_set1_epi8('+')));
    num = _mm_or_si128(num, _mm_cmpeq_epi8(v, _mm_set1_epi8('.')));
    num = _mm_or_si128(num, _mm_cmpeq_epi8(v, _mm_set1_epi8('e')));
    num = _mm_or_si128(num, _mm_cmpeq_epi8(v, _mm_set1_epi8('E')));
    m = _mm_movemask_epi8(num);

    return __builtin_ctz((unsigned) ~m | 0x10000);
}

#endif


/*
 * The string body of a string whose bytes are only counted: skip and
 * count plain bytes and one-byte escapes.  Stops at the closing '"',
 * at a '\\' that needs the per-byte states (\u, a bad escape, or one
 * split at the end of the piece), or at end.
 */
static const unsigned char *
llr_json_count(llr_json_t *j, const unsigned char *p,
    const unsigned char *end)
{
    size_t                esc;
    const unsigned char  *start;
#ifdef __SSE2__
    int                   m;
    __m128i               v, quote, bslash;

    quote = _mm_set1_epi8('"');
    bslash = _mm_set1_epi8('\\');
#endif

    start = p;
    esc = 0;

#ifdef __SSE2__
    while (end - p >= 16) {
        v = _mm_loadu_si128((const __m128i *) p);
        m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                           _mm_cmpeq_epi8(v, bslash)));
        if (m == 0) {
            p += 16;
            continue;
        }

        p += __builtin_ctz((unsigned) m);

        if (*p == '"' || end - p < 2 || !llr_json_esc1[p[1]]) {
            goto done;
        }

        p += 2;
        esc++;
    }
#endif

    while (p < end) {
        if (*p != '"' && *p != '\\') {
            p++;
            continue;
        }

        if (*p == '"' || end - p < 2 || !llr_json_esc1[p[1]]) {
            break;
        }

        p += 2;
        esc++;
    }

#ifdef __SSE2__
done:
#endif

    if (p > start) {
        /* an escape is 2 bytes for 1 */
        j->str_count += (uint64_t) (p - start) - esc;
        j->uhi = 0;
    }

    return p;
}


static llr_inline uint64_t
llr_load64(const void *p)
{
    uint64_t  v;

    memcpy(&v, p, 8);
    return v;
}


static llr_inline uint32_t
llr_load32(const void *p)
{
    uint32_t  v;

    memcpy(&v, p, 4);
    return v;
}


/*
 * The id of a key we care about, K_UNKNOWN for any other: by length,
 * then word compares (the last word overlapping; the words of the
 * literals are constants).
 */
static llr_inline unsigned
llr_json_key(const unsigned char *s, size_t len)
{
    uint32_t  w4;
    uint64_t  w;

    if (len < 4 || len > 27) {
        return (len == 2 && s[0] == 'i' && s[1] == 'd') ? K_ID : K_UNKNOWN;
    }

    if (len < 8) {
        w4 = llr_load32(s);

        switch (len) {

        case 4:
            if (w4 == llr_load32("code")) {
                return K_CODE;
            }

            if (w4 == llr_load32("text")) {
                return K_TEXT;
            }

            if (w4 == llr_load32("type")) {
                return K_TYPE;
            }

            break;

        case 5:
            if (w4 == llr_load32("delt")
                && llr_load32(s + 1) == llr_load32("elta"))
            {
                return K_DELTA;
            }

            if (w4 == llr_load32("erro")
                && llr_load32(s + 1) == llr_load32("rror"))
            {
                return K_ERROR;
            }

            if (w4 == llr_load32("inde")
                && llr_load32(s + 1) == llr_load32("ndex"))
            {
                return K_INDEX;
            }

            if (w4 == llr_load32("mode")
                && llr_load32(s + 1) == llr_load32("odel"))
            {
                return K_MODEL;
            }

            if (w4 == llr_load32("usag")
                && llr_load32(s + 1) == llr_load32("sage"))
            {
                return K_USAGE;
            }

            break;

        case 6:
            if (w4 == llr_load32("outp")
                && llr_load32(s + 2) == llr_load32("tput"))
            {
                return K_OUTPUT;
            }

            if (w4 == llr_load32("reas")
                && llr_load32(s + 2) == llr_load32("ason"))
            {
                return K_REASON;
            }

            if (w4 == llr_load32("stat")
                && llr_load32(s + 2) == llr_load32("atus"))
            {
                return K_STATUS;
            }

            break;

        case 7:
            if (w4 == llr_load32("choi")
                && llr_load32(s + 3) == llr_load32("ices"))
            {
                return K_CHOICES;
            }

            if (w4 == llr_load32("cont")
                && llr_load32(s + 3) == llr_load32("tent"))
            {
                return K_CONTENT;
            }

            if (w4 == llr_load32("mess")
                && llr_load32(s + 3) == llr_load32("sage"))
            {
                return K_MESSAGE;
            }

            if (w4 == llr_load32("refu")
                && llr_load32(s + 3) == llr_load32("usal"))
            {
                return K_REFUSAL;
            }

            break;
        }

        return K_UNKNOWN;
    }

    w = llr_load64(s);

    switch (len) {

    case 8:
        if (w == llr_load64("function"))
        {
            return K_FUNCTION;
        }

        if (w == llr_load64("response"))
        {
            return K_RESPONSE;
        }

        if (w == llr_load64("thinking")) {
            return K_THINKING;
        }

        break;

    case 9:
        if (w == llr_load64("argument")
            && llr_load64(s + 1) == llr_load64("rguments"))
        {
            return K_ARGUMENTS;
        }

        break;

    case 10:
        if (w == llr_load64("tool_cal")
            && llr_load64(s + 2) == llr_load64("ol_calls"))
        {
            return K_TOOL_CALLS;
        }

        break;

    case 11:
        if (w == llr_load64("stop_rea")
            && llr_load64(s + 3) == llr_load64("p_reason"))
        {
            return K_STOP_REASON;
        }

        break;

    case 12:
        if (w == llr_load64("input_to")
            && llr_load64(s + 4) == llr_load64("t_tokens"))
        {
            return K_INPUT_TOKENS;
        }

        if (w == llr_load64("total_to")
            && llr_load64(s + 4) == llr_load64("l_tokens"))
        {
            return K_TOTAL_TOKENS;
        }

        if (w == llr_load64("partial_")
            && llr_load64(s + 4) == llr_load64("ial_json"))
        {
            return K_PARTIAL_JSON;
        }

        break;

    case 13:
        if (w == llr_load64("cached_t")
            && llr_load64(s + 5) == llr_load64("d_tokens"))
        {
            return K_CACHED_TOKENS;
        }

        if (w == llr_load64("content_")
            && llr_load64(s + 5) == llr_load64("nt_block"))
        {
            return K_CONTENT_BLOCK;
        }

        if (w == llr_load64("finish_r")
            && llr_load64(s + 5) == llr_load64("h_reason"))
        {
            return K_FINISH_REASON;
        }

        if (w == llr_load64("function")
            && llr_load64(s + 5) == llr_load64("ion_call"))
        {
            return K_FUNCTION_CALL;
        }

        if (w == llr_load64("output_t")
            && llr_load64(s + 5) == llr_load64("t_tokens"))
        {
            return K_OUTPUT_TOKENS;
        }

        if (w == llr_load64("prompt_t")
            && llr_load64(s + 5) == llr_load64("t_tokens"))
        {
            return K_PROMPT_TOKENS;
        }

        break;

    case 14:
        if (w == llr_load64("cache_cr")
            && llr_load64(s + 6) == llr_load64("creation"))
        {
            return K_CACHE_CREATION;
        }

        break;

    case 15:
        if (w == llr_load64("thinking")
            && llr_load64(s + 7) == llr_load64("g_tokens"))
        {
            return K_THINKING_TOKENS;
        }

        break;

    case 16:
        if (w == llr_load64("reasonin")
            && llr_load64(s + 8) == llr_load64("g_tokens"))
        {
            return K_REASONING_TOKENS;
        }

        break;

    case 17:
        if (w == llr_load64("completi")
            && llr_load64(s + 8) == llr_load64("on_token")
            && llr_load64(s + 9) == llr_load64("n_tokens"))
        {
            return K_COMPLETION_TOKENS;
        }

        if (w == llr_load64("reasonin")
            && llr_load64(s + 8) == llr_load64("g_conten")
            && llr_load64(s + 9) == llr_load64("_content"))
        {
            return K_REASONING_CONTENT;
        }

        break;

    case 18:
        if (w == llr_load64("incomple")
            && llr_load64(s + 8) == llr_load64("te_detai")
            && llr_load64(s + 10) == llr_load64("_details"))
        {
            return K_INCOMPLETE_DETAILS;
        }

        break;

    case 20:
        if (w == llr_load64("input_to")
            && llr_load64(s + 8) == llr_load64("kens_det")
            && llr_load64(s + 12) == llr_load64("_details"))
        {
            return K_INPUT_DETAILS;
        }

        break;

    case 21:
        if (w == llr_load64("output_t")
            && llr_load64(s + 8) == llr_load64("okens_de")
            && llr_load64(s + 13) == llr_load64("_details"))
        {
            return K_OUTPUT_DETAILS;
        }

        if (w == llr_load64("prompt_t")
            && llr_load64(s + 8) == llr_load64("okens_de")
            && llr_load64(s + 13) == llr_load64("_details"))
        {
            return K_PROMPT_DETAILS;
        }

        break;

    case 23:
        if (w == llr_load64("cache_re")
            && llr_load64(s + 8) == llr_load64("ad_input")
            && llr_load64(s + 15) == llr_load64("t_tokens"))
        {
            return K_CACHE_READ_TOKENS;
        }

        break;

    case 25:
        if (w == llr_load64("completi")
            && llr_load64(s + 8) == llr_load64("on_token")
            && llr_load64(s + 16) == llr_load64("s_detail")
            && llr_load64(s + 17) == llr_load64("_details"))
        {
            return K_COMPLETION_DETAILS;
        }

        if (w == llr_load64("ephemera")
            && llr_load64(s + 8) == llr_load64("l_1h_inp")
            && llr_load64(s + 16) == llr_load64("ut_token")
            && llr_load64(s + 17) == llr_load64("t_tokens"))
        {
            return K_EPHEMERAL_1H;
        }

        break;

    case 27:
        if (w == llr_load64("cache_cr")
            && llr_load64(s + 8) == llr_load64("eation_i")
            && llr_load64(s + 16) == llr_load64("nput_tok")
            && llr_load64(s + 19) == llr_load64("t_tokens"))
        {
            return K_CACHE_CREATION_TOKENS;
        }

        break;
    }

    return K_UNKNOWN;
}


/*
 * c is '{', '[', '"' or the first character of a number; returns the
 * node of the value (for llr_json_push())
 */
static unsigned
llr_json_value_start(llr_json_t *j, int c)
{
    unsigned     node;
    llr_resp_t  *res;

    res = j->res;
    j->role = R_NONE;
    j->cap_len = 0;
    j->cap_trunc = 0;
    j->str_count = 0;
    j->uhi = 0;

    if (j->depth == 0) {
        return j->root;
    }

    node = j->frames[j->depth - 1].vnode;

    if (node == P_NONE) {
        return node;
    }

    if (node == P_C_E) {
        llr_json_choice_start(j);
        return node;
    }

    if (c == '{' || c == '[' || c == '"') {
        /* not a number: a count that cannot be used */
        llr_json_not_count(j, node);
    }

    switch (c) {

    case '{':
        if (node == P_USAGE) {
            memset(res, 0, offsetof(llr_resp_t, content_bytes));
            res->has_usage = 1;
            j->v_usage = 1;

        } else if (node == P_A_USAGE) {
            /* Anthropic: each count replaces its earlier value only */
            res->has_usage = 1;
            j->v_usage = 1;

        } else if (node == P_ERROR) {
            res->error = 1;
            j->v_error = 1;

        } else if (node == P_C_E_D_FC || node == P_C_E_D_TC_E) {
            j->v_content = 1;
        }

        if (node == P_C_E_D_TC_E || node == P_C_E_M_TC_E
            || (node == P_A_BLOCK && j->frames[j->depth - 1].arr))
        {
            /* a tool call, an Anthropic answer's content block */
            j->tap_index = j->tap_tools++;
        }

        return node;

    case '[':
        if (node == P_CHOICES) {
            j->v_choices = 1;
        }

        return node;

    case '"':
        switch (node) {
        case P_MODEL:
            j->role = R_MODEL;
            break;
        case P_ID:
            if (j->tap) {
                j->role = R_ID;
            }
            break;
        case P_C_E_FINISH:
            j->role = R_FINISH;
            break;
        case P_ERROR:
            j->role = R_ERR;
            res->error = 1;
            j->v_error = 1;
            break;
        case P_E_TYPE:
            j->role = R_ERR_TYPE;
            break;
        case P_E_CODE:
            j->role = R_ERR_CODE;
            break;
        case P_E_MESSAGE:
            j->role = R_ERR_MSG;
            break;
        case P_TYPE:
            j->role = R_TYPE;
            break;
        case P_STATUS:
            j->role = R_STATUS;
            break;
        case P_I_REASON:
            j->role = R_REASON;
            break;
        case P_A_STOP:
            j->role = R_A_STOP;
            break;
        case P_A_BTYPE:
            j->role = R_A_BTYPE;
            break;
        case P_COUNT:
        case P_COUNT_REFUSAL:
        case P_COUNT_REASONING:
        case P_COUNT_ARGS:
        case P_TOP_DELTA:
            j->role = R_COUNT;
            break;
        }

        return node;

    default: /* a number */
        switch (node) {
        case P_U_PROMPT:
            j->role = R_N_PROMPT;
            break;
        case P_U_COMPLETION:
            j->role = R_N_COMPLETION;
            break;
        case P_U_TOTAL:
            j->role = R_N_TOTAL;
            break;
        case P_U_CACHED:
            j->role = R_N_CACHED;
            break;
        case P_U_REASONING:
            j->role = R_N_REASONING;
            break;
        case P_A_INPUT:
            j->role = R_N_A_INPUT;
            break;
        case P_A_OUTPUT:
            j->role = R_N_A_OUTPUT;
            break;
        case P_A_CACHE_WRITE:
            j->role = R_N_A_CACHE_WRITE;
            break;
        case P_A_CACHE_READ:
            j->role = R_N_A_CACHE_READ;
            break;
        case P_A_CACHE_1H:
            j->role = R_N_A_CACHE_1H;
            break;
        case P_E_CODE:
            j->role = R_ERR_CODE;
            break;
        case P_C_INDEX:
            j->role = R_N_CHOICE;
            break;
        case P_TC_INDEX:
            j->role = R_N_TOOL;
            break;
        }

        return node;
    }
}


static void
llr_json_string_end(llr_json_t *j)
{
    llr_resp_t        *res;
    llr_finish_e       fr;
    llr_json_frame_t  *f;

    res = j->res;

    switch (j->role) {

    case R_KEY:
        f = &j->frames[j->depth - 1];
        f->vnode = P_NONE;

        if (!j->cap_trunc && f->node != P_NONE) {
            f->vnode = (uint8_t) llr_json_step(f->node,
                           llr_json_key((const unsigned char *) j->cap,
                                        j->cap_len));
        }

        j->state = S_COLON;
        return;

    case R_MODEL:
        res->model_len = (uint32_t) llr_copy(res->model, sizeof(res->model),
                                             j->cap, j->cap_len);
        res->has_model = 1;
        j->v_model = 1;
        break;

    case R_ID:
        res->id_len = (uint32_t) llr_copy(res->id, sizeof(res->id), j->cap,
                                          j->cap_len);
        break;

    case R_FINISH:
        res->finish[llr_finish_reason(j->cap, j->cap_len)]++;
        j->v_finish = 1;
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
        if (j->depth != 1) {
            break;
        }

        /* a Responses API stream event {"type":"error", ...} */
        if (j->cap_len == 5 && memcmp(j->cap, "error", 5) == 0) {
            res->error = 1;
            j->v_error = 1;
            j->v_end = 1;
            break;
        }

        if (j->root == P_A_ROOT) {
            /* the event that ends an Anthropic stream */
            if (j->cap_len == 12 && memcmp(j->cap, "message_stop", 12) == 0)
            {
                j->v_end = 1;
            }

            break;
        }

        /* the events that end a Responses API stream */
        if ((j->cap_len == 18
             && memcmp(j->cap, "response.completed", 18) == 0)
            || (j->cap_len == 19
                && memcmp(j->cap, "response.incomplete", 19) == 0)
            || (j->cap_len == 15
                && memcmp(j->cap, "response.failed", 15) == 0))
        {
            j->v_end = 1;
        }

        break;

    case R_STATUS:
        if (j->cap_len == 9 && memcmp(j->cap, "completed", 9) == 0) {
            res->finish[LLR_FINISH_STOP]++;
            j->v_finish = 1;
        }

        break;

    case R_REASON:
        fr = (j->cap_len == 17
              && memcmp(j->cap, "max_output_tokens", 17) == 0)
             ? LLR_FINISH_LENGTH : llr_finish_reason(j->cap, j->cap_len);
        res->finish[fr]++;
        j->v_finish = 1;
        break;

    case R_A_STOP:
        res->finish[llr_stop_reason(j->cap, j->cap_len)]++;
        j->v_finish = 1;
        break;

    case R_A_BTYPE:
        /* a tool call begins: what an OpenAI tool call delta is */
        if ((j->cap_len == 8 && memcmp(j->cap, "tool_use", 8) == 0)
            || (j->cap_len == 15
                && memcmp(j->cap, "server_tool_use", 15) == 0))
        {
            j->v_content = 1;

            if (j->tap && j->depth >= 2
                && j->frames[j->depth - 2].node == P_A_CONTENT)
            {
                /*
                 * a tool call of a JSON answer: its "input" is an
                 * object of the answer (so one JSON value), not a
                 * string the tap sees; a stream's calls are their
                 * input_json_delta strings
                 */
                j->tap(j->tap_ctx, P_COUNT_ARGS - P_COUNT, j->tap_choice,
                       j->tap_index, (const unsigned char *) "{}", 2,
                       LLR_JSON_TAP_BEGIN | LLR_JSON_TAP_END);
            }
        }

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

    if (j->role == R_NONE) {
        return;
    }

    if (j->num_len >= sizeof(j->num)
        || llr_parse_uint(j->num, j->num_len, UINT64_MAX, &v, NULL) != 0)
    {
        /* negative, fractional, an exponent, or above 2^64 - 1 */

        if (j->role == R_N_PROMPT || j->role == R_N_A_INPUT) {
            res->usage_valid &= ~LLR_USAGE_PROMPT;

        } else if (j->role == R_N_COMPLETION || j->role == R_N_A_OUTPUT) {
            res->usage_valid &= ~LLR_USAGE_COMPLETION;
        }

        return;
    }

    switch (j->role) {
    case R_N_PROMPT:
        res->prompt_tokens = v;
        res->usage_valid |= LLR_USAGE_PROMPT;
        break;
    case R_N_COMPLETION:
        res->completion_tokens = v;
        res->usage_valid |= LLR_USAGE_COMPLETION;
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
    case R_N_A_INPUT:
        res->input_tokens = v;
        res->usage_valid |= LLR_USAGE_PROMPT;
        break;
    case R_N_A_OUTPUT:
        res->completion_tokens = v;
        res->usage_valid |= LLR_USAGE_COMPLETION;
        return;
    case R_N_A_CACHE_WRITE:
        res->cache_write_tokens = v;
        break;
    case R_N_A_CACHE_READ:
        res->cached_tokens = v;
        break;
    case R_N_A_CACHE_1H:
        res->cache_write_1h_tokens = v;
        return;
    case R_N_CHOICE:
        j->tap_choice = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
        break;
    case R_N_TOOL:
        j->tap_index = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
        break;
    default:
        return;
    }

    if (j->role == R_N_A_INPUT || j->role == R_N_A_CACHE_WRITE
        || j->role == R_N_A_CACHE_READ)
    {
        /* every input token, as OpenAI's prompt_tokens counts them */
        res->prompt_tokens = llr_add_sat(llr_add_sat(res->input_tokens,
                                                     res->cache_write_tokens),
                                         res->cached_tokens);
    }
}


/*
 * The tap: the piece of the current string up to end (its closing
 * quote if last)
 */

static void
llr_json_tap_piece(llr_json_t *j, const unsigned char *end, unsigned last)
{
    unsigned  flags;

    if (end == j->tap_start && !last) {
        return;
    }

    flags = (j->tap_begin ? LLR_JSON_TAP_BEGIN : 0)
            | (last ? LLR_JSON_TAP_END : 0);

    j->tap(j->tap_ctx, j->tap_kind, j->tap_choice, j->tap_index,
           j->tap_start, (size_t) (end - j->tap_start), flags);

    j->tap_begin = 0;
    j->tap_on = !last;
}


/* an "index" number [p, end) in the fast path: as llr_json_number_end() */

static void
llr_json_tap_index(llr_json_t *j, unsigned node, const unsigned char *p,
    const unsigned char *end)
{
    uint64_t  v;

    if (end - p > 10
        || llr_parse_uint((const char *) p, (size_t) (end - p), UINT32_MAX,
                          &v, NULL) != 0)
    {
        return;
    }

    if (node == P_C_INDEX) {
        j->tap_choice = (uint32_t) v;

    } else {
        j->tap_index = (uint32_t) v;
    }
}


/* a token count given as something else than a number: not usable */

static void
llr_json_not_count(llr_json_t *j, unsigned node)
{
    if (node == P_U_PROMPT || node == P_A_INPUT) {
        j->res->usage_valid &= ~LLR_USAGE_PROMPT;

    } else if (node == P_U_COMPLETION || node == P_A_OUTPUT) {
        j->res->usage_valid &= ~LLR_USAGE_COMPLETION;
    }
}


int
llr_usage_usable(const llr_resp_t *res, int prompt_only)
{
    uint32_t  need;

    need = prompt_only ? LLR_USAGE_PROMPT
                       : LLR_USAGE_PROMPT | LLR_USAGE_COMPLETION;

    return res->has_usage && (res->usage_valid & need) == need;
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

    if (j->role == R_COUNT || j->role == R_NONE) {
        return;
    }

    llr_json_cap(j, b, llr_utf8_put(b, cp));
}


static size_t
llr_copy(char *dst, size_t size, const char *src, size_t len)
{
    if (len > size - 1) {
        len = size - 1;
    }

    memcpy(dst, src, len);
    dst[len] = '\0';

    return len;
}


void
llr_usage_init(llr_usage_t *u)
{
    memset(&u->res, 0, sizeof(llr_resp_t));
    llr_json_init(&u->json, &u->res);
}


void
llr_usage_init_format(llr_usage_t *u, llr_format_e fmt)
{
    memset(&u->res, 0, sizeof(llr_resp_t));
    llr_json_init_format(&u->json, &u->res, fmt);
}


void
llr_usage_tokens(const llr_resp_t *res, llr_tokens_t *t)
{
    t->input = res->prompt_tokens;
    t->cache_read = res->cached_tokens;
    t->cache_write = res->cache_write_tokens;
    t->cache_write_1h = res->cache_write_1h_tokens;
    t->output = res->completion_tokens;
    t->reasoning = res->reasoning_tokens;
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
