#!/usr/bin/env bash
# The sanitizer step of CI (.ci/run runs it after scripts/test.sh):
#   scripts/sanitize.sh         all of the following
#   scripts/sanitize.sh asan    every test (core, server, clients, load and faults, the
#                               fuzzers' saved inputs) under ASan+UBSan
#   scripts/sanitize.sh fuzz    each libFuzzer target for ACTSERVE_FUZZ_SECONDS (30)
#   scripts/sanitize.sh tsan    the core's tests under TSan (Debian's gRPC and Abseil are
#                               not instrumented, so TSan cannot judge the server: README)
# The deploy tests (manifests, the container image) run no code of ours that
# the others do not, and the load test's full 60 s is the Release run's: here
# 20 s of it look for memory errors under concurrency. scripts/fuzz.sh runs
# the fuzzers long.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run_asan() {
  build_actserve_asan
  # detect_leaks: every test binary and the server exit with no leak. A
  # 32 MiB quarantine (256 by default) still catches use after free, and
  # keeps the server's RSS close enough to its own for the tests that bound
  # it (tests/server/stream_memory_test.cc).
  ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:quarantine_size_mb=32" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    ACTSERVE_LOAD_SECONDS=20 \
    ctest --test-dir "$ACTSERVE_ASAN_BUILD_DIR" --output-on-failure \
      -j "${ACTSERVE_JOBS:-2}" --timeout 900 -LE deploy
}

# TSan judges the thread pool and how the evaluator splits work between
# threads, which are the same for every SIMD target: compiling the kernels for
# one target (HWY_COMPILE_ONLY_STATIC) makes the core a few times quicker to
# build. StreamedOutputMatchesCachedRuns (outputs of 16 MiB and more, 50 s
# each under TSan) checks that non-temporal stores give the same bits, which
# TSan cannot judge; its threading is BitwiseIdenticalAcrossThreadsAndRanges'.
run_tsan() {
  local dir="$ACTSERVE_ROOT/build-tsan"
  ACTSERVE_BUILD_DIR="$dir" build_actserve Debug \
    -DACTSERVE_SANITIZE=thread -DACTSERVE_BUILD_SERVER=OFF -DACTSERVE_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1 -DHWY_COMPILE_ONLY_STATIC=1"
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    ctest --test-dir "$dir" --output-on-failure -j "${ACTSERVE_JOBS:-2}" --timeout 900 \
      -LE deploy -E StreamedOutputMatchesCachedRuns
}

install_dependencies
case "${1:-all}" in
  asan) run_asan ;;
  fuzz) build_actserve_fuzzers && run_fuzzers "${ACTSERVE_FUZZ_SECONDS:-30}" ;;
  tsan) run_tsan ;;
  all)
    run_asan
    build_actserve_fuzzers
    run_fuzzers "${ACTSERVE_FUZZ_SECONDS:-30}"
    run_tsan
    ;;
  *) echo "usage: $0 [asan|fuzz|tsan]" >&2; exit 2 ;;
esac
