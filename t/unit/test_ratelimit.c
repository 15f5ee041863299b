/*
 * core/llr_limits: the x-ratelimit-* headers, the tightest of the rate
 * limits that apply to a request.
 */

#include <stdint.h>

#include "tap.h"
#include "llr_limits.h"


/* a minute boundary, and 15 s into it */
#define START  1795614420000LL
#define NOW    (START + 15000)


typedef struct {
    const char  *name;
    uint64_t     limit;
    uint64_t     cur;           /* this minute's window */
    uint64_t     prev;          /* the minute before */
    unsigned     kept;          /* the header is this limit's now */
    uint64_t     remaining;     /* the header's, after it */
    uint64_t     reset_ms;
} note_case_t;


/* one request's limits, noted in turn */
static const note_case_t  notes[] = {
    { "the first limit sets the header", 10, 3, 0, 1, 7, 105000 },
    { "one leaving fewer takes it over", 100, 95, 0, 1, 5, 105000 },
    { "one leaving as many does not", 20, 15, 0, 0, 5, 105000 },
    { "one leaving more does not", 1000, 1, 0, 0, 5, 105000 },
    { "the last minute counts, weighted", 8, 0, 6, 1, 3, 45000 },
    { "over its limit: none remaining", 10, 12, 0, 1, 0, 105000 }
};


int
main(void)
{
    size_t            i;
    uint64_t          limit;
    llr_window_t      w;
    llr_ratelimit_t   h;

    memset(&h, 0, sizeof(h));
    limit = 0;

    for (i = 0; i < sizeof(notes) / sizeof(notes[0]); i++) {
        w.start = START;
        w.cur = notes[i].cur;
        w.prev = notes[i].prev;

        llr_ratelimit_note(&h, notes[i].limit, &w, NOW);

        if (notes[i].kept) {
            limit = notes[i].limit;
        }

        ok(h.set, "%s: a header", notes[i].name);
        is_int(h.limit, limit, "%s: the limit", notes[i].name);
        is_int(h.remaining, notes[i].remaining, "%s: remaining",
               notes[i].name);
        is_int(h.reset_ms, notes[i].reset_ms, "%s: reset", notes[i].name);
    }

    /* an empty window: the whole limit, nothing to reset */

    memset(&h, 0, sizeof(h));
    memset(&w, 0, sizeof(w));
    w.start = START;

    llr_ratelimit_note(&h, 60, &w, NOW);

    is_int(h.remaining, 60, "an empty window: all remaining");
    is_int(h.reset_ms, 0, "an empty window: nothing to reset");

    done_testing();
}
