/*
 * bench/fleet-latency.c: the closed-loop client and the statistics of
 * bench/fleet-latency.pl (issue 26: does a slow Redis move a request's
 * latency?).
 *
 *   fleet-latency run HOST PORT BODY CONC N OUT
 *       N POST /v1/chat/completions of the file BODY over CONC
 *       keep-alive connections (CONC threads, N / CONC requests each,
 *       one at a time: a closed loop); OUT gets one line per request:
 *       "START_US LATENCY_US STATUS CONN", START_US from the common start,
 *       the latency from before the request's write to the last byte of
 *       its answer, both on CLOCK_MONOTONIC.  STATUS 0: the connection
 *       failed (it is made again).
 *
 *   fleet-latency round FILE
 *       one line: "n median p99 p99.9 max over50 over200 non200" (ms,
 *       nearest-rank percentiles) of FILE's requests.
 *
 *   fleet-latency compare B SEED QUICK... -- SLOW...
 *       the requests of the quick rounds' files against the slow ones':
 *       both pools' percentiles, and the difference slow - quick of the
 *       median, p99 and p99.9 with two 95% bootstrap intervals (B
 *       resamples each): over requests (every request drawn on its own)
 *       and over rounds (whole rounds drawn, their requests pooled: the
 *       machine's noise comes in bursts that hit a round, not a request).
 *
 * Plain C and POSIX threads, no dependency: cc -O2 -pthread.
 */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define FL_BUF  (256 * 1024)


typedef struct {
    double    start_us;
    double    lat_us;
    int       status;
} fl_req_t;


typedef struct {
    int                  id;
    size_t               n;
    fl_req_t            *req;
    const char          *msg;       /* the whole request */
    size_t               len;
    struct sockaddr_in   addr;
    char                *buf;
    int                  fd;
    pthread_barrier_t   *go;
    const struct timespec *t0;
} fl_conn_t;


static struct timespec  fl_start;


static double
fl_us(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1e6 + (b->tv_nsec - a->tv_nsec) / 1e3;
}


static int
fl_connect(fl_conn_t *c)
{
    int  one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0) {
        return -1;
    }

    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (connect(c->fd, (struct sockaddr *) &c->addr, sizeof(c->addr)) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }

    return 0;
}


static int
fl_write_all(int fd, const char *p, size_t len)
{
    ssize_t  n;

    while (len) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= n;
    }

    return 0;
}


/* read more into buf[*have..]: -1 on EOF or error */
static int
fl_fill(fl_conn_t *c, size_t *have)
{
    ssize_t  n;

    if (*have >= FL_BUF - 1) {
        return -1;
    }

    do {
        n = read(c->fd, c->buf + *have, FL_BUF - 1 - *have);
    } while (n < 0 && errno == EINTR);

    if (n <= 0) {
        return -1;
    }

    *have += n;
    c->buf[*have] = '\0';

    return 0;
}


/*
 * one answer: its status, or -1 if the connection failed; the answer is
 * read whole (Content-Length or chunked), nothing after it is expected
 * (one request at a time)
 */
static int
fl_answer(fl_conn_t *c)
{
    int      status, chunked;
    char    *end, *h, *p, *q;
    size_t   have, body, clen, need, size;

    have = 0;

    for ( ;; ) {
        if (fl_fill(c, &have) != 0) {
            return -1;
        }
        end = strstr(c->buf, "\r\n\r\n");
        if (end) {
            break;
        }
    }

    if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1) {
        return -1;
    }

    body = end + 4 - c->buf;
    clen = 0;
    chunked = 0;

    for (h = strstr(c->buf, "\r\n"); h && h < end; h = strstr(h + 2, "\r\n"))
    {
        if (strncasecmp(h + 2, "content-length:", 15) == 0) {
            clen = strtoul(h + 17, NULL, 10);
        } else if (strncasecmp(h + 2, "transfer-encoding: chunked", 26)
                   == 0)
        {
            chunked = 1;
        }
    }

    if (!chunked) {
        while (have < body + clen) {
            if (fl_fill(c, &have) != 0) {
                return -1;
            }
        }
        return status;
    }

    /* chunks: SIZE\r\nDATA\r\n ... 0\r\n\r\n */
    p = c->buf + body;

    for ( ;; ) {
        while ((q = strstr(p, "\r\n")) == NULL) {
            need = p - c->buf;
            if (fl_fill(c, &have) != 0) {
                return -1;
            }
            p = c->buf + need;
        }

        size = strtoul(p, NULL, 16);
        need = (q + 2 - c->buf) + size + 2;

        while (have < need) {
            if (fl_fill(c, &have) != 0) {
                return -1;
            }
        }

        if (size == 0) {
            return status;
        }

        p = c->buf + need;
    }
}


