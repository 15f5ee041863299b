#!/bin/bash
#
# Instructions per request of the whole nginx worker (callgrind), for the
# same request through (1) a plain proxy_pass and (2) the module with an
# explicit model, (3) "auto": the module's complete cost, nginx glue
# included, as a deterministic number (throughput on a shared 2-core
# machine is noisy; instruction counts are not).
#
#   bench/callgrind-nginx.sh [--size 2k] [--resp json|sse] [--n 200]
#                            [--wire W] [--annotate]
#
# --wire: the client's format and the provider's (issue 24):
#   chat                OpenAI chat to an OpenAI-format provider (the
#                       default): plain, explicit, auto
#   messages            Anthropic Messages to an Anthropic-format provider
#                       (passed through): plain, explicit
#   chat-anthropic      OpenAI chat to an Anthropic-format provider
#                       (translated both ways): plain, explicit
#   messages-openai     Anthropic Messages to an OpenAI-format provider
#                       (translated both ways): plain, explicit
# "plain" sends the client's body to the mock's endpoint of the client's
# format with proxy_pass (the mock, llm_route_mock, speaks both).
#
# HTTP_EXTRA (environment): directives added to the proxy's http block,
# for both servers, e.g. HTTP_EXTRA='request_pool_size 16k;'.
# CG_KEEP (environment): with --annotate, the directory the three
# callgrind files are kept in (default /tmp), as llr-cgn-SETUP.out.
# ROUTE_PASS (environment): the routing location's proxy_pass (default
# 'proxy_pass $llm_route_url;'), to compare the forms of docs/directives.md.
#
# One nginx (master_process off) runs under callgrind with both servers;
# the mock upstream is a second, normal nginx.  For each setup: N warm-up
# requests, zero the counters, N measured requests over one keep-alive
# connection (curl), dump; Ir/request = dumped Ir / N.  --annotate also
# prints the functions with the most self Ir of each setup.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
NGINX=${NGINX:-/usr/sbin/nginx}
SO=${SO:-$TOP/build/ngx_http_llm_route_module.so}
DATA=${LLR_DATA:-$(cd "$TOP/.." && pwd)/shared/data}
SIZE=2k
RESP=json
N=200
WIRE=chat
ANNOTATE=0
ROUTE_PASS=${ROUTE_PASS:-'proxy_pass $llm_route_url;'}

while [ $# -gt 0 ]; do
    case "$1" in
    --size) SIZE=$2; shift ;;
    --resp) RESP=$2; shift ;;
    --n) N=$2; shift ;;
    --wire) WIRE=$2; shift ;;
    --annotate) ANNOTATE=1 ;;
    *) echo "callgrind-nginx.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
[ -f "$SO" ] || { echo "$SO is missing (make module)" >&2; exit 1; }

W=$(mktemp -d /tmp/llr-cgn.XXXXXX)
CG_PID=

cleanup() {
    set +e
    [ -n "$CG_PID" ] && kill "$CG_PID" 2>/dev/null && wait "$CG_PID"
    [ -f "$W/mock/nginx.pid" ] && kill "$(cat "$W/mock/nginx.pid")"
    sleep 0.2
    rm -rf "$W"
}
trap cleanup EXIT

cp "$SO" "$W/module.so"
mkdir -p "$W/mock/tmp" "$W/proxy/tmp" "$W/bodies"
perl "$HERE/gen-bodies.pl" "$W/bodies" "$DATA" > /dev/null

port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                      LocalPort => 0) or die;
        print $s->sockport, "\n"'
}

MOCK_PORT=$(port)
PLAIN_PORT=$(port)
ROUTE_PORT=$(port)

common_http() {
    cat <<EOF
    access_log off;
    error_log $1/error.log warn;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    client_max_body_size 16m;
    client_body_buffer_size 2m;
    keepalive_requests 1000000;
EOF
}

cat > "$W/mock/nginx.conf" <<EOF
worker_processes 1;
pid $W/mock/nginx.pid;
error_log $W/mock/error.log warn;
load_module $W/module.so;
events { worker_connections 1024; }
http {
$(common_http "$W/mock")
    server {
        listen 127.0.0.1:$MOCK_PORT;
        location /v1/ { llm_route_mock; }
    }
}
EOF

