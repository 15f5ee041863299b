/*
 * Unit tests of core/llr_calib (the reader of llm_route_model and
 * llm_route_policy statements, routing a sample with the module's rule,
 * and the search for floors behind llm-route-calibrate), and a replay of
 * the fuzzer's seeds and regressions (every file in fuzz/seeds/calib/,
 * fuzz/regressions/calib-...) through all three.
 *
 *   LLR_FUZZ_DIR   the fuzz/ directory (default: fuzz, run from the top)
 */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "llr_cost.h"
#include "llr_calib.h"


#define U  LLR_Q_UNSET

static const char  *tasks[] = { "general", "code", "math" };

static llr_calib_conf_t  conf;


static int
parse(const char *text, char *err, size_t errlen)
{
    memset(&conf, 0, sizeof(conf));
    err[0] = '\0';

    return llr_calib_conf(&conf, text, strlen(text), tasks, 3, err, errlen);
}


static const char  good[] =
    "load_module modules/x.so;\n"
    "http {\n"
    "    llm_route_provider openai { upstream a:443; api_key x; }\n"
    "    # llm_route_model commented quality=0.1;\n"
    "    llm_route_model small provider=openai input=0.15 output=0.60\n"
    "                    context=8000 quality=0.8 quality_code=0.9;\n"
    "    llm_route_model \"big one\" input=2.50 output=10 quality=1.0;\n"
    "    llm_route_model small quality=0.1;\n"
    "    llm_route_policy tier {\n"
    "        candidates small 'big one';\n"
    "        floor 0.75;\n"
    "        floor_code 0.5;\n"
    "        floor_hard_math 0.95;\n"
    "    }\n"
    "    server { location / {\n"
    "        llm_route_policy inner { candidates small; floor_hard 0.9;\n"
    "                                 floor 0.2; }\n"
    "    } }\n"
    "}\n";


typedef struct {
    const char  *text;
    const char  *err;
} bad_t;


static const bad_t  bads[] = {
    { "llm_route_policy p { candidates x; }",
      "line 1: candidate is not an llm_route_model (models must come "
      "first): \"x\"" },
    { "llm_route_model a quality_poetry=1;",
      "line 1: unknown task in \"quality_poetry=1\"" },
    { "llm_route_model a quality=1.5;",
      "line 1: invalid value: \"quality=1.5\"" },
    { "llm_route_model a input=cheap;",
      "line 1: invalid value: \"input=cheap\"" },
    { "llm_route_model a quality;",
      "line 1: not key=value in llm_route_model: \"quality\"" },
    { "llm_route_model;", "line 1: llm_route_model needs a name (at most "
      "63 bytes)" },
    { "llm_route_model a { }", "line 1: llm_route_model is not a block" },
    { "llm_route_model a;\nllm_route_policy p { floor_poetry 0.5; }",
      "line 2: unknown task in \"floor_poetry\"" },
    { "llm_route_model a;\nllm_route_policy p {\n floor 2; }",
      "line 3: invalid floor \"2\"" },
    { "llm_route_policy p { floorx 0.5; }",
      "line 1: unknown task in \"floorx\"" },
    { "llm_route_policy p { weight 1; }",
      "line 1: unknown statement in llm_route_policy: \"weight\"" },
    { "llm_route_policy p { if (x) { } }",
      "line 1: a block inside llm_route_policy: \"if\"" },
    { "llm_route_policy p {{ llm_route_policy q { } } }",
      "line 1: a block inside llm_route_policy" },
    { "llm_route_policy { }", "line 1: llm_route_policy needs NAME { ... }" },
    { "llm_route_policy p;", "line 1: llm_route_policy needs NAME { ... }" },
    { "http {\n llm_route_model \"a;\n", "line 3: unterminated quote" },
    { "http { }\n}", "line 2: unexpected \"}\"" },
    { "http { server {\n", "line 2: unclosed block" },
    { "http { llm_route_model a }", "line 1: unexpected \"}\" after "
      "\"llm_route_model\"" },
    { "http { llm_route_model a", "line 1: unexpected end of file after "
      "\"llm_route_model\"" },
    { NULL, NULL }
};


/* a sample: general requests of difficulty 0.0, 0.1, ..., 0.9 */
static void
sample(llr_calib_sample_t *s, size_t n, uint16_t task)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        s[i].task = task;
        s[i].difficulty = (uint16_t) (i * LLR_Q_ONE / n);
        s[i].prompt_tokens = 100;
        s[i].max_tokens = -1;
    }
}


