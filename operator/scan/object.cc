#include "scan/object.h"

#include <array>

#include "scan/json_access.h"

namespace srexpert::scan {

Object MakeObject(const rapidjson::Value& value, std::string_view kind,
                  std::string_view api_version) {
  Object o;
  o.value = &value;
  o.ref.kind = std::string(kind.empty() ? Str(Get(value, "kind")) : kind);
  o.ref.api_version =
      std::string(api_version.empty() ? Str(Get(value, "apiVersion")) : api_version);
  const JsonValue* meta = Get(value, "metadata");
  o.ref.ns = std::string(Str(Get(meta, "namespace")));
  o.ref.name = std::string(Str(Get(meta, "name")));
  return o;
}

bool IsWorkloadKind(std::string_view kind) {
  static constexpr std::array<std::string_view, 9> kKinds = {
      "Pod",       "Deployment", "StatefulSet", "DaemonSet",  "ReplicaSet",
      "ReplicationController", "Job", "CronJob", "PodTemplate"};
  for (std::string_view k : kKinds) {
    if (k == kind) return true;
  }
  return false;
}

PodTemplate PodTemplateOf(const Object& object) {
  const JsonValue* v = object.value;
  const std::string& kind = object.ref.kind;
  const JsonValue* tmpl = nullptr;
  if (kind == "Pod") {
    return {Obj(Get(v, "metadata")), Obj(Get(v, "spec"))};
  } else if (kind == "CronJob") {
    tmpl = Path(v, {"spec", "jobTemplate", "spec", "template"});
  } else if (kind == "PodTemplate") {
    tmpl = Get(v, "template");
  } else if (IsWorkloadKind(kind)) {
    tmpl = Path(v, {"spec", "template"});
  }
  if (!Obj(tmpl)) return {};
  return {Obj(Get(tmpl, "metadata")), Obj(Get(tmpl, "spec"))};
}

void ForEachContainer(const rapidjson::Value* pod_spec,
                      const std::function<void(const rapidjson::Value&, ContainerList)>& visit) {
  static constexpr std::array<std::pair<std::string_view, ContainerList>, 3> kLists = {{
      {"initContainers", ContainerList::kInit},
      {"containers", ContainerList::kRegular},
      {"ephemeralContainers", ContainerList::kEphemeral},
  }};
  for (const auto& [field, list] : kLists) {
    const JsonValue* arr = Arr(Get(pod_spec, field));
    if (!arr) continue;
    for (const auto& c : arr->GetArray()) {
      if (c.IsObject()) visit(c, list);
    }
  }
}

const rapidjson::Value* MetadataField(const rapidjson::Value* object, std::string_view field) {
  return Obj(Get(Get(object, "metadata"), field));
}

std::string_view Label(const rapidjson::Value* metadata, std::string_view key) {
  return Str(Get(Get(metadata, "labels"), key));
}

std::string_view Annotation(const rapidjson::Value* metadata, std::string_view key) {
  return Str(Get(Get(metadata, "annotations"), key));
}

bool ControllerOwner(const rapidjson::Value& object, Owner* owner) {
  const JsonValue* refs = Arr(Path(&object, {"metadata", "ownerReferences"}));
  if (!refs) return false;
  for (const auto& r : refs->GetArray()) {
    if (IsTrue(Get(r, "controller"))) {
      if (owner) *owner = {Str(Get(r, "kind")), Str(Get(r, "name"))};
      return true;
    }
  }
  return false;
}

}  // namespace srexpert::scan
