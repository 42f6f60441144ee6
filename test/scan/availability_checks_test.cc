// Replicas, PodDisruptionBudgets, HorizontalPodAutoscalers and the instance
// label (operator/scan/availability_checks.cc).
#include <catch2/catch.hpp>

#include "test/scan/scan_test_support.h"

using namespace srexpert::testing::scan;

namespace {

bool Verdict(const std::string& yaml, const std::string& check) {
  auto s = ScanText(yaml);
  auto r = Results(*s, check);
  INFO(yaml << "\n" << Describe(*s, r));
  REQUIRE(r.size() == 1);
  return r[0]->passed;
}

std::string Pdb(const std::string& spec) {
  return "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: target, namespace: apps}\nspec: " + spec + "\n";
}
std::string Hpa(const std::string& spec) {
  return "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: target, namespace: apps}\nspec: " +
         spec + "\n";
}

}  // namespace

TEST_CASE("deployment-replicas needs an integer of at least 2", "[scan][availability]") {
  CHECK(Verdict(ModelDeployment("{}", "{}", R"({"spec":{"replicas":2}})"), "deployment-replicas"));
  CHECK_FALSE(Verdict(ModelDeployment("{}", "{}", R"({"spec":{"replicas":null}})"), "deployment-replicas"));
  CHECK_FALSE(Verdict(ModelDeployment("{}", "{}", R"({"spec":{"replicas":"3"}})"), "deployment-replicas"));
}

TEST_CASE("pdb-disruptions-zero", "[scan][availability]") {
  CHECK(Verdict(Pdb("{minAvailable: 1, selector: {}}"), "pdb-disruptions-zero"));
  CHECK(Verdict(Pdb("{maxUnavailable: '10%', selector: {}}"), "pdb-disruptions-zero"));
  CHECK_FALSE(Verdict(Pdb("{minAvailable: '100%', selector: {}}"), "pdb-disruptions-zero"));
  CHECK_FALSE(Verdict(Pdb("{maxUnavailable: '0%', selector: {}}"), "pdb-disruptions-zero"));
  CHECK_FALSE(Verdict(Pdb("{maxUnavailable: 0, selector: {}}"), "pdb-disruptions-zero"));
}

TEST_CASE("HPA minimum and maximum", "[scan][availability]") {
  CHECK(Verdict(Hpa("{maxReplicas: 3}"), "hpa-max-availability"));
  CHECK(Verdict(Hpa("{maxReplicas: 3}"), "hpa-min-availability"));  // Polaris passes an unset minimum
  CHECK_FALSE(Verdict(Hpa("{minReplicas: 4, maxReplicas: 3}"), "hpa-max-availability"));
  CHECK_FALSE(Verdict(Hpa("{minReplicas: 0, maxReplicas: 3}"), "hpa-max-availability"));
  CHECK_FALSE(Verdict(Hpa("{minReplicas: 1}"), "hpa-max-availability"));
  CHECK_FALSE(Verdict(Hpa("{minReplicas: 1, maxReplicas: 3}"), "hpa-min-availability"));
}

TEST_CASE("pod-disruption-budget: a PDB in the namespace matching one template label", "[scan][availability]") {
  std::string deployment = ModelDeployment();
  CHECK(Verdict(deployment + "\n---\n" + Pdb("{selector: {matchLabels: {app: target, tier: x}}}"), "pod-disruption-budget"));
  CHECK_FALSE(Verdict(deployment + "\n---\n" + Pdb("{selector: {matchLabels: {app: other}}}"), "pod-disruption-budget"));
  std::string elsewhere =
      "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: p, namespace: other}\n"
      "spec: {selector: {matchLabels: {app: target}}}\n";
  CHECK_FALSE(Verdict(deployment + "\n---\n" + elsewhere, "pod-disruption-budget"));
  // Polaris pastes label values unquoted into YAML: a value that reads as a
  // number never matches.
  std::string numeric = ModelDeployment("{}", "{}", R"({"spec":{"template":{"metadata":{"labels":{"app":"1"}}}}})");
  CHECK_FALSE(Verdict(numeric + "\n---\n" + Pdb("{selector: {matchLabels: {app: '1'}}}"), "pod-disruption-budget"));
}

TEST_CASE("pdb-min-available-vs-hpa scales percentages by the HPA minimum", "[scan][availability]") {
  std::string base = ModelDeployment() + "\n---\n" + Hpa("{scaleTargetRef: {kind: Deployment, name: target}, minReplicas: 4, maxReplicas: 9}") + "---\n";
  CHECK(Verdict(base + Pdb("{minAvailable: '50%', selector: {matchLabels: {app: target}}}"), "pdb-min-available-vs-hpa"));
  CHECK_FALSE(Verdict(base + Pdb("{minAvailable: '80%', selector: {matchLabels: {app: target}}}"), "pdb-min-available-vs-hpa"));
  CHECK_FALSE(Verdict(base + Pdb("{minAvailable: 4, selector: {matchLabels: {app: target}}}"), "pdb-min-available-vs-hpa"));
  CHECK(Verdict(base + Pdb("{maxUnavailable: 1, selector: {matchLabels: {app: target}}}"), "pdb-min-available-vs-hpa"));
}

TEST_CASE("metadata-instance-label needs the label equal to the name", "[scan][availability]") {
  CHECK_FALSE(Verdict(ModelDeployment("{}", "{}", R"({"metadata":{"labels":null}})"), "metadata-instance-label"));
}
