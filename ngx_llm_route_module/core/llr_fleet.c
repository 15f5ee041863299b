/*
 * ngx_llm_route_module: the fleet protocol (see the header and
 * docs/fleet.md).
 */

#include <stdio.h>
#include <string.h>

#include "llr_fleet.h"


#define LLR_W  ((int64_t) LLR_RATE_WINDOW_MS)

/* ARGV before the entries' own: version, instance, seq, now, expires */
#define LLR_FLEET_HEAD_ARGS  5


/*
 * KEYS[1]: the instance's seq key; KEYS[i], i > 1: entry i - 1.
 * ARGV[1..5]: protocol, instance, seq (0: no deltas), now (ms), when the
 * reservations sent now stop counting (ms); then four per entry: type,
 * x, y, ttl (ms, 0: none).  b: x spent delta, y reservation; w: x
 * requests delta, y tokens delta; c: x the cooldown's end.
 * The answer: {applied, then b: spent, reservations; w: requests,
 * tokens; c: end or 0}.  Amounts stay strings: Lua numbers are doubles.
 */
const char  llr_fleet_script[] =
    "-- ngx_llm_route_module fleet sync (core/llr_fleet.h)\n"
    "if ARGV[1] ~= '1' then\n"
    "  return redis.error_reply('ERR llm_route: protocol '"
    " .. tostring(ARGV[1]))\n"
    "end\n"
    "for i = 2, #KEYS do\n"
    "  local t = ARGV[6 + (i - 2) * 4]\n"
    "  if t ~= 'b' and t ~= 'w' and t ~= 'c' then\n"
    "    return redis.error_reply('ERR llm_route: entry ' .. tostring(t))\n"
    "  end\n"
    "end\n"
    "local now = tonumber(ARGV[4])\n"
    "local rf = 'r:' .. ARGV[2]\n"
    "local apply = 0\n"
    "if tonumber(ARGV[3]) > 0 then\n"
    "  local last = tonumber(redis.call('GET', KEYS[1]) or '0') or 0\n"
    "  if tonumber(ARGV[3]) > last then\n"
    "    apply = 1\n"
    "    redis.call('SET', KEYS[1], ARGV[3], 'EX', 86400)\n"
    "  end\n"
    "end\n"
    "local out = {apply}\n"
    "for i = 2, #KEYS do\n"
    "  local k = KEYS[i]\n"
    "  local a = 6 + (i - 2) * 4\n"
    "  local t, x, y = ARGV[a], ARGV[a + 1], ARGV[a + 2]\n"
    "  local ttl = tonumber(ARGV[a + 3]) or 0\n"
    "  if t == 'b' then\n"
    "    if apply == 1 and x ~= '0' then\n"
    "      redis.call('HINCRBY', k, 's', x)\n"
    "    end\n"
    "    if y ~= '0' then\n"
    "      redis.call('HSET', k, rf, y .. ':' .. ARGV[5])\n"
    "    else\n"
    "      redis.call('HDEL', k, rf)\n"
    "    end\n"
    "    local total = 0\n"
    "    local h = redis.call('HGETALL', k)\n"
    "    for j = 1, #h, 2 do\n"
    "      if string.sub(h[j], 1, 2) == 'r:' then\n"
    "        local m, e = string.match(h[j + 1], '^(%d+):(%d+)$')\n"
    "        if m and tonumber(e) > now then\n"
    "          total = total + tonumber(m)\n"
    "        else\n"
    "          redis.call('HDEL', k, h[j])\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "    if ttl > 0 then redis.call('PEXPIRE', k, ttl) end\n"
    "    out[#out + 1] = redis.call('HGET', k, 's') or '0'\n"
    "    out[#out + 1] = string.format('%.0f', total)\n"
    "  elseif t == 'w' then\n"
    "    if apply == 1 then\n"
    "      if x ~= '0' then redis.call('HINCRBY', k, 'q', x) end\n"
    "      if y ~= '0' then redis.call('HINCRBY', k, 't', y) end\n"
    "    end\n"
    "    if ttl > 0 then redis.call('PEXPIRE', k, ttl) end\n"
    "    local v = redis.call('HMGET', k, 'q', 't')\n"
    "    out[#out + 1] = v[1] or '0'\n"
    "    out[#out + 1] = v[2] or '0'\n"
    "  else\n"
    "    local cur = tonumber(redis.call('GET', k) or '0') or 0\n"
    "    local u = tonumber(x) or 0\n"
    "    if u > cur and u > now then\n"
    "      redis.call('SET', k, x, 'PX', string.format('%.0f', u - now))\n"
    "      cur = u\n"
    "    end\n"
    "    if cur <= now then cur = 0 end\n"
    "    out[#out + 1] = string.format('%.0f', cur)\n"
    "  end\n"
    "end\n"
    "return out\n";


