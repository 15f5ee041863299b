/*
 * ngx_llm_route_module: what a request is reserved at admission and
 * charged when it is finished.
 *
 * Plain C, no nginx headers, no global state.
 *
 * Admission (llr_estimate()): the prompt at 4 bytes of its text a token,
 * the completion at max_tokens (256 when absent), times n: every choice
 * is generated, and paid for.
 *
 * The finished attempt (llr_account()): the usage the provider reported,
 * if it is usable.  Otherwise estimated, and counted so:
 *   - the client hung up (and the provider had not refused): the
 *     provider had the whole request and may well answer it whole, so at
 *     least what admission reserved is charged, and what was streamed if
 *     that is more (docs/budgets.md);
 *   - a compressed answer (not read): what admission reserved, so that
 *     budgets are not escaped;
 *   - an answer without usable usage: the prompt's estimate and the
 *     generated text's.
 * A failed attempt that generated nothing is charged nothing.  The cost
 * is from the deployment's prices; "saved" is what the same tokens would
 * have cost at the dearest candidate of the policy, less the cost.
 */

#ifndef _LLR_ACCOUNT_H_INCLUDED_
#define _LLR_ACCOUNT_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_cost.h"
#include "llr_usage.h"


/* the completion admission reserves without max_tokens */
#define LLR_ESTIMATE_COMPLETION  256


/* how the response was read */
typedef enum {
    LLR_RESP_NONE = 0,          /* not at all (no body, HEAD) */
    LLR_RESP_JSON,              /* a JSON body, llr_usage */
    LLR_RESP_SSE,               /* a stream, llr_sse */
    LLR_RESP_ENCODED            /* compressed: only watched for its end */
} llr_resp_mode_e;


/* what was charged, and why */
typedef enum {
    LLR_CHARGE_NOTHING = 0,     /* failed, nothing generated */
    LLR_CHARGE_USAGE,           /* the usage the provider reported */
    LLR_CHARGE_CLIENT_GONE,     /* estimated: the client hung up */
    LLR_CHARGE_ENCODED,         /* estimated: a compressed answer */
    LLR_CHARGE_ESTIMATED        /* estimated: no usable usage */
} llr_charge_e;


/* what admission reserves */
typedef struct {
    uint64_t    prompt_tokens;
    uint64_t    tokens;         /* prompt and completion */
    uint64_t    cost;           /* pUSD */
} llr_estimate_t;


/*
 * text_bytes: the request's text (llr_req_view_t); max_tokens: -1 when
 * absent; n: the choices (0 taken as 1)
 */
void llr_estimate(llr_estimate_t *est, uint64_t text_bytes,
    int64_t max_tokens, uint64_t n, const llr_price_t *price);


/* a finished attempt */
typedef struct {
    unsigned            status;     /* the provider's HTTP status */
    llr_resp_mode_e     mode;
    const llr_resp_t   *res;        /* NULL unless JSON or SSE */
    unsigned            done:1;     /* the response's end was seen */
    unsigned            ended:1;    /* a stream ended as its API says */
    unsigned            client_gone:1;
    unsigned            embeddings:1;   /* no completion tokens */
    uint64_t            text_bytes;     /* of the request */
    uint64_t            reserved_tokens; /* llr_estimate_t.tokens */
    const llr_price_t  *price;
    const llr_price_t  *prices;     /* the policy's candidates, or NULL */
    size_t              nprices;
} llr_attempt_t;


typedef struct {
    llr_charge_e        charge;
    unsigned            failed:1;
    unsigned            estimated:1;
    uint64_t            prompt_tokens;
    uint64_t            completion_tokens;
    uint64_t            cached_tokens;
    uint64_t            reasoning_tokens;
    uint64_t            cost;       /* pUSD */
    uint64_t            saved;
} llr_account_t;


void llr_account(const llr_attempt_t *a, llr_account_t *acc);


#endif /* _LLR_ACCOUNT_H_INCLUDED_ */
