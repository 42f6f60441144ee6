# Shared by the real-cluster scenarios (test/real/*.sh), sourced after
# `set -euo pipefail`. ctest sets SRX_REAL_CLUSTER_DIR, <build>/real-cluster,
# where the fixture `real_cluster` (test/real/control_plane.sh) runs.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cp_dir=${SRX_REAL_CLUSTER_DIR:?}
build=$(dirname "$cp_dir")
scenario=$(basename "$0" .sh)
if [ ! -r "$cp_dir/kubeconfig" ]; then
  echo "real-cluster scenario '$scenario' SKIPPED: no control plane (KUBEBUILDER_ASSETS unset;"
  echo "see test/real/control_plane.sh for how to get envtest assets)"
  exit 77
fi
admin_kc=$cp_dir/kubeconfig
helm_bin=${HELM:-$root/.tools/helm/helm}
bin_op=$build/operator/cmd/srexpert-operator
bin_agent=$build/operator/cmd/srexpert-agent
bin_hub=$build/operator/cmd/srexpert-hub
logs=$build/real-cluster/logs/$scenario
rm -rf "$logs"; mkdir -p "$logs"
work=$(mktemp -d)
export no_proxy="127.0.0.1,localhost" NO_PROXY="127.0.0.1,localhost"
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy

declare -A pids=()     # name -> pid of every process a scenario starts
cleanup_hooks=()
finish() {
  local rc=$?
  for hook in "${cleanup_hooks[@]}"; do eval "$hook" >/dev/null 2>&1 || true; done
  for name in "${!pids[@]}"; do kill -9 "${pids[$name]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  [ "$rc" = 0 ] || echo "logs of the failed scenario: $logs"
  exit "$rc"
}
trap finish EXIT

k() { kubectl --kubeconfig "$admin_kc" "$@"; }
helm() {
  HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" \
    HELM_DATA_HOME="$work/helm/data" "$helm_bin" --kubeconfig "$admin_kc" "$@"
}
fail() {
  echo "FAIL: $*" >&2
  for f in "$logs"/*.log; do [ -e "$f" ] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }; done
  exit 1
}
ok() { echo "ok: $*"; }
# wait_for SECONDS WHAT CMD...: polls CMD every 0.2 s; fails naming WHAT.
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || fail "timed out after ${secs}s waiting for $what"
    sleep 0.2
  done
}
# logged_port LOG MSG KEY: the port a process announced in its JSON log.
logged_port() {
  local log=$1 msg=$2 key=$3 port="" end=$((SECONDS + 20))
  while [ -z "$port" ]; do
    port=$(grep -F "\"msg\":\"$msg\"" "$log" 2>/dev/null | sed -n "s/.*\"$key\":\([0-9]*\).*/\1/p" | head -n1)
    [ -n "$port" ] && break
    [ "$SECONDS" -lt "$end" ] || fail "no '$msg' line with $key in $log"
    sleep 0.1
  done
  echo "$port"
}
# sa_kubeconfig NAMESPACE SERVICEACCOUNT FILE: a kubeconfig that authenticates
# as that ServiceAccount (a bound token from the TokenRequest API), so a
# process gets exactly the permissions its own RBAC grants.
sa_kubeconfig() {
  local token server ca
  token=$(k -n "$1" create token "$2" --duration=2h)
  server=$(k config view --raw -o 'jsonpath={.clusters[0].cluster.server}')
  ca=$(k config view --raw -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}')
  cat >"$3" <<KC
apiVersion: v1
kind: Config
clusters: [{name: real, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: "$2", user: {token: "$token"}}]
contexts: [{name: sa, context: {cluster: real, user: "$2", namespace: "$1"}}]
current-context: sa
KC
  chmod 600 "$3"
}
# audit_mark: the audit log's current length; audit_since MARK PYTHON-FILTER
# prints the matching events written after MARK (one line each).
audit_mark() { wc -l <"$cp_dir/audit.log"; }
audit_since() {
  tail -n +"$(($1 + 1))" "$cp_dir/audit.log" | python3 -c '
import json, sys
want = sys.argv[1]
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    user = e.get("user", {}).get("username", "")
    code = e.get("responseStatus", {}).get("code", 0)
    verb = e.get("verb", "")
    ref = e.get("objectRef", {})
    if eval(want):
        print(code, verb, user, e.get("requestURI", ""))
' "$2"
}
# forbidden_for PREFIX MARK: requests by users starting with PREFIX refused 403.
forbidden_for() { audit_since "$2" "user.startswith('$1') and code == 403"; }
# delete_namespace NS: deletes it and waits until it is gone.
delete_namespace() {
  k delete namespace "$1" --ignore-not-found --wait=false >/dev/null
  wait_for 120 "namespace $1 to be gone" sh -c "! kubectl --kubeconfig '$admin_kc' get namespace '$1'"
}
export ADMIN_KC=$admin_kc  # for the scenarios' python snippets

