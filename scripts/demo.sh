#!/usr/bin/env bash
# Local demo: the whole system on one machine.
#
#   kube-test-apiserver  a SIMULATED cluster (the loopback Kubernetes API test
#                        server from test/apiserver — no controllers, no
#                        kubelet; scripts/demo-cluster.sh writes once the
#                        ReplicaSets, running pods and node conditions they
#                        would have, and nothing keeps them up to date)
#   srexpert-hub         the reference backend (wss + REST API)
#   srexpert-operator    reconciling the AgentConfig applied with real kubectl
#   3 x srexpert-agent   started from the ConfigMap and Secret the operator
#                        wrote, as if the DaemonSet had scheduled them on
#                        three nodes; one wins the Lease and opens the tunnel
#
# With --kubeconfig <file> the operator and the three agents work against
# that (real) cluster instead of the simulated one. They still run here, as
# local processes with that kubeconfig's credentials, and dial the local hub.
# Nothing touches an existing install: everything goes to namespace
# srexpert-demo, AgentConfig srexpert-demo, whose DaemonSet is pinned to no
# node (its pods would need the agent image and could not reach a hub on this
# machine). Ctrl-C deletes the AgentConfig (and so every object the operator
# created) before stopping; the CRD and the namespace stay.
#
# Usage: scripts/demo.sh [--once] [--kubeconfig <file>]
#   --once: show the result and stop.   Ctrl-C stops everything it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
once=0
real_kubeconfig=""
while [ $# -gt 0 ]; do
  case "$1" in
    --once) once=1 ;;
    --kubeconfig) real_kubeconfig="${2:?--kubeconfig needs a file}"; shift ;;
    --kubeconfig=*) real_kubeconfig="${1#--kubeconfig=}" ;;
    *) echo "usage: scripts/demo.sh [--once] [--kubeconfig <file>]" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$real_kubeconfig" ]; then
  [ -r "$real_kubeconfig" ] || { echo "demo: cannot read kubeconfig $real_kubeconfig" >&2; exit 2; }
  real_kubeconfig=$(cd "$(dirname "$real_kubeconfig")" && pwd)/$(basename "$real_kubeconfig")
  ns=srexpert-demo name=srexpert-demo
else
  ns=srexpert-system name=srexpert-agent
fi

if [ "${SREXPERT_DEMO_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  build="${SREXPERT_BUILD_DIR:-build}"
  # Same configuration as scripts/test.sh, so the two share one build.
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" >/dev/null
  cmake --build "$build" -j "$(nproc)" --target kube-test-apiserver srexpert-hub srexpert-operator srexpert-agent
fi
build="${SREXPERT_BUILD_DIR:-build}"
bin_api="$build/test/apiserver/kube-test-apiserver"
bin_hub="$build/operator/cmd/srexpert-hub"
bin_op="$build/operator/cmd/srexpert-operator"
bin_agent="$build/operator/cmd/srexpert-agent"

state="${SREXPERT_DEMO_STATE:-$root/.demo}"
rm -rf "$state"
mkdir -p "$state"/{api,hub,agent,logs}
pids=()
op_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$real_kubeconfig" ] && [ -n "$op_pid" ]; then
    # While the operator still runs: once it sees the AgentConfig gone it
    # deletes the ClusterRole and ClusterRoleBinding it made (garbage
    # collection takes the namespaced rest). Nothing holds the deletion, so
    # wait for that before stopping the operator.
    echo "demo: deleting AgentConfig $ns/$name from the cluster"
    kubectl --kubeconfig "$real_kubeconfig" -n "$ns" delete agentconfig "$name" \
      --ignore-not-found --timeout=60s >/dev/null 2>&1 || true
    for _ in $(seq 150); do
      kubectl --kubeconfig "$real_kubeconfig" get clusterrole "$name" >/dev/null 2>&1 || break
      sleep 0.2
    done
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "demo: stopped everything it started (logs in $state/logs)"
}
# A signal ends the script (and so runs cleanup once, from EXIT): a trap
# that only cleaned up would return into the wait loop below and never exit.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_for() {  # wait_for <seconds> <description> <command...>
  local secs=$1 what=$2; shift 2
  for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "demo: timed out waiting for $what; the logs end with:" >&2
  local f
  for f in "$state"/logs/*.log; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
  done
  return 1
}
# Every listener binds port 0 and the kernel picks a free port; the process
# logs the ports it got. Choosing a "free" port here and passing it on would
# race with anything else on the machine binding in between.
# logged_port <log file> <message> <key>: waits for the line, prints the port.
logged_port() {
  local log=$1 msg=$2 key=$3 port=""
  for _ in $(seq 150); do
    port=$(sed -n "s/.* $msg .*\b$key=\([0-9][0-9]*\).*/\1/p" "$log" 2>/dev/null | head -n 1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.2
  done
  echo "demo: no '$msg' line with $key in $log; it ends with:" >&2
  tail -n 15 "$log" >&2
  return 1
}
# Loopback calls must never go through a proxy set in the environment.
export no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}" NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"

