
/*
 * ngx_llm_route_module: the rules (llm_route_rule, llm_route_override).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_RULES_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_RULES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_pattern.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_ctx.h"


typedef enum {
    NGX_HTTP_LLM_ROUTE_RULE_TASK = 0,
    NGX_HTTP_LLM_ROUTE_RULE_MODEL,
    NGX_HTTP_LLM_ROUTE_RULE_POLICY
} ngx_http_llm_route_rule_action_e;


/* llm_route_rule text|VALUE ~RE|~*RE|=STRING task=|model=|policy=NAME */
typedef struct {
    ngx_http_complex_value_t       *value;       /* NULL: message text */
    llr_pattern_t                  *pattern;     /* ~ and ~* */
    ngx_str_t                       string;      /* = */
    unsigned                        regex:1;
    unsigned                        resolved:1;  /* target checked */
    ngx_uint_t                      action;
    ngx_str_t                       target;
    ngx_int_t                       task;        /* task=: its index */
    ngx_str_t                       text;        /* the rule, for errors */
} ngx_http_llm_route_rule_t;


char *ngx_http_llm_route_rule(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_llm_route_rules_merge(ngx_conf_t *cf,
    ngx_http_llm_route_loc_conf_t *prev, ngx_http_llm_route_loc_conf_t *conf);

/*
 * The body is read: ctx->target and ctx->forced by the override and the
 * rules, ctx->task by a task= rule
 */
ngx_int_t ngx_http_llm_route_rules_apply(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/*
 * the message text is needed whatever the model: by text rules, by an
 * override or a policy= rule (which may pick a policy)
 */
ngx_uint_t ngx_http_llm_route_rules_need_text(
    ngx_http_llm_route_loc_conf_t *lcf);

/* as the body is scanned: a message text, into ctx->text_matched */
void ngx_http_llm_route_rules_text(ngx_http_llm_route_loc_conf_t *lcf,
    ngx_http_llm_route_ctx_t *ctx, const u_char *text, size_t len);


#endif /* _NGX_HTTP_LLM_ROUTE_RULES_H_INCLUDED_ */
