// The API resources the test server serves: the built-in kinds the product
// uses plus CustomResourceDefinitions registered at run time. Discovery,
// routing and storage all look kinds up here.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "test/apiserver/status.h"

namespace srexpert::testing {

struct ResourceType {
  std::string group;    // "" for core
  std::string version;  // preferred / storage version
  std::vector<std::string> versions;  // all served versions, preferred first
  std::string resource;  // plural, e.g. "deployments"
  std::string singular;
  std::string kind;
  std::string list_kind;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool has_status = false;      // serves the /status subresource
  bool has_scale = false;       // serves /scale (autoscaling/v1 Scale of spec.replicas)
  bool has_generation = false;  // metadata.generation tracks spec changes
  bool custom = false;          // defined by a CRD
  // For custom resources: the structural schema per served version
  // (openAPIV3Schema), used to find x-kubernetes-list-type for apply.
  std::shared_ptr<const json::Document> schema;
  // For custom resources: the CRD's spec.versions array (printer columns and
  // schema per version).
  std::shared_ptr<const json::Document> crd_versions;
  // For custom resources: the CRD's spec as registered, and the
  // resourceVersion at which kube-apiserver would have started serving it.
  // Its watch cache starts there (and again whenever the spec changes), so a
  // watch from an older resourceVersion is 410 Expired however little
  // happened since.
  std::string crd_spec;
  uint64_t watch_floor_rv = 0;

  // The CRD's entry for served version `v`, or null (built-ins, unknown v).
  const json::Value* CrdVersion(const std::string& v) const;
  // The openAPIV3Schema of version `v` (custom resources), or null.
  const json::Value* SchemaFor(const std::string& v) const;

  // Set when another group's resource holds the objects: events.k8s.io
  // events are core events in kube-apiserver's storage (event_versions.h).
  std::optional<std::string> storage_group;

  GroupResource Gr() const { return {group, resource}; }
  // "group/resource": the storage identity, independent of the version.
  std::string StorageKey() const { return storage_group.value_or(group) + "/" + resource; }
  std::string ApiVersion(const std::string& v) const { return group.empty() ? v : group + "/" + v; }
  bool Serves(const std::string& v) const;
};

using ResourceTypePtr = std::shared_ptr<const ResourceType>;

// Thread-safe registry. Built-ins are fixed; CRDs come and go.
class ResourceRegistry {
 public:
  ResourceRegistry();

  // Finds the resource served at group/version/resource.
  ResourceTypePtr Find(const std::string& group, const std::string& version,
                       const std::string& resource) const;
  // Finds by storage key ("apps/deployments").
  ResourceTypePtr FindByKey(const std::string& storage_key) const;
  // Finds by apiVersion + kind (ownerReferences, CRD objects in bodies).
  ResourceTypePtr FindByKind(const std::string& api_version, const std::string& kind) const;
  std::vector<ResourceTypePtr> All() const;

  // Registers (or replaces) the resource a CRD object defines. Returns an
  // error message when the CRD does not describe a servable resource.
  std::optional<std::string> RegisterCrd(const json::Value& crd);
  void UnregisterCrd(const std::string& group, const std::string& plural);

 private:
  mutable std::mutex mu_;
  std::vector<ResourceTypePtr> types_;
};

}  // namespace srexpert::testing
