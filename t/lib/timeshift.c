/*
 * t/lib/timeshift.c: an LD_PRELOAD shim for the tests (t/52-limits-zone.t):
 * the wall clock plus an offset in seconds, read from the file named by
 * $LLR_TIMESHIFT at each call.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long off(void) {
    const char *f = getenv("LLR_TIMESHIFT");
    long v = 0;
    FILE *fp;
    if (f && (fp = fopen(f, "r"))) { if (fscanf(fp, "%ld", &v) != 1) v = 0; fclose(fp); }
    return v;
}

int gettimeofday(struct timeval *tv, void *tz) {
    static int (*real)(struct timeval *, void *);
    if (!real) real = dlsym(RTLD_NEXT, "gettimeofday");
    int rc = real(tv, tz);
    if (rc == 0 && tv) tv->tv_sec += off();
    return rc;
}

time_t time(time_t *t) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (t) *t = tv.tv_sec;
    return tv.tv_sec;
}

int clock_gettime(clockid_t c, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    if (!real) real = dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(c, ts);
    if (rc == 0 && ts && (c == CLOCK_REALTIME || c == CLOCK_REALTIME_COARSE)) ts->tv_sec += off();
    return rc;
}
