// Test-side view of crds/agentconfigs.agent.srexpert.io.yaml: loading it,
// converting YAML to JSON, and reimplementing the two apiserver behaviours
// the operator must agree with — structural defaulting and OpenAPI value
// validation (type, required, enum, pattern, lengths, bounds, item and
// property counts; CEL rules are listed, not evaluated) — plus the generated
// field reference of docs/agentconfig.md.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "common/json.h"

namespace srexpert::testing {

// The whole CRD document.
YAML::Node LoadCrd();
// spec.versions[0].schema.openAPIV3Schema
YAML::Node RootSchema(const YAML::Node& crd);
// The schema node at a dotted path below the root, following properties;
// "[]" steps into items: "spec.agent.tolerations[]", "{}" into a map's values:
// "spec.scans.customChecks{}.target". Null node if absent.
YAML::Node SchemaAt(const YAML::Node& root, const std::string& path);

// YAML scalar typing as the apiserver reads the CRD: quoted scalars are
// strings; plain true/false/null/numbers are typed.
json::Value YamlToJson(const YAML::Node& node, json::Allocator& alloc);

// The apiserver's structural defaulting (apiextensions structuraldefaulting.Default).
void ApplySchemaDefaults(const YAML::Node& schema, json::Value& value, json::Allocator& alloc);

// Every path below `schema` that declares a default ("spec.agent.logLevel",
// "spec.agent.tolerations[].operator").
std::vector<std::string> DefaultedPaths(const YAML::Node& schema, const std::string& prefix);

// OpenAPI value validation without CEL; one message per violation, each
// starting with the path.
std::vector<std::string> SchemaErrors(const YAML::Node& schema, const json::Value& value,
                                      const std::string& path);

// Every property node below `schema` (path → node), depth first; fields of
// list items and of map values follow their list or map ("a[].b", "m{}.c").
std::vector<std::pair<std::string, YAML::Node>> Properties(const YAML::Node& schema,
                                                           const std::string& prefix);

// Markdown field reference (spec and status tables) for docs/agentconfig.md.
std::string RenderFieldReference(const YAML::Node& root);

// Compares the text between `begin` and `end` marker lines of `file` with
// `generated`. With SRX_UPDATE_DOCS=1 in the environment, rewrites that
// section instead and reports success. Returns an empty string on success,
// otherwise what is wrong.
std::string CheckGeneratedSection(const std::string& file, const std::string& begin,
                                  const std::string& end, const std::string& generated);

}  // namespace srexpert::testing
