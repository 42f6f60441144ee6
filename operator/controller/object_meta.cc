#include "controller/object_meta.h"

#include "api/names.h"

namespace srexpert::controller::internal {

json::Document NewObject(std::string_view api_version, std::string_view kind, std::string_view name,
                         std::string_view ns, const api::AgentConfig& config) {
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  json::SetString(doc, "apiVersion", api_version, a);
  json::SetString(doc, "kind", kind, a);
  json::Value meta(rapidjson::kObjectType);
  json::SetString(meta, "name", name, a);
  auto labels = api::CommonLabels(config.meta.name);
  if (ns != config.meta.namespace_) {
    labels[std::string(kOwnerNamespaceLabel)] = config.meta.namespace_;
  }
  if (!ns.empty()) json::SetString(meta, "namespace", ns, a);
  json::Set(meta, "labels", StringMap(labels, a), a);
  json::Set(doc, "metadata", std::move(meta), a);
  return doc;
}

namespace {

void AddOwnerReference(json::Document& obj, json::Value ref) {
  auto& a = obj.GetAllocator();
  json::Value refs(rapidjson::kArrayType);
  refs.PushBack(ref, a);
  json::Set(json::EnsureObject(obj, {"metadata"}, a), "ownerReferences", std::move(refs), a);
}

}  // namespace

void OwnByAgentConfig(json::Document& obj, const api::AgentConfig& config) {
  auto& a = obj.GetAllocator();
  json::Value ref(rapidjson::kObjectType);
  json::SetString(ref, "apiVersion", api::kApiVersion, a);
  json::SetString(ref, "kind", api::kKind, a);
  json::SetString(ref, "name", config.meta.name, a);
  json::SetString(ref, "uid", config.meta.uid, a);
  json::Set(ref, "controller", json::Value(true), a);
  json::Set(ref, "blockOwnerDeletion", json::Value(true), a);
  AddOwnerReference(obj, std::move(ref));
}

void OwnByNamespace(json::Document& obj, const api::AgentConfig& config,
                    std::string_view namespace_uid) {
  auto& a = obj.GetAllocator();
  json::Value ref(rapidjson::kObjectType);
  json::SetString(ref, "apiVersion", "v1", a);
  json::SetString(ref, "kind", "Namespace", a);
  json::SetString(ref, "name", config.meta.namespace_, a);
  json::SetString(ref, "uid", namespace_uid, a);
  AddOwnerReference(obj, std::move(ref));
}

json::Value StringMap(const std::map<std::string, std::string>& m, json::Allocator& alloc) {
  json::Value out(rapidjson::kObjectType);
  for (const auto& [k, v] : m) json::SetString(out, k, v, alloc);
  return out;
}

json::Value StringArray(const std::vector<std::string>& items, json::Allocator& alloc) {
  json::Value out(rapidjson::kArrayType);
  for (const auto& s : items) out.PushBack(json::String(s, alloc), alloc);
  return out;
}

}  // namespace srexpert::controller::internal
