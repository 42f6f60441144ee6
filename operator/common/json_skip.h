// Parsing that leaves members out of the document instead of building them
// and throwing them away. The collectors read ~10 KB watch events of which
// managedFields and the last-applied annotation are nearly half, and never
// use either: skipping them at parse time saves their DOM nodes and string
// copies (docs/performance.md, "pipeline_bench").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"

namespace srexpert::json {

// A member to leave out, named by the keys that lead to it. The path matches
// at any depth as a suffix of the keys from the root, array elements being
// transparent: {"metadata", "managedFields"} drops the managedFields of an
// object, of a watch event's `object` and of every list `items[i]`.
using SkipPath = std::vector<std::string>;

// Parses `text` as Parse() does (same errors, same limits), without the
// members `skip` names. A skipped value is still checked for syntax.
std::optional<Document> ParseSkipping(std::string_view text, const std::vector<SkipPath>& skip,
                                      std::string* error = nullptr);

// What no collector needs: metadata.managedFields and the
// kubectl.kubernetes.io/last-applied-configuration annotation.
const std::vector<SkipPath>& ServerBookkeepingPaths();

}  // namespace srexpert::json
