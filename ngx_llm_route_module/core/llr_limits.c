/*
 * ngx_llm_route_module: the arithmetic of budgets and rate limits (see
 * the header).
 */

#include <stdio.h>
#include <string.h>

#include "llr_cost.h"
#include "llr_limits.h"


#define LLR_W  ((int64_t) LLR_RATE_WINDOW_MS)


static const char  *llr_period_names[LLR_PERIOD_N] = {
    "minute", "hour", "day", "week", "month", "total"
};


int
llr_period_parse(const char *s, size_t len, llr_period_e *period)
{
    int  i;

    for (i = 0; i < LLR_PERIOD_N; i++) {
        if (strlen(llr_period_names[i]) == len
            && memcmp(llr_period_names[i], s, len) == 0)
        {
            *period = (llr_period_e) i;
            return 0;
        }
    }

    return -1;
}


const char *
llr_period_name(llr_period_e period)
{
    if ((unsigned) period >= LLR_PERIOD_N) {
        return "unknown";
    }

    return llr_period_names[period];
}


/* H. Hinnant's algorithms, for the proleptic Gregorian calendar */

int64_t
llr_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t   era;
    unsigned  yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t) doe - 719468;
}


void
llr_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t   era, z;
    unsigned  doe, yoe, doy, mp;

    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned) (z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t) yoe + era * 400 + (*m <= 2);
}


int64_t
llr_period_start(llr_period_e period, int64_t now)
{
    int64_t   days, y;
    unsigned  m, d;

    if (now < 0) {
        now = 0;
    }

    switch (period) {

    case LLR_PERIOD_MINUTE:
        return now - now % 60;

    case LLR_PERIOD_HOUR:
        return now - now % 3600;

    case LLR_PERIOD_DAY:
        return now - now % 86400;

    case LLR_PERIOD_WEEK:
        /* 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays */
        days = now / 86400;
        return (days - (days + 3) % 7) * 86400;

    case LLR_PERIOD_MONTH:
        llr_civil_from_days(now / 86400, &y, &m, &d);
        return llr_days_from_civil(y, m, 1) * 86400;

    default:
        return 0;
    }
}


int64_t
llr_period_next(llr_period_e period, int64_t start)
{
    int64_t   y;
    unsigned  m, d;

    switch (period) {

    case LLR_PERIOD_MINUTE:
        return start + 60;

    case LLR_PERIOD_HOUR:
        return start + 3600;

    case LLR_PERIOD_DAY:
        return start + 86400;

    case LLR_PERIOD_WEEK:
        return start + 7 * 86400;

    case LLR_PERIOD_MONTH:
        llr_civil_from_days(start / 86400, &y, &m, &d);

        if (m == 12) {
            y++;
            m = 1;

        } else {
            m++;
        }

        return llr_days_from_civil(y, m, 1) * 86400;

    default:
        return 0;
    }
}


size_t
llr_format_iso8601(char *buf, size_t size, int64_t t)
{
    int64_t   y, days, secs;
    unsigned  m, d;
    int       n;

    if (size < 21) {
        return 0;
    }

    days = t / 86400;
    secs = t % 86400;

    if (secs < 0) {
        secs += 86400;
        days--;
    }

    llr_civil_from_days(days, &y, &m, &d);

    if (y < 0 || y > 9999) {
        return 0;
    }

    n = snprintf(buf, size, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int) y, m, d,
                 (int) (secs / 3600), (int) (secs / 60 % 60),
                 (int) (secs % 60));

    return n == 20 ? 20 : 0;
}


size_t
llr_format_duration(char *buf, size_t size, uint64_t ms)
{
    char      *p;
    uint64_t   h, m, s, frac;
    unsigned   digits;

    if (size < 32) {
        return 0;
    }

    if (ms == 0) {
        memcpy(buf, "0s", 3);
        return 2;
    }

    if (ms < 1000) {
        return (size_t) snprintf(buf, size, "%ums", (unsigned) ms);
    }

    h = ms / 3600000;
    m = ms / 60000 % 60;
    s = ms / 1000 % 60;
    frac = ms % 1000;

    p = buf;

    if (h) {
        p += snprintf(p, 22, "%lluh", (unsigned long long) h);
    }

    if (h || m) {
        p += snprintf(p, 4, "%um", (unsigned) m);
    }

    p += snprintf(p, 3, "%u", (unsigned) s);

    if (frac) {
        digits = 3;

        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }

        p += snprintf(p, 5, ".%0*u", (int) digits, (unsigned) frac);
    }

    *p++ = 's';
    *p = '\0';

    return (size_t) (p - buf);
}


