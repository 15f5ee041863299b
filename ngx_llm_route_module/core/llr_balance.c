/*
 * ngx_llm_route_module: spreading requests over a model's deployments
 * (llr_balance.h).
 */

#include "llr_balance.h"


size_t
llr_swrr_pick(llr_swrr_peer_t *const *peers, size_t n)
{
    size_t    i, best;
    int64_t   total;

    best = 0;
    total = 0;

    for (i = 0; i < n; i++) {
        peers[i]->current += (int64_t) peers[i]->weight;
        total += (int64_t) peers[i]->weight;

        if (peers[i]->current > peers[best]->current) {
            best = i;
        }
    }

    peers[best]->current -= total;

    return best;
}


uint64_t
llr_ewma_ms16(uint64_t avg, uint64_t ms, int first)
{
    uint64_t  sample;

    sample = ms * 16;

    if (first) {
        return sample;
    }

    return sample >= avg ? avg + (sample - avg) / 4 : avg - (avg - sample) / 4;
}