void
llr_fleet_instance(char out[LLR_FLEET_INSTANCE_LEN + 1], uint64_t r)
{
    static const char  hex[] = "0123456789abcdef";
    int                i;

    for (i = LLR_FLEET_INSTANCE_LEN - 1; i >= 0; i--) {
        out[i] = hex[r & 0xf];
        r >>= 4;
    }

    out[LLR_FLEET_INSTANCE_LEN] = '\0';
}


uint64_t
llr_fleet_backoff(unsigned failures, uint64_t base, uint64_t max,
    uint32_t rnd)
{
    uint64_t  d;

    if (failures == 0) {
        return 0;
    }

    d = base;

    while (--failures && d < max) {
        d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
    }

    if (d > max) {
        d = max;
    }

    /* up to a quarter less, in thousandths */
    return d - (d / 4) * (rnd % 1001) / 1000;
}


/* --- counters ---------------------------------------------------------- */

/* a + b, saturated at INT64_MIN / INT64_MAX */
static int64_t
llr_fleet_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }

    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }

    return a + b;
}


static void
llr_fleet_delta_clear(llr_fleet_delta_t *d)
{
    d->start = LLR_FLEET_NONE;
    d->v[0] = 0;
    d->v[1] = 0;
}


void
llr_fleet_counter_init(llr_fleet_counter_t *c)
{
    memset(c, 0, sizeof(llr_fleet_counter_t));

    llr_fleet_delta_clear(&c->unsynced[0]);
    llr_fleet_delta_clear(&c->unsynced[1]);
    llr_fleet_delta_clear(&c->pending[0]);
    llr_fleet_delta_clear(&c->pending[1]);
    c->view_start = LLR_FLEET_NONE;
}


int
llr_fleet_counter_add(llr_fleet_counter_t *c, int64_t start, int64_t v0,
    int64_t v1)
{
    int                 i, dropped;
    llr_fleet_delta_t  *d, *old;

    d = NULL;

    for (i = 0; i < 2; i++) {
        if (c->unsynced[i].start == start) {
            d = &c->unsynced[i];
            break;
        }
    }

    dropped = 0;

    if (d == NULL) {
        if (c->unsynced[0].start == LLR_FLEET_NONE) {
            d = &c->unsynced[0];

        } else if (c->unsynced[1].start == LLR_FLEET_NONE) {
            d = &c->unsynced[1];

        } else {
            old = c->unsynced[0].start < c->unsynced[1].start
                  ? &c->unsynced[0] : &c->unsynced[1];

            c->dropped++;
            dropped = 1;

            if (start < old->start) {
                /* older than both: the clock went back a long way */
                return dropped;
            }

            d = old;
        }

        if (d->start != start) {
            llr_fleet_delta_clear(d);
            d->start = start;
        }
    }

    d->v[0] = llr_fleet_add(d->v[0], v0);
    d->v[1] = llr_fleet_add(d->v[1], v1);

    return dropped;
}


void
llr_fleet_counter_local(const llr_fleet_counter_t *c, int64_t start,
    int64_t v[2])
{
    int  i;

    v[0] = 0;
    v[1] = 0;

    for (i = 0; i < 2; i++) {
        if (c->unsynced[i].start == start) {
            v[0] = llr_fleet_add(v[0], c->unsynced[i].v[0]);
            v[1] = llr_fleet_add(v[1], c->unsynced[i].v[1]);
        }

        if (c->pending[i].start == start) {
            v[0] = llr_fleet_add(v[0], c->pending[i].v[0]);
            v[1] = llr_fleet_add(v[1], c->pending[i].v[1]);
        }
    }
}


