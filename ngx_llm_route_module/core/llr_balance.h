/*
 * ngx_llm_route_module: spreading requests over a model's deployments.
 *
 * Plain C, no nginx headers, no global state.
 *
 * Smooth weighted round-robin, nginx's upstream algorithm: every pick
 * adds each peer's weight to its current weight, takes the peer with
 * the largest current weight and takes the total of the weights off
 * that one.  Over sum(weight) picks each peer is taken weight times,
 * spread out (weights 5, 1, 1 give a a b a c a a, not a a a a a b c).
 * The current weights are per process: each worker spreads its own
 * requests.
 *
 * Recent latency, for llm_route_balance latency: an exponentially
 * weighted moving average of samples in milliseconds * 16, that moves
 * a quarter of the way to each new sample.
 */

#ifndef _LLR_BALANCE_H_INCLUDED_
#define _LLR_BALANCE_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


typedef struct {
    uint64_t    weight;         /* at least 1 */
    int64_t     current;        /* 0 at first */
} llr_swrr_peer_t;


/* the index of the peer picked among peers[0 .. n-1] (n >= 1) */
size_t llr_swrr_pick(llr_swrr_peer_t *const *peers, size_t n);


/* the average after a sample of ms; first: there was none before */
uint64_t llr_ewma_ms16(uint64_t avg, uint64_t ms, int first);


#endif /* _LLR_BALANCE_H_INCLUDED_ */
