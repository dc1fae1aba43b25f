#!/usr/bin/env bash
# The whole test suite, as CI runs it (as root), in four parts:
#  1. the Debian package for this machine, which is the normal build: its unit tests run inside the
#     package build, then every integration test against the programs it built; lintian checks it;
#  2. the same unit and integration tests under ASan+UBSan (built with clang), and every libFuzzer target
#     for a bounded time;
#  3. the armhf (32-bit) and arm64 packages, cross-built, each with its unit tests under qemu-user; the
#     programs of both, as packaged, started under qemu-user;
#  4. the package installed, reinstalled, removed and purged in a clean Debian 12 root.
# Needs the packages of .ci/install-deps; the cross builds' sysroots and the clean root are fetched from
# the Debian mirror as those are. Environment: FUZZ_SECONDS (default 20 per target), JOBS (default nproc;
# the integration files, which mostly wait on sockets and deadlines, run twice as many side by side),
# CROSS_ARCHES (default "armhf arm64").
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
integration_jobs=$((jobs * 2))
fuzz_seconds=${FUZZ_SECONDS:-20}

passed=0
failed=0
count_ctest() {  # adds up "N% tests passed, F tests failed out of T" of one ctest run's log
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1 || true)
  if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
  local f t
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + t - f))
  failed=$((failed + f))
}
count_pytest() {  # adds up pytest's last line, "N passed, M failed, K errors in …"; none passed is a failure
  local summary p f
  summary=$(tail -n 1 "$1")
  p=$( (grep -oE '[0-9]+ passed' <<<"$summary" || true) | awk '{s += $1} END {print s + 0}')
  f=$( (grep -oE '[0-9]+ (failed|errors?)' <<<"$summary" || true) | awk '{s += $1} END {print s + 0}')
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$p" -eq 0 ]; then failed=$((failed + 1)); fi
}
run_ctest() {  # build dir: unit tests, then the integration files side by side; both counted
  ctest --test-dir "$1" --output-on-failure -j "$jobs" -LE integration 2>&1 | tee "$1/ctest-unit.log" || status=1
  count_ctest "$1/ctest-unit.log"
  ctest --test-dir "$1" --output-on-failure -j "$integration_jobs" -L integration 2>&1 \
    | tee "$1/ctest-integration.log" || status=1
  count_ctest "$1/ctest-integration.log"
}
stamp() { echo "== $(date -u +%H:%M:%S) $*"; }
count_step() {  # name, then the command: one check, passed when the command exits 0
  local name=$1
  shift
  if "$@"; then passed=$((passed + 1)); echo "$name: ok"; else failed=$((failed + 1)); status=1; echo "$name: FAILED"; fi
}
package_build() {  # arch, then DEB_BUILD_OPTIONS: builds build-deb/cloudless_<version>_<arch>.deb, lintian-checked
  local log="build-deb/build-$1.log"
  if DEB_BUILD_OPTIONS="$2 parallel=$jobs" bash debian/build-deb "$1" build-deb >"$log" 2>&1; then
    grep -E '^lintian: ' "$log"
    return 0
  fi
  tail -n 80 "$log"
  return 1
}
count_package_tests() {  # a package build's log: its unit tests' summary and failures, counted
  grep -E 'tests passed, |\*\*\*(Failed|Exception)|Timeout|^\s+[0-9]+ - ' "$1" || true
  count_ctest "$1"
}
# Every build here takes the compiler launcher from the environment (debhelper passes no cmake option),
# and the cache's place too: debhelper points HOME into the build tree.
if command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  CCACHE_DIR=${CCACHE_DIR:-$(ccache --get-config cache_dir)}
  export CCACHE_DIR
