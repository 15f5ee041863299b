#!/usr/bin/env bash
# make demo: start nginx with the module and the built-in mock provider on
# 127.0.0.1:8080 (router) and :8081 (mock), send a few requests, then
# traffic that fills the experiment's arms and makes one model degrade
# until the drift alarm is raised, and say how to look and how to stop.
# make demo-stop stops it.  For tests: DEMO_PORT, DEMO_MOCK_PORT,
# DEMO_DIR, DEMO_MODULE and NGINX_BIN replace the defaults.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

# model "auto": an easy prompt and a hard one (t/91-calibrate.t checks
# that conf-examples/demo.conf sends them to the cheap and the strong model)
DEMO_EASY='Hi! What is the capital of France?'
DEMO_HARD='Write a Raft consensus implementation in Go with leader '\
'election, log replication and snapshotting, and explain how it stays '\
'safe under network partitions.'
demo=${DEMO_DIR:-$top/build/demo}
nginx=${NGINX_BIN:-/usr/sbin/nginx}
module=${DEMO_MODULE:-$top/build/ngx_http_llm_route_module.so}
port=${DEMO_PORT:-8080}
mock_port=${DEMO_MOCK_PORT:-8081}

stop() {
    if [ -f "$demo/logs/nginx.pid" ] && kill -0 "$(cat "$demo/logs/nginx.pid")" \
        2>/dev/null; then
        "$nginx" -p "$demo" -c "$demo/nginx.conf" -s quit 2>/dev/null || true
        echo "demo stopped"
    else
        echo "demo is not running"
    fi
}

# one client for $2 seconds: "auto" requests of 40 users (X-User, the
# experiment's key), the easy and the hard prompt in turn; with $3 the
# easy ones ask the mock to answer that badly (X-Mock-Degrade)
client() {
    local base=$1 end=$((SECONDS + $2)) degrade=${3:-none} i=0 body h
    local pre='{"model":"auto","messages":[{"role":"user","content":"'
    local easy="$pre$DEMO_EASY\"}]}" hard="$pre$DEMO_HARD\"}]}"
    while [ "$SECONDS" -lt "$end" ]; do
        i=$((i + 1))
        if [ $((i % 2)) = 0 ]; then
            body=$hard h=none
        else
            body=$easy h=$degrade
        fi
        curl -s -o /dev/null "$base/chat/completions" \
            -H 'Content-Type: application/json' \
            -H "X-User: user$((RANDOM % 40))" -H "X-Mock-Degrade: $h" \
            -d "$body" || true
    done
}

# four clients at once for $2 seconds
traffic() {
    local c
    for c in 1 2 3 4; do
        client "$1" "$2" "${3:-}" &
    done
    wait
}

# the quality loop: whole answers for the drift's baseline (and the
# experiment's arms), then mock-mini cuts its answers to the easy
# prompt until the drift alarm is raised (at most a minute)
quality() {
    local base=$1 status=$2 n drift
    echo "== the quality loop: 25 s of \"auto\" traffic from 40 users (the"
    echo "   experiment cheaper_auto sends 15% of them to mock-mini)"
    traffic "$base" 25
    echo "== now mock-mini truncates its answers to the easy prompt"
    echo "   (X-Mock-Degrade: truncate); waiting for the drift alarm"
    for n in $(seq 12); do
        traffic "$base" 5 truncate
        drift=$(curl -s "$status" | tr -d ' \n' \
                | grep -o '"drift":\[{[^]]*\]') || continue
        echo "   drift raised after $((n * 5)) s: $drift"
        return
    done
    echo "   no drift alarm after 60 s (see $status)"
}

start() {
    mkdir -p "$demo/logs" "$demo/tmp"
    stop >/dev/null

    # the example config, with the built module and private paths
    sed -e "s|^load_module .*|load_module $module;|" \
        -e "s|^http {|http {\n    client_body_temp_path $demo/tmp/body;\n    proxy_temp_path $demo/tmp/proxy;\n    fastcgi_temp_path $demo/tmp/fastcgi;\n    uwsgi_temp_path $demo/tmp/uwsgi;\n    scgi_temp_path $demo/tmp/scgi;|" \
        -e "s|127.0.0.1:8080|127.0.0.1:$port|" \
        -e "s|127.0.0.1:8081|127.0.0.1:$mock_port|" \
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
    quality "$base" "http://127.0.0.1:$port/llm/status"
    echo
    echo "The router listens on $base (point any OpenAI SDK's base_url at it)."
    echo "Dashboard: http://127.0.0.1:$port/llm/status?format=html"
    echo "  \"Experiments\": the arms of cheaper_auto side by side"
    echo "  \"Drift\": the alarm on mock-mini's truncated answers"
    echo "JSON:      http://127.0.0.1:$port/llm/status" \
         "(\"experiments\", \"drift\")"
    echo "Logs: $demo/logs/   Stop it with: make demo-stop"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