int
llr_fleet_counter_dirty(const llr_fleet_counter_t *c)
{
    return c->unsynced[0].start != LLR_FLEET_NONE
           || c->unsynced[1].start != LLR_FLEET_NONE
           || c->pending[0].start != LLR_FLEET_NONE
           || c->pending[1].start != LLR_FLEET_NONE;
}


/*
 * the view (>= 0, at most INT64_MAX: what a reply carries) plus the
 * local deltas (a correction may make them negative): never wraps
 */
static uint64_t
llr_fleet_sum(int64_t view, int64_t local)
{
    if (view < 0) {
        view = 0;
    }

    if (local >= 0) {
        return (uint64_t) view + (uint64_t) local;
    }

    return view + local > 0 ? (uint64_t) (view + local) : 0;
}


uint64_t
llr_fleet_budget_spent(const llr_fleet_counter_t *c, int64_t start)
{
    int64_t  v[2];

    llr_fleet_counter_local(c, start, v);

    return llr_fleet_sum(c->view_start == start ? c->view[0] : 0, v[0]);
}


uint64_t
llr_fleet_budget_others(const llr_fleet_counter_t *c, int64_t start)
{
    if (c->view_start != start || c->view[1] < 0) {
        return 0;
    }

    return (uint64_t) c->view[1];
}


void
llr_fleet_window(const llr_fleet_counter_t *c, int q, int64_t now_ms,
    llr_window_t *w)
{
    int64_t  start, rc, rp, v[2];

    if (now_ms < 0) {
        now_ms = 0;
    }

    q = q ? 1 : 0;
    start = now_ms - now_ms % LLR_W;

    if (c->view_start == start) {
        rc = c->view[q];
        rp = c->view_prev[q];

    } else if (c->view_start == start - LLR_W) {
        rc = 0;
        rp = c->view[q];

    } else {
        rc = 0;
        rp = 0;
    }

    w->start = start;

    llr_fleet_counter_local(c, start, v);
    w->cur = llr_fleet_sum(rc, v[q]);

    llr_fleet_counter_local(c, start - LLR_W, v);
    w->prev = llr_fleet_sum(rp, v[q]);
}


/* --- a batch --------------------------------------------------------------- */

static void *
llr_fleet_alloc(llr_fleet_batch_t *b, size_t size)
{
    return b->alloc.malloc(b->alloc.ctx, size);
}


int
llr_fleet_batch_init(llr_fleet_batch_t *b, const llr_alloc_t *alloc,
    const char *prefix, size_t prefix_len, const char *instance,
    const llr_fleet_seq_t *seq, int64_t now_ms, int64_t reserve_ms,
    size_t max_entries)
{
    memset(b, 0, sizeof(llr_fleet_batch_t));

    b->alloc = *alloc;
    b->prefix = prefix;
    b->prefix_len = prefix_len;
    memcpy(b->instance, instance, LLR_FLEET_INSTANCE_LEN);
    b->instance[LLR_FLEET_INSTANCE_LEN] = '\0';

    /* a batch not answered is resent as it was */
    b->seq = seq->unacked ? seq->seq : seq->seq + 1;
    b->freeze = !seq->unacked;

    b->now_ms = now_ms;
    b->reserve_ms = reserve_ms;
    b->max_entries = max_entries;

    if (max_entries) {
        b->entries = llr_fleet_alloc(b,
                                 max_entries * sizeof(llr_fleet_entry_t));
        if (b->entries == NULL) {
            return -1;
        }
    }

    return 0;
}


