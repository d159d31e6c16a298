#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite with CTest.
#   scripts/test.sh [CTEST ARGS...]             the normal build (build/)
#   scripts/test.sh --sanitize [CTEST ARGS...]  the same suite built with AddressSanitizer and
#                                               UndefinedBehaviorSanitizer in build-asan/
#                                               (CMake option PERFGRAPH_SANITIZE)
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=0
if [[ "${1:-}" == "--sanitize" ]]; then
  sanitize=1
  shift
fi
scripts/setup.sh
dir=build
if (( sanitize )); then
  dir=build-asan
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFGRAPH_SANITIZE=ON \
    -DPERFGRAPH_BUILD_BENCH=OFF > /dev/null
  cmake --build "$dir" -j"$(nproc)" > "$dir/build.log" 2>&1 || { tail -n 80 "$dir/build.log"; exit 1; }
  # Leak checking is off: LibTorch, Halide's JIT and protobuf keep process-lifetime allocations
  # that LeakSanitizer reports at exit. Every other ASan / UBSan finding fails the test.
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
start=$(date +%s)
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" "$@"
echo "test suite wall time: $(( $(date +%s) - start )) s"
