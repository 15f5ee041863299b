/*
 * ngx_llm_route_module: what the status counts besides routed requests.
 *
 * Plain C, no nginx headers, no global state.
 *
 * Refusals.  Every answer the router gives itself instead of routing a
 * request (a 400 for a malformed body, a 404 for an unknown model, a
 * 429 of a budget, ...) is counted under one of a small fixed set of
 * reasons, named by llr_reject_name(); llr_reject_reason() finds the
 * reason of an answer from its status and its OpenAI error code.  A code
 * this file does not know falls back to its status, so that a new
 * refusal is counted even before it gets a reason of its own.
 *
 * Latency histograms.  Fixed log-scale buckets, by their upper bounds
 * in milliseconds (the last one is +Inf), serve latency and time to
 * first token alike; a percentile is interpolated in its bucket.
 *
 * Per-second counts.  A count of one second and the second it belongs
 * to share one machine word, so that one compare-and-set both moves a
 * slot of a ring of seconds on to a new second and counts in it: the
 * stamp (the second, modulo 2^half) in the high half, the count in the
 * low half, saturated at its maximum.  A ring slot read for another
 * second than its stamp says holds nothing for it.  With 32-bit words
 * the stamp repeats every 65536 s: a slot left unwritten for exactly a
 * multiple of that reads as current, which a status page can live with.
 */

#ifndef _LLR_STATS_H_INCLUDED_
#define _LLR_STATS_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


typedef enum {
    LLR_REJECT_NONE = 0,
    LLR_REJECT_INVALID_REQUEST,   /* 400: malformed body, bad framing */
    LLR_REJECT_CONTEXT_LENGTH,    /* 400: no candidate's context fits */
    LLR_REJECT_MODEL_NOT_FOUND,   /* 404: the model is not configured */
    LLR_REJECT_UNKNOWN_URL,       /* 404: not a known endpoint */
    LLR_REJECT_DENIED,            /* 401, 403: nginx's access control */
    LLR_REJECT_METHOD,            /* 405 */
    LLR_REJECT_TOO_LARGE,         /* 413: over client_max_body_size */
    LLR_REJECT_BUDGET,            /* 429: a budget is spent */
    LLR_REJECT_RATE_LIMIT,        /* 429: rpm= or tpm= */
    LLR_REJECT_UNAVAILABLE,       /* every provider asked to wait */
    LLR_REJECT_LIMITS_FULL,       /* 503: no room to track a limit key */
    LLR_REJECT_INTERNAL,          /* 500 and other 5xx before routing */
    LLR_REJECT_N                  /* at most 16: the request context
                                     keeps a reason in 4 bits */
} llr_reject_e;


/* the reason's label ("budget"), a static string; NULL for NONE */
const char *llr_reject_name(llr_reject_e reason);

/*
 * The reason of an answer of the router's own: its HTTP status and its
 * OpenAI error code (NULL if none).  LLR_REJECT_NONE for a status below
 * 400, which is no refusal.
 */
llr_reject_e llr_reject_reason(unsigned status, const char *code);


#define LLR_HIST_BUCKETS    18

/*
 * the upper bounds in ms: 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
 * 5000, 10000, 20000, 30000, 60000, 120000, 300000, 600000, UINT64_MAX
 */
extern const uint64_t  llr_hist_bounds_ms[LLR_HIST_BUCKETS];

/* the bucket of a sample of ms milliseconds */
unsigned llr_hist_bucket(uint64_t ms);

/*
 * The q-quantile (0..1) in ms of the counts of a histogram: linear in
 * the bucket where the rank falls (from the bound below it, 0 for the
 * first), the last finite bound above it; 0 when it is empty.
 */
double llr_hist_percentile(const uint64_t *buckets, double q);


#define LLR_SECOND_HALF     (sizeof(uintptr_t) * 4)
#define LLR_SECOND_COUNT    (((uintptr_t) 1 << LLR_SECOND_HALF) - 1)


/* the word after one more event in second `sec` */
static inline uintptr_t
llr_second_add(uintptr_t word, uint64_t sec)
{
    uintptr_t  stamp;

    stamp = (uintptr_t) sec << LLR_SECOND_HALF;

    if ((word & ~LLR_SECOND_COUNT) != stamp) {
        /* a slot of an older second: this one starts at 1 */
        return stamp | 1;
    }

    if ((word & LLR_SECOND_COUNT) == LLR_SECOND_COUNT) {
        return word;
    }

    return word + 1;
}


/* the count the word holds for second `sec` */
static inline uint64_t
llr_second_count(uintptr_t word, uint64_t sec)
{
    if ((word & ~LLR_SECOND_COUNT) != (uintptr_t) sec << LLR_SECOND_HALF) {
        return 0;
    }

    return word & LLR_SECOND_COUNT;
}


#endif /* _LLR_STATS_H_INCLUDED_ */