cat > "$W/proxy/nginx.conf" <<EOF
master_process off;
daemon off;
worker_processes 1;
pid $W/proxy/nginx.pid;
error_log $W/proxy/error.log warn;
load_module $W/module.so;
events { worker_connections 1024; }
http {
$(common_http "$W/proxy")
    ${HTTP_EXTRA:-}
    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 16;
    }

    llm_route_zone llm:16m;

    llm_route_provider mock {
        upstream  mock;
        scheme    http;
        host      127.0.0.1;
        base_path /v1;
    }

    llm_route_provider mock_anthropic {
        upstream  mock;
        scheme    http;
        host      127.0.0.1;
        base_path /v1;
        format    anthropic;
        api_key   sk-bench;
    }

    llm_route_model claude-haiku provider=mock_anthropic input=0.80
                                 output=4.00 cached_input=0.08
                                 cache_write=1.00 context=200000
                                 quality=0.80;
    llm_route_model gpt-4.1-mini provider=mock input=0.40 output=1.60
                                 context=1047576 quality=0.78;
    llm_route_model gpt-4.1      provider=mock input=2.00 output=8.00
                                 context=1047576 quality=0.92;

    llm_route_policy auto {
        candidates gpt-4.1-mini gpt-4.1;
        floor      0.75;
        floor_hard 0.90;
    }

    server {
        listen 127.0.0.1:$PLAIN_PORT;
        location /v1/ {
            proxy_pass http://mock;
            proxy_set_header Host 127.0.0.1;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_buffer_size 16k;
            proxy_busy_buffers_size 16k;
        }
    }

    server {
        listen 127.0.0.1:$ROUTE_PORT;
        location /v1/ {
            llm_route on;
            $ROUTE_PASS
            proxy_set_header Host \$llm_route_host;
            proxy_set_header Authorization \$llm_route_authorization;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_buffer_size 16k;
            proxy_busy_buffers_size 16k;
        }
    }
}
EOF

"$NGINX" -p "$W/mock" -c "$W/mock/nginx.conf"
valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
    --callgrind-out-file="$W/cg.%p" \
    "$NGINX" -p "$W/proxy" -c "$W/proxy/nginx.conf" 2> "$W/valgrind.log" &
CG_PID=$!

for i in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PLAIN_PORT/v1/x" && break
    sleep 0.2
done

case $WIRE in
chat) SETUPS="plain explicit auto"; MODEL=gpt-4.1-mini; SUFFIX= ;;
messages) SETUPS="plain explicit"; MODEL=claude-haiku; SUFFIX=-messages ;;
chat-anthropic) SETUPS="plain explicit"; MODEL=claude-haiku; SUFFIX= ;;
messages-openai) SETUPS="plain explicit"; MODEL=gpt-4.1-mini
                 SUFFIX=-messages ;;
*) echo "callgrind-nginx.sh: unknown --wire $WIRE" >&2; exit 2 ;;
esac

if [ -n "$SUFFIX" ]; then
    ENDPOINT=/v1/messages
else
    ENDPOINT=/v1/chat/completions
fi

send() {
    # send PORT BODY: N requests over one keep-alive connection
    local url=http://127.0.0.1:$1$ENDPOINT args=() i
    for i in $(seq "$N"); do
        args+=(-o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json'
               -H 'Authorization: Bearer sk-bench' --data-binary "@$2" "$url")
        [ "$i" -lt "$N" ] && args+=(--next)
    done
    curl -s "${args[@]}" | sort | uniq -c | grep -v ' 200$' && {
        echo "callgrind-nginx.sh: non-200 answers" >&2; exit 1; } || true
}

ir_of() {
    callgrind_annotate "$1" 2>/dev/null \
        | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}

printf '# whole nginx worker, Ir per request (%s body, %s response, N=%s, %s)' \
    "$SIZE" "$RESP" "$N" "$WIRE"
printf '\n\n'
printf '| setup | Ir/request | ratio to (1) |\n|---|---:|---:|\n'

base=
for setup in $SETUPS; do
    case $setup in
    plain) p=$PLAIN_PORT; body=$W/bodies/$SIZE-$MODEL-$RESP$SUFFIX.json ;;
    explicit) p=$ROUTE_PORT; body=$W/bodies/$SIZE-$MODEL-$RESP$SUFFIX.json ;;
    auto) p=$ROUTE_PORT; body=$W/bodies/$SIZE-auto-$RESP.json ;;
    esac
    send "$p" "$body"
    callgrind_control -z "$CG_PID" > /dev/null
    send "$p" "$body"
    callgrind_control -d "$setup" "$CG_PID" > /dev/null
    f=$(ls -t "$W"/cg.*.*"$setup"* 2>/dev/null | head -1 || true)
    [ -n "$f" ] || f=$(ls -t "$W"/cg.* | head -1)
    ir=$(ir_of "$f")
    per=$((ir / N))
    [ -z "$base" ] && base=$per
    printf '| %s | %d | %s |\n' "$setup" "$per" \
        "$(awk -v a="$per" -v b="$base" 'BEGIN { printf "%.2f", a / b }')"
    if [ "$ANNOTATE" = 1 ]; then
        cp "$f" "${CG_KEEP:-/tmp}/llr-cgn-$setup.out"
    fi
done

if [ "$ANNOTATE" = 1 ]; then
    for setup in $SETUPS; do
        echo
        echo "## $setup: top self Ir (whole run of N requests)"
        echo '```'
        # self cost (the frames open at the dump, main and those below
        # it, show their inclusive cost: left out)
        callgrind_annotate --inclusive=no --threshold=100 \
            "${CG_KEEP:-/tmp}/llr-cgn-$setup.out" 2>/dev/null \
            | sed -n '/^Ir  *file:function/,/^$/p' | sed -n '3,$p' \
            | grep -v '(100.0%)' | head -28 | cut -c1-150 || true
        echo '```'
    done
fi
