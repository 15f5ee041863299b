/*
 * ngx_llm_route_module: refusal reasons and latency histograms (see
 * llr_stats.h).
 */

#include <string.h>

#include "llr_stats.h"


static const char  *llr_reject_names[LLR_REJECT_N] = {
    NULL,
    "invalid_request",
    "context_length",
    "model_not_found",
    "unknown_url",
    "denied",
    "method_not_allowed",
    "too_large",
    "budget",
    "rate_limit",
    "unavailable",
    "limits_full",
    "internal"
};


/* the OpenAI error codes of the router's refusals, and their reasons */

static const struct {
    const char    *code;
    llr_reject_e   reason;
} llr_reject_codes[] = {
    { "invalid_json", LLR_REJECT_INVALID_REQUEST },
    { "invalid_type", LLR_REJECT_INVALID_REQUEST },
    { "missing_required_parameter", LLR_REJECT_INVALID_REQUEST },
    { "nesting_too_deep", LLR_REJECT_INVALID_REQUEST },
    { "bad_request", LLR_REJECT_INVALID_REQUEST },
    { "context_length_exceeded", LLR_REJECT_CONTEXT_LENGTH },
    { "model_not_found", LLR_REJECT_MODEL_NOT_FOUND },
    { "unknown_url", LLR_REJECT_UNKNOWN_URL },
    { "method_not_allowed", LLR_REJECT_METHOD },
    { "request_too_large", LLR_REJECT_TOO_LARGE },
    { "budget_exceeded", LLR_REJECT_BUDGET },
    { "rate_limit_exceeded", LLR_REJECT_RATE_LIMIT },
    { "limits_zone_full", LLR_REJECT_LIMITS_FULL },
    { NULL, LLR_REJECT_NONE }
};


const char *
llr_reject_name(llr_reject_e reason)
{
    if ((unsigned) reason >= LLR_REJECT_N) {
        return NULL;
    }

    return llr_reject_names[reason];
}


llr_reject_e
llr_reject_reason(unsigned status, const char *code)
{
    size_t  i;

    if (status < 400) {
        return LLR_REJECT_NONE;
    }

    if (code) {
        for (i = 0; llr_reject_codes[i].code; i++) {
            if (strcmp(llr_reject_codes[i].code, code) == 0) {
                return llr_reject_codes[i].reason;
            }
        }
    }

    /* a code without a reason of its own: by its status */

    switch (status) {

    case 401:
    case 403:
        return LLR_REJECT_DENIED;

    case 404:
        return LLR_REJECT_MODEL_NOT_FOUND;

    case 405:
        return LLR_REJECT_METHOD;

    case 413:
        return LLR_REJECT_TOO_LARGE;

    case 429:
        return LLR_REJECT_RATE_LIMIT;

    case 503:
        return LLR_REJECT_UNAVAILABLE;

    default:
        return status >= 500 ? LLR_REJECT_INTERNAL
                             : LLR_REJECT_INVALID_REQUEST;
    }
}


const uint64_t  llr_hist_bounds_ms[LLR_HIST_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000,
    30000, 60000, 120000, 300000, 600000, UINT64_MAX
};


unsigned
llr_hist_bucket(uint64_t ms)
{
    unsigned  i;

    for (i = 0; i < LLR_HIST_BUCKETS - 1; i++) {
        if (ms <= llr_hist_bounds_ms[i]) {
            break;
        }
    }

    return i;
}


double
llr_hist_percentile(const uint64_t *buckets, double q)
{
    double    rank, lo, hi;
    uint64_t  total, cum;
    unsigned  i;

    total = 0;

    for (i = 0; i < LLR_HIST_BUCKETS; i++) {
        total += buckets[i];
    }

    if (total == 0) {
        return 0;
    }

    rank = q * (double) total;
    cum = 0;

    for (i = 0; i < LLR_HIST_BUCKETS; i++) {

        if (buckets[i] == 0 || (double) (cum + buckets[i]) < rank) {
            cum += buckets[i];
            continue;
        }

        lo = i ? (double) llr_hist_bounds_ms[i - 1] : 0;

        if (i == LLR_HIST_BUCKETS - 1) {
            /* above the last bound: nothing better than the bound */
            return lo;
        }

        hi = (double) llr_hist_bounds_ms[i];

        return lo + (hi - lo) * (rank - (double) cum) / (double) buckets[i];
    }

    return (double) llr_hist_bounds_ms[LLR_HIST_BUCKETS - 2];
}
