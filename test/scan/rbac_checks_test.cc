// RBAC (operator/scan/rbac_checks.cc): Polaris' role and binding checks and
// the analysis of what bindings grant, with aggregated ClusterRoles.
#include <catch2/catch.hpp>

#include "test/scan/scan_test_support.h"

using namespace srexpert::testing::scan;

namespace {

bool Verdict(const std::string& yaml, const std::string& check, const std::string& name = "target") {
  auto s = ScanText(yaml);
  auto r = Results(*s, check, name);
  INFO(yaml << "\n" << Describe(*s, r));
  REQUIRE(r.size() == 1);
  return r[0]->passed;
}

std::string ClusterRole(const std::string& name, const std::string& rules, const std::string& labels = "{}") {
  return "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: " + name +
         ", labels: " + labels + "}\nrules: " + rules + "\n---\n";
}
std::string Binding(const std::string& kind, const std::string& name, const std::string& role_kind,
                    const std::string& role, const std::string& subjects = "[{kind: User, name: alice}]") {
  std::string ns = kind == "RoleBinding" ? ", namespace: apps" : "";
  return "apiVersion: rbac.authorization.k8s.io/v1\nkind: " + kind + "\nmetadata: {name: " + name + ns +
         "}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: " + role_kind + ", name: " + role +
         "}\nsubjects: " + subjects + "\n---\n";
}

}  // namespace

TEST_CASE("Polaris exempts the default roles and bindings", "[scan][rbac]") {
  const std::string exec = "[{apiGroups: [''], resources: [pods/exec], verbs: [create]}]";
  for (std::string name : {"admin", "edit", "cluster-admin", "system:aggregate-to-edit"}) {
    CHECK(Verdict(ClusterRole(name, exec), "clusterrole-pod-exec-attach", name));
  }
  CHECK_FALSE(Verdict(ClusterRole("target", "[{apiGroups: ['*'], resources: ['*'], verbs: [get]}]"),
                      "clusterrole-pod-exec-attach"));
  CHECK_FALSE(Verdict("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: target}\n",
                      "clusterrole-pod-exec-attach"));  // Polaris requires rules
  CHECK(Verdict(Binding("ClusterRoleBinding", "system:masters-x", "ClusterRole", "missing"),
                "clusterrolebinding-pod-exec-attach", "system:masters-x"));
  CHECK(Verdict(Binding("ClusterRoleBinding", "target", "ClusterRole", "view"), "clusterrolebinding-pod-exec-attach"));
}

TEST_CASE("a binding to a role that was not scanned fails Polaris' checks and says so", "[scan][rbac]") {
  auto s = ScanText(Binding("ClusterRoleBinding", "target", "ClusterRole", "missing"));
  auto r = Results(*s, "clusterrolebinding-pod-exec-attach");
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0]->passed);
  CHECK(s->report.Message(*r[0]) == "ClusterRole missing does not exist among the scanned objects");
  // The analysis cannot tell and passes with a note.
  auto secrets = Results(*s, "rbac-secrets-cluster-wide");
  REQUIRE(secrets.size() == 1);
  CHECK(secrets[0]->passed);
  CHECK(s->report.Message(*secrets[0]) == "ClusterRole missing was not among the scanned objects");
}

TEST_CASE("cluster-admin checks: wildcard rules in either form", "[scan][rbac]") {
  auto crb = [](const std::string& verbs) {
    return ClusterRole("r", "[{apiGroups: ['*'], resources: ['*'], verbs: " + verbs + "}]") +
           Binding("ClusterRoleBinding", "target", "ClusterRole", "r");
  };
  CHECK_FALSE(Verdict(crb("['*']"), "clusterrolebinding-cluster-admin"));
  CHECK_FALSE(Verdict(crb("[get, list, watch, create, update, patch, delete]"), "clusterrolebinding-cluster-admin"));
  CHECK(Verdict(crb("[get, list, watch]"), "clusterrolebinding-cluster-admin"));
  // Polaris' oneOf: * with the seven verbs is still * (the seven-verb branch needs every item in its list).
  CHECK_FALSE(Verdict(crb("['*', get, list, watch, create, update, patch, delete]"), "clusterrolebinding-cluster-admin"));
  CHECK_FALSE(Verdict(Binding("ClusterRoleBinding", "target", "ClusterRole", "cluster-admin"),
                      "clusterrolebinding-cluster-admin"));
}

