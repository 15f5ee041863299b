/*
 * llm-route-train: trains the classifier model from JSON lines.
 *
 *   llm-route-train -o MODEL [--task-data FILE] [--difficulty-data FILE]
 *       [--base MODEL] [--bits N] [--epochs N] [--diff-epochs N]
 *       [--diff-lr X] [--diff-hashed-lr X] [--diff-l2 X] [--aux-weight X]
 *       [--no-task-dense] [--diff-avg] [--label weak_wrong|gain|delta]
 *       [--diff-targets G,BW,BR,H] [--source-weight [task:|diff:]NAME=W]
 *       [--calib-folds N] [--lexicon FILE] [--emit-c FILE.c]
 *   llm-route-train --emit-c FILE.c -i MODEL
 *
 * A line holds {"prompt": "..."} or {"messages": [{"role": "user",
 * "content": "..."}, ...]} (a conversation: the last user message is the
 * turn classified, the others its context), and
 *
 *   task data:        "task": "code"
 *   difficulty data:  "weak_correct": true, "strong_correct": false
 *                     (a weak and a strong model's correctness), or
 *                     "target": 0..1 (the training target itself);
 *                     optional "aux" (0..1, a graded difficulty blended
 *                     into the target with --aux-weight), "weight",
 *                     "source" (a name for --source-weight; task
 *                     lines may have one too) and "label"
 *                     (0..1: whether the strong model is needed, for the
 *                     calibration; default from the correctness columns:
 *                     weak wrong and strong right)
 *
 * Each line goes through the classifier's own feature code, as the
 * module reads a request.  Training is deterministic: fixed order, fixed
 * seed, AdaGrad with L2.  The difficulty head is calibrated per task:
 * the lines are split in --calib-folds folds (default 5, 0: none) by a
 * hash of their first message, a difficulty head is trained on all
 * folds but one and scores the one left out, and per predicted task a
 * logistic map a * z + b of those scores onto "label" is fitted
 * (shrunk towards the map of all tasks).  A head without data is copied
 * from the base model (the built-in default unless --base is given).
 *
 * --lexicon FILE ties the weights of terms that mean the same thing in
 * different languages: lines "NAME: term | term | ...", a term one or
 * two words (or CJK characters).  Each line is a concept with weights of
 * its own, learnt wherever any of its terms occurs (as a word, or as the
 * first word of a message), then added to the weights of each term's
 * buckets: the model file has the same shape and the classifier does
 * the same work.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "../ngx_llm_route_module/core/llr_classify.h"


/* the documented task set, in this order; data may add more */
static const char  *llr_train_tasks[] = {
    "general", "code", "math", "reasoning", "creative", "extraction",
    "summarization", "translation"
};


#define MAX_SOURCES   32
#define MAX_MSGS      64


typedef struct {
    uint32_t  idx;
    float     val;
} llr_feat_t;


typedef struct {
    size_t    start;      /* into the feature pool */
    uint32_t  n;
    int       label;      /* task index, or 0/1 */
    float     target;     /* difficulty: the (soft) target, 0..1 */
    float     weight;     /* difficulty: the example's weight */
    float     clabel;     /* difficulty: calibration label, < 0: none */
    int       task;       /* difficulty: the task the task head predicts */
    int       fold;       /* calibration fold */
    float     dense[LLR_CLS_NSTRUCT];
} llr_example_t;


typedef struct {
    llr_example_t  *ex;
    size_t          nex, aex;
    llr_feat_t     *pool;
    size_t          npool, apool;
} llr_set_t;


/* recorder of hashed features */
typedef struct {
    uint32_t  *b[2];
    size_t     n[2], a[2];
} llr_rec_t;


/* a message of a line */
typedef struct {
    const char  *role;
    const char  *text;
} llr_msg_t;


static struct {
    char    name[64];
    double  weight;
} sources[MAX_SOURCES];

static size_t  nsources;

/*
 * the lexicon: the concept of each bucket (-1: none), the number of
 * concepts; a concept's weights are row nb + concept of the weight
 * arrays while training
 */
static int32_t  *con_of;
static size_t    ncon;
static size_t    con_nb;


static void
die(const char *msg)
{
    fprintf(stderr, "llm-route-train: %s\n", msg);
    exit(1);
}


static void *
xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL) {
        die("out of memory");
    }
    return p;
}


static void
rec_push(llr_rec_t *r, int g, uint32_t b)
{
    if (r->n[g] == r->a[g]) {
        r->a[g] = r->a[g] ? 2 * r->a[g] : 256;
        r->b[g] = xrealloc(r->b[g], r->a[g] * sizeof(uint32_t));
    }
    r->b[g][r->n[g]++] = b;
}


static void
rec_cb(void *ctx, uint32_t bucket, int group)
{
    size_t      i;
    llr_rec_t  *r = ctx;

    if (bucket == UINT32_MAX) {
        for (i = 0; i < r->n[LLR_CLS_GROUP_CUR]; i++) {
            rec_push(r, LLR_CLS_GROUP_CTX, r->b[LLR_CLS_GROUP_CUR][i]);
        }
        r->n[LLR_CLS_GROUP_CUR] = 0;
        return;
    }

    rec_push(r, group, bucket);
}


static int
cmp_u32(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : x > y;
}


static int
cmp_feat(const void *a, const void *b)
{
    const llr_feat_t  *x = a, *y = b;

    return x->idx < y->idx ? -1 : x->idx > y->idx;
}


/*
 * difficulty targets by outcome (--label delta, --diff-targets): weak
 * wrong and strong right, both wrong, both right, weak right and strong
 * wrong
 */
static double  dtarget[4] = { 1.0, 0.5, 0.5, 0.0 };

/*
 * --diff-avg: the difficulty weights are the average of the weights at
 * the end of each epoch of the second half of training (0: the last)
 */
static int     diff_avg;


/* add the weights at the end of an epoch to their sums */
static void
avg_add(double *avg, const float *w, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        avg[i] += w[i];
    }
}


static void
avg_set(float *w, const double *avg, size_t n, double div)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        w[i] = (float) (avg[i] / div);
    }
}


static uint32_t
fnv32(const char *s)
{
    uint32_t  h;

    h = 0x811c9dc5u;

    while (*s) {
        h = (h ^ (unsigned char) *s++) * 0x01000193u;
    }

    return h;
}


/*
 * Extract the features of one line exactly as the module does: its
 * messages through the sink, then finish with the view the request
 * scanner would give.
 */
