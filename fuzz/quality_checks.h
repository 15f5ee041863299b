/*
 * The checks of fuzz_jsonv and fuzz_signal, also run by
 * t/unit/test_regressions.c on every seed and regression input.  Each
 * returns 0, or a message naming what differed.
 *
 * jsonv:  the text fed whole, in pieces (sizes from the first byte) and
 *         a byte at a time gives the same verdict and failing offset;
 *         yajl agrees except where it is known to be lax (llr_jsonv.h),
 *         where the validator is the stricter one.
 *
 * signal: input: a flags byte (bit 0 JSON mode, bits 1-3 piece size - 1,
 *         bits 4-5 the finish reason: stop, length, content_filter,
 *         tool_calls), then records: kind (low 2 bits), choice (% 6),
 *         index (% 8), length, that many bytes of text.  The records
 *         fed as decoded text and through the scanners' hook as JSON
 *         string bodies (escaped here, cut in pieces) give the same
 *         signals and counts; the records' bytes given to the hook as
 *         they are (any escapes, good or bad) give the same whole and
 *         in pieces.
 */

#ifndef _LLR_QUALITY_CHECKS_H_INCLUDED_
#define _LLR_QUALITY_CHECKS_H_INCLUDED_

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "llr_jsonv.h"
#include "llr_req.h"
#include "llr_signal.h"


static inline int
qc_jsonv_run(const uint8_t *data, size_t size, size_t step, llr_jsonv_t *v)
{
    size_t  i, n;

    llr_jsonv_init(v);

    for (i = 0; i < size; i += n) {
        n = step ? step + (data[i] % 3) : size;
        n = n < size - i ? n : size - i;

        if (llr_jsonv_feed(v, data + i, n) != LLR_JSONV_MORE) {
            break;
        }
    }

    return llr_jsonv_finish(v);
}


/* where yajl accepts more than RFC 8259 (llr_jsonv.h) */
static inline int
qc_yajl_lax(const uint8_t *p, size_t len, const llr_jsonv_t *v)
{
    size_t  i, n;

    for (i = 0; i < len; i++) {
        if (p[i] == 0x0b || p[i] == 0x0c) {
            return 1;
        }
    }

    for (i = 0; i < len; i += n) {
        n = llr_utf8_char(p + i, len - i);

        if (n == 0) {
            return 1;
        }
    }

    return v->offset < len && p[v->offset] == '"';
}


static inline const char *
qc_jsonv(const uint8_t *data, size_t size)
{
    int          a, b, c, y;
    size_t       step;
    llr_jsonv_t  va, vb, vc;
    yajl_handle  h;

    if (size < 1) {
        return NULL;
    }

    step = 1 + data[0] % 16;
    data++;
    size--;

    a = qc_jsonv_run(data, size, 0, &va);
    b = qc_jsonv_run(data, size, step, &vb);
    c = qc_jsonv_run(data, size, 1, &vc);

    if (a != b || a != c) {
        return "the verdict depends on the pieces";
    }

    if (a != LLR_JSONV_VALID
        && (va.offset != vb.offset || va.offset != vc.offset))
    {
        return "the failing offset depends on the pieces";
    }

    if (a == LLR_JSONV_DEEP) {
        return NULL;
    }

    h = yajl_alloc(NULL, NULL, NULL);

    if (h == NULL) {
        abort();
    }

    y = (yajl_parse(h, data, size) == yajl_status_ok
         && yajl_complete_parse(h) == yajl_status_ok);
    yajl_free(h);

    if (a == LLR_JSONV_VALID && !y) {
        return "valid, but not for yajl";
    }

    if (a == LLR_JSONV_INVALID && y && !qc_yajl_lax(data, size, &va)) {
        return "invalid, but valid for yajl";
    }

    return NULL;
}


