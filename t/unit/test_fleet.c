/*
 * Unit tests of core/llr_fleet: counters, the batch command, the reply
 * parsers, the fleet's view for admission.  t/unit/test_fleet_redis.c
 * runs the script itself against a real redis-server.
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "track_alloc.h"
#include "llr_fleet.h"


#define W  ((int64_t) LLR_RATE_WINDOW_MS)


/* the batch's allocations are never freed one by one (a pool in the
 * glue): track_free_all() at the end */
static llr_alloc_t  alloc = { track_malloc, track_realloc, track_free, NULL };


static llr_fleet_reply_t *
r_int(long long v)
{
    llr_fleet_reply_t  *r = track_zalloc(sizeof(*r));

    r->type = LLR_FLEET_R_INTEGER;
    r->integer = v;
    return r;
}


static llr_fleet_reply_t *
r_str(int type, const char *s)
{
    llr_fleet_reply_t  *r = track_zalloc(sizeof(*r));

    r->type = type;
    r->str = s;
    r->len = strlen(s);
    return r;
}


static llr_fleet_reply_t *
r_arr(size_t n, llr_fleet_reply_t **el)
{
    llr_fleet_reply_t  *r = track_zalloc(sizeof(*r));

    r->type = LLR_FLEET_R_ARRAY;
    r->elements = n;
    r->element = el;
    return r;
}


static int
argv_is(llr_fleet_batch_t *b, size_t i, const char *s)
{
    return i < b->argc && b->argvlen[i] == strlen(s)
           && memcmp(b->argv[i], s, b->argvlen[i]) == 0;
}


static void
test_basics(void)
{
    char     id[LLR_FLEET_INSTANCE_LEN + 1];
    int64_t  v;

    llr_fleet_instance(id, 0x0123456789abcdefULL);
    is_str(id, "0123456789abcdef", "instance id: 16 hex digits");
    llr_fleet_instance(id, 0);
    is_str(id, "0000000000000000", "instance id of 0");

    is_int(llr_fleet_backoff(0, 100, 5000, 0), 0, "backoff: none before a "
           "failure");
    is_int(llr_fleet_backoff(1, 100, 5000, 0), 100, "backoff 1: base");
    is_int(llr_fleet_backoff(3, 100, 5000, 0), 400, "backoff 3: base * 4");
    is_int(llr_fleet_backoff(10, 100, 5000, 0), 5000, "backoff: capped");
    is_int(llr_fleet_backoff(4000000000U, 100, 5000, 0), 5000,
           "backoff: capped after many failures, no overflow");
    is_int(llr_fleet_backoff(10, 100, 5000, 1000), 3750,
           "backoff: jitter takes at most a quarter");
    ok(llr_fleet_backoff(70, 1, UINT64_MAX, 0) == UINT64_MAX,
       "backoff: saturates at UINT64_MAX");

    ok(llr_fleet_reply_int(r_int(-5), &v) == 0 && v == -5, "int: integer");
    ok(llr_fleet_reply_int(r_str(LLR_FLEET_R_STRING, "1234567890123"), &v)
       == 0 && v == 1234567890123LL, "int: decimal string");
    ok(llr_fleet_reply_int(r_str(LLR_FLEET_R_STRING,
                                 "9223372036854775807"), &v) == 0
       && v == INT64_MAX, "int: INT64_MAX");
    ok(llr_fleet_reply_int(r_str(LLR_FLEET_R_STRING,
                                 "-9223372036854775808"), &v) == 0
       && v == INT64_MIN, "int: INT64_MIN");
    ok(llr_fleet_reply_int(r_str(LLR_FLEET_R_STRING,
                                 "9223372036854775808"), &v) != 0,
       "int: overflow refused");
    ok(llr_fleet_reply_int(r_str(LLR_FLEET_R_STRING, "-"), &v) != 0,
       "int: a lone minus refused");
    ok(llr_fleet_reply_int(r_str(LLR_FLEET_R_STRING, ""), &v) != 0,
       "int: empty refused");
    ok(llr_fleet_reply_int(r_str(LLR_FLEET_R_STRING, "1e3"), &v) != 0,
       "int: 1e3 refused");
    ok(llr_fleet_reply_int(r_str(LLR_FLEET_R_STRING, "12 "), &v) != 0,
       "int: trailing space refused");
    ok(llr_fleet_reply_int(r_str(LLR_FLEET_R_ERROR, "ERR x"), &v) != 0,
       "int: an error reply refused");
    ok(llr_fleet_reply_int(r_arr(0, NULL), &v) != 0,
       "int: an array refused");
    {
        llr_fleet_reply_t  nil = { LLR_FLEET_R_NIL, 0, 0, NULL, 0, NULL };
        ok(llr_fleet_reply_int(&nil, &v) == 0 && v == 0, "int: nil is 0");
    }
}


