/*
 * core/llr_fleet against a real redis-server: the sync script, batches
 * resent after a lost answer, reservations that expire, windows,
 * cooldowns, NOSCRIPT, key expiry, names with any byte; and a simulation
 * of two instances sharing a $5 budget (simulated clocks, a real Redis):
 * what they admit at several sync intervals, against the bound of
 * docs/fleet.md, and the totals reconciled exactly.
 *
 * It starts its own redis-server on a unix socket in a temporary
 * directory (skipped when there is none), and talks to it with hiredis's
 * blocking API: a test program, not an nginx worker.
 */

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "tap.h"
#include "track_alloc.h"
#include "llr_fleet.h"
#include "llr_fleet_hiredis.h"


#define W        ((int64_t) LLR_RATE_WINDOW_MS)
#define USD      1000000000000LL          /* pico-USD */
#define PREFIX   "t:"
#define DAY0     1767225600LL             /* 2026-01-01 00:00:00 UTC */


/* the batches are never freed one by one (a pool in the glue) */
static llr_alloc_t   alloc = { track_malloc, track_realloc, track_free,
                               NULL };

static char          dir[] = "/tmp/llr-fleet-XXXXXX";
static char          sock[256];
static pid_t         server;
static redisContext *rc;
static char          sha[LLR_FLEET_SHA_LEN + 1];


typedef struct {
    char                 id[LLR_FLEET_INSTANCE_LEN + 1];
    llr_fleet_seq_t      seq;
    llr_fleet_counter_t  budget;
    llr_fleet_counter_t  window;
    int64_t              cooldown;       /* local, epoch ms */
    int64_t              cooldown_fleet;
    uint64_t             reserved;       /* own, pUSD */
    int                  applied;
} inst_t;


static void
stop_server(void)
{
    char  cmd[300];

    if (rc) {
        redisFree(rc);
        rc = NULL;
    }

    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
        server = 0;
    }

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        /* the temporary directory stays */
    }
}


static int
start_server(void)
{
    int   i;
    char  log[300];

    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        return -1;
    }

    if (mkdtemp(dir) == NULL) {
        return -1;
    }

    snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    snprintf(log, sizeof(log), "%s/redis.log", dir);

    server = fork();
    if (server == 0) {
        execlp("redis-server", "redis-server", "--port", "0",
               "--unixsocket", sock, "--dir", dir, "--logfile", log,
               "--save", "", "--appendonly", "no", (char *) NULL);
        _exit(127);
    }

    for (i = 0; i < 500; i++) {
        rc = redisConnectUnix(sock);
        if (rc && !rc->err) {
            return 0;
        }

        if (rc) {
            redisFree(rc);
            rc = NULL;
        }

        usleep(10000);
    }

    return -1;
}


static redisReply *
cmd(const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;

    va_start(ap, fmt);
    r = redisvCommand(rc, fmt, ap);
    va_end(ap);

    return r;
}


static long long
cmd_int(const char *fmt, const char *key, size_t len)
{
    long long    v;
    redisReply  *r;

    r = redisCommand(rc, fmt, key, len);
    v = -999;

    if (r && r->type == REDIS_REPLY_INTEGER) {
        v = r->integer;

    } else if (r && r->type == REDIS_REPLY_STRING) {
        v = strtoll(r->str, NULL, 10);

    } else if (r && r->type == REDIS_REPLY_NIL) {
        v = 0;
    }

    freeReplyObject(r);

    return v;
}


static void
inst_init(inst_t *in, uint64_t id)
{
    memset(in, 0, sizeof(inst_t));
    llr_fleet_instance(in->id, id);
    llr_fleet_counter_init(&in->budget);
    llr_fleet_counter_init(&in->window);
}


/*
 * one sync of an instance: its budget "team" (day), its window "k", its
 * cooldown of "openai"; lose: Redis runs it, the answer is lost.
 * Returns the parser's code, or -1.
 */
