/*
 * libFuzzer target for core/llr_jsonv, the incremental JSON validator:
 * whole, in pieces and byte by byte alike, and as yajl says except
 * where yajl is lax (fuzz/quality_checks.h).
 */

#include "quality_checks.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (qc_jsonv(data, size) != NULL) {
        abort();
    }

    return 0;
}
