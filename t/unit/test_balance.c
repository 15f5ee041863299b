/*
 * core/llr_balance: smooth weighted round-robin and the latency average.
 */

#include <stdint.h>

#include "tap.h"
#include "llr_balance.h"


typedef struct {
    const char  *name;
    size_t       n;
    uint64_t     weight[4];
    const char  *order;         /* the picks of one round, by letter */
} swrr_case_t;


typedef struct {
    uint64_t     avg;
    uint64_t     ms;
    int          first;
    uint64_t     want;
    const char  *name;
} ewma_case_t;


static const swrr_case_t  swrr[] = {
    { "one peer", 1, { 3 }, "aaa" },
    { "equal weights: in turn", 3, { 1, 1, 1 }, "abc" },
    { "nginx's example: 5 1 1 spread out", 3, { 5, 1, 1 }, "aabacaa" },
    { "2 1: the heavier first", 2, { 2, 1 }, "aba" },
    { "1 2: the first of equals", 2, { 1, 2 }, "bab" },
    { "weights 3 2", 2, { 3, 2 }, "ababa" }
};


static const ewma_case_t  ewma[] = {
    { 0, 100, 1, 1600, "the first sample is the average" },
    { 1600, 200, 0, 2000, "a quarter of the way up" },
    { 1600, 0, 0, 1200, "a quarter of the way down" },
    { 1600, 100, 0, 1600, "the same sample: unchanged" },
    { 3, 0, 0, 3, "a step below 1 is lost" }
};


int
main(void)
{
    char              got[32];
    size_t            i, k, n, rounds;
    llr_swrr_peer_t   peer[4], *peers[4];

    for (i = 0; i < sizeof(swrr) / sizeof(swrr[0]); i++) {
        n = swrr[i].n;

        for (k = 0; k < n; k++) {
            peer[k].weight = swrr[i].weight[k];
            peer[k].current = 0;
            peers[k] = &peer[k];
        }

        rounds = strlen(swrr[i].order);

        for (k = 0; k < rounds; k++) {
            got[k] = (char) ('a' + llr_swrr_pick(peers, n));
        }

        got[k] = '\0';

        is_str(got, swrr[i].order, "swrr: %s", swrr[i].name);

        /* after a whole round every current weight is back at 0 */

        for (k = 0; k < n && peer[k].current == 0; k++) { /* void */ }

        is_int(k, n, "swrr: %s, back where it started", swrr[i].name);
    }

    /* a peer left out of a pick keeps its current weight */

    peer[0].weight = 1;
    peer[0].current = 0;
    peer[1].weight = 1;
    peer[1].current = 0;
    peers[0] = &peer[0];
    peers[1] = &peer[1];

    is_int(llr_swrr_pick(peers, 2), 0, "two peers: the first");
    is_int(llr_swrr_pick(&peers[1], 1), 0, "then the second alone");
    is_int(peer[0].current, -1, "the first keeps its turn");
    is_int(llr_swrr_pick(peers, 2), 1,
           "both again: the second, ahead by the turn it took alone");

    for (i = 0; i < sizeof(ewma) / sizeof(ewma[0]); i++) {
        is_int(llr_ewma_ms16(ewma[i].avg, ewma[i].ms, ewma[i].first),
               ewma[i].want, "ewma: %s", ewma[i].name);
    }

    done_testing();
}