static int
sync_inst(inst_t *in, int64_t now, const char *name, size_t name_len,
    llr_period_e period, int with_window, int lose, int use_sha)
{
    int                 ret;
    size_t              nb, nw, nc;
    int64_t             start;
    const char         *err;
    size_t              err_len;
    redisReply         *r;
    llr_fleet_batch_t   b;
    llr_fleet_reply_t  *fr;

    if (llr_fleet_batch_init(&b, &alloc, PREFIX, sizeof(PREFIX) - 1, in->id,
                             &in->seq, now, 2000, 16) != 0)
    {
        return -1;
    }

    start = llr_period_start(period, now / 1000);

    nb = llr_fleet_batch_budget(&b, name, name_len, &in->budget, period,
                                start, in->reserved, NULL);
    nw = with_window ? llr_fleet_batch_window(&b, "k", 1, &in->window, NULL)
                     : 0;
    nc = llr_fleet_batch_cooldown(&b, "openai", 6, in->cooldown, NULL);

    if (nb == 0 || (with_window && nw == 0) || nc == 0
        || llr_fleet_batch_command(&b, use_sha ? sha : NULL) != 0)
    {
        return -1;
    }

    llr_fleet_batch_done(&b, &in->seq, 0);

    r = redisCommandArgv(rc, (int) b.argc, b.argv, b.argvlen);
    if (r == NULL) {
        return -1;
    }

    if (lose) {
        freeReplyObject(r);
        return LLR_FLEET_OK;
    }

    fr = llr_fleet_from_hiredis(r, &alloc, 0);
    ret = llr_fleet_batch_reply(&b, fr, &err, &err_len);

    if (ret == LLR_FLEET_OK) {
        llr_fleet_counter_synced(&in->budget, b.entries, nb);

        if (with_window) {
            llr_fleet_counter_synced(&in->window, b.entries + nb, nw);
        }

        in->cooldown_fleet = b.entries[nb + nw].out[0];
        in->applied = b.applied;
        llr_fleet_batch_done(&b, &in->seq, 1);

    } else if (ret == LLR_FLEET_EREPLY) {
        printf("# error reply: %.*s\n", (int) err_len, err);
    }

    llr_fleet_hiredis_free(fr, &alloc);
    freeReplyObject(r);

    return ret;
}


static int
sync_team(inst_t *in, int64_t now)
{
    return sync_inst(in, now, "team", 4, LLR_PERIOD_DAY, 1, 0, 1);
}


