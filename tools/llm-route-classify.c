/*
 * llm-route-classify: classifies JSON lines with the module's own code.
 *
 *   llm-route-classify [-m MODEL] [-b CONTEXT_BYTES] [-x] < lines
 *
 * Each input line is {"prompt": "..."} or an OpenAI request body
 * ({"messages": [...]}); it is read by the request scanner (llr_req,
 * as the module reads a body) with the classifier as its text sink.
 * Each output line is {"task": "...", "difficulty": 0.xxxx,
 * "scores": {...}} or {"error": "..."} for a line that does not parse.
 * With -x each output line is exact instead, to compare two builds of
 * the classifier bit for bit (bench/cls-diff.sh): the task's index, the
 * calibrated difficulty, the raw logit and every probability, as C99
 * hexadecimal floats ("%a"), or "error" and the message.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ngx_llm_route_module/core/llr_req.h"
#include "../ngx_llm_route_module/core/llr_classify.h"
#include "../ngx_llm_route_module/core/llr_classify_train.h"


/*
 * A per-line arena, as the module's request pool: bump allocation, the
 * last block grows in place, everything is released at once after the
 * line.  (libc malloc/free would cost more than the pool the module
 * uses, and would be counted in the callgrind measurement.)
 */

typedef struct arena_chunk_s  arena_chunk_t;

struct arena_chunk_s {
    arena_chunk_t  *next;
    size_t          size;
    size_t          used;
    size_t          last;          /* offset of the last block */
    unsigned char   data[];
};

#define ARENA_CHUNK  65536
#define ARENA_ALIGN  16
#define ARENA_HDR    16            /* the block's size, kept aligned */

static arena_chunk_t  *arena;


static void *
cls_malloc(void *ctx, size_t size)
{
    size_t          need, csize;
    unsigned char  *p;
    arena_chunk_t  *c;

    need = ARENA_HDR + ((size + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1));
    c = arena;

    if (c == NULL || c->size - c->used < need) {
        csize = need > ARENA_CHUNK ? need : ARENA_CHUNK;

        c = malloc(sizeof(arena_chunk_t) + csize);
        if (c == NULL) {
            return NULL;
        }

        c->size = csize;
        c->used = 0;
        c->last = 0;
        c->next = arena;
        arena = c;
    }

    p = c->data + c->used;
    memcpy(p, &size, sizeof(size_t));

    c->last = c->used;
    c->used += need;

    return p + ARENA_HDR;
}


static void *
cls_realloc(void *ctx, void *old, size_t size)
{
    size_t          osize, need;
    unsigned char  *p;

    if (old == NULL) {
        return cls_malloc(ctx, size);
    }

    p = (unsigned char *) old - ARENA_HDR;
    memcpy(&osize, p, sizeof(size_t));

    /* the last block of the current chunk grows in place */

    need = ARENA_HDR + ((size + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1));

    if (arena && p == arena->data + arena->last
        && arena->last + need <= arena->size)
    {
        memcpy(p, &size, sizeof(size_t));
        arena->used = arena->last + need;
        return old;
    }

    p = cls_malloc(ctx, size);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, old, osize < size ? osize : size);

    return p;
}


static void
cls_free(void *ctx, void *p)
{
    /* released with the arena */
}


static void
arena_reset(void)
{
    arena_chunk_t  *c, *next;

    if (arena == NULL) {
        return;
    }

    /* keep the newest chunk for the next line */

    for (c = arena->next; c; c = next) {
        next = c->next;
        free(c);
    }

    arena->next = NULL;
    arena->used = 0;
    arena->last = 0;
}


static void
arena_destroy(void)
{
    arena_reset();
    free(arena);
    arena = NULL;
}


static void
print_json_string(const char *s)
{
    size_t          n;
    unsigned char  *buf;

    n = llr_json_escape_len((const unsigned char *) s, strlen(s));
    buf = malloc(n + 1);
    if (buf == NULL) {
        fputs("\"\"", stdout);
        return;
    }

    n = llr_json_escape(buf, (const unsigned char *) s, strlen(s));
    putchar('"');
    fwrite(buf, 1, n, stdout);
    putchar('"');
    free(buf);
}


/*
 * Classify one request body.  Returns 0, or -1 with *msg set.  Kept as
 * one function: the callgrind measurement toggles on it.
 */
static char  errbuf[512];
static long  ctx_budget = -1;      /* -b: the context budget, or built-in */
static int   exact;                /* -x: results as hexadecimal floats */


int classify_line(const llr_cls_model_t *m, void *state,
    const unsigned char *line, size_t len, llr_cls_result_t *res,
    const char **msg);

