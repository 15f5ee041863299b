/*
 * core/llr_api: the endpoint of a request, by the end of its path.
 */

#include "tap.h"
#include "llr_api.h"


typedef struct {
    const char  *path;
    llr_api_e    api;
    const char  *suffix;
} path_case_t;


typedef struct {
    const char  *path;
    const char  *id;            /* NULL: none */
} id_case_t;


static const path_case_t  paths[] = {
    { "/v1/chat/completions", LLR_API_CHAT, "/chat/completions" },
    { "/openai/v1/chat/completions", LLR_API_CHAT, "/chat/completions" },
    { "/v1/completions", LLR_API_COMPLETIONS, "/completions" },
    { "/completions", LLR_API_COMPLETIONS, "/completions" },
    { "/v1/embeddings", LLR_API_EMBEDDINGS, "/embeddings" },
    { "/v1/responses", LLR_API_RESPONSES, "/responses" },
    { "/v1/models", LLR_API_MODELS, "/models" },
    { "/v1/models/gpt-4o", LLR_API_UNKNOWN, "" },
    { "/v1/chat/completions/", LLR_API_UNKNOWN, "" },
    { "/v1/chat", LLR_API_UNKNOWN, "" },
    { "ompletions", LLR_API_UNKNOWN, "" },
    { "", LLR_API_UNKNOWN, "" }
};


static const id_case_t  ids[] = {
    { "/v1/models/gpt-4o", "gpt-4o" },
    { "/v1/models/org/model", "org/model" },
    { "/v1/models/a/models/b", "a/models/b" },
    { "/v1/models/", NULL },
    { "/v1/models", NULL },
    { "/v1/chat/completions", NULL },
    { "/models/", NULL },
    { "", NULL }
};


int
main(void)
{
    size_t                i, len, id_len;
    const char           *suffix;
    const unsigned char  *id;
    char                  buf[64];

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        is_int(llr_api_of_path((const unsigned char *) paths[i].path,
                               strlen(paths[i].path)),
               paths[i].api, "\"%s\": endpoint %d", paths[i].path,
               (int) paths[i].api);

        suffix = llr_api_suffix(paths[i].api, &len);
        is_int(len, strlen(paths[i].suffix), "\"%s\": suffix length",
               paths[i].path);
        is_str(suffix, paths[i].suffix, "\"%s\": suffix", paths[i].path);
    }

    suffix = llr_api_suffix((llr_api_e) 99, &len);
    ok(suffix != NULL && len == 0, "no such endpoint: an empty suffix");

    /* what the scanner requires of each body */

    is_int(llr_api_body(LLR_API_CHAT), LLR_EP_CHAT, "chat: messages");
    is_int(llr_api_body(LLR_API_COMPLETIONS), LLR_EP_COMPLETIONS,
           "completions: prompt");
    is_int(llr_api_body(LLR_API_EMBEDDINGS), LLR_EP_EMBEDDINGS,
           "embeddings: input");
    is_int(llr_api_body(LLR_API_RESPONSES), LLR_EP_RESPONSES,
           "responses: input");
    is_int(llr_api_body(LLR_API_MODELS), LLR_EP_ANY, "models: any");
    is_int(llr_api_body(LLR_API_UNKNOWN), LLR_EP_ANY, "unknown: any");

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        id = NULL;
        id_len = 0;

        if (llr_api_model_id((const unsigned char *) ids[i].path,
                             strlen(ids[i].path), &id, &id_len)
            != 0)
        {
            ok(ids[i].id == NULL, "\"%s\": no model id", ids[i].path);
            continue;
        }

        snprintf(buf, sizeof(buf), "%.*s", (int) id_len, (const char *) id);
        is_str(ids[i].id ? buf : NULL, ids[i].id, "\"%s\": model id \"%s\"",
               ids[i].path, buf);
    }

    done_testing();
}
