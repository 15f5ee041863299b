/*
 * Unit tests of the classifier (core/llr_classify.c).
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../../ngx_llm_route_module/core/llr_classify.h"
#include "../../ngx_llm_route_module/core/llr_classify_train.h"


static void *
t_alloc(void *ctx, size_t n)
{
    /* a tiny pool: every allocation is remembered and freed at exit */
    void   **list = ctx, *p;
    size_t   i;

    p = malloc(n);
    for (i = 0; i < 64; i++) {
        if (list[i] == NULL) {
            list[i] = p;
            break;
        }
    }
    return p;
}


static void  *pool[64];
static const llr_alloc_t  t_pool = { t_alloc, NULL, NULL, pool };


static void
pool_free(void)
{
    size_t  i;

    for (i = 0; i < 64; i++) {
        free(pool[i]);
        pool[i] = NULL;
    }
}


/* one user message, fed in pieces of "step" bytes (0: one piece) */
static void
classify(const llr_cls_model_t *m, const char *text, size_t step,
    llr_cls_result_t *res)
{
    void             *st;
    size_t            len, off, n;
    llr_req_view_t    view;
    llr_text_sink_t   sink;

    st = malloc(llr_cls_state_size(m));
    llr_cls_state_init(st, m);
    llr_cls_sink(st, &sink);

    len = strlen(text);
    sink.message_begin(sink.ctx, "user", 0);

    for (off = 0; off < len || (off == 0 && len == 0); off += n) {
        n = (step == 0 || len - off < step) ? len - off : step;
        sink.text(sink.ctx, (const unsigned char *) text + off, n);
        if (n == 0) {
            break;
        }
    }

    sink.message_end(sink.ctx);

    memset(&view, 0, sizeof(view));
    view.messages = 1;
    view.user_turns = 1;
    view.max_tokens = -1;

    llr_cls_finish(st, &view, res);
    llr_cls_probabilities(res);
    free(st);
}


/* the number of hashed features of one user message */
static double
features(const llr_cls_model_t *m, const char *text)
{
    void             *st;
    double            ncur, nctx;
    llr_cls_result_t  res;
    llr_text_sink_t   sink;

    st = malloc(llr_cls_state_size(m));
    llr_cls_state_init(st, m);
    llr_cls_sink(st, &sink);

    sink.message_begin(sink.ctx, "user", 0);
    sink.text(sink.ctx, (const unsigned char *) text, strlen(text));
    sink.message_end(sink.ctx);

    llr_cls_finish(st, NULL, &res);
    llr_cls_state_counts(st, &ncur, &nctx);
    free(st);

    return ncur + nctx;
}


/*
 * A conversation: nmsg messages before the last user turn "last", user
 * and assistant alternating (every fourth a system message), message k
 * is "fill", with its first byte replaced by 'a' + k % 19 (never 't':
 * "fill" begins with 'T', the same letter to the tokenizer) from message
 * "vary" on (0: never) until message "vary_until".  Returns the number
 * of hashed features the heads saw.
 */
static long    test_budget = -1;    /* >= 0: llr_cls_state_set_budget() */
static size_t  vary_until = (size_t) -1;
static int     empty_before_last;  /* an assistant message without text */


static double
conversation(const llr_cls_model_t *m, size_t nmsg, const char *fill,
    size_t vary, const char *last, llr_cls_result_t *res)
{
    void             *st;
    char             *buf;
    size_t            k, len;
    double            ncur, nctx;
    const char       *role;
    llr_req_view_t    view;
    llr_text_sink_t   sink;

    len = strlen(fill);
    buf = malloc(len + 1);
    memcpy(buf, fill, len + 1);

    st = malloc(llr_cls_state_size(m));
    llr_cls_state_init(st, m);
    if (test_budget >= 0) {
        llr_cls_state_set_budget(st, (size_t) test_budget);
    }
    llr_cls_sink(st, &sink);

    for (k = 0; k < nmsg; k++) {
        role = (k % 4 == 3) ? "system" : (k % 2 ? "assistant" : "user");
        buf[0] = (vary && k >= vary && k < vary_until)
                 ? (char) ('a' + k % 19) : fill[0];
        sink.message_begin(sink.ctx, role, k);
        sink.text(sink.ctx, (const unsigned char *) buf, len);
        sink.message_end(sink.ctx);
    }

    if (empty_before_last) {
        sink.message_begin(sink.ctx, "assistant", nmsg);
        sink.message_end(sink.ctx);
    }

    sink.message_begin(sink.ctx, "user", nmsg);
    sink.text(sink.ctx, (const unsigned char *) last, strlen(last));
    sink.message_end(sink.ctx);

    memset(&view, 0, sizeof(view));
    view.messages = nmsg + 1;
    view.user_turns = nmsg / 2 + 1;
    view.max_tokens = -1;

    llr_cls_finish(st, &view, res);
    llr_cls_state_counts(st, &ncur, &nctx);

    free(st);
    free(buf);

    return ncur + nctx;
}


