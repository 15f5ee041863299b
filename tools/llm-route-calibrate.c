/*
 * llm-route-calibrate: the floors of a policy that send a chosen share of
 * a sample of requests to each of its candidates.
 *
 *   llm-route-calibrate -c NGINX.CONF [-c FILE ...] -p POLICY
 *       [--share MODEL=PERCENT ...] [--tier frugal|balanced|premium]
 *       [--floor-hard Q | --free-floor-hard] [-m MODEL] [FILE ...]
 *
 * The llm_route_model and llm_route_policy statements of the -c files
 * describe the policy (qualities, prices, floors).  The sample is JSON
 * lines (FILE ..., or stdin), each either a request body (OpenAI
 * {"messages": ...} or {"prompt": ...}: classified with the module's
 * classifier, the built-in model unless -m) or a line of a JSON access
 * log with the module's "task" and "difficulty" (a number or a string:
 * $llm_route_task, $llm_route_difficulty), and optionally
 * "prompt_tokens".  Lines that are neither are counted and skipped.
 *
 * Targets: --share gives the share of a candidate in percent (several
 * may be given); --tier is a share of the cheapest candidate: frugal
 * 80%, balanced 60%, premium 30%.  With one target, floor_hard stays
 * the policy's (or --floor-hard Q) and floor moves; with more, or with
 * --free-floor-hard, both move.  Without a target, the policy's own
 * floors are reported.
 *
 * Output: the policy block with the floors found, then, as comments,
 * the share of the sample each candidate gets (overall and per task)
 * and each candidate's threshold per task: the difficulty up to which
 * it qualifies.  See docs/selection.md.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "../ngx_llm_route_module/core/llr_calib.h"
#include "../ngx_llm_route_module/core/llr_classify.h"
#include "../ngx_llm_route_module/core/llr_cost.h"
#include "../ngx_llm_route_module/core/llr_select.h"


#define MAX_FILES  16


static void
die(const char *fmt, const char *a)
{
    fprintf(stderr, "llm-route-calibrate: ");
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    exit(1);
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: llm-route-calibrate -c NGINX.CONF [-c FILE ...] -p POLICY\n"
        "           [--share MODEL=PERCENT ...] "
        "[--tier frugal|balanced|premium]\n"
        "           [--floor-hard Q | --free-floor-hard] [-m MODEL] "
        "[FILE ...]\n");
    exit(2);
}


static char *
read_all(FILE *f, const char *name, size_t *len)
{
    char    *buf;
    size_t   n, a, r;

    buf = NULL;
    n = 0;
    a = 0;

    for ( ;; ) {
        if (n == a) {
            a = a ? 2 * a : 1 << 16;
            buf = realloc(buf, a + 1);
            if (buf == NULL) {
                die("out of memory%s", "");
            }
        }
        r = fread(buf + n, 1, a - n, f);
        if (r == 0) {
            break;
        }
        n += r;
    }

    if (ferror(f)) {
        die("%s: read error", name);
    }

    buf[n] = '\0';
    *len = n;
    return buf;
}


static char *
read_path(const char *path, size_t *len)
{
    FILE  *f;
    char  *buf;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "llm-route-calibrate: %s: %s\n", path,
                strerror(errno));
        exit(1);
    }

    buf = read_all(f, path, len);
    fclose(f);
    return buf;
}


static void *
x_malloc(void *ctx, size_t n)
{
    return malloc(n ? n : 1);
}


static void *
x_realloc(void *ctx, void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}


static void
x_free(void *ctx, void *p)
{
    free(p);
}


/* a model file's memory: released at exit */
static void    *allocs[64];
static size_t   nallocs;

static void *
model_alloc(void *ctx, size_t n)
{
    void  *p;

    if (nallocs == 64 || (p = malloc(n)) == NULL) {
        return NULL;
    }

    allocs[nallocs++] = p;
    return p;
}

static const llr_alloc_t  model_heap = { model_alloc, NULL, NULL, NULL };


typedef struct {
    llr_calib_sample_t  *s;
    size_t               n, a;
    size_t               skipped;
} sample_t;


static void
add_sample(sample_t *sm, int task, double d, uint64_t prompt,
    int64_t max_tokens)
{
    llr_calib_sample_t  *x;

    if (sm->n == sm->a) {
        sm->a = sm->a ? 2 * sm->a : 1024;
        sm->s = realloc(sm->s, sm->a * sizeof(llr_calib_sample_t));
        if (sm->s == NULL) {
            die("out of memory%s", "");
        }
    }

    d = d < 0 ? 0 : (d > 1 ? 1 : d);

    x = &sm->s[sm->n++];
    x->task = (uint16_t) task;
    x->difficulty = (uint16_t) (d * LLR_Q_ONE + 0.5);
    x->prompt_tokens = prompt;
    x->max_tokens = max_tokens;
}