static llr_example_t *
extract(const llr_cls_model_t *fm, void *state, llr_rec_t *r,
    const llr_msg_t *msg, size_t nmsg, llr_set_t *set)
{
    int               g;
    size_t            i, k, first, len;
    float             w;
    double            ncur, nctx, inv[2];
    llr_example_t    *ex;
    llr_req_view_t    view;
    llr_text_sink_t   sink;
    llr_cls_result_t  res;

    r->n[0] = r->n[1] = 0;
    llr_cls_state_init(state, fm);
    llr_cls_state_set_recorder(state, rec_cb, r);
    llr_cls_sink(state, &sink);

    memset(&view, 0, sizeof(view));
    view.max_tokens = -1;
    view.stream = -1;
    view.include_usage = -1;

    for (i = 0; i < nmsg; i++) {
        len = strlen(msg[i].text);

        sink.message_begin(sink.ctx, msg[i].role, i);
        if (len) {
            sink.text(sink.ctx, (const unsigned char *) msg[i].text, len);
        }
        sink.message_end(sink.ctx);

        view.messages++;
        view.text_bytes += len;

        if (strcmp(msg[i].role, "user") == 0) {
            view.user_turns++;

        } else if (strcmp(msg[i].role, "system") == 0) {
            view.has_system = 1;
        }
    }

    llr_cls_finish(state, &view, &res);
    llr_cls_state_counts(state, &ncur, &nctx);

    inv[0] = ncur > 0 ? 1.0 / sqrt(ncur) : 0;
    inv[1] = nctx > 0 ? 1.0 / sqrt(nctx) : 0;

    if (set->nex == set->aex) {
        set->aex = set->aex ? 2 * set->aex : 1024;
        set->ex = xrealloc(set->ex, set->aex * sizeof(llr_example_t));
    }

    ex = &set->ex[set->nex++];
    memset(ex, 0, sizeof(llr_example_t));
    ex->start = set->npool;
    memcpy(ex->dense, llr_cls_state_dense(state), sizeof(ex->dense));

    for (g = 0; g < 2; g++) {
        if (r->n[g]) {
            qsort(r->b[g], r->n[g], sizeof(uint32_t), cmp_u32);
        }

        /* ctx weight as the heads apply it (see llr_cls_finish) */
        w = (float) inv[g] * (g == LLR_CLS_GROUP_CTX ? 0.5f : 1.0f);

        for (i = 0; i < r->n[g]; i = k) {
            for (k = i; k < r->n[g] && r->b[g][k] == r->b[g][i]; k++) {
                /* void */
            }
            if (set->npool == set->apool) {
                set->apool = set->apool ? 2 * set->apool : 65536;
                set->pool = xrealloc(set->pool,
                                     set->apool * sizeof(llr_feat_t));
            }
            set->pool[set->npool].idx = r->b[g][i];
            set->pool[set->npool].val = w * (float) (k - i);
            set->npool++;
        }
    }

    /* the concepts of the lexicon: a feature of their own, same value */
    first = ex->start;
    if (ncon) {
        k = set->npool;
        for (i = first; i < k; i++) {
            if (con_of[set->pool[i].idx] < 0) {
                continue;
            }
            if (set->npool == set->apool) {
                set->apool *= 2;
                set->pool = xrealloc(set->pool,
                                     set->apool * sizeof(llr_feat_t));
            }
            set->pool[set->npool].idx = (uint32_t) (con_nb
                                                    + con_of[set->pool[i].idx]);
            set->pool[set->npool].val = set->pool[i].val;
            set->npool++;
        }
    }

    /* merge a bucket seen in both groups, or a concept seen twice */
    qsort(set->pool + first, set->npool - first, sizeof(llr_feat_t),
          cmp_feat);
    for (i = first, k = first; i < set->npool; i++) {
        if (k > first && set->pool[k - 1].idx == set->pool[i].idx) {
            set->pool[k - 1].val += set->pool[i].val;
        } else {
            set->pool[k++] = set->pool[i];
        }
    }
    set->npool = k;
    ex->n = (uint32_t) (k - first);

    return ex;
}


static char *
read_file(const char *path, size_t *len)
{
    FILE    *f;
    char    *buf;
    size_t   n, a, r;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "llm-route-train: %s: %s\n", path, strerror(errno));
        exit(1);
    }

    buf = NULL;
    n = 0;
    a = 0;
    for ( ;; ) {
        if (n == a) {
            a = a ? 2 * a : 1 << 20;
            buf = xrealloc(buf, a + 1);
        }
        r = fread(buf + n, 1, a - n, f);
        if (r == 0) {
            break;
        }
        n += r;
    }

    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}


/*
 * The line of buf (len bytes, NUL-terminated) at *pos, its newline
 * replaced by a NUL; *pos moves to the next one.  NULL at the end.
 */
static char *
next_line(char *buf, size_t len, char **pos)
{
    char  *line, *nl;

    if (*pos >= buf + len) {
        return NULL;
    }

    line = *pos;
    nl = strchr(line, '\n');
    if (nl == NULL) {
        nl = buf + len;
    }

    *nl = '\0';
    *pos = nl + 1;

    return line;
}


static int
task_id(char names[][LLR_CLS_TASK_NAME_LEN], uint32_t *ntasks,
    const char *name)
{
    uint32_t  t;

    for (t = 0; t < *ntasks; t++) {
        if (strcmp(names[t], name) == 0) {
            return (int) t;
        }
    }

    if (*ntasks == LLR_CLS_MAX_TASKS
        || strlen(name) >= LLR_CLS_TASK_NAME_LEN || name[0] == '\0')
    {
        fprintf(stderr, "llm-route-train: bad or too many task names "
                "(\"%s\")\n", name);
        exit(1);
    }

    snprintf(names[*ntasks], LLR_CLS_TASK_NAME_LEN, "%s", name);
    return (int) (*ntasks)++;
}


/*
 * The weight of a source for a head: "task:NAME" or "diff:NAME" if
 * given, else "NAME", else 1
 */
static double
source_weight(int kind, const char *name)
{
    size_t       i, n;
    const char  *pre;

    pre = kind ? "diff:" : "task:";
    n = strlen(pre);

    for (i = 0; i < nsources; i++) {
        if (strncmp(sources[i].name, pre, n) == 0
            && strcmp(sources[i].name + n, name) == 0)
        {
            return sources[i].weight;
        }
    }

    for (i = 0; i < nsources; i++) {
        if (strcmp(sources[i].name, name) == 0) {
            return sources[i].weight;
        }
    }

    return 1.0;
}


