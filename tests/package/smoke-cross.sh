#!/usr/bin/env bash
# Runs a cross-built package's programs under qemu-user: the packaged files themselves, unpacked, with the
# sysroot the package was built against as the emulator's root. Catches what compiles but does not work
# on the target (a missing library, a crash before main, a 32-bit size or time assumption): the commands
# below, then the daemon for DEMO_SECONDS (default 12) in tests/demo/run.sh against mosquitto and three
# simulated plugs on loopback, which must publish the plugs' states and stop cleanly.
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

# The daemon itself: tests/demo/run.sh runs CLOUDLESS_BIN, here the packaged program under the emulator
# (exec, so that the demo's SIGTERM reaches it).
printf '#!/bin/sh\nexec %s -L %s %s "$@"\n' "$qemu" "$sysroot" "$unpacked/usr/bin/cloudless" >"$unpacked/cloudless-under-qemu"
chmod +x "$unpacked/cloudless-under-qemu"
demo() { CLOUDLESS_BIN="$unpacked/cloudless-under-qemu" DEMO_SECONDS=${DEMO_SECONDS:-12} bash "$top/tests/demo/run.sh" 2>&1; }
demo_output=$(demo)
# The tv plug's state: its voltage, its energy counter (15230 Wh) in kWh, a timestamp (not null).
for expected in 'cloudless/desk_plug {"' '"energy":15.23,' '"voltage":229.0,' '"last_seen":"2' \
  'cloudless/bridge/state offline'; do
  check "$qemu cloudless run: $expected" "$expected" printf '%s\n' "$demo_output"
done
[ "$failures" -eq 0 ]
