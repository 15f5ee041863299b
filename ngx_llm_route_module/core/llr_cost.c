/*
 * ngx_llm_route_module: exact integer money and configuration values.
 */

#include "llr_cost.h"


#define llr_set_err(err, msg)  do { if (err) { *(err) = (msg); } } while (0)


uint64_t
llr_mul_sat(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a) {
        return UINT64_MAX;
    }

    return a * b;
}


int
llr_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out,
    const char **err)
{
    size_t    i;
    uint64_t  v, d;

    if (len == 0) {
        llr_set_err(err, "empty number");
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            llr_set_err(err, "not a number");
            return -1;
        }

        d = (uint64_t) (s[i] - '0');

        if (d > max || v > (max - d) / 10) {
            llr_set_err(err, "number too large");
            return -1;
        }

        v = v * 10 + d;
    }

    *out = v;
    return 0;
}


int
llr_parse_decimal(const char *s, size_t len, unsigned scale, uint64_t max,
    uint64_t *out, const char **err)
{
    size_t    i;
    unsigned  decimals, digits;
    uint64_t  v, d;
    int       point;

    if (scale > 18) {
        llr_set_err(err, "bad scale");
        return -1;
    }

    v = 0;
    point = 0;
    decimals = 0;
    digits = 0;

    for (i = 0; i < len; i++) {

        if (s[i] == '.') {
            if (point) {
                llr_set_err(err, "not a decimal number");
                return -1;
            }

            point = 1;
            continue;
        }

        if (s[i] < '0' || s[i] > '9') {
            if (s[i] == '-') {
                llr_set_err(err, "negative value");

            } else {
                llr_set_err(err, "not a decimal number");
            }

            return -1;
        }

        if (point) {
            if (++decimals > scale) {
                llr_set_err(err, "too many decimals");
                return -1;
            }
        }

        digits++;
        d = (uint64_t) (s[i] - '0');

        if (v > (UINT64_MAX - d) / 10) {
            llr_set_err(err, "number too large");
            return -1;
        }

        v = v * 10 + d;
    }

    if (digits == 0) {
        llr_set_err(err, "not a decimal number");
        return -1;
    }

    for ( /* void */ ; decimals < scale; decimals++) {
        if (v > UINT64_MAX / 10) {
            llr_set_err(err, "number too large");
            return -1;
        }

        v *= 10;
    }

    if (v > max) {
        llr_set_err(err, "number too large");
        return -1;
    }

    *out = v;
    return 0;
}


int
llr_parse_price(const char *s, size_t len, uint64_t *pusd,
    const char **err)
{
    /*
     * USD per 1M tokens with 6 decimals is pUSD per token; the limit
     * (1,000,000 USD per 1M tokens) keeps prices sane and products small
     */
    if (llr_parse_decimal(s, len, 6, 1000000ULL * 1000000ULL, pusd, err)
        != 0)
    {
        return -1;
    }

    return 0;
}


uint64_t
llr_cost(const llr_price_t *price, uint64_t prompt, uint64_t cached,
    uint64_t completion)
{
    uint64_t  c, cached_price;

    if (cached > prompt) {
        cached = prompt;
    }

    cached_price = (price->cached_input == LLR_PRICE_UNSET)
                   ? price->input : price->cached_input;

    c = llr_mul_sat(prompt - cached, price->input);
    c = llr_add_sat(c, llr_mul_sat(cached, cached_price));
    c = llr_add_sat(c, llr_mul_sat(completion, price->output));

    return c;
}


size_t
llr_format_usd(char *buf, size_t size, uint64_t pusd, unsigned decimals)
{
    char       tmp[32];
    size_t     n, i, len;
    unsigned   k;
    uint64_t   div, units, frac, rem;

    if (decimals > 12) {
        decimals = 12;
    }

    div = 1;
    for (k = decimals; k < 12; k++) {
        div *= 10;
    }

    /* round half up without overflowing near UINT64_MAX */
    rem = pusd % div;
    pusd = pusd / div + (div > 1 && rem >= div / 2);

    div = 1;
    for (k = 0; k < decimals; k++) {
        div *= 10;
    }

    units = pusd / div;
    frac = pusd % div;

    /* digits of units, reversed */
    n = 0;
    do {
        tmp[n++] = (char) ('0' + units % 10);
        units /= 10;
    } while (units);

    len = n + (decimals ? decimals + 1 : 0);

    if (len + 1 > size) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }

    if (decimals) {
        buf[n] = '.';

        for (i = len; i > n + 1; i--) {
            buf[i - 1] = (char) ('0' + frac % 10);
            frac /= 10;
        }
    }

    buf[len] = '\0';

    return len;
}


size_t
llr_format_usd_exact(char *buf, size_t size, uint64_t pusd,
    unsigned decimals)
{
    size_t  len, point;

    if (decimals > 12) {
        decimals = 12;
    }

    len = llr_format_usd(buf, size, pusd, 12);

    if (len == 0) {
        return 0;
    }

    /* 12 decimals are exact: drop the trailing zeros beyond `decimals` */

    point = len - 13;

    while (len > point + 1 + decimals && buf[len - 1] == '0') {
        len--;
    }

    if (len == point + 1) {
        /* no decimal left: no point either */
        len = point;
    }

    buf[len] = '\0';

    return len;
}


uint64_t
llr_estimate_tokens(uint64_t bytes)
{
    return bytes / 4 + (bytes % 4 != 0);
}
