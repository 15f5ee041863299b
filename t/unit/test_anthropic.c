/*
 * Unit tests of the Anthropic Messages side of the pass-through path:
 * the request scanner on /messages and /messages/count_tokens bodies
 * (core/llr_req.c), the usage scanner on Anthropic answers and the SSE
 * parser on Anthropic streams (core/llr_usage.c, llr_sse.c), and the
 * cost of cache writes and reads (core/llr_cost.c), checked against
 * the providers' own arithmetic.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "llr_req.h"
#include "llr_usage.h"
#include "llr_sse.h"
#include "llr_cost.h"


/* a growable string */

typedef struct {
    char    *s;
    size_t   len;
    size_t   cap;
} sb_t;


static void
sb_add(sb_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL) {
            abort();
        }
    }

    if (n) {
        memcpy(b->s + b->len, p, n);
    }
    b->len += n;
    b->s[b->len] = '\0';
}


static void
sb_free(sb_t *b)
{
    free(b->s);
    memset(b, 0, sizeof(sb_t));
}


static void *
t_malloc(void *ctx, size_t size)
{
    return malloc(size);
}


static void *
t_realloc(void *ctx, void *p, size_t size)
{
    return realloc(p, size);
}


static void
t_free(void *ctx, void *p)
{
    free(p);
}


static const llr_alloc_t  t_alloc = { t_malloc, t_realloc, t_free, NULL };


/* the request scanner: the sink's calls as "<role>text</>" */

static void
t_begin(void *ctx, const char *role, size_t turn)
{
    sb_add(ctx, "<", 1);
    sb_add(ctx, role, strlen(role));
    sb_add(ctx, ">", 1);
}


static void
t_text(void *ctx, const unsigned char *p, size_t len)
{
    sb_add(ctx, p, len);
}


static void
t_end(void *ctx)
{
    sb_add(ctx, "</>", 3);
}


static int
t_want(void *ctx, const unsigned char *model, size_t len)
{
    return len != 4 || memcmp(model, "skip", 4) != 0;
}


typedef struct {
    llr_out_t       out;
    unsigned char   chunk[16];
    sb_t            acc;
    int             tail_comma;
} t_out_t;


static void
t_out_take(t_out_t *o)
{
    sb_add(&o->acc, o->chunk, (size_t) (o->out.pos - o->chunk));
    o->out.pos = o->chunk;
    o->out.end = o->chunk + sizeof(o->chunk);
}


static int
t_out_next(llr_out_t *out)
{
    t_out_take(out->data);
    return 0;
}


static int
t_out_mark(llr_out_t *out, llr_mark_e mark, int comma)
{
    t_out_t  *o = out->data;

    t_out_take(o);

    /* what the module inserts: the routed model, a default max_tokens */
    if (mark == LLR_MARK_MODEL) {
        sb_add(&o->acc, "\"model\":\"claude-haiku\"", 22);

    } else if (mark == LLR_MARK_TAIL) {
        sb_add(&o->acc, ",\"max_tokens\":8192", 18);

    } else {
        sb_add(&o->acc, "!", 1);
    }

    return 0;
}


static int
t_out_flush(llr_out_t *out)
{
    t_out_take(out->data);
    return 0;
}


typedef struct {
    llr_req_err_e   err;
    llr_req_view_t  view;
    char            param[32];
    char            msg[256];
    sb_t            text;
    sb_t            body;
} t_scan_t;


static void
t_scan_free(t_scan_t *r)
{
    sb_free(&r->text);
    sb_free(&r->body);
}


/* scan (and rewrite) body in pieces of `piece` bytes (0: whole) */

