# Sourced by scripts/demo.sh for the simulated cluster only: kube-test-apiserver
# stores objects but runs no controllers and no kubelet, so the demo writes
# what they would have written, once, for the sample Deployments and the
# three nodes: each Deployment's ReplicaSet, its pods bound to the nodes and
# running (one with restarts), the statuses that count them, the nodes'
# Ready condition and capacity, and metrics-server's usage figures (the
# server's /_test/metrics, served with --metrics-api). The console and the scans then show a living
# cluster. Nothing keeps this up to date afterwards: a scale or a drain
# through the hub changes the spec (or evicts a pod) and no pod follows.
#
# Needs: k (kubectl on the simulated cluster).

# seed_simulated_cluster NODE_COUNT "ns/name ns/name ..."
seed_simulated_cluster() {
  local nodes=$1 apps=$2 app app_ns app_name hash dep_uid rs rs_uid i pod node now
  local node_usage="" pod_usage=""
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for i in $(seq 1 "$nodes"); do
    k patch node "demo-node-$i" --subresource=status --type=merge -p "$(cat <<JSON
{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status (simulated by the demo)","lastHeartbeatTime":"$now","lastTransitionTime":"$now"},
  {"type":"MemoryPressure","status":"False","reason":"KubeletHasSufficientMemory","lastHeartbeatTime":"$now","lastTransitionTime":"$now"},
  {"type":"DiskPressure","status":"False","reason":"KubeletHasNoDiskPressure","lastHeartbeatTime":"$now","lastTransitionTime":"$now"}],
 "capacity":{"cpu":"4","memory":"16Gi","pods":"110"},"allocatable":{"cpu":"3800m","memory":"15Gi","pods":"110"},
 "nodeInfo":{"kubeletVersion":"v1.26.0","osImage":"simulated","kernelVersion":"6.1.0","containerRuntimeVersion":"containerd://1.7.0","operatingSystem":"linux","architecture":"amd64","machineID":"","systemUUID":"","bootID":"","kubeProxyVersion":"v1.26.0"}}}
JSON
)" >/dev/null
    node_usage+="${node_usage:+,}{\"name\":\"demo-node-$i\",\"cpu\":\"$((350 + 150 * i))m\",\"memory\":\"$((2 + i))Gi\"}"
  done
  i=0
  for app in $apps; do
    app_ns=${app%/*}; app_name=${app#*/}
    # A pod-template-hash of the Deployment controller's alphabet, fixed per app.
    hash=$(printf '%s' "$app" | sha256sum | tr -dc 'bcdfghjklmnpqrstvwxz2456789' | head -c 9)
    dep_uid=$(k -n "$app_ns" get deployment "$app_name" -o 'jsonpath={.metadata.uid}')
    rs="$app_name-$hash"
    cat <<YAML | k apply -f - >/dev/null
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: $rs
  namespace: $app_ns
  labels: {app: $app_name, pod-template-hash: "$hash"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: $app_name, uid: "$dep_uid", controller: true, blockOwnerDeletion: true}]
spec:
  replicas: 2
  selector: {matchLabels: {app: $app_name, pod-template-hash: "$hash"}}
  template:
    metadata: {labels: {app: $app_name, pod-template-hash: "$hash"}}
    spec: {containers: [{name: $app_name, image: "registry.example.com/$app_name:1.0"}]}
YAML
    rs_uid=$(k -n "$app_ns" get replicaset "$rs" -o 'jsonpath={.metadata.uid}')
    for suffix in a b; do
      i=$((i + 1))
      pod="$rs-$suffix$(printf '%s' "$rs$suffix" | sha256sum | tr -dc 'bcdfghjklmnpqrstvwxz2456789' | head -c 4)"
      node="demo-node-$(( (i - 1) % nodes + 1 ))"
      cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata:
  name: $pod
  namespace: $app_ns
  labels: {app: $app_name, pod-template-hash: "$hash"}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: $rs, uid: "$rs_uid", controller: true, blockOwnerDeletion: true}]
spec:
  nodeName: $node
  containers: [{name: $app_name, image: "registry.example.com/$app_name:1.0"}]
YAML
      pod_usage+="${pod_usage:+,}{\"namespace\":\"$app_ns\",\"name\":\"$pod\",\"containers\":[{\"name\":\"$app_name\",\"cpu\":\"$((20 + 15 * i))m\",\"memory\":\"$((64 + 32 * i))Mi\"}]}"
      # The cart's second pod has restarted: something for the console to show.
      local restarts=0
      [ "$app_name" = cart ] && [ "$suffix" = b ] && restarts=3
      k -n "$app_ns" patch pod "$pod" --subresource=status --type=merge -p "$(cat <<JSON
{"status":{"phase":"Running","podIP":"10.244.$i.10","hostIP":"10.0.0.$(( (i - 1) % nodes + 1 ))","startTime":"$now",
 "conditions":[{"type":"Ready","status":"True","lastTransitionTime":"$now"},{"type":"ContainersReady","status":"True","lastTransitionTime":"$now"},{"type":"PodScheduled","status":"True","lastTransitionTime":"$now"}],
 "containerStatuses":[{"name":"$app_name","ready":true,"started":true,"restartCount":$restarts,"image":"registry.example.com/$app_name:1.0","imageID":"","state":{"running":{"startedAt":"$now"}}}]}}
JSON
)" >/dev/null
    done
    k -n "$app_ns" patch replicaset "$rs" --subresource=status --type=merge \
      -p '{"status":{"replicas":2,"fullyLabeledReplicas":2,"readyReplicas":2,"availableReplicas":2,"observedGeneration":1}}' >/dev/null
    k -n "$app_ns" patch deployment "$app_name" --subresource=status --type=merge \
      -p '{"status":{"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2,"observedGeneration":1}}' >/dev/null
  done
  printf '{"nodes":[%s],"pods":[%s]}' "$node_usage" "$pod_usage" | k replace --raw /_test/metrics -f - >/dev/null
}
