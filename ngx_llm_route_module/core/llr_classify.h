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
 * The model file format is described in docs/classifier.md; what
 * training and evaluation use besides is in llr_classify_train.h.
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
 * model and its weights are allocated with alloc->malloc (realloc and
 * free are not used: they may be NULL) and never freed by this code (a
 * pool).  llr_cls_model_cleanup() releases nothing today; callers keep
 * calling it when they drop a model.
 */
llr_cls_model_t *llr_cls_model_load(const unsigned char *data, size_t len,
    const llr_alloc_t *alloc, char *err, size_t errlen);
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


/* the built-in image */
extern const unsigned char  llr_cls_default_image[];
extern const size_t         llr_cls_default_image_len;


#endif /* _LLR_CLASSIFY_H_INCLUDED_ */