if [ -n "$real_kubeconfig" ]; then
  kubeconfig=$real_kubeconfig
  echo "demo: using the cluster of $kubeconfig ($(kubectl --kubeconfig "$kubeconfig" config current-context 2>/dev/null || echo '?'))"
  kubectl --kubeconfig "$kubeconfig" version >/dev/null 2>&1 ||
    { echo "demo: cannot reach that cluster (kubectl version failed)" >&2; exit 1; }
else
  echo "demo: starting the simulated cluster (kube-test-apiserver)"
  # --metrics-api: serve metrics.k8s.io as metrics-server would (the demo
  # writes the usage, scripts/demo-cluster.sh).
  "$bin_api" --port 0 --state-dir "$state/api" --metrics-api >"$state/api/ready.json" 2>"$state/logs/apiserver.log" &
  pids+=($!)
  wait_for 30 "the API server" grep -q kubeconfig "$state/api/ready.json"
  kubeconfig=$(sed -n 's/.*"kubeconfig":"\([^"]*\)".*/\1/p' "$state/api/ready.json")
fi
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

echo "demo: generating the hub's TLS certificate and a cluster token"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=srexpert-demo-hub" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$state/hub/tls.key" -out "$state/hub/tls.crt" 2>/dev/null
token="demo-$(openssl rand -hex 16)"
printf '{"clusters":[{"name":"demo-cluster","token":"%s"}]}\n' "$token" >"$state/hub/tokens.json"
# Two people for the REST API and the console (docs/hub.md): an operator who
# may send actions and a viewer who may only look. The file holds only the
# tokens' digests; the tokens themselves go to files readable by this user.
operator_token="demo-operator-$(openssl rand -hex 16)"
viewer_token="demo-viewer-$(openssl rand -hex 16)"
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
printf '{"users":[{"name":"demo-operator","tokenSha256":"%s","role":"operator"},{"name":"demo-viewer","tokenSha256":"%s","role":"viewer"}]}\n' \
  "$(sha "$operator_token")" "$(sha "$viewer_token")" >"$state/hub/users.json"
( umask 077
  printf 'Authorization: Bearer %s\n' "$operator_token" >"$state/hub/operator.header" )
api() { curl -fsS -H @"$state/hub/operator.header" "$@"; }  # the REST API as demo-operator
"$bin_hub" --port 0 --tls-cert-file "$state/hub/tls.crt" --tls-key-file "$state/hub/tls.key" \
  --tokens-file "$state/hub/tokens.json" --api-bind-address 127.0.0.1 --api-port 0 \
  --users-file "$state/hub/users.json" --log-format text 2>"$state/logs/hub.log" &
