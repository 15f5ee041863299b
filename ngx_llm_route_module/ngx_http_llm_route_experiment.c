
/*
 * ngx_llm_route_module: experiments.
 *
 *     llm_route_experiment NAME {
 *         match  auto gpt-4o;          # the targets that enter
 *         key    $http_x_user;         # sticky; default: per request
 *         arm    control weight=90;    # the first arm: as configured
 *         arm    mini weight=10 model=gpt-4o-mini;   # or policy=NAME
 *     }
 *
 * A request whose target (after llm_route_override and the rules; a
 * forced target is not experimented on) is in an experiment's match
 * gets an arm (core/llr_abtest: by the key's hash, the same in every
 * worker and after every reload while the name and the weights stay;
 * by a random number without a key) and is routed to the arm's model
 * or policy, the control as configured.  Each arm's statistics
 * (requests, errors, signals, cost, feedback, latency) are an
 * llr_ab_arm_t in the zone, found by "EXPERIMENT ARM": a reload keeps
 * them, an arm of weight 0 (stopped) or an experiment taken out of the
 * configuration keeps its history for when it comes back.  The status
 * compares each arm with the control (status_json.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_experiment.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_policy.h"
#include "ngx_http_llm_route_quality.h"


static char *ngx_http_llm_route_experiment_cmd(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_llm_route_experiment_arm(ngx_conf_t *cf,
    ngx_http_llm_route_experiment_t *e);


char *
ngx_http_llm_route_experiment(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    char                              *rv;
    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_conf_t                         save;
    ngx_http_llm_route_experiment_t   *e, **ep;

    value = cf->args->elts;

    if (ngx_http_llm_route_check_token(&value[1], "\"'{};\\,") != NGX_OK
        || value[1].len > 32)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid experiment name \"%V\" (at most 32 "
                           "visible characters)", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (mcf->experiments == NULL) {
        mcf->experiments = ngx_array_create(cf->pool, 2, sizeof(void *));
        if (mcf->experiments == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ep = mcf->experiments->elts;

    for (i = 0; i < mcf->experiments->nelts; i++) {
        if (ep[i]->name.len == value[1].len
            && ngx_strncmp(ep[i]->name.data, value[1].data, value[1].len)
               == 0)
        {
            return "is duplicate";
        }
    }

    e = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_experiment_t));
    if (e == NULL) {
        return NGX_CONF_ERROR;
    }

    e->name = value[1];
    e->file = cf->conf_file->file.name;
    e->line = cf->conf_file->line;

    if (ngx_array_init(&e->match, cf->pool, 2, sizeof(ngx_str_t)) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    save = *cf;
    cf->handler = ngx_http_llm_route_experiment_cmd;
    cf->handler_conf = (char *) e;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (e->match.nelts == 0 || e->narms < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_route_experiment \"%V\" needs \"match\" and "
                           "two arms at least", &e->name);
        return NGX_CONF_ERROR;
    }

    e->ab.name = e->name.data;
    e->ab.name_len = e->name.len;
    e->ab.narms = (unsigned) e->narms;

    for (i = 0; i < e->narms; i++) {
        e->ab.weight[i] = (uint32_t) e->arms[i].weight;
        e->arms[i].slot = -1;
    }

    ep = ngx_array_push(mcf->experiments);
    if (ep == NULL) {
        return NGX_CONF_ERROR;
    }

    *ep = e;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_route_experiment_cmd(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_llm_route_experiment_t *e = (void *) cf->handler_conf;

    ngx_str_t                         *value, *s;
    ngx_uint_t                         i;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (cf->args->nelts >= 2 && value[0].len == 5
        && ngx_strncmp(value[0].data, "match", 5) == 0)
    {
        for (i = 1; i < cf->args->nelts; i++) {
            s = ngx_array_push(&e->match);
            if (s == NULL) {
                return NGX_CONF_ERROR;
            }

            *s = value[i];
        }

        return NGX_CONF_OK;
    }

    if (cf->args->nelts == 2 && value[0].len == 3
        && ngx_strncmp(value[0].data, "key", 3) == 0)
    {
        if (e->key) {
            return "has a duplicate \"key\"";
        }

        e->key = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (e->key == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[1];
        ccv.complex_value = e->key;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (cf->args->nelts >= 3 && value[0].len == 3
        && ngx_strncmp(value[0].data, "arm", 3) == 0)
    {
        return ngx_http_llm_route_experiment_arm(cf, e);
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown or malformed \"%V\" in llm_route_experiment "
                       "\"%V\" (match NAME..., key VALUE, arm NAME "
                       "weight=N [model=M | policy=P])", &value[0], &e->name);
    return NGX_CONF_ERROR;
}


/* arm NAME weight=N [model=M | policy=P] */

