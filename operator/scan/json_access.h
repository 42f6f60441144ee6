// Read-only accessors over RapidJSON values for the checks: typed reads that
// treat a missing member, a null and a member of another type alike (as the
// API server's decoding into typed structs would reject or drop them), and
// never allocate.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>

namespace srexpert::scan {

using JsonValue = rapidjson::Value;

// Member `key` of `obj`, or nullptr when `obj` is null, not an object or
// lacks the member.
inline const JsonValue* Get(const JsonValue* obj, std::string_view key) {
  if (obj == nullptr || !obj->IsObject()) return nullptr;
  auto it = obj->FindMember(
      rapidjson::Value::StringRefType(key.data(), static_cast<rapidjson::SizeType>(key.size())));
  return it == obj->MemberEnd() ? nullptr : &it->value;
}
inline const JsonValue* Get(const JsonValue& obj, std::string_view key) { return Get(&obj, key); }

// Walks nested members: Path(pod, {"spec", "securityContext"}).
inline const JsonValue* Path(const JsonValue* obj, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    obj = Get(obj, k);
    if (obj == nullptr) return nullptr;
  }
  return obj;
}

// `v` as an object / array, or nullptr.
inline const JsonValue* Obj(const JsonValue* v) { return v && v->IsObject() ? v : nullptr; }
inline const JsonValue* Arr(const JsonValue* v) { return v && v->IsArray() ? v : nullptr; }

inline std::string_view Str(const JsonValue* v, std::string_view fallback = {}) {
  return v && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength()) : fallback;
}
inline bool IsString(const JsonValue* v) { return v && v->IsString(); }
// A boolean member that is exactly `true` / exactly `false`.
inline bool IsTrue(const JsonValue* v) { return v && v->IsBool() && v->GetBool(); }
inline bool IsFalse(const JsonValue* v) { return v && v->IsBool() && !v->GetBool(); }
inline bool IsBool(const JsonValue* v) { return v && v->IsBool(); }
// An integer (JSON numbers without a fraction).
inline std::optional<int64_t> Int(const JsonValue* v) {
  if (v == nullptr) return std::nullopt;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsUint64()) return static_cast<int64_t>(v->GetUint64());
  if (v->IsDouble()) {
    double d = v->GetDouble();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}
inline std::optional<double> Number(const JsonValue* v) {
  return v && v->IsNumber() ? std::optional<double>(v->GetDouble()) : std::nullopt;
}

// Number of members of an object / items of an array; 0 for anything else.
inline size_t Size(const JsonValue* v) {
  if (v == nullptr) return 0;
  if (v->IsObject()) return v->MemberCount();
  if (v->IsArray()) return v->Size();
  return 0;
}

inline std::string_view View(const JsonValue& s) { return {s.GetString(), s.GetStringLength()}; }

// Whether the array `v` holds the string `s`.
inline bool Contains(const JsonValue* v, std::string_view s) {
  if (!Arr(v)) return false;
  for (const auto& item : v->GetArray()) {
    if (item.IsString() && View(item) == s) return true;
  }
  return false;
}

// ASCII case-insensitive comparisons (Polaris' patterns are (?i) and
// Kubernetes names are ASCII).
inline char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}
inline bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}
// Whether the array `v` holds a string equal to `s` ignoring ASCII case.
inline bool ArrayContainsIgnoreCase(const JsonValue* v, std::string_view s) {
  if (!Arr(v)) return false;
  for (const auto& item : v->GetArray()) {
    if (item.IsString() && EqualsIgnoreCase(View(item), s)) return true;
  }
  return false;
}

}  // namespace srexpert::scan
