/*
 * ngx_llm_route_module: the endpoints of the API, found by their path
 * (llr_api.h).
 */

#include <string.h>

#include "llr_api.h"


#define llr_api_entry(s, body)  { s, sizeof(s) - 1, body }


/* in the order they are tried: "/chat/completions" before "/completions" */
static const struct {
    const char      *suffix;
    size_t           len;
    llr_endpoint_e   body;
} llr_apis[] = {
    llr_api_entry("/chat/completions", LLR_EP_CHAT),    /* LLR_API_CHAT */
    llr_api_entry("/completions", LLR_EP_COMPLETIONS),
    llr_api_entry("/embeddings", LLR_EP_EMBEDDINGS),
    llr_api_entry("/responses", LLR_EP_RESPONSES),
    llr_api_entry("/models", LLR_EP_ANY),
    llr_api_entry("", LLR_EP_ANY)                       /* LLR_API_UNKNOWN */
};


llr_api_e
llr_api_of_path(const unsigned char *path, size_t len)
{
    size_t  i, n;

    for (i = 0; i < LLR_API_UNKNOWN; i++) {
        n = llr_apis[i].len;

        if (len >= n && memcmp(path + len - n, llr_apis[i].suffix, n) == 0) {
            break;
        }
    }

    return (llr_api_e) i;
}


const char *
llr_api_suffix(llr_api_e api, size_t *len)
{
    if ((unsigned) api > LLR_API_UNKNOWN) {
        api = LLR_API_UNKNOWN;
    }

    *len = llr_apis[api].len;

    return llr_apis[api].suffix;
}


llr_endpoint_e
llr_api_body(llr_api_e api)
{
    return (unsigned) api < LLR_API_UNKNOWN ? llr_apis[api].body : LLR_EP_ANY;
}


int
llr_api_model_id(const unsigned char *path, size_t len,
    const unsigned char **id, size_t *id_len)
{
    const unsigned char  *p, *last;

    static const char  models[] = "/models/";

    last = path + len;

    for (p = path; p + sizeof(models) - 1 <= last; p++) {
        if (memcmp(p, models, sizeof(models) - 1) == 0) {
            *id = p + sizeof(models) - 1;
            *id_len = (size_t) (last - *id);

            return *id_len ? 0 : -1;
        }
    }

    return -1;
}
