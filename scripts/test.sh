#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test. Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_dependencies
build_actserve Release
cd "$ACTSERVE_BUILD_DIR"
ctest --output-on-failure -j "${ACTSERVE_JOBS:-2}" --timeout 900
