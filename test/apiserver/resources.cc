#include "test/apiserver/resources.h"

#include <algorithm>
#include <cstdlib>

namespace srexpert::testing {

bool ResourceType::Serves(const std::string& v) const {
  return std::find(versions.begin(), versions.end(), v) != versions.end();
}

const json::Value* ResourceType::CrdVersion(const std::string& v) const {
  if (!crd_versions || !crd_versions->IsArray()) return nullptr;
  for (const auto& entry : crd_versions->GetArray()) {
    if (json::GetString(entry, {"name"}) == v) return &entry;
  }
  return nullptr;
}

const json::Value* ResourceType::SchemaFor(const std::string& v) const {
  if (const json::Value* entry = CrdVersion(v)) {
    if (const json::Value* s = json::Find(*entry, {"schema", "openAPIV3Schema"})) return s;
  }
  return schema ? schema.get() : nullptr;
}

namespace {

struct Builtin {
  const char* group;
  const char* version;
  const char* resource;
  const char* singular;
  const char* kind;
  bool namespaced;
  std::vector<std::string> short_names;
  bool has_status;
  bool has_generation;
  std::vector<std::string> categories;
};

// Mirrors `kubectl api-resources` of a v1.32 cluster for the kinds we serve.
// has_generation follows the kinds whose registry strategy bumps
// metadata.generation (workloads, jobs, networking, CRDs).
const std::vector<Builtin>& Builtins() {
  static const std::vector<Builtin> kBuiltins = {
      {"", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}, true, false, {}},
      {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}, false, false, {}},
      {"", "v1", "secrets", "secret", "Secret", true, {}, false, false, {}},
      {"", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}, false, false, {}},
      {"", "v1", "pods", "pod", "Pod", true, {"po"}, true, false, {"all"}},
      {"", "v1", "nodes", "node", "Node", false, {"no"}, true, false, {}},
      {"", "v1", "events", "event", "Event", true, {"ev"}, false, false, {}},
      {"", "v1", "services", "service", "Service", true, {"svc"}, true, false, {"all"}},
      {"apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}, true, true, {"all"}},
      {"apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, {"ds"}, true, true, {"all"}},
      {"apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, {"sts"}, true, true, {"all"}},
      {"apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, {"rs"}, true, true, {"all"}},
      {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, {}, false, false, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, {}, false, false, {}},
      {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, {}, false, false, {}},
      {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, {}, false, false, {}},
      {"coordination.k8s.io", "v1", "leases", "lease", "Lease", true, {}, false, false, {}},
      {"batch", "v1", "jobs", "job", "Job", true, {}, true, true, {"all"}},
      {"batch", "v1", "cronjobs", "cronjob", "CronJob", true, {"cj"}, true, true, {"all"}},
      {"networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", true, {"ing"}, true, true, {}},
      {"networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, {"netpol"}, false, true, {}},
      {"events.k8s.io", "v1", "events", "event", "Event", true, {"ev"}, false, false, {}},
      {"policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, {"pdb"}, true, true, {}},
      {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition", "CustomResourceDefinition", false, {"crd", "crds"}, true, true, {"api-extensions"}},
  };
  return kBuiltins;
}

}  // namespace

ResourceRegistry::ResourceRegistry() {
  for (const auto& b : Builtins()) {
    auto t = std::make_shared<ResourceType>();
    t->group = b.group;
    t->version = b.version;
    t->versions = {b.version};
    t->resource = b.resource;
    t->singular = b.singular;
    t->kind = b.kind;
    t->list_kind = std::string(b.kind) + "List";
    t->namespaced = b.namespaced;
    t->short_names = b.short_names;
    t->categories = b.categories;
    t->has_status = b.has_status;
    t->has_generation = b.has_generation;
    t->has_scale = t->group == "apps" && t->resource != "daemonsets";
    // One resource in two groups: the core form is what is stored.
    if (t->group == "events.k8s.io" && t->resource == "events") t->storage_group = "";
    types_.push_back(std::move(t));
  }
}

ResourceTypePtr ResourceRegistry::Find(const std::string& group, const std::string& version,
                                       const std::string& resource) const {
  std::lock_guard lock(mu_);
  for (const auto& t : types_) {
    if (t->group == group && t->resource == resource && t->Serves(version)) return t;
  }
  return nullptr;
}

ResourceTypePtr ResourceRegistry::FindByKey(const std::string& storage_key) const {
  std::lock_guard lock(mu_);
  for (const auto& t : types_) {
    if (t->StorageKey() == storage_key) return t;
  }
  return nullptr;
}

ResourceTypePtr ResourceRegistry::FindByKind(const std::string& api_version,
                                             const std::string& kind) const {
  auto slash = api_version.find('/');
  std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  std::lock_guard lock(mu_);
  for (const auto& t : types_) {
    if (t->group == group && t->kind == kind && t->Serves(version)) return t;
  }
  return nullptr;
}

std::vector<ResourceTypePtr> ResourceRegistry::All() const {
  std::lock_guard lock(mu_);
  return types_;
}

std::optional<std::string> ResourceRegistry::RegisterCrd(const json::Value& crd) {
  const json::Value* spec = json::Find(crd, {"spec"});
  if (spec == nullptr || !spec->IsObject()) return "spec: Required value";
  auto t = std::make_shared<ResourceType>();
  t->custom = true;
  t->has_generation = true;
  t->group = json::GetString(*spec, {"group"});
  t->resource = json::GetString(*spec, {"names", "plural"});
  t->singular = json::GetString(*spec, {"names", "singular"});
  if (t->singular.empty()) t->singular = json::GetString(*spec, {"names", "kind"});
  std::transform(t->singular.begin(), t->singular.end(), t->singular.begin(), ::tolower);
  t->kind = json::GetString(*spec, {"names", "kind"});
  t->list_kind = json::GetString(*spec, {"names", "listKind"}, t->kind + "List");
  t->namespaced = json::GetString(*spec, {"scope"}) != "Cluster";
  if (const auto* sn = json::Find(*spec, {"names", "shortNames"}); sn && sn->IsArray()) {
    for (const auto& s : sn->GetArray()) {
      if (s.IsString()) t->short_names.emplace_back(s.GetString());
    }
  }
  if (const auto* cats = json::Find(*spec, {"names", "categories"}); cats && cats->IsArray()) {
    for (const auto& s : cats->GetArray()) {
      if (s.IsString()) t->categories.emplace_back(s.GetString());
    }
  }
  const json::Value* versions = json::Find(*spec, {"versions"});
  if (versions == nullptr || !versions->IsArray()) return "spec.versions: Required value";
  t->crd_versions = std::make_shared<json::Document>(json::Clone(*versions));
  const json::Value* storage_version = nullptr;
  for (const auto& v : versions->GetArray()) {
    if (json::GetBool(v, {"storage"})) storage_version = &v;
    if (json::GetBool(v, {"served"})) t->versions.push_back(json::GetString(v, {"name"}));
  }
  if (storage_version == nullptr && versions->Size() > 0) storage_version = &(*versions)[0];
  std::string storage;
  if (storage_version != nullptr) {
    // All served versions share the storage version's subresources and schema
    // here ("None" conversion, the CRD default).
    storage = json::GetString(*storage_version, {"name"});
    if (json::Find(*storage_version, {"subresources", "status"}) != nullptr) t->has_status = true;
    if (const auto* schema = json::Find(*storage_version, {"schema", "openAPIV3Schema"})) {
      t->schema = std::make_shared<json::Document>(json::Clone(*schema));
    }
  }
  if (!t->Serves(storage)) storage.clear();
  if (t->group.empty() || t->resource.empty() || t->kind.empty() || t->versions.empty()) {
    return "spec.group, spec.names.plural, spec.names.kind and a served version are required";
  }
  // Discovery lists versions by kube-aware priority; a CRD's preferred version
  // is its storage version when served, otherwise the first served one.
  t->version = storage.empty() ? t->versions.front() : storage;
  t->crd_spec = json::Dump(*spec);
  t->watch_floor_rv = std::strtoull(json::GetString(crd, {"metadata", "resourceVersion"}).c_str(), nullptr, 10);
  std::lock_guard lock(mu_);
  for (const auto& o : types_) {
    // A write that leaves the spec alone (status, finalizers) keeps the
    // served storage and its watch window.
    if (o->custom && o->group == t->group && o->resource == t->resource && o->crd_spec == t->crd_spec) {
      t->watch_floor_rv = o->watch_floor_rv;
    }
  }
  std::erase_if(types_, [&](const ResourceTypePtr& o) {
    return o->custom && o->group == t->group && o->resource == t->resource;
  });
  types_.push_back(std::move(t));
  return std::nullopt;
}

void ResourceRegistry::UnregisterCrd(const std::string& group, const std::string& plural) {
  std::lock_guard lock(mu_);
  std::erase_if(types_, [&](const ResourceTypePtr& o) {
    return o->custom && o->group == group && o->resource == plural;
  });
}

}  // namespace srexpert::testing