pids+=($!)
hub_port=$(logged_port "$state/logs/hub.log" "hub listening" tunnelPort)
api_port=$(logged_port "$state/logs/hub.log" "hub listening" apiPort)
wait_for 30 "the hub" curl -fsS "http://127.0.0.1:$api_port/healthz"
console_url="http://127.0.0.1:$api_port/"
( umask 077
  printf 'CONSOLE_URL=%s\nOPERATOR_TOKEN=%s\nVIEWER_TOKEN=%s\nCLUSTER=demo-cluster\n' \
    "$console_url" "$operator_token" "$viewer_token" >"$state/console.env" )

if [ -n "$real_kubeconfig" ]; then
  echo "demo: applying the CRD and namespace $ns with kubectl"
  k apply --server-side -f crds/agentconfigs.agent.srexpert.io.yaml >/dev/null
  k wait --for=condition=Established --timeout=60s crd/agentconfigs.agent.srexpert.io >/dev/null
  k create namespace "$ns" --dry-run=client -o yaml | k apply -f - >/dev/null
else
  echo "demo: installing the CRD and sample workloads with kubectl"
  k apply --server-side -f crds/agentconfigs.agent.srexpert.io.yaml >/dev/null
  wait_for 30 "the CRD" k get crd agentconfigs.agent.srexpert.io
  for sim_ns in srexpert-system shop payments; do
    printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    demo.srexpert.io/simulated: "true"\n' "$sim_ns" | k apply -f - >/dev/null
  done
  # The three "nodes" the agent processes stand for.
  for node in 1 2 3; do
    printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: demo-node-%s\n  labels:\n    kubernetes.io/hostname: demo-node-%s\n    demo.srexpert.io/simulated: "true"\n' "$node" "$node" | k apply -f - >/dev/null
  done
  for app in shop/frontend shop/cart payments/api; do
    app_ns=${app%/*}; app_name=${app#*/}
    cat <<YAML | k apply -f - >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata: {name: $app_name, namespace: $app_ns, labels: {app: $app_name}}
spec:
  replicas: 2
  selector: {matchLabels: {app: $app_name}}
  template:
    metadata: {labels: {app: $app_name}}
    spec: {containers: [{name: $app_name, image: "registry.example.com/$app_name:1.0"}]}
YAML
  done
  # No controllers and no kubelet here: the demo writes what they would.
  source "$root/scripts/demo-cluster.sh"
  seed_simulated_cluster 3 "shop/frontend shop/cart payments/api"
fi

"$bin_op" --kubeconfig "$kubeconfig" --namespace "$ns" --agent-image srexpert/agent:demo \
  --health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 \
  --log-format text 2>"$state/logs/operator.log" &
op_pid=$!
pids+=($op_pid)
op_health=$(logged_port "$state/logs/operator.log" "serving probes and metrics" healthPort)
wait_for 30 "the operator" curl -fsS "http://127.0.0.1:$op_health/readyz"

echo "demo: applying the AgentConfig"
ca_indented=$(sed 's/^/      /' "$state/hub/tls.crt")
# On a real cluster the DaemonSet is pinned to no node: its pods would need
# the agent image and could not reach the hub on this machine.
pin=""
[ -n "$real_kubeconfig" ] && pin="  agent: {nodeSelector: {demo.srexpert.io/agent-pods: none}}"
# Actions only in the simulated cluster: a demo never changes a real one.
actions=""
[ -z "$real_kubeconfig" ] &&
  actions="  actions: {scale: true, restart: true, deletePods: true, nodes: true, applyManifests: true, helm: true, namespaces: [shop, payments]}"
cat <<YAML | k apply -f - >/dev/null
apiVersion: agent.srexpert.io/v1alpha1
kind: AgentConfig
metadata: {name: $name, namespace: $ns}
spec:
  clusterName: demo-cluster
  backend:
    url: wss://127.0.0.1:$hub_port/api/v1/tunnel
    caBundle: |
