
/*
 * ngx_llm_route_module: the rules.
 *
 *     llm_route_rule text|VALUE ~REGEX|~*REGEX|=STRING
 *         task=|model=|policy=NAME;
 *     llm_route_override VALUE;
 *
 * What a rule names is checked where it is first merged, once the main
 * configuration (the catalog) is complete.  Text rules are matched as
 * the scanner reads each message; the others, and the override, once
 * the body is read, before the classifier's task is used.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_rules.h"
#include "ngx_http_llm_route_policy.h"
#include "ngx_http_llm_route_ctx.h"


static char *ngx_http_llm_route_rule_condition(ngx_conf_t *cf,
    ngx_http_llm_route_rule_t *rule, ngx_str_t *c);
static void ngx_http_llm_route_cleanup_pattern(void *data);


/*
 * llm_route_rule text|VALUE ~REGEX|~*REGEX|=STRING task=|model=|policy=NAME;
 *
 * "text" matches each message text (as the scanner delivers it, one JSON
 * string at a time); VALUE is a complex value ($http_x_priority, ...).
 */

char *
ngx_http_llm_route_rule(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_loc_conf_t *lcf = conf;

    u_char                            *p;
    ngx_str_t                         *value;
    ngx_http_llm_route_rule_t         *rule;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (lcf->rules == NGX_CONF_UNSET_PTR) {
        lcf->rules = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_llm_route_rule_t));
        if (lcf->rules == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (lcf->rules->nelts >= 64) {
        return "is used more than 64 times at one level";
    }

    rule = ngx_array_push(lcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_llm_route_rule_t));

    /* the rule as written, for messages */

    rule->text.len = value[1].len + value[2].len + value[3].len + 2;
    rule->text.data = ngx_pnalloc(cf->pool, rule->text.len);
    if (rule->text.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(rule->text.data, "%V %V %V", &value[1], &value[2],
                    &value[3]);
    rule->text.len = p - rule->text.data;

    /* the subject */

    if (ngx_strcmp(value[1].data, "text") == 0) {
        rule->value = NULL;
        lcf->text_rules++;

    } else {
        rule->value = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (rule->value == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[1];
        ccv.complex_value = rule->value;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    /* the condition */

    if (ngx_http_llm_route_rule_condition(cf, rule, &value[2])
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the action */

    if (ngx_strncmp(value[3].data, "task=", 5) == 0) {
        rule->action = NGX_HTTP_LLM_ROUTE_RULE_TASK;
        rule->target.data = value[3].data + 5;

    } else if (ngx_strncmp(value[3].data, "model=", 6) == 0) {
        rule->action = NGX_HTTP_LLM_ROUTE_RULE_MODEL;
        rule->target.data = value[3].data + 6;

    } else if (ngx_strncmp(value[3].data, "policy=", 7) == 0) {
        rule->action = NGX_HTTP_LLM_ROUTE_RULE_POLICY;
        rule->target.data = value[3].data + 7;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid action \"%V\" in llm_route_rule, it "
                           "must be task=, model= or policy=", &value[3]);
        return NGX_CONF_ERROR;
    }

    rule->target.len = value[3].data + value[3].len - rule->target.data;

    if (rule->target.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty \"%V\" in llm_route_rule", &value[3]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* ~REGEX, ~*REGEX (compiled with PCRE2) or =STRING */

static char *
ngx_http_llm_route_rule_condition(ngx_conf_t *cf,
    ngx_http_llm_route_rule_t *rule, ngx_str_t *c)
{
    char                 err[256];
    ngx_str_t            re;
    ngx_uint_t           caseless;
    ngx_pool_cleanup_t  *cln;

    if (c->data[0] == '~') {
        caseless = (c->len > 1 && c->data[1] == '*');

        re.data = c->data + 1 + caseless;
        re.len = c->len - 1 - caseless;

        if (re.len == 0) {
            goto invalid;
        }

        rule->pattern = ngx_palloc(cf->pool, sizeof(llr_pattern_t));
        if (rule->pattern == NULL) {
            return NGX_CONF_ERROR;
        }

        if (llr_pattern_compile(rule->pattern, (char *) re.data, re.len,
                                (int) caseless, err, sizeof(err))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid regex \"%V\" in llm_route_rule: %s",
                               &re, err);
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            llr_pattern_free(rule->pattern);
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_llm_route_cleanup_pattern;
        cln->data = rule->pattern;

        rule->regex = 1;

    } else if (c->data[0] == '=') {
        rule->string.data = c->data + 1;
        rule->string.len = c->len - 1;

    } else {
        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid condition \"%V\" in llm_route_rule, it "
                       "must be ~REGEX, ~*REGEX or =STRING", c);
    return NGX_CONF_ERROR;
}


static void
ngx_http_llm_route_cleanup_pattern(void *data)
{
    llr_pattern_free(data);
}


/* merge_loc_conf: a level's rules replace its parent's */

char *
ngx_http_llm_route_rules_merge(ngx_conf_t *cf,
    ngx_http_llm_route_loc_conf_t *prev, ngx_http_llm_route_loc_conf_t *conf)
{
    ngx_uint_t                       i;
    ngx_http_llm_route_rule_t       *rule;
    ngx_http_llm_route_main_conf_t  *mcf;

    if (conf->rules == NGX_CONF_UNSET_PTR) {
        conf->rules = prev->rules;
        conf->text_rules = prev->text_rules;
    }

    if (conf->rules == NGX_CONF_UNSET_PTR) {
        conf->rules = NULL;
    }

    if (conf->rules == NULL) {
        return NGX_CONF_OK;
    }

    /*
     * the main configuration is complete here: check what rules name,
     * once, where they are first merged (the http level's rules are only
     * ever merged as inherited ones)
     */

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module);
    rule = conf->rules->elts;

    for (i = 0; i < conf->rules->nelts; i++) {

        if (rule[i].resolved) {
            continue;
        }

        rule[i].resolved = 1;

        switch (rule[i].action) {

        case NGX_HTTP_LLM_ROUTE_RULE_TASK:
            rule[i].task = llr_cls_task_index(mcf->classifier,
                                              (char *) rule[i].target.data,
                                              rule[i].target.len);
            if (rule[i].task < 0) {
                goto unknown;
            }

            break;

        case NGX_HTTP_LLM_ROUTE_RULE_MODEL:
            if (ngx_http_llm_route_find_model(mcf, rule[i].target.data,
                                              rule[i].target.len)
                == NULL)
            {
                goto unknown;
            }

            break;

        default: /* NGX_HTTP_LLM_ROUTE_RULE_POLICY */
            if (ngx_http_llm_route_find_policy(mcf, rule[i].target.data,
                                               rule[i].target.len)
                == NULL)
            {
                goto unknown;
            }
        }
    }

    return NGX_CONF_OK;

unknown:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown %s \"%V\" in \"llm_route_rule %V\"",
                       rule[i].action == NGX_HTTP_LLM_ROUTE_RULE_TASK
                       ? "task" : (rule[i].action
                                   == NGX_HTTP_LLM_ROUTE_RULE_MODEL
                                   ? "model" : "policy"),
                       &rule[i].target, &rule[i].text);
    return NGX_CONF_ERROR;
}


/*
 * Rules before the classifier.  Precedence: llm_route_override (when its
 * value is not empty), then the first matching model= or policy= rule,
 * then what the client asked for; the first matching task= rule replaces
 * the classified task (the difficulty stays the classifier's).
 */

ngx_int_t
ngx_http_llm_route_rules_apply(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    ngx_int_t                        rc;
    ngx_str_t                        val;
    ngx_uint_t                       i, task_done, target_done, n;
    ngx_http_llm_route_rule_t       *rule;
    ngx_http_llm_route_loc_conf_t   *lcf;
    ngx_http_llm_route_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_llm_route_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    ctx->target = ctx->requested_model;
    target_done = 0;
    task_done = 0;

    if (lcf->override) {
        if (ngx_http_complex_value(r, lcf->override, &val) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (val.len) {
            ctx->target = val;
            ctx->forced = 1;
            target_done = 1;
        }
    }

    if (lcf->rules == NULL) {
        return NGX_OK;
    }

    rule = lcf->rules->elts;
    n = 0;

    for (i = 0; i < lcf->rules->nelts; i++) {

        if (rule[i].action == NGX_HTTP_LLM_ROUTE_RULE_TASK
            ? task_done : target_done)
        {
            if (rule[i].value == NULL) {
                n++;
            }

            continue;
        }

        if (rule[i].value == NULL) {
            /* text rules: matched while the body was scanned */
            if (!(ctx->text_matched & ((uint64_t) 1 << n++))) {
                continue;
            }

        } else {
            if (ngx_http_complex_value(r, rule[i].value, &val) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rule[i].regex) {
                rc = llr_pattern_match(rule[i].pattern, val.data, val.len);

                if (rc != 1) {
                    continue;
                }

            } else if (val.len != rule[i].string.len
                       || ngx_strncmp(val.data, rule[i].string.data, val.len)
                          != 0)
            {
                continue;
            }
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: rule \"%V\" matched", &rule[i].text);

        if (rule[i].action == NGX_HTTP_LLM_ROUTE_RULE_TASK) {
            ctx->task_index = (ngx_uint_t) rule[i].task;
            ctx->task.data = (u_char *) llr_cls_task_name(mcf->classifier,
                                                          (int) rule[i].task);
            ctx->task.len = ngx_strlen(ctx->task.data);
            task_done = 1;
            continue;
        }

        ctx->target = rule[i].target;
        ctx->forced = 2 + i;
        target_done = 1;
    }

    return NGX_OK;
}


/* a message text, against the text rules (bit n: the n-th text rule) */

void
ngx_http_llm_route_rules_text(ngx_http_llm_route_loc_conf_t *lcf,
    ngx_http_llm_route_ctx_t *ctx, const u_char *text, size_t len)
{
    uint64_t                    bit;
    ngx_uint_t                  i;
    ngx_http_llm_route_rule_t  *rule;

    rule = lcf->rules->elts;
    bit = 1;

    for (i = 0; i < lcf->rules->nelts; i++) {
        if (rule[i].value != NULL) {
            continue;
        }

        if (!(ctx->text_matched & bit)
            && (rule[i].regex
                ? llr_pattern_match(rule[i].pattern, text, len) == 1
                : (len == rule[i].string.len
                   && ngx_strncmp(text, rule[i].string.data, len) == 0)))
        {
            ctx->text_matched |= bit;
        }

        bit <<= 1;
    }
}


ngx_uint_t
ngx_http_llm_route_rules_need_text(ngx_http_llm_route_loc_conf_t *lcf)
{
    ngx_uint_t                  i;
    ngx_http_llm_route_rule_t  *rule;

    if (lcf->text_rules || lcf->override) {
        return 1;
    }

    rule = lcf->rules ? lcf->rules->elts : NULL;

    for (i = 0; rule && i < lcf->rules->nelts; i++) {
        if (rule[i].action == NGX_HTTP_LLM_ROUTE_RULE_POLICY) {
            return 1;
        }
    }

    return 0;
}
