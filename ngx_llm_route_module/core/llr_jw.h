/*
 * ngx_llm_route_module: a compact JSON writer.
 *
 * Plain C, no nginx headers, no global state.
 *
 * Writes one JSON text into a buffer that grows by doubling from the
 * caller's allocator (llr_alloc_t); the commas between members and
 * elements are its business, the caller only says what comes.  Strings
 * are escaped with llr_json_escape() (llr_req.h): any bytes give valid
 * JSON text (a byte that is not UTF-8 becomes \ufffd).  Numbers are
 * written as given (the text of a parsed number stays digit for digit).
 *
 * An allocation failure, or nesting deeper than LLR_JW_MAX_DEPTH, sets
 * failed; the writer then ignores everything until llr_jw_reset().
 */

#ifndef _LLR_JW_H_INCLUDED_
#define _LLR_JW_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>

#include "llr_req.h"
#include "llr_mock.h"


#define LLR_JW_MAX_DEPTH  128


typedef struct {
    unsigned char  *data;
    size_t          len;
    size_t          cap;
    llr_alloc_t     alloc;

    unsigned        depth;
    unsigned        failed:1;
    unsigned        after_key:1;
    uint64_t        some[LLR_JW_MAX_DEPTH / 64];  /* a container at depth
                                                     d has a value */
} llr_jw_t;


/* an empty writer; the buffer is allocated when first written */
void llr_jw_init(llr_jw_t *w, const llr_alloc_t *alloc);

/* forget what was written (the buffer is kept) */
void llr_jw_reset(llr_jw_t *w);

/*
 * The next value is a new top-level one, after what was written (one
 * JSON text per SSE event, framing around them written with
 * llr_jw_raw()).
 */
void llr_jw_top(llr_jw_t *w);

/* release the buffer (alloc.free, if set) */
void llr_jw_free(llr_jw_t *w);

void llr_jw_open(llr_jw_t *w, int object);
void llr_jw_close(llr_jw_t *w, int object);
#define llr_jw_obj(w)        llr_jw_open(w, 1)
#define llr_jw_obj_end(w)    llr_jw_close(w, 1)
#define llr_jw_arr(w)        llr_jw_open(w, 0)
#define llr_jw_arr_end(w)    llr_jw_close(w, 0)

/* a member's name (NUL-terminated, or len bytes) */
void llr_jw_key(llr_jw_t *w, const char *key);
void llr_jw_keyn(llr_jw_t *w, const char *key, size_t len);

/* values */
void llr_jw_str(llr_jw_t *w, const void *s, size_t len);
void llr_jw_cstr(llr_jw_t *w, const char *s);
void llr_jw_num(llr_jw_t *w, const char *s, size_t len);   /* as written */
void llr_jw_uint(llr_jw_t *w, uint64_t v);
void llr_jw_int(llr_jw_t *w, int64_t v);
void llr_jw_bool(llr_jw_t *w, int b);
void llr_jw_null(llr_jw_t *w);

/* a parsed value, whole (object members in their order) */
void llr_jw_value(llr_jw_t *w, const llr_jv_t *v);

/* a member whose value is v when v is a string, else "" */
void llr_jw_member_str(llr_jw_t *w, const char *key, const llr_jv_t *v);

/*
 * A parsed value's JSON text as a string value (tool call arguments);
 * the text is written into scratch first (reset here).
 */
void llr_jw_value_str(llr_jw_t *w, llr_jw_t *scratch, const llr_jv_t *v);

/* bytes as they are (already JSON, or SSE framing around it) */
void llr_jw_raw(llr_jw_t *w, const void *s, size_t len);

/*
 * The bytes written raw since the last top-level value opened depth
 * containers, each holding members already but the innermost: writing
 * goes on in it (a cached prefix of an SSE event's JSON).
 */
void llr_jw_resume(llr_jw_t *w, unsigned depth);


#endif /* _LLR_JW_H_INCLUDED_ */
