/*
 * ngx_llm_route_module: the compact prompt classifier.
 *
 * Plain C, no nginx headers.  Features are hashed while the request
 * scanner (llr_req.h) delivers message text through an llr_text_sink_t:
 * nothing is copied or concatenated, the weights of every hashed feature
 * are added straight into per-request accumulators.  Two linear heads:
 * a softmax over task types and a logistic "difficulty" (the probability
 * that a cheap model's answer is not good enough), mapped through a
 * calibration of the predicted task.
 *
 * Threading: a model is read-only after load; any number of threads may
 * classify with it, each with its own state block.
 *
 * The model file format is described in docs/classifier.md.
 */

#ifndef _LLR_CLASSIFY_H_INCLUDED_
#define _LLR_CLASSIFY_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_req.h"


#define LLR_CLS_MAX_TASKS      16
#define LLR_CLS_TASK_NAME_LEN  24         /* including the NUL */
#define LLR_CLS_NSTRUCT        80         /* dense slots, a multiple of 8 */
#define LLR_CLS_NCALIB         2          /* calibration parameters a task */

#define LLR_CLS_MAGIC          "LLRCLSM\x1a"
#define LLR_CLS_VERSION        4          /* the only version read */


typedef struct llr_cls_model_s  llr_cls_model_t;

typedef struct {
    int          task;
    const char  *task_name;
    double       difficulty;                  /* calibrated, 0..1 */
    double       raw;               /* the difficulty logit, uncalibrated */
    /*
     * the task logits after llr_cls_finish(); the softmax probabilities
     * after llr_cls_probabilities() (the module needs neither)
     */
    double       scores[LLR_CLS_MAX_TASKS];
    size_t       ntasks;
} llr_cls_result_t;


/*
 * The built-in model (llr_default_model.c).  The first call decodes it
 * (call it once at configuration time, before any concurrency); later
 * calls return the same object.  NULL only if the built-in image is
 * broken.
 */
const llr_cls_model_t *llr_cls_default_model(void);

/*
 * Validate (magic, version, dimensions, checksum) and load a model file
 * image.  Returns NULL and writes a message into err on failure.  The
 * model and its weights are allocated with alloc(actx, n) and never
 * freed by this code (a pool).  llr_cls_model_cleanup() releases nothing
 * today; callers keep calling it when they drop a model.
 */
llr_cls_model_t *llr_cls_model_load(const unsigned char *data, size_t len,
    void *(*alloc)(void *ctx, size_t n), void *actx, char *err,
    size_t errlen);
void llr_cls_model_cleanup(llr_cls_model_t *m);

/* per-request accumulator: a flat block, no allocation inside */
size_t llr_cls_state_size(const llr_cls_model_t *m);
void llr_cls_state_init(void *state, const llr_cls_model_t *m);
void llr_cls_sink(void *state, llr_text_sink_t *sink);
void llr_cls_finish(void *state, const llr_req_view_t *view,
    llr_cls_result_t *res);
void llr_cls_probabilities(llr_cls_result_t *res);

/*
 * Classify a whole request body as the module does: the request scanner
 * (llr_req, LLR_EP_ANY) reads it with the classifier as its text sink,
 * from an initialized state.  body is an OpenAI request body or
 * {"prompt": "..."} (no "model" needed).  Returns 0, or -1 with the
 * scanner's message in err.  view: the scanner's view of the request
 * (prompt bytes, turns, max_tokens; not the model), if not NULL.
 */
int llr_cls_body(void *state, const llr_alloc_t *alloc,
    const unsigned char *body, size_t len, llr_cls_result_t *res,
    llr_req_view_t *view, char *err, size_t errlen);

const char *llr_cls_task_name(const llr_cls_model_t *m, int task);
int llr_cls_task_index(const llr_cls_model_t *m, const char *name,
    size_t len);
size_t llr_cls_ntasks(const llr_cls_model_t *m);


/*
 * Training support (tools/llm-route-train, tests).  Not used by the
 * module.
 */

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

uint32_t llr_cls_hash_bits(const llr_cls_model_t *m);

/* the built-in image */
extern const unsigned char  llr_cls_default_image[];
extern const size_t         llr_cls_default_image_len;


#endif /* _LLR_CLASSIFY_H_INCLUDED_ */
