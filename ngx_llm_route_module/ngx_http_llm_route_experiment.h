
/*
 * ngx_llm_route_module: experiments (llm_route_experiment): arms,
 * sticky assignment, the arms' statistics in the zone.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_EXPERIMENT_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_EXPERIMENT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_abtest.h"
#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_shm.h"


/* the zone's table of arms, found by "EXPERIMENT ARM" */
#define NGX_HTTP_LLM_ROUTE_ARMS_MAX     128


typedef struct {
    ngx_str_t                       name;
    ngx_str_t                       target;   /* model or policy; empty:
                                                 the control */
    ngx_uint_t                      weight;
    ngx_int_t                       slot;     /* in the zone's arms, -1 */
} ngx_http_llm_route_arm_t;


struct ngx_http_llm_route_experiment_s {
    ngx_str_t                       name;
    ngx_array_t                     match;    /* of ngx_str_t */
    ngx_http_complex_value_t       *key;      /* NULL: per request */
    ngx_uint_t                      narms;
    ngx_http_llm_route_arm_t        arms[LLR_AB_ARMS];
    llr_ab_conf_t                   ab;
    ngx_str_t                       file;
    ngx_uint_t                      line;
};


typedef struct {
    uint32_t                        name_len;
    u_char                          name[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    llr_ab_arm_t                    st;
} ngx_http_llm_route_arm_sh_t;


struct ngx_http_llm_route_arms_sh_s {
    ngx_uint_t                      n;        /* entries used */
    ngx_http_llm_route_arm_sh_t     arm[NGX_HTTP_LLM_ROUTE_ARMS_MAX];
};


/* llm_route_experiment NAME { ... } (http) */
char *ngx_http_llm_route_experiment(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* init main conf, after the policies: the arms' targets exist */
char *ngx_http_llm_route_experiment_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf);

/* the bytes of the zone the arms' table takes (0 without experiments) */
size_t ngx_http_llm_route_experiment_size(
    ngx_http_llm_route_main_conf_t *mcf);

/* init zone (the master): the arms' table, every arm's entry */
ngx_int_t ngx_http_llm_route_experiment_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf);

/*
 * After the override and the rules, before the route is chosen: the
 * experiment whose match has the target, its arm for this request, and
 * the arm's target in ctx->target
 */
ngx_int_t ngx_http_llm_route_experiment_apply(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* the route is chosen: "experiment NAME arm ARM; " before the receipt */
ngx_int_t ngx_http_llm_route_experiment_receipt(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx);

/* the log phase: the request into its arm's statistics */
void ngx_http_llm_route_experiment_record(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_record_t *rec);

/* the entry "EXPERIMENT ARM" of the zone's arms, t->n if none */
ngx_uint_t ngx_http_llm_route_experiment_find(ngx_http_llm_route_arms_sh_t *t,
    u_char *name, size_t len);

/* the request's arm's entry in the zone, -1 if none (for feedback) */
ngx_int_t ngx_http_llm_route_experiment_slot(ngx_http_llm_route_ctx_t *ctx);

/*
 * The state file's section of the arms (state.c): a count, then each
 * entry as it is in the zone (its name and its llr_ab_arm_t words).
 * The bytes to write, ngx_alloc()ed, *size set; NULL on error.
 */
u_char *ngx_http_llm_route_experiment_state(ngx_http_llm_route_shm_t *sh,
    ngx_log_t *log, size_t *size);

/*
 * Load a section into the zone's table (the arms of the configuration
 * are there; others are added while there is room): the bytes it took,
 * or NGX_ERROR if it is malformed
 */
ssize_t ngx_http_llm_route_experiment_load(ngx_http_llm_route_shm_t *sh,
    u_char *p, size_t size);

/* a feedback score (old: the one it replaces) for the arm's entry */
void ngx_http_llm_route_experiment_feedback(ngx_http_llm_route_shm_t *sh,
    uint32_t slot, int32_t score, int32_t old);


#endif /* _NGX_HTTP_LLM_ROUTE_EXPERIMENT_H_INCLUDED_ */
