/*
 * libFuzzer target for core/llr_fbreq, the body of a feedback request:
 * any bytes; a body taken has a non-empty id of printable ASCII that
 * fits, and a score from -1000 to 1000; one refused says why.
 */

#include <stdlib.h>

#include "llr_fbreq.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t         i;
    const char    *err;
    llr_fb_req_t   req;

    err = NULL;

    if (llr_fb_parse(data, size, &req, &err) != 0) {
        if (err == NULL) {
            abort();
        }

        return 0;
    }

    if (req.id_len == 0 || req.id_len > LLR_FB_REQ_ID_MAX
        || req.score < -1000 || req.score > 1000)
    {
        abort();
    }

    for (i = 0; i < req.id_len; i++) {
        if (req.id[i] < 0x21 || req.id[i] > 0x7e) {
            abort();
        }
    }

    return 0;
}
