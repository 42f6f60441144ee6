#!/usr/bin/env bash
# Installs dependencies, builds everything and runs the whole test suite.
# Usage: scripts/test.sh [ctest args...]   (SREXPERT_SANITIZE=ON for ASan/UBSan)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
build="${SREXPERT_BUILD_DIR:-build}"
# The test build keeps asserts and uses -O1 with line-table debug info: the
# Beast/coroutine sources compile three times faster than at -O2 -g, which
# keeps a clean CI run on two cores well inside its budget. Shipped binaries
# (Dockerfile) are built optimised.
cmake -S . -B "$build" -G Ninja -DSREXPERT_SANITIZE="${SREXPERT_SANITIZE:-OFF}" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