/* every seed and regression: read, route, search; nothing may crash */
static size_t
replay(const char *dir, const char *prefix)
{
    char                 path[1024], err[256], *buf;
    long                 len;
    FILE                *f;
    DIR                 *d;
    size_t               n, i, k, bad, count[LLR_SELECT_MAX], sum;
    double               target[LLR_SELECT_MAX];
    uint32_t             fl, h;
    struct dirent       *e;
    llr_calib_policy_t  *p;
    llr_calib_sample_t   s[16];
    static const char   *all[] = {
        "general", "code", "math", "reasoning", "creative", "extraction",
        "summarization", "translation"
    };

    d = opendir(dir);
    if (d == NULL) {
        return 0;
    }

    for (i = 0; i < 16; i++) {
        s[i].task = (uint16_t) (i % 9);
        s[i].difficulty = (uint16_t) (i * 667 % (LLR_Q_ONE + 1));
        s[i].prompt_tokens = i * 1000;
        s[i].max_tokens = i % 3 ? -1 : (int64_t) i * 100;
    }

    n = 0;

    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.'
            || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
        {
            continue;
        }

        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        f = fopen(path, "rb");
        if (f == NULL) {
            continue;
        }

        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t) len + 1);
        if (buf == NULL || fread(buf, 1, (size_t) len, f) != (size_t) len) {
            abort();
        }
        fclose(f);

        memset(&conf, 0, sizeof(conf));

        if (llr_calib_conf(&conf, buf, (size_t) len, all, 8, err,
                           sizeof(err))
            != 0)
        {
            ok(strncmp(err, "line ", 5) == 0, "%s: %s", path, err);
            free(buf);
            n++;
            continue;
        }

        bad = 0;
        for (i = 0; i < conf.npolicies; i++) {
            p = &conf.policy[i];
            if (p->ncands == 0) {
                continue;
            }

            llr_calib_route(&conf, p, p->floor, p->floor_hard, s, 16, 8,
                            count, NULL);
            sum = 0;
            for (k = 0; k < p->ncands; k++) {
                sum += count[k];
                target[k] = k ? -1 : 0.5;
            }

            h = p->floor_hard;
            (void) llr_calib_search(&conf, p, s, 16, 8, target, 1, &fl, &h);
            bad += sum > 16 || fl > h || h != p->floor_hard;
        }

        ok(bad == 0, "%s: %zu policies routed and searched", path,
           conf.npolicies);

        free(buf);
        n++;
    }

    closedir(d);

    return n;
}


