#!/usr/bin/env bash
# The load test for 10 minutes (outside CI, which runs it for 60 s):
#   scripts/soak.sh [seconds, default 600]
# Uses the Release build that scripts/test.sh makes; prints what the server
# held (calls, peak RSS, fds and threads before and after).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_dependencies
build_actserve Release
ACTSERVE_LOAD_SECONDS="${1:-600}" \
  "$ACTSERVE_BUILD_DIR/tests/reliability/actserve_reliability_tests" \
  --gtest_filter='LoadTest.SixtyFourClients*'
