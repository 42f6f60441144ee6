// Shared pieces of the desired-state builders: object skeletons, labels and
// ownerReferences. Internal to operator/controller.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/agent_config.h"
#include "common/json.h"

namespace srexpert::controller::internal {

// {apiVersion, kind, metadata: {name[, namespace], labels: CommonLabels}}.
// An empty `ns` makes a cluster-scoped object. Objects outside the
// AgentConfig's namespace (cluster-scoped, or the actions' Roles) also get
// the label agent.srexpert.io/owner-namespace so that they can be found by
// label.
json::Document NewObject(std::string_view api_version, std::string_view kind, std::string_view name,
                         std::string_view ns, const api::AgentConfig& config);

// Controller ownerReference to the AgentConfig (blockOwnerDeletion: deleting
// the AgentConfig in the foreground waits for its children).
void OwnByAgentConfig(json::Document& obj, const api::AgentConfig& config);
// Plain ownerReference to the AgentConfig's Namespace: a cluster-scoped
// object cannot be owned by a namespaced one, and this makes
// `kubectl delete namespace` garbage-collect it. No blockOwnerDeletion: that
// would require update on namespaces/finalizers.
void OwnByNamespace(json::Document& obj, const api::AgentConfig& config,
                    std::string_view namespace_uid);

json::Value StringMap(const std::map<std::string, std::string>& m, json::Allocator& alloc);
json::Value StringArray(const std::vector<std::string>& items, json::Allocator& alloc);

inline constexpr std::string_view kOwnerNamespaceLabel = "agent.srexpert.io/owner-namespace";

}  // namespace srexpert::controller::internal