static llr_req_err_e
scan(llr_endpoint_e ep, const char *body, size_t piece, int want,
    t_scan_t *r)
{
    size_t            len, n, i;
    t_out_t           o;
    llr_req_t        *rq;
    llr_text_sink_t   sink;
    const char       *p;

    memset(r, 0, sizeof(t_scan_t));
    memset(&o, 0, sizeof(t_out_t));
    o.out.pos = o.chunk;
    o.out.end = o.chunk + sizeof(o.chunk);
    o.out.next = t_out_next;
    o.out.mark = t_out_mark;
    o.out.flush = t_out_flush;
    o.out.data = &o;

    sink.message_begin = t_begin;
    sink.text = t_text;
    sink.message_end = t_end;
    sink.ctx = &r->text;

    rq = llr_req_create(&t_alloc, ep, &o.out, &sink);
    if (rq == NULL) {
        abort();
    }

    if (want) {
        llr_req_set_want(rq, t_want, NULL);
    }

    len = strlen(body);
    r->err = LLR_REQ_OK;

    for (i = 0; i < len && r->err == LLR_REQ_OK; i += n) {
        n = piece ? piece : len;
        if (n > len - i) {
            n = len - i;
        }

        r->err = llr_req_feed(rq, (const unsigned char *) body + i, n);
    }

    if (r->err == LLR_REQ_OK) {
        r->err = llr_req_finish(rq);
    }

    r->view = *llr_req_view(rq);
    r->view.model = NULL;

    p = llr_req_error_param(rq);
    snprintf(r->param, sizeof(r->param), "%s", p ? p : "");
    snprintf(r->msg, sizeof(r->msg), "%s", llr_req_error_message(rq));

    r->body = o.acc;

    llr_req_destroy(rq);

    return r->err;
}


/* the same result for every piece size and with the text kept pending */

static int
scan_everywhere(llr_endpoint_e ep, const char *body, t_scan_t *whole)
{
    size_t    piece, len;
    t_scan_t  r;

    len = strlen(body);
    scan(ep, body, 0, 0, whole);

    for (piece = 1; piece <= len; piece++) {
        scan(ep, body, piece, piece & 1, &r);

        if (r.err != whole->err || r.text.len != whole->text.len
            || (r.text.len && memcmp(r.text.s, whole->text.s, r.text.len))
            || r.body.len != whole->body.len
            || (r.body.len && memcmp(r.body.s, whole->body.s, r.body.len))
            || memcmp(&r.view, &whole->view, sizeof(llr_req_view_t)) != 0)
        {
            printf("# differs with pieces of %zu\n", piece);
            t_scan_free(&r);
            return 0;
        }

        t_scan_free(&r);
    }

    return 1;
}


/* a Claude Code-like turn: system blocks, tools, tool use and results */

static const char  agent[] =
    "{\"model\":\"auto\",\"max_tokens\":32000,\"stream\":true,"
    "\"system\":[{\"type\":\"text\",\"text\":\"You are Claude Code.\","
    "\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":\"text\","
    "\"text\":\"Be brief.\"}],"
    "\"messages\":[{\"role\":\"user\",\"content\":\"Fix the failing "
    "test in t/a.c\"},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
    "\"thinking\":\"secret\",\"signature\":\"sig\"},{\"type\":\"text\","
    "\"text\":\"Let me look.\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\","
    "\"name\":\"Read\",\"input\":{\"file_path\":\"t/a.c\",\"limit\":20,"
    "\"opts\":{\"mode\":\"all\"}}},{\"type\":\"tool_use\",\"id\":"
    "\"toolu_2\",\"name\":\"Bash\",\"input\":{\"command\":\"make\"}}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
    "\"tool_use_id\":\"toolu_1\",\"content\":\"int main\"},"
    "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"is_error\":"
    "true,\"content\":[{\"type\":\"text\",\"text\":\"error: x\"},"
    "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
    "\"image/png\",\"data\":\"iVBOR\"}}]}]}],"
    "\"tools\":[{\"name\":\"Read\",\"input_schema\":{\"type\":\"object\"}}],"
    "\"stream_options\":{\"include_usage\":false},"
    "\"metadata\":{\"user_id\":\"u1\"}}";