/* a JSON body of the bytes: quotes, backslashes, controls escaped */
static inline size_t
qc_escape(unsigned char *d, const unsigned char *s, size_t len,
    unsigned salt)
{
    size_t          i;
    unsigned char  *p;

    p = d;

    for (i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            *p++ = '\\';
            *p++ = s[i];

        } else if (s[i] < 0x20 || (s[i] < 0x80 && (s[i] + salt) % 7 == 0)) {
            p += sprintf((char *) p, "\\u%04x", s[i]);

        } else {
            *p++ = s[i];
        }
    }

    return (size_t) (p - d);
}


typedef struct {
    uint32_t    signals;
    uint32_t    tools;
    uint32_t    early;
    uint64_t    bytes[LLR_SIG_CHOICES];
} qc_sig_result_t;


/* mode 0: text, 1: hook with escaped bodies, 2: hook with the bytes */
static inline void
qc_signal_run(const llr_sig_conf_t *conf, const uint8_t *data, size_t size,
    int mode, size_t piece, qc_sig_result_t *res)
{
    int            i;
    size_t         n, len, at, j, elen;
    unsigned       kind, choice, index;
    llr_sig_t      s;
    uint32_t       finish[LLR_FINISH_N];
    unsigned char  esc[255 * 6 + 1];        /* sprintf()'s NUL */

    static const llr_finish_e  fins[4] = {
        LLR_FINISH_STOP, LLR_FINISH_LENGTH, LLR_FINISH_CONTENT_FILTER,
        LLR_FINISH_TOOL_CALLS
    };

    llr_sig_init(&s, conf, data[0] & 1);

    for (n = 1; n + 4 <= size; n += 4 + len) {
        kind = data[n] & 3;
        choice = data[n + 1] % 6;
        index = data[n + 2] % 8;
        len = data[n + 3];
        len = len < size - n - 4 ? len : size - n - 4;

        if (mode == 0) {
            llr_sig_text(&s, kind, choice, index, data + n + 4, len);
            continue;
        }

        if (mode == 1) {
            elen = qc_escape(esc, data + n + 4, len, (unsigned) n);

        } else {
            memcpy(esc, data + n + 4, len);
            elen = len;
        }

        if (elen == 0) {
            llr_sig_tap(&s, kind, choice, index, esc, 0,
                        LLR_TEXT_BEGIN | LLR_TEXT_END);
            continue;
        }

        for (j = 0; j < elen; j = at) {
            at = piece ? j + piece : elen;
            at = at < elen ? at : elen;
            llr_sig_tap(&s, kind, choice, index, esc + j, at - j,
                        (j == 0 ? LLR_TEXT_BEGIN : 0)
                        | (at == elen ? LLR_TEXT_END : 0));
        }
    }

    memset(finish, 0, sizeof(finish));
    finish[fins[(data[0] >> 4) & 3]] = 1;

    memset(res, 0, sizeof(qc_sig_result_t));
    res->signals = llr_sig_end(&s, finish);
    res->tools = s.tools;
    res->early = s.tools_early;

    for (i = 0; i < LLR_SIG_CHOICES; i++) {
        res->bytes[i] = s.choice[i].bytes;
    }
}


static inline const char *
qc_signal(const llr_sig_conf_t *conf, const uint8_t *data, size_t size)
{
    size_t           piece;
    qc_sig_result_t  a, b;

    if (size < 1) {
        return NULL;
    }

    piece = 1 + ((data[0] >> 1) & 7);

    qc_signal_run(conf, data, size, 0, 0, &a);
    qc_signal_run(conf, data, size, 1, piece, &b);

    if (memcmp(&a, &b, sizeof(qc_sig_result_t)) != 0) {
        return "decoded text and escaped bodies differ";
    }

    qc_signal_run(conf, data, size, 2, 0, &a);
    qc_signal_run(conf, data, size, 2, piece, &b);

    if (memcmp(&a, &b, sizeof(qc_sig_result_t)) != 0) {
        return "raw bodies whole and in pieces differ";
    }

    return NULL;
}


#endif /* _LLR_QUALITY_CHECKS_H_INCLUDED_ */
