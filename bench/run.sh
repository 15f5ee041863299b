#!/bin/bash
#
# Throughput and latency of one nginx binary as (1) a plain proxy_pass,
# (2) the module routing an explicit model, (3) the module routing
# "auto" through a policy (classifier on), and (4) Portkey's open-source
# gateway (Node), all in front of the same llm_route_mock upstream.
#
#   bench/run.sh [--quick] [--rounds N] [--duration S] [--setups "..."]
#                [--no-build] [--out FILE]
#
# The report goes to FILE (default build/bench/run-[quick-]STAMP.md) and
# its raw lines next to it (.tsv); bench/results/README.md says which
# runs are kept in the tree.
#
# Setups are alternated inside each round (A B C D A B C D ...) for every
# cell (body size x response type x concurrency); the table shows the
# medians over the rounds and, for each round, the ratio to the plain
# proxy measured right before it (median of those ratios).
#
# Placement on a small machine (override with the environment):
#   PROXY_CPUS=0   the proxy under test (nginx, 2 workers; or Portkey)
#   LOAD_CPUS=1    wrk (2 threads) and the mock upstream (2 workers)
# so the proxy under test owns one core and is the bottleneck; the
# CPU column shows how busy that core was.  Empty values: no pinning.
#   HTTP_EXTRA     directives added to the proxy's http block (nginx
#                  setups), e.g. 'request_pool_size 16k;'
#
# Needs: nginx (Debian's /usr/sbin/nginx), wrk, perl, curl, node + npm
# for Portkey (installed into bench/.portkey on first use).

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")

NGINX=${NGINX:-/usr/sbin/nginx}
SO=${SO:-$TOP/build/ngx_http_llm_route_module.so}
DATA=${LLR_DATA:-$(cd "$TOP/.." && pwd)/shared/data}
PROXY_CPUS=${PROXY_CPUS-0}
LOAD_CPUS=${LOAD_CPUS-1}
THREADS=${THREADS:-2}
PORTKEY_DIR=${PORTKEY_DIR:-$HERE/.portkey}

ROUNDS=5
DURATION=4
QUICK=0
BUILD=1
SETUPS="plain explicit auto portkey"
OUT=

while [ $# -gt 0 ]; do
    case "$1" in
    --quick)    QUICK=1; ROUNDS=2; DURATION=2 ;;
    --rounds)   ROUNDS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --setups)   SETUPS=$2; shift ;;
    --no-build) BUILD=0 ;;
    --out)      OUT=$2; shift ;;
    -h|--help)  sed -n '2,22p' "$0"; exit 0 ;;
    *)          echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

# cells: "size response connections"
if [ $QUICK = 1 ]; then
    CELLS="2k json 32|2k sse 32|1m json 32"
else
    CELLS="200 json 32|2k json 32|32k json 32|1m json 32"
    CELLS="$CELLS|200 sse 32|2k sse 32|32k sse 32|1m sse 32"
    CELLS="$CELLS|2k json 8|2k json 128"
fi

MOCK_PORT=18001
PLAIN_PORT=18011
ROUTE_PORT=18012
PORTKEY_PORT=18787

# --- tools ------------------------------------------------------------

if ! command -v wrk >/dev/null; then
    echo "run.sh: installing wrk" >&2
    apt-get install -y wrk >/dev/null
fi
for t in perl curl taskset; do
    command -v $t >/dev/null || { echo "run.sh: $t is missing" >&2; exit 1; }
done

case " $SETUPS " in
*" portkey "*)
    PK=$PORTKEY_DIR/node_modules/@portkey-ai/gateway
    if [ ! -f "$PK/build/start-server.js" ]; then
        echo "run.sh: installing @portkey-ai/gateway into $PORTKEY_DIR" >&2
        mkdir -p "$PORTKEY_DIR"
        # the versions measured in RESULTS.md: gateway 1.15.2 and (npm
        # override) @hono/node-server 1.14.2, the workaround of
        # Portkey-AI/gateway#1389 (streams: portkey-stream-fix.mjs)
        cp "$HERE/portkey-package.json" "$PORTKEY_DIR/package.json"
        (cd "$PORTKEY_DIR" && npm install --no-audit --no-fund >/dev/null)
    fi
    ;;
esac

if [ $BUILD = 1 ]; then
    echo "== make module" >&2
    make -C "$TOP" module >/dev/null
fi
[ -f "$SO" ] || { echo "run.sh: $SO is missing (make module)" >&2; exit 1; }