static llr_fleet_entry_t *
llr_fleet_entry(llr_fleet_batch_t *b, int kind, const char *name,
    size_t name_len, int64_t start, int with_start, void *data)
{
    int                 n;
    char                num[24], *p;
    const char         *tag;
    llr_fleet_entry_t  *e;

    if (b->nentries == b->max_entries) {
        return NULL;
    }

    n = with_start ? snprintf(num, sizeof(num), ":%lld", (long long) start)
                   : 0;

    e = &b->entries[b->nentries];
    memset(e, 0, sizeof(llr_fleet_entry_t));

    e->key_len = b->prefix_len + 2 + name_len + n;
    e->key = llr_fleet_alloc(b, e->key_len + 1);
    if (e->key == NULL) {
        return NULL;
    }

    tag = kind == LLR_FLEET_BUDGET ? "b:"
          : kind == LLR_FLEET_WINDOW ? "w:" : "c:";

    p = e->key;
    memcpy(p, b->prefix, b->prefix_len);
    p += b->prefix_len;
    memcpy(p, tag, 2);
    p += 2;
    memcpy(p, name, name_len);
    p += name_len;
    memcpy(p, num, n);
    p[n] = '\0';

    e->kind = kind;
    e->start = start;
    e->data = data;
    e->args[0][0] = (char) kind;

    b->nentries++;

    return e;
}


static void
llr_fleet_arg(llr_fleet_entry_t *e, int i, int64_t v)
{
    snprintf(e->args[i], sizeof(e->args[i]), "%lld", (long long) v);
}


/* unsynced -> pending, when the batch may take new deltas */
static void
llr_fleet_freeze(llr_fleet_batch_t *b, llr_fleet_counter_t *c)
{
    if (!b->freeze
        || c->pending[0].start != LLR_FLEET_NONE
        || c->pending[1].start != LLR_FLEET_NONE)
    {
        return;
    }

    c->pending[0] = c->unsynced[0];
    c->pending[1] = c->unsynced[1];
    llr_fleet_delta_clear(&c->unsynced[0]);
    llr_fleet_delta_clear(&c->unsynced[1]);
}


/* the pending delta of start (and mark it sent), 0 if none */
static const llr_fleet_delta_t *
llr_fleet_pending(llr_fleet_counter_t *c, int64_t start)
{
    int  i;

    for (i = 0; i < 2; i++) {
        if (c->pending[i].start == start) {
            return &c->pending[i];
        }
    }

    return NULL;
}


/*
 * entries for a counter: its view's starts (roles), and every other start
 * it has a pending delta for; ttl(start) in ms
 */
static size_t
llr_fleet_batch_counter(llr_fleet_batch_t *b, int kind, const char *name,
    size_t name_len, llr_fleet_counter_t *c, const int64_t *starts,
    size_t nstarts, const int64_t *ttls, int64_t old_ttl, void *data,
    llr_fleet_entry_t **cur)
{
    size_t                    i, j, n, first;
    int64_t                   s, ttl;
    llr_fleet_entry_t        *e;
    const llr_fleet_delta_t  *d;

    if (b->max_entries - b->nentries < nstarts + 2) {
        return 0;
    }

    llr_fleet_freeze(b, c);

    first = b->nentries;
    n = 0;

    for (i = 0; i < nstarts + 2; i++) {

        if (i < nstarts) {
            s = starts[i];
            ttl = ttls[i];

        } else {
            s = c->pending[i - nstarts].start;
            ttl = old_ttl;

            if (s == LLR_FLEET_NONE) {
                continue;
            }

            for (j = 0; j < nstarts; j++) {
                if (starts[j] == s) {
                    break;
                }
            }

            if (j < nstarts) {
                continue;
            }
        }

        e = llr_fleet_entry(b, kind, name, name_len, s, 1, data);
        if (e == NULL) {
            b->nentries = first;
            return 0;
        }

        e->role = i < nstarts ? (int) i + 1 : 0;

        d = llr_fleet_pending(c, s);

        if (d) {
            b->deltas = 1;
        }

        llr_fleet_arg(e, 1, d ? d->v[0] : 0);
        llr_fleet_arg(e, 2, d ? d->v[1] : 0);
        llr_fleet_arg(e, 3, ttl);

        if (i == 0) {
            *cur = e;
        }

        n++;
    }

    return n;
}


