#include "common/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace srexpert::json {

namespace {

rapidjson::Value::StringRefType Ref(std::string_view s) {
  return rapidjson::Value::StringRefType(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

const Value* Member(const Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(Ref(key));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string_view View(const Value& s) { return {s.GetString(), s.GetStringLength()}; }

// Small objects (the common case in Kubernetes objects) are compared
// pairwise, larger ones sorted: O(n log n) in the number of members.
bool RepeatsMemberName(const Value& obj) {
  rapidjson::SizeType n = obj.MemberCount();
  if (n <= 8) {
    for (auto a = obj.MemberBegin(); a != obj.MemberEnd(); ++a) {
      for (auto b = a + 1; b != obj.MemberEnd(); ++b) {
        if (View(a->name) == View(b->name)) return true;
      }
    }
    return false;
  }
  std::vector<std::string_view> names;
  names.reserve(n);
  for (auto m = obj.MemberBegin(); m != obj.MemberEnd(); ++m) names.push_back(View(m->name));
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) != names.end();
}

}  // namespace

std::optional<Document> Parse(std::string_view text, std::string* error) {
  Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    if (error) {
      *error = fmt::format("invalid JSON at offset {}: {}", doc.GetErrorOffset(),
                           rapidjson::GetParseError_En(doc.GetParseError()));
    }
    return std::nullopt;
  }
  return doc;
}

std::string Dump(const Value& value) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  value.Accept(writer);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string DumpPretty(const Value& value) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buf);
  writer.SetIndent(' ', 2);
  value.Accept(writer);
  return std::string(buf.GetString(), buf.GetSize());
}

Document Clone(const Value& value) {
  Document doc;
  doc.CopyFrom(value, doc.GetAllocator());
  return doc;
}

const Value* Find(const Value& root, std::initializer_list<std::string_view> path) {
  const Value* cur = &root;
  for (auto key : path) {
    cur = Member(*cur, key);
    if (!cur) return nullptr;
  }
  return cur;
}

Value* FindMutable(Value& root, std::initializer_list<std::string_view> path) {
  return const_cast<Value*>(Find(root, path));
}

std::string GetString(const Value& root, std::initializer_list<std::string_view> path,
                      std::string_view fallback) {
  const Value* v = Find(root, path);
  if (!v || !v->IsString()) return std::string(fallback);
  return std::string(v->GetString(), v->GetStringLength());
}

int64_t GetInt(const Value& root, std::initializer_list<std::string_view> path,
               int64_t fallback) {
  const Value* v = Find(root, path);
  if (!v || !v->IsInt64()) return fallback;
  return v->GetInt64();
}

bool GetBool(const Value& root, std::initializer_list<std::string_view> path, bool fallback) {
  const Value* v = Find(root, path);
  if (!v || !v->IsBool()) return fallback;
  return v->GetBool();
}

Value& EnsureObject(Value& root, std::initializer_list<std::string_view> path,
                    Allocator& alloc) {
  Value* cur = &root;
  for (auto key : path) {
    auto it = cur->FindMember(Ref(key));
    if (it == cur->MemberEnd()) {
      cur->AddMember(String(key, alloc), Value(rapidjson::kObjectType), alloc);
      cur = &(cur->MemberEnd() - 1)->value;
    } else {
      if (!it->value.IsObject()) it->value.SetObject();
      cur = &it->value;
    }
  }
  return *cur;
}

void Set(Value& obj, std::string_view key, Value value, Allocator& alloc) {
  auto it = obj.FindMember(Ref(key));
  if (it != obj.MemberEnd()) {
    it->value = value;  // move
  } else {
    obj.AddMember(String(key, alloc), value, alloc);
  }
}

void SetString(Value& obj, std::string_view key, std::string_view value, Allocator& alloc) {
  Set(obj, key, String(value, alloc), alloc);
}

bool Remove(Value& obj, std::string_view key) {
  if (!obj.IsObject()) return false;
  return obj.EraseMember(Ref(key));
}

Value String(std::string_view s, Allocator& alloc) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

bool Equal(const Value& a, const Value& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return a.GetDouble() == b.GetDouble();
  }
  if (a.GetType() != b.GetType()) return false;
  if (a.IsObject()) {
    if (a.MemberCount() != b.MemberCount()) return false;
    for (auto& m : a.GetObject()) {
      auto it = b.FindMember(m.name);
      if (it == b.MemberEnd() || !Equal(m.value, it->value)) return false;
    }
    return true;
  }
  if (a.IsArray()) {
    if (a.Size() != b.Size()) return false;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
      if (!Equal(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

void MergePatch(Value& target, const Value& patch, Allocator& alloc) {
  if (!patch.IsObject()) {
    target.CopyFrom(patch, alloc);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  for (auto& m : patch.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsNull()) {
      target.EraseMember(m.name);
      continue;
    }
    auto it = target.FindMember(m.name);
    if (it == target.MemberEnd()) {
      Value fresh(rapidjson::kObjectType);
      if (m.value.IsObject()) {
        MergePatch(fresh, m.value, alloc);  // drops nulls nested in the patch
      } else {
        fresh.CopyFrom(m.value, alloc);
      }
      target.AddMember(String(key, alloc), fresh, alloc);
    } else {
      MergePatch(it->value, m.value, alloc);
    }
  }
}

int NestingDepth(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') max_depth = std::max(max_depth, ++depth);
    else if (c == '}' || c == ']') --depth;
  }
  return max_depth;
}

bool HasDuplicateMembers(const Value& value, MemberScope scope) {
  if (value.IsArray()) {
    if (scope == MemberScope::kTopLevel) return false;
    for (const auto& e : value.GetArray()) {
      if (HasDuplicateMembers(e, scope)) return true;
    }
    return false;
  }
  if (!value.IsObject()) return false;
  if (RepeatsMemberName(value)) return true;
  if (scope == MemberScope::kTopLevel) return false;
  for (auto m = value.MemberBegin(); m != value.MemberEnd(); ++m) {
    if (HasDuplicateMembers(m->value, scope)) return true;
  }
  return false;
}

}  // namespace srexpert::json