pin() {
    # pin CPUS CMD...: run CMD on CPUS (or unpinned if CPUS is empty)
    local cpus=$1
    shift
    if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

# --- work directory, configurations --------------------------------------

W=$(mktemp -d /tmp/llr-bench.XXXXXX)
PK_PID=

cleanup() {
    set +e
    [ -f "$W/proxy/nginx.pid" ] && kill "$(cat "$W/proxy/nginx.pid")"
    [ -f "$W/mock/nginx.pid" ] && kill "$(cat "$W/mock/nginx.pid")"
    [ -n "$PK_PID" ] && kill "$PK_PID"
    sleep 0.3
    rm -rf "$W"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# load a private copy: a rebuild of build/*.so while nginx runs would
# crash its workers (the file is rewritten in place)
cp "$SO" "$W/module.so"
SO_ORIG=$SO
SO=$W/module.so

mkdir -p "$W/bodies"
perl "$HERE/gen-bodies.pl" "$W/bodies" "$DATA" > "$W/bodies.txt"

common_http() {
    # $1: prefix directory
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
    keepalive_timeout 300s;
EOF
}

for d in mock proxy; do
    mkdir -p "$W/$d/tmp"
done

cat > "$W/mock/nginx.conf" <<EOF
# the upstream: llm_route_mock, 16 completion tokens, no delay
worker_processes 2;
pid $W/mock/nginx.pid;
error_log $W/mock/error.log warn;
load_module $SO;
events { worker_connections 8192; }
http {
$(common_http "$W/mock")
    server {
        listen 127.0.0.1:$MOCK_PORT backlog=4096;
        location /v1/ { llm_route_mock; }
    }
}
EOF

# proxy_buffer_size: with proxy_buffering off nginx reads the upstream
# answer into one buffer of this size (default 4k, a page).  The mock's
# 2 KB stream is 3.8 KB with its headers, and 4.1 KB when it carries the
# usage chunk the module asks for: at 4k that is one read and one write
# more per request for the module than for the plain proxy, an edge of
# the default, not of the work.  16k (common for LLM streams) for all.
PROXY_COMMON='
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Accept-Encoding "";
            proxy_buffering off;
            proxy_buffer_size 16k;
            proxy_busy_buffers_size 16k;
            proxy_read_timeout 60s;'

cat > "$W/proxy/nginx.conf" <<EOF
# the proxy under test: the same binary and module for every setup
worker_processes 2;
pid $W/proxy/nginx.pid;
error_log $W/proxy/error.log warn;
load_module $SO;
events { worker_connections 8192; }
http {
$(common_http "$W/proxy")
    ${HTTP_EXTRA:-}

    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 256;
        keepalive_requests 1000000;
    }

    llm_route_zone llm:16m;

    llm_route_provider mock {
        upstream  mock;
        scheme    http;
        host      127.0.0.1;
        base_path /v1;
    }

    llm_route_model gpt-4.1-mini provider=mock input=0.40 output=1.60
                                 context=1047576 quality=0.78;
    llm_route_model gpt-4.1      provider=mock input=2.00 output=8.00
                                 context=1047576 quality=0.92;

    llm_route_policy auto {
        candidates gpt-4.1-mini gpt-4.1;
        floor      0.75;
        floor_hard 0.90;
    }

    # (1) plain proxy_pass
    server {
        listen 127.0.0.1:$PLAIN_PORT backlog=4096;
        location /v1/ {
            proxy_pass http://mock;
            proxy_set_header Host 127.0.0.1;$PROXY_COMMON
        }
    }

    # (2) explicit model and (3) "auto": the body decides
    server {
        listen 127.0.0.1:$ROUTE_PORT backlog=4096;
        location /v1/ {
            llm_route on;
            proxy_pass \$llm_route_url;
            proxy_set_header Host \$llm_route_host;
            proxy_set_header Authorization \$llm_route_authorization;$PROXY_COMMON
        }
    }
}
EOF

if [ "$(id -u)" = 0 ] && id www-data >/dev/null 2>&1; then
    chown -R www-data:www-data "$W/mock/tmp" "$W/proxy/tmp"
fi

"$NGINX" -t -q -p "$W/mock" -c "$W/mock/nginx.conf"
"$NGINX" -t -q -p "$W/proxy" -c "$W/proxy/nginx.conf"
pin "$LOAD_CPUS" "$NGINX" -p "$W/mock" -c "$W/mock/nginx.conf"
pin "$PROXY_CPUS" "$NGINX" -p "$W/proxy" -c "$W/proxy/nginx.conf"

case " $SETUPS " in
*" portkey "*)
    # loopback only (portkey-loopback.mjs), no console/log UI; streams
    # answered instead of HTTP 500 (portkey-stream-fix.mjs)
    pk_cmd=(env NODE_ENV=production node)
    [ -n "$PROXY_CPUS" ] && pk_cmd=(taskset -c "$PROXY_CPUS" ${pk_cmd[@]})
    "${pk_cmd[@]}" \
        --import "$HERE/portkey-loopback.mjs" \
        --import "$HERE/portkey-stream-fix.mjs" \
        "$PK/build/start-server.js" --port=$PORTKEY_PORT --headless \
        > "$W/portkey.log" 2>&1 &
    PK_PID=$!
    ;;
