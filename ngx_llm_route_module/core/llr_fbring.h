/*
 * ngx_llm_route_module: the ring of recent decisions that feedback is
 * attributed to (llm_route_feedback).
 *
 * Plain C, no nginx headers, no allocation, no global state.
 *
 * Every routed answer carries an id (X-LLM-Route-Id); the provider's
 * answer has its own ("chatcmpl-..."): feedback may name either.  The
 * ring keeps the last `capacity` decisions in a block of caller memory
 * (shared memory, the state file as it is: indices, no pointers), each
 * findable by both ids through two open-addressing hash tables (linear
 * probing, deletion by backward shift: no tombstones, so lookups stay
 * short however long the ring runs).  A new decision replaces the
 * oldest; a decision older than ttl_ms answers as unknown (expired).
 *
 * An entry holds what attribution needs and nothing of the request's
 * text: the ids, the caller's indices of the model, task, policy,
 * experiment and arm (the zone's slots, which keep their numbers across
 * reloads), the time of the decision, and the score given, if any, with
 * its time (a second score replaces the first: the caller takes the
 * old one out of its statistics, llr_ab_feedback(), llr_drift_feedback()).
 *
 * Ids are kept up to LLR_FB_ID_LEN bytes; a longer id is kept as its
 * first LLR_FB_ID_LEN bytes, its length and its 64-bit hash, and
 * matches an id with all three the same.
 *
 * Concurrency: not by itself.  Every call runs under the caller's lock
 * (in nginx the zone's slab mutex, which nginx releases for a worker
 * that dies holding it); each call is O(1) on average, a few hundred
 * instructions.
 *
 * For the glue: llr_fb_insert() when the decision is made (with our id;
 * the returned handle kept in the request context), llr_fb_attach()
 * when the answer gives the provider's id (the log phase), and in the
 * feedback handler llr_fb_score(): a found entry's decision says which
 * arm (llr_ab_feedback()) and which model x task series
 * (llr_drift_feedback()) the score goes to, and its old score, if any,
 * what to take out of them.
 */

#ifndef _LLR_FBRING_H_INCLUDED_
#define _LLR_FBRING_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


#define LLR_FB_ID_LEN        64
#define LLR_FB_NONE          UINT32_MAX     /* no policy, no experiment */

/* results */
#define LLR_FB_OK            0
#define LLR_FB_NOT_FOUND     -1
#define LLR_FB_EXPIRED       -2
#define LLR_FB_GONE          -3             /* llr_fb_attach(): replaced */


/* what a decision was */
typedef struct {
    uint32_t        model;
    uint32_t        task;
    uint32_t        policy;
    uint32_t        experiment;
    uint32_t        arm;
} llr_fb_decision_t;


typedef struct {
    uint64_t        hash;
    uint32_t        len;                    /* the whole id's */
    unsigned char   data[LLR_FB_ID_LEN];
} llr_fb_id_t;


typedef struct {
    uint64_t            seq;                /* decisions before it + 1;
                                               0: a free entry */
    uint64_t            time;               /* of the decision, ms */
    uint64_t            score_time;         /* of the score, ms */
    int32_t             score;              /* thousandths, or
                                               LLR_Q_NO_SCORE (INT32_MIN) */
    llr_fb_decision_t   d;
    llr_fb_id_t         id;
    llr_fb_id_t         rid;                /* the provider's id */
} llr_fb_entry_t;


/* at the start of the block, the entries and the tables after it */
typedef struct {
    uint32_t        capacity;               /* entries */
    uint32_t        slots;                  /* per table, a power of 2 */
    uint64_t        ttl_ms;
    uint64_t        inserted;               /* decisions so far */
    uint64_t        entries;                /* byte offsets in the block */
    uint64_t        by_id;
    uint64_t        by_rid;
} llr_fb_ring_t;


/* the bytes of a ring of `capacity` decisions (capacity >= 1) */
size_t llr_fb_size(uint32_t capacity);

/*
 * Make an empty ring in mem (size bytes, 8-aligned, at least
 * llr_fb_size(capacity)); returns it, or NULL if it does not fit
 */
llr_fb_ring_t *llr_fb_init(void *mem, size_t size, uint32_t capacity,
    uint64_t ttl_ms);

/*
 * A new decision at now_ms (replacing the oldest when the ring is
 * full); rid may be empty (attach it later).  An id already in the ring
 * now finds the new decision.  Returns its handle, for llr_fb_attach().
 */
uint64_t llr_fb_insert(llr_fb_ring_t *ring, const unsigned char *id,
    size_t id_len, const unsigned char *rid, size_t rid_len,
    const llr_fb_decision_t *d, uint64_t now_ms);

/*
 * The provider's id of a decision, known when its answer is: LLR_FB_OK,
 * or LLR_FB_GONE if the ring has replaced the decision since
 */
int llr_fb_attach(llr_fb_ring_t *ring, uint64_t handle,
    const unsigned char *rid, size_t rid_len);

/*
 * A score (thousandths, -1000 .. 1000) for the decision with this id
 * (ours or the provider's), at now_ms.  LLR_FB_OK with *e a copy of the
 * entry as it was before (its d, and its score: LLR_Q_NO_SCORE if none,
 * with score_time); LLR_FB_NOT_FOUND or LLR_FB_EXPIRED.
 */
int llr_fb_score(llr_fb_ring_t *ring, const unsigned char *id, size_t len,
    int32_t score, uint64_t now_ms, llr_fb_entry_t *e);

/* a copy of the entry with this id, without scoring: as above */
int llr_fb_find(llr_fb_ring_t *ring, const unsigned char *id, size_t len,
    uint64_t now_ms, llr_fb_entry_t *e);

/*
 * The decisions of the ring oldest first (for the state file): the one
 * after decision *pos (0: from the oldest) into *e and *pos set to it,
 * LLR_FB_OK; LLR_FB_NOT_FOUND after the newest
 */
int llr_fb_next(const llr_fb_ring_t *ring, uint64_t *pos, llr_fb_entry_t *e);

/*
 * An entry of llr_fb_next() (from another ring, or a state file) as the
 * newest decision: its ids, decision, time and score as they were; its
 * d is the caller's, who maps its indices first.  Returns its handle.
 */
uint64_t llr_fb_restore(llr_fb_ring_t *ring, const llr_fb_entry_t *e);

/*
 * The live decisions of src, oldest first, into dst (another
 * capacity after a reload): as many of the newest as fit
 */
void llr_fb_copy(llr_fb_ring_t *dst, const llr_fb_ring_t *src);


#endif /* _LLR_FBRING_H_INCLUDED_ */
