// NetworkPolicy coverage and Ingress TLS (operator/scan/network_checks.cc).
#include <catch2/catch.hpp>

#include "test/scan/scan_test_support.h"

using namespace srexpert::testing::scan;

namespace {

bool Covered(const std::string& np_spec, const std::string& labels = R"({"app":"target"})") {
  std::string yaml = ModelDeployment("{}", "{}", R"({"spec":{"template":{"metadata":{"labels":)" + labels + "}}}}") +
                     "\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: apps}\n"
                     "spec: " + np_spec + "\n";
  auto s = ScanText(yaml);
  auto r = Results(*s, "missing-network-policy");
  INFO(yaml << "\n" << Describe(*s, r));
  REQUIRE(r.size() == 1);
  return r[0]->passed;
}

}  // namespace

TEST_CASE("missing-network-policy: one matching label, ingress and egress rules", "[scan][network]") {
  const std::string rules = "ingress: [{}], egress: [{}]";
  CHECK(Covered("{podSelector: {matchLabels: {app: target}}, " + rules + "}"));
  CHECK(Covered("{podSelector: {matchLabels: {app: target}}, policyTypes: [ingress, egress], " + rules + "}"));
  CHECK_FALSE(Covered("{podSelector: {matchLabels: {app: target}}, policyTypes: [Ingress], " + rules + "}"));
  CHECK_FALSE(Covered("{podSelector: {matchLabels: {app: target}}, ingress: [{}]}"));
  CHECK_FALSE(Covered("{podSelector: {matchLabels: {app: target}}, ingress: [], egress: [{}]}"));
  CHECK_FALSE(Covered("{podSelector: {}, " + rules + "}"));
  CHECK_FALSE(Covered("{podSelector: {matchLabels: {app: other}}, " + rules + "}"));
  // Polaris' oneOf: a selector agreeing with two of the pod's labels fails.
  CHECK_FALSE(Covered("{podSelector: {matchLabels: {app: target, tier: web}}, " + rules + "}",
                      R"({"app":"target","tier":"web"})"));
  CHECK(Covered("{podSelector: {matchLabels: {app: target}}, " + rules + "}", R"({"app":"target","tier":"web"})"));
  CHECK_FALSE(Covered("{podSelector: {matchLabels: {app: target}}, " + rules + "}", "null"));
}

TEST_CASE("ingress-tls: an empty tls list still counts as configured", "[scan][network]") {
  auto s = ScanText(
      "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: target, namespace: apps}\nspec: {tls: []}\n");
  auto r = Results(*s, "ingress-tls");
  REQUIRE(r.size() == 1);
  CHECK(r[0]->passed);
}