/* one message into a classifier's sink (text NULL: none) */
static void
say(llr_text_sink_t *sk, const char *role, size_t turn, const char *text)
{
    sk->message_begin(sk->ctx, role, turn);

    if (text) {
        sk->text(sk->ctx, (const unsigned char *) text, strlen(text));
    }

    sk->message_end(sk->ctx);
}


static int
same(const llr_cls_result_t *a, const llr_cls_result_t *b)
{
    size_t  t;

    if (a->task != b->task || a->difficulty != b->difficulty
        || a->ntasks != b->ntasks)
    {
        return 0;
    }

    for (t = 0; t < a->ntasks; t++) {
        if (a->scores[t] != b->scores[t]) {
            return 0;
        }
    }

    return 1;
}


/*
 * With a context budget (-1: the built-in one), of 30 context messages
 * of "fill" before "last", message "oldest" is the oldest one read: it
 * counts, the ones before it do not.
 */
static void
oldest_read(const llr_cls_model_t *m, long budget, size_t oldest,
    const char *fill, const char *last, const char *what)
{
    double            f1, f2;
    llr_cls_result_t  r1, r2;

    test_budget = budget;
    f1 = conversation(m, 30, fill, 0, last, &r1);
    vary_until = oldest + 1;
    (void) conversation(m, 30, fill, oldest, last, &r2);
    ok(!same(&r1, &r2), "%s: message %zu of 30 counts", what, oldest);
    vary_until = oldest;
    f2 = conversation(m, 30, fill, 1, last, &r2);
    ok(same(&r1, &r2) && f1 == f2, "%s: the older ones do not (%.0f, %.0f "
       "features)", what, f1, f2);
    vary_until = (size_t) -1;
    test_budget = -1;
}


static int
close_enough(const llr_cls_result_t *a, const llr_cls_result_t *b)
{
    size_t  t;

    if (a->task != b->task || fabs(a->difficulty - b->difficulty) > 1e-4) {
        return 0;
    }

    for (t = 0; t < a->ntasks; t++) {
        if (fabs(a->scores[t] - b->scores[t]) > 1e-4) {
            return 0;
        }
    }

    return 1;
}


static const char  *texts[] = {
    "Write a Python function that returns the n-th Fibonacci number.",
    "Natalia sold clips to 48 of her friends in April, and then she sold "
    "half as many clips in May. How many clips did Natalia sell "
    "altogether in April and May?",
    "Translate into French: the meeting has been moved to next Tuesday.",
    "",
    "```c\nint\nmain(void)\n{\n    return 0;\n}\n```\nWhy does this "
    "compile?  \xc3\xa9t\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 $x^2 + y^2 = "
    "z^2$ and \\frac{1}{2}...\n\n    indented line;\n",
    "A shirt costs $1,250.50 and is 20% off. She buys 3/4 of a pie at "
    "10:30. How much does she pay in total, if each of the 12 guests "
    "pays $7 more than the 3 hosts, and the tip is 15%? Show every "
    "step of the calculation, then give the final answer only.",
    "Which of the following statements is NOT true?\nA. 12\n"
    "B. I and II only\nC. True, False\nD. Not wrong, Wrong\nAnswer:",
    /* CJK, kana runs, fullwidth punctuation, Cyrillic, accents */
    "\xe5\x86\x99\xe4\xb8\x80\xe4\xb8\xaa Python \xe5\x87\xbd\xe6\x95\xb0"
    "\xef\xbc\x8c\xe5\x88\xa4\xe6\x96\xad\xe5\x9b\x9e\xe6\x96\x87"
    "\xef\xbc\x9f",
    "\xe3\x82\xb3\xe3\x83\xbc\xe3\x83\x89\xe3\x82\x92\xe6\x9b\xb8"
    "\xe3\x81\x84\xe3\x81\xa6\xe3\x80\x82",
    "\xd0\x9d\xd0\xb0\xd0\xbf\xd0\xb8\xd1\x88\xd0\xb8 \xd1\x84\xd1\x83"
    "\xd0\xbd\xd0\xba\xd1\x86\xd0\xb8\xd1\x8e \xc2\xab\xd0\xbf\xd1\x80"
    "\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\xc2\xbb \xf0\x9f\x98\x8a",
    "\xc3\x89" "cris une fonction \xe2\x80\x94 \xc2\xbf" "por qu\xc3\xa9?",
    NULL
};


#define MCQ  "Which of the following statements is NOT true?\n" \
             "A. 12\nB. I and II only\nC. True, False\n"         \
             "D. Not wrong, Wrong\nAnswer:"


