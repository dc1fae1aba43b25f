#!/usr/bin/env bash
# The whole test suite, as CI runs it: a normal build with every unit and integration test, the same
# under ASan+UBSan, and every libFuzzer target for a bounded time. Needs the packages of
# .ci/install-deps. Environment: FUZZ_SECONDS (default 30 per target), JOBS (default nproc; the
# integration files, which mostly wait on sockets and deadlines, run twice as many side by side).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
integration_jobs=$((jobs * 2))
fuzz_seconds=${FUZZ_SECONDS:-30}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

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
run_ctest() {  # build dir: unit tests, then the integration files side by side; both counted
  ctest --test-dir "$1" --output-on-failure -j "$jobs" -LE integration 2>&1 | tee "$1/ctest-unit.log" || status=1
  count_ctest "$1/ctest-unit.log"
  ctest --test-dir "$1" --output-on-failure -j "$integration_jobs" -L integration 2>&1 \
    | tee "$1/ctest-integration.log" || status=1
  count_ctest "$1/ctest-integration.log"
}
stamp() { echo "== $(date -u +%H:%M:%S) $*"; }

status=0
stamp "normal build"
# Line tables only (-g1): backtraces keep file and line, and the build takes a third less time.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  "${launcher[@]}"
cmake --build build -j "$jobs"
stamp "normal tests"
run_ctest build

stamp "ASan+UBSan build"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCLOUDLESS_SANITIZE=ON "${launcher[@]}"
cmake --build build-asan -j "$jobs"
stamp "ASan+UBSan tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
run_ctest build-asan

stamp "libFuzzer targets (${fuzz_seconds} s each)"
CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLOUDLESS_FUZZ=ON "${launcher[@]}"
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

echo
stamp "done"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
