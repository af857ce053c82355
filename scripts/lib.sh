# Shared by scripts/run.sh and scripts/test.sh: dependency installation and the build.
# shellcheck shell=bash

ACTSERVE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTSERVE_BUILD_DIR="${ACTSERVE_BUILD_DIR:-$ACTSERVE_ROOT/build}"

# Debian bookworm packages needed to build and test everything.
ACTSERVE_PACKAGES=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libhwy-dev libsleef-dev
  prometheus-cpp-dev
  python3 python3-grpcio python3-protobuf python3-numpy python3-pytest
  python3-venv python3-pip python3-setuptools
  nodejs openssl yamllint docker-compose
  golang-go golang-google-grpc-dev golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc
  clang-14 libclang-rt-14-dev
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "error: need root or sudo to install: $*" >&2
    return 1
  fi
}

# Installs everything the build and the tests need.
install_dependencies() {
  install_packages "${ACTSERVE_PACKAGES[@]}"
  # Debian's nodejs comes without npm; NodeSource's bundles it and conflicts
  # with Debian's npm package, so npm is installed only when missing.
  command -v npm >/dev/null 2>&1 || install_packages npm
}

# Installs only what is missing, so a warm machine pays nothing.
install_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build_actserve() {
  local build_type="${1:-Release}"
  shift || true
  cmake -S "$ACTSERVE_ROOT" -B "$ACTSERVE_BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE="$build_type" "$@"
  cmake --build "$ACTSERVE_BUILD_DIR" -j "${ACTSERVE_JOBS:-2}"
}

# Configures as build_actserve does (so the build dir serves both) and builds
# only the given targets.
build_actserve_targets() {
  cmake -S "$ACTSERVE_ROOT" -B "$ACTSERVE_BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release
  cmake --build "$ACTSERVE_BUILD_DIR" -j "${ACTSERVE_JOBS:-2}" --target "$@"
}

# ---- Sanitizer and fuzzing builds (scripts/sanitize.sh, scripts/fuzz.sh) ----

# The whole project under AddressSanitizer + UndefinedBehaviorSanitizer, by
# the same compiler as the Release build; -O1, no benchmarks and the kernels
# for one SIMD target keep it within CI's time budget (the five targets'
# kernels were two thirds of its build and of its core tests). That target is
# SSE4: four float lanes, so partial vectors and tails take the same paths as
# on the wider targets, whose results the Release run checks. Its fuzz
# targets replay their saved inputs.
ACTSERVE_ASAN_BUILD_DIR="${ACTSERVE_ASAN_BUILD_DIR:-$ACTSERVE_ROOT/build-asan}"
build_actserve_asan() {
  ACTSERVE_BUILD_DIR="$ACTSERVE_ASAN_BUILD_DIR" build_actserve Debug \
    -DACTSERVE_SANITIZE="address;undefined" -DACTSERVE_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1 -msse4.2 -DHWY_COMPILE_ONLY_STATIC=1"
}

# The libFuzzer targets, by clang with ASan+UBSan, in their own build. -O0 and
# the kernels for one SIMD target: clang 14 at -O1 with ASan spends minutes of
# CPU on each softmax kernel file, and the fuzzers aim at validation and
# state machines, not at the kernels (the ASan build checks those on every
# target).
ACTSERVE_FUZZ_BUILD_DIR="${ACTSERVE_FUZZ_BUILD_DIR:-$ACTSERVE_ROOT/build-fuzz}"
build_actserve_fuzzers() {
  cmake -S "$ACTSERVE_ROOT" -B "$ACTSERVE_FUZZ_BUILD_DIR" -G Ninja \
    -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DACTSERVE_SANITIZE="address;undefined" -DACTSERVE_FUZZ=ON \
    -DACTSERVE_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS_DEBUG="-O0 -g1" \
    -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1 -DHWY_COMPILE_ONLY_STATIC=1"
  cmake --build "$ACTSERVE_FUZZ_BUILD_DIR" -j "${ACTSERVE_JOBS:-2}" \
    --target evaluate_request_fuzzer evaluate_stream_fuzzer npy_fuzzer
}

# Runs each fuzzer for `seconds`, starting from its seed corpus; new inputs go
# to build-fuzz/fuzz-corpus/<fuzzer>, crashes to build-fuzz/fuzz-crashes/.
# Fails on the first crash.
run_fuzzers() {
  local seconds="$1"
  local fuzzer
  for fuzzer in evaluate_request_fuzzer evaluate_stream_fuzzer npy_fuzzer; do
    local corpus="$ACTSERVE_FUZZ_BUILD_DIR/fuzz-corpus/$fuzzer"
    local crashes="$ACTSERVE_FUZZ_BUILD_DIR/fuzz-crashes"
    mkdir -p "$corpus" "$crashes"
    echo "== fuzzing $fuzzer for ${seconds}s"
    "$ACTSERVE_FUZZ_BUILD_DIR/tests/fuzz/$fuzzer" -max_total_time="$seconds" \
      -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$crashes/$fuzzer-" \
      "$corpus" "$ACTSERVE_ROOT/tests/fuzz/corpus/$fuzzer"
  done
}
