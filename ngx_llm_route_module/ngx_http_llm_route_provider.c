
/*
 * ngx_llm_route_module: the providers.
 *
 *     llm_route_provider NAME {
 *         upstream UPSTREAM; scheme http|https; host HOST; base_path PATH;
 *         api_key env=NAME|file=PATH|KEY; max_fails N; fail_timeout TIME;
 *     }
 *
 * and, with a debug build, the warnings that a debug log would write
 * their keys.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_provider.h"


/* the parameters that are names, set once, of visible ASCII but extra */

typedef struct {
    ngx_str_t                       name;
    size_t                          offset;
    const char                     *extra;
    ngx_uint_t                      path;        /* starts with "/" */
} ngx_http_llm_route_provider_str_t;


static ngx_http_llm_route_provider_str_t
    ngx_http_llm_route_provider_strings[] =
{
    { ngx_string("upstream"),
      offsetof(ngx_http_llm_route_provider_t, upstream),
      "\"'{};/?#@\\", 0 },

    { ngx_string("host"),
      offsetof(ngx_http_llm_route_provider_t, host),
      "\"'{};/?#@\\,", 0 },

    { ngx_string("base_path"),
      offsetof(ngx_http_llm_route_provider_t, base_path),
      "\"'{};?#\\%", 1 },

    { ngx_null_string, 0, NULL, 0 }
};


static char *ngx_http_llm_route_provider_cmd(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_llm_route_api_key(ngx_conf_t *cf,
    ngx_http_llm_route_provider_t *pr, ngx_str_t *value);
static char *ngx_http_llm_route_api_key_file(ngx_conf_t *cf,
    ngx_http_llm_route_provider_t *pr, ngx_str_t *value, ngx_str_t *key);


char *
ngx_http_llm_route_provider_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_llm_route_main_conf_t *mcf = conf;

    char                            *rv;
    u_char                          *p;
    ngx_str_t                       *value;
    ngx_conf_t                       save;
    ngx_http_llm_route_provider_t   *pr, **ppr;

    value = cf->args->elts;

    if (ngx_http_llm_route_check_token(&value[1], "\"'{};/:?#@\\") != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid provider name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_llm_route_find_provider(mcf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate llm_route_provider \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    pr = ngx_pcalloc(cf->pool, sizeof(ngx_http_llm_route_provider_t));
    if (pr == NULL) {
        return NGX_CONF_ERROR;
    }

    pr->name = value[1];
    pr->index = mcf->providers.nelts;
    pr->slot = -1;
    pr->max_fails = NGX_CONF_UNSET_UINT;
    pr->fail_timeout = NGX_CONF_UNSET_MSEC;

    save = *cf;
    cf->handler = ngx_http_llm_route_provider_cmd;
    cf->handler_conf = (char *) pr;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (pr->upstream.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no \"upstream\" in llm_route_provider \"%V\"",
                           &pr->name);
        return NGX_CONF_ERROR;
    }

    if (pr->scheme.len == 0) {
        ngx_str_set(&pr->scheme, "https");
    }

    if (pr->host.len == 0) {
        /* the upstream's name without the port */
        pr->host = pr->upstream;

        p = ngx_strlchr(pr->host.data, pr->host.data + pr->host.len, ':');
        if (p && pr->host.data[0] != '[') {
            pr->host.len = p - pr->host.data;
        }
    }

    if (pr->base_path.data == NULL) {
        ngx_str_set(&pr->base_path, "/v1");
    }

    ngx_conf_init_uint_value(pr->max_fails, 1);
    ngx_conf_init_msec_value(pr->fail_timeout, 10000);

    ppr = ngx_array_push(&mcf->providers);
    if (ppr == NULL) {
        return NGX_CONF_ERROR;
    }

    *ppr = pr;

    return NGX_CONF_OK;
}


static char *
ngx_http_llm_route_provider_cmd(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_llm_route_provider_t *pr = conf;

    ngx_int_t                           n;
    ngx_str_t                          *value, *name, *arg, *field;
    ngx_http_llm_route_provider_str_t  *ps;

    value = cf->args->elts;
    name = &value[0];

    if (cf->args->nelts != 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of arguments in \"%V\" "
                           "of llm_route_provider \"%V\"", name, &pr->name);
        return NGX_CONF_ERROR;
    }

    arg = &value[1];

    for (ps = ngx_http_llm_route_provider_strings; ps->name.len; ps++) {

        if (ngx_strcmp(name->data, ps->name.data) != 0) {
            continue;
        }

        field = (ngx_str_t *) ((u_char *) pr + ps->offset);

        if (field->data) {
            goto duplicate;
        }

        if (ngx_http_llm_route_check_token(arg, ps->extra) != NGX_OK
            || (ps->path && arg->data[0] != '/'))
        {
            goto invalid;
        }

        *field = *arg;

        /* "/" and "/v1/" become "" and "/v1": endpoints start with "/" */
        while (ps->path && field->len && field->data[field->len - 1] == '/') {
            field->len--;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "scheme") == 0) {

        if (pr->scheme.len) {
            goto duplicate;
        }

        if (ngx_strcmp(arg->data, "http") != 0
            && ngx_strcmp(arg->data, "https") != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"scheme\" value \"%V\" "
                               "in llm_route_provider \"%V\", "
                               "it must be \"http\" or \"https\"",
                               arg, &pr->name);
            return NGX_CONF_ERROR;
        }

        pr->scheme = *arg;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "api_key") == 0) {

        if (pr->authorization.len) {
            goto duplicate;
        }

        return ngx_http_llm_route_api_key(cf, pr, arg);
    }

    if (ngx_strcmp(name->data, "max_fails") == 0) {

        if (pr->max_fails != NGX_CONF_UNSET_UINT) {
            goto duplicate;
        }

        n = ngx_atoi(arg->data, arg->len);
        if (n == NGX_ERROR || n > 1000) {
            goto invalid;
        }

        pr->max_fails = (ngx_uint_t) n;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(name->data, "fail_timeout") == 0) {

        if (pr->fail_timeout != NGX_CONF_UNSET_MSEC) {
            goto duplicate;
        }

        pr->fail_timeout = ngx_parse_time(arg, 0);
        if (pr->fail_timeout == (ngx_msec_t) NGX_ERROR
            || pr->fail_timeout == 0)
        {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in llm_route_provider \"%V\"",
                       name, &pr->name);
    return NGX_CONF_ERROR;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" is duplicate in llm_route_provider \"%V\"",
                       name, &pr->name);
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%V\" value \"%V\" in llm_route_provider "
                       "\"%V\"", name, arg, &pr->name);
    return NGX_CONF_ERROR;
}