esac

wait_port() {
    local i
    for i in $(seq 1 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$1/"; then return 0; fi
        sleep 0.1
    done
    echo "run.sh: nothing listens on port $1" >&2
    return 1
}

wait_port $MOCK_PORT
wait_port $PLAIN_PORT
wait_port $ROUTE_PORT
[ -n "$PK_PID" ] && wait_port $PORTKEY_PORT

# --- what each setup sends ----------------------------------------------

port_of() {
    case $1 in
    plain) echo $PLAIN_PORT ;;
    explicit|auto) echo $ROUTE_PORT ;;
    portkey) echo $PORTKEY_PORT ;;
    esac
}

model_of() {
    if [ "$1" = auto ]; then echo auto; else echo gpt-4.1-mini; fi
}

headers_of() {
    if [ "$1" = portkey ]; then
        echo "x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:$MOCK_PORT/v1"
    fi
}

pids_of() {
    # the processes whose CPU time counts for a setup
    if [ "$1" = portkey ]; then
        echo "$PK_PID"
    else
        pgrep -P "$(cat "$W/proxy/nginx.pid")" | tr '\n' ' '
    fi
}

cpu_ticks() {
    # utime + stime, then utime alone, of the given pids, in clock ticks
    local p t=0 u=0 s
    for p in "$@"; do
        s=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null || echo "0 0")
        t=$((t + ${s% *} + ${s#* }))
        u=$((u + ${s% *}))
    done
    echo $t $u
}

# --- check every setup answers 200 with a real body ---------------------

check() {
    local setup=$1 resp=$2 size=$3 body hdr=() h code out
    body="$W/bodies/$size-$(model_of "$setup")-$resp.json"
    IFS='|' read -r -a hs <<< "$(headers_of "$setup")"
    for h in "${hs[@]}"; do [ -n "$h" ] && hdr+=(-H "$h"); done
    out="$W/check-$setup-$resp-$size.out"
    code=$(curl -s -o "$out" -w '%{http_code}' \
        -H 'Content-Type: application/json' \
        -H 'Authorization: Bearer sk-bench' "${hdr[@]}" \
        --data-binary @"$body" \
        "http://127.0.0.1:$(port_of "$setup")/v1/chat/completions")
    if [ "$code" != 200 ]; then
        printf '%s %s %s: FAILED, HTTP %s: %.200s\n' "$setup" "$size" \
            "$resp" "$code" "$(tr '\n' ' ' < "$out")" >> "$W/checks.txt"
        return 1
    fi
    if [ "$resp" = json ]; then
        grep -q '"object":"chat.completion"' "$out" \
            && grep -q '"usage"' "$out" && grep -q '"content":"lorem' "$out"
    else
        grep -q '^data: \[DONE\]' "$out" \
            && grep -q '"object":"chat.completion.chunk"' "$out" \
            && grep -q 'ipsum' "$out"
    fi || { echo "run.sh: $setup $size $resp: unexpected body:" >&2;
            head -c 600 "$out" >&2; echo >&2; return 1; }
    printf '%s %s %s: 200, %d bytes: %.90s...\n' "$setup" "$size" "$resp" \
        "$(wc -c < "$out")" "$(tr '\n' ' ' < "$out")" >> "$W/checks.txt"
}

SKIP=
echo "== checking each setup's answer" >&2
for s in $SETUPS; do
    for resp in json sse; do
        for size in 200 2k 32k 1m; do
            check "$s" "$resp" "$size" || SKIP="$SKIP $s-$resp-$size"
        done
    done
done
sed 's/^/   /' "$W/checks.txt" >&2

# --- measure ------------------------------------------------------------

STAMP=$(date -u +%Y%m%d-%H%M%S)
if [ -z "$OUT" ]; then
    if [ $QUICK = 1 ]; then
        OUT="$TOP/build/bench/run-quick-$STAMP.md"
    else
        OUT="$TOP/build/bench/run-$STAMP.md"
    fi
fi
mkdir -p "$(dirname "$OUT")"

# raw lines go straight next to the report: never lost
RAW="${OUT%.md}.tsv"
: > "$RAW"

measure() {
    # measure ROUND SETUP SIZE RESP CONN [DURATION]
    local round=$1 setup=$2 size=$3 resp=$4 conn=$5 dur=${6:-$DURATION}
    local pids t0 t1 u0 u1 line c0 c1 busy
    case " $SKIP " in *" $setup-$resp-$size "*) return 0 ;; esac
    pids=$(pids_of "$setup")
    read -r t0 u0 < <(cpu_ticks $pids)
    c0=$(head -1 /proc/stat)
    line=$(LLR_BODY="$W/bodies/$size-$(model_of "$setup")-$resp.json" \
           LLR_HEADERS="$(headers_of "$setup")" \
           pin "$LOAD_CPUS" wrk -t"$THREADS" -c"$conn" -d"${dur}s" \
               --timeout 10s -s "$HERE/wrk-post.lua" \
               "http://127.0.0.1:$(port_of "$setup")/v1/chat/completions" \
           | grep '^RESULT') || true
    c1=$(head -1 /proc/stat)
    read -r t1 u1 < <(cpu_ticks $pids)
    [ -n "$line" ] || { echo "run.sh: wrk failed ($setup $size)" >&2;
                        line="RESULT requests=0 duration_us=1 p50_us=0 p99_us=0 non2xx=0 sockerr=0"; }
    echo "$round $setup $size $resp $conn $((t1 - t0)) ${line#RESULT }" \
         "utime=$((u1 - u0))" >> "$RAW"
}

LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)
echo "== warm-up (2 s per setup)" >&2
for s in $SETUPS; do
    measure 0 "$s" 2k json 32 2
