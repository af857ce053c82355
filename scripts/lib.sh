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