int
llr_budget_admit(uint64_t spent, uint64_t reserved, uint64_t limit)
{
    uint64_t  used;

    used = spent + reserved;

    if (used < spent) {
        /* overflow: surely past any limit */
        return 0;
    }

    return used < limit;
}


void
llr_window_advance(llr_window_t *w, int64_t now_ms)
{
    int64_t  start;

    if (now_ms < 0) {
        now_ms = 0;
    }

    start = now_ms - now_ms % LLR_W;

    if (w->start == 0 && w->cur == 0 && w->prev == 0) {
        w->start = start;
        return;
    }

    if (start <= w->start) {
        /* the same window, or the clock went back: keep it */
        return;
    }

    if (start == w->start + LLR_W) {
        w->prev = w->cur;

    } else {
        w->prev = 0;
    }

    w->cur = 0;
    w->start = start;
}


static int64_t
llr_window_elapsed(const llr_window_t *w, int64_t now_ms)
{
    int64_t  e;

    e = now_ms - w->start;

    if (e < 0) {
        return 0;
    }

    if (e >= LLR_W) {
        return LLR_W;
    }

    return e;
}


uint64_t
llr_window_usage(const llr_window_t *w, int64_t now_ms)
{
    uint64_t  rest, part;

    /*
     * prev * rest / W without overflowing (an actual usage corrected in
     * may be anything up to UINT64_MAX): (q W + r) rest / W, rest <= W
     */

    rest = (uint64_t) (LLR_W - llr_window_elapsed(w, now_ms));
    part = w->prev / (uint64_t) LLR_W * rest
           + (w->prev % (uint64_t) LLR_W * rest + (uint64_t) LLR_W - 1)
             / (uint64_t) LLR_W;

    return llr_add_sat(w->cur, part);
}


/* the elapsed time in a window from which prev * (W - e) / W <= room */

static int64_t
llr_window_when(uint64_t prev, uint64_t room)
{
    uint64_t  keep;

    if (prev == 0) {
        return 0;
    }

    keep = room * (uint64_t) LLR_W / prev;

    if (keep >= (uint64_t) LLR_W) {
        return 0;
    }

    return LLR_W - (int64_t) keep;
}


int64_t
llr_window_admit(llr_window_t *w, int64_t now_ms, uint64_t limit,
    uint64_t cost)
{
    int64_t   e, when;
    uint64_t  usage;

    if (cost > limit) {
        return -1;
    }

    llr_window_advance(w, now_ms);

    usage = llr_window_usage(w, now_ms);

    if (usage <= limit - cost) {
        w->cur += cost;
        return 0;
    }

    e = llr_window_elapsed(w, now_ms);

    if (w->cur <= limit - cost) {
        /* later in this window, when enough of prev has aged out */
        when = llr_window_when(w->prev, limit - cost - w->cur);

    } else {
        /* in the next window, when enough of this one has */
        when = LLR_W + llr_window_when(w->cur, limit - cost);
    }

    return when > e ? when - e : 1;
}


uint64_t
llr_window_reset_ms(const llr_window_t *w, int64_t now_ms)
{
    int64_t  e;

    e = llr_window_elapsed(w, now_ms);

    if (w->cur) {
        return (uint64_t) (2 * LLR_W - e);
    }

    if (w->prev) {
        return (uint64_t) (LLR_W - e);
    }

    return 0;
}


void
llr_ratelimit_note(llr_ratelimit_t *h, uint64_t limit, const llr_window_t *w,
    int64_t now_ms)
{
    uint64_t  usage, remaining;

    usage = llr_window_usage(w, now_ms);
    remaining = limit - (usage < limit ? usage : limit);

    if (h->set && remaining >= h->remaining) {
        return;
    }

    h->set = 1;
    h->limit = limit;
    h->remaining = remaining;
    h->reset_ms = llr_window_reset_ms(w, now_ms);
}


void
llr_window_correct(llr_window_t *w, int64_t now_ms, int64_t admitted_start,
    uint64_t est, uint64_t actual)
{
    uint64_t  *c;

    llr_window_advance(w, now_ms);

    if (admitted_start == w->start) {
        c = &w->cur;

    } else if (admitted_start == w->start - LLR_W) {
        c = &w->prev;

    } else {
        return;
    }

    if (actual >= est) {
        *c = llr_add_sat(*c, actual - est);

    } else {
        *c = *c > est - actual ? *c - (est - actual) : 0;
    }
}
