/*
 * ngx_llm_route_module: the fleet protocol, budgets, rate limits and
 * provider cooldowns shared by several nginx instances through Redis.
 *
 * Plain C, no nginx headers, no Redis client: this file decides what an
 * instance sends, how it reads the answer and what it admits; the glue
 * (ngx_http_llm_route_redis.c) moves the bytes.  docs/fleet.md explains
 * the protocol and derives the overspend bound.
 *
 * Counters.  Every shared quantity (a budget's spend, a rate window's
 * requests and tokens) has an llr_fleet_counter_t in the instance's
 * shared memory, beside its local state:
 *
 *   unsynced   what this instance added since its last batch, per period
 *              (or window) start: at most two starts, the current one and
 *              the one before;
 *   pending    what the batch in flight (sequence number seq) carries;
 *   view       what Redis held at the last sync: the fleet's total
 *              (including what this instance had synced).
 *
 * The fleet's usage is view + pending + unsynced.  Admission uses it with
 * the arithmetic of llr_limits.h, so a single instance and a fleet admit
 * by the same rule.
 *
 * Sync.  Once per interval one worker of an instance builds a batch (one
 * EVALSHA of LLR_FLEET_SCRIPT): the pending deltas of every counter, the
 * instance's reservations (absolute values, refreshed each time), its
 * provider cooldowns, and reads of the fleet's totals.  The script runs
 * atomically in Redis: it applies the deltas only if seq is newer than
 * the last seq it applied for this instance (a batch resent after a lost
 * answer is not counted twice), refreshes the reservations, and answers
 * with the totals.  Until a batch is answered it is resent as it was (same
 * seq, same deltas, nothing new frozen into it), so no local accounting is
 * lost or counted twice across a timeout, a Redis restart or a worker
 * killed in the middle.
 *
 * Keys (P: the prefix, "llm_route:" by default):
 *
 *   P b:NAME:START   hash: "s" spent (pico-USD, HINCRBY), "r:INSTANCE"
 *                    "AMOUNT:EXPIRES_MS" reservations; expires a while
 *                    after the period ends (never for "total")
 *   P w:NAME:START   hash: "q" requests, "t" tokens of the rate window
 *                    starting at START ms; expires after three windows
 *   P c:PROVIDER     the epoch ms its cooldown ends; expires then
 *   P i:INSTANCE     the last seq applied for the instance; one day
 */

#ifndef _LLR_FLEET_H_INCLUDED_
#define _LLR_FLEET_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_req.h"
#include "llr_limits.h"


#define LLR_FLEET_PROTOCOL      1
#define LLR_FLEET_NONE          INT64_MIN   /* an empty delta slot */
#define LLR_FLEET_INSTANCE_LEN  16          /* hex digits */
#define LLR_FLEET_SHA_LEN       40
#define LLR_FLEET_ENTRY_ARGS    4


/* the Lua script of a sync (EVAL / SCRIPT LOAD) */
extern const char  llr_fleet_script[];


/* a Redis reply (RESP2); the types have hiredis's values */
typedef enum {
    LLR_FLEET_R_STRING = 1,
    LLR_FLEET_R_ARRAY = 2,
    LLR_FLEET_R_INTEGER = 3,
    LLR_FLEET_R_NIL = 4,
    LLR_FLEET_R_STATUS = 5,
    LLR_FLEET_R_ERROR = 6
} llr_fleet_reply_type_e;

typedef struct llr_fleet_reply_s  llr_fleet_reply_t;

struct llr_fleet_reply_s {
    int                  type;
    long long            integer;
    size_t               len;
    const char          *str;
    size_t               elements;
    llr_fleet_reply_t  **element;
};


/* what a reply parser found */
typedef enum {
    LLR_FLEET_OK = 0,
    LLR_FLEET_NOSCRIPT,      /* the script is not loaded: EVAL it */
    LLR_FLEET_EREPLY,        /* an error reply (its text in *err) */
    LLR_FLEET_EBAD           /* a reply of the wrong shape */
} llr_fleet_rc_e;


typedef struct {
    int64_t              start;      /* LLR_FLEET_NONE: empty */
    int64_t              v[2];
} llr_fleet_delta_t;