static void *
fl_conn_run(void *arg)
{
    fl_conn_t       *c = arg;
    size_t           i;
    struct timespec  a, b;

    pthread_barrier_wait(c->go);

    for (i = 0; i < c->n; i++) {
        if (c->fd < 0 && fl_connect(c) != 0) {
            clock_gettime(CLOCK_MONOTONIC, &a);
            c->req[i].start_us = fl_us(c->t0, &a);
            c->req[i].lat_us = 0;
            c->req[i].status = 0;
            usleep(1000);
            continue;
        }

        clock_gettime(CLOCK_MONOTONIC, &a);

        c->req[i].status = -1;

        if (fl_write_all(c->fd, c->msg, c->len) == 0) {
            c->req[i].status = fl_answer(c);
        }

        clock_gettime(CLOCK_MONOTONIC, &b);

        c->req[i].start_us = fl_us(c->t0, &a);
        c->req[i].lat_us = fl_us(&a, &b);

        if (c->req[i].status < 0) {
            c->req[i].status = 0;
            close(c->fd);
            c->fd = -1;
        }
    }

    return NULL;
}


static char *
fl_slurp(const char *path, size_t *len)
{
    FILE  *f;
    char  *p;
    long   n;

    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
        perror(path);
        exit(1);
    }
    rewind(f);

    p = malloc(n + 1);
    if (p == NULL || fread(p, 1, n, f) != (size_t) n) {
        perror(path);
        exit(1);
    }
    p[n] = '\0';
    fclose(f);

    *len = n;
    return p;
}


static int
fl_run(char **argv)
{
    int                 conc, i;
    char               *body, *msg;
    FILE               *out;
    size_t              blen, len, n, j;
    fl_conn_t          *c;
    pthread_t          *th;
    pthread_barrier_t   go;

    body = fl_slurp(argv[2], &blen);
    conc = atoi(argv[3]);
    n = strtoul(argv[4], NULL, 10);

    if (conc < 1 || n < (size_t) conc) {
        fprintf(stderr, "fleet-latency: bad CONC or N\n");
        return 2;
    }

    msg = malloc(blen + 256);
    if (msg == NULL) {
        return 1;
    }
    len = sprintf(msg, "POST /v1/chat/completions HTTP/1.1\r\n"
                  "Host: %s\r\nContent-Type: application/json\r\n"
                  "Content-Length: %zu\r\n\r\n", argv[0], blen);
    memcpy(msg + len, body, blen);
    len += blen;

    c = calloc(conc, sizeof(fl_conn_t));
    th = calloc(conc, sizeof(pthread_t));
    if (c == NULL || th == NULL) {
        return 1;
    }

    pthread_barrier_init(&go, NULL, conc + 1);

    for (i = 0; i < conc; i++) {
        c[i].id = i;
        c[i].n = n / conc + ((size_t) i < n % conc);
        c[i].req = calloc(c[i].n, sizeof(fl_req_t));
        c[i].buf = malloc(FL_BUF);
        c[i].msg = msg;
        c[i].len = len;
        c[i].addr.sin_family = AF_INET;
        c[i].addr.sin_port = htons(atoi(argv[1]));
        c[i].go = &go;
        c[i].t0 = &fl_start;

        if (c[i].req == NULL || c[i].buf == NULL
            || inet_pton(AF_INET, argv[0], &c[i].addr.sin_addr) != 1
            || fl_connect(&c[i]) != 0)
        {
            fprintf(stderr, "fleet-latency: cannot connect to %s:%s\n",
                    argv[0], argv[1]);
            return 1;
        }

        pthread_create(&th[i], NULL, fl_conn_run, &c[i]);
    }

    /* every connection made: go */
    clock_gettime(CLOCK_MONOTONIC, &fl_start);
    pthread_barrier_wait(&go);

    for (i = 0; i < conc; i++) {
        pthread_join(th[i], NULL);
    }

    out = fopen(argv[5], "w");
    if (out == NULL) {
        perror(argv[5]);
        return 1;
    }

    for (i = 0; i < conc; i++) {
        for (j = 0; j < c[i].n; j++) {
            fprintf(out, "%.1f %.1f %d %d\n", c[i].req[j].start_us,
                    c[i].req[j].lat_us, c[i].req[j].status, i);
        }
        if (c[i].fd >= 0) {
            close(c[i].fd);
        }
        free(c[i].req);
        free(c[i].buf);
    }

    pthread_barrier_destroy(&go);
    free(th);
    free(c);
    free(msg);
    free(body);

    return fclose(out) == 0 ? 0 : 1;
}


