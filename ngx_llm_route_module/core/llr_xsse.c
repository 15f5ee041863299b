/*
 * ngx_llm_route_module: streamed answers translated between the OpenAI
 * and the Anthropic formats, event by event (see llr_xsse.h).
 */

#include <string.h>

#include "llr_arena.h"
#include "llr_cost.h"
#include "llr_jw.h"
#include "llr_mock.h"
#include "llr_xsse.h"


/* framing: where the current line is */
enum {
    F_START = 0,        /* at the first byte of a line */
    F_FIELD,            /* in the field name */
    F_VALUE_FIRST,      /* right after the colon */
    F_VALUE,
    F_IGNORE            /* a comment, or a field nobody reads */
};

/*
 * the field of the current line: only data is read ("event:" says what
 * the data's "type" says, in both formats)
 */
enum {
    V_NONE = 0,
    V_DATA
};

/* the open content block */
enum {
    B_NONE = 0,
    B_TEXT,
    B_TOOL,
    B_OTHER             /* thinking, server tools: not translated */
};


static const char  llr_xsse_cut_msg[] =
    "The stream from the provider was interrupted before it completed.";

static const char  llr_xsse_big_msg[] =
    "An event of the provider's stream is too large to be translated.";

static const char  llr_xsse_delta_head[] =
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
    "\"index\":";

static const char  llr_xsse_delta_text[] =
    ",\"delta\":{\"type\":\"text_delta\",\"text\":";


struct llr_xsse_s {
    llr_xlate_e         x;
    llr_alloc_t         alloc;
    llr_xsse_opts_t     opts;

    /* framing */
    uint8_t             fstate;
    uint8_t             field;          /* V_* */
    uint8_t             field_len;
    char                field_name[8];
    unsigned            after_cr:1;
    unsigned            comment:1;      /* the line is a comment */
    size_t              data_lines;
    unsigned char      *data;
    size_t              data_len;
    size_t              data_cap;

    /* what was sent */
    unsigned            started:1;      /* the first event or chunk */
    unsigned            ended:1;        /* the client's terminator */
    unsigned            cut:1;          /* ... our error event */
    unsigned            have_stop:1;    /* the answer has its reason */
    unsigned            refusal:1;
    unsigned            have_usage:1;
    unsigned            tool_args:1;    /* from Anthropic: the open tool
                                           block's arguments began */

    char                id[LLR_XSSE_ID_LEN];
    size_t              id_len;
    char                model[LLR_XSSE_ID_LEN];
    size_t              model_len;
    const char         *stop;           /* finish or stop reason */

    int                 block;          /* B_* */
    unsigned            next_block;     /* to Anthropic: its index */
    unsigned            tools;          /* tool calls so far */
    int                 tool;           /* from Anthropic: the open tool
                                           block's tool index */
    uint16_t            tool_block[LLR_XSSE_TOOLS];  /* to Anthropic:
                                           block index + 1 of tool k */

    /*
     * usage as the provider counts it: from Anthropic its input_tokens
     * (without the cache's), from OpenAI its prompt_tokens (with them)
     */
    uint64_t            input;
    uint64_t            cache_write;
    uint64_t            cache_read;
    uint64_t            output;
    uint64_t            thinking;

    llr_jw_t            out;            /* what this call writes */
    llr_jw_t            tmp;
    llr_jw_t            head;           /* a chunk's start, up to its
                                           delta (id, created, model) */
    llr_arena_t         arena;          /* one event's parse */
    llr_alloc_t         scratch;
    unsigned char      *arena_mem;
};


static int llr_xsse_dispatch(llr_xsse_t *xs);
static void llr_xsse_translate(llr_xsse_t *xs, const unsigned char *data,
    size_t len);


llr_xsse_t *
llr_xsse_create(llr_xlate_e x, const llr_alloc_t *alloc,
    const llr_xsse_opts_t *opts)
{
    llr_xsse_t  *xs;

    if (x != LLR_XLATE_CHAT_ANTHROPIC && x != LLR_XLATE_ANTHROPIC_CHAT) {
        return NULL;
    }

    xs = alloc->malloc(alloc->ctx, sizeof(llr_xsse_t));
    if (xs == NULL) {
        return NULL;
    }

    memset(xs, 0, sizeof(llr_xsse_t));

    xs->arena_mem = alloc->malloc(alloc->ctx, LLR_XSSE_SCRATCH);
    if (xs->arena_mem == NULL) {
        if (alloc->free) {
            alloc->free(alloc->ctx, xs);
        }

        return NULL;
    }

    xs->x = x;
    xs->alloc = *alloc;
    xs->opts = *opts;

    if (xs->opts.max_event == 0) {
        xs->opts.max_event = LLR_SSE_MAX_EVENT;
    }

    llr_jw_init(&xs->out, alloc);
    llr_jw_init(&xs->tmp, alloc);
    llr_jw_init(&xs->head, alloc);
    llr_arena_init(&xs->arena, xs->arena_mem, LLR_XSSE_SCRATCH, alloc);
    llr_arena_alloc(&xs->arena, &xs->scratch);

    return xs;
}


