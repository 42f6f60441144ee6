#include "test/apiserver/openapi.h"

#include <fmt/format.h>

#include <functional>
#include <map>

namespace srexpert::testing {
namespace {

std::string GvPath(const std::string& group, const std::string& version) {
  return group.empty() ? "api/" + version : "apis/" + group + "/" + version;
}

json::Value Param(const char* name, json::Allocator& a) {
  json::Value p(rapidjson::kObjectType);
  json::SetString(p, "name", name, a);
  json::SetString(p, "in", "query", a);
  json::Value schema(rapidjson::kObjectType);
  json::SetString(schema, "type", "string", a);
  json::Set(p, "schema", std::move(schema), a);
  return p;
}

json::Value Operation(const ResourceType& t, const std::string& version, const char* id,
                      json::Allocator& a) {
  json::Value op(rapidjson::kObjectType);
  json::SetString(op, "operationId", id, a);
  json::Value gvk(rapidjson::kObjectType);
  json::SetString(gvk, "group", t.group, a);
  json::SetString(gvk, "version", version, a);
  json::SetString(gvk, "kind", t.kind, a);
  json::Set(op, "x-kubernetes-group-version-kind", std::move(gvk), a);
  json::Value params(rapidjson::kArrayType);
  for (const char* p : {"dryRun", "fieldManager", "fieldValidation", "force"}) {
    params.PushBack(Param(p, a), a);
  }
  json::Set(op, "parameters", std::move(params), a);
  json::Value responses(rapidjson::kObjectType);
  json::Value ok(rapidjson::kObjectType);
  json::SetString(ok, "description", "OK", a);
  json::Set(responses, "200", std::move(ok), a);
  json::Set(op, "responses", std::move(responses), a);
  return op;
}

}  // namespace

std::optional<json::Document> OpenApiV3GroupVersion(const ResourceRegistry& registry,
                                                    const std::string& gv_path) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Value paths(rapidjson::kObjectType);
  bool any = false;
  for (const auto& t : registry.All()) {
    for (const auto& v : t->versions) {
      if (GvPath(t->group, v) != gv_path) continue;
      any = true;
      std::string base = "/" + gv_path + (t->namespaced ? "/namespaces/{namespace}/" : "/") + t->resource;
      json::Value collection(rapidjson::kObjectType);
      json::Set(collection, "post", Operation(*t, v, "create", a), a);
      json::Set(paths, base, std::move(collection), a);
      json::Value item(rapidjson::kObjectType);
      json::Set(item, "put", Operation(*t, v, "replace", a), a);
      json::Set(item, "patch", Operation(*t, v, "patch", a), a);
      json::Set(paths, base + "/{name}", std::move(item), a);
    }
  }
  if (!any) return std::nullopt;
  json::SetString(d, "openapi", "3.0.0", a);
  json::Value info(rapidjson::kObjectType);
  json::SetString(info, "title", "Kubernetes", a);
  json::SetString(info, "version", "v1.32.0", a);
  json::Set(d, "info", std::move(info), a);
  json::Set(d, "paths", std::move(paths), a);
  json::Value components(rapidjson::kObjectType);
  json::Set(components, "schemas", json::Value(rapidjson::kObjectType), a);
  json::Set(d, "components", std::move(components), a);
  return d;
}

json::Document OpenApiV3Root(const ResourceRegistry& registry) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::Value paths(rapidjson::kObjectType);
  std::map<std::string, bool> seen;
  for (const auto& t : registry.All()) {
    for (const auto& v : t->versions) seen[GvPath(t->group, v)] = true;
  }
  for (const auto& [gv, unused] : seen) {
    auto doc = OpenApiV3GroupVersion(registry, gv);
    // The hash lets clients cache documents; it changes with the content
    // (e.g. when a CRD adds a kind to a group-version).
    std::string hash = fmt::format("{:016X}", std::hash<std::string>{}(json::Dump(*doc)));
    json::Value entry(rapidjson::kObjectType);
    json::SetString(entry, "serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + hash, a);
    json::Set(paths, gv, std::move(entry), a);
  }
  json::Set(d, "paths", std::move(paths), a);
  return d;
}

}  // namespace srexpert::testing
