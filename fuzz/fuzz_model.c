/*
 * libFuzzer target for the classifier model loader, llr_cls_model_load()
 * in core/llr_classify.c, and for classifying with whatever it accepts.
 *
 * The first input byte picks the mode, the rest is used as:
 *   mode 0  a model file image, loaded as is (the checksum gates almost
 *           everything, so this mostly exercises the header checks;
 *           the seeds hold version 4 images, and older ones that are
 *           refused);
 *   mode 1  a model file image whose trailing 8-byte FNV-1a checksum is
 *           recomputed first, so corrupted bodies reach the decoder;
 *   mode 2  parameters: hash bits, task count and raw float bits are
 *           taken from the input, serialized with llr_cls_model_write()
 *           (always the current format, whatever the seeds are), then
 *           edited at input-chosen offsets, checksum fixed, and loaded;
 *   mode 3  as 2 without the edits.
 * Whatever loads is used to classify a few fixed prompts and the input
 * itself as message text (which also drives the newline scan for the
 * multiple-choice features).  Checks beyond "does not crash": a loaded
 * model has 2..16 tasks with non-empty names, the result's task is in
 * range and named, and the model's name lookups agree.  With
 * FUZZ_MODEL_STRICT=1 in the environment, a non-finite difficulty or
 * score is a failure too (the loader does not reject non-finite
 * floats, see fuzz/README.md).
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_classify.h"
#include "llr_classify_train.h"


#define FZ_MAX_ALLOCS  32


typedef struct {
    void    *p[FZ_MAX_ALLOCS];
    size_t   n;
} fz_arena_t;


static int  strict = -1;


static void *
fz_alloc(void *ctx, size_t n)
{
    fz_arena_t  *a = ctx;
    void        *p;

    if (a->n == FZ_MAX_ALLOCS) {
        return NULL;
    }

    p = malloc(n ? n : 1);
    if (p != NULL) {
        a->p[a->n++] = p;
    }

    return p;
}


static void
fz_arena_free(fz_arena_t *a)
{
    while (a->n) {
        free(a->p[--a->n]);
    }
}


static void
fz_fix_checksum(unsigned char *img, size_t len)
{
    size_t    i;
    uint64_t  h;

    if (len < 8) {
        return;
    }

    h = llr_fnv1a64(LLR_FNV1A64_INIT, img, len - 8);

    for (i = 0; i < 8; i++) {
        img[len - 8 + i] = (unsigned char) (h >> (8 * i));
    }
}


/* the next float from the input, cycling; raw bits (NaN, Inf, ...) */

typedef struct {
    const uint8_t  *d;
    size_t          len;
    size_t          pos;
} fz_src_t;


static float
fz_float(fz_src_t *s)
{
    size_t    i;
    float     f;
    uint32_t  v;

    if (s->len == 0) {
        return 0.0f;
    }

    v = 0;
    for (i = 0; i < 4; i++) {
        v = v << 8 | s->d[s->pos++ % s->len];
    }

    /* mostly small ordinary values, sometimes raw bit patterns */
    if ((v & 0xff) < 0xf0) {
        return (float) ((int32_t) v >> 8) / (float) (1 << 20);
    }

    memcpy(&f, &v, 4);
    return f;
}


static unsigned char *
fz_synth(const uint8_t *data, size_t size, int edit, size_t *len)
{
    size_t              i, n, nb, off;
    float              *th, *dh, *td, *dd, *dtd, *tb, *cb;
    unsigned char      *img;
    fz_src_t            s;
    llr_cls_params_t    p;

    if (size < 2) {
        return NULL;
    }

    memset(&p, 0, sizeof(p));
    p.hash_bits = 8 + data[0] % 3;
    p.ntasks = 2 + data[1] % (LLR_CLS_MAX_TASKS - 1);

    s.d = data + 2;
    s.len = size - 2;
    s.pos = 0;

    nb = (size_t) 1 << p.hash_bits;
    th = malloc(nb * p.ntasks * sizeof(float));
    dh = malloc(nb * sizeof(float));
    td = malloc(LLR_CLS_NSTRUCT * p.ntasks * sizeof(float));
    dd = malloc(LLR_CLS_NSTRUCT * sizeof(float));
    dtd = malloc(LLR_CLS_NSTRUCT * p.ntasks * sizeof(float));
    tb = malloc(p.ntasks * sizeof(float));
    cb = malloc(LLR_CLS_NCALIB * p.ntasks * sizeof(float));

    if (th == NULL || dh == NULL || td == NULL || dd == NULL || dtd == NULL
        || tb == NULL || cb == NULL)
    {
        abort();
    }

    /* hashed weights: sparse, a few from the input */
    memset(th, 0, nb * p.ntasks * sizeof(float));
    memset(dh, 0, nb * sizeof(float));
    for (i = 0; i < 16 && i < s.len; i++) {
        th[(s.d[i] * 7919u + i) % (nb * p.ntasks)] = fz_float(&s);
        dh[(s.d[i] * 104729u + i) % nb] = fz_float(&s);
    }

    for (i = 0; i < LLR_CLS_NSTRUCT * p.ntasks; i++) {
        td[i] = fz_float(&s);
        dtd[i] = fz_float(&s);
    }
    for (i = 0; i < LLR_CLS_NSTRUCT; i++) {
        dd[i] = fz_float(&s);
    }
    for (i = 0; i < LLR_CLS_NCALIB * p.ntasks; i++) {
        cb[i] = fz_float(&s);
    }
    for (i = 0; i < p.ntasks; i++) {
        tb[i] = fz_float(&s);
        n = 1 + (s.len ? s.d[i % s.len] % (LLR_CLS_TASK_NAME_LEN - 1) : 0);
        memset(p.task_names[i], 'a' + i, n);
    }

    p.ctx_weight = fz_float(&s);
    p.diff_bias = fz_float(&s);
    p.task_hashed = th;
    p.diff_hashed = dh;
    p.task_dense = td;
    p.diff_dense = dd;
    p.diff_tdense = dtd;
    p.task_bias = tb;
    p.calib = (data[0] & 0x80) ? NULL : cb;

    img = llr_cls_model_write(&p, len);

    free(th);
    free(dh);
    free(td);
    free(dd);
    free(dtd);
    free(tb);
    free(cb);

    if (img == NULL) {
        return NULL;
    }

    /* edits: (offset 16 bits, value) triples from the end of the input */
    if (edit) {
        for (i = 0; i + 3 <= s.len && i < 3 * 8; i += 3) {
            off = (size_t) (s.d[s.len - 1 - i] << 8 | s.d[s.len - 2 - i]);
            if (off < *len) {
                img[off] = s.d[s.len - 3 - i];
            }
        }
    }

    fz_fix_checksum(img, *len);

    return img;
}