static int64_t
llr_fleet_budget_ttl(llr_period_e period, int64_t start, int64_t now_ms)
{
    int64_t  next, grace, ttl;

    if (period == LLR_PERIOD_TOTAL) {
        return 0;
    }

    next = llr_period_next(period, start);

    /* kept one more period (from a minute to a day) after its end */
    grace = (next - start) * 1000;
    grace = grace < 60000 ? 60000 : grace > 86400000 ? 86400000 : grace;

    ttl = next * 1000 - now_ms + grace;

    return ttl < grace ? grace : ttl;
}


size_t
llr_fleet_batch_budget(llr_fleet_batch_t *b, const char *name,
    size_t name_len, llr_fleet_counter_t *c, llr_period_e period,
    int64_t start, uint64_t reserved, void *data)
{
    size_t              n;
    int64_t             ttl, old_ttl, p;
    llr_fleet_entry_t  *cur;

    ttl = llr_fleet_budget_ttl(period, start, b->now_ms);
    old_ttl = ttl;

    if (period != LLR_PERIOD_TOTAL) {
        /* a delta of an earlier period: kept its grace from now */
        p = (llr_period_next(period, start) - start) * 1000;
        old_ttl = p < 60000 ? 60000 : p > 86400000 ? 86400000 : p;
    }

    n = llr_fleet_batch_counter(b, LLR_FLEET_BUDGET, name, name_len, c,
                                &start, 1, &ttl, old_ttl, data, &cur);
    if (n == 0) {
        return 0;
    }

    if (reserved > INT64_MAX) {
        reserved = INT64_MAX;
    }

    /* the other starts carry no reservation */
    cur->sent = (int64_t) reserved;
    llr_fleet_arg(cur, 2, (int64_t) reserved);

    return n;
}


size_t
llr_fleet_batch_window(llr_fleet_batch_t *b, const char *name,
    size_t name_len, llr_fleet_counter_t *c, void *data)
{
    int64_t             now, starts[2], ttls[2];
    llr_fleet_entry_t  *cur;

    now = b->now_ms < 0 ? 0 : b->now_ms;

    starts[0] = now - now % LLR_W;
    starts[1] = starts[0] - LLR_W;

    /* a window counts while it is the current one or the one before */
    ttls[0] = starts[0] + 3 * LLR_W - now;
    ttls[1] = starts[1] + 3 * LLR_W - now;

    return llr_fleet_batch_counter(b, LLR_FLEET_WINDOW, name, name_len, c,
                                   starts, 2, ttls, 1000, data, &cur);
}


size_t
llr_fleet_batch_cooldown(llr_fleet_batch_t *b, const char *name,
    size_t name_len, int64_t until_ms, void *data)
{
    llr_fleet_entry_t  *e;

    e = llr_fleet_entry(b, LLR_FLEET_COOLDOWN, name, name_len, 0, 0, data);
    if (e == NULL) {
        return 0;
    }

    e->sent = until_ms > 0 ? until_ms : 0;

    llr_fleet_arg(e, 1, e->sent);
    llr_fleet_arg(e, 2, 0);
    llr_fleet_arg(e, 3, 0);

    return 1;
}