void
llr_xsse_destroy(llr_xsse_t *xs)
{
    if (xs == NULL) {
        return;
    }

    llr_jw_free(&xs->out);
    llr_jw_free(&xs->tmp);
    llr_jw_free(&xs->head);

    if (xs->alloc.free) {
        if (xs->data) {
            xs->alloc.free(xs->alloc.ctx, xs->data);
        }

        xs->alloc.free(xs->alloc.ctx, xs->arena_mem);
        xs->alloc.free(xs->alloc.ctx, xs);
    }
}


int
llr_xsse_ended(const llr_xsse_t *xs)
{
    return xs->ended;
}


int
llr_xsse_cut(const llr_xsse_t *xs)
{
    return xs->cut;
}


/* what this call wrote, to the caller */

static int
llr_xsse_flush(llr_xsse_t *xs, llr_sse_emit_pt emit, void *ctx)
{
    int  rc;

    rc = 0;

    if (xs->out.failed) {
        rc = -1;

    } else if (xs->out.len && emit) {
        rc = emit(ctx, xs->out.data, xs->out.len);
    }

    llr_jw_reset(&xs->out);

    return rc;
}


/* ---- writing events ------------------------------------------------- */

/* "event: <type>\ndata: " and the opening of the data's object */
static void
llr_xsse_a_begin(llr_xsse_t *xs, const char *type)
{
    llr_jw_raw(&xs->out, "event: ", 7);
    llr_jw_raw(&xs->out, type, strlen(type));
    llr_jw_raw(&xs->out, "\ndata: ", 7);

    llr_jw_top(&xs->out);
    llr_jw_obj(&xs->out);
    llr_jw_key(&xs->out, "type");
    llr_jw_cstr(&xs->out, type);
}


static void
llr_xsse_end(llr_xsse_t *xs)
{
    llr_jw_obj_end(&xs->out);
    llr_jw_raw(&xs->out, "\n\n", 2);
}


/* an Anthropic error event */
static void
llr_xsse_a_error(llr_xsse_t *xs, const char *type, const char *msg,
    size_t len)
{
    llr_xsse_a_begin(xs, "error");
    llr_jw_key(&xs->out, "error");
    llr_jw_obj(&xs->out);
    llr_jw_key(&xs->out, "type");
    llr_jw_cstr(&xs->out, type);
    llr_jw_key(&xs->out, "message");
    llr_jw_str(&xs->out, msg, len);
    llr_jw_obj_end(&xs->out);
    llr_xsse_end(xs);
}


/* "data: " and an OpenAI error object (code may be NULL) */
static void
llr_xsse_o_error(llr_xsse_t *xs, const char *type, const char *code,
    size_t code_len, const char *msg, size_t len)
{
    llr_jw_raw(&xs->out, "data: ", 6);
    llr_jw_top(&xs->out);

    llr_jw_obj(&xs->out);
    llr_jw_key(&xs->out, "error");
    llr_jw_obj(&xs->out);
    llr_jw_key(&xs->out, "message");
    llr_jw_str(&xs->out, msg, len);
    llr_jw_key(&xs->out, "type");
    llr_jw_cstr(&xs->out, type);
    llr_jw_key(&xs->out, "param");
    llr_jw_null(&xs->out);
    llr_jw_key(&xs->out, "code");

    if (code) {
        llr_jw_str(&xs->out, code, code_len);

    } else {
        llr_jw_null(&xs->out);
    }

    llr_jw_obj_end(&xs->out);
    llr_xsse_end(xs);
}


size_t
llr_xsse_cut_event(llr_format_e fmt, const unsigned char **p)
{
    static const char  openai[] =
        "data: {\"error\":{\"message\":\"The stream from the provider was "
        "interrupted before it completed.\",\"type\":\"server_error\","
        "\"param\":null,\"code\":\"stream_interrupted\"}}\n\n";

    static const char  anthropic[] =
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
        "\"api_error\",\"message\":\"The stream from the provider was "
        "interrupted before it completed.\"}}\n\n";

    if (fmt == LLR_FMT_ANTHROPIC) {
        *p = (const unsigned char *) anthropic;
        return sizeof(anthropic) - 1;
    }

    *p = (const unsigned char *) openai;
    return sizeof(openai) - 1;
}


/* the translator's own error: the stream ends with it */
static void
llr_xsse_fail(llr_xsse_t *xs, const char *msg)
{
    if (xs->ended) {
        return;
    }

    if (xs->x == LLR_XLATE_CHAT_ANTHROPIC) {
        llr_xsse_o_error(xs, "server_error", "stream_interrupted", 18, msg,
                         strlen(msg));

    } else {
        llr_xsse_a_error(xs, "api_error", msg, strlen(msg));
    }

    xs->ended = 1;
    xs->cut = 1;
}


