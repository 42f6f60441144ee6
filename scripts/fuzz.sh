#!/usr/bin/env bash
# Fuzzes every target of test/fuzz/ with libFuzzer (clang, ASan + UBSan) for
# a while each, starting from the checked-in corpus. New interesting inputs
# go to build-fuzz/corpus/<target>/ (merge the useful ones into
# test/fuzz/corpus/<target>/ by hand); a crash leaves its input in
# build-fuzz/crashes/<target>/ and stops that target: fix the bug, then check
# the input in under test/fuzz/corpus/<target>/ so ctest replays it forever.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 300)] [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-300}; shift || true
build=${SREXPERT_FUZZ_BUILD_DIR:-build-fuzz}
command -v clang++ >/dev/null || { echo "fuzz: needs clang (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
bash scripts/install-deps.sh >/dev/null
# Line tables are all a stack trace needs, and they build faster.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DSREXPERT_FUZZ=ON -DSREXPERT_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -gline-tables-only" >/dev/null
targets=("$@")
if [ "${#targets[@]}" = 0 ]; then
  mapfile -t targets < <(sed -n 's/^srx_add_fuzz_target(\([a-z_]*\).*/\1/p' test/fuzz/CMakeLists.txt)
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$root/test/fuzz/ubsan.supp}
status=0
printf '%-20s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t crashes=$build/crashes/$t/
  mkdir -p "$corpus" "$crashes"
  log=$build/fuzz-$t.log
  rc=0
  "$build/test/fuzz/fuzz_$t" "$corpus" "test/fuzz/corpus/$t" -max_total_time="$seconds" \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$crashes" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
  size=$(find "$corpus" -type f | wc -l)
  result=ok; [ "$rc" = 0 ] || { result="CRASH (see $log, input in $crashes)"; status=1; }
  printf '%-20s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$size" "$result"
done
exit "$status"
