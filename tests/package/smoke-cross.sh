#!/usr/bin/env bash
# Runs a cross-built package's programs under qemu-user: the packaged files themselves, unpacked, with the
# sysroot the package was built against as the emulator's root. Catches what compiles but does not start
# on the target (a missing library, a crash before main, a 32-bit size assumption in the config loader).
#   tests/package/smoke-cross.sh DEB SYSROOT     prints one line per check; exit 1 if one fails
set -uo pipefail
if [ $# -ne 2 ]; then echo "usage: $0 DEB SYSROOT" >&2; exit 2; fi
deb=$1
sysroot=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
case "$(dpkg-deb --field "$deb" Architecture)" in
  arm64) qemu=qemu-aarch64 ;;
  armhf) qemu=qemu-arm ;;
  *) echo "smoke-cross: $deb is not an arm64 or armhf package" >&2; exit 2 ;;
esac
version=$(dpkg-deb --field "$deb" Version)
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
dpkg-deb --extract "$deb" "$unpacked"
run() { timeout 60 "$qemu" -L "$sysroot" "$@" 2>&1; }

failures=0
check() {  # name, expected text, then the command
  local name=$1 expected=$2 output
  shift 2
  output=$("$@")
  if grep -qF -- "$expected" <<<"$output"; then
    echo "$name: ok"
  else
    echo "$name: FAILED (expected \"$expected\"):"; sed 's/^/  /' <<<"$output" | tail -n 20
    failures=$((failures + 1))
  fi
}
check "$qemu cloudless --version" "$version" run "$unpacked/usr/bin/cloudless" --version
check "$qemu cloudless check-config (installed configuration)" ": OK (0 device(s))" \
  run "$unpacked/usr/bin/cloudless" check-config --config "$unpacked/etc/cloudless/config.yaml"
check "$qemu cloudless check-config (the example)" ": OK (3 device(s))" \
  run "$unpacked/usr/bin/cloudless" check-config --config "$top/config/example.yaml"
check "$qemu cloudless-keys --help" "midea" run "$unpacked/usr/libexec/cloudless/cloudless-keys" --help
[ "$failures" -eq 0 ]
