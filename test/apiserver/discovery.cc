#include "test/apiserver/discovery.h"

#include <algorithm>
#include <map>
#include <set>

namespace srexpert::testing {
namespace {

json::Value Strings(const std::vector<std::string>& v, json::Allocator& a) {
  json::Value arr(rapidjson::kArrayType);
  for (const auto& s : v) arr.PushBack(json::String(s, a), a);
  return arr;
}

json::Value GroupJson(const std::string& name, const std::vector<std::string>& versions,
                      const std::string& preferred, json::Allocator& a) {
  json::Value g(rapidjson::kObjectType);
  json::SetString(g, "name", name, a);
  json::Value vs(rapidjson::kArrayType);
  for (const auto& v : versions) {
    json::Value gv(rapidjson::kObjectType);
    json::SetString(gv, "groupVersion", name + "/" + v, a);
    json::SetString(gv, "version", v, a);
    vs.PushBack(gv, a);
  }
  json::Set(g, "versions", std::move(vs), a);
  json::Value pref(rapidjson::kObjectType);
  json::SetString(pref, "groupVersion", name + "/" + preferred, a);
  json::SetString(pref, "version", preferred, a);
  json::Set(g, "preferredVersion", std::move(pref), a);
  return g;
}

// Groups in registration order (built-ins first, as the real server lists
// them), each with its versions, preferred first.
std::vector<std::pair<std::string, std::vector<std::string>>> Groups(const ResourceRegistry& r) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& t : r.All()) {
    if (t->group.empty()) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& g) { return g.first == t->group; });
    if (it == out.end()) {
      out.push_back({t->group, {}});
      it = std::prev(out.end());
    }
    std::vector<std::string> ordered = {t->version};
    for (const auto& v : t->versions) {
      if (v != t->version) ordered.push_back(v);
    }
    for (const auto& v : ordered) {
      if (std::find(it->second.begin(), it->second.end(), v) == it->second.end()) {
        it->second.push_back(v);
      }
    }
  }
  return out;
}

}  // namespace

json::Document VersionInfo() {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "major", "1", a);
  json::SetString(d, "minor", "32", a);
  json::SetString(d, "gitVersion", kServerGitVersion, a);
  json::SetString(d, "gitCommit", "70d3cc986aa8221cd1dfb1121852688902d3bf53", a);
  json::SetString(d, "gitTreeState", "clean", a);
  json::SetString(d, "buildDate", "2024-12-11T17:59:15Z", a);
  json::SetString(d, "goVersion", "go1.23.3", a);
  json::SetString(d, "compiler", "gc", a);
  json::SetString(d, "platform", "linux/amd64", a);
  return d;
}

json::Document CoreApiVersions(const std::string& server_address) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "kind", "APIVersions", a);
  json::Set(d, "versions", Strings({"v1"}, a), a);
  json::Value cidrs(rapidjson::kArrayType);
  json::Value c(rapidjson::kObjectType);
  json::SetString(c, "clientCIDR", "0.0.0.0/0", a);
  json::SetString(c, "serverAddress", server_address, a);
  cidrs.PushBack(c, a);
  json::Set(d, "serverAddressByClientCIDRs", std::move(cidrs), a);
  return d;
}

json::Document ApiGroupList(const ResourceRegistry& registry) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "kind", "APIGroupList", a);
  json::SetString(d, "apiVersion", "v1", a);
  json::Value groups(rapidjson::kArrayType);
  for (const auto& [name, versions] : Groups(registry)) {
    groups.PushBack(GroupJson(name, versions, versions.front(), a), a);
  }
  json::Set(d, "groups", std::move(groups), a);
  return d;
}

std::optional<json::Document> ApiGroup(const ResourceRegistry& registry, const std::string& group) {
  for (const auto& [name, versions] : Groups(registry)) {
    if (name != group) continue;
    json::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    json::Value g = GroupJson(name, versions, versions.front(), a);
    json::SetString(d, "kind", "APIGroup", a);
    json::SetString(d, "apiVersion", "v1", a);
    for (auto& m : g.GetObject()) d.AddMember(m.name, m.value, a);
    return d;
  }
  return std::nullopt;
}

std::optional<json::Document> ApiResourceList(const ResourceRegistry& registry,
                                              const std::string& group,
                                              const std::string& version) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::SetString(d, "kind", "APIResourceList", a);
  json::SetString(d, "apiVersion", "v1", a);
  json::SetString(d, "groupVersion", group.empty() ? version : group + "/" + version, a);
  json::Value resources(rapidjson::kArrayType);
  bool any = false;
  for (const auto& t : registry.All()) {
    if (t->group != group || !t->Serves(version)) continue;
    any = true;
    json::Value r(rapidjson::kObjectType);
    json::SetString(r, "name", t->resource, a);
    // kube-apiserver v1.26 leaves built-ins' singularName empty (filled
    // from v1.27); a CRD's comes from its spec.names.singular.
    json::SetString(r, "singularName", t->custom ? t->singular : "", a);
    json::Set(r, "namespaced", json::Value(t->namespaced), a);
    json::SetString(r, "kind", t->kind, a);
    // Namespaces cannot be deleted as a collection on a real server.
    std::vector<std::string> verbs = {"create", "delete", "deletecollection", "get", "list",
                                      "patch", "update", "watch"};
    if (t->group.empty() && t->resource == "namespaces") {
      verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
    }
    json::Set(r, "verbs", Strings(verbs, a), a);
    if (!t->short_names.empty()) json::Set(r, "shortNames", Strings(t->short_names, a), a);
    if (!t->categories.empty()) json::Set(r, "categories", Strings(t->categories, a), a);
    resources.PushBack(r, a);
    if (t->has_scale) {
      json::Value s(rapidjson::kObjectType);
      json::SetString(s, "name", t->resource + "/scale", a);
      json::SetString(s, "singularName", "", a);
      json::Set(s, "namespaced", json::Value(t->namespaced), a);
      json::SetString(s, "group", "autoscaling", a);
      json::SetString(s, "version", "v1", a);
      json::SetString(s, "kind", "Scale", a);
      json::Set(s, "verbs", Strings({"get", "patch", "update"}, a), a);
      resources.PushBack(s, a);
    }
    if (t->group.empty() && t->resource == "pods") {
      // The Eviction API (test/apiserver/eviction.h), as the real server lists it.
      json::Value s(rapidjson::kObjectType);
      json::SetString(s, "name", "pods/eviction", a);
      json::SetString(s, "singularName", "", a);
      json::Set(s, "namespaced", json::Value(true), a);
      json::SetString(s, "group", "policy", a);
      json::SetString(s, "version", "v1", a);
      json::SetString(s, "kind", "Eviction", a);
      json::Set(s, "verbs", Strings({"create"}, a), a);
      resources.PushBack(s, a);
    }
    if (t->has_status) {
      json::Value s(rapidjson::kObjectType);
      json::SetString(s, "name", t->resource + "/status", a);
      json::SetString(s, "singularName", "", a);
      json::Set(s, "namespaced", json::Value(t->namespaced), a);
      json::SetString(s, "kind", t->kind, a);
      json::Set(s, "verbs", Strings({"get", "patch", "update"}, a), a);
      resources.PushBack(s, a);
    }
  }
  if (!any && !(group.empty() && version == "v1")) return std::nullopt;
  json::Set(d, "resources", std::move(resources), a);
  return d;
}

}  // namespace srexpert::testing