static void
test_req(void)
{
    t_scan_t  r;

    is_int(scan(LLR_EP_MESSAGES, agent, 0, 0, &r), LLR_REQ_OK,
           "messages: an agent turn scans");
    is_str(r.text.s,
           "<system>You are Claude Code.Be brief.</>"
           "<user>Fix the failing test in t/a.c</>"
           "<assistant>Let me look.t/a.callmake</>"
           "<tool>int main</><tool>error: x</>",
           "messages: system, own text, tool input, tool results apart");
    is_int(r.view.stream, 1, "messages: stream");
    is_int(r.view.max_tokens, 32000, "messages: max_tokens");
    ok(r.view.has_tools, "messages: tools");
    ok(r.view.has_system, "messages: system");
    is_int(r.view.messages, 5, "messages: 5 (system, 2, two tool results)");
    is_int(r.view.user_turns, 1,
           "messages: a user message of tool results is no user turn");
    is_int(r.view.include_usage, -1,
           "messages: stream_options means nothing");
    is_int(r.view.has_stream_options, 0, "messages: no stream_options");
    ok(strstr(r.body.s, "\"stream_options\":{\"include_usage\":false}")
       != NULL, "messages: stream_options passed on as it is");
    ok(strncmp(r.body.s, "{\"model\":\"claude-haiku\",\"max_tokens\":32000,",
               43) == 0, "messages: model rewritten at the mark");
    t_scan_free(&r);

    ok(scan_everywhere(LLR_EP_MESSAGES, agent, &r),
       "messages: the same in pieces of any size, text pending or not");
    t_scan_free(&r);

    /* the model decides about the text after it: skipped, nothing */
    scan(LLR_EP_MESSAGES, "{\"messages\":[{\"role\":\"user\",\"content\":"
         "\"hi\"}],\"model\":\"skip\"}", 3, 1, &r);
    is_int(r.err, LLR_REQ_OK, "messages: text not wanted");
    is_int(r.text.len, 0, "messages: ... none sent");
    t_scan_free(&r);

    /* no max_tokens: the caller adds the model's default at the tail */
    is_int(scan(LLR_EP_MESSAGES, "{\"model\":\"auto\",\"messages\":[{\"role\":"
                "\"user\",\"content\":\"hi\"}]}", 0, 0, &r), LLR_REQ_OK,
           "messages: no max_tokens is fine");
    is_int(r.view.max_tokens, -1, "messages: max_tokens -1");
    is_str(r.body.s, "{\"model\":\"claude-haiku\",\"messages\":[{\"role\":"
           "\"user\",\"content\":\"hi\"}],\"max_tokens\":8192}",
           "messages: max_tokens added at the tail");
    t_scan_free(&r);

    /* role after the content; text before and after a tool result */
    is_int(scan(LLR_EP_MESSAGES, "{\"model\":\"m\",\"messages\":[{\"content\":"
                "[{\"type\":\"text\",\"text\":\"A\"},{\"type\":\"tool_result\","
                "\"content\":\"R\"},{\"type\":\"text\",\"text\":\"B\"}],"
                "\"role\":\"user\"}]}", 0, 0, &r), LLR_REQ_OK,
           "messages: role last");
    is_str(r.text.s, "<tool>R</><user>AB</>",
           "messages: text kept until the role, the tool result first");
    t_scan_free(&r);

    is_int(scan(LLR_EP_MESSAGES, "{\"model\":\"m\",\"messages\":[{\"role\":"
                "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"A\"},"
                "{\"type\":\"tool_result\",\"content\":\"R\"},{\"type\":"
                "\"text\",\"text\":\"B\"}]}]}", 0, 0, &r), LLR_REQ_OK,
           "messages: text around a tool result");
    is_str(r.text.s, "<user>A</><tool>R</><user>B</>",
           "messages: ... two user messages");
    t_scan_free(&r);

    /* the Anthropic system string; "system" is not special for chat */
    scan(LLR_EP_MESSAGES, "{\"system\":\"S\",\"model\":\"m\",\"messages\":"
         "[{\"role\":\"user\",\"content\":\"Q\"}]}", 0, 0, &r);
    is_str(r.text.s, "<system>S</><user>Q</>", "messages: system string");
    t_scan_free(&r);

    scan(LLR_EP_CHAT, "{\"system\":\"S\",\"model\":\"m\",\"messages\":"
         "[{\"role\":\"user\",\"content\":\"Q\"}]}", 0, 0, &r);
    is_str(r.text.s, "<user>Q</>", "chat: a top-level system is nothing");
    t_scan_free(&r);

    /* errors */
    is_int(scan(LLR_EP_MESSAGES, "{\"model\":\"m\"}", 0, 0, &r),
           LLR_REQ_ERR_MISSING, "messages: required");
    is_str(r.param, "messages", "messages: ... param");
    is_str(r.msg, "messages: Field required", "messages: ... message");
    t_scan_free(&r);

    is_int(scan(LLR_EP_COUNT_TOKENS, "{\"model\":\"m\",\"messages\":[]}",
                0, 0, &r), LLR_REQ_ERR_TYPE, "count_tokens: empty messages");
    t_scan_free(&r);

    is_int(scan(LLR_EP_COUNT_TOKENS, "{\"model\":\"m\",\"system\":5,"
                "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                0, 0, &r), LLR_REQ_ERR_TYPE, "count_tokens: system a number");
    is_str(r.param, "system", "count_tokens: ... param");
    t_scan_free(&r);

    is_int(scan(LLR_EP_MESSAGES, "{\"model\":\"m\",\"max_tokens\":-1,"
                "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                0, 0, &r), LLR_REQ_ERR_TYPE, "messages: max_tokens -1");
    t_scan_free(&r);

    is_int(scan(LLR_EP_MESSAGES, "{\"model\":\"m\",\"messages\":[{"
                "\"content\":\"x\"}]}", 0, 0, &r), LLR_REQ_ERR_MISSING,
           "messages: a message without a role");
    t_scan_free(&r);

    /* max_completion_tokens is no limit of the Messages API */
    scan(LLR_EP_MESSAGES, "{\"model\":\"m\",\"max_completion_tokens\":5,"
         "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 0, 0, &r);
    is_int(r.view.max_tokens, -1, "messages: max_completion_tokens ignored");
    t_scan_free(&r);
}


/* the usage scanner */

/* an answer with thinking, text and a tool call, 5m and 1h cache writes */
static const char  answer[] =
    "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
    "\"content\":[{\"type\":\"thinking\",\"thinking\":\"Let me think\","
    "\"signature\":\"EqQBCgIYAhIM\"},{\"type\":\"text\",\"text\":"
    "\"Hello \\\"w\\u00f6rld\\\" \\ud83d\\ude00!\"},{\"type\":\"tool_use\","
    "\"id\":\"toolu_01A\",\"name\":\"get_weather\",\"input\":{\"location\":"
    "\"Paris\",\"text\":\"not counted\"}}],\"stop_reason\":\"tool_use\","
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":2095,"
    "\"cache_creation_input_tokens\":2048,\"cache_read_input_tokens\":1024,"
    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":1024,"
    "\"ephemeral_1h_input_tokens\":1024},\"output_tokens\":503,"
    "\"output_tokens_details\":{\"thinking_tokens\":120},"
    "\"service_tier\":\"standard\"}}";

static const char  error_answer[] =
    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
    "\"message\":\"Overloaded\"},\"request_id\":\"req_011\"}";


static int
usage_run(llr_format_e fmt, const char *s, size_t piece, llr_usage_t *u)
{
    int     rc;
    size_t  i, n, len;

    len = strlen(s);
    llr_usage_init_format(u, fmt);
    rc = 0;

    for (i = 0; i < len; i += n) {
        n = piece ? piece : len;
        if (n > len - i) {
            n = len - i;
        }

        rc |= llr_usage_feed(u, (const unsigned char *) s + i, n);
    }

    return rc | llr_usage_finish(u);
}


static int
usage_everywhere(llr_format_e fmt, const char *s)
{
    size_t       piece, len;
    llr_usage_t  whole, u;

    len = strlen(s);
    usage_run(fmt, s, 0, &whole);

    for (piece = 1; piece < len; piece++) {
        usage_run(fmt, s, piece, &u);

        if (memcmp(&u.res, &whole.res, sizeof(llr_resp_t)) != 0) {
            printf("# differs with pieces of %zu\n", piece);
            return 0;
        }
    }

    return 1;
}


static void
test_usage(void)
{
    llr_usage_t   u;
    llr_tokens_t  t;

    is_int(usage_run(LLR_FMT_ANTHROPIC, answer, 0, &u), 0, "answer: json");
    ok(llr_usage_usable(&u.res, 0), "answer: usage usable");
    is_int(u.res.prompt_tokens, 2095 + 2048 + 1024,
           "answer: prompt_tokens = input + cache writes + cache reads");
    is_int(u.res.input_tokens, 2095, "answer: input_tokens as reported");
    is_int(u.res.cached_tokens, 1024, "answer: cached = cache reads");
    is_int(u.res.cache_write_tokens, 2048, "answer: cache writes");
    is_int(u.res.cache_write_1h_tokens, 1024, "answer: 1h cache writes");
    is_int(u.res.completion_tokens, 503, "answer: output tokens");
    is_int(u.res.reasoning_tokens, 120, "answer: thinking tokens");
    is_int(u.res.finish[LLR_FINISH_TOOL_CALLS], 1, "answer: tool_use");
    is_str(u.res.model, "claude-sonnet-4-5-20250929", "answer: model");
    is_int(u.res.content_bytes, 12 + 20, "answer: thinking + text bytes");
    ok(!u.res.error, "answer: no error");
    ok(usage_everywhere(LLR_FMT_ANTHROPIC, answer),
       "answer: the same in pieces of any size");

    llr_usage_tokens(&u.res, &t);
    is_int(t.input, 5167, "tokens: input");
    is_int(t.cache_read, 1024, "tokens: cache_read");
    is_int(t.cache_write, 2048, "tokens: cache_write");
    is_int(t.cache_write_1h, 1024, "tokens: cache_write_1h");
    is_int(t.output, 503, "tokens: output");

    /* the same body read as OpenAI's: no usage it understands */
    usage_run(LLR_FMT_OPENAI, answer, 0, &u);
    is_int(u.res.prompt_tokens, 2095, "openai mode: input_tokens only");
    is_int(u.res.cache_write_tokens, 0, "openai mode: no cache writes");
    is_int(u.res.finish[LLR_FINISH_TOOL_CALLS], 0,
           "openai mode: stop_reason means nothing");

    is_int(usage_run(LLR_FMT_ANTHROPIC, error_answer, 0, &u), 0,
           "error: json");
    ok(u.res.error, "error: seen");
    is_str(u.res.error_type, "overloaded_error", "error: type");
    is_str(u.res.error_message, "Overloaded", "error: message");
    ok(!llr_usage_usable(&u.res, 0), "error: no usage");

    /* counts that are not counts */
    usage_run(LLR_FMT_ANTHROPIC, "{\"usage\":{\"input_tokens\":\"5\","
              "\"output_tokens\":3}}", 0, &u);
    ok(!llr_usage_usable(&u.res, 0), "bad input_tokens: not usable");
    usage_run(LLR_FMT_ANTHROPIC, "{\"usage\":{\"input_tokens\":5,"
              "\"output_tokens\":-3}}", 0, &u);
    ok(!llr_usage_usable(&u.res, 0), "negative output_tokens: not usable");
    usage_run(LLR_FMT_ANTHROPIC, "{\"usage\":{\"input_tokens\":5,"
              "\"output_tokens\":3,\"cache_read_input_tokens\":null,"
              "\"cache_creation_input_tokens\":null}}", 0, &u);
    ok(llr_usage_usable(&u.res, 0), "null cache counts: usable");
    is_int(u.res.prompt_tokens, 5, "null cache counts: prompt 5");
    usage_run(LLR_FMT_ANTHROPIC, "{\"usage\":{\"input_tokens\":5,"
              "\"output_tokens\":3,\"input_tokens\":true}}", 0, &u);
    ok(!llr_usage_usable(&u.res, 0), "input_tokens true: not usable");
    ok(usage_everywhere(LLR_FMT_ANTHROPIC, "{\"usage\":{\"input_tokens\":5,"
                        "\"output_tokens\":null,\"x\":[true,null]}}"),
       "literals: the same in pieces");
    usage_run(LLR_FMT_ANTHROPIC, "{\"usage\":{\"input_tokens\":5,"
              "\"output_tokens\":null}}", 0, &u);
    ok(!llr_usage_usable(&u.res, 0), "output_tokens null only: not usable");

    /* every stop reason */
    usage_run(LLR_FMT_ANTHROPIC, "[{\"stop_reason\":\"x\"}]", 0, &u);
    is_int(u.res.finish[LLR_FINISH_OTHER], 0, "nested: not top-level");
    is_int(llr_stop_reason("end_turn", 8), LLR_FINISH_STOP, "end_turn");
    is_int(llr_stop_reason("stop_sequence", 13), LLR_FINISH_STOP,
           "stop_sequence");
    is_int(llr_stop_reason("max_tokens", 10), LLR_FINISH_LENGTH,
           "max_tokens");
    is_int(llr_stop_reason("model_context_window_exceeded", 29),
           LLR_FINISH_LENGTH, "model_context_window_exceeded");
    is_int(llr_stop_reason("tool_use", 8), LLR_FINISH_TOOL_CALLS,
           "tool_use");
    is_int(llr_stop_reason("refusal", 7), LLR_FINISH_CONTENT_FILTER,
           "refusal");
    is_int(llr_stop_reason("pause_turn", 10), LLR_FINISH_OTHER,
           "pause_turn");
}


/* the SSE parser */

#define EV(name, data)  "event: " name "\n" "data: " data "\n\n"

static const char  stream[] =
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":"
       "\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\",\"type\":\"message\","
       "\"role\":\"assistant\",\"content\":[],\"model\":"
       "\"claude-3-5-haiku-20241022\",\"stop_reason\":null,"
       "\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,"
       "\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":"
       "2000,\"output_tokens\":2}}}")
    EV("content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
    EV("ping", "{\"type\": \"ping\"}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", w\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"orld\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
    EV("content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":"
       "\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\","
       "\"input\":{}}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
       "\"partial_json\":\"{\\\"location\\\": \\\"San Fra\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
       "\"partial_json\":\"ncisco\\\"}\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":1}")
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":"
       "{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":"
       "{\"output_tokens\":89}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");

/* message_delta with the newer cumulative totals, one of them null */
static const char  stream_totals[] =
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":"
       "\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"content\":"
       "[],\"model\":\"claude-opus-4-1\",\"stop_reason\":null,"
       "\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,"
       "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
       "\"output_tokens\":1}}}")
    EV("content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":"
       "\"\",\"signature\":\"\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":"
       "\"Hmm.\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":"
       "\"EqQBCgIYAhIM\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":"
       "{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},\"usage\":"
       "{\"input_tokens\":null,\"cache_creation_input_tokens\":4000,"
       "\"cache_read_input_tokens\":6000,\"output_tokens\":1024,"
       "\"output_tokens_details\":{\"thinking_tokens\":1000}}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");

/* text only, the events that repeat most */
static const char  stream_text[] =
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":"
       "\"msg_4\",\"usage\":{\"input_tokens\":472,\"output_tokens\":2}}}")
    EV("content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", w\"}}")
    EV("content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"orld\"}}")
    EV("content_block_stop", "{\"type\":\"content_block_stop\",\"index\":0}")
    EV("message_delta", "{\"type\":\"message_delta\",\"delta\":"
       "{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":"
       "{\"output_tokens\":3}}")
    EV("message_stop", "{\"type\":\"message_stop\"}");

static const char  stream_error[] =
    EV("message_start", "{\"type\":\"message_start\",\"message\":{\"id\":"
       "\"msg_3\",\"type\":\"message\",\"role\":\"assistant\",\"content\":"
       "[],\"model\":\"claude-3-5-haiku-20241022\",\"usage\":"
       "{\"input_tokens\":12,\"output_tokens\":1}}}")
    EV("error", "{\"type\":\"error\",\"error\":{\"type\":"
       "\"overloaded_error\",\"message\":\"Overloaded\"}}");


static void
sse_run(const char *s, size_t piece, unsigned flags, llr_sse_cache_t *cache,
    llr_sse_t *sse)
{
    size_t  i, n, len;

    len = strlen(s);
    llr_sse_init(sse, flags, 0, NULL);

    if (cache) {
        llr_sse_use_cache(sse, cache);
    }

    for (i = 0; i < len; i += n) {
        n = piece ? piece : len;
        if (n > len - i) {
            n = len - i;
        }

        (void) llr_sse_feed(sse, (const unsigned char *) s + i, n, NULL,
                            NULL);
    }

    (void) llr_sse_finish(sse, NULL, NULL);
}


static int
sse_same(const llr_sse_t *a, const llr_sse_t *b)
{
    return memcmp(&a->res, &b->res, sizeof(llr_resp_t)) == 0
           && a->events == b->events && a->json_events == b->json_events
           && a->bad_events == b->bad_events && a->ended == b->ended
           && a->done == b->done && a->content_seen == b->content_seen;
}


static int
sse_everywhere(const char *s)
{
    size_t            piece, len;
    llr_sse_t         whole, sse;
    llr_sse_cache_t   cache;

    len = strlen(s);
    sse_run(s, 0, LLR_SSE_ANTHROPIC | LLR_SSE_NO_CACHE, NULL, &whole);
    llr_sse_cache_init(&cache);

    for (piece = 1; piece <= len; piece++) {
        sse_run(s, piece, LLR_SSE_ANTHROPIC, &cache, &sse);

        if (!sse_same(&sse, &whole)) {
            printf("# differs with pieces of %zu\n", piece);
            return 0;
        }

        /* whole, with the templates the stream left */
        sse_run(s, 0, LLR_SSE_ANTHROPIC, &cache, &sse);

        if (!sse_same(&sse, &whole)) {
            printf("# differs whole, cache warm, after %zu\n", piece);
            return 0;
        }
    }

    return 1;
}


static void
test_sse(void)
{
    llr_sse_t         sse, plain;
    llr_sse_cache_t   cache;
    llr_tokens_t      t;

    sse_run(stream, 0, LLR_SSE_ANTHROPIC, NULL, &sse);
    is_int(sse.events, 13, "stream: 13 events");
    is_int(sse.json_events, 13, "stream: all JSON");
    ok(sse.ended, "stream: message_stop ends it");
    ok(!sse.done, "stream: no [DONE]");
    ok(llr_usage_usable(&sse.res, 0), "stream: usage usable");
    is_int(sse.res.prompt_tokens, 472 + 100 + 2000,
           "stream: prompt = input + cache writes + reads (message_start)");
    is_int(sse.res.cached_tokens, 2000, "stream: cache reads");
    is_int(sse.res.cache_write_tokens, 100, "stream: cache writes");
    is_int(sse.res.completion_tokens, 89,
           "stream: output from message_delta (a total, not added)");
    is_int(sse.res.finish[LLR_FINISH_TOOL_CALLS], 1, "stream: tool_use");
    is_str(sse.res.model, "claude-3-5-haiku-20241022", "stream: model");
    is_int(sse.res.content_bytes, 12 + 29, "stream: text + tool json");
    ok(sse_everywhere(stream),
       "stream: the same in pieces of any size, with and without the "
       "caches");

    sse_run(stream_totals, 0, LLR_SSE_ANTHROPIC, NULL, &sse);
    is_int(sse.res.input_tokens, 10, "totals: null input_tokens kept");
    is_int(sse.res.prompt_tokens, 10 + 4000 + 6000,
           "totals: cache counts replaced by message_delta's");
    is_int(sse.res.completion_tokens, 1024, "totals: output");
    is_int(sse.res.reasoning_tokens, 1000, "totals: thinking tokens");
    is_int(sse.res.finish[LLR_FINISH_LENGTH], 1, "totals: max_tokens");
    is_int(sse.res.content_bytes, 4, "totals: thinking text, no signature");
    ok(sse.content_seen, "totals: thinking is content");
    llr_usage_tokens(&sse.res, &t);
    is_int(t.input, 10010, "totals: tokens input");
    is_int(t.cache_read, 6000, "totals: tokens cache_read");
    is_int(t.cache_write, 4000, "totals: tokens cache_write");
    ok(sse_everywhere(stream_totals), "totals: the same in pieces");

    sse_run(stream_error, 0, LLR_SSE_ANTHROPIC, NULL, &sse);
    ok(sse.ended, "error event: ends the stream");
    ok(sse.res.error, "error event: error");
    is_str(sse.res.error_type, "overloaded_error", "error event: type");
    ok(sse_everywhere(stream_error), "error event: the same in pieces");

    /* cut: no message_stop */
    sse_run("event: message_start\ndata: {\"type\":\"message_start\","
            "\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":"
            "1}}}\n\n", 0, LLR_SSE_ANTHROPIC, NULL, &sse);
    ok(!sse.ended, "cut: not ended");
    ok(llr_usage_usable(&sse.res, 0), "cut: message_start's usage");

    /*
     * One template cache for streams of both formats (one per worker):
     * templates learnt from an Anthropic stream must not be matched by an
     * OpenAI stream, which scans the same bytes otherwise (its text is in
     * no place an OpenAI chunk has text)
     */
    llr_sse_cache_init(&cache);
    sse_run(stream_text, 0, LLR_SSE_ANTHROPIC, &cache, &sse);
    sse_run(stream_text, 0, LLR_SSE_ANTHROPIC, &cache, &sse);
    ok(sse.template_hits > 0, "shared cache: the Anthropic stream matches");
    is_int(sse.res.content_bytes, 12, "shared cache: ... its text counted");
    sse_run(stream_text, 0, 0, &cache, &sse);
    sse_run(stream_text, 0, LLR_SSE_NO_CACHE, NULL, &plain);
    ok(sse_same(&sse, &plain), "shared cache: OpenAI results unchanged");
    is_int(sse.res.content_bytes, 0, "shared cache: ... no text counted");
    sse_run(stream_text, 0, LLR_SSE_ANTHROPIC, &cache, &sse);
    sse_run(stream_text, 0, LLR_SSE_ANTHROPIC | LLR_SSE_NO_CACHE, NULL,
            &plain);
    ok(sse_same(&sse, &plain), "shared cache: Anthropic results unchanged");
    ok(sse_everywhere(stream_text), "text stream: the same in pieces");
}


/* cost, against the providers' own published arithmetic */

static void
test_cost(void)
{
    char          buf[40];
    llr_price_t   p;
    llr_tokens_t  t;
    uint64_t      c;

    /* Claude Sonnet 4.5: $3 in, $3.75 5m write, $6 1h write, $0.30 read */
    p.input = 3000000;
    p.output = 15000000;
    p.cached_input = 300000;
    p.cache_write = 3750000;
    p.cache_write_1h = 6000000;

    memset(&t, 0, sizeof(t));
    t.input = 2095 + 2048 + 1024;
    t.cache_read = 1024;
    t.cache_write = 2048;
    t.cache_write_1h = 1024;
    t.output = 503;

    /*
     * 2095 * 3 + 1024 * 3.75 + 1024 * 6 + 1024 * 0.30 + 503 * 15
     * = 24121.2 USD per 1M tokens = 0.0241212 USD
     */
    c = llr_cost_tokens(&p, &t);
    is_int(c, 24121200000ULL, "cost: every kind of input token");
    llr_format_usd(buf, sizeof(buf), c, 9);
    is_str(buf, "0.024121200", "cost: 0.024121200 USD");

    /* what the gateways that get it wrong say (docs/formats.md) */
    is_int(llr_cost(&p, 2095 + 2048 + 1024, 1024, 503), 20281200000ULL,
           "cost: cache writes billed as input: 0.0202812 USD");
    is_int(llr_cost(&p, 2095, 0, 503), 13830000000ULL,
           "cost: input_tokens alone as the input: 0.0138300 USD");

    /* no 1h price: 1h writes at the cache_write price */
    p.cache_write_1h = LLR_PRICE_UNSET;
    is_int(llr_cost_tokens(&p, &t), 24121200000ULL - 1024 * 2250000ULL,
           "cost: cache_write_1h unset: cache_write");

    /* no cache prices: input */
    p.cache_write = LLR_PRICE_UNSET;
    p.cached_input = LLR_PRICE_UNSET;
    is_int(llr_cost_tokens(&p, &t), 5167ULL * 3000000 + 503ULL * 15000000,
           "cost: no cache prices: all input at the input price");

    /* without cache writes, llr_cost() (OpenAI gpt-4o, cached 50%) */
    p.input = 2500000;
    p.cached_input = 1250000;
    p.output = 10000000;
    p.cache_write = LLR_PRICE_UNSET;
    p.cache_write_1h = LLR_PRICE_UNSET;
    memset(&t, 0, sizeof(t));
    t.input = 1234;
    t.cache_read = 1024;
    t.output = 56;
    t.reasoning = 7;
    is_int(llr_cost_tokens(&p, &t), llr_cost(&p, 1234, 1024, 56),
           "cost: as llr_cost() without writes");
    is_int(llr_cost_tokens(&p, &t), 2365000000ULL, "cost: 0.002365 USD");

    /* counts that do not fit are clamped, nothing wraps */
    t.input = 10;
    t.cache_read = 8;
    t.cache_write = 5;
    t.cache_write_1h = 9;
    t.output = 0;
    p.cache_write = 3125000;
    p.cache_write_1h = 5000000;
    is_int(llr_cost_tokens(&p, &t), 8ULL * 1250000 + 2ULL * 5000000,
           "cost: reads then writes clamped to the input");

    t.input = UINT64_MAX;
    t.cache_read = 0;
    t.cache_write = 0;
    t.cache_write_1h = 0;
    is_int(llr_cost_tokens(&p, &t) == UINT64_MAX, 1, "cost: saturates");
}


int
main(void)
{
    test_req();
    test_usage();
    test_sse();
    test_cost();

    done_testing();
}
