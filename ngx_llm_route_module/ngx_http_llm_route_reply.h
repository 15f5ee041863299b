
/*
 * ngx_llm_route_module: what every handler answers with (the router's
 * refusals, the status, the models, the mock): a response of one piece,
 * OpenAI-shaped errors, response headers.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_REPLY_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_REPLY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The whole response: the status, the content type, the length of the
 * chain out, whose last buffer gets last_buf; only the header for HEAD
 * and for an empty body.  An nginx handler's return value.
 */
ngx_int_t ngx_http_llm_route_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_chain_t *out);

/*
 * The OpenAI error object,
 *
 *     {"message":"...","type":"...","param":"..."|null,"code":"..."|null}
 *
 * its length, and written at p (returns the end).  The message and the
 * param are escaped; type and code are the module's own names.
 */
size_t ngx_http_llm_route_error_len(const char *type, const char *param,
    const char *code, ngx_str_t *message);
u_char *ngx_http_llm_route_error_object(u_char *p, const char *type,
    const char *param, const char *code, ngx_str_t *message);

/* {"error":{...}}\n, in a buffer of the request's pool */
ngx_buf_t *ngx_http_llm_route_error_json(ngx_http_request_t *r,
    const char *type, const char *param, const char *code,
    ngx_str_t *message);

/*
 * The error body of a status in the client's format: the OpenAI one
 * above, or (anthropic) Anthropic's
 *
 *     {"type":"error","error":{"type":"...","message":"..."}}
 *
 * whose type is the status's (llr_error_type(); param and code are
 * OpenAI's only)
 */
ngx_buf_t *ngx_http_llm_route_error_format(ngx_http_request_t *r,
    ngx_uint_t anthropic, ngx_uint_t status, const char *type,
    const char *param, const char *code, ngx_str_t *message);

/*
 * That error as the response (application/json), the request body
 * discarded unless it was read; a NULL or empty message is the
 * status's own
 */
ngx_int_t ngx_http_llm_route_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *type, const char *param,
    const char *code, ngx_str_t *message);

/* the same in the client's format (anthropic: Anthropic's) */
ngx_int_t ngx_http_llm_route_send_error_format(ngx_http_request_t *r,
    ngx_uint_t anthropic, ngx_uint_t status, const char *type,
    const char *param, const char *code, ngx_str_t *message);

/*
 * A response header: name is static, value lives as long as the
 * request; an empty value adds none
 */
ngx_int_t ngx_http_llm_route_add_header(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);

/*
 * The error event that ends a broken stream, with the blank line before
 * it, from pool: chat's, the Responses API's (responses: numbered after
 * the provider's events) or Anthropic's; *end is set to its end
 */
u_char *ngx_http_llm_route_stream_error(ngx_pool_t *pool,
    ngx_uint_t anthropic, ngx_uint_t responses, uint64_t events,
    u_char **end);


#endif /* _NGX_HTTP_LLM_ROUTE_REPLY_H_INCLUDED_ */
