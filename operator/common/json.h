// JSON helpers over RapidJSON. Kubernetes objects travel through the whole
// project as rapidjson::Document; these helpers keep the common reads and
// writes short and never throw.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace srexpert::json {

using Document = rapidjson::Document;
using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// Parses `text`; on failure returns nullopt and, if `error` is given, a
// message with the byte offset ("invalid JSON at offset 12: Missing a name").
std::optional<Document> Parse(std::string_view text, std::string* error = nullptr);

// Compact serialization.
std::string Dump(const Value& value);
// Indented serialization, for humans and golden files.
std::string DumpPretty(const Value& value);

// Deep copy into a new document.
Document Clone(const Value& value);

// Walks object members by key; nullptr when any step is missing or not an
// object. Find(obj, {"metadata", "name"}).
const Value* Find(const Value& root, std::initializer_list<std::string_view> path);
Value* FindMutable(Value& root, std::initializer_list<std::string_view> path);

// Typed reads with a fallback when the member is missing or of another type.
std::string GetString(const Value& root, std::initializer_list<std::string_view> path,
                      std::string_view fallback = {});
int64_t GetInt(const Value& root, std::initializer_list<std::string_view> path,
               int64_t fallback = 0);
bool GetBool(const Value& root, std::initializer_list<std::string_view> path,
             bool fallback = false);

// Returns the object at `path`, creating empty objects along the way (and
// replacing non-objects). `root` must be an object.
Value& EnsureObject(Value& root, std::initializer_list<std::string_view> path,
                    Allocator& alloc);

// Sets or replaces member `key` of object `obj`.
void Set(Value& obj, std::string_view key, Value value, Allocator& alloc);
void SetString(Value& obj, std::string_view key, std::string_view value, Allocator& alloc);
// Removes member `key` if present; returns whether it was there.
bool Remove(Value& obj, std::string_view key);

// A rapidjson string value that owns a copy of `s`.
Value String(std::string_view s, Allocator& alloc);

// Structural equality (object member order ignored, numbers compared by value).
bool Equal(const Value& a, const Value& b);

// RFC 7386 JSON merge patch: applies `patch` to `target` in place.
void MergePatch(Value& target, const Value& patch, Allocator& alloc);

// Maximum nesting depth of `text` ("{}" is 1, "[{}]" is 2), counted without
// parsing: brackets inside strings are skipped, the text need not be valid
// JSON. Lets a decoder bound a hostile "[[[[..." before any parser or
// recursive walk sees it.
int NestingDepth(std::string_view text);

// Which objects HasDuplicateMembers looks at.
enum class MemberScope {
  kTopLevel,  // `value`'s own members only
  kNested,    // every object at any depth
};

// Whether an object repeats a member name. RFC 8259 leaves duplicates'
// meaning open and RapidJSON keeps both, so decoders of peer input reject
// them rather than read one value where another reader takes the other.
// kNested recurses as deep as `value` is nested: bound it first (NestingDepth).
bool HasDuplicateMembers(const Value& value, MemberScope scope = MemberScope::kNested);

}  // namespace srexpert::json
