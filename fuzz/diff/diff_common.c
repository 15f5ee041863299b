/*
 * Differential fuzzing (fuzz/diff/): buffers, pieces, the text tap and
 * the reports of differences, shared by the targets and both sides.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diff.h"


void
diff_add(diff_buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL) {
            abort();
        }
    }

    if (n) {
        memcpy(b->s + b->len, p, n);
    }

    b->len += n;
}


void
diff_addf(diff_buf_t *b, const char *fmt, ...)
{
    int      n;
    char     tmp[512];
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);

    if (n > 0) {
        diff_add(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n
                                                  : sizeof(tmp) - 1);
    }
}


void
diff_buf_free(diff_buf_t *b)
{
    free(b->s);
    memset(b, 0, sizeof(diff_buf_t));
}


int
diff_buf_eq(const diff_buf_t *a, const diff_buf_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
}


size_t
diff_first(const diff_buf_t *a, const diff_buf_t *b)
{
    size_t  i;

    for (i = 0; i < a->len && i < b->len; i++) {
        if (a->s[i] != b->s[i]) {
            break;
        }
    }

    return i;
}


size_t
diff_piece(const unsigned char *data, size_t size, size_t i, unsigned step)
{
    size_t  n;

    if (step == 0) {
        return size - i;
    }

    n = 1 + (data[i] + step) % (2 * step);

    return n < size - i ? n : size - i;
}


/* the text tap: "<kind,choice,index>" raw bytes "</>" per string */

void
diff_tap(void *ctx, unsigned kind, uint32_t choice, uint32_t index,
    const unsigned char *raw, size_t len, unsigned flags)
{
    diff_buf_t  *b = ctx;

    if (flags & 1) {
        diff_addf(b, "<%u,%u,%u>", kind, choice, index);
    }

    diff_add(b, raw, len);

    if (flags & 2) {
        diff_add(b, "</>", 3);
    }
}


const char *
diff_show(const unsigned char *p, size_t len)
{
    size_t       i, o;
    static char  buf[4][700];
    static int   k;
    char        *d;

    d = buf[k++ & 3];
    o = 0;

    for (i = 0; i < len && o < sizeof(buf[0]) - 8; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
            d[o++] = (char) p[i];

        } else {
            o += (size_t) snprintf(d + o, 8, "\\x%02x", p[i]);
        }
    }

    if (i < len) {
        memcpy(d + o, "...", 3);
        o += 3;
    }

    d[o] = '\0';

    return d;
}


#define DIFF_CMP(f)  if (a->f != b->f) return #f

const char *
diff_resp_cmp(const diff_resp_t *a, const diff_resp_t *b)
{
    size_t  i;

    DIFF_CMP(prompt_tokens);
    DIFF_CMP(completion_tokens);
    DIFF_CMP(total_tokens);
    DIFF_CMP(cached_tokens);
    DIFF_CMP(reasoning_tokens);
    DIFF_CMP(cache_write_tokens);
    DIFF_CMP(cache_write_1h_tokens);
    DIFF_CMP(input_tokens);
    DIFF_CMP(usage_valid);
    DIFF_CMP(content_bytes);

    for (i = 0; i < DIFF_FINISH_N; i++) {
        DIFF_CMP(finish[i]);
    }

    DIFF_CMP(has_usage);
    DIFF_CMP(has_model);
    DIFF_CMP(error);
    DIFF_CMP(json_error);
    DIFF_CMP(model_len);
    DIFF_CMP(id_len);

    if (memcmp(a->model, b->model, sizeof(a->model)) != 0) {
        return "model";
    }

    if (memcmp(a->id, b->id, sizeof(a->id)) != 0) {
        return "id";
    }

    if (strcmp(a->error_type, b->error_type) != 0) {
        return "error_type";
    }

    if (strcmp(a->error_code, b->error_code) != 0) {
        return "error_code";
    }

    if (strcmp(a->error_message, b->error_message) != 0) {
        return "error_message";
    }

    return NULL;
}


void *
diff_malloc(void *ctx, size_t size)
{
    return malloc(size);
}


void *
diff_realloc(void *ctx, void *ptr, size_t size)
{
    return realloc(ptr, size);
}


void
diff_free(void *ctx, void *ptr)
{
    free(ptr);
}


