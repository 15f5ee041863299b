
/*
 * ngx_llm_route_module: answers of llm_route_mock degraded on purpose.
 *
 *     llm_route_mock truncate=10% empty=2% refuse=5% bad_json=5%
 *                    slow=20% slow_delay=2s;
 *
 * Answer k of a location in a worker (counting from 0) takes the slot
 * 37k mod 100: slots below truncate are truncated, the next empty ones
 * empty, and so on; and, on its own, the slot 73k + 50 mod 100 for slow
 * (below slow: slow_delay more before the first token).  Any 100
 * answers in a row have exactly the shares, spread out, the same in
 * every run.  X-Mock-Degrade forces one kind for one request.  What each
 * kind does is documented in docs/mock.md.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_mock_degrade.h"


static ngx_str_t  ngx_http_llm_route_mock_kinds[] = {
    ngx_string("none"),
    ngx_string("truncate"),
    ngx_string("empty"),
    ngx_string("refuse"),
    ngx_string("bad_json"),
    ngx_string("slow"),
};


static u_char  ngx_http_llm_route_mock_refusal[] =
    "I can't help with that request.";


ngx_int_t
ngx_http_llm_route_mock_degrade_param(ngx_http_llm_route_mock_conf_t *mcf,
    ngx_str_t *value)
{
    u_char      *eq;
    size_t       len;
    ngx_int_t    n;
    ngx_str_t    v;
    ngx_uint_t   k;

    eq = ngx_strlchr(value->data, value->data + value->len, '=');
    if (eq == NULL) {
        return NGX_DECLINED;
    }

    len = eq - value->data;
    v.data = eq + 1;
    v.len = value->data + value->len - v.data;

    if (len == sizeof("slow_delay") - 1
        && ngx_strncmp(value->data, "slow_delay", len) == 0)
    {
        n = ngx_parse_time(&v, 0);
        if (n == NGX_ERROR || n > NGX_HTTP_LLM_ROUTE_MOCK_MAX_TIME) {
            return NGX_ERROR;
        }

        mcf->slow_delay = (ngx_msec_t) n;
        return NGX_OK;
    }

    for (k = 1; k < NGX_HTTP_LLM_ROUTE_MOCK_KINDS; k++) {
        if (len == ngx_http_llm_route_mock_kinds[k].len
            && ngx_strncmp(value->data, ngx_http_llm_route_mock_kinds[k].data,
                           len) == 0)
        {
            break;
        }
    }

    if (k == NGX_HTTP_LLM_ROUTE_MOCK_KINDS) {
        return NGX_DECLINED;
    }

    if (v.len && v.data[v.len - 1] == '%') {
        v.len--;
    }

    n = ngx_atoi(v.data, v.len);
    if (n == NGX_ERROR || n > 100) {
        return NGX_ERROR;
    }

    mcf->share[k] = n;

    return NGX_OK;
}


char *
ngx_http_llm_route_mock_degrade_check(ngx_http_llm_route_mock_conf_t *mcf)
{
    ngx_uint_t  k, sum;

    sum = 0;

    for (k = 1; k < NGX_HTTP_LLM_ROUTE_MOCK_SLOW; k++) {
        sum += mcf->share[k];
    }

    if (sum > 100) {
        return "has truncate, empty, refuse and bad_json shares over 100%";
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_llm_route_mock_degrade_header(ngx_str_t *value)
{
    ngx_uint_t  k;

    for (k = 0; k < NGX_HTTP_LLM_ROUTE_MOCK_KINDS; k++) {
        if (value->len == ngx_http_llm_route_mock_kinds[k].len
            && ngx_strncasecmp(value->data,
                               ngx_http_llm_route_mock_kinds[k].data,
                               value->len) == 0)
        {
            return k + 1;
        }
    }

    return NGX_ERROR;
}


void
ngx_http_llm_route_mock_degrade(ngx_http_llm_route_mock_ctx_t *ctx,
    ngx_uint_t *c)
{
    ngx_uint_t                       k, slot, from, seq, slow;
    ngx_http_llm_route_mock_conf_t  *mcf;

    mcf = ctx->conf;

    if (ctx->forced) {
        k = ctx->forced - 1;
        slow = (k == NGX_HTTP_LLM_ROUTE_MOCK_SLOW);

    } else {
        seq = mcf->seq++;
        slot = seq * 37 % 100;
        from = 0;

        for (k = 1; k < NGX_HTTP_LLM_ROUTE_MOCK_SLOW; k++) {
            if (slot < from + mcf->share[k]) {
                break;
            }

            from += mcf->share[k];
        }

        slow = ((seq * 73 + 50) % 100
                < mcf->share[NGX_HTTP_LLM_ROUTE_MOCK_SLOW]);
    }

    if (slow) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                       "llm_route: mock answer slowed by %M",
                       mcf->slow_delay);

        ctx->ttft += mcf->slow_delay;
    }

    if (k == NGX_HTTP_LLM_ROUTE_MOCK_SLOW) {
        k = NGX_HTTP_LLM_ROUTE_MOCK_NORMAL;
    }

    ctx->degrade = k;

    if (k == NGX_HTTP_LLM_ROUTE_MOCK_NORMAL) {
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "llm_route: mock answer degraded: %V",
                   &ngx_http_llm_route_mock_kinds[k]);

    switch (k) {

    case NGX_HTTP_LLM_ROUTE_MOCK_TRUNCATE:
        /* half the words, cut by the limit; a tool call becomes text */
        ctx->call = 0;
        ctx->json_object = 0;
        ngx_str_null(&ctx->text);
        *c = (*c + 1) / 2;
        ctx->length = 1;
        break;

    case NGX_HTTP_LLM_ROUTE_MOCK_EMPTY:
        ctx->call = 0;
        ctx->json_object = 0;
        ngx_str_null(&ctx->text);
        *c = 0;
        ctx->length = 0;
        break;

    case NGX_HTTP_LLM_ROUTE_MOCK_REFUSE:
        ctx->call = 0;
        ctx->json_object = 0;
        ctx->text.data = ngx_http_llm_route_mock_refusal;
        ctx->text.len = sizeof(ngx_http_llm_route_mock_refusal) - 1;
        ctx->length = 0;
        break;

    default: /* NGX_HTTP_LLM_ROUTE_MOCK_BAD_JSON */
        /*
         * the arguments lose their last byte; an Anthropic JSON answer
         * carries "input" as an object, which cannot be broken
         */
        if (ctx->call && ctx->text.len
            && !(ctx->anthropic && !ctx->stream))
        {
            ctx->text.len--;
        }

        break;
    }
}
