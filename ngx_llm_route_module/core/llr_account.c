/*
 * ngx_llm_route_module: what a request is reserved at admission and
 * charged when it is finished (llr_account.h).
 */

#include "llr_account.h"


#define LLR_HTTP_BAD_REQUEST     400
#define LLR_HTTP_CLIENT_CLOSED   499        /* nginx's: the client left */


void
llr_estimate(llr_estimate_t *est, uint64_t text_bytes, int64_t max_tokens,
    uint64_t n, const llr_price_t *price)
{
    uint64_t  completion;

    est->prompt_tokens = llr_estimate_tokens(text_bytes);

    completion = llr_mul_sat(max_tokens >= 0 ? (uint64_t) max_tokens
                                             : LLR_ESTIMATE_COMPLETION,
                             n ? n : 1);

    est->tokens = llr_add_sat(est->prompt_tokens, completion);
    est->cost = llr_cost(price, est->prompt_tokens, 0, completion);
}


/* the tokens: reported, estimated, or none */

static void
llr_account_tokens(const llr_attempt_t *a, llr_account_t *acc)
{
    uint64_t           prompt, streamed;
    const llr_resp_t  *res;

    res = a->res;
    prompt = llr_estimate_tokens(a->text_bytes);

    /*
     * usage that says nothing usable ("usage":{}, negative, fractional
     * or string counts) is estimated as a missing one is, and counted so
     */

    if (res && llr_usage_usable(res, a->embeddings)) {
        acc->charge = LLR_CHARGE_USAGE;
        acc->prompt_tokens = res->prompt_tokens;
        acc->completion_tokens = res->completion_tokens;
        acc->cached_tokens = res->cached_tokens < res->prompt_tokens
                             ? res->cached_tokens : res->prompt_tokens;
        acc->reasoning_tokens = res->reasoning_tokens;
        return;
    }

    if (a->client_gone
        && (a->status < LLR_HTTP_BAD_REQUEST
            || a->status == LLR_HTTP_CLIENT_CLOSED))
    {
        /* what admission reserved, or what was streamed if that is more */

        streamed = res ? llr_estimate_tokens(res->content_bytes) : 0;

        acc->charge = LLR_CHARGE_CLIENT_GONE;
        acc->prompt_tokens = prompt;
        acc->completion_tokens = a->reserved_tokens > prompt
                                 ? a->reserved_tokens - prompt : 0;

        if (streamed > acc->completion_tokens) {
            acc->completion_tokens = streamed;
        }

        return;
    }

    if (a->mode == LLR_RESP_ENCODED) {
        acc->charge = LLR_CHARGE_ENCODED;
        acc->prompt_tokens = prompt;
        acc->completion_tokens = a->reserved_tokens > prompt
                                 ? a->reserved_tokens - prompt : 0;
        return;
    }

    if (!acc->failed || (res && res->content_bytes)) {
        acc->charge = LLR_CHARGE_ESTIMATED;
        acc->prompt_tokens = prompt;
        acc->completion_tokens = res ? llr_estimate_tokens(res->content_bytes)
                                     : 0;
    }
}


void
llr_account(const llr_attempt_t *a, llr_account_t *acc)
{
    size_t             i;
    uint64_t           cost, most;
    const llr_resp_t  *res;

    res = a->res;

    acc->charge = LLR_CHARGE_NOTHING;
    acc->prompt_tokens = 0;
    acc->completion_tokens = 0;
    acc->cached_tokens = 0;
    acc->reasoning_tokens = 0;

    acc->failed = (a->status >= LLR_HTTP_BAD_REQUEST || a->status == 0
                   || (res == NULL && a->mode != LLR_RESP_ENCODED)
                   || !a->done
                   || (a->mode == LLR_RESP_SSE && !a->ended)
                   || (res && res->error));

    llr_account_tokens(a, acc);

    acc->estimated = (acc->charge >= LLR_CHARGE_CLIENT_GONE);

    acc->cost = llr_cost(a->price, acc->prompt_tokens, acc->cached_tokens,
                         acc->completion_tokens);

    /* saved: against the dearest candidate, by its prices */

    most = acc->cost;

    for (i = 0; a->prices && i < a->nprices; i++) {
        cost = llr_cost(&a->prices[i], acc->prompt_tokens, acc->cached_tokens,
                        acc->completion_tokens);

        if (cost > most) {
            most = cost;
        }
    }

    acc->saved = most - acc->cost;
}