int
diff_resp_check(const char *target, int run, const unsigned char *input,
    size_t size, const diff_resp_t *o, const diff_resp_t *n)
{
    char         k[64];
    const char  *f;

    f = diff_resp_cmp(o, n);
    if (f == NULL) {
        return 0;
    }

    snprintf(k, sizeof(k), "%s-run%d", f, run);
    diff_mismatch(target, k, input, size, "run %d: llr_resp_t.%s differs "
                  "(content_bytes old %llu new %llu, model old %s new %s)",
                  run, f, (unsigned long long) o->content_bytes,
                  (unsigned long long) n->content_bytes,
                  diff_show(o->model, o->model_len),
                  diff_show(n->model, n->model_len));
    return 1;
}


/* --- reports -------------------------------------------------------- */

#define DIFF_KINDS  256

static char      diff_seen[DIFF_KINDS][80];
static uint64_t  diff_count[DIFF_KINDS];
static unsigned  diff_nseen;


/* at exit: how often each kind was seen, into DIFF_INFO */
static void
diff_counts(void)
{
    FILE        *f;
    unsigned     i;
    const char  *path;

    path = getenv("DIFF_INFO");
    f = path != NULL && path[0] != '\0' ? fopen(path, "a") : NULL;

    for (i = 0; i < diff_nseen; i++) {
        fprintf(f ? f : stderr, "count %s %llu\n", diff_seen[i],
                (unsigned long long) diff_count[i]);
    }

    if (f != NULL) {
        fclose(f);
    }
}


/* the first time this kind is reported in this process (and counted) */
static int
diff_new_kind(const char *target, const char *kind)
{
    unsigned  i;
    char      k[80];

    snprintf(k, sizeof(k), "%s-%s", target, kind);

    for (i = 0; i < diff_nseen; i++) {
        if (strcmp(diff_seen[i], k) == 0) {
            diff_count[i]++;
            return 0;
        }
    }

    if (diff_nseen == DIFF_KINDS) {
        return 0;                       /* enough to read */
    }

    if (diff_nseen == 0) {
        atexit(diff_counts);
    }

    diff_count[diff_nseen] = 1;
    memcpy(diff_seen[diff_nseen++], k, sizeof(k));

    return 1;
}


static uint64_t
diff_hash(const unsigned char *p, size_t len)
{
    uint64_t  h = 0xcbf29ce484222325ULL;

    while (len--) {
        h = (h ^ *p++) * 0x100000001b3ULL;
    }

    return h;
}


static void
diff_save(const char *dir, const char *target, const char *kind,
    const unsigned char *input, size_t size, const char *what)
{
    FILE  *f;
    char   path[4096];

    (void) mkdir(dir, 0755);

    snprintf(path, sizeof(path), "%s/%s-%s-%016llx", dir, target, kind,
             (unsigned long long) diff_hash(input, size));

    f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "diff: %s: %s\n", path, strerror(errno));
        return;
    }

    fwrite(input, 1, size, f);
    fclose(f);

    strncat(path, ".txt", sizeof(path) - strlen(path) - 1);

    f = fopen(path, "w");
    if (f == NULL) {
        return;
    }

    fprintf(f, "%s\n", what);
    fclose(f);
}


void
diff_mismatch(const char *target, const char *kind,
    const unsigned char *input, size_t size, const char *fmt, ...)
{
    char        what[4096];
    va_list     ap;
    const char  *dir;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    dir = getenv("DIFF_OUT");

    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "DIFFERENCE %s %s: %s\ninput (%zu bytes): %s\n",
                target, kind, what, size, diff_show(input, size));
        abort();
    }

    if (!diff_new_kind(target, kind)) {
        return;
    }

    fprintf(stderr, "DIFFERENCE %s %s: %s\n", target, kind, what);
    diff_save(dir, target, kind, input, size, what);
}


void
diff_info(const char *target, const char *kind, const unsigned char *input,
    size_t size, const char *fmt, ...)
{
    FILE        *f;
    char         what[2048];
    va_list      ap;
    const char  *path;

    if (!diff_new_kind(target, kind)) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);

    path = getenv("DIFF_INFO");
    f = path != NULL && path[0] != '\0' ? fopen(path, "a") : NULL;

    fprintf(f ? f : stderr, "info %s %s: %s\n  input: %s\n", target, kind,
            what, diff_show(input, size));

    if (f != NULL) {
        fclose(f);
    }
}
