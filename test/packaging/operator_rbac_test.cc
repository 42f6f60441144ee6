// The operator's own RBAC in the chart (and so in manifests/install.yaml).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "api/names.h"
#include "controller/permissions.h"
#include "test/packaging/packaging_support.h"
#include "test/packaging/rbac_rules.h"

using namespace srexpert;
using namespace srexpert::packaging;

namespace {

struct OperatorRbac {
  std::vector<PolicyRule> role;          // in the release namespace
  std::vector<PolicyRule> cluster_role;  // cluster-wide
  std::vector<PolicyRule> in_namespace;  // both: what holds in the release namespace
};

OperatorRbac RenderRbac(const std::string& values_file) {
  ChartRender render;
  render.values_files = {SourcePath("helm/srexpert-agent/ci/" + values_file)};
  CommandResult r = HelmTemplate(render);
  INFO(r.Describe());
  REQUIRE(r.exit_code == 0);
  auto docs = LoadDocuments(r.out);
  OperatorRbac rbac;
  rbac.role = RulesOf(FindOne(docs, "Role", "srexpert-operator"));
  rbac.cluster_role = RulesOf(FindOne(docs, "ClusterRole", "srexpert-operator"));
  rbac.in_namespace = rbac.role;
  rbac.in_namespace.insert(rbac.in_namespace.end(), rbac.cluster_role.begin(),
                           rbac.cluster_role.end());
  return rbac;
}

}  // namespace

TEST_CASE("The chart's copy of the agent permission catalogue is generated from the code",
          "[packaging][rbac]") {
  const std::string path = SourcePath("helm/srexpert-agent/files/agent-permissions.yaml");
  const std::string generated = RenderCatalogueRules();
  if (const char* update = std::getenv("SRX_UPDATE_DOCS"); update && std::string(update) == "1") {
    std::ofstream(path) << generated;
  }
  INFO("stale: run SRX_UPDATE_DOCS=1 ctest -R catalogue in a build directory");
  CHECK(ReadFile(path) == generated);
}

TEST_CASE("The chart's Helm release storage ClusterRole is generated from the code",
          "[packaging][rbac]") {
  const std::string path = SourcePath("helm/srexpert-agent/files/helm-storage-permissions.yaml");
  const std::string generated = RenderHelmStorageRules();
  if (const char* update = std::getenv("SRX_UPDATE_DOCS"); update && std::string(update) == "1") {
    std::ofstream(path) << generated;
  }
  INFO("stale: run SRX_UPDATE_DOCS=1 ctest -R catalogue in a build directory");
  CHECK(ReadFile(path) == generated);
}

TEST_CASE("The operator holds every permission it may grant to the agent (no escalation)",
          "[packaging][rbac]") {
  const std::string lease = api::NamesFor("srexpert-agent").lease;
  for (const char* values : {"default-values.yaml", "full-values.yaml"}) {
    OperatorRbac rbac = RenderRbac(values);
    for (const auto& p : controller::PermissionCatalogue(lease)) {
      // ClusterRole rules are granted cluster-wide and the actions' Roles in
      // any namespace an AgentConfig lists; the leader-election Role only in
      // the AgentConfig's namespace, which is the operator's own.
      if (p.scope == controller::Scope::kHelmStorage) {
        // Shipped for an administrator to bind: the operator holds no
        // Secrets access beyond its own namespace.
        CHECK_FALSE(Allows(rbac.cluster_role, "", "secrets", "list", ""));
        continue;
      }
      const auto& held = p.scope == controller::Scope::kAgentNamespace ? rbac.in_namespace
                                                                       : rbac.cluster_role;
      for (const auto& m : Uncovered(held, p)) FAIL_CHECK(values << ": operator lacks " << m);
    }
  }
}

