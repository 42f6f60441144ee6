// The Pod Security Standards controls as findings and the namespaces'
// readiness for enforcement (operator/scan/pss_checks.cc).
#include <catch2/catch.hpp>

#include "scan/engine.h"
#include "test/scan/scan_test_support.h"

using namespace srexpert;
using namespace srexpert::scan;
using namespace srexpert::testing::scan;

namespace {

std::string Pod(const std::string& name, const std::string& ns, const std::string& spec) {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec: " + spec + "\n---\n";
}
const std::string kRestricted =
    "{securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}, containers: [{name: a, image: i, "
    "securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]}";
const std::string kBaseline = "{containers: [{name: a, image: i}]}";
const std::string kPrivileged = "{hostNetwork: true, containers: [{name: a, image: i}]}";

const NamespaceReadiness* Find(const Report& r, const std::string& ns) {
  for (const auto& n : r.namespaces) {
    if (n.name == ns) return &n;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("each namespace's readiness: the level its pods meet and what raising the label rejects",
          "[scan][pss][readiness]") {
  std::string yaml =
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: web, labels: {pod-security.kubernetes.io/enforce: baseline, "
      "pod-security.kubernetes.io/enforce-version: v1.24}}\n---\n" +
      Pod("a", "shop", kRestricted) + Pod("b", "shop", kBaseline) + Pod("c", "web", kRestricted) +
      Pod("d", "web", kBaseline) + Pod("e", "web", kBaseline) + Pod("f", "ops", kPrivileged);
  auto s = ScanText(yaml);
  const auto& r = s->report;
  REQUIRE(r.namespaces.size() == 3);
  const auto* shop = Find(r, "shop");
  REQUIRE(shop);
  CHECK_FALSE(shop->enforce.labeled);
  CHECK(shop->meets == PssLevel::kBaseline);
  CHECK(shop->pods == 2);
  REQUIRE(shop->next);
  CHECK(*shop->next == PssLevel::kBaseline);
  CHECK(shop->rejected_by_next.empty());

  const auto* web = Find(r, "web");
  REQUIRE(web);
  CHECK(web->enforce.level == PssLevel::kBaseline);
  CHECK(web->evaluated_at == PssVersion::Of(24));
  CHECK(web->meets == PssLevel::kBaseline);
  REQUIRE(web->next);
  CHECK(*web->next == PssLevel::kRestricted);
  REQUIRE(web->rejected_by_next.size() == 2);
  CHECK(web->rejected_by_next[0].first == "Pod/d");
  CHECK(web->rejected_by_next[0].second.rfind("violates PodSecurity \"restricted:v1.24\": ", 0) == 0);

  const auto* ops = Find(r, "ops");
  REQUIRE(ops);
  CHECK_FALSE(ops->has_namespace_object);
  CHECK(ops->meets == PssLevel::kPrivileged);
  REQUIRE(ops->rejected_by_next.size() == 1);
  CHECK(ops->rejected_by_next[0].second.find("host namespaces") != std::string::npos);

  // Only Namespace objects get a pss-namespace-enforce result.
  auto shop_result = Results(*s, "pss-namespace-enforce", "shop");
  REQUIRE(shop_result.size() == 1);
  CHECK_FALSE(shop_result[0]->passed);
  CHECK(s->report.Message(*shop_result[0]) ==
        "Enforces privileged (no pod-security.kubernetes.io/enforce label); all 2 pods meet baseline at "
        "latest; pod-security.kubernetes.io/enforce=baseline would reject none");
  auto web_result = Results(*s, "pss-namespace-enforce", "web");
  REQUIRE(web_result.size() == 1);
  CHECK(web_result[0]->passed);
  CHECK(s->report.Message(*web_result[0]).find("enforce=restricted would reject 2 of them: Pod/d, Pod/e") !=
        std::string::npos);
  CHECK(Results(*s, "pss-namespace-enforce", "ops").empty());
}

TEST_CASE("without pods a namespace's readiness is judged on its pod templates", "[scan][pss][readiness]") {
  auto s = ScanText(ModelStream());
  REQUIRE(s->report.namespaces.size() == 1);
  const auto& apps = s->report.namespaces[0];
  CHECK(apps.templates);
  CHECK(apps.pods == 1);
  CHECK(apps.meets == PssLevel::kRestricted);
}

TEST_CASE("controls are evaluated at the namespace's enforce-version unless --pss-version says otherwise",
          "[scan][pss]") {
  std::string yaml =
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: old, labels: {pod-security.kubernetes.io/enforce: restricted, "
      "pod-security.kubernetes.io/enforce-version: v1.22}}\n---\n" +
      Pod("target", "old",
          "{securityContext: {runAsNonRoot: true, runAsUser: 0, seccompProfile: {type: RuntimeDefault}}, "
          "containers: [{name: a, image: i, securityContext: {allowPrivilegeEscalation: false, capabilities: "
          "{drop: [ALL]}}}]}");
  auto s = ScanText(yaml);
  auto r = Results(*s, "pss-run-as-user");
  REQUIRE(r.size() == 1);
  CHECK(r[0]->passed);
  CHECK(s->report.Message(*r[0]) == "Not part of the Pod Security Standards at v1.22 (Kubernetes v1.22)");
  ScanOptions latest;
  latest.pss_version = PssVersion::Latest();
  auto s2 = ScanText(yaml, latest);
  auto r2 = Results(*s2, "pss-run-as-user");
  REQUIRE(r2.size() == 1);
  CHECK_FALSE(r2[0]->passed);
  CHECK(s2->report.Message(*r2[0]) == "runAsUser=0 (pod must not set runAsUser=0)");
}

TEST_CASE("pss-level baseline reports the baseline controls only", "[scan][pss]") {
  ScanOptions baseline;
  baseline.pss_level = PssLevel::kBaseline;
  auto s = ScanText(Pod("target", "x", kBaseline), baseline);
  CHECK(Results(*s, "pss-run-as-non-root").empty());
  CHECK(Results(*s, "pss-privileged").size() == 1);
  ScanOptions none;
  none.pss_level = PssLevel::kPrivileged;
  auto s2 = ScanText(Pod("target", "x", kBaseline), none);
  CHECK(Results(*s2, "pss-privileged").empty());
  // The restricted run reports the restricted controls failing for this pod.
  auto s3 = ScanText(Pod("target", "x", kBaseline));
  auto r = Results(*s3, "pss-run-as-non-root");
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0]->passed);
}
