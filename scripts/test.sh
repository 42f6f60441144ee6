#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite.
# Usage: scripts/test.sh [ctest args...]   (SREXPERT_SANITIZE=ON for ASan/UBSan)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
build="${SREXPERT_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DSREXPERT_SANITIZE="${SREXPERT_SANITIZE:-OFF}" >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