typedef struct {
    llr_fleet_delta_t    unsynced[2];
    llr_fleet_delta_t    pending[2];
    int64_t              view_start; /* LLR_FLEET_NONE: no view yet */
    int64_t              view[2];    /* budget: spent, reserved by the
                                        others; window: requests, tokens */
    int64_t              view_prev[2]; /* window: of the window before */
    uint64_t             dropped;    /* deltas older than two starts */
} llr_fleet_counter_t;


/* the instance's sequence of batches (in its shared memory) */
typedef struct {
    uint64_t             seq;        /* the last seq sent with deltas */
    unsigned             unacked:1;  /* ...and not answered yet */
} llr_fleet_seq_t;


typedef enum {
    LLR_FLEET_BUDGET = 'b',
    LLR_FLEET_WINDOW = 'w',
    LLR_FLEET_COOLDOWN = 'c'
} llr_fleet_kind_e;

#define LLR_FLEET_ROLE_CUR   1       /* the view's current start */
#define LLR_FLEET_ROLE_PREV  2       /* the window before it */

typedef struct {
    int                  kind;       /* llr_fleet_kind_e */
    int                  role;
    int64_t              start;      /* period s, window ms, or 0 */
    void                *data;       /* the caller's */
    int64_t              sent;       /* budget: the reservation sent;
                                        cooldown: the local end */
    int64_t              out[2];     /* the answer: budget spent and
                                        every instance's reservations;
                                        window requests and tokens;
                                        cooldown end (epoch ms, 0) */
    char                *key;
    size_t               key_len;
    char                 args[LLR_FLEET_ENTRY_ARGS][24];
} llr_fleet_entry_t;


typedef struct {
    llr_alloc_t          alloc;
    const char          *prefix;
    size_t               prefix_len;
    char                 instance[LLR_FLEET_INSTANCE_LEN + 1];
    uint64_t             seq;
    unsigned             freeze:1;   /* new deltas may join (not a resend) */
    unsigned             deltas:1;   /* some counter has pending deltas */
    unsigned             applied:1;  /* the answer: they were applied now */
    int64_t              now_ms;
    int64_t              reserve_ms; /* how long reservations count */

    llr_fleet_entry_t   *entries;
    size_t               nentries;
    size_t               max_entries;

    /* the command, after llr_fleet_batch_command() */
    const char         **argv;
    size_t              *argvlen;
    size_t               argc;
    char                 numkeys[24];
    char                 head[5][24];  /* version, instance, seq, now,
                                          reservations' end */
} llr_fleet_batch_t;


/* "0123456789abcdef" from 64 random bits, NUL-terminated */
void llr_fleet_instance(char out[LLR_FLEET_INSTANCE_LEN + 1], uint64_t r);

/*
 * The reconnection delay after `failures` failed attempts in a row
 * (1, 2, ...): base * 2^(failures-1), at most max, minus up to a quarter
 * of it taken from rnd (jitter, so a fleet does not reconnect at once).
 */
uint64_t llr_fleet_backoff(unsigned failures, uint64_t base, uint64_t max,
    uint32_t rnd);


/* --- counters ---------------------------------------------------------- */

void llr_fleet_counter_init(llr_fleet_counter_t *c);

/*
 * Add (v0, v1) to what is unsynced for `start` (a period start, or a rate
 * window start).  A delta for a third start pushes out the oldest one
 * (it is counted in c->dropped, and 1 is returned): it belongs to a
 * period the fleet no longer admits against.
 */
int llr_fleet_counter_add(llr_fleet_counter_t *c, int64_t start, int64_t v0,
    int64_t v1);

/* the deltas of `start` not yet in Redis (unsynced + pending) */
void llr_fleet_counter_local(const llr_fleet_counter_t *c, int64_t start,
    int64_t v[2]);

/* 1 if something is unsynced or pending */
int llr_fleet_counter_dirty(const llr_fleet_counter_t *c);

/*
 * A budget as the fleet sees it for the period at `start`: spent (Redis'
 * total at the last sync plus this instance's deltas since) and what the
 * other instances had reserved.  Admit with llr_budget_admit(spent,
 * others + own reservations, limit).
 */
