/*
 * core/llr_stats: refusal reasons and per-second counts.
 */

#include "tap.h"
#include "llr_stats.h"


int
main(void)
{
    int          i, j, seen;
    uint64_t     sec;
    uintptr_t    w;
    const char  *name;

    /* every reason has a distinct label, NONE has none */

    is_str(llr_reject_name(LLR_REJECT_NONE), NULL, "NONE has no label");
    is_str(llr_reject_name(LLR_REJECT_N), NULL, "out of range: no label");

    seen = 0;

    for (i = 1; i < LLR_REJECT_N; i++) {
        name = llr_reject_name((llr_reject_e) i);

        if (name == NULL || strlen(name) == 0) {
            break;
        }

        for (j = 1; j < i; j++) {
            if (strcmp(name, llr_reject_name((llr_reject_e) j)) == 0) {
                break;
            }
        }

        if (j < i) {
            break;
        }

        seen++;
    }

    is_int(seen, LLR_REJECT_N - 1, "every reason has a label of its own");

    /* the codes the module sends */

#define reason(st, code, r)                                                   \
    is_str(llr_reject_name(llr_reject_reason(st, code)), r,                  \
           "%d %s: %s", st, code ? code : "(none)", r ? r : "none")

    reason(400, "invalid_json", "invalid_request");
    reason(400, "invalid_type", "invalid_request");
    reason(400, "missing_required_parameter", "invalid_request");
    reason(400, "nesting_too_deep", "invalid_request");
    reason(400, "bad_request", "invalid_request");
    reason(400, "context_length_exceeded", "context_length");
    reason(404, "model_not_found", "model_not_found");
    reason(404, "unknown_url", "unknown_url");
    reason(405, "method_not_allowed", "method_not_allowed");
    reason(413, "request_too_large", "too_large");
    reason(429, "budget_exceeded", "budget");
    reason(429, "rate_limit_exceeded", "rate_limit");
    reason(503, "service_unavailable", "unavailable");
    reason(503, "limits_zone_full", "limits_full");
    reason(500, "server_error", "internal");

    /* unknown codes, and none: by status */

    reason(400, "something_new", "invalid_request");
    reason(401, "server_error", "denied");
    reason(403, NULL, "denied");
    reason(402, NULL, "invalid_request");
    reason(404, NULL, "model_not_found");
    reason(405, NULL, "method_not_allowed");
    reason(413, NULL, "too_large");
    reason(429, "something_new", "rate_limit");
    reason(500, NULL, "internal");
    reason(502, NULL, "internal");
    reason(503, NULL, "unavailable");

    /* not a refusal */

    reason(200, NULL, NULL);
    reason(302, "model_not_found", NULL);

    /* per-second counts */

    sec = 1732240000;
    w = 0;

    is_int(llr_second_count(w, sec), 0, "an empty word counts nothing");

    w = llr_second_add(w, sec);
    w = llr_second_add(w, sec);
    w = llr_second_add(w, sec);

    is_int(llr_second_count(w, sec), 3, "three in one second");
    is_int(llr_second_count(w, sec + 1), 0, "none in the next second");
    is_int(llr_second_count(w, sec - 64), 0, "none in an older second");

    w = llr_second_add(w, sec + 64);

    is_int(llr_second_count(w, sec + 64), 1,
           "a new second restarts the count");
    is_int(llr_second_count(w, sec), 0, "and the old second is gone");

    /* second 0 of an all-zero word is a count of 0, then 1 */

    is_int(llr_second_count(0, 0), 0, "second 0 of a zero word: 0");
    is_int(llr_second_count(llr_second_add(0, 0), 0), 1,
           "second 0 after one event: 1");

    /* saturation */

    w = ((uintptr_t) sec << LLR_SECOND_HALF) | (LLR_SECOND_COUNT - 1);
    w = llr_second_add(w, sec);
    is_int(llr_second_count(w, sec), (uint64_t) LLR_SECOND_COUNT,
           "the count reaches its maximum");
    w = llr_second_add(w, sec);
    is_int(llr_second_count(w, sec), (uint64_t) LLR_SECOND_COUNT,
           "and stays there, the stamp intact");

    done_testing();
}
