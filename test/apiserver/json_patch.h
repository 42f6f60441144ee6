// RFC 6902 JSON Patch (application/json-patch+json) over RapidJSON.
#pragma once

#include <optional>
#include <string>

#include "common/json.h"

namespace srexpert::testing {

// Applies `patch` (a JSON array of operations) to `target` in place. On
// failure returns the error text the real apiserver reports and leaves
// `target` in an unspecified state (callers patch a copy).
std::optional<std::string> ApplyJsonPatch(json::Document& target, const json::Value& patch);

}  // namespace srexpert::testing
