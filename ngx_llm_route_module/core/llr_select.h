/*
 * ngx_llm_route_module: policy selection ("auto" picks the cheapest
 * candidate that is good enough).  A pure function over a table; see
 * docs/selection.md for the rule with worked examples.
 *
 * Plain C, no nginx headers, no allocation, no global state.
 *
 * Qualities and floors are fixed point with 4 decimals (0..10000 for
 * 0.0000..1.0000, parse them with llr_parse_decimal(s, len, 4, 10000,
 * ...)); the difficulty is rounded to 4 decimals.  The comparison
 *
 *     quality * 10^4 >= floor * 10^4 + d * (floor_hard - floor)
 *
 * is then exact integer arithmetic: no epsilon, no rounding surprise.
 * Prices are pUSD per token (llr_cost.h), costs pUSD.
 */

#ifndef _LLR_SELECT_H_INCLUDED_
#define _LLR_SELECT_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


#define LLR_Q_ONE                 10000     /* quality 1.0 */
#define LLR_Q_UNSET               UINT32_MAX
#define LLR_SELECT_MAX            64        /* candidates per policy */
#define LLR_SELECT_EXPECTED       256       /* default expected completion */


typedef struct {
    const char       *name;
    uint32_t          quality;        /* default quality, 0..LLR_Q_ONE */
    const uint32_t   *task_quality;   /* [ntasks] or NULL; LLR_Q_UNSET
                                         entries use quality */
    uint64_t          input;          /* pUSD per prompt token */
    uint64_t          output;         /* pUSD per completion token */
    uint64_t          context;        /* context window, tokens */
    unsigned          usable:1;       /* healthy and within budget */
} llr_cand_t;


typedef struct {
    const char       *policy;         /* for the reason; may be NULL */
    unsigned          task;           /* task index */
    unsigned          ntasks;         /* size of the per-task arrays */
    const char       *task_name;      /* for the reason; may be NULL */
    double            difficulty;     /* 0..1, clamped */

    uint32_t          floor;          /* 0..LLR_Q_ONE */
    uint32_t          floor_hard;
    const uint32_t   *task_floor;     /* [ntasks] or NULL, LLR_Q_UNSET */
    const uint32_t   *task_floor_hard;

    uint64_t          prompt_tokens;  /* estimated prompt tokens P */
    int64_t           max_tokens;     /* M, or -1 when absent */
    uint64_t          expected;       /* E; 0 for LLR_SELECT_EXPECTED */

    const llr_cand_t *cands;          /* in policy order */
    size_t            ncands;         /* <= LLR_SELECT_MAX */
} llr_select_in_t;


typedef struct {
    int               chosen;         /* index into cands, -1 if none */
    unsigned          met_floor:1;    /* chosen meets the required quality */
    unsigned          nqualified;     /* candidates meeting it */
    uint32_t          difficulty;     /* rounded, 0..LLR_Q_ONE */
    uint64_t          required;       /* required quality in 1e-8
                                         (LLR_Q_ONE * LLR_Q_ONE = 1.0) */
    uint64_t          est_cost;       /* pUSD, chosen */
    uint64_t          est_cost_max;   /* pUSD, most expensive candidate */
    uint64_t          expected;       /* E' used for the estimates */
    size_t            nfallback;
    unsigned          fallback[LLR_SELECT_MAX];  /* failover order */
    size_t            reason_len;     /* of the reason written */
} llr_select_out_t;


/* quality of a candidate for a task */
uint32_t llr_select_quality(const llr_cand_t *c, unsigned task,
    unsigned ntasks);

/* estimated cost P * input + E' * output, pUSD, saturating */
uint64_t llr_select_cost(const llr_cand_t *c, uint64_t prompt,
    uint64_t expected);

/*
 * The threshold of a candidate of quality q under the floors f, h: the
 * highest difficulty t (0..LLR_Q_ONE) such that it qualifies (q >= f +
 * d (h - f)) for every difficulty d in [0, t]; LLR_SELECT_NEVER if it
 * does not qualify at 0.  With h > f: (q - f) / (h - f), at most 1;
 * with h <= f: 1 if q >= f.
 */
#define LLR_SELECT_NEVER          UINT32_MAX

uint32_t llr_select_threshold(uint32_t q, uint32_t f, uint32_t h);

/* the floors that apply to a task: the task's, else the policy's */
void llr_select_floors(const llr_select_in_t *in, uint32_t *f,
    uint32_t *h);

/*
 * Apply the rule.  Returns 0 (out->chosen >= 0), or -1 when no usable
 * candidate fits the context (out->chosen == -1).  A one-line reason
 * is written to reason (NUL-terminated, truncated to reason_size, its
 * length in out->reason_len) if reason is not NULL: the policy, the
 * task, difficulty and required quality, the choice, and the threshold
 * of the cheapest usable candidate that fits ("NAME up to D": the
 * highest difficulty at which it qualifies).
 */
int llr_select(const llr_select_in_t *in, llr_select_out_t *out,
    char *reason, size_t reason_size);


#endif /* _LLR_SELECT_H_INCLUDED_ */
