// The agent's permission allow-list, as data.
//
// The same table builds the ClusterRole and the leader-election Role
// (desired_rbac.h) and generates docs/permissions.md (test/controller checks
// that the checked-in file matches). Rules: read-only (get/list/watch) on what
// collection needs; never Secrets, never a wildcard, never escalate, bind or
// impersonate; each enabled action adds only the verbs it needs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/agent_config.h"

namespace srexpert::controller {

// Which switch of the spec a permission depends on.
enum class Feature {
  kCollection,      // always: the inventory the agent streams
  kEvents,          // spec.collection.events
  kMetrics,         // spec.collection.metrics
  kLeaderElection,  // always: the agents' own Lease
  kScale,           // spec.actions.scale
  kRestart,         // spec.actions.restart
  kDeletePods,      // spec.actions.deletePods
  kNodes,           // spec.actions.nodes
  kApplyManifests,  // spec.actions.applyManifests
  kHelm,            // spec.actions.helm
};

enum class Scope {
  kCluster,         // ClusterRole <name>
  kAgentNamespace,  // Role <name>-leader-election in the AgentConfig's namespace
  // Writes of the actions: Role <name>-actions (+ RoleBinding) in each
  // namespace of spec.actions.namespaces; with that list empty, the
  // ClusterRole <name> (every namespace; the agent itself refuses the
  // system namespaces and its own).
  kActionNamespaces,
  // Helm's release storage (Secrets): the ClusterRole the install ships
  // (api::kHelmStorageClusterRole), bound per namespace by an administrator.
  // The operator neither holds nor binds it: granting Secrets in any
  // namespace would need Secrets access (or `bind`) cluster-wide.
  kHelmStorage,
};

struct Permission {
  Feature feature;
  Scope scope;
  std::string api_group;  // "" for the core group
  std::vector<std::string> resources;
  std::vector<std::string> verbs;
  std::vector<std::string> resource_names;  // empty: every object
  std::string why;
};

// "always", "spec.collection.events", "spec.actions.scale", ...
std::string_view FeatureSwitch(Feature feature);
bool FeatureEnabled(Feature feature, const api::AgentConfigSpec& spec);

// Every permission the agent can ever get, in a fixed order. `lease_name`
// fills the resourceNames of the Lease rule.
std::vector<Permission> PermissionCatalogue(std::string_view lease_name);
// The catalogue filtered by the spec's switches.
std::vector<Permission> GrantedPermissions(const api::AgentConfig& config);

// The generated body of docs/permissions.md.
std::string RenderPermissionsMarkdown();

}  // namespace srexpert::controller