static void
llr_xsse_copy(char *dst, size_t *dlen, const llr_jv_t *v)
{
    size_t  n;

    if (v == NULL || v->type != LLR_JV_STRING) {
        return;
    }

    n = v->len < LLR_XSSE_ID_LEN ? v->len : LLR_XSSE_ID_LEN;

    memcpy(dst, v->str, n);
    *dlen = n;
}


/* ---- Anthropic -> OpenAI ------------------------------------------- */

/* "data: " and a chunk's members that are the same in every chunk */
static void
llr_xsse_chunk_start(llr_xsse_t *xs, llr_jw_t *w)
{
    llr_jw_raw(w, "data: ", 6);
    llr_jw_top(w);
    llr_jw_obj(w);
    llr_jw_key(w, "id");
    llr_jw_str(w, xs->id, xs->id_len);
    llr_jw_key(w, "object");
    llr_jw_cstr(w, "chat.completion.chunk");
    llr_jw_key(w, "created");
    llr_jw_int(w, xs->opts.created);
    llr_jw_key(w, "model");
    llr_jw_str(w, xs->model, xs->model_len);
}


/*
 * "data: " and a chunk up to its delta's members: the same bytes for
 * every chunk of a stream, written once (again when message_start
 * names the id and the model)
 */
static void
llr_xsse_chunk(llr_xsse_t *xs)
{
    llr_jw_t  *h;

    h = &xs->head;

    if (h->len == 0) {
        llr_xsse_chunk_start(xs, h);
        llr_jw_key(h, "choices");
        llr_jw_arr(h);
        llr_jw_obj(h);
        llr_jw_key(h, "index");
        llr_jw_uint(h, 0);
        llr_jw_key(h, "delta");
        llr_jw_obj(h);

        if (h->failed) {
            xs->out.failed = 1;
            return;
        }
    }

    llr_jw_raw(&xs->out, h->data, h->len);
    llr_jw_resume(&xs->out, 4);
}


static void
llr_xsse_chunk_end(llr_xsse_t *xs, const char *finish)
{
    llr_jw_obj_end(&xs->out);
    llr_jw_key(&xs->out, "logprobs");
    llr_jw_null(&xs->out);
    llr_jw_key(&xs->out, "finish_reason");

    if (finish) {
        llr_jw_cstr(&xs->out, finish);

    } else {
        llr_jw_null(&xs->out);
    }

    llr_jw_obj_end(&xs->out);
    llr_jw_arr_end(&xs->out);
    llr_xsse_end(xs);
}


/* the end of a chat stream: the usage chunk if asked for, [DONE] */
static void
llr_xsse_o_done(llr_xsse_t *xs)
{
    uint64_t  prompt;

    if (xs->opts.include_usage == 1) {
        prompt = llr_add_sat(llr_add_sat(xs->input, xs->cache_write),
                             xs->cache_read);

        llr_xsse_chunk_start(xs, &xs->out);
        llr_jw_key(&xs->out, "choices");
        llr_jw_arr(&xs->out);
        llr_jw_arr_end(&xs->out);
        llr_xlate_usage_chat(&xs->out, prompt, xs->cache_read, xs->output,
                             xs->thinking);
        llr_xsse_end(xs);
    }

    llr_jw_raw(&xs->out, "data: [DONE]\n\n", 14);
    xs->ended = 1;
}


/* an Anthropic usage object: its counts replace the kept ones */
static void
llr_xsse_usage(llr_xsse_t *xs, const llr_jv_t *u)
{
    if (u == NULL || u->type != LLR_JV_OBJECT) {
        return;
    }

    llr_xlate_count(u, "input_tokens", &xs->input);
    llr_xlate_count(u, "cache_creation_input_tokens", &xs->cache_write);
    llr_xlate_count(u, "cache_read_input_tokens", &xs->cache_read);
    llr_xlate_count(u, "output_tokens", &xs->output);
    llr_xlate_count(llr_jv_get(u, "output_tokens_details"),
                   "thinking_tokens", &xs->thinking);
    xs->have_usage = 1;
}


/* a chunk whose delta has text (a string that is not empty) as key */
static void
llr_xsse_delta(llr_xsse_t *xs, const char *key, const llr_jv_t *text)
{
    if (text == NULL || text->type != LLR_JV_STRING || text->len == 0) {
        return;
    }

    llr_xsse_chunk(xs);
    llr_jw_key(&xs->out, key);
    llr_jw_str(&xs->out, text->str, text->len);
    llr_xsse_chunk_end(xs, NULL);
}


/* a chunk about the open tool call, up to its entry's members */
static void
llr_xsse_tool_begin(llr_xsse_t *xs)
{
    llr_xsse_chunk(xs);
    llr_jw_key(&xs->out, "tool_calls");
    llr_jw_arr(&xs->out);
    llr_jw_obj(&xs->out);
    llr_jw_key(&xs->out, "index");
    llr_jw_uint(&xs->out, (uint64_t) xs->tool);
}