static void
test_script(void)
{
    inst_t              a, b;
    int64_t             now, start, ws;
    redisReply         *r;
    llr_fleet_reply_t  *fr;
    llr_window_t        w;
    const char         *err;
    size_t              len;
    char                key[64];
    static const char   odd[] = "a:b\0c d";

    now = (DAY0 + 3600) * 1000;
    start = DAY0;

    r = redisCommand(rc, "SCRIPT LOAD %s", llr_fleet_script);
    fr = llr_fleet_from_hiredis(r, &alloc, 0);
    is_int(llr_fleet_reply_sha(fr, sha, &err, &len), LLR_FLEET_OK,
           "SCRIPT LOAD: the script compiles, its sha");
    llr_fleet_hiredis_free(fr, &alloc);
    freeReplyObject(r);

    inst_init(&a, 0xa);
    inst_init(&b, 0xb);

    /* deltas reach Redis */
    llr_fleet_counter_add(&a.budget, start, 100, 0);
    is_int(sync_team(&a, now), LLR_FLEET_OK, "A syncs 100");
    ok(a.applied, "applied");
    snprintf(key, sizeof(key), PREFIX "b:team:%lld", (long long) start);
    is_int(cmd_int("HGET %b s", key, strlen(key)), 100, "Redis has 100");
    is_int(llr_fleet_budget_spent(&a.budget, start), 100, "A sees 100");

    /* a lost answer: the resend counts nothing twice */
    llr_fleet_counter_add(&a.budget, start, 50, 0);
    is_int(sync_inst(&a, now, "team", 4, LLR_PERIOD_DAY, 1, 1, 1),
           LLR_FLEET_OK, "A syncs 50, the answer is lost");
    is_int(cmd_int("HGET %b s", key, strlen(key)), 150, "Redis has 150");
    llr_fleet_counter_add(&a.budget, start, 7, 0);
    is_int(llr_fleet_budget_spent(&a.budget, start), 157,
           "A counts 157 meanwhile");
    is_int(sync_team(&a, now), LLR_FLEET_OK, "A sends the batch again");
    ok(!a.applied, "the script knew it: not applied again");
    is_int(cmd_int("HGET %b s", key, strlen(key)), 150,
           "Redis still has 150, not 200");
    is_int(llr_fleet_budget_spent(&a.budget, start), 157,
           "A still counts 157 (7 not synced yet)");
    is_int(sync_team(&a, now), LLR_FLEET_OK, "the next sync");
    is_int(cmd_int("HGET %b s", key, strlen(key)), 157, "Redis has 157");

    /* a second instance */
    llr_fleet_counter_add(&b.budget, start, 30, 0);
    is_int(sync_team(&b, now), LLR_FLEET_OK, "B syncs 30");
    is_int(llr_fleet_budget_spent(&b.budget, start), 187, "B sees 187");
    sync_team(&a, now);
    is_int(llr_fleet_budget_spent(&a.budget, start), 187, "A sees 187");

    /* reservations */
    a.reserved = 40;
    sync_team(&a, now);
    sync_team(&b, now);
    is_int(llr_fleet_budget_others(&b.budget, start), 40,
           "B sees A's reservation of 40");
    is_int(llr_fleet_budget_others(&a.budget, start), 0,
           "A does not count its own twice");
    b.reserved = 5;
    sync_team(&b, now);
    sync_team(&a, now);
    is_int(llr_fleet_budget_others(&a.budget, start), 5, "A sees B's 5");
    sync_team(&b, now + 2500);
    is_int(llr_fleet_budget_others(&b.budget, start), 0,
           "A stopped refreshing: its reservation expired");
    is_int(cmd_int("HEXISTS %b r:000000000000000a", key, strlen(key)), 0,
           "and is gone from the hash");

    /* key expiry: after the day, plus a day */
    ok(cmd_int("PTTL %b", key, strlen(key)) > 82800000LL,
       "the day's key expires a day after the day ends");
    sync_inst(&a, now, "all", 3, LLR_PERIOD_TOTAL, 0, 0, 1);
    is_int(cmd_int("PTTL %s", PREFIX "b:all:0", sizeof(PREFIX "b:all:0")
                                                - 1), -1,
           "a total budget's key never expires");

    /* windows */
    ws = now - now % W;
    llr_fleet_counter_add(&a.window, ws, 1, 100);
    llr_fleet_counter_add(&b.window, ws, 2, 50);
    llr_fleet_counter_add(&b.window, ws - W, 4, 0);
    sync_team(&a, now);
    sync_team(&b, now);
    sync_team(&a, now);
    llr_fleet_window(&a.window, 0, now, &w);
    ok(w.cur == 3 && w.prev == 4, "A's window: 3 requests now, 4 before");
    llr_fleet_window(&a.window, 1, now, &w);
    is_int(w.cur, 150, "150 tokens");
    snprintf(key, sizeof(key), PREFIX "w:k:%lld", (long long) ws);
    ok(cmd_int("PTTL %b", key, strlen(key)) <= 3 * W,
       "a window's key expires after three windows");

    /* cooldowns */
    a.cooldown = now + 5000;
    sync_team(&a, now);
    sync_team(&b, now + 10);
    is_int(b.cooldown_fleet, now + 5000, "B sees A's cooldown");
    ok(cmd_int("PTTL %s", PREFIX "c:openai", sizeof(PREFIX "c:openai") - 1)
       > 4000, "the cooldown key expires when it ends");
    a.cooldown = now + 1000;
    sync_team(&a, now + 20);
    is_int(a.cooldown_fleet, now + 5000, "a shorter one does not shorten "
           "it");
    sync_team(&b, now + 6000);
    is_int(b.cooldown_fleet, 0, "over: 0");

    /* NOSCRIPT: EVAL instead */
    freeReplyObject(cmd("SCRIPT FLUSH"));
    llr_fleet_counter_add(&a.budget, start, 1, 0);
    is_int(sync_inst(&a, now, "team", 4, LLR_PERIOD_DAY, 1, 0, 1),
           LLR_FLEET_NOSCRIPT, "after SCRIPT FLUSH: NOSCRIPT");
    is_int(sync_inst(&a, now, "team", 4, LLR_PERIOD_DAY, 1, 0, 0),
           LLR_FLEET_OK, "EVAL works");
    snprintf(key, sizeof(key), PREFIX "b:team:%lld", (long long) start);
    is_int(cmd_int("HGET %b s", key, strlen(key)), 188,
           "the resent batch counted once: 188");

    /* a name with any byte is its own key */
    llr_fleet_counter_add(&a.budget, start, 0, 0);
    {
        inst_t  c;

        inst_init(&c, 0xc);
        llr_fleet_counter_add(&c.budget, start, 9, 0);
        is_int(sync_inst(&c, now, odd, sizeof(odd) - 1, LLR_PERIOD_DAY, 0, 0,
                         0), LLR_FLEET_OK, "a name with ':', NUL, space");
        snprintf(key, sizeof(key), PREFIX "b:a:b");
        memcpy(key + sizeof(PREFIX "b:a:b") - 1, "\0c d:", 5);
        snprintf(key + sizeof(PREFIX "b:a:b") + 4, 20, "%lld",
                 (long long) start);
        is_int(cmd_int("HGET %b s", key, sizeof(PREFIX "b:") - 1
                                         + sizeof(odd) - 1 + 11), 9,
               "its own key");
        is_int(llr_fleet_budget_spent(&c.budget, start), 9, "9 spent");
    }

    /* a protocol the script does not speak changes nothing */
    r = redisCommand(rc, "EVALSHA %s 2 " PREFIX "i:x " PREFIX "b:z:0 2 x 1 0 "
                     "0 b 5 0 0", sha);
    fr = llr_fleet_from_hiredis(r, &alloc, 0);
    is_int(llr_fleet_reply_ok(fr, &err, &len), LLR_FLEET_EREPLY,
           "protocol 2: an error");
    llr_fleet_hiredis_free(fr, &alloc);
    freeReplyObject(r);
    is_int(cmd_int("EXISTS %b", PREFIX "b:z:0", sizeof(PREFIX "b:z:0") - 1),
           0, "nothing written");
}


