// Legacy (non-aggregated) discovery documents, as a v1.32 kube-apiserver
// serves them when the client does not ask for apidiscovery.k8s.io/v2.
#pragma once

#include <optional>
#include <string>

#include "common/json.h"
#include "test/apiserver/resources.h"

namespace srexpert::testing {

// The version this server claims in /version (kubectl warns on skew).
constexpr const char* kServerGitVersion = "v1.32.0";

json::Document VersionInfo();
// /api: {"kind":"APIVersions","versions":["v1"],...}
json::Document CoreApiVersions(const std::string& server_address);
// /apis: APIGroupList of every non-core group.
json::Document ApiGroupList(const ResourceRegistry& registry);
// /apis/<group>: one APIGroup; nullopt when unknown.
std::optional<json::Document> ApiGroup(const ResourceRegistry& registry, const std::string& group);
// /api/v1 or /apis/<group>/<version>: APIResourceList; nullopt when unknown.
std::optional<json::Document> ApiResourceList(const ResourceRegistry& registry,
                                              const std::string& group,
                                              const std::string& version);

}  // namespace srexpert::testing
