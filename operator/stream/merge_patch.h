// JSON merge patches (RFC 7386) between two projected forms of one object,
// so that a modified object travels as its change instead of in full
// (docs/protocol.md, "delta payload": `patch`). Most updates touch a few
// fields of a kilobyte-sized object — a pod's status, a label — and the
// patch is a small fraction of the object.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace srexpert::stream {

// The merge patch that turns `before` into `after` (both JSON objects), as
// compact JSON text: applying it to `before` with RFC 7386 semantics gives a
// document structurally equal to `after`. nullopt when either text is not
// a JSON object, or when `after` holds a null anywhere (a merge patch cannot
// express a member whose value is null: null means "remove").
std::optional<std::string> CreateMergePatch(std::string_view before, std::string_view after);

}  // namespace srexpert::stream
