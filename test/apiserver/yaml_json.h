// YAML to JSON for request bodies (application/yaml and the server-side
// apply content type application/apply-patch+yaml, which accepts both).
#pragma once

#include <optional>
#include <string>

#include "common/json.h"

namespace srexpert::testing {

// Parses one YAML (or JSON, a YAML subset) document. Plain scalars follow
// the YAML 1.2 core schema (null, booleans, integers, floats); quoted
// scalars stay strings. nullopt + message on a syntax error.
std::optional<json::Document> YamlToJson(const std::string& text, std::string* error);

}  // namespace srexpert::testing