static void
llr_xsse_tool_end(llr_xsse_t *xs)
{
    llr_jw_obj_end(&xs->out);       /* function */
    llr_jw_obj_end(&xs->out);
    llr_jw_arr_end(&xs->out);
    llr_xsse_chunk_end(xs, NULL);
}


/* a chunk with more arguments of the open tool call */
static void
llr_xsse_tool_args(llr_xsse_t *xs, const char *args, size_t len)
{
    llr_xsse_tool_begin(xs);
    llr_jw_key(&xs->out, "function");
    llr_jw_obj(&xs->out);
    llr_jw_key(&xs->out, "arguments");
    llr_jw_str(&xs->out, args, len);
    llr_xsse_tool_end(xs);
}


static void
llr_xsse_from_anthropic(llr_xsse_t *xs, const llr_jv_t *ev)
{
    const llr_jv_t  *type, *m, *b, *d, *t, *e;

    type = llr_jv_get(ev, "type");

    if (llr_jv_is(type, "message_start")) {
        m = llr_jv_get(ev, "message");
        llr_xsse_copy(xs->id, &xs->id_len, llr_jv_get(m, "id"));
        llr_xsse_copy(xs->model, &xs->model_len, llr_jv_get(m, "model"));
        llr_jw_reset(&xs->head);
        llr_xsse_usage(xs, llr_jv_get(m, "usage"));

        if (!xs->started) {
            xs->started = 1;
            llr_xsse_chunk(xs);
            llr_jw_key(&xs->out, "role");
            llr_jw_cstr(&xs->out, "assistant");
            llr_jw_key(&xs->out, "content");
            llr_jw_cstr(&xs->out, "");
            llr_xsse_chunk_end(xs, NULL);
        }

        return;
    }

    if (llr_jv_is(type, "content_block_start")) {
        b = llr_jv_get(ev, "content_block");
        t = llr_jv_get(b, "type");

        if (llr_jv_is(t, "tool_use")) {
            xs->block = B_TOOL;
            xs->tool = (int) xs->tools++;

            llr_xsse_tool_begin(xs);

            t = llr_jv_get(b, "id");

            if (t && t->type == LLR_JV_STRING) {
                llr_jw_key(&xs->out, "id");
                llr_jw_str(&xs->out, t->str, t->len);
            }

            llr_jw_key(&xs->out, "type");
            llr_jw_cstr(&xs->out, "function");
            llr_jw_key(&xs->out, "function");
            llr_jw_obj(&xs->out);

            t = llr_jv_get(b, "name");

            if (t && t->type == LLR_JV_STRING) {
                llr_jw_key(&xs->out, "name");
                llr_jw_str(&xs->out, t->str, t->len);
            }

            llr_jw_key(&xs->out, "arguments");

            /* an input given whole (deltas then add nothing to it) */
            t = llr_jv_get(b, "input");
            xs->tool_args = (t && t->type == LLR_JV_OBJECT && t->n);

            if (xs->tool_args) {
                llr_jw_value_str(&xs->out, &xs->tmp, t);

            } else {
                llr_jw_cstr(&xs->out, "");
            }

            llr_xsse_tool_end(xs);

        } else if (llr_jv_is(t, "text")) {
            xs->block = B_TEXT;

            /* a block may start with text (it does not, as documented) */
            llr_xsse_delta(xs, "content", llr_jv_get(b, "text"));

        } else {
            xs->block = B_OTHER;
        }

        return;
    }

    if (llr_jv_is(type, "content_block_delta")) {
        d = llr_jv_get(ev, "delta");
        t = llr_jv_get(d, "type");

        if (llr_jv_is(t, "text_delta")) {
            llr_xsse_delta(xs, "content", llr_jv_get(d, "text"));

        } else if (llr_jv_is(t, "input_json_delta") && xs->block == B_TOOL) {
            t = llr_jv_get(d, "partial_json");

            if (t && t->type == LLR_JV_STRING && t->len) {
                xs->tool_args = 1;
                llr_xsse_tool_args(xs, t->str, t->len);
            }

        } else if (llr_jv_is(t, "thinking_delta")) {
            llr_xsse_delta(xs, "reasoning_content",
                           llr_jv_get(d, "thinking"));
        }

        return;
    }

    if (llr_jv_is(type, "content_block_stop")) {
        if (xs->block == B_TOOL && !xs->tool_args) {
            /* a tool without input: "{}", as OpenAI's arguments are */
            llr_xsse_tool_args(xs, "{}", 2);
        }

        xs->block = B_NONE;
        return;
    }

    if (llr_jv_is(type, "message_delta")) {
        d = llr_jv_get(ev, "delta");
        t = llr_jv_get(d, "stop_reason");
        llr_xsse_usage(xs, llr_jv_get(ev, "usage"));

        if (t && t->type == LLR_JV_STRING) {
            xs->stop = llr_xlate_finish_reason(t->str, t->len);
            xs->have_stop = 1;

            llr_xsse_chunk(xs);
            llr_xsse_chunk_end(xs, xs->stop);
        }

        return;
    }

    if (llr_jv_is(type, "message_stop")) {
        llr_xsse_o_done(xs);
        return;
    }

    if (llr_jv_is(type, "ping")) {
        llr_jw_raw(&xs->out, ": ping\n\n", 8);
        return;
    }

    if (llr_jv_is(type, "error")) {
        e = llr_jv_get(ev, "error");
        t = llr_jv_get(e, "type");
        m = llr_jv_get(e, "message");

        if (t && t->type != LLR_JV_STRING) {
            t = NULL;
        }

        llr_xsse_o_error(xs, llr_jv_is(t, "rate_limit_error") ? "requests"
                             : llr_jv_is(t, "invalid_request_error")
                               ? "invalid_request_error" : "server_error",
                         t ? t->str : NULL, t ? t->len : 0,
                         m && m->type == LLR_JV_STRING ? m->str
                                                       : llr_xsse_cut_msg,
                         m && m->type == LLR_JV_STRING
                         ? m->len : sizeof(llr_xsse_cut_msg) - 1);
        xs->ended = 1;
        return;
    }

    /* other events (new ones of the API): nothing */
}


