/*
 * core/llr_fbring: the ring of recent decisions, against a plain model
 * (the last `capacity` decisions, searched one by one) under random
 * inserts, attaches, duplicate ids, long ids and scores; expiry; a
 * second score replacing the first; copying into another capacity;
 * llr_fb_next() and llr_fb_restore() (the state file).
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "sim.h"
#include "llr_fbring.h"
#include "llr_qstat.h"


#define M_MAX   4096


typedef struct {
    uint64_t        seq;
    char            id[160];
    char            rid[160];
} m_entry_t;


/*
 * The model: every decision ever made, the newest last, and which
 * decision each key finds: the one that claimed it last (inserted with
 * it, or had it attached), while that one is live
 */
static m_entry_t  model[M_MAX];
static int        nmodel;

typedef struct {
    char            key[160];
    int             who;
} m_claim_t;

static m_claim_t  claims[2][M_MAX];
static int        nclaims[2];


static m_claim_t *
m_claim(int rid, const char *key)
{
    int  i;

    for (i = 0; i < nclaims[rid]; i++) {
        if (strcmp(claims[rid][i].key, key) == 0) {
            return &claims[rid][i];
        }
    }

    strcpy(claims[rid][i].key, key);
    claims[rid][i].who = -1;
    nclaims[rid]++;

    return &claims[rid][i];
}


/* decision j leaves the ring: the keys it holds find nothing */
static void
m_forget(int j)
{
    m_claim_t  *c;

    c = m_claim(0, model[j].id);

    if (c->who == j) {
        c->who = -1;
    }

    if (model[j].rid[0]) {
        c = m_claim(1, model[j].rid);

        if (c->who == j) {
            c->who = -1;
        }
    }
}


static uint64_t
m_find(const char *id)
{
    int  rid;

    for (rid = 0; rid < 2; rid++) {
        if (m_claim(rid, id)->who >= 0) {
            return model[m_claim(rid, id)->who].seq;
        }
    }

    return 0;
}


static void
m_id(sim_rng_t *r, char *buf, int long_ids)
{
    int  n;

    /* few distinct ids: duplicates happen; long ones share 64 bytes */
    n = (int) (sim_next(r) % 40);

    if (long_ids && (sim_next(r) & 1)) {
        snprintf(buf, 160, "%0100d", n);

    } else {
        snprintf(buf, 160, "id-%d", n);
    }
}


static int
test_random(uint32_t capacity, int steps, uint64_t seed, int long_ids)
{
    int              i, j, bad;
    char             id[160], rid[160];
    size_t           size;
    void            *mem;
    uint64_t         h, want, handles[M_MAX];
    sim_rng_t        r;
    llr_fb_ring_t   *ring;
    llr_fb_entry_t   e;
    llr_fb_decision_t  d;

    size = llr_fb_size(capacity);
    mem = malloc(size);
    ring = llr_fb_init(mem, size, capacity, 1000000);

    sim_seed(&r, seed);
    nmodel = 0;
    nclaims[0] = 0;
    nclaims[1] = 0;
    bad = 0;
    memset(&d, 0, sizeof(d));

    for (i = 0; i < steps && nmodel < M_MAX; i++) {

        switch (sim_next(&r) % 4) {

        case 0:
        case 1:
            m_id(&r, id, long_ids);
            rid[0] = '\0';

            if (sim_next(&r) & 1) {
                m_id(&r, rid, long_ids);
                rid[0] = 'r';
            }

            d.model = (uint32_t) nmodel;
            h = llr_fb_insert(ring, (unsigned char *) id, strlen(id),
                              (unsigned char *) rid, strlen(rid), &d, 1);

            if (nmodel >= (int) capacity) {
                m_forget(nmodel - (int) capacity);
            }

            model[nmodel].seq = h;
            strcpy(model[nmodel].id, id);
            strcpy(model[nmodel].rid, rid);
            m_claim(0, id)->who = nmodel;

            if (rid[0]) {
                m_claim(1, rid)->who = nmodel;
            }

            handles[nmodel++] = h;
            break;

        case 2:
            /* the provider's id of a recent (or replaced) decision */
            if (nmodel == 0) {
                break;
            }

            j = nmodel - 1 - (int) (sim_next(&r) % (capacity + 2));
            j = j < 0 ? 0 : j;
            m_id(&r, rid, long_ids);
            rid[0] = 'r';

            if (llr_fb_attach(ring, handles[j], (unsigned char *) rid,
                              strlen(rid))
                == LLR_FB_OK)
            {
                if (j < nmodel - (int) capacity) {
                    bad++;
                }

                if (model[j].rid[0] && m_claim(1, model[j].rid)->who == j) {
                    m_claim(1, model[j].rid)->who = -1;
                }

                strcpy(model[j].rid, rid);
                m_claim(1, rid)->who = j;

            } else if (j >= nmodel - (int) capacity) {
                bad++;
            }

            break;

        default:
            /* every id there may be, and ids never seen */
            for (j = 0; j < 42 * 4; j++) {
                switch (j % 4) {
                case 0:
                    snprintf(id, sizeof(id), "id-%d", j / 4);
                    break;
                case 1:
                    snprintf(id, sizeof(id), "rd-%d", j / 4);
                    break;
                case 2:
                    snprintf(id, sizeof(id), "%0100d", j / 4);
                    break;
                default:
                    snprintf(id, sizeof(id), "r%099d", j / 4);
                    break;
                }

                want = m_find(id);

                if (llr_fb_find(ring, (unsigned char *) id, strlen(id), 1,
                                &e)
                    == LLR_FB_OK)
                {
                    bad += (e.seq != want || e.d.model != e.seq - 1);

                } else {
                    bad += (want != 0);
                }
            }

            break;
        }
    }

    free(mem);

    return bad;
}


