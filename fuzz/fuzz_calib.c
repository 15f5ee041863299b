/*
 * libFuzzer target for the reader of llm_route_model and llm_route_policy
 * statements (llr_calib_conf() in core/llr_calib.c, the config side of
 * llm-route-calibrate) and for routing and searching with what it reads.
 *
 * Input: the text of an nginx.conf.
 *
 * Checks beyond "does not crash": reading the same text twice gives the
 * same models and policies; a model's qualities and a policy's floors
 * are in 0..1, its candidates are models read; for each policy with
 * candidates, routing a fixed sample counts each request at most once,
 * and the floors a search finds keep floor <= floor_hard <= 1.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llr_calib.h"


static const char  *fz_tasks[] = {
    "general", "code", "math", "reasoning", "creative", "extraction",
    "summarization", "translation"
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                  rc1, rc2;
    char                 err[256];
    size_t               i, k, t, sum, count[LLR_SELECT_MAX];
    double               target[LLR_SELECT_MAX];
    uint32_t             f, h;
    llr_calib_conf_t    *a, *b;
    llr_calib_sample_t   s[32];
    llr_calib_policy_t  *p;

    a = calloc(1, sizeof(llr_calib_conf_t));
    b = calloc(1, sizeof(llr_calib_conf_t));
    if (a == NULL || b == NULL) {
        abort();
    }

    rc1 = llr_calib_conf(a, (const char *) data, size, fz_tasks, 8, err,
                         sizeof(err));
    rc2 = llr_calib_conf(b, (const char *) data, size, fz_tasks, 8, err,
                         sizeof(err));

    if (rc1 != rc2 || memcmp(a, b, sizeof(llr_calib_conf_t)) != 0) {
        abort();
    }

    if (rc1 != 0) {
        goto done;
    }

    for (i = 0; i < a->nmodels; i++) {
        if (a->model[i].quality > LLR_Q_ONE) {
            abort();
        }
        for (t = 0; t < LLR_CALIB_TASKS; t++) {
            if (a->model[i].task_quality[t] != LLR_Q_UNSET
                && a->model[i].task_quality[t] > LLR_Q_ONE)
            {
                abort();
            }
        }
    }

    for (i = 0; i < 32; i++) {
        s[i].task = (uint16_t) (i % 9);
        s[i].difficulty = (uint16_t) (i * 313 % (LLR_Q_ONE + 1));
        s[i].prompt_tokens = i * 1000;
        s[i].max_tokens = i % 3 ? -1 : (int64_t) i * 100;
    }

    for (i = 0; i < a->npolicies; i++) {
        p = &a->policy[i];

        if (p->floor > LLR_Q_ONE || p->floor_hard > LLR_Q_ONE) {
            abort();
        }

        for (k = 0; k < p->ncands; k++) {
            if (p->cand[k] >= a->nmodels) {
                abort();
            }
        }

        if (p->ncands == 0) {
            continue;
        }

        llr_calib_route(a, p, p->floor, p->floor_hard, s, 32, 8, count,
                        NULL);

        sum = 0;
        for (k = 0; k < p->ncands; k++) {
            sum += count[k];
        }
        if (sum > 32) {
            abort();
        }

        /* a cheap search (floor only, the first candidate at half), in
         * the first policies only: a search routes the sample ~300 times */
        if (i >= 4) {
            continue;
        }

        for (k = 0; k < p->ncands; k++) {
            target[k] = k ? -1 : 0.5;
        }
        h = p->floor_hard;
        (void) llr_calib_search(a, p, s, 8, 8, target, 1, &f, &h);
        if (f > h || h > LLR_Q_ONE || h != p->floor_hard) {
            abort();
        }
    }

done:

    free(a);
    free(b);

    return 0;
}