TEST_CASE("role kinds route to the matching Polaris binding checks", "[scan][rbac]") {
  std::string to_cluster_role = Binding("RoleBinding", "target", "ClusterRole", "cluster-admin");
  CHECK_FALSE(Verdict(to_cluster_role, "rolebinding-cluster-admin-clusterrole"));
  CHECK(Verdict(to_cluster_role, "rolebinding-cluster-admin-role"));
  CHECK(Verdict(to_cluster_role, "rolebinding-role-pod-exec-attach"));
}

TEST_CASE("the analysis resolves aggregated ClusterRoles", "[scan][rbac]") {
  std::string yaml =
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: aggregate}\n"
      "aggregationRule: {clusterRoleSelectors: [{matchLabels: {rbac.example/aggregate: 'true'}}, "
      "{matchExpressions: [{key: tier, operator: In, values: [ops]}]}]}\nrules: []\n---\n" +
      ClusterRole("piece-a", "[{apiGroups: [''], resources: [configmaps], verbs: [get]}]", "{rbac.example/aggregate: 'true'}") +
      ClusterRole("piece-b", "[{apiGroups: [''], resources: [secrets], verbs: [watch]}]", "{tier: ops}") +
      ClusterRole("unrelated", "[{apiGroups: [''], resources: [pods/exec], verbs: [create]}]", "{tier: dev}") +
      Binding("ClusterRoleBinding", "target", "ClusterRole", "aggregate");
  CHECK_FALSE(Verdict(yaml, "rbac-secrets-cluster-wide"));
  CHECK(Verdict(yaml, "rbac-pod-exec"));
  // Polaris reads the aggregate's own (empty) rules.
  CHECK(Verdict(yaml, "clusterrolebinding-pod-exec-attach"));
}

TEST_CASE("rbac analysis details", "[scan][rbac]") {
  std::string named_secret = ClusterRole("r", "[{apiGroups: [''], resources: [secrets], resourceNames: [one], verbs: [get]}]") +
                             Binding("ClusterRoleBinding", "target", "ClusterRole", "r");
  CHECK(Verdict(named_secret, "rbac-secrets-cluster-wide"));  // one named Secret is not all of them
  std::string sub = ClusterRole("r", "[{apiGroups: [''], resources: ['pods/*'], verbs: [create]}]") +
                    Binding("RoleBinding", "target", "ClusterRole", "r");
  CHECK_FALSE(Verdict(sub, "rbac-pod-exec"));
  std::string impersonate = ClusterRole("r", "[{apiGroups: [''], resources: [serviceaccounts], verbs: [impersonate]}]") +
                            Binding("ClusterRoleBinding", "target", "ClusterRole", "r");
  CHECK_FALSE(Verdict(impersonate, "rbac-escalation"));
  // Unauthenticated users may reach non-resource URLs (the defaults do).
  std::string urls = ClusterRole("r", "[{nonResourceURLs: [/healthz], verbs: [get]}]") +
                     Binding("ClusterRoleBinding", "target", "ClusterRole", "r", "[{kind: Group, name: 'system:unauthenticated'}]");
  CHECK(Verdict(urls, "rbac-anonymous"));
  std::string anonymous = ClusterRole("r", "[{apiGroups: [''], resources: [pods], verbs: [list]}]") +
                          Binding("ClusterRoleBinding", "target", "ClusterRole", "r", "[{kind: User, name: 'system:anonymous'}]");
  CHECK_FALSE(Verdict(anonymous, "rbac-anonymous"));
  // system: bindings are Kubernetes' own; the analysis skips them.
  auto s = ScanText(ClusterRole("r", "[{apiGroups: [''], resources: [secrets], verbs: [get]}]") +
                    Binding("ClusterRoleBinding", "system:controller:x", "ClusterRole", "r"));
  CHECK(Results(*s, "rbac-secrets-cluster-wide", "system:controller:x").empty());
  // So are the defaults Kubernetes bootstraps, such as cluster-admin → system:masters.
  auto defaults = ScanText(
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: cluster-admin, labels: "
      "{kubernetes.io/bootstrapping: rbac-defaults}}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, "
      "name: cluster-admin}\nsubjects: [{kind: Group, name: 'system:masters'}]\n");
  CHECK(Results(*defaults, "rbac-system-masters", "cluster-admin").empty());
  CHECK(Results(*defaults, "rbac-pod-exec", "cluster-admin").empty());
  // rbac-wildcard skips the default roles.
  auto d = ScanText(ClusterRole("cluster-admin", "[{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]"));
  CHECK(Results(*d, "rbac-wildcard", "cluster-admin").empty());
}