static void
bad_line(const char *path, size_t lineno, const char *what)
{
    fprintf(stderr, "llm-route-train: %s:%zu: %s\n", path, lineno, what);
    exit(1);
}


/* the messages of a line: "prompt", or "messages" with roles */
static size_t
line_messages(yajl_val v, llr_msg_t *msg, const char *path, size_t lineno)
{
    size_t       i, n;
    yajl_val     p, a, m, role, text;
    const char  *kp[] = { "prompt", NULL };
    const char  *km[] = { "messages", NULL };
    const char  *kr[] = { "role", NULL };
    const char  *kc[] = { "content", NULL };

    p = yajl_tree_get(v, kp, yajl_t_string);
    if (p != NULL) {
        msg[0].role = "user";
        msg[0].text = YAJL_GET_STRING(p) ? YAJL_GET_STRING(p) : "";
        return 1;
    }

    a = yajl_tree_get(v, km, yajl_t_array);
    if (a == NULL || YAJL_GET_ARRAY(a)->len == 0
        || YAJL_GET_ARRAY(a)->len > MAX_MSGS)
    {
        bad_line(path, lineno, "no \"prompt\" and no \"messages\" "
                 "(1..64 of them)");
    }

    n = YAJL_GET_ARRAY(a)->len;

    for (i = 0; i < n; i++) {
        m = YAJL_GET_ARRAY(a)->values[i];
        role = yajl_tree_get(m, kr, yajl_t_string);
        text = yajl_tree_get(m, kc, yajl_t_string);

        if (role == NULL || text == NULL) {
            bad_line(path, lineno, "a message without a string \"role\" "
                     "and \"content\"");
        }

        msg[i].role = YAJL_GET_STRING(role);
        msg[i].text = YAJL_GET_STRING(text);
    }

    return n;
}


/*
 * Read a JSON lines file.  kind 0: task data, 1: difficulty data.
 */
static void
load_data(const char *path, int kind, int gain, double auxw,
    int folds, const llr_cls_model_t *fm,
    void *state, llr_rec_t *r, llr_set_t *set,
    char names[][LLR_CLS_TASK_NAME_LEN], uint32_t *ntasks)
{
    int             label, k, hascorr;
    char           *buf, *line, *pos, errbuf[256];
    float           target, weight, clabel;
    size_t          len, lineno, nmsg;
    yajl_val        v, t, wc, sc, ax, wt, tg, lb, so, gr;
    llr_msg_t       msg[MAX_MSGS];
    llr_example_t  *ex;
    const char     *kt[] = { "task", NULL };
    const char     *kw[] = { "weak_correct", NULL };
    const char     *ks[] = { "strong_correct", NULL };
    const char     *ka[] = { "aux", NULL };
    const char     *kx[] = { "weight", NULL };
    const char     *kg[] = { "target", NULL };
    const char     *kl[] = { "label", NULL };
    const char     *ko[] = { "source", NULL };
    const char     *kg2[] = { "group", NULL };

    buf = read_file(path, &len);
    lineno = 0;

    for (pos = buf; (line = next_line(buf, len, &pos)) != NULL; ) {
        lineno++;

        if (line[strspn(line, " \t\r")] == '\0') {
            continue;
        }

        v = yajl_tree_parse(line, errbuf, sizeof(errbuf));
        if (v == NULL) {
            bad_line(path, lineno, "bad JSON");
        }

        nmsg = line_messages(v, msg, path, lineno);

        label = 0;
        target = 0;
        weight = 1;
        clabel = -1;

        so = yajl_tree_get(v, ko, yajl_t_string);
        wt = yajl_tree_get(v, kx, yajl_t_number);
        gr = yajl_tree_get(v, kg2, yajl_t_string);

        if (wt != NULL && YAJL_GET_DOUBLE(wt) < 0) {
            bad_line(path, lineno, "\"weight\" is negative");
        }

        weight = wt ? (float) YAJL_GET_DOUBLE(wt) : 1.0f;

        if (so != NULL) {
            weight *= (float) source_weight(kind, YAJL_GET_STRING(so));
        }

        if (kind == 0) {
            t = yajl_tree_get(v, kt, yajl_t_string);
            if (t == NULL) {
                bad_line(path, lineno, "no \"task\"");
            }
            label = task_id(names, ntasks, YAJL_GET_STRING(t));

        } else {
            /*
             * the target from "target", or from weak_correct (and
             * strong_correct); an optional "aux" in [0, 1] (a graded
             * difficulty, training data only) is blended in with
             * --aux-weight, or is the target when there is nothing
             * else
             */
            wc = yajl_tree_get(v, kw, yajl_t_any);
            sc = yajl_tree_get(v, ks, yajl_t_any);
            ax = yajl_tree_get(v, ka, yajl_t_number);
            tg = yajl_tree_get(v, kg, yajl_t_number);
            lb = yajl_tree_get(v, kl, yajl_t_number);

            if ((ax != NULL && (YAJL_GET_DOUBLE(ax) < 0
                                || YAJL_GET_DOUBLE(ax) > 1))
                || (tg != NULL && (YAJL_GET_DOUBLE(tg) < 0
                                   || YAJL_GET_DOUBLE(tg) > 1))
                || (lb != NULL && (YAJL_GET_DOUBLE(lb) < 0
                                   || YAJL_GET_DOUBLE(lb) > 1)))
            {
                bad_line(path, lineno, "\"aux\", \"target\" or \"label\" "
                         "is not in [0, 1]");
            }

            hascorr = (wc != NULL && (YAJL_IS_TRUE(wc) || YAJL_IS_FALSE(wc)));

            if (tg != NULL) {
                target = (float) YAJL_GET_DOUBLE(tg);
                label = target >= 0.5f;

            } else if (!hascorr && ax != NULL) {
                label = YAJL_GET_DOUBLE(ax) >= 0.5;
                target = (float) YAJL_GET_DOUBLE(ax);

            } else {
                if (!hascorr) {
                    bad_line(path, lineno, "no \"target\" and no boolean "
                             "\"weak_correct\"");
                }
                label = !YAJL_IS_TRUE(wc);
                if (gain) {
                    label = label && sc && YAJL_IS_TRUE(sc);
                }
                target = (float) label;
                if (gain == 2 && ax == NULL) {
                    /*
                     * targets: the outcome (weak, strong) picks one of
                     * --diff-targets: gain (wrong, right), both wrong,
                     * both right, harm (right, wrong).  A line with "aux"
                     * keeps the gain label (blended with aux below).
                     */
                    k = (sc && YAJL_IS_TRUE(sc)) ? 2 : 0;
                    k = YAJL_IS_TRUE(wc) ? (k ? 2 : 3) : (k ? 0 : 1);
                    target = (float) dtarget[k];
                    label = target > 0.5f;
                }
                if (ax != NULL) {
                    target = (float) ((1.0 - auxw) * label
                                      + auxw * YAJL_GET_DOUBLE(ax));
                }

                /* calibration: weak wrong and strong right */
                clabel = (!YAJL_IS_TRUE(wc) && sc && YAJL_IS_TRUE(sc));
            }

            if (lb != NULL) {
                clabel = (float) YAJL_GET_DOUBLE(lb);
            }
        }

        ex = extract(fm, state, r, msg, nmsg, set);
        ex->label = label;
        ex->target = target;
        ex->weight = weight;
        ex->clabel = clabel;
        /* a "group" (translations of one prompt) is one fold */
        ex->fold = folds ? (int) (fnv32(gr ? YAJL_GET_STRING(gr)
                                           : msg[0].text)
                                  % (uint32_t) folds)
                         : 0;

        yajl_tree_free(v);
    }

    free(buf);
}


