
/*
 * ngx_llm_route_module: is the module that runs the one on disk?
 *
 * nginx loads a dynamic module with dlopen(RTLD_NOW | RTLD_GLOBAL), and
 * keeps the old configuration's modules loaded while it reads a new one.
 * So a reload never runs a new build of this module:
 *
 *   - the same path (a package upgrade replaced the file): dlopen finds
 *     the object already loaded by that name and returns it, the old
 *     code;
 *   - another path: the new object is loaded, but its references to
 *     ngx_http_llm_route_module (the module list nginx reads) bind to
 *     the definition loaded first, the old one: the old code runs, and
 *     the shared zones keep their tag, so nginx hands init_zone the old
 *     zones, which the old code knows.
 *
 * Either way the zones' layout cannot change on a reload (their version
 * checks in zone.c, limits_shm.c and redis.c are a second guard), but an
 * operator who upgraded the package and reloaded runs the old module
 * without knowing it.  This says so, in the master, at every
 * configuration: the object the code runs from was replaced on disk,
 * or another object defining the module is loaded and does not run.
 * Restarting nginx (or the binary upgrade, USR2) runs the new one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <dlfcn.h>
#include <link.h>

#include "ngx_http_llm_route_binary.h"
#include "ngx_http_llm_route_conf.h"


#define NGX_HTTP_LLM_ROUTE_BINARY_OBJECTS  256


typedef struct {
    const char                      *names[NGX_HTTP_LLM_ROUTE_BINARY_OBJECTS];
    ngx_uint_t                       n;
} ngx_http_llm_route_objects_t;


static int ngx_http_llm_route_binary_object(struct dl_phdr_info *info,
    size_t size, void *data);
static void ngx_http_llm_route_binary_copies(ngx_cycle_t *cycle,
    const char *running);


/* what the object the code runs from was when it was loaded */

static ngx_uint_t  ngx_http_llm_route_binary_known;
static dev_t       ngx_http_llm_route_binary_dev;
static ino_t       ngx_http_llm_route_binary_ino;
static time_t      ngx_http_llm_route_binary_mtime;


ngx_int_t
ngx_http_llm_route_binary_init_module(ngx_cycle_t *cycle)
{
    Dl_info          info;
    ngx_file_info_t  fi;

    if (dladdr(&ngx_http_llm_route_module, &info) == 0
        || info.dli_fname == NULL || info.dli_fname[0] != '/')
    {
        /* built into nginx: a reload cannot change it */
        return NGX_OK;
    }

    if (ngx_file_info(info.dli_fname, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                      "llm_route: the module runs from \"%s\", which is "
                      "gone from disk: restart nginx to run the module "
                      "installed now", info.dli_fname);
        ngx_http_llm_route_binary_copies(cycle, info.dli_fname);
        return NGX_OK;
    }

    if (!ngx_http_llm_route_binary_known) {
        ngx_http_llm_route_binary_known = 1;
        ngx_http_llm_route_binary_dev = fi.st_dev;
        ngx_http_llm_route_binary_ino = fi.st_ino;
        ngx_http_llm_route_binary_mtime = fi.st_mtime;

        ngx_log_debug1(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                       "llm_route: module loaded from \"%s\"",
                       info.dli_fname);

    } else if (fi.st_dev != ngx_http_llm_route_binary_dev
               || fi.st_ino != ngx_http_llm_route_binary_ino
               || fi.st_mtime != ngx_http_llm_route_binary_mtime)
    {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "llm_route: \"%s\" was replaced on disk since nginx "
                      "loaded it; a reload keeps running the module "
                      "loaded then: restart nginx to run the new one",
                      info.dli_fname);
    }

    ngx_http_llm_route_binary_copies(cycle, info.dli_fname);

    return NGX_OK;
}


/* another loaded object defining the module: a load_module of another path */

static void
ngx_http_llm_route_binary_copies(ngx_cycle_t *cycle, const char *running)
{
    void                          *handle, *sym;
    ngx_uint_t                     i;
    ngx_http_llm_route_objects_t   objs;

    objs.n = 0;

    /* the names first: no dlopen() while the loader's list is walked */
    (void) dl_iterate_phdr(ngx_http_llm_route_binary_object, &objs);

    for (i = 0; i < objs.n; i++) {

        if (ngx_strcmp(objs.names[i], running) == 0) {
            continue;
        }

        handle = dlopen(objs.names[i], RTLD_LAZY | RTLD_NOLOAD);
        if (handle == NULL) {
            continue;
        }

        sym = dlsym(handle, "ngx_http_llm_route_module");

        if (sym != NULL && sym != (void *) &ngx_http_llm_route_module) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "llm_route: the module in \"%s\" is loaded but "
                          "does not run: nginx keeps running the one "
                          "loaded first, from \"%s\"; restart nginx to "
                          "run it", objs.names[i], running);
        }

        (void) dlclose(handle);
    }
}


static int
ngx_http_llm_route_binary_object(struct dl_phdr_info *info, size_t size,
    void *data)
{
    ngx_http_llm_route_objects_t  *objs = data;

    if (info->dlpi_name != NULL && info->dlpi_name[0] == '/'
        && objs->n < NGX_HTTP_LLM_ROUTE_BINARY_OBJECTS)
    {
        objs->names[objs->n++] = info->dlpi_name;
    }

    return 0;
}
