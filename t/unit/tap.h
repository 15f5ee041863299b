/*
 * A minimal TAP producer for the C unit tests of core/: each test
 * binary prints "ok N - ..." lines and a plan, so prove runs it.
 */

#ifndef _LLR_TAP_H_INCLUDED_
#define _LLR_TAP_H_INCLUDED_

#include <stdio.h>
#include <string.h>

static int  tap_n;
static int  tap_failed;

#define ok(cond, ...)                                                         \
    do {                                                                      \
        int  tap_c_ = (cond) ? 1 : 0;                                         \
        tap_n++;                                                              \
        printf("%sok %d - ", tap_c_ ? "" : "not ", tap_n);                    \
        printf(__VA_ARGS__);                                                  \
        printf("\n");                                                         \
        if (!tap_c_) {                                                        \
            tap_failed++;                                                     \
            printf("#   failed at %s line %d\n", __FILE__, __LINE__);         \
        }                                                                     \
    } while (0)

#define is_int(got, exp, ...)                                                 \
    do {                                                                      \
        long long  tap_g_ = (long long) (got), tap_e_ = (long long) (exp);    \
        ok(tap_g_ == tap_e_, __VA_ARGS__);                                    \
        if (tap_g_ != tap_e_) {                                               \
            printf("#   got %lld, expected %lld\n", tap_g_, tap_e_);          \
        }                                                                     \
    } while (0)

#define is_str(got, exp, ...)                                                 \
    do {                                                                      \
        const char  *tap_g_ = (got), *tap_e_ = (exp);                         \
        int  tap_s_ = (tap_g_ && tap_e_) ? strcmp(tap_g_, tap_e_) == 0        \
                                         : tap_g_ == tap_e_;                  \
        ok(tap_s_, __VA_ARGS__);                                              \
        if (!tap_s_) {                                                        \
            printf("#   got '%s'\n#   expected '%s'\n",                      \
                   tap_g_ ? tap_g_ : "(null)", tap_e_ ? tap_e_ : "(null)");   \
        }                                                                     \
    } while (0)

#define done_testing()                                                        \
    do {                                                                      \
        printf("1..%d\n", tap_n);                                             \
        return tap_failed ? 1 : 0;                                            \
    } while (0)

#endif /* _LLR_TAP_H_INCLUDED_ */