/* a deterministic permutation (xorshift64*, fixed seed) */
static void
shuffle(size_t *perm, size_t n, uint64_t *seed)
{
    size_t    i, j, tmp;
    uint64_t  x;

    for (i = n; i > 1; i--) {
        x = *seed;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *seed = x;
        j = (size_t) ((x * 0x2545f4914f6cdd1dULL) >> 33) % i;
        tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
}


/*
 * Multinomial (k >= 2 columns) or binary (k == 1: logistic) regression
 * with AdaGrad and L2 on the touched weights, over the examples whose
 * fold is not skip (skip < 0: all of them).
 */
static void
train(llr_set_t *set, int skip, size_t nb, size_t k, int epochs, double lr,
    double hlr, double l2, float *wh, float *wd, float *wt2, size_t nt2,
    float *bias, const double *cw)
{
    size_t          e, i, j, c, n, *perm;
    double          z[LLR_CLS_MAX_TASKS], g[LLR_CLS_MAX_TASKS], mx, s, y;
    double          wt, *gh, *gd, *gb, *gt2, *ah, *ad, *ab, *at2, na;
    float          *w2;
    uint64_t        seed;
    llr_feat_t     *f;
    llr_example_t  *ex;

    perm = xrealloc(NULL, (set->nex ? set->nex : 1) * sizeof(size_t));
    gh = calloc(nb * k, sizeof(double));
    gd = calloc(LLR_CLS_NSTRUCT * k, sizeof(double));
    gb = calloc(k, sizeof(double));
    gt2 = calloc(LLR_CLS_NSTRUCT * (nt2 ? nt2 : 1), sizeof(double));
    if (gh == NULL || gd == NULL || gb == NULL || gt2 == NULL) {
        die("out of memory");
    }

    n = 0;
    for (i = 0; i < set->nex; i++) {
        if (set->ex[i].fold != skip) {
            perm[n++] = i;
        }
    }

    seed = 0x853c49e6748fea9bULL;

    ah = ad = ab = at2 = NULL;
    na = 0;

    if (diff_avg && k == 1) {
        ah = calloc(nb, sizeof(double));
        ad = calloc(LLR_CLS_NSTRUCT, sizeof(double));
        ab = calloc(1, sizeof(double));
        at2 = calloc(LLR_CLS_NSTRUCT * (nt2 ? nt2 : 1), sizeof(double));
        if (ah == NULL || ad == NULL || ab == NULL || at2 == NULL) {
            die("out of memory");
        }
    }

    for (e = 0; e < (size_t) epochs; e++) {
        shuffle(perm, n, &seed);

        for (i = 0; i < n; i++) {
            ex = &set->ex[perm[i]];
            f = set->pool + ex->start;

            for (c = 0; c < k; c++) {
                z[c] = bias[c];
            }
            for (j = 0; j < ex->n; j++) {
                for (c = 0; c < k; c++) {
                    z[c] += f[j].val * wh[f[j].idx * k + c];
                }
            }
            for (j = 0; j < LLR_CLS_NSTRUCT; j++) {
                if (ex->dense[j] != 0.0f) {
                    for (c = 0; c < k; c++) {
                        z[c] += ex->dense[j] * wd[j * k + c];
                    }
                }
            }

            w2 = NULL;
            if (k == 1 && wt2 != NULL) {
                /* the dense weights of the predicted task */
                w2 = wt2 + (size_t) ex->task * LLR_CLS_NSTRUCT;
                for (j = 0; j < LLR_CLS_NSTRUCT; j++) {
                    z[0] += ex->dense[j] * w2[j];
                }
            }

            if (k == 1) {
                y = 1.0 / (1.0 + exp(-z[0]));
                g[0] = ex->weight * (y - ex->target);

            } else {
                mx = z[0];
                for (c = 1; c < k; c++) {
                    if (z[c] > mx) {
                        mx = z[c];
                    }
                }
                s = 0;
                for (c = 0; c < k; c++) {
                    z[c] = exp(z[c] - mx);
                    s += z[c];
                }
                wt = cw[ex->label] * ex->weight;
                for (c = 0; c < k; c++) {
                    g[c] = wt * (z[c] / s - ((int) c == ex->label));
                }
            }

            for (c = 0; c < k; c++) {
                double  gg;

                gb[c] += g[c] * g[c];
                bias[c] -= (float) (lr * g[c] / sqrt(gb[c] + 1e-8));

                for (j = 0; j < ex->n; j++) {
                    size_t  ix = f[j].idx * k + c;

                    gg = g[c] * f[j].val + l2 * wh[ix];
                    gh[ix] += gg * gg;
                    wh[ix] -= (float) (hlr * gg / sqrt(gh[ix] + 1e-8));
                }

                for (j = 0; j < LLR_CLS_NSTRUCT; j++) {
                    if (ex->dense[j] != 0.0f) {
                        size_t  ix = j * k + c;

                        gg = g[c] * ex->dense[j] + l2 * wd[ix];
                        gd[ix] += gg * gg;
                        wd[ix] -= (float) (lr * gg / sqrt(gd[ix] + 1e-8));

                        if (w2 != NULL) {
                            ix = (size_t) ex->task * LLR_CLS_NSTRUCT + j;
                            gg = g[c] * ex->dense[j] + l2 * w2[j];
                            gt2[ix] += gg * gg;
                            w2[j] -= (float) (lr * gg
                                              / sqrt(gt2[ix] + 1e-8));
                        }
                    }
                }
            }
        }

        if (ah != NULL && 2 * (e + 1) > (size_t) epochs) {
            avg_add(ah, wh, nb);
            avg_add(ad, wd, LLR_CLS_NSTRUCT);
            avg_add(ab, bias, 1);
            if (wt2 != NULL) {
                avg_add(at2, wt2, LLR_CLS_NSTRUCT * nt2);
            }
            na++;
        }
    }

    if (ah != NULL && na > 0) {
        avg_set(wh, ah, nb, na);
        avg_set(wd, ad, LLR_CLS_NSTRUCT, na);
        avg_set(bias, ab, 1, na);
        if (wt2 != NULL) {
            avg_set(wt2, at2, LLR_CLS_NSTRUCT * nt2, na);
        }
    }

    free(ah);
    free(ad);
    free(ab);
    free(at2);
    free(perm);
    free(gh);
    free(gd);
    free(gb);
    free(gt2);
}


/* the task the task head predicts for each example (difficulty data) */
static void
predict_tasks(llr_set_t *set, size_t k, const float *wh, const float *wd,
    const float *bias)
{
    size_t          i, j, c;
    double          z[LLR_CLS_MAX_TASKS];
    llr_feat_t     *f;
    llr_example_t  *ex;

    for (i = 0; i < set->nex; i++) {
        ex = &set->ex[i];
        f = set->pool + ex->start;

        for (c = 0; c < k; c++) {
            z[c] = bias[c];
            for (j = 0; j < ex->n; j++) {
                z[c] += f[j].val * wh[f[j].idx * k + c];
            }
            for (j = 0; j < LLR_CLS_NSTRUCT; j++) {
                z[c] += ex->dense[j] * wd[j * k + c];
            }
        }

        ex->task = 0;
        for (c = 1; c < k; c++) {
            if (z[c] > z[ex->task]) {
                ex->task = (int) c;
            }
        }
    }
}


/* the difficulty logit of an example */
static double
diff_logit(const llr_example_t *ex, const llr_feat_t *pool, const float *wh,
    const float *wd, const float *wt2, float bias)
{
    size_t             j;
    double             z;
    const llr_feat_t  *f;

    f = pool + ex->start;
    z = bias;

    for (j = 0; j < ex->n; j++) {
        z += f[j].val * wh[f[j].idx];
    }

    for (j = 0; j < LLR_CLS_NSTRUCT; j++) {
        z += ex->dense[j] * (wd[j] + (wt2 ? wt2[(size_t) ex->task
                                                * LLR_CLS_NSTRUCT + j]
                                          : 0.0f));
    }

    return z;
}


/*
 * A logistic map a * z + b of the scores z onto the labels y (weights
 * w), with a penalty lambda * ((a - a0)^2 + (b - b0)^2): Newton steps,
 * a kept >= 0.05 so the map stays increasing.
 */
static void
platt(const double *z, const double *y, const double *w, size_t n,
    double a0, double b0, double lambda, double *a, double *b)
{
    int     it;
    size_t  i;
    double  ga, gb, haa, hab, hbb, p, q, det, da, db;

    *a = a0;
    *b = b0;

    for (it = 0; it < 50; it++) {
        ga = 2 * lambda * (*a - a0);
        gb = 2 * lambda * (*b - b0);
        haa = 2 * lambda;
        hbb = 2 * lambda;
        hab = 0;

        for (i = 0; i < n; i++) {
            p = 1.0 / (1.0 + exp(-(*a * z[i] + *b)));
            q = w[i] * p * (1 - p);
            ga += w[i] * (p - y[i]) * z[i];
            gb += w[i] * (p - y[i]);
            haa += q * z[i] * z[i];
            hab += q * z[i];
            hbb += q;
        }

        det = haa * hbb - hab * hab;
        if (det <= 1e-12) {
            break;
        }

        da = (hbb * ga - hab * gb) / det;
        db = (haa * gb - hab * ga) / det;
        *a -= da;
        *b -= db;

        if (*a < 0.05) {
            *a = 0.05;
        }

        if (fabs(da) + fabs(db) < 1e-9) {
            break;
        }
    }
}


/*
 * The calibration of each task: out-of-fold logits of the examples with
 * a label, one logistic map for all of them, then one per predicted
 * task shrunk towards it.
 */
static void
calibrate(llr_set_t *set, int folds, size_t nb, size_t ntasks, int epochs,
    double dlr, double dhs, double dl2, int gated, float *calib)
{
    int       f;
    size_t    i, t, n;
    float    *wh, *wd, *wt2, bias;
    double   *z, *y, *w, *zt, *yt, *wtt, a0, b0, a, b;

    z = calloc(set->nex + 1, sizeof(double));
    y = calloc(set->nex + 1, sizeof(double));
    w = calloc(set->nex + 1, sizeof(double));
    zt = calloc(set->nex + 1, sizeof(double));
    yt = calloc(set->nex + 1, sizeof(double));
    wtt = calloc(set->nex + 1, sizeof(double));
    wh = malloc(nb * sizeof(float));
    wd = malloc(LLR_CLS_NSTRUCT * sizeof(float));
    wt2 = malloc(LLR_CLS_NSTRUCT * ntasks * sizeof(float));
    if (z == NULL || y == NULL || w == NULL || zt == NULL || yt == NULL
        || wtt == NULL || wh == NULL || wd == NULL || wt2 == NULL)
    {
        die("out of memory");
    }

    for (f = 0; f < folds; f++) {
        memset(wh, 0, nb * sizeof(float));
        memset(wd, 0, LLR_CLS_NSTRUCT * sizeof(float));
        memset(wt2, 0, LLR_CLS_NSTRUCT * ntasks * sizeof(float));
        bias = 0;

        train(set, f, nb, 1, epochs, dlr, dlr * dhs, dl2, wh, wd,
              gated ? wt2 : NULL, ntasks, &bias, NULL);

        for (i = 0; i < set->nex; i++) {
            if (set->ex[i].fold == f) {
                z[i] = diff_logit(&set->ex[i], set->pool, wh, wd,
                                  gated ? wt2 : NULL, bias);
            }
        }
    }

    /* all tasks */

    n = 0;
    for (i = 0; i < set->nex; i++) {
        if (set->ex[i].clabel >= 0) {
            zt[n] = z[i];
            yt[n] = set->ex[i].clabel;
            wtt[n] = set->ex[i].weight;
            n++;
        }
    }

    platt(zt, yt, wtt, n, 1.0, 0.0, 1.0, &a0, &b0);

    fprintf(stderr, "llm-route-train: calibration of all tasks: "
            "a %.3f, b %.3f (%zu labelled prompts)\n", a0, b0, n);

    for (t = 0; t < ntasks; t++) {
        n = 0;
        for (i = 0; i < set->nex; i++) {
            if (set->ex[i].clabel >= 0 && (size_t) set->ex[i].task == t) {
                zt[n] = z[i];
                yt[n] = set->ex[i].clabel;
                wtt[n] = set->ex[i].weight;
                n++;
            }
        }

        /* 20 prompts' worth of pull towards the map of all tasks */
        platt(zt, yt, wtt, n, a0, b0, 20.0, &a, &b);

        calib[t * LLR_CLS_NCALIB] = (float) a;
        calib[t * LLR_CLS_NCALIB + 1] = (float) b;

        fprintf(stderr, "llm-route-train: calibration of task %zu: "
                "a %.3f, b %.3f (%zu labelled prompts)\n", t, a, b, n);
    }

    free(z);
    free(y);
    free(w);
    free(zt);
    free(yt);
    free(wtt);
    free(wh);
    free(wd);
    free(wt2);
}


/* read the lexicon: the concept of the buckets of its terms */
static void
load_lexicon(const char *path, const llr_cls_model_t *fm, size_t nb)
{
    char      *buf, *line, *pos, *nl, *colon, *t, *bar, *e;
    size_t     len, lineno, i, nterms, nclash;
    uint32_t   bk[2];

    buf = read_file(path, &len);
    con_of = xrealloc(NULL, nb * sizeof(int32_t));
    for (i = 0; i < nb; i++) {
        con_of[i] = -1;
    }
    con_nb = nb;
    lineno = 0;
    nterms = 0;
    nclash = 0;

    for (pos = buf; (line = next_line(buf, len, &pos)) != NULL; ) {
        lineno++;

        if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0') {
            continue;
        }

        colon = strchr(line, ':');
        if (colon == NULL) {
            bad_line(path, lineno, "not \"NAME: term | term ...\"");
        }

        nl = line + strlen(line);

        for (t = colon + 1; t < nl; t = bar + 1) {
            bar = strchr(t, '|');
            if (bar == NULL) {
                bar = nl;
            }
            while (*t == ' ') {
                t++;
            }
            for (e = bar; e > t && (e[-1] == ' ' || e[-1] == '\r'); e--) {
                /* void */
            }
            if (e == t) {
                continue;
            }
            if (llr_cls_term_buckets(fm, t, (size_t) (e - t), bk) != 2) {
                bad_line(path, lineno, "a term that is not one or two "
                         "words");
            }
            for (i = 0; i < 2; i++) {
                if (con_of[bk[i]] >= 0 && con_of[bk[i]] != (int32_t) ncon) {
                    nclash++;
                    continue;
                }
                con_of[bk[i]] = (int32_t) ncon;
            }
            nterms++;
        }

        ncon++;
    }

    free(buf);

    fprintf(stderr, "llm-route-train: lexicon: %zu concepts, %zu terms "
            "(%zu buckets already taken by another concept)\n", ncon,
            nterms, nclash);
}