/* ---- OpenAI -> Anthropic ------------------------------------------- */

static void
llr_xsse_a_stop_block(llr_xsse_t *xs)
{
    if (xs->block == B_NONE) {
        return;
    }

    llr_xsse_a_begin(xs, "content_block_stop");
    llr_jw_key(&xs->out, "index");
    llr_jw_uint(&xs->out, xs->next_block - 1);
    llr_xsse_end(xs);

    xs->block = B_NONE;
}


static void
llr_xsse_a_start(llr_xsse_t *xs)
{
    if (xs->started) {
        return;
    }

    xs->started = 1;

    llr_xsse_a_begin(xs, "message_start");
    llr_jw_key(&xs->out, "message");
    llr_jw_obj(&xs->out);
    llr_jw_key(&xs->out, "id");
    llr_xlate_msg_id(&xs->out, (const unsigned char *) xs->id, xs->id_len);
    llr_jw_key(&xs->out, "type");
    llr_jw_cstr(&xs->out, "message");
    llr_jw_key(&xs->out, "role");
    llr_jw_cstr(&xs->out, "assistant");
    llr_jw_key(&xs->out, "model");
    llr_jw_str(&xs->out, xs->model, xs->model_len);
    llr_jw_key(&xs->out, "content");
    llr_jw_arr(&xs->out);
    llr_jw_arr_end(&xs->out);
    llr_jw_key(&xs->out, "stop_reason");
    llr_jw_null(&xs->out);
    llr_jw_key(&xs->out, "stop_sequence");
    llr_jw_null(&xs->out);
    llr_jw_key(&xs->out, "usage");
    llr_jw_obj(&xs->out);
    llr_jw_key(&xs->out, "input_tokens");
    llr_jw_uint(&xs->out, 0);
    llr_jw_key(&xs->out, "output_tokens");
    llr_jw_uint(&xs->out, 0);
    llr_jw_obj_end(&xs->out);
    llr_jw_obj_end(&xs->out);
    llr_xsse_end(xs);
}


static void
llr_xsse_a_text(llr_xsse_t *xs, const llr_jv_t *t)
{
    if (xs->block != B_TEXT) {
        llr_xsse_a_stop_block(xs);

        llr_xsse_a_begin(xs, "content_block_start");
        llr_jw_key(&xs->out, "index");
        llr_jw_uint(&xs->out, xs->next_block);
        llr_jw_key(&xs->out, "content_block");
        llr_jw_raw(&xs->out, "{\"type\":\"text\",\"text\":\"\"}", 25);
        llr_xsse_end(xs);

        xs->block = B_TEXT;
        xs->next_block++;
    }

    /* the most frequent event: its constant bytes as they are */
    llr_jw_raw(&xs->out, llr_xsse_delta_head,
               sizeof(llr_xsse_delta_head) - 1);
    llr_jw_top(&xs->out);
    llr_jw_uint(&xs->out, xs->next_block - 1);
    llr_jw_raw(&xs->out, llr_xsse_delta_text,
               sizeof(llr_xsse_delta_text) - 1);
    llr_jw_str(&xs->out, t->str, t->len);
    llr_jw_raw(&xs->out, "}}\n\n", 4);
}


