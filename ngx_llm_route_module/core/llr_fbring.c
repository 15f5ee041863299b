/*
 * ngx_llm_route_module: the ring of recent decisions (see llr_fbring.h).
 */

#include <string.h>

#include "llr_fbring.h"
#include "llr_qstat.h"


#define llr_fb_align(n)  (((n) + 7) & ~(size_t) 7)


static size_t
llr_fb_slots(uint32_t capacity)
{
    size_t  slots;

    /* at most half full */
    slots = 2;

    while (slots < (size_t) capacity * 2) {
        slots <<= 1;
    }

    return slots;
}


size_t
llr_fb_size(uint32_t capacity)
{
    if (capacity == 0) {
        capacity = 1;
    }

    return llr_fb_align(sizeof(llr_fb_ring_t))
           + (size_t) capacity * sizeof(llr_fb_entry_t)
           + 2 * llr_fb_slots(capacity) * sizeof(uint32_t);
}


static llr_fb_entry_t *
llr_fb_entries(const llr_fb_ring_t *ring)
{
    return (llr_fb_entry_t *) ((unsigned char *) ring + ring->entries);
}


static uint32_t *
llr_fb_table(const llr_fb_ring_t *ring, int rid)
{
    return (uint32_t *) ((unsigned char *) ring
                         + (rid ? ring->by_rid : ring->by_id));
}


llr_fb_ring_t *
llr_fb_init(void *mem, size_t size, uint32_t capacity, uint64_t ttl_ms)
{
    llr_fb_ring_t  *ring;

    if (capacity == 0 || size < llr_fb_size(capacity)) {
        return NULL;
    }

    memset(mem, 0, llr_fb_size(capacity));

    ring = mem;
    ring->capacity = capacity;
    ring->slots = (uint32_t) llr_fb_slots(capacity);
    ring->ttl_ms = ttl_ms;
    ring->entries = llr_fb_align(sizeof(llr_fb_ring_t));
    ring->by_id = ring->entries + (uint64_t) capacity * sizeof(llr_fb_entry_t);
    ring->by_rid = ring->by_id + (uint64_t) ring->slots * sizeof(uint32_t);

    return ring;
}


static uint64_t
llr_fb_hash(const unsigned char *p, size_t len)
{
    return llr_q_fmix64(llr_q_fnv1a64(LLR_Q_FNV_INIT, p, len));
}


static void
llr_fb_set_id(llr_fb_id_t *id, const unsigned char *p, size_t len,
    uint64_t hash)
{
    id->hash = hash;
    id->len = (uint32_t) (len < UINT32_MAX ? len : UINT32_MAX);
    memset(id->data, 0, LLR_FB_ID_LEN);
    memcpy(id->data, p, len < LLR_FB_ID_LEN ? len : LLR_FB_ID_LEN);
}


static int
llr_fb_same(const llr_fb_id_t *id, const unsigned char *p, size_t len,
    uint64_t hash)
{
    return id->hash == hash && id->len == len
           && memcmp(id->data, p, len < LLR_FB_ID_LEN ? len : LLR_FB_ID_LEN)
              == 0;
}


static const llr_fb_id_t *
llr_fb_key(const llr_fb_entry_t *e, int rid)
{
    return rid ? &e->rid : &e->id;
}


/* the table's slot of an entry with this key, or of the empty slot */
static uint32_t
llr_fb_probe(const llr_fb_ring_t *ring, int rid, const unsigned char *p,
    size_t len, uint64_t hash)
{
    uint32_t         pos, mask, v, *t;
    llr_fb_entry_t  *ent;

    t = llr_fb_table(ring, rid);
    ent = llr_fb_entries(ring);
    mask = ring->slots - 1;

    for (pos = (uint32_t) hash & mask; ; pos = (pos + 1) & mask) {
        v = t[pos];

        if (v == 0 || llr_fb_same(llr_fb_key(&ent[v - 1], rid), p, len, hash))
        {
            return pos;
        }
    }
}