/*
 * api_key env=NAME | file=/path | literal.  The key itself is never
 * written to a log: messages name the source, never the value.
 */

static char *
ngx_http_llm_route_api_key(ngx_conf_t *cf, ngx_http_llm_route_provider_t *pr,
    ngx_str_t *value)
{
    char        *env;
    u_char      *p;
    size_t       len;
    ngx_str_t    key;
    ngx_uint_t   i;

    if (ngx_process == NGX_PROCESS_SIGNALLER) {
        /* "nginx -s reload" reads the configuration for the pid file only */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, cf->log, 0,
                       "llm_route: api_key of \"%V\" not read by a signaller",
                       &pr->name);
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value->data, "env=", 4) == 0) {

        if (value->len == 4) {
            goto empty;
        }

        env = getenv((char *) value->data + 4);

        if (env == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "environment variable \"%s\" for \"api_key\" "
                               "of llm_route_provider \"%V\" is not set: "
                               "the nginx master reads it when it starts; "
                               "for the systemd service set it with "
                               "EnvironmentFile= in a drop-in, for "
                               "\"sudo nginx -t\" keep it with "
                               "\"sudo --preserve-env=%s\", or use "
                               "\"api_key file=PATH\" (see docs/install.md)",
                               value->data + 4, &pr->name, value->data + 4);
            return NGX_CONF_ERROR;
        }

        key.data = (u_char *) env;
        key.len = ngx_strlen(env);

    } else if (ngx_strncmp(value->data, "file=", 5) == 0) {

        if (value->len == 5) {
            goto empty;
        }

        if (ngx_http_llm_route_api_key_file(cf, pr, value, &key)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

    } else {
        key = *value;
    }

    if (key.len == 0) {
        goto empty;
    }

    for (i = 0; i < key.len; i++) {
        if (key.data[i] <= 0x20 || key.data[i] >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"api_key\" of llm_route_provider \"%V\" "
                               "contains a character not allowed in a "
                               "header", &pr->name);
            return NGX_CONF_ERROR;
        }
    }

    len = sizeof("Bearer ") - 1 + key.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    pr->authorization.data = p;
    pr->authorization.len = len;

    p = ngx_cpymem(p, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p, key.data, key.len);

    return NGX_CONF_OK;

empty:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "empty \"api_key\" in llm_route_provider \"%V\"",
                       &pr->name);
    return NGX_CONF_ERROR;
}


