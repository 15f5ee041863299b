#!/usr/bin/env bash
# make demo: start nginx with the module and the built-in mock provider on
# 127.0.0.1:8080 (router) and :8081 (mock), send a few requests, and say
# how to look and how to stop.  make demo-stop stops it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

# model "auto": an easy prompt and a hard one (t/91-calibrate.t checks
# that conf-examples/demo.conf sends them to the cheap and the strong model)
DEMO_EASY='Hi! What is the capital of France?'
DEMO_HARD='Write a Raft consensus implementation in Go with leader '\
'election, log replication and snapshotting, and explain how it stays '\
'safe under network partitions.'
demo=$top/build/demo
nginx=${NGINX_BIN:-/usr/sbin/nginx}
port=${DEMO_PORT:-8080}

stop() {
    if [ -f "$demo/logs/nginx.pid" ] && kill -0 "$(cat "$demo/logs/nginx.pid")" \
        2>/dev/null; then
        "$nginx" -p "$demo" -c "$demo/nginx.conf" -s quit 2>/dev/null || true
        echo "demo stopped"
    else
        echo "demo is not running"
    fi
}

start() {
    mkdir -p "$demo/logs" "$demo/tmp"
    stop >/dev/null

    # the example config, with the built module and private paths
    sed -e "s|^load_module .*|load_module $top/build/ngx_http_llm_route_module.so;|" \
        -e "s|^http {|http {\n    client_body_temp_path $demo/tmp/body;\n    proxy_temp_path $demo/tmp/proxy;\n    fastcgi_temp_path $demo/tmp/fastcgi;\n    uwsgi_temp_path $demo/tmp/uwsgi;\n    scgi_temp_path $demo/tmp/scgi;|" \
        -e "s|127.0.0.1:8080|127.0.0.1:$port|" \
        "$top/conf-examples/demo.conf" > "$demo/nginx.conf"

    if [ "$(id -u)" = 0 ]; then
        sed -i "1i user root;" "$demo/nginx.conf"
    fi

    "$nginx" -p "$demo" -c "$demo/nginx.conf" -t -q
    "$nginx" -p "$demo" -c "$demo/nginx.conf"

    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$port/v1/models" && break
        sleep 0.1
    done

    base=http://127.0.0.1:$port/v1

    echo
    echo "== GET $base/models"
    curl -s "$base/models"
    echo
    echo "== POST $base/chat/completions  (model mock-mini)"
    curl -s -D - "$base/chat/completions" -H 'Content-Type: application/json' \
        -H 'Authorization: Bearer anything' \
        -d '{"model":"mock-mini","messages":[{"role":"user","content":"Say hello in French."}],"max_tokens":8}' \
        | grep -iE '^(HTTP|x-llm-route)|^\{' || true
    echo
    echo "== the same, streamed (SSE)"
    curl -sN "$base/chat/completions" -H 'Content-Type: application/json' \
        -d '{"model":"mock-large","stream":true,"messages":[{"role":"user","content":"Count to three."}],"max_tokens":4}'
    echo
    echo "== model \"auto\": the router picks (see the X-LLM-Route-* headers)"
    for q in "$DEMO_EASY" "$DEMO_HARD"; do
        curl -s -D - -o /dev/null "$base/chat/completions" \
            -H 'Content-Type: application/json' \
            -d "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"$q\"}]}" \
            | grep -iE '^x-llm-route-(model|task|reason)' || true
    done
    echo
    echo "== an unknown model (OpenAI-shaped 404)"
    curl -s "$base/chat/completions" -H 'Content-Type: application/json' \
        -d '{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}'
    echo
    echo "The router listens on $base (point any OpenAI SDK's base_url at it)."
    if grep -q llm_route_status "$demo/nginx.conf"; then
        echo "Dashboard: http://127.0.0.1:$port/llm/status?format=html"
        echo "JSON:      http://127.0.0.1:$port/llm/status"
    fi
    echo "Logs: $demo/logs/   Stop it with: make demo-stop"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
