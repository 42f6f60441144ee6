#include "test/apiserver/schema.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "common/time_format.h"

namespace srexpert::testing {
namespace {

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string Index(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }

bool Flag(const json::Value& schema, const char* key) { return json::GetBool(schema, {key}); }

const json::Value* Member(const json::Value& schema, const char* key) {
  if (!schema.IsObject()) return nullptr;
  auto it = schema.FindMember(key);
  return it == schema.MemberEnd() ? nullptr : &it->value;
}

// The schema of object member `key`: a declared property, or the
// additionalProperties schema; null when neither.
const json::Value* PropertySchema(const json::Value& schema, const std::string& key) {
  if (const json::Value* props = Member(schema, "properties"); props && props->IsObject()) {
    auto it = props->FindMember(key.c_str());
    if (it != props->MemberEnd()) return &it->value;
  }
  if (const json::Value* ap = Member(schema, "additionalProperties"); ap && ap->IsObject()) return ap;
  return nullptr;
}

void Prune(json::Value& x, const json::Value& s, bool resource_root, const std::string& path,
           std::vector<std::string>* pruned, json::Allocator& a) {
  if (x.IsArray()) {
    const json::Value* items = Member(s, "items");
    if (items == nullptr) return;
    for (rapidjson::SizeType i = 0; i < x.Size(); ++i) {
      Prune(x[i], *items, Flag(*items, "x-kubernetes-embedded-resource"), Index(path, i), pruned, a);
    }
    return;
  }
  if (!x.IsObject()) return;
  bool preserve = Flag(s, "x-kubernetes-preserve-unknown-fields");
  for (auto it = x.MemberBegin(); it != x.MemberEnd();) {
    std::string key = it->name.GetString();
    // The resource's own type and object metadata are never pruned (the
    // real server coerces metadata to ObjectMeta separately).
    if (resource_root && (key == "apiVersion" || key == "kind" || key == "metadata")) {
      ++it;
      continue;
    }
    const json::Value* ps = PropertySchema(s, key);
    if (ps != nullptr) {
      Prune(it->value, *ps, Flag(*ps, "x-kubernetes-embedded-resource"), Child(path, key), pruned, a);
      ++it;
    } else if (preserve) {
      ++it;
    } else {
      pruned->push_back(Child(path, key));
      it = x.EraseMember(it);
    }
  }
}

// structuraldefaulting.PruneNonNullableNullsWithoutDefaults and Default.
void ApplyDefaults(json::Value& x, const json::Value& s, json::Allocator& a) {
  if (x.IsArray()) {
    if (const json::Value* items = Member(s, "items")) {
      for (auto& e : x.GetArray()) ApplyDefaults(e, *items, a);
    }
    return;
  }
  if (!x.IsObject()) return;
  if (const json::Value* props = Member(s, "properties"); props && props->IsObject()) {
    for (const auto& p : props->GetObject()) {
      const json::Value* def = Member(p.value, "default");
      auto it = x.FindMember(p.name.GetString());
      bool present = it != x.MemberEnd();
      bool non_nullable_null = present && it->value.IsNull() && !Flag(p.value, "nullable");
      if (def == nullptr) {
        if (non_nullable_null) x.EraseMember(it);
        continue;
      }
      if (!present || non_nullable_null) json::Set(x, p.name.GetString(), json::Value(*def, a), a);
    }
  }
  for (auto& m : x.GetObject()) {
    if (const json::Value* ps = PropertySchema(s, m.name.GetString())) ApplyDefaults(m.value, *ps, a);
  }
}

// kube-openapi's names for a value's JSON type.
std::string TypeName(const json::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "boolean";
  if (v.IsString()) return "string";
  if (v.IsArray()) return "array";
  if (v.IsObject()) return "object";
  if (v.IsInt64() || v.IsUint64()) return "integer";
  double d = v.GetDouble();
  return std::floor(d) == d && std::isfinite(d) ? "integer" : "number";
}

std::string GoNumber(double d) {
  if (std::floor(d) == d && std::fabs(d) < 1e15) return fmt::format("{}", static_cast<int64_t>(d));
  return fmt::format("{}", d);
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

// field.Error's rendering of a value: strings quoted, numbers and booleans
// plain, composites as JSON.
std::string ValueText(const json::Value& v) {
  if (v.IsString()) return Quote(v.GetString());
  if (v.IsNull()) return "\"null\"";
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsNumber()) return GoNumber(v.GetDouble());
  return json::Dump(v);
}

StatusCause Invalid(const std::string& path, const json::Value& v, const std::string& detail) {
  return {"FieldValueInvalid", fmt::format("Invalid value: {}: {}", ValueText(v), detail), path};
}

const std::regex* CompiledPattern(const std::string& pattern) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<std::regex>> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    std::unique_ptr<std::regex> re;
    try {
      re = std::make_unique<std::regex>(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      // Unsupported by ECMAScript syntax: not checked (docs/testing.md).
    }
    it = cache.emplace(pattern, std::move(re)).first;
  }
  return it->second.get();
}

size_t RuneCount(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

void Validate(const json::Value& x, const json::Value& s, const std::string& path,
              std::vector<StatusCause>* out) {
  const std::string in = (path.empty() ? std::string("body") : path) + " in body";
  if (x.IsNull()) {
    if (Flag(s, "nullable")) return;
  }
  std::string type = json::GetString(s, {"type"});
  bool int_or_string = Flag(s, "x-kubernetes-int-or-string");
  if (int_or_string) {
    if (!x.IsString() && TypeName(x) != "integer") {
      std::string actual = TypeName(x);
      out->push_back({"FieldValueTypeInvalid",
                      fmt::format("Invalid value: \"{}\": {} must be of type integer or string: \"{}\"",
                                  actual, in, actual),
                      path});
      return;
    }
  } else if (!type.empty()) {
    std::string actual = TypeName(x);
    bool ok = actual == type || (type == "number" && actual == "integer");
    if (!ok) {
      out->push_back({"FieldValueTypeInvalid",
                      fmt::format("Invalid value: \"{}\": {} must be of type {}: \"{}\"", actual,
                                  in, type, actual),
                      path});
      return;
    }
  } else if (x.IsNull()) {
    return;
  }
  if (const json::Value* e = Member(s, "enum"); e && e->IsArray()) {
    bool found = false;
    std::vector<std::string> allowed;
    for (const auto& v : e->GetArray()) {
      if (json::Equal(v, x)) found = true;
      allowed.push_back(ValueText(v));
    }
    if (!found) {
      out->push_back({"FieldValueNotSupported",
                      fmt::format("Unsupported value: {}: supported values: {}", ValueText(x),
                                  fmt::join(allowed, ", ")),
                      path});
    }
  }
  if (x.IsString()) {
    std::string str = x.GetString();
    // kube-openapi's stringValidator stops at the first failure of
    // maxLength, minLength, pattern (in that order).
    [&] {
      if (const json::Value* m = Member(s, "maxLength"); m && m->IsNumber()) {
        int64_t max = m->IsInt64() ? m->GetInt64() : static_cast<int64_t>(m->GetDouble());
        if (static_cast<int64_t>(RuneCount(str)) > max) {
          out->push_back({"FieldValueTooLong",
                          fmt::format("Too long: may not be more than {} {}", max,
                                      max == 1 ? "byte" : "bytes"),
                          path});
          return;
        }
      }
      if (const json::Value* m = Member(s, "minLength"); m && m->IsNumber()) {
        int64_t min = m->IsInt64() ? m->GetInt64() : static_cast<int64_t>(m->GetDouble());
        if (static_cast<int64_t>(RuneCount(str)) < min) {
          out->push_back(Invalid(path, x, fmt::format("{} should be at least {} chars long", in, min)));
          return;
        }
      }
      if (const json::Value* p = Member(s, "pattern"); p && p->IsString()) {
        if (const std::regex* re = CompiledPattern(p->GetString()); re && !std::regex_search(str, *re)) {
          out->push_back(Invalid(path, x, fmt::format("{} should match '{}'", in, p->GetString())));
        }
      }
    }();
    std::string format = json::GetString(s, {"format"});
    if (format == "date-time" && !ParseRfc3339(str)) {
      out->push_back(Invalid(path, x, fmt::format("{} must be of type date-time: {}", in, Quote(str))));
    }
  }
  if (x.IsNumber()) {
    double v = x.GetDouble();
    if (const json::Value* m = Member(s, "minimum"); m && m->IsNumber()) {
      double min = m->GetDouble();
      bool exclusive = Flag(s, "exclusiveMinimum");
      if (exclusive ? v <= min : v < min) {
        out->push_back(Invalid(path, x, fmt::format("{} should be greater than {}{}", in,
                                                    exclusive ? "" : "or equal to ", GoNumber(min))));
      }
    }
    if (const json::Value* m = Member(s, "maximum"); m && m->IsNumber()) {
      double max = m->GetDouble();
      bool exclusive = Flag(s, "exclusiveMaximum");
      if (exclusive ? v >= max : v > max) {
        out->push_back(Invalid(path, x, fmt::format("{} should be less than {}{}", in,
                                                    exclusive ? "" : "or equal to ", GoNumber(max))));
      }
    }
    if (const json::Value* m = Member(s, "multipleOf"); m && m->IsNumber() && m->GetDouble() > 0) {
      double q = v / m->GetDouble();
      if (std::fabs(q - std::round(q)) > 1e-9) {
        out->push_back(Invalid(path, x, fmt::format("{} should be a multiple of {}", in,
                                                    GoNumber(m->GetDouble()))));
      }
    }
  }
  if (x.IsArray()) {
    int64_t n = x.Size();
    if (const json::Value* m = Member(s, "maxItems"); m && m->IsNumber() && n > m->GetInt64()) {
      out->push_back({"FieldValueTooMany",
                      fmt::format("Too many: {}: must have at most {} items", n, m->GetInt64()), path});
    }
    if (const json::Value* m = Member(s, "minItems"); m && m->IsNumber() && n < m->GetInt64()) {
      out->push_back(Invalid(path, x, fmt::format("{} should have at least {} items", in, m->GetInt64())));
    }
    std::string list_type = json::GetString(s, {"x-kubernetes-list-type"});
    if (list_type == "set" || list_type == "map") {
      std::vector<std::string> keys;
      const json::Value* key_names = Member(s, "x-kubernetes-list-map-keys");
      std::set<std::string> seen;
      for (rapidjson::SizeType i = 0; i < x.Size(); ++i) {
        std::string key;
        if (list_type == "set") {
          key = json::Dump(x[i]);
        } else if (key_names != nullptr && key_names->IsArray() && x[i].IsObject()) {
          json::Document k(rapidjson::kObjectType);
          for (const auto& kn : key_names->GetArray()) {
            if (!kn.IsString()) continue;
            auto it = x[i].FindMember(kn.GetString());
            if (it != x[i].MemberEnd()) json::Set(k, kn.GetString(), json::Value(it->value, k.GetAllocator()), k.GetAllocator());
          }
          key = json::Dump(k);
        } else {
          continue;
        }
        if (!seen.insert(key).second) {
          out->push_back({"FieldValueDuplicate",
                          "Duplicate value: " + (list_type == "set" ? ValueText(x[i]) : key),
                          Index(path, i)});
        }
      }
    }
    if (const json::Value* items = Member(s, "items")) {
      for (rapidjson::SizeType i = 0; i < x.Size(); ++i) Validate(x[i], *items, Index(path, i), out);
    }
  }
  if (x.IsObject()) {
    if (const json::Value* req = Member(s, "required"); req && req->IsArray()) {
      for (const auto& r : req->GetArray()) {
        if (r.IsString() && !x.HasMember(r.GetString())) {
          out->push_back({"FieldValueRequired", "Required value", Child(path, r.GetString())});
        }
      }
    }
    int64_t n = x.MemberCount();
    if (const json::Value* m = Member(s, "maxProperties"); m && m->IsNumber() && n > m->GetInt64()) {
      out->push_back({"FieldValueTooMany",
                      fmt::format("Too many: {}: must have at most {} items", n, m->GetInt64()), path});
    }
    if (const json::Value* m = Member(s, "minProperties"); m && m->IsNumber() && n < m->GetInt64()) {
      out->push_back(Invalid(path, x, fmt::format("{} should have at least {} properties", in, m->GetInt64())));
    }
    for (const auto& m : x.GetObject()) {
      std::string key = m.name.GetString();
      if (path.empty() && (key == "apiVersion" || key == "kind")) continue;
      if (const json::Value* ps = PropertySchema(s, key)) Validate(m.value, *ps, Child(path, key), out);
    }
  }
}

}  // namespace

std::vector<std::string> PruneAndDefault(json::Value& object, const json::Value& schema,
                                         json::Allocator& alloc) {
  std::vector<std::string> pruned;
  Prune(object, schema, true, "", &pruned, alloc);
  ApplyDefaults(object, schema, alloc);
  return pruned;
}

std::vector<StatusCause> ValidateSchema(const json::Value& object, const json::Value& schema) {
  std::vector<StatusCause> causes;
  Validate(object, schema, "", &causes);
  return causes;
}

}  // namespace srexpert::testing