/* ---- statistics ------------------------------------------------------- */


typedef struct {
    double   *v;            /* latencies, ms */
    size_t    n;
    size_t    non200;
} fl_set_t;


static void
fl_load(const char *path, fl_set_t *s)
{
    int     status;
    FILE   *f;
    double  start, lat;
    size_t  cap;

    f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }

    cap = s->n + 1024;
    s->v = realloc(s->v, cap * sizeof(double));

    while (fscanf(f, "%lf %lf %d %*d", &start, &lat, &status) == 3) {
        if (s->n == cap) {
            cap *= 2;
            s->v = realloc(s->v, cap * sizeof(double));
        }
        if (s->v == NULL) {
            exit(1);
        }
        s->v[s->n++] = lat / 1000;
        s->non200 += status != 200;
    }

    fclose(f);
}


static int
fl_cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* nearest rank of sorted v[0..n-1] */
static double
fl_pct(const double *v, size_t n, double p)
{
    size_t  k;

    k = (size_t) (p * n + 0.999999);
    k = k ? k - 1 : 0;

    return v[k < n ? k : n - 1];
}


static int
fl_round(char **argv)
{
    size_t    i, over50, over200;
    fl_set_t  s = { NULL, 0, 0 };

    fl_load(argv[0], &s);

    if (s.n == 0) {
        fprintf(stderr, "fleet-latency: %s: no requests\n", argv[0]);
        return 1;
    }

    qsort(s.v, s.n, sizeof(double), fl_cmp);

    over50 = over200 = 0;
    for (i = 0; i < s.n; i++) {
        over50 += s.v[i] > 50;
        over200 += s.v[i] >= 200;
    }

    printf("%zu %.3f %.3f %.3f %.3f %zu %zu %zu\n", s.n,
           fl_pct(s.v, s.n, 0.5), fl_pct(s.v, s.n, 0.99),
           fl_pct(s.v, s.n, 0.999), s.v[s.n - 1], over50, over200,
           s.non200);

    free(s.v);

    return 0;
}


static uint64_t  fl_rng;


static size_t
fl_rand(size_t n)
{
    /* xorshift64*: enough for resampling, and the same for a seed */
    fl_rng ^= fl_rng >> 12;
    fl_rng ^= fl_rng << 25;
    fl_rng ^= fl_rng >> 27;

    return (size_t) ((fl_rng * 2685821657736338717ULL) >> 11) % n;
}


#define FL_NP  3

static const double  fl_p[FL_NP] = { 0.5, 0.99, 0.999 };
static const char   *fl_pname[FL_NP] = { "median", "p99", "p99.9" };


/* the k-th smallest of v[0..n-1] (v is reordered around it) */
static double
fl_select(double *v, size_t n, size_t k)
{
    double  pivot, t;
    size_t  lo, hi, i, j;

    lo = 0;
    hi = n - 1;

    while (lo < hi) {
        pivot = v[lo + (hi - lo) / 2];
        i = lo;
        j = hi;

        while (i <= j) {
            while (v[i] < pivot) {
                i++;
            }
            while (v[j] > pivot) {
                j--;
            }
            if (i <= j) {
                t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0) {
                    break;
                }
                j--;
            }
        }

        if (k <= j) {
            hi = j;
        } else if (k >= i) {
            lo = i;
        } else {
            break;
        }
    }

    return v[k];
}


/*
 * the percentiles of a resample: nr rounds drawn from r (by_round), or
 * as many requests as the pool has drawn from it
 */
static void
fl_resample(fl_set_t *r, size_t nr, fl_set_t *pool, int by_round,
    double *tmp, double *out)
{
    size_t  i, k, n, from;

    n = 0;

    if (by_round) {
        for (i = 0; i < nr; i++) {
            k = fl_rand(nr);
            memcpy(tmp + n, r[k].v, r[k].n * sizeof(double));
            n += r[k].n;
        }

    } else {
        for (i = 0; i < pool->n; i++) {
            tmp[n++] = pool->v[fl_rand(pool->n)];
        }
    }

    /* ascending ranks: each selection leaves the larger values above */
    from = 0;

    for (i = 0; i < FL_NP; i++) {
        k = (size_t) (fl_p[i] * n + 0.999999);
        k = k ? k - 1 : 0;
        k = k < n ? k : n - 1;

        out[i] = fl_select(tmp + from, n - from, k - from);
        from = k;
    }
}


