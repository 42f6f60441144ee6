#include "controller/permissions.h"

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <set>

#include "controller/desired.h"
#include "test/api/agent_config_fixture.h"
#include "test/api/crd_schema.h"

using namespace srexpert;

namespace {

api::AgentConfig Config(const json::Document& doc) {
  auto r = api::Parse(doc);
  INFO(r.Summary());
  REQUIRE(r.ok());
  return r.config;
}

const controller::BuildInputs kInputs{"ns-uid", "tok-xyz", "agent:1"};

// "group|resource|verb|names" for every (resource, verb) a role grants.
std::set<std::string> Grants(const json::Value& role) {
  std::set<std::string> out;
  for (const auto& rule : role["rules"].GetArray()) {
    std::string names;
    if (rule.HasMember("resourceNames")) {
      for (const auto& n : rule["resourceNames"].GetArray())
        names += std::string(n.GetString()) + ",";
    }
    for (const auto& g : rule["apiGroups"].GetArray()) {
      for (const auto& r : rule["resources"].GetArray()) {
        for (const auto& v : rule["verbs"].GetArray()) {
          out.insert(
              fmt::format("{}|{}|{}|{}", g.GetString(), r.GetString(), v.GetString(), names));
        }
      }
    }
  }
  return out;
}

std::set<std::string> ClusterGrants(const api::AgentConfig& c) {
  return Grants(controller::DesiredClusterRole(c, kInputs));
}

std::set<std::string> Minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::set<std::string> out;
  for (const auto& x : a) {
    if (!b.count(x)) out.insert(x);
  }
  return out;
}

const char* kEverythingOn =
    R"({"spec":{"collection":{"events":true,"metrics":true},
               "actions":{"scale":true,"restart":true,"deletePods":true,"nodes":true,
                          "applyManifests":true,"helm":true,"namespaces":["shop"]}}})";
// The same switches without an allow-list (Helm needs one, so it is off).
const char* kEverythingButHelmEverywhere =
    R"({"spec":{"collection":{"events":true,"metrics":true},
               "actions":{"scale":true,"restart":true,"deletePods":true,"nodes":true,
                          "applyManifests":true}}})";

std::set<std::string> ActionGrants(const api::AgentConfig& c, const std::string& ns) {
  return Grants(controller::DesiredActionRole(c, kInputs, ns));
}

}  // namespace

TEST_CASE("No configuration grants Secrets, wildcards or privilege escalation", "[permissions]") {
  for (const char* patch : {"{}", kEverythingOn, kEverythingButHelmEverywhere}) {
    INFO(patch);
    auto config = Config(testing::Patched(testing::MinimalAgentConfig(), patch));
    // Helm's release Secrets are never in a role the operator writes: an
    // administrator binds the install's storage ClusterRole (docs/helm.md).
    for (const auto& role : {controller::DesiredClusterRole(config, kInputs),
                             controller::DesiredLeaderElectionRole(config, kInputs),
                             controller::DesiredActionRole(config, kInputs, "shop")}) {
      for (const auto& grant : Grants(role)) {
        INFO(grant);
        CHECK(grant.find('*') == std::string::npos);
        CHECK(grant.find("|secrets|") == std::string::npos);
        CHECK(grant.find("serviceaccounts/token") == std::string::npos);
        CHECK(grant.find("pods/exec") == std::string::npos);
        CHECK(grant.find("pods/attach") == std::string::npos);
        CHECK(grant.find("pods/portforward") == std::string::npos);
        CHECK(grant.find("nodes/proxy") == std::string::npos);
        for (const char* verb : {"|escalate|", "|bind|", "|impersonate|", "|deletecollection|"}) {
          CHECK(grant.find(verb) == std::string::npos);
        }
        // No write access to RBAC, namespaces or CRDs under any switch.
        if (grant.find("|get|") == std::string::npos && grant.find("|list|") == std::string::npos &&
            grant.find("|watch|") == std::string::npos) {
          CHECK(grant.find("rbac.authorization.k8s.io|") != 0);
          CHECK(grant.find("|namespaces|") == std::string::npos);
          CHECK(grant.find("apiextensions") == std::string::npos);
          CHECK(grant.find("serviceaccounts") == std::string::npos);
        }
      }
    }
  }
}