/*
 * Two instances, a $5 budget (day), every request costs $1 and reserves
 * $1 while in flight (200 ms), 32 clients (16 per instance) in a closed
 * loop, starting 3 ms apart; a refused client tries again 50 ms later.
 * Sync every S ms, the second instance S/2 after the first; a sync takes
 * no simulated time.  Returns what the fleet admitted; *bound is the
 * bound of docs/fleet.md for this run: the limit, plus what each
 * instance admitted in its worst sync interval.
 */
static int
simulate(int64_t S, const char *name, int *bound, int *exact)
{
    int       i, k, admitted, per[2], worst[2], since[2];
    int64_t   t, T, now0, start, next[2], due[32], spent;
    inst_t    in[2];
    char      key[64];

    now0 = (DAY0 + 7200) * 1000;
    start = DAY0;
    T = 3000;

    inst_init(&in[0], 0x100 + S);
    inst_init(&in[1], 0x200 + S);

    for (k = 0; k < 32; k++) {
        due[k] = 3 * k;                  /* the next arrival */
    }

    admitted = 0;
    next[0] = 0;
    next[1] = S / 2;

    for (i = 0; i < 2; i++) {
        per[i] = 0;
        worst[i] = 0;
        since[i] = 0;
    }

    /* in flight: due[k] < 0 is -(end time) - 1 */
    for (t = 0; t < T; t++) {

        for (i = 0; i < 2; i++) {
            if (t == next[i]) {
                if (sync_inst(&in[i], now0 + t, name, strlen(name),
                              LLR_PERIOD_DAY, 0, 0, 1) != LLR_FLEET_OK)
                {
                    return -1;
                }

                worst[i] = since[i] > worst[i] ? since[i] : worst[i];
                since[i] = 0;
                next[i] += S;
            }
        }

        for (k = 0; k < 32; k++) {
            i = k % 2;

            if (due[k] < 0 && -due[k] - 1 == t) {
                /* settled: $1 spent, the reservation released */
                in[i].reserved -= USD;
                llr_fleet_counter_add(&in[i].budget, start, USD, 0);
                due[k] = t;
            }

            if (due[k] != t) {
                continue;
            }

            if (llr_budget_admit(llr_fleet_budget_spent(&in[i].budget,
                                                         start),
                                 llr_fleet_budget_others(&in[i].budget,
                                                         start)
                                 + in[i].reserved,
                                 5 * USD))
            {
                in[i].reserved += USD;
                admitted++;
                per[i]++;
                since[i]++;
                due[k] = -(t + 200) - 1;

            } else {
                due[k] = t + 50;
            }
        }
    }

    /* everything in flight ends; then each syncs until nothing is left */
    for (k = 0; k < 32; k++) {
        if (due[k] < 0) {
            i = k % 2;
            in[i].reserved -= USD;
            llr_fleet_counter_add(&in[i].budget, start, USD, 0);
        }
    }

    for (i = 0; i < 2; i++) {
        worst[i] = since[i] > worst[i] ? since[i] : worst[i];
        sync_inst(&in[i], now0 + T, name, strlen(name), LLR_PERIOD_DAY, 0,
                  0, 1);
        sync_inst(&in[i], now0 + T, name, strlen(name), LLR_PERIOD_DAY, 0,
                  0, 1);
    }

    snprintf(key, sizeof(key), PREFIX "b:%s:%lld", name, (long long) start);
    spent = cmd_int("HGET %b s", key, strlen(key));

    *exact = spent == (int64_t) admitted * USD
             && llr_fleet_budget_spent(&in[0].budget, start)
                == (uint64_t) spent
             && llr_fleet_budget_spent(&in[1].budget, start)
                == (uint64_t) spent;
    *bound = 5 + worst[0] + worst[1];

    printf("# sync=%lldms: admitted %d (%d + %d), bound %d (5 + %d + %d),"
           " Redis has $%lld\n", (long long) S, admitted, per[0], per[1],
           *bound, worst[0], worst[1], (long long) (spent / USD));

    return admitted;
}