# start_operator NAMESPACE KUBECONFIG LOGNAME [ARGS...]: srexpert-operator as
# its Deployment runs it, with that kubeconfig's credentials; waits for /readyz.
start_operator() {
  local ns=$1 kc=$2 log=$logs/$3.log port; shift 3
  "$bin_op" --kubeconfig "$kc" --namespace "$ns" --agent-image registry.example.com/srexpert/agent:real \
    --metrics-bind-address 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0 "$@" >"$log" 2>&1 &
  pids[operator]=$!
  port=$(logged_port "$log" "serving probes and metrics" healthPort)
  wait_for 30 "the operator to be ready" curl -fsS "http://127.0.0.1:$port/readyz"
}
# stop_operator: SIGTERM, as the kubelet would, and wait for the exit.
stop_operator() {
  local pid=${pids[operator]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local end=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$end" ] || fail "the operator did not exit within 30 s of SIGTERM"
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || true
  unset 'pids[operator]'
}
# children_exist NAMESPACE NAME: every child of AgentConfig NAME exists.
children_exist() {
  k -n "$1" get serviceaccount/"$2" secret/"$2-secret" configmap/"$2-config" daemonset/"$2" \
    role/"$2-leader-election" rolebinding/"$2-leader-election" >/dev/null &&
    k get clusterrole/"$2" clusterrolebinding/"$2" >/dev/null
}
# no_cluster_rbac_left: no ClusterRole or ClusterRoleBinding of ours anywhere.
no_cluster_rbac_left() {
  [ -z "$(k get clusterrole,clusterrolebinding -o name | grep srexpert || true)" ]
}
# The operator's cluster-RBAC ownership flags exactly as install.yaml's
# Deployment passes them (--operator-cluster-role, ...-binding,
# --helm-storage-cluster-role), one per line.
install_ownership_flags() {
  grep -oE -- '--(operator-cluster-role|operator-cluster-role-binding|helm-storage-cluster-role)=[^ "]+' \
    "$root/manifests/install.yaml"
}

# install_with_operator NAMESPACE LOGNAME: manifests/install.yaml applied
# server-side as the README says, then srexpert-operator run as its
# Deployment would run it (its ServiceAccount's token, its bootstrap file,
# its own-RBAC flags); waits until the bootstrap AgentConfig has every child.
install_with_operator() {
  local ns=$1 log=$2
  k apply --server-side -f "$root/manifests/install.yaml" >"$logs/$log-apply.log" 2>&1 ||
    fail "kubectl apply --server-side -f manifests/install.yaml: $(cat "$logs/$log-apply.log")"
  sa_kubeconfig "$ns" srexpert-operator "$work/operator.kubeconfig"
  k -n "$ns" get configmap srexpert-operator-bootstrap -o 'jsonpath={.data.agentconfig\.yaml}' >"$work/bootstrap.yaml"
  local flags
  mapfile -t flags < <(install_ownership_flags)
  [ "${#flags[@]}" -eq 3 ] || fail "install.yaml's operator Deployment: ownership flags ${flags[*]}"
  start_operator "$ns" "$work/operator.kubeconfig" "$log" "${flags[@]}" \
    --bootstrap-agent-config="$work/bootstrap.yaml"
  wait_for 60 "the bootstrap AgentConfig's children" children_exist "$ns" srexpert-agent
}
# uninstall_namespace NAMESPACE: `kubectl delete namespace`, with the
# operator SIGTERMed the moment the namespace turns Terminating (its own pod
# lives there, and the namespace controller deletes pods and custom
# resources in no fixed order). Within 60 s the namespace must be gone and
# no ClusterRole/ClusterRoleBinding of ours left. Sets uninstall_secs.
uninstall_namespace() {
  local ns=$1 start=$SECONDS
  k delete namespace "$ns" --wait=false >/dev/null
  wait_for 30 "namespace $ns to turn Terminating" sh -c \
    "kubectl --kubeconfig '$admin_kc' get namespace '$ns' -o 'jsonpath={.status.phase}' | grep -qx Terminating"
  stop_operator
  wait_for 60 "namespace $ns to be gone (operator stopped)" sh -c "! kubectl --kubeconfig '$admin_kc' get namespace '$ns'"
  wait_for $((start + 60 - SECONDS)) "no cluster RBAC of ours left" no_cluster_rbac_left
  uninstall_secs=$((SECONDS - start))
}