$ca_indented
  token: {value: "$token"}
  leaderElection: {leaseDuration: 6s, renewDeadline: 4s, retryPeriod: 1s}
$pin
$actions
YAML
wait_for 30 "the agent ConfigMap" k -n "$ns" get configmap "$name-config"

# The operator's ConfigMap and Secret are what the DaemonSet would mount; the
# demo writes them to files and rewrites the in-pod paths.
k -n "$ns" get configmap "$name-config" -o 'jsonpath={.data.ca\.crt}' >"$state/agent/ca.crt"
k -n "$ns" get secret "$name-secret" -o 'jsonpath={.data.token}' | base64 -d >"$state/agent/token"
chmod 600 "$state/agent/token"
k -n "$ns" get configmap "$name-config" -o 'jsonpath={.data.config\.json}' |
  sed -e "s#/etc/srexpert/config/ca.crt#$state/agent/ca.crt#" -e "s#/etc/srexpert/token/token#$state/agent/token#" \
  >"$state/agent/config.json"

# Helm actions run the project's pinned Helm (scripts/install-deps.sh), each
# agent with its own Helm home, as the DaemonSet's emptyDir would give it.
helm_bin="${HELM:-$root/.tools/helm/helm}"
agent_ports=()
for i in 1 2 3; do
  mkdir -p "$state/agent/helm-$i"
  "$bin_agent" --kubeconfig "$kubeconfig" --config "$state/agent/config.json" \
    --pod-name "$name-node$i" --pod-namespace "$ns" --node-name "demo-node-$i" \
    --helm-binary "$helm_bin" --helm-home "$state/agent/helm-$i" \
    --health-probe-bind-address 127.0.0.1:0 --metrics-bind-address 127.0.0.1:0 \
    --log-format text 2>"$state/logs/agent-$i.log" &
  pids+=($!)
done
for i in 1 2 3; do
  agent_ports+=("$(logged_port "$state/logs/agent-$i.log" "serving probes and metrics" healthPort)")
done
wait_for 60 "the tunnel" sh -c "curl -fsS -H @'$state/hub/operator.header' http://127.0.0.1:$api_port/api/v1/clusters | grep -q '\"connected\":true'"

wait_for 30 "the leader to report its tunnel" sh -c \
  "kubectl --kubeconfig '$kubeconfig' -n '$ns' get agentconfig '$name' -o 'jsonpath={.status.tunnel}' | grep -qx Connected"

# The leader streams the cluster's state; the hub rebuilds it (SQLite).
hub_state="http://127.0.0.1:$api_port/api/v1/clusters/demo-cluster"
wait_for 60 "the hub to hold the streamed cluster state" sh -c \
  "curl -fsS -H @'$state/hub/operator.header' '$hub_state/resources?kind=Namespace' | grep -q '\"items\":\[{'"
streamed_summary() {
  local kind n
  for kind in Namespace Node Deployment ReplicaSet Pod Service ConfigMap ServiceAccount ClusterRole; do
    n=$(api "$hub_state/resources?kind=$kind" | grep -o "{\"kind\":\"$kind\",\"namespace\"" | wc -l)
    printf '  %-15s %s\n' "$kind" "$n"
  done
}

ready=0
for p in "${agent_ports[@]}"; do curl -fsS "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 && ready=$((ready + 1)); done
leader=$(k -n "$ns" get lease "$name-leader" -o 'jsonpath={.spec.holderIdentity}')

if [ -n "$real_kubeconfig" ]; then
  cat <<TXT

=== srexpert demo is running against a REAL cluster ===============================
Cluster: $kubeconfig ($(k config current-context 2>/dev/null || echo '?'))
The operator and three agents run on THIS machine with that kubeconfig's
credentials ($ready of 3 ready). The DaemonSet $ns/$name exists but is pinned
to no node (nodeSelector demo.srexpert.io/agent-pods=none): in-cluster agent
pods need the agent image (docs/image.md) and a hub they can reach.

