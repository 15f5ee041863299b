#!/bin/bash
#
# The newest upstream nginx source tree Debian's archive offers, for
# building and testing the module against a second nginx: prints the path
# of the unpacked tree (build/nginx-src/nginx-X.Y.Z).
#
#   t/tools/nginx-src.sh [SUITE...]        default: sid trixie
#
# For each suite in turn, an apt of its own (a deb-src line for the suite,
# lists and cache in build/nginx-src/apt/: the system's apt configuration
# is left alone) fetches the source package of nginx with
# "apt-get source --download-only"; the upstream tarball
# (nginx_X.Y.Z.orig.tar.gz, checked against the suite's signed Sources
# index) is what is used, so a .dsc or Debian tarball missing on the mirror
# does not matter.  The first suite whose tarball arrives wins.
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
# DEBIAN_KEYRING (default /usr/share/keyrings/debian-archive-keyring.gpg).

set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$TOP/build/nginx-src
APT=$OUT/apt
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=${DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(sid trixie)

mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"

: > "$APT/sources.list"
for s in "${SUITES[@]}"; do
    echo "deb-src [signed-by=$KEYRING] $MIRROR $s main" >> "$APT/sources.list"
done

opts=(-o "Dir::Etc::SourceList=$APT/sources.list"
      -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$APT/lists"
      -o "Dir::Cache=$APT/cache"
      -o APT::Get::List-Cleanup=0)
# as root, apt would hand the downloads to its sandbox user, who cannot
# write here
[ "$(id -u)" != 0 ] || opts+=(-o APT::Sandbox::User=root)

apt-get "${opts[@]}" -qq update >&2

for s in "${SUITES[@]}"; do
    dl=$APT/dl-$s
    rm -rf "$dl"
    mkdir -p "$dl"
    # the .dsc and the Debian tarball may 404: only the orig tarball counts
    (cd "$dl" && apt-get "${opts[@]}" -qq source --download-only \
        "nginx/$s" >&2) || true

    orig=$(ls "$dl"/nginx_*.orig.tar.gz 2>/dev/null | head -1 || true)
    [ -n "$orig" ] || { echo "nginx-src: nothing from $s" >&2; continue; }

    ver=${orig##*/nginx_}
    ver=${ver%.orig.tar.gz}
    if [ ! -f "$OUT/nginx-$ver/src/core/nginx.h" ]; then
        rm -rf "$OUT/nginx-$ver"
        tar -C "$OUT" -xzf "$orig"
    fi
    [ -f "$OUT/nginx-$ver/src/core/nginx.h" ] || {
        echo "nginx-src: $orig did not unpack to nginx-$ver" >&2; exit 1; }

    echo "nginx-src: nginx $ver from $s" >&2
    echo "$OUT/nginx-$ver"
    exit 0
done

echo "nginx-src: no nginx source from ${SUITES[*]}" >&2
exit 1