/* add each concept's weights to the buckets of its terms */
static void
fold_lexicon(float *w, size_t nb, size_t k)
{
    size_t  b, c;

    for (b = 0; b < nb; b++) {
        if (con_of[b] < 0) {
            continue;
        }
        for (c = 0; c < k; c++) {
            w[b * k + c] += w[(nb + (size_t) con_of[b]) * k + c];
        }
    }
}


static void
emit_c(const char *path, const unsigned char *img, size_t len)
{
    FILE    *f;
    size_t   i, col;

    f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "llm-route-train: %s: %s\n", path, strerror(errno));
        exit(1);
    }

    fprintf(f, "/*\n * The built-in classifier model.  Generated by "
            "build-aux/train-default.sh\n * (llm-route-train --emit-c) from "
            "models/default.model: do not edit.\n */\n\n"
            "#include \"llr_classify.h\"\n\n\n"
            "const size_t  llr_cls_default_image_len = %zu;\n\n"
            "__attribute__((aligned(16)))\n"
            "const unsigned char  llr_cls_default_image[] = {\n", len);

    col = 0;
    for (i = 0; i < len; i++) {
        col += fprintf(f, "%u,", img[i]);
        if (col >= 76 || i + 1 == len) {
            fputc('\n', f);
            col = 0;
        }
    }

    fprintf(f, "};\n");

    if (fclose(f) != 0) {
        die("write error");
    }
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: llm-route-train -o MODEL [--task-data FILE] "
        "[--difficulty-data FILE]\n"
        "           [--base MODEL] [--bits N] [--epochs N] "
        "[--diff-epochs N]\n"
        "           [--diff-lr X] [--diff-hashed-lr X] [--diff-l2 X] "
        "[--aux-weight X]\n"
        "           [--no-task-dense] [--diff-avg] "
        "[--label weak_wrong|gain|delta]\n"
        "           [--diff-targets G,BW,BR,H] [--source-weight NAME=W]\n"
        "           [--calib-folds N] [--lexicon FILE] [--emit-c FILE.c]\n"
        "       llm-route-train -i MODEL --emit-c FILE.c\n");
    exit(2);
}


