#include "controller/permissions.h"

#include <fmt/format.h>

#include <algorithm>

#include "api/names.h"

namespace srexpert::controller {

namespace {

const std::vector<std::string> kRead = {"get", "list", "watch"};
// Collected through list+watch only (no object is ever read by name).
const std::vector<std::string> kListWatch = {"list", "watch"};
// Server-side apply: patch; an apply that creates is authorised as create;
// get reads the live object for the outcome and the diff.
const std::vector<std::string> kApply = {"get", "create", "patch"};
const std::vector<std::string> kHelmStorage = {"get", "list", "create", "update", "delete"};
const std::vector<std::string> kHelmObjects = {"get",    "list",  "watch", "create",
                                               "update", "patch", "delete"};

// The kinds applyManifests and helm may write: workloads and the objects
// that travel with them. Deliberately absent: Secrets, RBAC, ServiceAccounts,
// Namespaces, CRDs, webhooks, PersistentVolumes — anything that grants or
// reads credentials or changes the cluster's shape.
struct WritableGroup {
  std::string group;
  std::vector<std::string> resources;
};
const std::vector<WritableGroup>& WritableKinds() {
  static const std::vector<WritableGroup> kinds = {
      {"", {"configmaps", "services"}},
      {"apps", {"deployments", "statefulsets", "daemonsets"}},
      {"batch", {"jobs", "cronjobs"}},
      {"networking.k8s.io", {"ingresses", "networkpolicies"}},
      {"autoscaling", {"horizontalpodautoscalers"}},
  };
  return kinds;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

std::string_view FeatureTitle(Feature f) {
  switch (f) {
    case Feature::kCollection:
      return "Collection (always)";
    case Feature::kEvents:
      return "Events";
    case Feature::kMetrics:
      return "Metrics";
    case Feature::kLeaderElection:
      return "Leader election (always)";
    case Feature::kScale:
      return "Action: scale";
    case Feature::kRestart:
      return "Action: restart";
    case Feature::kDeletePods:
      return "Action: deletePods";
    case Feature::kNodes:
      return "Action: nodes";
    case Feature::kApplyManifests:
      return "Action: applyManifests";
    case Feature::kHelm:
      return "Action: helm";
  }
  return "";
}

std::string_view ScopeTitle(Scope scope) {
  switch (scope) {
    case Scope::kCluster:
      return "ClusterRole `<name>`";
    case Scope::kAgentNamespace:
      return "Role `<name>-leader-election` (own namespace)";
    case Scope::kActionNamespaces:
      return "Role `<name>-actions` in each of `spec.actions.namespaces` (empty list: ClusterRole `<name>`)";
    case Scope::kHelmStorage:
      return "ClusterRole `srexpert-helm-release-storage` (shipped by the install), bound by an administrator in each Helm namespace";
  }
  return "";
}

}  // namespace

std::string_view FeatureSwitch(Feature feature) {
  switch (feature) {
    case Feature::kCollection:
      return "always";
    case Feature::kEvents:
      return "spec.collection.events";
    case Feature::kMetrics:
      return "spec.collection.metrics";
    case Feature::kLeaderElection:
      return "always";
    case Feature::kScale:
      return "spec.actions.scale";
    case Feature::kRestart:
      return "spec.actions.restart";
    case Feature::kDeletePods:
      return "spec.actions.deletePods";
    case Feature::kNodes:
      return "spec.actions.nodes";
    case Feature::kApplyManifests:
      return "spec.actions.applyManifests";
    case Feature::kHelm:
      return "spec.actions.helm";
  }
  return "";
}

bool FeatureEnabled(Feature feature, const api::AgentConfigSpec& spec) {
  switch (feature) {
    case Feature::kCollection:
      return true;
    case Feature::kEvents:
      return spec.collection.events;
    case Feature::kMetrics:
      return spec.collection.metrics;
    case Feature::kLeaderElection:
      return true;
    case Feature::kScale:
      return spec.actions.scale;
    case Feature::kRestart:
      return spec.actions.restart;
    case Feature::kDeletePods:
      return spec.actions.delete_pods;
    case Feature::kNodes:
      return spec.actions.nodes;
    case Feature::kApplyManifests:
      return spec.actions.apply_manifests;
    case Feature::kHelm:
      return spec.actions.helm;
  }
  return false;
}

std::vector<Permission> PermissionCatalogue(std::string_view lease_name) {
  using F = Feature;
  const Scope C = Scope::kCluster;
  const Scope A = Scope::kActionNamespaces;
  std::vector<Permission> p = {
      {F::kCollection,
       C,
       "",
       {"nodes", "namespaces"},
       kRead,
       {},
       "Node and namespace inventory; the UID of the kube-system Namespace identifies the "
       "cluster to the backend."},
      {F::kCollection,
       C,
       "",
       {"pods", "services", "serviceaccounts", "persistentvolumeclaims", "persistentvolumes"},
       kRead,
       {},
       "Workload, networking and storage state streamed to the backend."},
      {F::kCollection,
       C,
       "",
       {"configmaps"},
       kListWatch,
       {},
       "ConfigMap metadata (names, labels, owners, key names): the agent keeps metadata only and "
       "never streams data, but RBAC cannot limit a grant to metadata, so this permission also "
       "allows reading ConfigMap data. No get: nothing reads a single ConfigMap."},
      {F::kCollection,
       C,
       "apps",
       {"deployments", "replicasets", "statefulsets", "daemonsets"},
       kRead,
       {},
       "Workload specs and rollout state."},
      {F::kCollection,
       C,
       "batch",
       {"jobs", "cronjobs"},
       kRead,
       {},
       "Batch workloads and their completion state."},
      {F::kCollection,
       C,
       "networking.k8s.io",
       {"ingresses", "networkpolicies"},
       kRead,
       {},
       "Exposure and network isolation, for the topology and scans."},
      {F::kCollection,
       C,
       "autoscaling",
       {"horizontalpodautoscalers"},
       kRead,
       {},
       "Autoscaling targets and current state."},
      {F::kCollection,
       C,
       "policy",
       {"poddisruptionbudgets"},
       kRead,
       {},
       "Disruption budgets, for the availability scans (never evictions)."},
      {F::kCollection,
       C,
       "rbac.authorization.k8s.io",
       {"roles", "rolebindings", "clusterroles", "clusterrolebindings"},
       kRead,
       {},
       "RBAC posture for scans (who can do what); RBAC objects hold no credentials."},
      {F::kEvents,
       C,
       "",
       {"events"},
       kListWatch,
       {},
       "Kubernetes Events (core API), streamed as they happen; a watch needs no get."},
      {F::kEvents,
       C,
       "events.k8s.io",
       {"events"},
       kListWatch,
       {},
       "Kubernetes Events through the events.k8s.io/v1 API (same objects, newer fields)."},
      {F::kMetrics,
       C,
       "metrics.k8s.io",
       {"nodes", "pods"},
       {"get", "list"},
       {},
       "CPU and memory usage from metrics-server (it serves no watch)."},
      {F::kLeaderElection,
       Scope::kAgentNamespace,
       "coordination.k8s.io",
       {"leases"},
       {"create"},
       {},
       "Create the leader Lease on first start (RBAC cannot limit create to a name)."},
      {F::kLeaderElection,
       Scope::kAgentNamespace,
       "coordination.k8s.io",
       {"leases"},
       {"get", "list", "watch", "update"},
       {std::string(lease_name)},
       "Acquire and renew the leader Lease and publish the tunnel state on it; standbys "
       "watch it (a list/watch with fieldSelector metadata.name is authorised against "
       "resourceNames) to take over the moment it is released — this Lease only."},
      {F::kScale,
       A,
       "apps",
       {"deployments/scale", "statefulsets/scale"},
       {"get", "patch", "update"},
       {},
       "Read and change replica counts through the scale "
       "subresource only; the rest of the workload stays read-only."},
      {F::kRestart,
       A,
       "apps",
       {"deployments", "statefulsets", "daemonsets"},
       {"patch"},
       {},
       "Rollout restart: patch the pod template's kubectl.kubernetes.io/restartedAt annotation."},
      {F::kDeletePods,
       A,
       "",
       {"pods"},
       {"delete"},
       {},
       "pod.delete: delete one pod (its controller replaces it)."},
      {F::kNodes,
       C,
       "",
       {"nodes"},
       {"patch"},
       {},
       "Cordon and uncordon (spec.unschedulable); Nodes are cluster-scoped, so this cannot be "
       "narrowed to namespaces."},
      {F::kNodes,
       A,
       "",
       {"pods/eviction"},
       {"create"},
       {},
       "Drain through the Eviction API, so PodDisruptionBudgets are honoured; pods outside the "
       "allowed namespaces are never evicted (the drain reports them)."},
      {F::kNodes,
       C,
       "",
       {"events"},
       {"create"},
       {},
       "Audit: the SRExpertAction Event of a Node goes to the default namespace, as Events of "
       "cluster-scoped objects do."},
  };
  // Every action kind records an SRExpertAction Event on what it changed.
  for (F f : {F::kScale, F::kRestart, F::kDeletePods, F::kApplyManifests, F::kHelm}) {
    p.push_back({f,
                 A,
                 "",
                 {"events"},
                 {"create"},
                 {},
                 "Audit: an SRExpertAction Event on each object an action changed (who, what, "
                 "outcome)."});
  }
  for (const auto& kind : WritableKinds()) {
    p.push_back({F::kApplyManifests,
                 A,
                 kind.group,
                 kind.resources,
                 kApply,
                 {},
                 "Server-side apply of manifests of these kinds (apply creates or patches; get "
                 "reads the live object for the dry-run diff)."});
  }
  p.push_back({F::kHelm,
               Scope::kHelmStorage,
               "",
               {"secrets"},
               kHelmStorage,
               {},
               "Helm's release records (its default Secrets driver, so a user's plain `helm` sees "
               "the same releases). RBAC cannot narrow list to Helm's label: this reads every "
               "Secret in the listed namespaces, which is why Helm needs spec.actions.namespaces. The "
               "install ships this rule as a ClusterRole that an administrator binds per "
               "namespace (docs/helm.md): nobody holds Secrets access cluster-wide."});
  for (const auto& kind : WritableKinds()) {
    p.push_back({F::kHelm,
                 A,
                 kind.group,
                 kind.resources,
                 kHelmObjects,
                 {},
                 "Install, upgrade, roll back and uninstall charts of these kinds (Helm applies, "
                 "waits with list/watch, reads live objects for status, deletes on uninstall)."});
  }
  p.push_back({F::kHelm,
               A,
               "",
               {"pods"},
               {"delete"},
               {},
               "Chart hooks: hook Pods are deleted per their hook-delete-policy (get, list and "
               "watch come with collection)."});
  // Grouped by feature (the order of the enum), for the generated document.
  std::stable_sort(p.begin(), p.end(),
                   [](const Permission& x, const Permission& y) { return x.feature < y.feature; });
  return p;
}

std::vector<Permission> GrantedPermissions(const api::AgentConfig& config) {
  std::vector<Permission> out;
  for (auto& p : PermissionCatalogue(api::NamesFor(config.meta.name).lease)) {
    if (FeatureEnabled(p.feature, config.spec)) out.push_back(std::move(p));
  }
  return out;
}

std::string RenderPermissionsMarkdown() {
  std::string out;
  const auto catalogue = PermissionCatalogue("<name>-leader");
  Feature current{};
  bool first = true;
  for (const auto& p : catalogue) {
    if (first || p.feature != current) {
      current = p.feature;
      first = false;
      out += fmt::format("\n### {}\n\nSwitch: `{}`.\n\n", FeatureTitle(p.feature),
                         FeatureSwitch(p.feature));
      out += "| Granted by | API group | Resources | Verbs | Only these names | Why |\n";
      out += "| --- | --- | --- | --- | --- | --- |\n";
    }
    out += fmt::format(
        "| {} | `{}` | {} | {} | {} | {} |\n", ScopeTitle(p.scope),
        p.api_group.empty() ? "\"\" (core)" : p.api_group, Join(p.resources, ", "),
        Join(p.verbs, ", "),
        p.resource_names.empty() ? "—" : "`" + Join(p.resource_names, "`, `") + "`", p.why);
  }
  return out;
}

}  // namespace srexpert::controller
