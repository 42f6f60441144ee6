// The scan engine's view of its input: Kubernetes objects as RapidJSON
// values (full manifests in the CLI, the leader's cached objects in the
// cluster), addressed by apiVersion, kind, namespace and name, and the pod
// template inside every workload kind.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace srexpert::scan {

// Where an object sits in the cluster.
struct ObjectRef {
  std::string api_version;  // "apps/v1"
  std::string kind;         // "Deployment"
  std::string ns;           // "" for cluster-scoped objects (and manifests without one)
  std::string name;
};

// One input object. `value` is not owned: it must outlive the scan (and any
// Report the scan returns, which points at container names inside it).
struct Object {
  ObjectRef ref;
  const rapidjson::Value* value = nullptr;
  // Where it came from, for messages and SARIF locations: the file (or
  // "<stdin>", or "cluster") and the 1-based line its document starts at
  // (0 when unknown).
  std::string source;
  int line = 0;
  // Only for lookups (a RoleBinding's ClusterRole when scanning one
  // namespace): never reported itself.
  bool context_only = false;
};

// An Object for `value`, reading apiVersion, kind, metadata.namespace and
// metadata.name from it. `kind`/`api_version`, when given, win over the
// value's own (the leader's cached objects carry neither).
Object MakeObject(const rapidjson::Value& value, std::string_view kind = {},
                  std::string_view api_version = {});

// Kinds whose pod template is scanned like a pod: Pod, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob,
// PodTemplate.
bool IsWorkloadKind(std::string_view kind);

// The pod (or pod template) inside an object: its metadata (labels,
// annotations — may be null) and spec. For a Pod these are the object's own.
struct PodTemplate {
  const rapidjson::Value* metadata = nullptr;
  const rapidjson::Value* spec = nullptr;
};
// The pod template of a workload kind; spec null when the object has none.
PodTemplate PodTemplateOf(const Object& object);

// Which list of the pod spec a container comes from.
enum class ContainerList { kInit, kRegular, kEphemeral };

// Every container of `pod_spec` in the order PodSecurity admission visits
// them: initContainers, containers, ephemeralContainers. Items that are not
// objects are skipped.
void ForEachContainer(const rapidjson::Value* pod_spec,
                      const std::function<void(const rapidjson::Value& container,
                                               ContainerList list)>& visit);

// metadata.<field> of any object (labels / annotations), or null.
const rapidjson::Value* MetadataField(const rapidjson::Value* object, std::string_view field);
// A label or annotation value, "" when absent.
std::string_view Label(const rapidjson::Value* metadata, std::string_view key);
std::string_view Annotation(const rapidjson::Value* metadata, std::string_view key);

// Whether `object` has a controller ownerReference (controller: true).
struct Owner {
  std::string_view kind;
  std::string_view name;
};
bool ControllerOwner(const rapidjson::Value& object, Owner* owner);

}  // namespace srexpert::scan