/*
 * Loaded models are allocated through xalloc() and released together by
 * xalloc_free_all() before exit, so the sanitizers see no leak.
 */

static void   **xallocs;
static size_t   nxallocs;


static void *
xalloc(void *ctx, size_t n)
{
    void  *p;

    xallocs = xrealloc(xallocs, (nxallocs + 1) * sizeof(void *));
    p = xrealloc(NULL, n);
    xallocs[nxallocs++] = p;

    return p;
}


static void
xalloc_free_all(void)
{
    size_t  i;

    for (i = 0; i < nxallocs; i++) {
        free(xallocs[i]);
    }

    free(xallocs);
    xallocs = NULL;
    nxallocs = 0;
}


static llr_cls_model_t *
load_model(const char *path, unsigned char **img)
{
    char              err[256];
    size_t            len;
    llr_cls_model_t  *m;

    *img = (unsigned char *) read_file(path, &len);
    m = llr_cls_model_load(*img, len, xalloc, NULL, err, sizeof(err));
    if (m == NULL) {
        fprintf(stderr, "llm-route-train: %s: %s\n", path, err);
        exit(1);
    }
    return m;
}


int
main(int argc, char **argv)
{
    int                     i, epochs, depochs, gain, gated, folds;
    double                  auxw, dlr, dl2, dhs;
    char                    err[256], *eq;
    char                    names[LLR_CLS_MAX_TASKS][LLR_CLS_TASK_NAME_LEN];
    void                   *state;
    size_t                  nb, nbx, len, t;
    uint32_t                bits, ntasks;
    float                  *th, *td, *tb, *dh, *dd, *dt, *cb, db;
    double                  cw[LLR_CLS_MAX_TASKS], cnt[LLR_CLS_MAX_TASKS];
    FILE                   *f;
    llr_rec_t               rec;
    llr_set_t               tset, dset;
    unsigned char          *img, *bimg, *fimg;
    const char             *out, *tdata, *ddata, *base, *emit, *in, *lex;
    llr_cls_params_t        p, bp;
    llr_cls_model_t        *fm;
    const llr_cls_model_t  *bm;

    out = tdata = ddata = base = emit = in = lex = NULL;
    bits = 0;
    epochs = 6;
    depochs = 0;
    gated = 1;
    folds = 5;
    dlr = 0.1;
    dl2 = 1e-6;
    dhs = 1.0;
    auxw = 0;
    gain = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "-i") == 0 && i + 1 < argc) {
            in = argv[++i];
        } else if (strcmp(argv[i], "--task-data") == 0 && i + 1 < argc) {
            tdata = argv[++i];
        } else if (strcmp(argv[i], "--difficulty-data") == 0 && i + 1 < argc)
        {
            ddata = argv[++i];
        } else if (strcmp(argv[i], "--base") == 0 && i + 1 < argc) {
            base = argv[++i];
        } else if (strcmp(argv[i], "--emit-c") == 0 && i + 1 < argc) {
            emit = argv[++i];
        } else if (strcmp(argv[i], "--lexicon") == 0 && i + 1 < argc) {
            lex = argv[++i];
        } else if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc) {
            bits = (uint32_t) atoi(argv[++i]);
        } else if (strcmp(argv[i], "--epochs") == 0 && i + 1 < argc) {
            epochs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--diff-epochs") == 0 && i + 1 < argc) {
            depochs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--diff-lr") == 0 && i + 1 < argc) {
            dlr = atof(argv[++i]);
        } else if (strcmp(argv[i], "--diff-hashed-lr") == 0
                   && i + 1 < argc)
        {
            dhs = atof(argv[++i]);
        } else if (strcmp(argv[i], "--no-task-dense") == 0) {
            gated = 0;
        } else if (strcmp(argv[i], "--diff-avg") == 0) {
            diff_avg = 1;
        } else if (strcmp(argv[i], "--diff-l2") == 0 && i + 1 < argc) {
            dl2 = atof(argv[++i]);
        } else if (strcmp(argv[i], "--aux-weight") == 0 && i + 1 < argc) {
            auxw = atof(argv[++i]);
        } else if (strcmp(argv[i], "--calib-folds") == 0 && i + 1 < argc) {
            folds = atoi(argv[++i]);
            if (folds < 0 || folds == 1 || folds > 20) {
                usage();
            }
        } else if (strcmp(argv[i], "--source-weight") == 0 && i + 1 < argc)
        {
            i++;
            eq = strchr(argv[i], '=');
            if (eq == NULL || eq == argv[i] || nsources == MAX_SOURCES
                || (size_t) (eq - argv[i]) >= sizeof(sources[0].name))
            {
                usage();
            }
            memcpy(sources[nsources].name, argv[i], eq - argv[i]);
            sources[nsources].name[eq - argv[i]] = '\0';
            sources[nsources].weight = atof(eq + 1);
            if (sources[nsources].weight < 0) {
                usage();
            }
            nsources++;
        } else if (strcmp(argv[i], "--diff-targets") == 0 && i + 1 < argc)
        {
            i++;
            if (sscanf(argv[i], "%lf,%lf,%lf,%lf", &dtarget[0], &dtarget[1],
                       &dtarget[2], &dtarget[3]) != 4)
            {
                usage();
            }
            for (t = 0; t < 4; t++) {
                if (dtarget[t] < 0 || dtarget[t] > 1) {
                    usage();
                }
            }
            gain = 2;
        } else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "gain") == 0) {
                gain = 1;
            } else if (strcmp(argv[i], "delta") == 0) {
                gain = 2;
            } else if (strcmp(argv[i], "weak_wrong") != 0) {
                usage();
            }
        } else {
            usage();
        }
    }

    if (in) {
        if (emit == NULL || out || tdata || ddata) {
            usage();
        }
        /* validate it first */
        fm = load_model(in, &img);
        llr_cls_model_cleanup(fm);
        free(img);
        img = (unsigned char *) read_file(in, &len);
        emit_c(emit, img, len);
        free(img);
        xalloc_free_all();
        return 0;
    }

    if (out == NULL || (tdata == NULL && ddata == NULL) || epochs < 1
        || depochs < 0 || auxw < 0 || auxw > 1 || dlr <= 0 || dl2 < 0
        || dhs < 0)
    {
        usage();
    }

    /* the base model provides the head without data */
    bimg = NULL;
    memset(&bp, 0, sizeof(bp));

    if (tdata == NULL || ddata == NULL || bits == 0) {
        if (base) {
            bm = load_model(base, &bimg);
        } else {
            bm = llr_cls_default_model();
            if (bm == NULL) {
                die("the built-in model is broken");
            }
        }

        if (llr_cls_model_params(bm, &bp) != 0) {
            die("out of memory");
        }
    }

    if (bits == 0 || (tdata == NULL || ddata == NULL)) {
        if (bits && bits != bp.hash_bits) {
            die("--bits needs both data files (the other head comes from "
                "the base model)");
        }
        bits = bp.hash_bits;
    }

    if (bits < 8 || bits > 22) {
        die("--bits must be 8..22");
    }

    nb = (size_t) 1 << bits;

    /* a zero model with these dimensions: the feature extractor */
    memset(&p, 0, sizeof(p));
    memset(names, 0, sizeof(names));
    ntasks = 0;
    for (t = 0; t < sizeof(llr_train_tasks) / sizeof(llr_train_tasks[0]);
         t++)
    {
        (void) task_id(names, &ntasks, llr_train_tasks[t]);
    }

    /* room for the concepts of a lexicon (read once the model exists) */
    nbx = nb + (lex ? 4096 : 0);
    th = calloc(nbx * LLR_CLS_MAX_TASKS, sizeof(float));
    dh = calloc(nbx, sizeof(float));
    td = calloc(LLR_CLS_NSTRUCT * LLR_CLS_MAX_TASKS, sizeof(float));
    dd = calloc(LLR_CLS_NSTRUCT, sizeof(float));
    tb = calloc(LLR_CLS_MAX_TASKS, sizeof(float));
    dt = calloc(LLR_CLS_NSTRUCT * LLR_CLS_MAX_TASKS, sizeof(float));
    cb = calloc(LLR_CLS_NCALIB * LLR_CLS_MAX_TASKS, sizeof(float));
    if (th == NULL || dh == NULL || td == NULL || dd == NULL || tb == NULL
        || dt == NULL || cb == NULL)
    {
        die("out of memory");
    }
    db = 0;

    for (t = 0; t < LLR_CLS_MAX_TASKS; t++) {
        cb[t * LLR_CLS_NCALIB] = 1.0f;
    }

    p.hash_bits = bits;
    p.ntasks = ntasks;
    p.ctx_weight = 0.5f;
    memcpy(p.task_names, names, sizeof(names));
    p.task_hashed = th;
    p.diff_hashed = dh;
    p.task_dense = td;
    p.diff_dense = dd;
    p.diff_tdense = dt;
    p.task_bias = tb;
    p.diff_bias = 0;
    p.calib = cb;

    fimg = llr_cls_model_write(&p, &len);
    if (fimg == NULL) {
        die("out of memory");
    }
    fm = llr_cls_model_load(fimg, len, xalloc, NULL, err, sizeof(err));
    if (fm == NULL) {
        die(err);
    }

    if (lex) {
        load_lexicon(lex, fm, nb);
        if (ncon > nbx - nb) {
            die("too many concepts in the lexicon (4096 at most)");
        }
    }

    state = xrealloc(NULL, llr_cls_state_size(fm));
    memset(&rec, 0, sizeof(rec));
    memset(&tset, 0, sizeof(tset));
    memset(&dset, 0, sizeof(dset));

    if (tdata) {
        load_data(tdata, 0, 0, 0, 0, fm, state, &rec, &tset, names,
                  &ntasks);

        /* inverse class frequency weights, capped */
        memset(cnt, 0, sizeof(cnt));
        for (t = 0; t < tset.nex; t++) {
            cnt[tset.ex[t].label]++;
        }
        for (t = 0; t < ntasks; t++) {
            cw[t] = cnt[t] ? (double) tset.nex / (ntasks * cnt[t]) : 1.0;
            cw[t] = sqrt(cw[t]);
            if (cw[t] > 4.0) {
                cw[t] = 4.0;
            }
        }

        train(&tset, -1, nb + ncon, ntasks, epochs, 0.2, 0.2, 1e-6, th, td,
              NULL, 0, tb, cw);
        fprintf(stderr, "llm-route-train: task head: %zu prompts, "
                "%u tasks\n", tset.nex, ntasks);

    } else {
        /* the base model's task head */
        ntasks = bp.ntasks;
        memcpy(names, bp.task_names, sizeof(names));
        memcpy(th, bp.task_hashed, nb * ntasks * sizeof(float));
        memcpy(td, bp.task_dense, LLR_CLS_NSTRUCT * ntasks * sizeof(float));
        memcpy(tb, bp.task_bias, ntasks * sizeof(float));
    }

    if (ddata) {
        load_data(ddata, 1, gain, auxw, folds, fm, state, &rec, &dset, NULL,
                  NULL);
        predict_tasks(&dset, ntasks, th, td, tb);

        if (folds) {
            calibrate(&dset, folds, nb + ncon, ntasks,
                      depochs ? depochs : epochs, dlr, dhs, dl2, gated, cb);
        }

        train(&dset, -1, nb + ncon, 1, depochs ? depochs : epochs, dlr,
              dlr * dhs, dl2, dh, dd, gated ? dt : NULL, ntasks, &db, NULL);
        fprintf(stderr, "llm-route-train: difficulty head: %zu prompts\n",
                dset.nex);

    } else {
        memcpy(dh, bp.diff_hashed, nb * sizeof(float));
        memcpy(dd, bp.diff_dense, LLR_CLS_NSTRUCT * sizeof(float));
        memcpy(dt, bp.diff_tdense,
               LLR_CLS_NSTRUCT * bp.ntasks * sizeof(float));
        memcpy(cb, bp.calib, LLR_CLS_NCALIB * bp.ntasks * sizeof(float));
        db = bp.diff_bias;
    }

    if (ncon) {
        if (tdata) {
            fold_lexicon(th, nb, ntasks);
        }
        if (ddata) {
            fold_lexicon(dh, nb, 1);
        }
    }

    p.ntasks = ntasks;
    memcpy(p.task_names, names, sizeof(names));
    p.diff_bias = db;

    img = llr_cls_model_write(&p, &len);
    if (img == NULL) {
        die("out of memory");
    }

    f = fopen(out, "wb");
    if (f == NULL || fwrite(img, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "llm-route-train: %s: write failed\n", out);
        return 1;
    }

    if (emit) {
        emit_c(emit, img, len);
    }

    fprintf(stderr, "llm-route-train: wrote %s (%zu bytes)\n", out, len);

    llr_cls_model_cleanup(fm);
    free(img);
    free(fimg);
    free(state);
    free(rec.b[0]);
    free(rec.b[1]);
    free(tset.ex);
    free(tset.pool);
    free(dset.ex);
    free(dset.pool);
    free(th);
    free(dh);
    free(td);
    free(dd);
    free(tb);
    free(dt);
    free(cb);
    free(con_of);
    llr_cls_params_free(&bp);
    free(bimg);

    xalloc_free_all();

    return 0;
}
