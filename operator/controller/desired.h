// Desired state of an AgentConfig's children, as pure functions.
//
// Each builder returns the complete server-side-apply body of one child
// (fieldManager "srexpert-operator"): apiVersion, kind, metadata (name,
// namespace, labels, annotations, ownerReferences) and the fields we own —
// nothing the apiserver defaults or other controllers write. The same inputs
// always give byte-identical output, so an in-sync reconcile writes nothing.
//
// `config` must come from a successful api::Parse(). The token is passed in
// resolved (inline value or the referenced Secret's key) and appears only in
// DesiredSecret() — and, one-way hashed, in the DaemonSet's checksum.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/agent_config.h"
#include "common/json.h"

namespace srexpert::controller {

struct BuildInputs {
  std::string
      namespace_uid;  // UID of the AgentConfig's Namespace (owner of cluster-scoped children)
  std::string token;  // resolved registration token
  std::string
      default_agent_image;  // operator flag --agent-image; used when spec.agent.image is empty
};

// Paths inside the agent container (docs/agentconfig.md, "Agent contract").
inline constexpr std::string_view kConfigDir = "/etc/srexpert/config";
inline constexpr std::string_view kConfigFile = "/etc/srexpert/config/config.json";
inline constexpr std::string_view kCaFile = "/etc/srexpert/config/ca.crt";
inline constexpr std::string_view kTokenDir = "/etc/srexpert/token";
inline constexpr std::string_view kTokenFile = "/etc/srexpert/token/token";
// ConfigMap keys and the Secret key.
inline constexpr std::string_view kConfigKey = "config.json";
inline constexpr std::string_view kCaKey = "ca.crt";
inline constexpr std::string_view kTokenKey = "token";
// The agent's probe port (named "health"): /healthz and /readyz.
inline constexpr int kHealthPort = 8081;
inline constexpr int kAgentUid = 65532;
// Environment variable that tells the agent where its configuration is.
inline constexpr std::string_view kConfigFileEnv = "SRX_CONFIG_FILE";

json::Document DesiredServiceAccount(const api::AgentConfig& config, const BuildInputs& in);
json::Document DesiredClusterRole(const api::AgentConfig& config, const BuildInputs& in);
json::Document DesiredClusterRoleBinding(const api::AgentConfig& config, const BuildInputs& in);
json::Document DesiredLeaderElectionRole(const api::AgentConfig& config, const BuildInputs& in);
json::Document DesiredLeaderElectionRoleBinding(const api::AgentConfig& config,
                                                const BuildInputs& in);
// With a non-empty spec.actions.namespaces and an action enabled: Role and
// RoleBinding <name>-actions in namespace `ns` (one of that list), owned by
// the AgentConfig's Namespace.
bool HasActionRoles(const api::AgentConfig& config);
json::Document DesiredActionRole(const api::AgentConfig& config, const BuildInputs& in,
                                 const std::string& ns);
json::Document DesiredActionRoleBinding(const api::AgentConfig& config, const BuildInputs& in,
                                        const std::string& ns);
json::Document DesiredSecret(const api::AgentConfig& config, const BuildInputs& in);
json::Document DesiredConfigMap(const api::AgentConfig& config, const BuildInputs& in);
json::Document DesiredDaemonSet(const api::AgentConfig& config, const BuildInputs& in);

// All children in apply order: ServiceAccount, ClusterRole, ClusterRoleBinding,
// Role, RoleBinding, the actions' Role and RoleBinding per namespace, Secret,
// ConfigMap, DaemonSet (RBAC before the pods that need it, Secret and
// ConfigMap before the pods that mount them).
std::vector<json::Document> DesiredChildren(const api::AgentConfig& config, const BuildInputs& in);

// The agent's config.json (everything the agent needs except the token).
json::Document AgentConfigFile(const api::AgentConfig& config);

// Lowercase hex sha256 over the ConfigMap's data (keys in sorted order, each
// key and value length-prefixed); the DaemonSet's pod template carries it, so
// a configuration change rolls the agents. The token is deliberately not part
// of it: agents re-read the mounted token file on every connect and the
// kubelet refreshes Secret volumes, so a rotation needs no restart.
std::string ConfigChecksum(const json::Value& config_map);

// True when obj.metadata.ownerReferences has an entry with this uid.
bool HasOwnerUid(const json::Value& obj, std::string_view uid);

}  // namespace srexpert::controller