static void
test_replies(void)
{
    char         sha[LLR_FLEET_SHA_LEN + 1];
    const char  *err;
    size_t       len;

    is_int(llr_fleet_reply_ok(r_str(LLR_FLEET_R_STATUS, "OK"), &err, &len),
           LLR_FLEET_OK, "+OK");
    is_int(llr_fleet_reply_ok(r_str(LLR_FLEET_R_ERROR,
                                    "WRONGPASS invalid"), &err, &len),
           LLR_FLEET_EREPLY, "-WRONGPASS: an error reply");
    ok(len == 17 && memcmp(err, "WRONGPASS", 9) == 0, "its text is given");
    is_int(llr_fleet_reply_ok(r_str(LLR_FLEET_R_STATUS, "QUEUED"), &err,
                              &len), LLR_FLEET_EBAD, "+QUEUED is not OK");
    is_int(llr_fleet_reply_ok(r_str(LLR_FLEET_R_STRING, "OK"), &err, &len),
           LLR_FLEET_EBAD, "a bulk OK is not a status");
    is_int(llr_fleet_reply_ok(NULL, &err, &len), LLR_FLEET_EBAD,
           "no reply (disconnected)");

    is_int(llr_fleet_reply_sha(r_str(LLR_FLEET_R_STRING,
               "0123456789ABCDEF0123456789abcdef01234567"), sha, &err, &len),
           LLR_FLEET_OK, "SCRIPT LOAD: a sha");
    is_str(sha, "0123456789abcdef0123456789abcdef01234567",
           "the sha in lowercase");
    is_int(llr_fleet_reply_sha(r_str(LLR_FLEET_R_STRING,
               "0123456789abcdef0123456789abcdef0123456"), sha, &err, &len),
           LLR_FLEET_EBAD, "39 digits refused");
    is_int(llr_fleet_reply_sha(r_str(LLR_FLEET_R_STRING,
               "0123456789abcdef0123456789abcdef0123456g"), sha, &err, &len),
           LLR_FLEET_EBAD, "a non-hex digit refused");
    is_int(llr_fleet_reply_sha(r_str(LLR_FLEET_R_ERROR, "NOPERM"), sha,
                               &err, &len),
           LLR_FLEET_EREPLY, "SCRIPT LOAD refused: an error");
}


static void
test_counter(void)
{
    llr_fleet_counter_t  c;
    int64_t              v[2];

    llr_fleet_counter_init(&c);
    ok(!llr_fleet_counter_dirty(&c), "a new counter is clean");
    is_int(llr_fleet_budget_spent(&c, 100), 0, "nothing spent");

    is_int(llr_fleet_counter_add(&c, 100, 5, 0), 0, "add to period 100");
    is_int(llr_fleet_counter_add(&c, 100, 7, 1), 0, "again");
    is_int(llr_fleet_counter_add(&c, 200, 3, 0), 0, "period 200");
    llr_fleet_counter_local(&c, 100, v);
    ok(v[0] == 12 && v[1] == 1, "period 100: 12, 1");
    is_int(llr_fleet_budget_spent(&c, 200), 3, "period 200: 3 spent");
    ok(llr_fleet_counter_dirty(&c), "dirty");

    is_int(llr_fleet_counter_add(&c, 300, 1, 0), 1,
           "a third period drops the oldest");
    is_int(c.dropped, 1, "counted as dropped");
    is_int(llr_fleet_budget_spent(&c, 100), 0, "period 100 is gone");
    is_int(llr_fleet_budget_spent(&c, 300), 1, "period 300 is kept");
    is_int(llr_fleet_counter_add(&c, 50, 1, 0), 1,
           "older than both: dropped itself");
    is_int(llr_fleet_budget_spent(&c, 200) + llr_fleet_budget_spent(&c, 300),
           4, "the kept ones are unchanged");
}


static llr_fleet_reply_t **
els(size_t n)
{
    return track_zalloc(n * sizeof(llr_fleet_reply_t *));
}