int
classify_line(const llr_cls_model_t *m, void *state,
    const unsigned char *line, size_t len, llr_cls_result_t *res,
    const char **msg)
{
    int           rc;
    llr_alloc_t   alloc;

    alloc.malloc = cls_malloc;
    alloc.realloc = cls_realloc;
    alloc.free = cls_free;
    alloc.ctx = NULL;

    llr_cls_state_init(state, m);
    if (ctx_budget >= 0) {
        llr_cls_state_set_budget(state, (size_t) ctx_budget);
    }

    rc = llr_cls_body(state, &alloc, line, len, res, NULL, errbuf,
                      sizeof(errbuf));
    *msg = errbuf;
    arena_reset();

    return rc;
}


/*
 * A loaded model's memory, released all at once at exit (the model is
 * several allocations; the loader's contract is a pool).
 */

static void   **file_allocs;
static size_t   nfile_allocs;


static void *
file_alloc(void *ctx, size_t n)
{
    void  *p, **a;

    a = realloc(file_allocs, (nfile_allocs + 1) * sizeof(void *));
    if (a == NULL) {
        return NULL;
    }

    file_allocs = a;

    p = malloc(n);
    if (p != NULL) {
        file_allocs[nfile_allocs++] = p;
    }

    return p;
}

static const llr_alloc_t  file_heap = { file_alloc, NULL, NULL, NULL };


int
main(int argc, char **argv)
{
    int                     i, first;
    char                   *line, err[256];
    void                   *state;
    size_t                  cap, t, flen;
    ssize_t                 n;
    FILE                   *f;
    const char             *msg, *path;
    unsigned char          *img;
    llr_cls_model_t        *lm;
    llr_cls_result_t        res;
    const llr_cls_model_t  *m;

    path = NULL;
    img = NULL;
    lm = NULL;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-m") == 0 && i + 1 < argc) {
            path = argv[++i];

        } else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc
                   && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
        {
            ctx_budget = strtol(argv[++i], NULL, 10);

        } else if (strcmp(argv[i], "-x") == 0) {
            exact = 1;

        } else {
            fprintf(stderr, "usage: llm-route-classify [-m MODEL] "
                    "[-b CONTEXT_BYTES] [-x] < json-lines\n");
            return 2;
        }
    }

    if (path) {
        f = fopen(path, "rb");
        if (f == NULL) {
            fprintf(stderr, "llm-route-classify: %s: %s\n", path,
                    strerror(errno));
            return 1;
        }
        fseek(f, 0, SEEK_END);
        flen = (size_t) ftell(f);
        fseek(f, 0, SEEK_SET);
        img = malloc(flen ? flen : 1);
        if (img == NULL || fread(img, 1, flen, f) != flen) {
            fprintf(stderr, "llm-route-classify: %s: read error\n", path);
            return 1;
        }
        fclose(f);

        lm = llr_cls_model_load(img, flen, &file_heap, err, sizeof(err));
        if (lm == NULL) {
            fprintf(stderr, "llm-route-classify: %s: %s\n", path, err);
            return 1;
        }
        m = lm;

    } else {
        m = llr_cls_default_model();
        if (m == NULL) {
            fprintf(stderr, "llm-route-classify: the built-in model is "
                    "broken\n");
            return 1;
        }
    }

    state = malloc(llr_cls_state_size(m));
    if (state == NULL) {
        return 1;
    }

    line = NULL;
    cap = 0;

    while ((n = getline(&line, &cap, stdin)) != -1) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            n--;
        }

        if (classify_line(m, state, (unsigned char *) line, (size_t) n,
                          &res, &msg) != 0)
        {
            if (exact) {
                printf("error %s\n", msg);
                continue;
            }

            fputs("{\"error\":", stdout);
            print_json_string(msg);
            fputs("}\n", stdout);
            continue;
        }

        llr_cls_probabilities(&res);

        if (exact) {
            printf("%d %a %a", res.task, res.difficulty, res.raw);
            for (t = 0; t < res.ntasks; t++) {
                printf(" %a", res.scores[t]);
            }
            putchar('\n');
            continue;
        }

        fputs("{\"task\":", stdout);
        print_json_string(res.task_name);
        printf(",\"difficulty\":%.4f,\"scores\":{", res.difficulty);

        first = 1;
        for (t = 0; t < res.ntasks; t++) {
            if (!first) {
                putchar(',');
            }
            first = 0;
            print_json_string(llr_cls_task_name(m, (int) t));
            printf(":%.4f", res.scores[t]);
        }

        fputs("}}\n", stdout);
    }

    free(line);
    arena_destroy();
    free(state);

    if (lm) {
        llr_cls_model_cleanup(lm);
    }

    while (nfile_allocs) {
        free(file_allocs[--nfile_allocs]);
    }

    free(file_allocs);
    free(img);

    return ferror(stdout) ? 1 : 0;
}