/* the lines of a sample: access log lines, or bodies to classify */
static void
read_sample(sample_t *sm, char *buf, size_t len, const llr_cls_model_t *m,
    void *state)
{
    int                t;
    char              *line, *nl, *end, *str, errbuf[256];
    double             d;
    yajl_val           v, dv, tv, pv;
    llr_alloc_t        alloc;
    llr_req_view_t     view;
    llr_cls_result_t   res;
    const char        *kd[] = { "difficulty", NULL };
    const char        *kt[] = { "task", NULL };
    const char        *kp[] = { "prompt_tokens", NULL };

    alloc.malloc = x_malloc;
    alloc.realloc = x_realloc;
    alloc.free = x_free;
    alloc.ctx = NULL;

    for (line = buf; line < buf + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t) (buf + len - line));
        if (nl == NULL) {
            nl = buf + len;
        }
        *nl = '\0';

        if (line[strspn(line, " \t\r")] == '\0') {
            continue;
        }

        v = yajl_tree_parse(line, errbuf, sizeof(errbuf));
        dv = v ? yajl_tree_get(v, kd, yajl_t_any) : NULL;

        if (dv != NULL) {
            /* an access log line: its task and difficulty */
            d = -1;
            if (YAJL_IS_NUMBER(dv)) {
                d = YAJL_GET_DOUBLE(dv);

            } else if ((str = YAJL_GET_STRING(dv)) != NULL) {
                d = strtod(str, &end);
                if (end == str || *end != '\0') {
                    d = -1;
                }
            }

            tv = yajl_tree_get(v, kt, yajl_t_string);
            pv = yajl_tree_get(v, kp, yajl_t_any);

            if (d < 0 || d > 1) {
                /* "" for a request that was not classified */
                sm->skipped++;
                yajl_tree_free(v);
                continue;
            }

            str = tv ? YAJL_GET_STRING(tv) : NULL;
            t = str ? llr_cls_task_index(m, str, strlen(str)) : -1;

            add_sample(sm, t < 0 ? LLR_CALIB_TASKS : t, d,
                       pv && YAJL_IS_INTEGER(pv) && YAJL_GET_INTEGER(pv) > 0
                       ? (uint64_t) YAJL_GET_INTEGER(pv)
                       : 0, -1);
            yajl_tree_free(v);
            continue;
        }

        if (v) {
            yajl_tree_free(v);
        }

        /* a request body */

        llr_cls_state_init(state, m);

        if (llr_cls_body(state, &alloc, (unsigned char *) line,
                         (size_t) (nl - line), &res, &view, errbuf,
                         sizeof(errbuf))
            != 0)
        {
            sm->skipped++;
            continue;
        }

        add_sample(sm, res.task, res.difficulty,
                   llr_estimate_tokens(view.text_bytes), view.max_tokens);
    }
}


static void
print_q(uint32_t q)
{
    printf("%u.%04u", q / LLR_Q_ONE, q % LLR_Q_ONE);
}