static void
llr_xsse_a_tool(llr_xsse_t *xs, const llr_jv_t *call)
{
    uint64_t         k;
    const llr_jv_t  *t, *id, *fn, *name, *args;

    t = llr_jv_get(call, "index");

    if (t == NULL || t->type != LLR_JV_NUMBER
        || llr_parse_uint(t->str, t->len, UINT64_MAX, &k, NULL) != 0)
    {
        /* no index: the last tool call goes on */
        k = xs->tools ? xs->tools - 1 : 0;
    }

    if (k >= LLR_XSSE_TOOLS) {
        llr_xsse_fail(xs, "Too many tool calls in the provider's stream.");
        return;
    }

    id = llr_jv_get(call, "id");
    fn = llr_jv_get(call, "function");
    name = llr_jv_get(fn, "name");
    args = llr_jv_get(fn, "arguments");

    if (xs->tool_block[k] == 0 || (id && id->type == LLR_JV_STRING)) {
        /* a new tool call */
        llr_xsse_a_stop_block(xs);

        llr_xsse_a_begin(xs, "content_block_start");
        llr_jw_key(&xs->out, "index");
        llr_jw_uint(&xs->out, xs->next_block);
        llr_jw_key(&xs->out, "content_block");
        llr_jw_obj(&xs->out);
        llr_jw_key(&xs->out, "type");
        llr_jw_cstr(&xs->out, "tool_use");
        llr_jw_member_str(&xs->out, "id", id);
        llr_jw_member_str(&xs->out, "name", name);
        llr_jw_key(&xs->out, "input");
        llr_jw_obj(&xs->out);
        llr_jw_obj_end(&xs->out);
        llr_jw_obj_end(&xs->out);
        llr_xsse_end(xs);

        xs->block = B_TOOL;
        xs->tool_block[k] = (uint16_t) (xs->next_block + 1);
        xs->next_block++;

        if (k + 1 > xs->tools) {
            xs->tools = (unsigned) k + 1;
        }
    }

    if (args && args->type == LLR_JV_STRING && args->len) {
        /* to the tool's own block, even if another one started since */
        llr_xsse_a_begin(xs, "content_block_delta");
        llr_jw_key(&xs->out, "index");
        llr_jw_uint(&xs->out, (uint64_t) xs->tool_block[k] - 1);
        llr_jw_key(&xs->out, "delta");
        llr_jw_obj(&xs->out);
        llr_jw_key(&xs->out, "type");
        llr_jw_cstr(&xs->out, "input_json_delta");
        llr_jw_key(&xs->out, "partial_json");
        llr_jw_str(&xs->out, args->str, args->len);
        llr_jw_obj_end(&xs->out);
        llr_xsse_end(xs);
    }
}


/* the end of a Messages stream: message_delta, message_stop */
static void
llr_xsse_a_done(llr_xsse_t *xs)
{
    llr_xsse_a_start(xs);
    llr_xsse_a_stop_block(xs);

    llr_xsse_a_begin(xs, "message_delta");
    llr_jw_key(&xs->out, "delta");
    llr_jw_obj(&xs->out);
    llr_jw_key(&xs->out, "stop_reason");
    llr_jw_cstr(&xs->out, xs->refusal ? "refusal"
                          : xs->stop ? xs->stop : "end_turn");
    llr_jw_key(&xs->out, "stop_sequence");
    llr_jw_null(&xs->out);
    llr_jw_obj_end(&xs->out);

    if (xs->have_usage) {
        llr_xlate_usage_anthropic(&xs->out, xs->input, xs->cache_read,
                                  xs->output);

    } else {
        llr_jw_key(&xs->out, "usage");
        llr_jw_obj(&xs->out);
        llr_jw_key(&xs->out, "output_tokens");
        llr_jw_uint(&xs->out, 0);
        llr_jw_obj_end(&xs->out);
    }

    llr_xsse_end(xs);

    llr_xsse_a_begin(xs, "message_stop");
    llr_xsse_end(xs);

    xs->ended = 1;
}


static void
llr_xsse_from_chat(llr_xsse_t *xs, const llr_jv_t *ev)
{
    const llr_jv_t  *e, *m, *c, *d, *t, *u;

    e = llr_jv_get(ev, "error");

    if (e && e->type != LLR_JV_NULL) {
        m = e->type == LLR_JV_STRING ? e : llr_jv_get(e, "message");
        t = llr_jv_get(e, "type");

        llr_xsse_a_error(xs, llr_jv_is(t, "requests")
                             || llr_jv_is(t, "tokens") ? "rate_limit_error"
                             : llr_jv_is(t, "invalid_request_error")
                               ? "invalid_request_error" : "api_error",
                         m && m->type == LLR_JV_STRING ? m->str
                                                       : llr_xsse_cut_msg,
                         m && m->type == LLR_JV_STRING
                         ? m->len : sizeof(llr_xsse_cut_msg) - 1);
        xs->ended = 1;
        return;
    }

    if (!xs->started) {
        llr_xsse_copy(xs->id, &xs->id_len, llr_jv_get(ev, "id"));
        llr_xsse_copy(xs->model, &xs->model_len, llr_jv_get(ev, "model"));
        llr_xsse_a_start(xs);
    }

    c = llr_jv_get(ev, "choices");
    c = (c && c->type == LLR_JV_ARRAY) ? c->child : NULL;
    d = llr_jv_get(c, "delta");

    t = llr_jv_get(d, "content");

    if (t && t->type == LLR_JV_STRING && t->len) {
        llr_xsse_a_text(xs, t);
    }

    t = llr_jv_get(d, "refusal");

    if (t && t->type == LLR_JV_STRING && t->len) {
        xs->refusal = 1;
        llr_xsse_a_text(xs, t);
    }

    t = llr_jv_get(d, "tool_calls");

    if (t && t->type == LLR_JV_ARRAY) {
        for (t = t->child; t && !xs->ended; t = t->next) {
            llr_xsse_a_tool(xs, t);
        }
    }

    t = llr_jv_get(c, "finish_reason");

    if (t && t->type == LLR_JV_STRING) {
        xs->stop = llr_xlate_stop_reason(t->str, t->len);
        xs->have_stop = 1;
        llr_xsse_a_stop_block(xs);
    }

    u = llr_jv_get(ev, "usage");

    if (u && u->type == LLR_JV_OBJECT) {
        /* as the module keeps them: input counts the cached tokens */
        xs->input = 0;
        xs->cache_read = 0;
        xs->output = 0;
        llr_xlate_chat_counts(u, &xs->input, &xs->cache_read, &xs->output);
        xs->have_usage = 1;
    }
}