/*
 * the dense features of one user message, fed in pieces of "step" bytes
 * (0: one piece), after an earlier user message "prev" if not NULL
 */
static void
dense_split(const llr_cls_model_t *m, const char *prev, const char *text,
    size_t step, float *d)
{
    void             *st;
    size_t            len, off, n;
    llr_req_view_t    view;
    llr_text_sink_t   sink;
    llr_cls_result_t  res;

    st = malloc(llr_cls_state_size(m));
    llr_cls_state_init(st, m);
    llr_cls_sink(st, &sink);

    if (prev) {
        sink.message_begin(sink.ctx, "user", 0);
        sink.text(sink.ctx, (const unsigned char *) prev, strlen(prev));
        sink.message_end(sink.ctx);
    }

    sink.message_begin(sink.ctx, "user", 0);
    len = strlen(text);
    for (off = 0; off < len; off += n) {
        n = (step == 0 || len - off < step) ? len - off : step;
        sink.text(sink.ctx, (const unsigned char *) text + off, n);
    }
    sink.message_end(sink.ctx);
    memset(&view, 0, sizeof(view));
    view.messages = 1;
    view.user_turns = 1;
    llr_cls_finish(st, &view, &res);
    memcpy(d, llr_cls_state_dense(st), LLR_CLS_NSTRUCT * sizeof(float));
    free(st);
}


static void
dense_of(const llr_cls_model_t *m, const char *text, float *d)
{
    dense_split(m, NULL, text, 0, d);
}