TEST_CASE("Without actions the ClusterRole is read-only over what collection needs",
          "[permissions]") {
  auto grants = ClusterGrants(Config(testing::MinimalAgentConfig()));
  std::set<std::string> resources;
  for (const auto& g : grants) {
    INFO(g);
    auto first = g.find('|'), second = g.find('|', first + 1), third = g.find('|', second + 1);
    const std::string verb = g.substr(second + 1, third - second - 1);
    CHECK((verb == "get" || verb == "list" || verb == "watch"));
    resources.insert(g.substr(0, second));
  }
  CHECK(resources == std::set<std::string>{"|nodes",
                                           "|namespaces",
                                           "|pods",
                                           "|services",
                                           "|serviceaccounts",
                                           "|persistentvolumeclaims",
                                           "|persistentvolumes",
                                           "|configmaps",
                                           "|events",
                                           "apps|deployments",
                                           "apps|replicasets",
                                           "apps|statefulsets",
                                           "apps|daemonsets",
                                           "batch|jobs",
                                           "batch|cronjobs",
                                           "networking.k8s.io|ingresses",
                                           "networking.k8s.io|networkpolicies",
                                           "autoscaling|horizontalpodautoscalers",
                                           "policy|poddisruptionbudgets",
                                           "rbac.authorization.k8s.io|roles",
                                           "rbac.authorization.k8s.io|rolebindings",
                                           "rbac.authorization.k8s.io|clusterroles",
                                           "rbac.authorization.k8s.io|clusterrolebindings",
                                           "events.k8s.io|events",
                                           "metrics.k8s.io|nodes",
                                           "metrics.k8s.io|pods"});
  // The kube-system Namespace (cluster identity) is readable.
  CHECK(grants.count("|namespaces|get|") == 1);
}

TEST_CASE("Lease access is limited to the agents' own Lease in their namespace", "[permissions]") {
  auto config = Config(testing::MinimalAgentConfig());
  auto role = controller::DesiredLeaderElectionRole(config, kInputs);
  CHECK(json::GetString(role, {"metadata", "namespace"}) == "srexpert-system");
  // list and watch by name: standbys watch the Lease with fieldSelector
  // metadata.name=<lease>, which RBAC authorises against resourceNames.
  CHECK(Grants(role) ==
        std::set<std::string>{"coordination.k8s.io|leases|create|",
                              "coordination.k8s.io|leases|get|srexpert-agent-leader,",
                              "coordination.k8s.io|leases|list|srexpert-agent-leader,",
                              "coordination.k8s.io|leases|watch|srexpert-agent-leader,",
                              "coordination.k8s.io|leases|update|srexpert-agent-leader,"});
  for (const auto& g : ClusterGrants(config)) CHECK(g.find("leases") == std::string::npos);
}

TEST_CASE("Each action widens the ClusterRole by exactly its own rules", "[permissions]") {
  const auto base = ClusterGrants(Config(testing::MinimalAgentConfig()));
  struct Case {
    const char* action;
    std::set<std::string> added;
  };
  const std::vector<Case> cases = {
      {"scale",
       {"apps|deployments/scale|get|", "apps|deployments/scale|patch|",
        "apps|deployments/scale|update|", "apps|statefulsets/scale|get|",
        "apps|statefulsets/scale|patch|", "apps|statefulsets/scale|update|",
        "|events|create|"}},  // the audit Event
      {"restart",
       {"apps|deployments|patch|", "apps|statefulsets|patch|", "apps|daemonsets|patch|",
        "|events|create|"}},
      {"deletePods", {"|pods|delete|", "|events|create|"}},
      {"nodes", {"|nodes|patch|", "|pods/eviction|create|", "|events|create|"}},
  };
  for (const auto& c : cases) {
    INFO(c.action);
    auto config = Config(
        testing::Patched(testing::MinimalAgentConfig(),
                         fmt::format(R"({{"spec":{{"actions":{{"{}":true}}}}}})", c.action)));
    auto grants = ClusterGrants(config);
    CHECK(Minus(base, grants).empty());
    CHECK(Minus(grants, base) == c.added);
  }
  // applyManifests writes (never deletes) the workload kinds; helm may also
  // delete them. Both stay within the same kinds (Helm needs an allow-list,
  // so both are compared in the Role of one listed namespace).
  auto apply = ActionGrants(
      Config(testing::Patched(testing::MinimalAgentConfig(),
                              R"({"spec":{"actions":{"applyManifests":true,"namespaces":["shop"]}}})")),
      "shop");
  auto helm = ActionGrants(
      Config(testing::Patched(testing::MinimalAgentConfig(),
                              R"({"spec":{"actions":{"helm":true,"namespaces":["shop"]}}})")),
      "shop");
  std::set<std::string> apply_kinds, helm_kinds;
  for (const auto& g : Minus(apply, base)) {
    INFO(g);
    CHECK(g.find("|delete|") == std::string::npos);
    apply_kinds.insert(g.substr(0, g.find('|', g.find('|') + 1)));
  }
  bool helm_deletes = false;
  for (const auto& g : Minus(helm, base)) {
    helm_deletes |= g.find("|delete|") != std::string::npos;
    helm_kinds.insert(g.substr(0, g.find('|', g.find('|') + 1)));
  }
  CHECK(helm_deletes);
  // Beyond the chart kinds, Helm deletes hook Pods; both record audit Events.
  apply_kinds.erase("|events");
  helm_kinds.erase("|events");
  helm_kinds.erase("|pods");
  CHECK(apply_kinds == helm_kinds);
  CHECK(apply_kinds == std::set<std::string>{"|configmaps", "|services", "apps|deployments",
                                             "apps|statefulsets", "apps|daemonsets", "batch|jobs",
                                             "batch|cronjobs", "networking.k8s.io|ingresses",
                                             "networking.k8s.io|networkpolicies",
                                             "autoscaling|horizontalpodautoscalers"});
}