int
llr_fleet_batch_command(llr_fleet_batch_t *b, const char *sha)
{
    size_t              i, j, n, k;
    char               *seq_key;
    llr_fleet_entry_t  *e;

    n = b->nentries;

    /* command, script, numkeys, seq key, keys, head, entries' args */
    b->argc = 4 + n + LLR_FLEET_HEAD_ARGS + n * LLR_FLEET_ENTRY_ARGS;

    b->argv = llr_fleet_alloc(b, b->argc * sizeof(char *));
    b->argvlen = llr_fleet_alloc(b, b->argc * sizeof(size_t));
    seq_key = llr_fleet_alloc(b, b->prefix_len + 2
                                 + LLR_FLEET_INSTANCE_LEN + 1);

    if (b->argv == NULL || b->argvlen == NULL || seq_key == NULL) {
        return -1;
    }

    memcpy(seq_key, b->prefix, b->prefix_len);
    memcpy(seq_key + b->prefix_len, "i:", 2);
    memcpy(seq_key + b->prefix_len + 2, b->instance,
           LLR_FLEET_INSTANCE_LEN + 1);

    snprintf(b->head[0], sizeof(b->head[0]), "%d", LLR_FLEET_PROTOCOL);
    memcpy(b->head[1], b->instance, LLR_FLEET_INSTANCE_LEN + 1);
    snprintf(b->head[2], sizeof(b->head[2]), "%llu",
             b->deltas ? (unsigned long long) b->seq : 0ULL);
    snprintf(b->head[3], sizeof(b->head[3]), "%lld",
             (long long) b->now_ms);
    snprintf(b->head[4], sizeof(b->head[4]), "%lld",
             (long long) (b->now_ms + b->reserve_ms));

    snprintf(b->numkeys, sizeof(b->numkeys), "%zu", n + 1);

    k = 0;

    b->argv[k++] = sha ? "EVALSHA" : "EVAL";
    b->argv[k++] = sha ? sha : llr_fleet_script;

    b->argv[k++] = b->numkeys;
    b->argv[k++] = seq_key;

    for (i = 0; i < n; i++) {
        b->argv[k++] = b->entries[i].key;
    }

    for (i = 0; i < LLR_FLEET_HEAD_ARGS; i++) {
        b->argv[k++] = b->head[i];
    }

    for (i = 0; i < n; i++) {
        e = &b->entries[i];

        for (j = 0; j < LLR_FLEET_ENTRY_ARGS; j++) {
            b->argv[k++] = e->args[j];
        }
    }

    for (i = 0; i < b->argc; i++) {
        b->argvlen[i] = strlen(b->argv[i]);
    }

    /* keys have their lengths (a name may hold any byte) */
    for (i = 0; i < n; i++) {
        b->argvlen[4 + i] = b->entries[i].key_len;
    }


    return 0;
}


static int
llr_fleet_reply_error(const llr_fleet_reply_t *r, const char **err,
    size_t *err_len)
{
    if (r->type != LLR_FLEET_R_ERROR) {
        return 0;
    }

    if (err) {
        *err = r->str ? r->str : "";
        *err_len = r->str ? r->len : 0;
    }

    return 1;
}


llr_fleet_rc_e
llr_fleet_batch_reply(llr_fleet_batch_t *b, const llr_fleet_reply_t *r,
    const char **err, size_t *err_len)
{
    size_t              i, k, need;
    int64_t             v;
    llr_fleet_entry_t  *e;

    if (r == NULL) {
        return LLR_FLEET_EBAD;
    }

    if (llr_fleet_reply_error(r, err, err_len)) {
        if (r->str && r->len >= 8 && memcmp(r->str, "NOSCRIPT", 8) == 0) {
            return LLR_FLEET_NOSCRIPT;
        }

        return LLR_FLEET_EREPLY;
    }

    if (r->type != LLR_FLEET_R_ARRAY || r->element == NULL) {
        return LLR_FLEET_EBAD;
    }

    need = 1;

    for (i = 0; i < b->nentries; i++) {
        need += b->entries[i].kind == LLR_FLEET_COOLDOWN ? 1 : 2;
    }

    if (r->elements != need) {
        return LLR_FLEET_EBAD;
    }

    for (i = 0; i < need; i++) {
        if (r->element[i] == NULL
            || llr_fleet_reply_int(r->element[i], &v) != 0)
        {
            return LLR_FLEET_EBAD;
        }
    }

    (void) llr_fleet_reply_int(r->element[0], &v);

    if (v != 0 && v != 1) {
        return LLR_FLEET_EBAD;
    }

    b->applied = (unsigned) v;

    k = 1;

    for (i = 0; i < b->nentries; i++) {
        e = &b->entries[i];

        (void) llr_fleet_reply_int(r->element[k++], &v);
        e->out[0] = v < 0 ? 0 : v;

        if (e->kind != LLR_FLEET_COOLDOWN) {
            (void) llr_fleet_reply_int(r->element[k++], &v);
            e->out[1] = v < 0 ? 0 : v;
        }
    }

    return LLR_FLEET_OK;
}


