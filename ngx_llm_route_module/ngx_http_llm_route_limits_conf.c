
/*
 * ngx_llm_route_module: the directives of budgets and rate limits.
 *
 *     llm_route_budget KEY LIMIT_USD [period=minute|hour|day|week|month|total];
 *     llm_route_rate   KEY [rpm=N] [tpm=N];
 *
 * Identity.  A budget belongs to its key expression (its text, e.g.
 * "$http_x_team") and period, a rate limit to its key expression and
 * its rpm and tpm values: the count of a key in the zone is found by
 * that identity and the key's value, so that it survives a reload.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_limits_conf.h"
#include "ngx_http_llm_route_limits_shm.h"
#include "llr_cost.h"


static char *ngx_http_llm_route_limit_key(ngx_conf_t *cf,
    ngx_http_llm_route_limit_t *l, ngx_str_t *value);


/* ---- directives --------------------------------------------------------- */


static char *
ngx_http_llm_route_limit_key(ngx_conf_t *cf, ngx_http_llm_route_limit_t *l,
    ngx_str_t *value)
{
    ngx_http_compile_complex_value_t   ccv;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = &l->key;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    l->file = cf->conf_file->file.name;
    l->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* ---- directives --------------------------------------------------------- */




char *
ngx_http_llm_route_budget(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_loc_conf_t *lcf = conf;

    u_char                      kind;
    ngx_str_t                  *value, s;
    ngx_uint_t                  i;
    const char                 *err;
    ngx_http_llm_route_limit_t *l;

    value = cf->args->elts;

    if (lcf->budgets == NULL) {
        lcf->budgets = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_llm_route_limit_t));
        if (lcf->budgets == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    l = ngx_array_push(lcf->budgets);
    if (l == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(l, sizeof(ngx_http_llm_route_limit_t));

    l->kind = NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET;
    l->period = LLR_PERIOD_DAY;

    if (ngx_http_llm_route_limit_key(cf, l, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    s = value[2];

    if (s.len && s.data[0] == '$') {
        /* "$5" reads naturally but nginx would take it as a variable */
        s.data++;
        s.len--;
    }

    if (llr_parse_decimal((char *) s.data, s.len, 12, UINT64_MAX, &l->limit,
                          &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid limit \"%V\" in \"%V\": %s (a USD "
                           "amount such as 5 or 0.25, at most 12 decimals)",
                           &value[2], &cmd->name, err);
        return NGX_CONF_ERROR;
    }

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "period=", 7) == 0
            && llr_period_parse((char *) value[i].data + 7, value[i].len - 7,
                                &l->period)
               == 0)
        {
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\", expected "
                           "period=minute|hour|day|week|month|total",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    kind = NGX_HTTP_LLM_ROUTE_LIMIT_BUDGET;
    l->ident = llr_fnv1a64(LLR_FNV1A64_INIT, &kind, 1);
    l->ident = llr_fnv1a64(l->ident, value[1].data, value[1].len);
    l->ident = llr_fnv1a64(l->ident, &l->period, sizeof(l->period));

    return NGX_CONF_OK;
}


char *
ngx_http_llm_route_rate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_loc_conf_t *lcf = conf;

    u_char                      kind;
    uint64_t                   *n;
    ngx_str_t                  *value;
    ngx_uint_t                  i, skip;
    const char                 *err;
    ngx_http_llm_route_limit_t *l;

    value = cf->args->elts;

    if (lcf->rates == NULL) {
        lcf->rates = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_llm_route_limit_t));
        if (lcf->rates == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    l = ngx_array_push(lcf->rates);
    if (l == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(l, sizeof(ngx_http_llm_route_limit_t));

    l->kind = NGX_HTTP_LLM_ROUTE_LIMIT_RATE;

    if (ngx_http_llm_route_limit_key(cf, l, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "rpm=", 4) == 0) {
            n = &l->rpm;
            skip = 4;

        } else if (ngx_strncmp(value[i].data, "tpm=", 4) == 0) {
            n = &l->tpm;
            skip = 4;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\", "
                               "expected rpm=N or tpm=N",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (*n) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate parameter \"%V\" in \"%V\"",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        err = NULL;

        if (llr_parse_uint((char *) value[i].data + skip, value[i].len - skip,
                           (uint64_t) 1 << 40, n, &err)
            != 0
            || *n == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\": %s",
                               &value[i], &cmd->name,
                               *n == 0 && err == NULL ? "must be positive"
                                                      : err);
            return NGX_CONF_ERROR;
        }
    }

    if (l->rpm == 0 && l->tpm == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs rpm=N, tpm=N or both", &cmd->name);
        return NGX_CONF_ERROR;
    }

    kind = NGX_HTTP_LLM_ROUTE_LIMIT_RATE;
    l->ident = llr_fnv1a64(LLR_FNV1A64_INIT, &kind, 1);
    l->ident = llr_fnv1a64(l->ident, value[1].data, value[1].len);
    l->ident = llr_fnv1a64(l->ident, &l->rpm, sizeof(uint64_t));
    l->ident = llr_fnv1a64(l->ident, &l->tpm, sizeof(uint64_t));

    return NGX_CONF_OK;
}


/* from merge_loc_conf: a level's lists replace its parent's */

char *
ngx_http_llm_route_limits_merge(ngx_conf_t *cf,
    ngx_http_llm_route_loc_conf_t *prev, ngx_http_llm_route_loc_conf_t *conf)
{
    ngx_array_t                     *a;
    ngx_uint_t                       k;
    ngx_http_llm_route_limit_t      *l;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (conf->budgets == NULL) {
        conf->budgets = prev->budgets;
    }

    if (conf->rates == NULL) {
        conf->rates = prev->rates;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module);

    if (mcf->shm_zone) {
        return NGX_CONF_OK;
    }

    for (k = 0; k < 2; k++) {
        a = k ? conf->rates : conf->budgets;

        if (a == NULL || a->nelts == 0) {
            continue;
        }

        l = a->elts;

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" in %V:%ui needs \"llm_route_zone\" in the "
                      "http{} block",
                      k ? "llm_route_rate" : "llm_route_budget",
                      &l[0].file, l[0].line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