TEST_CASE("With spec.actions.namespaces the writes move to a Role per listed namespace",
          "[permissions]") {
  const auto base = ClusterGrants(Config(testing::MinimalAgentConfig()));
  auto config = Config(testing::Patched(
      testing::MinimalAgentConfig(),
      R"({"spec":{"actions":{"scale":true,"deletePods":true,"nodes":true,
                             "namespaces":["shop","payments"]}}})"));
  // Cluster-wide only what cannot be narrowed: Nodes and their audit Events.
  CHECK(Minus(ClusterGrants(config), base) ==
        std::set<std::string>{"|nodes|patch|", "|events|create|"});
  const std::set<std::string> in_namespace = {
      "apps|deployments/scale|get|",    "apps|deployments/scale|patch|",
      "apps|deployments/scale|update|", "apps|statefulsets/scale|get|",
      "apps|statefulsets/scale|patch|", "apps|statefulsets/scale|update|",
      "|pods|delete|",                  "|pods/eviction|create|",
      "|events|create|"};
  CHECK(ActionGrants(config, "shop") == in_namespace);

  std::vector<std::string> children;
  for (const auto& child : controller::DesiredChildren(config, kInputs)) {
    std::string ns = json::GetString(child, {"metadata", "namespace"});
    if (ns != "shop" && ns != "payments") continue;
    children.push_back(json::GetString(child, {"kind"}) + " " + ns + "/" +
                       json::GetString(child, {"metadata", "name"}));
    // Owned by the AgentConfig's Namespace: deleting it removes them.
    CHECK(controller::HasOwnerUid(child, kInputs.namespace_uid));
    if (json::GetString(child, {"kind"}) == "RoleBinding") {
      CHECK(json::GetString(child, {"roleRef", "name"}) == "srexpert-agent-actions");
      CHECK(json::GetString(child["subjects"][0], {"name"}) == "srexpert-agent");
      CHECK(json::GetString(child["subjects"][0], {"namespace"}) == "srexpert-system");
    }
  }
  CHECK(children == std::vector<std::string>{"Role shop/srexpert-agent-actions",
                                             "RoleBinding shop/srexpert-agent-actions",
                                             "Role payments/srexpert-agent-actions",
                                             "RoleBinding payments/srexpert-agent-actions"});

  // Reading actions only (none enabled): no Role at all.
  auto none = Config(testing::Patched(testing::MinimalAgentConfig(),
                                      R"({"spec":{"actions":{"namespaces":["shop"]}}})"));
  CHECK_FALSE(controller::HasActionRoles(none));
}

TEST_CASE("Turning off events or metrics removes their read access", "[permissions]") {
  const auto base = ClusterGrants(Config(testing::MinimalAgentConfig()));
  auto no_events = ClusterGrants(Config(testing::Patched(
      testing::MinimalAgentConfig(), R"({"spec":{"collection":{"events":false}}})")));
  CHECK(Minus(base, no_events) == std::set<std::string>{"|events|list|", "|events|watch|",
                                                        "events.k8s.io|events|list|",
                                                        "events.k8s.io|events|watch|"});
  auto no_metrics = ClusterGrants(Config(testing::Patched(
      testing::MinimalAgentConfig(), R"({"spec":{"collection":{"metrics":false}}})")));
  CHECK(Minus(base, no_metrics) ==
        std::set<std::string>{"metrics.k8s.io|nodes|get|", "metrics.k8s.io|nodes|list|",
                              "metrics.k8s.io|pods|get|", "metrics.k8s.io|pods|list|"});
  CHECK(Minus(no_events, base).empty());
}

TEST_CASE("Every permission says why it is needed", "[permissions]") {
  for (const auto& p : controller::PermissionCatalogue("x-leader")) {
    INFO(p.api_group << " " << p.resources.front());
    CHECK(p.why.size() > 20);
    CHECK_FALSE(p.verbs.empty());
    CHECK_FALSE(p.resources.empty());
  }
}

TEST_CASE("docs/permissions.md is generated from the permission catalogue", "[permissions][docs]") {
  const std::string generated = controller::RenderPermissionsMarkdown();
  CHECK(generated.find("deployments/scale") != std::string::npos);
  const std::string problem = testing::CheckGeneratedSection(
      std::string(SRX_SOURCE_DIR) + "/docs/permissions.md",
      "<!-- BEGIN GENERATED PERMISSIONS (test/controller/permissions_test.cc) -->",
      "<!-- END GENERATED PERMISSIONS -->", generated);
  INFO(problem);
  CHECK(problem.empty());
}
