#!/usr/bin/env bash
# scripts/demo.sh --kubeconfig against "a cluster" that is not the demo's own:
# a separately started kube-test-apiserver stands in for a real one. The demo
# must reach a connected tunnel there, leave an existing srexpert-system alone,
# and on exit delete its AgentConfig and the cluster RBAC the operator made.
# Usage (ctest sets these): SREXPERT_BUILD_DIR=<build> bash demo_kubeconfig_test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build="${SREXPERT_BUILD_DIR:?}"
work=$(mktemp -d)
api_pid=""
finish() {
  [ -n "$api_pid" ] && kill -TERM "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap finish EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$build/test/apiserver/kube-test-apiserver" --port 0 --state-dir "$work/api" >"$work/ready.json" 2>"$work/api.log" &
api_pid=$!
for _ in $(seq 150); do grep -q kubeconfig "$work/ready.json" 2>/dev/null && break; sleep 0.2; done
kc="$work/api/kubeconfig"
[ -r "$kc" ] || fail "the API server did not start"
k() { kubectl --kubeconfig "$kc" "$@"; }
# Someone's existing install, which the demo must not touch.
printf "apiVersion: v1\nkind: Namespace\nmetadata: {name: srexpert-system}\n" | k apply -f - >/dev/null

out=$(SREXPERT_DEMO_SKIP_BUILD=1 SREXPERT_BUILD_DIR="$build" SREXPERT_DEMO_STATE="$work/demo" \
  bash "$root/scripts/demo.sh" --once --kubeconfig "$kc" 2>&1) || { echo "$out"; fail "demo exited non-zero"; }
echo "$out"
grep -q 'against a REAL cluster' <<<"$out" || fail "no real-cluster banner"
grep -q '"connected":true' <<<"$out" || fail "the hub did not list the cluster as connected"
grep -q 'pinned' <<<"$out" || fail "the output does not say the DaemonSet is pinned to no node"
grep -q 'demo: stopped everything it started' <<<"$out" || fail "no clean stop"

# Stopped: the AgentConfig and the operator's cluster-scoped children are gone.
[ -z "$(k -n srexpert-demo get agentconfig -o name)" ] || fail "AgentConfig left behind"
! k get clusterrole srexpert-demo >/dev/null 2>&1 || fail "ClusterRole srexpert-demo left behind"
! k get clusterrolebinding srexpert-demo >/dev/null 2>&1 || fail "ClusterRoleBinding left behind"
[ -z "$(k -n srexpert-system get all,configmap,lease -o name 2>/dev/null | grep -v kube-root-ca || true)" ] ||
  fail "the demo wrote into srexpert-system"
# Every process the demo started is gone (its state dir names them all).
! pgrep -f "$work/demo" >/dev/null || fail "processes left running"
echo "PASS"
