
/*
 * ngx_llm_route_module: reading a request body that nginx has read.
 *
 * The body's buffers are memory, or ranges of the temporary file it was
 * written to (client_body_buffer_size): the file is read back in pieces
 * of NGX_HTTP_LLM_ROUTE_BODY_CHUNK, each read whole or the request
 * fails.  The read is synchronous, as nginx reads its own temporary
 * files (the proxy module sends them from a file too): the file was
 * just written, it is in the page cache.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_llm_route_body.h"


#define NGX_HTTP_LLM_ROUTE_BODY_CHUNK  65536


static ngx_int_t ngx_http_llm_route_body_copy(void *data, u_char *p,
    size_t len, ngx_uint_t stable);


off_t
ngx_http_llm_route_body_size(ngx_http_request_t *r, ngx_uint_t *in_file)
{
    off_t         size;
    ngx_chain_t  *cl;

    size = 0;
    *in_file = 0;

    if (r->request_body == NULL) {
        return 0;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);

        if (!ngx_buf_in_memory(cl->buf)) {
            *in_file = 1;
        }
    }

    return size;
}


ngx_int_t
ngx_http_llm_route_body_read(ngx_http_request_t *r,
    ngx_http_llm_route_body_pt handler, void *data)
{
    off_t         offset, end;
    u_char       *chunk;
    size_t        n;
    ssize_t       got;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    chunk = NULL;
    rc = NGX_OK;

    for (cl = r->request_body->bufs; cl && rc == NGX_OK; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            rc = handler(data, b->pos, b->last - b->pos, 1);
            continue;
        }

        if (!b->in_file || b->file == NULL) {
            continue;
        }

        if (chunk == NULL) {
            chunk = ngx_palloc(r->pool, NGX_HTTP_LLM_ROUTE_BODY_CHUNK);
            if (chunk == NULL) {
                return NGX_ERROR;
            }
        }

        for (offset = b->file_pos, end = b->file_last;
             offset < end && rc == NGX_OK;
             offset += n)
        {
            n = (size_t) ngx_min(end - offset, NGX_HTTP_LLM_ROUTE_BODY_CHUNK);

            got = ngx_read_file(b->file, chunk, n, offset);

            if (got != (ssize_t) n) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "llm_route: cannot read the request body "
                              "from \"%V\"", &b->file->name);
                (void) ngx_pfree(r->pool, chunk);
                return NGX_ERROR;
            }

            rc = handler(data, chunk, n, 0);
        }
    }

    if (chunk) {
        (void) ngx_pfree(r->pool, chunk);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "llm_route: body read, %i", rc);

    return rc == NGX_OK ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_llm_route_body_flat(ngx_http_request_t *r, ngx_str_t *body)
{
    off_t         size;
    ngx_uint_t    in_file;
    ngx_chain_t  *cl;

    ngx_str_set(body, "");

    cl = r->request_body ? r->request_body->bufs : NULL;

    if (cl == NULL) {
        return NGX_OK;
    }

    if (cl->next == NULL && ngx_buf_in_memory(cl->buf)) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    size = ngx_http_llm_route_body_size(r, &in_file);

    body->data = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    body->len = 0;

    return ngx_http_llm_route_body_read(r, ngx_http_llm_route_body_copy,
                                        body);
}


static ngx_int_t
ngx_http_llm_route_body_copy(void *data, u_char *p, size_t len,
    ngx_uint_t stable)
{
    ngx_str_t  *body = data;

    body->len = ngx_cpymem(body->data + body->len, p, len) - body->data;

    return NGX_OK;
}