uint64_t llr_fleet_budget_spent(const llr_fleet_counter_t *c, int64_t start);
uint64_t llr_fleet_budget_others(const llr_fleet_counter_t *c, int64_t start);

/*
 * The fleet's rate window at now_ms for quantity q (0: requests,
 * 1: tokens): Redis' counts of the current and the previous window at the
 * last sync (moved on if the window has turned since) plus this
 * instance's deltas.  Admit with llr_window_admit() on it, and on success
 * llr_fleet_counter_add(c, w.start, ...) what was admitted.
 */
void llr_fleet_window(const llr_fleet_counter_t *c, int q, int64_t now_ms,
    llr_window_t *w);


/* --- a batch --------------------------------------------------------------- */

/*
 * Start a batch: prefix (not copied, lives as long as the batch),
 * instance, the instance's sequence state, now, how long reservations
 * count (a dead instance's stop counting then), at most max_entries
 * entries.  Returns -1 when out of memory.
 */
int llr_fleet_batch_init(llr_fleet_batch_t *b, const llr_alloc_t *alloc,
    const char *prefix, size_t prefix_len, const char *instance,
    const llr_fleet_seq_t *seq, int64_t now_ms, int64_t reserve_ms,
    size_t max_entries);

/*
 * Add a budget (name, its period, the current period start, what this
 * instance has reserved now), a rate window counter, or a provider's
 * cooldown end (epoch ms, 0: none here).  The counter's unsynced deltas
 * are frozen into pending first, unless the batch is a resend.  Returns
 * the number of entries added (1..3, all with `data`), or 0 when the
 * batch has no room (nothing was frozen then).
 */
size_t llr_fleet_batch_budget(llr_fleet_batch_t *b, const char *name,
    size_t name_len, llr_fleet_counter_t *c, llr_period_e period,
    int64_t start, uint64_t reserved, void *data);
size_t llr_fleet_batch_window(llr_fleet_batch_t *b, const char *name,
    size_t name_len, llr_fleet_counter_t *c, void *data);
size_t llr_fleet_batch_cooldown(llr_fleet_batch_t *b, const char *name,
    size_t name_len, int64_t until_ms, void *data);

/*
 * The command: EVALSHA sha ... (or EVAL script ... when sha is NULL), in
 * b->argv / b->argvlen / b->argc.  Returns -1 when out of memory.
 */
int llr_fleet_batch_command(llr_fleet_batch_t *b, const char *sha);

/*
 * Read the answer of the batch: fills every entry's out[] and
 * b->applied.  On LLR_FLEET_EREPLY *err / *err_len is the error text
 * (in the reply).
 */
llr_fleet_rc_e llr_fleet_batch_reply(llr_fleet_batch_t *b,
    const llr_fleet_reply_t *r, const char **err, size_t *err_len);

/*
 * After the answer: the sequence state moves on (ok: the batch was
 * answered; otherwise it is resent as it was next time).
 */
void llr_fleet_batch_done(const llr_fleet_batch_t *b, llr_fleet_seq_t *seq,
    int ok);

/*
 * Apply an answered batch to one counter: entries e[0..n-1] are those it
 * added for that counter.  Its pending deltas are now in Redis; the view
 * becomes what Redis answered.
 */
void llr_fleet_counter_synced(llr_fleet_counter_t *c,
    const llr_fleet_entry_t *e, size_t n);


/* --- other replies ---------------------------------------------------------- */

/* an integer, or a decimal string, or nil (0) */
int llr_fleet_reply_int(const llr_fleet_reply_t *r, int64_t *v);

/* a status reply "+OK" (AUTH, SELECT) */
llr_fleet_rc_e llr_fleet_reply_ok(const llr_fleet_reply_t *r,
    const char **err, size_t *err_len);

/* SCRIPT LOAD: the script's SHA1, 40 lowercase hex digits + NUL */
llr_fleet_rc_e llr_fleet_reply_sha(const llr_fleet_reply_t *r,
    char sha[LLR_FLEET_SHA_LEN + 1], const char **err, size_t *err_len);


#endif /* _LLR_FLEET_H_INCLUDED_ */