static void
fz_classify(const llr_cls_model_t *m, const char *role,
    const unsigned char *text, size_t len, int64_t max_tokens)
{
    int                i;
    size_t             nt;
    void              *st;
    const char        *name;
    llr_text_sink_t    sink;
    llr_req_view_t     view;
    llr_cls_result_t   res;

    st = malloc(llr_cls_state_size(m));
    if (st == NULL) {
        abort();
    }

    llr_cls_state_init(st, m);
    llr_cls_sink(st, &sink);

    sink.message_begin(sink.ctx, "system", 0);
    sink.text(sink.ctx, (const unsigned char *) "You are helpful.", 16);
    sink.message_end(sink.ctx);

    sink.message_begin(sink.ctx, role, 1);
    sink.text(sink.ctx, text, len / 2);
    sink.text(sink.ctx, text + len / 2, len - len / 2);
    sink.message_end(sink.ctx);

    memset(&view, 0, sizeof(view));
    view.stream = -1;
    view.include_usage = -1;
    view.max_tokens = max_tokens;
    view.messages = 2;
    view.user_turns = 1;
    view.has_system = 1;
    view.text_bytes = 16 + len;
    view.body_bytes = 64 + len;

    memset(&res, 0, sizeof(res));
    llr_cls_finish(st, &view, &res);
    llr_cls_probabilities(&res);

    nt = llr_cls_ntasks(m);

    if (res.ntasks != nt || res.task < 0 || (size_t) res.task >= nt
        || res.task_name == NULL || res.task_name[0] == '\0'
        || strcmp(res.task_name, llr_cls_task_name(m, res.task)) != 0)
    {
        abort();
    }

    if (strict) {
        if (!(res.difficulty >= 0.0 && res.difficulty <= 1.0)) {
            abort();
        }
        for (i = 0; i < (int) nt; i++) {
            if (!(res.scores[i] >= 0.0 && res.scores[i] <= 1.0)) {
                abort();
            }
        }
    }

    name = llr_cls_task_name(m, res.task);
    if (llr_cls_task_index(m, name, strlen(name)) != res.task) {
        abort();
    }

    free(st);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               mode;
    char              err[256];
    size_t            i, len, nt;
    const char       *name;
    fz_arena_t        arena;
    llr_alloc_t       mem = { fz_alloc, NULL, NULL, &arena };
    unsigned char    *img;
    llr_cls_model_t  *m;
    static const char  *texts[] = {
        "Write a Python function that reverses a linked list.",
        "What is 17 * 23? Show your steps: 17*20 = 340, 17*3 = 51.",
        "Prove that there are infinitely many primes.",
        ("Which of these is NOT prime?\nA. 2\nB. I and II only\n"
         "C) True, False\nD. Not wrong, Wrong"),
        "",
    };

    if (strict < 0) {
        name = getenv("FUZZ_MODEL_STRICT");
        strict = name != NULL && name[0] == '1';
    }

    if (size < 1) {
        return 0;
    }

    mode = data[0] & 3;
    data++;
    size--;

    img = NULL;

    switch (mode) {

    case 0:
        len = size;
        break;

    case 1:
        img = malloc(size ? size : 1);
        if (img == NULL) {
            abort();
        }
        memcpy(img, data, size);
        fz_fix_checksum(img, size);
        len = size;
        break;

    default:
        img = fz_synth(data, size, mode == 2, &len);
        if (img == NULL) {
            return 0;
        }
    }

    arena.n = 0;
    err[0] = '\0';

    m = llr_cls_model_load(img ? img : data, len, &mem, err, sizeof(err));

    /* the loader copies what it keeps: the image may go now */
    if (img != NULL) {
        memset(img, 0xa5, len);
        free(img);
    }

    if (m == NULL) {
        if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL) {
            abort();
        }
        fz_arena_free(&arena);
        return 0;
    }

    nt = llr_cls_ntasks(m);
    if (nt < 2 || nt > LLR_CLS_MAX_TASKS) {
        abort();
    }

    for (i = 0; i < nt; i++) {
        name = llr_cls_task_name(m, (int) i);
        if (name == NULL || name[0] == '\0'
            || strlen(name) >= LLR_CLS_TASK_NAME_LEN)
        {
            abort();
        }
    }

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        fz_classify(m, "user", (const unsigned char *) texts[i],
                    strlen(texts[i]), i == 1 ? 4096 : -1);
    }

    fz_classify(m, "user", data, size, (int64_t) size);

    llr_cls_model_cleanup(m);
    fz_arena_free(&arena);

    return 0;
}