static void
test_batch(void)
{
    llr_fleet_counter_t  c, rw;
    llr_fleet_batch_t    b;
    llr_fleet_seq_t      seq = { 0, 0 };
    llr_fleet_reply_t  **el, *r;
    llr_window_t         w;
    const char          *err;
    size_t               n, len, i;
    int64_t              day, now;
    static const char    name[] = "team:a\0b";   /* any byte */

    day = 1767225600;            /* 2026-01-01 00:00:00 UTC */
    now = (day + 3600) * 1000;   /* 01:00 */

    llr_fleet_counter_init(&c);
    llr_fleet_counter_add(&c, day, 2000, 0);
    llr_fleet_counter_add(&c, day - 86400, 500, 0);   /* yesterday */

    ok(llr_fleet_batch_init(&b, &alloc, "llm_route:", 10,
                            "00000000000000aa", &seq, now, 2000, 16) == 0,
       "batch init");
    is_int(b.seq, 1, "the first batch has seq 1");

    n = llr_fleet_batch_budget(&b, name, sizeof(name) - 1, &c,
                               LLR_PERIOD_DAY, day, 300, (void *) 1);
    is_int(n, 2, "a budget with yesterday's delta: two entries");
    ok(c.unsynced[0].start == LLR_FLEET_NONE
       && c.unsynced[1].start == LLR_FLEET_NONE, "the deltas are frozen");
    is_int(llr_fleet_budget_spent(&c, day), 2000,
           "frozen deltas still count locally");

    llr_fleet_counter_add(&c, day, 10, 0);     /* after the freeze */

    llr_fleet_counter_init(&rw);
    llr_fleet_counter_add(&rw, now - now % W, 1, 100);
    is_int(llr_fleet_batch_window(&b, "k/rpm=60", 8, &rw, (void *) 2), 2,
           "a window: the current one and the one before");
    is_int(llr_fleet_batch_cooldown(&b, "openai", 6, now + 5000, (void *) 3),
           1, "a cooldown");

    ok(llr_fleet_batch_command(&b, "0123456789abcdef0123456789abcdef01234567")
       == 0, "the command");
    is_int(b.argc, 4 + 5 + 5 + 5 * 4, "argc: 4 + keys + head + args");
    ok(argv_is(&b, 0, "EVALSHA"), "EVALSHA");
    ok(argv_is(&b, 2, "6"), "6 keys: the seq key and 5 entries");
    ok(argv_is(&b, 3, "llm_route:i:00000000000000aa"), "the seq key");
    ok(b.argvlen[4] == 10 + 2 + 8 + 11
       && memcmp(b.argv[4], "llm_route:b:team:a\0b:1767225600", 31) == 0,
       "the budget key holds the name's bytes and the period start");
    ok(argv_is(&b, 5, "llm_route:b:team:a") == 0
       && b.argvlen[5] == 31
       && memcmp(b.argv[5] + 20, ":1767139200", 11) == 0,
       "yesterday's key");
    ok(argv_is(&b, 8, "llm_route:c:openai"), "the cooldown key");
    ok(argv_is(&b, 9, "1") && argv_is(&b, 10, "00000000000000aa")
       && argv_is(&b, 11, "1") && argv_is(&b, 12, "1767229200000")
       && argv_is(&b, 13, "1767229202000"),
       "head: protocol, instance, seq, now, reservations' end");
    ok(argv_is(&b, 14, "b") && argv_is(&b, 15, "2000")
       && argv_is(&b, 16, "300"), "today: delta 2000, reserved 300");
    /* ends at midnight (23 h) + one day of grace */
    ok(argv_is(&b, 17, "169200000"), "today's key expires a day after "
       "the period");
    ok(argv_is(&b, 18, "b") && argv_is(&b, 19, "500")
       && argv_is(&b, 20, "0") && argv_is(&b, 21, "86400000"),
       "yesterday: delta 500, no reservation, a day of grace from now");
    ok(argv_is(&b, 22, "w") && argv_is(&b, 23, "1")
       && argv_is(&b, 24, "100"), "the window: 1 request, 100 tokens");
    ok(argv_is(&b, 30, "c") && argv_is(&b, 31, "1767229205000"),
       "the cooldown's end");

    llr_fleet_batch_done(&b, &seq, 0);
    ok(seq.seq == 1 && seq.unacked, "sent: unacked until answered");

    /* the answer */
    el = els(9);
    el[0] = r_int(1);
    el[1] = r_str(LLR_FLEET_R_STRING, "4000");     /* spent, fleet */
    el[2] = r_str(LLR_FLEET_R_STRING, "1000");     /* reserved, fleet */
    el[3] = r_str(LLR_FLEET_R_STRING, "500");
    el[4] = r_int(0);
    el[5] = r_str(LLR_FLEET_R_STRING, "7");
    el[6] = r_str(LLR_FLEET_R_STRING, "700");
    el[7] = r_str(LLR_FLEET_R_STRING, "3");
    el[8] = r_str(LLR_FLEET_R_STRING, "300");

    r = r_arr(8, el);
    is_int(llr_fleet_batch_reply(&b, r, &err, &len), LLR_FLEET_EBAD,
           "a reply one short: refused");

    el = track_realloc(NULL, el, 10 * sizeof(*el));
    el[9] = r_str(LLR_FLEET_R_STRING, "1767229209000");
    r = r_arr(10, el);
    is_int(llr_fleet_batch_reply(&b, r, &err, &len), LLR_FLEET_OK,
           "the answer");
    ok(b.applied, "applied");

    llr_fleet_counter_synced(&c, b.entries, 2);
    is_int(llr_fleet_budget_spent(&c, day), 4010,
           "spent: the fleet's 4000 + 10 added since the freeze");
    is_int(llr_fleet_budget_others(&c, day), 700,
           "reserved by the others: 1000 - our 300");
    is_int(llr_fleet_budget_others(&c, day + 86400), 0,
           "none for a period the view is not of");
    ok(c.pending[0].start == LLR_FLEET_NONE
       && c.pending[1].start == LLR_FLEET_NONE, "nothing pending");
    ok(llr_budget_admit(llr_fleet_budget_spent(&c, day),
                        llr_fleet_budget_others(&c, day) + 300, 5011),
       "admitted under 5011");
    ok(!llr_budget_admit(llr_fleet_budget_spent(&c, day),
                         llr_fleet_budget_others(&c, day) + 300, 5010),
       "refused at 5010");

    llr_fleet_counter_synced(&rw, b.entries + 2, 2);
    llr_fleet_window(&rw, 0, now, &w);
    ok(w.start == now - now % W && w.cur == 7 && w.prev == 3,
       "the fleet's window: 7 now, 3 before");
    llr_fleet_window(&rw, 1, now + W, &w);
    ok(w.cur == 0 && w.prev == 700, "a window later: 700 tokens before");
    llr_fleet_window(&rw, 1, now + 2 * W, &w);
    ok(w.cur == 0 && w.prev == 0, "two windows later: nothing");
    llr_fleet_window(&rw, 0, now, &w);
    ok(llr_window_admit(&w, now, 11, 1) == 0, "rpm=11: admitted");
    ok(llr_window_admit(&w, now, 11, 1) > 0, "and then refused");

    is_int(b.entries[4].out[0], 1767229209000LL, "the fleet's cooldown");

    llr_fleet_batch_done(&b, &seq, 1);
    ok(seq.seq == 1 && !seq.unacked, "answered");

    /* a batch that is not answered is resent as it was */
    llr_fleet_batch_init(&b, &alloc, "p:", 2, "00000000000000aa", &seq,
                         now, 2000, 16);
    is_int(b.seq, 2, "the next batch: seq 2");
    llr_fleet_batch_budget(&b, name, sizeof(name) - 1, &c, LLR_PERIOD_DAY,
                           day, 0, NULL);
    llr_fleet_batch_command(&b, NULL);
    ok(argv_is(&b, 0, "EVAL") && argv_is(&b, 1, llr_fleet_script),
       "without a sha: EVAL and the script");
    ok(argv_is(&b, 7, "2") && argv_is(&b, 11, "10"),
       "seq 2 carries the 10 added");
    llr_fleet_batch_done(&b, &seq, 0);

    llr_fleet_counter_add(&c, day, 99, 0);
    llr_fleet_batch_init(&b, &alloc, "p:", 2, "00000000000000aa", &seq,
                         now, 2000, 16);
    is_int(b.seq, 2, "a resend keeps seq 2");
    llr_fleet_batch_budget(&b, name, sizeof(name) - 1, &c, LLR_PERIOD_DAY,
                           day, 0, NULL);
    llr_fleet_batch_command(&b, NULL);
    ok(argv_is(&b, 11, "10"), "the resend carries the same 10, not the 99 "
       "added since");
    is_int(llr_fleet_budget_spent(&c, day), 4109, "all of it counts locally");

    /* errors */
    is_int(llr_fleet_batch_reply(&b, r_str(LLR_FLEET_R_ERROR,
               "NOSCRIPT No matching script."), &err, &len),
           LLR_FLEET_NOSCRIPT, "NOSCRIPT");
    is_int(llr_fleet_batch_reply(&b, r_str(LLR_FLEET_R_ERROR,
               "BUSY Redis is busy"), &err, &len),
           LLR_FLEET_EREPLY, "another error");
    is_int(llr_fleet_batch_reply(&b, NULL, &err, &len), LLR_FLEET_EBAD,
           "no reply");
    el = els(3);
    el[0] = r_int(2);
    el[1] = r_int(0);
    el[2] = r_int(0);
    is_int(llr_fleet_batch_reply(&b, r_arr(3, el), &err, &len),
           LLR_FLEET_EBAD, "applied must be 0 or 1");
    el[0] = r_int(0);
    el[2] = r_arr(0, NULL);
    is_int(llr_fleet_batch_reply(&b, r_arr(3, el), &err, &len),
           LLR_FLEET_EBAD, "a nested array refused");
    el[2] = r_str(LLR_FLEET_R_STRING, "-4");
    is_int(llr_fleet_batch_reply(&b, r_arr(3, el), &err, &len),
           LLR_FLEET_OK, "a negative total...");
    is_int(b.entries[0].out[1], 0, "...is read as 0");

    /* a full batch takes nothing and freezes nothing */
    llr_fleet_batch_done(&b, &seq, 1);
    llr_fleet_batch_init(&b, &alloc, "p:", 2, "00000000000000aa", &seq,
                         now, 2000, 2);
    is_int(llr_fleet_batch_cooldown(&b, "x", 1, 0, NULL), 1, "one entry");
    is_int(llr_fleet_batch_budget(&b, "k", 1, &c, LLR_PERIOD_DAY, day, 0,
                                  NULL), 0, "no room for a budget");
    ok(c.unsynced[0].start != LLR_FLEET_NONE || c.unsynced[1].start
       != LLR_FLEET_NONE, "its deltas stay unsynced");
    ok(llr_fleet_batch_command(&b, "s") == 0 && argv_is(&b, 2, "2"),
       "a command of what fits");
    ok(!b.deltas && argv_is(&b, 7, "0"), "no deltas: seq 0");

    for (i = 0; i < 1; i++) {
        llr_fleet_batch_done(&b, &seq, 0);
    }
    ok(!seq.unacked, "a batch without deltas leaves the sequence alone");
}