/* take entry idx out of a table (its key must be there) */
static void
llr_fb_unlink(llr_fb_ring_t *ring, int rid, uint32_t idx)
{
    uint32_t         i, j, k, mask, *t;
    llr_fb_entry_t  *ent;

    t = llr_fb_table(ring, rid);
    ent = llr_fb_entries(ring);
    mask = ring->slots - 1;

    for (i = (uint32_t) llr_fb_key(&ent[idx], rid)->hash & mask; ;
         i = (i + 1) & mask)
    {
        if (t[i] == 0) {
            /* not there: another entry took its key over */
            return;
        }

        if (t[i] == idx + 1) {
            break;
        }
    }

    /* backward shift: move up what probed past the hole */

    for (j = (i + 1) & mask; t[j]; j = (j + 1) & mask) {
        k = (uint32_t) llr_fb_key(&ent[t[j] - 1], rid)->hash & mask;

        /* j's home k cyclically in (i, j]: it stays */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) {
            continue;
        }

        t[i] = t[j];
        i = j;
    }

    t[i] = 0;
}


static void
llr_fb_link(llr_fb_ring_t *ring, int rid, uint32_t idx)
{
    const llr_fb_id_t  *key;

    key = llr_fb_key(&llr_fb_entries(ring)[idx], rid);

    /* a key already there: it finds this entry from now on */
    llr_fb_table(ring, rid)[llr_fb_probe(ring, rid, key->data,
                                         key->len, key->hash)] = idx + 1;
}


/* a decision with these keys (rid: none if its len is 0) */
static uint64_t
llr_fb_put(llr_fb_ring_t *ring, const llr_fb_id_t *id, const llr_fb_id_t *rid,
    const llr_fb_decision_t *d, uint64_t now_ms)
{
    uint32_t         idx;
    llr_fb_entry_t  *e;

    idx = (uint32_t) (ring->inserted % ring->capacity);
    e = &llr_fb_entries(ring)[idx];

    if (e->seq) {
        /* the oldest decision goes */
        llr_fb_unlink(ring, 0, idx);

        if (e->rid.len) {
            llr_fb_unlink(ring, 1, idx);
        }
    }

    memset(e, 0, sizeof(llr_fb_entry_t));
    e->seq = ++ring->inserted;
    e->time = now_ms;
    e->score = LLR_Q_NO_SCORE;
    e->d = *d;
    e->id = *id;
    e->rid = *rid;

    llr_fb_link(ring, 0, idx);

    if (rid->len) {
        llr_fb_link(ring, 1, idx);
    }

    return e->seq;
}


uint64_t
llr_fb_insert(llr_fb_ring_t *ring, const unsigned char *id, size_t id_len,
    const unsigned char *rid, size_t rid_len, const llr_fb_decision_t *d,
    uint64_t now_ms)
{
    llr_fb_id_t  k, r;

    llr_fb_set_id(&k, id, id_len, llr_fb_hash(id, id_len));
    memset(&r, 0, sizeof(llr_fb_id_t));

    if (rid_len) {
        llr_fb_set_id(&r, rid, rid_len, llr_fb_hash(rid, rid_len));
    }

    return llr_fb_put(ring, &k, &r, d, now_ms);
}


int
llr_fb_attach(llr_fb_ring_t *ring, uint64_t handle, const unsigned char *rid,
    size_t rid_len)
{
    uint32_t         idx;
    llr_fb_entry_t  *e;

    if (handle == 0) {
        return LLR_FB_GONE;
    }

    idx = (uint32_t) ((handle - 1) % ring->capacity);
    e = &llr_fb_entries(ring)[idx];

    if (e->seq != handle) {
        return LLR_FB_GONE;
    }

    if (e->rid.len) {
        llr_fb_unlink(ring, 1, idx);
        memset(&e->rid, 0, sizeof(llr_fb_id_t));
    }

    if (rid_len) {
        llr_fb_set_id(&e->rid, rid, rid_len, llr_fb_hash(rid, rid_len));
        llr_fb_link(ring, 1, idx);
    }

    return LLR_FB_OK;
}