static char *
ngx_http_llm_route_experiment_arm(ngx_conf_t *cf,
    ngx_http_llm_route_experiment_t *e)
{
    ngx_int_t                  n;
    ngx_str_t                 *value;
    ngx_uint_t                 i, weight;
    ngx_http_llm_route_arm_t  *a;

    value = cf->args->elts;

    if (e->narms == LLR_AB_ARMS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "llm_route_experiment \"%V\" has more than %d "
                           "arms", &e->name, LLR_AB_ARMS);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_route_check_token(&value[1], "\"'{};\\,") != NGX_OK
        || value[1].len + 1 + e->name.len >= NGX_HTTP_LLM_ROUTE_NAME_LEN)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid arm name \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < e->narms; i++) {
        if (e->arms[i].name.len == value[1].len
            && ngx_strncmp(e->arms[i].name.data, value[1].data,
                           value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate arm \"%V\"",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    a = &e->arms[e->narms];
    a->name = value[1];
    weight = NGX_CONF_UNSET_UINT;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "weight=", 7) == 0) {
            n = ngx_atoi(value[i].data + 7, value[i].len - 7);
            if (n == NGX_ERROR || n > 1000000) {
                goto invalid;
            }

            weight = (ngx_uint_t) n;
            continue;
        }

        if (a->target.len == 0 && value[i].len > 6
            && ngx_strncmp(value[i].data, "model=", 6) == 0)
        {
            a->target.data = value[i].data + 6;
            a->target.len = value[i].len - 6;
            continue;
        }

        if (a->target.len == 0 && value[i].len > 7
            && ngx_strncmp(value[i].data, "policy=", 7) == 0)
        {
            a->target.data = value[i].data + 7;
            a->target.len = value[i].len - 7;
            continue;
        }

        goto invalid;
    }

    if (weight == NGX_CONF_UNSET_UINT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "arm \"%V\" needs weight=",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if ((e->narms == 0) != (a->target.len == 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the first arm of llm_route_experiment \"%V\" is "
                           "the control, routed as configured (no model= or "
                           "policy=); every other arm has one", &e->name);
        return NGX_CONF_ERROR;
    }

    a->weight = weight;
    e->narms++;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" of arm \"%V\"", &value[i],
                       &value[1]);
    return NGX_CONF_ERROR;
}


