#include "stream/merge_patch.h"

#include <rapidjson/document.h>
#include <rapidjson/writer.h>

#include "common/json.h"

namespace srexpert::stream {

namespace {

using Allocator = rapidjson::MemoryPoolAllocator<>;
using Doc = rapidjson::GenericDocument<rapidjson::UTF8<>, Allocator>;
using Val = Doc::ValueType;

bool ContainsNull(const Val& v) {
  if (v.IsNull()) return true;
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (ContainsNull(m.value)) return true;
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      if (ContainsNull(e)) return true;
    }
  }
  return false;
}

// Writes the patch from object `a` to object `b` as members of an object
// the caller has started. Objects recurse; everything else (arrays
// included, as RFC 7386 has no array diff) is replaced whole.
void WriteDiff(const Val& a, const Val& b, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  for (const auto& m : a.GetObject()) {
    if (!b.HasMember(m.name)) {
      w.Key(m.name.GetString(), m.name.GetStringLength());
      w.Null();
    }
  }
  for (const auto& m : b.GetObject()) {
    auto it = a.FindMember(m.name);
    if (it != a.MemberEnd() && json::Equal(it->value, m.value)) continue;
    w.Key(m.name.GetString(), m.name.GetStringLength());
    if (it != a.MemberEnd() && it->value.IsObject() && m.value.IsObject()) {
      w.StartObject();
      WriteDiff(it->value, m.value, w);
      w.EndObject();
    } else {
      m.value.Accept(w);
    }
  }
}

}  // namespace

std::optional<std::string> CreateMergePatch(std::string_view before, std::string_view after) {
  // Per-thread scratch so a diff costs no allocator chunks of its own.
  thread_local char scratch_a[32 * 1024], scratch_b[32 * 1024];
  Allocator alloc_a(scratch_a, sizeof scratch_a), alloc_b(scratch_b, sizeof scratch_b);
  Doc a(&alloc_a), b(&alloc_b);
  a.Parse(before.data(), before.size());
  b.Parse(after.data(), after.size());
  if (a.HasParseError() || b.HasParseError() || !a.IsObject() || !b.IsObject()) return std::nullopt;
  if (ContainsNull(b)) return std::nullopt;
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.StartObject();
  WriteDiff(a, b, w);
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace srexpert::stream
