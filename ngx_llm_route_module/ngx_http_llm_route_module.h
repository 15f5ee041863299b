
/*
 * ngx_llm_route_module: an OpenAI-compatible LLM router inside nginx.
 *
 * Shared declarations of the nginx glue.  Everything that parses,
 * classifies or computes lives in core/ (no nginx headers there).
 */


#ifndef _NGX_HTTP_LLM_ROUTE_MODULE_H_INCLUDED_
#define _NGX_HTTP_LLM_ROUTE_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "llr_req.h"
#include "llr_api.h"
#include "llr_account.h"
#include "ngx_http_llm_route_conf.h"
#include "ngx_http_llm_route_provider.h"
#include "ngx_http_llm_route_catalog.h"
#include "ngx_http_llm_route_policy.h"
#include "ngx_http_llm_route_rules.h"
#include "ngx_http_llm_route_ctx.h"
#include "ngx_http_llm_route_health.h"
#include "ngx_http_llm_route_headers.h"
#include "ngx_http_llm_route_account.h"
#include "ngx_http_llm_route_filter.h"
#include "ngx_http_llm_route_limits.h"
#include "ngx_http_llm_route_limits_conf.h"
#include "ngx_http_llm_route_limits_shm.h"
#include "ngx_http_llm_route_shm.h"
#include "ngx_http_llm_route_state.h"
#include "ngx_http_llm_route_zone.h"
#include "ngx_http_llm_route_status.h"
#include "ngx_http_llm_route_variables.h"




/* request.c */
ngx_int_t ngx_http_llm_route_precontent_handler(ngx_http_request_t *r);




#endif /* _NGX_HTTP_LLM_ROUTE_MODULE_H_INCLUDED_ */
