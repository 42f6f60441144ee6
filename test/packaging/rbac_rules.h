// RBAC rule arithmetic for the operator's own permissions: Kubernetes lets a
// subject create a Role or ClusterRole (or bind one) only when it already
// holds every permission in it, unless it has `escalate`/`bind` — which the
// operator deliberately does not. So the operator's rules must cover the
// agent's permission catalogue, except Helm's release storage, which the
// install ships as a ClusterRole for an administrator to bind.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "controller/permissions.h"

namespace srexpert::packaging {

struct PolicyRule {
  std::vector<std::string> api_groups;
  std::vector<std::string> resources;
  std::vector<std::string> verbs;
  std::vector<std::string> resource_names;  // empty: every object
};

// The rules of a Role or ClusterRole document.
std::vector<PolicyRule> RulesOf(const YAML::Node& role);

// Whether `rules` allow `verb` on group/resource, for the object `name`
// (empty: a request without a name, e.g. list or create). Same semantics as
// the apiserver's RBAC authorizer: "*" matches anything, and a rule with
// resourceNames never matches a request without a name.
bool Allows(const std::vector<PolicyRule>& rules, const std::string& group,
            const std::string& resource, const std::string& verb, const std::string& name);

// Every (group, resource, verb, name) of `permission` that `rules` do not
// allow, as "group/resource verb [name]" — empty when covered.
std::vector<std::string> Uncovered(const std::vector<PolicyRule>& rules,
                                   const controller::Permission& permission);

// The cluster-scoped part of the agent's permission catalogue as a YAML list
// of PolicyRules, with each rule's reason as a comment: the chart's
// files/agent-permissions.yaml.
std::string RenderCatalogueRules();
// helm/srexpert-agent/files/helm-storage-permissions.yaml: the rules of the
// install's ClusterRole srexpert-helm-release-storage.
std::string RenderHelmStorageRules();

}  // namespace srexpert::packaging