int
main(void)
{
    char                 err[256], dir[1024];
    size_t               count[LLR_SELECT_MAX];
    size_t               tcount[(LLR_CALIB_TASKS + 1) * 2];
    double               e, target[LLR_SELECT_MAX];
    uint32_t             f, h;
    const bad_t         *b;
    const char          *top;
    llr_calib_sample_t   s[10], mix[20];
    llr_calib_policy_t  *p, *q;

    /* reading */

    is_int(parse(good, err, sizeof(err)), 0, "a config reads: %s", err);
    is_int(conf.nmodels, 2, "two models (a second 'small' is ignored)");
    is_str(conf.model[0].name, "small", "model name");
    is_int(conf.model[0].quality, 8000, "quality=0.8");
    is_int(conf.model[0].task_quality[1], 9000, "quality_code=0.9");
    is_int(conf.model[0].task_quality[2], U, "no quality_math");
    is_int(conf.model[0].input, 150000, "input=0.15 per million tokens");
    is_int(conf.model[0].output, 600000, "output=0.60");
    is_int(conf.model[0].context, 8000, "context");
    is_str(conf.model[1].name, "big one", "a quoted name");
    is_int(conf.model[1].context, 0, "no context: unlimited");

    is_int(conf.npolicies, 2, "two policies, one inside a location");
    p = llr_calib_find_policy(&conf, "tier");
    q = llr_calib_find_policy(&conf, "inner");
    ok(p != NULL && q != NULL, "policies found by name");
    ok(llr_calib_find_policy(&conf, "none") == NULL, "unknown policy");

    if (p == NULL || q == NULL) {
        done_testing();
    }

    is_int(p->ncands, 2, "two candidates");
    is_int(p->cand[0], 0, "candidate 1 is model 0");
    is_int(p->cand[1], 1, "candidate 2 is model 1 (quoted)");
    is_int(p->floor, 7500, "floor");
    is_int(p->floor_hard, 7500, "floor_hard defaults to floor");
    is_int(p->task_floor[1], 5000, "floor_code");
    is_int(p->task_floor[2], U, "no floor_math");
    is_int(p->task_floor_hard[2], 9500, "floor_hard_math");
    is_int(q->floor, 2000, "floor after floor_hard");
    is_int(q->floor_hard, 9000, "floor_hard");

    for (b = bads; b->text; b++) {
        ok(parse(b->text, err, sizeof(err)) == -1, "refused: bad config %d",
           (int) (b - bads));
        is_str(err, b->err, "  its message");
    }

    /* routing: the sample goes where llr_select sends it */

    parse(good, err, sizeof(err));
    p = llr_calib_find_policy(&conf, "tier");
    q = llr_calib_find_policy(&conf, "inner");
    if (p == NULL || q == NULL) {
        done_testing();
    }

    sample(s, 10, 0);

    /* floor 0.8 = floor_hard: small (0.8) meets every request */
    llr_calib_route(&conf, p, 8000, 8000, s, 10, 3, count, NULL);
    ok(count[0] == 10 && count[1] == 0, "floor 0.8: all to small (%zu %zu)",
       count[0], count[1]);

    /* 0.5 .. 1.0: small meets required <= 0.8, difficulty <= 0.6 */
    llr_calib_route(&conf, p, 5000, LLR_Q_ONE, s, 10, 3, count, NULL);
    ok(count[0] == 7 && count[1] == 3, "floors 0.5..1: 7 small, 3 big "
       "(%zu %zu)", count[0], count[1]);

    /* task floors apply: code requests of floor_code 0.5 */
    sample(mix, 10, 1);
    sample(mix + 10, 10, 9);        /* not classified: difficulty 0 */
    llr_calib_route(&conf, p, 9500, LLR_Q_ONE, mix, 20, 3, count, tcount);
    ok(count[0] + count[1] == 20, "every request counted once");
    /* code: 0.5 + d (1 - 0.5) <= quality_code 0.9 for d <= 0.8 */
    is_int(tcount[1 * 2 + 0], 9, "code: floor_code 0.5, quality_code 0.9: "
           "9 small");
    is_int(tcount[1 * 2 + 1], 1, "code: 1 big");
    is_int(tcount[LLR_CALIB_TASKS * 2 + 1], 10,
           "not classified: floor 0.95, all big");
    is_int(tcount[0], 0, "no general requests");

    /* a context too small for the prompt: not counted at all */
    s[0].prompt_tokens = 1000000;
    llr_calib_route(&conf, q, 0, 0, s, 10, 3, count, NULL);
    is_int(count[0], 9, "a request that fits nothing is not counted");
    s[0].prompt_tokens = 100;

    /* search, floor only: 70% to small with floor_hard 1 */
    target[0] = 0.7;
    target[1] = -1;
    h = LLR_Q_ONE;
    e = llr_calib_search(&conf, p, s, 10, 3, target, 1, &f, &h);
    ok(e < 1e-12, "a floor sends 70%% to small (error %g)", e);
    is_int(h, LLR_Q_ONE, "floor_hard kept");
    llr_calib_route(&conf, p, f, h, s, 10, 3, count, NULL);
    is_int(count[0], 7, "routing with it: 7 of 10");

    /*
     * The range of floors that send 7 of 10 to small: required <= 0.8
     * for difficulty 0.6 and > 0.8 for 0.7, so f + 0.6 (1 - f) <= 0.8
     * and f + 0.7 (1 - f) > 0.8: f in (0.3333, 0.5]; the middle is
     * chosen, not an edge.
     */
    ok(f > 4000 && f < 4300, "the middle of the range (%u)", (unsigned) f);

    /* search, both floors: 30% to small */
    target[0] = 0.3;
    target[1] = 0.7;
    e = llr_calib_search(&conf, p, s, 10, 3, target, 0, &f, &h);
    ok(e < 1e-12 && f <= h, "two floors send 30%% (error %g, %u..%u)", e,
       (unsigned) f, (unsigned) h);
    llr_calib_route(&conf, p, f, h, s, 10, 3, count, NULL);
    is_int(count[0], 3, "routing with them: 3 of 10");

    /* a share no floor gives: the nearest one */
    target[0] = 0.05;
    target[1] = -1;
    h = 7000;
    e = llr_calib_search(&conf, p, s, 10, 3, target, 1, &f, &h);
    ok(f <= 7000, "the floor stays below floor_hard (%u)", (unsigned) f);

    /* the fuzzer's seeds and regressions */

    top = getenv("LLR_FUZZ_DIR");
    if (top == NULL) {
        top = "fuzz";
    }

    snprintf(dir, sizeof(dir), "%s/seeds/calib", top);
    ok(replay(dir, "") > 0, "%s replayed", dir);
    snprintf(dir, sizeof(dir), "%s/regressions", top);
    ok(replay(dir, "calib-") > 0, "%s/calib-* replayed", dir);

    done_testing();
}