/* api_key file=PATH: the file's content without surrounding white space */

static char *
ngx_http_llm_route_api_key_file(ngx_conf_t *cf,
    ngx_http_llm_route_provider_t *pr, ngx_str_t *value, ngx_str_t *key)
{
    ngx_err_t    err;
    ngx_int_t    rc;
    ngx_str_t    path;
    ngx_file_t   file;

    path.data = value->data + 5;
    path.len = value->len - 5;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot read \"api_key\" file \"%V\" "
                           "of llm_route_provider \"%V\"",
                           &path, &pr->name);
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_llm_route_read_file(&file, 65536, cf->pool, key);

    err = ngx_errno;
    (void) ngx_close_file(file.fd);

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"api_key\" file \"%V\" of llm_route_provider "
                           "\"%V\" is not a small regular file",
                           &path, &pr->name);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           "cannot read \"api_key\" file \"%V\" "
                           "of llm_route_provider \"%V\"",
                           &path, &pr->name);
        return NGX_CONF_ERROR;
    }

    /* surrounding white space, a trailing newline in particular */

#define ngx_http_llm_route_space(c)                                           \
    ((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

    while (key->len && ngx_http_llm_route_space(key->data[0])) {
        key->data++;
        key->len--;
    }

    while (key->len && ngx_http_llm_route_space(key->data[key->len - 1])) {
        key->len--;
    }

#undef ngx_http_llm_route_space

    return NGX_CONF_OK;
}


ngx_http_llm_route_provider_t *
ngx_http_llm_route_find_provider(ngx_http_llm_route_main_conf_t *mcf,
    ngx_str_t *name)
{
    ngx_uint_t                       i;
    ngx_http_llm_route_provider_t  **p;

    p = mcf->providers.elts;

    for (i = 0; i < mcf->providers.nelts; i++) {
        if (p[i]->name.len == name->len
            && ngx_strncmp(p[i]->name.data, name->data, name->len) == 0)
        {
            return p[i];
        }
    }

    return NULL;
}


#if (NGX_DEBUG)

/*
 * nginx's debug lines print the request it sends upstream, headers and
 * all ("http proxy header:"), and the values of variables ("http script
 * var:"): at debug level the error log gets the provider's key.  Said at
 * start (nginx -t too), where it can be known: a routed location whose
 * error log writes debug_http, and debug_connection (which turns debug
 * on for its clients whatever the level).
 */

/* from merge_loc_conf, core's merge done: a routed location's error log */

void
ngx_http_llm_route_debug_location(ngx_conf_t *cf,
    ngx_http_llm_route_loc_conf_t *lcf)
{
    ngx_log_t                       *log;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_llm_route_main_conf_t  *mcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_llm_route_module);

    if (mcf->debug_location || lcf->answers) {
        return;
    }

    for (log = clcf->error_log; log; log = log->next) {
        if (log->log_level & NGX_LOG_DEBUG_HTTP) {
            mcf->debug_location = clcf;
            return;
        }
    }
}


void
ngx_http_llm_route_debug_log_check(ngx_conf_t *cf,
    ngx_http_llm_route_main_conf_t *mcf)
{
    ngx_str_t                        where;
    ngx_uint_t                       i;
    ngx_event_conf_t                *ecf;
    ngx_http_llm_route_provider_t  **p, *keyed;

    keyed = NULL;
    p = mcf->providers.elts;

    for (i = 0; i < mcf->providers.nelts; i++) {
        if (p[i]->authorization.len) {
            keyed = p[i];
            break;
        }
    }

    if (keyed == NULL) {
        return;
    }

    if (mcf->debug_location) {
        where = mcf->debug_location->name;

        if (where.len == 0) {
            ngx_str_set(&where, "server{}");
        }

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the error log of \"%V\" is at debug level with "
                           "llm_route on: nginx's debug lines show the "
                           "headers sent to providers, so the key of "
                           "provider \"%V\" will be written to it",
                           &where, &keyed->name);
    }

    /* the events{} block, if it came before http{} */

    if (cf->cycle->conf_ctx[ngx_events_module.index] == NULL) {
        return;
    }

    ecf = ngx_event_get_conf(cf->cycle->conf_ctx, ngx_event_core_module);

    if (ecf->debug_connection.nelts) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"debug_connection\" is set: nginx's debug "
                           "lines show the headers sent to providers, so "
                           "the key of provider \"%V\" will be written to "
                           "the error log for those clients", &keyed->name);
    }
}

#endif