/* the entry with this id, ours first, then the provider's */
static llr_fb_entry_t *
llr_fb_lookup(llr_fb_ring_t *ring, const unsigned char *id, size_t len)
{
    int        rid;
    uint32_t   pos, v;
    uint64_t   hash;

    if (len == 0) {
        return NULL;
    }

    hash = llr_fb_hash(id, len);

    for (rid = 0; rid < 2; rid++) {
        pos = llr_fb_probe(ring, rid, id, len, hash);
        v = llr_fb_table(ring, rid)[pos];

        if (v) {
            return &llr_fb_entries(ring)[v - 1];
        }
    }

    return NULL;
}


/* the live entry with this id, or why not */
static int
llr_fb_live(llr_fb_ring_t *ring, const unsigned char *id, size_t len,
    uint64_t now_ms, llr_fb_entry_t **e)
{
    *e = llr_fb_lookup(ring, id, len);

    if (*e == NULL) {
        return LLR_FB_NOT_FOUND;
    }

    if (now_ms > (*e)->time && now_ms - (*e)->time > ring->ttl_ms) {
        return LLR_FB_EXPIRED;
    }

    return LLR_FB_OK;
}


int
llr_fb_find(llr_fb_ring_t *ring, const unsigned char *id, size_t len,
    uint64_t now_ms, llr_fb_entry_t *e)
{
    int              rc;
    llr_fb_entry_t  *found;

    rc = llr_fb_live(ring, id, len, now_ms, &found);

    if (rc == LLR_FB_OK) {
        *e = *found;
    }

    return rc;
}


int
llr_fb_score(llr_fb_ring_t *ring, const unsigned char *id, size_t len,
    int32_t score, uint64_t now_ms, llr_fb_entry_t *e)
{
    int              rc;
    llr_fb_entry_t  *found;

    rc = llr_fb_live(ring, id, len, now_ms, &found);

    if (rc != LLR_FB_OK) {
        return rc;
    }

    *e = *found;

    found->score = llr_q_score(score);
    found->score_time = now_ms;

    return LLR_FB_OK;
}


int
llr_fb_next(const llr_fb_ring_t *ring, uint64_t *pos, llr_fb_entry_t *e)
{
    uint64_t              seq, first;
    const llr_fb_entry_t *x;

    first = (ring->inserted > ring->capacity)
            ? ring->inserted - ring->capacity + 1 : 1;

    for (seq = (*pos >= first) ? *pos + 1 : first; seq <= ring->inserted;
         seq++)
    {
        x = &llr_fb_entries(ring)[(seq - 1) % ring->capacity];

        if (x->seq == seq) {
            *e = *x;
            *pos = seq;
            return LLR_FB_OK;
        }
    }

    *pos = ring->inserted;

    return LLR_FB_NOT_FOUND;
}


uint64_t
llr_fb_restore(llr_fb_ring_t *ring, const llr_fb_entry_t *e)
{
    uint64_t         h;
    llr_fb_entry_t  *d;

    h = llr_fb_put(ring, &e->id, &e->rid, &e->d, e->time);
    d = &llr_fb_entries(ring)[(h - 1) % ring->capacity];
    d->score = e->score;
    d->score_time = e->score_time;

    return h;
}


void
llr_fb_copy(llr_fb_ring_t *dst, const llr_fb_ring_t *src)
{
    uint64_t        pos;
    llr_fb_entry_t  e;

    /* the newest dst->capacity decisions at most */
    pos = (src->inserted > dst->capacity) ? src->inserted - dst->capacity
                                          : 0;

    while (llr_fb_next(src, &pos, &e) == LLR_FB_OK) {
        (void) llr_fb_restore(dst, &e);
    }
}
