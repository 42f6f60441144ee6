// ServiceAccount, ClusterRole/ClusterRoleBinding (cluster-wide allow-list) and
// the leader-election Role/RoleBinding (the agents' own Lease only).
#include "api/names.h"
#include "controller/desired.h"
#include "controller/object_meta.h"
#include "controller/permissions.h"

namespace srexpert::controller {

namespace {

constexpr std::string_view kRbacApiVersion = "rbac.authorization.k8s.io/v1";

json::Value Rules(const std::vector<Permission>& permissions, Scope scope, json::Allocator& a) {
  json::Value rules(rapidjson::kArrayType);
  for (const auto& p : permissions) {
    if (p.scope != scope) continue;
    json::Value rule(rapidjson::kObjectType);
    json::Value groups(rapidjson::kArrayType);
    groups.PushBack(json::String(p.api_group, a), a);
    json::Set(rule, "apiGroups", std::move(groups), a);
    json::Set(rule, "resources", internal::StringArray(p.resources, a), a);
    if (!p.resource_names.empty()) {
      json::Set(rule, "resourceNames", internal::StringArray(p.resource_names, a), a);
    }
    json::Set(rule, "verbs", internal::StringArray(p.verbs, a), a);
    rules.PushBack(rule, a);
  }
  return rules;
}

void SetBinding(json::Document& doc, const api::AgentConfig& config, std::string_view role_kind,
                std::string_view role_name) {
  auto& a = doc.GetAllocator();
  json::Value subject(rapidjson::kObjectType);
  json::SetString(subject, "kind", "ServiceAccount", a);
  json::SetString(subject, "name", api::NamesFor(config.meta.name).service_account, a);
  json::SetString(subject, "namespace", config.meta.namespace_, a);
  json::Value subjects(rapidjson::kArrayType);
  subjects.PushBack(subject, a);
  json::Set(doc, "subjects", std::move(subjects), a);
  json::Value role_ref(rapidjson::kObjectType);
  json::SetString(role_ref, "apiGroup", "rbac.authorization.k8s.io", a);
  json::SetString(role_ref, "kind", role_kind, a);
  json::SetString(role_ref, "name", role_name, a);
  json::Set(doc, "roleRef", std::move(role_ref), a);
}

}  // namespace

json::Document DesiredServiceAccount(const api::AgentConfig& config, const BuildInputs&) {
  auto names = api::NamesFor(config.meta.name);
  auto doc = internal::NewObject("v1", "ServiceAccount", names.service_account,
                                 config.meta.namespace_, config);
  internal::OwnByAgentConfig(doc, config);
  return doc;
}

json::Document DesiredClusterRole(const api::AgentConfig& config, const BuildInputs& in) {
  auto names = api::NamesFor(config.meta.name);
  auto doc = internal::NewObject(kRbacApiVersion, "ClusterRole", names.cluster_role, "", config);
  internal::OwnByNamespace(doc, config, in.namespace_uid);
  auto& a = doc.GetAllocator();
  const auto granted = GrantedPermissions(config);
  json::Value rules = Rules(granted, Scope::kCluster, a);
  // No allow-list: the actions' writes hold in every namespace (the agent
  // still refuses the system namespaces and its own).
  if (config.spec.actions.namespaces.empty()) {
    // A named value: a range-for over a temporary's GetArray() would outlive it.
    json::Value writes = Rules(granted, Scope::kActionNamespaces, a);
    for (auto& rule : writes.GetArray()) rules.PushBack(rule, a);
  }
  json::Set(doc, "rules", std::move(rules), a);
  return doc;
}

bool HasActionRoles(const api::AgentConfig& config) {
  if (config.spec.actions.namespaces.empty()) return false;
  for (const auto& p : GrantedPermissions(config)) {
    if (p.scope == Scope::kActionNamespaces) return true;
  }
  return false;
}

json::Document DesiredActionRole(const api::AgentConfig& config, const BuildInputs& in,
                                 const std::string& ns) {
  auto names = api::NamesFor(config.meta.name);
  auto doc = internal::NewObject(kRbacApiVersion, "Role", names.actions_role, ns, config);
  // Another namespace: no ownerReference to the AgentConfig can cross it, the
  // Namespace (cluster-scoped) can, so deleting it still removes this.
  internal::OwnByNamespace(doc, config, in.namespace_uid);
  json::Set(doc, "rules",
            Rules(GrantedPermissions(config), Scope::kActionNamespaces, doc.GetAllocator()),
            doc.GetAllocator());
  return doc;
}

json::Document DesiredActionRoleBinding(const api::AgentConfig& config, const BuildInputs& in,
                                        const std::string& ns) {
  auto names = api::NamesFor(config.meta.name);
  auto doc = internal::NewObject(kRbacApiVersion, "RoleBinding", names.actions_role, ns, config);
  internal::OwnByNamespace(doc, config, in.namespace_uid);
  SetBinding(doc, config, "Role", names.actions_role);
  return doc;
}

json::Document DesiredClusterRoleBinding(const api::AgentConfig& config, const BuildInputs& in) {
  auto names = api::NamesFor(config.meta.name);
  auto doc = internal::NewObject(kRbacApiVersion, "ClusterRoleBinding", names.cluster_role_binding,
                                 "", config);
  internal::OwnByNamespace(doc, config, in.namespace_uid);
  SetBinding(doc, config, "ClusterRole", names.cluster_role);
  return doc;
}

json::Document DesiredLeaderElectionRole(const api::AgentConfig& config, const BuildInputs&) {
  auto names = api::NamesFor(config.meta.name);
  auto doc = internal::NewObject(kRbacApiVersion, "Role", names.leader_election_role,
                                 config.meta.namespace_, config);
  internal::OwnByAgentConfig(doc, config);
  json::Set(doc, "rules",
            Rules(GrantedPermissions(config), Scope::kAgentNamespace, doc.GetAllocator()),
            doc.GetAllocator());
  return doc;
}

json::Document DesiredLeaderElectionRoleBinding(const api::AgentConfig& config,
                                                const BuildInputs&) {
  auto names = api::NamesFor(config.meta.name);
  auto doc = internal::NewObject(kRbacApiVersion, "RoleBinding", names.leader_election_role_binding,
                                 config.meta.namespace_, config);
  internal::OwnByAgentConfig(doc, config);
  SetBinding(doc, config, "Role", names.leader_election_role);
  return doc;
}

}  // namespace srexpert::controller
