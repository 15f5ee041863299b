
/*
 * ngx_llm_route_module: llm_route_mock, a module of its own in the same
 * .so (ngx_http_llm_route_mock_module, defined in mock.c): what its
 * files share, the settings of a location and the context of a request.
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MOCK_CTX_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MOCK_CTX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_api.h"


#define NGX_HTTP_LLM_ROUTE_MOCK_TOKENS      16
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_TOKENS  100000
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_CHUNK   1024
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_TPS     1000000
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_TIME    3600000
#define NGX_HTTP_LLM_ROUTE_MOCK_BATCH       16
#define NGX_HTTP_LLM_ROUTE_MOCK_WORD_MAX    11
#define NGX_HTTP_LLM_ROUTE_MOCK_DIMS        8
#define NGX_HTTP_LLM_ROUTE_MOCK_MSG_TOKENS  3

/* room for the fixed parts of one event, and of one JSON answer */
#define NGX_HTTP_LLM_ROUTE_MOCK_EVENT       192
#define NGX_HTTP_LLM_ROUTE_MOCK_EVENT_MAX   256
#define NGX_HTTP_LLM_ROUTE_MOCK_FIXED       1024

/* bytes of JSON answer text per token (what llr_estimate_tokens counts) */
#define NGX_HTTP_LLM_ROUTE_MOCK_TEXT_TOKEN  4

/* the largest JSON answer (a schema instance, tool call arguments) */
#define NGX_HTTP_LLM_ROUTE_MOCK_MAX_TEXT    (256 * 1024)


typedef struct {
    ngx_flag_t                       enable;
    ngx_msec_t                       delay;
    ngx_msec_t                       ttft;
    ngx_uint_t                       tps;
    ngx_uint_t                       tokens;
    ngx_uint_t                       chunk;
    ngx_str_t                        model;    /* JSON-escaped */
} ngx_http_llm_route_mock_conf_t;


typedef struct {
    ngx_http_request_t              *request;
    ngx_http_llm_route_mock_conf_t  *conf;
    llr_api_e                        endpoint;

    /* settings after the X-Mock-* overrides */
    ngx_msec_t                       delay;
    ngx_msec_t                       ttft;
    ngx_uint_t                       tps;
    ngx_uint_t                       tokens;   /* completion tokens */
    ngx_uint_t                       chunk;
    ngx_int_t                        cut;      /* -1: no cut */
    ngx_uint_t                       status;   /* 0: no override */
    ngx_str_t                        retry_after;

    /* a bad request: the message and the parameter for the client */
    ngx_str_t                        error;
    char                            *error_param;

    /* the request */
    ngx_str_t                        model;    /* JSON-escaped */
    ngx_uint_t                       prompt_tokens;
    ngx_array_t                     *hashes;   /* embeddings inputs */
    ngx_uint_t                       n;        /* choices */
    ngx_str_t                        text;     /* a JSON answer or tool
                                                  call arguments (ASCII),
                                                  or empty: words */
    ngx_str_t                        tool;     /* the function to call,
                                                  JSON-escaped */

    /* the answer */
    ngx_str_t                        id;
    ngx_str_t                        head;     /* '{"id":...,"model":"M",' */
    ngx_uint_t                       events;   /* content events */
    ngx_uint_t                       sent;
    ngx_uint_t                       seq;      /* Responses events */
    size_t                           event_size;
    size_t                           base_size;
    size_t                           tail_size;
    size_t                           text_size; /* the answer, escaped */
    ngx_msec_t                       start;

    ngx_event_t                      timer;
    ngx_chain_t                     *free;
    ngx_chain_t                     *busy;

    unsigned                         stream:1;
    unsigned                         include_usage:1;
    unsigned                         base64:1; /* embeddings as base64 */
    unsigned                         call:1;   /* a tool call */
    unsigned                         json_object:1; /* {"text":...} */
    unsigned                         length:1; /* cut by max_tokens */
    unsigned                         headers:1; /* waiting for headers */
    unsigned                         started:1; /* content has begun */
    unsigned                         closing:1; /* X-Mock-Cut: close */
    unsigned                         blocked:1; /* waits for the client */
} ngx_http_llm_route_mock_ctx_t;


extern ngx_module_t  ngx_http_llm_route_mock_module;


#endif /* _NGX_HTTP_LLM_ROUTE_MOCK_CTX_H_INCLUDED_ */