/* ---- events ---------------------------------------------------------- */

/*
 * The top-level members an event's translation reads: the others are
 * checked, not kept (a chunk's "created", "object", "system_fingerprint",
 * an event's "index"...)
 */

#define llr_xsse_is(key, len, s)                                             \
    ((len) == sizeof(s) - 1 && memcmp(key, s, sizeof(s) - 1) == 0)

static int
llr_xsse_want_anthropic(const char *key, size_t len)
{
    return llr_xsse_is(key, len, "type") || llr_xsse_is(key, len, "delta")
           || llr_xsse_is(key, len, "content_block")
           || llr_xsse_is(key, len, "message")
           || llr_xsse_is(key, len, "usage")
           || llr_xsse_is(key, len, "error");
}


static int
llr_xsse_want_chat(const char *key, size_t len)
{
    return llr_xsse_is(key, len, "choices") || llr_xsse_is(key, len, "id")
           || llr_xsse_is(key, len, "model")
           || llr_xsse_is(key, len, "usage")
           || llr_xsse_is(key, len, "error");
}


/* one event's data: translated into xs->out */

static void
llr_xsse_translate(llr_xsse_t *xs, const unsigned char *data, size_t len)
{
    const char    *err;
    llr_jv_doc_t  *doc;

    if (data == NULL) {
        /* an event of empty data lines: nothing was stored */
        data = (const unsigned char *) "";
        len = 0;
    }

    if (!xs->ended) {
        /* "[DONE]", with white space around it */
        while (len && (*data == ' ' || *data == '\t' || *data == '\n')) {
            data++;
            len--;
        }

        while (len && (data[len - 1] == ' ' || data[len - 1] == '\t'
                       || data[len - 1] == '\n'))
        {
            len--;
        }

        if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
            if (xs->x == LLR_XLATE_ANTHROPIC_CHAT) {
                llr_xsse_a_done(xs);
            }

        } else {
            doc = llr_jv_parse(&xs->scratch, data, len,
                               xs->x == LLR_XLATE_CHAT_ANTHROPIC
                               ? llr_xsse_want_anthropic : llr_xsse_want_chat,
                               &err);

            /* what is not a JSON object is no event of the API: skipped */

            if (doc && doc->root->type == LLR_JV_OBJECT) {
                if (xs->x == LLR_XLATE_CHAT_ANTHROPIC) {
                    llr_xsse_from_anthropic(xs, doc->root);

                } else {
                    llr_xsse_from_chat(xs, doc->root);
                }
            }

            llr_jv_free(doc);
            llr_arena_reset(&xs->arena);
        }
    }
}


int
llr_xsse_event(llr_xsse_t *xs, const unsigned char *name, size_t name_len,
    const unsigned char *data, size_t len, llr_sse_emit_pt emit, void *ctx)
{
    /* the data's "type" names the event in both formats: name unused */
    llr_xsse_translate(xs, data, len);

    return llr_xsse_flush(xs, emit, ctx);
}


/* ---- framing ---------------------------------------------------------- */

/* the first '\r' or '\n' in [p, end), or end */
static const unsigned char *
llr_xsse_eol(const unsigned char *p, const unsigned char *end)
{
    const unsigned char  *lf, *cr;

    lf = memchr(p, '\n', (size_t) (end - p));
    cr = memchr(p, '\r', (size_t) ((lf ? lf : end) - p));

    return cr ? cr : lf ? lf : end;
}


/* append n bytes at p to the event's data; -1 if it grows too big */
static int
llr_xsse_data(llr_xsse_t *xs, const unsigned char *p, size_t n)
{
    size_t          cap;
    unsigned char  *d;

    if (n > xs->opts.max_event - xs->data_len) {
        return -1;
    }

    if (xs->data_len + n > xs->data_cap) {
        cap = xs->data_cap ? xs->data_cap : 256;

        while (cap < xs->data_len + n) {
            cap *= 2;
        }

        if (cap > xs->opts.max_event) {
            cap = xs->opts.max_event;
        }

        d = xs->alloc.realloc(xs->alloc.ctx, xs->data, cap);
        if (d == NULL) {
            return -1;
        }

        xs->data = d;
        xs->data_cap = cap;
    }

    if (n) {
        memcpy(xs->data + xs->data_len, p, n);
        xs->data_len += n;
    }

    return 0;
}