done

ncells=$(echo "$CELLS" | tr '|' '\n' | wc -l)
nset=$(echo $SETUPS | wc -w)
echo "== $ROUNDS rounds x $ncells cells x $nset setups x ${DURATION}s" \
     "(about $(( ROUNDS * ncells * nset * (DURATION + 1) / 60 + 1 )) min)" >&2

for r in $(seq 1 "$ROUNDS"); do
    IFS='|' read -r -a cells <<< "$CELLS"
    for cell in "${cells[@]}"; do
        read -r size resp conn <<< "$cell"
        for s in $SETUPS; do
            measure "$r" "$s" "$size" "$resp" "$conn"
        done
    done
    echo "   round $r done" >&2
done

# --- report -------------------------------------------------------------


{
    echo "# bench/run.sh $([ $QUICK = 1 ] && echo --quick) — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "nginx: $("$NGINX" -v 2>&1 | sed 's/.*: //'), module $(basename "$SO_ORIG")" \
         "($(stat -c %y "$SO_ORIG" | cut -d. -f1)); wrk -t$THREADS, ${DURATION}s per run," \
         "$ROUNDS rounds; proxy on CPU ${PROXY_CPUS:-any}, wrk + mock on CPU ${LOAD_CPUS:-any}."
    if [ -n "$PK_PID" ]; then
        echo "Portkey gateway $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' \
            "$PK/package.json" | head -1), node $(node --version)."
    fi
    if [ -n "${HTTP_EXTRA:-}" ]; then
        echo "Added to the proxy's http block: \`$HTTP_EXTRA\`."
    fi
    echo "Load average (1, 5, 15 min) at the start: $LOAD_START, at the end: $(cut -d" " -f1-3 /proc/loadavg)."
    echo
    echo "Request bodies:"
    echo
    sed 's/^/    /' "$W/bodies.txt" | grep -- '-gpt-4.1-mini-json'
    echo
    perl "$HERE/report.pl" "$RAW" "$(getconf CLK_TCK)"
    echo
    echo "Checked before measuring (one request per setup, size and response;"
    echo "a setup that fails the check is not measured in that cell):"
    echo
    sed 's/^/    /' "$W/checks.txt"
} > "$OUT"

grep -h ' alert\| crit\| emerg\|signal' "$W"/*/error.log > "$W/errs" || true
if [ -s "$W/errs" ]; then
    echo "run.sh: worker problems in the error logs:" >&2
    head -20 "$W/errs" >&2
fi

cat "$OUT"
echo
echo "written: $OUT (raw: ${OUT%.md}.tsv)" >&2
