/*
 * ngx_llm_route_module: calibration of a policy's floors.
 *
 * Plain C, no nginx headers.  Used by tools/llm-route-calibrate: the
 * llm_route_model and llm_route_policy statements of an nginx.conf are
 * read (nothing else of it), a sample of classified requests is routed
 * with the module's own rule (llr_select), and the floors that send a
 * chosen share of the sample to each candidate are searched for.  See
 * docs/selection.md.
 */

#ifndef _LLR_CALIB_H_INCLUDED_
#define _LLR_CALIB_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_select.h"


#define LLR_CALIB_MODELS     256
#define LLR_CALIB_POLICIES   64
#define LLR_CALIB_NAME       64
#define LLR_CALIB_TASKS      16


typedef struct {
    char          name[LLR_CALIB_NAME];
    uint32_t      quality;
    uint32_t      task_quality[LLR_CALIB_TASKS];    /* LLR_Q_UNSET: none */
    uint64_t      input;                            /* pUSD per token */
    uint64_t      output;
    uint64_t      context;                          /* 0: unlimited */
} llr_calib_model_t;


typedef struct {
    char          name[LLR_CALIB_NAME];
    size_t        ncands;
    uint16_t      cand[LLR_SELECT_MAX];             /* into the models */
    uint32_t      floor;
    uint32_t      floor_hard;
    uint32_t      task_floor[LLR_CALIB_TASKS];      /* LLR_Q_UNSET: none */
    uint32_t      task_floor_hard[LLR_CALIB_TASKS];
} llr_calib_policy_t;


typedef struct {
    llr_calib_model_t   model[LLR_CALIB_MODELS];
    size_t              nmodels;
    llr_calib_policy_t  policy[LLR_CALIB_POLICIES];
    size_t              npolicies;
} llr_calib_conf_t;


/* a classified request of the sample */
typedef struct {
    uint16_t      task;            /* >= ntasks: not classified */
    uint16_t      difficulty;      /* 0..LLR_Q_ONE */
    uint64_t      prompt_tokens;
    int64_t       max_tokens;      /* -1: none */
} llr_calib_sample_t;


/*
 * Read the llm_route_model and llm_route_policy statements of an
 * nginx.conf text (at any depth; include is not followed) into c, which
 * may already hold those of another file.  tasks: the classifier's task
 * names, for quality_TASK= and floor_TASK.  Returns 0, or -1 with a
 * message naming the line in err.
 */
int llr_calib_conf(llr_calib_conf_t *c, const char *text, size_t len,
    const char *const *tasks, size_t ntasks, char *err, size_t errlen);

llr_calib_policy_t *llr_calib_find_policy(llr_calib_conf_t *c,
    const char *name);

/*
 * Route the sample through the policy with floors f, h (the policy's
 * task floors apply as in the module): count[k] is the number of
 * requests candidate k of the policy gets; tcount, if not NULL,
 * [LLR_CALIB_TASKS + 1][ncands] the same per task (the last row: not
 * classified).  Requests that no candidate fits are in no count.
 */
void llr_calib_route(const llr_calib_conf_t *c, const llr_calib_policy_t *p,
    uint32_t f, uint32_t h, const llr_calib_sample_t *s, size_t n,
    size_t ntasks, size_t *count, size_t *tcount);

/*
 * The floors f, h that send the sample closest (least squared error of
 * the shares, 0..1) to target[k] for each candidate k of the policy
 * with target[k] >= 0.  With fix_h, h is *h and only f moves (f <= h);
 * the middle of the range of f that is best is chosen.  Otherwise both
 * move (f <= h).  Returns the squared error.
 */
double llr_calib_search(const llr_calib_conf_t *c,
    const llr_calib_policy_t *p, const llr_calib_sample_t *s, size_t n,
    size_t ntasks, const double *target, int fix_h, uint32_t *f,
    uint32_t *h);


#endif /* _LLR_CALIB_H_INCLUDED_ */
