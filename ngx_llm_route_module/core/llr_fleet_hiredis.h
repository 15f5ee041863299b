/*
 * ngx_llm_route_module: a hiredis reply as core/llr_fleet reads it.
 *
 * Header only, and only for the files that use hiredis (the glue, the
 * test against a real Redis, the fuzzer that parses RESP with hiredis's
 * reader): core/llr_fleet itself knows no Redis client.  The strings are
 * not copied: the result lives as long as the hiredis reply.
 */

#ifndef _LLR_FLEET_HIREDIS_H_INCLUDED_
#define _LLR_FLEET_HIREDIS_H_INCLUDED_

#include <string.h>

#include <hiredis/hiredis.h>

#include "llr_fleet.h"


/* deeper nesting is never an answer of the sync script */
#define LLR_FLEET_HIREDIS_DEPTH  4

/*
 * nor a longer array: 1 + 2 per entry of a batch.  hiredis allocates an
 * array of the size the peer announces before reading it ("*700000000"
 * asks for 5.6 GB): a reader limited by llr_fleet_hiredis_limit() fails
 * such a reply as out of memory instead, and the connection is dropped.
 */
#define LLR_FLEET_HIREDIS_MAX_ELEMENTS  4096

#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
typedef size_t  llr_fleet_hiredis_n_t;
#else
typedef int     llr_fleet_hiredis_n_t;
#endif

static redisReplyObjectFunctions  llr_fleet_hiredis_fns;
static void *(*llr_fleet_hiredis_array)(const redisReadTask *task,
    llr_fleet_hiredis_n_t n);


static inline void *
llr_fleet_hiredis_create_array(const redisReadTask *task,
    llr_fleet_hiredis_n_t n)
{
    if (n < 0 || (size_t) n > LLR_FLEET_HIREDIS_MAX_ELEMENTS) {
        return NULL;
    }

    return llr_fleet_hiredis_array(task, n);
}


/* the reader's own functions, with arrays limited */
static inline void
llr_fleet_hiredis_limit(redisReader *r)
{
    if (r->fn == NULL || r->fn == &llr_fleet_hiredis_fns) {
        return;
    }

    llr_fleet_hiredis_fns = *r->fn;
    llr_fleet_hiredis_array = r->fn->createArray;
    llr_fleet_hiredis_fns.createArray = llr_fleet_hiredis_create_array;

    r->fn = &llr_fleet_hiredis_fns;
}


/*
 * NULL when out of memory or nested too deep; an element that cannot be
 * read is NULL in its array (the parsers refuse such an array); a RESP3
 * type (never asked for) has type 0 (refused too)
 */
static inline llr_fleet_reply_t *
llr_fleet_from_hiredis(const redisReply *r, const llr_alloc_t *a,
    unsigned depth)
{
    size_t              i;
    llr_fleet_reply_t  *fr;

    if (r == NULL || depth > LLR_FLEET_HIREDIS_DEPTH) {
        return NULL;
    }

    fr = a->malloc(a->ctx, sizeof(llr_fleet_reply_t));
    if (fr == NULL) {
        return NULL;
    }

    memset(fr, 0, sizeof(llr_fleet_reply_t));

    switch (r->type) {

    case REDIS_REPLY_STRING:
        fr->type = LLR_FLEET_R_STRING;
        break;

    case REDIS_REPLY_STATUS:
        fr->type = LLR_FLEET_R_STATUS;
        break;

    case REDIS_REPLY_ERROR:
        fr->type = LLR_FLEET_R_ERROR;
        break;

    case REDIS_REPLY_INTEGER:
        fr->type = LLR_FLEET_R_INTEGER;
        fr->integer = r->integer;
        return fr;

    case REDIS_REPLY_NIL:
        fr->type = LLR_FLEET_R_NIL;
        return fr;

    case REDIS_REPLY_ARRAY:
        fr->type = LLR_FLEET_R_ARRAY;

        if (r->elements == 0) {
            return fr;
        }

        fr->element = a->malloc(a->ctx,
                                r->elements * sizeof(llr_fleet_reply_t *));
        if (fr->element == NULL) {
            if (a->free) {
                a->free(a->ctx, fr);
            }

            return NULL;
        }

        fr->elements = r->elements;

        for (i = 0; i < r->elements; i++) {
            fr->element[i] = llr_fleet_from_hiredis(r->element[i], a,
                                                    depth + 1);
        }

        return fr;

    default:
        return fr;
    }

    /* the string types */
    fr->str = r->str;
    fr->len = r->str ? (size_t) r->len : 0;

    return fr;
}


/* what llr_fleet_from_hiredis() allocated (a->free may do nothing) */
static inline void
llr_fleet_hiredis_free(llr_fleet_reply_t *fr, const llr_alloc_t *a)
{
    size_t  i;

    if (fr == NULL || a->free == NULL) {
        return;
    }

    for (i = 0; i < fr->elements; i++) {
        llr_fleet_hiredis_free(fr->element[i], a);
    }

    if (fr->element) {
        a->free(a->ctx, fr->element);
    }

    a->free(a->ctx, fr);
}


#endif /* _LLR_FLEET_HIREDIS_H_INCLUDED_ */