TEST_CASE("The operator holds what it needs to reconcile an AgentConfig", "[packaging][rbac]") {
  OperatorRbac rbac = RenderRbac("default-values.yaml");
  const std::vector<std::string> crud = {"get", "list", "watch", "create", "update", "patch",
                                         "delete"};
  struct Need {
    bool cluster;
    std::string group, resource;
    std::vector<std::string> verbs;
  };
  const std::vector<Need> needs = {
      {false, "agent.srexpert.io", "agentconfigs", {"get", "list", "watch", "update", "patch"}},
      {false, "agent.srexpert.io", "agentconfigs/status", {"get", "update", "patch"}},
      {false, "agent.srexpert.io", "agentconfigs/finalizers", {"update"}},
      {false, "", "serviceaccounts", crud},
      {false, "", "configmaps", crud},
      {false, "", "secrets", crud},
      {false, "rbac.authorization.k8s.io", "roles", crud},
      {false, "rbac.authorization.k8s.io", "rolebindings", crud},
      {false, "apps", "daemonsets", crud},
      {false, "coordination.k8s.io", "leases", {"get", "list", "watch", "create", "update", "patch"}},
      {false, "", "events", {"create", "patch"}},
      {true, "rbac.authorization.k8s.io", "clusterroles", crud},
      {true, "rbac.authorization.k8s.io", "clusterrolebindings", crud},
      {true, "", "namespaces", {"get"}},
  };
  for (const auto& n : needs) {
    for (const auto& verb : n.verbs) {
      INFO((n.group.empty() ? "core" : n.group) << "/" << n.resource << " " << verb);
      CHECK(Allows(n.cluster ? rbac.cluster_role : rbac.role, n.group, n.resource, verb, ""));
    }
  }
  // Its own ClusterRole and ClusterRoleBinding, to make its Namespace their
  // owner at start-up (--operator-cluster-role[-binding]).
  for (const char* resource : {"clusterroles", "clusterrolebindings"}) {
    for (const char* verb : {"get", "patch"}) {
      INFO(resource << " " << verb);
      CHECK(Allows(rbac.cluster_role, "rbac.authorization.k8s.io", resource, verb,
                   "srexpert-operator"));
    }
  }
  // Creating AgentConfigs only when the chart asks the operator to bootstrap
  // one (install.yaml does).
  CHECK_FALSE(Allows(rbac.role, "agent.srexpert.io", "agentconfigs", "create", ""));
  // Secrets stay namespaced: the operator cannot read Secrets elsewhere.
  CHECK_FALSE(Allows(rbac.cluster_role, "", "secrets", "get", ""));
  CHECK_FALSE(Allows(rbac.cluster_role, "", "secrets", "list", ""));
}

TEST_CASE("The operator's RBAC has no wildcard and no escalation verbs", "[packaging][rbac]") {
  OperatorRbac rbac = RenderRbac("full-values.yaml");
  for (const auto& r : rbac.in_namespace) {
    for (const auto* list : {&r.api_groups, &r.resources, &r.verbs}) {
      for (const auto& s : *list) {
        INFO(s);
        CHECK(s != "*");
        CHECK(s.find("*") == std::string::npos);
      }
    }
    for (const auto& v : r.verbs) {
      CHECK(v != "escalate");
      CHECK(v != "bind");
      CHECK(v != "impersonate");
    }
    for (const auto& res : r.resources) {
      CHECK(res != "pods/exec");
      CHECK(res != "serviceaccounts/token");
      CHECK(res != "nodes/proxy");
      CHECK(res != "customresourcedefinitions");
    }
  }
}

TEST_CASE("docs/install.md explains every rule of the operator's own RBAC", "[packaging][rbac]") {
  const std::string doc = ReadFile(SourcePath("docs/install.md"));
  const auto start = doc.find("## Operator permissions");
  REQUIRE(start != std::string::npos);
  const std::string section = doc.substr(start, doc.find("\n## ", start + 1) - start);
  OperatorRbac rbac = RenderRbac("default-values.yaml");
  auto check = [&](const std::vector<PolicyRule>& rules, size_t count) {
    for (size_t i = 0; i < count && i < rules.size(); ++i) {
      for (const auto& res : rules[i].resources) {
        INFO("resource " << res << " is not in docs/install.md \"Operator permissions\"");
        CHECK(section.find("`" + res + "`") != std::string::npos);
      }
    }
  };
  check(rbac.role, rbac.role.size());
  // The ClusterRole's own rules; the generated rest is docs/permissions.md.
  check(rbac.cluster_role, 3);
  CHECK(section.find("docs/permissions.md") != std::string::npos);
}

TEST_CASE("With agentConfig.bootstrap the operator may create AgentConfigs, and nothing more",
          "[packaging][rbac]") {
  ChartRender render;
  render.values_files = {SourcePath("helm/srexpert-agent/ci/default-values.yaml")};
  render.set = {"agentConfig.bootstrap=true"};
  CommandResult r = HelmTemplate(render);
  INFO(r.Describe());
  REQUIRE(r.exit_code == 0);
  auto docs = LoadDocuments(r.out);
  auto role = RulesOf(FindOne(docs, "Role", "srexpert-operator"));
  CHECK(Allows(role, "agent.srexpert.io", "agentconfigs", "create", ""));
  CHECK_FALSE(Allows(role, "agent.srexpert.io", "agentconfigs", "delete", "srexpert-agent"));
  // The bootstrap replaces the rendered AgentConfig, it does not add one.
  for (const auto& d : docs) CHECK(d["kind"].as<std::string>() != "AgentConfig");
  FindOne(docs, "ConfigMap", "srexpert-operator-bootstrap");
}
