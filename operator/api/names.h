// Names and labels of everything the operator creates for an AgentConfig.
//
// For an AgentConfig named N in namespace S:
//   ServiceAccount N, ClusterRole N, ClusterRoleBinding N        (seed names)
//   Role N-leader-election, RoleBinding N-leader-election        (Lease access)
//   Role N-actions, RoleBinding N-actions in each namespace of spec.actions.namespaces
//   Secret N-secret, ConfigMap N-config, DaemonSet N, Lease N-leader
//
// The ClusterRole and ClusterRoleBinding are cluster-scoped yet deliberately
// named N, not S-N: the default install (srexpert-agent in srexpert-system)
// must produce the seed's names exactly, and "other names follow the same
// pattern". Two AgentConfigs with the same name in different namespaces
// therefore want the same ClusterRole; the second one finds an object owned
// by another Namespace and reports NameConflict instead of taking it over.
// Use distinct names for several installs in one cluster.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace srexpert::api {

struct ChildNames {
  std::string service_account;
  std::string cluster_role;
  std::string cluster_role_binding;
  std::string leader_election_role;
  std::string leader_election_role_binding;
  std::string actions_role;  // and its RoleBinding, in each actions namespace
  std::string secret;
  std::string config_map;
  std::string daemon_set;
  std::string lease;
};

ChildNames NamesFor(std::string_view agent_config_name);

// Shipped by the install (chart and install.yaml), bound by nobody: read and
// write Helm's release Secrets. An administrator binds it to the agent's
// ServiceAccount in each namespace Helm may use (docs/helm.md); neither the
// operator nor the agent ever holds Secrets access cluster-wide.
inline constexpr std::string_view kHelmStorageClusterRole = "srexpert-helm-release-storage";

inline constexpr std::string_view kFieldManager = "srexpert-operator";
inline constexpr std::string_view kManagedBy = "srexpert-operator";
inline constexpr std::string_view kAppName = "srexpert-agent";
inline constexpr std::string_view kPartOf = "srexpert";
inline constexpr std::string_view kComponent = "agent";

inline constexpr std::string_view kLabelName = "app.kubernetes.io/name";
inline constexpr std::string_view kLabelInstance = "app.kubernetes.io/instance";
inline constexpr std::string_view kLabelManagedBy = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kLabelPartOf = "app.kubernetes.io/part-of";
inline constexpr std::string_view kLabelComponent = "app.kubernetes.io/component";

// Pod-template annotation whose change rolls the agent pods:
// sha256 over the ConfigMap data (controller/desired.h, ConfigChecksum).
inline constexpr std::string_view kConfigChecksumAnnotation = "agent.srexpert.io/config-checksum";
// Written by the leader agent on its Lease (docs/agentconfig.md, "Status"):
// the tunnel state (docs/leader-election.md lists the values).
// The leader itself is the Lease's spec.holderIdentity (its pod name).
inline constexpr std::string_view kLeaseTunnelStateAnnotation = "agent.srexpert.io/tunnel-state";
// The summary of the leader's last full scan, also written by the leader on
// its Lease with every renewal (no extra write, and the operator reads it with
// the Lease access it already has): score 0-100, failed results of severity
// danger and warning (decimal integers), and when the scan finished (RFC 3339).
// The operator copies them to status.scan (api/status.h, ScanStatusFromAnnotations).
inline constexpr std::string_view kLeaseScanScoreAnnotation = "agent.srexpert.io/scan-score";
inline constexpr std::string_view kLeaseScanDangersAnnotation = "agent.srexpert.io/scan-dangers";
inline constexpr std::string_view kLeaseScanWarningsAnnotation = "agent.srexpert.io/scan-warnings";
inline constexpr std::string_view kLeaseScanTimeAnnotation = "agent.srexpert.io/scan-time";

// The finalizer earlier versions put on every AgentConfig. None is set
// any more (a finalizer kept `kubectl delete namespace` waiting on an operator
// that lives in that namespace); the operator removes it where it finds it.
inline constexpr std::string_view kFinalizer = "agent.srexpert.io/cluster-resources";

// Labels on every child: name, instance, managed-by, part-of, component.
std::map<std::string, std::string> CommonLabels(std::string_view agent_config_name);
// The DaemonSet's (immutable) selector: name and instance only.
std::map<std::string, std::string> SelectorLabels(std::string_view agent_config_name);
// Label keys users may not set through spec.agent.podLabels.
const std::vector<std::string>& ReservedLabelKeys();
// Annotation-key prefix users may not use through spec.agent.podAnnotations.
inline constexpr std::string_view kReservedAnnotationPrefix = "agent.srexpert.io/";

}  // namespace srexpert::api
