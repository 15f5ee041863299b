/*
 * ngx_llm_route_module: the body of a feedback request
 * (llm_route_feedback).
 *
 * Plain C, no nginx headers, no allocation, no global state.
 *
 *     {"id": "...", "score": -1 .. 1, "comment": "..."}
 *
 * The body must be exactly one JSON value (core/llr_jsonv), an object;
 * "id" a non-empty string of printable ASCII (ours, X-LLM-Route-Id, or
 * the provider's response id) of at most LLR_FB_REQ_ID_MAX bytes once
 * its escapes are undone; "score" a number from -1 to 1, kept in
 * thousandths (rounded half away from zero).  Every other member
 * ("comment" among them) is ignored, never kept; a key written with
 * escapes is another key; of a member given twice the last counts.
 */

#ifndef _LLR_FBREQ_H_INCLUDED_
#define _LLR_FBREQ_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


#define LLR_FB_REQ_ID_MAX    256


typedef struct {
    unsigned char   id[LLR_FB_REQ_ID_MAX];
    size_t          id_len;
    int32_t         score;          /* thousandths, -1000 .. 1000 */
} llr_fb_req_t;


/*
 * Parse the body [p, p + len): 0, or -1 with *err a static message
 * for the client ("score must be a number from -1 to 1", ...)
 */
int llr_fb_parse(const unsigned char *p, size_t len, llr_fb_req_t *req,
    const char **err);


#endif /* _LLR_FBREQ_H_INCLUDED_ */
