/*
 * libFuzzer target for the classifier's text path (core/llr_classify.c):
 * the tokenizer (two passes per message part; CJK characters, kana runs,
 * multi-byte punctuation, case folding), the context budget, the
 * multiple-choice and list line scan and the heads, with the built-in
 * model, on any conversation.
 *
 * Input: messages, each 3 bytes of header then its text:
 *   byte 0   role (low 3 bits: user, system, assistant, none, tool,
 *            user, user, assistant), bit 7: the message is left open
 *            (no message_end: the scanner may stop mid-message)
 *   byte 1-2 text length, little-endian, mod 1200 (cut at the input's end)
 * and the last byte picks the piece size of the second run (1..16).
 *
 * Checks beyond "does not crash": the same conversation fed whole and
 * in pieces gives bit-identical results and dense features (the
 * tokenizer keeps no state across text pieces that could differ), and
 * twice gives the same; the scores (llr_cls_probabilities) are a
 * distribution over the model's tasks, the difficulty is in (0, 1), the
 * task is the top score and is named; the number of hashed features is
 * bounded by the budget.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_classify.h"
#include "llr_classify_train.h"


typedef struct {
    llr_cls_result_t  res;
    float             dense[LLR_CLS_NSTRUCT];
    double            ncur;
    double            nctx;
} fz_out_t;


static const char  *fz_roles[8] = {
    "user", "system", "assistant", NULL, "tool", "user", "user",
    "assistant"
};


static void
fz_run(const llr_cls_model_t *m, void *st, const uint8_t *data, size_t size,
    size_t piece, fz_out_t *out)
{
    size_t           i, j, k, len, turn;
    uint8_t          h;
    llr_text_sink_t  sink;

    llr_cls_state_init(st, m);
    llr_cls_sink(st, &sink);

    i = 0;
    turn = 0;

    while (i + 3 <= size) {
        h = data[i];
        len = (size_t) (data[i + 1] | data[i + 2] << 8) % 1200;
        i += 3;

        if (len > size - i) {
            len = size - i;
        }

        sink.message_begin(sink.ctx, fz_roles[h & 7], turn++);

        for (j = 0; j < len; j += k) {
            k = (piece == 0 || len - j < piece) ? len - j : piece;
            sink.text(sink.ctx, data + i + j, k);
        }

        if (!(h & 0x80)) {
            sink.message_end(sink.ctx);
        }

        i += len;
    }

    memset(&out->res, 0, sizeof(out->res));
    llr_cls_finish(st, NULL, &out->res);
    memcpy(out->dense, llr_cls_state_dense(st), sizeof(out->dense));
    llr_cls_state_counts(st, &out->ncur, &out->nctx);
}


static int
fz_same(const fz_out_t *a, const fz_out_t *b)
{
    return a->res.task == b->res.task
           && a->res.ntasks == b->res.ntasks
           && memcmp(&a->res.difficulty, &b->res.difficulty,
                     sizeof(a->res.difficulty)) == 0
           && memcmp(a->res.scores, b->res.scores,
                     a->res.ntasks * sizeof(a->res.scores[0])) == 0
           && memcmp(a->dense, b->dense, sizeof(a->dense)) == 0
           && a->ncur == b->ncur && a->nctx == b->nctx;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                  t, piece;
    double                  sum;
    void                   *st;
    fz_out_t                a, b, c;
    const llr_cls_model_t  *m;

    m = llr_cls_default_model();
    if (m == NULL) {
        abort();
    }

    piece = size ? (size_t) (data[size - 1] & 15) + 1 : 1;

    st = malloc(llr_cls_state_size(m));
    if (st == NULL) {
        return 0;
    }

    fz_run(m, st, data, size, 0, &a);
    fz_run(m, st, data, size, piece, &b);
    fz_run(m, st, data, size, 0, &c);

    free(st);

    if (!fz_same(&a, &b) || !fz_same(&a, &c)) {
        abort();
    }

    llr_cls_probabilities(&a.res);

    if (a.res.ntasks != llr_cls_ntasks(m)
        || a.res.task < 0 || (size_t) a.res.task >= a.res.ntasks
        || a.res.task_name == NULL
        || strcmp(a.res.task_name, llr_cls_task_name(m, a.res.task)) != 0
        || !(a.res.difficulty > 0.0 && a.res.difficulty < 1.0))
    {
        abort();
    }

    sum = 0;

    for (t = 0; t < a.res.ntasks; t++) {
        if (!(a.res.scores[t] >= 0.0 && a.res.scores[t] <= 1.0)
            || a.res.scores[t] > a.res.scores[a.res.task])
        {
            abort();
        }

        sum += a.res.scores[t];
    }

    if (fabs(sum - 1.0) > 1e-6) {
        abort();
    }

    /*
     * at most 3 features per 2 tokenized bytes plus 2 per message: the
     * context budget (llr_cls_ctx_budget, overshot by at most one
     * message's head) and the last user turn (160 bytes), with room to
     * spare
     */

    if (a.ncur + a.nctx
        > 3.0 * (llr_cls_ctx_budget + 160 + 320) / 2 + 2 * 64)
    {
        abort();
    }

    return 0;
}
