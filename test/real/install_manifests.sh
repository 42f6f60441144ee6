#!/usr/bin/env bash
# manifests/install.yaml on a real control plane, as the README installs it
# (one `kubectl apply --server-side`), with the operator running on its own
# ServiceAccount's permissions: the bootstrap AgentConfig and its children
# appear, the operator's own cluster RBAC gets owned by the namespace, no
# request of the operator is forbidden, and `kubectl delete namespace`
# removes everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ns=srexpert-system
cleanup_hooks+=("k delete namespace $ns --wait=false")

audit0=$(audit_mark)
install_with_operator "$ns" operator
ok "install.yaml applied; the operator created the bootstrap AgentConfig and its children"
for object in clusterrole/srexpert-operator clusterrolebinding/srexpert-operator \
  clusterrole/srexpert-helm-release-storage; do
  owner=$(k get "$object" -o 'jsonpath={.metadata.ownerReferences[*].kind}')
  [ "$owner" = Namespace ] || fail "$object is not owned by its Namespace (owners: '$owner')"
done
# The storage role grants Secrets, which the operator does not hold: RBAC
# lets it set the ownerReference (a garbage-collection field) all the same,
# as the forbidden-request check below confirms.
ok "the operator's own ClusterRole and ClusterRoleBinding, and the Helm storage ClusterRole, are owned by the namespace"
wait_for 30 "the AgentConfig's status" sh -c \
  "kubectl --kubeconfig '$admin_kc' -n $ns get agentconfig srexpert-agent -o 'jsonpath={.status.observedGeneration}' | grep -q ."
forbidden=$(forbidden_for "system:serviceaccount:$ns:srexpert-operator" "$audit0")
[ -z "$forbidden" ] || fail "requests of the operator were forbidden:
$forbidden"
ok "no request of the operator was forbidden"
uninstall_namespace "$ns"
ok "kubectl delete namespace removed everything in ${uninstall_secs}s"
