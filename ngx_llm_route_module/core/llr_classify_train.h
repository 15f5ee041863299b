/*
 * ngx_llm_route_module: the classifier's training and evaluation API.
 *
 * Plain C, no nginx headers.  What tools/llm-route-train.c uses to train
 * and write a model, llm-route-classify to evaluate a context budget,
 * and the tests and fuzz targets to look inside the classifier; the
 * module uses none of it (it includes llr_classify.h only).
 */

#ifndef _LLR_CLASSIFY_TRAIN_H_INCLUDED_
#define _LLR_CLASSIFY_TRAIN_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_classify.h"


/* feature groups: the last user turn, and everything else */
#define LLR_CLS_GROUP_CUR  0
#define LLR_CLS_GROUP_CTX  1

/*
 * A recorder sees every hashed feature (bucket, group) instead of the
 * weights being summed; bucket == UINT32_MAX means "move everything
 * recorded so far for the current group into the context group".
 */
typedef void (*llr_cls_record_pt)(void *ctx, uint32_t bucket, int group);

void llr_cls_state_set_recorder(void *state, llr_cls_record_pt rec,
    void *ctx);

/*
 * After init: the bytes of context (system and assistant messages,
 * earlier user turns) to tokenize, instead of the built-in budget
 * (llr_cls_ctx_budget).  For evaluating the budget: the module keeps
 * the built-in one.
 */
extern const size_t  llr_cls_ctx_budget;
void llr_cls_state_set_budget(void *state, size_t bytes);

/*
 * After finish: the dense features (LLR_CLS_NSTRUCT values) and the
 * number of hashed features per group, as the heads saw them.
 */
const float *llr_cls_state_dense(const void *state);
void llr_cls_state_counts(const void *state, double *ncur, double *nctx);

/*
 * The buckets a term hashes to (training: a lexicon ties the weights of
 * terms across languages).  A term of one word (or one CJK character)
 * gives the buckets of its word key and of its first-word key; two
 * words (or characters) those of their bigram key and of the first
 * bigram key.  Returns 2, or 0 if the term is not one or two words.
 */
int llr_cls_term_buckets(const llr_cls_model_t *m, const char *term,
    size_t len, uint32_t bucket[2]);

/* the parameters the training tool fills in */
typedef struct {
    uint32_t     hash_bits;
    uint32_t     ntasks;
    float        ctx_weight;
    char         task_names[LLR_CLS_MAX_TASKS][LLR_CLS_TASK_NAME_LEN];
    const float *task_hashed;    /* [1 << hash_bits][ntasks] */
    const float *diff_hashed;    /* [1 << hash_bits] */
    const float *task_dense;     /* [LLR_CLS_NSTRUCT][ntasks] */
    const float *diff_dense;     /* [LLR_CLS_NSTRUCT] */
    const float *diff_tdense;    /* [ntasks][LLR_CLS_NSTRUCT], or NULL */
    const float *task_bias;      /* [ntasks] */
    float        diff_bias;
    /*
     * [ntasks][LLR_CLS_NCALIB], or NULL (identity): the difficulty of a
     * prompt of predicted task t is 1 / (1 + exp(-(a * z + b))), z the
     * logit of the difficulty head, (a, b) = calib[t]
     */
    const float *calib;
} llr_cls_params_t;

/* serialize (quantizes the hashed weights to int16); malloc'ed image */
unsigned char *llr_cls_model_write(const llr_cls_params_t *p,
    size_t *len);

/* the float parameters of a loaded model, malloc'ed arrays (training) */
int llr_cls_model_params(const llr_cls_model_t *m, llr_cls_params_t *p);
void llr_cls_params_free(llr_cls_params_t *p);


#endif /* _LLR_CLASSIFY_TRAIN_H_INCLUDED_ */
