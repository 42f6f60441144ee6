#include "test/apiserver/validation.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

namespace srexpert::testing {
namespace {

using Causes = std::vector<StatusCause>;

// RegexError of k8s.io/apimachinery/pkg/util/validation.
std::string RegexError(const std::string& msg, const std::string& re,
                       std::initializer_list<const char*> examples) {
  std::string s = msg;
  if (examples.size() > 0) {
    s += " (e.g. ";
    bool first = true;
    for (const char* e : examples) {
      if (!first) s += ",  or ";
      s += fmt::format("'{}'", e);
      first = false;
    }
    s += ", regex used for validation is '" + re + "')";
  } else {
    s += " (regex used for validation is '" + re + "')";
  }
  return s;
}

constexpr char kQualifiedNameFmt[] = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr char kQualifiedNameMsg[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr char kDns1123SubdomainFmt[] = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

std::vector<std::string> IsDns1123Subdomain(const std::string& v) {
  static const std::regex re(kDns1123SubdomainFmt);
  std::vector<std::string> errs;
  if (v.size() > 253) errs.push_back("must be no more than 253 characters");
  if (!std::regex_match(v, re)) {
    errs.push_back(RegexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                              "characters, '-' or '.', and must start and end with an alphanumeric "
                              "character",
                              kDns1123SubdomainFmt, {"example.com"}));
  }
  return errs;
}

std::vector<std::string> IsQualifiedName(const std::string& value) {
  static const std::regex re(kQualifiedNameFmt);
  std::vector<std::string> errs;
  std::string name = value;
  size_t slashes = std::count(value.begin(), value.end(), '/');
  if (slashes == 1) {
    std::string prefix = value.substr(0, value.find('/'));
    name = value.substr(value.find('/') + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (const auto& m : IsDns1123Subdomain(prefix)) errs.push_back("prefix part " + m);
    }
  } else if (slashes > 1) {
    errs.push_back("a qualified name " +
                   RegexError(kQualifiedNameMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
                   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part must be no more than 63 characters");
  }
  if (!std::regex_match(name, re)) {
    errs.push_back("name part " + RegexError(kQualifiedNameMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> IsValidLabelValue(const std::string& v) {
  static const char kFmt[] = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
  static const std::regex re(kFmt);
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!std::regex_match(v, re)) {
    errs.push_back(RegexError("a valid label must be an empty string or consist of alphanumeric "
                              "characters, '-', '_' or '.', and must start and end with an "
                              "alphanumeric character",
                              kFmt, {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

std::vector<std::string> IsConfigMapKey(const std::string& v) {
  static const char kFmt[] = "[-._a-zA-Z0-9]+";
  static const std::regex re(kFmt);
  std::vector<std::string> errs;
  if (v.size() > 253) errs.push_back("must be no more than 253 characters");
  if (!std::regex_match(v, re)) {
    errs.push_back(RegexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                              kFmt, {"key.name", "KEY_NAME", "key-name"}));
  }
  if (v == ".") errs.push_back("must not be '.'");
  else if (v == "..") errs.push_back("must not be '..'");
  else if (v.rfind("..", 0) == 0) errs.push_back("must not start with '..'");
  return errs;
}

// Go's %q of a string and %#v of a []string, as field.Invalid prints them.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string GoStrings(const json::Value* list) {
  std::vector<std::string> items;
  if (list && list->IsArray()) {
    for (const auto& v : list->GetArray()) items.push_back(Quote(v.IsString() ? v.GetString() : ""));
  }
  return "[]string{" + fmt::format("{}", fmt::join(items, ", ")) + "}";
}

StatusCause Invalid(const std::string& field, const std::string& printed_value, const std::string& why) {
  return {"FieldValueInvalid", "Invalid value: " + printed_value + ": " + why, field};
}
StatusCause Required(const std::string& field, const std::string& why = "") {
  return {"FieldValueRequired", why.empty() ? "Required value" : "Required value: " + why, field};
}
StatusCause NotSupported(const std::string& field, const std::string& value,
                         std::initializer_list<const char*> supported) {
  std::vector<std::string> quoted;
  for (const char* s : supported) quoted.push_back(Quote(s));
  return {"FieldValueNotSupported",
          fmt::format("Unsupported value: {}: supported values: {}", Quote(value), fmt::join(quoted, ", ")),
          field};
}

size_t Count(const json::Value& obj, const char* key) {
  const json::Value* v = json::Find(obj, {key});
  return v && v->IsArray() ? v->Size() : 0;
}

// Kinds validated by k8s.io/kubernetes (pkg/apis/core/validation's
// ObjectMeta rules); CRDs and custom resources use apimachinery's alone.
bool KubernetesKind(const ResourceType& type) {
  return !type.custom && type.group != "apiextensions.k8s.io";
}

// apimachinery's ValidateObjectMetaAccessorUpdate: finalizers cannot be
// added to an object being deleted.
void ValidateMetadataUpdate(const json::Value& obj, const json::Value& old, Causes& out) {
  if (json::GetString(old, {"metadata", "deletionTimestamp"}).empty()) return;
  std::vector<std::string> before;
  if (const auto* f = json::Find(old, {"metadata", "finalizers"}); f && f->IsArray()) {
    for (const auto& v : f->GetArray()) before.emplace_back(v.IsString() ? v.GetString() : "");
  }
  std::vector<std::string> added;
  if (const auto* f = json::Find(obj, {"metadata", "finalizers"}); f && f->IsArray()) {
    for (const auto& v : f->GetArray()) {
      std::string name = v.IsString() ? v.GetString() : "";
      if (std::find(before.begin(), before.end(), name) == before.end()) added.push_back(Quote(name));
    }
  }
  if (added.empty()) return;
  out.push_back({"FieldValueForbidden",
                 fmt::format("Forbidden: no new finalizers can be added if the object is being "
                             "deleted, found new finalizers []string{{{}}}",
                             fmt::join(added, ", ")),
                 "metadata.finalizers"});
}

void ValidateMetadata(const json::Value& obj, bool kubernetes_rules, Causes& out) {
  if (const auto* labels = json::Find(obj, {"metadata", "labels"}); labels && labels->IsObject()) {
    for (const auto& m : labels->GetObject()) {
      std::string k = m.name.GetString();
      for (const auto& msg : IsQualifiedName(k)) out.push_back(Invalid("metadata.labels", Quote(k), msg));
      std::string v = m.value.IsString() ? m.value.GetString() : "";
      for (const auto& msg : IsValidLabelValue(v)) out.push_back(Invalid("metadata.labels", Quote(v), msg));
    }
  }
  if (const auto* ann = json::Find(obj, {"metadata", "annotations"}); ann && ann->IsObject()) {
    size_t total = 0;
    for (const auto& m : ann->GetObject()) {
      std::string k = m.name.GetString();
      std::string lower = k;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      for (const auto& msg : IsQualifiedName(lower)) out.push_back(Invalid("metadata.annotations", Quote(k), msg));
      total += k.size() + (m.value.IsString() ? m.value.GetStringLength() : 0);
    }
    if (total > 256 * 1024) {
      out.push_back({"FieldValueTooLong", "Too long: must have at most 262144 bytes", "metadata.annotations"});
    }
  }
  if (const auto* fins = json::Find(obj, {"metadata", "finalizers"}); fins && fins->IsArray()) {
    for (rapidjson::SizeType i = 0; i < fins->Size(); ++i) {
      std::string f = (*fins)[i].IsString() ? (*fins)[i].GetString() : "";
      auto errs = IsQualifiedName(f);
      for (const auto& msg : errs) out.push_back(Invalid("metadata.finalizers", Quote(f), msg));
      // pkg/apis/core/validation adds: a finalizer without a domain must be
      // one of Kubernetes' own.
      if (errs.empty() && kubernetes_rules && f.find('/') == std::string::npos && f != "kubernetes" &&
          f != "orphan" && f != "foregroundDeletion") {
        out.push_back(Invalid(fmt::format("metadata.finalizers[{}]", i), Quote(f),
                              "name is neither a standard finalizer name nor is it fully qualified"));
      }
    }
  }
}

void ValidateKeys(const json::Value& obj, Causes& out) {
  const json::Value* data = json::Find(obj, {"data"});
  const json::Value* binary = json::Find(obj, {"binaryData"});
  if (data && data->IsObject()) {
    for (const auto& m : data->GetObject()) {
      std::string k = m.name.GetString();
      std::string field = "data[" + k + "]";
      for (const auto& msg : IsConfigMapKey(k)) out.push_back(Invalid(field, Quote(k), msg));
      if (binary && binary->IsObject() && binary->HasMember(k.c_str())) {
        out.push_back(Invalid(field, Quote(k), "duplicate of key present in binaryData"));
      }
    }
  }
  if (binary && binary->IsObject()) {
    for (const auto& m : binary->GetObject()) {
      std::string k = m.name.GetString();
      for (const auto& msg : IsConfigMapKey(k)) out.push_back(Invalid("binaryData[" + k + "]", Quote(k), msg));
    }
  }
}

void ValidateRules(const json::Value& obj, bool namespaced, Causes& out) {
  const json::Value* rules = json::Find(obj, {"rules"});
  if (!rules || !rules->IsArray()) return;
  for (rapidjson::SizeType i = 0; i < rules->Size(); ++i) {
    const json::Value& r = (*rules)[i];
    std::string at = fmt::format("rules[{}].", i);
    if (Count(r, "verbs") == 0) out.push_back(Required(at + "verbs", "verbs must contain at least one value"));
    if (Count(r, "nonResourceURLs") > 0) {
      std::string urls = GoStrings(json::Find(r, {"nonResourceURLs"}));
      if (namespaced) {
        out.push_back(Invalid(at + "nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs"));
      }
      if (Count(r, "apiGroups") > 0 || Count(r, "resources") > 0 || Count(r, "resourceNames") > 0) {
        out.push_back(Invalid(at + "nonResourceURLs", urls,
                              "rules cannot apply to both regular resources and non-resource URLs"));
      }
      continue;
    }
    if (Count(r, "apiGroups") == 0) {
      out.push_back(Required(at + "apiGroups", "resource rules must supply at least one api group"));
    }
    if (Count(r, "resources") == 0) {
      out.push_back(Required(at + "resources", "resource rules must supply at least one resource"));
    }
  }
}

void ValidateBinding(const json::Value& obj, bool namespaced, const json::Value* old, Causes& out) {
  constexpr char kGroup[] = "rbac.authorization.k8s.io";
  std::string group = json::GetString(obj, {"roleRef", "apiGroup"});
  std::string kind = json::GetString(obj, {"roleRef", "kind"});
  std::string name = json::GetString(obj, {"roleRef", "name"});
  if (group != kGroup) out.push_back(NotSupported("roleRef.apiGroup", group, {kGroup}));
  if (namespaced && kind != "Role" && kind != "ClusterRole") {
    out.push_back(NotSupported("roleRef.kind", kind, {"Role", "ClusterRole"}));
  } else if (!namespaced && kind != "ClusterRole") {
    out.push_back(NotSupported("roleRef.kind", kind, {"ClusterRole"}));
  }
  if (name.empty()) out.push_back(Required("roleRef.name"));
  if (const json::Value* subjects = json::Find(obj, {"subjects"}); subjects && subjects->IsArray()) {
    for (rapidjson::SizeType i = 0; i < subjects->Size(); ++i) {
      const json::Value& s = (*subjects)[i];
      std::string at = fmt::format("subjects[{}].", i);
      std::string sname = json::GetString(s, {"name"});
      std::string skind = json::GetString(s, {"kind"});
      std::string sgroup = json::GetString(s, {"apiGroup"});
      if (sname.empty()) out.push_back(Required(at + "name"));
      if (skind == "ServiceAccount") {
        if (!sname.empty()) {
          for (const auto& msg : IsDns1123Subdomain(sname)) out.push_back(Invalid(at + "name", Quote(sname), msg));
        }
        if (!sgroup.empty()) out.push_back(NotSupported(at + "apiGroup", sgroup, {""}));
        if (!namespaced && json::GetString(s, {"namespace"}).empty()) out.push_back(Required(at + "namespace"));
      } else if (skind == "User" || skind == "Group") {
        if (sgroup != kGroup) out.push_back(NotSupported(at + "apiGroup", sgroup, {kGroup}));
      } else {
        out.push_back(NotSupported(at + "kind", skind, {"ServiceAccount", "User", "Group"}));
      }
    }
  }
  if (old != nullptr) {
    const json::Value* before = json::Find(*old, {"roleRef"});
    const json::Value* after = json::Find(obj, {"roleRef"});
    if (before && after && !json::Equal(*before, *after)) {
      out.push_back(Invalid("roleRef",
                            fmt::format("rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}", Quote(group),
                                        Quote(kind), Quote(name)),
                            "cannot change roleRef"));
    }
  }
}

}  // namespace

std::optional<ApiError> ValidateObject(const ResourceType& type, const json::Value& obj,
                                       const json::Value* old) {
  Causes causes;
  bool kubernetes = KubernetesKind(type);
  if (old != nullptr) {
    // rest.BeforeUpdate: the common ObjectMeta checks first, then the
    // strategy's ValidateUpdate, which repeats the metadata update checks
    // (and, for Kubernetes' own kinds, the ObjectMeta checks): a real
    // server reports such a cause twice.
    ValidateMetadata(obj, false, causes);
    ValidateMetadataUpdate(obj, *old, causes);
    ValidateMetadataUpdate(obj, *old, causes);
    if (kubernetes) {
      Causes strategy;
      ValidateMetadata(obj, true, strategy);
      causes.insert(causes.end(), strategy.begin(), strategy.end());
    }
  } else {
    // rest.BeforeCreate: the strategy's Validate (ObjectMeta with the kind's
    // rules, then the kind's own), then common checks that add nothing new.
    ValidateMetadata(obj, kubernetes, causes);
  }
  if (!type.custom) {
    const std::string& r = type.resource;
    if (type.group.empty() && (r == "configmaps" || r == "secrets")) ValidateKeys(obj, causes);
    if (type.group == "rbac.authorization.k8s.io") {
      if (r == "roles" || r == "clusterroles") ValidateRules(obj, r == "roles", causes);
      if (r == "rolebindings" || r == "clusterrolebindings") {
        ValidateBinding(obj, r == "rolebindings", old, causes);
      }
    }
  }
  if (causes.empty()) return std::nullopt;
  return srexpert::testing::Invalid(type.group, type.kind, json::GetString(obj, {"metadata", "name"}),
                                    std::move(causes));
}

}  // namespace srexpert::testing
