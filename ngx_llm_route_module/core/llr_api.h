/*
 * ngx_llm_route_module: the endpoints of the API, found by their path.
 *
 * Plain C, no nginx headers, no global state.  Both the router and the
 * mock provider know an endpoint by the end of the request's path
 * ("/v1/chat/completions", "/openai/v1/chat/completions" alike): the
 * first suffix of the table that the path ends with.  The router sends
 * that suffix on, after the provider's base path.
 */

#ifndef _LLR_API_H_INCLUDED_
#define _LLR_API_H_INCLUDED_

#include <stddef.h>

#include "llr_req.h"


typedef enum {
    LLR_API_CHAT = 0,           /* .../chat/completions */
    LLR_API_COMPLETIONS,        /* .../completions */
    LLR_API_EMBEDDINGS,         /* .../embeddings */
    LLR_API_RESPONSES,          /* .../responses */
    LLR_API_MODELS,             /* .../models (and .../models/{id}) */
    LLR_API_UNKNOWN
} llr_api_e;


/* the endpoint whose suffix ends the path, or LLR_API_UNKNOWN */
llr_api_e llr_api_of_path(const unsigned char *path, size_t len);

/* its suffix ("/chat/completions"), "" for LLR_API_UNKNOWN */
const char *llr_api_suffix(llr_api_e api, size_t *len);

/* what the request scanner requires of its body */
llr_endpoint_e llr_api_body(llr_api_e api);

/*
 * The id of GET .../models/{id}: what follows the first "/models/" of
 * the (decoded) path, so that an id may hold '/' ("org/model", which
 * SDKs send as "org%2Fmodel").  Returns 0 and sets *id, *id_len, or -1
 * if there is none (no "/models/", or nothing after it).
 */
int llr_api_model_id(const unsigned char *path, size_t len,
    const unsigned char **id, size_t *id_len);


#endif /* _LLR_API_H_INCLUDED_ */
