/*
 * ngx_llm_route_module: the arithmetic of budgets and rate limits.
 *
 * Plain C, no nginx headers, no global state.  Times are UTC epoch
 * seconds (periods) or epoch milliseconds (rate windows).
 *
 * Budgets.  A budget's period starts at a UTC boundary: the minute, the
 * hour, the day (00:00), the ISO week (Monday 00:00), the month (the 1st,
 * 00:00), or never ("total": it never resets).  A request is admitted
 * while spent + reserved < limit (OpenAI refuses when the quota is used
 * up, not when a request might use it up): see llr_budget_admit().
 *
 * Rate limits.  A sliding window approximated by two fixed windows of
 * LLR_RATE_WINDOW_MS aligned on the epoch minute: the usage at time t is
 *
 *     cur + prev * (W - (t - start)) / W
 *
 * where cur is what was admitted in the current window [start, start+W)
 * and prev what was admitted in the window before it.  A request of
 * `cost` units (1 request, or its estimated tokens) is admitted when
 * usage + cost <= limit.
 */

#ifndef _LLR_LIMITS_H_INCLUDED_
#define _LLR_LIMITS_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


typedef enum {
    LLR_PERIOD_MINUTE = 0,
    LLR_PERIOD_HOUR,
    LLR_PERIOD_DAY,
    LLR_PERIOD_WEEK,
    LLR_PERIOD_MONTH,
    LLR_PERIOD_TOTAL,
    LLR_PERIOD_N
} llr_period_e;


#define LLR_RATE_WINDOW_MS   60000


/* "minute", "hour", ...: 0 and *period set, or -1 */
int llr_period_parse(const char *s, size_t len, llr_period_e *period);

/* the name of a period ("day"), a static string */
const char *llr_period_name(llr_period_e period);

/*
 * The start of the period containing `now` (UTC epoch seconds); 0 for
 * LLR_PERIOD_TOTAL.  Negative times are not supported (clamped to 0).
 */
int64_t llr_period_start(llr_period_e period, int64_t now);

/*
 * The start of the period after the one that starts at `start` (the
 * reset time); 0 for LLR_PERIOD_TOTAL (never).
 */
int64_t llr_period_next(llr_period_e period, int64_t start);

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back
 * (month 1..12, day 1..31).
 */
int64_t llr_days_from_civil(int64_t y, unsigned m, unsigned d);
void llr_civil_from_days(int64_t days, int64_t *y, unsigned *m,
    unsigned *d);

/*
 * "2026-11-23T00:00:00Z", NUL-terminated; returns the length (20), or 0
 * if size < 21.
 */
size_t llr_format_iso8601(char *buf, size_t size, int64_t t);

/*
 * A duration as OpenAI's x-ratelimit-reset-* headers write it (Go's
 * time.Duration format): "0s", "17ms", "6s", "1.5s", "1m0s", "1h2m3s".
 * NUL-terminated; returns the length, or 0 if size < 32.
 */
size_t llr_format_duration(char *buf, size_t size, uint64_t ms);


/* budgets: admitted (1) while spent + reserved < limit */
int llr_budget_admit(uint64_t spent, uint64_t reserved, uint64_t limit);


/* two fixed windows making a sliding one */
typedef struct {
    int64_t     start;     /* ms, start of the current window, 0: none */
    uint64_t    cur;
    uint64_t    prev;
} llr_window_t;

/* move the window to the one containing now_ms (older counts age out) */
void llr_window_advance(llr_window_t *w, int64_t now_ms);

/*
 * The weighted usage at now_ms (after llr_window_advance), rounded up:
 * cur + ceil(prev * (W - elapsed) / W).
 */
uint64_t llr_window_usage(const llr_window_t *w, int64_t now_ms);

/*
 * Admission of `cost` units under `limit` (advances the window first).
 * Returns 0 and adds cost to cur if usage + cost <= limit; otherwise
 * returns the milliseconds to wait until it would be admitted with no
 * other traffic (>= 1), or -1 if it never can (cost > limit).
 */
int64_t llr_window_admit(llr_window_t *w, int64_t now_ms, uint64_t limit,
    uint64_t cost);

/*
 * Milliseconds from now_ms until the window is empty again with no
 * further traffic (OpenAI's "reset" of a limit to its initial state).
 */
uint64_t llr_window_reset_ms(const llr_window_t *w, int64_t now_ms);

/*
 * Correct an admission made at admitted_start (the window's start then)
 * from `est` to `actual` units: counted in cur or prev if that window is
 * still one of them, forgotten otherwise.  Never goes below 0.
 */
void llr_window_correct(llr_window_t *w, int64_t now_ms,
    int64_t admitted_start, uint64_t est, uint64_t actual);


/*
 * OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens}
 * headers, of one kind: of all the rate limits that apply to a request,
 * the one that leaves the fewest remaining (the first of equals).
 */
typedef struct {
    unsigned    set:1;          /* a limit of this kind applies */
    uint64_t    limit;
    uint64_t    remaining;
    uint64_t    reset_ms;       /* llr_window_reset_ms() */
} llr_ratelimit_t;

/* a limit of `limit` per window w applies at now_ms (after admission) */
void llr_ratelimit_note(llr_ratelimit_t *h, uint64_t limit,
    const llr_window_t *w, int64_t now_ms);


#endif /* _LLR_LIMITS_H_INCLUDED_ */
