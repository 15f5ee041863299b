/*
 * Unit tests of core/llr_limits: UTC period boundaries, ISO 8601 and
 * duration formats, budget admission, the sliding rate window.
 */

#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "llr_limits.h"


/* 2026-11-25 (a Wednesday) 13:47:09 UTC */
#define T0  1795614429LL


static const char *
iso(int64_t t)
{
    static char  buf[32];

    if (llr_format_iso8601(buf, sizeof(buf), t) == 0) {
        return "(error)";
    }

    return buf;
}


static const char *
dur(uint64_t ms)
{
    static char  buf[32];

    if (llr_format_duration(buf, sizeof(buf), ms) == 0) {
        return "(error)";
    }

    return buf;
}


int
main(void)
{
    int64_t         t, s, days, y;
    unsigned        m, d, bad;
    llr_period_e    p;
    llr_window_t    w;
    char            small[8];

    /* parsing and names */

    ok(llr_period_parse("day", 3, &p) == 0 && p == LLR_PERIOD_DAY,
       "parse day");
    ok(llr_period_parse("week", 4, &p) == 0 && p == LLR_PERIOD_WEEK,
       "parse week");
    ok(llr_period_parse("total", 5, &p) == 0 && p == LLR_PERIOD_TOTAL,
       "parse total");
    ok(llr_period_parse("days", 4, &p) == -1, "days is not a period");
    ok(llr_period_parse("da", 2, &p) == -1, "a prefix is not a period");
    ok(llr_period_parse("", 0, &p) == -1, "empty is not a period");
    is_str(llr_period_name(LLR_PERIOD_MONTH), "month", "name of month");
    is_str(llr_period_name((llr_period_e) 42), "unknown", "bad period name");

    /* civil dates */

    is_int(llr_days_from_civil(1970, 1, 1), 0, "epoch day 0");
    is_int(llr_days_from_civil(2000, 3, 1), 11017, "2000-03-01");
    is_int(llr_days_from_civil(1969, 12, 31), -1, "1969-12-31");

    bad = 0;

    for (days = -800000; days < 800000; days += 97) {
        llr_civil_from_days(days, &y, &m, &d);

        if (llr_days_from_civil(y, m, d) != days || m < 1 || m > 12
            || d < 1 || d > 31)
        {
            bad++;
        }
    }

    is_int(bad, 0, "civil <-> days round trip over 4000 years");

    llr_civil_from_days(llr_days_from_civil(2024, 2, 29), &y, &m, &d);
    ok(y == 2024 && m == 2 && d == 29, "leap day 2024-02-29");

    /* ISO 8601 */

    is_str(iso(0), "1970-01-01T00:00:00Z", "iso epoch");
    is_str(iso(T0), "2026-11-25T13:47:09Z", "iso T0");
    is_str(iso(951782400), "2000-02-29T00:00:00Z", "iso leap day 2000");
    ok(llr_format_iso8601(small, sizeof(small), 0) == 0, "iso: small buf");

    /* period boundaries */

    is_str(iso(llr_period_start(LLR_PERIOD_MINUTE, T0)),
           "2026-11-25T13:47:00Z", "minute start");
    is_str(iso(llr_period_start(LLR_PERIOD_HOUR, T0)),
           "2026-11-25T13:00:00Z", "hour start");
    is_str(iso(llr_period_start(LLR_PERIOD_DAY, T0)),
           "2026-11-25T00:00:00Z", "day start");
    is_str(iso(llr_period_start(LLR_PERIOD_WEEK, T0)),
           "2026-11-23T00:00:00Z", "week starts on Monday 23rd");
    is_str(iso(llr_period_start(LLR_PERIOD_MONTH, T0)),
           "2026-11-01T00:00:00Z", "month start");
    is_int(llr_period_start(LLR_PERIOD_TOTAL, T0), 0, "total start");

    s = llr_period_start(LLR_PERIOD_MINUTE, T0);
    is_str(iso(llr_period_next(LLR_PERIOD_MINUTE, s)),
           "2026-11-25T13:48:00Z", "minute reset");
    s = llr_period_start(LLR_PERIOD_HOUR, T0);
    is_str(iso(llr_period_next(LLR_PERIOD_HOUR, s)),
           "2026-11-25T14:00:00Z", "hour reset");
    s = llr_period_start(LLR_PERIOD_DAY, T0);
    is_str(iso(llr_period_next(LLR_PERIOD_DAY, s)),
           "2026-11-26T00:00:00Z", "day reset");
    s = llr_period_start(LLR_PERIOD_WEEK, T0);
    is_str(iso(llr_period_next(LLR_PERIOD_WEEK, s)),
           "2026-11-30T00:00:00Z", "week reset: next Monday");
    s = llr_period_start(LLR_PERIOD_MONTH, T0);
    is_str(iso(llr_period_next(LLR_PERIOD_MONTH, s)),
           "2026-12-01T00:00:00Z", "month reset");
    is_int(llr_period_next(LLR_PERIOD_TOTAL, 0), 0, "total never resets");

    /* December rolls over to January, February of a leap year */

    t = llr_days_from_civil(2026, 12, 31) * 86400 + 86399;
    s = llr_period_start(LLR_PERIOD_MONTH, t);
    is_str(iso(s), "2026-12-01T00:00:00Z", "december start");
    is_str(iso(llr_period_next(LLR_PERIOD_MONTH, s)),
           "2027-01-01T00:00:00Z", "december resets on new year");

    t = llr_days_from_civil(2028, 2, 29) * 86400 + 5;
    s = llr_period_start(LLR_PERIOD_MONTH, t);
    is_str(iso(llr_period_next(LLR_PERIOD_MONTH, s)),
           "2028-03-01T00:00:00Z", "leap february resets on March 1st");

    /* a week across a year: 2027-01-01 is a Friday */

    t = llr_days_from_civil(2027, 1, 1) * 86400 + 3600;
    is_str(iso(llr_period_start(LLR_PERIOD_WEEK, t)),
           "2026-12-28T00:00:00Z", "week of new year starts Monday 28th");

    /* a Monday at 00:00 starts its own week; Sunday 23:59:59 does not */

    t = llr_days_from_civil(2026, 11, 23) * 86400;
    is_int(llr_period_start(LLR_PERIOD_WEEK, t), t, "monday 00:00");
    is_str(iso(llr_period_start(LLR_PERIOD_WEEK, t - 1)),
           "2026-11-16T00:00:00Z", "sunday 23:59:59 is the week before");

    /* the epoch (a Thursday) is in the week of Monday 1969-12-29 */
    is_int(llr_period_start(LLR_PERIOD_WEEK, 0), 0 - 3 * 86400,
           "week of the epoch");

    /* durations, as OpenAI writes them */

    is_str(dur(0), "0s", "0s");
    is_str(dur(17), "17ms", "17ms");
    is_str(dur(999), "999ms", "999ms");
    is_str(dur(1000), "1s", "1s");
    is_str(dur(6000), "6s", "6s");
    is_str(dur(1500), "1.5s", "1.5s");
    is_str(dur(1250), "1.25s", "1.25s");
    is_str(dur(1001), "1.001s", "1.001s");
    is_str(dur(60000), "1m0s", "1m0s");
    is_str(dur(360000), "6m0s", "6m0s");
    is_str(dur(3723000), "1h2m3s", "1h2m3s");
    is_str(dur(3600000), "1h0m0s", "1h0m0s");
    ok(llr_format_duration(small, sizeof(small), 5) == 0,
       "duration: small buf");

    /* budget admission: refused once spent + reserved reaches the limit */

    ok(llr_budget_admit(0, 0, 5), "empty budget admits");
    ok(llr_budget_admit(4, 0, 5), "4 of 5 admits");
    ok(!llr_budget_admit(5, 0, 5), "5 of 5 refuses");
    ok(!llr_budget_admit(3, 2, 5), "3 spent + 2 reserved of 5 refuses");
    ok(llr_budget_admit(3, 1, 5), "3 spent + 1 reserved of 5 admits");
    ok(!llr_budget_admit(0, 0, 0), "a zero limit refuses everything");
    ok(!llr_budget_admit(UINT64_MAX, 2, UINT64_MAX), "overflow refuses");

    /* the sliding window: rpm 3, from an empty window */

    memset(&w, 0, sizeof(w));
    t = 1795614420000LL + 10000;    /* 10s into a minute */

    is_int(llr_window_admit(&w, t, 3, 1), 0, "rpm 3: 1st");
    is_int(llr_window_admit(&w, t, 3, 1), 0, "rpm 3: 2nd");
    is_int(llr_window_admit(&w, t, 3, 1), 0, "rpm 3: 3rd");
    is_int(w.cur, 3, "3 in the window");
    is_int(llr_window_admit(&w, t, 3, 1), 70000,
           "rpm 3: 4th waits 70s (20s into the next window, 3 weighs 2)");
    is_int(w.cur, 3, "a refusal counts nothing");
    is_int(llr_window_reset_ms(&w, t), 110000, "reset in 1m50s");
    is_int(llr_window_usage(&w, t), 3, "usage 3");

    /* next window, 30s in: prev 3 weighs 1.5, rounded up to 2 */

    t += 80000;
    llr_window_advance(&w, t);
    is_int(w.prev, 3, "cur became prev");
    is_int(w.cur, 0, "cur is empty");
    is_int(llr_window_usage(&w, t), 2, "usage 3 * 30/60 rounded up");
    is_int(llr_window_admit(&w, t, 3, 1), 0, "one more admitted");
    is_int(llr_window_admit(&w, t, 3, 1), 10000,
           "the next one waits until prev weighs 1 (40s in)");
    is_int(llr_window_admit(&w, t + 10000, 3, 1), 0, "admitted at 40s");
    is_int(llr_window_reset_ms(&w, t + 10000), 80000,
           "reset: the end of the next window");

    /* two windows later everything is gone */

    t += 130000;
    is_int(llr_window_usage(&w, t) + 0, 2, "usage before advancing");
    llr_window_advance(&w, t);
    ok(w.cur == 0 && w.prev == 0, "an idle window forgets");
    is_int(llr_window_reset_ms(&w, t), 0, "reset 0 when empty");

    /* tokens: more than the limit never passes */

    memset(&w, 0, sizeof(w));
    is_int(llr_window_admit(&w, t, 1000, 1001), -1, "too large for tpm");
    is_int(llr_window_admit(&w, t, 1000, 1000), 0, "exactly tpm");
    is_int(llr_window_admit(&w, t, 1000, 1), 20060,
           "1 more token: 60ms into the next window (40s in now)");

    /* corrections by actual usage */

    memset(&w, 0, sizeof(w));
    t = 1795614420000LL;
    (void) llr_window_admit(&w, t, 1000, 300);
    s = w.start;
    llr_window_correct(&w, t + 1000, s, 300, 100);
    is_int(w.cur, 100, "corrected down in the same window");
    llr_window_correct(&w, t + 1000, s, 100, 250);
    is_int(w.cur, 250, "corrected up in the same window");
    llr_window_correct(&w, t + 61000, s, 250, 50);
    is_int(w.prev, 50, "corrected in prev after the window moved");
    llr_window_correct(&w, t + 61000, s, 1000, 0);
    is_int(w.prev, 0, "never below 0");
    llr_window_correct(&w, t + 200000, s, 0, 500);
    ok(w.cur == 0 && w.prev == 0, "a correction of a forgotten window");

    /* a provider reporting 2^64-1 tokens: counts saturate, never wrap */

    memset(&w, 0, sizeof(w));
    (void) llr_window_admit(&w, t, 1000, 300);
    s = w.start;
    llr_window_correct(&w, t + 1000, s, 300, UINT64_MAX);
    ok(w.cur == UINT64_MAX, "a huge actual saturates cur");
    llr_window_correct(&w, t + 1000, s, 0, 5);
    ok(w.cur == UINT64_MAX, "and more stays saturated");
    ok(llr_window_usage(&w, t + 1000) == UINT64_MAX, "usage saturated");
    llr_window_advance(&w, t + 61000);
    ok(llr_window_usage(&w, t + 61000) > UINT64_MAX / 60 * 58,
       "a saturated prev weighs 59/60 of itself, without overflow");
    ok(llr_window_admit(&w, t + 61000, 1000, 1) > 0,
       "and refuses the next request");

    /* the clock going back keeps the window */

    memset(&w, 0, sizeof(w));
    (void) llr_window_admit(&w, t + 60000, 10, 2);
    llr_window_advance(&w, t);
    ok(w.start == t + 60000 && w.cur == 2, "clock back: window kept");
    is_int(llr_window_usage(&w, t), 2, "clock back: usage");

    done_testing();
}
