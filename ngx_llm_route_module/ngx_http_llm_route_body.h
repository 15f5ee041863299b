
/*
 * ngx_llm_route_module: reading a request body that nginx has read,
 * from memory and from its temporary file alike.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_BODY_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_BODY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * A piece of the body: stable if it is memory of the request's body
 * buffers (it lives as long as the request), not if it was read back
 * from the temporary file (only during the call).  NGX_OK goes on,
 * anything else stops the reading.
 */
typedef ngx_int_t (*ngx_http_llm_route_body_pt)(void *data, u_char *p,
    size_t len, ngx_uint_t stable);


/* the body's bytes; *in_file: some of them are in the temporary file */
off_t ngx_http_llm_route_body_size(ngx_http_request_t *r,
    ngx_uint_t *in_file);

/*
 * The body's bytes in order, to handler: NGX_OK, NGX_DECLINED if the
 * handler stopped, NGX_ERROR if the file could not be read (logged)
 */
ngx_int_t ngx_http_llm_route_body_read(ngx_http_request_t *r,
    ngx_http_llm_route_body_pt handler, void *data);

/*
 * The body in one piece of memory: where it is if it is one buffer,
 * else a copy (one byte more allocated)
 */
ngx_int_t ngx_http_llm_route_body_flat(ngx_http_request_t *r,
    ngx_str_t *body);


#endif /* _NGX_HTTP_LLM_ROUTE_BODY_H_INCLUDED_ */