int
main(int argc, char **argv)
{
    int                     i, fix_h, ntarget, cheapest;
    char                   *buf, err[512], *eq, *end;
    size_t                  len, k, t, nconf, nin, ntasks, rows;
    size_t                  count[LLR_SELECT_MAX], *tcount, tn;
    double                  target[LLR_SELECT_MAX], e, share;
    uint32_t                f, h, q, th, fh_opt, tf, tfh;
    uint64_t                v, cost, cmin;
    void                   *state;
    sample_t                sm;
    const char             *conf[MAX_FILES], *in[MAX_FILES], *policy, *mp;
    const char             *tasks[LLR_CLS_MAX_TASKS], *tier, *errp;
    unsigned char          *img;
    llr_calib_conf_t       *c;
    llr_cand_t              cand;
    llr_select_in_t         sin;
    llr_calib_policy_t     *p;
    llr_cls_model_t        *lm;
    const llr_cls_model_t  *m;
    struct { const char *name; double pct; } share_opt[LLR_SELECT_MAX];
    size_t                  nshare;

    nconf = 0;
    nin = 0;
    nshare = 0;
    policy = NULL;
    mp = NULL;
    tier = NULL;
    fix_h = 1;
    fh_opt = LLR_Q_UNSET;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc && nconf < MAX_FILES)
        {
            conf[nconf++] = argv[++i];
        } else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
            policy = argv[++i];
        } else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            mp = argv[++i];
        } else if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc) {
            tier = argv[++i];
            if (strcmp(tier, "frugal") != 0 && strcmp(tier, "balanced") != 0
                && strcmp(tier, "premium") != 0)
            {
                usage();
            }
        } else if (strcmp(argv[i], "--share") == 0 && i + 1 < argc
                   && nshare < LLR_SELECT_MAX)
        {
            eq = strchr(argv[++i], '=');
            if (eq == NULL || eq == argv[i]) {
                usage();
            }
            *eq = '\0';
            share_opt[nshare].name = argv[i];
            share_opt[nshare].pct = strtod(eq + 1, &end);
            if (end == eq + 1 || (*end != '\0' && strcmp(end, "%") != 0)
                || share_opt[nshare].pct < 0 || share_opt[nshare].pct > 100)
            {
                usage();
            }
            nshare++;
        } else if (strcmp(argv[i], "--floor-hard") == 0 && i + 1 < argc) {
            i++;
            if (llr_parse_decimal(argv[i], strlen(argv[i]), 4, LLR_Q_ONE, &v,
                                  &errp)
                != 0)
            {
                die("invalid --floor-hard: %s", errp);
            }
            fh_opt = (uint32_t) v;
        } else if (strcmp(argv[i], "--free-floor-hard") == 0) {
            fix_h = 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage();
        } else if (nin < MAX_FILES) {
            in[nin++] = argv[i];
        } else {
            usage();
        }
    }

    if (nconf == 0 || policy == NULL || (tier && nshare)) {
        usage();
    }

    /* the classifier: its task names, and for request bodies */

    img = NULL;
    lm = NULL;

    if (mp) {
        img = (unsigned char *) read_path(mp, &len);
        lm = llr_cls_model_load(img, len, &model_heap, err, sizeof(err));
        if (lm == NULL) {
            fprintf(stderr, "llm-route-calibrate: %s: %s\n", mp, err);
            return 1;
        }
        m = lm;

    } else {
        m = llr_cls_default_model();
        if (m == NULL) {
            die("the built-in model is broken%s", "");
        }
    }

    ntasks = llr_cls_ntasks(m);
    for (t = 0; t < ntasks; t++) {
        tasks[t] = llr_cls_task_name(m, (int) t);
    }

    /* the policy */

    c = calloc(1, sizeof(llr_calib_conf_t));
    if (c == NULL) {
        die("out of memory%s", "");
    }

    for (k = 0; k < nconf; k++) {
        buf = read_path(conf[k], &len);
        if (llr_calib_conf(c, buf, len, tasks, ntasks, err, sizeof(err))
            != 0)
        {
            fprintf(stderr, "llm-route-calibrate: %s: %s\n", conf[k], err);
            return 1;
        }
        free(buf);
    }

    p = llr_calib_find_policy(c, policy);
    if (p == NULL) {
        die("no llm_route_policy \"%s\" in the -c files", policy);
    }

    if (p->ncands == 0) {
        die("llm_route_policy \"%s\" has no candidates", policy);
    }

    /* the sample */

    memset(&sm, 0, sizeof(sm));
    state = malloc(llr_cls_state_size(m));
    if (state == NULL) {
        die("out of memory%s", "");
    }

    if (nin == 0) {
        buf = read_all(stdin, "stdin", &len);
        read_sample(&sm, buf, len, m, state);
        free(buf);
    }

    for (k = 0; k < nin; k++) {
        buf = read_path(in[k], &len);
        read_sample(&sm, buf, len, m, state);
        free(buf);
    }

    if (sm.n == 0) {
        die("no request in the sample (%s)",
            sm.skipped ? "every line was skipped" : "it is empty");
    }

    /* the targets */

    ntarget = 0;
    for (k = 0; k < p->ncands; k++) {
        target[k] = -1;
    }

    for (i = 0; i < (int) nshare; i++) {
        for (k = 0; k < p->ncands; k++) {
            if (strcmp(c->model[p->cand[k]].name, share_opt[i].name) == 0) {
                break;
            }
        }
        if (k == p->ncands) {
            die("--share: \"%s\" is not a candidate of the policy",
                share_opt[i].name);
        }
        target[k] = share_opt[i].pct / 100;
        ntarget++;
    }

    /* the cheapest candidate, by its prices (input + output) */
    cheapest = 0;
    cmin = UINT64_MAX;
    for (k = 0; k < p->ncands; k++) {
        cost = llr_add_sat(c->model[p->cand[k]].input,
                           c->model[p->cand[k]].output);
        if (cost < cmin) {
            cmin = cost;
            cheapest = (int) k;
        }
    }

    if (tier) {
        target[cheapest] = strcmp(tier, "frugal") == 0 ? 0.80
                           : (strcmp(tier, "balanced") == 0 ? 0.60 : 0.30);
        ntarget = 1;
    }

    f = p->floor;
    h = fh_opt != LLR_Q_UNSET ? fh_opt : p->floor_hard;
    e = 0;

    if (ntarget) {
        e = llr_calib_search(c, p, sm.s, sm.n, ntasks, target,
                             fix_h && ntarget == 1, &f, &h);
    }

    /* the report */

    rows = LLR_CALIB_TASKS + 1;
    tcount = calloc(rows * p->ncands, sizeof(size_t));
    if (tcount == NULL) {
        die("out of memory%s", "");
    }

    llr_calib_route(c, p, f, h, sm.s, sm.n, ntasks, count, tcount);

    printf("# %zu requests (%zu lines skipped)%s%s\n", sm.n, sm.skipped,
           tier ? ", tier " : "", tier ? tier : "");
    printf("llm_route_policy %s {\n    candidates", p->name);
    for (k = 0; k < p->ncands; k++) {
        printf(" %s", c->model[p->cand[k]].name);
    }
    printf(";\n    floor      ");
    print_q(f);
    printf(";\n    floor_hard ");
    print_q(h);
    printf(";\n");
    for (t = 0; t < LLR_CALIB_TASKS && t < ntasks; t++) {
        if (p->task_floor[t] != LLR_Q_UNSET) {
            printf("    floor_%s ", tasks[t]);
            print_q(p->task_floor[t]);
            printf(";\n");
        }
        if (p->task_floor_hard[t] != LLR_Q_UNSET) {
            printf("    floor_hard_%s ", tasks[t]);
            print_q(p->task_floor_hard[t]);
            printf(";\n");
        }
    }
    printf("}\n");

    if (ntarget) {
        printf("# target:");
        for (k = 0; k < p->ncands; k++) {
            if (target[k] >= 0) {
                printf(" %s %.1f%%", c->model[p->cand[k]].name,
                       100 * target[k]);
            }
        }
        printf(" (squared error %.6f)\n", e);
    }

    printf("# share:");
    for (k = 0; k < p->ncands; k++) {
        printf(" %s %.1f%%", c->model[p->cand[k]].name,
               100.0 * count[k] / sm.n);
    }
    printf("\n");

    printf("# per task (requests: share of each candidate; threshold: "
           "the difficulty up to which it qualifies):\n");

    for (t = 0; t < rows; t++) {
        tn = 0;
        for (k = 0; k < p->ncands; k++) {
            tn += tcount[t * p->ncands + k];
        }
        if (tn == 0) {
            continue;
        }

        printf("#   %-13s %5zu:", t < ntasks ? tasks[t] : "unclassified", tn);

        /* the floors of this task, as the module applies them */
        memset(&sin, 0, sizeof(sin));
        sin.task = (unsigned) t;
        sin.ntasks = (unsigned) ntasks;
        sin.floor = f;
        sin.floor_hard = h;
        sin.task_floor = p->task_floor;
        sin.task_floor_hard = p->task_floor_hard;
        llr_select_floors(&sin, &tf, &tfh);

        for (k = 0; k < p->ncands; k++) {
            share = 100.0 * tcount[t * p->ncands + k] / tn;
            cand.quality = c->model[p->cand[k]].quality;
            cand.task_quality = c->model[p->cand[k]].task_quality;
            q = llr_select_quality(&cand, (unsigned) t, (unsigned) ntasks);
            th = llr_select_threshold(q, tf, tfh);
            printf(" %s %.1f%% (", c->model[p->cand[k]].name, share);
            if (th == LLR_SELECT_NEVER) {
                printf("never");
            } else if (th == LLR_Q_ONE) {
                printf("always");
            } else {
                printf("up to ");
                print_q(th);
            }
            printf(")");
        }

        printf("\n");
    }

    free(tcount);
    free(sm.s);
    free(state);
    free(c);

    if (lm) {
        llr_cls_model_cleanup(lm);
    }
    while (nallocs) {
        free(allocs[--nallocs]);
    }
    free(img);

    return 0;
}
