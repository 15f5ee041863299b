#!/bin/bash
#
# What sharing limits through Redis costs a worker (issue 26), in
# instructions per request (callgrind): bench/callgrind-nginx.sh with a
# budget and a rate limit on every routed request, first per instance
# (no llm_route_redis), then synced through a redis-server this script
# starts on a free loopback port.  Throughput on vs off cannot be
# measured honestly on a shared 2-core machine; instruction counts can.
#
#   bench/callgrind-fleet.sh [--sync 100ms] [callgrind-nginx.sh options]
#
# The Ir of the synced run include the syncs that fell due while the
# measured requests ran (one EVALSHA per interval, its answer applied):
# under callgrind the worker is some 50 times slower, so there are many
# more syncs per request than at full speed, and the figure is an upper
# bound of the cost.  The number of syncs is printed.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SYNC=100ms

if [ "${1:-}" = --sync ]; then
    SYNC=$2
    shift 2
fi

command -v redis-server >/dev/null || { echo "needs redis-server" >&2; exit 1; }

W=$(mktemp -d /tmp/llr-cgf.XXXXXX)
RPID=

cleanup() {
    set +e
    [ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID"
    rm -rf "$W"
}
trap cleanup EXIT

RPORT=$(perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
                                  LocalPort => 0) or die;
    print $s->sockport, "\n"')

redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --dir "$W" \
    --logfile "$W/redis.log" --daemonize no &
RPID=$!

for i in $(seq 50); do
    redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done

LIMITS='llm_route_budget "bench" 1000000;
    llm_route_rate "bench" rpm=100000000 tpm=100000000000;'

echo "## limits per instance (no llm_route_redis)"
echo
HTTP_EXTRA="$LIMITS" bash "$HERE/callgrind-nginx.sh" "$@"

echo
echo "## limits synced through Redis (llm_route_redis sync=$SYNC)"
echo
before=$(redis-cli -p "$RPORT" info commandstats \
         | awk -F'[:=,]' '/^cmdstat_evalsha/ { print $3 }')
HTTP_EXTRA="$LIMITS
    llm_route_redis 127.0.0.1:$RPORT prefix=bench: sync=$SYNC;" \
    bash "$HERE/callgrind-nginx.sh" "$@"
after=$(redis-cli -p "$RPORT" info commandstats \
        | awk -F'[:=,]' '/^cmdstat_evalsha/ { print $3 }')
echo
echo "syncs (EVALSHA) during the whole run: $(( ${after:-0} - ${before:-0} ))"