/* the field name of the current line is complete */
static int
llr_xsse_field(llr_xsse_t *xs)
{
    if (xs->field_len == 4 && memcmp(xs->field_name, "data", 4) == 0) {
        xs->field = V_DATA;

        /* the data lines of an event are joined with '\n' */
        if (xs->data_lines++
            && llr_xsse_data(xs, (const unsigned char *) "\n", 1) != 0)
        {
            return -1;
        }

    } else {
        xs->field = V_NONE;
    }

    return 0;
}


/* a line ended (its line end not fed) */
static int
llr_xsse_line(llr_xsse_t *xs)
{
    int  rc;

    rc = 0;

    switch (xs->fstate) {

    case F_START:
        /* a blank line: the event is complete */
        rc = llr_xsse_dispatch(xs);
        break;

    case F_FIELD:
        /* a field name without a colon: an empty value */
        rc = llr_xsse_field(xs);
        break;

    case F_IGNORE:
        if (xs->comment && xs->x == LLR_XLATE_ANTHROPIC_CHAT
            && xs->started && !xs->ended)
        {
            /* an SSE comment of the provider's keeps the client alive */
            llr_xsse_a_begin(xs, "ping");
            llr_xsse_end(xs);
        }
        break;
    }

    xs->fstate = F_START;
    xs->comment = 0;

    return rc;
}


static int
llr_xsse_dispatch(llr_xsse_t *xs)
{
    if (xs->data_lines) {
        llr_xsse_translate(xs, xs->data, xs->data_len);
    }

    xs->data_len = 0;
    xs->data_lines = 0;

    return 0;
}


int
llr_xsse_feed(llr_xsse_t *xs, const unsigned char *data, size_t len,
    llr_sse_emit_pt emit, void *ctx)
{
    int                   c;
    size_t                n;
    const unsigned char  *p, *end, *q;

    p = data;
    end = data + len;

    while (p < end && !xs->ended) {
        c = *p;

        if (xs->after_cr) {
            xs->after_cr = 0;

            if (c == '\n') {
                p++;
                continue;
            }
        }

        if (c == '\r' || c == '\n') {
            xs->after_cr = (c == '\r');
            p++;

            if (llr_xsse_line(xs) != 0) {
                llr_xsse_fail(xs, llr_xsse_big_msg);
            }

            continue;
        }

        switch (xs->fstate) {

        case F_START:
            if (c == ':') {
                xs->fstate = F_IGNORE;
                xs->comment = 1;
                p++;
                continue;
            }

            xs->fstate = F_FIELD;
            xs->field_len = 0;

            /* fall through */

        case F_FIELD:
            p++;

            if (c != ':') {
                if (xs->field_len < sizeof(xs->field_name)) {
                    xs->field_name[xs->field_len++] = (char) c;

                } else {
                    /* too long for a field that is read */
                    xs->field_name[0] = '\0';
                }

                continue;
            }

            if (llr_xsse_field(xs) != 0) {
                llr_xsse_fail(xs, llr_xsse_big_msg);
                continue;
            }

            xs->fstate = (xs->field == V_NONE) ? F_IGNORE : F_VALUE_FIRST;
            continue;

        case F_VALUE_FIRST:
            xs->fstate = F_VALUE;

            if (c == ' ') {
                p++;
                continue;
            }

            /* fall through */

        case F_VALUE:
            q = llr_xsse_eol(p, end);
            n = (size_t) (q - p);

            if (llr_xsse_data(xs, p, n) != 0) {
                llr_xsse_fail(xs, llr_xsse_big_msg);
            }

            p = q;
            continue;

        default: /* F_IGNORE */
            p = llr_xsse_eol(p, end);
            continue;
        }
    }

    return llr_xsse_flush(xs, emit, ctx);
}


int
llr_xsse_finish(llr_xsse_t *xs, llr_sse_emit_pt emit, void *ctx)
{
    if (!xs->ended) {
        /* the last line, and an event without its blank line */
        if (xs->fstate != F_START && llr_xsse_line(xs) != 0) {
            llr_xsse_fail(xs, llr_xsse_big_msg);
        }

        (void) llr_xsse_dispatch(xs);
    }

    if (!xs->ended) {
        if (xs->have_stop) {
            /* the answer is whole: only its terminator is missing */
            if (xs->x == LLR_XLATE_CHAT_ANTHROPIC) {
                llr_xsse_o_done(xs);

            } else {
                llr_xsse_a_done(xs);
            }

        } else {
            llr_xsse_fail(xs, llr_xsse_cut_msg);
        }
    }

    return llr_xsse_flush(xs, emit, ctx);
}
