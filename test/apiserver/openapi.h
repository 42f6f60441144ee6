// OpenAPI v3 discovery, reduced to what clients read from it: the root index
// (/openapi/v3) and one document per group-version whose PATCH operations
// carry x-kubernetes-group-version-kind and the fieldValidation query
// parameter. kubectl (>= 1.27) reads exactly that to decide to use
// server-side field validation instead of downloading schemas. Schemas
// themselves are not served (see docs/testing.md).
#pragma once

#include <optional>
#include <string>

#include "common/json.h"
#include "test/apiserver/resources.h"

namespace srexpert::testing {

// {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=..."},...}}
json::Document OpenApiV3Root(const ResourceRegistry& registry);
// `gv_path` is "api/v1" or "apis/<group>/<version>"; nullopt when unknown.
std::optional<json::Document> OpenApiV3GroupVersion(const ResourceRegistry& registry,
                                                    const std::string& gv_path);

}  // namespace srexpert::testing