void
llr_fleet_batch_done(const llr_fleet_batch_t *b, llr_fleet_seq_t *seq,
    int ok)
{
    if (!b->deltas) {
        return;
    }

    seq->seq = b->seq;
    seq->unacked = ok ? 0 : 1;
}


void
llr_fleet_counter_synced(llr_fleet_counter_t *c,
    const llr_fleet_entry_t *e, size_t n)
{
    size_t  i;

    llr_fleet_delta_clear(&c->pending[0]);
    llr_fleet_delta_clear(&c->pending[1]);

    for (i = 0; i < n; i++) {

        if (e[i].role == LLR_FLEET_ROLE_CUR) {
            c->view_start = e[i].start;
            c->view[0] = e[i].out[0];
            c->view[1] = e[i].out[1];

            if (e[i].kind == LLR_FLEET_BUDGET) {
                /* the others' reservations: ours are counted locally */
                c->view[1] = e[i].out[1] > e[i].sent
                             ? e[i].out[1] - e[i].sent : 0;
            }

        } else if (e[i].role == LLR_FLEET_ROLE_PREV) {
            c->view_prev[0] = e[i].out[0];
            c->view_prev[1] = e[i].out[1];
        }
    }
}


/* --- other replies ---------------------------------------------------------- */

int
llr_fleet_reply_int(const llr_fleet_reply_t *r, int64_t *v)
{
    size_t    i;
    int       neg;
    uint64_t  n, lim;

    switch (r->type) {

    case LLR_FLEET_R_INTEGER:
        *v = (int64_t) r->integer;
        return 0;

    case LLR_FLEET_R_NIL:
        *v = 0;
        return 0;

    case LLR_FLEET_R_STRING:
    case LLR_FLEET_R_STATUS:
        break;

    default:
        return -1;
    }

    if (r->str == NULL || r->len == 0) {
        return -1;
    }

    i = 0;
    neg = r->str[0] == '-';
    i += neg;

    if (i == r->len) {
        return -1;
    }

    lim = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    n = 0;

    for ( /* void */ ; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9') {
            return -1;
        }

        if (n > (lim - (uint64_t) (r->str[i] - '0')) / 10) {
            return -1;
        }

        n = n * 10 + (uint64_t) (r->str[i] - '0');
    }

    *v = neg ? (int64_t) (0 - n) : (int64_t) n;

    return 0;
}


llr_fleet_rc_e
llr_fleet_reply_ok(const llr_fleet_reply_t *r, const char **err,
    size_t *err_len)
{
    if (r == NULL) {
        return LLR_FLEET_EBAD;
    }

    if (llr_fleet_reply_error(r, err, err_len)) {
        return LLR_FLEET_EREPLY;
    }

    if (r->type == LLR_FLEET_R_STATUS && r->len == 2 && r->str
        && memcmp(r->str, "OK", 2) == 0)
    {
        return LLR_FLEET_OK;
    }

    return LLR_FLEET_EBAD;
}


llr_fleet_rc_e
llr_fleet_reply_sha(const llr_fleet_reply_t *r,
    char sha[LLR_FLEET_SHA_LEN + 1], const char **err, size_t *err_len)
{
    size_t  i;
    char    ch;

    if (r == NULL) {
        return LLR_FLEET_EBAD;
    }

    if (llr_fleet_reply_error(r, err, err_len)) {
        return LLR_FLEET_EREPLY;
    }

    if (r->type != LLR_FLEET_R_STRING || r->len != LLR_FLEET_SHA_LEN
        || r->str == NULL)
    {
        return LLR_FLEET_EBAD;
    }

    for (i = 0; i < LLR_FLEET_SHA_LEN; i++) {
        ch = r->str[i];

        if (ch >= 'A' && ch <= 'F') {
            ch = (char) (ch - 'A' + 'a');

        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return LLR_FLEET_EBAD;
        }

        sha[i] = ch;
    }

    sha[LLR_FLEET_SHA_LEN] = '\0';

    return LLR_FLEET_OK;
}
