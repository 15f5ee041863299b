/*
 * The reason lines of core/llr_select for a grid of inputs (difficulty,
 * floors, task, usable candidates, prices from $0 to above $10, prompt
 * and max_tokens), and every truncation of one in 49: what
 * bench/reason-diff.sh compares between two commits, byte for byte.
 */

#include <stdio.h>
#include <string.h>

#include "llr_cost.h"
#include "llr_select.h"


static const uint64_t  prices[] = {
    0, 1, 499999, 500000, 999999, 150000, 2500000, 10000000, 123456789,
    9999999999ULL, 60000000000ULL
};


static void
print(llr_select_in_t *in, unsigned d)
{
    char              reason[512], cut[512];
    size_t            sz;
    llr_select_out_t  out;

    llr_select(in, &out, reason, sizeof(reason));
    printf("%s|%zu\n", reason, out.reason_len);

    if (d % 49) {
        return;
    }

    for (sz = 1; sz <= strlen(reason) + 1; sz++) {
        llr_select(in, &out, cut, sz);
        printf("%zu:%s|%zu\n", sz, cut, out.reason_len);
    }
}


int
main(void)
{
    unsigned         d, f, h, t, u;
    llr_cand_t       c[3];
    llr_select_in_t  in;

    static const uint32_t  tq[3] = { LLR_Q_UNSET, 8000, 7500 };
    static const llr_cand_t  c0[3] = {
        { "A", 7800, tq, 150000, 600000, 128000, 1 },
        { "B", 9200, NULL, 2500000, 10000000, 128000, 1 },
        { "C", 8500, NULL, 50000, 200000, 8000, 1 },
    };

    memcpy(c, c0, sizeof(c));

    for (d = 0; d <= 10000; d += 7) {
        for (f = 0; f <= 10000; f += 1250) {
            for (h = 0; h <= 10000; h += 2500) {
                for (t = 0; t < 3; t++) {
                    for (u = 1; u < 8; u += 3) {
                        c[1].input = prices[(d + f) % 11];
                        c[1].output = prices[(d / 7 + h) % 11];
                        c[0].usable = u & 1;
                        c[1].usable = (u >> 1) & 1;
                        c[2].usable = (u >> 2) & 1;

                        memset(&in, 0, sizeof(in));
                        in.policy = (d & 1) ? "balanced" : NULL;
                        in.task = t;
                        in.ntasks = 3;
                        in.task_name = (t == 0) ? NULL : "code";
                        in.difficulty = d / 10000.0;
                        in.floor = f;
                        in.floor_hard = h;
                        in.prompt_tokens = (d * 37) % 20000 + 1;
                        in.max_tokens = (d % 3) ? -1 : (int64_t) (d % 9000);
                        in.cands = c;
                        in.ncands = 3;

                        print(&in, d);
                    }
                }
            }
        }
    }

    return 0;
}
