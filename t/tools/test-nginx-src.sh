#!/bin/bash
#
# make test-nginx-src: the prove suite against an nginx other than the
# distribution's one: an nginx binary built from NGINX_SRC (default: the
# newest upstream tarball Debian's archive has, t/tools/nginx-src.sh) and the
# module built against the same tree with the same flags, both in
# build/nginx-src/build-X.Y.Z/.
#
#   t/tools/test-nginx-src.sh [PROVE_FILES...]     default: t/*.t
#
# Environment: NGINX_SRC, NGX_CONF_FLAGS (configure flags; default below),
# TEST_JOBS (default 2).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"

SRC=${NGINX_SRC:-$(bash t/tools/nginx-src.sh)}
SRC=$(cd "$SRC" && pwd)
VER=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$SRC/src/core/nginx.h")
[ -n "$VER" ] || { echo "test-nginx-src: $SRC is not an nginx tree"; exit 1; }

BUILD=$TOP/build/nginx-src/build-$VER

# what distributions enable that the suite and the examples use (ssl for
# proxy_ssl_*); early errors to stderr, as the harness runs nginx with -p
export NGX_CONF_FLAGS=${NGX_CONF_FLAGS:-"--prefix=$BUILD/prefix \
--error-log-path=stderr --with-compat --with-threads --with-http_ssl_module \
--with-http_v2_module --with-http_realip_module"}

echo "=== nginx $VER from $SRC: the module and the binary in $BUILD"
mkdir -p "$BUILD"
{ make --no-print-directory BUILD="$BUILD" NGINX_SRC="$SRC" module \
  && make --no-print-directory -C "$BUILD/nginx" -f objs/Makefile binary
} > "$BUILD/build.log" 2>&1 || {
    tail -30 "$BUILD/build.log"
    echo "test-nginx-src: the build failed; the whole log: $BUILD/build.log"
    exit 1
}

BIN=$BUILD/nginx/objs/nginx
"$BIN" -v

FILES=("$@")
[ ${#FILES[@]} -gt 0 ] || FILES=(t/*.t)

echo "=== the prove suite against nginx $VER"
TEST_NGINX_BINARY=$BIN TEST_NGINX_MODULE=$BUILD/ngx_http_llm_route_module.so \
    prove -j"${TEST_JOBS:-2}" -I t/lib "${FILES[@]}"
