/*
 * Differential libFuzzer target: the usage scanner (llr_usage) on JSON
 * answers, the old tree against the new one (fuzz/diff.sh).
 *
 * Input: as fuzz/fuzz_usage.c's, so its seeds serve: the first byte
 * gives the piece size (low 4 bits) and the format (bit 4: Anthropic);
 * the rest is the answer.  It is scanned twice by both sides with the
 * same pieces: without the text tap in pieces of 1..2s bytes, and with
 * the tap (which also keeps the answer's "id") in pieces of 1..2s+6
 * bytes.  Required the same: what llr_usage_feed() and
 * llr_usage_finish() return, every llr_resp_t field (usage counts and
 * their validity, content bytes, finish reasons, model, id, error and
 * its type, code and message) and the strings the tap saw (kind,
 * choice, index and the raw body of each, however the pieces cut them).
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "diff.h"


static void
usage_cmp(int run, const uint8_t *data, size_t size,
    const diff_usage_res_t *o, const diff_usage_res_t *n)
{
    size_t  at;
    char    a[800], k[64];

    if (o->feed_rc != n->feed_rc || o->finish_rc != n->finish_rc) {
        snprintf(k, sizeof(k), "rc-run%d", run);
        diff_mismatch("usage", k, data, size, "run %d: feed/finish "
                      "returned old %d/%d new %d/%d", run, o->feed_rc,
                      o->finish_rc, n->feed_rc, n->finish_rc);
        return;
    }

    if (diff_resp_check("usage", run, data, size, &o->res, &n->res)) {
        return;
    }

    if (!diff_buf_eq(&o->tap, &n->tap)) {
        at = diff_first(&o->tap, &n->tap);
        snprintf(a, sizeof(a), "%s", diff_show(o->tap.s + at,
                 o->tap.len - at < 120 ? o->tap.len - at : 120));
        snprintf(k, sizeof(k), "tap-run%d", run);
        diff_mismatch("usage", k, data, size, "run %d: the tap's strings "
                      "differ at ...%s / ...%s", run, a,
                      diff_show(n->tap.s + at,
                                n->tap.len - at < 120 ? n->tap.len - at
                                                      : 120));
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                run;
    diff_usage_cfg_t   cfg;
    diff_usage_res_t   o, n;

    if (size < 1) {
        return 0;
    }

    for (run = 1; run <= 2; run++) {
        cfg.anthropic = (data[0] & 0x10) != 0;
        cfg.step = 1 + data[0] % 16 + (run == 2 ? 3 : 0);
        cfg.tap = run == 2;

        old_side_usage_run(&cfg, data + 1, size - 1, &o);
        new_side_usage_run(&cfg, data + 1, size - 1, &n);

        usage_cmp(run, data, size, &o, &n);

        diff_buf_free(&o.tap);
        diff_buf_free(&n.tap);
    }

    return 0;
}
