#include "test/packaging/rbac_rules.h"

#include <algorithm>

namespace srexpert::packaging {

namespace {

std::vector<std::string> Strings(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n && n.IsSequence()) {
    for (const auto& s : n) out.push_back(s.as<std::string>());
  }
  return out;
}

bool Matches(const std::vector<std::string>& allowed, const std::string& value) {
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& a) { return a == "*" || a == value; });
}

std::string Quoted(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += "\"" + items[i] + "\"";
  }
  return out + "]";
}

}  // namespace

std::vector<PolicyRule> RulesOf(const YAML::Node& role) {
  std::vector<PolicyRule> out;
  for (const auto& r : role["rules"]) {
    out.push_back({Strings(r["apiGroups"]), Strings(r["resources"]), Strings(r["verbs"]),
                   Strings(r["resourceNames"])});
  }
  return out;
}

bool Allows(const std::vector<PolicyRule>& rules, const std::string& group,
            const std::string& resource, const std::string& verb, const std::string& name) {
  for (const auto& r : rules) {
    if (!Matches(r.api_groups, group) || !Matches(r.resources, resource) ||
        !Matches(r.verbs, verb)) {
      continue;
    }
    if (r.resource_names.empty()) return true;
    if (!name.empty() && std::find(r.resource_names.begin(), r.resource_names.end(), name) !=
                             r.resource_names.end()) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> Uncovered(const std::vector<PolicyRule>& rules,
                                   const controller::Permission& p) {
  std::vector<std::string> missing;
  std::vector<std::string> names = p.resource_names;
  if (names.empty()) names.push_back("");
  for (const auto& resource : p.resources) {
    for (const auto& verb : p.verbs) {
      for (const auto& name : names) {
        if (!Allows(rules, p.api_group, resource, verb, name)) {
          missing.push_back((p.api_group.empty() ? "core" : p.api_group) + "/" + resource + " " +
                            verb + (name.empty() ? "" : " " + name));
        }
      }
    }
  }
  return missing;
}

namespace {

// The catalogue's rules of the given scopes as YAML list items, each with
// its switch and reason as a comment.
std::string RenderRules(std::string header, std::initializer_list<controller::Scope> scopes) {
  std::string out = std::move(header);
  for (const auto& p : controller::PermissionCatalogue("<name>-leader")) {
    if (std::find(scopes.begin(), scopes.end(), p.scope) == scopes.end()) continue;
    out += "# " + std::string(controller::FeatureSwitch(p.feature)) + ": " + p.why + "\n";
    out += "- apiGroups: " + Quoted({p.api_group}) + "\n";
    out += "  resources: " + Quoted(p.resources) + "\n";
    out += "  verbs: " + Quoted(p.verbs) + "\n";
    if (!p.resource_names.empty()) out += "  resourceNames: " + Quoted(p.resource_names) + "\n";
  }
  return out;
}

constexpr const char* kGenerated =
    "# Generated from PermissionCatalogue() in operator/controller/permissions.cc\n"
    "# by test/packaging (SRX_UPDATE_DOCS=1 ctest -R catalogue rewrites it); do not\n";

}  // namespace

std::string RenderCatalogueRules() {
  return RenderRules(
      std::string(kGenerated) +
          "# edit. The rules the operator may grant to the agent in any namespace (its\n"
          "# ClusterRole, and the actions' Roles in the namespaces an AgentConfig lists),\n"
          "# which it must therefore hold itself cluster-wide (docs/permissions.md\n"
          "# explains each one).\n",
      {controller::Scope::kCluster, controller::Scope::kActionNamespaces});
}

std::string RenderHelmStorageRules() {
  return RenderRules(std::string(kGenerated) +
                         "# edit. The rules of the ClusterRole srexpert-helm-release-storage, "
                         "which an\n# administrator binds per namespace for spec.actions.helm.\n",
                     {controller::Scope::kHelmStorage});
}

}  // namespace srexpert::packaging
