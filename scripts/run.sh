#!/usr/bin/env bash
# Installs what is missing, builds, and starts the actserve server with its defaults.
# Extra arguments go to the server, e.g. scripts/run.sh --listen=0.0.0.0:50051
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_dependencies
build_actserve Release
exec "$ACTSERVE_BUILD_DIR/server/actserve" "$@"
