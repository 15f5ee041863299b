/*
 * Unit tests of core/llr_cost: prices, exact sums, formatting, value
 * parsers.
 */

#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "llr_cost.h"


typedef struct {
    const char  *in;
    int          rc;
    uint64_t     pusd;
} price_case_t;


static const price_case_t  prices[] = {
    { "0.15", 0, 150000 },
    { "2.50", 0, 2500000 },
    { "0.0375", 0, 37500 },
    { "10", 0, 10000000 },
    { "0", 0, 0 },
    { "0.000001", 0, 1 },
    { ".5", 0, 500000 },
    { "5.", 0, 5000000 },
    { "1000000", 0, 1000000000000ULL },
    { "1000000.000001", -1, 0 },
    { "0.0000001", -1, 0 },
    { "-1", -1, 0 },
    { "+1", -1, 0 },
    { "", -1, 0 },
    { ".", -1, 0 },
    { "1.2.3", -1, 0 },
    { "1e3", -1, 0 },
    { "abc", -1, 0 },
    { " 1", -1, 0 },
    { "99999999999999999999999", -1, 0 },
    { NULL, 0, 0 }
};


int
main(void)
{
    const price_case_t  *pc;
    const char          *err;
    uint64_t             v, sum, total_p, total_c, c;
    llr_price_t          pr;
    char                 buf[64];
    int                  rc, i;

    for (pc = prices; pc->in; pc++) {
        err = NULL;
        v = 12345;
        rc = llr_parse_price(pc->in, strlen(pc->in), &v, &err);
        is_int(rc, pc->rc, "price '%s' rc", pc->in);

        if (pc->rc == 0) {
            is_int(v, pc->pusd, "price '%s' = %llu pUSD/token", pc->in,
                   (unsigned long long) pc->pusd);

        } else {
            ok(err != NULL && err[0] != '\0', "price '%s' error: %s",
               pc->in, err ? err : "(none)");
        }
    }

    err = NULL;
    llr_parse_price("-0.5", 4, &v, &err);
    is_str(err, "negative value", "negative price message");
    err = NULL;
    llr_parse_price("0.1234567", 9, &v, &err);
    is_str(err, "too many decimals", "too many decimals message");

    /* cost of one request */
    pr.input = 150000;          /* 0.15 */
    pr.output = 600000;         /* 0.60 */
    pr.cached_input = LLR_PRICE_UNSET;
    is_int(llr_cost(&pr, 1000, 0, 500), 1000ULL * 150000 + 500ULL * 600000,
           "cost without cache");
    is_int(llr_cost(&pr, 1000, 400, 500),
           1000ULL * 150000 + 500ULL * 600000,
           "cached defaults to input price");
    pr.cached_input = 75000;
    is_int(llr_cost(&pr, 1000, 400, 500),
           600ULL * 150000 + 400ULL * 75000 + 500ULL * 600000,
           "cached at cached price");
    is_int(llr_cost(&pr, 100, 400, 0), 100ULL * 75000,
           "cached clamped to prompt");
    pr.output = UINT64_MAX / 2;
    is_int(llr_cost(&pr, 0, 0, 3) == UINT64_MAX, 1, "cost saturates");

    /* exact sums: 1,000,000 requests */
    pr.input = 2500000;         /* 2.50 */
    pr.output = 10000000;       /* 10.00 */
    pr.cached_input = 1250000;
    sum = 0;
    total_p = 0;
    total_c = 0;

    for (i = 0; i < 1000000; i++) {
        uint64_t  p = 37 + (uint64_t) (i % 977), k = (uint64_t) (i % 13),
                  cpl = 11 + (uint64_t) (i % 499);

        c = llr_cost(&pr, p, k, cpl);
        sum += c;
        total_p += p - k;
        total_c += cpl;
    }

    /* the aggregate: cached tokens summed separately */
    {
        uint64_t  tk = 0;

        for (i = 0; i < 1000000; i++) {
            tk += (uint64_t) (i % 13);
        }

        is_int(sum, total_p * 2500000 + tk * 1250000 + total_c * 10000000,
               "1,000,000 request costs sum exactly to the aggregate cost");
    }

    /* formatting */
    llr_format_usd(buf, sizeof(buf), 123450000ULL, 9);
    is_str(buf, "0.000123450", "format 9 decimals");
    llr_format_usd(buf, sizeof(buf), 123450000ULL, 12);
    is_str(buf, "0.000123450000", "format 12 decimals");
    llr_format_usd(buf, sizeof(buf), 1500, 9);
    is_str(buf, "0.000000002", "rounds half up");
    llr_format_usd(buf, sizeof(buf), 1499, 9);
    is_str(buf, "0.000000001", "rounds down below half");
    llr_format_usd(buf, sizeof(buf), 0, 9);
    is_str(buf, "0.000000000", "zero");
    llr_format_usd(buf, sizeof(buf), 12ULL * LLR_PUSD_PER_USD + 5, 12);
    is_str(buf, "12.000000000005", "dollars and picodollars");
    llr_format_usd(buf, sizeof(buf), UINT64_MAX, 9);
    is_str(buf, "18446744.073709552", "max rounds without overflow");
    llr_format_usd(buf, sizeof(buf), 999999999999ULL, 6);
    is_str(buf, "1.000000", "carry into units");
    llr_format_usd(buf, sizeof(buf), 7 * LLR_PUSD_PER_USD, 0);
    is_str(buf, "7", "no decimals");
    is_int(llr_format_usd(buf, 5, 123450000ULL, 9), 0, "small buffer");

    /* exact amounts for messages: never rounded to zero */
    llr_format_usd_exact(buf, sizeof(buf), 5 * LLR_PUSD_PER_USD, 2);
    is_str(buf, "5.00", "exact: whole dollars keep 2 decimals");
    llr_format_usd_exact(buf, sizeof(buf), LLR_PUSD_PER_USD / 4, 2);
    is_str(buf, "0.25", "exact: cents");
    llr_format_usd_exact(buf, sizeof(buf), LLR_PUSD_PER_USD / 1000, 2);
    is_str(buf, "0.001", "exact: a tenth of a cent is not $0.00");
    llr_format_usd_exact(buf, sizeof(buf), 1, 2);
    is_str(buf, "0.000000000001", "exact: one pUSD");
    llr_format_usd_exact(buf, sizeof(buf), 1234567000000ULL, 2);
    is_str(buf, "1.234567", "exact: micro-dollars");
    llr_format_usd_exact(buf, sizeof(buf), 0, 2);
    is_str(buf, "0.00", "exact: zero");
    llr_format_usd_exact(buf, sizeof(buf), 7 * LLR_PUSD_PER_USD, 0);
    is_str(buf, "7", "exact: no decimals asked, none needed");
    llr_format_usd_exact(buf, sizeof(buf), UINT64_MAX, 2);
    is_str(buf, "18446744.073709551615", "exact: the largest amount");
    is_int(llr_format_usd_exact(buf, 5, 1, 2), 0, "exact: small buffer");

    /* estimates */
    is_int(llr_estimate_tokens(0), 0, "estimate 0");
    is_int(llr_estimate_tokens(1), 1, "estimate 1 byte");
    is_int(llr_estimate_tokens(4), 1, "estimate 4 bytes");
    is_int(llr_estimate_tokens(5), 2, "estimate 5 bytes");
    is_int(llr_estimate_tokens(UINT64_MAX), UINT64_MAX / 4 + 1,
           "estimate max");

    /* value parsers */
    is_int(llr_parse_uint("123", 3, 1000, &v, NULL), 0, "uint");
    is_int(v, 123, "uint value");
    is_int(llr_parse_uint("1001", 4, 1000, &v, NULL), -1, "uint over max");
    is_int(llr_parse_uint("9", 1, 5, &v, NULL), -1, "digit over max");
    is_int(llr_parse_uint("18446744073709551615", 20, UINT64_MAX, &v, NULL),
           0, "uint64 max");
    is_int(llr_parse_uint("18446744073709551616", 20, UINT64_MAX, &v, NULL),
           -1, "uint64 overflow");
    is_int(llr_parse_uint("12a", 3, 1000, &v, NULL), -1, "uint garbage");

    is_int(llr_parse_decimal("0.75", 4, 4, 10000, &v, NULL), 0, "quality");
    is_int(v, 7500, "quality 0.75 = 7500");
    is_int(llr_parse_decimal("1", 1, 4, 10000, &v, NULL), 0, "quality 1");
    is_int(v, 10000, "quality 1 = 10000");
    is_int(llr_parse_decimal("1.0001", 6, 4, 10000, &v, NULL), -1,
           "quality > 1");
    is_int(llr_parse_decimal("1", 1, 19, UINT64_MAX, &v, NULL), -1,
           "scale > 18");
    is_int(llr_parse_decimal("100", 3, 18, UINT64_MAX, &v, NULL), -1,
           "scaled overflow");

    done_testing();
}