/*
 * A view as large as a reply can carry (INT64_MAX) plus local deltas:
 * the sum wrapped to a negative number, read as 0 spent, and the budget
 * admitted everything (found by fuzz/fuzz_fleet.c,
 * fuzz/regressions/fleet-view-overflow).
 */
static void
test_overflow(void)
{
    llr_fleet_counter_t  c;
    llr_fleet_entry_t    e;
    llr_window_t         w;
    int64_t              now, ws;

    now = 1767229200000LL;
    ws = now - now % W;

    llr_fleet_counter_init(&c);
    memset(&e, 0, sizeof(e));
    e.kind = LLR_FLEET_BUDGET;
    e.role = LLR_FLEET_ROLE_CUR;
    e.start = 100;
    e.out[0] = INT64_MAX;
    llr_fleet_counter_synced(&c, &e, 1);

    llr_fleet_counter_add(&c, 100, 1000, 0);
    ok(llr_fleet_budget_spent(&c, 100) == (uint64_t) INT64_MAX + 1000,
       "a huge view plus local spend does not wrap");
    ok(!llr_budget_admit(llr_fleet_budget_spent(&c, 100), 0, 5000000),
       "and is over any budget");

    llr_fleet_counter_add(&c, 100, INT64_MAX, 0);
    ok(llr_fleet_budget_spent(&c, 100) >= (uint64_t) INT64_MAX,
       "local deltas saturate");

    llr_fleet_counter_init(&c);
    e.kind = LLR_FLEET_WINDOW;
    e.start = ws;
    e.out[0] = INT64_MAX;
    e.out[1] = INT64_MAX;
    llr_fleet_counter_synced(&c, &e, 1);
    llr_fleet_counter_add(&c, ws, 5, -3);
    llr_fleet_window(&c, 0, now, &w);
    ok(w.cur == (uint64_t) INT64_MAX + 5, "a window's requests do not wrap");
    llr_fleet_window(&c, 1, now, &w);
    ok(w.cur == (uint64_t) INT64_MAX - 3, "a correction still subtracts");
}


int
main(void)
{
    test_basics();
    test_replies();
    test_counter();
    test_batch();
    test_overflow();

    track_free_all();

    done_testing();
}
