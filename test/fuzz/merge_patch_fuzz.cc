// JSON merge patch (RFC 7386) both ways: the patch stream::CreateMergePatch
// makes from `before` to `after`, applied by json::MergePatch to `before`,
// gives `after` (input: two JSON documents separated by a NUL byte).
#include <cstring>

#include "common/json.h"
#include "stream/merge_patch.h"
#include "test/fuzz/fuzz_target.h"

using namespace srexpert;

namespace {
// A merge patch cannot set a member to null (null means "remove").
bool HasNullMember(const json::Value& v) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (m.value.IsNull() || HasNullMember(m.value)) return true;
    }
  }
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = fuzz::AsText(data, size);
  size_t nul = text.find('\0');
  if (nul == std::string_view::npos) return 0;
  auto before_text = text.substr(0, nul), after_text = text.substr(nul + 1);
  if (json::NestingDepth(before_text) > 64 || json::NestingDepth(after_text) > 64) return 0;
  auto before = json::Parse(before_text), after = json::Parse(after_text);
  if (!before || !after || !before->IsObject() || !after->IsObject()) return 0;
  // The API server never sends an object with a repeated member; merge
  // patches of such text have no defined meaning.
  if (json::HasDuplicateMembers(*before) || json::HasDuplicateMembers(*after)) return 0;

  auto patch_text = stream::CreateMergePatch(before_text, after_text);
  if (!patch_text) return 0;
  auto patch = json::Parse(*patch_text);
  FUZZ_CHECK(patch.has_value());
  json::MergePatch(*before, *patch, before->GetAllocator());
  if (!HasNullMember(*after)) FUZZ_CHECK(json::Equal(*before, *after));
  return 0;
}
