#!/usr/bin/env bash
# Runs every fuzzer long, outside CI: scripts/fuzz.sh [seconds per fuzzer, default 3600].
# Builds them in build-fuzz/ (clang-14, ASan+UBSan, lib.sh says why -O0). The
# corpus each one grows is kept in build-fuzz/fuzz-corpus/ between runs, so
# later runs start where earlier ones stopped. A crash stops the run and is
# saved in build-fuzz/fuzz-crashes/: copy it into tests/fuzz/regressions/<fuzzer>/
# (CTest replays that folder in every build), then fix the bug.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_dependencies
build_actserve_fuzzers
run_fuzzers "${1:-3600}"
