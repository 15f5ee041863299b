#!/bin/bash
#
# The mock's streams for t/unit/test_sse_tap.c: an nginx with
# llm_route_mock (build/ngx_http_llm_route_module.so) on a free port,
# one streamed request per file, the body as the mock sends it.
#
#   bash t/unit/sse-tap/capture.sh      (from the top of the tree)

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=$TOP/t/unit/sse-tap
NGINX=${NGINX:-/usr/sbin/nginx}
W=$(mktemp -d /tmp/llr-ssetap.XXXXXX)

cleanup() {
    [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")"
    sleep 0.2
    rm -rf "$W"
}
trap cleanup EXIT

PORT=$(perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                  LocalPort => 0) or die;
    print $s->sockport, "\n"')

mkdir -p "$W/tmp"
cat > "$W/nginx.conf" <<CONF
worker_processes 1;
pid $W/nginx.pid;
error_log $W/error.log warn;
load_module $TOP/build/ngx_http_llm_route_module.so;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $W/tmp/body;
    proxy_temp_path $W/tmp/proxy;
    fastcgi_temp_path $W/tmp/fastcgi;
    uwsgi_temp_path $W/tmp/uwsgi;
    scgi_temp_path $W/tmp/scgi;
    server {
        listen 127.0.0.1:$PORT;
        location /v1/ { llm_route_mock; }
    }
}
CONF

"$NGINX" -p "$W" -c "$W/nginx.conf"
sleep 0.3

get() {
    local name=$1 path=$2 body=$3
    curl -sS --fail -o "$OUT/$name" -H 'Content-Type: application/json' \
         -H 'anthropic-version: 2023-06-01' -H 'x-api-key: k' \
         --data-binary "$body" "http://127.0.0.1:$PORT$path"
}

MSG='"messages":[{"role":"user","content":"Say something."}]'
USAGE='"stream_options":{"include_usage":true}'
TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city","days"]}}}]'

get chat-16.sse /v1/chat/completions \
    "{\"model\":\"gpt-4.1-mini\",$MSG,\"stream\":true,$USAGE}"
get chat-n2-usage.sse /v1/chat/completions \
    "{\"model\":\"gpt-4.1-mini\",$MSG,\"stream\":true,\"n\":2,$USAGE}"
get chat-n3.sse /v1/chat/completions \
    "{\"model\":\"m\",$MSG,\"stream\":true,\"n\":3,\"max_tokens\":20}"
get chat-tool.sse /v1/chat/completions \
    "{\"model\":\"m\",$MSG,\"stream\":true,$TOOLS,\"tool_choice\":\"required\",$USAGE}"
get chat-json.sse /v1/chat/completions \
    "{\"model\":\"m\",$MSG,\"stream\":true,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}}},\"required\":[\"a\",\"b\"]}}}}"
get completions.sse /v1/completions \
    "{\"model\":\"m\",\"prompt\":\"Say something.\",\"stream\":true,\"max_tokens\":40,$USAGE}"
get responses.sse /v1/responses \
    "{\"model\":\"m\",\"input\":\"Say something.\",\"stream\":true,\"max_output_tokens\":40}"
get responses-tool.sse /v1/responses \
    "{\"model\":\"m\",\"input\":\"Say something.\",\"stream\":true,\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}},\"required\":[\"q\"]}}],\"tool_choice\":\"required\"}"
get anthropic.sse /v1/messages \
    "{\"model\":\"claude-haiku\",\"max_tokens\":40,$MSG,\"stream\":true}"
get anthropic-tool.sse /v1/messages \
    "{\"model\":\"claude-haiku\",\"max_tokens\":200,$MSG,\"stream\":true,\"tools\":[{\"name\":\"get_weather\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}],\"tool_choice\":{\"type\":\"any\"}}"

ls -l "$OUT"/*.sse
