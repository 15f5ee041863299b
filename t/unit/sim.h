/*
 * Random numbers for the simulations of the unit tests (experiments,
 * drift): xoshiro256** seeded by splitmix64, so every run of a test
 * draws the same numbers.
 */

#ifndef _LLR_SIM_H_INCLUDED_
#define _LLR_SIM_H_INCLUDED_

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    uint64_t    s[4];
    int         has_spare;
    double      spare;
} sim_rng_t;


static inline uint64_t
sim_splitmix(uint64_t *x)
{
    uint64_t  z;

    z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static inline void
sim_seed(sim_rng_t *r, uint64_t seed)
{
    int  i;

    for (i = 0; i < 4; i++) {
        r->s[i] = sim_splitmix(&seed);
    }

    r->has_spare = 0;
}


static inline uint64_t
sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}


static inline uint64_t
sim_next(sim_rng_t *r)
{
    uint64_t  result, t;

    result = sim_rotl(r->s[1] * 5, 7) * 9;
    t = r->s[1] << 17;

    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = sim_rotl(r->s[3], 45);

    return result;
}


/* uniform in [0, 1) */
static inline double
sim_uniform(sim_rng_t *r)
{
    return (double) (sim_next(r) >> 11) * (1.0 / 9007199254740992.0);
}


static inline int
sim_bernoulli(sim_rng_t *r, double p)
{
    return sim_uniform(r) < p;
}


/* standard normal (Box-Muller, both values used) */
static inline double
sim_normal(sim_rng_t *r)
{
    double  u, v, m;

    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }

    do {
        u = sim_uniform(r);
    } while (u <= 0);

    v = sim_uniform(r);
    m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2.0 * M_PI * v);
    r->has_spare = 1;

    return m * cos(2.0 * M_PI * v);
}


/* lognormal with the given mean, sigma of the log */
static inline double
sim_lognormal(sim_rng_t *r, double mean, double sigma)
{
    return mean * exp(sigma * sim_normal(r) - sigma * sigma / 2.0);
}


/* the zone's latency buckets, ms (the last one +Inf) */
static const uint64_t  sim_bounds[18] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000,
    30000, 60000, 120000, 300000, 600000, UINT64_MAX
};


static inline unsigned
sim_bucket(double ms)
{
    unsigned  i;

    for (i = 0; i < 17; i++) {
        if (ms <= (double) sim_bounds[i]) {
            break;
        }
    }

    return i;
}


/*
 * valgrind preloads its own libraries: a test under it (make
 * test-asan) runs its simulations short, valgrind checks memory
 */
static inline int
sim_under_valgrind(void)
{
    const char  *pre;

    pre = getenv("LD_PRELOAD");

    return pre != NULL && strstr(pre, "vgpreload") != NULL;
}


#endif /* _LLR_SIM_H_INCLUDED_ */