static void
fl_interval(double *d, size_t b, double *lo, double *hi)
{
    qsort(d, b, sizeof(double), fl_cmp);
    *lo = d[(size_t) (0.025 * b)];
    *hi = d[(size_t) (0.975 * b) < b ? (size_t) (0.975 * b) : b - 1];
}


static int
fl_compare(int argc, char **argv)
{
    int        i, g, by_round;
    size_t     b, nb, k, nr[2], total[2], max;
    double    *tmp, *diff[FL_NP], est[2][FL_NP], x[2][FL_NP], lo, hi;
    fl_set_t  *r[2], all[2];

    b = strtoul(argv[0], NULL, 10);
    fl_rng = strtoull(argv[1], NULL, 10) | 1;

    r[0] = calloc(argc, sizeof(fl_set_t));
    r[1] = calloc(argc, sizeof(fl_set_t));
    nr[0] = nr[1] = 0;
    total[0] = total[1] = 0;
    g = 0;

    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            g = 1;
            continue;
        }
        fl_load(argv[i], &r[g][nr[g]]);
        total[g] += r[g][nr[g]].n;
        nr[g]++;
    }

    if (b < 40 || nr[0] == 0 || nr[1] == 0) {
        fprintf(stderr, "fleet-latency compare: B >= 40, QUICK... -- "
                "SLOW...\n");
        return 2;
    }

    max = total[0] > total[1] ? total[0] : total[1];

    /* a round resample may draw the largest round every time */
    for (g = 0; g < 2; g++) {
        for (k = 0; k < nr[g]; k++) {
            if (r[g][k].n * nr[g] > max) {
                max = r[g][k].n * nr[g];
            }
        }
    }

    tmp = malloc(max * sizeof(double));
    for (i = 0; i < FL_NP; i++) {
        diff[i] = malloc(b * sizeof(double));
    }
    if (tmp == NULL) {
        return 1;
    }

    /* the pools themselves */
    for (g = 0; g < 2; g++) {
        all[g].v = malloc(total[g] * sizeof(double));
        all[g].n = 0;

        if (all[g].v == NULL) {
            return 1;
        }

        for (k = 0; k < nr[g]; k++) {
            memcpy(all[g].v + all[g].n, r[g][k].v,
                   r[g][k].n * sizeof(double));
            all[g].n += r[g][k].n;
        }

        qsort(all[g].v, all[g].n, sizeof(double), fl_cmp);

        for (i = 0; i < FL_NP; i++) {
            est[g][i] = fl_pct(all[g].v, all[g].n, fl_p[i]);
        }

        printf("%s %zu rounds %zu requests: median %.3f p99 %.3f "
               "p99.9 %.3f max %.3f ms\n", g ? "slow" : "quick", nr[g],
               all[g].n, est[g][0], est[g][1], est[g][2],
               all[g].v[all[g].n - 1]);
    }

    for (by_round = 0; by_round < 2; by_round++) {
        for (nb = 0; nb < b; nb++) {
            fl_resample(r[0], nr[0], &all[0], by_round, tmp, x[0]);
            fl_resample(r[1], nr[1], &all[1], by_round, tmp, x[1]);

            for (i = 0; i < FL_NP; i++) {
                diff[i][nb] = x[1][i] - x[0][i];
            }
        }

        for (i = 0; i < FL_NP; i++) {
            fl_interval(diff[i], b, &lo, &hi);
            printf("diff %s %s %.3f %.3f %.3f\n", fl_pname[i],
                   by_round ? "rounds" : "requests", est[1][i] - est[0][i],
                   lo, hi);
        }
    }

    for (g = 0; g < 2; g++) {
        for (k = 0; k < nr[g]; k++) {
            free(r[g][k].v);
        }
        free(r[g]);
        free(all[g].v);
    }
    for (i = 0; i < FL_NP; i++) {
        free(diff[i]);
    }
    free(tmp);

    return 0;
}


int
main(int argc, char **argv)
{
    if (argc == 8 && strcmp(argv[1], "run") == 0) {
        return fl_run(argv + 2);
    }

    if (argc == 3 && strcmp(argv[1], "round") == 0) {
        return fl_round(argv + 2);
    }

    if (argc >= 7 && strcmp(argv[1], "compare") == 0) {
        return fl_compare(argc - 2, argv + 2);
    }

    fprintf(stderr,
            "usage: fleet-latency run HOST PORT BODY CONC N OUT\n"
            "       fleet-latency round FILE\n"
            "       fleet-latency compare B SEED QUICK... -- SLOW...\n");

    return 2;
}