int
main(void)
{
    int                     i, k, ok_all;
    char                    err[256], *big;
    size_t                  t, len, step;
    double                  sum;
    unsigned char          *img, *bad;
    llr_cls_params_t        p;
    llr_cls_model_t        *lm;
    llr_cls_result_t        r1, r2, r3;
    const llr_cls_model_t  *m;

    m = llr_cls_default_model();
    ok(m != NULL, "default model loads");
    if (m == NULL) {
        done_testing();
    }

    ok(llr_cls_ntasks(m) >= 8, "at least 8 tasks (%zu)", llr_cls_ntasks(m));

    {
        const char  *need[] = { "code", "math", "reasoning", "creative",
                                "extraction", "summarization",
                                "translation", "general" };

        for (i = 0; i < 8; i++) {
            k = llr_cls_task_index(m, need[i], strlen(need[i]));
            ok(k >= 0 && strcmp(llr_cls_task_name(m, k), need[i]) == 0,
               "task %s is known", need[i]);
        }
    }

    is_int(llr_cls_task_index(m, "nope", 4), -1, "unknown task: -1");
    is_int(llr_cls_task_index(m, "cod", 3), -1, "prefix is not a match");
    ok(llr_cls_task_name(m, -1) == NULL, "task name out of range: NULL");

    /* a long text: head, skipped middle and tail */
    big = malloc(6000);
    for (t = 0; t < 5999; t++) {
        big[t] = "The quick brown fox, 12 jumps; over {the} lazy dog?\n"
                 [t % 52];
    }
    big[5999] = '\0';

    /* determinism and streaming-split invariance */

    for (i = 0; texts[i] || big; i++) {
        const char  *s = texts[i] ? texts[i] : big;

        classify(m, s, 0, &r1);
        classify(m, s, 0, &r2);
        ok(same(&r1, &r2), "text %d: same result twice", i);

        ok_all = 1;
        for (step = 1; step <= 7; step++) {
            classify(m, s, step, &r3);
            ok_all &= same(&r1, &r3);
        }
        ok(ok_all, "text %d: split in pieces of 1..7 bytes: identical", i);

        sum = 0;
        ok_all = 1;
        for (t = 0; t < r1.ntasks; t++) {
            sum += r1.scores[t];
            ok_all &= r1.scores[t] >= 0 && r1.scores[t] <= 1;
        }
        ok(ok_all && fabs(sum - 1.0) < 1e-9, "text %d: scores are a "
           "distribution (sum %.12f)", i, sum);
        ok(r1.difficulty > 0 && r1.difficulty < 1, "text %d: difficulty "
           "%.4f in (0,1)", i, r1.difficulty);
        ok(r1.scores[r1.task] >= r1.scores[(r1.task + 1) % r1.ntasks],
           "text %d: the task is the top score", i);

        if (texts[i] == NULL) {
            break;
        }
    }

    /*
     * feature counts: a word and its bigram with the word before, a
     * 3-gram at each punctuation byte, the first word and the first
     * bigram of a message once more; no bigram from the head to the
     * tail; the densest parts (3 features per 2 bytes) fit
     */

    is_int((int) features(m, "Hello, world!"), 7, "Hello, world!: 7");
    is_int((int) features(m, "  x\t\n\r y  "), 5, "spaces: 2 words, "
           "1 bigram, first word and bigram");

    /*
     * scripts: a CJK character is a word (4 characters: 4 words, 3
     * bigrams, the first word and bigram), a run of katakana is one
     * word, fullwidth and CJK punctuation are punctuation, an emoji is
     * a word, a no-break space is a space
     */

    is_int((int) features(m, "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96"
                             "\xe7\x95\x8c"), 9, "4 CJK characters: 9");
    is_int((int) features(m, "\xe3\x82\xb3\xe3\x83\xbc\xe3\x83\x89"),
           2, "a katakana run is one word: 2");
    is_int((int) features(m, "a\xef\xbc\x9f"), 3,
           "fullwidth question mark: a word, its first key, a 3-gram");
    is_int((int) features(m, "a\xe3\x80\x82" "b"), 6,
           "ideographic full stop: punctuation between two words");
    is_int((int) features(m, "\xf0\x9f\x98\x8a"), 2, "an emoji is a word");
    is_int((int) features(m, "a\xc2\xa0" "b"), 5, "a no-break space is a "
           "space");

    {
        float  d[LLR_CLS_NSTRUCT], e[LLR_CLS_NSTRUCT];

        dense_of(m, "\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x9f", d);
        ok(d[18] == 1.0f && d[19] == 1.0f, "a fullwidth question mark "
           "counts as one, and ends the question (%g, %g)", d[18], d[19]);
        ok(d[31] == 1.0f && d[30] > 0.9f, "CJK text: the CJK share "
           "(%g, %g)", d[30], d[31]);
        dense_of(m, "What is it?", e);
        ok(e[31] == 0.0f && e[19] == 1.0f, "ASCII: no CJK, ends with ?");
        dense_of(m, "- milk\n- bread\n* eggs\n1. cheese\n2) tea\nA. no", d);
        is_int((int) (d[34] * 1), 1, "5 list items: 3 or more");
        ok_all = 1;
        for (step = 1; step <= 5; step++) {
            dense_split(m, NULL, "- milk\n- bread\n* eggs\n1. cheese\n"
                        "2) tea\nA. no", step, e);
            ok_all &= memcmp(d, e, sizeof(d)) == 0;
        }
        ok(ok_all, "list items: split in pieces of 1..5 bytes, identical");
    }

    /* capital and small letters of Latin-1 and Cyrillic hash alike */

    classify(m, "\xc3\x89" "CRIS UNE FONCTION", 0, &r1);
    classify(m, "\xc3\xa9" "cris une fonction", 0, &r2);
    ok(same(&r1, &r2), "\"ÉCRIS UNE FONCTION\" is \"écris une fonction\"");
    classify(m, "\xd0\x9d\xd0\x90\xd0\x9f\xd0\x98\xd0\xa8\xd0\x98", 0, &r1);
    classify(m, "\xd0\xbd\xd0\xb0\xd0\xbf\xd0\xb8\xd1\x88\xd0\xb8", 0, &r2);
    ok(same(&r1, &r2), "\"НАПИШИ\" is \"напиши\"");

    /*
     * a tail that begins inside a character: its rest is not a word (a
     * 128-byte head of ASCII, then 'x' and 16 two-byte characters: the
     * tail's first byte is a continuation byte)
     */
    {
        char  t1[256], t2[256];

        memset(t1, 'a', 128);
        t1[63] = ' ';
        t1[128] = 'x';
        for (t = 0; t < 16; t++) {
            memcpy(t1 + 129 + 2 * t, "\xd0\xb0", 2);
        }
        t1[161] = '\0';
        memcpy(t2, t1, 162);
        t2[128] = 'y';
        classify(m, t1, 0, &r1);
        classify(m, t2, 0, &r2);
        ok(same(&r1, &r2), "a character cut by the tail is not a word");
    }

    /* the buckets of a term are those the tokenizer hashes it to */
    {
        uint32_t  bk[2];

        is_int(llr_cls_term_buckets(m, "translate", 9, bk), 2,
               "a word is a term");
        is_int(llr_cls_term_buckets(m, "\xe7\xbf\xbb\xe8\xaf\x91", 6, bk),
               2, "two CJK characters are a term");
        is_int(llr_cls_term_buckets(m, "a b c", 5, bk), 0,
               "three words are not");
        is_int(llr_cls_term_buckets(m, "", 0, bk), 0, "nothing is not");
    }
    {
        char  dense[256];

        for (t = 0; t < 128; t++) {
            dense[t] = (t % 2) ? '!' : 'a';
        }
        dense[128] = '\0';
        is_int((int) features(m, dense), 64 + 63 + 64 + 2,
               "128 bytes of \"a!\": 193 features");

        for (t = 0; t < 128; t++) {
            dense[t] = (t % 2) ? 'a' : '!';
        }
        is_int((int) features(m, dense), 64 + 64 + 63 + 2,
               "128 bytes of \"!a\": 193 features");

        for (t = 0; t < 32; t++) {
            dense[128 + t] = (t % 2) ? '?' : 'b';
        }
        dense[160] = '\0';
        is_int((int) features(m, dense), 193 + 16 + 15 + 16,
               "head and tail: 240 features, no bigram across");
    }

    /* obvious prompts, in several languages */

    classify(m, texts[0], 0, &r1);
    is_str(r1.task_name, "code", "a python function request is code");
    classify(m, texts[1], 0, &r1);
    is_str(r1.task_name, "math", "a GSM8K word problem is math");
    classify(m, texts[2], 0, &r1);
    is_str(r1.task_name, "translation", "translate into French");
    classify(m, "Summarize the following article in three bullet points:"
             "\n\nThe city council met on Tuesday to discuss the budget.",
             0, &r1);
    is_str(r1.task_name, "summarization", "summarize an article");
    classify(m, "Write a short poem about the sea at night.", 0, &r1);
    is_str(r1.task_name, "creative", "a poem is creative");
    classify(m, "Traduce al ingl\xc3\xa9s: la reuni\xc3\xb3n es el martes.",
             0, &r1);
    is_str(r1.task_name, "translation", "traduce al ingl\xc3\xa9s");
    classify(m, texts[8], 0, &r1);
    is_str(r1.task_name, "code", "a Python function, in Chinese");
    classify(m, "\xd0\x9f\xd0\xb5\xd1\x80\xd0\xb5\xd0\xb2\xd0\xb5\xd0\xb4"
             "\xd0\xb8 \xd0\xbd\xd0\xb0 \xd0\xb0\xd0\xbd\xd0\xb3\xd0\xbb"
             "\xd0\xb8\xd0\xb9\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9: "
             "\xd0\xb4\xd0\xbe\xd0\xb1\xd1\x80\xd0\xbe\xd0\xb5 "
             "\xd1\x83\xd1\x82\xd1\x80\xd0\xbe", 0, &r1);
    is_str(r1.task_name, "translation", "переведи на английский");

    /* the calibration of the predicted task maps the logit */
    classify(m, texts[1], 0, &r1);
    ok(r1.raw == r1.raw && r1.difficulty > 0 && r1.difficulty < 1,
       "a logit (%.3f) and a calibrated difficulty (%.4f)", r1.raw,
       r1.difficulty);

    /* the model file: round trip */

    ok(llr_cls_model_params(m, &p) == 0, "params of the default model");
    img = llr_cls_model_write(&p, &len);
    ok(img != NULL, "model written (%zu bytes)", len);
    is_int(len, llr_cls_default_image_len, "same size as the built-in");

    lm = llr_cls_model_load(img, len, &t_pool, err, sizeof(err));
    ok(lm != NULL, "round trip loads");
    if (lm) {
        ok_all = 1;
        for (i = 0; texts[i]; i++) {
            classify(m, texts[i], 0, &r1);
            classify(lm, texts[i], 0, &r2);
            ok_all &= close_enough(&r1, &r2);
        }
        ok(ok_all, "round trip model gives the same answers");
        llr_cls_model_cleanup(lm);
    }

    /* broken files */

    bad = malloc(len);

    lm = llr_cls_model_load(img, len - 1, &t_pool, err, sizeof(err));
    ok(lm == NULL && strstr(err, "truncated"), "truncated: %s", err);

    lm = llr_cls_model_load(img, 20, &t_pool, err, sizeof(err));
    ok(lm == NULL && strstr(err, "truncated"), "short header: %s", err);

    memcpy(bad, img, len);
    bad[len / 2] ^= 0x01;
    lm = llr_cls_model_load(bad, len, &t_pool, err, sizeof(err));
    ok(lm == NULL && strstr(err, "checksum"), "flipped bit: %s", err);

    is_int(img[8], 4, "written as version 4");

    memcpy(bad, img, len);
    bad[8] = 99;
    lm = llr_cls_model_load(bad, len, &t_pool, err, sizeof(err));
    ok(lm == NULL && strstr(err, "version 99"), "wrong version: %s", err);

    memcpy(bad, img, len);
    bad[8] = 3;
    lm = llr_cls_model_load(bad, len, &t_pool, err, sizeof(err));
    ok(lm == NULL && strstr(err, "version 3 is not supported")
       && strstr(err, "reads version 4") && strstr(err, "retrain"),
       "an older version 3 file: %s", err);

    memcpy(bad, img, len);
    bad[24] = 8;
    lm = llr_cls_model_load(bad, len, &t_pool, err, sizeof(err));
    ok(lm == NULL && strstr(err, "dimensions")
       && strstr(err, "calibration 8"), "8 calibration parameters: %s",
       err);

    /* a calibration that is not a number makes every answer NaN */
    {
        llr_cls_params_t  q;
        unsigned char    *img2;
        size_t            len2;
        float            *cb;

        ok(llr_cls_model_params(m, &q) == 0, "params again");
        cb = (float *) q.calib;
        cb[1] = NAN;
        img2 = llr_cls_model_write(&q, &len2);
        lm = llr_cls_model_load(img2, len2, &t_pool, err,
                                sizeof(err));
        ok(lm == NULL && strstr(err, "finite"), "a NaN calibration: %s",
           err);

        /* a = 0.5, b = 1: difficulty = 1 / (1 + exp(-(0.5 z + 1))) */
        for (t = 0; t < q.ntasks; t++) {
            cb[t * LLR_CLS_NCALIB] = 0.5f;
            cb[t * LLR_CLS_NCALIB + 1] = 1.0f;
        }
        free(img2);
        img2 = llr_cls_model_write(&q, &len2);
        lm = llr_cls_model_load(img2, len2, &t_pool, err,
                                sizeof(err));
        ok(lm != NULL, "a calibrated image loads");
        if (lm) {
            classify(lm, texts[1], 0, &r2);
            ok(fabs(r2.difficulty - 1.0 / (1.0 + exp(-(0.5 * r2.raw + 1))))
               < 1e-5, "difficulty is the calibration of the logit "
               "(%.4f of %.3f)", r2.difficulty, r2.raw);
        }

        /* without a calibration (NULL): the identity, a = 1, b = 0 */
        q.calib = NULL;
        free(img2);
        img2 = llr_cls_model_write(&q, &len2);
        lm = llr_cls_model_load(img2, len2, &t_pool, err,
                                sizeof(err));
        if (lm) {
            classify(lm, texts[1], 0, &r2);
            ok(fabs(r2.difficulty - 1.0 / (1.0 + exp(-r2.raw))) < 1e-5,
               "no calibration: the logistic of the logit");
        }
        q.calib = cb;
        free(img2);
        llr_cls_params_free(&q);
    }

    memcpy(bad, img, len);
    bad[0] = 'X';
    lm = llr_cls_model_load(bad, len, &t_pool, err, sizeof(err));
    ok(lm == NULL && strstr(err, "magic"), "wrong magic: %s", err);

    /* two tasks with the same name: task lookups would be ambiguous */
    memcpy(bad, img, len);
    memcpy(bad + 64 + LLR_CLS_TASK_NAME_LEN, bad + 64,
           LLR_CLS_TASK_NAME_LEN);
    {
        /* a valid checksum, so the name check is what rejects it */
        uint64_t  h = llr_fnv1a64(LLR_FNV1A64_INIT, bad, len - 8);

        for (i = 0; i < 8; i++) {
            bad[len - 8 + i] = (unsigned char) (h >> (8 * i));
        }
    }
    lm = llr_cls_model_load(bad, len, &t_pool, err, sizeof(err));
    ok(lm == NULL && strstr(err, "duplicate task name"),
       "a duplicate task name: %s", err);

    memcpy(bad, img, len);
    bad[16] = 99;
    lm = llr_cls_model_load(bad, len, &t_pool, err, sizeof(err));
    ok(lm == NULL && strstr(err, "dimensions"), "wrong dimensions: %s",
       err);

    free(bad);
    free(img);
    llr_cls_params_free(&p);

    /* the last user turn weighs most */
    {
        void             *st;
        llr_req_view_t    view;
        llr_text_sink_t   sink;
        const char       *a = "Translate into French: good morning, my "
                              "friend. How are you today?";
        const char       *b = "Write a Python function that parses a "
                              "CSV file and returns a list of dicts.";

        st = malloc(llr_cls_state_size(m));
        llr_cls_state_init(st, m);
        llr_cls_sink(st, &sink);
        say(&sink, "user", 0, a);
        say(&sink, "assistant", 1, "Bonjour");
        say(&sink, "user", 2, b);
        memset(&view, 0, sizeof(view));
        view.messages = 3;
        view.user_turns = 2;
        llr_cls_finish(st, &view, &r1);
        is_str(r1.task_name, "code", "translation then code: code");
        free(st);
    }


    /*
     * The tokenization budget: the context read is the earlier user
     * turns and the system messages (not the assistant's), their heads
     * only, newest first until LLR_CLS_CTX_BUDGET bytes have been; the
     * last user turn always is.  conversation() alternates user and
     * assistant messages, every fourth a system message: of 30, the
     * newest readable ones are 28 (user), 27 (system), 26 (user), 24,
     * ...  "fill" is 90 bytes: at the built-in 128, two are read (90,
     * then 38 left: a message begun within the budget is read whole).
     */
    {
        double      f1, f2, f3;
        const char  *fill = "Thanks, that sounds good to me. Let us go on "
                            "with the next part of the plan, step by step.";
        const char  *code = "Write a Python function that parses a CSV "
                            "file and returns a list of dicts.";

        is_int((long) llr_cls_ctx_budget, 128, "the built-in budget");

        f1 = conversation(m, 30, fill, 0, code, &r1);
        vary_until = 29;
        f2 = conversation(m, 30, fill, 28, code, &r2);
        ok(!same(&r1, &r2), "the newest user turn before the last counts");
        vary_until = 30;
        f2 = conversation(m, 30, fill, 29, code, &r2);
        ok(same(&r1, &r2), "the assistant's answer does not");
        vary_until = (size_t) -1;
        oldest_read(m, -1, 27, fill, code, "built-in budget");

        vary_until = 1000;
        f1 = conversation(m, 5000, fill, 0, code, &r1);
        f2 = conversation(m, 5000, fill, 1, code, &r2);
        ok(same(&r1, &r2), "5000 messages: the text of those past the "
           "budget does not count (%.0f, %.0f features)", f1, f2);
        vary_until = (size_t) -1;

        /* the last user turn is read however long the conversation */
        (void) conversation(m, 5000, fill, 0, texts[2], &r2);
        t = (size_t) llr_cls_task_index(m, "code", 4);
        ok(!same(&r1, &r2) && r1.scores[t] > r2.scores[t], "5000 messages, "
           "then code or translation: the last turn counts (%s, %s; code "
           "%.3f, %.3f)", r1.task_name, r2.task_name, r1.scores[t],
           r2.scores[t]);

        f3 = conversation(m, 60, fill, 0, code, &r2);
        ok(f1 == f3, "the same work for 60 and 5000 messages (%.0f "
           "features)", f1);
        ok(f1 <= 2 * (llr_cls_ctx_budget + 4 * 160), "hashed features "
           "bounded: %.0f", f1);

        /* llr_cls_state_set_budget(): what llm-route-classify -b
           varies; the built-in value changes nothing */
        test_budget = (long) llr_cls_ctx_budget;
        f2 = conversation(m, 5000, fill, 0, code, &r2);
        ok(f1 == f2 && same(&r1, &r2), "budget set to the built-in one: "
           "the same answer");

        test_budget = 0;
        f1 = conversation(m, 30, fill, 0, code, &r1);
        f2 = conversation(m, 30, fill, 1, code, &r2);
        f3 = conversation(m, 0, fill, 0, code, &r3);
        ok(same(&r1, &r2), "budget 0: no context text counts");
        ok(f1 == f3, "budget 0: the features of the last turn only (%.0f, "
           "%.0f)", f1, f3);

        /* budget 80: the newest readable one (90 bytes) only */
        oldest_read(m, 80, 28, fill, code, "budget 80");

        /* a large budget: only the newest LLR_CLS_CTX_SLOTS (8) */
        oldest_read(m, 100000, 19, fill, code, "large budget");

        /* receiving a message without text drops none of the 8 */
        empty_before_last = 1;
        oldest_read(m, 100000, 19, fill, code, "then an empty message");
        empty_before_last = 0;

        /* a context message without text takes no slot */
        {
            void             *st;
            llr_req_view_t    v;
            llr_text_sink_t   sk;

            f1 = conversation(m, 1, fill, 0, code, &r1);

            st = malloc(llr_cls_state_size(m));
            llr_cls_state_init(st, m);
            llr_cls_sink(st, &sk);
            say(&sk, "user", 0, fill);
            for (i = 0; i < 20; i++) {
                say(&sk, "assistant", 1 + i, NULL);
            }
            say(&sk, "user", 21, code);
            memset(&v, 0, sizeof(v));
            v.messages = 2;
            v.user_turns = 1;
            v.max_tokens = -1;
            llr_cls_finish(st, &v, &r2);
            free(st);
            ok(same(&r1, &r2), "20 empty assistant messages do not push "
               "the user turn out");
        }

        /* one huge user message: only its head and tail are read */
        {
            size_t  n = 1 << 20;
            char   *h1 = malloc(n + 1), *h2 = malloc(n + 1);

            if (h1 == NULL || h2 == NULL) {
                abort();
            }

            memset(h1, ' ', n);
            memset(h2, ' ', n);
            memset(h1 + 200, 'x', n - 400);
            memcpy(h1, code, strlen(code));
            memcpy(h2, code, strlen(code));
            memcpy(h1 + n - 20, " and tests, please?", 19);
            memcpy(h2 + n - 20, " and tests, please?", 19);
            h1[n - 1] = h2[n - 1] = '\n';
            h1[n] = h2[n] = '\0';
            for (i = 200; i < (int) n - 200; i += 1000) {
                h2[i] = (char) ('a' + i % 26);
            }
            f1 = conversation(m, 0, "", 0, h1, &r1);
            f2 = conversation(m, 0, "", 0, h2, &r2);
            ok(same(&r1, &r2) && f1 == f2 && f1 < 2 * 160, "a 1 MB "
               "message: its middle is not read (%.0f features)", f1);
            free(h1);
            free(h2);
        }
    }

    /* the difficulty features of a word problem */
    {
        float  d[LLR_CLS_NSTRUCT], e[LLR_CLS_NSTRUCT];

        dense_of(m, "A shirt costs $1,250.50 and is 20% off. She buys "
                 "3/4 of a pie. How much?", d);
        dense_of(m, "Tell me about the history of the Roman empire", e);

        ok(d[52] == 1.0f && e[52] == 0.0f,
           "fractions and decimals: 3/4, 250.50 (%g, %g)", d[52], e[52]);
        ok(d[53] == 1.0f && e[53] == 0.0f, "a percentage (%g, %g)", d[53],
           e[53]);
        ok(d[51] > 0.0f && e[51] == 0.0f, "a big number: 1,250 (%g, %g)",
           d[51], e[51]);
        ok(d[54] > 0.0f && e[54] == 0.0f, "money: $ (%g, %g)", d[54],
           e[54]);
        ok(d[48] > e[48], "sentences counted (%g > %g)", d[48], e[48]);
        ok(d[16] > 0.0f && e[16] == 0.0f, "numbers counted (%g, %g)", d[16],
           e[16]);
        ok(fabs(d[10] - log2(1.0 + 68) / 14.0) < 0.02,
           "log2 length, approximated (%g)", d[10]);
    }

    /* the options of a multiple-choice question (version 3) */
    {
        int    j, same_all;
        size_t step;
        float  d[LLR_CLS_NSTRUCT], e[LLR_CLS_NSTRUCT], f[LLR_CLS_NSTRUCT];

        dense_of(m, MCQ, d);
        dense_of(m, texts[1], e);

        ok(d[64] == 1.0f && d[65] == 1.0f, "four options (%g, %g)", d[64],
           d[65]);
        ok(d[73] == 1.0f, "\"I and II only\" (%g)", d[73]);
        ok(d[79] == 1.0f, "\"True, False\", \"Not wrong, Wrong\" (%g)",
           d[79]);
        ok(d[71] == 0.25f && d[72] == 0.0f, "one numeric option of four "
           "(%g, %g)", d[71], d[72]);
        ok(d[68] == 1.0f && d[67] == 0.0f, "a short question (%g, %g)",
           d[68], d[67]);

        same_all = 1;
        for (j = 64; j < LLR_CLS_NSTRUCT; j++) {
            same_all &= e[j] == 0.0f;
        }
        ok(same_all, "a word problem has no option features");

        dense_of(m, "Compute 2 + 2.\nA. 3\nB. 4\nC. -1\nD. $5\n"
                 "Answer:", e);
        ok(e[71] == 1.0f && e[72] == 1.0f && e[73] == 0.0f
           && e[79] == 0.0f, "numeric options (%g, %g)", e[71], e[72]);
        ok(e[70] == 1.0f && d[70] == 0.0f, "short options (%g, %g)", e[70],
           d[70]);

        same_all = 1;
        for (step = 1; step <= 9; step++) {
            dense_split(m, NULL, MCQ, step, f);
            same_all &= memcmp(d, f, sizeof(d)) == 0;
        }
        ok(same_all, "option features: split in pieces of 1..9 bytes, "
           "identical");

        /* the last option, with or without a newline after it */
        dense_of(m, "Pick one:\nA. alpha\nB. beta", e);
        dense_of(m, "Pick one:\nA. alpha\nB. beta\n", f);
        ok(e[64] == 1.0f && e[69] == f[69] && e[77] == f[77],
           "the last option without a newline counts (%g, %g)", e[69],
           f[69]);

        /* only the last user turn */
        dense_split(m, MCQ, "thanks, and the next one?", 0, e);
        ok(e[64] == 0.0f && e[73] == 0.0f, "options of an earlier turn do "
           "not count (%g)", e[64]);
        dense_split(m, "hello", MCQ, 0, e);
        ok(e[64] == 1.0f && e[73] == d[73] && e[71] == d[71],
           "the last turn's options: same features (%g)", e[64]);
    }

    free(big);
    pool_free();

    done_testing();
}
