/*
 * ngx_llm_route_module: exact integer money and configuration values.
 *
 * Plain C, no nginx headers, no global state.
 *
 * Money is kept in pico-USD (pUSD, 1e-12 USD) in uint64_t.  Prices are
 * configured as decimal USD per 1M tokens with at most 6 decimals, so a
 * price is exactly an integer number of pUSD per token:
 *
 *     1 USD / 1M tokens = 1e-6 USD / token = 1,000,000 pUSD / token
 *     "0.0375"          = 37,500 pUSD / token
 *
 * All cost arithmetic is integer, so any sum of per-request costs is
 * exact.  uint64_t holds up to 18,446,744 USD (2^64 - 1 pUSD, about
 * $18.4M); beyond that the helpers saturate at UINT64_MAX instead of
 * wrapping.
 */

#ifndef _LLR_COST_H_INCLUDED_
#define _LLR_COST_H_INCLUDED_

#include <stddef.h>
#include <stdint.h>


#define LLR_PUSD_PER_USD     1000000000000ULL

/* cached_input not configured: the input price applies */
#define LLR_PRICE_UNSET      UINT64_MAX

/* a model's prices, pUSD per token */
typedef struct {
    uint64_t    input;
    uint64_t    cached_input;   /* LLR_PRICE_UNSET: same as input */
    uint64_t    output;
} llr_price_t;


/* saturating helpers; the sum is inline (the response scanners' count) */
static inline uint64_t
llr_add_sat(uint64_t a, uint64_t b)
{
    return (a > UINT64_MAX - b) ? UINT64_MAX : a + b;
}

uint64_t llr_mul_sat(uint64_t a, uint64_t b);

/*
 * Parse a price in USD per 1M tokens ("0.15", "2.50", "10", "0.0375")
 * into pUSD per token.  At most 6 decimals, no sign, no exponent.
 * Returns 0, or -1 with *err (if err is not NULL) set to a static
 * message.
 */
int llr_parse_price(const char *s, size_t len, uint64_t *pusd,
    const char **err);

/*
 * Cost of one request in pUSD (saturating):
 *
 *     (prompt - cached) * input + cached * cached_input
 *         + completion * output
 *
 * prompt includes the cached tokens (as OpenAI reports them); cached is
 * clamped to prompt.  Reasoning tokens are part of completion tokens
 * (OpenAI reports them so) and are not added again.
 */
uint64_t llr_cost(const llr_price_t *price, uint64_t prompt,
    uint64_t cached, uint64_t completion);

/*
 * Write pusd as a decimal USD string with `decimals` (0..12) digits
 * after the point, rounded half up ("0.000123450" for 123450000 pUSD
 * with 9 decimals), NUL-terminated.  Returns the length written
 * (without the NUL), or 0 if size is too small (32 bytes always
 * suffice).
 */
size_t llr_format_usd(char *buf, size_t size, uint64_t pusd,
    unsigned decimals);

/*
 * The exact amount, with at least `decimals` (0..12) digits after the
 * point and as many more as it takes to show every non-zero digit:
 * "5.00", "0.25", "0.001", "0.000000000001" with 2.  Never rounded, so
 * an amount that is not zero never reads as zero.  Same return as
 * llr_format_usd().
 */
size_t llr_format_usd_exact(char *buf, size_t size, uint64_t pusd,
    unsigned decimals);

/*
 * Token estimate from a byte count when the provider reported none:
 * ceil(bytes / 4) (about 4 bytes of English text per token).
 */
uint64_t llr_estimate_tokens(uint64_t bytes);


/*
 * Configuration value parsers.  Pure functions; the input need not be
 * NUL-terminated.  Each returns 0 on success, or -1 and sets *err (if
 * err is not NULL) to a static message.
 */

/* decimal digits only, value <= max */
int llr_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out,
    const char **err);

/*
 * A non-negative decimal "123", "1.5", ".5", "0.000001" scaled by
 * 10^scale (scale <= 18) exactly: "1.5" with scale 2 gives 150.
 * More than `scale` decimals, signs, exponents, an empty string or a
 * result > max are errors.
 */
int llr_parse_decimal(const char *s, size_t len, unsigned scale,
    uint64_t max, uint64_t *out, const char **err);


#endif /* _LLR_COST_H_INCLUDED_ */