int
main(void)
{
    int                  rc;
    char                 big[200];
    void                *mem, *mem2;
    size_t               size;
    uint64_t             h;
    llr_fb_ring_t       *ring, *small;
    llr_fb_entry_t       e;
    llr_fb_decision_t    d;

    mem = malloc(16);
    ok(llr_fb_init(mem, 16, 4, 10) == NULL, "too small a block");
    free(mem);

    size = llr_fb_size(100);
    mem = malloc(size);
    ring = llr_fb_init(mem, size, 100, 60000);
    ok(ring != NULL, "a ring of 100 in %zu bytes", size);
    is_int(sizeof(llr_fb_entry_t), 208, "an entry is 208 bytes");

    d.model = 3;
    d.task = 4;
    d.policy = LLR_FB_NONE;
    d.experiment = 1;
    d.arm = 2;

    h = llr_fb_insert(ring, (unsigned char *) "r1", 2, NULL, 0, &d, 1000);
    ok(h == 1, "the first decision");

    rc = llr_fb_find(ring, (unsigned char *) "chatcmpl-x", 10, 1000, &e);
    is_int(rc, LLR_FB_NOT_FOUND, "the provider's id is not known yet");

    is_int(llr_fb_attach(ring, h, (unsigned char *) "chatcmpl-x", 10),
           LLR_FB_OK, "the provider's id attached");

    rc = llr_fb_score(ring, (unsigned char *) "chatcmpl-x", 10, 700, 2000,
                      &e);
    ok(rc == LLR_FB_OK && e.score == LLR_Q_NO_SCORE && e.d.model == 3
       && e.d.arm == 2 && e.d.policy == LLR_FB_NONE,
       "scored by the provider's id: the decision, no score before");

    rc = llr_fb_score(ring, (unsigned char *) "r1", 2, -5000, 3000, &e);
    ok(rc == LLR_FB_OK && e.score == 700 && e.score_time == 2000,
       "a second score by our id: the first one given back to replace");

    rc = llr_fb_find(ring, (unsigned char *) "r1", 2, 3000, &e);
    ok(rc == LLR_FB_OK && e.score == -1000, "scores are clamped");

    rc = llr_fb_score(ring, (unsigned char *) "r1", 2, 1, 1000 + 60001, &e);
    is_int(rc, LLR_FB_EXPIRED, "expired after ttl");

    /* ids longer than kept: the rest still tells them apart */
    memset(big, 'a', sizeof(big));
    llr_fb_insert(ring, (unsigned char *) big, 150, NULL, 0, &d, 5000);
    big[149] = 'b';
    is_int(llr_fb_find(ring, (unsigned char *) big, 150, 5000, &e),
           LLR_FB_NOT_FOUND, "a long id differing after 64 bytes: unknown");
    big[149] = 'a';
    is_int(llr_fb_find(ring, (unsigned char *) big, 150, 5000, &e),
           LLR_FB_OK, "the long id itself: found");
    is_int(llr_fb_find(ring, (unsigned char *) big, 149, 5000, &e),
           LLR_FB_NOT_FOUND, "a prefix of it: unknown");
    is_int(llr_fb_find(ring, (unsigned char *) "", 0, 5000, &e),
           LLR_FB_NOT_FOUND, "an empty id: unknown");

    /* copied into a smaller ring: the newest one stays */
    mem2 = malloc(llr_fb_size(1));
    small = llr_fb_init(mem2, llr_fb_size(1), 1, 60000);
    llr_fb_copy(small, ring);
    ok(llr_fb_find(small, (unsigned char *) big, 150, 5000, &e) == LLR_FB_OK
       && llr_fb_find(small, (unsigned char *) "r1", 2, 5000, &e)
          == LLR_FB_NOT_FOUND,
       "copied into a ring of 1: the newest decision");
    free(mem2);

    mem2 = malloc(llr_fb_size(1000));
    small = llr_fb_init(mem2, llr_fb_size(1000), 1000, 60000);
    llr_fb_copy(small, ring);
    ok(llr_fb_find(small, (unsigned char *) "chatcmpl-x", 10, 5000, &e)
       == LLR_FB_OK && e.score == -1000 && e.d.task == 4,
       "copied into a larger ring: every decision, ids and scores");
    free(mem2);

    /* as the state file does: llr_fb_next() oldest first, through bytes,
       llr_fb_restore() into a new ring with other indices */
    {
        int               n;
        uint64_t          pos;
        unsigned char     file[4 * sizeof(llr_fb_entry_t)], *p;
        llr_fb_entry_t    x;

        n = 0;
        pos = 0;
        p = file;

        while (llr_fb_next(ring, &pos, &x) == LLR_FB_OK && n < 4) {
            memcpy(p, &x, sizeof(x));
            p += sizeof(x);
            n++;
        }

        is_int(n, 2, "llr_fb_next(): the ring's two decisions");

        mem2 = malloc(llr_fb_size(100));
        small = llr_fb_init(mem2, llr_fb_size(100), 100, 60000);

        for (p = file; p < file + n * sizeof(llr_fb_entry_t);
             p += sizeof(x))
        {
            memcpy(&x, p, sizeof(x));
            x.d.model = 7;
            (void) llr_fb_restore(small, &x);
        }

        ok(llr_fb_find(small, (unsigned char *) "chatcmpl-x", 10, 5000, &e)
           == LLR_FB_OK && e.score == -1000 && e.score_time == 3000
           && e.time == 1000 && e.d.model == 7 && e.d.task == 4,
           "restored: the provider's id, its score, times, new indices");
        ok(llr_fb_find(small, (unsigned char *) big, 150, 5000, &e)
           == LLR_FB_OK, "restored: a long id");
        is_int(llr_fb_score(small, (unsigned char *) "r1", 2, 1, 61001, &e),
               LLR_FB_EXPIRED, "restored: expired at the same time");
        free(mem2);
    }

    /* evicted: its handle is gone */
    for (rc = 0; rc < 100; rc++) {
        snprintf(big, sizeof(big), "n%d", rc);
        llr_fb_insert(ring, (unsigned char *) big, strlen(big), NULL, 0, &d,
                      6000);
    }

    is_int(llr_fb_attach(ring, h, (unsigned char *) "x", 1), LLR_FB_GONE,
           "attach to a replaced decision: gone");
    is_int(llr_fb_find(ring, (unsigned char *) "r1", 2, 6000, &e),
           LLR_FB_NOT_FOUND, "a replaced decision: unknown");
    is_int(llr_fb_find(ring, (unsigned char *) "chatcmpl-x", 10, 6000, &e),
           LLR_FB_NOT_FOUND, "and its provider's id too");

    free(mem);

    /* against the model */
    is_int(test_random(1, 3000, 1, 0), 0, "capacity 1: as the model");
    is_int(test_random(3, 3000, 2, 1), 0, "capacity 3: as the model");
    is_int(test_random(16, 4000, 3, 1), 0, "capacity 16: as the model");
    is_int(test_random(100, 4000, 4, 0), 0, "capacity 100: as the model");
    is_int(test_random(1000, 4000, 5, 1), 0, "capacity 1000: as the model");

    done_testing();
}