static void
test_simulation(void)
{
    int          n, bound, exact;
    size_t       i;
    char         name[32];
    static const int64_t  sync[] = { 10, 50, 100, 250, 1000 };

    for (i = 0; i < sizeof(sync) / sizeof(sync[0]); i++) {
        snprintf(name, sizeof(name), "sim%lld", (long long) sync[i]);
        n = simulate(sync[i], name, &bound, &exact);

        ok(n >= 5, "sync=%lldms: at least the $5 admitted (%d)",
           (long long) sync[i], n);
        ok(n <= bound, "sync=%lldms: within the bound (%d <= %d)",
           (long long) sync[i], n, bound);
        ok(exact, "sync=%lldms: Redis and both views agree, exactly",
           (long long) sync[i]);
    }
}


/*
 * hiredis allocates the array a reply announces before reading it: a
 * limited reader refuses one longer than any answer (found by
 * fuzz/fuzz_fleet.c, fuzz/regressions/fleet-huge-array: 5.6 GB asked)
 */
static void
test_reader_limit(void)
{
    void         *reply;
    redisReader  *rd;
    static const char  huge[] = "*709551614\r\n:1\r\n";
    static const char  fine[] = "*3\r\n:1\r\n$2\r\n10\r\n:0\r\n";

    rd = redisReaderCreate();
    llr_fleet_hiredis_limit(rd);

    redisReaderFeed(rd, huge, sizeof(huge) - 1);
    reply = NULL;
    is_int(redisReaderGetReply(rd, &reply), REDIS_ERR,
           "a 709551614-element array: refused, nothing allocated");
    ok(reply == NULL, "no reply");
    redisReaderFree(rd);

    rd = redisReaderCreate();
    llr_fleet_hiredis_limit(rd);
    redisReaderFeed(rd, fine, sizeof(fine) - 1);
    reply = NULL;
    ok(redisReaderGetReply(rd, &reply) == REDIS_OK && reply
       && ((redisReply *) reply)->elements == 3,
       "an answer's array is read as before");
    freeReplyObject(reply);
    redisReaderFree(rd);
}


int
main(void)
{
    test_reader_limit();

    if (start_server() != 0) {
        stop_server();

        /* make test sets it: a missing redis-server is a failure there */
        if (getenv("LLR_REDIS_REQUIRED")) {
            ok(0, "redis-server runs (LLR_REDIS_REQUIRED is set)");
            done_testing();
        }

        printf("# SKIP no redis-server: the script is not tested\n");
        done_testing();
    }

    test_script();
    test_simulation();

    stop_server();
    track_free_all();

    done_testing();
}
