#!/bin/bash
#
# make deb: build/libnginx-mod-http-llm-route_<version>_<arch>.deb
#
# dpkg-buildpackage runs in a copy of the source tree (build/deb/src/),
# so the package is built from a clean tree and its by-products
# (.buildinfo, .changes, the debhelper build directories) stay in
# build/deb/.  The module is built by Debian's nginx_mod build system
# against /usr/share/nginx/src (nginx-dev) and depends on the nginx ABI
# of this machine (nginx-abi-*).
#
# Environment: DEB_BUILD_OPTIONS (passed on; default parallel=2).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT=$TOP/build/deb
SRC=$OUT/src/ngx_llm_route_module

rm -rf "$OUT"
mkdir -p "$SRC"

# the tree as it is (committed or not), without builds and git metadata
tar -C "$TOP" --exclude=./build --exclude=./.git \
    --exclude='./fuzz/corpus-*' -cf - . | tar -C "$SRC" -xf -

cd "$SRC"
DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=2} \
    dpkg-buildpackage -b -us -uc > "$OUT/build.log" 2>&1 || {
    tail -40 "$OUT/build.log"
    echo "make deb: dpkg-buildpackage failed; the whole log: $OUT/build.log"
    exit 1
}

# the package (its -dbgsym companion stays in build/deb/src/)
debs=("$OUT"/src/libnginx-mod-http-llm-route_*.deb)
[ -f "${debs[0]}" ] || { echo "make deb: no .deb was built"; exit 1; }

rm -f "$TOP"/build/libnginx-mod-http-llm-route_*.deb
for d in "${debs[@]}"; do
    mv -f "$d" "$TOP/build/"
    echo "built build/${d##*/}"
done
