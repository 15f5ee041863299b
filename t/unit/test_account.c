/*
 * core/llr_account: what admission reserves, and what a finished
 * attempt is charged.
 */

#include <stdint.h>

#include "tap.h"
#include "llr_account.h"


/* $1 and $2 per 1M tokens, cached input at $0.50 */
static const llr_price_t  price = { 1000000, 500000, 2000000 };

/* a dearer candidate of the same policy: $10 and $20 */
static const llr_price_t  dear[] = {
    { 1000000, 500000, 2000000 },
    { 10000000, LLR_PRICE_UNSET, 20000000 }
};


/* the response as the scanners leave it */
typedef struct {
    unsigned     usage:1;       /* a usable "usage" */
    unsigned     prompt_only:1; /* it gave prompt tokens only */
    unsigned     error:1;
    uint64_t     prompt, completion, cached, reasoning;
    uint64_t     content_bytes;
} resp_t;


typedef struct {
    const char       *name;

    /* the attempt */
    unsigned          status;
    llr_resp_mode_e   mode;
    unsigned          read:1;       /* res is set */
    unsigned          done:1;
    unsigned          ended:1;
    unsigned          gone:1;
    unsigned          embeddings:1;
    unsigned          policy:1;     /* with the dearer candidate */
    resp_t            res;

    /* the account */
    llr_charge_e      charge;
    unsigned          failed;
    uint64_t          prompt, completion, cached;
    uint64_t          cost, saved;
} account_case_t;


/* the request: 12 bytes of text (3 tokens), 256 reserved: 259 */
#define TEXT      12
#define RESERVED  259


static const account_case_t  cases[] = {

    { "usage reported", 200, LLR_RESP_JSON, 1, 1, 0, 0, 0, 0,
      { 1, 0, 0, 10, 20, 4, 2, 80 },
      LLR_CHARGE_USAGE, 0, 10, 20, 4,
      6 * 1000000 + 4 * 500000 + 20 * 2000000, 0 },

    { "cached above prompt: the prompt", 200, LLR_RESP_JSON, 1, 1, 0, 0, 0,
      0, { 1, 0, 0, 10, 0, 50, 0, 0 },
      LLR_CHARGE_USAGE, 0, 10, 0, 10, 10 * 500000, 0 },

    { "a stream that ended with usage", 200, LLR_RESP_SSE, 1, 1, 1, 0, 0, 0,
      { 1, 0, 0, 5, 7, 0, 0, 28 },
      LLR_CHARGE_USAGE, 0, 5, 7, 0, 5 * 1000000 + 7 * 2000000, 0 },

    { "a stream cut short: failed, what was streamed", 200, LLR_RESP_SSE, 1,
      1, 0, 0, 0, 0, { 0, 0, 0, 0, 0, 0, 0, 40 },
      LLR_CHARGE_ESTIMATED, 1, 3, 10, 0, 3 * 1000000 + 10 * 2000000, 0 },

    { "client gone mid-stream: more streamed than reserved", 200,
      LLR_RESP_SSE, 1, 0, 0, 1, 0, 0, { 0, 0, 0, 0, 0, 0, 0, 4000 },
      LLR_CHARGE_CLIENT_GONE, 1, 3, 1000, 0,
      3 * 1000000 + 1000 * 2000000, 0 },

    { "client gone before the answer: what was reserved", 499,
      LLR_RESP_NONE, 0, 0, 0, 1, 0, 0, { 0 },
      LLR_CHARGE_CLIENT_GONE, 1, 3, 256, 0, 3 * 1000000 + 256 * 2000000, 0 },

    { "client gone, the provider refused: nothing", 500, LLR_RESP_NONE, 0,
      0, 0, 1, 0, 0, { 0 },
      LLR_CHARGE_NOTHING, 1, 0, 0, 0, 0, 0 },

    { "a compressed answer: what was reserved", 200, LLR_RESP_ENCODED, 0, 1,
      0, 0, 0, 0, { 0 },
      LLR_CHARGE_ENCODED, 0, 3, 256, 0, 3 * 1000000 + 256 * 2000000, 0 },

    { "no usage: estimated from the text", 200, LLR_RESP_JSON, 1, 1, 0, 0,
      0, 0, { 0, 0, 0, 0, 0, 0, 0, 41 },
      LLR_CHARGE_ESTIMATED, 0, 3, 11, 0, 3 * 1000000 + 11 * 2000000, 0 },

    { "usage without completion tokens: estimated", 200, LLR_RESP_JSON, 1, 1,
      0, 0, 0, 0, { 1, 1, 0, 9, 0, 0, 0, 4 },
      LLR_CHARGE_ESTIMATED, 0, 3, 1, 0, 3 * 1000000 + 1 * 2000000, 0 },

    { "embeddings report prompt tokens only", 200, LLR_RESP_JSON, 1, 1, 0, 0,
      1, 0, { 1, 1, 0, 9, 0, 0, 0, 0 },
      LLR_CHARGE_USAGE, 0, 9, 0, 0, 9 * 1000000, 0 },

    { "an error answer: failed, nothing", 429, LLR_RESP_JSON, 1, 1, 0, 0, 0,
      0, { 0, 0, 1, 0, 0, 0, 0, 0 },
      LLR_CHARGE_NOTHING, 1, 0, 0, 0, 0, 0 },

    { "an error object in a 200: failed", 200, LLR_RESP_JSON, 1, 1, 0, 0, 0,
      0, { 0, 0, 1, 0, 0, 0, 0, 0 },
      LLR_CHARGE_NOTHING, 1, 0, 0, 0, 0, 0 },

    { "no status: failed", 0, LLR_RESP_NONE, 0, 1, 0, 0, 0, 0, { 0 },
      LLR_CHARGE_NOTHING, 1, 0, 0, 0, 0, 0 },

    { "a policy: saved against its dearest candidate", 200, LLR_RESP_JSON, 1,
      1, 0, 0, 0, 1, { 1, 0, 0, 10, 20, 0, 0, 80 },
      LLR_CHARGE_USAGE, 0, 10, 20, 0, 10 * 1000000 + 20 * 2000000,
      (10 * 10000000ULL + 20 * 20000000ULL)
      - (10 * 1000000 + 20 * 2000000) }
};