char *
ngx_http_llm_route_experiment_init_conf(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    ngx_uint_t                         i, k;
    ngx_http_llm_route_arm_t          *a;
    ngx_http_llm_route_experiment_t  **ep;

    if (mcf->experiments == NULL) {
        return NGX_CONF_OK;
    }

    ep = mcf->experiments->elts;

    for (i = 0; i < mcf->experiments->nelts; i++) {

        if (mcf->shm_zone == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"llm_route_experiment\" in %V:%ui needs "
                          "\"llm_route_zone\" in the http{} block",
                          &ep[i]->file, ep[i]->line);
            return NGX_CONF_ERROR;
        }

        for (k = 1; k < ep[i]->narms; k++) {
            a = &ep[i]->arms[k];

            if (ngx_http_llm_route_find_model(mcf, a->target.data,
                                              a->target.len) == NULL
                && ngx_http_llm_route_find_policy(mcf, a->target.data,
                                                  a->target.len) == NULL)
            {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "arm \"%V\" of llm_route_experiment \"%V\" in "
                              "%V:%ui: no model or policy \"%V\"",
                              &a->name, &ep[i]->name, &ep[i]->file,
                              ep[i]->line, &a->target);
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


size_t
ngx_http_llm_route_experiment_size(ngx_http_llm_route_main_conf_t *mcf)
{
    if (mcf->experiments == NULL) {
        return 0;
    }

    return ngx_align(sizeof(ngx_http_llm_route_arms_sh_t), ngx_pagesize);
}


ngx_int_t
ngx_http_llm_route_experiment_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_llm_route_shm_t *sh, ngx_http_llm_route_main_conf_t *mcf)
{
    u_char                            buf[NGX_HTTP_LLM_ROUTE_NAME_LEN];
    size_t                            len;
    ngx_uint_t                        i, k, j;
    ngx_slab_pool_t                  *shpool;
    ngx_http_llm_route_arm_t         *a;
    ngx_http_llm_route_arms_sh_t     *t;
    ngx_http_llm_route_experiment_t **ep;

    if (mcf->experiments == NULL) {
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    t = sh->arms;

    if (t == NULL) {
        t = ngx_slab_calloc_locked(shpool,
                                   sizeof(ngx_http_llm_route_arms_sh_t));
        if (t == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "llm_route_zone \"%V\" has no room for the "
                          "experiments' arms: it needs %uzk more",
                          &shm_zone->shm.name,
                          sizeof(ngx_http_llm_route_arms_sh_t) / 1024 + 1);
            return NGX_ERROR;
        }

        sh->arms = t;
    }

    ep = mcf->experiments->elts;

    for (i = 0; i < mcf->experiments->nelts; i++) {
        for (k = 0; k < ep[i]->narms; k++) {
            a = &ep[i]->arms[k];
            len = ngx_sprintf(buf, "%V %V", &ep[i]->name, &a->name) - buf;

            j = ngx_http_llm_route_experiment_find(t, buf, len);

            if (j == t->n) {
                if (t->n == NGX_HTTP_LLM_ROUTE_ARMS_MAX) {
                    ngx_shmtx_unlock(&shpool->mutex);
                    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                                  "llm_route_zone \"%V\" has kept %d arms of "
                                  "experiments: restart to forget the old "
                                  "ones", &shm_zone->shm.name,
                                  NGX_HTTP_LLM_ROUTE_ARMS_MAX);
                    return NGX_ERROR;
                }

                ngx_memzero(&t->arm[j], sizeof(ngx_http_llm_route_arm_sh_t));
                ngx_memcpy(t->arm[j].name, buf, len);
                t->arm[j].name_len = (uint32_t) len;
                t->n++;
            }

            a->slot = (ngx_int_t) j;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route_experiment_apply(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    int                                a;
    uint64_t                           rnd;
    ngx_str_t                          key, *m;
    ngx_uint_t                         i, k;
    ngx_http_llm_route_experiment_t  **ep, *e;
    ngx_http_llm_route_main_conf_t    *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_llm_route_module);

    ctx->experiment = NULL;

    if (mcf->experiments == NULL || ctx->forced) {
        return NGX_OK;
    }

    ep = mcf->experiments->elts;

    for (i = 0; i < mcf->experiments->nelts; i++) {
        e = ep[i];
        m = e->match.elts;

        for (k = 0; k < e->match.nelts; k++) {
            if (m[k].len == ctx->target.len
                && ngx_strncmp(m[k].data, ctx->target.data, m[k].len) == 0)
            {
                goto found;
            }
        }
    }

    return NGX_OK;

found:

    ngx_str_null(&key);

    if (e->key && ngx_http_complex_value(r, e->key, &key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rnd = ((uint64_t) (ngx_random() & 0x7fffffff) << 33)
          ^ ((uint64_t) (ngx_random() & 0x7fffffff) << 2)
          ^ (uint64_t) (ngx_random() & 3);

    a = llr_ab_assign(&e->ab, key.data, key.len, rnd);

    if (a < 0) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "llm_route: experiment \"%V\" stopped (every weight "
                       "is 0)", &e->name);
        return NGX_OK;
    }

    ctx->experiment = e;
    ctx->arm = (ngx_uint_t) a;

    if (e->arms[a].target.len) {
        ctx->target = e->arms[a].target;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: experiment \"%V\" arm \"%V\" (key \"%V\"): "
                   "routed to \"%V\"", &e->name, &e->arms[a].name, &key,
                   &ctx->target);

    return NGX_OK;
}


ngx_int_t
ngx_http_llm_route_experiment_receipt(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx)
{
    u_char                           *p;
    size_t                            len;
    ngx_http_llm_route_experiment_t  *e;

    e = ctx->experiment;

    if (e == NULL) {
        return NGX_OK;
    }

    len = sizeof("experiment  arm ; ") - 1 + e->name.len
          + e->arms[ctx->arm].name.len + ctx->reason.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->reason.len = ngx_sprintf(p, "experiment %V arm %V; %V", &e->name,
                                  &e->arms[ctx->arm].name, &ctx->reason)
                      - p;
    ctx->reason.data = p;

    return NGX_OK;
}


void
ngx_http_llm_route_experiment_record(ngx_http_request_t *r,
    ngx_http_llm_route_ctx_t *ctx, ngx_http_llm_route_record_t *rec)
{
    ngx_int_t                  slot;
    llr_q_obs_t                obs;
    ngx_http_llm_route_shm_t  *sh;

    slot = ngx_http_llm_route_experiment_slot(ctx);
    sh = ngx_http_llm_route_shm(r);

    if (slot < 0 || sh == NULL || sh->arms == NULL) {
        return;
    }

    ngx_http_llm_route_quality_obs(rec, &obs);

    llr_ab_record(&sh->arms->arm[slot].st, &obs);
}


ngx_uint_t
ngx_http_llm_route_experiment_find(ngx_http_llm_route_arms_sh_t *t,
    u_char *name, size_t len)
{
    ngx_uint_t  j;

    for (j = 0; j < t->n; j++) {
        if (t->arm[j].name_len == len
            && ngx_memcmp(t->arm[j].name, name, len) == 0)
        {
            break;
        }
    }

    return j;
}


ngx_int_t
ngx_http_llm_route_experiment_slot(ngx_http_llm_route_ctx_t *ctx)
{
    if (ctx->experiment == NULL) {
        return -1;
    }

    return ctx->experiment->arms[ctx->arm].slot;
}


void
ngx_http_llm_route_experiment_feedback(ngx_http_llm_route_shm_t *sh,
    uint32_t slot, int32_t score, int32_t old)
{
    if (sh->arms == NULL || slot >= sh->arms->n) {
        return;
    }

    llr_ab_feedback(&sh->arms->arm[slot].st, score, old);
}


u_char *
ngx_http_llm_route_experiment_state(ngx_http_llm_route_shm_t *sh,
    ngx_log_t *log, size_t *size)
{
    u_char                        *buf, *p;
    uint64_t                       n;
    ngx_uint_t                     i;
    llr_ab_arm_t                   st;
    ngx_http_llm_route_arm_sh_t   *a;

    n = sh->arms ? sh->arms->n : 0;

    /* the fields, without the struct's padding: what the load reads */
    *size = sizeof(uint64_t)
            + n * (sizeof(a->name_len) + sizeof(a->name)
                   + sizeof(llr_ab_arm_t));

    buf = ngx_alloc(*size, log);
    if (buf == NULL) {
        return NULL;
    }

    p = ngx_cpymem(buf, &n, sizeof(uint64_t));

    for (i = 0; i < n; i++) {
        a = &sh->arms->arm[i];

        /* each word loaded atomically: workers record meanwhile */
        llr_ab_snapshot(&st, &a->st);

        p = ngx_cpymem(p, &a->name_len, sizeof(a->name_len));
        p = ngx_cpymem(p, a->name, sizeof(a->name));
        p = ngx_cpymem(p, &st, sizeof(llr_ab_arm_t));
    }

    return buf;
}


ssize_t
ngx_http_llm_route_experiment_load(ngx_http_llm_route_shm_t *sh, u_char *p,
    size_t size)
{
    size_t                         esize, len;
    uint64_t                       n, i;
    ngx_uint_t                     j;
    ngx_http_llm_route_arms_sh_t  *t;
    ngx_http_llm_route_arm_sh_t    e;

    esize = sizeof(e.name_len) + sizeof(e.name) + sizeof(llr_ab_arm_t);

    if (size < sizeof(uint64_t)) {
        return NGX_ERROR;
    }

    ngx_memcpy(&n, p, sizeof(uint64_t));

    if (n > NGX_HTTP_LLM_ROUTE_ARMS_MAX
        || size - sizeof(uint64_t) < n * esize)
    {
        return NGX_ERROR;
    }

    len = sizeof(uint64_t) + n * esize;
    p += sizeof(uint64_t);
    t = sh->arms;

    for (i = 0; i < n; i++, p += esize) {
        ngx_memcpy(&e.name_len, p, sizeof(e.name_len));
        ngx_memcpy(e.name, p + sizeof(e.name_len), sizeof(e.name));
        ngx_memcpy(&e.st, p + sizeof(e.name_len) + sizeof(e.name),
                   sizeof(llr_ab_arm_t));

        if (e.name_len == 0 || e.name_len > sizeof(e.name)) {
            return NGX_ERROR;
        }

        if (t == NULL) {
            /* no experiment now: the arms are not kept */
            continue;
        }

        j = ngx_http_llm_route_experiment_find(t, e.name, e.name_len);

        if (j == t->n) {
            if (t->n == NGX_HTTP_LLM_ROUTE_ARMS_MAX) {
                continue;
            }

            t->n++;
        }

        t->arm[j] = e;
    }

    return (ssize_t) len;
}
