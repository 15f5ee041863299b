/*
 * libFuzzer target for core/llr_signal, the quality signals and the
 * scanners' hook: decoded text and escaped bodies alike, raw bodies
 * whole and in pieces alike (fuzz/quality_checks.h), with the default
 * refusal patterns.
 */

#include "quality_checks.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                   err[128];

    static llr_pattern_t   refusals;
    static llr_sig_conf_t  conf;

    if (conf.npatterns == 0) {
        if (llr_sig_refusal_default(&refusals, err, sizeof(err)) != 0) {
            abort();
        }

        conf.patterns = &refusals;
        conf.npatterns = 1;
    }

    if (qc_signal(&conf, data, size) != NULL) {
        abort();
    }

    return 0;
}
