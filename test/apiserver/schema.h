// What kube-apiserver does to a custom resource with the CRD version's
// structural OpenAPI v3 schema on every write: structural pruning of unknown
// fields, defaulting, and OpenAPI validation, with the real error wording
// (apiextensions-apiserver's pruning/defaulting packages and kube-openapi's
// validator as converted by ConvertSchemaValidationErrors). CEL
// x-kubernetes-validations are not evaluated (docs/testing.md).
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "test/apiserver/status.h"

namespace srexpert::testing {

// Removes fields the schema does not declare (unless
// x-kubernetes-preserve-unknown-fields), drops nulls of non-nullable fields
// without a default, then applies `default`s. apiVersion, kind and metadata
// of the resource (and of x-kubernetes-embedded-resource objects) are kept.
// Returns the pruned fields' paths ("spec.foo", "spec.list[0].bar").
std::vector<std::string> PruneAndDefault(json::Value& object, const json::Value& schema,
                                         json::Allocator& alloc);

// Validates `object` against `schema`: type, nullable, enum, pattern
// (std::regex ECMAScript), minLength/maxLength, format (date-time only),
// minimum/maximum (+exclusive), multipleOf, minItems/maxItems,
// x-kubernetes-list-type set/map uniqueness, required,
// minProperties/maxProperties, additionalProperties schemas,
// x-kubernetes-int-or-string. Causes carry field paths like
// "spec.backend.url".
std::vector<StatusCause> ValidateSchema(const json::Value& object, const json::Value& schema);

}  // namespace srexpert::testing
