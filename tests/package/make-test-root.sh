#!/usr/bin/env bash
# Makes the clean Debian 12 root that tests/package/test_deb_install.py installs the package into:
# minbase plus the package's dependencies, so that the test itself needs no network.
#   tests/package/make-test-root.sh DEB DIR
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 DEB DIR" >&2; exit 2; fi
deb=$1
dir=$2
mirror=${CLOUDLESS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Depends: "a (>= 1), b | c, ..." -> the first of each alternative, without versions.
depends=$(dpkg-deb --field "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' |
  grep -v '^$' | paste -sd, -)
rm -rf "$dir"
mmdebstrap --quiet --variant=minbase --include="$depends" bookworm "$dir" "deb $mirror bookworm main"
echo "test root $dir: minbase + $depends"