int
main(void)
{
    size_t                 i;
    llr_resp_t             res;
    llr_attempt_t          a;
    llr_account_t          acc;
    llr_estimate_t         est;
    const account_case_t  *c;

    /* admission: prompt at 4 bytes a token, completion times n */

    llr_estimate(&est, TEXT, -1, 0, &price);
    is_int(est.prompt_tokens, 3, "estimate: the prompt");
    is_int(est.tokens, RESERVED, "estimate: 256 without max_tokens");
    is_int(est.cost, 3 * 1000000 + 256 * 2000000, "estimate: the cost");

    llr_estimate(&est, 13, 100, 3, &price);
    is_int(est.tokens, 4 + 300, "estimate: max_tokens times n");
    is_int(est.cost, 4 * 1000000 + 300 * 2000000, "estimate: its cost");

    llr_estimate(&est, 0, 0, 1, &price);
    is_int(est.tokens, 0, "estimate: max_tokens 0 reserves nothing");

    llr_estimate(&est, 0, INT64_MAX, UINT64_MAX, &price);
    is_int(est.tokens, UINT64_MAX, "estimate: saturates");

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = &cases[i];

        memset(&res, 0, sizeof(res));
        res.has_usage = c->res.usage;
        res.usage_valid = c->res.usage
                          ? (c->res.prompt_only ? LLR_USAGE_PROMPT
                             : LLR_USAGE_PROMPT | LLR_USAGE_COMPLETION)
                          : 0;
        res.error = c->res.error;
        res.prompt_tokens = c->res.prompt;
        res.completion_tokens = c->res.completion;
        res.cached_tokens = c->res.cached;
        res.reasoning_tokens = c->res.reasoning;
        res.content_bytes = c->res.content_bytes;

        memset(&a, 0, sizeof(a));
        a.status = c->status;
        a.mode = c->mode;
        a.res = c->read ? &res : NULL;
        a.done = c->done;
        a.ended = c->ended;
        a.client_gone = c->gone;
        a.embeddings = c->embeddings;
        a.text_bytes = TEXT;
        a.reserved_tokens = RESERVED;
        a.price = &price;
        a.prices = c->policy ? dear : NULL;
        a.nprices = c->policy ? 2 : 0;

        llr_account(&a, &acc);

        is_int(acc.charge, c->charge, "%s: charge", c->name);
        is_int(acc.failed, c->failed, "%s: failed", c->name);
        is_int(acc.estimated, c->charge >= LLR_CHARGE_CLIENT_GONE,
               "%s: estimated", c->name);
        is_int(acc.prompt_tokens, c->prompt, "%s: prompt", c->name);
        is_int(acc.completion_tokens, c->completion, "%s: completion",
               c->name);
        is_int(acc.cached_tokens, c->cached, "%s: cached", c->name);
        is_int(acc.cost, c->cost, "%s: cost", c->name);
        is_int(acc.saved, c->saved, "%s: saved", c->name);
    }

    done_testing();
}