fi
native_arch=$(dpkg --print-architecture)
native_build=build-deb/src/obj-$(dpkg-architecture -qDEB_HOST_GNU_TYPE)
# armhf has 32-bit time_t and size_t and an unsigned char; arm64 is what a 64-bit Pi OS runs.
read -r -a cross_arches <<<"${CROSS_ARCHES:-armhf arm64}"
mkdir -p build-deb
rm -f build-deb/*.deb build-deb/*.changes build-deb/*.buildinfo  # a failed build must not test an old package

status=0
stamp "$native_arch package (the normal build, -O2 -g1, Debian's hardening flags; unit tests inside)"
count_step "package $native_arch" package_build "$native_arch" ""
count_package_tests "build-deb/build-$native_arch.log"
stamp "integration tests against the package's programs"
ctest --test-dir "$native_build" --output-on-failure -j "$integration_jobs" -L integration 2>&1 \
  | tee build-deb/ctest-integration.log || status=1
count_ctest build-deb/ctest-integration.log

# clang compiles this -O0 sanitizer build in 40-50 % less time than g++ (docs/build.md §4).
stamp "ASan+UBSan build (clang)"
CXX=clang++-14 cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCLOUDLESS_SANITIZE=ON
cmake --build build-asan -j "$jobs"
stamp "ASan+UBSan tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
run_ctest build-asan

stamp "libFuzzer targets (${fuzz_seconds} s each)"
CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLOUDLESS_FUZZ=ON
cmake --build build-fuzz -j "$jobs"
# One fuzzer per core at a time (each is single-threaded); the results are read in name order.
fuzz_one() {  # fuzzer path: runs it for fuzz_seconds on a copy of its seed corpus; exit 0 = no crash
  local name work rc=0
  name=$(basename "$1")
  work=$(mktemp -d)
  [ -d "tests/fuzz/corpus/${name#fuzz_}" ] && cp -r "tests/fuzz/corpus/${name#fuzz_}"/. "$work"/
  "$1" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=1 "$work" \
    >"build-fuzz/$name.log" 2>&1 || rc=$?
  rm -rf "$work"
  echo "$rc" >"build-fuzz/$name.rc"
}
fuzzers=()
for fuzzer in build-fuzz/tests/fuzz_*; do
  [ -x "$fuzzer" ] && fuzzers+=("$fuzzer")
done
for fuzzer in "${fuzzers[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$fuzzer" &
done
wait || true
for fuzzer in "${fuzzers[@]}"; do
  name=$(basename "$fuzzer")
  if [ "$(cat "build-fuzz/$name.rc" 2>/dev/null)" = 0 ]; then
    echo "$name: $(grep -E 'stat::number_of_executed_units' "build-fuzz/$name.log" | awk '{print $2}') runs, no crash"
    passed=$((passed + 1))
  else
    echo "$name: FAILED"; tail -n 40 "build-fuzz/$name.log"
    failed=$((failed + 1)); status=1
  fi
done

for arch in "${cross_arches[@]}"; do
  stamp "$arch package, cross-built; its unit tests under qemu-user"
  count_step "package $arch" package_build "$arch" ""
  count_package_tests "build-deb/build-$arch.log"
  cross_deb=$(ls build-deb/cloudless_*_"$arch".deb 2>/dev/null | head -n 1 || true)
  count_step "package $arch under qemu" bash tests/package/smoke-cross.sh "${cross_deb:-none}" "build-deb/sysroot-$arch"
done

stamp "the $native_arch package in a clean Debian 12 root"
deb=$(ls build-deb/cloudless_*_"$native_arch".deb 2>/dev/null | head -n 1 || true)
if [ -n "$deb" ] && bash tests/package/make-test-root.sh "$deb" build-deb/test-root >build-deb/test-root.log 2>&1; then
  CLOUDLESS_DEB=$PWD/$deb CLOUDLESS_TEST_ROOT=$PWD/build-deb/test-root \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/package/test_deb_install.py 2>&1 \
    | tee build-deb/test-install.log || status=1
  count_pytest build-deb/test-install.log
else
  echo "no package, or the clean root could not be made:"; tail -n 20 build-deb/test-root.log 2>/dev/null || true
  failed=$((failed + 1)); status=1
fi

echo
stamp "done"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
