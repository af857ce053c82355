#!/usr/bin/env bash
# Runs every fuzzer long, outside CI: scripts/fuzz.sh [seconds per fuzzer, default 3600].
# The corpus each one grows is kept in build-asan/fuzz-corpus/ between runs, so
# later runs start where earlier ones stopped. A crash stops the run and is
# saved in build-asan/fuzz-crashes/: copy it into tests/fuzz/regressions/<fuzzer>/
# (CTest replays that folder in every build), then fix the bug.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_dependencies
build_actserve_asan
run_fuzzers "${1:-3600}"
