#!/usr/bin/env bash
# Installs what is missing, builds the server and the CLI (not the tests and
# benchmarks), and starts the actserve server with its defaults.
# Extra arguments go to the server, e.g. scripts/run.sh --listen=0.0.0.0:50051
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_dependencies
build_actserve_targets actserve actserve-client
exec "$ACTSERVE_BUILD_DIR/server/actserve" "$@"