Hub: clusters connected (GET http://127.0.0.1:$api_port/api/v1/clusters):
$(api "http://127.0.0.1:$api_port/api/v1/clusters")

Leader agent (Lease $ns/$name-leader): $leader

Cluster state streamed by the leader, as the hub holds it (objects per kind):
$(streamed_summary)

$(k -n "$ns" get agentconfig)

Web console: $console_url
  log in with the demo operator's token (may send actions):
    $operator_token
  or the demo viewer's (may only look): $viewer_token
  Both are in $state/console.env; the hub keeps only their digests.

Look around:
  kubectl --kubeconfig $kubeconfig get agentconfig,daemonset,configmap,lease -n $ns
  kubectl --kubeconfig $kubeconfig get clusterrole $name -o yaml
  curl -s -H @$state/hub/operator.header http://127.0.0.1:$api_port/api/v1/clusters
  curl -s -H @$state/hub/operator.header '$hub_state/resources?kind=Deployment'
  curl -s -H @$state/hub/operator.header '$hub_state/events?limit=20'
  tail -f $state/logs/*.log
Stopping deletes AgentConfig $ns/$name (and what the operator made from it).
Afterwards remove the rest: kubectl delete namespace $ns
  (and, if nothing else uses it: kubectl delete crd agentconfigs.agent.srexpert.io)
==================================================================================
TXT
  if [ "$once" = 1 ]; then exit 0; fi
  echo "demo: running; Ctrl-C stops everything"
  while :; do sleep 1; done
fi

# There is no kubelet or DaemonSet controller in the simulated cluster: the
# demo plays that part and reports the three agent processes as the
# DaemonSet's pods, counting those whose /readyz answers.
k -n srexpert-system patch daemonset srexpert-agent --subresource=status --type=merge \
  -p "{\"status\":{\"desiredNumberScheduled\":3,\"currentNumberScheduled\":3,\"updatedNumberScheduled\":3,\"numberReady\":$ready,\"numberAvailable\":$ready,\"numberMisscheduled\":0}}" >/dev/null
wait_for 30 "the AgentConfig to turn Ready" sh -c \
  "kubectl --kubeconfig '$kubeconfig' -n srexpert-system get agentconfig srexpert-agent -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"

# Explicit actions through the hub's request API (docs/actions.md): the
# AgentConfig above allows scale, restart, deleting pods and applying
# manifests in shop and payments, and cordoning and draining nodes.
request() {  # KIND PAYLOAD-JSON -> the hub's answer
  api -X POST "$hub_state/requests" -H 'Content-Type: application/json' \
    -d "{\"kind\":\"$1\",\"timeoutMs\":20000,\"payload\":$2}"
}
before=$(k -n shop get deployment frontend -o 'jsonpath={.spec.replicas}')
scaled=$(request workload.scale \
  '{"kind":"Deployment","namespace":"shop","name":"frontend","replicas":3,"requestedBy":"demo"}')
grep -q '"ok":true' <<<"$scaled" || { echo "demo: workload.scale failed: $scaled" >&2; exit 1; }
after=$(k -n shop get deployment frontend -o 'jsonpath={.spec.replicas}')
manifest='apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: storefront-settings\n  namespace: shop\ndata:\n  banner: welcome\n'
applied=$(request manifests.apply "{\"manifests\":\"$manifest\",\"requestedBy\":\"demo\"}")
grep -q '"ok":true' <<<"$applied" || { echo "demo: manifests.apply failed: $applied" >&2; exit 1; }
refused=$(request workload.scale \
  '{"kind":"Deployment","namespace":"srexpert-system","name":"srexpert-agent","replicas":0}' || true)
# A small chart from the repository, installed through the hub by the
# leader's Helm as an ordinary release: plain `helm list` sees it.
helm_user() {
  HELM_CACHE_HOME="$state/helm/cache" HELM_CONFIG_HOME="$state/helm/config" \
    HELM_DATA_HOME="$state/helm/data" "$helm_bin" --kubeconfig "$kubeconfig" "$@"
}
helm_line="skipped: no Helm at $helm_bin (scripts/install-deps.sh fetches it)"
if [ -x "$helm_bin" ]; then
  # Helm's release storage is an administrator's binding (docs/helm.md).
  for n in shop payments; do
    k -n "$n" create rolebinding srexpert-agent-helm --clusterrole=srexpert-helm-release-storage \
      --serviceaccount=srexpert-system:srexpert-agent >/dev/null
  done
  helm_user package "$root/test/actions/testdata/charts/configmap-only" -d "$state" >/dev/null
  chart=$(base64 -w0 "$state"/configmap-only-*.tgz)
  installed=$(api -X POST "$hub_state/requests" -H 'Content-Type: application/json' \
    -d "{\"kind\":\"helm.install\",\"timeoutMs\":60000,\"payload\":{\"namespace\":\"shop\",\"release\":\"storefront-notes\",\"chart\":{\"archive\":\"$chart\"},\"values\":{\"greeting\":\"hello from the demo\"}}}")
  grep -q '"ok":true' <<<"$installed" || { echo "demo: helm.install failed: $installed" >&2; exit 1; }
  helm_line="release shop/storefront-notes $(grep -o '"status":"[a-z-]*"' <<<"$installed" | head -1); plain helm list -n shop: $(helm_user list -n shop -q | tr '\n' ' ')"
fi

cat <<TXT

=== srexpert demo is running =====================================================
Simulated cluster (kube-test-apiserver). It has no controllers and no kubelet:
the demo wrote once the ReplicaSets, running pods and node conditions they would
have (scripts/demo-cluster.sh); a scale or a drain changes no pod afterwards.

Hub: clusters connected (GET http://127.0.0.1:$api_port/api/v1/clusters):
$(api "http://127.0.0.1:$api_port/api/v1/clusters")

Leader agent (Lease srexpert-system/srexpert-agent-leader): $leader

Cluster state streamed by the leader, as the hub holds it (objects per kind):
$(streamed_summary)

$(k -n srexpert-system get agentconfig)

Actions sent through the hub (POST $hub_state/requests):
  workload.scale shop/frontend: spec.replicas $before -> $after (both read with kubectl)
  manifests.apply ConfigMap shop/storefront-settings: $(grep -o '"action":"[a-z]*"' <<<"$applied")
  workload.scale in srexpert-system, the agent's own namespace: $(grep -o '"code":"[a-z_]*"' <<<"$refused")
  helm.install of a small chart from the repository: $helm_line
  Their audit Events: kubectl --kubeconfig $kubeconfig get events -n shop --field-selector reason=SRExpertAction

Web console: $console_url
  log in with the demo operator's token (may send actions):
    $operator_token
  or the demo viewer's (may only look): $viewer_token
  Both are in $state/console.env; the hub keeps only their digests.

Look around:
  kubectl --kubeconfig $kubeconfig get agentconfig,daemonset,configmap,lease -n srexpert-system
  kubectl --kubeconfig $kubeconfig get clusterrole srexpert-agent -o yaml
  curl -s -H @$state/hub/operator.header http://127.0.0.1:$api_port/api/v1/clusters
  curl -s -H @$state/hub/operator.header '$hub_state/resources?kind=Deployment&namespace=shop'
  curl -s -H @$state/hub/operator.header '$hub_state/events?limit=20'
  curl -s -H @$state/hub/operator.header $hub_state/metrics
  curl -s http://127.0.0.1:${agent_ports[0]}/metrics | grep srexpert_
  tail -f $state/logs/*.log
Try a failover: kill -TERM the leader's process (its pod name is $leader).
==================================================================================
TXT

if [ "$once" = 1 ]; then exit 0; fi
echo "demo: running; Ctrl-C stops everything"
while :; do sleep 1; done
